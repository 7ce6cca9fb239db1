//! Errors of genzoo-gan: configurations a GAN cannot be built or trained with, and names it does
//! not know.

/// What went wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// A configuration value is out of range; the message names the field and the value found.
    #[error("{0}")]
    InvalidConfig(String),
    /// A loss name that is none of [`GanLoss::ALL`](crate::GanLoss::ALL).
    #[error("unknown GAN loss '{name}'; known: {known}")]
    UnknownLoss {
        /// The name given.
        name: String,
        /// The known names, comma-separated.
        known: String,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
