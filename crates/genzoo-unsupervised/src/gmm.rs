//! Gaussian mixture models fitted by expectation–maximisation — Dempster, Laird & Rubin 1977
//! (DOI 10.1111/j.2517-6161.1977.tb01600.x); Bishop, *Pattern Recognition and Machine Learning* §9.2.
//!
//! Definitions follow scikit-learn's `GaussianMixture`: `reg_covar` is added to every covariance
//! diagonal in the M-step so no covariance is singular, the responsibilities' column sums get `10·ε`
//! added, a run stops when the mean log-likelihood changes by less than `tol` between two E-steps, and
//! the default initialisation takes the responsibilities from a k-means fit. The per-component
//! Mahalanobis terms and the M-step sums run on burn tensors; Cholesky factors of the `d × d`
//! covariances are computed in `f64` with `nalgebra`.

use std::f64::consts::PI;

use burn::config::Config;
use burn::tensor::{Device, Tensor};
use genzoo_datasets::rng::Rng;
use nalgebra::{Cholesky, DMatrix};
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::host::{HostMatrix, check_cols, floats, tensor, to_host};
use crate::kmeans::KMeansConfig;

/// Shape of each component's covariance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CovarianceType {
    /// A full `d × d` covariance per component.
    Full,
    /// A diagonal covariance (`d` variances) per component.
    Diag,
}

/// Parameters of a mixture: weights `[k]`, means `[k, d]` and covariances (`[k, d, d]` for
/// [`CovarianceType::Full`], `[k, d]` for [`CovarianceType::Diag`]), all row-major `f64`.
#[derive(Clone, Debug, PartialEq)]
pub struct GmmParams {
    /// Mixing weights, summing to one.
    pub weights: Vec<f64>,
    /// Component means.
    pub means: Vec<f64>,
    /// Component covariances.
    pub covariances: Vec<f64>,
}

/// Configuration of a Gaussian-mixture fit.
#[derive(Config, Debug, PartialEq)]
pub struct GaussianMixtureConfig {
    /// Number of components.
    pub n_components: usize,
    /// Full or diagonal covariances.
    #[config(default = "CovarianceType::Full")]
    pub covariance_type: CovarianceType,
    /// Added to the diagonal of every covariance (keeps them positive definite).
    #[config(default = 1e-6)]
    pub reg_covar: f64,
    /// Convergence threshold on the change of the mean log-likelihood.
    #[config(default = 1e-3)]
    pub tol: f64,
    /// Maximum EM iterations.
    #[config(default = 100)]
    pub max_iter: usize,
    /// Seed of the k-means initialisation.
    #[config(default = 0)]
    pub seed: u64,
}

impl GaussianMixtureConfig {
    /// The reference MNIST configuration: 10 diagonal components (on PCA-50 features).
    pub fn mnist_pca() -> Self {
        Self::new(10).with_covariance_type(CovarianceType::Diag)
    }

    fn validate(&self, n: usize) -> crate::Result<()> {
        if self.n_components == 0 || self.max_iter == 0 {
            return Err(Error::Config(format!(
                "n_components and max_iter must be positive (found {} and {})",
                self.n_components, self.max_iter
            )));
        }
        if !(self.reg_covar.is_finite()
            && self.reg_covar >= 0.0
            && self.tol.is_finite()
            && self.tol >= 0.0)
        {
            return Err(Error::Config(format!(
                "reg_covar and tol must be >= 0 (found {} and {})",
                self.reg_covar, self.tol
            )));
        }
        crate::error::enough_samples("Gaussian mixture", self.n_components, n)
    }

    /// Fits by EM from the responsibilities of a seeded k-means fit.
    pub fn fit(&self, x: &Tensor<2>) -> crate::Result<GaussianMixture> {
        let host = to_host(x)?;
        self.validate(host.n)?;
        let labels = KMeansConfig::new(self.n_components)
            .with_seed(self.seed)
            .fit(x)?
            .labels()
            .to_vec();
        let k = self.n_components;
        let mut onehot = vec![0.0f64; host.n * k];
        for (i, &l) in labels.iter().enumerate() {
            onehot[i * k + l] = 1.0;
        }
        let resp = tensor(&onehot, host.n, k, &x.device());
        let params = self.m_step(x, &host, resp)?;
        self.em(x, &host, params)
    }

