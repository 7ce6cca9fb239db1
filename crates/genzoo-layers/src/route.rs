//! Which kernel computes each operation of this crate: decided here, and only here, by device,
//! dtype and shape. Models call their layers' `forward`, [`RoutedForward::forward_routed`] for
//! burn's convolution and linear modules, or the functions below for weights of their own; the
//! layers of this crate ([`crate::MaskedConv2d`], [`crate::ConvLstmCell`]), the element-wise
//! functions of [`crate::fused`], [`crate::norm::batch_norm`] and [`crate::adam`] ask the
//! predicates below.
//!
//! The kernels:
//! - **Flex custom operations** with hand-written backward passes ([`crate::conv_ops`],
//!   [`crate::fused`], [`crate::norm`], [`crate::adam`]): only for `f32` tensors on a Flex device,
//!   with or without autodiff;
//! - **GEMM compositions** of burn's tensor ops ([`crate::conv`]), on any backend;
//! - **burn's own ops**: everything else.
//!
//! Each rule's numbers name how they were measured, on this project's CPU machine (forward +
//! backward): `conv_paths` is `cargo run --release --example conv_paths -p genzoo-layers`
//! (per-layer timings), `bench` is `genzoo bench --only MODEL` with and without the rule, in
//! alternated rounds, `perf` a `perf record` of `genzoo train MODEL` (`docs/performance.md`
//! keeps the tables and commits).

use burn::nn::Linear;
use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::tensor::Tensor;
use burn::tensor::module;
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};

use crate::conv::{self, add_bias, conv2d_options};
use crate::conv_ops;

// ---------------------------------------------------------------------------------------------
// Device and dtype.

/// Whether the Flex custom operations can take these tensors: all `f32` on a Flex device (with
/// or without autodiff). Never without the `flex` feature.
pub(crate) fn flex<const D: usize>(tensors: &[&Tensor<D>]) -> bool {
    #[cfg(feature = "flex")]
    {
        crate::flex::applies(tensors)
    }
    #[cfg(not(feature = "flex"))]
    {
        let _ = tensors;
        false
    }
}

/// Whether these tensors live on a GPU: a CubeCL device (wgpu or CUDA), with or without autodiff.
/// Never without the `wgpu` or `cuda` feature.
pub(crate) fn gpu<const D: usize>(tensors: &[&Tensor<D>]) -> bool {
    #[cfg(any(feature = "wgpu", feature = "cuda"))]
    {
        use burn::backend::DispatchDevice;
        tensors.iter().all(|t| {
            matches!(
                t.device().as_dispatch().clone().inner(),
                DispatchDevice::Cube(_)
            )
        })
    }
    #[cfg(not(any(feature = "wgpu", feature = "cuda")))]
    {
        let _ = tensors;
        false
    }
}

// ---------------------------------------------------------------------------------------------
// Element-wise functions, BatchNorm, Adam: the Flex kernel for `f32` on Flex, burn's ops else.

/// LeakyReLU's Flex kernel keeps its output for the backward pass, which gives the sign of the
/// input only for a positive slope; other slopes take burn's op.
pub(crate) fn leaky_relu<const D: usize>(x: &Tensor<D>, slope: f64) -> bool {
    slope > 0.0 && slope.is_finite() && flex(&[x])
}

/// The Bernoulli log-likelihood's kernel takes equal shapes only (burn's ops broadcast).
pub(crate) fn bernoulli_log_prob<const D: usize>(logits: &Tensor<D>, target: &Tensor<D>) -> bool {
    logits.dims() == target.dims() && flex(&[logits, target])
}

/// BatchNorm's kernel is its training pass (autodiff device, training mode); inference is
/// burn's module.
pub(crate) fn batch_norm<const D: usize>(bn: &burn::nn::BatchNorm, x: &Tensor<D>) -> bool {
    D >= 2
        && x.device().is_autodiff()
        && bn.training.is_enabled()
        && flex(&[x])
        && flex(&[&bn.gamma.val(), &bn.beta.val()])
}

