//! Importance-weighted estimate of `log p(x)` — Burda, Grosse & Salakhutdinov 2015,
//! "Importance Weighted Autoencoders", [arXiv:1509.00519](https://arxiv.org/abs/1509.00519).
//!
//! With `z₁ … z_k ~ q(z|x)` and weights `w_i = p(x|z_i) p(z_i) / q(z_i|x)`,
//! `L_k = log (1/k) Σ w_i` satisfies `E[L_k] ≤ log p(x)`, is non-decreasing in `k`, and tends to
//! `log p(x)` as `k → ∞`; `L_1` is the ELBO. The literature reports `−L_5000` on the test set.
//! The `k` samples are drawn in chunks and combined with a running log-sum-exp, so `k = 5000`
//! needs memory for one chunk only.

use burn::tensor::{Device, Tensor};
use genzoo_datasets::rng::Rng;
use genzoo_metrics::likelihood::log_sum_exp;

use crate::sampling::standard_normal;
use crate::vae::{Vae, diagonal_normal_log_prob, reparameterize};

/// `L_k` per row for a diagonal Gaussian proposal `q(z|x)`.
///
/// `log_joint(z, c, rng)` receives `c` stacked copies of the batch's codes, sample-major
/// (`z[s · B + b]` is sample `s` of row `b`), and returns `log p(x_b, z)` for each, `[c · B]`; a
/// model whose prior is itself a latent-variable model returns the log of an unbiased estimate
/// of it instead (drawing its own noise from `rng`), which keeps `L_k` a bound that tends to
/// `log p(x)`. Samples are drawn from `rng` in chunks of at most `chunk` per row.
///
/// # Shapes
/// `mu, logvar: [B, L]` → `[B]`
///
/// # Panics
/// If `k` or `chunk` is 0.
pub fn importance_weighted_log_likelihood(
    mu: Tensor<2>,
    logvar: Tensor<2>,
    k: usize,
    chunk: usize,
    rng: &mut Rng,
    mut log_joint: impl FnMut(Tensor<2>, usize, &mut Rng) -> Tensor<1>,
) -> Tensor<1> {
    assert!(k > 0 && chunk > 0, "k and chunk must be positive");
    let [b, l] = mu.dims();
    let device: Device = mu.device();
    let mut total: Option<Tensor<2>> = None; // running log Σ w, [1, B]
    let mut done = 0;
    while done < k {
        let c = chunk.min(k - done);
        let mu_c = mu.clone().repeat_dim(0, c);
        let lv_c = logvar.clone().repeat_dim(0, c);
        let eps = standard_normal(c * b, l, rng, &device);
        let z = reparameterize(mu_c.clone(), lv_c.clone(), eps);
        let log_w = log_joint(z.clone(), c, rng) - diagonal_normal_log_prob(z, mu_c, lv_c);
        let lse = log_sum_exp(log_w.reshape([c, b]), 0); // [1, B]
        total = Some(match total {
            None => lse,
            Some(t) => log_sum_exp(Tensor::cat(vec![t, lse], 0), 0),
        });
        done += c;
    }
    let total = total.expect("k > 0");
    total.squeeze_dim::<1>(0) - (k as f64).ln()
}

impl Vae {
    /// The importance-weighted bound `L_k` on `log p(x)` per image, in nats (see the module docs).
    /// `chunk` samples per image are decoded at once: the decoder sees `chunk · B` codes.
    ///
    /// # Shapes
    /// `x: [B, C, H, W]`, `y: [B, num_classes]` or `None` → `[B]`
    pub fn importance_weighted_log_likelihood(
        &self,
        x: Tensor<4>,
        y: Option<&Tensor<2>>,
        k: usize,
        chunk: usize,
        rng: &mut Rng,
    ) -> Tensor<1> {
        let (mu, logvar) = self.encode(x.clone(), y);
        let top = self.top_latent();
        importance_weighted_log_likelihood(mu, logvar, k, chunk, rng, |z, c, rng| {
            let y_c = y.map(|y| y.clone().repeat_dim(0, c));
            let eps_top = (top > 0).then(|| standard_normal(z.dims()[0], top, rng, &z.device()));
            self.log_px_given_z(x.clone().repeat_dim(0, c), z.clone(), y_c.as_ref())
                + self.prior_log_weight(z, eps_top)
        })
    }
}