    /// Fits by EM from given initial parameters.
    pub fn fit_from(&self, x: &Tensor<2>, init: &GmmParams) -> crate::Result<GaussianMixture> {
        let host = to_host(x)?;
        self.validate(host.n)?;
        let (k, d) = (self.n_components, host.d);
        let cov_len = match self.covariance_type {
            CovarianceType::Full => k * d * d,
            CovarianceType::Diag => k * d,
        };
        for (what, len, want) in [
            ("initial weights", init.weights.len(), k),
            ("initial means", init.means.len(), k * d),
            ("initial covariances", init.covariances.len(), cov_len),
        ] {
            if len != want {
                return Err(Error::Shape {
                    what,
                    expected: vec![want],
                    found: vec![len],
                });
            }
        }
        if init.weights.iter().any(|w| w.is_nan() || *w <= 0.0)
            || (init.weights.iter().sum::<f64>() - 1.0).abs() > 1e-6
        {
            return Err(Error::Config(
                "initial weights must be positive and sum to 1".into(),
            ));
        }
        let params = Components::new(self.covariance_type, k, d, init.clone())?;
        self.em(x, &host, params)
    }

    fn em(
        &self,
        x: &Tensor<2>,
        host: &HostMatrix,
        mut params: Components,
    ) -> crate::Result<GaussianMixture> {
        let mut lower_bound = f64::NEG_INFINITY;
        let mut converged = false;
        let mut n_iter = 0;
        let mut history = Vec::new();
        for it in 1..=self.max_iter {
            n_iter = it;
            let prev = lower_bound;
            let (log_prob, log_resp) = params.e_step(x);
            params = self.m_step(x, host, log_resp.exp())?;
            lower_bound = mean(&log_prob);
            history.push(lower_bound);
            if (lower_bound - prev).abs() < self.tol {
                converged = true;
                break;
            }
        }
        Ok(GaussianMixture {
            params,
            n_iter,
            converged,
            lower_bound_history: history,
        })
    }

    /// New parameters from responsibilities `resp` (`[n, k]`).
    fn m_step(
        &self,
        x: &Tensor<2>,
        host: &HostMatrix,
        resp: Tensor<2>,
    ) -> crate::Result<Components> {
        let (n, d, k) = (host.n, host.d, self.n_components);
        let device = x.device();
        let nk: Vec<f64> = floats(resp.clone().sum_dim(0))
            .into_iter()
            .map(|v| f64::from(v) + 10.0 * f64::from(f32::EPSILON))
            .collect();
        let sums = floats(resp.clone().transpose().matmul(x.clone())); // [k, d]
        let means: Vec<f64> = sums
            .iter()
            .enumerate()
            .map(|(i, &s)| f64::from(s) / nk[i / d])
            .collect();
        let mut covariances = Vec::new();
        for c in 0..k {
            let mu = tensor(&means[c * d..(c + 1) * d], 1, d, &device);
            let diff = x.clone() - mu; // [n, d]
            let r = resp.clone().slice([0..n, c..c + 1]); // [n, 1]
            match self.covariance_type {
                CovarianceType::Full => {
                    let cov = floats((diff.clone() * r).transpose().matmul(diff)); // [d, d]
                    for (idx, v) in cov.into_iter().enumerate() {
                        let reg = if idx / d == idx % d {
                            self.reg_covar
                        } else {
                            0.0
                        };
                        covariances.push(f64::from(v) / nk[c] + reg);
                    }
                }
                CovarianceType::Diag => {
                    let var = floats(r.transpose().matmul(diff.clone() * diff)); // [1, d]
                    covariances.extend(
                        var.into_iter()
                            .map(|v| f64::from(v) / nk[c] + self.reg_covar),
                    );
                }
            }
        }
        let weights = nk.iter().map(|v| v / n as f64).collect();
        Components::new(
            self.covariance_type,
            k,
            d,
            GmmParams {
                weights,
                means,
                covariances,
            },
        )
    }
}

/// Parameters plus their precision Cholesky factors.
#[derive(Clone, Debug)]
struct Components {
    kind: CovarianceType,
    k: usize,
    d: usize,
    params: GmmParams,
    /// Full: `L⁻ᵀ` per component (`Σ = L Lᵀ`), so `‖(x − μ) L⁻ᵀ‖²` is the Mahalanobis term;
    /// diag: `1/σ` per feature.
    prec_chol: Vec<f64>,
    /// Full: `L` per component (for sampling); diag: `σ`.
    chol: Vec<f64>,
    /// `log det` of the precision Cholesky factor, per component.
    log_det: Vec<f64>,
}

