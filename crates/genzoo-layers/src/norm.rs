//! BatchNorm's training pass as one custom operation on the Flex backend.
//!
//! burn differentiates `batch_norm_train` as one operation, but its implementation for Flex is the
//! default one made of tensor ops: the statistics through a transposed copy of the whole input,
//! the normalisation through broadcasts, and the backward pass through two more transposed copies
//! and a dozen element-wise passes (layout copies were 9–11% of the DCGAN step in `perf`). Here the
//! statistics are one pass per channel, the output one pass, and the backward pass two (the
//! per-channel sums `Σ dy`, `Σ dy·x̂`, then `dx`).
//!
//! [`batch_norm`] is a drop-in for `BatchNorm::forward`: the same parameters and running
//! statistics, updated the same way (burn's momentum rule with the biased batch variance), the
//! same choice between the training and inference paths, and burn's own op on every backend but
//! Flex. Tested against burn's module in output, running statistics and every gradient.

use burn::backend::{Backend, Dispatch, backend_extension, tensor::FloatTensor};
use burn::nn::BatchNorm;
use burn::tensor::Tensor;

/// `bn.forward(x)`, with the training pass as one custom operation on Flex (module doc).
///
/// # Shapes
/// `x: [B, C, …]` with `C` the layer's features → the same shape
pub fn batch_norm<const D: usize>(bn: &BatchNorm, x: Tensor<D>) -> Tensor<D> {
    if crate::route::batch_norm(bn, &x) {
        return train(bn, x);
    }
    bn.forward(x)
}

/// BatchNorm's training pass as operations a backend may compute with its own kernels, with a
/// hand-written backward pass. The reference is burn's `BatchNorm` module, written with `Tensor`
/// (not with a backend's primitives), so every backend that takes them implements them.
#[backend_extension(Flex: cfg(feature = "flex"), Autodiff)]
pub trait NormOps: Backend {
    /// Per-channel mean and biased variance of `x: [B, C, …]`, as `[2, C]` (never tracked).
    fn batch_stats(x: FloatTensor<Self>) -> FloatTensor<Self>;
    /// `γ·(x − μ)/√(σ² + ε) + β` with `stats = [μ; σ²]` from [`NormOps::batch_stats`] of the
    /// same `x`; the backward pass differentiates through the statistics too.
    // Without `flex` the generated dispatch has no backend to pass this argument to.
    #[cfg_attr(not(feature = "flex"), allow(unused_variables))]
    fn batch_norm_apply(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        stats: FloatTensor<Self>,
        epsilon: f64,
    ) -> FloatTensor<Self>;
}

/// burn's `BatchNorm::forward_train` with the two operations above.
fn train<const D: usize>(bn: &BatchNorm, x: Tensor<D>) -> Tensor<D> {
    let stats: Tensor<2> = Tensor::from_dispatch(<Dispatch as NormOps>::batch_stats(
        x.clone().detach().into_dispatch(),
    ));
    let y = Tensor::from_dispatch(<Dispatch as NormOps>::batch_norm_apply(
        x.into_dispatch(),
        bn.gamma.val().into_dispatch(),
        bn.beta.val().into_dispatch(),
        stats.clone().into_dispatch(),
        bn.epsilon,
    ));
    let device = stats.device();
    let [c] = bn.gamma.val().dims();
    let stats = stats.detach();
    let (mean, var) = (
        stats.clone().narrow(0, 0, 1).reshape([c]),
        stats.narrow(0, 1, 1).reshape([c]),
    );
    let m = bn.momentum;
    let running_mean = bn.running_mean.value_sync().to_device(&device);
    let running_var = bn.running_var.value_sync().to_device(&device);
    bn.running_mean
        .update((running_mean.mul_scalar(1.0 - m) + mean.mul_scalar(m)).detach());
    bn.running_var
        .update((running_var.mul_scalar(1.0 - m) + var.mul_scalar(m)).detach());
    y
}

/// The Flex kernels, and the operations' registration on Flex with and without autodiff.
#[cfg(feature = "flex")]
mod flex {
    use super::NormOps;
    use crate::autodiff::tracked;
    use crate::flex::{contiguous, tensor, values};
    use burn::backend::autodiff::{Autodiff, checkpoint::strategy::CheckpointStrategy};
    use burn::backend::flex::FlexTensor;
    use burn::backend::{Flex, TensorMetadata, tensor::FloatTensor};
    use burn::tensor::Shape;
    use rayon::prelude::*;

    /// `(batch, channels, spatial)` of `[B, C, …]`.
    fn layout(x: &FlexTensor) -> (usize, usize, usize) {
        let shape = x.shape();
        let (b, c) = (shape[0], shape[1]);
        let s = shape.num_elements().checked_div(b * c).unwrap_or(0);
        (b, c, s)
    }

