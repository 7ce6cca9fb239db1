//! Masked 2-D convolution — van den Oord et al. 2016, "Pixel Recurrent Neural Networks",
//! arXiv:1601.06759, §3.4 (masks A and B, channel groups for R, G, B).
//!
//! An autoregressive image model orders the sub-pixels in raster order (rows top to bottom,
//! pixels left to right) and, within a pixel, by colour: R, then G, then B. A convolution keeps
//! that order if its kernel is zeroed at every position after the centre, and at the centre
//! according to the **mask type**:
//! - **A** (first layer only): output group `g` sees input groups `< g` of the centre pixel, so the
//!   output never sees the sub-pixel it predicts;
//! - **B** (every later layer): output group `g` sees input groups `≤ g`, so a feature may carry
//!   information about its own position forward, which layer A already stripped of the value.
//!
//! The feature channels of each layer are split into `color_groups` contiguous blocks (1 for
//! grayscale, 3 for RGB); channel `j` of `C` belongs to group `⌊j · groups / C⌋`, so any channel
//! count works, divisible or not.
//!
//! The mask is a constant tensor multiplied into the weight in the forward pass; the weights
//! themselves are never mutated, and autodiff gives masked entries a zero gradient.

use burn::config::Config;
use burn::module::Module;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Tensor, TensorData};

/// Which centre connections a masked convolution keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum MaskType {
    /// The centre is seen only from strictly earlier channel groups (first layer).
    A,
    /// The centre is seen from earlier groups and the same group (later layers).
    B,
}

/// The channel group of channel `j` among `channels` channels split into `groups` contiguous
/// blocks: `⌊j · groups / channels⌋`.
pub fn channel_group(j: usize, channels: usize, groups: usize) -> usize {
    j * groups / channels.max(1)
}

/// The 0/1 mask of a causal convolution, laid out like burn's conv weight
/// `[c_out, c_in, kh, kw]` and flattened row-major.
///
/// Kernel positions before the centre (raster order) are 1, positions after it 0; at the centre,
/// output group `go` keeps input group `gi` when `gi < go` (mask A) or `gi ≤ go` (mask B).
///
/// # Panics
/// If a kernel side is even (there would be no centre) or `groups` is 0.
pub fn causal_mask(
    channels: [usize; 2],
    kernel: [usize; 2],
    mask_type: MaskType,
    groups: usize,
) -> Vec<f32> {
    let [c_in, c_out] = channels;
    let [kh, kw] = kernel;
    assert!(
        kh % 2 == 1 && kw % 2 == 1,
        "a masked convolution needs odd kernel sides (it has a centre), got {kh}×{kw}"
    );
    assert!(groups > 0, "color_groups must be at least 1");
    let (cy, cx) = (kh / 2, kw / 2);
    let mut mask = Vec::with_capacity(c_out * c_in * kh * kw);
    for o in 0..c_out {
        let go = channel_group(o, c_out, groups);
        for i in 0..c_in {
            let gi = channel_group(i, c_in, groups);
            let centre = match mask_type {
                MaskType::A => gi < go,
                MaskType::B => gi <= go,
            };
            for y in 0..kh {
                for x in 0..kw {
                    let keep = if (y, x) < (cy, cx) {
                        true
                    } else if (y, x) == (cy, cx) {
                        centre
                    } else {
                        false
                    };
                    mask.push(if keep { 1.0 } else { 0.0 });
                }
            }
        }
    }
    mask
}

/// Configuration of [`MaskedConv2d`]: stride 1, "same" zero padding, odd kernel sides.
#[derive(Config, Debug, PartialEq)]
pub struct MaskedConv2dConfig {
    /// `[in, out]` channels.
    pub channels: [usize; 2],
    /// `[height, width]` of the kernel, both odd.
    pub kernel_size: [usize; 2],
    /// Mask A (first layer) or B (later layers).
    pub mask_type: MaskType,
    /// Channel groups of the colour order: 1 for grayscale, 3 for RGB.
    #[config(default = 1)]
    pub color_groups: usize,
    /// Whether the convolution has a bias.
    #[config(default = true)]
    pub bias: bool,
}

