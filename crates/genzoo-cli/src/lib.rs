//! # genzoo-cli — the `genzoo` command
//!
//! `genzoo train <model>` resolves a configuration, creates (or reopens) a run directory, loads
//! the dataset and drives the model's [`Task`](genzoo_train::Task) through
//! [`genzoo_train::train`]. Usually reached through `cargo xtask train`, which picks the Cargo
//! features for `--backend`.

pub mod bench;
pub mod bench_mnist;
pub mod config;
pub mod error;
pub mod eval;
pub mod models;
pub mod weights;

use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};
use genzoo_datasets::{DataOptions, DatasetKind, Split};
use genzoo_train::{Backend, Checkpoint, RunDir, TrainOptions};
use serde_json::{Map, Value};

pub use crate::error::{Error, Result};

use crate::config::{Layers, Provenance, RunConfig, set_flag};

/// Classic generative models of CS231n lecture 13, on burn.
#[derive(Debug, Parser)]
#[command(name = "genzoo", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train a model; writes a run directory.
    Train(Box<TrainArgs>),
    /// List the models and the backends compiled into this binary.
    Models,
    /// Evaluate a trained run: test NLL/ELBO and sample metrics (FID, KID, IS, precision/recall).
    Eval(Box<eval::EvalArgs>),
    /// Draw fresh samples of a trained run into a PNG grid.
    Sample(Box<eval::SampleArgs>),
    /// Redraw a trained run's figures (2-D manifold, interpolations, traversals, completions).
    Figures(Box<eval::FiguresArgs>),
    /// Train a domain classifier (LeNet) whose features the sample metrics use.
    Classifier(Box<eval::ClassifierArgs>),
    /// Sample metrics between real sets (train vs test, shuffled, blurred), to calibrate readers.
    Calibrate(Box<eval::CalibrateArgs>),
    /// Training throughput, sampling time and peak memory of the reference presets.
    Bench(Box<bench::BenchArgs>),
    /// Write a run's weights as safetensors, burn's or PyTorch's layout, config in the metadata.
    Export(Box<weights::ExportArgs>),
    /// Make a run (for `sample`, `eval`, `train --resume`) from a file `export` wrote.
    Import(Box<weights::ImportArgs>),
}

/// `genzoo train` flags. Unset flags fall back to `--config`, then to the model's defaults.
/// A negative number is read as a value (and refused as one: `--steps -1` names the flag).
#[derive(Debug, Args, Default)]
#[command(allow_negative_numbers = true)]
pub struct TrainArgs {
    /// Model to train (see `genzoo models`); default: the VAE, which draws new digits.
    pub model: Option<String>,
    /// Dataset: mnist, fashion-mnist, cifar10, mnist-mini (embedded, no download),
    /// binarized-mnist (the likelihood papers' fixed binarization; its validation split picks
    /// `best`), or the 2-D point sets toy-ring8 / toy-grid25 (GAN models only).
    #[arg(long)]
    pub dataset: Option<String>,
    /// Backend: flex, ndarray, wgpu or cuda (must be compiled in).
    #[arg(long)]
    pub backend: Option<String>,
    /// Epochs to train (exclusive with --steps).
    #[arg(long, conflicts_with = "steps")]
    pub epochs: Option<u64>,
    /// Optimisation steps to train (exclusive with --epochs).
    #[arg(long)]
    pub steps: Option<u64>,
    /// Images per batch.
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Learning rate.
    #[arg(long)]
    pub lr: Option<f64>,
    /// Exponential learning-rate decay: the rate is multiplied by this factor per epoch, applied
    /// a little at every step (0.5 halves it each epoch). Default: a constant rate.
    #[arg(long)]
    pub lr_decay: Option<f64>,
    /// Seed for initialisation, data order and sampling.
    #[arg(long)]
    pub seed: Option<u64>,
    /// A TOML file with configuration overrides (same keys as a run's config.toml).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Dataset root (else $GENZOO_DATA_DIR, else the user cache dir).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Download missing dataset files from the canonical mirrors.
    #[arg(long)]
    pub download: bool,
    /// Run directory (default: runs/<model>-<dataset>-<UTC time>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Replace an existing run directory given by --out.
    #[arg(long)]
    pub overwrite: bool,
    /// Continue the run in this directory from checkpoints/last.ckpt.
    #[arg(long, conflicts_with_all = ["out", "overwrite", "config"])]
    pub resume: Option<PathBuf>,
    /// Log a training record every N steps.
    #[arg(long)]
    pub log_every: Option<u64>,
    /// Write a sample grid every N steps.
    #[arg(long)]
    pub sample_every: Option<u64>,
    /// Write checkpoints/last.ckpt every N steps.
    #[arg(long)]
    pub checkpoint_every: Option<u64>,
    /// Hide the progress bar.
    #[arg(long)]
    pub no_progress: bool,
    /// Also write the logged numbers and the sample grids as TensorBoard event files, into
    /// <run>/tensorboard (`tensorboard --logdir <run>/tensorboard`).
    #[arg(long)]
    pub tensorboard: bool,
    /// Stop training after this many minutes of wall time (after the step in progress), then
    /// evaluate, save and report as at the end of the budget: a fixed compute budget.
    #[arg(long)]
    pub max_minutes: Option<f64>,
    /// Classic fits: k-means clusters, PCA or GMM components.
    #[arg(long)]
    pub k: Option<usize>,
    /// GAN objective (GAN models only): minimax, ns, wgan, wgan-gp, lsgan or hinge. Sets the
    /// recipe's loss, Lipschitz constraint, k, optimizer and learning rate; --lr and --d-steps win.
    #[arg(long, conflicts_with = "resume")]
    pub loss: Option<String>,
    /// Discriminator (critic) steps per generator step, the lecture's k (GAN models only).
    #[arg(long, conflicts_with = "resume")]
    pub d_steps: Option<usize>,
}