impl Components {
    fn new(kind: CovarianceType, k: usize, d: usize, params: GmmParams) -> crate::Result<Self> {
        let mut prec_chol = Vec::new();
        let mut chol = Vec::new();
        let mut log_det = Vec::with_capacity(k);
        for c in 0..k {
            match kind {
                CovarianceType::Full => {
                    let cov = DMatrix::from_row_slice(
                        d,
                        d,
                        &params.covariances[c * d * d..(c + 1) * d * d],
                    );
                    if cov.iter().any(|v| !v.is_finite()) {
                        return Err(Error::NotPositiveDefinite { component: c });
                    }
                    let l = Cholesky::new(cov)
                        .ok_or(Error::NotPositiveDefinite { component: c })?
                        .l();
                    let inv = l
                        .clone()
                        .try_inverse()
                        .ok_or(Error::NotPositiveDefinite { component: c })?;
                    let p = inv.transpose();
                    log_det.push(-l.diagonal().iter().map(|v| v.ln()).sum::<f64>());
                    prec_chol.extend(p.transpose().iter().copied()); // row-major
                    chol.extend(l.transpose().iter().copied());
                }
                CovarianceType::Diag => {
                    let var = &params.covariances[c * d..(c + 1) * d];
                    if var.iter().any(|v| !v.is_finite() || *v <= 0.0) {
                        return Err(Error::NotPositiveDefinite { component: c });
                    }
                    prec_chol.extend(var.iter().map(|v| 1.0 / v.sqrt()));
                    chol.extend(var.iter().map(|v| v.sqrt()));
                    log_det.push(-0.5 * var.iter().map(|v| v.ln()).sum::<f64>());
                }
            }
        }
        Ok(Self {
            kind,
            k,
            d,
            params,
            prec_chol,
            chol,
            log_det,
        })
    }

    /// `log(w_c) + log N(x | μ_c, Σ_c)` for every point and component, `[n, k]`.
    fn weighted_log_prob(&self, x: &Tensor<2>) -> Tensor<2> {
        let (k, d) = (self.k, self.d);
        let device = x.device();
        let cols: Vec<Tensor<2>> = (0..k)
            .map(|c| {
                let diff =
                    x.clone() - tensor(&self.params.means[c * d..(c + 1) * d], 1, d, &device);
                let y = match self.kind {
                    CovarianceType::Full => diff.matmul(tensor(
                        &self.prec_chol[c * d * d..(c + 1) * d * d],
                        d,
                        d,
                        &device,
                    )),
                    CovarianceType::Diag => {
                        diff * tensor(&self.prec_chol[c * d..(c + 1) * d], 1, d, &device)
                    }
                };
                let constant = -0.5 * d as f64 * (2.0 * PI).ln()
                    + self.log_det[c]
                    + self.params.weights[c].ln();
                (y.clone() * y).sum_dim(1) * (-0.5) + constant
            })
            .collect();
        Tensor::cat(cols, 1)
    }

    /// Per-point log-likelihood (host, f64) and log-responsibilities (`[n, k]`).
    fn e_step(&self, x: &Tensor<2>) -> (Vec<f64>, Tensor<2>) {
        let w = self.weighted_log_prob(x);
        let m = w.clone().max_dim(1); // [n, 1]
        let lse = (w.clone() - m.clone()).exp().sum_dim(1).log() + m;
        let log_prob = floats(lse.clone()).into_iter().map(f64::from).collect();
        (log_prob, w - lse)
    }
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// A fitted Gaussian mixture.
#[derive(Clone, Debug)]
pub struct GaussianMixture {
    params: Components,
    n_iter: usize,
    converged: bool,
    lower_bound_history: Vec<f64>,
}

impl GaussianMixture {
    /// Weights, means and covariances.
    pub fn params(&self) -> &GmmParams {
        &self.params.params
    }

    /// Full or diagonal covariances.
    pub fn covariance_type(&self) -> CovarianceType {
        self.params.kind
    }

    /// EM iterations run.
    pub fn n_iter(&self) -> usize {
        self.n_iter
    }

    /// Whether the log-likelihood change fell below `tol` before `max_iter`.
    pub fn converged(&self) -> bool {
        self.converged
    }

    /// Mean training log-likelihood at each E-step (non-decreasing up to rounding: EM's guarantee).
    pub fn lower_bound_history(&self) -> &[f64] {
        &self.lower_bound_history
    }

