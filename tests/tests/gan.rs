//! The GAN models end to end through `genzoo train`: every registry entry trains and logs
//! D(x) / D(G(z)), resume is exact (both networks, both optimizers, the noise stream), and a
//! checkpoint from another configuration is a clear error.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use burn::module::Module;
use genzoo_cli::TrainArgs;
use genzoo_cli::eval::SampleArgs;
use genzoo_datasets::DatasetKind;
use genzoo_gan::task::GanModelConfig;
use genzoo_tests::{
    assert_bitwise_equal, assert_checkpoint_mismatch, assert_files, assert_seeded_draws,
    edit_config, last_checkpoint, metrics, mini_args, resume_args, sample_args, section_record,
    write_file,
};
use genzoo_train::Checkpoint;
use serde_json::Value;

/// The tests of this file train in one process and burn's device seed is global: one at a time,
/// so each run's initialisation sees only its own seed.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// `genzoo train MODEL` with a `--config` file of a small evaluation, to keep the tests fast.
fn args(model: &str, out: &Path, steps: u64) -> TrainArgs {
    let dir = out.parent().expect("parent");
    let small_eval = write_file(dir, "small-eval.toml", "[model_config]\neval_images = 64\n");
    TrainArgs {
        config: Some(small_eval),
        ..mini_args(model, out, steps, 8, 5)
    }
}

/// Trains `model` for `steps` steps into `tmp/NAME`, and returns that directory.
fn trained(tmp: &Path, name: &str, model: &str, steps: u64) -> PathBuf {
    let dir = tmp.join(name);
    genzoo_cli::train(&args(model, &dir, steps)).unwrap_or_else(|e| panic!("{model} trains: {e}"));
    dir
}

/// Generator then discriminator parameters of a `dcgan` checkpoint.
fn weights(ckpt: &Path) -> Vec<f32> {
    let ckpt = Checkpoint::load(ckpt).expect("checkpoint loads");
    let cfg = GanModelConfig::preset("dcgan", DatasetKind::MnistMini).expect("preset");
    let device = burn::tensor::Device::flex();
    let g = cfg
        .network
        .init_generator(&device)
        .try_load_record(section_record(&ckpt, "generator"))
        .expect("generator fits");
    let d = cfg
        .network
        .init_discriminator(&device)
        .try_load_record(section_record(&ckpt, "discriminator"))
        .expect("discriminator fits");
    let mut w = genzoo_tests::flat_parameters(&g);
    w.extend(genzoo_tests::flat_parameters(&d));
    w
}

#[test]
fn every_gan_model_trains_and_logs_both_losses_and_d_outputs() {
    let _serial = serial();
    let tmp = tempfile::tempdir().expect("tempdir");
    for model in ["gan", "dcgan", "wgan", "wgan-gp", "lsgan", "cgan", "acgan"] {
        let dir = tmp.path().join(model);
        let (_, summary) = genzoo_cli::train(&args(model, &dir, 1)).expect("trains");
        let files = [
            "samples/step-1.png",
            "figures/interpolation.png",
            "checkpoints/last.ckpt",
        ];
        assert_files(&dir, &files, model);
        assert_eq!(
            dir.join("figures/classes.png").is_file(),
            model == "cgan" || model == "acgan",
            "{model}: a class grid exactly for the conditional models"
        );
        let mut train = metrics(&dir);
        train.retain(|r| r["split"] == "train");
        assert_eq!(train.len(), 1, "{model}");
        for r in &train {
            for key in ["loss", "g_loss", "d_real", "d_fake"] {
                assert!(
                    r[key].as_f64().is_some_and(f64::is_finite),
                    "{model}: {key} in {r}"
                );
            }
            assert!(r["images_per_sec"].as_f64().is_some_and(|v| v > 0.0));
            assert_eq!(
                r.get("gradient_penalty").is_some(),
                model == "wgan-gp",
                "{model}: {r}"
            );
            assert_eq!(
                r["d_class_loss"].as_f64().is_some_and(|v| v > 0.0),
                model == "acgan",
                "{model}: {r}"
            );
        }
        if model == "acgan" {
            for key in ["test_aux_acc_real", "test_aux_acc_fake"] {
                let acc = summary[key].as_f64().expect(key);
                assert!((0.0..=1.0).contains(&acc), "{key} = {acc}");
            }
        }
        if model == "dcgan" || model == "gan" {
            // Sigmoid losses report probabilities.
            let d = train[0]["d_real"].as_f64().expect("d_real");
            assert!((0.0..=1.0).contains(&d), "{model}: D(x) = {d}");
        }
        // 10,000 mini-MNIST images, batch 8: 1,250 batches per epoch; a WGAN step takes 5.
        let per_epoch = if model.starts_with("wgan") {
            250.0
        } else {
            1250.0
        };
        let epochs = summary["epochs_completed"].as_f64().expect("epochs");
        assert!((epochs - 1.0 / per_epoch).abs() < 1e-9, "{model}: {epochs}");
        let dist = summary["moment_distance"]
            .as_f64()
            .expect("moment_distance");
        assert!(dist.is_finite() && dist >= 0.0, "{model}: {dist}");
    }
}

