//! The run loop end to end on the autoencoder: run directory contents, exact resume, config
//! mismatch, corrupt checkpoints and the NaN guard.

use std::path::{Path, PathBuf};

use burn::module::Module;
use genzoo_cli::{Error as CliError, TrainArgs};
use genzoo_datasets::ImageSet;
use genzoo_datasets::rng::Rng;
use genzoo_tests::{
    assert_bitwise_equal, assert_checkpoint_mismatch, assert_files, data_dir, edit_config, metrics,
    mini_args, mini_test, read_json, resume_args, section_record,
};
use genzoo_train::{
    Budget, Checkpoint, Error, Grid, RunDir, StepBatches, StepOutput, Task, TrainOptions,
};
use genzoo_vae::AutoencoderConfig;
use serde_json::Value;

/// Tests in this file run on parallel threads of one process and burn's device RNG is shared
/// by all of them: every test that seeds it or draws initial weights from it holds this lock, so
/// a seed always gives the same weights (a resume test failed once without it).
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn args(out: &Path, steps: u64) -> TrainArgs {
    mini_args("autoencoder", out, steps, 32, 11)
}

/// An autoencoder run trained into a temporary directory, under [`serial`] until it is dropped.
struct Trained {
    dir: PathBuf,
    _tmp: tempfile::TempDir,
    _serial: std::sync::MutexGuard<'static, ()>,
}

/// Trains the autoencoder for `steps` steps into a new `run` directory.
fn trained(steps: u64) -> Trained {
    let serial = serial();
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("run");
    genzoo_cli::train(&args(&dir, steps)).expect("trains");
    Trained {
        dir,
        _tmp: tmp,
        _serial: serial,
    }
}

fn weights(ckpt: &Path) -> Vec<f32> {
    let ckpt = Checkpoint::load(ckpt).expect("checkpoint loads");
    let device = burn::tensor::Device::flex();
    let model = AutoencoderConfig::mnist()
        .init(&device)
        .try_load_record(section_record(&ckpt, "model"))
        .expect("fits");
    genzoo_tests::flat_parameters(&model)
}

/// The steps of the training records in a run's metrics log.
fn train_steps(dir: &Path) -> Vec<u64> {
    metrics(dir)
        .iter()
        .filter(|r| r["split"] == "train")
        .map(|r| r["step"].as_u64().expect("step"))
        .collect()
}

#[test]
fn a_run_directory_holds_config_metrics_summary_samples_checkpoints_and_report() {
    let _serial = serial();
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("run");
    let (root, summary) = genzoo_cli::train(&TrainArgs {
        sample_every: Some(3),
        ..args(&dir, 6)
    })
    .expect("trains");
    assert_eq!(root, dir);
    let files = [
        "config.toml",
        "metrics.jsonl",
        "summary.json",
        "report.html",
        "checkpoints/last.ckpt",
        "checkpoints/best.ckpt",
        "samples/step-3.png",
        "samples/step-6.png",
    ];
    assert_files(&dir, &files, "a run of 6 steps");
    let cfg = std::fs::read_to_string(dir.join("config.toml")).expect("config");
    assert!(
        cfg.contains("model = \"autoencoder\"") && cfg.contains("[model_config]"),
        "{cfg}"
    );
    let mse = summary["test_mse"].as_f64().expect("test_mse");
    assert!(mse > 0.0 && mse < 0.3, "test MSE {mse}");
    assert_eq!(summary["steps"], Value::from(6u64));
    let records = metrics(&dir);
    assert_eq!(train_steps(&dir).len(), 6);
    assert!(
        records
            .iter()
            .any(|r| r["split"] == "test" && r["test_mse"].is_number())
    );
    let html = std::fs::read_to_string(dir.join("report.html")).expect("report");
    assert!(
        html.contains("<svg") && html.contains("data:image/png;base64,"),
        "report lacks chart or grid"
    );
}

#[test]
fn two_n_steps_equal_n_steps_then_resume_then_n_steps() {
    let _serial = serial();
    let tmp = tempfile::tempdir().expect("tempdir");
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    genzoo_cli::train(&args(&a, 8)).expect("straight run");
    genzoo_cli::train(&args(&b, 4)).expect("first half");
    let (_, summary) = genzoo_cli::train(&resume_args(&b, 8)).expect("resumed half");
    assert_eq!(summary["steps"], Value::from(8u64));
    assert_bitwise_equal(
        &weights(&a.join("checkpoints/last.ckpt")),
        &weights(&b.join("checkpoints/last.ckpt")),
        "weights differ after resume",
    );
    // The metrics log has each training step exactly once.
    assert_eq!(train_steps(&b), (1..=8).collect::<Vec<_>>());
}

