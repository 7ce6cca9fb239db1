//! The convolutions and the linear layer's product as backend-extension operations with
//! hand-written backward passes: the trait [`ConvOps`] with burn's ops as its reference where
//! burn has one, the `Tensor` functions that call it, then the Flex kernels (the column
//! matrices of `im2col.rs` or the folded images of `phase.rs`, multiplied through `gemm.rs`).
//! Which layer takes them, and whether a convolution is folded, is the router's choice; the
//! functions here only run them.

// Without `flex` the generated dispatch has no backend to pass the geometry to.
#![cfg_attr(not(feature = "flex"), allow(unused_variables))]

use burn::backend::ops::ModuleOps;
use burn::backend::{Backend, Dispatch, backend_extension, tensor::FloatTensor};
use burn::tensor::Tensor;
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};

/// Convolutions and products that a backend may compute with its own kernels. The default
/// bodies are burn's own ops (the reference the Flex kernels are tested against); the tap
/// product has no single burn op and every backend that takes it implements it.
#[backend_extension(Flex: cfg(feature = "flex"), Autodiff)]
pub trait ConvOps: Backend {
    /// `conv2d` for `p = [s_h, s_w, p_top, p_bottom, p_left, p_right]`; `fold`: through the
    /// folded images of `phase.rs` (required at stride > 1) rather than a column matrix.
    fn conv2d_im2col(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        p: [usize; 6],
        fold: bool,
    ) -> FloatTensor<Self> {
        let _ = fold;
        let [sh, sw, pt, pb, pl, pr] = p;
        let options = ConvOptions::new_with_padding([sh, sw], [(pt, pb), (pl, pr)], [1, 1], 1);
        Self::conv2d(x, weight, None, options)
    }

    /// `conv_transpose2d` for `p = [s_h, s_w, p_h, p_w, p_out_h, p_out_w]`; `fold` as for
    /// [`ConvOps::conv2d_im2col`], over the output.
    fn conv_transpose2d_col2im(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        p: [usize; 6],
        fold: bool,
    ) -> FloatTensor<Self> {
        let _ = fold;
        let [sh, sw, ph, pw, oph, opw] = p;
        let options = ConvTransposeOptions::new([sh, sw], [ph, pw], [oph, opw], [1, 1], 1);
        Self::conv_transpose2d(x, weight, None, options)
    }

    /// `x · weight` for `x: [M, K]`, `weight: [K, N]`.
    fn matmul_gemm(x: FloatTensor<Self>, weight: FloatTensor<Self>) -> FloatTensor<Self> {
        Self::float_matmul(x, weight)
    }

    /// The stride-1 correlation over the kept taps in the batch-major layout:
    /// `weight: [C_out, T·C_in]`, `p = [kh, kw, taps, p_top, p_bottom, p_left, p_right]`, bit
    /// `u·kw + v` of `taps` marking tap `(u, v)`.
    fn conv2d_taps_batched(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        p: [usize; 7],
    ) -> FloatTensor<Self>;

    /// Max pooling over 2×2 windows at stride 2, no padding (a last odd row or column is
    /// dropped): `[B, C, H, W] → [B, C, ⌊H/2⌋, ⌊W/2⌋]`.
    fn max_pool2x2(x: FloatTensor<Self>) -> FloatTensor<Self> {
        <Self as ModuleOps<Self>>::max_pool2d(x, [2, 2], [2, 2], [0, 0], [1, 1], false)
    }
}

/// [`ConvOps::conv2d_taps_batched`] on tensors.
pub fn conv2d_taps(x: Tensor<4>, weight: Tensor<2>, p: [usize; 7]) -> Tensor<4> {
    let (x, weight) = (x.into_dispatch(), weight.into_dispatch());
    Tensor::from_dispatch(<Dispatch as ConvOps>::conv2d_taps_batched(x, weight, p))
}

/// [`ConvOps::max_pool2x2`] on tensors.
pub fn max_pool2x2(x: Tensor<4>) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as ConvOps>::max_pool2x2(x.into_dispatch()))
}

/// [`ConvOps::matmul_gemm`] on tensors.
pub fn linear_product(x: Tensor<2>, weight: Tensor<2>) -> Tensor<2> {
    let (x, weight) = (x.into_dispatch(), weight.into_dispatch());
    Tensor::from_dispatch(<Dispatch as ConvOps>::matmul_gemm(x, weight))
}

