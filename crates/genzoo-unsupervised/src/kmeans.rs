//! k-means clustering — Lloyd 1982 (DOI 10.1109/TIT.1982.1056489) with k-means++ seeding
//! (Arthur & Vassilvitskii 2007, <https://dl.acm.org/doi/10.5555/1283383.1283494>).
//!
//! The definitions follow scikit-learn's `KMeans(algorithm="lloyd")` so that a fit from the same initial
//! centres reaches the same inertia: the tolerance is `tol` times the mean per-feature variance, a run
//! stops when the labels no longer change or the squared centre shift falls to the tolerance, and a final
//! assignment step makes the labels agree with the returned centres. Empty clusters are re-seeded at the
//! points farthest from their centres, so a centre is never NaN.

use burn::config::Config;
use burn::tensor::{Device, Int, Tensor, TensorData};
use genzoo_datasets::rng::{Rng, derive_seed};

use crate::error::Error;
use crate::host::{HostMatrix, check_cols, floats, ints, tensor, to_host};

/// Configuration of a k-means fit.
#[derive(Config, Debug, PartialEq)]
pub struct KMeansConfig {
    /// Number of clusters.
    pub k: usize,
    /// Independent k-means++ restarts; the fit with the lowest inertia is kept.
    #[config(default = 1)]
    pub n_init: usize,
    /// Maximum Lloyd iterations per restart.
    #[config(default = 300)]
    pub max_iter: usize,
    /// Relative tolerance on the squared centre shift (times the mean feature variance).
    #[config(default = 1e-4)]
    pub tol: f64,
    /// Seed of the k-means++ draws.
    #[config(default = 0)]
    pub seed: u64,
}

impl KMeansConfig {
    /// The reference MNIST configuration: k = 10, one restart, at most 100 iterations.
    pub fn mnist() -> Self {
        Self::new(10).with_n_init(1).with_max_iter(100)
    }

    fn validate(&self, n: usize) -> crate::Result<()> {
        if self.k == 0 || self.n_init == 0 || self.max_iter == 0 {
            return Err(Error::Config(format!(
                "k, n_init and max_iter must be positive (k = {}, n_init = {}, max_iter = {})",
                self.k, self.n_init, self.max_iter
            )));
        }
        if self.tol.is_nan() || self.tol < 0.0 {
            return Err(Error::Config(format!(
                "tol must be >= 0, found {}",
                self.tol
            )));
        }
        crate::error::enough_samples("k-means", self.k, n)
    }

    /// Fits k-means to the rows of `x` (`[n, d]`), seeding each of the `n_init` restarts with k-means++.
    pub fn fit(&self, x: &Tensor<2>) -> crate::Result<KMeans> {
        let data = Data::new(x)?;
        self.validate(data.host.n)?;
        let mut best: Option<KMeans> = None;
        for run in 0..self.n_init {
            let mut rng = Rng::seed_from_u64(derive_seed(self.seed, &[run as u64]));
            let init = kmeans_plus_plus(&data, self.k, &mut rng);
            let fit = self.lloyd(&data, init);
            if best.as_ref().is_none_or(|b| fit.inertia < b.inertia) {
                best = Some(fit);
            }
        }
        Ok(best.expect("n_init >= 1"))
    }

    /// Fits from the given initial centres (`[k, d]`), one run, no k-means++ (`n_init` is ignored).
    pub fn fit_from(&self, x: &Tensor<2>, init: &Tensor<2>) -> crate::Result<KMeans> {
        let data = Data::new(x)?;
        self.validate(data.host.n)?;
        let init = initial_centres(init, self.k, data.host.d)?;
        Ok(self.lloyd(&data, init))
    }

