//! Fast cached sampling of PixelCNN — Ramachandran et al. 2017, "Fast Generation for
//! Convolutional Autoregressive Models", arXiv:1704.06001.
//!
//! Naive sampling recomputes the whole network for every sub-pixel although one new value can
//! change little. Here every layer's output at position `p` is computed exactly once, when `p`
//! is reached: with causal masks a layer's output at `p` depends only on its input at positions
//! `≤ p` of its kernel window, and those are final by then. So each step evaluates every layer
//! at one position, and a whole image costs about one forward pass. Only the inputs of the
//! wide (non-1×1) layers are cached as full maps: the image itself (for the 7×7 mask-A layer) and
//! the `h`-channel map inside each residual block (for its 3×3 mask-B layer); the residual stream
//! and the 1×1 layers are needed at the current position only.
//!
//! On RGB data the stack at position `p` is evaluated once per colour channel, after each draw,
//! because the G and B conditionals see the R (and G) value of their own pixel.
//!
//! The draws follow the protocol of [`crate::sampling`] (one uniform per drawn sub-pixel from a
//! per-image stream), so for the same seed the images equal the naive sampler's, up to float
//! rounding of logits (a draw can only differ when a uniform falls within ~1e-6 of a threshold).
//! The arithmetic runs on the host in `f32`: per step the work is a few hundred small
//! matrix-vector products, too small for a device kernel launch to pay off.

use burn::tensor::{Device, Tensor};
use genzoo_layers::MaskedConv2d;

use crate::error::Result;
use crate::pixelcnn::PixelCnn;
use crate::sampling::{
    Autoregressive, CachedSampler, SampleOptions, Start, Stepper, host_f32, run,
};
pub use crate::sampling::{complete_cached, sample_cached};

/// A masked convolution as host weights: one `[c_in][c_out]` matrix per kernel tap that the mask
/// does not zero entirely (taps after the centre never survive).
pub(crate) struct HostConv {
    pub(crate) c_in: usize,
    pub(crate) c_out: usize,
    /// `(dy, dx, weights [c_in · c_out])`, offsets relative to the output position.
    taps: Vec<(isize, isize, Vec<f32>)>,
    bias: Vec<f32>,
}

impl HostConv {
    pub(crate) fn new(layer: &MaskedConv2d) -> Self {
        let w = layer.masked_weight();
        let [_, _, kh, kw] = w.dims();
        Self::from_parts(w, layer.bias(), [kh / 2, kw / 2])
    }

    /// A convolution of weights `w [c_out, c_in, kh, kw]` whose output at `(y, x)` reads the input
    /// at `(y + ky − anchor[0], x + kx − anchor[1])` (zero outside the image).
    pub(crate) fn from_parts(w: Tensor<4>, bias: Option<Tensor<1>>, anchor: [usize; 2]) -> Self {
        let [c_out, c_in, kh, kw] = w.dims();
        let w = host_f32(w).unwrap_or_default();
        let mut taps = Vec::new();
        for ky in 0..kh {
            for kx in 0..kw {
                let mut m = vec![0.0f32; c_in * c_out];
                for o in 0..c_out {
                    for i in 0..c_in {
                        m[i * c_out + o] = w[((o * c_in + i) * kh + ky) * kw + kx];
                    }
                }
                if m.iter().any(|&v| v != 0.0) {
                    let dy = ky as isize - anchor[0] as isize;
                    let dx = kx as isize - anchor[1] as isize;
                    taps.push((dy, dx, m));
                }
            }
        }
        let bias = match bias {
            Some(b) => host_f32(b).unwrap_or_default(),
            None => vec![0.0; c_out],
        };
        Self {
            c_in,
            c_out,
            taps,
            bias,
        }
    }

    /// Output at `(y, x)` for all `n` images into `out [n · c_out]`, reading the input map
    /// `map [H · W][n][c_in]`, with ReLU applied to the input if `relu`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn at(
        &self,
        map: &[f32],
        hw: [usize; 2],
        y: usize,
        x: usize,
        n: usize,
        relu: bool,
        out: &mut [f32],
    ) {
        let [h, w] = hw;
        for b in 0..n {
            out[b * self.c_out..(b + 1) * self.c_out].copy_from_slice(&self.bias);
        }
        for (dy, dx, m) in &self.taps {
            let (yy, xx) = (y as isize + dy, x as isize + dx);
            if yy < 0 || xx < 0 || yy >= h as isize || xx >= w as isize {
                continue; // zero padding
            }
            let pos = yy as usize * w + xx as usize;
            let base = pos * n * self.c_in;
            self.accumulate(&map[base..base + n * self.c_in], n, relu, m, out);
        }
    }

    /// A 1×1 layer (centre tap only) applied to `input [n · c_in]`, into `out [n · c_out]`.
    pub(crate) fn local(&self, input: &[f32], n: usize, relu: bool, out: &mut [f32]) {
        for b in 0..n {
            out[b * self.c_out..(b + 1) * self.c_out].copy_from_slice(&self.bias);
        }
        for (_, _, m) in &self.taps {
            self.accumulate(input, n, relu, m, out);
        }
    }

    fn accumulate(&self, input: &[f32], n: usize, relu: bool, m: &[f32], out: &mut [f32]) {
        for b in 0..n {
            let row = &mut out[b * self.c_out..(b + 1) * self.c_out];
            for i in 0..self.c_in {
                let mut v = input[b * self.c_in + i];
                if relu {
                    v = v.max(0.0);
                }
                if v == 0.0 {
                    continue;
                }
                let col = &m[i * self.c_out..(i + 1) * self.c_out];
                for (r, &wv) in row.iter_mut().zip(col) {
                    *r += v * wv;
                }
            }
        }
    }
}