/// [`ConvOps::conv2d_im2col`] on tensors.
pub fn conv2d(x: Tensor<4>, weight: Tensor<4>, p: [usize; 6], fold: bool) -> Tensor<4> {
    let (x, weight) = (x.into_dispatch(), weight.into_dispatch());
    Tensor::from_dispatch(<Dispatch as ConvOps>::conv2d_im2col(x, weight, p, fold))
}

/// [`ConvOps::conv_transpose2d_col2im`] on tensors.
pub fn conv_transpose2d(x: Tensor<4>, weight: Tensor<4>, p: [usize; 6], fold: bool) -> Tensor<4> {
    let (x, weight) = (x.into_dispatch(), weight.into_dispatch());
    Tensor::from_dispatch(<Dispatch as ConvOps>::conv_transpose2d_col2im(
        x, weight, p, fold,
    ))
}

/// The Flex kernels, and the operations' registration on Flex with and without autodiff.
#[cfg(feature = "flex")]
mod flex {
    use super::ConvOps;
    use crate::autodiff::tracked;
    use crate::flex::{contiguous, tensor, values};
    use crate::gemm::{Mat, matmul, per_image, sum_over_images};
    use crate::im2col::{Geometry, TapGeometry};
    use burn::backend::autodiff::{Autodiff, checkpoint::strategy::CheckpointStrategy};
    use burn::backend::flex::FlexTensor;
    use burn::backend::{Flex, TensorMetadata, tensor::FloatTensor};
    use burn::tensor::Shape;

    /// A convolution layer's `[s_h, s_w, pad…]`, whether it is folded (see [`ConvOps`]) and
    /// whether it is transposed.
    type ConvParams = ([usize; 6], bool, bool);

    fn dims4(t: &FlexTensor) -> [usize; 4] {
        t.shape().dims::<4>()
    }

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
        Geometry::conv(x[1], [x[2], x[3]], [w[2], w[3]], p)
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

    /// A convolution `W ⊛ input` over `b` images to `o` channels (`W: [o, K]`) and its weight
    /// gradient `Σ other · im2col(input)ᵀ`, `other` being the gradient of its output, each if
    /// asked for: folded, or through one column matrix of `input` shared by both products.
    fn forward_and_weight_grad(
        g: &Geometry,
        [input, w, other]: [&[f32]; 3],
        (o, b, fold): (usize, usize, bool),
        want: [bool; 2],
    ) -> [Option<Vec<f32>>; 2] {
        if fold {
            return [
                want[0].then(|| g.folded_forward(input, w, o, b)),
                want[1].then(|| g.folded_weight_grad(input, other, o, b)),
            ];
        }
        let (k, l) = (g.rows(), g.grid());
        let cols = g.im2col(input, b); // [K, B·L]
        let cols = Mat::new(&cols, k, b * l);
        let y = want[0].then(|| {
            let mut y = vec![0.0f32; o * b * l];
            matmul(&mut y, Mat::new(w, o, k), cols, false, true); // [o, B·L]
            swap01(&y, o, b, l)
        });
        let dw = want[1].then(|| {
            let other = swap01(other, b, o, l); // [o, B·L]
            let mut dw = vec![0.0f32; o * k];
            matmul(&mut dw, Mat::new(&other, o, b * l), cols.t(), false, true);
            dw
        });
        [y, dw]
    }

    /// The adjoint of that convolution, `col2im(Wᵀ · dy)`, and its weight gradient
    /// `Σ dy · im2col(x)ᵀ`, each if asked for: folded, or through one channel-major copy of `dy`
    /// shared by both products. The weight gradient builds the forward pass's columns again:
    /// keeping them (`kh·kw` times the input, 16× for a 4×4 kernel) would cost more memory.
    fn input_and_weight_grad(
        g: &Geometry,
        [dy, w, x]: [&[f32]; 3],
        (o, b, fold): (usize, usize, bool),
        want: [bool; 2],
    ) -> [Option<Vec<f32>>; 2] {
        if fold {
            return [
                want[0].then(|| g.folded_input_grad(dy, w, o, b)),
                want[1].then(|| g.folded_weight_grad(x, dy, o, b)),
            ];
        }
        let (k, l) = (g.rows(), g.grid());
        let dy = swap01(dy, b, o, l); // [o, B·L]
        let dy = Mat::new(&dy, o, b * l);
        let dx = want[0].then(|| {
            let mut dcols = vec![0.0f32; k * b * l];
            matmul(&mut dcols, Mat::new(w, o, k).t(), dy, false, true); // [K, B·L]
            g.col2im(&dcols, b)
        });
        let dw = want[1].then(|| {
            let cols = g.im2col(x, b);
            let mut dw = vec![0.0f32; o * k];
            matmul(&mut dw, dy, Mat::new(&cols, k, b * l).t(), false, true);
            dw
        });
        [dx, dw]
    }

