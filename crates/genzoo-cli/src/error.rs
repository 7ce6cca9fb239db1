//! The command line's errors: each library crate's own error, wrapped as it is, and the command
//! line's own (flags or configuration files that do not fit together, files it reads or writes).

use std::path::PathBuf;

/// Everything a `genzoo` command can fail with. The binary prints it and maps it to an exit code
/// ([`Error::exit_code`]).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The run loop: run directories, checkpoints, the training configuration, a task's failure.
    #[error(transparent)]
    Run(#[from] genzoo_train::Error),
    /// Reading, verifying or downloading a dataset.
    #[error(transparent)]
    Data(#[from] genzoo_datasets::Error),
    /// A metric that could not be computed.
    #[error("metric: {0}")]
    Metric(#[from] genzoo_metrics::Error),
    /// A classic fit (k-means, PCA, GMM, KDE) that could not be made.
    #[error(transparent)]
    Unsupervised(#[from] genzoo_unsupervised::Error),
    /// A VAE or autoencoder configuration a model cannot be built with.
    #[error(transparent)]
    Vae(#[from] genzoo_vae::VaeError),
    /// A pixel model's options or inputs.
    #[error(transparent)]
    Pixel(#[from] genzoo_pixel::Error),
    /// A GAN configuration or loss name.
    #[error(transparent)]
    Gan(#[from] genzoo_gan::Error),
    /// Flags or configuration values that are invalid or do not fit together.
    #[error("config: {0}")]
    Config(String),
    /// A file the command reads or writes itself.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating-system error.
        #[source]
        source: std::io::Error,
    },
}

/// `Result` with the command line's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// The process exit code: [`INTERRUPTED_EXIT_CODE`](genzoo_train::signal::INTERRUPTED_EXIT_CODE)
    /// for a run stopped by Ctrl-C or SIGTERM (its state saved), 1 for every other failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Run(genzoo_train::Error::Interrupted { .. }) => {
                genzoo_train::signal::INTERRUPTED_EXIT_CODE as u8
            }
            _ => 1,
        }
    }
}