/// The two 1×1 output layers every pixel model ends in, as host weights.
pub(crate) struct HostHead {
    head: HostConv,
    out: HostConv,
}

impl HostHead {
    pub(crate) fn new([head, out]: [&MaskedConv2d; 2]) -> Self {
        Self {
            head: HostConv::new(head),
            out: HostConv::new(out),
        }
    }

    /// The logits `[n][C · outs]` of one position from the features `y [n · c_in]` there.
    pub(crate) fn logits(&self, y: &[f32], n: usize) -> Vec<f32> {
        let mut hd = vec![0.0; n * self.head.c_out];
        self.head.local(y, n, true, &mut hd);
        let mut logits = vec![0.0; n * self.out.c_out];
        self.out.local(&hd, n, true, &mut logits);
        logits
    }
}

/// A network as host layers, evaluated position by position in raster order on the preprocessed
/// image (see [`Preprocessed`]).
pub(crate) trait HostStack {
    /// Evaluates the network at pixel `p` of `x` (`[H · W][n][C]`), keeping what later positions
    /// read of it, and returns the logits `[n][C · outs]` of that pixel.
    fn step(&mut self, x: &[f32], p: usize) -> Vec<f32>;
    /// Every pixel of row `r` of `x` is final.
    fn finish_row(&mut self, _x: &[f32], _r: usize) {}
}

/// A [`HostStack`] with its input: the image as the network sees it
/// ([`PixelCnn::preprocess_value`]), `[H · W][n][C]`, each sub-pixel copied in once it is final.
pub(crate) struct Preprocessed<S> {
    stack: S,
    x: Vec<f32>,
    /// `[n, C, H, W]`.
    shape: [usize; 4],
}

impl<S> Preprocessed<S> {
    pub(crate) fn new(stack: S, n: usize, [c, h, w]: [usize; 3]) -> Self {
        Self {
            stack,
            x: vec![0.0; h * w * n * c],
            shape: [n, c, h, w],
        }
    }

    /// Copies sub-pixel `ch` of pixel `p` of every image in `image` (host `[n, C, H, W]`).
    fn set(&mut self, image: &[f32], p: usize, ch: usize) {
        let [n, c, h, w] = self.shape;
        for b in 0..n {
            let v = image[(b * c + ch) * h * w + p];
            self.x[(p * n + b) * c + ch] = PixelCnn::preprocess_value(v);
        }
    }
}

impl<S: HostStack> Stepper for Preprocessed<S> {
    fn logits(&mut self, _image: &[f32], p: usize) -> Vec<f32> {
        self.stack.step(&self.x, p)
    }

    /// A known pixel: evaluate the network there once to fill the caches.
    fn known(&mut self, image: &[f32], p: usize) {
        for ch in 0..self.shape[1] {
            self.set(image, p, ch);
        }
        self.stack.step(&self.x, p);
    }

    fn drawn(&mut self, image: &[f32], p: usize, ch: usize) {
        self.set(image, p, ch);
    }

    fn finish_row(&mut self, _image: &[f32], r: usize) {
        self.stack.finish_row(&self.x, r);
    }
}

struct HostBlock {
    down: HostConv,
    conv: HostConv,
    up: HostConv,
}

/// The state of a cached sampling run: host weights and the cached maps.
struct Cache {
    input: HostConv,
    blocks: Vec<HostBlock>,
    head: HostHead,
    n: usize,
    hw: [usize; 2],
    /// Per block, its down-projection output `[H · W][n][h]`.
    inner: Vec<Vec<f32>>,
}

