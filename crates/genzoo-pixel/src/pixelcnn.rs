//! PixelCNN — van den Oord et al. 2016, "Pixel Recurrent Neural Networks", arXiv:1601.06759
//! (§3.4 and Table 1 give the architecture; 81.30 nats on binarized MNIST, Table 4).
//!
//! The image is a sequence of sub-pixels in raster order, R before G before B within a pixel, and
//! `p(x) = Π_i p(x_i | x_<i)`. A stack of masked convolutions computes every conditional in one
//! pass: a 7×7 mask-A convolution to `2h` channels, residual blocks
//! `[ReLU → 1×1 (2h→h) → ReLU → 3×3 mask B (h→h) → ReLU → 1×1 (h→2h), + skip]`, then
//! `ReLU → 1×1 mask B → ReLU → 1×1 mask B` to the output: one Bernoulli logit per sub-pixel for
//! binarized data (`levels = 2`), or a `levels`-way softmax per sub-pixel (256 for 8-bit images).
//! On RGB data every layer's channels are split in three colour groups (see
//! [`genzoo_layers::masked`]), so the 1×1 layers are masked too.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::activation::relu;
use burn::tensor::{Device, Int, Tensor};
use genzoo_layers::{MaskType, MaskedConv2d};
use genzoo_metrics::likelihood::{bernoulli_log_prob, log_softmax};

use crate::common::{impl_config, impl_likelihood, masked_convs};
use crate::sampling::impl_autoregressive;

/// Configuration of [`PixelCnn`].
#[derive(Config, Debug, PartialEq)]
pub struct PixelCnnConfig {
    /// Image channels: 1 (grayscale) or 3 (RGB, modelled R → G → B).
    #[config(default = 1)]
    pub channels: usize,
    /// Image height and width.
    #[config(default = 28)]
    pub image_size: usize,
    /// Channels of the residual stream (`2h` in the paper).
    #[config(default = 128)]
    pub hidden: usize,
    /// Number of residual blocks.
    #[config(default = 7)]
    pub residual_blocks: usize,
    /// Side of the first, mask-A convolution.
    #[config(default = 7)]
    pub first_kernel: usize,
    /// Side of the mask-B convolution inside each residual block.
    #[config(default = 3)]
    pub block_kernel: usize,
    /// Channels of the hidden 1×1 output layer.
    #[config(default = 128)]
    pub head_hidden: usize,
    /// Values a sub-pixel takes: 2 = binary (one Bernoulli logit), 256 = 8-bit (softmax).
    #[config(default = 2)]
    pub levels: usize,
}

impl PixelCnnConfig {
    /// The reference preset for binarized MNIST: 7×7 mask A to 128 channels, 7 residual
    /// blocks 128→64→64→128, 1×1 mask-B head 128→128, one Bernoulli logit per pixel.
    pub fn mnist() -> Self {
        Self::new()
    }

    /// A CIFAR-10 preset after the paper's (h = 128, 15 residual layers, 1024 output features),
    /// 256-way softmax per colour channel.
    pub fn cifar10() -> Self {
        Self::new()
            .with_channels(3)
            .with_image_size(32)
            .with_hidden(256)
            .with_residual_blocks(15)
            .with_head_hidden(1024)
            .with_levels(256)
    }

    /// Builds the model with fresh weights on `device`.
    ///
    /// # Panics
    /// If [`PixelCnnConfig::check`] fails.
    pub fn init(&self, device: &Device) -> PixelCnn {
        self.assert_valid();
        let conv = masked_convs(self.channels, device);
        let h2 = self.hidden;
        let h = (h2 / 2).max(self.channels);
        let logits = self.channels * outputs_per_subpixel(self.levels);
        PixelCnn {
            input: conv(self.channels, h2, self.first_kernel, MaskType::A),
            blocks: (0..self.residual_blocks)
                .map(|_| ResidualBlock {
                    down: conv(h2, h, 1, MaskType::B),
                    conv: conv(h, h, self.block_kernel, MaskType::B),
                    up: conv(h, h2, 1, MaskType::B),
                })
                .collect(),
            head: conv(h2, self.head_hidden, 1, MaskType::B),
            out: conv(self.head_hidden, logits, 1, MaskType::B),
            channels: self.channels,
            image_size: self.image_size,
            levels: self.levels,
        }
    }
}

impl_config!(PixelCnnConfig, kernel: block_kernel, positive: [], per_group: 2);

/// Logits per sub-pixel: 1 for a Bernoulli, `levels` for a softmax.
pub fn outputs_per_subpixel(levels: usize) -> usize {
    if levels == 2 { 1 } else { levels }
}

