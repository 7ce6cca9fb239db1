//! The run loop end to end on the autoencoder: run directory contents, exact resume, config
//! mismatch, corrupt checkpoints and the NaN guard.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::store::ModuleRecord;
use burn::tensor::Bytes;
use genzoo_cli::Error as CliError;
use genzoo_cli::TrainArgs;
use genzoo_datasets::rng::Rng;
use genzoo_datasets::{DataOptions, DatasetKind, ImageSet, Split};
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
    TrainArgs {
        model: Some("autoencoder".into()),
        dataset: Some("mnist-mini".into()),
        steps: Some(steps),
        batch_size: Some(32),
        seed: Some(11),
        out: Some(out.to_path_buf()),
        log_every: Some(1),
        sample_every: Some(1000),
        checkpoint_every: Some(1000),
        no_progress: true,
        ..TrainArgs::default()
    }
}

fn resume_args(dir: &Path, steps: u64) -> TrainArgs {
    TrainArgs {
        resume: Some(dir.to_path_buf()),
        steps: Some(steps),
        no_progress: true,
        ..TrainArgs::default()
    }
}

fn weights(ckpt: &Path) -> Vec<f32> {
    let ckpt = Checkpoint::load(ckpt).expect("checkpoint loads");
    let bytes = ckpt
        .section(Path::new("x"), "model")
        .expect("model section")
        .to_vec();
    let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes)).expect("burnpack");
    let device = burn::tensor::Device::flex();
    let model = AutoencoderConfig::mnist()
        .init(&device)
        .try_load_record(record)
        .expect("fits");
    genzoo_tests::flat_parameters(&model)
}

fn read_json(p: PathBuf) -> serde_json::Map<String, Value> {
    serde_json::from_str(&std::fs::read_to_string(&p).expect("read")).expect("json")
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
    for f in [
        "config.toml",
        "metrics.jsonl",
        "summary.json",
        "report.html",
        "checkpoints/last.ckpt",
        "checkpoints/best.ckpt",
        "samples/step-3.png",
        "samples/step-6.png",
    ] {
        assert!(dir.join(f).is_file(), "{f} missing");
    }
    let cfg = std::fs::read_to_string(dir.join("config.toml")).expect("config");
    assert!(
        cfg.contains("model = \"autoencoder\"") && cfg.contains("[model_config]"),
        "{cfg}"
    );
    let mse = summary["test_mse"].as_f64().expect("test_mse");
    assert!(mse > 0.0 && mse < 0.3, "test MSE {mse}");
    assert_eq!(summary["steps"], Value::from(6u64));
    let lines = std::fs::read_to_string(dir.join("metrics.jsonl")).expect("metrics");
    let records: Vec<Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(records.iter().filter(|r| r["split"] == "train").count(), 6);
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
    let (wa, wb) = (
        weights(&a.join("checkpoints/last.ckpt")),
        weights(&b.join("checkpoints/last.ckpt")),
    );
    assert_eq!(wa.len(), wb.len());
    let differing = wa
        .iter()
        .zip(&wb)
        .filter(|(x, y)| x.to_bits() != y.to_bits())
        .count();
    assert_eq!(
        differing,
        0,
        "{differing} of {} weights differ after resume",
        wa.len()
    );
    // The metrics log has each training step exactly once.
    let steps: Vec<u64> = std::fs::read_to_string(b.join("metrics.jsonl"))
        .expect("metrics")
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("json"))
        .filter(|r| r["split"] == "train")
        .map(|r| r["step"].as_u64().expect("step"))
        .collect();
    assert_eq!(steps, (1..=8).collect::<Vec<_>>());
}

#[test]
fn a_checkpoint_from_another_config_names_the_tensor_and_both_shapes() {
    let _serial = serial();
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("run");
    genzoo_cli::train(&args(&dir, 2)).expect("trains");
    let cfg_path = dir.join("config.toml");
    let cfg = std::fs::read_to_string(&cfg_path)
        .expect("config")
        .replace("latent = 32", "latent = 16");
    std::fs::write(&cfg_path, cfg).expect("edit config");
    let err = genzoo_cli::train(&resume_args(&dir, 4)).expect_err("shapes differ");
    let msg = err.to_string();
    assert!(
        matches!(err, CliError::Run(Error::CheckpointMismatch { .. })),
        "{msg}"
    );
    assert!(
        msg.contains("enc_fc.weight") && msg.contains("32") && msg.contains("16"),
        "{msg}"
    );
}