    fn lloyd(&self, data: &Data, mut centers: Vec<f64>) -> KMeans {
        let (n, d, k) = (data.host.n, data.host.d, self.k);
        let tol = self.tol * data.mean_variance;
        let mut labels_old: Vec<usize> = vec![usize::MAX; n];
        let mut labels = Vec::new();
        let mut n_iter = 0;
        let mut strict = false;
        let mut converged = false;
        for it in 0..self.max_iter {
            n_iter = it + 1;
            let (l, dist) = data.assign(&centers, k);
            labels = l;
            let mut new = vec![0.0f64; k * d];
            let mut counts = vec![0usize; k];
            for (i, &c) in labels.iter().enumerate() {
                counts[c] += 1;
                for (s, &v) in new[c * d..(c + 1) * d].iter_mut().zip(data.host.row(i)) {
                    *s += f64::from(v);
                }
            }
            relocate_empty(data, &mut labels, &dist, &mut new, &mut counts);
            let mut shift = 0.0;
            for c in 0..k {
                for j in 0..d {
                    let v = new[c * d + j] / counts[c] as f64;
                    shift += (v - centers[c * d + j]).powi(2);
                    new[c * d + j] = v;
                }
            }
            centers = new;
            if labels == labels_old {
                strict = true;
                converged = true;
                break;
            }
            if shift <= tol {
                converged = true;
                break;
            }
            labels_old.clone_from(&labels);
        }
        if !strict {
            labels = data.assign(&centers, k).0;
        }
        let inertia = inertia(&data.host, &centers, &labels);
        KMeans {
            centers,
            k,
            d,
            inertia,
            labels,
            n_iter,
            converged,
        }
    }
}

/// Given initial centres (`[k, d]`) as `f64` values, or the error naming the shape expected.
pub(crate) fn initial_centres(init: &Tensor<2>, k: usize, d: usize) -> crate::Result<Vec<f64>> {
    let found = init.dims();
    if found != [k, d] {
        return Err(Error::Shape {
            what: "initial centres",
            expected: vec![k, d],
            found: found.to_vec(),
        });
    }
    Ok(to_host(init)?.data.iter().map(|&v| f64::from(v)).collect())
}

/// A fitted k-means model.
#[derive(Clone, Debug)]
pub struct KMeans {
    pub(crate) centers: Vec<f64>,
    pub(crate) k: usize,
    pub(crate) d: usize,
    pub(crate) inertia: f64,
    pub(crate) labels: Vec<usize>,
    pub(crate) n_iter: usize,
    pub(crate) converged: bool,
}

impl KMeans {
    /// Cluster centres, `[k, d]` row-major, in `f64`.
    pub fn centers(&self) -> &[f64] {
        &self.centers
    }

    /// Cluster centres as a `[k, d]` tensor.
    pub fn centers_tensor(&self, device: &Device) -> Tensor<2> {
        tensor(&self.centers, self.k, self.d, device)
    }

    /// Sum of squared distances of the training points to their centres.
    pub fn inertia(&self) -> f64 {
        self.inertia
    }

    /// Cluster of each training point.
    pub fn labels(&self) -> &[usize] {
        &self.labels
    }

    /// Lloyd iterations of the kept run.
    pub fn n_iter(&self) -> usize {
        self.n_iter
    }

    /// Whether the kept run stopped by the tolerance (or unchanged labels) before `max_iter`.
    pub fn converged(&self) -> bool {
        self.converged
    }

    /// Number of clusters.
    pub fn k(&self) -> usize {
        self.k
    }

    /// Nearest centre of each row of `x` (`[n, d]`).
    pub fn predict(&self, x: &Tensor<2>) -> crate::Result<Vec<usize>> {
        check_cols("k-means predict input", x, self.d)?;
        let data = Data::new(x)?;
        Ok(data.assign(&self.centers, self.k).0)
    }

    /// Sum of squared distances of the rows of `x` to their nearest centres.
    pub fn score_inertia(&self, x: &Tensor<2>) -> crate::Result<f64> {
        check_cols("k-means input", x, self.d)?;
        let data = Data::new(x)?;
        let labels = data.assign(&self.centers, self.k).0;
        Ok(inertia(&data.host, &self.centers, &labels))
    }
}

/// The data of a fit: host copy (for the f64 reductions) and centred device copy (for the products).
pub(crate) struct Data {
    pub(crate) host: HostMatrix,
    mean: Vec<f64>,
    pub(crate) mean_variance: f64,
    /// `x - mean` on the device; centring first keeps the expanded distance accurate in f32.
    centred: Tensor<2>,
    /// `‖x - mean‖²`, `[n, 1]`.
    sq_norms: Tensor<2>,
}

