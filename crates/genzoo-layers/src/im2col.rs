//! Convolutions and transposed convolutions as one im2col/col2im pass and one matrix product,
//! forward and backward, registered as custom operations for the Flex backend.
//!
//! burn-flex computes a transposed convolution (the decoders' layers, and every strided
//! convolution's input gradient) with a direct scatter loop; profiled on `vae-conv`, that loop was
//! 19% of the step. [`crate::conv`] rewrote convolutions as tensor ops whose gradients are
//! matrix products, but in burn's autodiff every shifted copy's gradient is a full-size buffer,
//! which lost on multi-channel strided layers. Here both are one operation with a hand-written
//! backward pass, in the channel-major layout `cols[C·kh·kw, B·Gh·Gw]`:
//!
//! | | forward | input gradient | weight gradient |
//! |---|---|---|---|
//! | `conv2d` | `W · im2col(x)` | `col2im(Wᵀ · dy)` | `dy · im2col(x)ᵀ` |
//! | `conv_transpose2d` | `col2im(Wᵀ · x)` | `W · im2col(dy)` | `x · im2col(dy)ᵀ` |
//!
//! Every product is one GEMM over the whole batch (through [`crate::gemm`]), with `k = B·Gh·Gw`
//! for the weight gradients. That is the route for 1×1 kernels and for stride-1 layers over fewer
//! than 32 channels. A column matrix holds `kh·kw / (s_h·s_w)` values per input value (4× for
//! DCGAN's 4×4 kernels at stride 2, 6× for the Gated PixelCNN's 2×3 vertical stack), written and
//! read back in every direction; strided layers and the wider stride-1 ones take
//! [`crate::phase`] instead, which computes them with no column matrix (same operations, same
//! tests). On every other backend, and for dilation or groups ≠ 1 or non-`f32`
//! tensors, the functions are burn's `conv2d` / `conv_transpose2d`. Tested against burn's ops in
//! value and in every gradient (`tests` below).

use burn::tensor::Tensor;
use burn::tensor::module;
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};

/// `conv2d` with burn's signature and result: im2col and one matrix product on Flex (module doc),
/// burn's op elsewhere.
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
    #[cfg(feature = "flex")]
    if options.dilation == [1, 1] && options.groups == 1 && crate::flex::applies(&[&x, &weight]) {
        let [(pt, pb), (pl, pr)] = options.padding;
        let [sh, sw] = options.stride;
        let y = flex::conv2d(x, weight, [sh, sw, pt, pb, pl, pr]);
        return crate::conv::add_bias(y, bias);
    }
    module::conv2d(x, weight, bias, options)
}

/// `conv_transpose2d` with burn's signature and result: one matrix product and col2im on Flex
/// (module doc), burn's op elsewhere.
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
    #[cfg(feature = "flex")]
    if options.dilation == [1, 1] && options.groups == 1 && crate::flex::applies(&[&x, &weight]) {
        let [sh, sw] = options.stride;
        let [ph, pw] = options.padding;
        let [oph, opw] = options.padding_out;
        let y = flex::conv_transpose2d(x, weight, [sh, sw, ph, pw, oph, opw]);
        return crate::conv::add_bias(y, bias);
    }
    module::conv_transpose2d(x, weight, bias, options)
}

/// `linear` with burn's signature and result for a batch of vectors: `x · weight + bias`, one
/// product each way through [`crate::gemm`] on Flex, burn's op elsewhere. burn-flex allocates
/// every product as a zeroed byte buffer and then copies it into an aligned one (`perf`: 9% of
/// the MLP GAN's step); this product writes its output once.
///
/// # Shapes
/// `x: [B, d_in]`, `weight: [d_in, d_out]`, `bias: [d_out]` → `[B, d_out]`
pub fn linear(x: Tensor<2>, weight: Tensor<2>, bias: Option<Tensor<1>>) -> Tensor<2> {
    #[cfg(feature = "flex")]
    if x.dims()[1] == weight.dims()[0] && crate::flex::applies(&[&x, &weight]) {
        let y = flex::linear_product(x, weight);
        return match bias {
            Some(bias) => y + bias.unsqueeze_dim(0),
            None => y,
        };
    }
    module::linear(x, weight, bias)
}

/// [`crate::conv::conv2d_taps`]'s Flex route: `weight: [C_out, T·C_in]` (tap-major columns),
/// `p = [kh, kw, taps bit mask, p_top, p_bottom, p_left, p_right]` (see [`TapGeometry`]).
#[cfg(feature = "flex")]
pub(crate) fn conv2d_taps_batched(x: Tensor<4>, weight: Tensor<2>, p: [usize; 7]) -> Tensor<4> {
    flex::conv2d_taps(x, weight, p)
}