#[test]
fn a_truncated_checkpoint_is_a_clear_error_on_resume() {
    let _serial = serial();
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("run");
    genzoo_cli::train(&args(&dir, 2)).expect("trains");
    let ckpt = dir.join("checkpoints/last.ckpt");
    let bytes = std::fs::read(&ckpt).expect("read");
    std::fs::write(&ckpt, &bytes[..bytes.len() / 2]).expect("truncate");
    let err = genzoo_cli::train(&resume_args(&dir, 4)).expect_err("truncated");
    assert!(
        matches!(err, CliError::Run(Error::CorruptCheckpoint { .. })),
        "{err}"
    );
    assert!(err.to_string().contains("last.ckpt"), "{err}");
}

#[test]
fn resuming_a_run_of_another_model_is_refused() {
    let _serial = serial();
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("run");
    genzoo_cli::train(&args(&dir, 1)).expect("trains");
    let err = genzoo_cli::train(&TrainArgs {
        model: Some("vae".into()),
        ..resume_args(&dir, 2)
    })
    .expect_err("other model");
    assert!(err.to_string().contains("is a 'autoencoder' run"), "{err}");
}

#[test]
fn a_run_stopped_at_its_last_step_is_finished_by_resume_and_a_finished_one_is_refused() {
    let _serial = serial();
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("run");
    genzoo_cli::train(&args(&dir, 3)).expect("trains");
    let run = RunDir::open(&dir).expect("open");
    // What an `eval` wrote into the summary survives the run's later summaries.
    run.update_summary(|s| {
        s.insert("eval".into(), Value::from("kept"));
    })
    .expect("eval entry");
    let summary = read_json(dir.join("summary.json"));
    let metrics = std::fs::read_to_string(dir.join("metrics.jsonl")).expect("metrics");
    let err = genzoo_cli::train(&resume_args(&dir, 3)).expect_err("nothing to do");
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
    let (_, finished) = genzoo_cli::train(&resume_args(&dir, 3)).expect("finishes the run");
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
    genzoo_cli::train(&resume_args(&dir, 5)).expect("a longer budget trains on");
    assert_eq!(
        read_json(dir.join("summary.json"))["eval"],
        Value::from("kept")
    );
}

/// A task whose loss turns NaN at a chosen step, to test the guard without relying on a model
/// to diverge. With `last` set, it also records which step that checkpoint holds when an
/// evaluation starts.
struct NanAt {
    step: u64,
    done: u64,
    last: Option<PathBuf>,
    at_evaluation: Option<u64>,
    /// Evaluations after this many steps report an infinite score.
    eval_inf_after: u64,
}

impl NanAt {
    fn new(step: u64) -> Self {
        NanAt {
            step,
            done: 0,
            last: None,
            at_evaluation: None,
            eval_inf_after: u64::MAX,
        }
    }
}

