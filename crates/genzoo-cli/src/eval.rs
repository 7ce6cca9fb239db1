//! `genzoo eval`, `genzoo sample`, `genzoo classifier` and `genzoo calibrate`: the numbers and
//! pictures of a trained run, and the domain classifiers those numbers are measured with.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::tensor::Device;
use clap::Args;
use genzoo_datasets::{DataOptions, DatasetKind, ImageSet, Split};
use genzoo_metrics::classifier::{ClassifierTraining, sha256_hex};
use genzoo_metrics::evaluate::{EvalOptions, evaluate};
use genzoo_metrics::suite;
use genzoo_train::{Backend, Checkpoint, Grid, RunDir, Task};

use crate::{Error, Result};
use serde_json::{Map, Value};

use crate::config::RunConfig;
use crate::models;

/// The trained run `eval`, `sample` and `figures` read: its directory, checkpoint, backend and data
/// (or, with `--pretrained`, shipped weights instead of a run directory).
#[derive(Debug, Clone, Args)]
pub struct RunSource {
    /// The run directory.
    #[arg(required_unless_present = "pretrained")]
    pub run: Option<PathBuf>,
    /// Shipped trained weights instead of a run directory (`genzoo models` lists them), checked
    /// against their pinned SHA-256.
    #[arg(long, conflicts_with_all = ["run", "checkpoint"])]
    pub pretrained: Option<String>,
    /// Which checkpoint: best or last.
    #[arg(long, default_value = "best")]
    pub checkpoint: String,
    /// Backend (default: the run's).
    #[arg(long)]
    pub backend: Option<String>,
    /// Dataset root (else $GENZOO_DATA_DIR, else the user cache dir).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

impl RunSource {
    /// The run's best (or last) checkpoint of `run`, on its backend (or the one asked for).
    pub fn new(run: &Path) -> Self {
        Self {
            run: Some(run.to_path_buf()),
            pretrained: None,
            checkpoint: "best".into(),
            backend: None,
            data_dir: None,
        }
    }

    /// The shipped weights called `name`, on the backend they were trained on.
    pub fn pretrained(name: &str) -> Self {
        Self {
            run: None,
            pretrained: Some(name.to_string()),
            checkpoint: "best".into(),
            backend: None,
            data_dir: None,
        }
    }

