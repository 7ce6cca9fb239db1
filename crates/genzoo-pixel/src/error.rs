//! Errors of the pixel models' public entry points (bad options or inputs from a user).

/// What went wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// A configuration a model cannot be built with, or one that does not fit the dataset; the
    /// message names the field and the value found.
    #[error("{0}")]
    InvalidConfig(String),
    /// Sampling temperature not in (0, ∞).
    #[error("sampling temperature must be positive and finite, got {0}")]
    Temperature(f64),
    /// Images whose shape is not the model's.
    #[error("images have shape {found:?}, the model expects [N, {}, {}, {}]", expected[0], expected[1], expected[2])]
    Shape {
        /// `[C, H, W]` of the model.
        expected: [usize; 3],
        /// The shape given.
        found: Vec<usize>,
    },
    /// A completion asked to keep more pixels than an image has.
    #[error("cannot keep {known} pixels of an image with {total}")]
    Known {
        /// Pixels asked to keep.
        known: usize,
        /// Pixels of an image.
        total: usize,
    },
    /// A class label out of range for a class-conditional model.
    #[error("class label {label} out of range for a model of {classes} classes")]
    Label {
        /// The label given.
        label: usize,
        /// Classes of the model.
        classes: usize,
    },
    /// A conditional completion given a label count that differs from the image count.
    #[error("{labels} labels given for {images} images")]
    LabelCount {
        /// Labels given.
        labels: usize,
        /// Images given.
        images: usize,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