/// The geometry shared by im2col and col2im: an image `[C, H, W]` seen through a `kh × kw`
/// window at `Gh × Gw` grid positions; grid position `(i, j)`, tap `(u, v)` reads pixel
/// `(s_h·i + u − p_top, s_w·j + v − p_left)`, zero outside the image.
#[cfg(feature = "flex")]
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Geometry {
    pub(crate) c: usize,
    pub(crate) h: usize,
    pub(crate) w: usize,
    pub(crate) kh: usize,
    pub(crate) kw: usize,
    pub(crate) sh: usize,
    pub(crate) sw: usize,
    pub(crate) pt: usize,
    pub(crate) pl: usize,
    pub(crate) gh: usize,
    pub(crate) gw: usize,
}

#[cfg(feature = "flex")]
impl Geometry {
    /// Rows of the column matrix: `C·kh·kw`.
    fn rows(&self) -> usize {
        self.c * self.kh * self.kw
    }

    /// Grid positions per image: `Gh·Gw`.
    fn grid(&self) -> usize {
        self.gh * self.gw
    }

    /// The grid indices `lo..hi` whose pixel `s·i + tap − pad` lies in `0..size`.
    fn valid(grid: usize, s: usize, tap: usize, pad: usize, size: usize) -> std::ops::Range<usize> {
        crate::phase::valid(grid, s, tap, pad, size)
    }

    /// Strided layers go through [`crate::phase`]; the column matrices here are stride 1's.
    fn check_unit_stride(&self) {
        assert!(
            self.grid() == 0 || (self.sh, self.sw) == (1, 1),
            "im2col: stride {:?} belongs to crate::phase",
            (self.sh, self.sw)
        );
    }

    /// `cols[(c, u, v), (n, i, j)]` from `images[n, c, :, :]` (`n < batch`), at stride 1.
    fn im2col(&self, images: &[f32], batch: usize) -> Vec<f32> {
        use rayon::prelude::*;
        self.check_unit_stride();
        let g = *self;
        let (l, hw) = (g.grid(), g.h * g.w);
        let mut cols = vec![0.0f32; g.rows() * batch * l];
        cols.par_chunks_mut((batch * l).max(1))
            .enumerate()
            .for_each(|(r, row)| {
                let (c, u, v) = (r / (g.kh * g.kw), (r / g.kw) % g.kh, r % g.kw);
                let rows = Self::valid(g.gh, g.sh, u, g.pt, g.h);
                let js = Self::valid(g.gw, g.sw, v, g.pl, g.w);
                for (n, out) in row.chunks_mut(l.max(1)).enumerate() {
                    let plane = &images[(n * g.c + c) * hw..][..hw];
                    for i in rows.clone() {
                        let y = i + u - g.pt;
                        let src = &plane[y * g.w..][..g.w];
                        let dst = &mut out[i * g.gw..][..g.gw];
                        if js.is_empty() {
                            continue;
                        }
                        let x0 = js.start + v - g.pl;
                        dst[js.clone()].copy_from_slice(&src[x0..x0 + js.len()]);
                    }
                }
            });
        cols
    }

    /// The adjoint of [`Self::im2col`]: `images[n, c, y, x] = Σ cols[(c, u, v), (n, i, j)]` over
    /// the grid positions and taps that read pixel `(y, x)`.
    fn col2im(&self, cols: &[f32], batch: usize) -> Vec<f32> {
        use rayon::prelude::*;
        self.check_unit_stride();
        let g = *self;
        let (l, hw) = (g.grid(), g.h * g.w);
        let mut images = vec![0.0f32; batch * g.c * hw];
        images
            .par_chunks_mut(hw.max(1))
            .enumerate()
            .with_min_len(crate::flex::min_parts(hw))
            .for_each(|(nc, plane)| {
                let (n, c) = (nc / g.c, nc % g.c);
                for u in 0..g.kh {
                    let rows = Self::valid(g.gh, g.sh, u, g.pt, g.h);
                    for v in 0..g.kw {
                        let js = Self::valid(g.gw, g.sw, v, g.pl, g.w);
                        let r = (c * g.kh + u) * g.kw + v;
                        let src = &cols[(r * batch + n) * l..][..l];
                        for i in rows.clone() {
                            let y = i + u - g.pt;
                            let dst = &mut plane[y * g.w..][..g.w];
                            let srow = &src[i * g.gw..][..g.gw];
                            if js.is_empty() {
                                continue;
                            }
                            let x0 = js.start + v - g.pl;
                            for (d, s) in dst[x0..].iter_mut().zip(&srow[js.clone()]) {
                                *d += s;
                            }
                        }
                    }
                }
            });
        images
    }
}