impl MaskedConv2dConfig {
    /// Builds the layer on `device`.
    ///
    /// # Panics
    /// If a kernel side is even or `color_groups` is 0 (see [`causal_mask`]).
    pub fn init(&self, device: &Device) -> MaskedConv2d {
        let [kh, kw] = self.kernel_size;
        let [c_in, c_out] = self.channels;
        let values = causal_mask(
            self.channels,
            self.kernel_size,
            self.mask_type,
            self.color_groups,
        );
        let conv = Conv2dConfig::new(self.channels, self.kernel_size)
            .with_padding(PaddingConfig2d::Explicit(kh / 2, kw / 2, kh / 2, kw / 2))
            .with_bias(self.bias)
            .init(device);
        // The kernel positions the mask keeps for at least one (output, input) channel pair.
        let taps = (0..kh * kw)
            .filter(|&t| (0..c_out * c_in).any(|pair| values[pair * kh * kw + t] != 0.0))
            .collect();
        MaskedConv2d {
            conv,
            mask: Tensor::from_data(TensorData::new(values, [c_out, c_in, kh, kw]), device),
            kernel_size: self.kernel_size,
            taps,
        }
    }
}

/// A convolution whose kernel is multiplied by a constant causal mask in every forward pass.
#[derive(Module, Debug)]
pub struct MaskedConv2d {
    /// The underlying convolution; its `weight` holds all entries, masked or not.
    pub conv: Conv2d,
    /// The constant 0/1 mask `[c_out, c_in, kh, kw]` (not a parameter; not saved).
    mask: Tensor<4>,
    kernel_size: [usize; 2],
    /// Row-major kernel positions `ky · kw + kx` that the mask keeps (for any channel pair), in
    /// order: the only taps [`MaskedConv2d::forward`] computes.
    #[module(skip)]
    taps: Vec<usize>,
}

impl MaskedConv2d {
    /// The weight actually used: `weight ⊙ mask`.
    pub fn masked_weight(&self) -> Tensor<4> {
        self.conv.weight.val() * self.mask.clone()
    }

    /// The constant mask.
    pub fn mask(&self) -> Tensor<4> {
        self.mask.clone()
    }

    /// The bias, if any.
    pub fn bias(&self) -> Option<Tensor<1>> {
        self.conv.bias.as_ref().map(|b| b.val())
    }

    /// `[height, width]` of the kernel.
    pub fn kernel_size(&self) -> [usize; 2] {
        self.kernel_size
    }

