//! Gated PixelCNN — van den Oord et al. 2016, "Conditional Image Generation with PixelCNN
//! Decoders", arXiv:1606.05328 (3.03 bits/dim on CIFAR-10, Table 1).
//!
//! Two stacks remove PixelCNN's blind spot (the pixels up and to the right that stacked 3×3
//! masks never reach):
//! - the **vertical stack** sees every pixel of the rows above, through a `(k/2 + 1) × k`
//!   convolution padded so its output at row `y` covers rows `y − k/2 ..= y`; it feeds the
//!   horizontal stack only after a shift down by one row, so row `y` receives rows `< y`;
//! - the **horizontal stack** sees the pixels to the left in the current row, through a `1 × k`
//!   masked convolution (mask A in the first layer, B after), plus the vertical stack's features.
//!
//! Each layer gates: `tanh(W_f ∗ x + V_f c) ⊙ σ(W_g ∗ x + V_g c)`, where `c` is the one-hot class
//! (class-conditional models) added to both gates of both stacks. The horizontal stack has a
//! 1×1 output projection and a residual connection (after the first layer). On RGB data the
//! horizontal stack's channels are split into colour groups like every masked layer in
//! [`genzoo_layers::masked`]; the vertical stack needs no channel mask as it never sees the
//! current row.

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Int, Tensor};
use genzoo_layers::fused::gated_tanh;
use genzoo_layers::{MaskType, MaskedConv2d, MaskedConv2dConfig};

use crate::Autoregressive;
use crate::common::{impl_config, masked_convs};
use crate::pixelcnn::{PixelCnn, log_prob_from_logits, outputs_per_subpixel};
use crate::sampling::impl_autoregressive;

/// Configuration of [`GatedPixelCnn`].
#[derive(Config, Debug, PartialEq)]
pub struct GatedPixelCnnConfig {
    /// Image channels: 1 or 3.
    #[config(default = 1)]
    pub channels: usize,
    /// Image height and width.
    #[config(default = 28)]
    pub image_size: usize,
    /// Feature channels of both stacks (`p` in the paper).
    #[config(default = 64)]
    pub hidden: usize,
    /// Gated layers, the first included.
    #[config(default = 10)]
    pub layers: usize,
    /// Kernel side of the first layer (odd).
    #[config(default = 7)]
    pub first_kernel: usize,
    /// Kernel side of the later layers (odd).
    #[config(default = 3)]
    pub kernel: usize,
    /// Channels of the hidden 1×1 output layer.
    #[config(default = 128)]
    pub head_hidden: usize,
    /// Values a sub-pixel takes: 2 = binary (Bernoulli logit), 256 = 8-bit (softmax).
    #[config(default = 2)]
    pub levels: usize,
    /// Classes to condition on; 0 = unconditional.
    #[config(default = 0)]
    pub classes: usize,
}

impl GatedPixelCnnConfig {
    /// Binarized MNIST, unconditional: 10 gated layers of 64 channels, 7×7 then 3×3.
    pub fn mnist() -> Self {
        Self::new()
    }

    /// Binarized MNIST conditioned on the digit class.
    pub fn mnist_conditional() -> Self {
        Self::new().with_classes(10)
    }

    /// CIFAR-10 after the paper's (15 layers; fewer channels than its 384), 256-way softmax.
    pub fn cifar10() -> Self {
        Self::new()
            .with_channels(3)
            .with_image_size(32)
            .with_hidden(128)
            .with_layers(15)
            .with_head_hidden(1024)
            .with_levels(256)
    }

