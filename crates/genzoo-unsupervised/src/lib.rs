//! # genzoo-unsupervised — k-means, PCA, Gaussian mixtures and kernel density estimation on burn tensors
//!
//! Lecture 13 of CS231n, §1 (unsupervised learning: clustering, dimensionality reduction, density
//! estimation). Each algorithm is a config with a `fit` that returns a fitted model; every random choice is
//! seeded. The O(n·k·d) and O(n·d²) products run on burn tensors, so the fits run on every backend the
//! binary compiles in; reductions that decide agreement with scikit-learn are accumulated in `f64`, and
//! eigen/Cholesky decompositions of the small `d × d` matrices use `nalgebra` in `f64`.
//!
//! ```
//! use burn::tensor::{Device, Tensor, TensorData};
//! use genzoo_unsupervised::KMeansConfig;
//!
//! let device = Device::flex();
//! let points = vec![0.0f32, 0.0, 0.0, 1.0, 10.0, 10.0, 10.0, 11.0];
//! let x = Tensor::<2>::from_data(TensorData::new(points, [4, 2]), &device);
//! let fit = KMeansConfig::new(2).with_seed(1).fit(&x).unwrap();
//! // Each pair's centre is its midpoint, half a unit from both points: inertia 4 × 0.25.
//! assert!((fit.inertia() - 1.0).abs() < 1e-9);
//! assert_eq!(fit.labels()[0], fit.labels()[1]);
//! ```

#[cfg(feature = "train")]
pub mod bench;
pub mod error;
#[cfg(feature = "train")]
pub mod fit;
pub mod gmm;
mod host;
pub mod kde;
pub mod kmeans;
pub mod minibatch;
pub mod pca;

pub use error::{Error, Result};
pub use gmm::{CovarianceType, GaussianMixture, GaussianMixtureConfig, GmmParams};
pub use kde::{Bandwidth, KernelDensity, KernelDensityConfig};
pub use kmeans::{KMeans, KMeansConfig};
pub use minibatch::MiniBatchKMeansConfig;
pub use pca::{Pca, PcaConfig, PcaSolver};
