//! Fast cached sampling of PixelRNN (van den Oord et al. 2016a, "Pixel Recurrent Neural
//! Networks", arXiv:1601.06759): the Row LSTM recomputes one row per drawn sub-pixel instead of
//! the whole image, in the spirit of Ramachandran et al. 2017, "Fast Generation for Convolutional
//! Autoregressive Models", arXiv:1704.06001 (cache what a new value cannot change).
//!
//! **Row LSTM.** Every map of the network at row `r` depends only on rows `≤ r`:
//! - the 7×7 mask-A input convolution at row `r` reads image rows `r − 3 ..= r` (the mask zeroes
//!   the kernel rows below the centre), so it is computed from those rows with the kernel's upper
//!   half;
//! - a Row LSTM layer at row `r` is one step of its recurrence: its `1×k` input-to-state kernel
//!   reads the layer input at row `r` only, its `1×k` state-to-state kernel the hidden state of
//!   row `r − 1` of the same layer, and `c` comes from row `r − 1` too;
//! - the residual sum and the 1×1 output layers are position-wise.
//!
//! So when the sub-pixels of row `r` are drawn, each layer's state `(h, c)` after row `r − 1` is
//! final and kept; each draw runs the input convolution on four image rows and each layer's step
//! on row `r` from the kept state (one batched tensor op per layer over the whole row and batch),
//! then the head on that row, and reads the logits of the sub-pixel being drawn. When row `r` is
//! complete, one more pass over it with every sub-pixel set gives the states that are kept for
//! row `r + 1`. A draw costs about `1/H` of a full forward pass, so sampling is about `H` times
//! faster than the naive sampler's full pass per sub-pixel.
//!
//! The draws follow the protocol of [`crate::sampling`] (one uniform per drawn sub-pixel from a
//! per-image stream, raster then channel order) and read logits that equal the full pass's (the
//! same operations on the same values, only not on the rows below), so for the same seed the
//! images equal the naive sampler's, up to float rounding of the logits (a draw could only differ
//! when a uniform falls within ~1e-6 of a threshold).

use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Tensor, TensorData};
use genzoo_layers::LstmState;

use crate::error::{Error, Result};
use crate::pixelcnn::outputs_per_subpixel;
use crate::pixelrnn::{PixelRnn, RnnKind};
use crate::sampling::{Autoregressive, SampleOptions, completion_start, draw, image_rng};

/// `n` fresh samples in [0, 1], with each sub-pixel's logits computed from cached LSTM states.
/// Gives the images [`crate::sampling::sample_naive`] gives for the same options.
///
/// # Errors
/// A temperature that is not positive and finite; a Diagonal BiLSTM ([`Error::NoCachedSampler`]).
///
/// # Shapes
/// → `[n, C, H, W]`
pub fn sample_cached(
    model: &PixelRnn,
    n: usize,
    opts: &SampleOptions,
    device: &Device,
) -> Result<Tensor<4>> {
    opts.check()?;
    let [c, h, w] = model.image_shape();
    let image = run_cached(model, vec![0.0; n * c * h * w], n, 0, opts, device)?;
    Ok(Tensor::from_data(
        TensorData::new(image, [n, c, h, w]),
        device,
    ))
}

/// Keeps the first `known` pixels (raster order) of each image and samples the rest, like
/// [`crate::sampling::complete_naive`] (same options, same images).
///
/// # Errors
/// As [`sample_cached`]; images of another shape than the model's; `known > H · W`.
///
/// # Shapes
/// `images: [n, C, H, W]` → `[n, C, H, W]`
pub fn complete_cached(
    model: &PixelRnn,
    images: Tensor<4>,
    known: usize,
    opts: &SampleOptions,
    device: &Device,
) -> Result<Tensor<4>> {
    opts.check()?;
    let (image, n) = completion_start(model.image_shape(), images, known)?;
    let [c, h, w] = model.image_shape();
    let image = run_cached(model, image, n, known, opts, device)?;
    Ok(Tensor::from_data(
        TensorData::new(image, [n, c, h, w]),
        device,
    ))
}