/// A stride-1 correlation over some taps of a `kh × kw` kernel in the *batch-major* layout of
/// [`crate::conv::conv2d_taps`]: `cols[n, (t, c), i, j] = x[n, c, i + u_t − p_top, j + v_t − p_left]`
/// for tap `t` at kernel position `(u_t, v_t)`, zero outside the image. With this layout the
/// forward product and the input gradient's are batched GEMMs that read and write `[B, C, H·W]`
/// tensors in place, so nothing is transposed (the channel-major [`Geometry`] needs a transpose
/// of the output and of its gradient, which lost on the masked convolutions).
#[cfg(feature = "flex")]
#[derive(Clone, Debug, PartialEq)]
struct TapGeometry {
    c: usize,
    h: usize,
    w: usize,
    ho: usize,
    wo: usize,
    pt: usize,
    pl: usize,
    /// `(u, v)` of each tap, in the order of the weight's columns.
    taps: Vec<(usize, usize)>,
}

#[cfg(feature = "flex")]
impl TapGeometry {
    /// For input `[B, C, H, W]` and `p = [kh, kw, taps, p_top, p_bottom, p_left, p_right]`, where
    /// bit `u·kw + v` of `taps` marks tap `(u, v)` (ascending order).
    fn new(x: [usize; 4], p: [usize; 7]) -> Self {
        let [_, c, h, w] = x;
        let [kh, kw, mask, pt, pb, pl, pr] = p;
        let taps = (0..kh * kw)
            .filter(|&i| mask >> i & 1 == 1)
            .map(|i| (i / kw, i % kw))
            .collect();
        Self {
            c,
            h,
            w,
            ho: h + pt + pb + 1 - kh,
            wo: w + pl + pr + 1 - kw,
            pt,
            pl,
            taps,
        }
    }

    /// Whether the columns are the input itself: one tap that reads every pixel in place.
    fn is_identity(&self) -> bool {
        self.taps == [(self.pt, self.pl)] && (self.ho, self.wo) == (self.h, self.w)
    }

    /// Rows of one image's column matrix: `T·C`.
    fn rows(&self) -> usize {
        self.taps.len() * self.c
    }

    /// Output pixels per image: `ho·wo`.
    fn grid(&self) -> usize {
        self.ho * self.wo
    }

    /// Tap `(u, v)`: the output rows and columns whose input pixel lies inside the image.
    fn span(&self, (u, v): (usize, usize)) -> [std::ops::Range<usize>; 2] {
        [
            Geometry::valid(self.ho, 1, u, self.pt, self.h),
            Geometry::valid(self.wo, 1, v, self.pl, self.w),
        ]
    }

    /// The column matrices of `x`'s `batch` images: `x` itself for the identity layout.
    fn columns<'a>(&self, x: &'a [f32], batch: usize) -> std::borrow::Cow<'a, [f32]> {
        if self.is_identity() {
            std::borrow::Cow::Borrowed(x)
        } else {
            std::borrow::Cow::Owned(self.im2col(x, batch))
        }
    }

    /// `cols[n, (t, c), :, :]` from `x[n, c, :, :]` (`n < batch`).
    fn im2col(&self, x: &[f32], batch: usize) -> Vec<f32> {
        use rayon::prelude::*;
        let (l, hw, c) = (self.grid(), self.h * self.w, self.c);
        let mut cols = vec![0.0f32; batch * self.rows() * l];
        cols.par_chunks_mut(l.max(1))
            .with_min_len(crate::flex::min_parts(self.grid()))
            .enumerate()
            .for_each(|(r, plane)| {
                let (n, tc) = (r / self.rows(), r % self.rows());
                let tap = self.taps[tc / c];
                let src = &x[(n * c + tc % c) * hw..][..hw];
                let [rows, js] = self.span(tap);
                let x0 = js.start + tap.1 - self.pl;
                for i in rows {
                    let y = i + tap.0 - self.pt;
                    plane[i * self.wo..][js.clone()]
                        .copy_from_slice(&src[y * self.w + x0..][..js.len()]);
                }
            });
        cols
    }

    /// The adjoint of [`Self::im2col`]: `x[n, c, y, x] = Σ_t cols[n, (t, c), y − u_t + p_top,
    /// x − v_t + p_left]`.
    fn col2im(&self, cols: &[f32], batch: usize) -> Vec<f32> {
        use rayon::prelude::*;
        let (l, hw, c) = (self.grid(), self.h * self.w, self.c);
        let mut x = vec![0.0f32; batch * c * hw];
        x.par_chunks_mut(hw.max(1))
            .with_min_len(crate::flex::min_parts(self.grid()))
            .enumerate()
            .for_each(|(nc, plane)| {
                let (n, ch) = (nc / c, nc % c);
                for (t, &tap) in self.taps.iter().enumerate() {
                    let src = &cols[(n * self.rows() + t * c + ch) * l..][..l];
                    let [rows, js] = self.span(tap);
                    let x0 = js.start + tap.1 - self.pl;
                    for i in rows {
                        let y = i + tap.0 - self.pt;
                        let dst = &mut plane[y * self.w + x0..][..js.len()];
                        for (d, s) in dst.iter_mut().zip(&src[i * self.wo..][js.clone()]) {
                            *d += s;
                        }
                    }
                }
            });
        x
    }
}

