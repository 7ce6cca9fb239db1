//! A trained model's numbers on the test split (feature `train`): its own test metrics, its
//! likelihood bounds, the sample metrics of its samples against real test images, and a
//! conditional model's class accuracy, through the capabilities of its
//! [`Task`](genzoo_train::Task). `genzoo eval` is this on a run's checkpoint; a library user calls
//! [`evaluate`] on a task they trained.

use std::path::PathBuf;
use std::time::Instant;

use burn::tensor::Device;
use genzoo_datasets::{DatasetKind, ImageSet};
use genzoo_train::run::num;
use genzoo_train::{BoundOptions, Error, Result, Task};
use serde_json::{Map, Value};

use crate::suite::{self, SAMPLE_METRICS};

/// The likelihood bounds of latent-variable models (measured only when asked for by name).
pub const BOUND_METRICS: [&str; 2] = ["elbo", "iwae"];

/// What [`evaluate`] measures.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalOptions {
    /// Metrics by name: `nll` (the task's own test metrics), the [`SAMPLE_METRICS`], `acc` and
    /// the [`BOUND_METRICS`]; see [`parse_metrics`].
    pub metrics: Vec<String>,
    /// Whether the metrics were named by the user: then a metric the model cannot have (`acc` of
    /// an unconditional model) is an error rather than skipped.
    pub explicit: bool,
    /// Generated samples and real test images for the sample metrics; the test images the
    /// bounds score, from `start` on.
    pub n: usize,
    /// The first test image the bounds score (so a long `iwae` estimate can run in parts: parts
    /// that start at multiples of 200 add up to one run over the whole).
    pub start: usize,
    /// Importance samples per test image for `iwae`.
    pub iwae_k: usize,
    /// Seed of the samples, the KID subsets and the posterior noise.
    pub seed: u64,
    /// Feature extractor weights; default: the shipped extractor of the dataset.
    pub classifier: Option<PathBuf>,
}

impl EvalOptions {
    /// The metrics in `list` (comma-separated; `None`: every metric but the bounds), `n` images,
    /// k = 5000 for `iwae`, seed 0, the shipped extractor.
    pub fn new(list: Option<&str>, n: usize) -> Result<Self> {
        Ok(Self {
            metrics: parse_metrics(list)?,
            explicit: list.is_some(),
            n,
            start: 0,
            iwae_k: 5000,
            seed: 0,
            classifier: None,
        })
    }

    fn wants(&self, metric: &str) -> bool {
        self.metrics.iter().any(|m| m == metric)
    }
}

/// The metric names of a comma-separated list, each once, in order; unknown names and an empty
/// list are errors. `None` gives `nll`, the sample metrics and `acc`.
pub fn parse_metrics(list: Option<&str>) -> Result<Vec<String>> {
    let Some(list) = list else {
        return Ok(std::iter::once("nll")
            .chain(SAMPLE_METRICS)
            .chain(["acc"])
            .map(String::from)
            .collect());
    };
    let mut out = Vec::new();
    for m in list.split(',').map(str::trim).filter(|m| !m.is_empty()) {
        if m != "nll" && m != "acc" && !SAMPLE_METRICS.contains(&m) && !BOUND_METRICS.contains(&m) {
            return Err(Error::Config(format!(
                "unknown metric '{m}'; known: nll, {}, acc, {}",
                SAMPLE_METRICS.join(", "),
                BOUND_METRICS.join(", ")
            )));
        }
        if !out.iter().any(|o| o == m) {
            out.push(m.to_string());
        }
    }
    if out.is_empty() {
        return Err(Error::Config("--metrics is empty".into()));
    }
    Ok(out)
}

fn metric_err(e: crate::Error) -> Error {
    Error::Metric(e.to_string())
}