/// One Adam update takes the Flex kernel when parameter, gradient and moments are all `f32` on
/// Flex, of one shape, and the state holds no AMSGrad maximum (a state loaded from burn's
/// AMSGrad).
pub(crate) fn adam<const D: usize>(
    tensor: &Tensor<D>,
    grad: &Tensor<D>,
    state: Option<&burn::optim::AdamState<D>>,
) -> bool {
    flex(&[tensor, grad])
        && tensor.dims() == grad.dims()
        && state.is_none_or(|s| {
            let m = &s.momentum;
            m.max_moment_2.is_none()
                && m.moment_1.dims() == grad.dims()
                && m.moment_2.dims() == grad.dims()
                && flex(&[&m.moment_1, &m.moment_2])
        })
}

// ---------------------------------------------------------------------------------------------
// Convolutions and linear layers.

/// Input channels from which a stride-1 layer is folded ([`crate::phase`]) rather than given a
/// column matrix ([`crate::im2col`]): folded, each tap is one product with `k = C`, thin for few
/// channels, while the column matrix is `kh·kw` times the input (6× for the Gated PixelCNN's 2×3
/// vertical stack over 64 channels, where folding measured +11% on `cond-pixelcnn`, `bench`).
const PHASE_MIN_CHANNELS: usize = 32;

/// Whether a Flex convolution over `channels` (the input's; a transposed convolution's output's)
/// is folded: every strided layer (the column matrices are stride 1's; folding single-channel
/// first layers: `vae-conv` +9%, DCGAN's peak memory 144 → 110 MiB, `bench`), and stride-1
/// layers with a kernel larger than 1×1 over [`PHASE_MIN_CHANNELS`] or more; never for an empty
/// output `grid`.
fn folds(channels: usize, kernel: [usize; 2], stride: [usize; 2], grid: [usize; 2]) -> bool {
    let strided = stride[0] > 1 || stride[1] > 1;
    let wide = channels >= PHASE_MIN_CHANNELS && kernel[0] * kernel[1] > 1;
    (strided || wide) && grid[0] > 0 && grid[1] > 0
}

/// No dilation and one group: what every kernel here but burn's supports.
fn plain(dilation: [usize; 2], groups: usize) -> bool {
    dilation == [1, 1] && groups == 1
}

/// A convolution layer's `conv2d` (burn's signature and result). Stride-1 1×1 kernels (a channel
/// mix: burn's weight gradient is a thin product over batch × pixels, 2.2× slower) and
/// single-channel inputs at stride 1 (1.6–2.1×, `conv_paths`; no preset has such a layer) take
/// [`crate::conv`]'s GEMM composition; all others [`conv2d_op`].
///
/// # Shapes
/// `x: [B, C_in, H, W]`, `weight: [C_out, C_in, kh, kw]`, `bias: [C_out]` →
/// `[B, C_out, (H + pads − kh) / s + 1, (W + pads − kw) / s + 1]`
pub fn conv2d(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    options: ConvOptions<2>,
) -> Tensor<4> {
    if takes_gemm(weight.dims(), &options) {
        return conv::conv2d(x, weight, bias, options);
    }
    conv2d_op(x, weight, bias, options)
}

/// [`conv2d`]'s rule for [`crate::conv`]'s GEMM composition.
fn takes_gemm([_, c_in, kh, kw]: [usize; 4], options: &ConvOptions<2>) -> bool {
    plain(options.dilation, options.groups)
        && options.stride == [1, 1]
        && ([kh, kw] == [1, 1] || c_in == 1)
}