/// The model `genzoo train` trains when none is named.
pub const DEFAULT_MODEL: &str = "vae";

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Models => {
            let trained = models::registry().into_iter().map(|m| (m.name, m.summary));
            for (name, summary) in trained.chain(models::classic::classic_models()) {
                println!("{name:<14} {summary}");
            }
            let compiled: Vec<String> = Backend::compiled()
                .iter()
                .map(ToString::to_string)
                .collect();
            println!("backends compiled in: {}", compiled.join(", "));
            println!("\nshipped trained weights (genzoo sample|eval|import --pretrained NAME):");
            for p in models::pretrained() {
                let number = match p.test.metrics {
                    "acc" => format!("{} {:.2}%", p.test.key, 100.0 * p.test.value),
                    _ => format!("{} {:.2} nats", p.test.key, p.test.value),
                };
                println!("{:<28} {:<10} {number}; {}", p.name, p.model, p.summary);
            }
            Ok(())
        }
        Command::Train(args) => train(&args).map(|_| ()),
        Command::Eval(args) => {
            let out = eval::eval(&args)?;
            if args.json {
                println!("{}", Value::Object(out));
            } else {
                eval::print_table(&out);
            }
            Ok(())
        }
        Command::Sample(args) => {
            let path = eval::sample(&args)?;
            println!("{}", path.display());
            Ok(())
        }
        Command::Figures(args) => {
            let names = eval::figures(&args)?;
            if names.is_empty() {
                println!("this model draws no figures");
            }
            let run = args.source.run.unwrap_or_default();
            for n in names {
                println!("{}", run.join("figures").join(n).display());
            }
            Ok(())
        }
        Command::Classifier(args) => {
            let acc = eval::classifier(&args)?;
            println!("test accuracy {acc:.4}; wrote {}", args.out.display());
            Ok(())
        }
        Command::Bench(args) => {
            let records = bench::bench(&args)?;
            if args.child {
                for r in &records {
                    println!("{}", Value::Object(r.clone()));
                }
            } else {
                bench::print(&records);
            }
            let failed: Vec<&str> = records
                .iter()
                .filter(|r| r.contains_key("error"))
                .filter_map(|r| r.get("model").and_then(Value::as_str))
                .collect();
            if failed.is_empty() {
                Ok(())
            } else {
                Err(Error::Config(format!(
                    "bench failed for {}",
                    failed.join(", ")
                )))
            }
        }
        Command::Export(args) => weights::export(&args),
        Command::Import(args) => weights::import(&args),
        Command::Calibrate(args) => {
            let rows = eval::calibrate(&args)?;
            if args.json {
                let all: Map<String, Value> = rows
                    .into_iter()
                    .map(|(k, v)| (k, Value::Object(v)))
                    .collect();
                println!("{}", Value::Object(all));
            } else {
                for (name, m) in rows {
                    println!("== {name}");
                    eval::print_table(&m);
                }
            }
            Ok(())
        }
    }
}