    /// `values` as a tensor of `shape`, if computed.
    fn shaped(values: Option<Vec<f32>>, shape: [usize; 4]) -> Option<FlexTensor> {
        values.map(|v| tensor(v, Shape::new(shape)))
    }

    /// The geometry of a convolution layer (`transposed`: of the convolution whose adjoint the
    /// layer is, over the layer's output) and that convolution's output channels.
    fn geometry(x: [usize; 4], w: [usize; 4], (p, _, transposed): ConvParams) -> (Geometry, usize) {
        if transposed {
            (transpose_geometry(x, w, p), x[1])
        } else {
            (conv_geometry(x, w, p), w[0])
        }
    }

    /// A convolution layer's output: the convolution of its geometry, or for a transposed layer
    /// that convolution's adjoint (its input gradient).
    fn conv_forward(x: FlexTensor, w: FlexTensor, params: ConvParams) -> FlexTensor {
        let (x, w) = (contiguous(x), contiguous(w));
        let (xd, wd) = (dims4(&x), dims4(&w));
        let (g, o) = geometry(xd, wd, params);
        let (_, fold, transposed) = params;
        let run = if transposed {
            input_and_weight_grad
        } else {
            forward_and_weight_grad
        };
        let [y, _] = run(
            &g,
            [values(&x), values(&w), &[]],
            (o, xd[0], fold),
            [true, false],
        );
        let shape = if transposed {
            [xd[0], g.c, g.h, g.w]
        } else {
            [xd[0], o, g.gh, g.gw]
        };
        tensor(y.expect("asked for"), Shape::new(shape))
    }

    /// → `[dx, dw]`, each only if asked for: for a transposed layer, the forward pass and weight
    /// gradient of its convolution with `dy` as that convolution's input.
    fn conv_backward(
        (x, w): (FlexTensor, FlexTensor),
        dy: FlexTensor,
        params: ConvParams,
        want: [bool; 2],
    ) -> [Option<FlexTensor>; 2] {
        let (x, w, dy) = (contiguous(x), contiguous(w), contiguous(dy));
        let (xd, wd) = (dims4(&x), dims4(&w));
        let (g, o) = geometry(xd, wd, params);
        let (_, fold, transposed) = params;
        let run = if transposed {
            forward_and_weight_grad
        } else {
            input_and_weight_grad
        };
        let [dx, dw] = run(
            &g,
            [values(&dy), values(&w), values(&x)],
            (o, xd[0], fold),
            want,
        );
        [shaped(dx, xd), shaped(dw, wd)]
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
        (x, w): (FlexTensor, FlexTensor),
        dy: FlexTensor,
        p: [usize; 7],
        want: [bool; 2],
    ) -> [Option<FlexTensor>; 2] {
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
        [dx, dw]
    }

    fn matmul_forward(x: FlexTensor, w: FlexTensor) -> FlexTensor {
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
        (x, w): (FlexTensor, FlexTensor),
        dy: FlexTensor,
        _: (),
        want: [bool; 2],
    ) -> [Option<FlexTensor>; 2] {
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
        [dx, dw]
    }

    impl ConvOps for Flex {
        fn conv2d_im2col(x: FlexTensor, w: FlexTensor, p: [usize; 6], fold: bool) -> FlexTensor {
            conv_forward(x, w, (p, fold, false))
        }

        fn conv_transpose2d_col2im(
            x: FlexTensor,
            w: FlexTensor,
            p: [usize; 6],
            fold: bool,
        ) -> FlexTensor {
            conv_forward(x, w, (p, fold, true))
        }