/// The Flex operations and their registration as a backend extension.
#[cfg(feature = "flex")]
// The extension trait's methods take the stride and padding as scalars, one argument each.
#[allow(clippy::too_many_arguments)]
mod flex {
    use super::{Geometry, TapGeometry};
    use crate::flex::{contiguous, tensor, values};
    use crate::gemm::{Mat, matmul, per_image, sum_over_images};
    use burn::backend::autodiff::{
        Autodiff,
        checkpoint::{base::Checkpointer, strategy::CheckpointStrategy},
        grads::Gradients,
        ops::{Backward, Ops, OpsKind},
    };
    use burn::backend::flex::FlexTensor;
    use burn::backend::{
        Backend, Dispatch, Flex, TensorMetadata, backend_extension, tensor::FloatTensor,
    };
    use burn::tensor::{Shape, Tensor};

    #[backend_extension(Flex, Autodiff)]
    pub trait ConvOps: Backend {
        /// `[s_h, s_w, p_top, p_bottom, p_left, p_right]`
        fn conv2d_im2col(
            x: FloatTensor<Self>,
            weight: FloatTensor<Self>,
            sh: usize,
            sw: usize,
            pt: usize,
            pb: usize,
            pl: usize,
            pr: usize,
        ) -> FloatTensor<Self>;
        /// `[s_h, s_w, p_h, p_w, p_out_h, p_out_w]`
        fn conv_transpose2d_col2im(
            x: FloatTensor<Self>,
            weight: FloatTensor<Self>,
            sh: usize,
            sw: usize,
            ph: usize,
            pw: usize,
            oph: usize,
            opw: usize,
        ) -> FloatTensor<Self>;
        /// `x · weight` for `x: [M, K]`, `weight: [K, N]`.
        fn matmul_gemm(x: FloatTensor<Self>, weight: FloatTensor<Self>) -> FloatTensor<Self>;
        /// `weight: [C_out, T·C_in]`; bit `u·kw + v` of `taps` marks a tap.
        fn conv2d_taps_batched(
            x: FloatTensor<Self>,
            weight: FloatTensor<Self>,
            kh: usize,
            kw: usize,
            taps: usize,
            pt: usize,
            pb: usize,
            pl: usize,
            pr: usize,
        ) -> FloatTensor<Self>;
    }

    pub fn conv2d_taps(x: Tensor<4>, weight: Tensor<2>, p: [usize; 7]) -> Tensor<4> {
        Tensor::from_dispatch(<Dispatch as ConvOps>::conv2d_taps_batched(
            x.into_dispatch(),
            weight.into_dispatch(),
            p[0],
            p[1],
            p[2],
            p[3],
            p[4],
            p[5],
            p[6],
        ))
    }

    pub fn linear_product(x: Tensor<2>, weight: Tensor<2>) -> Tensor<2> {
        Tensor::from_dispatch(<Dispatch as ConvOps>::matmul_gemm(
            x.into_dispatch(),
            weight.into_dispatch(),
        ))
    }

    pub fn conv2d(x: Tensor<4>, weight: Tensor<4>, p: [usize; 6]) -> Tensor<4> {
        Tensor::from_dispatch(<Dispatch as ConvOps>::conv2d_im2col(
            x.into_dispatch(),
            weight.into_dispatch(),
            p[0],
            p[1],
            p[2],
            p[3],
            p[4],
            p[5],
        ))
    }

    pub fn conv_transpose2d(x: Tensor<4>, weight: Tensor<4>, p: [usize; 6]) -> Tensor<4> {
        Tensor::from_dispatch(<Dispatch as ConvOps>::conv_transpose2d_col2im(
            x.into_dispatch(),
            weight.into_dispatch(),
            p[0],
            p[1],
            p[2],
            p[3],
            p[4],
            p[5],
        ))
    }

    fn dims4(t: &FlexTensor) -> [usize; 4] {
        t.shape().dims::<4>()
    }