impl Vae {
    /// The IWAE training loss `−L_k`, averaged over the batch (differentiable: the samples are
    /// reparameterized). With `k = 1` it is the `−ELBO` for the same noise.
    ///
    /// # Shapes
    /// `x: [B, C, H, W]`, `y: [B, num_classes]` or `None` → `[1]`
    pub fn iwae_loss(
        &self,
        x: Tensor<4>,
        y: Option<&Tensor<2>>,
        k: usize,
        rng: &mut Rng,
    ) -> Tensor<1> {
        self.importance_weighted_log_likelihood(x, y, k, k, rng)
            .mean()
            .neg()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vae::standard_normal_log_prob;
    use burn::tensor::TensorData;
    use std::f64::consts::PI;

    // A linear-Gaussian model: z ~ N(0, I₂), x | z ~ N(W z + b, σ² I₃), so
    // p(x) = N(b, W Wᵀ + σ² I₃) and the posterior is Gaussian with
    // Σ = (I + Wᵀ W / σ²)⁻¹, m = Σ Wᵀ (x − b) / σ². Everything below is plain f64 algebra,
    // independent of the tensor code under test.
    // W's columns are orthogonal, so the exact posterior is diagonal and a diagonal q can equal it.
    const W: [[f64; 2]; 3] = [[1.0, 0.6], [-0.3, 0.0], [0.6, -1.0]];
    const B: [f64; 3] = [0.2, -0.1, 0.4];
    const SIGMA: f64 = 0.5;

    fn det3(m: &[[f64; 3]; 3]) -> f64 {
        m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
            - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
    }

    fn inv3(m: &[[f64; 3]; 3]) -> [[f64; 3]; 3] {
        let d = det3(m);
        let mut out = [[0.0; 3]; 3];
        for (i, row) in out.iter_mut().enumerate() {
            for (j, v) in row.iter_mut().enumerate() {
                // Cofactor of (j, i), divided by the determinant.
                let (r1, r2) = ((j + 1) % 3, (j + 2) % 3);
                let (c1, c2) = ((i + 1) % 3, (i + 2) % 3);
                *v = (m[r1][c1] * m[r2][c2] - m[r1][c2] * m[r2][c1]) / d;
            }
        }
        out
    }

    fn true_log_px(x: &[f64; 3]) -> f64 {
        let mut cov = [[0.0; 3]; 3];
        for (i, row) in cov.iter_mut().enumerate() {
            for (j, v) in row.iter_mut().enumerate() {
                *v = W[i][0] * W[j][0] + W[i][1] * W[j][1];
                if i == j {
                    *v += SIGMA * SIGMA;
                }
            }
        }
        let inv = inv3(&cov);
        let r: Vec<f64> = (0..3).map(|i| x[i] - B[i]).collect();
        let mut quad = 0.0;
        for i in 0..3 {
            for j in 0..3 {
                quad += r[i] * inv[i][j] * r[j];
            }
        }
        -0.5 * (quad + det3(&cov).ln() + 3.0 * (2.0 * PI).ln())
    }

    /// The exact posterior's mean and per-dimension log-variance (the diagonal of Σ).
    fn posterior(x: &[f64; 3]) -> ([f64; 2], [f64; 2]) {
        let s2 = SIGMA * SIGMA;
        let mut p = [[0.0; 2]; 2]; // I + WᵀW/σ²
        for i in 0..2 {
            for j in 0..2 {
                p[i][j] = (0..3).map(|r| W[r][i] * W[r][j]).sum::<f64>() / s2;
            }
            p[i][i] += 1.0;
        }
        let d = p[0][0] * p[1][1] - p[0][1] * p[1][0];
        let sigma = [[p[1][1] / d, -p[0][1] / d], [-p[1][0] / d, p[0][0] / d]];
        let wr: Vec<f64> = (0..2)
            .map(|i| (0..3).map(|r| W[r][i] * (x[r] - B[r])).sum::<f64>() / s2)
            .collect();
        let m = [
            sigma[0][0] * wr[0] + sigma[0][1] * wr[1],
            sigma[1][0] * wr[0] + sigma[1][1] * wr[1],
        ];
        (m, [sigma[0][0].ln(), sigma[1][1].ln()])
    }

    const XS: [[f64; 3]; 4] = [
        [0.5, 0.3, -0.2],
        [-1.0, 0.7, 1.5],
        [2.0, -1.0, 0.0],
        [0.0, 0.0, 0.0],
    ];

    /// `L_k` for each of `XS` with proposal `q = N(m + shift, diag(exp(logvar + widen)))`.
    fn estimate(k: usize, chunk: usize, shift: f64, widen: f64, seed: u64) -> Vec<f64> {
        let device = Device::flex();
        let n = XS.len();
        let (mut mu, mut lv) = (Vec::new(), Vec::new());
        for x in &XS {
            let (m, l) = posterior(x);
            mu.extend(m.iter().map(|v| (v + shift) as f32));
            lv.extend(l.iter().map(|v| (v + widen) as f32));
        }
        let mu = Tensor::<2>::from_data(TensorData::new(mu, [n, 2]), &device);
        let lv = Tensor::<2>::from_data(TensorData::new(lv, [n, 2]), &device);
        let w = Tensor::<2>::from_data(
            TensorData::new(
                W.iter().flatten().map(|v| *v as f32).collect::<Vec<_>>(),
                [3, 2],
            ),
            &device,
        );
        let b = Tensor::<2>::from_data(
            TensorData::new(B.iter().map(|v| *v as f32).collect::<Vec<_>>(), [1, 3]),
            &device,
        );
        let x = Tensor::<2>::from_data(
            TensorData::new(
                XS.iter().flatten().map(|v| *v as f32).collect::<Vec<_>>(),
                [n, 3],
            ),
            &device,
        );
        let mut rng = Rng::seed_from_u64(seed);
        let out = importance_weighted_log_likelihood(mu, lv, k, chunk, &mut rng, |z, c, _| {
            let mean = z.clone().matmul(w.clone().transpose()) + b.clone(); // [c·n, 3]
            let xr = x.clone().repeat_dim(0, c);
            let log_var = (SIGMA * SIGMA).ln();
            let log_var_t = mean.zeros_like() + log_var;
            diagonal_normal_log_prob(xr, mean, log_var_t) + standard_normal_log_prob(z)
        });
        crate::f64s(out)
    }

    #[test]
    fn with_the_exact_posterior_every_weight_is_p_of_x() {
        // q(z|x) = p(z|x) makes w = p(x|z) p(z) / p(z|x) = p(x) for every z: L_1 is exact.
        let truth: Vec<f64> = XS.iter().map(true_log_px).collect();
        for k in [1, 7] {
            let est = estimate(k, 4, 0.0, 0.0, 1);
            for (t, e) in truth.iter().zip(&est) {
                assert!((t - e).abs() < 1e-4, "k = {k}: L_k = {e}, log p(x) = {t}");
            }
        }
    }

    #[test]
    fn the_bound_tightens_with_k_and_approaches_log_p_x_from_below() {
        let truth: Vec<f64> = XS.iter().map(true_log_px).collect();
        // A poor proposal: mean off by 0.7, variance 2.7× too wide. Averaged over seeds.
        // Gaps log p(x) − L_k over 8 seeds × 4 points.
        let gaps = |k: usize| {
            let mut out = Vec::new();
            for s in 0..8 {
                let est = estimate(k, 1024, 0.7, 1.0, 100 + s);
                out.extend(truth.iter().zip(&est).map(|(t, e)| t - e));
            }
            out
        };
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let (g1, g10, g100) = (mean(&gaps(1)), mean(&gaps(10)), mean(&gaps(100)));
        let all = gaps(5000);
        let g5000 = mean(&all);
        let se = (all.iter().map(|g| (g - g5000).powi(2)).sum::<f64>()
            / ((all.len() - 1) * all.len()) as f64)
            .sqrt();
        assert!(
            g1 > g10 && g10 > g100 && g100 > g5000,
            "gaps must shrink: {g1} {g10} {g100} {g5000}"
        );
        assert!(g1 > 0.3, "the ELBO of a poor proposal is loose: gap {g1}");
        // On average the estimate stays below the truth, up to Monte-Carlo noise...
        assert!(
            g5000 > -3.0 * se - 1e-4,
            "L_5000 above log p(x) on average: gap {g5000}, standard error {se}"
        );
        // ...and gets close to it.
        assert!(g5000 < 0.02, "L_5000 still {g5000} nats below log p(x)");
    }

    #[test]
    fn chunking_does_not_change_the_estimate() {
        let a = estimate(300, 300, 0.5, 0.5, 9);
        let b = estimate(300, 7, 0.5, 0.5, 9);
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() < 1e-4, "{x} vs {y}");
        }
    }
}
