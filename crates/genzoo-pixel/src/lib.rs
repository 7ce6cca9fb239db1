//! # genzoo-pixel — autoregressive pixel models on burn
//!
//! CS231n lecture 13, §2.1: explicit-density models that factor an image into a product of
//! conditionals, `p(x) = Π_i p(x_i | x_<i)`, over sub-pixels in raster order (R → G → B within a
//! pixel). Here: **PixelCNN** (van den Oord et al. 2016, arXiv:1601.06759) with an exact
//! `log_prob`; **Gated PixelCNN** with vertical and horizontal stacks and class conditioning
//! (van den Oord et al. 2016, arXiv:1606.05328); **PixelRNN**'s Row LSTM and Diagonal BiLSTM
//! (arXiv:1601.06759, [`pixelrnn`]); and, apart from the networks, the samplers:
//! naive autoregressive sampling (one forward pass per sub-pixel), fast cached sampling
//! (Ramachandran et al. 2017, arXiv:1704.06001) of PixelCNN ([`cached`]), of Gated PixelCNN
//! ([`cached_gated`]) and of both PixelRNN models ([`cached_rnn`]), and completion of partial
//! images. With the feature `train`, [`train`] holds one training task for all of them
//! (`genzoo-train`'s loop), presets per dataset and checks against a dataset; the README opens
//! with a first run: train PixelCNN on mini-MNIST and write a PNG of samples.
//!
//! ```
//! use burn::tensor::{Device, Distribution, Tensor};
//! use genzoo_pixel::{PixelCnnConfig, sampling::{SampleOptions, sample_naive}};
//!
//! let device = Device::flex();
//! let model = PixelCnnConfig::mnist()
//!     .with_image_size(4)
//!     .with_hidden(8)
//!     .with_residual_blocks(1)
//!     .with_head_hidden(8)
//!     .init(&device);
//! let x = Tensor::<4>::random([2, 1, 4, 4], Distribution::Bernoulli(0.5), &device);
//! let log_p = model.log_prob(x); // [2], nats
//! assert!(log_p.into_data().iter::<f32>().all(|v| v < 0.0));
//! let samples = sample_naive(&model, 3, &SampleOptions::new(7), &device).unwrap();
//! assert_eq!(samples.dims(), [3, 1, 4, 4]);
//! ```

pub mod cached;
pub mod cached_gated;
pub mod cached_rnn;
mod common;
pub mod error;
pub mod gated;
pub mod pixelcnn;
pub mod pixelrnn;
#[cfg(feature = "train")]
pub mod pretrained;
pub mod sampling;
#[cfg(feature = "train")]
pub mod train;

pub use error::{Error, Result};
pub use gated::{GatedPixelCnn, GatedPixelCnnConfig};
pub use pixelcnn::{PixelCnn, PixelCnnConfig, PixelCnnOutput, log_prob_from_logits};
pub use pixelrnn::{PixelRnn, PixelRnnConfig, PixelRnnOutput, RnnKind};
pub use sampling::Autoregressive;

/// What the unit tests share.
#[cfg(test)]
mod test_util {
    use burn::tensor::{Device, Tensor, TensorData};
    use proptest::prelude::*;

