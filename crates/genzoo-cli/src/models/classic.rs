//! `genzoo train kmeans | minibatch-kmeans | pca | gmm | kde | ae-probe`: the classic fits of lecture
//! 13 §1 (`genzoo_unsupervised::fit`, and the autoencoder-feature probe).
//!
//! These are not gradient-trained, so they do not go through the [`Task`](genzoo_train::Task) loop:
//! `genzoo train` hands a classic model name to [`fit`], which resolves a configuration (preset → `--config`
//! → flags), loads the data (MNIST-like image sets as `[n, pixels]` rows in [0, 1], or a toy 2-D set),
//! fits once, and writes a run directory like every model: `config.toml`, `summary.json` with the
//! metrics, `figures/` and `report.html`.

use std::path::{Path, PathBuf};

use genzoo_datasets::{DataOptions, DatasetKind};
use genzoo_train::config::by_name;
use genzoo_train::{Backend, RunDir};

use crate::{Error, Result};
use genzoo_unsupervised::fit::{ClassicData, ClassicFit, Ctx, load_rows};
use genzoo_vae::probe::{PROBE, ProbeParams};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{from_table, to_table};
use crate::TrainArgs;
use crate::config::{Layers, Provenance, set_flag};

/// The classic fits `genzoo train` knows, with one line each for `genzoo models`.
pub fn classic_models() -> impl Iterator<Item = (&'static str, &'static str)> {
    genzoo_unsupervised::fit::FITS.into_iter().chain([PROBE])
}

/// Whether `genzoo train <name>` is a classic fit (handled by [`fit`]) rather than a registry model.
pub fn is_classic(name: &str) -> bool {
    classic_models().any(|(n, _)| n == name)
}

/// The `config.toml` of a classic fit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassicConfig {
    /// Model name (`kmeans`, `pca`, ...).
    pub model: String,
    /// Dataset: an image set (`mnist`, `mnist-mini`, ...) or a toy 2-D set (`toy-ring8`, ...).
    #[serde(with = "by_name")]
    pub dataset: ClassicData,
    /// Backend of the tensor products.
    #[serde(with = "by_name")]
    pub backend: Backend,
    /// Seed of every random choice.
    pub seed: u64,
    /// The model's parameters.
    pub model_config: toml::Table,
    /// Where this configuration came from.
    #[serde(default)]
    pub provenance: Provenance,
}

/// Resolves the configuration of a classic fit: preset → `--config` → flags.
pub fn resolve(args: &TrainArgs) -> Result<ClassicConfig> {
    let model = args.model.clone().unwrap_or_default();
    let probe = model == "ae-probe";
    let reject = |flag: &str, set: bool| {
        if set {
            Err(Error::Config(format!(
                "{flag} does not apply to '{model}' (a classic fit, not gradient-trained)"
            )))
        } else {
            Ok(())
        }
    };
    if !probe {
        reject("--epochs", args.epochs.is_some())?;
        reject("--steps", args.steps.is_some())?;
        reject("--batch-size", args.batch_size.is_some())?;
        reject("--lr", args.lr.is_some())?;
    }
    reject("--resume", args.resume.is_some())?;
    reject("--log-every", args.log_every.is_some())?;
    reject("--sample-every", args.sample_every.is_some())?;
    reject("--checkpoint-every", args.checkpoint_every.is_some())?;
    let layers = Layers::read(args, &model)?;
    let data = ClassicData::parse(&layers.dataset)?;
    if probe && matches!(data, ClassicData::Toy(_)) {
        return Err(Error::Config(
            "ae-probe needs an image dataset (mnist, mnist-mini, fashion-mnist)".into(),
        ));
    }
    let mut table = toml::Table::new();
    table.insert("model".into(), model.clone().into());
    table.insert("seed".into(), 0.into());
    // The reference parameters: the probe's, or the classic fit's for this dataset.
    let fit = (!probe)
        .then(|| ClassicFit::preset(&model, data))
        .transpose()?;
    let preset = match &fit {
        Some(fit) => to_table(fit)?,
        None => to_table(&ProbeParams::preset())?,
    };
    table.insert("model_config".into(), preset.into());
    let mut table = layers.merge(table, args);
    if let Some(k) = args.k {
        let key = fit.as_ref().and_then(ClassicFit::k_key).ok_or_else(|| {
            Error::Config(format!(
                "--k does not apply to '{model}' (k-means k, PCA / GMM components)"
            ))
        })?;
        if let Some(toml::Value::Table(mc)) = table.get_mut("model_config") {
            mc.insert(key.into(), (k as i64).into());
        }
    }
    if probe && let Some(toml::Value::Table(mc)) = table.get_mut("model_config") {
        set_flag(mc, "ae_epochs", args.epochs.map(|v| v as i64));
        set_flag(mc, "ae_batch_size", args.batch_size.map(|v| v as i64));
        set_flag(mc, "ae_lr", args.lr);
        if args.steps.is_some() {
            return Err(Error::Config(
                "ae-probe trains its autoencoder by --epochs, not --steps".into(),
            ));
        }
    }
    let mut cfg: ClassicConfig = toml::Value::Table(table)
        .try_into()
        .map_err(|e| Error::Config(format!("resolving configuration: {e}")))?;
    cfg.provenance = Provenance::now(false);
    Ok(cfg)
}

