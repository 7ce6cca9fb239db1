//! # genzoo-vae — autoencoders and variational autoencoders on burn
//!
//! Lecture 13 of CS231n, §1.3 (autoencoders) and §2.2 (VAEs). Models are written once against
//! burn's [`Tensor`](burn::tensor::Tensor) and [`Device`](burn::tensor::Device): the backend is
//! whatever the final binary compiled in (features `flex`, `ndarray`, `wgpu`, `cuda`).
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

pub mod autoencoder;

pub use autoencoder::{Autoencoder, AutoencoderConfig, AutoencoderOutput};
