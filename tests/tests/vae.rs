//! The VAE family from the command line: every registry entry trains and draws its figures, the
//! conditional grid has one row per class, `generate` is seeded, and a checkpoint of another
//! configuration is a clear error.

use std::path::Path;

use burn::tensor::Device;
use genzoo_cli::TrainArgs;
use genzoo_datasets::{Binarization, DataOptions, DatasetKind, Split};
use genzoo_tests::{
    assert_checkpoint_mismatch, assert_seeded_draws, data_dir, edit_config, last_checkpoint,
    mini_args, mini_test, resume_args,
};
use genzoo_train::Task;
use genzoo_train::protocol::TEST_BINARIZATION_SEED;
use serde_json::Value;

fn args(model: &str, out: &Path, steps: u64) -> TrainArgs {
    mini_args(model, out, steps, 32, 5)
}

fn task(model: &str) -> Box<dyn Task> {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cfg = genzoo_cli::resolve_config(&args(model, &tmp.path().join("x"), 1)).expect("config");
    let spec = genzoo_cli::models::find(model).expect("registered");
    spec.build(&cfg, &Device::flex().autodiff())
        .expect("builds")
}

#[test]
fn every_vae_model_trains_from_the_command_line_and_draws_its_figures() {
    let tmp = tempfile::tempdir().expect("tempdir");
    for model in ["vae", "vae-conv", "beta-vae", "cvae", "vae-2d", "iwae"] {
        let dir = tmp.path().join(model);
        let (_, summary) = genzoo_cli::train(&args(model, &dir, 3)).expect(model);
        let get = |k: &str| {
            summary[k]
                .as_f64()
                .unwrap_or_else(|| panic!("{model}: {k}"))
        };
        let (nelbo, recon, kl) = (get("test_nelbo"), get("test_recon"), get("test_kl"));
        assert!(
            (nelbo - recon - kl).abs() < 1e-6 * nelbo,
            "{model}: {nelbo} ≠ {recon} + {kl}"
        );
        // Between a perfect model (0) and an untrained one (≈ 784 · ln 2 = 543 nats).
        assert!(nelbo > 50.0 && nelbo < 600.0, "{model}: −ELBO {nelbo}");
        // L_10 ≥ ELBO up to Monte-Carlo noise, so its NLL is at most the −ELBO plus a little.
        assert!(get("test_iwae10_nll") < nelbo + 1.0, "{model}");
        assert_eq!(summary["model"], Value::from(model));
        if model == "beta-vae" {
            // recon + β·KL with β = 4 picks its best checkpoint.
            let objective = get("test_beta_objective");
            assert!(
                (objective - recon - 4.0 * kl).abs() < 1e-6 * objective,
                "{objective}"
            );
            assert!(
                summary.contains_key("best_test_beta_objective"),
                "{summary:?}"
            );
        } else {
            assert!(
                summary.contains_key("best_test_nelbo"),
                "{model}: {summary:?}"
            );
        }
        for f in [
            "reconstructions.png",
            "interpolation.png",
            "traversal.png",
            "latent_scatter.svg",
        ] {
            assert!(
                dir.join("figures").join(f).is_file(),
                "{model}: {f} missing"
            );
        }
        assert_eq!(
            dir.join("figures/manifold.png").is_file(),
            model == "vae-2d",
            "{model}: only the 2-D model draws the manifold"
        );
        let svg = std::fs::read_to_string(dir.join("figures/latent_scatter.svg")).expect("svg");
        // One dot per encoded test image (the 2,000 of mnist-mini).
        assert_eq!(svg.matches("<circle").count(), 2000, "{model}: scatter");
    }
}

#[test]
fn the_conditional_grid_has_one_row_per_class_with_shared_codes() {
    let mut cvae = task("cvae");
    let g = cvae.sample_grid(&mini_test()).expect("grid");
    assert_eq!((g.n, g.cols), (80, 8), "10 classes × 8 codes");
    // Column 0 of row 0 (digit 0) and of row 1 (digit 1) share z but not the label.
    let per = 28 * 28;
    let a = &g.images[0..per];
    let b = &g.images[8 * per..9 * per];
    let diff: f32 = a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum();
    assert!(diff > 1e-3, "the label has no effect");
}

#[test]
fn generate_is_seeded_shaped_and_in_the_unit_interval() {
    for model in ["vae", "cvae"] {
        let mut t = task(model);
        let a = assert_seeded_draws(t.generator().expect("generates"), 7, 1, model);
        assert!(a.iter().all(|v| (0.0..=1.0).contains(v)), "{model}");
    }
}

#[test]
fn a_vae_checkpoint_from_another_config_is_a_clear_error() {
    let tmp = tempfile::tempdir().expect("tempdir");
    for (from, to, field) in [
        ("latent = 20", "latent = 8", "latent"),
        // Same shapes, other objective: the stored configuration catches it.
        ("beta = 1.0", "beta = 2.0", "beta"),
    ] {
        let dir = tmp.path().join(field);
        genzoo_cli::train(&args("vae", &dir, 2)).expect("trains");
        edit_config(&dir, from, to);
        let err = genzoo_cli::train(&resume_args(&dir, 4)).expect_err("another configuration");
        assert_checkpoint_mismatch(&err, &[field, "last.ckpt"]);
    }
}