/// `genzoo train <classic model>`: fits, writes the run directory, returns it and the summary.
///
/// Configuration and data are checked before the run directory is created.
pub fn fit(args: &TrainArgs) -> Result<(PathBuf, Map<String, Value>)> {
    let mut cfg = resolve(args)?;
    let data = cfg.dataset;
    if let ClassicData::Images(kind) = data {
        super::check_labels(&cfg.model, kind)?;
    }
    let device = cfg.backend.device()?;
    let opts = DataOptions {
        data_dir: args.data_dir.clone(),
        download: args.download,
        ..DataOptions::default()
    };
    if let ClassicData::Images(kind) = data
        && kind != DatasetKind::MnistMini
    {
        cfg.provenance.data_dir = genzoo_datasets::data_root(opts.data_dir.as_deref())
            .map(|p| p.display().to_string())
            .unwrap_or_default();
    }
    // Parse the model parameters before touching the disk.
    let model = cfg.model.clone();
    let mc = &cfg.model_config;
    let job = if model == "ae-probe" {
        let p: ProbeParams = from_table(&model, mc)?;
        p.check()?;
        Job::Probe(p)
    } else {
        Job::Fit(ClassicFit::parse(&model, toml::Value::Table(mc.clone()))?)
    };
    tracing::info!(model = %model, dataset = %cfg.dataset, "loading data");
    let (train, test, shape) = load_rows(data, &opts, cfg.seed)?;
    if let Job::Fit(fit) = &job {
        fit.check_rows(train.n, train.d)?;
    }
    let root = args.out.clone().unwrap_or_else(|| {
        Path::new("runs").join(format!(
            "{}-{}-{}",
            cfg.model, cfg.dataset, cfg.provenance.created_utc
        ))
    });
    let run = RunDir::create(
        &root,
        args.overwrite,
        &toml::to_string_pretty(&cfg).map_err(|e| Error::Config(e.to_string()))?,
    )?;
    let ctx = Ctx {
        run: &run,
        device: &device,
        seed: cfg.seed,
        shape,
        train: &train,
        test: &test,
        data_opts: &opts,
        labelled: data.classes() > 0,
    };
    let mut summary = match &job {
        Job::Fit(fit) => fit.run(&ctx)?,
        Job::Probe(probe) => genzoo_vae::probe::run_probe(&ctx, probe, &cfg.dataset.to_string())?,
    };
    summary.insert("model".into(), Value::from(model));
    summary.insert("dataset".into(), Value::from(cfg.dataset.to_string()));
    summary.insert("train_rows".into(), Value::from(train.n));
    summary.insert("test_rows".into(), Value::from(test.n));
    run.write_summary(&summary)?;
    genzoo_train::report::write_report(run.root()).map_err(|source| Error::Io {
        path: run.root().join("report.html"),
        source,
    })?;
    println!("{}", run.root().display());
    for (k, v) in &summary {
        println!("  {k}: {v}");
    }
    Ok((run.root().to_path_buf(), summary))
}

/// A classic fit, or the autoencoder-feature probe (which lives with the autoencoder).
enum Job {
    Fit(ClassicFit),
    Probe(ProbeParams),
}
