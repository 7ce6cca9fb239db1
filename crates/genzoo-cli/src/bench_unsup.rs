//! `genzoo bench unsupervised` (`cargo xtask bench unsupervised`): the reference classic fits on
//! full MNIST (60,000 × 784 pixels in [0, 1]) — k-means k = 10 (n_init = 1, at most 100 iterations),
//! mini-batch k-means k = 10, PCA to 50 components (exact and randomized), and a 10-component diagonal
//! GMM on the PCA-50 features — with the wall time of each fit and its quality number (inertia,
//! explained variance, mean log-likelihood). Each fit runs once, seeded; the data are loaded first and
//! not timed.

use burn::tensor::{Tensor, TensorData};
use genzoo_datasets::{DATA_DIR_ENV, DataOptions, DatasetKind, Split};
use genzoo_train::Backend;
use genzoo_train::bench::Machine;

use crate::{Error, Result};
use serde_json::{Map, Value};

use crate::bench::BenchArgs;

pub use genzoo_unsupervised::bench::{GROUP, is_unsup, print};

/// Runs the fits; one record per fit.
pub fn bench(args: &BenchArgs) -> Result<Vec<Map<String, Value>>> {
    if std::env::var_os(DATA_DIR_ENV).is_none_or(|v| v.is_empty()) {
        return Err(Error::Config(format!(
            "`genzoo bench {GROUP}` fits full MNIST: set {DATA_DIR_ENV} to the directory that holds mnist/*-ubyte.gz"
        )));
    }
    let backend = Backend::named_or_default(args.backend.as_deref())?;
    let device = backend.device()?;
    let set = genzoo_datasets::load(DatasetKind::Mnist, Split::Train, &DataOptions::default())?;
    let (n, d) = (set.len(), set.image_len());
    let pixels: Vec<f32> = set.images().iter().map(|&p| f32::from(p) / 255.0).collect();
    let x = Tensor::<2>::from_data(TensorData::new(pixels, [n, d]), &device);
    let mut out = genzoo_unsupervised::bench::reference_fits(&x)?;
    let machine = Machine::detect();
    for r in &mut out {
        r.insert("group".into(), Value::from(GROUP));
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