fn run_cached(
    model: &PixelRnn,
    image: Vec<f32>,
    n: usize,
    start: usize,
    opts: &SampleOptions,
    device: &Device,
) -> Result<Vec<f32>> {
    match model.kind() {
        RnnKind::RowLstm => Ok(run_rows(model, image, n, start, opts, device)),
        RnnKind::DiagonalBiLstm => Err(Error::NoCachedSampler("diagonal-bilstm")),
    }
}

/// The upper rows of image `x` (values in [0, 1], host layout `[n, C, H, W]`) that the input
/// convolution reads for row `r`: rows `r − above ..= r`, scaled to `[−1, 1]` as the network
/// sees them, rows above the image zero (the convolution's zero padding).
///
/// # Shapes
/// → `[n, C, above + 1, W]`
fn window(
    x: &[f32],
    [n, c, h, w]: [usize; 4],
    r: usize,
    above: usize,
    device: &Device,
) -> Tensor<4> {
    let rows = above + 1;
    let mut out = vec![0.0f32; n * c * rows * w];
    for plane in 0..n * c {
        for k in 0..rows {
            let Some(y) = (r + k).checked_sub(above) else {
                continue;
            };
            let src = &x[(plane * h + y) * w..(plane * h + y + 1) * w];
            let dst = &mut out[(plane * rows + k) * w..(plane * rows + k + 1) * w];
            for (d, &v) in dst.iter_mut().zip(src) {
                *d = v * 2.0 - 1.0;
            }
        }
    }
    Tensor::from_data(TensorData::new(out, [n, c, rows, w]), device)
}

/// The state of a cached Row LSTM sampling run: the upper half of the input kernel and, per
/// layer, the LSTM state after the last finished row.
pub(crate) struct RowCache<'a> {
    model: &'a PixelRnn,
    /// Kernel rows `0 ..= kh/2` of the masked input weight `[2h, C, kh/2 + 1, kw]`.
    input_weight: Tensor<4>,
    input_bias: Option<Tensor<1>>,
    /// Per layer, `(h, c)` after the last committed row, `[n, h, 1, W]` (zeros before row 0).
    states: Vec<LstmState>,
    /// `[n, C, H, W]`.
    shape: [usize; 4],
    device: Device,
}

impl<'a> RowCache<'a> {
    /// A run of `n` images; no row committed yet.
    pub(crate) fn new(model: &'a PixelRnn, n: usize, device: &Device) -> Self {
        let [c, h, w] = model.image_shape();
        let layer = model.input_layer();
        let [kh, _] = layer.kernel_size();
        let states = model
            .row_layers()
            .iter()
            .map(|l| LstmState::zeros(n, l.hidden(), [1, w], device))
            .collect();
        Self {
            model,
            input_weight: layer.masked_weight().narrow(2, 0, kh / 2 + 1),
            input_bias: layer.bias(),
            states,
            shape: [n, c, h, w],
            device: device.clone(),
        }
    }

    /// Logits of row `r` of image `x` (host `[n, C, H, W]`, values in [0, 1]) and each layer's
    /// state after row `r`, from the committed states of row `r − 1`. Reads only rows `≤ r` of `x`.
    ///
    /// # Shapes
    /// → `[n, C, outs, 1, W]`, states `[n, h, 1, W]`
    pub(crate) fn row(&self, x: &[f32], r: usize) -> (Tensor<5>, Vec<LstmState>) {
        let [kh, kw] = self.model.input_layer().kernel_size();
        let rows = window(x, self.shape, r, kh / 2, &self.device); // [n, C, kh/2 + 1, W]
        let options = ConvOptions::new_with_padding([1, 1], [(0, 0), (kw / 2, kw / 2)], [1, 1], 1);
        let mut y = conv2d(
            rows,
            self.input_weight.clone(),
            self.input_bias.clone(),
            options,
        ); // [n, 2h, 1, W]
        let mut states = Vec::with_capacity(self.states.len());
        for (layer, state) in self.model.row_layers().iter().zip(&self.states) {
            let (out, next) = layer.forward_row(y, state);
            y = out;
            states.push(next);
        }
        (self.model.head_logits(y), states)
    }