    /// Builds the model with fresh weights on `device`.
    ///
    /// # Panics
    /// If [`GatedPixelCnnConfig::check`] fails.
    pub fn init(&self, device: &Device) -> GatedPixelCnn {
        self.assert_valid();
        let (p, groups) = (self.hidden, self.channels);
        let conv = masked_convs(groups, device);
        let layers = (0..self.layers)
            .map(|i| {
                let (c_in, k, mask) = if i == 0 {
                    (self.channels, self.first_kernel, MaskType::A)
                } else {
                    (p, self.kernel, MaskType::B)
                };
                let vconv = || {
                    Conv2dConfig::new([c_in, p], [k / 2 + 1, k])
                        .with_padding(PaddingConfig2d::Explicit(k / 2, k / 2, 0, k / 2))
                        .init(device)
                };
                let hconv = || {
                    MaskedConv2dConfig::new([c_in, p], [1, k], mask)
                        .with_color_groups(groups)
                        .init(device)
                };
                let link = || Conv2dConfig::new([2 * p, p], [1, 1]).init(device);
                GatedLayer {
                    v_f: vconv(),
                    v_g: vconv(),
                    h_f: hconv(),
                    h_g: hconv(),
                    link_f: link(),
                    link_g: link(),
                    h_out: conv(p, p, 1, MaskType::B),
                    cond: (self.classes > 0).then(|| {
                        LinearConfig::new(self.classes, 4 * p)
                            .with_bias(false)
                            .init(device)
                    }),
                    residual: i > 0,
                    hidden: p,
                }
            })
            .collect();
        let logits = self.channels * outputs_per_subpixel(self.levels);
        GatedPixelCnn {
            layers,
            head: conv(p, self.head_hidden, 1, MaskType::B),
            out: conv(self.head_hidden, logits, 1, MaskType::B),
            channels: self.channels,
            image_size: self.image_size,
            levels: self.levels,
            classes: self.classes,
        }
    }
}

impl_config!(GatedPixelCnnConfig, kernel: kernel, positive: [layers], per_group: 1);

/// Moves a feature map down by one row (zeros enter at the top), so row `y` holds row `y − 1`.
///
/// # Shapes
/// `x: [B, C, H, W]` → `[B, C, H, W]`
pub fn shift_down(x: Tensor<4>) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    let zeros = Tensor::<4>::zeros([b, c, 1, w], &x.device());
    Tensor::cat(vec![zeros, x.slice([0..b, 0..c, 0..h - 1, 0..w])], 2)
}

/// One gated layer with a vertical and a horizontal stack.
#[derive(Module, Debug)]
pub struct GatedLayer {
    pub(crate) v_f: Conv2d,
    pub(crate) v_g: Conv2d,
    pub(crate) h_f: MaskedConv2d,
    pub(crate) h_g: MaskedConv2d,
    pub(crate) link_f: Conv2d,
    pub(crate) link_g: Conv2d,
    pub(crate) h_out: MaskedConv2d,
    pub(crate) cond: Option<Linear>,
    pub(crate) residual: bool,
    pub(crate) hidden: usize,
}

impl GatedLayer {
    /// # Shapes
    /// `v, h: [B, c_in, H, W]`, `cond: [B, classes]` → `([B, p, H, W], [B, p, H, W])`
    pub fn forward(
        &self,
        v: Tensor<4>,
        h: Tensor<4>,
        cond: Option<Tensor<2>>,
    ) -> (Tensor<4>, Tensor<4>) {
        let p = self.hidden;
        // Each gate pair (f, g) is one convolution to 2p channels: the weights of the pair are
        // concatenated, so every stack costs one matrix product instead of two.
        let vfg = pair_conv2d(&self.v_f, &self.v_g, v); // [B, 2p, H, W]
        let down = shift_down(vfg.clone());
        let links = pair_conv2d(&self.link_f, &self.link_g, down);
        let mut hfg = MaskedConv2d::forward_stacked(&[&self.h_f, &self.h_g], h.clone()) + links;
        let mut vfg = vfg;
        if let (Some(lin), Some(c)) = (&self.cond, cond) {
            let e = lin.forward(c); // [B, 4p]: the terms of v_f, v_g, h_f, h_g in order
            let [b, _] = e.dims();
            vfg = vfg + e.clone().narrow(1, 0, 2 * p).reshape([b, 2 * p, 1, 1]);
            hfg = hfg + e.narrow(1, 2 * p, 2 * p).reshape([b, 2 * p, 1, 1]);
        }
        // tanh(f) ⊙ σ(g) on the stacked pairs, one pass each way (`genzoo_layers::fused`).
        let v_out = gated_tanh(vfg);
        let gated = self.h_out.forward(gated_tanh(hfg));
        let h_out = if self.residual { h + gated } else { gated };
        (v_out, h_out)
    }
}

/// `cat([a(x), b(x)], 1)` as one convolution over the concatenated weights
/// ([`genzoo_layers::conv2d_stacked`]).
fn pair_conv2d(a: &Conv2d, b: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    genzoo_layers::conv2d_stacked(&[a, b], x)
}

/// Gated PixelCNN with vertical and horizontal stacks, optionally class-conditional.
#[derive(Module, Debug)]
pub struct GatedPixelCnn {
    pub(crate) layers: Vec<GatedLayer>,
    pub(crate) head: MaskedConv2d,
    pub(crate) out: MaskedConv2d,
    pub(crate) channels: usize,
    pub(crate) image_size: usize,
    pub(crate) levels: usize,
    pub(crate) classes: usize,
}