impl Data {
    pub(crate) fn new(x: &Tensor<2>) -> crate::Result<Self> {
        let host = to_host(x)?;
        let (n, d) = (host.n, host.d);
        let mut mean = vec![0.0f64; d];
        for i in 0..n {
            for (m, &v) in mean.iter_mut().zip(host.row(i)) {
                *m += f64::from(v);
            }
        }
        mean.iter_mut().for_each(|m| *m /= n as f64);
        let mut var = vec![0.0f64; d];
        let mut centred = Vec::with_capacity(n * d);
        for i in 0..n {
            for (j, &v) in host.row(i).iter().enumerate() {
                let c = f64::from(v) - mean[j];
                var[j] += c * c;
                centred.push(c);
            }
        }
        let mean_variance = var.iter().sum::<f64>() / (n as f64 * d as f64);
        let centred = tensor(&centred, n, d, &x.device());
        let sq_norms = (centred.clone() * centred.clone()).sum_dim(1);
        Ok(Self {
            host,
            mean,
            mean_variance,
            centred,
            sq_norms,
        })
    }

    /// Squared distances `[n, m]` of every point to the `m` given centres (original coordinates, row-major).
    fn sq_distances(&self, centers: &[f64], m: usize) -> Tensor<2> {
        self.sq_distances_of(self.centred.clone(), self.sq_norms.clone(), centers, m)
    }

    /// Squared distances `[b, m]` of the centred points `xc` (`[b, d]`, squared norms `sq`, `[b, 1]`) to
    /// the `m` given centres.
    fn sq_distances_of(
        &self,
        xc: Tensor<2>,
        sq: Tensor<2>,
        centers: &[f64],
        m: usize,
    ) -> Tensor<2> {
        let d = self.host.d;
        let shifted: Vec<f64> = centers
            .iter()
            .enumerate()
            .map(|(i, &c)| c - self.mean[i % d])
            .collect();
        let c = tensor(&shifted, m, d, &self.centred.device());
        let cc = (c.clone() * c.clone()).sum_dim(1).transpose(); // [1, m]
        let cross = xc.matmul(c.transpose()); // [b, m]
        (sq - cross * 2.0 + cc).clamp_min(0.0)
    }

    /// Nearest centre of the given rows and the squared distance to it.
    pub(crate) fn assign_rows(
        &self,
        rows: &[usize],
        centers: &[f64],
        k: usize,
    ) -> (Vec<usize>, Vec<f32>) {
        let device = self.centred.device();
        let idx: Vec<i64> = rows.iter().map(|&r| r as i64).collect();
        let idx = Tensor::<1, Int>::from_data(TensorData::new(idx, [rows.len()]), &device);
        let xc = self.centred.clone().select(0, idx.clone());
        let sq = self.sq_norms.clone().select(0, idx);
        let d2 = self.sq_distances_of(xc, sq, centers, k);
        (ints(d2.clone().argmin(1)), floats(d2.min_dim(1)))
    }

    /// Nearest centre of every point and the squared distance to it.
    pub(crate) fn assign(&self, centers: &[f64], k: usize) -> (Vec<usize>, Vec<f32>) {
        let d2 = self.sq_distances(centers, k);
        let labels = ints(d2.clone().argmin(1));
        let dist = floats(d2.min_dim(1));
        (labels, dist)
    }
}

/// Moves the points farthest from their centres into empty clusters (scikit-learn's rule).
fn relocate_empty(
    data: &Data,
    labels: &mut [usize],
    dist: &[f32],
    sums: &mut [f64],
    counts: &mut [usize],
) {
    let empty: Vec<usize> = (0..counts.len()).filter(|&c| counts[c] == 0).collect();
    if empty.is_empty() {
        return;
    }
    let d = data.host.d;
    let mut order: Vec<usize> = (0..labels.len()).collect();
    order.sort_by(|&a, &b| dist[b].total_cmp(&dist[a]).then(a.cmp(&b)));
    let mut taken = order.into_iter();
    for c in empty {
        let Some(i) = taken.by_ref().find(|&i| counts[labels[i]] > 1) else {
            break;
        };
        let old = labels[i];
        for (j, &v) in data.host.row(i).iter().enumerate() {
            sums[old * d + j] -= f64::from(v);
            sums[c * d + j] = f64::from(v);
        }
        counts[old] -= 1;
        counts[c] = 1;
        labels[i] = c;
    }
}

