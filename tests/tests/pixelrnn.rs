//! PixelRNN from the command line on the embedded mini-MNIST: a tiny Row LSTM trains, evaluates
//! NLL in nats and bits/dim and writes samples; `genzoo sample --fast` (cached sampler) draws the
//! naive sampler's images, completions included; resuming it under another configuration is a
//! clear checkpoint error; configurations of the wrong kind or image shape are clear errors.

use std::path::Path;

use genzoo_cli::TrainArgs;
use genzoo_cli::models::ModelConfig;
use genzoo_tests::{
    assert_checkpoint_mismatch, assert_fast_sampling_matches_naive, assert_files,
    assert_nll_and_bits_per_dim, edit_config, mini_args, resume_args, write_file,
};

const TINY: &str = "[model_config]\nkind = \"RowLstm\"\nchannels = 1\nimage_size = 28\nhidden = 2\n\
layers = 1\nfirst_kernel = 3\nrow_kernel = 3\nhead_hidden = 2\nlevels = 2\neval_images = 64\ngrid_samples = 4\n";

/// [`TINY`] with each `(from, to)` of `edits` replaced.
fn tiny(edits: &[(&str, &str)]) -> String {
    edits
        .iter()
        .fold(TINY.to_string(), |text, (from, to)| text.replace(from, to))
}

fn args(model: &str, out: &Path, config: &Path) -> TrainArgs {
    TrainArgs {
        config: Some(config.to_path_buf()),
        ..mini_args(model, out, 2, 8, 5)
    }
}

#[test]
fn a_tiny_row_lstm_trains_samples_and_refuses_a_foreign_checkpoint() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = write_file(tmp.path(), "tiny.toml", TINY);
    let dir = tmp.path().join("run");
    let (_, summary) = genzoo_cli::train(&args("row-lstm", &dir, &config)).expect("trains");
    // Between a perfect model and a far-off one (an untrained one is near 784 ln 2 = 543).
    assert_nll_and_bits_per_dim(&summary);
    assert_eq!(summary["model"], serde_json::Value::from("row-lstm"));
    let files = ["samples/step-2.png", "checkpoints/best.ckpt"];
    assert_files(&dir, &files, "row-lstm");

    fast_and_naive_samplers_write_the_same_pngs(&dir, 3);

    // Resuming with another hidden size: the checkpoint's weights do not fit.
    edit_config(&dir, "hidden = 2", "hidden = 3");
    let err = genzoo_cli::train(&resume_args(&dir, 3)).expect_err("shapes differ");
    assert_checkpoint_mismatch(&err, &[]);
}

/// `genzoo sample`: the cached sampler (--fast) writes the very PNG the naive one writes, for
/// `n` fresh samples and for completions of `n` test images.
fn fast_and_naive_samplers_write_the_same_pngs(dir: &Path, n: usize) {
    for complete in [false, true] {
        assert_fast_sampling_matches_naive(dir, n, n, complete);
    }
}

#[test]
fn a_tiny_diagonal_bilstm_samples_the_same_images_fast_and_naive() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let diagonal = tiny(&[
        ("RowLstm", "DiagonalBiLstm"),
        ("eval_images = 64", "eval_images = 8"),
        ("grid_samples = 4", "grid_samples = 2"),
    ]);
    let config = write_file(tmp.path(), "tiny.toml", &diagonal);
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
    // (what, model, configuration, what the error names)
    let cases = [
        (
            "a Row LSTM configuration under the Diagonal BiLSTM's name",
            "diagonal-bilstm",
            tiny(&[]),
            &["RowLstm", "DiagonalBiLstm"][..],
        ),
        (
            "RGB images on MNIST",
            "diagonal-bilstm",
            tiny(&[
                ("RowLstm", "DiagonalBiLstm"),
                ("channels = 1", "channels = 3"),
                ("hidden = 2", "hidden = 3"),
            ]),
            &["3×28×28", "1×28×28"],
        ),
        (
            "an even row kernel, which has no centre",
            "row-lstm",
            tiny(&[("row_kernel = 3", "row_kernel = 2")]),
            &["odd"],
        ),
    ];
    for (i, (what, model, text, needles)) in cases.iter().enumerate() {
        let config = write_file(tmp.path(), "c.toml", text);
        let out = tmp.path().join(format!("run{i}"));
        let err = genzoo_cli::train(&args(model, &out, &config))
            .expect_err(what)
            .to_string();
        for needle in *needles {
            assert!(err.contains(needle), "{what}: no {needle:?} in: {err}");
        }
    }
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
        assert!(matches!(
            (name, &mnist),
            ("row-lstm", ModelConfig::RowLstm(_))
                | ("diagonal-bilstm", ModelConfig::DiagonalBilstm(_))
        ));
        let mnist = mnist.table().expect("table");
        assert_eq!(mnist["kind"].as_str(), Some(kind));
        assert_eq!(mnist["hidden"].as_integer(), Some(16));
        assert_eq!(mnist["layers"].as_integer(), Some(7));
        assert_eq!(mnist["eval_images"].as_integer(), Some(0));
        assert_eq!(mnist["grid_samples"].as_integer(), Some(16));
        let cifar = spec
            .preset(genzoo_datasets::DatasetKind::Cifar10)
            .and_then(|c| c.table())
            .expect("preset");
        assert_eq!(cifar["channels"].as_integer(), Some(3));
        assert_eq!(cifar["levels"].as_integer(), Some(256));
    }
}