impl GatedPixelCnn {
    /// Classes the model is conditioned on (0: unconditional).
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// One-hot labels `[B, classes]`, or `None` for an unconditional model (labels ignored).
    pub(crate) fn condition(
        &self,
        labels: Option<Tensor<1, Int>>,
        batch: usize,
        device: &Device,
    ) -> Option<Tensor<2>> {
        if self.classes == 0 {
            return None;
        }
        let labels = labels.unwrap_or_else(|| Tensor::zeros([batch], device));
        Some(labels.one_hot(self.classes).float())
    }

    /// Logits of every conditional, given class labels for a conditional model.
    ///
    /// # Shapes
    /// `x: [B, C, H, W]`, `labels: [B]` → `[B, C, outs, H, W]`
    pub fn forward(&self, x: Tensor<4>, labels: Option<Tensor<1, Int>>) -> Tensor<5> {
        let [b, _, h, w] = x.dims();
        let cond = self.condition(labels, b, &x.device());
        let x = PixelCnn::preprocess(x);
        let (mut v, mut hs) = (x.clone(), x);
        for layer in &self.layers {
            (v, hs) = layer.forward(v, hs, cond.clone());
        }
        let y = self.head.forward(relu(hs));
        let y = self.out.forward(relu(y)); // [B, C·outs, H, W]
        y.reshape([b, self.channels, outputs_per_subpixel(self.levels), h, w])
    }

    /// Exact `log p(x | label)` per image in nats.
    ///
    /// # Shapes
    /// `x: [B, C, H, W]`, `labels: [B]` → `[B]`
    pub fn log_prob(&self, x: Tensor<4>, labels: Option<Tensor<1, Int>>) -> Tensor<1> {
        let logits = self.forward(x.clone(), labels);
        log_prob_from_logits(logits, x, self.levels)
    }

    /// Mean NLL per image in nats.
    pub fn loss(&self, x: Tensor<4>, labels: Option<Tensor<1, Int>>) -> Tensor<1> {
        self.log_prob(x, labels).mean().neg()
    }

    /// The model with its labels fixed, for the samplers of [`crate::sampling`].
    /// Labels must be below [`GatedPixelCnn::classes`] (ignored when unconditional).
    pub fn conditioned(&self, labels: &[usize], device: &Device) -> crate::Result<Conditioned<'_>> {
        if let Some(&label) = labels.iter().find(|&&l| l >= self.classes.max(1)) {
            return Err(crate::Error::Label {
                label,
                classes: self.classes,
            });
        }
        let ints: Vec<i64> = labels.iter().map(|&l| l as i64).collect();
        let labels = Tensor::<1, Int>::from_data(
            burn::tensor::TensorData::new(ints, [labels.len()]),
            device,
        );
        Ok(Conditioned {
            model: self,
            labels,
        })
    }
}

impl_autoregressive!(GatedPixelCnn, |model, x| model.forward(x, None));

/// A [`GatedPixelCnn`] with one fixed label per image of the batch being sampled.
pub struct Conditioned<'a> {
    pub(crate) model: &'a GatedPixelCnn,
    pub(crate) labels: Tensor<1, Int>,
}

