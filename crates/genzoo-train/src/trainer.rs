//! The minibatch training loop shared by every gradient-trained model.
//!
//! The seam between this crate and a model family is the [`Task`] trait: the loop owns data order,
//! logging, checkpoints, signals and the NaN guard; a task owns its networks and optimizers and
//! pulls as many batches as one of its steps needs (one for a VAE or PixelCNN, `k + 1` for a GAN
//! with `k` discriminator steps). Non-gradient fits (k-means, GMM) do not use this loop; they write
//! through [`RunDir`](crate::RunDir) directly.

use std::time::Instant;

use burn::tensor::{Device, Tensor, TensorData};
use genzoo_datasets::rng::{Rng, derive_seed};
use genzoo_datasets::{Binarization, ImageBatch, ImageSet};
use serde_json::{Map, Value};

use crate::capability::{Complete, Generate, GenerateClass, LikelihoodBounds};
use crate::checkpoint::{Checkpoint, CheckpointMeta};
use crate::error::{Error, Result};
use crate::image::{GridOptions, encode_png, grid_rgb8};
use crate::report::write_report;
use crate::run::{RunDir, num, record};
use crate::scalar::Scalar;
use crate::signal;
use crate::weights::Layout;

/// A grid of images in [0, 1], `[n, channels, height, width]` row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    /// Pixel values.
    pub images: Vec<f32>,
    /// Number of images.
    pub n: usize,
    /// Channels (1 or 3).
    pub channels: usize,
    /// Height in pixels.
    pub height: usize,
    /// Width in pixels.
    pub width: usize,
    /// Images per row of the grid.
    pub cols: usize,
}

impl Grid {
    /// The images of `images` (`[n, channels, height, width]`, values in [0, 1]), `cols` a row.
    pub fn from_tensor(images: Tensor<4>, cols: usize) -> Result<Self> {
        let [n, channels, height, width] = images.dims();
        Ok(Self {
            images: host_f32(images)?,
            n,
            channels,
            height,
            width,
            cols,
        })
    }

    /// Writes the grid as a PNG (atomically; small images doubled in size).
    pub fn write_png(&self, path: &std::path::Path) -> Result<()> {
        write_grid(path, self)
    }

    /// `inputs` and `outputs` (the same shape) in pairs of rows: `cols` inputs, then their
    /// `cols` outputs below them (reconstructions under their originals).
    pub fn pairs(inputs: Tensor<4>, outputs: Tensor<4>, cols: usize) -> Result<Self> {
        let [n, channels, height, width] = inputs.dims();
        let per = channels * height * width;
        let (xin, xout) = (host_f32(inputs)?, host_f32(outputs)?);
        let cols = cols.max(1);
        let mut images = Vec::with_capacity(2 * n * per);
        for start in (0..n).step_by(cols) {
            let end = (start + cols).min(n);
            images.extend_from_slice(&xin[start * per..end * per]);
            images.extend_from_slice(&xout[start * per..end * per]);
        }
        Ok(Self {
            images,
            n: 2 * n,
            channels,
            height,
            width,
            cols: cols.min(n),
        })
    }
}

/// A tensor's values as `f32` on the host.
fn host_f32<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>> {
    t.into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .map_err(|e| Error::Model(format!("reading a tensor: {e:?}")))
}

/// A picture a model family draws of itself at the end of training (a 2-D latent manifold,
/// interpolations, an embedding scatter plot), written to `figures/<name>.png` or `.svg`.
#[derive(Debug, Clone, PartialEq)]
pub enum Figure {
    /// An image grid, written as PNG.
    Grid(Grid),
    /// A self-contained SVG document (e.g. from [`crate::svg::scatter`]).
    Svg(String),
}

/// What one optimisation step reports. Its numbers stay on the device until the loop reads them
/// (see [`crate::scalar`]).
#[derive(Debug, Clone, Default)]
pub struct StepOutput {
    /// The loss that was minimised (for GANs, the discriminator's).
    pub loss: Scalar,
    /// Other named scalars (loss parts, D(x), ...), logged next to the loss.
    pub parts: Vec<(&'static str, Scalar)>,
    /// Training images consumed by the step.
    pub images: usize,
}

/// The stream of training batches: a fresh permutation per epoch from `(seed, epoch)`, so a
/// resumed run sees exactly the batches the uninterrupted run would have seen.
pub struct Batches<'a> {
    data: &'a ImageSet,
    device: Device,
    batch_size: usize,
    binarization: Binarization,
    seed: u64,
    epoch: u64,
    batch_in_epoch: u64,
    order: Vec<usize>,
}

