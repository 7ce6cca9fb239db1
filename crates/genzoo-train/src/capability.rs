//! What a trained model can do besides training, each asked for explicitly through
//! [`Task`](crate::Task): a model that cannot generate has no [`Generate`] (`Task::generator`
//! returns `None`), and a model that can but fails returns the error, which reaches the user.

use burn::tensor::Tensor;
use genzoo_datasets::ImageSet;

use crate::error::Result;

/// A model that draws new images.
pub trait Generate {
    /// `n` fresh samples in [0, 1], shaped `[n, channels, height, width]` on a non-autodiff
    /// device, drawn from `seed` (the same seed gives the same samples), for the sample-quality
    /// metrics of `genzoo eval` (FID, KID, ...). Implementations batch internally so any `n` fits
    /// in memory; a conditional model cycles through its classes.
    fn generate(&mut self, n: usize, seed: u64) -> Result<Tensor<4>>;

    /// Chooses the autoregressive sampler: `true` for the cached one, `false` for the naive one
    /// (both draw the same images). Returns `false` when the model has no such choice.
    fn set_fast_sampling(&mut self, fast: bool) -> bool {
        let _ = fast;
        false
    }
}

/// A class-conditional model: [`Generate`] for one class at a time.
pub trait GenerateClass {
    /// The classes it generates from (at least 1).
    fn num_classes(&self) -> usize;

    /// Like [`Generate::generate`], every sample of class `label`; an error for a label out of
    /// range.
    fn generate_class(&mut self, n: usize, seed: u64, label: usize) -> Result<Tensor<4>>;
}

/// Refuses a class `label` of a model of `classes` classes that is out of range.
pub fn check_class(label: usize, classes: usize) -> Result<()> {
    if label >= classes {
        return Err(crate::Error::Model(format!(
            "class {label} out of range for a model of {classes} classes"
        )));
    }
    Ok(())
}

/// An autoregressive model that completes partly known images.
pub trait Complete {
    /// Each of `images` (test images as the model sees them, with their `labels`) with its first
    /// `known` pixels (raster order) kept and the rest sampled from `seed`.
    fn complete(
        &mut self,
        images: Tensor<4>,
        labels: &[usize],
        known: usize,
        seed: u64,
    ) -> Result<Tensor<4>>;
}

/// A latent-variable model with bounds on its test log-likelihood.
pub trait LikelihoodBounds {
    /// Bounds on the test log-likelihood, in nats per image, over the first `opts.images` test
    /// images: the `−ELBO` with its reconstruction and KL parts (`test_nelbo`, `test_recon`,
    /// `test_kl`) and, for `opts.k > 0`, the importance-weighted `−L_k` of Burda et al. 2015
    /// (`test_iwae<k>_nll`, `test_iwae<k>_se`). Implementations batch so any `k` fits in memory.
    fn likelihood_bounds(
        &mut self,
        test: &ImageSet,
        opts: &BoundOptions,
    ) -> Result<Vec<(String, f64)>>;
}

/// What [`LikelihoodBounds::likelihood_bounds`] computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoundOptions {
    /// Importance samples per image for `−L_k`; 0 for the `−ELBO` only.
    pub k: usize,
    /// Test images scored (the first ones of the test set).
    pub images: usize,
    /// Seed of the posterior noise (the same seed gives the same numbers).
    pub seed: u64,
}
