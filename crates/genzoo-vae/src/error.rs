//! Errors of genzoo-vae: configurations a model cannot be built with.

/// What went wrong.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum VaeError {
    /// A configuration value is out of range; the message names it and what was found.
    #[error("invalid VAE configuration: {0}")]
    InvalidConfig(String),
    /// An autoencoder configuration value is out of range; the message names it.
    #[error("invalid autoencoder configuration: {0}")]
    InvalidAutoencoder(String),
}

/// `Result` with [`VaeError`].
pub type Result<T> = std::result::Result<T, VaeError>;
