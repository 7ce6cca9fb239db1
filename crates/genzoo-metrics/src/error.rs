//! Errors of the metrics: every message says what was expected and what was found.

use std::path::PathBuf;

/// What can go wrong computing a metric or loading a feature extractor.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A feature matrix whose length is not a multiple of its dimension, or of dimension 0.
    #[error("feature matrix: {values} values do not form rows of dimension {dim}")]
    Shape {
        /// Number of values given.
        values: usize,
        /// Row length asked for.
        dim: usize,
    },
    /// Two feature sets of different dimension.
    #[error("feature sets of different dimension: {a} vs {b}")]
    DimensionMismatch {
        /// Dimension of the first set.
        a: usize,
        /// Dimension of the second set.
        b: usize,
    },
    /// Too few samples for the statistic (e.g. a covariance of one sample).
    #[error("{what} needs at least {need} samples, got {got}")]
    TooFewSamples {
        /// The statistic.
        what: &'static str,
        /// Samples needed.
        need: usize,
        /// Samples given.
        got: usize,
    },
    /// A NaN or infinity in the input (e.g. from a diverged generator).
    #[error("{what}: non-finite value at row {row}, column {col}")]
    NotFinite {
        /// The input.
        what: &'static str,
        /// Row of the first bad value.
        row: usize,
        /// Column of the first bad value.
        col: usize,
    },
    /// Class probabilities that are negative or do not sum to one.
    #[error("class probabilities: row {row} {problem}")]
    Probabilities {
        /// Row of the first bad distribution.
        row: usize,
        /// What is wrong with it.
        problem: String,
    },
    /// An option out of its range.
    #[error("invalid option: {0}")]
    Option(String),
    /// Weights of a feature extractor that cannot be used.
    #[error("weights {source_name}: {message}")]
    Weights {
        /// The file or embedded blob.
        source_name: String,
        /// What is wrong.
        message: String,
    },
    /// Reading or writing a file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// Result of this crate.
pub type Result<T> = std::result::Result<T, Error>;
