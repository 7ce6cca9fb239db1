//! Autoregressive sampling, kept apart from the networks: any model that gives the logits of
//! every conditional in one pass ([`Autoregressive`]) can be sampled here.
//!
//! **Naive sampling** runs one full forward pass per sub-pixel (`C · H · W` passes per batch) and
//! reads the logits of the one sub-pixel being drawn. Every draw uses a uniform number from a
//! per-image random stream, `Rng::seed_from_u64(derive_seed(seed, [image index]))`, consumed one
//! number per drawn sub-pixel in raster then channel order. The cached samplers
//! ([`crate::cached`], [`crate::cached_gated`], [`crate::cached_rnn`], behind [`CachedSampler`])
//! run the same loop and differ only in how they compute a pixel's logits, so they give the same
//! images for the same seed.

use burn::tensor::{DataError, Device, Tensor, TensorData};
use genzoo_datasets::rng::{Rng, derive_seed};

use crate::error::{Error, Result};
use crate::pixelcnn::outputs_per_subpixel;

/// A model that gives the logits of every conditional `p(x_i | x_<i)` in one pass.
pub trait Autoregressive {
    /// `[C, H, W]` of the images it models.
    fn image_shape(&self) -> [usize; 3];
    /// Values a sub-pixel takes (2: binary, one Bernoulli logit; otherwise a softmax).
    fn levels(&self) -> usize;
    /// Logits of every conditional.
    ///
    /// # Shapes
    /// `x: [B, C, H, W]` → `[B, C, outs, H, W]`, `outs` = 1 if `levels` is 2 else `levels`.
    fn logits(&self, x: Tensor<4>) -> Tensor<5>;
}

/// [`Autoregressive`] for a model of square images with the fields `channels`, `image_size` and
/// `levels`, whose logits are `$logits` (with `$model` bound to the model and `$x` to the input).
macro_rules! impl_autoregressive {
    ($ty:ty, |$model:ident, $x:ident| $logits:expr) => {
        impl $crate::sampling::Autoregressive for $ty {
            fn image_shape(&self) -> [usize; 3] {
                [self.channels, self.image_size, self.image_size]
            }

            fn levels(&self) -> usize {
                self.levels
            }

            fn logits(&self, $x: ::burn::tensor::Tensor<4>) -> ::burn::tensor::Tensor<5> {
                let $model = self;
                $logits
            }
        }
    };
}
pub(crate) use impl_autoregressive;

/// How to draw: temperature and seed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SampleOptions {
    /// Logits are divided by this before drawing (1 = the model's distribution).
    pub temperature: f64,
    /// The same seed gives the same images.
    pub seed: u64,
}

impl SampleOptions {
    /// Temperature 1 and `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            temperature: 1.0,
            seed,
        }
    }

    /// Returns `self` with `temperature`.
    pub fn with_temperature(mut self, temperature: f64) -> Self {
        self.temperature = temperature;
        self
    }

    pub(crate) fn check(&self) -> Result<()> {
        if self.temperature.is_finite() && self.temperature > 0.0 {
            Ok(())
        } else {
            Err(Error::Temperature(self.temperature))
        }
    }
}

/// The random stream of image `index` of a batch drawn from `seed`.
pub fn image_rng(seed: u64, index: usize) -> Rng {
    Rng::seed_from_u64(derive_seed(seed, &[index as u64, 0x5A4D]))
}

/// The value of one sub-pixel drawn from its logits with the uniform number `u ∈ [0, 1)`.
///
/// Binary (`levels = 2`, one logit `l`): 1 if `u < σ(l / T)`. Otherwise the inverse CDF of
/// `softmax(l / T)`, returning `k / (levels − 1)` for the class `k`.
pub fn draw(logits: &[f32], levels: usize, temperature: f64, u: f64) -> f32 {
    if levels == 2 {
        let p = 1.0 / (1.0 + (-f64::from(logits[0]) / temperature).exp());
        return if u < p { 1.0 } else { 0.0 };
    }
    let max = logits
        .iter()
        .map(|&l| f64::from(l) / temperature)
        .fold(f64::NEG_INFINITY, f64::max);
    let weights: Vec<f64> = logits
        .iter()
        .map(|&l| (f64::from(l) / temperature - max).exp())
        .collect();
    let total: f64 = weights.iter().sum();
    let mut acc = 0.0;
    for (k, w) in weights.iter().enumerate() {
        acc += w / total;
        if u < acc {
            return k as f32 / (levels - 1) as f32;
        }
    }
    1.0
}

/// What a sampler draws: fresh images, or completions of given ones.
// Made once per sampling run and moved, never stored: its size does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Start {
    /// `n` fresh images.
    Fresh(usize),
    /// The images `[n, C, H, W]`, of which the first `known` pixels (raster order, all channels)
    /// are kept and the rest drawn.
    Completion(Tensor<4>, usize),
}

