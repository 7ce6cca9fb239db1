//! Mini-batch k-means — Sculley 2010, "Web-scale k-means clustering"
//! (DOI 10.1145/1772690.1772862), as in scikit-learn's `MiniBatchKMeans`.
//!
//! Each step draws `batch_size` points uniformly with replacement, assigns them to their nearest centres
//! (a burn tensor product), and moves every centre towards its new points with the per-centre learning
//! rate `1 / count`, where `count` is the number of points the centre has received so far. All points of
//! one batch that go to the same centre are applied at once:
//! `c ← (count·c + Σ x) / (count + m)`, which equals Sculley's point-by-point update. Centres start from
//! k-means++ on a random subsample of `init_size` points (scikit-learn: `3 · batch_size`). A run stops
//! after `max_iter` passes over the data, or earlier when the smoothed batch inertia has not improved for
//! `max_no_improvement` steps (scikit-learn's rule). A centre that receives no points keeps its k-means++
//! position (a data point), so no centre is ever NaN. Labels and inertia of the result come from one final
//! full assignment pass.

use burn::config::Config;
use burn::tensor::{Int, Tensor, TensorData};
use genzoo_datasets::rng::{Rng, derive_seed};

use crate::error::Error;
use crate::kmeans::{Data, KMeans, inertia, initial_centres, kmeans_plus_plus};

/// Configuration of a mini-batch k-means fit.
#[derive(Config, Debug, PartialEq)]
pub struct MiniBatchKMeansConfig {
    /// Number of clusters.
    pub k: usize,
    /// Points per mini-batch.
    #[config(default = 1024)]
    pub batch_size: usize,
    /// Maximum passes over the data (steps = `max_iter · n / batch_size`).
    #[config(default = 100)]
    pub max_iter: usize,
    /// Stop after this many steps without improvement of the smoothed batch inertia (0: never).
    #[config(default = 10)]
    pub max_no_improvement: usize,
    /// Points of the random subsample seeded by k-means++ (default `3 · batch_size`, at most `n`).
    #[config(default = "None")]
    pub init_size: Option<usize>,
    /// Seed of the subsample, the k-means++ draws and the batches.
    #[config(default = 0)]
    pub seed: u64,
}

impl MiniBatchKMeansConfig {
    fn validate(&self, n: usize) -> crate::Result<()> {
        if self.k == 0 || self.batch_size == 0 || self.max_iter == 0 {
            return Err(Error::Config(format!(
                "k, batch_size and max_iter must be positive (k = {}, batch_size = {}, max_iter = {})",
                self.k, self.batch_size, self.max_iter
            )));
        }
        if self.init_size.is_some_and(|s| s < self.k) {
            return Err(Error::Config(format!(
                "init_size must be at least k = {}, found {:?}",
                self.k, self.init_size
            )));
        }
        crate::error::enough_samples("mini-batch k-means", self.k, n)
    }

    /// Fits to the rows of `x` (`[n, d]`), seeding with k-means++ on a random subsample.
    pub fn fit(&self, x: &Tensor<2>) -> crate::Result<KMeans> {
        let data = Data::new(x)?;
        let n = data.host.n;
        self.validate(n)?;
        let mut rng = Rng::seed_from_u64(derive_seed(self.seed, &[0x6d62]));
        let init_size = self.init_size.unwrap_or(3 * self.batch_size).min(n);
        let init = if init_size >= n {
            kmeans_plus_plus(&data, self.k, &mut rng)
        } else {
            let mut idx: Vec<usize> = (0..n).collect();
            rng.shuffle(&mut idx);
            idx.truncate(init_size);
            let rows: Vec<i64> = idx.iter().map(|&i| i as i64).collect();
            let rows = Tensor::<1, Int>::from_data(TensorData::new(rows, [init_size]), &x.device());
            let sub = Data::new(&x.clone().select(0, rows))?;
            kmeans_plus_plus(&sub, self.k, &mut rng)
        };
        Ok(self.run(&data, init, &mut rng))
    }

    /// Fits from the given initial centres (`[k, d]`).
    pub fn fit_from(&self, x: &Tensor<2>, init: &Tensor<2>) -> crate::Result<KMeans> {
        let data = Data::new(x)?;
        self.validate(data.host.n)?;
        let init = initial_centres(init, self.k, data.host.d)?;
        let mut rng = Rng::seed_from_u64(derive_seed(self.seed, &[0x6d62]));
        Ok(self.run(&data, init, &mut rng))
    }

