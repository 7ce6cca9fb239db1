//! Plain (unmasked) 2-D convolutions and transposed convolutions computed as one matrix product,
//! so that their gradients are matrix products too.
//!
//! burn's CPU backends compute the weight gradient of a convolution as another convolution with
//! batch and channels swapped, which turns into thin matrix products (k = batch · output pixels,
//! output = a few thousand weights) that run far below the machine's peak; see
//! `docs/performance.md`. Here a convolution is written with tensor operations whose own
//! gradients are good matrix products:
//!
//! - **stride s → stride 1** ("space-to-depth"): the padded input is split into its s × s
//!   phases, `x[c, s·i + p, s·j + q] → x'[(c, p, q), i, j]`, and the kernel likewise
//!   (`k → ⌈k/s⌉` taps per side over `C·s²` channels); a strided convolution is then a stride-1
//!   one over the phases;
//! - **stride 1 → one GEMM**: the (phase) input is shifted once per kernel tap, the shifts are
//!   stacked along the channels in channel-major layout `[T·C, B·H·W]`, and
//!   `y[C_out, B·H·W] = w[C_out, T·C] · cols`. The weight gradient is then one GEMM with
//!   k = B·H·W (`dw = dy · colsᵀ`) and the input gradient one GEMM plus the shifts' sums;
//! - **transposed convolution → sub-pixel convolution** (Shi et al. 2016, "Real-Time Single Image
//!   and Video Super-Resolution Using an Efficient Sub-Pixel Convolutional Neural Network",
//!   <https://arxiv.org/abs/1609.05158>): output phase `r` of a stride-s transposed convolution is
//!   a stride-1 correlation of the input with the kernel taps `r, r + s, …` flipped, so all s²
//!   phases are one stride-1 convolution to `s²·C_out` channels followed by depth-to-space. No
//!   zero-stuffed input, no wasted multiply by zero.
//!
//! Everything is backend-agnostic tensor code — the same on the CPU and the GPU — and is tested
//! against burn's own `conv2d` / `conv_transpose2d` in value and in every gradient. Dilation ≠ 1
//! or groups ≠ 1 fall back to burn's op.

use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::tensor::module;
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions, PadMode};
use burn::tensor::{Int, Tensor, TensorData};

/// `conv2d` with burn's signature and result, computed as one matrix product (module doc).
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
    if options.dilation != [1, 1] || options.groups != 1 {
        return module::conv2d(x, weight, bias, options);
    }
    let [_, _, h, w] = x.dims();
    let [_, _, kh, kw] = weight.dims();
    let [(pt, pb), (pl, pr)] = options.padding;
    let [sh, sw] = options.stride;
    let ho = (h + pt + pb - kh) / sh + 1;
    let wo = (w + pl + pr - kw) / sw + 1;
    let y = strided(x, weight, [pt, pl], [ho, wo], [sh, sw]);
    add_bias(y, bias)
}

