//! What a trained model can do besides training, each asked for explicitly through
//! [`Task`](crate::Task): a model that cannot generate has no [`Generate`] (`Task::generator`
//! returns `None`), and a model that can but fails returns the error, which reaches the user.

use burn::tensor::{Device, Tensor};
use genzoo_datasets::{Binarization, ImageSet};

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
            "class {label} out of range: the model has classes 0 to {}",
            classes.saturating_sub(1)
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

/// The completion figure of `completer`, as one tensor of `(seeds.len() + 2) · cols` images: `cols`
/// test images spread evenly over the split (image `i · len / cols`, so a split sorted by label,
/// like the fixed binarized MNIST's, still shows every class) as a model trained with
/// `binarization` sees them, the same with their bottom halves grey (what the model is given),
/// then a row of completions of the bottom halves per seed.
pub fn completion_figure(
    completer: &mut dyn Complete,
    test: &ImageSet,
    binarization: Binarization,
    cols: usize,
    seeds: &[u64],
    device: &Device,
) -> Result<Tensor<4>> {
    let cols = cols.min(test.len());
    let indices: Vec<usize> = (0..cols).map(|i| i * test.len() / cols).collect();
    let labels: Vec<usize> = indices
        .iter()
        .map(|&i| usize::from(test.label(i)))
        .collect();
    let x = crate::protocol::test_batch(test, &indices, binarization, device).images;
    let [n, c, h, w] = x.dims();
    let mask =
        Tensor::<4>::ones([n, c, h, w], device).slice_fill([0..n, 0..c, h / 2..h, 0..w], 0.0);
    let mut parts = vec![
        x.clone(),
        x.clone() * mask.clone() + (mask.neg() + 1.0) * 0.5,
    ];
    for &seed in seeds {
        let done = completer.complete(x.clone(), &labels, (h / 2) * w, seed)?;
        parts.push(done.to_device(device));
    }
    Ok(Tensor::cat(parts, 0))
}

/// A latent-variable model with bounds on its test log-likelihood.
pub trait LikelihoodBounds {
    /// Bounds on the test log-likelihood, in nats per image, over `opts.images` test images from
    /// `opts.start` on: the `−ELBO` with its reconstruction and KL parts (`test_nelbo`, `test_recon`,
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
    /// The first test image scored.
    pub start: usize,
    /// Test images scored, from `start` on.
    pub images: usize,
    /// Seed of the posterior noise (the same seed gives the same numbers).
    pub seed: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Completes every image with ones, and checks what it was given.
    struct Ones;

    impl Complete for Ones {
        fn complete(
            &mut self,
            images: Tensor<4>,
            labels: &[usize],
            known: usize,
            _seed: u64,
        ) -> Result<Tensor<4>> {
            let [n, _, h, w] = images.dims();
            assert_eq!((labels.len(), known), (n, (h / 2) * w));
            Ok(images.ones_like())
        }
    }

    /// Keeps the labels of the images it is given.
    struct Labels(Vec<usize>);

    impl Complete for Labels {
        fn complete(
            &mut self,
            images: Tensor<4>,
            labels: &[usize],
            _known: usize,
            _seed: u64,
        ) -> Result<Tensor<4>> {
            self.0 = labels.to_vec();
            Ok(images)
        }
    }

    #[test]
    fn completion_figure_spreads_its_images_over_a_sorted_split() {
        let labels: Vec<u8> = (0..10).flat_map(|c| [c; 3]).collect(); // 30 images, sorted
        let test = ImageSet::new(vec![0; 30 * 4], labels, [1, 2, 2]).expect("set");
        let mut seen = Labels(Vec::new());
        completion_figure(
            &mut seen,
            &test,
            Binarization::None,
            5,
            &[0],
            &Device::flex(),
        )
        .expect("figure");
        assert_eq!(seen.0, [0, 2, 4, 6, 8]);
        completion_figure(
            &mut seen,
            &test,
            Binarization::None,
            40,
            &[0],
            &Device::flex(),
        )
        .expect("more columns than images");
        assert_eq!(seen.0.len(), 30);
    }

    #[test]
    fn completion_figure_shows_images_their_given_halves_and_completions() {
        let device = Device::flex();
        let pixels: Vec<u8> = (0..3 * 16)
            .map(|i| if i % 3 == 0 { 255 } else { 0 })
            .collect();
        let test = ImageSet::new(pixels, vec![0, 1, 2], [1, 4, 4]).expect("set");
        let fig = completion_figure(&mut Ones, &test, Binarization::None, 2, &[0, 1, 2], &device)
            .expect("figure");
        assert_eq!(fig.dims(), [2 * 5, 1, 4, 4]);
        let v: Vec<f32> = fig.into_data().try_to_vec::<f32>().expect("f32");
        let img = |k: usize| &v[k * 16..(k + 1) * 16];
        for i in 0..2 {
            let real = img(i);
            let given = img(2 + i);
            assert_eq!(&given[..8], &real[..8]);
            assert!(given[8..].iter().all(|&p| p == 0.5));
            for r in 0..3 {
                assert!(img(4 + 2 * r + i).iter().all(|&p| p == 1.0));
            }
        }
    }
}