    /// Whether the layer takes [`crate::phase`], which computes it without a column matrix: every
    /// strided layer, and stride-1 layers with a kernel larger than 1×1 over at least
    /// [`PHASE_MIN_CHANNELS`] input channels; not for an empty output. Otherwise `im2col`'s column
    /// matrix.
    fn folds(g: &Geometry) -> bool {
        let strided = g.sh > 1 || g.sw > 1;
        let wide = g.c >= PHASE_MIN_CHANNELS && g.kh * g.kw > 1;
        (strided || wide) && g.gh > 0 && g.gw > 0
    }

    /// Input channels from which a stride-1 layer takes [`crate::phase`]: there each tap is one
    /// product with `k = C`, which for few channels is a thin product, while the column matrix of
    /// `im2col` is `kh·kw` times the input (6× for the Gated PixelCNN's 2×3 vertical stack over 64
    /// channels, where the phase route measured +11% on `cond-pixelcnn`).
    const PHASE_MIN_CHANNELS: usize = 32;

    /// `[A, B, L] → [B, A, L]`: between the batch-major tensors and the channel-major products.
    fn swap01(t: &[f32], a: usize, b: usize, l: usize) -> Vec<f32> {
        use rayon::prelude::*;
        let mut out = vec![0.0f32; t.len()];
        out.par_chunks_mut((a * l).max(1))
            .enumerate()
            .for_each(|(j, block)| {
                for (i, row) in block.chunks_mut(l.max(1)).enumerate() {
                    row.copy_from_slice(&t[(i * b + j) * l..][..l]);
                }
            });
        out
    }

    /// The conv2d geometry over the input `[B, C_in, H, W]` for `weight: [C_out, C_in, kh, kw]`.
    fn conv_geometry(x: [usize; 4], w: [usize; 4], p: [usize; 6]) -> Geometry {
        let [_, c, h, wd] = x;
        let [_, _, kh, kw] = w;
        let [sh, sw, pt, pb, pl, pr] = p;
        Geometry {
            c,
            h,
            w: wd,
            kh,
            kw,
            sh,
            sw,
            pt,
            pl,
            gh: (h + pt + pb - kh) / sh + 1,
            gw: (wd + pl + pr - kw) / sw + 1,
        }
    }

    /// The transposed-convolution geometry over the *output* `[B, C_out, Ho, Wo]`, whose grid is
    /// the input's `H × W`, for `weight: [C_in, C_out, kh, kw]`.
    fn transpose_geometry(x: [usize; 4], w: [usize; 4], p: [usize; 6]) -> Geometry {
        let [_, _, h, wd] = x;
        let [_, c_out, kh, kw] = w;
        let [sh, sw, ph, pw, oph, opw] = p;
        Geometry {
            c: c_out,
            h: (h - 1) * sh + kh + oph - 2 * ph,
            w: (wd - 1) * sw + kw + opw - 2 * pw,
            kh,
            kw,
            sh,
            sw,
            pt: ph,
            pl: pw,
            gh: h,
            gw: wd,
        }
    }

    fn conv_forward(x: FlexTensor, w: FlexTensor, p: [usize; 6]) -> FlexTensor {
        let (x, w) = (contiguous(x), contiguous(w));
        let (xd, wd) = (dims4(&x), dims4(&w));
        let g = conv_geometry(xd, wd, p);
        let (b, c_out, k, l) = (xd[0], wd[0], g.rows(), g.grid());
        if folds(&g) {
            let y = g.folded_forward(values(&x), values(&w), c_out, b);
            return tensor(y, Shape::new([b, c_out, g.gh, g.gw]));
        }
        let cols = g.im2col(values(&x), b); // [K, B·L]
        let mut y = vec![0.0f32; c_out * b * l];
        let w = Mat::new(values(&w), c_out, k);
        matmul(&mut y, w, Mat::new(&cols, k, b * l), false, true); // [C_out, B·L]
        tensor(swap01(&y, c_out, b, l), Shape::new([b, c_out, g.gh, g.gw]))
    }

