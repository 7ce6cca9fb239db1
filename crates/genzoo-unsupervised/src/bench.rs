//! The reference classic fits on full MNIST (60,000 × 784 pixels in [0, 1]), timed: k-means k = 10
//! (n_init = 1, at most 100 iterations), mini-batch k-means k = 10, PCA to 50 components (exact and
//! randomized), and a 10-component diagonal GMM on the PCA-50 features, each with its quality number
//! (inertia, explained variance, mean log-likelihood). Each fit runs once, seeded; `genzoo bench
//! unsupervised` runs them.

use std::time::Instant;

use burn::tensor::Tensor;
use serde_json::{Map, Value};

use crate::{
    GaussianMixtureConfig, KMeans, KMeansConfig, MiniBatchKMeansConfig, Pca, PcaConfig, PcaSolver,
    Result,
};

/// The group name on the command line (`genzoo bench unsupervised`); its records carry it as `group`.
pub const GROUP: &str = "unsupervised";

fn num(x: f64) -> Value {
    serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
}

fn record(fit: &str, seconds: f64, quality: &[(&str, Value)]) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("fit".into(), Value::from(fit));
    m.insert("seconds".into(), num(seconds));
    for (k, v) in quality {
        m.insert((*k).into(), v.clone());
    }
    m
}

/// Fits the reference models to the rows of `x` (`[n, d]`); one record per fit: `fit` (its
/// name), `seconds` and the fit's quality numbers.
pub fn reference_fits(x: &Tensor<2>) -> Result<Vec<Map<String, Value>>> {
    let n = x.dims()[0];
    let mut out = Vec::new();

    // Both k-means fits report the same quality numbers.
    let clusters = |fit: &str, seconds: f64, km: &KMeans| {
        record(
            fit,
            seconds,
            &[
                ("inertia", num(km.inertia())),
                ("inertia_per_image", num(km.inertia() / n as f64)),
                ("iterations", Value::from(km.n_iter())),
            ],
        )
    };

    let t = Instant::now();
    let km = KMeansConfig::mnist().with_seed(0).fit(x)?;
    out.push(clusters(
        "kmeans k=10 (n_init=1, max_iter=100)",
        t.elapsed().as_secs_f64(),
        &km,
    ));

    let t = Instant::now();
    let mb = MiniBatchKMeansConfig::new(10).with_seed(0).fit(x)?;
    out.push(clusters(
        "minibatch-kmeans k=10 (batch 1024)",
        t.elapsed().as_secs_f64(),
        &mb,
    ));

    let t = Instant::now();
    let pca = PcaConfig::mnist().fit(x)?;
    let pca_s = t.elapsed().as_secs_f64();
    let ratio = |p: &Pca| p.explained_variance_ratio().iter().sum::<f64>();
    out.push(record(
        "pca-50 (exact)",
        pca_s,
        &[
            (
                "explained_variance",
                num(pca.explained_variance().iter().sum()),
            ),
            ("explained_variance_ratio", num(ratio(&pca))),
        ],
    ));

    let t = Instant::now();
    let rpca = PcaConfig::mnist()
        .with_solver(PcaSolver::Randomized)
        .fit(x)?;
    let worst = |m: usize| {
        rpca.explained_variance()
            .iter()
            .zip(pca.explained_variance())
            .take(m)
            .map(|(a, b)| (a - b).abs() / b)
            .fold(0.0, f64::max)
    };
    out.push(record(
        "pca-50 (randomized, 4 power iterations)",
        t.elapsed().as_secs_f64(),
        &[
            (
                "explained_variance",
                num(rpca.explained_variance().iter().sum()),
            ),
            ("explained_variance_ratio", num(ratio(&rpca))),
            ("max_rel_diff_vs_exact_first10", num(worst(10))),
            ("max_rel_diff_vs_exact_all50", num(worst(50))),
        ],
    ));

    let feats = pca.transform(x)?;
    let t = Instant::now();
    let gmm = GaussianMixtureConfig::mnist_pca()
        .with_seed(0)
        .fit(&feats)?;
    let gmm_s = t.elapsed().as_secs_f64();
    out.push(record(
        "gmm-10 diag on pca-50 (k-means init included)",
        gmm_s,
        &[
            ("mean_log_likelihood", num(gmm.score(&feats)?)),
            ("iterations", Value::from(gmm.n_iter())),
            ("converged", Value::from(gmm.converged())),
        ],
    ));
    Ok(out)
}

