//! `genzoo bench unsupervised` (`cargo xtask bench unsupervised`): the reference classic fits on
//! full MNIST (60,000 × 784 pixels in [0, 1]) — k-means k = 10 (n_init = 1, at most 100 iterations),
//! mini-batch k-means k = 10, PCA to 50 components (exact and randomized), and a 10-component diagonal
//! GMM on the PCA-50 features — with the wall time of each fit and its quality number (inertia,
//! explained variance, mean log-likelihood). Each fit runs once, seeded; the data are loaded first and
//! not timed.

use std::time::Instant;

use burn::tensor::{Tensor, TensorData};
use genzoo_datasets::{DATA_DIR_ENV, DataOptions, DatasetKind, Split};
use genzoo_train::{Backend, Error, Result};
use genzoo_unsupervised::{
    GaussianMixtureConfig, KMeansConfig, MiniBatchKMeansConfig, PcaConfig, PcaSolver,
};
use serde_json::{Map, Value};

use crate::bench::BenchArgs;

/// The group name on the command line.
pub const GROUP: &str = "unsupervised";

fn lib(e: genzoo_unsupervised::Error) -> Error {
    Error::Config(e.to_string())
}

fn record(fit: &str, seconds: f64, quality: &[(&str, Value)]) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("group".into(), Value::from(GROUP));
    m.insert("fit".into(), Value::from(fit));
    m.insert("seconds".into(), genzoo_train::run::num(seconds));
    for (k, v) in quality {
        m.insert((*k).into(), v.clone());
    }
    m
}

/// Runs the fits; one record per fit.
pub fn bench(args: &BenchArgs) -> Result<Vec<Map<String, Value>>> {
    if std::env::var_os(DATA_DIR_ENV).is_none_or(|v| v.is_empty()) {
        return Err(Error::Config(format!(
            "`genzoo bench {GROUP}` fits full MNIST: set {DATA_DIR_ENV} to the directory that holds mnist/*-ubyte.gz"
        )));
    }
    let backend = match &args.backend {
        Some(b) => b.parse::<Backend>()?,
        None => Backend::default_compiled()?,
    };
    let device = backend.device()?;
    let set = genzoo_datasets::load(DatasetKind::Mnist, Split::Train, &DataOptions::default())?;
    let (n, d) = (set.len(), set.image_len());
    let pixels: Vec<f32> = set.images().iter().map(|&p| f32::from(p) / 255.0).collect();
    let x = Tensor::<2>::from_data(TensorData::new(pixels, [n, d]), &device);
    let num = genzoo_train::run::num;
    let mut out = Vec::new();

    let t = Instant::now();
    let km = KMeansConfig::mnist().with_seed(0).fit(&x).map_err(lib)?;
    out.push(record(
        "kmeans k=10 (n_init=1, max_iter=100)",
        t.elapsed().as_secs_f64(),
        &[
            ("inertia", num(km.inertia())),
            ("inertia_per_image", num(km.inertia() / n as f64)),
            ("iterations", Value::from(km.n_iter())),
        ],
    ));

    let t = Instant::now();
    let mb = MiniBatchKMeansConfig::new(10)
        .with_seed(0)
        .fit(&x)
        .map_err(lib)?;
    out.push(record(
        "minibatch-kmeans k=10 (batch 1024)",
        t.elapsed().as_secs_f64(),
        &[
            ("inertia", num(mb.inertia())),
            ("inertia_per_image", num(mb.inertia() / n as f64)),
            ("iterations", Value::from(mb.n_iter())),
        ],
    ));

    let t = Instant::now();
    let pca = PcaConfig::mnist().fit(&x).map_err(lib)?;
    let pca_s = t.elapsed().as_secs_f64();
    let ratio = |p: &genzoo_unsupervised::Pca| p.explained_variance_ratio().iter().sum::<f64>();
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
        .fit(&x)
        .map_err(lib)?;
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

    let feats = pca.transform(&x).map_err(lib)?;
    let t = Instant::now();
    let gmm = GaussianMixtureConfig::mnist_pca()
        .with_seed(0)
        .fit(&feats)
        .map_err(lib)?;
    let gmm_s = t.elapsed().as_secs_f64();
    out.push(record(
        "gmm-10 diag on pca-50 (k-means init included)",
        gmm_s,
        &[
            ("mean_log_likelihood", num(gmm.score(&feats).map_err(lib)?)),
            ("iterations", Value::from(gmm.n_iter())),
            ("converged", Value::from(gmm.converged())),
        ],
    ));
    for r in &mut out {
        r.insert("backend".into(), Value::from(backend.to_string()));
    }
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&out).map_err(|e| Error::Config(e.to_string()))?;
        genzoo_train::fsutil::write_atomic(path, text.as_bytes()).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
    }
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
            .filter(|(k, _)| !matches!(k.as_str(), "group" | "fit" | "seconds" | "backend"))
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
    use super::*;

    #[test]
    fn records_are_recognised_and_printed() {
        let r = record(
            "pca",
            1.5,
            &[("explained_variance_ratio", Value::from(0.8))],
        );
        assert!(is_unsup(std::slice::from_ref(&r)));
        let mut other = r;
        other.insert("group".into(), Value::from("models"));
        assert!(!is_unsup(&[other]) && !is_unsup(&[]));
    }
}