    /// → (dx, dw), each only if asked for.
    fn conv_backward(
        x: FlexTensor,
        w: FlexTensor,
        dy: FlexTensor,
        p: [usize; 6],
        want: [bool; 2],
    ) -> (Option<FlexTensor>, Option<FlexTensor>) {
        let (x, w, dy) = (contiguous(x), contiguous(w), contiguous(dy));
        let (xd, wd) = (dims4(&x), dims4(&w));
        let g = conv_geometry(xd, wd, p);
        let (b, c_out, k, l) = (xd[0], wd[0], g.rows(), g.grid());
        if folds(&g) {
            let dx = want[0].then(|| {
                let dx = g.folded_input_grad(values(&dy), values(&w), c_out, b);
                tensor(dx, Shape::new(xd))
            });
            let dw = want[1].then(|| {
                let dw = g.folded_weight_grad(values(&x), values(&dy), c_out, b);
                tensor(dw, Shape::new(wd))
            });
            return (dx, dw);
        }
        let dy = swap01(values(&dy), b, c_out, l); // [C_out, B·L]
        let dy = Mat::new(&dy, c_out, b * l);
        let dx = want[0].then(|| {
            let mut dcols = vec![0.0f32; k * b * l];
            matmul(
                &mut dcols,
                Mat::new(values(&w), c_out, k).t(),
                dy,
                false,
                true,
            );
            tensor(g.col2im(&dcols, b), Shape::new(xd))
        });
        let dw = want[1].then(|| {
            // The forward pass's columns again: keeping them (C·kh·kw / C times the input, up to
            // 16× for a 4×4 kernel) for the backward pass would cost more memory than one pass.
            let cols = g.im2col(values(&x), b);
            let mut dw = vec![0.0f32; c_out * k];
            matmul(&mut dw, dy, Mat::new(&cols, k, b * l).t(), false, true);
            tensor(dw, Shape::new(wd))
        });
        (dx, dw)
    }

    fn transpose_forward(x: FlexTensor, w: FlexTensor, p: [usize; 6]) -> FlexTensor {
        let (x, w) = (contiguous(x), contiguous(w));
        let (xd, wd) = (dims4(&x), dims4(&w));
        let g = transpose_geometry(xd, wd, p);
        let (b, c_in, k, l) = (xd[0], xd[1], g.rows(), g.grid());
        if folds(&g) {
            // The input gradient of the convolution whose input has this layer's output shape.
            let y = g.folded_input_grad(values(&x), values(&w), c_in, b);
            return tensor(y, Shape::new([b, g.c, g.h, g.w]));
        }
        let x2 = swap01(values(&x), b, c_in, l); // [C_in, B·L]
        let mut cols = vec![0.0f32; k * b * l];
        let wt = Mat::new(values(&w), c_in, k).t();
        matmul(&mut cols, wt, Mat::new(&x2, c_in, b * l), false, true); // [K, B·L]
        tensor(g.col2im(&cols, b), Shape::new([b, g.c, g.h, g.w]))
    }

    fn transpose_backward(
        x: FlexTensor,
        w: FlexTensor,
        dy: FlexTensor,
        p: [usize; 6],
        want: [bool; 2],
    ) -> (Option<FlexTensor>, Option<FlexTensor>) {
        let (x, w, dy) = (contiguous(x), contiguous(w), contiguous(dy));
        let (xd, wd) = (dims4(&x), dims4(&w));
        let g = transpose_geometry(xd, wd, p);
        let (b, c_in, k, l) = (xd[0], xd[1], g.rows(), g.grid());
        if folds(&g) {
            // That convolution's forward pass and weight gradient, with `dy` as its input.
            let dx = want[0].then(|| {
                let dx = g.folded_forward(values(&dy), values(&w), c_in, b);
                tensor(dx, Shape::new(xd))
            });
            let dw = want[1].then(|| {
                let dw = g.folded_weight_grad(values(&dy), values(&x), c_in, b);
                tensor(dw, Shape::new(wd))
            });
            return (dx, dw);
        }
        let dcols = g.im2col(values(&dy), b); // [K, B·L]
        let dcols = Mat::new(&dcols, k, b * l);
        let dx = want[0].then(|| {
            let mut dx = vec![0.0f32; c_in * b * l];
            matmul(&mut dx, Mat::new(values(&w), c_in, k), dcols, false, true); // [C_in, B·L]
            tensor(swap01(&dx, c_in, b, l), Shape::new(xd))
        });
        let dw = want[1].then(|| {
            let x2 = swap01(values(&x), b, c_in, l); // [C_in, B·L]
            let mut dw = vec![0.0f32; c_in * k];
            matmul(&mut dw, Mat::new(&x2, c_in, b * l), dcols.t(), false, true);
            tensor(dw, Shape::new(wd))
        });
        (dx, dw)
    }

    fn taps_forward(x: FlexTensor, w: FlexTensor, p: [usize; 7]) -> FlexTensor {
        let (x, w) = (contiguous(x), contiguous(w));
        let xd = dims4(&x);
        let g = TapGeometry::new(xd, p);
        let (b, k, l) = (xd[0], g.rows(), g.grid());
        let c_out = w.shape().dims::<2>()[0];
        let cols = g.columns(values(&x), b);
        let w = Mat::new(values(&w), c_out, k);
        let mut y = vec![0.0f32; b * c_out * l];
        per_image(&mut y, c_out * l, |n, out, parallel| {
            matmul(out, w, Mat::new(&cols[n * k * l..], k, l), false, parallel)
        });
        tensor(y, Shape::new([b, c_out, g.ho, g.wo]))
    }