#[test]
fn a_checkpoint_from_another_config_names_the_tensor_and_both_shapes() {
    let run = trained(2);
    let dir = run.dir.as_path();
    edit_config(dir, "latent = 32", "latent = 16");
    let err = genzoo_cli::train(&resume_args(dir, 4)).expect_err("shapes differ");
    assert_checkpoint_mismatch(&err, &["enc_fc.weight", "32", "16"]);
}

#[test]
fn a_truncated_checkpoint_is_a_clear_error_on_resume() {
    let run = trained(2);
    let dir = run.dir.as_path();
    let ckpt = dir.join("checkpoints/last.ckpt");
    let bytes = std::fs::read(&ckpt).expect("read");
    std::fs::write(&ckpt, &bytes[..bytes.len() / 2]).expect("truncate");
    let err = genzoo_cli::train(&resume_args(dir, 4)).expect_err("truncated");
    assert!(
        matches!(err, CliError::Run(Error::CorruptCheckpoint { .. })),
        "{err}"
    );
    assert!(err.to_string().contains("last.ckpt"), "{err}");
}

#[test]
fn resuming_a_run_of_another_model_is_refused() {
    let run = trained(1);
    let dir = run.dir.as_path();
    let err = genzoo_cli::train(&TrainArgs {
        model: Some("vae".into()),
        ..resume_args(dir, 2)
    })
    .expect_err("other model");
    assert!(err.to_string().contains("is a 'autoencoder' run"), "{err}");
}

#[test]
fn a_run_stopped_at_its_last_step_is_finished_by_resume_and_a_finished_one_is_refused() {
    let three = trained(3);
    let dir = three.dir.as_path();
    let run = RunDir::open(dir).expect("open");
    // What an `eval` wrote into the summary survives the run's later summaries.
    run.update_summary(|s| {
        s.insert("eval".into(), Value::from("kept"));
    })
    .expect("eval entry");
    let summary = read_json(&dir.join("summary.json"));
    let metrics = std::fs::read_to_string(dir.join("metrics.jsonl")).expect("metrics");
    let err = genzoo_cli::train(&resume_args(dir, 3)).expect_err("nothing to do");
    assert!(err.to_string().contains("already completed"), "{err}");
    assert_eq!(
        std::fs::read_to_string(dir.join("metrics.jsonl")).expect("metrics"),
        metrics,
        "a refused resume appends nothing"
    );
    // A run that was stopped at its last step (as by Ctrl-C) still lacks its final summary.
    let mut stopped = summary.clone();
    stopped.insert("interrupted_at_step".into(), Value::from(3));
    run.update_summary(|s| *s = stopped.clone())
        .expect("mark stopped");
    let (_, finished) = genzoo_cli::train(&resume_args(dir, 3)).expect("finishes the run");
    assert!(!finished.contains_key("interrupted_at_step"));
    assert_eq!(finished["eval"], Value::from("kept"));
    for key in ["final_train_loss", "train_images_per_sec"] {
        assert_eq!(
            finished[key], summary[key],
            "{key}: an invocation that trained no step keeps the numbers it found"
        );
    }
    let tests = std::fs::read_to_string(dir.join("metrics.jsonl"))
        .expect("metrics")
        .lines()
        .filter(|l| l.contains("\"split\":\"test\""))
        .count();
    assert_eq!(tests, 1, "one test record per evaluated step");
    genzoo_cli::train(&resume_args(dir, 5)).expect("a longer budget trains on");
    assert_eq!(
        read_json(&dir.join("summary.json"))["eval"],
        Value::from("kept")
    );
}

/// The evaluation of a [`Scripted`] task from the steps done and the evaluated set.
type Score = Box<dyn Fn(u64, &ImageSet) -> f64>;