    /// A tensor's values as `f32`.
    pub fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        crate::sampling::host_f32(t).expect("f32")
    }

    /// Asserts that `log_prob` (`[B, C, H, W]` → `[B]`, nats) sums to probability 1 (within 1e-4)
    /// over every image of `[c, size, size]` sub-pixels with `levels` values each: a model that
    /// leaks a sub-pixel into its own conditional does not.
    pub fn assert_normalised(
        log_prob: impl Fn(Tensor<4>) -> Tensor<1>,
        [c, size]: [usize; 2],
        levels: usize,
        device: &Device,
        what: &str,
    ) {
        let dims = c * size * size;
        let n = levels.pow(dims as u32);
        let mut x = Vec::with_capacity(n * dims);
        for mut code in 0..n {
            for _ in 0..dims {
                x.push((code % levels) as f32 / (levels - 1) as f32);
                code /= levels;
            }
        }
        let x = Tensor::from_data(TensorData::new(x, [n, c, size, size]), device);
        let total: f64 = values(log_prob(x))
            .iter()
            .map(|&l| f64::from(l).exp())
            .sum();
        assert!((total - 1.0).abs() < 1e-4, "{what}: Σ p(x) = {total}");
    }

    /// A random image for [`causal_moves`]: `[C, size]` (1 or 3 channels), the fraction of its
    /// sub-pixels kept, and the seed of its values.
    #[derive(Debug, Clone, Copy)]
    pub struct CausalCase {
        pub shape: [usize; 2],
        frac: f64,
        seed: u64,
    }

    /// Random [`CausalCase`]s of image sides in `sizes`.
    pub fn causal_case(sizes: std::ops::Range<usize>) -> impl Strategy<Value = CausalCase> {
        (any::<bool>(), sizes, 0.0f64..1.0, any::<u64>()).prop_map(|(rgb, size, frac, seed)| {
            CausalCase {
                shape: [if rgb { 3 } else { 1 }, size],
                frac,
                seed,
            }
        })
    }

    /// What changing the later sub-pixels of an image did to the logits, see [`causal_moves`].
    pub struct Moves {
        /// The first changed sub-pixel (order position: raster, then channel).
        pub i: usize,
        /// The first logit of a sub-pixel at position ≤ `i` that moved by more than 1e-5:
        /// `(channel, pixel, before, after)`.
        pub early: Option<(usize, usize, f32, f32)>,
        /// Whether a logit of a sub-pixel after `i` moved by more than 1e-6.
        pub later: bool,
    }

    /// Runs `logits` (`[1, C, H, W]` → `[1, C, outs, H, W]`) on the pseudo-random image of `case`
    /// and on a copy with every sub-pixel at order position `≥ i = ⌊frac · C·H·W⌋` changed, and
    /// compares the logits: a causal model moves none at positions `≤ i`.
    pub fn causal_moves(
        logits: impl Fn(Tensor<4>) -> Tensor<5>,
        case: CausalCase,
        device: &Device,
    ) -> Moves {
        let CausalCase {
            shape: [c, size],
            frac,
            seed,
        } = case;
        let hw = size * size;
        let i = ((hw * c) as f64 * frac) as usize;
        let mut r = seed | 1;
        let mut next = || {
            r ^= r << 13;
            r ^= r >> 7;
            r ^= r << 17;
            (r >> 40) as f32 / (1u64 << 24) as f32
        };
        let x: Vec<f32> = (0..c * hw).map(|_| next()).collect();
        let mut x2 = x.clone();
        for ch in 0..c {
            for p in 0..hw {
                if p * c + ch >= i {
                    x2[ch * hw + p] = 1.0 - x2[ch * hw + p] + 0.25;
                }
            }
        }
        let run = |v: Vec<f32>| {
            let out = logits(Tensor::from_data(
                TensorData::new(v, [1, c, size, size]),
                device,
            ));
            (out.dims()[2], values(out))
        };
        let ((outs, y), (_, y2)) = (run(x), run(x2));
        let mut moves = Moves {
            i,
            early: None,
            later: false,
        };
        for ch in 0..c {
            for k in 0..outs {
                for p in 0..hw {
                    let j = (ch * outs + k) * hw + p;
                    let moved = (y[j] - y2[j]).abs();
                    if p * c + ch <= i {
                        if moved > 1e-5 && moves.early.is_none() {
                            moves.early = Some((ch, p, y[j], y2[j]));
                        }
                    } else if moved > 1e-6 {
                        moves.later = true;
                    }
                }
            }
        }
        moves
    }
}

/// The README's examples, compiled and run as doctests.
#[cfg(all(doctest, feature = "train"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