impl<'a> Batches<'a> {
    /// A stream positioned at `batch_in_epoch` of `epoch`.
    pub fn new(
        data: &'a ImageSet,
        device: Device,
        batch_size: usize,
        binarization: Binarization,
        seed: u64,
        epoch: u64,
        batch_in_epoch: u64,
    ) -> Self {
        Self {
            order: genzoo_datasets::epoch_order(data.len(), seed, epoch),
            data,
            device,
            batch_size,
            binarization,
            seed,
            epoch,
            batch_in_epoch,
        }
    }

    /// Full batches per epoch (the last partial batch is dropped, as in most reference code).
    pub fn batches_per_epoch(&self) -> u64 {
        (self.data.len() / self.batch_size) as u64
    }

    /// The epoch the next batch comes from.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Batches of the current epoch already consumed.
    pub fn batch_in_epoch(&self) -> u64 {
        self.batch_in_epoch
    }

    /// The next batch, moving to the next epoch (and permutation) when one is exhausted.
    pub fn next_batch(&mut self) -> ImageBatch {
        if self.batch_in_epoch >= self.batches_per_epoch() {
            self.epoch += 1;
            self.batch_in_epoch = 0;
            self.order = genzoo_datasets::epoch_order(self.data.len(), self.seed, self.epoch);
        }
        let start = self.batch_in_epoch as usize * self.batch_size;
        let indices = &self.order[start..start + self.batch_size];
        // Dynamic binarization draws fresh noise per batch, seeded by position so resume is exact.
        let seed = derive_seed(self.seed, &[self.epoch, self.batch_in_epoch, 0xB1]);
        self.batch_in_epoch += 1;
        self.data
            .batch(indices, self.binarization, seed, &self.device)
    }
}

/// The batches of one training step, as the loop hands them over: [`Task::batches_per_step`] of
/// them (at least one), in stream order.
#[derive(Debug)]
pub struct StepBatches {
    first: ImageBatch,
    rest: Vec<ImageBatch>,
}

impl StepBatches {
    /// The next `n` batches of `batches` (one for `n = 0`).
    pub fn take(batches: &mut Batches<'_>, n: usize) -> Self {
        let first = batches.next_batch();
        let rest = (1..n).map(|_| batches.next_batch()).collect();
        Self { first, rest }
    }

    /// The first batch: the whole of a step that takes one.
    pub fn single(self) -> ImageBatch {
        self.first
    }

    /// How many batches the step has.
    pub fn len(&self) -> usize {
        1 + self.rest.len()
    }

    /// Never: a step has at least one batch.
    pub fn is_empty(&self) -> bool {
        false
    }
}

impl IntoIterator for StepBatches {
    type Item = ImageBatch;
    type IntoIter = std::iter::Chain<std::iter::Once<ImageBatch>, std::vec::IntoIter<ImageBatch>>;

    fn into_iter(self) -> Self::IntoIter {
        std::iter::once(self.first).chain(self.rest)
    }
}

