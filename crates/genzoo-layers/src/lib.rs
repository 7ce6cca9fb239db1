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

pub mod adam;
pub mod conv;
#[cfg(feature = "flex")]
mod flex;
pub mod fused;
#[cfg(feature = "flex")]
mod gemm;
pub mod im2col;
pub mod lstm;
pub mod masked;
pub mod norm;
#[cfg(feature = "flex")]
mod phase;
pub mod skew;

pub use conv::{GemmForward, LinearGemm};
pub use lstm::{ConvLstmCell, ConvLstmCellConfig, LstmState, lstm_update};
pub use masked::{MaskType, MaskedConv2d, MaskedConv2dConfig, causal_mask, channel_group};
pub use skew::{skew, unskew};

/// What the tests of the custom Flex operations share.
#[cfg(all(test, feature = "flex"))]
mod test_util {
    use burn::tensor::Tensor;

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
}
