//! Errors of the run loop. Every message names the file, step or tensor it is about.

use std::path::PathBuf;

/// Everything that can stop a run or a checkpoint operation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating-system error.
        #[source]
        source: std::io::Error,
    },
    /// The run directory exists and overwriting was not asked for.
    #[error(
        "run directory {0} already exists; pass --resume {0} to continue it, --overwrite to replace it, or --out to pick another"
    )]
    RunDirExists(PathBuf),
    /// Another process holds the run directory's lock.
    #[error(
        "run directory {0} is in use by another genzoo process (it holds {0}/.lock); wait for it to finish or stop it"
    )]
    RunDirInUse(PathBuf),
    /// `--overwrite` was asked of something that must not be deleted.
    #[error("refusing to overwrite {path}: {reason}")]
    RefuseOverwrite {
        /// The directory given to `--out`.
        path: PathBuf,
        /// Why it is not replaced.
        reason: String,
    },
    /// A checkpoint file is malformed (truncated, bad magic, bad hash, ...).
    #[error("checkpoint {path}: {message}")]
    CorruptCheckpoint {
        /// The checkpoint file.
        path: PathBuf,
        /// What is wrong, with offsets or hashes.
        message: String,
    },
    /// A checkpoint does not fit the model or configuration it is loaded into.
    #[error("checkpoint {path} does not fit this model: {message}")]
    CheckpointMismatch {
        /// The checkpoint file.
        path: PathBuf,
        /// Which tensor or field differs, with both values.
        message: String,
    },
    /// A weights file that is not a complete safetensors file, or lacks genzoo's metadata.
    #[error("weights file {path}: {message}")]
    CorruptWeights {
        /// The weights file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A weights file whose tensors do not fit the model its configuration builds.
    #[error("weights file {path} does not fit this model: {message}")]
    WeightsMismatch {
        /// The weights file.
        path: PathBuf,
        /// Which tensors are missing, left over or of another shape.
        message: String,
    },
    /// The loss became NaN or infinite.
    #[error(
        "loss is {loss} at step {step}; stopped. The last good checkpoint ({checkpoint}) is kept; lower the learning rate or check the data"
    )]
    NonFiniteLoss {
        /// The step whose loss was not finite.
        step: u64,
        /// The loss value.
        loss: f64,
        /// The checkpoint left in place.
        checkpoint: String,
    },
    /// An evaluation metric or the weights became NaN or infinite.
    #[error(
        "{what} at step {step}; stopped. The last good checkpoint ({checkpoint}) is kept; lower the learning rate or check the data"
    )]
    NonFinite {
        /// What was not finite, with its value (`test_mse is NaN`).
        what: String,
        /// The step it was found at.
        step: u64,
        /// The checkpoint left in place.
        checkpoint: String,
    },
    /// The run was interrupted by Ctrl-C or SIGTERM; `last` was saved.
    #[error("interrupted at step {step}; saved {checkpoint}; continue with --resume {run_dir}")]
    Interrupted {
        /// The last completed step.
        step: u64,
        /// Where the state was saved.
        checkpoint: PathBuf,
        /// The run directory to resume.
        run_dir: PathBuf,
    },
    /// A metric that could not be computed (too few samples, NaN samples, unusable weights).
    #[error("metric: {0}")]
    Metric(String),
    /// A model could not do what it was asked (sample, complete, score).
    #[error("{0}")]
    Model(String),
    /// A configuration value is invalid or a config file cannot be parsed.
    #[error("config: {0}")]
    Config(String),
    /// The requested backend is unknown or not compiled into this binary.
    #[error("{0}")]
    Backend(String),
    /// Loading data failed.
    #[error(transparent)]
    Data(#[from] genzoo_datasets::Error),
}

/// Result of the run loop.
pub type Result<T> = std::result::Result<T, Error>;

/// Attaches a path to an I/O error.
pub(crate) trait IoContext<T> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|source| Error::Io {
            path: path.into(),
            source,
        })
    }
}