/// A model family's training state, driven by [`train`].
pub trait Task {
    /// The registry name written into checkpoints (`autoencoder`, `vae`, ...).
    fn name(&self) -> &str;
    /// How training images are binarized before they reach the model.
    fn binarization(&self) -> Binarization {
        Binarization::None
    }
    /// Batches one step consumes: the loop hands [`Task::step`] this many (and counts epochs and
    /// progress by them).
    fn batches_per_step(&self) -> usize {
        1
    }
    /// One optimisation step on the step's batches.
    fn step(&mut self, batches: StepBatches, rng: &mut Rng) -> StepOutput;
    /// Sets every optimizer's learning rate to `factor` × the run's (a schedule's value for the
    /// next step; 1 restores the configured rate).
    fn scale_lr(&mut self, factor: f64);
    /// Metrics on held-out data, e.g. `[("test_mse", 0.01)]`.
    fn evaluate(&mut self, test: &ImageSet) -> Vec<(String, f64)>;
    /// The evaluation metric that picks `best.ckpt` (lower is better).
    fn selection_metric(&self) -> &str;
    /// A grid to save as `samples/step-N.png`: samples, or reconstructions for an autoencoder.
    /// It must not advance `rng`-dependent training state: fixed noise or fixed inputs.
    fn sample_grid(&mut self, test: &ImageSet) -> Option<Grid>;
    /// Figures to write into the run's `figures/` folder once training ends, as
    /// `(file stem, figure)`; the report shows them. Default: none.
    fn figures(&mut self, test: &ImageSet) -> Vec<(String, Figure)> {
        let _ = test;
        Vec::new()
    }
    /// Extra records for `genzoo bench` (e.g. IWAE evaluation time, both samplers' time for
    /// `samples` images), measured on `test`. Default: none.
    fn bench_extras(&mut self, test: &ImageSet, samples: usize) -> Vec<(String, f64)> {
        let _ = (test, samples);
        Vec::new()
    }
    /// The model as a generator of new images; `None` (the default) for a model that cannot
    /// generate (the autoencoder).
    fn generator(&mut self) -> Option<&mut dyn Generate> {
        None
    }
    /// The model as a class-conditional generator; `None` (the default) for an unconditional one.
    fn conditional(&mut self) -> Option<&mut dyn GenerateClass> {
        None
    }
    /// The model as a completer of partly known images; `None` (the default) for a model that
    /// is not autoregressive.
    fn completer(&mut self) -> Option<&mut dyn Complete> {
        None
    }
    /// The model's bounds on the test log-likelihood; `None` (the default) for a model without
    /// latent variables.
    fn likelihood(&mut self) -> Option<&mut dyn LikelihoodBounds> {
        None
    }
    /// The task's state as named byte sections (model, optimizer, ...).
    fn save(&self) -> Result<Vec<(String, Vec<u8>)>>;
    /// Restores the state written by [`Task::save`]; `path` is for error messages.
    fn load(&mut self, checkpoint: &Checkpoint, path: &std::path::Path) -> Result<()>;
    /// The networks' weights as a safetensors file in `layout`, with `metadata` in its header
    /// ([`crate::weights::to_safetensors`]). Default: an error, for a task without burn networks.
    fn export_weights(&self, layout: Layout, metadata: &[(&str, &str)]) -> Result<Vec<u8>> {
        let _ = (layout, metadata);
        Err(Error::Model(format!(
            "{} has no weights to export",
            self.name()
        )))
    }
    /// Replaces the networks' weights by those of the safetensors file `bytes` (read from `path`)
    /// written by [`Task::export_weights`] in `layout`; a file that does not fit is an error and
    /// changes nothing. Optimizer states stay as they are.
    fn import_weights(
        &mut self,
        bytes: Vec<u8>,
        layout: Layout,
        path: &std::path::Path,
    ) -> Result<()> {
        let _ = (bytes, layout, path);
        Err(Error::Model(format!(
            "{} has no weights to import",
            self.name()
        )))
    }
    /// Fixed inputs and the networks' outputs on them (evaluation mode, no noise), by name: what
    /// another implementation of the same networks with the exported weights must reproduce.
    /// Default: none.
    fn probe(&mut self) -> Result<Vec<(String, TensorData)>> {
        Ok(Vec::new())
    }
}

/// How long to train.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    /// Until this many epochs of the training set are consumed.
    Epochs(u64),
    /// Until this many optimisation steps are done.
    Steps(u64),
}

/// Loop settings.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// Seed for data order, binarization and the task's RNG.
    pub seed: u64,
    /// Images per batch.
    pub batch_size: usize,
    /// When to stop.
    pub budget: Budget,
    /// Log a training record every this many steps.
    pub log_every: u64,
    /// Save a sample grid every this many steps (and at the end).
    pub sample_every: u64,
    /// Save `last.ckpt` every this many steps (and at each epoch end).
    pub checkpoint_every: u64,
    /// Show a progress bar (only drawn on a terminal).
    pub progress: bool,
    /// A wall-clock limit on this invocation's training: once it has passed (checked after each
    /// step, so at least one step runs) the run ends as if its budget were spent — final
    /// evaluation, checkpoints, figures, summary (with `stopped_by_time_limit`).
    pub time_limit: Option<std::time::Duration>,
    /// Also write the logged records and the sample grids as TensorBoard events, into a new file
    /// of `<run>/tensorboard/`.
    pub tensorboard: bool,
    /// Exponential learning-rate decay: the rate is multiplied by this factor per epoch,
    /// continuously (`lr · decay^(step / steps per epoch)`, set before every step, so a resumed run
    /// continues the same curve). `None` keeps the rate constant.
    pub lr_decay: Option<f64>,
}

impl TrainOptions {
    /// Batches of `batch_size` images until `budget` is spent, with seed 0, a training record
    /// every 10 steps, a sample grid and `last.ckpt` every 500 steps, no progress bar and no
    /// time limit.
    pub fn new(batch_size: usize, budget: Budget) -> Self {
        Self {
            seed: 0,
            batch_size,
            budget,
            log_every: 10,
            sample_every: 500,
            checkpoint_every: 500,
            progress: false,
            time_limit: None,
            tensorboard: false,
            lr_decay: None,
        }
    }

    /// Checks the options against the training set, before anything is written: a batch size
    /// between 1 and the set's size.
    pub fn check(&self, train_len: usize) -> Result<()> {
        if self.batch_size == 0 || self.batch_size > train_len {
            return Err(Error::Config(format!(
                "batch size {} must be between 1 and the training set size {train_len}",
                self.batch_size
            )));
        }
        if self.log_every == 0 || self.sample_every == 0 || self.checkpoint_every == 0 {
            return Err(Error::Config(
                "log_every, sample_every and checkpoint_every must be at least 1".into(),
            ));
        }
        check_lr_decay(self.lr_decay)
    }

