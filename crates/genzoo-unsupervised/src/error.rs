//! Errors of the unsupervised fits: bad data or a configuration that cannot work on it.

/// What can go wrong when fitting or applying an unsupervised model.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The data matrix has no rows or no columns.
    #[error("empty data: expected an [n, d] matrix with n > 0 and d > 0, found [{n}, {d}]")]
    EmptyData {
        /// Rows found.
        n: usize,
        /// Columns found.
        d: usize,
    },
    /// Fewer samples than the model needs (e.g. fewer points than clusters).
    #[error("{what}: needs at least {needed} samples, found {found}")]
    TooFewSamples {
        /// Which fit.
        what: &'static str,
        /// Samples needed.
        needed: usize,
        /// Samples given.
        found: usize,
    },
    /// A value in the data is NaN or infinite.
    #[error("non-finite value in the data at row {row}, column {col}")]
    NonFinite {
        /// Row of the first bad value.
        row: usize,
        /// Column of the first bad value.
        col: usize,
    },
    /// A matrix has the wrong shape for this model (data from another dimension, bad initial parameters...).
    #[error("shape mismatch for {what}: expected {expected:?}, found {found:?}")]
    Shape {
        /// Which input.
        what: &'static str,
        /// Expected shape.
        expected: Vec<usize>,
        /// Shape found.
        found: Vec<usize>,
    },
    /// A configuration value outside its valid range.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A covariance matrix that is not positive definite even after the `reg_covar` floor.
    #[error("covariance of component {component} is not positive definite; increase reg_covar")]
    NotPositiveDefinite {
        /// Which mixture component.
        component: usize,
    },
}

/// Result with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// `Ok` if `found` samples are at least the `needed` of the fit `what`, else
/// [`Error::TooFewSamples`].
pub(crate) fn enough_samples(what: &'static str, needed: usize, found: usize) -> Result<()> {
    if found < needed {
        return Err(Error::TooFewSamples {
            what,
            needed,
            found,
        });
    }
    Ok(())
}