/// `conv_transpose2d` with burn's signature and result, computed as a sub-pixel convolution
/// (module doc).
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
    if options.dilation != [1, 1] || options.groups != 1 {
        return module::conv_transpose2d(x, weight, bias, options);
    }
    let [b, _, h, w] = x.dims();
    let [c_in, c_out, kh, kw] = weight.dims();
    let [sh, sw] = options.stride;
    let [ph, pw] = options.padding;
    let [oph, opw] = options.padding_out;
    let ho = (h - 1) * sh + kh + oph - 2 * ph;
    let wo = (w - 1) * sw + kw + opw - 2 * pw;
    let (ah, aw) = (kh.div_ceil(sh), kw.div_ceil(sw));
    // Output phase (ry, rx) at sub-pixel position (m, n) is output pixel (s·m + r − p): a
    // correlation of the input, padded by a − 1 on top, with the taps r + s·(a − 1 − t) of the
    // kernel. Rows m = 0 .. ⌈(p + Ho) / s⌉ are needed.
    let (mh, mw) = ((ph + ho).div_ceil(sh), (pw + wo).div_ceil(sw));
    let kernel = weight
        .pad(
            [(0, ah * sh - kh), (0, aw * sw - kw)],
            PadMode::Constant(0.0),
        )
        .reshape([c_in, c_out, ah, sh, aw, sw])
        .flip([2, 4])
        .permute([3, 5, 1, 0, 2, 4])
        .reshape([sh * sw * c_out, c_in, ah, aw]);
    let z = strided(x, kernel, [ah - 1, aw - 1], [mh, mw], [1, 1]); // [B, s²·C_out, mh, mw]
    let y = z
        .reshape([b, sh, sw, c_out, mh, mw])
        .permute([0, 3, 4, 1, 5, 2])
        .reshape([b, c_out, mh * sh, mw * sw])
        .narrow(2, ph, ho)
        .narrow(3, pw, wo);
    add_bias(y, bias)
}

/// A stride-1 correlation over some of the kernel's positions (`taps`: indices `u·kw + v` into the
/// `kh × kw` kernel, ascending), in batch-major layout: every image's input is shifted once per
/// tap, the shifts are stacked along its channels, `cols[B, T·C_in, ho·wo]`, and one batched matrix
/// product with the taps' weights `[C_out, T·C_in]` (broadcast over the batch) gives the output.
///
/// This is the layout of the masked convolutions' tap path ([`crate::MaskedConv2d`]): unlike
/// [`conv2d`]'s channel-major GEMM it needs no transposes of the input or the output; on Flex
/// the router runs the same layout as one custom operation. With every tap it
/// equals burn's `conv2d` with stride 1 and `padding` (tested in value and every gradient); with
/// no tap the output is the bias.
///
/// # Panics
/// If a tap is outside the kernel or the padded input is smaller than the kernel.
///
/// # Shapes
/// `x: [B, C_in, H, W]`, `weight: [C_out, C_in, kh, kw]`, `bias: [C_out]`,
/// `padding: [(top, bottom), (left, right)]` → `[B, C_out, H + top + bottom − kh + 1,
/// W + left + right − kw + 1]`
pub fn conv2d_taps(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    padding: [(usize, usize); 2],
    taps: &[usize],
) -> Tensor<4> {
    let [b, c_in, h, w] = x.dims();
    let [c_out, _, kh, kw] = weight.dims();
    let [(pt, pb), (pl, pr)] = padding;
    let [ho, wo] = taps_output(x.dims(), weight.dims(), padding, taps);
    let t = taps.len();
    if t == 0 {
        return add_bias(Tensor::<4>::zeros([b, c_out, ho, wo], &x.device()), bias);
    }
    let weight = taps_weight(weight, taps);
    let plain = kh * kw == 1 && (pt, pb, pl, pr) == (0, 0, 0, 0);
    let cols = if plain {
        x.reshape([b, c_in, h * w])
    } else {
        let rows = taps.iter().map(|&i| i / kw);
        let columns = taps.iter().map(|&i| i % kw);
        let (u_min, u_max) = (rows.clone().min(), rows.max());
        let (v_min, v_max) = (columns.clone().min(), columns.max());
        let (u_min, u_max) = (u_min.unwrap_or(0), u_max.unwrap_or(0));
        let (v_min, v_max) = (v_min.unwrap_or(0), v_max.unwrap_or(0));
        // Pad only the sides some tap reaches past.
        let (top, bottom) = (
            pt.saturating_sub(u_min),
            (u_max + ho).saturating_sub(pt + h),
        );
        let (left, right) = (
            pl.saturating_sub(v_min),
            (v_max + wo).saturating_sub(pl + w),
        );
        let xp = if top + bottom + left + right > 0 {
            x.pad([(top, bottom), (left, right)], PadMode::Constant(0.0))
        } else {
            x
        };
        let shifts: Vec<Tensor<4>> = taps
            .iter()
            .map(|&i| {
                let (u, v) = (i / kw, i % kw);
                xp.clone()
                    .narrow(2, u + top - pt, ho)
                    .narrow(3, v + left - pl, wo)
            })
            .collect();
        let stacked = if t == 1 {
            shifts.into_iter().next().expect("one tap")
        } else {
            Tensor::cat(shifts, 1)
        };
        stacked.reshape([b, t * c_in, ho * wo])
    };
    let y = weight.matmul(cols); // [B, C_out, ho·wo]
    add_bias(y.reshape([b, c_out, ho, wo]), bias)
}