    /// Whether a run standing at `meta` has spent this budget on a training set of `train_len`
    /// images: no step is left to train.
    pub fn is_spent(&self, meta: &CheckpointMeta, train_len: usize) -> bool {
        let per_epoch = (train_len / self.batch_size.max(1)).max(1) as u64;
        match self.budget {
            Budget::Steps(n) => meta.step >= n,
            Budget::Epochs(n) => meta.epoch + u64::from(meta.batch_in_epoch >= per_epoch) >= n,
        }
    }

    /// Refuses to resume the run `run` standing at `meta` when it has nothing left to do: its
    /// budget is spent and its final summary is written. A run stopped by a signal or a crash at
    /// the last step of its budget is not finished: resuming it runs the final evaluation.
    pub fn check_not_spent(
        &self,
        run: &RunDir,
        meta: &CheckpointMeta,
        train_len: usize,
    ) -> Result<()> {
        if !self.is_spent(meta, train_len) {
            return Ok(());
        }
        let summary = run.read_summary()?;
        let finished = summary.get("steps") == Some(&Value::from(meta.step))
            && !summary.contains_key("interrupted_at_step");
        if !finished {
            return Ok(());
        }
        let per_epoch = (train_len / self.batch_size.max(1)).max(1) as u64;
        let epochs = meta.epoch + u64::from(meta.batch_in_epoch >= per_epoch);
        Err(Error::Config(format!(
            "{} has already completed its budget (step {}, {epochs} epochs); give --steps or --epochs beyond it to train further",
            run.root().display(),
            meta.step
        )))
    }
}

/// Trains `task` in `run`, starting fresh or from `resume` (a checkpoint of this run).
///
/// `best.ckpt` is written whenever the selection metric improves.
/// Returns the summary written to `summary.json`. Errors: I/O, a non-finite loss or evaluation
/// metric (the last good checkpoint is kept), a resumed run that has nothing left to do, or an
/// interruption (after `last` is saved).
///
/// Only weights known to be good reach `last.ckpt` and `best.ckpt`: a periodic checkpoint is
/// written once the next step's loss, computed from those weights, is finite; an evaluation's
/// metrics must all be finite before its state is saved. When the final evaluation is not finite,
/// `last.ckpt` is put back to the last good state (or removed when there is none).
pub fn train(
    task: &mut dyn Task,
    run: &RunDir,
    train_set: &ImageSet,
    test_set: &ImageSet,
    device: &Device,
    opts: &TrainOptions,
    resume: Option<Checkpoint>,
) -> Result<Map<String, Value>> {
    train_with_validation(task, run, train_set, None, test_set, device, opts, resume)
}

/// The name a task's test metric has when it is measured on the validation split:
/// `test_nll_nats` → `valid_nll_nats` (a name without the `test_` prefix gets `valid_` in front).
pub fn validation_name(test_name: &str) -> String {
    match test_name.strip_prefix("test_") {
        Some(rest) => format!("valid_{rest}"),
        None => format!("valid_{test_name}"),
    }
}

