//! The test-time view of a dataset, one definition for training-time evaluation, `genzoo eval`,
//! the figures and the benchmarks, so that their numbers agree by construction.
//!
//! A model trained on dynamically binarized images is tested on images binarized **once**, with
//! [`TEST_BINARIZATION_SEED`] (Burda et al. 2015's protocol): every evaluation of every model sees
//! the same binary test set. The real images its samples are compared with are binarized once too,
//! with [`REFERENCE_BINARIZATION_SEED`]. Images already binary (the fixed binarized MNIST) stay as
//! they are.

use std::sync::atomic::{AtomicBool, Ordering};

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

/// Whether evaluation loops draw a progress bar (drawn only where stderr is a terminal).
static PROGRESS: AtomicBool = AtomicBool::new(false);

/// Turns the evaluation loops' progress bars on or off for the process: the training loop sets it
/// from its options, `genzoo eval` turns it on.
pub fn show_progress(on: bool) {
    PROGRESS.store(on, Ordering::Relaxed);
}

/// The batches of an evaluation loop: `indices` in chunks of `batch`, counted on a progress bar
/// labelled `what` while [`show_progress`] is on. The bar counts the images of the chunks handed
/// out and done, and is cleared when the loop ends.
pub fn eval_chunks<'a>(indices: &'a [usize], batch: usize, what: &str) -> EvalChunks<'a> {
    let bar = if PROGRESS.load(Ordering::Relaxed) {
        let bar = indicatif::ProgressBar::new(indices.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:30} {msg} {pos}/{len} images | ETA {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar.set_message(what.to_string());
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    EvalChunks {
        chunks: indices.chunks(batch.max(1)),
        done: 0,
        bar,
    }
}

/// The iterator of [`eval_chunks`].
pub struct EvalChunks<'a> {
    chunks: std::slice::Chunks<'a, usize>,
    /// Images of the chunk handed out last, done once the next one is asked for.
    done: u64,
    bar: indicatif::ProgressBar,
}

impl<'a> Iterator for EvalChunks<'a> {
    type Item = &'a [usize];

    fn next(&mut self) -> Option<&'a [usize]> {
        self.bar.inc(self.done);
        let chunk = self.chunks.next()?;
        self.done = chunk.len() as u64;
        Some(chunk)
    }
}

impl Drop for EvalChunks<'_> {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The chunks are `slice::chunks`', and the bar has counted every image once the loop is done.
    #[test]
    fn eval_chunks_hands_out_the_chunks_and_counts_every_image() {
        let indices: Vec<usize> = (0..10).collect();
        let mut it = eval_chunks(&indices, 4, "test");
        let got: Vec<Vec<usize>> = it.by_ref().map(<[usize]>::to_vec).collect();
        let want: Vec<Vec<usize>> = indices.chunks(4).map(<[usize]>::to_vec).collect();
        assert_eq!(got, want);
        assert_eq!(it.bar.position(), 10);
        assert_eq!(
            eval_chunks(&indices, 0, "test").count(),
            10,
            "batch 0 counts as 1"
        );
    }
}