    fn load(&self) -> Result<LoadedRun> {
        match (&self.run, &self.pretrained) {
            (_, Some(name)) => load_pretrained(name, self.backend.as_deref()),
            (Some(run), None) => load_run(run, &self.checkpoint, self.backend.as_deref()),
            (None, None) => Err(Error::Config(
                "give a run directory or --pretrained NAME".into(),
            )),
        }
    }
}

/// `genzoo eval` flags.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The run, its checkpoint, backend and data.
    #[command(flatten)]
    pub source: RunSource,
    /// Metrics, comma-separated: nll (the model's own test metrics: NLL, ELBO, MSE...), fid, kid,
    /// is, pr, acc, and for the VAE family elbo (test −ELBO, reconstruction and KL) and iwae (the
    /// importance-weighted NLL bound −L_k of Burda et al. 2015). Default: all the model supports
    /// except elbo and iwae.
    #[arg(long)]
    pub metrics: Option<String>,
    /// Generated samples, and real test images, for the sample metrics; the first this many test
    /// images for elbo and iwae.
    #[arg(long, default_value_t = 10_000)]
    pub n: usize,
    /// The first test image elbo and iwae score: a long iwae estimate runs in parts (`--start
    /// 0 --n 2000`, `--start 2000 --n 2000`, ...; parts that start at multiples of 200 add up to one
    /// run over the whole).
    #[arg(long, default_value_t = 0)]
    pub start: usize,
    /// Importance samples per test image for iwae (the literature reports k = 5000).
    #[arg(long, default_value_t = 5000)]
    pub iwae_k: usize,
    /// Seed of the generated samples and the KID subsets.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Feature extractor weights (safetensors from `genzoo classifier`); default: the shipped
    /// genzoo-LeNet-MNIST for 1×28×28 data.
    #[arg(long)]
    pub classifier: Option<PathBuf>,
    /// Print the results as JSON on stdout instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `genzoo sample` flags.
#[derive(Debug, Args)]
pub struct SampleArgs {
    /// The run, its checkpoint, backend and data (for --complete).
    #[command(flatten)]
    pub source: RunSource,
    /// Number of samples.
    #[arg(long, default_value_t = 64)]
    pub n: usize,
    /// Seed (the same seed gives the same samples).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Images per grid row (default: about √n).
    #[arg(long)]
    pub cols: Option<usize>,
    /// Output PNG (default: <run>/samples/sample-seed<S>-n<N>.png).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// For a class-conditional model: draw every sample of this class.
    #[arg(long)]
    pub label: Option<usize>,
    /// Autoregressive models: use the cached sampler (Ramachandran et al. 2017), which draws the
    /// same images as the default naive sampler (one forward pass per sub-pixel) in about one pass.
    #[arg(long)]
    pub fast: bool,
    /// Autoregressive models: the completion figure instead of samples — a row of test images, a
    /// row of their top halves (what the model is given), then rows of sampled bottom halves
    /// (`--cols` test images, default 8; `n / cols` completion rows).
    #[arg(long)]
    pub complete: bool,
}

/// `genzoo figures` flags.
#[derive(Debug, Args)]
pub struct FiguresArgs {
    /// The run, its checkpoint, backend and data.
    #[command(flatten)]
    pub source: RunSource,
}

/// The labelled real images `classifier` and `calibrate` read: both splits of a dataset.
#[derive(Debug, Clone, Args)]
pub struct RealData {
    /// Dataset: mnist, mnist-mini or fashion-mnist.
    #[arg(long, default_value = "mnist")]
    pub dataset: String,
    /// Dataset root (else $GENZOO_DATA_DIR, else the user cache dir).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Backend.
    #[arg(long)]
    pub backend: Option<String>,
}

impl RealData {
    /// The dataset (refused when it has no labels), the backend and its device, and the train and
    /// test splits.
    fn load(&self) -> Result<(DatasetKind, Backend, Device, ImageSet, ImageSet)> {
        let kind: DatasetKind = self.dataset.parse()?;
        if kind.classes() == 0 {
            return Err(Error::Config(format!(
                "{kind} has no labels to train a classifier on; its images are MNIST digits, which the shipped genzoo-LeNet-MNIST reads"
            )));
        }
        let backend = Backend::named_or_default(self.backend.as_deref())?;
        let device = backend.device()?;
        let train = load_split(kind, Split::Train, self.data_dir.as_deref())?;
        let test = load_split(kind, Split::Test, self.data_dir.as_deref())?;
        Ok((kind, backend, device, train, test))
    }
}

/// `genzoo classifier` flags.
#[derive(Debug, Args)]
pub struct ClassifierArgs {
    /// The dataset to learn and its backend.
    #[command(flatten)]
    pub data: RealData,
    /// Epochs (the learning rate decays by 0.6 per epoch).
    #[arg(long, default_value_t = 5)]
    pub epochs: u64,
    /// Seed of the weights and the data order.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output file (a `.sha256` file is written beside it).
    #[arg(long)]
    pub out: PathBuf,
}

/// `genzoo calibrate` flags.
#[derive(Debug, Args)]
pub struct CalibrateArgs {
    /// The real sets and the backend.
    #[command(flatten)]
    pub data: RealData,
    /// Images per set.
    #[arg(long, default_value_t = 10_000)]
    pub n: usize,
    /// Feature extractor weights (default: the shipped genzoo-LeNet-MNIST).
    #[arg(long)]
    pub classifier: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// One split of a dataset from `--data-dir` (else `$GENZOO_DATA_DIR`, else the cache dir); never downloads.
fn load_split(kind: DatasetKind, split: Split, data_dir: Option<&Path>) -> Result<ImageSet> {
    let opts = DataOptions {
        data_dir: data_dir.map(Path::to_path_buf),
        ..DataOptions::default()
    };
    Ok(genzoo_datasets::load(kind, split, &opts)?)
}

/// Where a loaded model comes from.
pub enum Origin {
    /// A run directory.
    Run(RunDir),
    /// The shipped weights of this name.
    Shipped(&'static str),
}

/// A trained run, rebuilt from its config and checkpoint (or from shipped weights).
pub struct LoadedRun {
    /// The run directory, or the shipped weights' name.
    pub origin: Origin,
    /// Its resolved configuration.
    pub config: RunConfig,
    /// The model family's task with the checkpoint's weights.
    pub task: Box<dyn Task>,
    /// The (autodiff) device the task lives on.
    pub device: Device,
    /// Which checkpoint was loaded (for shipped weights, `pretrained:NAME`).
    pub checkpoint: PathBuf,
    /// Training step of that checkpoint.
    pub step: u64,
}

impl LoadedRun {
    /// The run directory, or for shipped weights an error saying how to make one.
    pub fn run_dir(&self) -> Result<&RunDir> {
        match &self.origin {
            Origin::Run(run) => Ok(run),
            Origin::Shipped(name) => Err(Error::Config(format!(
                "'{name}' is shipped weights, not a run directory: make one with \
                 `genzoo import --pretrained {name} --out DIR`"
            ))),
        }
    }

