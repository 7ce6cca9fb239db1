//! PixelCNN from the command line on the embedded mini-MNIST: a tiny configuration trains,
//! evaluates NLL in nats and bits/dim, writes samples and completions; a configuration for the
//! wrong image shape is a clear error; `generate` is seeded.

use std::path::Path;

use genzoo_cli::TrainArgs;
use genzoo_cli::eval::SampleArgs;
use genzoo_tests::{
    TINY_GATED, assert_files, assert_nll_and_bits_per_dim, assert_seeded_draws, mini_args,
    sample_args, write_file,
};
use genzoo_train::Task;
use serde_json::Value;

const TINY: &str = "[model_config]\nchannels = 1\nimage_size = 28\nhidden = 8\nresidual_blocks = 1\n\
first_kernel = 3\nblock_kernel = 3\nhead_hidden = 8\nlevels = 2\n";

fn args(out: &Path, config: &Path) -> TrainArgs {
    TrainArgs {
        config: Some(config.to_path_buf()),
        ..mini_args("pixelcnn", out, 3, 16, 5)
    }
}

/// Trains with `config` into `tmp/out`, which must be refused; returns the error.
fn refused(tmp: &Path, out: &str, config: &str) -> String {
    let config = write_file(tmp, "refused.toml", config);
    genzoo_cli::train(&args(&tmp.join(out), &config))
        .expect_err("must refuse")
        .to_string()
}

#[test]
fn a_tiny_pixelcnn_trains_and_reports_nll_samples_and_completions() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = write_file(tmp.path(), "tiny.toml", TINY);
    let dir = tmp.path().join("run");
    let (_, summary) = genzoo_cli::train(&args(&dir, &config)).expect("trains");
    assert_nll_and_bits_per_dim(&summary);
    assert_eq!(summary["model"], Value::from("pixelcnn"));
    let files = [
        "samples/step-3.png",
        "figures/completions.png",
        "checkpoints/best.ckpt",
    ];
    assert_files(&dir, &files, "pixelcnn");
}

#[test]
fn a_config_for_rgb_images_on_mnist_is_a_clear_error() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let err = refused(
        tmp.path(),
        "run",
        &TINY.replace("channels = 1", "channels = 3"),
    );
    assert!(err.contains("3×28×28") && err.contains("1×28×28"), "{err}");
    let even = TINY.replace("first_kernel = 3", "first_kernel = 4");
    let err = refused(tmp.path(), "run2", &even);
    assert!(err.contains("odd"), "{err}");
}

#[test]
fn generate_is_seeded_binary_and_batched() {
    let device = burn::tensor::Device::flex().autodiff();
    let cfg = genzoo_pixel::PixelCnnConfig::mnist()
        .with_hidden(8)
        .with_residual_blocks(1)
        .with_head_hidden(8);
    let mut task = genzoo_pixel::train::PixelTask::pixelcnn(&cfg, 1e-3, &device);
    let a = assert_seeded_draws(task.generator().expect("generates"), 70, 3, "pixelcnn");
    assert!(a.iter().all(|&v| v == 0.0 || v == 1.0));
}

#[test]
fn a_tiny_class_conditional_gated_pixelcnn_trains_and_draws_one_row_per_class() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = write_file(tmp.path(), "gated.toml", TINY_GATED);
    let dir = tmp.path().join("run");
    let (_, summary) = genzoo_cli::train(&TrainArgs {
        model: Some("cond-pixelcnn".into()),
        steps: Some(2),
        ..args(&dir, &config)
    })
    .expect("trains");
    assert_nll_and_bits_per_dim(&summary);
    let files = ["samples/step-2.png", "figures/completions.png"];
    assert_files(&dir, &files, "cond-pixelcnn");
    // `genzoo sample --label`: every image drawn for the requested class, seeded, binary.
    let sample = |label| SampleArgs {
        out: Some(tmp.path().join(format!("label{label}.png"))),
        label: Some(label),
        ..sample_args(&dir, 3, 2)
    };
    assert!(
        genzoo_cli::eval::sample(&sample(4))
            .expect("class 4")
            .exists()
    );
    assert!(genzoo_cli::eval::sample(&sample(10)).is_err());
    // An unconditional preset (classes = 0) is refused by the conditional entry.
    std::fs::write(&config, TINY_GATED.replace("classes = 10", "classes = 0")).expect("write");
    let err = genzoo_cli::train(&TrainArgs {
        model: Some("cond-pixelcnn".into()),
        ..args(&tmp.path().join("run2"), &config)
    })
    .expect_err("must refuse")
    .to_string();
    assert!(err.contains("classes"), "{err}");
}
