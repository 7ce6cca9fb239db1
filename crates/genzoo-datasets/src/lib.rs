//! Datasets for genzoo: MNIST, Fashion-MNIST, CIFAR-10 and the fixed binarized MNIST (train / valid /
//! test) parsed by hand from their original formats, verified and optionally downloaded; an embedded `mnist-mini` subset; toy 2-D distributions; a
//! seeded RNG shared by the whole project; and conversion to burn tensors with optional binarization.
//!
//! - [`load()`] turns a [`DatasetKind`] and [`Split`] into an in-memory [`ImageSet`] (see [`load`'s module
//!   docs](mod@crate::load) for the data-root layout, resolution order and checksums).
//! - [`ImageSet::batch`] / [`ImageBatcher`] make `[B, C, H, W]` `f32` batches in `[0, 1]`, thresholded or
//!   dynamically binarized ([`Binarization`]); [`epoch_order`] gives a seeded, resumable visiting order.
//! - [`rng::Rng`] (xoshiro256++) and [`rng::derive_seed`] make every random choice reproducible.
//! - [`toy`] samples the 8-Gaussian ring, 25-Gaussian grid, two moons and swiss roll.
//! - Every malformed input is an [`Error`] naming the file, the byte offset, and expected vs found.
//!
//! ```
//! use burn::tensor::Device;
//! use genzoo_datasets::{Binarization, DataOptions, DatasetKind, Split, epoch_order, load};
//!
//! // mnist-mini is embedded: no files, no network.
//! let train = load(DatasetKind::MnistMini, Split::Train, &DataOptions::default())?;
//! assert_eq!((train.len(), train.shape()), (10_000, [1, 28, 28]));
//!
//! // The first batch of epoch 0, dynamically binarized, on the flex (CPU) backend.
//! let order = epoch_order(train.len(), 42, 0);
//! let batch = train.batch(&order[..32], Binarization::Dynamic, 42, &Device::flex());
//! assert_eq!(batch.images.dims(), [32, 1, 28, 28]);
//! assert_eq!(batch.labels.dims(), [32]);
//! # Ok::<(), genzoo_datasets::Error>(())
//! ```

pub mod amat;
pub mod binarize;
pub mod cifar;
pub mod download;
pub mod error;
pub mod gz;
pub mod idx;
pub mod image_set;
pub mod load;
pub mod md5;
pub mod mini;
pub mod rng;
pub mod tar;
pub mod toy;
pub mod verify;

pub use binarize::Binarization;
pub use download::DownloadOptions;
pub use error::{Error, Result};
pub use image_set::{ImageBatch, ImageBatcher, ImageItem, ImageSet, epoch_order};
pub use load::{DATA_DIR_ENV, DataOptions, DatasetKind, Split, data_root, load};
pub use rng::{Rng, derive_seed};
pub use toy::{ToyKind, ToySample};