impl Cache {
    fn new(model: &PixelCnn, n: usize) -> Self {
        let [_, h, w] = model.image_shape();
        let blocks: Vec<HostBlock> = model
            .blocks()
            .iter()
            .map(|b| {
                let [down, conv, up] = b.layers();
                HostBlock {
                    down: HostConv::new(down),
                    conv: HostConv::new(conv),
                    up: HostConv::new(up),
                }
            })
            .collect();
        let inner = blocks
            .iter()
            .map(|b| vec![0.0; h * w * n * b.down.c_out])
            .collect();
        Self {
            input: HostConv::new(model.input_layer()),
            blocks,
            head: HostHead::new(model.head_layers()),
            n,
            hw: [h, w],
            inner,
        }
    }
}

impl HostStack for Cache {
    /// Evaluates the whole stack at pixel `p`, filling the block caches there.
    fn step(&mut self, image: &[f32], p: usize) -> Vec<f32> {
        let (n, [_, w]) = (self.n, self.hw);
        let (y, x) = (p / w, p % w);
        let mut a = vec![0.0; n * self.input.c_out];
        self.input.at(image, self.hw, y, x, n, false, &mut a);
        for (block, inner) in self.blocks.iter().zip(self.inner.iter_mut()) {
            let ch = block.down.c_out;
            let mut d = vec![0.0; n * ch];
            block.down.local(&a, n, true, &mut d);
            inner[p * n * ch..(p + 1) * n * ch].copy_from_slice(&d);
            let mut cv = vec![0.0; n * block.conv.c_out];
            block.conv.at(inner, self.hw, y, x, n, true, &mut cv);
            let mut up = vec![0.0; n * block.up.c_out];
            block.up.local(&cv, n, true, &mut up);
            for (av, uv) in a.iter_mut().zip(&up) {
                *av += uv;
            }
        }
        self.head.logits(&a, n)
    }
}

/// Each layer evaluated once per position (per channel on RGB).
impl CachedSampler for PixelCnn {
    fn sample(&self, start: Start, opts: &SampleOptions, device: &Device) -> Result<Tensor<4>> {
        run(self, start, None, opts, device, |n| {
            Preprocessed::new(Cache::new(self, n), n, self.image_shape())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PixelCnnConfig;
    use crate::sampling::{complete_naive, sample_naive};
    use crate::test_util::values;
    use burn::tensor::Distribution;

    fn config(channels: usize, levels: usize) -> PixelCnnConfig {
        PixelCnnConfig::new()
            .with_channels(channels)
            .with_image_size(6)
            .with_hidden(16)
            .with_residual_blocks(2)
            .with_head_hidden(12)
            .with_first_kernel(5)
            .with_levels(levels)
    }

    #[test]
    fn cached_samples_equal_naive_samples() {
        let device = Device::flex();
        for (channels, levels, t) in [(1, 2, 1.0), (3, 4, 1.0), (1, 5, 0.7)] {
            let model = config(channels, levels).init(&device);
            let opts = SampleOptions::new(42).with_temperature(t);
            let naive = values(sample_naive(&model, 5, &opts, &device).expect("naive"));
            let cached = values(sample_cached(&model, 5, &opts, &device).expect("cached"));
            assert_eq!(
                naive, cached,
                "{channels} channels, {levels} levels, T = {t}"
            );
            // Different seeds give different images (the test above is not vacuous).
            let other =
                values(sample_cached(&model, 5, &SampleOptions::new(43), &device).expect("cached"));
            assert_ne!(cached, other);
        }
    }

    #[test]
    fn cached_completion_equals_naive_and_keeps_the_known_pixels() {
        let device = Device::flex();
        let model = config(3, 4).init(&device);
        let x = Tensor::<4>::random([3, 3, 6, 6], Distribution::Uniform(0.0, 1.0), &device);
        let x = (x * 3.0).round() / 3.0;
        let opts = SampleOptions::new(9);
        let known = 15; // two and a half rows
        let naive =
            values(complete_naive(&model, x.clone(), known, &opts, &device).expect("naive"));
        let cached =
            values(complete_cached(&model, x.clone(), known, &opts, &device).expect("cached"));
        assert_eq!(naive, cached);
        let xv = values(x);
        for plane in 0..9 {
            let r = plane * 36..plane * 36 + known;
            assert_eq!(&cached[r.clone()], &xv[r]);
        }
    }

    #[test]
    fn bad_requests_are_errors() {
        let device = Device::flex();
        let model = config(1, 2).init(&device);
        let bad_t = SampleOptions::new(1).with_temperature(0.0);
        assert!(sample_cached(&model, 1, &bad_t, &device).is_err());
        let x = Tensor::<4>::zeros([1, 1, 5, 5], &device);
        let opts = SampleOptions::new(1);
        assert!(matches!(
            complete_cached(&model, x, 3, &opts, &device),
            Err(crate::Error::Shape { .. })
        ));
        let x = Tensor::<4>::zeros([1, 1, 6, 6], &device);
        assert!(matches!(
            complete_cached(&model, x, 37, &opts, &device),
            Err(crate::Error::Known { .. })
        ));
    }
}
