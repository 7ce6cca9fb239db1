//! The convolutions and the linear layer's product as custom operations of the Flex backend, with
//! hand-written backward passes: the backend-extension trait [`ConvOps`], its Flex kernels (the
//! column matrices of [`crate::im2col`] or the folded images of [`crate::phase`], multiplied
//! through [`crate::gemm`]) and their backward node. Which layer takes them, and whether a
//! convolution is folded, is [`crate::route`]'s choice; the functions here only run them.

// The extension trait's methods take the stride and padding as scalars, one argument each.
#![allow(clippy::too_many_arguments)]

use crate::flex::{contiguous, tensor, values};
use crate::gemm::{Mat, matmul, per_image, sum_over_images};
use crate::im2col::{Geometry, TapGeometry};
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
    /// `[s_h, s_w, p_top, p_bottom, p_left, p_right]`; `fold`: through [`crate::phase`]
    /// (required at stride > 1) rather than a column matrix.
    fn conv2d_im2col(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        sh: usize,
        sw: usize,
        pt: usize,
        pb: usize,
        pl: usize,
        pr: usize,
        fold: bool,
    ) -> FloatTensor<Self>;
    /// `[s_h, s_w, p_h, p_w, p_out_h, p_out_w]`; `fold` as for `conv2d_im2col`.
    fn conv_transpose2d_col2im(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        sh: usize,
        sw: usize,
        ph: usize,
        pw: usize,
        oph: usize,
        opw: usize,
        fold: bool,
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

pub fn conv2d(x: Tensor<4>, weight: Tensor<4>, p: [usize; 6], fold: bool) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as ConvOps>::conv2d_im2col(
        x.into_dispatch(),
        weight.into_dispatch(),
        p[0],
        p[1],
        p[2],
        p[3],
        p[4],
        p[5],
        fold,
    ))
}

pub fn conv_transpose2d(x: Tensor<4>, weight: Tensor<4>, p: [usize; 6], fold: bool) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as ConvOps>::conv_transpose2d_col2im(
        x.into_dispatch(),
        weight.into_dispatch(),
        p[0],
        p[1],
        p[2],
        p[3],
        p[4],
        p[5],
        fold,
    ))
}

/// A convolution's `[s_h, s_w, pad…]` and whether it is folded (see [`ConvOps`]).
type ConvParams = ([usize; 6], bool);

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

fn conv_forward(x: FlexTensor, w: FlexTensor, (p, fold): ConvParams) -> FlexTensor {
    let (x, w) = (contiguous(x), contiguous(w));
    let (xd, wd) = (dims4(&x), dims4(&w));
    let g = conv_geometry(xd, wd, p);
    let (b, c_out, k, l) = (xd[0], wd[0], g.rows(), g.grid());
    if fold {
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
    (p, fold): ConvParams,
    want: [bool; 2],
) -> (Option<FlexTensor>, Option<FlexTensor>) {
    let (x, w, dy) = (contiguous(x), contiguous(w), contiguous(dy));
    let (xd, wd) = (dims4(&x), dims4(&w));
    let g = conv_geometry(xd, wd, p);
    let (b, c_out, k, l) = (xd[0], wd[0], g.rows(), g.grid());
    if fold {
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

fn transpose_forward(x: FlexTensor, w: FlexTensor, (p, fold): ConvParams) -> FlexTensor {
    let (x, w) = (contiguous(x), contiguous(w));
    let (xd, wd) = (dims4(&x), dims4(&w));
    let g = transpose_geometry(xd, wd, p);
    let (b, c_in, k, l) = (xd[0], xd[1], g.rows(), g.grid());
    if fold {
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
    (p, fold): ConvParams,
    want: [bool; 2],
) -> (Option<FlexTensor>, Option<FlexTensor>) {
    let (x, w, dy) = (contiguous(x), contiguous(w), contiguous(dy));
    let (xd, wd) = (dims4(&x), dims4(&w));
    let g = transpose_geometry(xd, wd, p);
    let (b, c_in, k, l) = (xd[0], xd[1], g.rows(), g.grid());
    if fold {
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
        fold: bool,
    ) -> FloatTensor<Self> {
        conv_forward(x, weight, ([sh, sw, pt, pb, pl, pr], fold))
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
        fold: bool,
    ) -> FloatTensor<Self> {
        transpose_forward(x, weight, ([sh, sw, ph, pw, oph, opw], fold))
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
        fold: bool,
    ) -> FloatTensor<Self> {
        let p = ([sh, sw, pt, pb, pl, pr], fold);
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
        fold: bool,
    ) -> FloatTensor<Self> {
        let p = ([sh, sw, ph, pw, oph, opw], fold);
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