    fn stats_forward(x: FlexTensor) -> FlexTensor {
        let x = contiguous(x);
        let (b, c, s) = layout(&x);
        let xs = values(&x);
        let n = (b * s) as f64;
        let moments: Vec<[f64; 2]> = (0..c)
            .into_par_iter()
            .map(|ch| {
                let blocks = (0..b).map(|i| &xs[(i * c + ch) * s..][..s]);
                let sum: f64 = blocks
                    .clone()
                    .map(|v| v.iter().map(|&e| f64::from(e)).sum::<f64>())
                    .sum();
                let mean = sum / n;
                // Two passes: the variance from centred values, as burn computes it.
                let sq: f64 = blocks
                    .map(|v| {
                        v.iter()
                            .map(|&e| (f64::from(e) - mean).powi(2))
                            .sum::<f64>()
                    })
                    .sum();
                [mean, sq / n]
            })
            .collect();
        let mut out = vec![0.0f32; 2 * c];
        for (ch, [mean, var]) in moments.into_iter().enumerate() {
            out[ch] = mean as f32;
            out[c + ch] = var as f32;
        }
        tensor(out, Shape::new([2, c]))
    }

    /// Per-channel `(μ, 1/√(σ² + ε))`.
    fn mean_inv_std(stats: &[f32], c: usize, epsilon: f64) -> Vec<(f32, f32)> {
        (0..c)
            .map(|ch| {
                let inv = 1.0 / (f64::from(stats[c + ch]) + epsilon).sqrt();
                (stats[ch], inv as f32)
            })
            .collect()
    }

    fn apply_forward(
        x: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        stats: FlexTensor,
        epsilon: f64,
    ) -> FlexTensor {
        let [x, gamma, beta, stats] = [x, gamma, beta, stats].map(contiguous);
        let (b, c, s) = layout(&x);
        let (xs, gs, bs) = (values(&x), values(&gamma), values(&beta));
        let mi = mean_inv_std(values(&stats), c, epsilon);
        let mut out = vec![0.0f32; b * c * s];
        out.par_chunks_mut(s.max(1))
            .zip(xs.par_chunks(s.max(1)))
            .enumerate()
            .with_min_len(crate::flex::min_parts(s))
            .for_each(|(bc, (y, x))| {
                let ch = bc % c;
                let (mean, inv) = mi[ch];
                let (scale, shift) = (gs[ch] * inv, bs[ch] - gs[ch] * inv * mean);
                for (y, &x) in y.iter_mut().zip(x) {
                    *y = x * scale + shift;
                }
            });
        tensor(out, x.shape())
    }

    /// → (dx, dγ, dβ).
    fn apply_backward(
        x: FlexTensor,
        gamma: FlexTensor,
        stats: FlexTensor,
        dy: FlexTensor,
        epsilon: f64,
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        let [x, gamma, stats, dy] = [x, gamma, stats, dy].map(contiguous);
        let (b, c, s) = layout(&x);
        let (xs, gs, dys) = (values(&x), values(&gamma), values(&dy));
        let mi = mean_inv_std(values(&stats), c, epsilon);
        // Σ dy and Σ dy·x̂ per channel.
        let sums: Vec<[f64; 2]> = (0..c)
            .into_par_iter()
            .map(|ch| {
                let (mean, inv) = mi[ch];
                let mut acc = [0.0f64; 2];
                for i in 0..b {
                    let at = (i * c + ch) * s;
                    let (x, dy) = (&xs[at..][..s], &dys[at..][..s]);
                    let (mut sd, mut sdx) = (0.0f32, 0.0f32);
                    for (&x, &g) in x.iter().zip(dy) {
                        sd += g;
                        sdx += g * (x - mean) * inv;
                    }
                    acc[0] += f64::from(sd);
                    acc[1] += f64::from(sdx);
                }
                acc
            })
            .collect();
        let n = (b * s) as f32;
        let mut dx = vec![0.0f32; b * c * s];
        dx.par_chunks_mut(s.max(1))
            .enumerate()
            .with_min_len(crate::flex::min_parts(s))
            .for_each(|(bc, out)| {
                let ch = bc % c;
                let (mean, inv) = mi[ch];
                let (sd, sdx) = (sums[ch][0] as f32 / n, sums[ch][1] as f32 / n);
                let scale = gs[ch] * inv;
                let at = bc * s;
                let (x, dy) = (&xs[at..][..s], &dys[at..][..s]);
                for ((o, &x), &g) in out.iter_mut().zip(x).zip(dy) {
                    let xhat = (x - mean) * inv;
                    *o = scale * (g - sd - xhat * sdx);
                }
            });
        let dgamma: Vec<f32> = sums.iter().map(|v| v[1] as f32).collect();
        let dbeta: Vec<f32> = sums.iter().map(|v| v[0] as f32).collect();
        (
            tensor(dx, x.shape()),
            tensor(dgamma, Shape::new([c])),
            tensor(dbeta, Shape::new([c])),
        )
    }