/// A task without a model, to test the loop on numbers chosen in advance rather than rely on a
/// model to produce them: the loss of step n is 1/n, or NaN at step `nan_step`, and every
/// evaluation reports `metric` as `score` computes it from the steps done and the evaluated set.
/// With `last` set, it also records which step that checkpoint holds when an evaluation starts.
struct Scripted {
    done: u64,
    nan_step: u64,
    metric: &'static str,
    score: Score,
    last: Option<PathBuf>,
    at_evaluation: Option<u64>,
    /// The learning-rate factor in force at each step, as the loop set it.
    lr_factors: Vec<f64>,
    lr_factor: f64,
}

impl Scripted {
    /// A loss that turns NaN at `nan_step`, and a `score` of 1.0 that turns infinite once more
    /// than `inf_after` steps are done.
    fn nan_at(nan_step: u64, inf_after: u64) -> Self {
        Scripted {
            done: 0,
            nan_step,
            metric: "score",
            score: Box::new(
                move |done, _| {
                    if done > inf_after { f64::INFINITY } else { 1.0 }
                },
            ),
            last: None,
            at_evaluation: None,
            lr_factors: Vec::new(),
            lr_factor: 1.0,
        }
    }

    /// Finite losses, and a `test_score` of the set's size plus the distance of the step count
    /// from 4, so the step that evaluates best is known, and which split was measured can be read
    /// off the value.
    fn dip() -> Self {
        Scripted {
            metric: "test_score",
            score: Box::new(|done, set| set.len() as f64 + (done as f64 - 4.0).abs()),
            ..Scripted::nan_at(u64::MAX, u64::MAX)
        }
    }
}

impl Task for Scripted {
    fn name(&self) -> &str {
        "scripted"
    }
    fn step(&mut self, batches: StepBatches, _rng: &mut Rng) -> StepOutput {
        let batch = batches.single();
        self.done += 1;
        self.lr_factors.push(self.lr_factor);
        let loss = if self.done == self.nan_step {
            f64::NAN
        } else {
            1.0 / self.done as f64
        };
        StepOutput {
            loss: loss.into(),
            parts: vec![],
            images: batch.images.dims()[0],
        }
    }
    fn scale_lr(&mut self, factor: f64) {
        self.lr_factor = factor;
    }
    fn evaluate(&mut self, set: &ImageSet) -> Vec<(String, f64)> {
        if let Some(last) = &self.last {
            self.at_evaluation = Checkpoint::load(last).ok().map(|c| c.meta.step);
        }
        vec![(self.metric.into(), (self.score)(self.done, set))]
    }
    fn selection_metric(&self) -> &str {
        self.metric
    }
    fn sample_grid(&mut self, _test: &ImageSet) -> Option<Grid> {
        None
    }
    fn save(&self) -> genzoo_train::Result<Vec<(String, Vec<u8>)>> {
        Ok(vec![("done".into(), self.done.to_le_bytes().to_vec())])
    }
    fn load(&mut self, c: &Checkpoint, p: &Path) -> genzoo_train::Result<()> {
        let b = c.section(p, "done")?;
        self.done = u64::from_le_bytes(b.try_into().expect("8 bytes"));
        Ok(())
    }
}

/// A new run directory for a [`Scripted`] task, in a temporary directory of its own.
struct Scratch {
    run: RunDir,
    _tmp: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let run = RunDir::create(&tmp.path().join("run"), false, "model = \"scripted\"\n")
            .expect("run dir");
        Scratch { run, _tmp: tmp }
    }

    /// Trains `task` into the run on flex, with mini-MNIST's test set as training and test data.
    fn train(
        &self,
        task: &mut Scripted,
        opts: &TrainOptions,
    ) -> genzoo_train::Result<serde_json::Map<String, Value>> {
        let data = mini_test();
        let device = burn::tensor::Device::flex();
        genzoo_train::train(task, &self.run, &data, &data, &device, opts, None)
    }

    /// The step `last.ckpt` holds, if it loads.
    fn last_step(&self) -> Option<u64> {
        Checkpoint::load(&self.run.checkpoint_path("last"))
            .ok()
            .map(|c| c.meta.step)
    }
}

/// `steps` steps of batch 16 from seed 1, a training record every step, no sample grid, `last.ckpt`
/// every `checkpoint_every` steps.
fn options(steps: u64, checkpoint_every: u64) -> TrainOptions {
    TrainOptions {
        seed: 1,
        log_every: 1,
        sample_every: 100,
        checkpoint_every,
        ..TrainOptions::new(16, Budget::Steps(steps))
    }
}