/// Several convolutions of one shape over the same input as one (their output channels
/// concatenated in order, each with its bias if all have one): the gate pairs of the Gated
/// PixelCNN. 1×1 kernels and single-channel inputs take the tap product of [`conv2d_taps`] (2.7×
/// and 1.8× faster than burn's `conv2d` for the Gated PixelCNN's links and first vertical
/// convolution, `conv_paths`; `cond-pixelcnn` 0.91× with them through [`conv2d_op`] instead, four
/// alternated rounds of `genzoo bench`); wider kernels [`conv2d_op`] (the phase engine for the 2×3
/// vertical stack over 64 channels).
///
/// # Panics
/// If `convs` is empty or the first pads "same" (which depends on the input size).
///
/// # Shapes
/// `x: [B, C_in, H, W]` → `[B, Σ C_out, H', W']`
pub fn conv2d_stacked(convs: &[&Conv2d], x: Tensor<4>) -> Tensor<4> {
    let first = convs.first().expect("conv2d_stacked needs a convolution");
    let weight = match convs {
        [one] => one.weight.val(),
        _ => Tensor::cat(convs.iter().map(|c| c.weight.val()).collect(), 0),
    };
    let bias = convs
        .iter()
        .map(|c| c.bias.as_ref().map(|b| b.val()))
        .collect::<Option<Vec<_>>>()
        .map(|mut b| {
            if b.len() == 1 {
                b.remove(0)
            } else {
                Tensor::cat(b, 0)
            }
        });
    let options = conv2d_options(first).expect("conv2d_stacked: explicit padding");
    let [_, c_in, kh, kw] = weight.dims();
    if plain(options.dilation, options.groups)
        && options.stride == [1, 1]
        && (kh * kw == 1 || c_in == 1)
    {
        let taps: Vec<usize> = (0..kh * kw).collect();
        conv2d_taps(x, weight, bias, options.padding, &taps)
    } else {
        conv2d_op(x, weight, bias, options)
    }
}

/// Max pooling over 2×2 windows at stride 2, no padding (LeNet's): the Flex kernel of
/// [`crate::conv_ops`] without autodiff (feature extraction: genzoo-LeNet's features 1.5× faster,
/// 0.58 → 0.39 ms an image in alternated runs of `genzoo bench metrics`); burn's `max_pool2d` under
/// autodiff, for its backward, and on other backends.
///
/// # Shapes
/// `x: [B, C, H, W]` → `[B, C, ⌊H/2⌋, ⌊W/2⌋]`
pub fn max_pool2x2(x: Tensor<4>) -> Tensor<4> {
    conv_ops::max_pool2x2(x)
}

/// The convolutions of [`crate::ConvLstmCell`] (input-to-state and state-to-state): always
/// [`conv2d_op`].
pub(crate) fn lstm_conv2d(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    options: ConvOptions<2>,
) -> Tensor<4> {
    conv2d_op(x, weight, bias, options)
}

/// `conv2d` as the Flex operation of [`crate::conv_ops`] (folded or not, [`folds`]) where it
/// applies, burn's op elsewhere and for dilation or groups ≠ 1.
fn conv2d_op(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    options: ConvOptions<2>,
) -> Tensor<4> {
    if plain(options.dilation, options.groups) && flex(&[&x, &weight]) {
        let [_, c_in, h, w] = x.dims();
        let [_, _, kh, kw] = weight.dims();
        let [(pt, pb), (pl, pr)] = options.padding;
        let [sh, sw] = options.stride;
        let grid = [(h + pt + pb - kh) / sh + 1, (w + pl + pr - kw) / sw + 1];
        let fold = folds(c_in, [kh, kw], [sh, sw], grid);
        let y = conv_ops::conv2d(x, weight, [sh, sw, pt, pb, pl, pr], fold);
        return add_bias(y, bias);
    }
    module::conv2d(x, weight, bias, options)
}

/// A transposed-convolution layer's `conv_transpose2d` (burn's signature and result): the Flex
/// operation of [`crate::conv_ops`] where it applies (folded or not, [`folds`], over the output),
/// burn's op elsewhere and for dilation or groups ≠ 1. [`crate::conv`]'s sub-pixel composition
/// measured as fast as burn's op or slower on every decoder layer of the presets (0.3–1.0×,
/// `conv_paths`).
///
/// # Shapes
/// `x: [B, C_in, H, W]`, `weight: [C_in, C_out, kh, kw]`, `bias: [C_out]` →
/// `[B, C_out, (H − 1)·s − 2p + kh + p_out, (W − 1)·s − 2p + kw + p_out]`
pub fn conv_transpose2d(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    options: ConvTransposeOptions<2>,
) -> Tensor<4> {
    if plain(options.dilation, options.groups) && flex(&[&x, &weight]) {
        let [_, _, h, w] = x.dims();
        let [_, c_out, kh, kw] = weight.dims();
        let [sh, sw] = options.stride;
        let [ph, pw] = options.padding;
        let [oph, opw] = options.padding_out;
        let fold = folds(c_out, [kh, kw], [sh, sw], [h, w]);
        let y = conv_ops::conv_transpose2d(x, weight, [sh, sw, ph, pw, oph, opw], fold);
        return add_bias(y, bias);
    }
    module::conv_transpose2d(x, weight, bias, options)
}