/// The metrics `opts` names of `task` (registry name `model`, trained on `dataset`) on `test`,
/// as one flat map with the time each took. `device` is the task's device without autodiff.
pub fn evaluate(
    task: &mut dyn Task,
    model: &str,
    dataset: DatasetKind,
    test: &ImageSet,
    opts: &EvalOptions,
    device: &Device,
) -> Result<Map<String, Value>> {
    if opts.n < 2 {
        return Err(Error::Config(format!(
            "--n must be at least 2, got {}",
            opts.n
        )));
    }
    let mut out = Map::new();
    if opts.wants("nll") {
        let t0 = Instant::now();
        for (k, v) in task.evaluate(test) {
            out.insert(k, num(v));
        }
        out.insert("time_nll_s".into(), num(t0.elapsed().as_secs_f64()));
    }
    for bound in BOUND_METRICS {
        if opts.wants(bound) {
            out.extend(likelihood_bound(task, model, test, bound == "iwae", opts)?);
        }
    }
    let extractor = || {
        suite::feature_extractor(opts.classifier.as_deref(), dataset, test.shape(), device)
            .map_err(metric_err)
    };
    let sample: Vec<&str> = SAMPLE_METRICS
        .into_iter()
        .filter(|m| opts.wants(m))
        .collect();
    if !sample.is_empty() {
        let t0 = Instant::now();
        let binarization = task.binarization();
        match task.generator() {
            None => {
                let msg = format!("'{model}' does not generate samples; sample metrics skipped");
                tracing::warn!("{msg}");
                out.insert("sample_metrics".into(), Value::from(msg));
            }
            Some(g) => {
                let fake = g.generate(opts.n, opts.seed)?.to_device(device);
                out.insert("time_generate_s".into(), num(t0.elapsed().as_secs_f64()));
                let n = opts.n.min(test.len()).min(fake.dims()[0]);
                let real = |start: usize, len: usize| {
                    let idx: Vec<usize> = (start..start + len).collect();
                    genzoo_train::protocol::reference_batch(test, &idx, binarization, device).images
                };
                let fake = |start, len| fake.clone().narrow(0, start, len);
                let metrics = suite::compare(&extractor()?, n, real, fake, &sample, opts.seed)
                    .map_err(metric_err)?;
                if let Some(eps) = metrics.get("fid_regularized_eps") {
                    tracing::warn!(
                        "FID: no more samples than feature dimensions; added {eps}·I to both covariances"
                    );
                }
                out.extend(metrics);
            }
        }
    }
    if opts.wants("acc") {
        match task.conditional().filter(|g| g.num_classes() > 0) {
            Some(g) => {
                let extractor = extractor()?;
                let t0 = Instant::now();
                let classes = g.num_classes();
                let per = (opts.n / classes).max(1);
                let per_class = (0..classes)
                    .map(|c| {
                        let seed = opts.seed.wrapping_add(c as u64);
                        Ok(g.generate_class(per, seed, c)?.to_device(device))
                    })
                    .collect::<Result<Vec<_>>>()?;
                out.extend(suite::class_accuracy(&extractor, &per_class).map_err(metric_err)?);
                out.insert("time_acc_s".into(), num(t0.elapsed().as_secs_f64()));
            }
            None if opts.explicit => {
                return Err(Error::Config(format!(
                    "'{model}' is not class-conditional: no class accuracy"
                )));
            }
            None => {}
        }
    }
    Ok(out)
}

/// `−ELBO` (`iwae = false`: `test_nelbo`, `test_recon`, `test_kl`, `elbo_images`, `time_elbo_s`)
/// or `−L_k` (`test_iwae<k>_nll`, its standard error, `iwae_k`, `iwae_images`, `time_iwae_s`,
/// `iwae_ms_per_image`) on `opts.n` test images from `opts.start` on. A model without a variational
/// bound is an error.
fn likelihood_bound(
    task: &mut dyn Task,
    model: &str,
    test: &ImageSet,
    iwae: bool,
    opts: &EvalOptions,
) -> Result<Map<String, Value>> {
    if iwae && opts.iwae_k == 0 {
        return Err(Error::Config("--iwae-k must be at least 1".into()));
    }
    let images = opts.n.min(test.len().saturating_sub(opts.start));
    let k = if iwae { opts.iwae_k } else { 0 };
    if iwae {
        tracing::info!(
            "IWAE with k = {k} on {images} test images: {} decoder passes",
            k * images
        );
    }
    let metric = if iwae { "iwae" } else { "elbo" };
    let bounds = task.likelihood().ok_or_else(|| {
        Error::Config(format!(
            "metric '{metric}' needs a model with a variational bound (the VAE family); \
             '{model}' has none — use --metrics nll for its own test metrics"
        ))
    })?;
    let t0 = Instant::now();
    let values = bounds.likelihood_bounds(
        test,
        &BoundOptions {
            k,
            start: opts.start,
            images,
            seed: opts.seed,
        },
    )?;
    let seconds = t0.elapsed().as_secs_f64();
    let mut out: Map<String, Value> = values
        .into_iter()
        .filter(|(name, _)| name.contains("iwae") == iwae)
        .map(|(name, v)| (name, num(v)))
        .collect();
    out.insert(format!("{metric}_images"), Value::from(images));
    if opts.start > 0 {
        out.insert(format!("{metric}_start"), Value::from(opts.start));
    }
    out.insert(format!("time_{metric}_s"), num(seconds));
    if iwae {
        out.insert("iwae_k".into(), Value::from(k));
        out.insert(
            "iwae_ms_per_image".into(),
            num(seconds * 1000.0 / images.max(1) as f64),
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_lists_parse_and_reject_unknown_names() {
        assert_eq!(
            parse_metrics(None).expect("default"),
            ["nll", "fid", "kid", "is", "pr", "acc"]
        );
        assert_eq!(
            parse_metrics(Some("fid, kid,fid")).expect("list"),
            ["fid", "kid"]
        );
        assert!(parse_metrics(Some("fid,bleu")).is_err());
        assert!(parse_metrics(Some(" , ")).is_err());
        let opts = EvalOptions::new(Some("iwae"), 100).expect("iwae");
        assert!(opts.explicit && opts.wants("iwae") && !opts.wants("nll"));
    }
}