impl CheckpointMeta {
    /// Where a fresh run of `model` with `seed` starts: step 0 and the run's first RNG state.
    pub fn start(model: &str, seed: u64) -> Self {
        Self {
            model: model.to_string(),
            step: 0,
            epoch: 0,
            batch_in_epoch: 0,
            rng: Rng::seed_from_u64(derive_seed(seed, &[0x7A5C])).state(),
            best: None,
            genzoo_version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

/// [`train`] with a validation split, the papers' protocol for likelihood models: every
/// evaluation during training is on `valid` (its metrics named by [`validation_name`], logged with
/// `"split": "valid"`) and picks `best.ckpt`; once training ends, the `best` state is evaluated
/// on `test_set`, whose metrics (and `test_at_step`) go into the summary. Without `valid` this is
/// [`train`]: evaluations on `test_set`.
#[allow(clippy::too_many_arguments)]
pub fn train_with_validation(
    task: &mut dyn Task,
    run: &RunDir,
    train_set: &ImageSet,
    valid: Option<&ImageSet>,
    test_set: &ImageSet,
    device: &Device,
    opts: &TrainOptions,
    resume: Option<Checkpoint>,
) -> Result<Map<String, Value>> {
    let eval = Eval {
        set: valid.unwrap_or(test_set),
        validation: valid.is_some(),
    };
    opts.check(train_set.len())?;
    crate::protocol::show_progress(opts.progress);
    signal::install();
    let mut meta = CheckpointMeta::start(task.name(), opts.seed);
    let mut summary = run.read_summary()?;
    if let Some(ckpt) = &resume {
        let path = run.checkpoint_path("last");
        ckpt.expect_model(&path, task.name())?;
        task.load(ckpt, &path)?;
        meta = ckpt.meta.clone();
        tracing::info!(
            step = meta.step,
            epoch = meta.epoch,
            "resumed from {}",
            path.display()
        );
    }
    let mut rng = Rng::from_state(meta.rng);
    let mut batches = Batches::new(
        train_set,
        device.clone(),
        opts.batch_size,
        task.binarization(),
        opts.seed,
        meta.epoch,
        meta.batch_in_epoch,
    );
    let per_epoch = batches.batches_per_epoch().max(1);
    let steps_per_epoch = (per_epoch / task.batches_per_step() as u64).max(1);
    let total_steps = match opts.budget {
        Budget::Steps(n) => n,
        Budget::Epochs(n) => n * steps_per_epoch,
    };
    // An epoch is complete once its last full batch is consumed, even before the stream rolls over.
    let completed = |b: &Batches<'_>| b.epoch() + u64::from(b.batch_in_epoch() >= per_epoch);
    let done = |b: &Batches<'_>, step: u64| match opts.budget {
        Budget::Steps(n) => step >= n,
        Budget::Epochs(n) => completed(b) >= n,
    };

    if resume.is_some() {
        opts.check_not_spent(run, &meta, train_set.len())?;
    }
    let mut log = run.metrics_log(resume.as_ref().map(|c| c.meta.step))?;
    if opts.tensorboard {
        let writer = crate::tensorboard::EventWriter::create(&run.root().join("tensorboard"))?;
        log = log.with_tensorboard(writer);
    }

    let bar = progress_bar(opts.progress, total_steps, meta.step);
    let started = Instant::now();
    let mut window = Window::default();
    let mut train_images = 0usize;
    let mut train_time = 0.0f64;
    let snapshot = |task: &dyn Task, meta: &CheckpointMeta| -> Result<Checkpoint> {
        Ok(Checkpoint {
            meta: meta.clone(),
            sections: task.save()?,
        })
    };
    // `good`: the state last written to `last.ckpt` and known to be good. `pending`: a periodic
    // checkpoint, written once the next step's loss (computed from its weights) is finite.
    let mut good: Option<Checkpoint> = None;
    let mut pending: Option<Checkpoint> = None;
    let kept = |good: &Option<Checkpoint>| -> String {
        let path = run.checkpoint_path("last");
        match good {
            Some(c) => format!("{}, step {}", path.display(), c.meta.step),
            None if path.exists() => path.display().to_string(),
            None => "none yet".into(),
        }
    };

    let first_step = meta.step;
    let mut stopped_by_time = false;
    while !done(&batches, meta.step) {
        if meta.step > first_step && opts.time_limit.is_some_and(|t| started.elapsed() >= t) {
            tracing::info!(step = meta.step, "time limit reached; finishing the run");
            stopped_by_time = true;
            break;
        }
        let epoch_before = batches.epoch();
        let completed_before = completed(&batches);
        if let Some(decay) = opts.lr_decay {
            task.scale_lr(lr_factor(decay, meta.step, steps_per_epoch));
        }
        let t0 = Instant::now();
        let out = task.step(
            StepBatches::take(&mut batches, task.batches_per_step()),
            &mut rng,
        );
        let dt = t0.elapsed().as_secs_f64();
        let step = meta.step + 1;
        let epoch_ended = completed(&batches) > completed_before;
        train_images += out.images;
        train_time += dt;
        window.add(step, out, dt);
        // The losses are read (and checked) where something depends on them: before any state is
        // saved — a periodic checkpoint is written once the next step's loss, computed from its
        // weights, is finite — and before a log record or a sample grid.
        let read_now = pending.is_some()
            || epoch_ended
            || step.is_multiple_of(opts.log_every)
            || step.is_multiple_of(opts.sample_every)
            || signal::requested();
        if read_now && let Err(found) = window.read() {
            return Err(stop_non_finite(run, &bar, found, kept(&good)));
        }
        if let Some(ckpt) = pending.take() {
            ckpt.save(&run.checkpoint_path("last"))?;
            good = Some(ckpt);
        }
        meta.step = step;
        meta.epoch = batches.epoch();
        meta.batch_in_epoch = batches.batch_in_epoch();
        meta.rng = rng.state();

        if step.is_multiple_of(opts.log_every) {
            let ips = window.images as f64 / window.seconds.max(1e-9);
            let mut rec = record([
                ("step", Value::from(step)),
                ("epoch", Value::from(epoch_before)),
                ("split", Value::from("train")),
                ("loss", num(window.loss / window.n as f64)),
                ("images_per_sec", num(ips)),
                ("time_s", num(started.elapsed().as_secs_f64())),
            ]);
            if let Some(decay) = opts.lr_decay {
                rec.insert(
                    "lr_factor".into(),
                    num(lr_factor(decay, meta.step - 1, steps_per_epoch)),
                );
            }
            for (k, v) in &window.parts {
                rec.insert((*k).to_string(), num(v / window.n as f64));
            }
            log.write(&rec)?;
            bar.set_message(format!(
                "loss {:.4} | {ips:.0} img/s",
                window.loss / window.n as f64
            ));
            window = window.next();
        }
        bar.set_position(step.min(total_steps));
        if step.is_multiple_of(opts.sample_every) {
            save_grid(task, run, test_set, &mut log, step)?;
        }

        if epoch_ended {
            let improved = bar
                .suspend(|| evaluate(task, &eval, &mut log, &mut meta, &mut summary, epoch_before));
            let improved = match improved {
                Ok(improved) => improved,
                Err(e) => {
                    bar.abandon();
                    let _ = write_report(run.root());
                    return Err(with_kept(e, kept(&good)));
                }
            };
            let ckpt = snapshot(task, &meta)?;
            if improved {
                ckpt.save(&run.checkpoint_path("best"))?;
            }
            ckpt.save(&run.checkpoint_path("last"))?;
            good = Some(ckpt);
            pending = None;
        } else if step.is_multiple_of(opts.checkpoint_every) {
            pending = Some(snapshot(task, &meta)?);
        }

        if signal::requested() {
            bar.abandon();
            let path = run.checkpoint_path("last");
            // The state after this step: resuming from it is exact. (Its weights are checked by
            // the resumed run's first step, as every state is.)
            snapshot(task, &meta)?.save(&path)?;
            summary.insert("interrupted_at_step".into(), Value::from(step));
            write_summary(run, &summary)?;
            let _ = write_report(run.root());
            return Err(Error::Interrupted {
                step,
                checkpoint: path,
                run_dir: run.root().to_path_buf(),
            });
        }
    }
    if let Err(found) = window.read() {
        return Err(stop_non_finite(run, &bar, found, kept(&good)));
    }
    bar.finish_and_clear();

    // A final evaluation unless the last step already ended an epoch and evaluated. The trained
    // state is saved first: an evaluation can take minutes, and a second Ctrl-C during it exits at
    // once — without this, losing every step since the last periodic checkpoint. Should the
    // evaluation find it not finite, `last` goes back to the last good state.
    let evaluated_now = summary.get("evaluated_at_step") == Some(&Value::from(meta.step));
    if !evaluated_now {
        snapshot(task, &meta)?.save(&run.checkpoint_path("last"))?;
        let epoch = meta.epoch;
        match evaluate(task, &eval, &mut log, &mut meta, &mut summary, epoch) {
            Ok(improved) => {
                if improved {
                    snapshot(task, &meta)?.save(&run.checkpoint_path("best"))?;
                }
            }
            Err(e) => {
                let path = run.checkpoint_path("last");
                match &good {
                    Some(ckpt) => ckpt.save(&path)?,
                    None => std::fs::remove_file(&path).map_err(|source| Error::Io {
                        path: path.clone(),
                        source,
                    })?,
                }
                let _ = write_report(run.root());
                return Err(with_kept(e, kept(&good)));
            }
        }
    }
    snapshot(task, &meta)?.save(&run.checkpoint_path("last"))?;
    save_grid(task, run, test_set, &mut log, meta.step)?;
    for (name, figure) in task.figures(test_set) {
        write_figure(run, &name, &figure)?;
    }
    if eval.validation {
        // The papers' number: the test metrics of the state the validation split picked.
        let best_path = run.checkpoint_path("best");
        let step = if best_path.exists() {
            let best = Checkpoint::load(&best_path)?;
            task.load(&best, &best_path)?;
            best.meta.step
        } else {
            meta.step
        };
        evaluate_test(task, test_set, &mut log, step, &mut summary)?;
    }

    summary.remove("interrupted_at_step");
    summary.insert("stopped_by_time_limit".into(), Value::from(stopped_by_time));
    summary.insert("model".into(), Value::from(task.name()));
    summary.insert("steps".into(), Value::from(meta.step));
    summary.insert(
        "epochs_completed".into(),
        num(meta.step as f64 / steps_per_epoch as f64),
    );
    // Throughput of this invocation only: a resumed run measures its own part. An invocation that
    // trained no step (it finished a run stopped at its last step) keeps the numbers it found.
    if meta.step > first_step {
        summary.insert("final_train_loss".into(), num(window.last_loss));
        summary.insert(
            "train_images_per_sec".into(),
            num(train_images as f64 / train_time.max(1e-9)),
        );
        summary.insert("wall_time_s".into(), num(started.elapsed().as_secs_f64()));
    }
    write_summary(run, &summary)?;
    write_report(run.root()).map_err(|source| Error::Io {
        path: run.root().join("report.html"),
        source,
    })?;
    tracing::info!("run finished: {}", run.root().display());
    Ok(summary)
}

/// The split the loop's evaluations run on.
struct Eval<'a> {
    set: &'a ImageSet,
    /// `set` is the validation split: metric names are [`validation_name`]s.
    validation: bool,
}

impl Eval<'_> {
    fn name(&self, test_name: &str) -> String {
        if self.validation {
            validation_name(test_name)
        } else {
            test_name.to_string()
        }
    }
}

