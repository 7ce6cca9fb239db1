//! PixelRNN from the command line on the embedded mini-MNIST: a tiny Row LSTM trains, evaluates
//! NLL in nats and bits/dim and writes samples; `genzoo sample --fast` (cached sampler) draws the
//! naive sampler's images, completions included; resuming it under another configuration is a
//! clear checkpoint error; configurations of the wrong kind or image shape are clear errors.

use std::path::{Path, PathBuf};

use genzoo_cli::Error as CliError;
use genzoo_cli::TrainArgs;
use genzoo_cli::eval::{SampleArgs, sample};
use genzoo_train::Error;

const TINY: &str = "[model_config]\nkind = \"RowLstm\"\nchannels = 1\nimage_size = 28\nhidden = 2\n\
layers = 1\nfirst_kernel = 3\nrow_kernel = 3\nhead_hidden = 2\nlevels = 2\neval_images = 64\ngrid_samples = 4\n";

fn args(model: &str, out: &Path, config: &Path) -> TrainArgs {
    TrainArgs {
        model: Some(model.into()),
        dataset: Some("mnist-mini".into()),
        steps: Some(2),
        batch_size: Some(8),
        seed: Some(5),
        config: Some(config.to_path_buf()),
        out: Some(out.to_path_buf()),
        log_every: Some(1),
        sample_every: Some(1000),
        checkpoint_every: Some(1000),
        no_progress: true,
        ..TrainArgs::default()
    }
}

#[test]
fn a_tiny_row_lstm_trains_samples_and_refuses_a_foreign_checkpoint() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = tmp.path().join("tiny.toml");
    std::fs::write(&config, TINY).expect("write config");
    let dir = tmp.path().join("run");
    let (_, summary) = genzoo_cli::train(&args("row-lstm", &dir, &config)).expect("trains");
    let nll = summary["test_nll_nats"].as_f64().expect("test NLL");
    let bpd = summary["test_bits_per_dim"].as_f64().expect("bits/dim");
    // Between a perfect model and a far-off one (an untrained one is near 784 ln 2 = 543).
    assert!(nll > 20.0 && nll < 2000.0, "test NLL {nll}");
    assert!((bpd - nll / (784.0 * std::f64::consts::LN_2)).abs() < 1e-9);
    assert_eq!(summary["model"], serde_json::Value::from("row-lstm"));
    for f in ["samples/step-2.png", "checkpoints/best.ckpt"] {
        assert!(dir.join(f).exists(), "{f} missing");
    }

    fast_and_naive_samplers_write_the_same_pngs(&dir, 3);

    // Resuming with another hidden size: the checkpoint's weights do not fit.
    let cfg_path = dir.join("config.toml");
    let original = std::fs::read_to_string(&cfg_path).expect("config");
    assert!(original.contains("hidden = 2"), "{original}");
    std::fs::write(&cfg_path, original.replace("hidden = 2", "hidden = 3")).expect("edit");
    let err = genzoo_cli::train(&TrainArgs {
        resume: Some(dir.clone()),
        steps: Some(3),
        no_progress: true,
        ..TrainArgs::default()
    })
    .expect_err("shapes differ");
    assert!(
        matches!(err, CliError::Run(Error::CheckpointMismatch { .. })),
        "{err}"
    );
}

/// `genzoo sample`: the cached sampler (--fast) writes the very PNG the naive one writes, for
/// `n` fresh samples and for completions of `n` test images.
fn fast_and_naive_samplers_write_the_same_pngs(dir: &Path, n: usize) {
    let sample_args = |fast: bool, complete: bool| SampleArgs {
        source: genzoo_cli::eval::RunSource {
            checkpoint: "last".into(),
            ..genzoo_cli::eval::RunSource::new(dir)
        },
        n,
        seed: 4,
        cols: Some(n),
        out: Some(dir.join(format!("s-{fast}-{complete}.png"))),
        label: None,
        fast,
        complete,
    };
    let read = |p: PathBuf| std::fs::read(p).expect("png");
    for complete in [false, true] {
        let naive = read(sample(&sample_args(false, complete)).expect("naive"));
        let fast = read(sample(&sample_args(true, complete)).expect("fast"));
        assert_eq!(naive, fast, "complete = {complete}");
    }
}

#[test]
fn a_tiny_diagonal_bilstm_samples_the_same_images_fast_and_naive() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = tmp.path().join("tiny.toml");
    let tiny = TINY
        .replace("RowLstm", "DiagonalBiLstm")
        .replace("eval_images = 64", "eval_images = 8")
        .replace("grid_samples = 4", "grid_samples = 2");
    std::fs::write(&config, tiny).expect("write config");
    let dir = tmp.path().join("run");
    let (_, summary) = genzoo_cli::train(&TrainArgs {
        steps: Some(1),
        ..args("diagonal-bilstm", &dir, &config)
    })
    .expect("trains");
    assert_eq!(summary["model"], serde_json::Value::from("diagonal-bilstm"));
    assert!(dir.join("samples/step-1.png").exists());
    fast_and_naive_samplers_write_the_same_pngs(&dir, 2);
}

#[test]
fn configs_of_the_wrong_kind_or_shape_are_clear_errors() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = tmp.path().join("c.toml");
    // A Row LSTM configuration under the Diagonal BiLSTM's name.
    std::fs::write(&config, TINY).expect("write");
    let err = genzoo_cli::train(&args("diagonal-bilstm", &tmp.path().join("a"), &config))
        .expect_err("must refuse")
        .to_string();
    assert!(
        err.contains("RowLstm") && err.contains("DiagonalBiLstm"),
        "{err}"
    );
    // RGB images on MNIST.
    let rgb = TINY
        .replace("RowLstm", "DiagonalBiLstm")
        .replace("channels = 1", "channels = 3")
        .replace("hidden = 2", "hidden = 3");
    std::fs::write(&config, rgb).expect("write");
    let err = genzoo_cli::train(&args("diagonal-bilstm", &tmp.path().join("b"), &config))
        .expect_err("must refuse")
        .to_string();
    assert!(err.contains("3×28×28") && err.contains("1×28×28"), "{err}");
    // An even row kernel has no centre.
    std::fs::write(&config, TINY.replace("row_kernel = 3", "row_kernel = 2")).expect("write");
    let err = genzoo_cli::train(&args("row-lstm", &tmp.path().join("c"), &config))
        .expect_err("must refuse")
        .to_string();
    assert!(err.contains("odd"), "{err}");
}

#[test]
fn presets_of_both_models_come_from_the_registry() {
    for (name, kind) in [
        ("row-lstm", "RowLstm"),
        ("diagonal-bilstm", "DiagonalBiLstm"),
    ] {
        let spec = genzoo_cli::models::find(name).expect("registered");
        let mnist = spec
            .preset(genzoo_datasets::DatasetKind::Mnist)
            .expect("preset");
        assert_eq!(mnist["kind"].as_str(), Some(kind));
        assert_eq!(mnist["hidden"].as_integer(), Some(16));
        assert_eq!(mnist["layers"].as_integer(), Some(7));
        assert_eq!(mnist["eval_images"].as_integer(), Some(0));
        assert_eq!(mnist["grid_samples"].as_integer(), Some(16));
        let cifar = spec
            .preset(genzoo_datasets::DatasetKind::Cifar10)
            .expect("preset");
        assert_eq!(cifar["channels"].as_integer(), Some(3));
        assert_eq!(cifar["levels"].as_integer(), Some(256));
    }
}
