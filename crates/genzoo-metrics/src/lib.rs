//! # genzoo-metrics — how good is a generative model
//!
//! Likelihood in nats and bits per dimension, with numerically careful log-sum-exp, log-softmax
//! and Bernoulli log-likelihood from logits. (Sample-quality metrics — FID, KID, Inception-style
//! score, precision/recall — are the rest of issue 4.)
//!
//! ```
//! use genzoo_metrics::likelihood::bits_per_dim;
//! // 81.30 nats on 28×28 binarized MNIST (PixelCNN, van den Oord et al. 2016) in bits/dim:
//! let bpd = bits_per_dim(81.30, 784);
//! assert!((bpd - 0.1496).abs() < 1e-4);
//! ```

pub mod classifier;
pub mod error;
pub mod features;
pub mod frechet;
pub mod inception_score;
pub mod kid;
pub mod likelihood;
pub mod precision_recall;

pub use error::{Error, Result};
pub use features::Features;