/// Evaluates the task on the test set and writes the metrics into the log and the summary.
fn evaluate_test(
    task: &mut dyn Task,
    test_set: &ImageSet,
    log: &mut crate::run::MetricsLog,
    step: u64,
    summary: &mut Map<String, Value>,
) -> Result<()> {
    let metrics = task.evaluate(test_set);
    let mut rec = record([("step", Value::from(step)), ("split", Value::from("test"))]);
    for (k, v) in &metrics {
        rec.insert(k.clone(), num(*v));
        summary.insert(k.clone(), num(*v));
        tracing::info!(step, "{k} = {v:.6} (test, at the best validation step)");
    }
    log.write(&rec)?;
    summary.insert("test_at_step".into(), Value::from(step));
    match metrics.iter().find(|(_, v)| !v.is_finite()) {
        Some((k, v)) => Err(Error::NonFinite {
            what: format!("test metric {k} is {v}"),
            step,
            checkpoint: String::new(),
        }),
        None => Ok(()),
    }
}

fn evaluate(
    task: &mut dyn Task,
    eval: &Eval<'_>,
    log: &mut crate::run::MetricsLog,
    meta: &mut CheckpointMeta,
    summary: &mut Map<String, Value>,
    epoch: u64,
) -> Result<bool> {
    let metrics: Vec<(String, f64)> = task
        .evaluate(eval.set)
        .into_iter()
        .map(|(k, v)| (eval.name(&k), v))
        .collect();
    let mut rec = record([
        ("step", Value::from(meta.step)),
        ("epoch", Value::from(epoch)),
        (
            "split",
            Value::from(if eval.validation { "valid" } else { "test" }),
        ),
    ]);
    for (k, v) in &metrics {
        rec.insert(k.clone(), num(*v));
        summary.insert(k.clone(), num(*v));
        tracing::info!(step = meta.step, epoch, "{k} = {v:.6}");
    }
    log.write(&rec)?;
    if let Some((k, v)) = metrics.iter().find(|(_, v)| !v.is_finite()) {
        return Err(Error::NonFinite {
            what: format!("evaluation metric {k} is {v}"),
            step: meta.step,
            checkpoint: String::new(),
        });
    }
    summary.insert("evaluated_at_step".into(), Value::from(meta.step));
    let key = eval.name(task.selection_metric());
    let improved = metrics
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, v)| *v)
        .filter(|v| v.is_finite() && meta.best.is_none_or(|b| *v < b));
    if let Some(v) = improved {
        meta.best = Some(v);
        summary.insert("best_step".into(), Value::from(meta.step));
        summary.insert(format!("best_{key}"), num(v));
    }
    Ok(improved.is_some())
}