    /// Where a picture called `stem` goes by default: the run's `samples/`, or for shipped weights
    /// `NAME-stem.png` in the current directory — refused if such a file exists, so that nothing
    /// of the user's is replaced.
    fn picture_path(&self, stem: &str) -> Result<PathBuf> {
        match &self.origin {
            Origin::Run(run) => Ok(run.sample_path(stem)),
            Origin::Shipped(name) => {
                let path = PathBuf::from(format!("{name}-{stem}.png"));
                if path.exists() {
                    return Err(Error::Config(format!(
                        "{} exists and is not replaced; pass --out another file",
                        path.display()
                    )));
                }
                Ok(path)
            }
        }
    }
}

/// The shipped weights called `name` (`genzoo models` lists them): checked against their pinned
/// SHA-256, the model built from the configuration in the file's metadata, the weights loaded.
pub fn load_pretrained(name: &str, backend: Option<&str>) -> Result<LoadedRun> {
    let entry = models::find_pretrained(name)?;
    let weights = entry.weights()?;
    let origin = format!("{} (metadata genzoo.config)", weights.path.display());
    let mut config = RunConfig::from_toml(&origin, &weights.config_toml)?;
    if let Some(b) = backend {
        config.backend = b.parse()?;
    }
    let device = config.backend.device()?.autodiff();
    device.seed(config.seed);
    let mut task = models::find(&config.model)?.build(&config, &device)?;
    let step = weights.step;
    task.import_weights(weights.bytes, weights.layout, &weights.path)?;
    Ok(LoadedRun {
        origin: Origin::Shipped(entry.name),
        config,
        task,
        device,
        checkpoint: PathBuf::from(format!("pretrained:{name}")),
        step,
    })
}

/// Opens `dir`, rebuilds its model and loads `checkpoint` (`best` falls back to `last` when the
/// run never evaluated).
pub fn load_run(dir: &Path, checkpoint: &str, backend: Option<&str>) -> Result<LoadedRun> {
    if checkpoint != "best" && checkpoint != "last" {
        return Err(Error::Config(format!(
            "--checkpoint must be best or last, got '{checkpoint}'"
        )));
    }
    let run = RunDir::open(dir)?;
    let origin = run.config_path().display().to_string();
    let text = run.read_config()?;
    if let Ok(classic) = toml::from_str::<models::classic::ClassicConfig>(&text) {
        // Classic fits have no checkpoint or sampler: their metrics were computed at fit time.
        return Err(Error::Config(format!(
            "{} is a classic fit ({}): it reports its metrics in {} when it is fitted; \
             `eval`, `sample`, `figures` and `export` work on trained generative models",
            dir.display(),
            classic.model,
            run.root().join("summary.json").display()
        )));
    }
    let config = RunConfig::from_toml(&origin, &text)?;
    let backend = match backend {
        Some(b) => b.parse()?,
        None => config.backend,
    };
    let device = backend.device()?.autodiff();
    device.seed(config.seed);
    let spec = models::find(&config.model)?;
    let mut task = spec.build(&config, &device)?;
    let mut path = run.checkpoint_path(checkpoint);
    if checkpoint == "best" && !path.exists() {
        path = run.checkpoint_path("last");
    }
    let ckpt = Checkpoint::load(&path)?;
    ckpt.expect_model(&path, task.name())?;
    task.load(&ckpt, &path)?;
    Ok(LoadedRun {
        origin: Origin::Run(run),
        config,
        task,
        device,
        checkpoint: path,
        step: ckpt.meta.step,
    })
}

/// Refuses `n` generated images of `kind` that cannot fit in memory: the samples as a tensor, as
/// host values and as the picture or features made of them (three copies).
fn check_images_fit(n: usize, kind: DatasetKind, flag: &str) -> Result<()> {
    Ok(genzoo_train::memory::check_fits(
        &format!("{flag} {n} ({n} generated images)"),
        genzoo_train::memory::images_bytes(n, kind.shape()).saturating_mul(3),
    )?)
}

/// `genzoo eval`: the run's metrics on the test split, written into `summary.json` under `eval`
/// and into the report; returns them.
pub fn eval(args: &EvalArgs) -> Result<Map<String, Value>> {
    let opts = EvalOptions {
        iwae_k: args.iwae_k,
        start: args.start,
        seed: args.seed,
        classifier: args.classifier.clone(),
        ..EvalOptions::new(args.metrics.as_deref(), args.n)?
    };
    let mut loaded = args.source.load()?;
    let kind = loaded.config.dataset;
    check_images_fit(args.n, kind, "--n")?;
    // Test-set passes can take minutes (an exact NLL over 10,000 images): show them on a terminal.
    genzoo_train::protocol::show_progress(true);
    let test = load_split(kind, Split::Test, args.source.data_dir.as_deref())?;
    let mut out = Map::new();
    out.insert(
        "checkpoint".into(),
        Value::from(loaded.checkpoint.display().to_string()),
    );
    out.insert("step".into(), Value::from(loaded.step));
    let device = loaded.device.clone().inner();
    let model = loaded.config.model.clone();
    out.extend(evaluate(
        loaded.task.as_mut(),
        &model,
        kind,
        &test,
        &opts,
        &device,
    )?);
    if let Origin::Run(run) = &loaded.origin {
        run.update_summary(|summary| {
            summary.insert("eval".into(), Value::Object(out.clone()));
        })?;
        genzoo_train::report::write_report(run.root()).map_err(|source| Error::Io {
            path: run.root().join("report.html"),
            source,
        })?;
    }
    Ok(out)
}

/// Prints a flat map as an aligned two-column table.
pub fn print_table(map: &Map<String, Value>) {
    let width = map.keys().map(String::len).max().unwrap_or(0);
    for (k, v) in map {
        match v {
            Value::Number(n) => match n.as_f64() {
                Some(x) if n.is_f64() => println!("{k:<width$}  {x:.6}"),
                _ => println!("{k:<width$}  {n}"),
            },
            Value::String(s) => println!("{k:<width$}  {s}"),
            other => println!("{k:<width$}  {other}"),
        }
    }
}

/// `genzoo sample`: a PNG grid of fresh samples; returns its path.
pub fn sample(args: &SampleArgs) -> Result<PathBuf> {
    if args.n == 0 {
        return Err(Error::Config("--n must be at least 1".into()));
    }
    let mut loaded = args.source.load()?;
    check_images_fit(args.n, loaded.config.dataset, "--n")?;
    if let Some(label) = args.label {
        let classes = loaded.task.conditional().map_or(0, |c| c.num_classes());
        if classes == 0 {
            return Err(Error::Config(format!(
                "'{}' is not class-conditional: --label does not apply",
                loaded.config.model
            )));
        }
        genzoo_train::capability::check_class(label, classes)
            .map_err(|e| Error::Config(format!("--label: {e}")))?;
    }
    let chosen = loaded
        .task
        .generator()
        .is_some_and(|g| g.set_fast_sampling(args.fast));
    if !chosen {
        if args.fast {
            return Err(Error::Config(format!(
                "'{}' has no cached sampler: --fast applies to pixelcnn, gated-pixelcnn, \
                 cond-pixelcnn, row-lstm \
                 and diagonal-bilstm",
                loaded.config.model
            )));
        }
    } else if !args.fast {
        tracing::info!(
            "naive sampler: one forward pass per sub-pixel; --fast draws the same images in about one pass"
        );
    }
    if args.complete {
        if args.label.is_some() {
            return Err(Error::Config(
                "--complete keeps each test image's own label; drop --label".into(),
            ));
        }
        return completion(&mut loaded, args);
    }
    let model = &loaded.config.model;
    let images = match args.label {
        Some(label) => loaded
            .task
            .conditional()
            .ok_or_else(|| Error::Config(format!("'{model}' is not class-conditional")))?
            .generate_class(args.n, args.seed, label)?,
        None => loaded
            .task
            .generator()
            .ok_or_else(|| Error::Config(format!("'{model}' does not generate samples")))?
            .generate(args.n, args.seed)?,
    };
    let n = images.dims()[0];
    let cols = args
        .cols
        .unwrap_or_else(|| (n as f64).sqrt().ceil() as usize)
        .max(1);
    let path = match &args.out {
        Some(p) => p.clone(),
        None => {
            let label = args
                .label
                .map_or_else(String::new, |l| format!("-label{l}"));
            loaded.picture_path(&format!("sample-seed{}-n{}{label}", args.seed, args.n))?
        }
    };
    Grid::from_tensor(images, cols)?.write_png(&path)?;
    Ok(path)
}

/// `genzoo sample --complete`: `cols` test images, their top halves, and `n / cols` rows of
/// completions of the bottom halves (row `r` drawn from seed `seed + r`); returns the PNG's path.
fn completion(loaded: &mut LoadedRun, args: &SampleArgs) -> Result<PathBuf> {
    let kind = loaded.config.dataset;
    let test = load_split(kind, Split::Test, args.source.data_dir.as_deref())?;
    let cols = args.cols.unwrap_or(8).clamp(1, test.len().max(1));
    let rows = (args.n / cols).max(1);
    let device = loaded.device.clone().inner();
    let binarization = loaded.task.binarization();
    let completer = loaded.task.completer().ok_or_else(|| {
        Error::Config(format!(
            "'{}' cannot complete images: --complete applies to pixelcnn, \
             gated-pixelcnn, cond-pixelcnn, row-lstm and diagonal-bilstm",
            loaded.config.model
        ))
    })?;
    let images = genzoo_train::capability::completion_figure(
        completer,
        &test,
        binarization,
        cols,
        &(0..rows as u64)
            .map(|r| args.seed.wrapping_add(r))
            .collect::<Vec<_>>(),
        &device,
    )?;
    let path = match &args.out {
        Some(p) => p.clone(),
        None => loaded.picture_path(&format!(
            "complete-seed{}-n{}{}",
            args.seed,
            rows * cols,
            if args.fast { "-fast" } else { "" }
        ))?,
    };
    Grid::from_tensor(images, cols)?.write_png(&path)?;
    Ok(path)
}

/// `genzoo figures`: draws the model family's figures (2-D manifold, interpolations, traversals,
/// completions, ...) from a checkpoint into the run's `figures/` and refreshes the report; returns the
/// names written.
pub fn figures(args: &FiguresArgs) -> Result<Vec<String>> {
    if let Some(name) = &args.source.pretrained {
        return Err(Error::Config(format!(
            "figures are written into a run directory: make one from the shipped weights with \
             `genzoo import --pretrained {name} --out DIR`, then `genzoo figures DIR`"
        )));
    }
    let mut loaded = args.source.load()?;
    let kind = loaded.config.dataset;
    let test = load_split(kind, Split::Test, args.source.data_dir.as_deref())?;
    let mut names = Vec::new();
    let figures = loaded.task.figures(&test);
    let run = loaded.run_dir()?;
    for (name, figure) in figures {
        genzoo_train::trainer::write_figure(run, &name, &figure)?;
        names.push(name);
    }
    genzoo_train::report::write_report(run.root()).map_err(|source| Error::Io {
        path: run.root().join("report.html"),
        source,
    })?;
    Ok(names)
}

/// `genzoo classifier`: trains a LeNet on a dataset, reports its test accuracy, writes the
/// safetensors file and its `.sha256`. Returns the accuracy.
pub fn classifier(args: &ClassifierArgs) -> Result<f64> {
    let (kind, backend, device, train, test) = args.data.load()?;
    let t0 = Instant::now();
    let training = ClassifierTraining {
        epochs: args.epochs,
        seed: args.seed,
        ..ClassifierTraining::default()
    };
    let command = format!(
        "genzoo classifier --dataset {kind} --epochs {} --seed {} --backend {backend}",
        args.epochs, args.seed
    );
    let (bytes, acc) = suite::train_extractor(
        &kind.to_string(),
        &train,
        &test,
        &training,
        command,
        &device,
        |epoch, loss| tracing::info!(epoch, loss, "classifier epoch done"),
    )?;
    tracing::info!(
        accuracy = acc,
        seconds = t0.elapsed().as_secs_f64(),
        "classifier trained"
    );
    let write = |path: &Path, bytes: &[u8]| {
        genzoo_train::fsutil::write_atomic(path, bytes).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })
    };
    write(&args.out, &bytes)?;
    let sha = args.out.with_extension("safetensors.sha256");
    write(&sha, format!("{}\n", sha256_hex(&bytes)).as_bytes())?;
    Ok(acc)
}

/// `genzoo calibrate`: the sample metrics between real sets, so readers know what numbers mean:
/// train vs test (the floor), test vs pixel-shuffled test and test vs blurred test.
pub fn calibrate(args: &CalibrateArgs) -> Result<Vec<(String, Map<String, Value>)>> {
    let (kind, _, device, train, test) = args.data.load()?;
    let extractor =
        suite::feature_extractor(args.classifier.as_deref(), kind, test.shape(), &device)?;
    suite::calibration(
        &extractor,
        &kind.to_string(),
        &train,
        &test,
        args.n,
        &device,
    )
    .map_err(Error::from)
}
