//! Principal component analysis — Pearson 1901 (DOI 10.1080/14786440109462720), Hotelling 1933; exact
//! solver by eigendecomposition of the sample covariance, randomized solver after Halko, Martinsson &
//! Tropp 2011, "Finding structure with randomness" (arXiv:0909.4061), Algorithm 4.4.
//!
//! The randomized solver starts from a Gaussian `d × (k + p)` test matrix `Ω` and runs `n_power_iter + 1`
//! subspace iterations `Z ← orth(Xᵀ (X Z))` on the centred data, re-orthonormalising by Householder QR
//! after every product; `Z` then spans `(XᵀX)^(q+1) Ω`, the same subspace as the row space of Halko et
//! al.'s `B = QᵀX` with `Q = orth((XXᵀ)^q X Ω)`, but every QR is `d × (k + p)` and no `n × (k + p)` matrix
//! leaves the device. The exact eigendecomposition of the small Gram matrix `(XZ)ᵀ(XZ)` (Rayleigh–Ritz)
//! gives the explained variances `σ²/(n − 1)` and the axes; the ratios divide by the exact total
//! variance. The large products run on burn tensors, the QR and the small eigenproblem in `f64` with
//! `nalgebra`.
//!
//! Definitions follow scikit-learn's `PCA(svd_solver="full")`: variances use the `n - 1` denominator,
//! `explained_variance_ratio` divides by the total variance of all `d` directions, each component's
//! sign makes its largest-magnitude entry positive, and whitening divides the projections by the square
//! root of the explained variance. The covariance `XᵀX` is formed on burn tensors in row chunks (centred
//! in `f64` first, chunk products summed in `f64`); its `d × d` eigendecomposition runs in `f64` with
//! `nalgebra`.

use burn::config::Config;
use burn::tensor::{Device, Tensor};
use genzoo_datasets::rng::Rng;
use nalgebra::{DMatrix, SymmetricEigen};
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::host::{HostMatrix, check_cols, floats, tensor, to_host};

/// Rows per covariance chunk: bounds the f32 accumulation length of each product.
const CHUNK: usize = 4096;

/// How the principal axes are computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PcaSolver {
    /// Eigendecomposition of the `d × d` covariance (exact).
    Full,
    /// Halko et al. randomized range finder + SVD of the small projected matrix.
    Randomized,
}

/// Configuration of a PCA fit.
#[derive(Config, Debug, PartialEq)]
pub struct PcaConfig {
    /// Number of principal components kept.
    pub n_components: usize,
    /// Scale the projections to unit variance.
    #[config(default = false)]
    pub whiten: bool,
    /// Exact or randomized solver.
    #[config(default = "PcaSolver::Full")]
    pub solver: PcaSolver,
    /// Randomized solver: extra random directions beyond `n_components` (Halko et al.'s `p`).
    #[config(default = 10)]
    pub n_oversamples: usize,
    /// Randomized solver: power iterations (Halko et al.'s `q`).
    #[config(default = 4)]
    pub n_power_iter: usize,
    /// Randomized solver: seed of the Gaussian test matrix.
    #[config(default = 0)]
    pub seed: u64,
}

impl PcaConfig {
    /// The reference MNIST configuration: 50 components, no whitening.
    pub fn mnist() -> Self {
        Self::new(50)
    }