/// Resolves the configuration of a fresh run: defaults → `--config` → flags.
pub fn resolve_config(args: &TrainArgs) -> Result<RunConfig> {
    let model = args.model.as_deref().unwrap_or(DEFAULT_MODEL);
    let spec = models::find(model)?;
    let layers = Layers::read(args, model)?;
    let kind: DatasetKind = layers.dataset.parse()?;
    models::check_labels(model, kind)?;
    let d = &spec.defaults;
    let mut table = toml::Table::new();
    table.insert("model".into(), model.into());
    table.insert("seed".into(), 0.into());
    table.insert("batch_size".into(), (d.batch_size as i64).into());
    table.insert("lr".into(), d.lr.into());
    table.insert("log_every".into(), 50.into());
    table.insert("sample_every".into(), 500.into());
    table.insert("checkpoint_every".into(), 500.into());
    table.insert("model_config".into(), spec.preset(kind)?.table()?.into());
    models::gan::dataset_defaults(model, kind, &mut table)?;
    let mut table = layers.merge(table, args);
    models::gan::apply_train_flags(model, kind, &mut table, args.loss.as_deref(), args.d_steps)?;
    let int = |v: Option<u64>| v.map(|v| v as i64);
    set_flag(&mut table, "batch_size", args.batch_size.map(|b| b as i64));
    set_flag(&mut table, "lr", args.lr);
    set_flag(&mut table, "lr_decay", args.lr_decay);
    set_flag(&mut table, "log_every", int(args.log_every));
    set_flag(&mut table, "sample_every", int(args.sample_every));
    set_flag(&mut table, "checkpoint_every", int(args.checkpoint_every));
    if args.epochs.is_some() || args.steps.is_some() {
        table.remove("epochs");
        table.remove("steps");
        set_flag(&mut table, "epochs", int(args.epochs));
        set_flag(&mut table, "steps", int(args.steps));
    } else if !table.contains_key("epochs") && !table.contains_key("steps") {
        table.insert("epochs".into(), (d.epochs as i64).into());
    }
    let mut cfg: RunConfig = toml::Value::Table(table)
        .try_into()
        .map_err(|e| Error::Config(format!("resolving configuration: {e}")))?;
    cfg.provenance = Provenance::now(true);
    cfg.validate()?;
    Ok(cfg)
}

fn data_options(args: &TrainArgs) -> DataOptions {
    DataOptions {
        data_dir: args.data_dir.clone(),
        download: args.download,
        ..DataOptions::default()
    }
}

/// Flags a resumed run takes: its budget, backend and cadence may change. Everything else decides
/// what the run is (its data, batches, seed, learning rate) and is refused with `--resume`.
const RESUME_APPLIES: &str =
    "--epochs, --steps, --backend, --log-every, --sample-every, --checkpoint-every, --max-minutes";

/// The configuration of `--resume DIR`, with the flags that may change applied; refuses the flags
/// that cannot change, naming them.
fn resume_config(args: &TrainArgs, run: &RunDir) -> Result<RunConfig> {
    let origin = run.config_path().display().to_string();
    let mut cfg = RunConfig::from_toml(&origin, &run.read_config()?)?;
    if let Some(m) = args.model.as_ref().filter(|m| **m != cfg.model) {
        return Err(Error::Config(format!(
            "{origin} is a '{}' run, not '{m}'",
            cfg.model
        )));
    }
    let mut refused = Vec::new();
    let mut differs = |flag: &str, changed: bool| {
        if changed {
            refused.push(flag.to_string());
        }
    };
    differs("--lr", args.lr.is_some_and(|lr| lr != cfg.lr));
    differs(
        "--lr-decay",
        args.lr_decay.is_some_and(|d| Some(d) != cfg.lr_decay),
    );
    differs(
        "--batch-size",
        args.batch_size.is_some_and(|b| b != cfg.batch_size),
    );
    differs("--seed", args.seed.is_some_and(|s| s != cfg.seed));
    differs(
        "--dataset",
        args.dataset
            .as_ref()
            .is_some_and(|d| d.parse().ok() != Some(cfg.dataset)),
    );
    differs("--k", args.k.is_some());
    if !refused.is_empty() {
        return Err(Error::Config(format!(
            "{} cannot change on --resume (the run was made with {}); only {RESUME_APPLIES} apply to a resumed run",
            refused.join(", "),
            run.config_path().display()
        )));
    }
    if args.epochs.is_some() || args.steps.is_some() {
        cfg.epochs = args.epochs;
        cfg.steps = args.steps;
    }
    if let Some(b) = &args.backend {
        cfg.backend = b.parse()?;
    }
    let keep = |flag: Option<u64>, current: u64| flag.unwrap_or(current);
    cfg.log_every = keep(args.log_every, cfg.log_every);
    cfg.sample_every = keep(args.sample_every, cfg.sample_every);
    cfg.checkpoint_every = keep(args.checkpoint_every, cfg.checkpoint_every);
    cfg.validate()?;
    Ok(cfg)
}