/// One residual block: `x + up(relu(conv(relu(down(relu(x))))))`.
#[derive(Module, Debug)]
pub struct ResidualBlock {
    down: MaskedConv2d,
    conv: MaskedConv2d,
    up: MaskedConv2d,
}

impl ResidualBlock {
    /// # Shapes
    /// `x: [B, 2h, H, W]` → `[B, 2h, H, W]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let y = self.down.forward(relu(x.clone())); // [B, h, H, W]
        let y = self.conv.forward(relu(y)); // [B, h, H, W]
        x + self.up.forward(relu(y))
    }

    /// The three convolutions, in order.
    pub fn layers(&self) -> [&MaskedConv2d; 3] {
        [&self.down, &self.conv, &self.up]
    }
}

/// PixelCNN: masked convolutions giving every conditional `p(x_i | x_<i)` in one pass.
#[derive(Module, Debug)]
pub struct PixelCnn {
    input: MaskedConv2d,
    blocks: Vec<ResidualBlock>,
    head: MaskedConv2d,
    out: MaskedConv2d,
    channels: usize,
    image_size: usize,
    levels: usize,
}

/// The loss of one batch.
#[derive(Debug, Clone)]
pub struct PixelCnnOutput {
    /// Mean negative log-likelihood per image in nats (scalar, differentiable).
    pub loss: Tensor<1>,
}

impl PixelCnn {
    /// The first (mask-A) layer.
    pub fn input_layer(&self) -> &MaskedConv2d {
        &self.input
    }

    /// The residual blocks.
    pub fn blocks(&self) -> &[ResidualBlock] {
        &self.blocks
    }

    /// The two output layers (hidden 1×1, then logits).
    pub fn head_layers(&self) -> [&MaskedConv2d; 2] {
        [&self.head, &self.out]
    }

    /// What the network sees of an image: values in [0, 1] mapped to [-1, 1].
    pub fn preprocess(x: Tensor<4>) -> Tensor<4> {
        x * 2.0 - 1.0
    }

    /// [`PixelCnn::preprocess`] of one value (the cached sampler's host copy of the image).
    pub fn preprocess_value(v: f32) -> f32 {
        v * 2.0 - 1.0
    }

    /// Logits of every conditional.
    ///
    /// # Shapes
    /// `x: [B, C, H, W]` with values `k / (levels − 1)` → `[B, C, outs, H, W]`, `outs` = 1
    /// (Bernoulli logit) or `levels`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<5> {
        let [b, _, h, w] = x.dims();
        let mut y = self.input.forward(Self::preprocess(x)); // [B, 2h, H, W]
        for block in &self.blocks {
            y = block.forward(y);
        }
        let y = self.head.forward(relu(y)); // [B, head_hidden, H, W]
        let y = self.out.forward(relu(y)); // [B, C·outs, H, W]
        y.reshape([b, self.channels, outputs_per_subpixel(self.levels), h, w])
    }
}

impl_likelihood!(PixelCnn, PixelCnnOutput);

/// `log p(x)` per image from the logits of every conditional (shared by all pixel models).
///
/// # Shapes
/// `logits: [B, C, outs, H, W]`, `x: [B, C, H, W]` → `[B]`
pub fn log_prob_from_logits(logits: Tensor<5>, x: Tensor<4>, levels: usize) -> Tensor<1> {
    let [b, c, outs, h, w] = logits.dims();
    let per_subpixel = if levels == 2 {
        bernoulli_log_prob(logits.reshape([b, c, h, w]), x)
    } else {
        let target: Tensor<4, Int> = (x * (levels - 1) as f32).round().int();
        let target = target.clamp(0, outs as i64 - 1).reshape([b, c, 1, h, w]);
        log_softmax(logits, 2)
            .gather(2, target)
            .reshape([b, c, h, w])
    };
    per_subpixel.sum_dims(&[1, 2, 3]).reshape([b])
}