    /// Applies the masked convolution.
    ///
    /// Computed as one matrix product over the kernel positions the mask keeps (5 of 9 for a
    /// 3×3 mask-B kernel, 24 of 49 for a 7×7 mask-A one, the input itself for 1×1): the input is
    /// shifted once per kept position, the shifts are stacked along the channels, and the masked
    /// weight of those positions multiplies them. This skips the masked half of the work and, on
    /// burn's CPU backends, also avoids the slow weight-gradient path of `conv2d` for small
    /// outputs (`docs/performance.md`). [`MaskedConv2d::forward_conv2d`] is the reference.
    ///
    /// # Shapes
    /// `x: [B, c_in, H, W]` → `[B, c_out, H, W]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        Self::forward_stacked(&[self], x)
    }

    /// Applies several masked convolutions of the same shape and mask to the same input as one
    /// (their output channels concatenated in order): one matrix product instead of one per
    /// convolution — the two gates of a Gated PixelCNN layer, for instance.
    ///
    /// # Panics
    /// If `convs` is empty or the convolutions differ in input channels, kernel or kept taps.
    ///
    /// # Shapes
    /// `x: [B, c_in, H, W]` → `[B, Σ c_out, H, W]`
    pub fn forward_stacked(convs: &[&MaskedConv2d], x: Tensor<4>) -> Tensor<4> {
        let first = convs.first().expect("forward_stacked needs a convolution");
        let [_, c_in, _, _] = x.dims();
        let [kh, kw] = first.kernel_size;
        for conv in convs {
            let [_, ci, _, _] = conv.mask.dims();
            assert!(
                ci == c_in && conv.kernel_size == first.kernel_size && conv.taps == first.taps,
                "forward_stacked: the convolutions must share input channels, kernel and taps"
            );
        }
        let weight = if convs.len() == 1 {
            first.masked_weight()
        } else {
            Tensor::cat(convs.iter().map(|c| c.masked_weight()).collect(), 0)
        };
        let bias = if convs.iter().all(|c| c.conv.bias.is_some()) {
            let biases: Vec<Tensor<1>> = convs.iter().filter_map(|c| c.bias()).collect();
            Some(if biases.len() == 1 {
                biases.into_iter().next().expect("one bias")
            } else {
                Tensor::cat(biases, 0)
            })
        } else {
            assert!(
                convs.iter().all(|c| c.conv.bias.is_none()),
                "forward_stacked: either all or none of the convolutions have a bias"
            );
            None
        };
        let (ph, pw) = (kh / 2, kw / 2);
        crate::route::conv2d_taps(x, weight, bias, [(ph, ph), (pw, pw)], &first.taps)
    }

    /// The same convolution through burn's `conv2d` over the whole (masked) kernel: the
    /// reference [`MaskedConv2d::forward`] is tested against.
    ///
    /// # Shapes
    /// `x: [B, c_in, H, W]` → `[B, c_out, H, W]`
    pub fn forward_conv2d(&self, x: Tensor<4>) -> Tensor<4> {
        let [kh, kw] = self.kernel_size;
        let options =
            ConvOptions::new_with_padding([1, 1], [(kh / 2, kh / 2), (kw / 2, kw / 2)], [1, 1], 1);
        conv2d(x, self.masked_weight(), self.bias(), options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{assert_close, assert_outputs_close, values};
    use burn::module::Param;
    use burn::tensor::Distribution;
    use proptest::prelude::*;

    fn device() -> Device {
        Device::flex()
    }

    #[test]
    fn mask_a_and_b_on_a_3x3_grayscale_kernel() {
        let a = causal_mask([1, 1], [3, 3], MaskType::A, 1);
        assert_eq!(a, vec![1., 1., 1., 1., 0., 0., 0., 0., 0.]);
        let b = causal_mask([1, 1], [3, 3], MaskType::B, 1);
        assert_eq!(b, vec![1., 1., 1., 1., 1., 0., 0., 0., 0.]);
        // A 1×3 kernel (the Row LSTM input-to-state shape): left neighbour (and centre for B).
        assert_eq!(
            causal_mask([1, 1], [1, 3], MaskType::A, 1),
            vec![1., 0., 0.]
        );
    }

    #[test]
    fn rgb_centre_masks_follow_the_pixelrnn_paper() {
        // 1×1 kernels: only the centre, so the mask is the channel-group matrix [out][in].
        let a = causal_mask([3, 3], [1, 1], MaskType::A, 3);
        assert_eq!(a, vec![0., 0., 0., 1., 0., 0., 1., 1., 0.]); // R: -, G: R, B: R G
        let b = causal_mask([3, 3], [1, 1], MaskType::B, 3);
        assert_eq!(b, vec![1., 0., 0., 1., 1., 0., 1., 1., 1.]);
        // Six hidden channels, two per group: output channel 2 (group G) sees inputs 0..=3.
        let b6 = causal_mask([6, 6], [1, 1], MaskType::B, 3);
        assert_eq!(&b6[12..18], &[1., 1., 1., 1., 0., 0.]);
        // 128 channels over 3 groups: contiguous blocks of sizes 43, 43, 42.
        let groups: Vec<usize> = (0..128).map(|j| channel_group(j, 128, 3)).collect();
        assert_eq!(groups.iter().filter(|&&g| g == 0).count(), 43);
        assert_eq!(groups.iter().filter(|&&g| g == 2).count(), 42);
        assert!(groups.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn forward_matches_a_hand_computation() {
        let device = device();
        let mut conv = MaskedConv2dConfig::new([1, 1], [3, 3], MaskType::A)
            .with_bias(false)
            .init(&device);
        // All-ones weight: the mask-A output is the sum of the four causal neighbours.
        conv.conv.weight = Param::from_tensor(Tensor::ones([1, 1, 3, 3], &device));
        let x: Vec<f32> = (1..=9).map(|v| v as f32).collect();
        let x = Tensor::<4>::from_data(TensorData::new(x, [1, 1, 3, 3]), &device);
        // Image  1 2 3 / 4 5 6 / 7 8 9; at (1,1): 1+2+3+4 = 10; at (0,0): nothing before = 0;
        // at (2,2): 5+6 (row above, x = 1..2; x = 3 is padding) + 8 = 19; at (1,0): 1+2 = 3.
        let y = values(conv.forward(x));
        assert_eq!(y[4], 10.0);
        assert_eq!(y[0], 0.0);
        assert_eq!(y[8], 19.0);
        assert_eq!(y[3], 3.0);
    }

    #[test]
    fn masked_weights_get_zero_gradient_and_are_never_mutated() {
        let device = device().autodiff();
        let conv = MaskedConv2dConfig::new([2, 3], [3, 3], MaskType::A)
            .with_color_groups(1)
            .init(&device);
        let before = values(conv.conv.weight.val().inner());
        let x = Tensor::<4>::random([2, 2, 5, 5], Distribution::Normal(0.0, 1.0), &device);
        let grads = conv.forward(x).sum().backward();
        let grad = values(conv.conv.weight.grad(&grads).expect("weight gradient"));
        let mask = causal_mask([2, 3], [3, 3], MaskType::A, 1);
        for (g, m) in grad.iter().zip(&mask) {
            if *m == 0.0 {
                assert_eq!(*g, 0.0, "a masked entry got gradient {g}");
            }
        }
        assert!(grad.iter().zip(&mask).any(|(g, m)| *m == 1.0 && *g != 0.0));
        assert_eq!(before, values(conv.conv.weight.val().inner()));
    }

    #[test]
    fn the_tap_path_equals_conv2d_in_value_and_gradients() {
        let device = device().autodiff();
        // (channels, kernel, mask, colour groups, bias, image [H, W])
        let cases = [
            ([1, 8], [7, 7], MaskType::A, 1, true, [9, 7]),
            ([6, 6], [3, 3], MaskType::B, 3, true, [5, 6]),
            ([6, 9], [3, 3], MaskType::A, 3, false, [4, 4]),
            ([5, 4], [1, 1], MaskType::B, 1, true, [3, 5]),
            ([6, 3], [1, 1], MaskType::A, 3, true, [4, 3]),
            ([2, 3], [1, 1], MaskType::A, 1, true, [2, 2]),
            ([4, 4], [1, 3], MaskType::B, 1, false, [3, 6]),
            ([3, 5], [5, 5], MaskType::B, 1, true, [2, 3]),
        ];
        for (channels, kernel, mask, groups, bias, [h, w]) in cases {
            let what = format!("{channels:?} {kernel:?} {mask:?} groups {groups}");
            let conv = MaskedConv2dConfig::new(channels, kernel, mask)
                .with_color_groups(groups)
                .with_bias(bias)
                .init(&device);
            let x = Tensor::<4>::random(
                [2, channels[0], h, w],
                Distribution::Normal(0.0, 1.0),
                &device,
            )
            .require_grad();
            // A random cotangent, so every output position weighs differently.
            let r = Tensor::<4>::random(
                [2, channels[1], h, w],
                Distribution::Normal(0.0, 1.0),
                &device,
            );
            let mut out = Vec::new();
            for tap_path in [true, false] {
                let y = if tap_path {
                    conv.forward(x.clone())
                } else {
                    conv.forward_conv2d(x.clone())
                };
                let grads = (y.clone() * r.clone()).sum().backward();
                // A mask that keeps nothing leaves the weight out of the tap path's graph:
                // its gradient is then zero, as conv2d's is.
                let dw = conv.conv.weight.grad(&grads).map_or_else(
                    || vec![0.0; channels[0] * channels[1] * kernel[0] * kernel[1]],
                    values,
                );
                let db = conv
                    .conv
                    .bias
                    .as_ref()
                    .map(|b| values(b.grad(&grads).expect("db")));
                let dx = x
                    .grad(&grads)
                    .map_or_else(|| vec![0.0; 2 * channels[0] * h * w], values);
                out.push((values(y.inner()), dw, db, dx));
            }
            assert_outputs_close(&out[0], &out[1], &what);
        }
    }

    #[test]
    fn only_the_kept_taps_are_computed() {
        let device = device();
        let taps = |k, mask, groups| {
            MaskedConv2dConfig::new([3, 3], [k, k], mask)
                .with_color_groups(groups)
                .init(&device)
                .taps
        };
        assert_eq!(taps(3, MaskType::B, 1), [0, 1, 2, 3, 4]);
        assert_eq!(taps(3, MaskType::A, 1), [0, 1, 2, 3]);
        // With colour groups the mask-A centre still connects G to R and B to R, G.
        assert_eq!(taps(3, MaskType::A, 3), [0, 1, 2, 3, 4]);
        assert_eq!(taps(7, MaskType::A, 1).len(), 24);
        assert_eq!(taps(1, MaskType::B, 1), [0]);
    }

    #[test]
    fn stacked_convolutions_equal_the_separate_ones() {
        let device = device();
        for (bias, groups) in [(true, 1), (false, 3)] {
            let make = |c_out| {
                MaskedConv2dConfig::new([3, c_out], [1, 3], MaskType::B)
                    .with_color_groups(groups)
                    .with_bias(bias)
                    .init(&device)
            };
            let (a, b) = (make(6), make(3));
            let x = Tensor::<4>::random([2, 3, 4, 5], Distribution::Normal(0.0, 1.0), &device);
            let stacked = MaskedConv2d::forward_stacked(&[&a, &b], x.clone());
            let separate = Tensor::cat(vec![a.forward(x.clone()), b.forward(x)], 1);
            assert_eq!(stacked.dims(), [2, 9, 4, 5]);
            assert_close(&values(stacked), &values(separate), "stacked");
        }
    }

    /// Position of sub-pixel group `g` of pixel `p` in the autoregressive order.
    fn key(pixel: usize, group: usize, groups: usize) -> usize {
        pixel * groups + group
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        /// Changing inputs at order position ≥ i never changes outputs the mask hides from them:
        /// outputs at positions ≤ i (mask A) or < i (mask B).
        #[test]
        fn masked_conv_is_causal(
            c_in in 1usize..5,
            c_out in 1usize..7,
            k in prop::sample::select(vec![1usize, 3, 5]),
            kw in prop::sample::select(vec![1usize, 3, 5]),
            rgb in any::<bool>(),
            type_a in any::<bool>(),
            h in 2usize..6,
            w in 2usize..6,
            seed in any::<u64>(),
            frac in 0.0f64..1.0,
        ) {
            let device = device();
            let groups = if rgb { 3 } else { 1 };
            let mask_type = if type_a { MaskType::A } else { MaskType::B };
            let conv = MaskedConv2dConfig::new([c_in, c_out], [k, kw], mask_type)
                .with_color_groups(groups)
                .init(&device);
            let i = ((h * w * groups) as f64 * frac) as usize;
            let mut rng = seed | 1;
            let mut next = || {
                rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
                (rng >> 40) as f32 / (1u64 << 24) as f32 - 0.5
            };
            let x: Vec<f32> = (0..c_in * h * w).map(|_| next()).collect();
            let mut x2 = x.clone();
            for j in 0..c_in {
                for p in 0..h * w {
                    if key(p, channel_group(j, c_in, groups), groups) >= i {
                        x2[j * h * w + p] += 1.0 + next();
                    }
                }
            }
            let run = |v: Vec<f32>| values(conv.forward(
                Tensor::<4>::from_data(TensorData::new(v, [1, c_in, h, w]), &device)));
            let (y, y2) = (run(x), run(x2));
            for o in 0..c_out {
                for p in 0..h * w {
                    let kout = key(p, channel_group(o, c_out, groups), groups);
                    let hidden = match mask_type { MaskType::A => kout <= i, MaskType::B => kout < i };
                    if hidden {
                        let (a, b) = (y[o * h * w + p], y2[o * h * w + p]);
                        prop_assert!((a - b).abs() <= 1e-6,
                            "output channel {o} pixel {p} changed ({a} vs {b}) by inputs at ≥ {i}");
                    }
                }
            }
        }
    }
}