#[test]
fn dcgan_resume_is_exact() {
    let _serial = serial();
    let tmp = tempfile::tempdir().expect("tempdir");
    let a = trained(tmp.path(), "a", "dcgan", 4);
    let b = trained(tmp.path(), "b", "dcgan", 2);
    genzoo_cli::train(&resume_args(&b, 4)).expect("resumed half");
    let wa = weights(&a.join("checkpoints/last.ckpt"));
    let c = trained(tmp.path(), "c", "dcgan", 1);
    let fresh = weights(&c.join("checkpoints/last.ckpt"));
    assert_bitwise_equal(
        &wa,
        &weights(&b.join("checkpoints/last.ckpt")),
        "weights differ after resume",
    );
    // And training did move the weights (the comparison is not vacuous).
    assert!(wa.iter().zip(&fresh).any(|(x, y)| x != y));
}

#[test]
fn a_gan_checkpoint_from_another_config_is_a_clear_error() {
    let _serial = serial();
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = trained(tmp.path(), "run", "dcgan", 1);
    // A different latent size: the generator's first layer no longer fits.
    let original = edit_config(&dir, "latent = 100", "latent = 64");
    let err = genzoo_cli::train(&resume_args(&dir, 2)).expect_err("shapes differ");
    assert_checkpoint_mismatch(&err, &["generator", "100", "64"]);

    // A different architecture altogether (an MLP under the same model name).
    let mut table: toml::Table = toml::from_str(&original).expect("toml");
    let mut model_config = toml::Table::try_from(
        GanModelConfig::preset("gan", DatasetKind::MnistMini).expect("preset"),
    )
    .expect("table");
    model_config.insert("eval_images".into(), 64.into());
    table.insert("model_config".into(), model_config.into());
    let mlp = toml::to_string(&table).expect("toml");
    std::fs::write(dir.join("config.toml"), mlp).expect("edit");
    let err = genzoo_cli::train(&resume_args(&dir, 2)).expect_err("architecture differs");
    assert_checkpoint_mismatch(&err, &[]);

    // WGAN-GP with BatchNorm in the critic is refused before anything is built.
    let gp = args("wgan-gp", &tmp.path().join("gp"), 1);
    let bn = "[model_config.network.dcgan]\nd_batch_norm = true\n";
    let err = genzoo_cli::train(&TrainArgs {
        config: Some(write_file(tmp.path(), "gp.toml", bn)),
        ..gp
    })
    .expect_err("BN critic with a penalty");
    assert!(err.to_string().contains("d_batch_norm"), "{err}");
}

#[test]
fn generate_is_seeded_batched_and_in_the_unit_interval() {
    use genzoo_gan::task::GanTask;
    use genzoo_train::Task;
    let _serial = serial();
    let device = burn::tensor::Device::flex().autodiff();
    device.seed(3);
    let cfg = GanModelConfig::preset("cgan", DatasetKind::MnistMini).expect("preset");
    let mut task = GanTask::new("cgan", &cfg, 2e-4, &device);
    // 503 = one full generation batch of 500 and a remainder of 3.
    let generator = task.generator().expect("generates");
    let a = assert_seeded_draws(generator, 503, 9, "cgan");
    assert!(a.iter().all(|v| (0.0..=1.0).contains(v)));
}