    /// Keeps `states` (from [`RowCache::row`] on a finished row) for the next row.
    pub(crate) fn commit(&mut self, states: Vec<LstmState>) {
        self.states = states;
    }
}

fn run_rows(
    model: &PixelRnn,
    mut image: Vec<f32>,
    n: usize,
    start: usize,
    opts: &SampleOptions,
    device: &Device,
) -> Vec<f32> {
    let [c, h, w] = model.image_shape();
    let levels = model.levels();
    let outs = outputs_per_subpixel(levels);
    let mut cache = RowCache::new(model, n, device);
    let mut rngs: Vec<_> = (0..n).map(|b| image_rng(opts.seed, b)).collect();
    for r in 0..h {
        for x in 0..w {
            if r * w + x < start {
                continue; // a known pixel
            }
            for ch in 0..c {
                let (logits, _) = cache.row(&image, r);
                let logits: Vec<f32> = logits
                    .slice([0..n, ch..ch + 1, 0..outs, 0..1, x..x + 1])
                    .into_data()
                    .convert::<f32>()
                    .try_to_vec::<f32>()
                    .unwrap_or_default();
                for (b, rng) in rngs.iter_mut().enumerate() {
                    let u = rng.uniform_f64();
                    image[((b * c + ch) * h + r) * w + x] = draw(
                        &logits[b * outs..(b + 1) * outs],
                        levels,
                        opts.temperature,
                        u,
                    );
                }
            }
        }
        if r + 1 < h {
            let (_, states) = cache.row(&image, r);
            cache.commit(states);
        }
    }
    image
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PixelRnnConfig;
    use crate::sampling::{complete_naive, sample_naive};
    use burn::tensor::Distribution;

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .expect("f32")
    }

    fn row_lstm(channels: usize, levels: usize) -> PixelRnnConfig {
        PixelRnnConfig::new(RnnKind::RowLstm)
            .with_channels(channels)
            .with_image_size(6)
            .with_hidden(if channels == 3 { 6 } else { 8 })
            .with_layers(2)
            .with_first_kernel(5)
            .with_head_hidden(24)
            .with_levels(levels)
    }

    /// Independent of sampling and of causality: on a whole random image, the cached pass over
    /// rows `0, 1, …` (each from the states committed after the row above) gives the full forward
    /// pass's logits at every row, for grayscale and RGB models, a `1×5` row kernel and a 7×7
    /// input kernel taller than the image's first rows.
    #[test]
    fn cached_row_logits_equal_the_full_forward_pass() {
        let device = Device::flex();
        for (config, n) in [
            (row_lstm(1, 2), 3),
            (row_lstm(3, 4), 2),
            (row_lstm(1, 5).with_row_kernel(5).with_first_kernel(7), 2),
        ] {
            let model = config.init(&device);
            let [c, h, w] = model.image_shape();
            let x = Tensor::<4>::random([n, c, h, w], Distribution::Uniform(0.0, 1.0), &device);
            let full = model.forward(x.clone()); // [n, C, outs, H, W]
            let xv = values(x);
            let mut cache = RowCache::new(&model, n, &device);
            let mut worst = 0.0f32;
            for r in 0..h {
                let (logits, states) = cache.row(&xv, r);
                cache.commit(states);
                let want = values(full.clone().narrow(3, r, 1));
                let got = values(logits);
                assert_eq!(got.len(), want.len());
                for (g, e) in got.iter().zip(&want) {
                    worst = worst.max((g - e).abs() / (1.0 + e.abs()));
                }
            }
            assert!(
                worst < 1e-5,
                "{config:?}: worst relative difference {worst}"
            );
        }
    }

    /// The rows above `r` matter through the committed states: committing wrong states (the
    /// states of an all-zero image) changes the logits of the next rows.
    #[test]
    fn row_logits_depend_on_the_committed_states() {
        let device = Device::flex();
        let model = row_lstm(1, 2).init(&device);
        let x = Tensor::<4>::random([2, 1, 6, 6], Distribution::Bernoulli(0.5), &device);
        let full = model.forward(x.clone());
        let xv = values(x);
        let zeros = vec![0.0; xv.len()];
        let mut cache = RowCache::new(&model, 2, &device);
        for r in 0..5 {
            let (_, states) = cache.row(&zeros, r);
            cache.commit(states);
        }
        // Row 5 only reads image rows 3..=5 directly (5×5 input kernel): the rest comes from the
        // states, which here describe another image.
        let (logits, _) = cache.row(&xv, 5);
        let want = values(full.narrow(3, 5, 1));
        let moved = values(logits)
            .iter()
            .zip(&want)
            .map(|(g, e)| (g - e).abs())
            .fold(0.0f32, f32::max);
        assert!(moved > 1e-3, "stale states left row 5 unchanged ({moved})");
    }

    #[test]
    fn cached_row_lstm_samples_equal_naive_samples() {
        let device = Device::flex();
        for (channels, levels, t, seed) in [
            (1, 2, 1.0, 42),
            (1, 2, 0.6, 7),
            (3, 4, 1.0, 3),
            (1, 5, 0.7, 11),
        ] {
            let model = row_lstm(channels, levels).init(&device);
            let opts = SampleOptions::new(seed).with_temperature(t);
            let naive = values(sample_naive(&model, 4, &opts, &device).expect("naive"));
            let cached = values(sample_cached(&model, 4, &opts, &device).expect("cached"));
            assert_eq!(
                naive, cached,
                "{channels} channels, {levels} levels, T = {t}, seed {seed}"
            );
            // Another seed gives other images (the test above is not vacuous).
            let other = SampleOptions::new(seed + 1).with_temperature(t);
            let other = values(sample_cached(&model, 4, &other, &device).expect("cached"));
            assert_ne!(cached, other);
        }
    }

    #[test]
    fn cached_row_lstm_completion_equals_naive_and_keeps_the_known_pixels() {
        let device = Device::flex();
        let model = row_lstm(3, 4).init(&device);
        let x = Tensor::<4>::random([3, 3, 6, 6], Distribution::Uniform(0.0, 1.0), &device);
        let x = (x * 3.0).round() / 3.0;
        let opts = SampleOptions::new(9).with_temperature(0.8);
        for known in [15, 18] {
            // Two and a half rows; exactly three rows.
            let naive =
                values(complete_naive(&model, x.clone(), known, &opts, &device).expect("naive"));
            let cached =
                values(complete_cached(&model, x.clone(), known, &opts, &device).expect("cached"));
            assert_eq!(naive, cached, "known = {known}");
            let xv = values(x.clone());
            for plane in 0..9 {
                let r = plane * 36..plane * 36 + known;
                assert_eq!(&cached[r.clone()], &xv[r]);
            }
        }
    }

    #[test]
    fn bad_requests_are_errors() {
        let device = Device::flex();
        let model = row_lstm(1, 2).init(&device);
        let bad_t = SampleOptions::new(1).with_temperature(f64::NAN);
        assert!(matches!(
            sample_cached(&model, 1, &bad_t, &device),
            Err(Error::Temperature(_))
        ));
        let opts = SampleOptions::new(1);
        let x = Tensor::<4>::zeros([1, 1, 5, 5], &device);
        assert!(matches!(
            complete_cached(&model, x, 3, &opts, &device),
            Err(Error::Shape { .. })
        ));
        let x = Tensor::<4>::zeros([1, 1, 6, 6], &device);
        assert!(matches!(
            complete_cached(&model, x, 37, &opts, &device),
            Err(Error::Known { .. })
        ));
    }
}
