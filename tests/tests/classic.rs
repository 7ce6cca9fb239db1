//! The classic fits of lecture 13 §1 (k-means, mini-batch k-means, PCA, GMM, KDE) through
//! `genzoo train`: run directories, closed-form metrics on a toy set, and refused input.

use std::path::Path;

use genzoo_cli::TrainArgs;
use genzoo_cli::models::classic::fit;
use serde_json::{Map, Value};

fn toy_args(model: &str, out: &Path) -> TrainArgs {
    TrainArgs {
        model: Some(model.into()),
        dataset: Some("toy-ring8".into()),
        out: Some(out.join(model)),
        ..TrainArgs::default()
    }
}

fn get(s: &Map<String, Value>, k: &str) -> f64 {
    s.get(k).and_then(Value::as_f64).unwrap_or(f64::NAN)
}

/// Every classic fit on the 8-Gaussian ring (std σ = 0.02) writes a run directory, and the
/// metrics match the closed forms of the true distribution: k-means finds the 8 modes (every test
/// point in its mode's cluster, inertia per point ≈ 2σ²), the GMM's test log-likelihood is close to
/// the true entropy bound log(1/8) − log(2πσ²) − 1 = 2.905, the KDE's is below it.
#[test]
fn toy_fits_write_runs_with_closed_form_metrics() {
    let dir = tempfile::tempdir().expect("tempdir");
    let truth = (1.0f64 / 8.0).ln() - (2.0 * std::f64::consts::PI * 0.0004).ln() - 1.0;
    for model in ["kmeans", "minibatch-kmeans", "pca", "gmm", "kde"] {
        let (root, s) = fit(&toy_args(model, dir.path())).expect(model);
        for f in ["config.toml", "summary.json", "report.html"] {
            assert!(root.join(f).exists(), "{model}: {f} missing");
        }
        let figures = std::fs::read_dir(root.join("figures"))
            .expect("figures")
            .count();
        assert!(figures >= 1, "{model}: no figure");
        match genzoo_cli::eval::load_run(&root, "best", None) {
            Ok(_) => panic!("{model}: eval must refuse a classic fit"),
            Err(e) => assert!(e.to_string().contains("is a classic fit"), "{e}"),
        }
        match model {
            "kmeans" | "minibatch-kmeans" => {
                assert_eq!(get(&s, "test_cluster_accuracy"), 1.0, "{model}");
                let per = get(&s, "inertia_per_sample");
                assert!((per - 0.0008).abs() < 0.0001, "{model}: {per}");
            }
            "pca" => assert!((get(&s, "explained_variance_ratio") - 1.0).abs() < 1e-9),
            "gmm" => {
                let ll = get(&s, "test_log_likelihood");
                assert!((ll - truth).abs() < 0.1, "gmm test ll {ll} vs {truth}");
                assert!(root.join("figures/density.svg").exists());
            }
            _ => {
                let ll = get(&s, "test_log_density");
                assert!(
                    ll < truth && ll > truth - 0.5,
                    "kde test ll {ll} vs {truth}"
                );
            }
        }
    }
}

/// Flags and values that do not apply are errors, raised before a run directory exists.
#[test]
fn bad_classic_input_is_an_error_before_any_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut a = toy_args("kmeans", dir.path());
    a.epochs = Some(3);
    let e = fit(&a).expect_err("epochs").to_string();
    assert!(e.contains("--epochs does not apply"), "{e}");
    let mut a = toy_args("kde", dir.path());
    a.k = Some(3);
    assert!(fit(&a).expect_err("k").to_string().contains("--k"));
    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, "[model_config]\nsolver = \"magic\"\n").expect("write");
    let mut a = toy_args("pca", dir.path());
    a.config = Some(cfg);
    let e = fit(&a).expect_err("solver").to_string();
    assert!(e.contains("solver"), "{e}");
    let mut a = toy_args("gmm", dir.path());
    a.dataset = Some("toy-nothing".into());
    assert!(fit(&a).is_err());
    assert!(!dir.path().join("kmeans").exists() && !dir.path().join("pca").exists());
}