    /// Fits the principal axes of the rows of `x` (`[n, d]`, `n >= 2`).
    pub fn fit(&self, x: &Tensor<2>) -> crate::Result<Pca> {
        let host = to_host(x)?;
        let (n, d) = (host.n, host.d);
        crate::error::enough_samples("PCA", 2, n)?;
        if self.n_components == 0 || self.n_components > n.min(d) {
            return Err(Error::Config(format!(
                "n_components must be in 1..={} (min of {n} samples and {d} features), found {}",
                n.min(d),
                self.n_components
            )));
        }
        let mut mean = vec![0.0f64; d];
        for i in 0..n {
            for (m, &v) in mean.iter_mut().zip(host.row(i)) {
                *m += f64::from(v);
            }
        }
        mean.iter_mut().for_each(|m| *m /= n as f64);
        let (components, explained_variance, total) = match self.solver {
            PcaSolver::Full => full(&host, &mean, self.n_components, &x.device()),
            PcaSolver::Randomized => self.randomized(x, &host, &mean),
        };
        // Constant data has no variance to explain: report zero ratios rather than 0/0 = NaN.
        let explained_variance_ratio = explained_variance
            .iter()
            .map(|v| if total > 0.0 { v / total } else { 0.0 })
            .collect();
        Ok(Pca {
            mean,
            components,
            explained_variance,
            explained_variance_ratio,
            total_variance: total,
            d,
            whiten: self.whiten,
        })
    }

    /// Randomized solver (Halko et al. 2011, Algorithm 4.4). Returns (components, variances, total).
    fn randomized(
        &self,
        x: &Tensor<2>,
        host: &HostMatrix,
        mean: &[f64],
    ) -> (Vec<f64>, Vec<f64>, f64) {
        let (n, d, k) = (host.n, host.d, self.n_components);
        let device = x.device();
        let l = (k + self.n_oversamples).min(n.min(d));
        let xc = x.clone() - tensor(mean, 1, d, &device);
        let mut rng = Rng::seed_from_u64(self.seed);
        let omega: Vec<f64> = (0..d * l).map(|_| rng.normal()).collect();
        // Subspace iteration on the right singular vectors: Z ← orth(Xᵀ (X Z)), q + 1 times, which
        // spans (XᵀX)^(q+1) Ω — the row space of Halko et al.'s B = QᵀX with Q = orth((XXᵀ)^q X Ω) —
        // while every QR stays d × l (no n × l matrix leaves the device).
        let mut z = orthonormalize(tensor(&omega, d, l, &device));
        for _ in 0..=self.n_power_iter {
            let y = xc.clone().matmul(z);
            z = orthonormalize(xc.clone().transpose().matmul(y));
        }
        // Rayleigh–Ritz: the eigenpairs of Zᵀ XᵀX Z = (XZ)ᵀ(XZ) give the squared singular values and,
        // rotated back by Z, the principal axes.
        let y = xc.matmul(z.clone());
        let gram = floats(y.clone().transpose().matmul(y)); // [l, l]
        let gram = DMatrix::from_row_iterator(l, l, gram.into_iter().map(f64::from));
        let eig = SymmetricEigen::new((gram.clone() + gram.transpose()) * 0.5);
        let z = DMatrix::from_row_iterator(d, l, floats(z).into_iter().map(f64::from));
        let axes = z * &eig.eigenvectors; // [d, l], columns are the Ritz vectors
        let mut order: Vec<usize> = (0..l).collect();
        order.sort_by(|&a, &b| eig.eigenvalues[b].total_cmp(&eig.eigenvalues[a]));
        let mut components = Vec::with_capacity(k * d);
        let mut explained_variance = Vec::with_capacity(k);
        for &j in &order[..k] {
            components.extend(axes.column(j).iter().copied());
            explained_variance.push(eig.eigenvalues[j].max(0.0) / (n as f64 - 1.0));
        }
        flip_signs(&mut components, d);
        // The total variance is exact: the trace of the covariance, from per-feature sums of squares.
        let mut ss = vec![0.0f64; d];
        for i in 0..n {
            for ((s, &v), &m) in ss.iter_mut().zip(host.row(i)).zip(mean) {
                *s += (f64::from(v) - m).powi(2);
            }
        }
        let total = ss.iter().sum::<f64>() / (n as f64 - 1.0);
        (components, explained_variance, total)
    }
}

