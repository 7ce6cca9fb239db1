//! # genzoo-metrics — how good is a generative model
//!
//! Likelihood in nats and bits per dimension ([`likelihood`]), with numerically careful
//! log-sum-exp, log-softmax and Bernoulli log-likelihood from logits; the sample-quality metrics
//! [`frechet`] (FID), [`kid`], [`inception_score`] and [`precision_recall`] on [`Features`]; and
//! [`classifier`]: the [`FeatureExtractor`](classifier::FeatureExtractor) trait and genzoo's own
//! LeNet domain classifiers whose features those metrics are computed on.
//!
//! ```
//! use genzoo_metrics::likelihood::bits_per_dim;
//! // 81.30 nats on 28×28 binarized MNIST (PixelCNN, van den Oord et al. 2016) in bits/dim:
//! let bpd = bits_per_dim(81.30, 784);
//! assert!((bpd - 0.1496).abs() < 1e-4);
//! ```

pub mod bench;
pub mod classifier;
pub mod error;
#[cfg(feature = "train")]
pub mod evaluate;
pub mod features;
pub mod frechet;
pub mod inception_score;
pub mod kid;
pub mod likelihood;
pub mod precision_recall;
pub mod suite;

pub use error::{Error, Result};
pub use features::Features;