/// A model with a cached sampler: one that draws the images [`draw_naive`] draws for the same
/// options, evaluating each layer about once per position instead of once per sub-pixel.
pub trait CachedSampler: Autoregressive {
    /// Draws from `start` with the cached sampler.
    ///
    /// # Errors
    /// As [`draw_naive`]; for a model with fixed labels, a label count other than the image
    /// count.
    ///
    /// # Shapes
    /// → `[n, C, H, W]`
    fn sample(&self, start: Start, opts: &SampleOptions, device: &Device) -> Result<Tensor<4>>;
}

impl<A: Autoregressive + ?Sized> Autoregressive for &A {
    fn image_shape(&self) -> [usize; 3] {
        (**self).image_shape()
    }

    fn levels(&self) -> usize {
        (**self).levels()
    }

    fn logits(&self, x: Tensor<4>) -> Tensor<5> {
        (**self).logits(x)
    }
}

impl<S: CachedSampler + ?Sized> CachedSampler for &S {
    fn sample(&self, start: Start, opts: &SampleOptions, device: &Device) -> Result<Tensor<4>> {
        (**self).sample(start, opts, device)
    }
}

/// `n` fresh samples in [0, 1], one forward pass per sub-pixel.
///
/// # Shapes
/// → `[n, C, H, W]`
pub fn sample_naive<M: Autoregressive>(
    model: &M,
    n: usize,
    opts: &SampleOptions,
    device: &Device,
) -> Result<Tensor<4>> {
    draw_naive(model, Start::Fresh(n), opts, device)
}

/// Keeps the first `known` pixels (raster order, all channels) of each image and samples the rest
/// one forward pass per sub-pixel. `known = H/2 · W` is the classic "complete the bottom half".
///
/// # Shapes
/// `images: [n, C, H, W]` → `[n, C, H, W]`
pub fn complete_naive<M: Autoregressive>(
    model: &M,
    images: Tensor<4>,
    known: usize,
    opts: &SampleOptions,
    device: &Device,
) -> Result<Tensor<4>> {
    draw_naive(model, Start::Completion(images, known), opts, device)
}

/// Draws from `start` one forward pass per sub-pixel.
///
/// # Errors
/// A temperature that is not positive and finite; for a completion, images of another shape than
/// the model's, or `known > H · W`.
///
/// # Shapes
/// → `[n, C, H, W]`
pub fn draw_naive<M: Autoregressive + ?Sized>(
    model: &M,
    start: Start,
    opts: &SampleOptions,
    device: &Device,
) -> Result<Tensor<4>> {
    run(model, start, None, opts, device, |n| FullPass {
        model,
        n,
        device,
    })
}

/// `n` fresh samples in [0, 1] from the cached sampler of `model` (PixelCNN's, a PixelRNN's or a
/// [`crate::gated::Conditioned`] Gated PixelCNN's). Gives the images [`sample_naive`] gives for
/// the same options.
///
/// # Shapes
/// → `[n, C, H, W]`
pub fn sample_cached(
    model: &impl CachedSampler,
    n: usize,
    opts: &SampleOptions,
    device: &Device,
) -> Result<Tensor<4>> {
    model.sample(Start::Fresh(n), opts, device)
}

/// Keeps the first `known` pixels (raster order) of each image and samples the rest with the
/// cached sampler of `model`, like [`complete_naive`] (same options, same images).
///
/// # Shapes
/// `images: [n, C, H, W]` → `[n, C, H, W]`
pub fn complete_cached(
    model: &impl CachedSampler,
    images: Tensor<4>,
    known: usize,
    opts: &SampleOptions,
    device: &Device,
) -> Result<Tensor<4>> {
    model.sample(Start::Completion(images, known), opts, device)
}

/// How one sampling run evaluates its model ([`run`]): position by position in raster order, once
/// per channel of a drawn pixel.
pub(crate) trait Stepper {
    /// The logits `[n][C · outs]` of pixel `p` of `image` (host `[n, C, H, W]`), whose sub-pixels
    /// before the one being drawn are final; only those of the channel being drawn are read.
    fn logits(&mut self, image: &[f32], p: usize) -> Vec<f32>;
    /// Pixel `p` is known (kept by a completion): whatever later pixels need of it.
    fn known(&mut self, image: &[f32], p: usize);
    /// Channel `ch` of pixel `p` has just been drawn into `image`.
    fn drawn(&mut self, _image: &[f32], _p: usize, _ch: usize) {}
    /// Every pixel of row `r` is final, and row `r + 1` (which exists) comes next.
    fn finish_row(&mut self, _image: &[f32], _r: usize) {}
}

/// Naive sampling's evaluation: the whole network on the whole batch, for every sub-pixel.
struct FullPass<'a, M: ?Sized> {
    model: &'a M,
    n: usize,
    device: &'a Device,
}

impl<M: Autoregressive + ?Sized> Stepper for FullPass<'_, M> {
    fn logits(&mut self, image: &[f32], p: usize) -> Vec<f32> {
        let [c, h, w] = self.model.image_shape();
        let (n, outs) = (self.n, outputs_per_subpixel(self.model.levels()));
        let (y, x) = (p / w, p % w);
        let input =
            Tensor::<4>::from_data(TensorData::new(image.to_vec(), [n, c, h, w]), self.device);
        let logits = self
            .model
            .logits(input)
            .slice([0..n, 0..c, 0..outs, y..y + 1, x..x + 1]);
        host_f32(logits).unwrap_or_default()
    }

    fn known(&mut self, _image: &[f32], _p: usize) {}
}