impl Task for NanAt {
    fn name(&self) -> &str {
        "nan-at"
    }
    fn step(&mut self, batches: StepBatches, _rng: &mut Rng) -> StepOutput {
        let batch = batches.single();
        self.done += 1;
        let loss = if self.done == self.step {
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
    fn evaluate(&mut self, _test: &ImageSet) -> Vec<(String, f64)> {
        if let Some(last) = &self.last {
            self.at_evaluation = Checkpoint::load(last).ok().map(|c| c.meta.step);
        }
        let score = if self.done > self.eval_inf_after {
            f64::INFINITY
        } else {
            1.0
        };
        vec![("score".into(), score)]
    }
    fn selection_metric(&self) -> &str {
        "score"
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

#[test]
fn a_nan_loss_stops_at_that_step_and_keeps_the_last_good_checkpoint() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let run = RunDir::create(&tmp.path().join("run"), false, "").expect("run dir");
    run.write_config("model = \"nan-at\"\n").expect("config");
    let data = genzoo_datasets::load(DatasetKind::MnistMini, Split::Test, &DataOptions::default())
        .expect("mini");
    let opts = TrainOptions {
        seed: 1,
        batch_size: 16,
        budget: Budget::Steps(50),
        log_every: 1,
        sample_every: 100,
        checkpoint_every: 2,
        progress: false,
        time_limit: None,
    };
    let device = burn::tensor::Device::flex();
    let mut task = NanAt::new(5);
    let err =
        genzoo_train::train(&mut task, &run, &data, &data, &device, &opts, None).expect_err("NaN");
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
    let kept = Checkpoint::load(&run.checkpoint_path("last")).expect("last good checkpoint");
    // Step 4's checkpoint is not written: step 5's loss, computed from its weights, was NaN.
    // Step 2's was vouched for by step 3's finite loss.
    assert_eq!(
        kept.meta.step, 2,
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
    let tmp = tempfile::tempdir().expect("tempdir");
    let run = RunDir::create(&tmp.path().join("run"), false, "").expect("run dir");
    run.write_config("model = \"nan-at\"\n").expect("config");
    let data = genzoo_datasets::load(DatasetKind::MnistMini, Split::Test, &DataOptions::default())
        .expect("mini");
    let opts = TrainOptions {
        seed: 1,
        batch_size: 16,
        budget: Budget::Steps(50),
        log_every: 10,
        sample_every: 100,
        checkpoint_every: 3,
        progress: false,
        time_limit: None,
    };
    let device = burn::tensor::Device::flex();
    let mut task = NanAt::new(5);
    let err =
        genzoo_train::train(&mut task, &run, &data, &data, &device, &opts, None).expect_err("NaN");
    assert!(
        matches!(err, Error::NonFiniteLoss { step: 5, .. }),
        "the first non-finite step is named: {err}"
    );
    let kept = Checkpoint::load(&run.checkpoint_path("last")).expect("last good checkpoint");
    assert_eq!(kept.meta.step, 3, "step 6's checkpoint follows the NaN");
    assert_eq!(
        task.done, 7,
        "the NaN is found where step 6's checkpoint asks for a loss"
    );
}

/// A task whose evaluation is the set's size plus the distance of its step count from 4, so the
/// step that evaluates best is known, and which split was measured can be read off the value.
struct Dip {
    done: u64,
}

impl Task for Dip {
    fn name(&self) -> &str {
        "dip"
    }
    fn step(&mut self, batches: StepBatches, _rng: &mut Rng) -> StepOutput {
        let batch = batches.single();
        self.done += 1;
        StepOutput {
            loss: 1.0.into(),
            parts: vec![],
            images: batch.images.dims()[0],
        }
    }
    fn evaluate(&mut self, set: &ImageSet) -> Vec<(String, f64)> {
        vec![(
            "test_score".into(),
            set.len() as f64 + (self.done as f64 - 4.0).abs(),
        )]
    }
    fn selection_metric(&self) -> &str {
        "test_score"
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

#[test]
fn with_a_validation_split_it_picks_best_and_the_test_split_is_measured_there_once() {
    let data = genzoo_datasets::load(DatasetKind::MnistMini, Split::Test, &DataOptions::default())
        .expect("mini");
    let subset = |n: usize| {
        ImageSet::new(
            data.images()[..n * 784].to_vec(),
            data.labels()[..n].to_vec(),
            [1, 28, 28],
        )
        .expect("subset")
    };
    let (train, valid, test) = (subset(32), subset(20), subset(7));
    let tmp = tempfile::tempdir().expect("tempdir");
    let run = RunDir::create(&tmp.path().join("run"), false, "").expect("run dir");
    let opts = TrainOptions {
        seed: 1,
        // Two steps an epoch: evaluations after steps 2, 4 and 6.
        batch_size: 16,
        budget: Budget::Steps(6),
        log_every: 1,
        sample_every: 100,
        checkpoint_every: 100,
        progress: false,
        time_limit: None,
    };
    let device = burn::tensor::Device::flex();
    let summary = genzoo_train::train_with_validation(
        &mut Dip { done: 0 },
        &run,
        &train,
        Some(&valid),
        &test,
        &device,
        &opts,
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
    let log = std::fs::read_to_string(run.root().join("metrics.jsonl")).expect("log");
    let splits: Vec<String> = log
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("json"))
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
    let data = genzoo_datasets::load(DatasetKind::MnistMini, Split::Test, &DataOptions::default())
        .expect("mini");
    let device = burn::tensor::Device::flex();
    // Checkpoint every 2 steps; the final evaluation (after step 5) is infinite.
    for (checkpoint_every, kept_step) in [(2, Some(4)), (100, None)] {
        let tmp = tempfile::tempdir().expect("tempdir");
        let run = RunDir::create(&tmp.path().join("run"), false, "").expect("run dir");
        let opts = TrainOptions {
            seed: 1,
            batch_size: 16,
            budget: Budget::Steps(5),
            log_every: 1,
            sample_every: 100,
            checkpoint_every,
            progress: false,
            time_limit: None,
        };
        let mut task = NanAt {
            eval_inf_after: 4,
            ..NanAt::new(u64::MAX)
        };
        let err = genzoo_train::train(&mut task, &run, &data, &data, &device, &opts, None)
            .expect_err("infinite score");
        assert!(matches!(err, Error::NonFinite { step: 5, .. }), "{err}");
        assert!(err.to_string().contains("score is inf"), "{err}");
        let last = run.checkpoint_path("last");
        assert_eq!(
            Checkpoint::load(&last).ok().map(|c| c.meta.step),
            kept_step,
            "last.ckpt holds the last good state, or nothing when there is none"
        );
        assert!(!run.checkpoint_path("best").exists(), "never saved as best");
        assert!(
            !run.root().join("summary.json").exists(),
            "no summary reports the infinite score as a result"
        );
    }
}

#[test]
fn the_trained_state_is_saved_before_the_final_evaluation() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let run = RunDir::create(&tmp.path().join("run"), false, "").expect("run dir");
    run.write_config("model = \"nan-at\"\n").expect("config");
    let data = genzoo_datasets::load(DatasetKind::MnistMini, Split::Test, &DataOptions::default())
        .expect("mini");
    let opts = TrainOptions {
        seed: 1,
        batch_size: 16,
        budget: Budget::Steps(3),
        log_every: 1,
        sample_every: 100,
        // No periodic checkpoint within the 3 steps, and no epoch ends.
        checkpoint_every: 100,
        progress: false,
        time_limit: None,
    };
    let device = burn::tensor::Device::flex();
    let mut task = NanAt {
        last: Some(run.checkpoint_path("last")),
        ..NanAt::new(u64::MAX)
    };
    genzoo_train::train(&mut task, &run, &data, &data, &device, &opts, None).expect("finishes");
    assert_eq!(
        task.at_evaluation,
        Some(3),
        "an interrupt during the final evaluation must find the trained state saved"
    );
}

#[test]
fn a_time_limit_ends_the_run_like_a_spent_budget() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let run = RunDir::create(&tmp.path().join("run"), false, "").expect("run dir");
    run.write_config("model = \"nan-at\"\n").expect("config");
    let data = genzoo_datasets::load(DatasetKind::MnistMini, Split::Test, &DataOptions::default())
        .expect("mini");
    let opts = TrainOptions {
        seed: 1,
        batch_size: 16,
        budget: Budget::Steps(50),
        log_every: 1,
        sample_every: 100,
        checkpoint_every: 100,
        progress: false,
        // Already spent when the first step ends: exactly one step runs.
        time_limit: Some(std::time::Duration::ZERO),
    };
    let device = burn::tensor::Device::flex();
    let mut task = NanAt::new(u64::MAX);
    let summary =
        genzoo_train::train(&mut task, &run, &data, &data, &device, &opts, None).expect("finishes");
    assert_eq!(task.done, 1, "one step, then the limit");
    assert_eq!(summary["steps"], 1);
    assert_eq!(summary["stopped_by_time_limit"], true);
    let last = Checkpoint::load(&run.checkpoint_path("last")).expect("saved like a finished run");
    assert_eq!(last.meta.step, 1);
}

#[test]
fn full_mnist_trains_when_the_data_dir_is_available() {
    let _serial = serial();
    let Ok(root) = std::env::var("GENZOO_DATA_DIR") else {
        eprintln!("GENZOO_DATA_DIR is not set: full-MNIST check not run (CI sets it)");
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("run");
    let a = TrainArgs {
        dataset: Some("mnist".into()),
        data_dir: Some(root.into()),
        batch_size: Some(64),
        ..args(&dir, 300)
    };
    let (_, summary) = genzoo_cli::train(&a).expect("trains on full MNIST");
    let mse = summary["test_mse"].as_f64().expect("test_mse");
    // Predicting the mean test image scores 0.0674 per pixel (tests/scripts/mnist_mean_image_mse.py);
    // the model first learns that mean (a plateau near 0.06), then the digits' shapes below it.
    assert!(mse < 0.04, "test MSE after 300 steps: {mse}");
    let cfg = read_json(dir.join("summary.json"));
    assert_eq!(cfg["model"], "autoencoder");
}
