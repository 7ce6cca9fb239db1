//! Kernel density estimation with a Gaussian kernel — Rosenblatt 1956 (DOI 10.1214/aoms/1177728190),
//! Parzen 1962 (DOI 10.1214/aoms/1177704472); bandwidth rules of Scott 1992 and Silverman 1986.
//!
//! Definitions follow scikit-learn's `KernelDensity(kernel="gaussian")`: one isotropic bandwidth `h`
//! for every dimension, so that
//! `log p(x) = log Σᵢ exp(−‖x − xᵢ‖² / 2h²) − log n − (d/2) log(2π h²)`.
//! The rules are scikit-learn's too (factors applied to the raw data, no rescaling by its spread):
//! Scott `h = n^(−1/(d+4))`, Silverman `h = (n (d + 2) / 4)^(−1/(d+4))`. The squared distances are
//! burn tensor products on centred data (query rows in chunks); the log-sum-exp over the training
//! points runs on the host in `f64`, subtracting each row's maximum first so that no term underflows
//! to `log 0` however far the query is from the data.

use std::f64::consts::PI;

use burn::config::Config;
use burn::tensor::{Device, Tensor};
use genzoo_datasets::rng::Rng;
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::host::{HostMatrix, check_cols, floats, tensor, to_host};

/// Query rows per distance chunk (bounds the `[chunk, n]` distance matrix).
const CHUNK: usize = 256;

/// How the kernel bandwidth is chosen.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Bandwidth {
    /// Scott's rule, `n^(−1/(d+4))`.
    Scott,
    /// Silverman's rule, `(n (d + 2) / 4)^(−1/(d+4))`.
    Silverman,
    /// A given bandwidth (> 0).
    Given(f64),
}

/// Configuration of a kernel density estimate.
#[derive(Config, Debug, PartialEq)]
pub struct KernelDensityConfig {
    /// Bandwidth rule or value.
    #[config(default = "Bandwidth::Scott")]
    pub bandwidth: Bandwidth,
}

impl KernelDensityConfig {
    /// Keeps the training points and resolves the bandwidth.
    pub fn fit(&self, x: &Tensor<2>) -> crate::Result<KernelDensity> {
        let host = to_host(x)?;
        let (n, d) = (host.n as f64, host.d as f64);
        let h = match self.bandwidth {
            Bandwidth::Scott => n.powf(-1.0 / (d + 4.0)),
            Bandwidth::Silverman => (n * (d + 2.0) / 4.0).powf(-1.0 / (d + 4.0)),
            Bandwidth::Given(h) => {
                if !(h.is_finite() && h > 0.0) {
                    return Err(Error::Config(format!(
                        "bandwidth must be a positive number, found {h}"
                    )));
                }
                h
            }
        };
        let mut mean = vec![0.0f64; host.d];
        for i in 0..host.n {
            for (m, &v) in mean.iter_mut().zip(host.row(i)) {
                *m += f64::from(v);
            }
        }
        mean.iter_mut().for_each(|m| *m /= n);
        let device = x.device();
        let centred: Vec<f64> = host
            .data
            .iter()
            .enumerate()
            .map(|(i, &v)| f64::from(v) - mean[i % host.d])
            .collect();
        let centred = tensor(&centred, host.n, host.d, &device);
        let sq_norms = (centred.clone() * centred.clone()).sum_dim(1).transpose(); // [1, n]
        Ok(KernelDensity {
            host,
            mean,
            centred,
            sq_norms,
            bandwidth: h,
        })
    }
}

/// A fitted kernel density estimate: the training points and the bandwidth.
#[derive(Clone, Debug)]
pub struct KernelDensity {
    host: HostMatrix,
    mean: Vec<f64>,
    centred: Tensor<2>,
    sq_norms: Tensor<2>,
    bandwidth: f64,
}

impl KernelDensity {
    /// The kernel bandwidth (standard deviation of each Gaussian bump).
    pub fn bandwidth(&self) -> f64 {
        self.bandwidth
    }

    /// Number of training points.
    pub fn n_samples(&self) -> usize {
        self.host.n
    }

    /// Log-density of every row of `x` (`[m, d]`), in nats.
    pub fn log_density(&self, x: &Tensor<2>) -> crate::Result<Vec<f64>> {
        check_cols("KDE input", x, self.host.d)?;
        let q = to_host(x)?;
        let (n, d) = (self.host.n, self.host.d);
        let h2 = self.bandwidth * self.bandwidth;
        let norm = -(n as f64).ln() - 0.5 * d as f64 * (2.0 * PI * h2).ln();
        let device = self.centred.device();
        let mut out = Vec::with_capacity(q.n);
        for start in (0..q.n).step_by(CHUNK) {
            let rows = CHUNK.min(q.n - start);
            let qc: Vec<f64> = q.data[start * d..(start + rows) * d]
                .iter()
                .enumerate()
                .map(|(i, &v)| f64::from(v) - self.mean[i % d])
                .collect();
            let qc = tensor(&qc, rows, d, &device);
            let qq = (qc.clone() * qc.clone()).sum_dim(1); // [rows, 1]
            let cross = qc.matmul(self.centred.clone().transpose()); // [rows, n]
            let d2 = floats((qq - cross * 2.0 + self.sq_norms.clone()).clamp_min(0.0));
            for row in d2.chunks(n) {
                out.push(log_sum_exp(row.iter().map(|&v| -f64::from(v) / (2.0 * h2))) + norm);
            }
        }
        Ok(out)
    }

