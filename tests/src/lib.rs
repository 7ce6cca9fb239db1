//! Helpers shared by genzoo's integration tests.

use std::path::{Path, PathBuf};

use burn::module::{Module, ModuleVisitor, Param};
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, Tensor};
use genzoo_cli::TrainArgs;
use genzoo_cli::eval::{RunSource, SampleArgs, sample};
use genzoo_datasets::{DataOptions, DatasetKind, ImageSet, Split};
use genzoo_train::{Checkpoint, Error, Generate};
use serde_json::Value;

struct Collect(Vec<f32>);

impl ModuleVisitor for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let v = param
            .val()
            .into_data()
            .try_to_vec::<f32>()
            .expect("f32 parameters");
        self.0.extend(v);
    }
}

/// Every float parameter of a module, in visiting order.
pub fn flat_parameters<M: Module>(module: &M) -> Vec<f32> {
    let mut c = Collect(Vec::new());
    module.visit(&mut c);
    c.0
}

/// The module record stored in section `name` of a checkpoint.
pub fn section_record(ckpt: &Checkpoint, name: &str) -> ModuleRecord {
    let bytes = ckpt
        .section(Path::new("x"), name)
        .unwrap_or_else(|e| panic!("section {name}: {e}"))
        .to_vec();
    ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes)).expect("burnpack")
}

/// Asserts that `a` and `b` hold the same numbers bit for bit (`what` names them in the message).
pub fn assert_bitwise_equal(a: &[f32], b: &[f32], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    let differing = a
        .iter()
        .zip(b)
        .filter(|(x, y)| x.to_bits() != y.to_bits())
        .count();
    assert_eq!(differing, 0, "{differing} of {} {what}", a.len());
}

/// `genzoo train MODEL` on the embedded mini-MNIST into `out`: `steps` steps of `batch_size`
/// images from `seed`, a training record every step, no sample grid or periodic checkpoint
/// before the end, no progress bar.
pub fn mini_args(model: &str, out: &Path, steps: u64, batch_size: usize, seed: u64) -> TrainArgs {
    TrainArgs {
        model: Some(model.into()),
        dataset: Some("mnist-mini".into()),
        steps: Some(steps),
        batch_size: Some(batch_size),
        seed: Some(seed),
        out: Some(out.to_path_buf()),
        log_every: Some(1),
        sample_every: Some(1000),
        checkpoint_every: Some(1000),
        no_progress: true,
        ..TrainArgs::default()
    }
}

/// `genzoo train --resume DIR --steps STEPS`, without a progress bar.
pub fn resume_args(dir: &Path, steps: u64) -> TrainArgs {
    TrainArgs {
        resume: Some(dir.to_path_buf()),
        steps: Some(steps),
        no_progress: true,
        ..TrainArgs::default()
    }
}

/// The last checkpoint of the run in `dir`, for `eval`, `sample` and `figures`.
pub fn last_checkpoint(dir: &Path) -> RunSource {
    RunSource {
        checkpoint: "last".into(),
        ..RunSource::new(dir)
    }
}

/// `genzoo sample` of `n` images from `seed` off the last checkpoint of `dir`: the naive sampler,
/// no class, no completion, the default columns and file.
pub fn sample_args(dir: &Path, n: usize, seed: u64) -> SampleArgs {
    SampleArgs {
        source: last_checkpoint(dir),
        n,
        seed,
        cols: None,
        out: None,
        label: None,
        fast: false,
        complete: false,
    }
}

/// `genzoo sample` of `n` images in `cols` columns (completions of test images with `complete`)
/// off the last checkpoint of `dir`, once with the naive sampler and once with the cached one
/// (`--fast`): asserts both write the very same PNG, and returns the naive one's path.
pub fn assert_fast_sampling_matches_naive(
    dir: &Path,
    n: usize,
    cols: usize,
    complete: bool,
) -> PathBuf {
    let draw = |fast: bool| {
        let png = sample(&SampleArgs {
            cols: Some(cols),
            out: Some(dir.join(format!("s-{n}-{fast}-{complete}.png"))),
            fast,
            complete,
            ..sample_args(dir, n, 4)
        })
        .unwrap_or_else(|e| panic!("sampling with fast = {fast}, complete = {complete}: {e}"));
        let bytes = std::fs::read(&png).expect("png");
        (png, bytes)
    };
    let (naive, naive_bytes) = draw(false);
    let (_, fast_bytes) = draw(true);
    assert!(
        naive_bytes == fast_bytes,
        "n = {n}, complete = {complete}: the cached sampler must draw the naive sampler's images"
    );
    naive
}