/// A stride-1 correlation over some of the kernel's positions (`taps`: indices `u·kw + v`,
/// ascending; see [`crate::conv::conv2d_taps`]): the masked convolutions' product. On Flex, the
/// Flex operation of [`crate::conv_ops`] for kernels whose taps fit in a bit mask; on a GPU, one
/// convolution over the masked kernel ([`crate::conv::conv2d_masked_kernel`]: stacking the taps
/// copies the input once per tap, 5–24 times, which a GPU pays for in memory traffic while its
/// convolution does the masked-out arithmetic cheaply; not yet timed on a GPU); elsewhere (ndarray,
/// and unordered taps on Flex), [`crate::conv::conv2d_taps`]'s composition of burn's ops, the
/// tested reference.
///
/// # Panics
/// If a tap is outside the kernel or the padded input is smaller than the kernel.
///
/// # Shapes
/// as [`crate::conv::conv2d_taps`]
pub fn conv2d_taps(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    padding: [(usize, usize); 2],
    taps: &[usize],
) -> Tensor<4> {
    let [c_out, c_in, kh, kw] = weight.dims();
    if !taps.is_empty()
        && kh * kw <= usize::BITS as usize
        && taps.windows(2).all(|p| p[0] < p[1])
        && flex(&[&x, &weight])
    {
        conv::taps_output(x.dims(), weight.dims(), padding, taps);
        let weight = conv::taps_weight(weight, taps).reshape([c_out, taps.len() * c_in]);
        let mask = taps.iter().fold(0usize, |m, &i| m | 1 << i);
        let [(pt, pb), (pl, pr)] = padding;
        let y = conv_ops::conv2d_taps(x, weight, [kh, kw, mask, pt, pb, pl, pr]);
        return add_bias(y, bias);
    }
    if gpu(&[&x, &weight]) {
        return conv::conv2d_masked_kernel(x, weight, bias, padding, taps);
    }
    conv::conv2d_taps(x, weight, bias, padding, taps)
}

/// `linear` with burn's signature and result for a batch of vectors: `x · weight + bias`, one
/// product each way through [`crate::gemm`] on Flex (burn-flex allocates every product as a
/// zeroed byte buffer and then copies it into an aligned one: 9% of the MLP GAN's step,
/// `perf`), burn's op elsewhere.
///
/// # Shapes
/// `x: [B, d_in]`, `weight: [d_in, d_out]`, `bias: [d_out]` → `[B, d_out]`
pub fn linear(x: Tensor<2>, weight: Tensor<2>, bias: Option<Tensor<1>>) -> Tensor<2> {
    if x.dims()[1] == weight.dims()[0] && flex(&[&x, &weight]) {
        let y = conv_ops::linear_product(x, weight);
        return match bias {
            Some(bias) => y + bias.unsqueeze_dim(0),
            None => y,
        };
    }
    module::linear(x, weight, bias)
}

/// burn's convolution and linear modules through this module's choice of kernel: same
/// parameters, same records, same result as the module's own `forward`.
pub trait RoutedForward<const D: usize> {
    /// The module's forward pass through [`conv2d`], [`conv_transpose2d`] or [`linear`].
    ///
    /// # Shapes
    /// as the module's `forward`
    fn forward_routed(&self, x: Tensor<D>) -> Tensor<D>;
}

impl RoutedForward<4> for Conv2d {
    /// "Same" padding depends on the input size (burn computes it privately): burn's module.
    fn forward_routed(&self, x: Tensor<4>) -> Tensor<4> {
        match conv2d_options(self) {
            Some(options) => conv2d(
                x,
                self.weight.val(),
                self.bias.as_ref().map(|b| b.val()),
                options,
            ),
            None => self.forward(x),
        }
    }
}

impl RoutedForward<4> for ConvTranspose2d {
    fn forward_routed(&self, x: Tensor<4>) -> Tensor<4> {
        conv_transpose2d(
            x,
            self.weight.val(),
            self.bias.as_ref().map(|b| b.val()),
            conv::conv_transpose2d_options(self),
        )
    }
}

