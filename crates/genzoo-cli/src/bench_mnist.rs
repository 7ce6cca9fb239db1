//! The `genzoo bench` groups measured on full MNIST (both need `GENZOO_DATA_DIR`; the data are loaded
//! first and not timed):
//! - `unsupervised` (`cargo xtask bench unsupervised`): the reference classic fits on the 60,000 ×
//!   784 training pixels in [0, 1] — k-means k = 10 (n_init = 1, at most 100 iterations), mini-batch
//!   k-means k = 10, PCA to 50 components (exact and randomized), and a 10-component diagonal GMM on
//!   the PCA-50 features — with the wall time of each fit and its quality number (inertia, explained
//!   variance, mean log-likelihood). Each fit runs once, seeded.
//! - `metrics`: genzoo-LeNet-MNIST's feature extraction over the 10,000 test images (`--warmup`
//!   untimed passes, the median of `--repeats`) and one whole `genzoo calibrate --n 10000`, against
//!   `bench/pytorch/metrics_reference.py`.

use burn::tensor::{Tensor, TensorData};
use genzoo_datasets::{DATA_DIR_ENV, DataOptions, DatasetKind, Split};
use genzoo_metrics::bench as metrics;
use genzoo_train::Backend;
use genzoo_train::bench::Machine;
use genzoo_unsupervised::bench as unsup;

use crate::{Error, Result};
use serde_json::{Map, Value};

use crate::bench::BenchArgs;

/// The groups of this module.
pub const GROUPS: [&str; 2] = [unsup::GROUP, metrics::GROUP];

/// Images per set of the `metrics` group (the test set; `calibrate`'s default).
const METRICS_N: usize = 10_000;

/// Runs `group`'s measurements; one record per fit or measurement.
pub fn bench(group: &str, args: &BenchArgs) -> Result<Vec<Map<String, Value>>> {
    if std::env::var_os(DATA_DIR_ENV).is_none_or(|v| v.is_empty()) {
        return Err(Error::Config(format!(
            "`genzoo bench {group}` reads full MNIST: set {DATA_DIR_ENV} to the directory that holds mnist/*-ubyte.gz"
        )));
    }
    let backend = Backend::named_or_default(args.backend.as_deref())?;
    let device = backend.device()?;
    let opts = DataOptions::default();
    let train = genzoo_datasets::load(DatasetKind::Mnist, Split::Train, &opts)?;
    let mut out = if group == metrics::GROUP {
        let test = genzoo_datasets::load(DatasetKind::Mnist, Split::Test, &opts)?;
        let extractor = genzoo_metrics::suite::feature_extractor(
            None,
            DatasetKind::Mnist,
            test.shape(),
            &device,
        )?;
        let passes = [args.warmup, args.repeats];
        metrics::reference(&extractor, [&train, &test], METRICS_N, passes, &device)?
    } else {
        let (n, d) = (train.len(), train.image_len());
        let pixels: Vec<f32> = train
            .images()
            .iter()
            .map(|&p| f32::from(p) / 255.0)
            .collect();
        let x = Tensor::<2>::from_data(TensorData::new(pixels, [n, d]), &device);
        unsup::reference_fits(&x)?
    };
    let machine = Machine::detect();
    for r in &mut out {
        r.insert("group".into(), Value::from(group));
        r.insert("backend".into(), Value::from(backend.to_string()));
        if backend.is_cpu() {
            r.insert("threads".into(), Value::from(machine.threads));
            r.insert("isa".into(), Value::from(machine.isa));
            if let Some(model) = &machine.cpu_model {
                r.insert("cpu_model".into(), Value::from(model.clone()));
            }
        }
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

/// Prints the records of one of these groups as its table; false for other records.
pub fn print(records: &[Map<String, Value>]) -> bool {
    if unsup::is_unsup(records) {
        unsup::print(records);
    } else if metrics::is_metrics(records) {
        metrics::print(records);
    } else {
        return false;
    }
    true
}