/// Exact solver: eigendecomposition of the covariance. Returns (components, variances, total variance).
fn full(host: &HostMatrix, mean: &[f64], k: usize, device: &Device) -> (Vec<f64>, Vec<f64>, f64) {
    let (n, d) = (host.n, host.d);
    let mut cov = vec![0.0f64; d * d];
    for start in (0..n).step_by(CHUNK) {
        let rows = CHUNK.min(n - start);
        let centred: Vec<f64> = (start..start + rows)
            .flat_map(|i| {
                host.row(i)
                    .iter()
                    .zip(mean)
                    .map(|(&v, &m)| f64::from(v) - m)
                    .collect::<Vec<_>>()
            })
            .collect();
        let c = tensor(&centred, rows, d, device);
        let prod = floats(c.clone().transpose().matmul(c));
        cov.iter_mut()
            .zip(prod)
            .for_each(|(s, p)| *s += f64::from(p));
    }
    let cov = DMatrix::from_row_slice(d, d, &cov) / (n as f64 - 1.0);
    let eig = SymmetricEigen::new(cov);
    let mut order: Vec<usize> = (0..d).collect();
    order.sort_by(|&a, &b| eig.eigenvalues[b].total_cmp(&eig.eigenvalues[a]));
    let total: f64 = eig.eigenvalues.iter().map(|v| v.max(0.0)).sum();
    let mut components = Vec::with_capacity(k * d);
    let mut explained_variance = Vec::with_capacity(k);
    for &j in &order[..k] {
        let col = eig.eigenvectors.column(j);
        let big = col
            .iter()
            .copied()
            .max_by(|a, b| a.abs().total_cmp(&b.abs()))
            .unwrap_or(1.0);
        let sign = if big < 0.0 { -1.0 } else { 1.0 };
        components.extend(col.iter().map(|v| v * sign));
        explained_variance.push(eig.eigenvalues[j].max(0.0));
    }
    (components, explained_variance, total)
}

/// Flips each row of `[k, d]` `v` so that its largest-magnitude entry is positive.
fn flip_signs(v: &mut [f64], d: usize) {
    for row in v.chunks_mut(d) {
        let big = row
            .iter()
            .copied()
            .max_by(|a, b| a.abs().total_cmp(&b.abs()))
            .unwrap_or(1.0);
        if big < 0.0 {
            row.iter_mut().for_each(|x| *x = -*x);
        }
    }
}

/// An orthonormal basis of the columns of `y` (`[rows, cols]`, `rows >= cols`), by Householder QR in f64.
fn orthonormalize(y: Tensor<2>) -> Tensor<2> {
    let device = y.device();
    let [rows, cols] = y.dims();
    let m = DMatrix::from_row_iterator(rows, cols, floats(y).into_iter().map(f64::from));
    let q = m.qr().q();
    let values: Vec<f64> = (0..rows)
        .flat_map(|i| (0..cols).map(move |j| (i, j)))
        .map(|(i, j)| q[(i, j)])
        .collect();
    tensor(&values, rows, cols, &device)
}

/// A fitted PCA.
#[derive(Clone, Debug)]
pub struct Pca {
    mean: Vec<f64>,
    components: Vec<f64>,
    explained_variance: Vec<f64>,
    explained_variance_ratio: Vec<f64>,
    total_variance: f64,
    d: usize,
    whiten: bool,
}

impl Pca {
    /// Per-feature mean of the training data.
    pub fn mean(&self) -> &[f64] {
        &self.mean
    }

    /// Principal axes, `[n_components, d]` row-major, unit norm, by decreasing variance.
    pub fn components(&self) -> &[f64] {
        &self.components
    }

    /// Variance along each kept axis (eigenvalues of the `n - 1` sample covariance).
    pub fn explained_variance(&self) -> &[f64] {
        &self.explained_variance
    }

    /// Fraction of the total variance along each kept axis.
    pub fn explained_variance_ratio(&self) -> &[f64] {
        &self.explained_variance_ratio
    }

    /// Total variance of the training data (trace of the covariance).
    pub fn total_variance(&self) -> f64 {
        self.total_variance
    }

    /// Number of kept components.
    pub fn n_components(&self) -> usize {
        self.explained_variance.len()
    }