    /// → (dx, dw), each only if asked for.
    fn taps_backward(
        x: FlexTensor,
        w: FlexTensor,
        dy: FlexTensor,
        p: [usize; 7],
        want: [bool; 2],
    ) -> (Option<FlexTensor>, Option<FlexTensor>) {
        let (x, w, dy) = (contiguous(x), contiguous(w), contiguous(dy));
        let xd = dims4(&x);
        let g = TapGeometry::new(xd, p);
        let (b, k, l) = (xd[0], g.rows(), g.grid());
        let c_out = w.shape().dims::<2>()[0];
        let dy_n = |n: usize| Mat::new(&values(&dy)[n * c_out * l..], c_out, l);
        let dx = want[0].then(|| {
            // dcols[n] = Wᵀ · dy[n]; for the identity layout they are the input gradient itself.
            let wt = Mat::new(values(&w), c_out, k).t();
            let mut dcols = vec![0.0f32; b * k * l];
            per_image(&mut dcols, k * l, |n, out, parallel| {
                matmul(out, wt, dy_n(n), false, parallel)
            });
            let dx = if g.is_identity() {
                dcols
            } else {
                g.col2im(&dcols, b)
            };
            tensor(dx, Shape::new(xd))
        });
        let dw = want[1].then(|| {
            // The forward pass's columns again (T times the input; see `conv_backward`).
            let cols = g.columns(values(&x), b);
            let dw = sum_over_images(b, c_out * k, |n, acc, accumulate, parallel| {
                let cols_t = Mat::new(&cols[n * k * l..], k, l).t();
                matmul(acc, dy_n(n), cols_t, accumulate, parallel)
            });
            tensor(dw, Shape::new([c_out, k]))
        });
        (dx, dw)
    }

    fn matmul_forward(x: FlexTensor, w: FlexTensor, _: ()) -> FlexTensor {
        let (x, w) = (contiguous(x), contiguous(w));
        let ([m, k], [_, n]) = (x.shape().dims::<2>(), w.shape().dims::<2>());
        let mut y = vec![0.0f32; m * n];
        matmul(
            &mut y,
            Mat::new(values(&x), m, k),
            Mat::new(values(&w), k, n),
            false,
            true,
        );
        tensor(y, Shape::new([m, n]))
    }

    /// → (dx, dw) = (dy · wᵀ, xᵀ · dy), each only if asked for.
    fn matmul_backward(
        x: FlexTensor,
        w: FlexTensor,
        dy: FlexTensor,
        _: (),
        want: [bool; 2],
    ) -> (Option<FlexTensor>, Option<FlexTensor>) {
        let (x, w, dy) = (contiguous(x), contiguous(w), contiguous(dy));
        let ([m, k], [_, n]) = (x.shape().dims::<2>(), w.shape().dims::<2>());
        let dy = Mat::new(values(&dy), m, n);
        let dx = want[0].then(|| {
            let mut dx = vec![0.0f32; m * k];
            matmul(&mut dx, dy, Mat::new(values(&w), k, n).t(), false, true);
            tensor(dx, Shape::new([m, k]))
        });
        let dw = want[1].then(|| {
            let mut dw = vec![0.0f32; k * n];
            matmul(&mut dw, Mat::new(values(&x), m, k).t(), dy, false, true);
            tensor(dw, Shape::new([k, n]))
        });
        (dx, dw)
    }

    impl ConvOps for Flex {
        fn conv2d_im2col(
            x: FloatTensor<Self>,
            weight: FloatTensor<Self>,
            sh: usize,
            sw: usize,
            pt: usize,
            pb: usize,
            pl: usize,
            pr: usize,
        ) -> FloatTensor<Self> {
            conv_forward(x, weight, [sh, sw, pt, pb, pl, pr])
        }

        fn conv_transpose2d_col2im(
            x: FloatTensor<Self>,
            weight: FloatTensor<Self>,
            sh: usize,
            sw: usize,
            ph: usize,
            pw: usize,
            oph: usize,
            opw: usize,
        ) -> FloatTensor<Self> {
            transpose_forward(x, weight, [sh, sw, ph, pw, oph, opw])
        }

        fn conv2d_taps_batched(
            x: FloatTensor<Self>,
            weight: FloatTensor<Self>,
            kh: usize,
            kw: usize,
            taps: usize,
            pt: usize,
            pb: usize,
            pl: usize,
            pr: usize,
        ) -> FloatTensor<Self> {
            taps_forward(x, weight, [kh, kw, taps, pt, pb, pl, pr])
        }