/// `--max-minutes` as a duration, refused unless a positive number.
fn time_limit(args: &TrainArgs) -> Result<Option<std::time::Duration>> {
    args.max_minutes
        .map(|m| {
            if m.is_finite() && m > 0.0 && m < 1e9 {
                Ok(std::time::Duration::from_secs_f64(m * 60.0))
            } else {
                Err(Error::Config(format!(
                    "--max-minutes must be a positive number of minutes, got {m}"
                )))
            }
        })
        .transpose()
}

/// `genzoo train`: returns the run directory and the summary.
///
/// Everything that can be checked before training (flags, configuration, backend, model, data,
/// batch size against the data, memory) is checked before the run directory is created or
/// touched, so bad input never leaves a directory behind nor changes an old one.
pub fn train(args: &TrainArgs) -> Result<(PathBuf, Map<String, Value>)> {
    if args
        .model
        .as_deref()
        .is_some_and(models::classic::is_classic)
    {
        return models::classic::fit(args);
    }
    if args.k.is_some() && args.resume.is_none() {
        return Err(Error::Config(format!(
            "--k does not apply to '{}' (it sets k-means k and PCA / GMM components)",
            args.model.as_deref().unwrap_or(DEFAULT_MODEL)
        )));
    }
    let time_limit = time_limit(args)?;
    let (mut cfg, resume_dir) = match &args.resume {
        Some(dir) => {
            let run = RunDir::open(dir)?;
            (resume_config(args, &run)?, Some(dir.clone()))
        }
        None => (resolve_config(args)?, None),
    };
    let backend = cfg.backend;
    let device = backend.device()?.autodiff();
    let spec = models::find(&cfg.model)?;
    let kind = cfg.dataset;
    let opts = data_options(args);
    if resume_dir.is_none() && kind != DatasetKind::MnistMini && !kind.is_toy() {
        cfg.provenance.data_dir = genzoo_datasets::data_root(opts.data_dir.as_deref())
            .map(|p| p.display().to_string())
            .unwrap_or_default();
    }
    tracing::info!(model = %cfg.model, dataset = %cfg.dataset, backend = %cfg.backend, "loading data");
    let train_set = genzoo_datasets::load(kind, Split::Train, &opts)?;
    let test_set = genzoo_datasets::load(kind, Split::Test, &opts)?;
    // Where the dataset has a validation split, it picks `best` and the test split is measured
    // once, at that checkpoint (the papers' protocol).
    let valid_set = if kind.has_validation() {
        Some(genzoo_datasets::load(kind, Split::Valid, &opts)?)
    } else {
        None
    };
    let train_opts = TrainOptions {
        progress: !args.no_progress,
        time_limit,
        tensorboard: args.tensorboard,
        ..cfg.train_options(spec.defaults.epochs)
    };
    train_opts.check(train_set.len())?;
    // Built once the batch size is known to fit the data: the model's memory check counts it.
    // burn's device RNG is shared by every thread of the process: seeding it and drawing the
    // initial weights must not interleave with another training started on another thread, or
    // the same seed gives other weights.
    let mut task = {
        static INIT: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _guard = INIT
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        device.seed(cfg.seed);
        spec.build(&cfg, &device)?
    };

    let (run, resume) = match resume_dir {
        Some(dir) => {
            let run = RunDir::resume(&dir)?;
            let last = run.checkpoint_path("last");
            if !last.exists() {
                return Err(Error::Config(format!(
                    "{} has no checkpoint to resume from ({} is missing: the run stopped before its first one); start it again with --out {} --overwrite",
                    dir.display(),
                    last.display(),
                    dir.display()
                )));
            }
            let ckpt = Checkpoint::load(&last)?;
            train_opts.check_not_spent(&run, &ckpt.meta, train_set.len())?;
            // The flags a resumed run took are written down, so the next resume sees them.
            let origin = run.config_path().display().to_string();
            if RunConfig::from_toml(&origin, &run.read_config()?)? != cfg {
                run.write_config(&cfg.to_toml()?)?;
            }
            (run, Some(ckpt))
        }
        None => {
            let root = args.out.clone().unwrap_or_else(|| {
                Path::new("runs").join(format!(
                    "{}-{}-{}",
                    cfg.model, cfg.dataset, cfg.provenance.created_utc
                ))
            });
            let run = RunDir::create(&root, args.overwrite, &cfg.to_toml()?)?;
            (run, None)
        }
    };
    tracing::info!(run_dir = %run.root().display(), train = train_set.len(), test = test_set.len(), "training");
    let summary = genzoo_train::train_with_validation(
        task.as_mut(),
        &run,
        &train_set,
        valid_set.as_ref(),
        &test_set,
        &device,
        &train_opts,
        resume,
    )?;
    Ok((run.root().to_path_buf(), summary))
}