    /// Projects `x` (`[n, d]`) onto the principal axes.
    ///
    /// # Shapes
    /// `[n, d] -> [n, n_components]`
    pub fn transform(&self, x: &Tensor<2>) -> crate::Result<Tensor<2>> {
        check_cols("PCA transform input", x, self.d)?;
        let device = x.device();
        let k = self.n_components();
        let mean = tensor(&self.mean, 1, self.d, &device);
        let mut w = self.components.clone();
        if self.whiten {
            for (c, &ev) in self.explained_variance.iter().enumerate() {
                let s = 1.0 / ev.sqrt().max(f64::MIN_POSITIVE);
                w[c * self.d..(c + 1) * self.d]
                    .iter_mut()
                    .for_each(|v| *v *= s);
            }
        }
        let w = tensor(&w, k, self.d, &device);
        Ok((x.clone() - mean).matmul(w.transpose()))
    }

    /// Maps projections back to the data space (exact for data in the span of the kept axes).
    ///
    /// # Shapes
    /// `[n, n_components] -> [n, d]`
    pub fn inverse_transform(&self, y: &Tensor<2>) -> crate::Result<Tensor<2>> {
        let k = self.n_components();
        check_cols("PCA inverse_transform input", y, k)?;
        let device: Device = y.device();
        let mut w = self.components.clone();
        if self.whiten {
            for (c, &ev) in self.explained_variance.iter().enumerate() {
                w[c * self.d..(c + 1) * self.d]
                    .iter_mut()
                    .for_each(|v| *v *= ev.sqrt());
            }
        }
        let w = tensor(&w, k, self.d, &device);
        Ok(y.clone().matmul(w) + tensor(&self.mean, 1, self.d, &device))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::mat;

    /// Points on a line y = 2x (plus a mean offset): one component holds all the variance, its axis is
    /// (1, 2)/√5, and the inverse transform reconstructs the points exactly.
    #[test]
    fn line_closed_form() {
        let xs = [-2.0f32, -1.0, 0.0, 1.0, 2.0];
        let v: Vec<f32> = xs.iter().flat_map(|&x| [x + 3.0, 2.0 * x - 1.0]).collect();
        let x = mat(v.clone(), 5, 2);
        let pca = PcaConfig::new(2).fit(&x).expect("fit");
        // Var of x is 2.5 (n-1 denominator); along the axis the variance is 2.5 * 5 = 12.5.
        assert!((pca.explained_variance()[0] - 12.5).abs() < 1e-5);
        assert!(pca.explained_variance()[1].abs() < 1e-5);
        assert!((pca.explained_variance_ratio()[0] - 1.0).abs() < 1e-6);
        let s = 5f64.sqrt();
        assert!(
            (pca.components()[0] - 1.0 / s).abs() < 1e-6
                && (pca.components()[1] - 2.0 / s).abs() < 1e-6
        );
        let one = PcaConfig::new(1).fit(&x).expect("fit");
        let back = one
            .inverse_transform(&one.transform(&x).expect("t"))
            .expect("inv");
        let back = floats(back);
        assert!(
            back.iter().zip(&v).all(|(a, b)| (a - b).abs() < 1e-4),
            "{back:?}"
        );
    }

    /// Whitened projections of the training data have unit sample variance on every axis.
    #[test]
    fn whitening_gives_unit_variance() {
        let mut rng = genzoo_datasets::rng::Rng::seed_from_u64(5);
        let v: Vec<f32> = (0..300 * 3)
            .map(|i| rng.normal_f32() * [5.0, 1.0, 0.2][i % 3] + 1.0)
            .collect();
        let x = mat(v, 300, 3);
        let pca = PcaConfig::new(3).with_whiten(true).fit(&x).expect("fit");
        let y = floats(pca.transform(&x).expect("t"));
        for c in 0..3 {
            let col: Vec<f64> = (0..300).map(|i| f64::from(y[i * 3 + c])).collect();
            let m = col.iter().sum::<f64>() / 300.0;
            let var = col.iter().map(|v| (v - m).powi(2)).sum::<f64>() / 299.0;
            assert!((var - 1.0).abs() < 1e-3, "axis {c}: var {var}");
        }
    }

    /// The randomized solver against the exact one (a second method) on 400 × 30 data with a decaying
    /// spectrum: leading explained variances agree to 1e-4 relative, ratios to 1e-5, axes up to sign to
    /// 1e-3, and the total variance to 1e-6 relative.
    #[test]
    fn randomized_matches_exact() {
        let mut rng = genzoo_datasets::rng::Rng::seed_from_u64(11);
        let (n, d, k) = (400, 30, 5);
        let scales: Vec<f32> = (0..d).map(|j| 0.7f32.powi(j as i32) * 4.0).collect();
        let mix: Vec<f32> = (0..d * d).map(|_| rng.normal_f32()).collect();
        let z: Vec<f32> = (0..n * d)
            .map(|i| rng.normal_f32() * scales[i % d])
            .collect();
        // Rotate by a random (non-orthogonal) mix so no axis is a coordinate axis.
        let v: Vec<f32> = (0..n)
            .flat_map(|i| {
                let z = &z;
                let mix = &mix;
                (0..d).map(move |j| {
                    (0..d).map(|t| z[i * d + t] * mix[t * d + j]).sum::<f32>() / (d as f32).sqrt()
                        + 2.0
                })
            })
            .collect();
        let x = mat(v, n, d);
        let exact = PcaConfig::new(k).fit(&x).expect("exact");
        let rand = PcaConfig::new(k)
            .with_solver(PcaSolver::Randomized)
            .with_seed(3)
            .fit(&x)
            .expect("randomized");
        // The exact total is the trace of an f32-product covariance, the randomized one an f64 sum.
        let (ta, tb) = (rand.total_variance(), exact.total_variance());
        assert!((ta - tb).abs() < 1e-6 * tb, "total variance {ta} vs {tb}");
        for c in 0..k {
            let (a, b) = (rand.explained_variance()[c], exact.explained_variance()[c]);
            assert!((a - b).abs() < 1e-4 * b, "component {c}: {a} vs exact {b}");
            let (ra, rb) = (
                rand.explained_variance_ratio()[c],
                exact.explained_variance_ratio()[c],
            );
            assert!((ra - rb).abs() < 1e-5, "ratio {c}: {ra} vs {rb}");
            let dot: f64 = (0..d)
                .map(|j| rand.components()[c * d + j] * exact.components()[c * d + j])
                .sum();
            assert!(dot.abs() > 1.0 - 1e-3, "axis {c}: |cos| = {}", dot.abs());
        }
        // Without power iterations and oversampling the range finder misses the spectrum noticeably:
        // the test above could fail.
        let crude = PcaConfig::new(k)
            .with_solver(PcaSolver::Randomized)
            .with_n_oversamples(0)
            .with_n_power_iter(0)
            .with_seed(3)
            .fit(&x)
            .expect("crude");
        let worst = (0..k)
            .map(|c| {
                (crude.explained_variance()[c] - exact.explained_variance()[c]).abs()
                    / exact.explained_variance()[c]
            })
            .fold(0.0, f64::max);
        assert!(
            worst > 1e-4,
            "crude randomized PCA unexpectedly exact ({worst})"
        );
    }

    #[test]
    fn bad_input_is_an_error() {
        let x = mat(vec![0.0; 8], 4, 2);
        assert!(matches!(PcaConfig::new(3).fit(&x), Err(Error::Config(_))));
        assert!(matches!(
            PcaConfig::new(1).fit(&mat(vec![1.0, 2.0], 1, 2)),
            Err(Error::TooFewSamples { .. })
        ));
        let pca = PcaConfig::new(1)
            .fit(&mat(vec![0.0, 1.0, 2.0, 3.0, 4.0, 6.0], 3, 2))
            .expect("fit");
        assert!(matches!(
            pca.transform(&mat(vec![0.0; 3], 1, 3)),
            Err(Error::Shape { .. })
        ));
        assert!(matches!(
            pca.inverse_transform(&mat(vec![0.0; 2], 1, 2)),
            Err(Error::Shape { .. })
        ));
    }
}