    /// Mean log-density of the rows of `x`.
    pub fn score(&self, x: &Tensor<2>) -> crate::Result<f64> {
        let l = self.log_density(x)?;
        Ok(l.iter().sum::<f64>() / l.len() as f64)
    }

    /// Draws `n` points: a uniformly chosen training point plus `N(0, h² I)` noise. Returns `[n, d]`.
    pub fn sample(&self, n: usize, seed: u64, device: &Device) -> Tensor<2> {
        let mut rng = Rng::seed_from_u64(seed);
        let d = self.host.d;
        let mut out = Vec::with_capacity(n * d);
        for _ in 0..n {
            let i = rng.below(self.host.n as u64) as usize;
            for &v in self.host.row(i) {
                out.push(f64::from(v) + self.bandwidth * rng.normal());
            }
        }
        tensor(&out, n, d, device)
    }
}

/// `log Σ exp(aᵢ)` with the maximum subtracted first (`-∞` for an empty or all-`-∞` input).
fn log_sum_exp(values: impl Iterator<Item = f64> + Clone) -> f64 {
    let m = values.clone().fold(f64::NEG_INFINITY, f64::max);
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + values.map(|v| (v - m).exp()).sum::<f64>().ln()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::mat;

    /// One training point: the estimate is the Gaussian `N(x₀, h² I)`, in closed form.
    #[test]
    fn single_point_is_a_gaussian() {
        let kde = KernelDensityConfig::new()
            .with_bandwidth(Bandwidth::Given(0.5))
            .fit(&mat(vec![1.0, -2.0], 1, 2))
            .expect("fit");
        let q = mat(vec![1.0, -2.0, 2.0, -2.0, 1.5, -1.0], 3, 2);
        let got = kde.log_density(&q).expect("log density");
        for (g, r2) in got.iter().zip([0.0, 1.0, 1.25]) {
            let want = -r2 / (2.0 * 0.25) - (2.0 * PI * 0.25).ln();
            assert!((g - want).abs() < 1e-6, "{g} vs {want}");
        }
    }

    /// Far from the data every kernel term underflows in a naive sum (exp(−20000) = 0 → log 0 = −∞); the
    /// careful log-sum-exp returns the finite value of the nearest bump.
    #[test]
    fn far_queries_stay_finite() {
        let kde = KernelDensityConfig::new()
            .with_bandwidth(Bandwidth::Given(0.1))
            .fit(&mat(vec![0.0, 0.0, 0.0, 1.0], 2, 2))
            .expect("fit");
        let got = kde.log_density(&mat(vec![20.0, 0.0], 1, 2)).expect("ld")[0];
        // Nearest point at squared distance 400: log(½ e^{−400/0.02} (1 + e^{−1/0.02}) / (2π·0.01)).
        let want =
            -(400.0 / 0.02) + (-(1.0f64 / 0.02)).exp().ln_1p() - 2f64.ln() - (2.0 * PI * 0.01).ln();
        assert!(
            got.is_finite() && (got - want).abs() < 1e-6 * want.abs(),
            "{got} vs {want}"
        );
    }

    /// Samples of a one-point KDE are `N(x₀, h²)`: sample mean and variance match.
    #[test]
    fn sampling_matches_the_kernel() {
        let kde = KernelDensityConfig::new()
            .with_bandwidth(Bandwidth::Given(2.0))
            .fit(&mat(vec![3.0], 1, 1))
            .expect("fit");
        let s: Vec<f64> = floats(kde.sample(20_000, 9, &Device::flex()))
            .into_iter()
            .map(f64::from)
            .collect();
        let m = s.iter().sum::<f64>() / s.len() as f64;
        let v = s.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (s.len() - 1) as f64;
        // Standard errors: 2/√20000 = 0.014 for the mean, 4·√(2/20000) = 0.04 for the variance.
        assert!(
            (m - 3.0).abs() < 0.06 && (v - 4.0).abs() < 0.16,
            "mean {m}, var {v}"
        );
    }

    #[test]
    fn bad_input_is_an_error() {
        let x = mat(vec![0.0, 1.0], 1, 2);
        assert!(matches!(
            KernelDensityConfig::new()
                .with_bandwidth(Bandwidth::Given(0.0))
                .fit(&x),
            Err(Error::Config(_))
        ));
        let kde = KernelDensityConfig::new().fit(&x).expect("fit");
        assert!(matches!(
            kde.log_density(&mat(vec![0.0; 3], 1, 3)),
            Err(Error::Shape { .. })
        ));
    }
}
