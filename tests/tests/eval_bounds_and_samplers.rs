//! `genzoo eval --metrics elbo,iwae` on a VAE run (and a clear error elsewhere), and
//! `genzoo sample --fast/--complete` on a Gated PixelCNN run: the cached sampler draws the very
//! images the naive one draws, through the command-line entry points.

use std::path::Path;

use genzoo_cli::TrainArgs;
use genzoo_cli::eval::{EvalArgs, SampleArgs, eval, sample};
use genzoo_tests::{
    TINY_GATED, assert_fast_sampling_matches_naive, last_checkpoint, mini_args, read_json,
    sample_args, write_file,
};
use serde_json::Value;

fn eval_args(run: &Path, metrics: &str, n: usize, k: usize) -> EvalArgs {
    EvalArgs {
        source: last_checkpoint(run),
        metrics: Some(metrics.into()),
        n,
        seed: 0,
        classifier: None,
        json: true,
        start: 0,
        iwae_k: k,
    }
}

#[test]
fn eval_reports_the_elbo_its_parts_and_a_tighter_iwae_bound() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("vae");
    genzoo_cli::train(&mini_args("vae", &dir, 30, 32, 3)).expect("vae trains");
    let out = eval(&eval_args(&dir, "elbo,iwae", 60, 200)).expect("eval");
    let get = |k: &str| out[k].as_f64().unwrap_or_else(|| panic!("{k} in {out:?}"));
    let (nelbo, recon, kl) = (get("test_nelbo"), get("test_recon"), get("test_kl"));
    assert!((nelbo - recon - kl).abs() < 1e-6 * nelbo, "{out:?}");
    assert!(kl > 0.0 && nelbo > 50.0 && nelbo < 600.0, "{out:?}");
    // L_200 ≥ ELBO: the importance-weighted NLL is clearly below the −ELBO (by ~13 nats here;
    // the standard error is over images, so it measures the spread of the images, not the gap's noise).
    let iwae = get("test_iwae200_nll");
    let se = get("test_iwae200_se");
    assert!(iwae < nelbo - 2.0 && se > 0.0 && se < 20.0, "{out:?}");
    assert_eq!(out["iwae_k"], Value::from(200));
    assert_eq!(out["iwae_images"], Value::from(60));
    assert!(get("time_iwae_s") > 0.0 && get("time_elbo_s") > 0.0);
    assert!((get("iwae_ms_per_image") - get("time_iwae_s") * 1000.0 / 60.0).abs() < 1e-6);
    // With k = 1 the bound is a one-sample estimate of the −ELBO itself (on 200 images, for less noise).
    let one = eval(&eval_args(&dir, "elbo,iwae", 200, 1)).expect("k = 1");
    let l1 = one["test_iwae1_nll"].as_f64().expect("L_1");
    let nelbo_200 = one["test_nelbo"].as_f64().expect("−ELBO");
    assert!(
        (l1 - nelbo_200).abs() < 3.0,
        "L_1 {l1} vs −ELBO {nelbo_200}"
    );
    // Written into summary.json under `eval`.
    let summary = read_json(&dir.join("summary.json"));
    assert!(summary["eval"]["test_iwae1_nll"].is_number(), "{summary:?}");
    let e = eval(&eval_args(&dir, "iwae", 60, 0)).expect_err("k = 0");
    assert!(e.to_string().contains("--iwae-k"), "{e}");
    // In parts: images 0..200 and 200..400 average to the estimate over 0..400, to rounding,
    // since each block of 200 draws its noise from `seed ^ first image`.
    let whole = eval(&eval_args(&dir, "iwae", 400, 20)).expect("whole");
    let part = |start: usize| {
        let out = eval(&EvalArgs {
            start,
            ..eval_args(&dir, "iwae", 200, 20)
        })
        .expect("part");
        assert_eq!(out["iwae_images"], Value::from(200));
        out["test_iwae20_nll"].as_f64().expect("L_20")
    };
    let mean = (part(0) + part(200)) / 2.0;
    let all = whole["test_iwae20_nll"].as_f64().expect("L_20");
    assert!((mean - all).abs() < 1e-6 * all.abs(), "{mean} vs {all}");
    let e = eval(&EvalArgs {
        start: 1_000_000,
        ..eval_args(&dir, "iwae", 10, 5)
    })
    .expect_err("past the end");
    assert!(e.to_string().contains("past the"), "{e}");
}

#[test]
fn a_model_without_a_variational_bound_is_a_clear_error() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("ae");
    genzoo_cli::train(&mini_args("autoencoder", &dir, 1, 32, 3)).expect("trains");
    for metric in ["elbo", "iwae"] {
        let e = eval(&eval_args(&dir, metric, 10, 5))
            .expect_err(metric)
            .to_string();
        assert!(
            e.contains(&format!("metric '{metric}'"))
                && e.contains("variational bound")
                && e.contains("'autoencoder'"),
            "{e}"
        );
    }
    let e = sample(&SampleArgs {
        fast: true,
        ..sample_args(&dir, 4, 4)
    })
    .expect_err("no cached sampler");
    assert!(e.to_string().contains("--fast applies to"), "{e}");
    let e = sample(&SampleArgs {
        complete: true,
        ..sample_args(&dir, 4, 4)
    })
    .expect_err("no completion");
    assert!(e.to_string().contains("cannot complete"), "{e}");
}

/// Width and height of a PNG file, from its IHDR chunk.
fn png_size(path: &Path) -> (u32, u32) {
    let b = std::fs::read(path).expect("png");
    let be = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    (be(16), be(20))
}

#[test]
fn fast_and_naive_sampling_give_the_same_pngs_and_complete_draws_rows_of_completions() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = write_file(tmp.path(), "gated.toml", TINY_GATED);
    let dir = tmp.path().join("cond");
    genzoo_cli::train(&TrainArgs {
        config: Some(config),
        batch_size: Some(16),
        ..mini_args("cond-pixelcnn", &dir, 2, 32, 3)
    })
    .expect("trains");
    assert_fast_sampling_matches_naive(&dir, 3, 4, false);
    // 4 test images per row: inputs, top halves, one completion row; 12 samples give three.
    let three_rows = png_size(&assert_fast_sampling_matches_naive(&dir, 4, 4, true));
    let five_rows = png_size(&assert_fast_sampling_matches_naive(&dir, 12, 4, true));
    assert_eq!(three_rows.0, five_rows.0);
    assert!(
        five_rows.1 > three_rows.1 * 3 / 2,
        "{three_rows:?} {five_rows:?}"
    );
    let labelled = SampleArgs {
        cols: Some(4),
        label: Some(1),
        fast: true,
        complete: true,
        ..sample_args(&dir, 4, 4)
    };
    assert!(sample(&labelled).is_err());
}
