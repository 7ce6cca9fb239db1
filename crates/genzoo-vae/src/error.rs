//! Errors of genzoo-vae: configurations a model cannot be built with.

/// What went wrong.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum VaeError {
    /// A configuration value is out of range; the message names it and what was found.
    #[error("invalid VAE configuration: {0}")]
    InvalidConfig(String),
}

/// `Result` with [`VaeError`].
pub type Result<T> = std::result::Result<T, VaeError>;