impl Autoregressive for Conditioned<'_> {
    fn image_shape(&self) -> [usize; 3] {
        self.model.image_shape()
    }

    fn levels(&self) -> usize {
        self.model.levels
    }

    fn logits(&self, x: Tensor<4>) -> Tensor<5> {
        self.model.forward(x, Some(self.labels.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PixelCnnConfig;
    use crate::sampling::{SampleOptions, sample_naive};
    use crate::test_util::{causal_case, causal_moves, values};
    use burn::tensor::{Distribution, TensorData};
    use proptest::prelude::*;

    fn tiny(channels: usize, size: usize, levels: usize, classes: usize) -> GatedPixelCnnConfig {
        GatedPixelCnnConfig::new()
            .with_channels(channels)
            .with_image_size(size)
            .with_hidden(6)
            .with_layers(5)
            .with_first_kernel(3)
            .with_kernel(3)
            .with_head_hidden(6)
            .with_levels(levels)
            .with_classes(classes)
    }

    /// Which input pixels the logit of pixel `(py, px)` depends on: |∂ logit / ∂ x| > 0.
    fn receptive_field(
        logits: impl Fn(Tensor<4>) -> Tensor<5>,
        size: usize,
        py: usize,
        px: usize,
    ) -> Vec<bool> {
        let device = Device::flex().autodiff();
        let x = Tensor::<4>::random([1, 1, size, size], Distribution::Uniform(0.0, 1.0), &device)
            .require_grad();
        let out = logits(x.clone())
            .slice([0..1, 0..1, 0..1, py..py + 1, px..px + 1])
            .sum();
        let grads = out.backward();
        let g = values(x.grad(&grads).expect("input gradient"));
        g.iter().map(|v| v.abs() > 0.0).collect()
    }

    /// Plain PixelCNN with 3×3 masks never sees the pixel two to the right in the row above
    /// (its blind spot); the gated stacks see every earlier pixel in range and no later one.
    #[test]
    fn gated_stacks_have_no_blind_spot_while_pixelcnn_has_one() {
        let device = Device::flex().autodiff();
        let (size, py, px) = (7, 4, 3);
        // Over three random models and inputs: one draw can give a reachable pixel an exactly
        // zero gradient (every small ReLU head unit inactive there); an unreachable pixel is zero
        // in every draw.
        let union =
            |a: &mut Vec<bool>, b: Vec<bool>| a.iter_mut().zip(b).for_each(|(a, b)| *a |= b);
        let (mut seen_plain, mut seen) = (vec![false; size * size], vec![false; size * size]);
        for _ in 0..3 {
            let plain = PixelCnnConfig::new()
                .with_image_size(size)
                .with_hidden(8)
                .with_residual_blocks(4)
                .with_head_hidden(8)
                .with_first_kernel(3)
                .init(&device);
            union(
                &mut seen_plain,
                receptive_field(|x| plain.forward(x), size, py, px),
            );
            let gated = tiny(1, size, 2, 0).init(&device);
            union(
                &mut seen,
                receptive_field(|x| gated.forward(x, None), size, py, px),
            );
        }
        let blind = (py - 1) * size + px + 2;
        assert!(!seen_plain[blind], "PixelCNN should be blind to (3, 5)");
        assert!(seen_plain[(py - 1) * size + px + 1]);
        let p = py * size + px;
        for (q, s) in seen.iter().enumerate() {
            assert_eq!(
                *s,
                q < p,
                "gated PixelCNN: pixel {q} seen = {s} for output pixel {p}"
            );
        }
    }

    #[test]
    fn conditional_log_prob_depends_on_the_label_and_sums_to_one() {
        let device = Device::flex();
        let model = tiny(1, 2, 2, 3).init(&device);
        // All 16 binary 2×2 images, for each of the 3 classes.
        let mut xs = Vec::new();
        for code in 0..16u32 {
            xs.extend((0..4).map(|i| ((code >> i) & 1) as f32));
        }
        let x = Tensor::<4>::from_data(TensorData::new(xs, [16, 1, 2, 2]), &device);
        let mut per_class = Vec::new();
        for label in 0..3i64 {
            let labels =
                Tensor::<1, Int>::from_data(TensorData::new(vec![label; 16], [16]), &device);
            let lp = values(model.log_prob(x.clone(), Some(labels)));
            let total: f64 = lp.iter().map(|&l| f64::from(l).exp()).sum();
            assert!((total - 1.0).abs() < 1e-4, "class {label}: Σ p = {total}");
            per_class.push(lp);
        }
        assert_ne!(per_class[0], per_class[1]);
        assert!(model.conditioned(&[0, 3], &device).is_err());
        let cond = model
            .conditioned(&[0, 1, 2], &device)
            .expect("labels in range");
        let s = sample_naive(&cond, 3, &SampleOptions::new(1), &device).expect("samples");
        assert_eq!(s.dims(), [3, 1, 2, 2]);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(10))]

        /// Changing sub-pixels at order position ≥ i never changes the logits of sub-pixels ≤ i.
        #[test]
        fn gated_pixelcnn_is_causal(case in causal_case(2..5)) {
            let device = Device::flex();
            let [c, size] = case.shape;
            let model = tiny(c, size, 4, 2).init(&device);
            let labels = Tensor::<1, Int>::from_data(TensorData::new(vec![1i64], [1]), &device);
            let m = causal_moves(|x| model.forward(x, Some(labels.clone())), case, &device);
            prop_assert!(m.early.is_none(),
                "logit (channel, pixel, before, after) {:?} moved when inputs ≥ {} changed",
                m.early, m.i);
        }
    }
}