#[test]
fn a_nan_loss_stops_at_that_step_and_keeps_the_last_good_checkpoint() {
    let scratch = Scratch::new();
    let mut task = Scripted::nan_at(5, u64::MAX);
    let err = scratch.train(&mut task, &options(50, 2)).expect_err("NaN");
    match &err {
        Error::NonFiniteLoss {
            step, checkpoint, ..
        } => {
            assert_eq!(*step, 5);
            assert!(checkpoint.ends_with("last.ckpt, step 2"), "{checkpoint}");
        }
        other => panic!("expected NonFiniteLoss, got {other}"),
    }
    assert!(err.to_string().contains("step 5"), "{err}");
    // Step 4's checkpoint is not written: step 5's loss, computed from its weights, was NaN.
    // Step 2's was vouched for by step 3's finite loss.
    assert_eq!(
        scratch.last_step(),
        Some(2),
        "the kept checkpoint's weights must have given a finite loss"
    );
    assert_eq!(task.done, 5, "the loop must stop right at the NaN step");
}

/// Losses are read when something depends on them, not every step: with records every 10 steps
/// and checkpoints every 3, a NaN at step 5 is found at step 7 (step 6's checkpoint waits for step
/// 7's loss), reported as step 5's, and the checkpoint kept is step 3's, the last one a finite
/// loss vouched for.
#[test]
fn a_nan_loss_between_reads_is_reported_at_its_step_and_nothing_after_it_is_saved() {
    let scratch = Scratch::new();
    let mut task = Scripted::nan_at(5, u64::MAX);
    let opts = TrainOptions {
        log_every: 10,
        ..options(50, 3)
    };
    let err = scratch.train(&mut task, &opts).expect_err("NaN");
    assert!(
        matches!(err, Error::NonFiniteLoss { step: 5, .. }),
        "the first non-finite step is named: {err}"
    );
    assert_eq!(
        scratch.last_step(),
        Some(3),
        "step 6's checkpoint follows the NaN"
    );
    assert_eq!(
        task.done, 7,
        "the NaN is found where step 6's checkpoint asks for a loss"
    );
}

#[test]
fn with_a_validation_split_it_picks_best_and_the_test_split_is_measured_there_once() {
    let data = mini_test();
    let subset = |n: usize| {
        ImageSet::new(
            data.images()[..n * 784].to_vec(),
            data.labels()[..n].to_vec(),
            [1, 28, 28],
        )
        .expect("subset")
    };
    let (train, valid, test) = (subset(32), subset(20), subset(7));
    let scratch = Scratch::new();
    // Two steps an epoch: evaluations after steps 2, 4 and 6.
    let summary = genzoo_train::train_with_validation(
        &mut Scripted::dip(),
        &scratch.run,
        &train,
        Some(&valid),
        &test,
        &burn::tensor::Device::flex(),
        &options(6, 100),
        None,
    )
    .expect("trains");
    assert_eq!(summary["best_step"], 4);
    assert_eq!(
        summary["best_valid_score"], 20.0,
        "picked on the validation split"
    );
    assert_eq!(summary["valid_score"], 22.0, "the last validation (step 6)");
    assert_eq!(
        summary["test_score"], 7.0,
        "the test split, at the best step"
    );
    assert_eq!(summary["test_at_step"], 4);
    let splits: Vec<String> = metrics(scratch.run.root())
        .iter()
        .filter(|r| r["split"] != "train")
        .map(|r| format!("{}@{}", r["split"].as_str().expect("split"), r["step"]))
        .collect();
    assert_eq!(splits, ["valid@2", "valid@4", "valid@6", "test@4"]);
    assert_eq!(
        genzoo_train::validation_name("test_nll_nats"),
        "valid_nll_nats"
    );
    assert_eq!(
        genzoo_train::validation_name("modes_missed"),
        "valid_modes_missed"
    );
}

#[test]
fn a_non_finite_evaluation_stops_the_run_and_restores_the_last_good_checkpoint() {
    // Checkpoint every 2 steps; the final evaluation (after step 5) is infinite.
    for (checkpoint_every, kept_step) in [(2, Some(4)), (100, None)] {
        let scratch = Scratch::new();
        let mut task = Scripted::nan_at(u64::MAX, 4);
        let err = scratch
            .train(&mut task, &options(5, checkpoint_every))
            .expect_err("infinite score");
        assert!(matches!(err, Error::NonFinite { step: 5, .. }), "{err}");
        assert!(err.to_string().contains("score is inf"), "{err}");
        assert_eq!(
            scratch.last_step(),
            kept_step,
            "last.ckpt holds the last good state, or nothing when there is none"
        );
        let run = &scratch.run;
        assert!(!run.checkpoint_path("best").exists(), "never saved as best");
        assert!(
            !run.root().join("summary.json").exists(),
            "no summary reports the infinite score as a result"
        );
    }
}