/// `e` with the checkpoint that is kept named in it.
/// Ends a run whose loss at `step` was not finite: the progress bar stops, the report is written,
/// and the error names the checkpoint kept.
fn stop_non_finite(
    run: &RunDir,
    bar: &indicatif::ProgressBar,
    (step, loss): (u64, f64),
    checkpoint: String,
) -> Error {
    bar.abandon();
    let _ = write_report(run.root());
    Error::NonFiniteLoss {
        step,
        loss,
        checkpoint,
    }
}

fn with_kept(e: Error, kept: String) -> Error {
    match e {
        Error::NonFinite { what, step, .. } => Error::NonFinite {
            what,
            step,
            checkpoint: kept,
        },
        e => e,
    }
}

/// Writes the run loop's entries into `summary.json`, leaving the entries `genzoo eval` wrote
/// meanwhile (`eval`) as they are on disk.
fn write_summary(run: &RunDir, summary: &Map<String, Value>) -> Result<()> {
    run.update_summary(|disk| {
        let eval = disk.remove("eval");
        *disk = summary.clone();
        match eval {
            Some(e) => {
                disk.insert("eval".into(), e);
            }
            None => {
                disk.remove("eval");
            }
        }
    })
}

/// Writes `figures/<name>.png` (grids) or `figures/<name>.svg` atomically.
pub fn write_figure(run: &RunDir, name: &str, figure: &Figure) -> Result<()> {
    let dir = run.root().join("figures");
    std::fs::create_dir_all(&dir).map_err(|source| Error::Io {
        path: dir.clone(),
        source,
    })?;
    match figure {
        Figure::Grid(g) => write_grid(&dir.join(format!("{name}.png")), g),
        Figure::Svg(text) => {
            let path = dir.join(format!("{name}.svg"));
            crate::fsutil::write_atomic(&path, text.as_bytes())
                .map_err(|source| Error::Io { path, source })
        }
    }
}