/// Whether `records` came from this group (then [`print`] prints them).
pub fn is_unsup(records: &[Map<String, Value>]) -> bool {
    records
        .first()
        .is_some_and(|r| r.get("group").and_then(Value::as_str) == Some(GROUP))
}

/// Prints the records as a table: fit, seconds, quality numbers.
pub fn print(records: &[Map<String, Value>]) {
    println!(
        "{:<46} {:>9}  quality",
        "fit (full MNIST 60,000 × 784)", "seconds"
    );
    for r in records {
        let quality: Vec<String> = r
            .iter()
            .filter(|(k, _)| {
                !matches!(
                    k.as_str(),
                    "group" | "fit" | "seconds" | "backend" | "threads" | "isa" | "cpu_model"
                )
            })
            .map(|(k, v)| match v.as_f64() {
                Some(x) if !v.is_u64() && x != 0.0 && x.abs() < 1e-3 => format!("{k} {x:.2e}"),
                Some(x) if !v.is_u64() => format!("{k} {x:.6}"),
                _ => format!("{k} {v}"),
            })
            .collect();
        println!(
            "{:<46} {:>9.2}  {}",
            r.get("fit").and_then(Value::as_str).unwrap_or("?"),
            r.get("seconds").and_then(Value::as_f64).unwrap_or(f64::NAN),
            quality.join(", ")
        );
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Tensor, TensorData};

    #[test]
    fn records_are_recognised_and_printed() {
        use super::{GROUP, is_unsup};
        use serde_json::{Map, Value};
        let mut r = Map::new();
        r.insert("group".into(), Value::from(GROUP));
        r.insert("fit".into(), Value::from("pca"));
        assert!(is_unsup(std::slice::from_ref(&r)));
        let mut other = r;
        other.insert("group".into(), Value::from("models"));
        assert!(!is_unsup(&[other]) && !is_unsup(&[]));
    }

    #[test]
    fn every_reference_fit_reports_its_time_and_quality() {
        // Two well-separated blobs of 60 points in 60 dimensions (PCA-50 needs d >= 50).
        let (n, d) = (120, 60);
        let mut v = Vec::with_capacity(n * d);
        for i in 0..n {
            for j in 0..d {
                let centre = if i < n / 2 { 0.0 } else { 1.0 };
                v.push(centre + 0.01 * (((i * 31 + j * 17) % 23) as f32 - 11.0) / 11.0);
            }
        }
        let x = Tensor::<2>::from_data(TensorData::new(v, [n, d]), &Default::default());
        let out = super::reference_fits(&x).expect("fits");
        assert_eq!(out.len(), 5);
        for r in &out {
            assert!(r["seconds"].as_f64().is_some_and(|s| s >= 0.0), "{r:?}");
        }
        // Two blobs, ten centres: the inertia is no more than the within-blob scatter.
        let inertia = out[0]["inertia"].as_f64().expect("inertia");
        assert!(
            inertia >= 0.0 && inertia < 0.01 * 0.01 * (n * d) as f64,
            "{inertia}"
        );
        // The exact PCA explains at most all of the variance, and the randomized one agrees on
        // the leading component.
        let ratio = out[2]["explained_variance_ratio"].as_f64().expect("ratio");
        assert!(ratio > 0.99 && ratio <= 1.0 + 1e-9, "{ratio}");
    }
}
