//! The test-time view of a dataset, one definition for training-time evaluation, `genzoo eval`,
//! the figures and the benchmarks, so that their numbers agree by construction.
//!
//! A model trained on dynamically binarized images is tested on images binarized **once**, with
//! [`TEST_BINARIZATION_SEED`] (Burda et al. 2015's protocol): every evaluation of every model sees
//! the same binary test set. The real images its samples are compared with are binarized once too,
//! with [`REFERENCE_BINARIZATION_SEED`]. Images already binary (the fixed binarized MNIST) stay as
//! they are.

use burn::tensor::Device;
use genzoo_datasets::{Binarization, ImageBatch, ImageSet};

/// Seed of the one binarization of a test set.
pub const TEST_BINARIZATION_SEED: u64 = 0x7E57;

/// Test images `indices` as a model trained with `binarization` sees them at test time.
pub fn test_batch(
    test: &ImageSet,
    indices: &[usize],
    binarization: Binarization,
    device: &Device,
) -> ImageBatch {
    test.batch(indices, binarization, TEST_BINARIZATION_SEED, device)
}

/// Seed of the one binarization of the real images the sample metrics (FID, KID, IS, precision and
/// recall) compare samples with, and the domain classifier's calibration reads.
pub const REFERENCE_BINARIZATION_SEED: u64 = 0x5EED;

/// Real images `indices` as the sample metrics compare a model's samples with: binarized once, as
/// the model's training images are.
pub fn reference_batch(
    set: &ImageSet,
    indices: &[usize],
    binarization: Binarization,
    device: &Device,
) -> ImageBatch {
    set.batch(indices, binarization, REFERENCE_BINARIZATION_SEED, device)
}

/// The indices of the first `limit` test images (all of them for `limit = 0`).
pub fn test_indices(test: &ImageSet, limit: usize) -> Vec<usize> {
    let n = if limit == 0 {
        test.len()
    } else {
        limit.min(test.len())
    };
    (0..n).collect()
}