#[test]
fn a_config_that_does_not_fit_the_data_is_refused_before_training() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cfg = tmp.path().join("c.toml");
    std::fs::write(&cfg, "[model_config]\nimage_size = 32\n").expect("write");
    let dir = tmp.path().join("run");
    let err = genzoo_cli::train(&TrainArgs {
        config: Some(cfg),
        ..args("vae-conv", &dir, 1)
    })
    .expect_err("32 ≠ 28");
    assert!(err.to_string().contains("image_size = 32"), "{err}");
    assert!(
        !dir.exists(),
        "no run directory for a refused configuration"
    );
}

#[test]
fn full_mnist_vae_beats_the_independent_pixel_baseline_when_data_is_available() {
    let Some(root) = data_dir("the full-MNIST VAE check") else {
        return;
    };
    let opts = DataOptions {
        data_dir: Some(root.clone()),
        ..DataOptions::default()
    };
    let train = genzoo_datasets::load(DatasetKind::Mnist, Split::Train, &opts).expect("train");
    let test = genzoo_datasets::load(DatasetKind::Mnist, Split::Test, &opts).expect("test");
    // The best model with independent pixels: Bernoulli(mean training intensity) per pixel,
    // scored on the same fixed binarization of the test set as the VAE.
    let d = 784;
    let mut p = vec![0.0f64; d];
    for i in 0..train.len() {
        for (pj, &v) in p.iter_mut().zip(train.image(i)) {
            *pj += f64::from(v) / 255.0 / train.len() as f64;
        }
    }
    let device = Device::flex();
    let idx: Vec<usize> = (0..test.len()).collect();
    let x: Vec<f32> = test
        .batch(&idx, Binarization::Dynamic, TEST_BINARIZATION_SEED, &device)
        .images
        .into_data()
        .try_to_vec()
        .expect("f32");
    let baseline = -x
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let pj = p[i % d].clamp(1e-4, 1.0 - 1e-4);
            if v > 0.5 { pj.ln() } else { (1.0 - pj).ln() }
        })
        .sum::<f64>()
        / test.len() as f64;
    let tmp = tempfile::tempdir().expect("tempdir");
    let (_, summary) = genzoo_cli::train(&TrainArgs {
        dataset: Some("mnist".into()),
        data_dir: Some(root),
        batch_size: Some(128),
        ..args("vae", &tmp.path().join("run"), 300)
    })
    .expect("trains on full MNIST");
    let nelbo = summary["test_nelbo"].as_f64().expect("test_nelbo");
    assert!(
        nelbo < baseline - 40.0,
        "−ELBO {nelbo} after 300 steps vs independent pixels {baseline}"
    );
}

#[test]
fn a_run_made_before_a_config_field_existed_still_resumes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("run");
    genzoo_cli::train(&args("vae", &dir, 2)).expect("trains");
    // `iwae_k` was added after the first VAE runs; their config.toml lacks it.
    edit_config(&dir, "iwae_k = 1\n", "");
    let (_, summary) = genzoo_cli::train(&resume_args(&dir, 3)).expect("resumes with the default");
    assert_eq!(summary["steps"], Value::from(3u64));
}

#[test]
fn the_cvae_draws_a_requested_class_and_the_plain_vae_has_none() {
    let mut cvae_task = task("cvae");
    let cvae = cvae_task.conditional().expect("conditional");
    assert_eq!(cvae.num_classes(), 10);
    let a = cvae.generate_class(5, 3, 7).expect("class 7");
    assert_eq!(a.dims(), [5, 1, 28, 28]);
    let b = cvae.generate_class(5, 3, 7).expect("class 7 again");
    assert_eq!(a.into_data(), b.into_data(), "seeded");
    // Same noise, another label: other images.
    let c = cvae.generate_class(5, 3, 2).expect("class 2");
    let d = cvae.generate_class(5, 3, 7).expect("class 7");
    let diff = (c - d).abs().sum().into_scalar::<f32>();
    assert!(diff > 0.0);
    let err = cvae.generate_class(1, 0, 10).expect_err("class 10 of 10");
    assert!(err.to_string().contains("class 10 out of range"), "{err}");
    let mut vae = task("vae");
    assert!(
        vae.conditional().is_none(),
        "the plain VAE is not conditional"
    );
    assert!(vae.generator().is_some(), "but it generates");
}

#[test]
fn figures_are_redrawn_from_a_checkpoint() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("run");
    genzoo_cli::train(&args("vae-2d", &dir, 2)).expect("trains");
    std::fs::remove_dir_all(dir.join("figures")).expect("figures written by training");
    let names = genzoo_cli::eval::figures(&genzoo_cli::eval::FiguresArgs {
        source: last_checkpoint(&dir),
    })
    .expect("figures");
    assert!(names.iter().any(|n| n == "manifold"), "{names:?}");
    assert!(dir.join("figures/manifold.png").exists());
    let report = std::fs::read_to_string(dir.join("report.html")).expect("report");
    assert!(report.contains("manifold.png"));
}