/// Greedy k-means++: each new centre is the best (lowest potential) of `2 + ln k` candidates drawn with
/// probability proportional to the squared distance to the nearest chosen centre.
pub(crate) fn kmeans_plus_plus(data: &Data, k: usize, rng: &mut Rng) -> Vec<f64> {
    let (n, d) = (data.host.n, data.host.d);
    let trials = 2 + (k as f64).ln() as usize;
    let row = |i: usize| {
        data.host
            .row(i)
            .iter()
            .map(|&v| f64::from(v))
            .collect::<Vec<_>>()
    };
    let first = rng.below(n as u64) as usize;
    let mut centers = row(first);
    let mut closest: Vec<f64> = floats(data.sq_distances(&centers, 1))
        .into_iter()
        .map(f64::from)
        .collect();
    for _ in 1..k {
        let pot: f64 = closest.iter().sum();
        let mut cum = Vec::with_capacity(n);
        let mut acc = 0.0;
        for &c in &closest {
            acc += c;
            cum.push(acc);
        }
        let candidates: Vec<usize> = (0..trials)
            .map(|_| {
                let r = rng.uniform_f64() * pot;
                cum.partition_point(|&c| c <= r).min(n - 1)
            })
            .collect();
        let cand_rows: Vec<f64> = candidates.iter().flat_map(|&i| row(i)).collect();
        let dist = floats(data.sq_distances(&cand_rows, trials)); // [n, trials]
        let mut best: Option<(f64, usize)> = None;
        for t in 0..trials {
            let p: f64 = (0..n)
                .map(|i| closest[i].min(f64::from(dist[i * trials + t])))
                .sum();
            if best.is_none_or(|(bp, _)| p < bp) {
                best = Some((p, t));
            }
        }
        let (_, t) = best.expect("trials >= 2");
        for (i, c) in closest.iter_mut().enumerate() {
            *c = c.min(f64::from(dist[i * trials + t]));
        }
        centers.extend_from_slice(&cand_rows[t * d..(t + 1) * d]);
    }
    centers
}