        fn matmul_gemm(x: FlexTensor, w: FlexTensor) -> FlexTensor {
            matmul_forward(x, w)
        }

        fn conv2d_taps_batched(x: FlexTensor, w: FlexTensor, p: [usize; 7]) -> FlexTensor {
            taps_forward(x, w, p)
        }

        fn max_pool2x2(x: FlexTensor) -> FlexTensor {
            pool_forward(x)
        }
    }

    /// The larger of `a` and `b`, NaN if either is (as burn's pooling).
    fn max_nan(a: f32, b: f32) -> f32 {
        if a > b || a.is_nan() { a } else { b }
    }

    /// [`ConvOps::max_pool2x2`]: one pass over each pair of input rows, planes in parallel.
    /// burn-flex's general pooling computes every window's position with integer divisions (41%
    /// of genzoo-LeNet's feature extraction in `perf`).
    fn pool_forward(x: FlexTensor) -> FlexTensor {
        use rayon::prelude::*;
        let [b, c, h, w] = dims4(&x);
        let x = contiguous(x);
        let (ho, wo) = (h / 2, w / 2);
        let mut out = vec![0.0f32; b * c * ho * wo];
        if !out.is_empty() {
            let planes = crate::flex::min_parts(h * w);
            out.par_chunks_mut(ho * wo * planes)
                .zip(values(&x).par_chunks(h * w * planes))
                .for_each(|(out, input)| {
                    for (out, plane) in out.chunks_mut(ho * wo).zip(input.chunks(h * w)) {
                        for (r, row) in out.chunks_mut(wo).enumerate() {
                            let top = &plane[2 * r * w..][..2 * wo];
                            let bottom = &plane[(2 * r + 1) * w..][..2 * wo];
                            for ((y, t), u) in
                                row.iter_mut().zip(top.chunks(2)).zip(bottom.chunks(2))
                            {
                                *y = max_nan(max_nan(t[0], t[1]), max_nan(u[0], u[1]));
                            }
                        }
                    }
                });
        }
        tensor(out, Shape::new([b, c, ho, wo]))
    }

    /// Every operation keeps its two inputs for the backward pass.
    fn both(inputs: [FlexTensor; 2], _: &FlexTensor) -> (FlexTensor, FlexTensor) {
        let [x, w] = inputs;
        (x, w)
    }

    /// A convolution layer under autodiff.
    fn conv_layer<C: CheckpointStrategy>(
        x: FloatTensor<Autodiff<Flex, C>>,
        w: FloatTensor<Autodiff<Flex, C>>,
        params: ConvParams,
    ) -> FloatTensor<Autodiff<Flex, C>> {
        let forward = |[x, w]: [FlexTensor; 2]| conv_forward(x, w, params);
        tracked::<Flex, C, _, _, 2>([x, w], params, forward, both, conv_backward)
    }

    impl<C: CheckpointStrategy> ConvOps for Autodiff<Flex, C> {
        fn conv2d_im2col(
            x: FloatTensor<Self>,
            w: FloatTensor<Self>,
            p: [usize; 6],
            fold: bool,
        ) -> FloatTensor<Self> {
            conv_layer::<C>(x, w, (p, fold, false))
        }

        fn conv_transpose2d_col2im(
            x: FloatTensor<Self>,
            w: FloatTensor<Self>,
            p: [usize; 6],
            fold: bool,
        ) -> FloatTensor<Self> {
            conv_layer::<C>(x, w, (p, fold, true))
        }

        fn matmul_gemm(x: FloatTensor<Self>, w: FloatTensor<Self>) -> FloatTensor<Self> {
            let forward = |[x, w]: [FlexTensor; 2]| matmul_forward(x, w);
            tracked::<Flex, C, _, _, 2>([x, w], (), forward, both, matmul_backward)
        }

        fn conv2d_taps_batched(
            x: FloatTensor<Self>,
            w: FloatTensor<Self>,
            p: [usize; 7],
        ) -> FloatTensor<Self> {
            let forward = |[x, w]: [FlexTensor; 2]| taps_forward(x, w, p);
            tracked::<Flex, C, _, _, 2>([x, w], p, forward, both, taps_backward)
        }
    }
}
