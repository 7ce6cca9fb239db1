//! # genzoo-vae — autoencoders and variational autoencoders on burn
//!
//! Lecture 13 of CS231n, §1.3 (autoencoders) and §2.2 (VAEs). Models are written once against
//! burn's [`Tensor`](burn::tensor::Tensor) and [`Device`](burn::tensor::Device): the backend is
//! whatever the final binary compiled in (features `flex`, `ndarray`, `wgpu`, `cuda`).
//!
//! - [`autoencoder`]: the convolutional autoencoder (L2 reconstruction).
//! - [`vae`]: the VAE with MLP or convolutional encoder/decoder, Bernoulli or discretized-logistic
//!   decoder, β and KL warm-up, optional class conditioning.
//! - [`iwae`]: the importance-weighted estimate of `log p(x)` (Burda et al. 2015).
//! - [`sampling`]: prior samples, interpolation, traversal, the 2-D manifold, PCA of encodings.
//! - `train` (feature `train`): each model's training task for `genzoo-train` (objective,
//!   test protocol, samples, figures), presets per dataset and checks against a dataset. The
//!   README opens with a first run: train the VAE on mini-MNIST and write a PNG of samples.
//!
//! ```
//! use burn::tensor::{Device, Distribution, Tensor};
//! use genzoo_vae::AutoencoderConfig;
//!
//! let device = Device::flex();
//! let model = AutoencoderConfig::mnist().init(&device);
//! let x = Tensor::<4>::random([4, 1, 28, 28], Distribution::Uniform(0.0, 1.0), &device);
//! let out = model.loss(x);
//! assert_eq!(out.reconstruction.dims(), [4, 1, 28, 28]);
//! assert!(out.loss.into_scalar::<f32>() > 0.0);
//! ```
//!
//! The VAE of pytorch/examples, its loss on a batch and samples from the prior:
//!
//! ```
//! use burn::tensor::{Device, Distribution, Tensor};
//! use genzoo_datasets::rng::Rng;
//! use genzoo_vae::{VaeConfig, sampling};
//!
//! let device = Device::flex();
//! let model = VaeConfig::mnist_mlp().init(&device);
//! let x = Tensor::<4>::random([8, 1, 28, 28], Distribution::Uniform(0.0, 1.0), &device).round();
//! let mut rng = Rng::seed_from_u64(0);
//! let eps = sampling::standard_normal(8, model.latent(), &mut rng, &device);
//! let out = model.loss(x, None, eps, 1.0);
//! // An untrained Bernoulli decoder is near 1 bit (ln 2 nats) per pixel.
//! let recon = out.recon.into_scalar::<f32>();
//! assert!(recon > 400.0 && recon < 700.0, "{recon}");
//! let samples = sampling::sample_prior(&model, 4, None, &mut rng, &device);
//! assert_eq!(samples.dims(), [4, 1, 28, 28]);
//! ```

pub mod autoencoder;
pub mod error;
pub mod iwae;
#[cfg(feature = "train")]
pub mod pretrained;
#[cfg(feature = "train")]
pub mod probe;
pub mod sampling;
#[cfg(feature = "train")]
pub mod train;
pub mod vae;

/// A tensor's values widened to `f64`: what the tests compare against closed forms.
#[cfg(test)]
pub(crate) fn f64s<const D: usize>(t: burn::tensor::Tensor<D>) -> Vec<f64> {
    t.into_data()
        .try_to_vec::<f32>()
        .expect("f32")
        .into_iter()
        .map(f64::from)
        .collect()
}

pub use autoencoder::{Autoencoder, AutoencoderConfig, AutoencoderOutput};
pub use error::{Result, VaeError};
pub use iwae::importance_weighted_log_likelihood;
pub use vae::{Activation, Architecture, Likelihood, Vae, VaeConfig, VaeOutput};

/// The README's examples, compiled and run as doctests.
#[cfg(all(doctest, feature = "train"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