/// Sum of squared distances in f64 from each point to its labelled centre.
pub(crate) fn inertia(x: &HostMatrix, centers: &[f64], labels: &[usize]) -> f64 {
    let d = x.d;
    labels
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            x.row(i)
                .iter()
                .zip(&centers[c * d..(c + 1) * d])
                .map(|(&v, &m)| (f64::from(v) - m).powi(2))
                .sum::<f64>()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    fn mat(rows: &[[f32; 2]]) -> Tensor<2> {
        let v: Vec<f32> = rows.iter().flatten().copied().collect();
        Tensor::from_data(TensorData::new(v, [rows.len(), 2]), &Device::flex())
    }

    /// Two blobs of four points at (0,0) ± 1 and (10,10) ± 1: centres are the blob means, inertia is 8.
    #[test]
    fn two_blobs_closed_form() {
        let x = mat(&[
            [1., 0.],
            [-1., 0.],
            [0., 1.],
            [0., -1.],
            [11., 10.],
            [9., 10.],
            [10., 11.],
            [10., 9.],
        ]);
        let fit = KMeansConfig::new(2)
            .with_n_init(3)
            .with_seed(7)
            .fit(&x)
            .expect("fit");
        assert!(
            (fit.inertia() - 8.0).abs() < 1e-9,
            "inertia {}",
            fit.inertia()
        );
        let mut c: Vec<(f64, f64)> = fit.centers().chunks(2).map(|c| (c[0], c[1])).collect();
        c.sort_by(|a, b| a.0.total_cmp(&b.0));
        assert!(c[0].0.abs() < 1e-9 && c[0].1.abs() < 1e-9 && (c[1].0 - 10.0).abs() < 1e-9);
        let l = fit.labels();
        assert!(
            l[..4].iter().all(|&v| v == l[0]) && l[4..].iter().all(|&v| v == l[4]) && l[0] != l[4]
        );
        assert_eq!(
            fit.predict(&mat(&[[0.5, 0.5], [9.0, 9.5]]))
                .expect("predict"),
            vec![l[0], l[4]]
        );
        assert!(fit.converged());
    }

    /// Both initial centres at the same far point: one cluster is empty after the first assignment and
    /// must be re-seeded, never NaN; the fit then finds the two blobs.
    #[test]
    fn empty_cluster_is_reseeded() {
        let x = mat(&[
            [0., 0.],
            [0., 1.],
            [1., 0.],
            [20., 20.],
            [20., 21.],
            [21., 20.],
        ]);
        let init = mat(&[[100., 100.], [100., 100.]]);
        let fit = KMeansConfig::new(2).fit_from(&x, &init).expect("fit");
        assert!(fit.centers().iter().all(|v| v.is_finite()));
        // Each blob (three corners of a unit square) has squared deviations from its mean summing to 4/3.
        assert!(
            (fit.inertia() - 8.0 / 3.0).abs() < 1e-9,
            "inertia {}",
            fit.inertia()
        );
    }

    #[test]
    fn bad_input_is_an_error() {
        let x = mat(&[[0., 0.], [1., 1.]]);
        assert!(matches!(
            KMeansConfig::new(3).fit(&x),
            Err(Error::TooFewSamples { .. })
        ));
        assert!(matches!(
            KMeansConfig::new(0).fit(&x),
            Err(Error::Config(_))
        ));
        let fit = KMeansConfig::new(1).fit(&x).expect("fit");
        let wrong = Tensor::<2>::zeros([2, 3], &Device::flex());
        assert!(matches!(fit.predict(&wrong), Err(Error::Shape { .. })));
        let nan = mat(&[[0., f32::NAN], [1., 1.]]);
        assert!(matches!(
            KMeansConfig::new(1).fit(&nan),
            Err(Error::NonFinite { row: 0, col: 1 })
        ));
    }

    /// The tensor distance path against a brute-force f64 nearest-centre search on random data
    /// (a second method): same labels, and `score_inertia` equals the brute-force sum.
    #[test]
    fn predict_matches_brute_force() {
        let mut rng = Rng::seed_from_u64(17);
        let (n, d, k) = (300, 7, 6);
        let v: Vec<f32> = (0..n * d)
            .map(|i| rng.normal_f32() * 2.0 + (i % d) as f32)
            .collect();
        let x = Tensor::<2>::from_data(TensorData::new(v.clone(), [n, d]), &Device::flex());
        let fit = KMeansConfig::new(k).with_seed(4).fit(&x).expect("fit");
        let c = fit.centers();
        let mut total = 0.0;
        let mut want = Vec::new();
        for i in 0..n {
            let dist = |j: usize| {
                (0..d)
                    .map(|t| (f64::from(v[i * d + t]) - c[j * d + t]).powi(2))
                    .sum::<f64>()
            };
            let best = (0..k)
                .min_by(|&a, &b| dist(a).total_cmp(&dist(b)))
                .expect("k > 0");
            total += dist(best);
            want.push(best);
        }
        assert_eq!(fit.predict(&x).expect("predict"), want);
        assert_eq!(fit.labels(), &want[..]);
        let got = fit.score_inertia(&x).expect("inertia");
        assert!((got - total).abs() < 1e-9 * total && (fit.inertia() - total).abs() < 1e-9 * total);
    }

    /// More restarts can only lower (or keep) the best inertia, and a fit is reproducible from its seed.
    #[test]
    fn restarts_and_seeds() {
        let mut rng = Rng::seed_from_u64(3);
        let v: Vec<f32> = (0..400).map(|_| rng.normal_f32()).collect();
        let x = Tensor::<2>::from_data(TensorData::new(v, [200, 2]), &Device::flex());
        let one = KMeansConfig::new(5).with_seed(1).fit(&x).expect("fit");
        let again = KMeansConfig::new(5).with_seed(1).fit(&x).expect("fit");
        assert_eq!(one.inertia(), again.inertia());
        let many = KMeansConfig::new(5)
            .with_seed(1)
            .with_n_init(6)
            .fit(&x)
            .expect("fit");
        assert!(many.inertia() <= one.inertia());
    }
}