/// The output size `[H_o, W_o]` of [`conv2d_taps`].
///
/// # Panics
/// If a tap is outside the kernel or the padded input is smaller than the kernel.
pub(crate) fn taps_output(
    x: [usize; 4],
    weight: [usize; 4],
    padding: [(usize, usize); 2],
    taps: &[usize],
) -> [usize; 2] {
    let [_, _, h, w] = x;
    let [_, _, kh, kw] = weight;
    let [(pt, pb), (pl, pr)] = padding;
    assert!(
        h + pt + pb >= kh && w + pl + pr >= kw,
        "conv2d_taps: the padded input is smaller than the kernel"
    );
    assert!(
        taps.iter().all(|&i| i < kh * kw),
        "conv2d_taps: a tap is outside the {kh}×{kw} kernel"
    );
    [h + pt + pb - kh + 1, w + pl + pr - kw + 1]
}

/// The correlation of [`conv2d_taps`] as one stride-1 convolution over the whole kernel with the
/// positions outside `taps` zeroed: the arithmetic of every position, but no copy of the input
/// per tap, and burn's convolution kernel (implicit GEMM where autotune picks it on a GPU).
///
/// # Panics
/// If a tap is outside the kernel or the padded input is smaller than the kernel.
///
/// # Shapes
/// as [`conv2d_taps`]
pub fn conv2d_masked_kernel(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    padding: [(usize, usize); 2],
    taps: &[usize],
) -> Tensor<4> {
    taps_output(x.dims(), weight.dims(), padding, taps);
    let [_, _, kh, kw] = weight.dims();
    let mut keep = vec![0.0f32; kh * kw];
    for &t in taps {
        keep[t] = 1.0;
    }
    let mask = Tensor::<4>::from_data(TensorData::new(keep, [1, 1, kh, kw]), &weight.device());
    let options = ConvOptions::new_with_padding([1, 1], padding, [1, 1], 1);
    module::conv2d(x, weight * mask, bias, options)
}

/// The kept taps' weights `[1, C_out, T·C_in]` of `weight: [C_out, C_in, kh, kw]`, columns
/// ordered tap-major (tap, channel) like the stacked shifts of [`conv2d_taps`].
pub(crate) fn taps_weight(weight: Tensor<4>, taps: &[usize]) -> Tensor<3> {
    let [c_out, c_in, kh, kw] = weight.dims();
    let t = taps.len();
    let weight = weight.reshape([c_out, c_in, kh * kw]);
    let weight = if t == kh * kw {
        weight
    } else {
        let idx: Vec<i64> = taps.iter().map(|&i| i as i64).collect();
        let idx = Tensor::<1, Int>::from_data(TensorData::new(idx, [t]), &weight.device());
        weight.select(2, idx) // [C_out, C_in, T]
    };
    weight.swap_dims(1, 2).reshape([1, c_out, t * c_in])
}

/// The options of a `Conv2d` module for the functional ops, or `None` for "same" padding, which
/// depends on the input size (burn computes it privately).
pub fn conv2d_options(conv: &Conv2d) -> Option<ConvOptions<2>> {
    let padding = match conv.padding {
        PaddingConfig2d::Valid => [(0, 0), (0, 0)],
        PaddingConfig2d::Explicit(top, left, bottom, right) => [(top, bottom), (left, right)],
        PaddingConfig2d::Same => return None,
    };
    Some(ConvOptions::new_with_padding(
        conv.stride,
        padding,
        conv.dilation,
        conv.groups,
    ))
}

