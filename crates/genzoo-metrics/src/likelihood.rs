//! Likelihood in the units the literature reports, and the numerically careful building blocks
//! that compute it from logits.
//!
//! Conventions (say which one in every report):
//! - **Discrete data** (binarized MNIST, 8-bit images modelled by a 256-way softmax): the NLL of
//!   an image in nats, and `bits/dim = nll_nats / (D · ln 2)`.
//! - **Dequantized data**: a density `p(y)` on `[0, 1]^D` for `y = (x + u) / 256`, `u ~ U[0, 1)^D`.
//!   Its continuous NLL is converted to a discrete one by adding `D · ln 256` (the change of
//!   variables from `[0, 256)^D` to `[0, 1]^D`), which makes it comparable with discrete models:
//!   `bits/dim = (nll_nats + D · ln 256) / (D · ln 2)`.

use std::f64::consts::LN_2;

use burn::tensor::Tensor;

/// Bits per dimension of a discrete model: `nll_nats / (dims · ln 2)`.
///
/// `nll_nats` is the negative log-likelihood of one image, `dims` its number of sub-pixels
/// (`C · H · W`).
pub fn bits_per_dim(nll_nats: f64, dims: usize) -> f64 {
    nll_nats / (dims as f64 * LN_2)
}

/// Bits per dimension of a continuous density fitted to data dequantized from 256 levels and
/// scaled to `[0, 1]`: `(nll_nats + dims · ln 256) / (dims · ln 2)`.
pub fn dequantized_bits_per_dim(nll_nats_continuous: f64, dims: usize) -> f64 {
    bits_per_dim(nll_nats_continuous + dims as f64 * 256f64.ln(), dims)
}

/// `log Σ exp(x)` along `dim` (kept as size 1), without overflow or underflow.
///
/// Subtracts the maximum first; a slice that is entirely `-∞` gives `-∞` (not NaN).
pub fn log_sum_exp<const D: usize>(x: Tensor<D>, dim: usize) -> Tensor<D> {
    let max = x.clone().max_dim(dim);
    // An all -inf slice has max -inf and x - max = NaN; shifting by 0 instead keeps exp(-inf) = 0.
    let shift = max.clone().mask_fill(max.is_inf(), 0.0);
    (x - shift.clone()).exp().sum_dim(dim).log() + shift
}

/// `log softmax(x)` along `dim`: `x − log Σ exp(x)`.
pub fn log_softmax<const D: usize>(x: Tensor<D>, dim: usize) -> Tensor<D> {
    x.clone() - log_sum_exp(x, dim)
}

/// `log(1 + exp(x))`, exact for large `|x|`: `max(x, 0) + log1p(exp(−|x|))`.
pub fn softplus<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    x.clone().clamp_min(0.0) + x.abs().neg().exp().log1p()
}