impl_autoregressive!(PixelCnn, |model, x| model.forward(x));

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{assert_normalised, causal_case, causal_moves, values};
    use burn::tensor::{Distribution, TensorData};
    use proptest::prelude::*;

    fn device() -> Device {
        Device::flex()
    }

    fn tiny(channels: usize, size: usize, levels: usize, first_kernel: usize) -> PixelCnnConfig {
        PixelCnnConfig::new()
            .with_channels(channels)
            .with_image_size(size)
            .with_hidden(12)
            .with_residual_blocks(2)
            .with_head_hidden(9)
            .with_first_kernel(first_kernel)
            .with_levels(levels)
    }

    /// A proper distribution sums to 1 over all images; a mask that leaks any sub-pixel into its
    /// own conditional breaks this.
    #[test]
    fn probabilities_of_all_images_sum_to_one() {
        let device = device();
        for (channels, size, levels) in [(1, 2, 2), (1, 2, 3), (3, 1, 3), (3, 2, 2)] {
            let model = tiny(channels, size, levels, 3).init(&device);
            let what = format!("{channels}×{size}×{size}, {levels} levels");
            assert_normalised(
                |x| model.log_prob(x),
                [channels, size],
                levels,
                &device,
                &what,
            );
        }
    }

    /// `log p(x)` from one pass equals the chain rule evaluated one conditional at a time, each
    /// from its own forward pass with every later sub-pixel replaced by noise, in f64.
    #[test]
    fn log_prob_matches_the_chain_rule_one_conditional_at_a_time() {
        let device = device();
        let (c, s, levels) = (3usize, 3usize, 4usize);
        let model = tiny(c, s, levels, 3).init(&device);
        let x = Tensor::<4>::random([2, c, s, s], Distribution::Uniform(0.0, 1.0), &device);
        let x = (x * (levels - 1) as f32).round() / (levels - 1) as f32;
        let xv = values(x.clone());
        let fast = values(model.log_prob(x));
        let mut chain = [0.0f64; 2];
        let mut junk = 0x9E37_79B9_7F4A_7C15u64;
        for p in 0..s * s {
            for ch in 0..c {
                let i = p * c + ch;
                let mut xi = xv.clone();
                for b in 0..2 {
                    for q in 0..s * s {
                        for cc in 0..c {
                            if q * c + cc >= i {
                                junk = junk.wrapping_mul(6364136223846793005).wrapping_add(1);
                                xi[(b * c + cc) * s * s + q] = (junk >> 62) as f32 / 3.0;
                            }
                        }
                    }
                }
                let input = Tensor::<4>::from_data(TensorData::new(xi, [2, c, s, s]), &device);
                let logits = values(model.forward(input)); // [2, c, levels, s, s]
                for (b, acc) in chain.iter_mut().enumerate() {
                    let l: Vec<f64> = (0..levels)
                        .map(|k| f64::from(logits[((b * c + ch) * levels + k) * s * s + p]))
                        .collect();
                    let target = (xv[(b * c + ch) * s * s + p] * 3.0).round() as usize;
                    let lse = l.iter().map(|v| v.exp()).sum::<f64>().ln();
                    *acc += l[target] - lse;
                }
            }
        }
        for b in 0..2 {
            assert!(
                (f64::from(fast[b]) - chain[b]).abs() < 1e-3,
                "image {b}: one pass {} vs chain rule {}",
                fast[b],
                chain[b]
            );
        }
    }

    #[test]
    fn presets_match_the_issue() {
        let m = PixelCnnConfig::mnist();
        assert_eq!(
            (
                m.channels,
                m.hidden,
                m.residual_blocks,
                m.first_kernel,
                m.block_kernel
            ),
            (1, 128, 7, 7, 3)
        );
        assert_eq!((m.head_hidden, m.levels), (128, 2));
        let model = m.init(&device());
        let x = Tensor::<4>::random([2, 1, 28, 28], Distribution::Bernoulli(0.3), &device());
        assert_eq!(model.forward(x.clone()).dims(), [2, 1, 1, 28, 28]);
        // An untrained net is near p = 1/2 per pixel: about 784 ln 2 = 543 nats.
        let nll = -f64::from(model.log_prob(x).mean().into_scalar::<f32>());
        assert!((300.0..900.0).contains(&nll), "untrained NLL {nll}");
        let c = PixelCnnConfig::cifar10();
        assert_eq!((c.channels, c.image_size, c.levels), (3, 32, 256));
        assert!(c.check().is_ok());
        assert!(
            PixelCnnConfig::mnist()
                .with_first_kernel(4)
                .check()
                .is_err()
        );
        assert!(PixelCnnConfig::mnist().with_channels(2).check().is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(12))]

        /// The whole network is causal: changing sub-pixels at order position ≥ i never changes
        /// the logits of any sub-pixel ≤ i.
        #[test]
        fn pixelcnn_is_causal(
            case in causal_case(2..5),
            levels in prop::sample::select(vec![2usize, 4]),
        ) {
            let device = device();
            let [c, size] = case.shape;
            let model = tiny(c, size, levels, 3).init(&device);
            let m = causal_moves(|x| model.forward(x), case, &device);
            prop_assert!(m.early.is_none(),
                "logit (channel, pixel, before, after) {:?} moved when inputs ≥ {} changed",
                m.early, m.i);
        }
    }
}
