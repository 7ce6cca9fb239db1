//! PixelCNN from the command line on the embedded mini-MNIST: a tiny configuration trains,
//! evaluates NLL in nats and bits/dim, writes samples and completions; a configuration for the
//! wrong image shape is a clear error; `generate` is seeded.

use std::path::Path;

use genzoo_cli::TrainArgs;
use genzoo_train::Task;
use serde_json::Value;

const TINY: &str = "[model_config]\nchannels = 1\nimage_size = 28\nhidden = 8\nresidual_blocks = 1\n\
first_kernel = 3\nblock_kernel = 3\nhead_hidden = 8\nlevels = 2\n";

fn args(out: &Path, config: &Path) -> TrainArgs {
    TrainArgs {
        model: Some("pixelcnn".into()),
        dataset: Some("mnist-mini".into()),
        steps: Some(3),
        batch_size: Some(16),
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
fn a_tiny_pixelcnn_trains_and_reports_nll_samples_and_completions() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = tmp.path().join("tiny.toml");
    std::fs::write(&config, TINY).expect("write config");
    let dir = tmp.path().join("run");
    let (_, summary) = genzoo_cli::train(&args(&dir, &config)).expect("trains");
    let nll = summary["test_nll_nats"].as_f64().expect("test NLL");
    let bpd = summary["test_bits_per_dim"].as_f64().expect("bits/dim");
    // Between a perfect model and a far-off one; bits/dim is nats / (784 ln 2).
    assert!(nll > 20.0 && nll < 2000.0, "test NLL {nll}");
    assert!((bpd - nll / (784.0 * std::f64::consts::LN_2)).abs() < 1e-9);
    assert_eq!(summary["model"], Value::from("pixelcnn"));
    for f in [
        "samples/step-3.png",
        "figures/completions.png",
        "checkpoints/best.ckpt",
    ] {
        assert!(dir.join(f).exists(), "{f} missing");
    }
}

#[test]
fn a_config_for_rgb_images_on_mnist_is_a_clear_error() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = tmp.path().join("rgb.toml");
    std::fs::write(&config, TINY.replace("channels = 1", "channels = 3")).expect("write");
    let err = genzoo_cli::train(&args(&tmp.path().join("run"), &config))
        .expect_err("must refuse")
        .to_string();
    assert!(err.contains("3×28×28") && err.contains("1×28×28"), "{err}");
    std::fs::write(
        &config,
        TINY.replace("first_kernel = 3", "first_kernel = 4"),
    )
    .expect("write");
    let err = genzoo_cli::train(&args(&tmp.path().join("run2"), &config))
        .expect_err("must refuse")
        .to_string();
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
    let task = task.generator().expect("generates");
    let a = task.generate(70, 3).expect("samples");
    assert_eq!(a.dims(), [70, 1, 28, 28]);
    let a: Vec<f32> = a.into_data().try_to_vec::<f32>().expect("f32");
    let b: Vec<f32> = task
        .generate(70, 3)
        .expect("samples")
        .into_data()
        .try_to_vec::<f32>()
        .expect("f32");
    let c: Vec<f32> = task
        .generate(70, 4)
        .expect("samples")
        .into_data()
        .try_to_vec::<f32>()
        .expect("f32");
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert!(a.iter().all(|&v| v == 0.0 || v == 1.0));
}

const TINY_GATED: &str = "[model_config]\nchannels = 1\nimage_size = 28\nhidden = 4\nlayers = 2\n\
first_kernel = 3\nkernel = 3\nhead_hidden = 4\nlevels = 2\nclasses = 10\n";

#[test]
fn a_tiny_class_conditional_gated_pixelcnn_trains_and_draws_one_row_per_class() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = tmp.path().join("gated.toml");
    std::fs::write(&config, TINY_GATED).expect("write config");
    let dir = tmp.path().join("run");
    let (_, summary) = genzoo_cli::train(&TrainArgs {
        model: Some("cond-pixelcnn".into()),
        steps: Some(2),
        ..args(&dir, &config)
    })
    .expect("trains");
    let nll = summary["test_nll_nats"].as_f64().expect("test NLL");
    assert!(nll > 20.0 && nll < 2000.0, "test NLL {nll}");
    for f in ["samples/step-2.png", "figures/completions.png"] {
        assert!(dir.join(f).exists(), "{f} missing");
    }
    // `genzoo sample --label`: every image drawn for the requested class, seeded, binary.
    let sample = |label| genzoo_cli::eval::SampleArgs {
        source: genzoo_cli::eval::RunSource {
            checkpoint: "last".into(),
            ..genzoo_cli::eval::RunSource::new(&dir)
        },
        n: 3,
        seed: 2,
        cols: None,
        out: Some(tmp.path().join(format!("label{label}.png"))),
        label: Some(label),
        fast: false,
        complete: false,
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