/// The options of a `ConvTranspose2d` module for the functional ops.
pub fn conv_transpose2d_options(conv: &ConvTranspose2d) -> ConvTransposeOptions<2> {
    ConvTransposeOptions::new(
        conv.stride,
        conv.padding,
        conv.padding_out,
        conv.dilation,
        conv.groups,
    )
}

/// `y + bias`, the bias broadcast over the batch and the pixels.
pub(crate) fn add_bias(y: Tensor<4>, bias: Option<Tensor<1>>) -> Tensor<4> {
    match bias {
        Some(bias) => {
            let [c] = bias.dims();
            y + bias.reshape([1, c, 1, 1])
        }
        None => y,
    }
}

/// Strided correlation without bias: `y[b, o, i, j] = Σ w[o, c, u, v] · x̃[b, c, s·i + u, s·j + v]`
/// where `x̃` is `x` with `pad_begin` zero rows/columns in front (and as many behind as needed;
/// rows past the last needed one are cut). Output `[B, C_out, out[0], out[1]]`.
fn strided(
    x: Tensor<4>,
    weight: Tensor<4>,
    pad_begin: [usize; 2],
    out: [usize; 2],
    stride: [usize; 2],
) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    let [c_out, _, kh, kw] = weight.dims();
    let [sh, sw] = stride;
    let [ho, wo] = out;
    // Taps per side after space-to-depth, and the phase-grid size the output needs.
    let (ah, aw) = (kh.div_ceil(sh), kw.div_ceil(sw));
    let (hq, wq) = (ho + ah - 1, wo + aw - 1);
    let x = fit(x, 2, pad_begin[0], h, hq * sh);
    let x = fit(x, 3, pad_begin[1], w, wq * sw);
    // Channel-major phases: [C·sh·sw, B, hq, wq], channel order (c, p, q).
    let phases = x
        .reshape([b, c, hq, sh, wq, sw])
        .permute([1, 3, 5, 0, 2, 4])
        .reshape([c * sh * sw, b, hq, wq]);
    let cp = c * sh * sw;
    let t = ah * aw;
    let cols = if t == 1 {
        phases.reshape([cp, b * ho * wo])
    } else {
        let shifts: Vec<Tensor<4>> = (0..ah)
            .flat_map(|u| (0..aw).map(move |v| (u, v)))
            .map(|(u, v)| phases.clone().narrow(2, u, ho).narrow(3, v, wo))
            .collect();
        Tensor::cat(shifts, 0).reshape([t * cp, b * ho * wo])
    };
    // Weight in the same (tap, c, p, q) column order: [C_out, C, a, p, a', q] → [C_out, a, a', C, p, q].
    let weight = weight
        .pad(
            [(0, ah * sh - kh), (0, aw * sw - kw)],
            PadMode::Constant(0.0),
        )
        .reshape([c_out, c, ah, sh, aw, sw])
        .permute([0, 2, 4, 1, 3, 5])
        .reshape([c_out, t * cp]);
    weight
        .matmul(cols) // [C_out, B·ho·wo]
        .reshape([c_out, b, ho, wo])
        .swap_dims(0, 1)
}

