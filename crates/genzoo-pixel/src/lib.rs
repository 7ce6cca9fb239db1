//! # genzoo-pixel — autoregressive pixel models on burn
//!
//! CS231n lecture 13, §2.1: explicit-density models that factor an image into a product of
//! conditionals, `p(x) = Π_i p(x_i | x_<i)`, over sub-pixels in raster order (R → G → B within a
//! pixel). Here: **PixelCNN** (van den Oord et al. 2016, arXiv:1601.06759) with an exact
//! `log_prob`; **Gated PixelCNN** with vertical and horizontal stacks and class conditioning
//! (van den Oord et al. 2016, arXiv:1606.05328); **PixelRNN**'s Row LSTM and Diagonal BiLSTM
//! (arXiv:1601.06759, [`pixelrnn`]); and, apart from the networks, the samplers:
//! naive autoregressive sampling (one forward pass per sub-pixel), fast cached sampling
//! (Ramachandran et al. 2017, arXiv:1704.06001) of PixelCNN ([`cached`]), of Gated PixelCNN
//! ([`cached_gated`]) and of both PixelRNN models ([`cached_rnn`]), and completion of partial
//! images. With the feature `train`, [`train`] holds one training task for all of them
//! (`genzoo-train`'s loop), presets per dataset and checks against a dataset; the README opens
//! with a first run: train PixelCNN on mini-MNIST and write a PNG of samples.
//!
//! ```
//! use burn::tensor::{Device, Distribution, Tensor};
//! use genzoo_pixel::{PixelCnnConfig, sampling::{SampleOptions, sample_naive}};
//!
//! let device = Device::flex();
//! let model = PixelCnnConfig::mnist()
//!     .with_image_size(4)
//!     .with_hidden(8)
//!     .with_residual_blocks(1)
//!     .with_head_hidden(8)
//!     .init(&device);
//! let x = Tensor::<4>::random([2, 1, 4, 4], Distribution::Bernoulli(0.5), &device);
//! let log_p = model.log_prob(x); // [2], nats
//! assert!(log_p.into_data().iter::<f32>().all(|v| v < 0.0));
//! let samples = sample_naive(&model, 3, &SampleOptions::new(7), &device).unwrap();
//! assert_eq!(samples.dims(), [3, 1, 4, 4]);
//! ```

pub mod cached;
pub mod cached_gated;
pub mod cached_rnn;
pub mod error;
pub mod gated;
pub mod pixelcnn;
pub mod pixelrnn;
pub mod sampling;
#[cfg(feature = "train")]
pub mod train;

pub use error::{Error, Result};
pub use gated::{GatedPixelCnn, GatedPixelCnnConfig};
pub use pixelcnn::{PixelCnn, PixelCnnConfig, PixelCnnOutput, log_prob_from_logits};
pub use pixelrnn::{PixelRnn, PixelRnnConfig, PixelRnnOutput, RnnKind};
pub use sampling::Autoregressive;

/// The README's examples, compiled and run as doctests.
#[cfg(all(doctest, feature = "train"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