/// One sampling run of `model`: checks the options and the request (`labels`: how many images a
/// conditional model has labels for), then draws every sub-pixel after the known pixels with the
/// stepper that `stepper` builds for the run's `n` images.
///
/// Each draw uses a uniform number from its image's random stream ([`image_rng`]), consumed one
/// number per drawn sub-pixel in raster then channel order: any stepper that gives the same logits
/// gives the same images.
pub(crate) fn run<M: Autoregressive + ?Sized, S: Stepper>(
    model: &M,
    start: Start,
    labels: Option<usize>,
    opts: &SampleOptions,
    device: &Device,
    stepper: impl FnOnce(usize) -> S,
) -> Result<Tensor<4>> {
    opts.check()?;
    let shape = model.image_shape();
    let (image, n, known) = match start {
        Start::Fresh(n) => (vec![0.0; n * shape.iter().product::<usize>()], n, 0),
        Start::Completion(images, known) => {
            let (image, n) = completion_start(shape, images, known)?;
            (image, n, known)
        }
    };
    if let Some(labels) = labels.filter(|&labels| labels != n) {
        return Err(Error::LabelCount { labels, images: n });
    }
    let image = if n == 0 {
        image
    } else {
        let levels = model.levels();
        draw_pixels(&mut stepper(n), image, n, shape, levels, known, opts)
    };
    let [c, h, w] = shape;
    Ok(Tensor::from_data(
        TensorData::new(image, [n, c, h, w]),
        device,
    ))
}

/// The loop of [`run`].
fn draw_pixels(
    stepper: &mut impl Stepper,
    mut image: Vec<f32>,
    n: usize,
    [c, h, w]: [usize; 3],
    levels: usize,
    known: usize,
    opts: &SampleOptions,
) -> Vec<f32> {
    let outs = outputs_per_subpixel(levels);
    let mut rngs: Vec<Rng> = (0..n).map(|b| image_rng(opts.seed, b)).collect();
    for p in 0..h * w {
        if p < known {
            stepper.known(&image, p);
        } else {
            for ch in 0..c {
                let logits = stepper.logits(&image, p);
                for (b, rng) in rngs.iter_mut().enumerate() {
                    let base = (b * c + ch) * outs;
                    let u = rng.uniform_f64();
                    image[(b * c + ch) * h * w + p] =
                        draw(&logits[base..base + outs], levels, opts.temperature, u);
                }
                stepper.drawn(&image, p, ch);
            }
        }
        if p % w == w - 1 && p / w + 1 < h {
            stepper.finish_row(&image, p / w);
        }
    }
    image
}

/// Checks a completion request and returns the images as host values, with the unknown pixels
/// zeroed so that nothing of them can leak into a (faulty) model.
fn completion_start(
    shape: [usize; 3],
    images: Tensor<4>,
    known: usize,
) -> Result<(Vec<f32>, usize)> {
    let dims = images.dims();
    let [c, h, w] = shape;
    if dims[1..] != shape {
        return Err(Error::Shape {
            expected: shape,
            found: dims.to_vec(),
        });
    }
    if known > h * w {
        return Err(Error::Known {
            known,
            total: h * w,
        });
    }
    let n = dims[0];
    let mut image = host_f32(images).unwrap_or_default();
    for b in 0..n {
        for ch in 0..c {
            let base = (b * c + ch) * h * w;
            image[base + known..base + h * w].fill(0.0);
        }
    }
    Ok((image, n))
}

/// The values of a tensor on the host, as `f32`.
pub(crate) fn host_f32<const D: usize>(t: Tensor<D>) -> std::result::Result<Vec<f32>, DataError> {
    t.into_data().convert::<f32>().try_to_vec::<f32>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draw_follows_the_inverse_cdf() {
        // Bernoulli logit 0 → p = 1/2.
        assert_eq!(draw(&[0.0], 2, 1.0, 0.49), 1.0);
        assert_eq!(draw(&[0.0], 2, 1.0, 0.51), 0.0);
        // Softmax of logits ln(1), ln(2), ln(1) → probabilities 1/4, 1/2, 1/4.
        let l = [0.0f32, 2f32.ln(), 0.0];
        assert_eq!(draw(&l, 3, 1.0, 0.2), 0.0);
        assert_eq!(draw(&l, 3, 1.0, 0.3), 0.5);
        assert_eq!(draw(&l, 3, 1.0, 0.8), 1.0);
        // Temperature 2 flattens to ∝ 1, √2, 1: the cut between class 0 and 1 moves to 1/(2+√2).
        let cut = 1.0 / (2.0 + 2f64.sqrt());
        assert_eq!(draw(&l, 3, 2.0, cut - 1e-6), 0.0);
        assert_eq!(draw(&l, 3, 2.0, cut + 1e-6), 0.5);
    }
}