/// Writes a grid as a PNG; small images (MNIST, CIFAR) are hard to judge at 1:1, so they are doubled.
pub fn write_grid(path: &std::path::Path, g: &Grid) -> Result<()> {
    write_grid_bytes(path, g).map(|_| ())
}

/// [`write_grid`], returning the PNG file's bytes.
fn write_grid_bytes(path: &std::path::Path, g: &Grid) -> Result<Vec<u8>> {
    let scale = if g.height.max(g.width) <= 32 { 2 } else { 1 };
    let opts = GridOptions {
        cols: g.cols,
        scale,
        ..GridOptions::default()
    };
    let io_err = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let grid = grid_rgb8(&g.images, g.n, g.channels, g.height, g.width, &opts).map_err(io_err)?;
    let png = encode_png(&grid).map_err(io_err)?;
    crate::fsutil::write_atomic(path, &png).map_err(io_err)?;
    Ok(png)
}

/// The task's sample grid at `step`, as `samples/step-<step>.png` (and a TensorBoard image).
fn save_grid(
    task: &mut dyn Task,
    run: &RunDir,
    test_set: &ImageSet,
    log: &mut crate::run::MetricsLog,
    step: u64,
) -> Result<()> {
    let Some(g) = task.sample_grid(test_set) else {
        return Ok(());
    };
    let path = run.sample_path(&format!("step-{step}"));
    let png = write_grid_bytes(&path, &g)?;
    log.image(step, "samples", &png)
}

/// The steps since the last log record: their outputs as the steps returned them (`unread`) until
/// [`Window::read`] reads them, then their sums.
struct Window {
    unread: Vec<(u64, StepOutput)>,
    n: usize,
    loss: f64,
    parts: Vec<(&'static str, f64)>,
    images: usize,
    seconds: f64,
    /// The loss of the last step read (of this window or an earlier one).
    last_loss: f64,
}

impl Default for Window {
    fn default() -> Self {
        Self {
            unread: Vec::new(),
            n: 0,
            loss: 0.0,
            parts: Vec::new(),
            images: 0,
            seconds: 0.0,
            last_loss: f64::NAN,
        }
    }
}

impl Window {
    fn add(&mut self, step: u64, out: StepOutput, dt: f64) {
        self.images += out.images;
        self.seconds += dt;
        self.unread.push((step, out));
    }

    /// Reads the unread steps' numbers, in step order, into the sums; `Err((step, loss))` for the
    /// first step whose loss is not finite.
    fn read(&mut self) -> std::result::Result<(), (u64, f64)> {
        for (step, out) in std::mem::take(&mut self.unread) {
            let loss = out.loss.read();
            if !loss.is_finite() {
                return Err((step, loss));
            }
            self.n += 1;
            self.loss += loss;
            self.last_loss = loss;
            for (k, v) in &out.parts {
                let v = v.read();
                match self.parts.iter_mut().find(|(n, _)| n == k) {
                    Some((_, acc)) => *acc += v,
                    None => self.parts.push((k, v)),
                }
            }
        }
        Ok(())
    }

    /// An empty window after this one (which has been read).
    fn next(&self) -> Self {
        Self {
            last_loss: self.last_loss,
            ..Self::default()
        }
    }
}

fn progress_bar(enabled: bool, total: u64, position: u64) -> indicatif::ProgressBar {
    if !enabled {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} step {pos}/{len} | {msg} | ETA {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_position(position);
    bar
}

/// The learning rate's factor at the step that follows `step` steps: `decay^(step / steps_per_epoch)`.
pub fn lr_factor(decay: f64, step: u64, steps_per_epoch: u64) -> f64 {
    decay.powf(step as f64 / steps_per_epoch.max(1) as f64)
}

/// Refuses a learning-rate decay outside (0, 1].
pub fn check_lr_decay(decay: Option<f64>) -> Result<()> {
    match decay {
        Some(d) if !(d > 0.0 && d <= 1.0) => Err(Error::Config(format!(
            "lr_decay must be in (0, 1] (the learning rate's factor per epoch), found {d}"
        ))),
        _ => Ok(()),
    }
}
