//! Autoregressive sampling, kept apart from the networks: any model that gives the logits of
//! every conditional in one pass ([`Autoregressive`]) can be sampled here, PixelCNN now and the
//! PixelRNN models later.
//!
//! **Naive sampling** runs one full forward pass per sub-pixel (`C · H · W` passes per batch) and
//! reads the logits of the one sub-pixel being drawn. Every draw uses a uniform number from a
//! per-image random stream, `Rng::seed_from_u64(derive_seed(seed, [image index]))`, consumed one
//! number per drawn sub-pixel in raster then channel order. Any sampler that follows the same
//! protocol (the cached sampler in [`crate::cached`]) gives the same images for the same seed.

use burn::tensor::{Device, Tensor, TensorData};
use genzoo_datasets::rng::{Rng, derive_seed};

use crate::error::{Error, Result};

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
    opts.check()?;
    let [c, h, w] = model.image_shape();
    let image = vec![0.0; n * c * h * w];
    let image = run_naive(model, image, n, 0, opts, device);
    Ok(Tensor::from_data(
        TensorData::new(image, [n, c, h, w]),
        device,
    ))
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
    opts.check()?;
    let (image, n) = completion_start(model.image_shape(), images, known)?;
    let [c, h, w] = model.image_shape();
    let image = run_naive(model, image, n, known, opts, device);
    Ok(Tensor::from_data(
        TensorData::new(image, [n, c, h, w]),
        device,
    ))
}

/// Checks a completion request and returns the images as host values, with the unknown pixels
/// zeroed so that nothing of them can leak into a (faulty) model.
pub(crate) fn completion_start(
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
    let mut image: Vec<f32> = images
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .unwrap_or_default();
    for b in 0..n {
        for ch in 0..c {
            let base = (b * c + ch) * h * w;
            image[base + known..base + h * w].fill(0.0);
        }
    }
    Ok((image, n))
}

fn run_naive<M: Autoregressive>(
    model: &M,
    mut image: Vec<f32>,
    n: usize,
    start: usize,
    opts: &SampleOptions,
    device: &Device,
) -> Vec<f32> {
    let [c, h, w] = model.image_shape();
    let levels = model.levels();
    let outs = if levels == 2 { 1 } else { levels };
    let mut rngs: Vec<Rng> = (0..n).map(|b| image_rng(opts.seed, b)).collect();
    for p in start..h * w {
        let (y, x) = (p / w, p % w);
        for ch in 0..c {
            let input =
                Tensor::<4>::from_data(TensorData::new(image.clone(), [n, c, h, w]), device);
            let logits = model
                .logits(input)
                .slice([0..n, ch..ch + 1, 0..outs, y..y + 1, x..x + 1]);
            let logits: Vec<f32> = logits
                .into_data()
                .convert::<f32>()
                .try_to_vec::<f32>()
                .unwrap_or_default();
            for (b, rng) in rngs.iter_mut().enumerate() {
                let u = rng.uniform_f64();
                image[((b * c + ch) * h + y) * w + x] = draw(
                    &logits[b * outs..(b + 1) * outs],
                    levels,
                    opts.temperature,
                    u,
                );
            }
        }
    }
    image
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