#[test]
fn the_trained_state_is_saved_before_the_final_evaluation() {
    let scratch = Scratch::new();
    let mut task = Scripted {
        last: Some(scratch.run.checkpoint_path("last")),
        ..Scripted::nan_at(u64::MAX, u64::MAX)
    };
    // No periodic checkpoint within the 3 steps, and no epoch ends.
    scratch
        .train(&mut task, &options(3, 100))
        .expect("finishes");
    assert_eq!(
        task.at_evaluation,
        Some(3),
        "an interrupt during the final evaluation must find the trained state saved"
    );
}

#[test]
fn a_time_limit_ends_the_run_like_a_spent_budget() {
    let scratch = Scratch::new();
    let opts = TrainOptions {
        // Already spent when the first step ends: exactly one step runs.
        time_limit: Some(std::time::Duration::ZERO),
        ..options(50, 100)
    };
    let mut task = Scripted::nan_at(u64::MAX, u64::MAX);
    let summary = scratch.train(&mut task, &opts).expect("finishes");
    assert_eq!(task.done, 1, "one step, then the limit");
    assert_eq!(summary["steps"], 1);
    assert_eq!(summary["stopped_by_time_limit"], true);
    assert_eq!(scratch.last_step(), Some(1), "saved like a finished run");
}

#[test]
fn full_mnist_trains_when_the_data_dir_is_available() {
    let _serial = serial();
    let Some(root) = data_dir("the full-MNIST check") else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("run");
    let a = TrainArgs {
        dataset: Some("mnist".into()),
        data_dir: Some(root),
        batch_size: Some(64),
        ..args(&dir, 300)
    };
    let (_, summary) = genzoo_cli::train(&a).expect("trains on full MNIST");
    let mse = summary["test_mse"].as_f64().expect("test_mse");
    // Predicting the mean test image scores 0.0674 per pixel (tests/scripts/mnist_mean_image_mse.py);
    // the model first learns that mean (a plateau near 0.06), then the digits' shapes below it.
    assert!(mse < 0.04, "test MSE after 300 steps: {mse}");
    let cfg = read_json(&dir.join("summary.json"));
    assert_eq!(cfg["model"], "autoencoder");
}

/// `--tensorboard`: an event file beside `metrics.jsonl` whose records pass their CRCs and hold
/// every logged training loss (as TensorBoard's `f32`) at its step, and the sample grids as PNGs.
#[test]
fn tensorboard_events_hold_the_logged_losses_and_the_sample_grids() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("run");
    genzoo_cli::train(&TrainArgs {
        tensorboard: true,
        sample_every: Some(2),
        ..genzoo_tests::mini_args("autoencoder", &dir, 4, 16, 3)
    })
    .expect("trains");
    let files: Vec<PathBuf> = std::fs::read_dir(dir.join("tensorboard"))
        .expect("tensorboard dir")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let name = files[0]
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    assert!(name.starts_with("events.out.tfevents."), "{name}");
    let events = genzoo_train::tensorboard::read_events(&files[0]).expect("valid records");
    use genzoo_train::tensorboard::{Value as TbValue, What};
    let value = |step: u64, tag: &str| {
        events.iter().find_map(|e| match &e.what {
            Some(What::Summary(s)) if e.step == step as i64 => s
                .value
                .iter()
                .find(|v| v.tag == tag)
                .map(|v| v.value.clone()),
            _ => None,
        })
    };
    let logged: Vec<(u64, f64)> = genzoo_tests::metrics(&dir)
        .iter()
        .filter(|r| r["split"] == "train")
        .map(|r| {
            (
                r["step"].as_u64().expect("step"),
                r["loss"].as_f64().expect("loss"),
            )
        })
        .collect();
    assert_eq!(logged.len(), 4);
    for (step, loss) in logged {
        assert_eq!(
            value(step, "train/loss"),
            Some(Some(TbValue::SimpleValue(loss as f32))),
            "step {step}"
        );
    }
    for step in [2, 4] {
        let png = std::fs::read(dir.join(format!("samples/step-{step}.png"))).expect("grid");
        match value(step, "samples") {
            Some(Some(TbValue::Image(img))) => assert_eq!(img.encoded_image_string, png),
            other => panic!("no sample image at step {step}: {other:?}"),
        }
    }
}