/// Draws `n` images from `seed` twice and from `seed + 1` once: each is `n` 1×28×28 images on the
/// plain (non-autodiff) device, the same seed gives the same images and the other seed others.
/// Returns the first draw, flattened.
pub fn assert_seeded_draws(g: &mut dyn Generate, n: usize, seed: u64, ctx: &str) -> Vec<f32> {
    let mut draw = |seed: u64| -> Vec<f32> {
        let t = g
            .generate(n, seed)
            .unwrap_or_else(|e| panic!("{ctx}: samples from seed {seed}: {e}"));
        assert_eq!(t.dims(), [n, 1, 28, 28], "{ctx}");
        assert!(
            !t.device().is_autodiff(),
            "{ctx}: samples come from the plain device"
        );
        t.into_data().try_to_vec::<f32>().expect("f32")
    };
    let (a, b, c) = (draw(seed), draw(seed), draw(seed + 1));
    assert_eq!(a, b, "{ctx}: same seed, same samples");
    assert_ne!(a, c, "{ctx}: another seed, other samples");
    a
}

/// Writes `text` to `dir/name` and returns that path.
pub fn write_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    path
}

/// Replaces `from` with `to` in the `config.toml` of the run in `dir`, asserting it is there;
/// returns the text as it was.
pub fn edit_config(dir: &Path, from: &str, to: &str) -> String {
    let path = dir.join("config.toml");
    let text = std::fs::read_to_string(&path).expect("config");
    assert!(text.contains(from), "no {from:?} in\n{text}");
    std::fs::write(&path, text.replace(from, to)).expect("edit config");
    text
}

/// Asserts that `err` is a checkpoint that does not fit, whose message names every one of
/// `needles`.
pub fn assert_checkpoint_mismatch(err: &genzoo_cli::Error, needles: &[&str]) {
    let msg = err.to_string();
    assert!(
        matches!(
            err,
            genzoo_cli::Error::Run(Error::CheckpointMismatch { .. })
        ),
        "{msg}"
    );
    for needle in needles {
        assert!(msg.contains(needle), "no {needle:?} in: {msg}");
    }
}

/// Asserts that each of `files` (paths relative to `dir`) is a file.
pub fn assert_files(dir: &Path, files: &[&str], ctx: &str) {
    for f in files {
        assert!(dir.join(f).is_file(), "{ctx}: {f} missing");
    }
}

/// A JSON object file, such as a run's `summary.json`.
pub fn read_json(path: &Path) -> serde_json::Map<String, Value> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).expect("json")
}

/// The records of the `metrics.jsonl` of the run in `dir`, in order.
pub fn metrics(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("metrics.jsonl"))
        .expect("metrics")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

/// The test NLL of a pixel model's summary, in nats, checked against its bits per dimension
/// (nats / (784 ln 2)) and against the range between a perfect model and a far-off one.
pub fn assert_nll_and_bits_per_dim(summary: &serde_json::Map<String, Value>) -> f64 {
    let nll = summary["test_nll_nats"].as_f64().expect("test NLL");
    let bpd = summary["test_bits_per_dim"].as_f64().expect("bits/dim");
    assert!(nll > 20.0 && nll < 2000.0, "test NLL {nll}");
    assert!(
        (bpd - nll / (784.0 * std::f64::consts::LN_2)).abs() < 1e-9,
        "{bpd} bits/dim for {nll} nats"
    );
    nll
}

/// The embedded mini-MNIST test set.
pub fn mini_test() -> ImageSet {
    genzoo_datasets::load(DatasetKind::MnistMini, Split::Test, &DataOptions::default())
        .expect("embedded mini-MNIST")
}

/// The datasets' directory from `GENZOO_DATA_DIR`, or `None` where it is not set, saying that
/// `what` is not run; under `CI=true` it must be set.
pub fn data_dir(what: &str) -> Option<PathBuf> {
    match std::env::var_os(genzoo_datasets::DATA_DIR_ENV) {
        Some(d) => Some(d.into()),
        None => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "GENZOO_DATA_DIR must point at the datasets in CI"
            );
            eprintln!("GENZOO_DATA_DIR is not set: {what} not run (CI runs it)");
            None
        }
    }
}

/// A tiny class-conditional Gated PixelCNN configuration for 1×28×28 images.
pub const TINY_GATED: &str = "[model_config]\nchannels = 1\nimage_size = 28\nhidden = 4\nlayers = 2\n\
first_kernel = 3\nkernel = 3\nhead_hidden = 4\nlevels = 2\nclasses = 10\n";