    impl NormOps for Flex {
        fn batch_stats(x: FloatTensor<Self>) -> FloatTensor<Self> {
            stats_forward(x)
        }

        fn batch_norm_apply(
            x: FloatTensor<Self>,
            gamma: FloatTensor<Self>,
            beta: FloatTensor<Self>,
            stats: FloatTensor<Self>,
            epsilon: f64,
        ) -> FloatTensor<Self> {
            apply_forward(x, gamma, beta, stats, epsilon)
        }
    }

    impl<C: CheckpointStrategy> NormOps for Autodiff<Flex, C> {
        fn batch_stats(x: FloatTensor<Self>) -> FloatTensor<Self> {
            // Called on a detached input: a constant of the graph.
            let out = stats_forward(x.primitive().clone());
            <Autodiff<Flex, C> as burn::backend::AutodiffBackend>::from_inner(out)
        }

        /// Tracks `x`, `γ` and `β`; keeps `x`, `γ` and the statistics.
        fn batch_norm_apply(
            x: FloatTensor<Self>,
            gamma: FloatTensor<Self>,
            beta: FloatTensor<Self>,
            stats: FloatTensor<Self>,
            epsilon: f64,
        ) -> FloatTensor<Self> {
            let stats = stats.primitive().clone();
            let kept = stats.clone();
            let forward = |[x, g, b]: [FlexTensor; 3]| apply_forward(x, g, b, stats, epsilon);
            let keep = |[x, g, _]: [FlexTensor; 3], _: &FlexTensor| (x, g, kept);
            let backward = |(x, g, s), grad, epsilon, _| {
                let (dx, dgamma, dbeta) = apply_backward(x, g, s, grad, epsilon);
                [Some(dx), Some(dgamma), Some(dbeta)]
            };
            tracked::<Flex, C, _, _, 3>([x, gamma, beta], epsilon, forward, keep, backward)
        }
    }
}

#[cfg(all(test, feature = "flex"))]
mod tests {
    use super::*;
    use crate::test_util::{assert_each_within, max_diff, values};
    use burn::module::Param;
    use burn::nn::BatchNormConfig;
    use burn::tensor::{Device, Distribution};

    /// Two training steps' outputs, gradients and running statistics against burn's module.
    fn compare<const D: usize>(shape: [usize; D]) {
        let device = Device::flex().autodiff();
        let c = shape[1];
        let mut ours = BatchNormConfig::new(c).init(&device);
        // Non-trivial γ, β so that their gradients and the scale are exercised.
        ours.gamma =
            Param::from_tensor(Tensor::random([c], Distribution::Normal(1.0, 0.5), &device));
        ours.beta =
            Param::from_tensor(Tensor::random([c], Distribution::Normal(0.0, 0.5), &device));
        // A separate module, not a clone: clones share their running statistics.
        let mut theirs = BatchNormConfig::new(c).init(&device);
        theirs.gamma = Param::from_tensor(ours.gamma.val().detach());
        theirs.beta = Param::from_tensor(ours.beta.val().detach());
        for step in 0..2 {
            let x =
                Tensor::<D>::random(shape, Distribution::Normal(3.0, 2.0), &device).require_grad();
            let r = Tensor::<D>::random(shape, Distribution::Normal(0.0, 1.0), &device);
            let run = |bn: &BatchNorm, fused: bool| {
                let y = if fused {
                    batch_norm(bn, x.clone())
                } else {
                    bn.forward(x.clone())
                };
                let g = (y.clone() * r.clone()).sum().backward();
                vec![
                    values(y.inner()),
                    values(x.grad(&g).expect("dx")),
                    values(bn.gamma.grad(&g).expect("dgamma")),
                    values(bn.beta.grad(&g).expect("dbeta")),
                    values(bn.running_mean.value()),
                    values(bn.running_var.value()),
                ]
            };
            let (a, b) = (run(&ours, true), run(&theirs, false));
            let names = ["y", "dx", "dgamma", "dbeta", "running mean", "running var"];
            let context = format!("step {step} of {shape:?}");
            assert_each_within(&names, &a, &b, 2e-4, &context);
        }
    }

    #[test]
    fn batch_norm_matches_burns_module_in_training() {
        compare([8, 3, 5, 4]);
        compare([64, 16, 7, 7]);
        compare([5, 7]);
    }

    #[test]
    fn inference_takes_the_running_statistics() {
        let device = Device::flex();
        let bn = BatchNormConfig::new(3).init(&device);
        let x = Tensor::<4>::random([2, 3, 4, 4], Distribution::Normal(0.0, 1.0), &device);
        // Not an autodiff device: inference with the running statistics (0 and 1), so y ≈ x.
        let d = max_diff(&values(batch_norm(&bn, x.clone())), &values(x));
        assert!(d < 1e-4, "{d}");
    }
}