/// With `lr_decay`, the loop sets the factor `decay^(step / steps per epoch)` before every step
/// (so after one epoch the rate is `decay` times the configured one), logs it, and a run resumed
/// from a checkpoint continues on the same curve; without it the rate is never touched.
#[test]
fn a_learning_rate_decay_scales_every_step_and_a_resumed_run_continues_its_curve() {
    let per_epoch = (mini_test().len() / 16) as f64;
    let decayed = |steps| TrainOptions {
        lr_decay: Some(0.25),
        ..options(steps, 1)
    };
    let expected: Vec<f64> = (0..8).map(|s| 0.25f64.powf(s as f64 / per_epoch)).collect();
    assert!(
        expected[7] < 1.0 && per_epoch > 7.0,
        "the curve must move within 8 steps"
    );

    let whole = Scratch::new();
    let mut task = Scripted::nan_at(u64::MAX, u64::MAX);
    whole.train(&mut task, &decayed(8)).expect("trains");
    assert_eq!(task.lr_factors, expected);
    let logged: Vec<f64> = metrics(whole.run.root())
        .iter()
        .filter(|r| r["split"] == "train")
        .map(|r| r["lr_factor"].as_f64().expect("lr_factor logged"))
        .collect();
    assert_eq!(logged.len(), expected.len());
    for (l, e) in logged.iter().zip(&expected) {
        assert!(
            (l - e).abs() < 1e-12,
            "each record logs its step's factor: {l} vs {e}"
        );
    }

    let parts = Scratch::new();
    let mut first = Scripted::nan_at(u64::MAX, u64::MAX);
    parts.train(&mut first, &decayed(3)).expect("trains");
    let ckpt = Checkpoint::load(&parts.run.checkpoint_path("last")).expect("last.ckpt");
    let mut rest = Scripted::nan_at(u64::MAX, u64::MAX);
    let data = mini_test();
    let device = burn::tensor::Device::flex();
    genzoo_train::train(
        &mut rest,
        &parts.run,
        &data,
        &data,
        &device,
        &decayed(8),
        Some(ckpt),
    )
    .expect("resumes");
    assert_eq!([first.lr_factors, rest.lr_factors].concat(), expected);

    let constant = Scratch::new();
    let mut task = Scripted::nan_at(u64::MAX, u64::MAX);
    constant.train(&mut task, &options(4, 1)).expect("trains");
    assert_eq!(
        task.lr_factors, [1.0; 4],
        "no decay: the rate is left alone"
    );
}

#[test]
fn a_learning_rate_decay_outside_0_1_is_refused() {
    for decay in [0.0, -0.5, 1.5, f64::NAN] {
        let opts = TrainOptions {
            lr_decay: Some(decay),
            ..options(4, 1)
        };
        let err = opts.check(100).expect_err("refused");
        assert!(err.to_string().contains("lr_decay"), "{err}");
    }
    let ok = TrainOptions {
        lr_decay: Some(1.0),
        ..options(4, 1)
    };
    ok.check(100).expect("1 is a constant rate");
}

/// Every recipe of `docs/recipes/` resolves as `genzoo train --config` reads it, with its
/// top-level values taken as written and its `[model_config]` typed without unknown keys.
#[test]
fn every_documented_recipe_resolves() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/recipes");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("docs/recipes") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("recipe");
        let file: toml::Table = toml::from_str(&text).expect("TOML");
        let model = file["model"].as_str().expect("model").to_string();
        let args = TrainArgs {
            model: Some(model.clone()),
            config: Some(path.clone()),
            ..TrainArgs::default()
        };
        let cfg =
            genzoo_cli::resolve_config(&args).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        genzoo_cli::models::ModelConfig::read(&cfg.model, &cfg.model_config)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let written = toml::Table::try_from(&cfg).expect("serializes");
        for (key, value) in &file {
            if key != "model_config" {
                assert_eq!(written.get(key), Some(value), "{}: {key}", path.display());
            }
        }
        seen += 1;
    }
    assert!(seen >= 5, "found {seen} recipes in {}", dir.display());
}