/// Elementwise `log p(target | logits)` of a Bernoulli with `p = sigmoid(logits)`, for targets in
/// `{0, 1}` (or in `[0, 1]`, giving the cross-entropy): `target · l − softplus(l)`.
///
/// Never computes `log(sigmoid(l))`, which is `-∞` in `f32` for `l < −104`. On the Flex backend
/// it is one pass forward and one backward ([`genzoo_layers::fused::bernoulli_log_prob`]).
pub fn bernoulli_log_prob<const D: usize>(logits: Tensor<D>, target: Tensor<D>) -> Tensor<D> {
    genzoo_layers::fused::bernoulli_log_prob(logits, target)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};
    use proptest::prelude::*;

    fn tensor(values: &[f32], shape: [usize; 2]) -> Tensor<2> {
        Tensor::from_data(TensorData::new(values.to_vec(), shape), &Device::flex())
    }

    fn values(t: Tensor<2>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().expect("f32")
    }

    /// Reference in f64, straight from the definition, for moderate inputs.
    fn lse_f64(xs: &[f64]) -> f64 {
        let m = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if m == f64::NEG_INFINITY {
            return m;
        }
        m + xs.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
    }

    #[test]
    fn a_uniform_model_over_256_levels_is_8_bits_per_dim() {
        // Every sub-pixel has probability 1/256, so an image of D sub-pixels has NLL D·ln 256.
        let d = 3 * 32 * 32;
        let nll = d as f64 * 256f64.ln();
        assert!((bits_per_dim(nll, d) - 8.0).abs() < 1e-12);
        // The same model through a 256-way log-softmax of constant logits.
        let logits = tensor(&[0.7; 256], [1, 256]);
        let lp = values(log_softmax(logits, 1));
        let per_dim = -f64::from(lp[0]) / LN_2;
        assert!((per_dim - 8.0).abs() < 1e-5, "{per_dim}");
    }

    #[test]
    fn a_bernoulli_half_model_is_1_bit_per_dim() {
        let d = 784;
        let logits = tensor(&vec![0.0; d], [1, d]);
        let target = tensor(&(0..d).map(|i| (i % 2) as f32).collect::<Vec<_>>(), [1, d]);
        let nll = -values(bernoulli_log_prob(logits, target))
            .iter()
            .map(|v| f64::from(*v))
            .sum::<f64>();
        assert!(
            (bits_per_dim(nll, d) - 1.0).abs() < 1e-6,
            "{}",
            bits_per_dim(nll, d)
        );
    }

    #[test]
    fn dequantized_convention_adds_8_bits() {
        // A uniform density on [0,1]^D has continuous NLL 0, i.e. the uniform discrete model.
        assert!((dequantized_bits_per_dim(0.0, 10) - 8.0).abs() < 1e-12);
    }

    #[test]
    fn extreme_logits_do_not_underflow() {
        let logits = tensor(&[-200.0, 200.0, -200.0, 200.0], [1, 4]);
        let target = tensor(&[1.0, 0.0, 0.0, 1.0], [1, 4]);
        let lp = values(bernoulli_log_prob(logits, target));
        assert_eq!(lp, vec![-200.0, -200.0, 0.0, 0.0]);
        let lse = values(log_sum_exp(
            tensor(
                &[1000.0, 1000.0, f32::NEG_INFINITY, f32::NEG_INFINITY],
                [2, 2],
            ),
            1,
        ));
        assert!(
            (f64::from(lse[0]) - (1000.0 + LN_2)).abs() < 1e-3,
            "{lse:?}"
        );
        assert_eq!(lse[1], f32::NEG_INFINITY);
    }

    proptest! {
        #[test]
        fn log_sum_exp_matches_an_f64_reference(xs in proptest::collection::vec(-80.0f32..80.0, 1..40)) {
            let n = xs.len();
            let got = values(log_sum_exp(tensor(&xs, [1, n]), 1))[0];
            let want = lse_f64(&xs.iter().map(|x| f64::from(*x)).collect::<Vec<_>>());
            prop_assert!((f64::from(got) - want).abs() <= 1e-5 * want.abs().max(1.0), "{} vs {}", got, want);
        }

        #[test]
        fn log_softmax_rows_exponentiate_to_one(xs in proptest::collection::vec(-50.0f32..50.0, 2..30)) {
            let n = xs.len();
            let lp = values(log_softmax(tensor(&xs, [1, n]), 1));
            let total: f64 = lp.iter().map(|v| f64::from(*v).exp()).sum();
            prop_assert!((total - 1.0).abs() < 1e-5, "{}", total);
        }

        #[test]
        fn bernoulli_log_prob_matches_an_f64_reference(l in -300.0f32..300.0, t in 0u8..2) {
            let got = values(bernoulli_log_prob(tensor(&[l], [1, 1]), tensor(&[f32::from(t)], [1, 1])))[0];
            let l = f64::from(l);
            // log σ(l) = −softplus(−l), log(1 − σ(l)) = −softplus(l), in f64.
            let sp = |z: f64| z.max(0.0) + (-z.abs()).exp().ln_1p();
            let want = if t == 1 { -sp(-l) } else { -sp(l) };
            prop_assert!(got.is_finite());
            prop_assert!((f64::from(got) - want).abs() <= 1e-5 * want.abs().max(1.0), "{} vs {}", got, want);
        }
    }
}