    /// Log-likelihood `log p(x)` of each row of `x` (`[n, d]`), in nats.
    pub fn score_samples(&self, x: &Tensor<2>) -> crate::Result<Vec<f64>> {
        check_cols("Gaussian mixture input", x, self.params.d)?;
        to_host(x)?;
        Ok(self.params.e_step(x).0)
    }

    /// Mean log-likelihood of the rows of `x`, in nats.
    pub fn score(&self, x: &Tensor<2>) -> crate::Result<f64> {
        Ok(mean(&self.score_samples(x)?))
    }

    /// Most responsible component of each row of `x`.
    pub fn predict(&self, x: &Tensor<2>) -> crate::Result<Vec<usize>> {
        check_cols("Gaussian mixture input", x, self.params.d)?;
        to_host(x)?;
        let w = self.params.weighted_log_prob(x);
        Ok(crate::host::ints(w.argmax(1)))
    }

    /// Number of free parameters (weights, means, covariances).
    pub fn n_parameters(&self) -> usize {
        let (k, d) = (self.params.k, self.params.d);
        let cov = match self.params.kind {
            CovarianceType::Full => k * d * (d + 1) / 2,
            CovarianceType::Diag => k * d,
        };
        cov + k * d + k - 1
    }

    /// Bayesian information criterion `−2 log L + p ln n` on `x` (lower is better).
    pub fn bic(&self, x: &Tensor<2>) -> crate::Result<f64> {
        let n = x.dims()[0] as f64;
        Ok(-2.0 * self.score(x)? * n + self.n_parameters() as f64 * n.ln())
    }