/// Pads `x` along `dim` with `begin` zeros in front and cuts or zero-pads the end so the
/// dimension has length `target`.
fn fit(x: Tensor<4>, dim: usize, begin: usize, len: usize, target: usize) -> Tensor<4> {
    let end = target.saturating_sub(begin + len);
    let x = if begin + end > 0 {
        let mut pads = [(0, 0); 2];
        pads[dim - 2] = (begin, end);
        x.pad(pads, PadMode::Constant(0.0))
    } else {
        x
    };
    if begin + len + end > target {
        x.narrow(dim, 0, target)
    } else {
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::compare;

    #[test]
    fn conv2d_equals_burns_in_value_and_gradients() {
        // (input [B, C, H, W], c_out, kernel, stride, padding (top, bottom, left, right))
        let cases = [
            ([2, 3, 9, 8], 4, [3, 3], [1, 1], [1, 1, 1, 1]), // "same" 3×3
            ([2, 2, 8, 8], 5, [4, 4], [2, 2], [1, 1, 1, 1]), // DCGAN discriminator
            ([1, 3, 7, 7], 2, [4, 4], [2, 2], [1, 1, 1, 1]), // odd input: last row unused
            ([2, 3, 9, 7], 4, [3, 3], [2, 2], [1, 1, 1, 1]), // autoencoder encoder, odd
            ([2, 4, 5, 6], 3, [1, 1], [1, 1], [0, 0, 0, 0]), // 1×1
            ([2, 2, 6, 7], 3, [2, 3], [1, 1], [1, 0, 1, 1]), // Gated PixelCNN vertical stack
            ([1, 2, 10, 11], 3, [5, 3], [3, 2], [0, 2, 1, 0]), // uneven everything
            ([2, 3, 6, 6], 2, [3, 3], [1, 1], [0, 0, 0, 0]), // valid
        ];
        for (x_shape, c_out, [kh, kw], stride, [pt, pb, pl, pr]) in cases {
            let what = format!("{x_shape:?} → {c_out} k{kh}×{kw} s{stride:?}");
            for bias in [0, c_out] {
                let options =
                    ConvOptions::new_with_padding(stride, [(pt, pb), (pl, pr)], [1, 1], 1);
                compare(
                    &what,
                    x_shape,
                    [c_out, x_shape[1], kh, kw],
                    bias,
                    &|x, w, b, fast| {
                        if fast {
                            conv2d(x, w, b, options.clone())
                        } else {
                            module::conv2d(x, w, b, options.clone())
                        }
                    },
                );
            }
        }
    }

    #[test]
    fn conv_transpose2d_equals_burns_in_value_and_gradients() {
        // (input [B, C, H, W], c_out, kernel, stride, padding, output padding)
        let cases = [
            ([2, 3, 4, 4], 2, [4, 4], [2, 2], [1, 1], [0, 0]), // DCGAN / autoencoder decoder
            ([1, 2, 7, 7], 3, [4, 4], [2, 2], [1, 1], [0, 0]), // 7 → 14
            ([2, 2, 3, 5], 3, [3, 3], [2, 2], [1, 1], [1, 1]), // output padding
            ([2, 3, 4, 3], 2, [3, 3], [1, 1], [1, 1], [0, 0]), // stride 1
            ([1, 2, 3, 4], 2, [5, 2], [3, 2], [2, 0], [1, 1]), // uneven everything
            ([2, 4, 3, 3], 3, [1, 1], [1, 1], [0, 0], [0, 0]), // 1×1
            ([1, 2, 4, 4], 2, [2, 2], [2, 2], [0, 0], [0, 0]), // kernel = stride
        ];
        for (x_shape, c_out, [kh, kw], stride, padding, padding_out) in cases {
            let what = format!("{x_shape:?} → {c_out} k{kh}×{kw} s{stride:?} p{padding:?}");
            for bias in [0, c_out] {
                let options = ConvTransposeOptions::new(stride, padding, padding_out, [1, 1], 1);
                compare(
                    &what,
                    x_shape,
                    [x_shape[1], c_out, kh, kw],
                    bias,
                    &|x, w, b, fast| {
                        if fast {
                            conv_transpose2d(x, w, b, options.clone())
                        } else {
                            module::conv_transpose2d(x, w, b, options.clone())
                        }
                    },
                );
            }
        }
    }
}
