//! # genzoo-layers — building blocks shared by genzoo's models
//!
//! Layers that are not in burn and that several models of the zoo need. So far: the masked
//! (causal) 2-D convolution of PixelCNN and PixelRNN (van den Oord et al. 2016,
//! arXiv:1601.06759), with mask types **A** and **B** and the RGB channel-group masking of the
//! PixelRNN paper; the convolutional LSTM step of PixelRNN's Row LSTM and Diagonal BiLSTM
//! ([`lstm`]) and the skewing of feature maps that turns diagonals into columns ([`skew`]); and
//! plain convolutions and transposed convolutions computed as one matrix product each ([`conv`]),
//! whose gradients are far faster than burn's CPU path (`docs/performance.md`). On the Flex CPU
//! backend, custom operations with hand-written backward passes replace compositions of burn's
//! ops: the gated and LSTM activations, LeakyReLU and `tanh` ([`fused`]), convolutions as im2col +
//! GEMM at stride 1 and folded into their stride phases otherwise, and linear layers ([`im2col`]),
//! and BatchNorm's training pass ([`norm`]); on other backends they are burn's ops. [`adam`] is
//! burn's Adam in one pass per parameter on Flex. This crate knows nothing about datasets or
//! training.
//!
//! ```
//! use burn::tensor::{Device, Distribution, Tensor};
//! use genzoo_layers::{MaskType, MaskedConv2dConfig};
//!
//! let device = Device::flex();
//! // The first layer of PixelCNN on MNIST: 7×7, mask A (the centre pixel is not seen).
//! let conv = MaskedConv2dConfig::new([1, 16], [7, 7], MaskType::A).init(&device);
//! let x = Tensor::<4>::random([2, 1, 28, 28], Distribution::Uniform(0.0, 1.0), &device);
//! assert_eq!(conv.forward(x).dims(), [2, 16, 28, 28]);
//! ```

// Layers, from the bottom: kernels on `f32` slices (`flex`, `gemm`, `im2col`, `phase`) and the
// backward node of the custom operations (`autodiff`); convolution operations (`conv`, `conv_ops`)
// and `skew`; the choice of kernel (`route`); what asks it: the element-wise functions (`fused`),
// BatchNorm (`norm`), the layers (`masked`, `lstm`) and the optimizer (`adam`). A module uses only
// modules below it.
pub mod adam;
#[cfg_attr(not(feature = "flex"), allow(dead_code))]
mod autodiff;
pub mod conv;
mod conv_ops;
#[cfg(feature = "flex")]
mod flex;
pub mod fused;
#[cfg(feature = "flex")]
mod gemm;
#[cfg(feature = "flex")]
mod im2col;
pub mod lstm;
pub mod masked;
pub mod norm;
#[cfg(feature = "flex")]
mod phase;
pub mod route;
pub mod skew;

pub use conv_ops::ConvOps;
pub use lstm::{ConvLstmCell, ConvLstmCellConfig, LstmState, lstm_update};
pub use masked::{MaskType, MaskedConv2d, MaskedConv2dConfig, causal_mask, channel_group};
pub use route::{RoutedForward, conv_transpose2d, conv2d, conv2d_stacked, linear, max_pool2x2};
pub use skew::{skew, unskew};

/// What the tests of the operations share.
#[cfg(test)]
// Without `flex`, only the tests of the tensor-op compositions run.
#[cfg_attr(not(feature = "flex"), allow(dead_code))]
mod test_util {
    use burn::tensor::{Device, Distribution, Tensor};

    /// A tensor's values as `f32`.
    pub fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .expect("f32")
    }

    /// The largest absolute difference of two equally long slices.
    pub fn max_diff(a: &[f32], b: &[f32]) -> f32 {
        assert_eq!(a.len(), b.len());
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max)
    }

    /// Each of `ours` within `tol` of the `reference` beside it (largest absolute difference),
    /// named by `names`; `context` says which case failed.
    pub fn assert_each_within(
        names: &[&str],
        ours: &[Vec<f32>],
        reference: &[Vec<f32>],
        tol: f32,
        context: &str,
    ) {
        for (what, (a, b)) in names.iter().zip(ours.iter().zip(reference)) {
            let d = max_diff(a, b);
            assert!(d < tol, "{what}: {d} for {context}");
        }
    }

    pub fn assert_close(a: &[f32], b: &[f32], what: &str) {
        assert_eq!(a.len(), b.len(), "{what}: lengths");
        let scale = b.iter().fold(1.0f32, |m, v| m.max(v.abs()));
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert!(
                (x - y).abs() <= 1e-5 * scale,
                "{what}[{i}]: ours {x} vs reference {y} (scale {scale})"
            );
        }
    }

    /// Output, weight, bias and input gradients of `fast` and `reference` under a random
    /// cotangent.
    pub fn compare(
        what: &str,
        x_shape: [usize; 4],
        w_shape: [usize; 4],
        bias: usize,
        f: &dyn Fn(Tensor<4>, Tensor<4>, Option<Tensor<1>>, bool) -> Tensor<4>,
    ) {
        let device = Device::flex().autodiff();
        let normal = Distribution::Normal(0.0, 1.0);
        let x = Tensor::<4>::random(x_shape, normal, &device).require_grad();
        let w = Tensor::<4>::random(w_shape, normal, &device).require_grad();
        let b = (bias > 0).then(|| Tensor::<1>::random([bias], normal, &device).require_grad());
        let mut out = Vec::new();
        let mut r = None;
        for fast in [true, false] {
            let y = f(x.clone(), w.clone(), b.clone(), fast);
            let r = r
                .get_or_insert_with(|| Tensor::<4>::random(y.dims(), normal, &device))
                .clone();
            assert_eq!(y.dims(), r.dims(), "{what}: output shape");
            let grads = (y.clone() * r).sum().backward();
            out.push((
                values(y.inner()),
                values(w.grad(&grads).expect("dw")),
                b.as_ref().map(|b| values(b.grad(&grads).expect("db"))),
                values(x.grad(&grads).expect("dx")),
            ));
        }
        assert_outputs_close(&out[0], &out[1], what);
    }

    /// Output, weight gradient, bias gradient (if any) and input gradient of one route.
    pub type Outputs = (Vec<f32>, Vec<f32>, Option<Vec<f32>>, Vec<f32>);

    /// Each of `fast`'s values against `reference`'s ([`assert_close`]).
    pub fn assert_outputs_close(fast: &Outputs, reference: &Outputs, what: &str) {
        assert_close(&fast.0, &reference.0, &format!("{what} output"));
        assert_close(&fast.1, &reference.1, &format!("{what} weight gradient"));
        if let (Some(a), Some(b)) = (&fast.2, &reference.2) {
            assert_close(a, b, &format!("{what} bias gradient"));
        }
        assert_close(&fast.3, &reference.3, &format!("{what} input gradient"));
    }
}