    /// Draws `n` samples (`[n, d]`) and their components, seeded.
    pub fn sample(&self, n: usize, seed: u64, device: &Device) -> (Tensor<2>, Vec<usize>) {
        sample_mixture(&self.params, n, seed, device)
    }
}

/// Ancestral sampling: a component from the weights, then `μ + L z` with `z ~ N(0, I)`.
fn sample_mixture(p: &Components, n: usize, seed: u64, device: &Device) -> (Tensor<2>, Vec<usize>) {
    let (k, d) = (p.k, p.d);
    let mut rng = Rng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(n * d);
    let mut labels = Vec::with_capacity(n);
    for _ in 0..n {
        let u = rng.uniform_f64();
        let mut acc = 0.0;
        let c = p.params.weights.iter().position(|w| {
            acc += w;
            u < acc
        });
        let c = c.unwrap_or(k - 1);
        let z: Vec<f64> = (0..d).map(|_| rng.normal()).collect();
        for i in 0..d {
            let noise = match p.kind {
                CovarianceType::Full => (0..=i)
                    .map(|j| p.chol[c * d * d + i * d + j] * z[j])
                    .sum::<f64>(),
                CovarianceType::Diag => p.chol[c * d + i] * z[i],
            };
            out.push(p.params.means[c * d + i] + noise);
        }
        labels.push(c);
    }
    (tensor(&out, n, d, device), labels)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    fn device() -> Device {
        Device::flex()
    }

    /// One full component fitted to data: the MLE is the sample mean and the (1/n) sample covariance,
    /// and the mean log-likelihood has the closed form −½(d ln 2π + ln det Σ + d).
    #[test]
    fn single_component_is_the_gaussian_mle() {
        let mut rng = Rng::seed_from_u64(11);
        let n = 500;
        let v: Vec<f32> = (0..n)
            .flat_map(|_| {
                let (a, b) = (rng.normal(), rng.normal());
                [(2.0 + a) as f32, (-1.0 + 0.5 * a + 0.3 * b) as f32]
            })
            .collect();
        let x = Tensor::<2>::from_data(TensorData::new(v.clone(), [n, 2]), &device());
        let g = GaussianMixtureConfig::new(1)
            .with_reg_covar(0.0)
            .fit(&x)
            .expect("fit");
        let pts: Vec<[f64; 2]> = v
            .chunks(2)
            .map(|p| [f64::from(p[0]), f64::from(p[1])])
            .collect();
        let m = [
            pts.iter().map(|p| p[0]).sum::<f64>() / n as f64,
            pts.iter().map(|p| p[1]).sum::<f64>() / n as f64,
        ];
        let c = |a: usize, b: usize| {
            pts.iter()
                .map(|p| (p[a] - m[a]) * (p[b] - m[b]))
                .sum::<f64>()
                / n as f64
        };
        let cov = [c(0, 0), c(0, 1), c(1, 1)];
        let got = &g.params().covariances;
        assert!(
            (g.params().means[0] - m[0]).abs() < 1e-5 && (g.params().means[1] - m[1]).abs() < 1e-5
        );
        assert!(
            (got[0] - cov[0]).abs() < 1e-5
                && (got[1] - cov[1]).abs() < 1e-5
                && (got[3] - cov[2]).abs() < 1e-5
        );
        let det = cov[0] * cov[2] - cov[1] * cov[1];
        let want = -0.5 * (2.0 * (2.0 * PI).ln() + det.ln() + 2.0);
        let score = g.score(&x).expect("score");
        assert!((score - want).abs() < 1e-5, "{score} vs {want}");
        let bic = g.bic(&x).expect("bic");
        assert!((bic - (-2.0 * want * n as f64 + 5.0 * (n as f64).ln())).abs() < 1e-2);
    }

    /// Two well-separated blobs: EM finds weights ¼ and ¾, the log-likelihood never decreases, and
    /// samples reproduce the weights and means.
    #[test]
    fn two_blobs_and_sampling() {
        let mut rng = Rng::seed_from_u64(2);
        let v: Vec<f32> = (0..400)
            .flat_map(|i| {
                let c = if i < 100 { -6.0 } else { 6.0 };
                [(c + rng.normal()) as f32, (c + 0.5 * rng.normal()) as f32]
            })
            .collect();
        let x = Tensor::<2>::from_data(TensorData::new(v, [400, 2]), &device());
        for kind in [CovarianceType::Full, CovarianceType::Diag] {
            let g = GaussianMixtureConfig::new(2)
                .with_covariance_type(kind)
                .with_seed(3)
                .fit(&x)
                .expect("fit");
            assert!(g.converged());
            let h = g.lower_bound_history();
            assert!(h.windows(2).all(|w| w[1] >= w[0] - 1e-6), "{h:?}");
            let mut w = g.params().weights.clone();
            w.sort_by(f64::total_cmp);
            assert!(
                (w[0] - 0.25).abs() < 1e-6 && (w[1] - 0.75).abs() < 1e-6,
                "{w:?}"
            );
            let (s, labels) = g.sample(4000, 9, &device());
            let s = floats(s);
            let big = if g.params().weights[0] > 0.5 { 0 } else { 1 };
            let frac = labels.iter().filter(|&&l| l == big).count() as f64 / 4000.0;
            assert!((frac - 0.75).abs() < 0.03, "fraction {frac}");
            let mean_x = (0..4000)
                .filter(|&i| labels[i] == big)
                .map(|i| f64::from(s[2 * i]))
                .sum::<f64>()
                / labels.iter().filter(|&&l| l == big).count() as f64;
            assert!((mean_x - 6.0).abs() < 0.1, "{mean_x}");
            assert_eq!(g.predict(&x).expect("predict")[300], big);
        }
    }

    /// Duplicated points make the MLE covariance singular; `reg_covar` keeps it positive definite.
    #[test]
    fn reg_covar_prevents_singular_covariances() {
        let v = vec![1.0f32, 2.0, 1.0, 2.0, 1.0, 2.0, 5.0, 5.0, 5.0, 5.0];
        let x = Tensor::<2>::from_data(TensorData::new(v, [5, 2]), &device());
        let g = GaussianMixtureConfig::new(2)
            .with_reg_covar(1e-3)
            .fit(&x)
            .expect("fit");
        assert!(g.score(&x).expect("score").is_finite());
        let c = &g.params().covariances;
        assert!((c[0] - 1e-3).abs() < 1e-6 && c[1].abs() < 1e-6, "{c:?}");
    }

    #[test]
    fn bad_input_is_an_error() {
        let x = Tensor::<2>::zeros([4, 2], &device());
        let cfg = GaussianMixtureConfig::new(2);
        let bad = GmmParams {
            weights: vec![0.5, 0.5],
            means: vec![0.0; 3],
            covariances: vec![1.0; 8],
        };
        assert!(matches!(cfg.fit_from(&x, &bad), Err(Error::Shape { .. })));
        let singular = GmmParams {
            weights: vec![0.5, 0.5],
            means: vec![0.0; 4],
            covariances: vec![1.0; 8],
        };
        assert!(matches!(
            cfg.fit_from(&x, &singular),
            Err(Error::NotPositiveDefinite { component: 0 })
        ));
        assert!(matches!(
            GaussianMixtureConfig::new(5).fit(&x),
            Err(Error::TooFewSamples { .. })
        ));
    }
}