impl RoutedForward<2> for Linear {
    fn forward_routed(&self, x: Tensor<2>) -> Tensor<2> {
        linear(x, self.weight.val(), self.bias.as_ref().map(|b| b.val()))
    }
}

#[cfg(all(test, feature = "flex"))]
mod tests {
    use super::*;
    use crate::test_util::{assert_close, compare, max_diff, values};
    use burn::tensor::{Device, Distribution, TensorData};

    #[test]
    fn max_pool2x2_equals_burns_pooling_with_and_without_autodiff() {
        use burn::tensor::module::max_pool2d;
        use burn::tensor::ops::MaxPoolOptions;
        let burns = |x: Tensor<4>| max_pool2d(x, MaxPoolOptions::new([2, 2]).with_stride([2, 2]));
        for shape in [[3, 5, 24, 24], [2, 3, 7, 9], [1, 1, 2, 2], [2, 2, 1, 6]] {
            let device = Device::flex();
            let x = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &device);
            let ours = max_pool2x2(x.clone());
            assert_eq!(ours.dims(), burns(x.clone()).dims(), "{shape:?}");
            assert_eq!(values(ours), values(burns(x)), "values {shape:?}");
            // Under autodiff: burn's op, its gradient one-hot at each window's maximum.
            let ad = Device::flex().autodiff();
            let x = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &ad).require_grad();
            let g = max_pool2x2(x.clone()).sum().backward();
            let dx = values(x.grad(&g).expect("dx"));
            let [_, _, h, w] = shape;
            assert_eq!(
                dx.iter().sum::<f32>() as usize,
                shape[0] * shape[1] * (h / 2) * (w / 2)
            );
        }
        // NaN propagates, as through burn's op.
        let x = Tensor::<4>::from_data(
            TensorData::new(vec![1.0f32, f32::NAN, 0.5, 2.0], [1, 1, 2, 2]),
            &Device::flex(),
        );
        assert!(values(max_pool2x2(x))[0].is_nan());
    }

    /// The largest difference relative to the reference `b`'s largest magnitude (at least 1).
    fn max_rel_diff(a: &[f32], b: &[f32]) -> f32 {
        max_diff(a, b) / b.iter().fold(1.0f32, |m, v| m.max(v.abs()))
    }

    /// Output, input gradient, weight gradient and bias gradient of `ours` against `burns` under
    /// `loss = Σ y ⊙ r`.
    fn compare_op(
        x_shape: [usize; 4],
        w_shape: [usize; 4],
        ours: &dyn Fn(Tensor<4>, Tensor<4>, Option<Tensor<1>>) -> Tensor<4>,
        burns: &dyn Fn(Tensor<4>, Tensor<4>, Option<Tensor<1>>) -> Tensor<4>,
        bias_len: usize,
    ) {
        let device = Device::flex().autodiff();
        let x =
            Tensor::<4>::random(x_shape, Distribution::Normal(0.0, 1.0), &device).require_grad();
        let w =
            Tensor::<4>::random(w_shape, Distribution::Normal(0.0, 0.3), &device).require_grad();
        let bias =
            Tensor::<1>::random([bias_len], Distribution::Normal(0.0, 1.0), &device).require_grad();
        assert!(crate::flex::applies(&[&x, &w]), "the Flex route");
        let out_shape = burns(x.clone(), w.clone(), Some(bias.clone())).dims();
        let r = Tensor::<4>::random(out_shape, Distribution::Normal(0.0, 1.0), &device);
        let run = |f: &dyn Fn(Tensor<4>, Tensor<4>, Option<Tensor<1>>) -> Tensor<4>| {
            let y = f(x.clone(), w.clone(), Some(bias.clone()));
            let g = (y.clone() * r.clone()).sum().backward();
            vec![
                values(y.inner()),
                values(x.grad(&g).expect("dx")),
                values(w.grad(&g).expect("dw")),
                bias.grad(&g)
                    .expect("db")
                    .into_data()
                    .try_to_vec::<f32>()
                    .expect("f32"),
            ]
        };
        let (a, b) = (run(ours), run(burns));
        for (what, (a, b)) in ["y", "dx", "dw", "db"].iter().zip(a.iter().zip(&b)) {
            let d = max_rel_diff(a, b);
            assert!(d < 1e-5, "{what}: {d} for x {x_shape:?}, w {w_shape:?}");
        }
    }

    #[test]
    fn conv2d_matches_burns_op_in_value_and_every_gradient() {
        // (x, w, stride, padding [(top, bottom), (left, right)])
        let cases = [
            ([2, 3, 9, 8], [4, 3, 3, 3], [1, 1], [(1, 1), (1, 1)]),
            ([3, 2, 28, 28], [5, 2, 3, 3], [2, 2], [(1, 1), (1, 1)]),
            ([2, 4, 14, 14], [6, 4, 4, 4], [2, 2], [(1, 1), (1, 1)]),
            ([1, 1, 7, 9], [2, 1, 2, 3], [1, 2], [(0, 2), (1, 0)]),
            ([2, 5, 6, 6], [3, 5, 1, 1], [1, 1], [(0, 0), (0, 0)]),
            ([2, 2, 5, 5], [2, 2, 5, 5], [3, 3], [(2, 2), (2, 2)]),
            // Stride 1 over 32 channels: the phase route without folding.
            ([2, 32, 6, 7], [4, 32, 2, 3], [1, 1], [(1, 0), (1, 1)]),
        ];
        for (xs, ws, stride, padding) in cases {
            let options = ConvOptions::new_with_padding(stride, padding, [1, 1], 1);
            let o = options.clone();
            compare_op(
                xs,
                ws,
                &move |x, w, b| conv2d_op(x, w, b, o.clone()),
                &move |x, w, b| module::conv2d(x, w, b, options.clone()),
                ws[0],
            );
        }
    }

    #[test]
    fn conv_transpose2d_matches_burns_op_in_value_and_every_gradient() {
        // (x, w, stride, padding, padding_out)
        let cases = [
            ([2, 3, 7, 7], [3, 4, 4, 4], [2, 2], [1, 1], [0, 0]),
            ([2, 4, 14, 14], [4, 1, 4, 4], [2, 2], [1, 1], [0, 0]),
            ([1, 2, 5, 6], [2, 3, 3, 3], [1, 1], [1, 1], [0, 0]),
            ([2, 2, 4, 3], [2, 2, 3, 2], [2, 3], [0, 1], [1, 2]),
            ([3, 3, 3, 3], [3, 2, 1, 1], [1, 1], [0, 0], [0, 0]),
            // Stride 1 into 32 channels: the phase route without folding.
            ([2, 3, 5, 5], [3, 32, 3, 3], [1, 1], [1, 1], [0, 0]),
        ];
        for (xs, ws, stride, padding, padding_out) in cases {
            let options = ConvTransposeOptions::new(stride, padding, padding_out, [1, 1], 1);
            let o = options.clone();
            compare_op(
                xs,
                ws,
                &move |x, w, b| conv_transpose2d(x, w, b, o.clone()),
                &move |x, w, b| module::conv_transpose2d(x, w, b, options.clone()),
                ws[1],
            );
        }
    }

    #[test]
    fn linear_matches_burns_op_in_value_and_every_gradient() {
        let device = Device::flex().autodiff();
        for (m, k, n) in [(64, 784, 512), (3, 5, 1), (1, 7, 9)] {
            let x =
                Tensor::<2>::random([m, k], Distribution::Normal(0.0, 1.0), &device).require_grad();
            let w =
                Tensor::<2>::random([k, n], Distribution::Normal(0.0, 0.1), &device).require_grad();
            let b =
                Tensor::<1>::random([n], Distribution::Normal(0.0, 1.0), &device).require_grad();
            let r = Tensor::<2>::random([m, n], Distribution::Normal(0.0, 1.0), &device);
            let run = |ours: bool| {
                let f = if ours { linear } else { module::linear };
                let y = f(x.clone(), w.clone(), Some(b.clone()));
                let g = (y.clone() * r.clone()).sum().backward();
                [
                    values(y.inner()),
                    values(x.grad(&g).expect("dx")),
                    values(w.grad(&g).expect("dw")),
                    values(b.grad(&g).expect("db")),
                ]
            };
            let (a, reference) = (run(true), run(false));
            for (what, (a, b)) in ["y", "dx", "dw", "db"].iter().zip(a.iter().zip(&reference)) {
                let d = max_rel_diff(a, b);
                assert!(d < 1e-5, "{what}: {d} for {m}×{k}·{k}×{n}");
            }
        }
        // Untracked, and without a bias.
        let plain = Device::flex();
        let x = Tensor::<2>::from_floats([[1.0, 2.0]], &plain);
        let w = Tensor::<2>::from_floats([[3.0, 0.5], [-1.0, 2.0]], &plain);
        assert_eq!(values(linear(x, w, None)), [1.0, 4.5]);
    }

    #[test]
    fn without_autodiff_and_with_a_frozen_weight() {
        let device = Device::flex();
        let x = Tensor::<4>::random([2, 3, 10, 10], Distribution::Normal(0.0, 1.0), &device);
        let w = Tensor::<4>::random([4, 3, 3, 3], Distribution::Normal(0.0, 1.0), &device);
        let options = ConvOptions::new([2, 2], [1, 1], [1, 1], 1);
        let d = max_rel_diff(
            &values(conv2d_op(x.clone(), w.clone(), None, options.clone())),
            &values(module::conv2d(x, w, None, options)),
        );
        assert!(d < 1e-5, "{d}");
        // Only the input tracked: the weight gradient is neither asked for nor returned.
        let ad = Device::flex().autodiff();
        let x =
            Tensor::<4>::random([2, 3, 6, 6], Distribution::Normal(0.0, 1.0), &ad).require_grad();
        let w = Tensor::<4>::random([3, 2, 4, 4], Distribution::Normal(0.0, 1.0), &ad);
        let options = ConvTransposeOptions::new([2, 2], [1, 1], [0, 0], [1, 1], 1);
        let g = conv_transpose2d(x.clone(), w.clone(), None, options.clone())
            .sum()
            .backward();
        let reference = module::conv_transpose2d(x.clone(), w.clone(), None, options)
            .sum()
            .backward();
        assert!(w.grad(&g).is_none());
        let d = max_rel_diff(
            &values(x.grad(&g).expect("dx")),
            &values(x.grad(&reference).expect("dx")),
        );
        assert!(d < 1e-5, "{d}");
    }

    #[test]
    fn conv2d_taps_equals_burns_conv2d_over_the_kept_taps() {
        // (input [B, C, H, W], c_out, kernel, padding (top, bottom, left, right), taps; None = all)
        type Case<'a> = (
            [usize; 4],
            usize,
            [usize; 2],
            [usize; 4],
            Option<&'a [usize]>,
        );
        let cases: [Case<'_>; 9] = [
            ([2, 3, 7, 6], 4, [2, 3], [1, 0, 1, 1], None), // Gated PixelCNN vertical stack
            ([2, 1, 6, 6], 3, [4, 7], [3, 0, 3, 3], None), // its first layer (7×7)
            (
                [2, 3, 5, 6],
                4,
                [3, 3],
                [1, 1, 1, 1],
                Some(&[0, 1, 2, 3, 4]),
            ), // mask B
            ([1, 2, 6, 5], 3, [3, 3], [1, 1, 1, 1], Some(&[0, 1, 2, 3])), // mask A
            ([2, 4, 5, 6], 3, [1, 1], [0, 0, 0, 0], None), // 1×1
            ([2, 2, 6, 7], 3, [3, 5], [0, 2, 1, 0], Some(&[1, 7, 13])), // uneven, sparse
            ([1, 2, 5, 5], 2, [3, 3], [0, 0, 0, 0], Some(&[8])), // valid, one tap
            ([2, 3, 4, 5], 2, [3, 3], [2, 0, 1, 3], Some(&[5, 0, 1])), // unordered: composed route
            ([3, 2, 4, 4], 3, [1, 1], [1, 0, 0, 1], None), // 1×1 padded
        ];
        for (x_shape, c_out, [kh, kw], [pt, pb, pl, pr], taps) in cases {
            let all: Vec<usize> = (0..kh * kw).collect();
            let taps = taps.unwrap_or(&all);
            let what = format!("{x_shape:?} → {c_out} k{kh}×{kw} taps {taps:?}");
            let keep: Vec<f32> = (0..kh * kw)
                .map(|i| if taps.contains(&i) { 1.0 } else { 0.0 })
                .collect();
            // The GPU route against the composed one, value and every gradient.
            let pad = [(pt, pb), (pl, pr)];
            compare_op(
                x_shape,
                [c_out, x_shape[1], kh, kw],
                &|x, w, b| conv::conv2d_masked_kernel(x, w, b, pad, taps),
                &|x, w, b| conv::conv2d_taps(x, w, b, pad, taps),
                c_out,
            );
            for bias in [0, c_out] {
                compare(
                    &what,
                    x_shape,
                    [c_out, x_shape[1], kh, kw],
                    bias,
                    &|x, w, b, fast| {
                        if fast {
                            conv2d_taps(x, w, b, [(pt, pb), (pl, pr)], taps)
                        } else {
                            let mask = Tensor::<1>::from_data(
                                TensorData::new(keep.clone(), [kh * kw]),
                                &w.device(),
                            )
                            .reshape([1, 1, kh, kw]);
                            let options = ConvOptions::new_with_padding(
                                [1, 1],
                                [(pt, pb), (pl, pr)],
                                [1, 1],
                                1,
                            );
                            module::conv2d(x, w * mask, b, options)
                        }
                    },
                );
            }
        }
    }

    #[test]
    fn modules_give_their_own_forward() {
        use burn::nn::PaddingConfig2d;
        use burn::nn::conv::{Conv2dConfig, ConvTranspose2dConfig};
        let device = Device::flex();
        let x = Tensor::<4>::random([2, 3, 8, 8], Distribution::Normal(0.0, 1.0), &device);
        let conv = Conv2dConfig::new([3, 4], [4, 4])
            .with_stride([2, 2])
            .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
            .init(&device);
        let same = Conv2dConfig::new([3, 4], [3, 3])
            .with_padding(PaddingConfig2d::Same)
            .init(&device);
        let deconv = ConvTranspose2dConfig::new([3, 2], [4, 4])
            .with_stride([2, 2])
            .with_padding([1, 1])
            .init(&device);
        let bias = |b: &Option<burn::module::Param<Tensor<1>>>| b.as_ref().map(|b| b.val());
        // The GEMM compositions on the modules' parameters.
        let options = conv2d_options(&conv).expect("explicit padding");
        assert_close(
            &values(conv::conv2d(
                x.clone(),
                conv.weight.val(),
                bias(&conv.bias),
                options.clone(),
            )),
            &values(conv.forward(x.clone())),
            "Conv2d",
        );
        assert!(conv2d_options(&same).is_none());
        assert_close(
            &values(conv::conv_transpose2d(
                x.clone(),
                deconv.weight.val(),
                bias(&deconv.bias),
                conv::conv_transpose2d_options(&deconv),
            )),
            &values(deconv.forward(x.clone())),
            "ConvTranspose2d",
        );
        // The choice: GEMM for stride-1 1×1 kernels and single-channel inputs only.
        let one_by_one = Conv2dConfig::new([3, 5], [1, 1]).init(&device);
        let single = Conv2dConfig::new([1, 4], [3, 3]).init(&device);
        let gemm = |c: &Conv2d| {
            takes_gemm(
                c.weight.dims(),
                &conv2d_options(c).expect("explicit padding"),
            )
        };
        assert!(gemm(&one_by_one) && gemm(&single) && !gemm(&conv));
        for (layer, input, what) in [
            (&one_by_one, x.clone(), "1×1 routed"),
            (&conv, x.clone(), "4×4 routed"),
            (&same, x.clone(), "same routed"),
            (&single, x.clone().narrow(1, 0, 1), "single-channel routed"),
        ] {
            assert_close(
                &values(layer.forward_routed(input.clone())),
                &values(layer.forward(input)),
                what,
            );
        }
        assert_close(
            &values(deconv.forward_routed(x.clone())),
            &values(deconv.forward(x)),
            "ConvTranspose2d routed",
        );
    }
}