    fn run(&self, data: &Data, mut centers: Vec<f64>, rng: &mut Rng) -> KMeans {
        let (n, d, k, b) = (data.host.n, data.host.d, self.k, self.batch_size);
        let steps = (self.max_iter * n).div_ceil(b);
        let mut counts = vec![0u64; k];
        let alpha = (2.0 * b as f64 / (n as f64 + 1.0)).min(1.0);
        let mut ewa: Option<f64> = None;
        let mut best = f64::INFINITY;
        let mut no_improvement = 0;
        let mut n_steps = 0;
        let mut converged = false;
        let mut rows = vec![0usize; b];
        for step in 0..steps {
            n_steps = step + 1;
            rows.iter_mut()
                .for_each(|r| *r = rng.below(n as u64) as usize);
            let dist = update(data, &mut centers, &mut counts, &rows, k);
            let batch_inertia = dist.iter().map(|&v| f64::from(v)).sum::<f64>() / b as f64;
            let smoothed = ewa.map_or(batch_inertia, |e| e * (1.0 - alpha) + batch_inertia * alpha);
            ewa = Some(smoothed);
            if smoothed < best {
                best = smoothed;
                no_improvement = 0;
            } else {
                no_improvement += 1;
            }
            if self.max_no_improvement > 0 && no_improvement >= self.max_no_improvement {
                converged = true;
                break;
            }
        }
        let all: Vec<usize> = (0..n).collect();
        let labels = data.assign_rows(&all, &centers, k).0;
        let inertia = inertia(&data.host, &centers, &labels);
        KMeans {
            centers,
            k,
            d,
            inertia,
            labels,
            n_iter: n_steps,
            converged,
        }
    }
}