#[test]
fn cgan_samples_a_requested_class_and_eval_reports_class_accuracy() {
    let _guard = serial();
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = trained(tmp.path(), "cgan", "cgan", 2);
    let sample = |label: Option<usize>| SampleArgs {
        label,
        ..sample_args(&dir, 6, 1)
    };
    let png = genzoo_cli::eval::sample(&sample(Some(3))).expect("class 3");
    assert!(png.ends_with("samples/sample-seed1-n6-label3.png") && png.exists());
    let e = genzoo_cli::eval::sample(&sample(Some(10))).expect_err("no class 10");
    assert!(e.to_string().contains("classes 0 to 9"), "{e}");

    let out = genzoo_cli::eval::eval(&genzoo_cli::eval::EvalArgs {
        source: last_checkpoint(&dir),
        metrics: Some("acc".into()),
        n: 20,
        seed: 0,
        classifier: None,
        json: true,
        iwae_k: 5000,
        start: 0,
    })
    .expect("eval acc");
    let acc = out["class_accuracy"].as_f64().expect("class_accuracy");
    assert!((0.0..=1.0).contains(&acc), "{out:?}");
    let per: f64 = (0..10)
        .map(|c| {
            out[&format!("class_accuracy_{c}")]
                .as_f64()
                .expect("per class")
        })
        .sum::<f64>()
        / 10.0;
    assert!((per - acc).abs() < 1e-12);
    assert_eq!(out["class_accuracy_per_class_n"], Value::from(2));

    // An unconditional model refuses --label and an explicit `acc`.
    let plain = trained(tmp.path(), "gan", "gan", 1);
    let e = genzoo_cli::eval::sample(&SampleArgs {
        source: last_checkpoint(&plain),
        ..sample(Some(1))
    })
    .expect_err("not conditional");
    assert!(e.to_string().contains("not class-conditional"), "{e}");
}

#[test]
fn configs_written_before_ac_gan_and_spectral_norm_still_load() {
    // The new options are optional fields, absent from the configs of plain runs (which are
    // exactly what older runs wrote), and such a config parses back.
    for model in ["gan", "dcgan", "wgan-gp", "cgan"] {
        let cfg = GanModelConfig::preset(model, DatasetKind::MnistMini).expect("preset");
        let text = toml::to_string(&cfg).expect("toml");
        for new_key in ["aux_weight", "auxiliary", "spectral_norm", "toy"] {
            assert!(!text.contains(new_key), "{model}: {text}");
        }
        let back: GanModelConfig = toml::from_str(&text).expect("parses");
        assert_eq!(back, cfg);
    }
}

/// The `[model_config]` a run resolved to.
fn resolved(args: &TrainArgs) -> (f64, GanModelConfig) {
    let cfg = genzoo_cli::resolve_config(args).expect("resolves");
    let gan: GanModelConfig = cfg.model_config.try_into().expect("gan config");
    (cfg.lr, gan)
}

#[test]
fn loss_and_d_steps_flags_select_a_recipe_and_misuse_is_a_clear_error() {
    use genzoo_gan::{GanLoss, GanOptimizer};
    let base = |model: &str| TrainArgs {
        model: Some(model.into()),
        dataset: Some("mnist-mini".into()),
        ..TrainArgs::default()
    };
    // dcgan (non-saturating, BN critic) → the WGAN-GP recipe, with k from --d-steps.
    let (lr, cfg) = resolved(&TrainArgs {
        loss: Some("wgan-gp".into()),
        d_steps: Some(3),
        ..base("dcgan")
    });
    assert_eq!(cfg.training.loss, GanLoss::Wasserstein);
    assert_eq!(cfg.training.gradient_penalty, Some(10.0));
    assert_eq!((cfg.training.clip, cfg.training.d_steps), (None, 3));
    assert_eq!((cfg.training.beta1, cfg.training.beta2), (0.0, 0.9));
    assert!(
        !cfg.network.d_batch_norm(),
        "the penalty needs a critic without BN"
    );
    assert_eq!(lr, 1e-4);
    // wgan → hinge: clipping and RMSProp go, and --lr wins over the recipe's rate.
    let (lr, cfg) = resolved(&TrainArgs {
        loss: Some("hinge".into()),
        lr: Some(3e-4),
        ..base("wgan")
    });
    assert_eq!(cfg.training.loss, GanLoss::Hinge);
    assert_eq!(cfg.training.clip, None);
    assert_eq!(
        (cfg.training.optimizer, cfg.training.d_steps),
        (GanOptimizer::Adam, 1)
    );
    assert_eq!(lr, 3e-4);
    let expect = [
        ("minimax", GanLoss::Minimax),
        ("ns", GanLoss::NonSaturating),
        ("lsgan", GanLoss::LeastSquares),
        ("wgan", GanLoss::Wasserstein),
    ];
    for (flag, loss) in expect {
        let (_, cfg) = resolved(&TrainArgs {
            loss: Some(flag.into()),
            ..base("gan")
        });
        assert_eq!(cfg.training.loss, loss, "{flag}");
        assert_eq!(cfg.training.clip.is_some(), flag == "wgan", "{flag}");
    }
    // --d-steps alone keeps the objective.
    let (_, cfg) = resolved(&TrainArgs {
        d_steps: Some(2),
        ..base("lsgan")
    });
    assert_eq!(
        (cfg.training.loss, cfg.training.d_steps),
        (GanLoss::LeastSquares, 2)
    );

    let err = |args: TrainArgs| {
        genzoo_cli::resolve_config(&args)
            .expect_err("refused")
            .to_string()
    };
    let e = err(TrainArgs {
        loss: Some("wasserstein-ish".into()),
        ..base("gan")
    });
    assert!(e.contains("unknown --loss") && e.contains("wgan-gp"), "{e}");
    let e = err(TrainArgs {
        loss: Some("ns".into()),
        ..base("vae")
    });
    assert!(e.contains("GAN models only") && e.contains("'vae'"), "{e}");
    let e = err(TrainArgs {
        d_steps: Some(0),
        ..base("gan")
    });
    assert!(e.contains("d_steps"), "{e}");
}