        fn matmul_gemm(x: FloatTensor<Self>, weight: FloatTensor<Self>) -> FloatTensor<Self> {
            matmul_forward(x, weight, ())
        }
    }

    type BackwardKernel<P> = fn(
        FlexTensor,
        FlexTensor,
        FlexTensor,
        P,
        [bool; 2],
    ) -> (Option<FlexTensor>, Option<FlexTensor>);

    /// The backward pass of any of the operations: inputs `x` and the weight, both kept; `P` are
    /// the operation's geometry parameters.
    #[derive(Debug)]
    struct ConvBackward<P> {
        params: P,
        kernel: BackwardKernel<P>,
    }

    impl<P: Copy + std::fmt::Debug + Send + 'static> Backward<Flex, 2> for ConvBackward<P> {
        type State = (FlexTensor, FlexTensor);

        fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
            let [x_node, w_node] = ops.parents;
            let grad = grads.consume::<Flex>(&ops.node);
            let (x, w) = ops.state;
            let want = [x_node.is_some(), w_node.is_some()];
            let (dx, dw) = (self.kernel)(x, w, grad, self.params, want);
            if let (Some(node), Some(dx)) = (x_node, dx) {
                grads.register::<Flex>(node.id, dx);
            }
            if let (Some(node), Some(dw)) = (w_node, dw) {
                grads.register::<Flex>(node.id, dw);
            }
        }
    }

    fn tracked<C: CheckpointStrategy, P: Copy + std::fmt::Debug + Send + 'static>(
        x: FloatTensor<Autodiff<Flex, C>>,
        w: FloatTensor<Autodiff<Flex, C>>,
        params: P,
        forward: fn(FlexTensor, FlexTensor, P) -> FlexTensor,
        kernel: BackwardKernel<P>,
    ) -> FloatTensor<Autodiff<Flex, C>> {
        match (ConvBackward { params, kernel })
            .prepare::<C>([x.node(), w.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let (xp, wp) = (x.primitive().clone(), w.primitive().clone());
                let out = forward(xp.clone(), wp.clone(), params);
                prep.finish((xp, wp), out)
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(forward(x.into_primitive(), w.into_primitive(), params))
            }
        }
    }

    impl<C: CheckpointStrategy> ConvOps for Autodiff<Flex, C> {
        fn conv2d_im2col(
            x: FloatTensor<Self>,
            weight: FloatTensor<Self>,
            sh: usize,
            sw: usize,
            pt: usize,
            pb: usize,
            pl: usize,
            pr: usize,
        ) -> FloatTensor<Self> {
            let p = [sh, sw, pt, pb, pl, pr];
            tracked::<C, _>(x, weight, p, conv_forward, conv_backward)
        }

        fn conv_transpose2d_col2im(
            x: FloatTensor<Self>,
            weight: FloatTensor<Self>,
            sh: usize,
            sw: usize,
            ph: usize,
            pw: usize,
            oph: usize,
            opw: usize,
        ) -> FloatTensor<Self> {
            let p = [sh, sw, ph, pw, oph, opw];
            tracked::<C, _>(x, weight, p, transpose_forward, transpose_backward)
        }

        fn conv2d_taps_batched(
            x: FloatTensor<Self>,
            weight: FloatTensor<Self>,
            kh: usize,
            kw: usize,
            taps: usize,
            pt: usize,
            pb: usize,
            pl: usize,
            pr: usize,
        ) -> FloatTensor<Self> {
            let p = [kh, kw, taps, pt, pb, pl, pr];
            tracked::<C, _>(x, weight, p, taps_forward, taps_backward)
        }

        fn matmul_gemm(x: FloatTensor<Self>, weight: FloatTensor<Self>) -> FloatTensor<Self> {
            tracked::<C, _>(x, weight, (), matmul_forward, matmul_backward)
        }
    }
}

#[cfg(all(test, feature = "flex"))]
mod tests {
    use super::*;
    use crate::test_util::{max_diff, values};
    use burn::tensor::{Device, Distribution};

    /// The largest difference relative to the reference `b`'s largest magnitude (at least 1).
    fn max_rel_diff(a: &[f32], b: &[f32]) -> f32 {
        max_diff(a, b) / b.iter().fold(1.0f32, |m, v| m.max(v.abs()))
    }

    /// Output, input gradient, weight gradient and bias gradient of `ours` against `burns` under
    /// `loss = Σ y ⊙ r`.
    fn compare(
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
            compare(
                xs,
                ws,
                &move |x, w, b| conv2d(x, w, b, o.clone()),
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
            compare(
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
            &values(conv2d(x.clone(), w.clone(), None, options.clone())),
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
}