/// One mini-batch step on the given rows: assigns them, moves each centre to the running mean of all
/// points it has received (learning rate `1 / count`), and returns the rows' squared distances to
/// their centres before the move.
fn update(
    data: &Data,
    centers: &mut [f64],
    counts: &mut [u64],
    rows: &[usize],
    k: usize,
) -> Vec<f32> {
    let d = data.host.d;
    let (labels, dist) = data.assign_rows(rows, centers, k);
    let mut sums = vec![0.0f64; k * d];
    let mut m = vec![0u64; k];
    for (&i, &c) in rows.iter().zip(&labels) {
        m[c] += 1;
        for (s, &v) in sums[c * d..(c + 1) * d].iter_mut().zip(data.host.row(i)) {
            *s += f64::from(v);
        }
    }
    for c in (0..k).filter(|&c| m[c] > 0) {
        let total = (counts[c] + m[c]) as f64;
        let old = counts[c] as f64;
        for (v, s) in centers[c * d..(c + 1) * d]
            .iter_mut()
            .zip(&sums[c * d..(c + 1) * d])
        {
            *v = (*v * old + s) / total;
        }
        counts[c] += m[c];
    }
    dist
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::KMeansConfig;
    use crate::host::{mat, to_host};

    fn blobs(n_per: usize, seed: u64) -> (Vec<f32>, usize) {
        let mut rng = Rng::seed_from_u64(seed);
        let centres = [
            [0.0f32, 0.0, 0.0],
            [8.0, 0.0, 1.0],
            [0.0, 9.0, -2.0],
            [7.0, 7.0, 7.0],
        ];
        let mut v = Vec::new();
        for c in &centres {
            for _ in 0..n_per {
                v.extend(c.iter().map(|&m| m + rng.normal_f32()));
            }
        }
        (v, 4 * n_per)
    }

    /// With counts starting at zero, one step whose batch holds every point once moves each centre to
    /// the mean of its points: exactly one Lloyd iteration (a second method, `KMeansConfig`).
    #[test]
    fn one_full_batch_step_is_a_lloyd_step() {
        let (v, n) = blobs(30, 1);
        let x = mat(v.clone(), n, 3);
        let init = mat(
            vec![1.0, 1.0, 1.0, 6.0, 1.0, 0.0, 1.0, 7.0, 0.0, 6.0, 6.0, 6.0],
            4,
            3,
        );
        let lloyd = KMeansConfig::new(4)
            .with_max_iter(1)
            .fit_from(&x, &init)
            .expect("lloyd");
        // Batches are drawn with replacement, so hand one step the rows 0..n directly.
        let data = Data::new(&x).expect("data");
        let mut centers: Vec<f64> = to_host(&init)
            .expect("host")
            .data
            .iter()
            .map(|&v| f64::from(v))
            .collect();
        let mut counts = vec![0u64; 4];
        update(
            &data,
            &mut centers,
            &mut counts,
            &(0..n).collect::<Vec<_>>(),
            4,
        );
        for (a, b) in lloyd.centers().iter().zip(&centers) {
            assert!((a - b).abs() < 1e-9, "{a} vs {b}");
        }
        assert_eq!(counts.iter().sum::<u64>(), n as u64);
        // A second step on the same points, with the centres they now define as a fixed point of the
        // assignment, keeps every centre (the running mean of the same points twice is their mean).
        let (relabelled, _) = data.assign_rows(&(0..n).collect::<Vec<_>>(), &centers, 4);
        let mut same = centers.clone();
        update(
            &data,
            &mut same,
            &mut counts,
            &(0..n).collect::<Vec<_>>(),
            4,
        );
        assert_eq!(relabelled, lloyd.labels());
        assert!(same.iter().zip(&centers).all(|(a, b)| (a - b).abs() < 1e-9));
        let want = lloyd.centers().to_vec();
        let cfg = MiniBatchKMeansConfig::new(4)
            .with_batch_size(n)
            .with_max_iter(1)
            .with_max_no_improvement(0);
        let mb = cfg.fit_from(&x, &init).expect("mini-batch");
        assert_eq!(mb.n_iter(), 1);
        // One random batch of size n (with replacement) covers ~63% of the points: centres move close to
        // the Lloyd centres (blob std 1, ~19 points per centre: within 1.5 units), nowhere near the start.
        for c in 0..4 {
            let dist: f64 = (0..3)
                .map(|j| (mb.centers()[c * 3 + j] - want[c * 3 + j]).powi(2))
                .sum::<f64>()
                .sqrt();
            assert!(dist < 1.5, "centre {c} is {dist} from the Lloyd step");
        }
    }

    /// On separated blobs the mini-batch fit reaches the Lloyd inertia within 2 %, and every training
    /// label equals the nearest-centre label.
    #[test]
    fn close_to_lloyd_on_blobs() {
        let (v, n) = blobs(500, 2);
        let x = mat(v, n, 3);
        let full = KMeansConfig::new(4)
            .with_n_init(3)
            .with_seed(3)
            .fit(&x)
            .expect("lloyd");
        let mb = MiniBatchKMeansConfig::new(4)
            .with_batch_size(100)
            .with_max_iter(20)
            .with_seed(3)
            .fit(&x)
            .expect("mini-batch");
        let rel = (mb.inertia() - full.inertia()) / full.inertia();
        assert!(
            (-1e-9..0.02).contains(&rel),
            "mini-batch {} vs Lloyd {} (relative {rel})",
            mb.inertia(),
            full.inertia()
        );
        assert_eq!(mb.predict(&x).expect("predict"), mb.labels());
        assert!(mb.centers().iter().all(|c| c.is_finite()));
        let again = MiniBatchKMeansConfig::new(4)
            .with_batch_size(100)
            .with_max_iter(20)
            .with_seed(3)
            .fit(&x)
            .expect("again");
        assert_eq!(again.centers(), mb.centers());
    }

    #[test]
    fn bad_input_is_an_error() {
        let x = mat(vec![0.0, 1.0, 2.0, 3.0], 2, 2);
        assert!(matches!(
            MiniBatchKMeansConfig::new(3).fit(&x),
            Err(Error::TooFewSamples { .. })
        ));
        assert!(matches!(
            MiniBatchKMeansConfig::new(1).with_batch_size(0).fit(&x),
            Err(Error::Config(_))
        ));
        assert!(matches!(
            MiniBatchKMeansConfig::new(2).fit_from(&x, &mat(vec![0.0; 3], 1, 3)),
            Err(Error::Shape { .. })
        ));
    }
}