#[test]
fn every_loss_trains_on_the_toy_ring_and_reports_mode_coverage() {
    let _serial = serial();
    let tmp = tempfile::tempdir().expect("tempdir");
    for loss in ["minimax", "ns", "wgan", "wgan-gp", "lsgan", "hinge"] {
        let dir = tmp.path().join(loss);
        let (_, summary) = genzoo_cli::train(&TrainArgs {
            model: Some("gan".into()),
            dataset: Some("toy-ring8".into()),
            loss: Some(loss.into()),
            steps: Some(2),
            seed: Some(1),
            out: Some(dir.clone()),
            log_every: Some(1),
            no_progress: true,
            ..TrainArgs::default()
        })
        .expect("trains on points");
        assert_eq!(summary["modes_total"], 8.0, "{loss}");
        let captured = summary["modes_captured"].as_f64().expect("captured");
        let missed = summary["modes_missed"].as_f64().expect("missed");
        assert_eq!(captured + missed, 8.0, "{loss}");
        let hq = summary["high_quality_share"].as_f64().expect("hq");
        assert!((0.0..=1.0).contains(&hq), "{loss}: {hq}");
        let svg = std::fs::read_to_string(dir.join("figures/toy-samples.svg")).expect("svg");
        assert!(svg.contains("<svg") && svg.contains("generated"), "{loss}");
        assert!(dir.join("samples/step-2.png").is_file(), "{loss}");
        let config = std::fs::read_to_string(dir.join("config.toml")).expect("config");
        assert!(config.contains("batch_size = 256") && config.contains("toy = \"Ring8\""));
    }
    // Image models refuse points, and the DCGAN has no toy preset.
    for model in ["vae", "dcgan"] {
        let e = genzoo_cli::resolve_config(&TrainArgs {
            model: Some(model.into()),
            dataset: Some("toy-grid25".into()),
            ..TrainArgs::default()
        })
        .expect_err("refused")
        .to_string();
        assert!(e.contains("toy-grid25"), "{model}: {e}");
    }
}

#[test]
fn spectral_norm_with_hinge_trains_and_resumes_exactly() {
    // The power-iteration vectors are non-trained buffers saved in the checkpoint: a resumed
    // run must see the same σ as the straight one, so D's test outputs match bit for bit.
    let _serial = serial();
    let tmp = tempfile::tempdir().expect("tempdir");
    let cfg = write_file(
        tmp.path(),
        "sn.toml",
        "[model_config]\neval_images = 64\n[model_config.network.dcgan]\nspectral_norm = true\n",
    );
    let run = |dir: &Path, steps: u64| TrainArgs {
        loss: Some("hinge".into()),
        config: Some(cfg.clone()),
        ..args("dcgan", dir, steps)
    };
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let (_, straight) = genzoo_cli::train(&run(&a, 3)).expect("straight run");
    genzoo_cli::train(&run(&b, 2)).expect("first part");
    let (_, resumed) = genzoo_cli::train(&resume_args(&b, 3)).expect("resumed part");
    let config = std::fs::read_to_string(b.join("config.toml")).expect("config");
    assert!(config.contains("spectral_norm = true") && config.contains("loss = \"hinge\""));
    for key in ["test_d_real", "test_d_fake", "moment_distance"] {
        let (x, y) = (straight[key].as_f64(), resumed[key].as_f64());
        assert!(x.is_some_and(f64::is_finite), "{key}");
        assert_eq!(
            x.map(f64::to_bits),
            y.map(f64::to_bits),
            "{key}: {x:?} vs {y:?}"
        );
    }
}
