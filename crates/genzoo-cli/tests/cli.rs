//! The `genzoo` binary as a user meets it: exit codes, one-line errors, Ctrl-C.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn genzoo(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_genzoo"))
        .args(args)
        .env_remove("GENZOO_DATA_DIR")
        .output()
        .expect("genzoo runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The last non-empty stderr line (logs come before it).
fn error_line(o: &Output) -> String {
    stderr(o)
        .lines()
        .rfind(|l| !l.trim().is_empty())
        .unwrap_or_default()
        .to_string()
}

fn s(path: &Path) -> &str {
    path.to_str().expect("utf8")
}

fn assert_ok(o: &Output) {
    assert!(o.status.success(), "{}", stderr(o));
}

/// Asserts that the command failed with exit code 1 and an error line that mentions `needle`.
fn assert_error(o: &Output, needle: &str) {
    assert_eq!(o.status.code(), Some(1), "{}", stderr(o));
    let line = error_line(o);
    assert!(
        line.starts_with("error: ") && line.contains(needle),
        "no {needle:?} in the error line: {}",
        stderr(o)
    );
}

#[test]
fn an_unknown_flag_is_one_line_and_exit_code_2() {
    let o = genzoo(&["train", "--bogus"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("--bogus"), "{err}");
}

#[test]
fn unknown_model_dataset_and_backend_name_the_choices() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("r");
    let out = s(&out);
    for (args, needle) in [
        (
            vec!["train", "pixelgan", "--out", out],
            "known models: autoencoder",
        ),
        (
            vec!["train", "--dataset", "imagenet", "--out", out],
            "mnist-mini",
        ),
        (
            vec!["train", "--backend", "tpu", "--out", out],
            "flex, ndarray, wgpu, cuda",
        ),
    ] {
        assert_error(&genzoo(&args), needle);
        assert!(
            !Path::new(out).exists(),
            "no run dir may be created for bad input"
        );
    }
}

#[test]
fn a_backend_that_is_not_compiled_in_says_how_to_get_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("r");
    let o = genzoo(&["train", "--backend", "cuda", "--out", s(&out)]);
    assert_error(&o, "--features cuda");
    assert!(!out.exists(), "no run dir may be created for bad input");
}

#[test]
fn missing_data_offline_names_the_directory_the_env_var_and_the_download_flag() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("r");
    let data = tmp.path().join("empty-data");
    std::fs::create_dir(&data).expect("mkdir");
    let o = genzoo(&[
        "train",
        "--dataset",
        "mnist",
        "--data-dir",
        s(&data),
        "--out",
        s(&out),
        "--no-progress",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("empty-data") && err.contains("GENZOO_DATA_DIR") && err.contains("--download"),
        "{err}"
    );
    assert!(
        !out.exists(),
        "no run dir may be created when the data is missing"
    );
}

#[test]
fn an_existing_run_directory_is_not_overwritten() {
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::write(tmp.path().join("precious.txt"), "keep me").expect("write");
    let o = genzoo(&[
        "train",
        "--steps",
        "1",
        "--out",
        s(tmp.path()),
        "--no-progress",
    ]);
    assert_error(&o, "already exists");
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("precious.txt")).expect("kept"),
        "keep me"
    );
}

#[test]
fn ctrl_c_saves_last_exits_130_and_the_run_resumes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("run");
    let dir_s = s(&dir);
    let child = Command::new(env!("CARGO_BIN_EXE_genzoo"))
        .args([
            "train",
            "--steps",
            "100000",
            "--batch-size",
            "16",
            "--log-every",
            "1",
            "--out",
            dir_s,
            "--no-progress",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    // Wait until training is under way (two logged steps), then interrupt.
    let metrics = dir.join("metrics.jsonl");
    let start = Instant::now();
    while std::fs::read_to_string(&metrics)
        .map(|s| s.lines().count())
        .unwrap_or(0)
        < 2
    {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "training never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let pid = child.id().to_string();
    let kill = Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill");
    assert!(kill.success());
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("interrupted at step") && err.contains("--resume"),
        "{err}"
    );
    let ckpt =
        genzoo_train::Checkpoint::load(&dir.join("checkpoints/last.ckpt")).expect("last saved");
    let stopped = ckpt.meta.step;
    assert!(stopped >= 2);
    let summary = std::fs::read_to_string(dir.join("summary.json")).expect("summary");
    assert!(summary.contains("interrupted_at_step"), "{summary}");
    // The run continues from where it stopped.
    let target = (stopped + 2).to_string();
    let o = genzoo(&[
        "train",
        "--resume",
        dir_s,
        "--steps",
        &target,
        "--no-progress",
    ]);
    assert_ok(&o);
    let ckpt = genzoo_train::Checkpoint::load(&dir.join("checkpoints/last.ckpt")).expect("last");
    assert_eq!(ckpt.meta.step, stopped + 2);
}

#[test]
fn the_default_model_is_a_generative_model() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("run");
    let dir_s = s(&dir);
    let o = genzoo(&["train", "--steps", "2", "--out", dir_s, "--no-progress"]);
    assert_ok(&o);
    let config = std::fs::read_to_string(dir.join("config.toml")).expect("config");
    assert!(config.contains("model = \"vae\""), "{config}");
    let o = genzoo(&["sample", dir_s, "--n", "4"]);
    assert_ok(&o);
}

#[test]
fn eval_writes_test_metrics_into_the_run_and_sample_explains_what_cannot_sample() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("run");
    let dir_s = s(&dir);
    let o = genzoo(&[
        "train",
        "autoencoder",
        "--steps",
        "3",
        "--batch-size",
        "8",
        "--out",
        dir_s,
        "--no-progress",
    ]);
    assert_ok(&o);

    let o = genzoo(&["eval", dir_s, "--json"]);
    assert_ok(&o);
    let printed: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON on stdout");
    assert!(
        printed["test_mse"]
            .as_f64()
            .is_some_and(|v| v > 0.0 && v < 1.0),
        "{printed}"
    );
    // The autoencoder has no sampler: said, not failed.
    assert!(
        printed["sample_metrics"]
            .as_str()
            .is_some_and(|s| s.contains("does not generate"))
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).expect("summary"))
            .expect("json");
    assert_eq!(summary["eval"], printed);
    assert!(
        std::fs::read_to_string(dir.join("report.html"))
            .expect("report")
            .contains("eval.test_mse")
    );

    assert_error(&genzoo(&["sample", dir_s]), "does not generate samples");
    let o = genzoo(&["eval", dir_s, "--metrics", "fid,bleu"]);
    assert_error(&o, "unknown metric 'bleu'");
    let o = genzoo(&["eval", s(&tmp.path().join("nope"))]);
    assert!(!o.status.success());
}

#[test]
fn bench_measures_a_preset_in_a_child_process_and_writes_json() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let json = tmp.path().join("bench.json");
    let o = genzoo(&[
        "bench",
        "--only",
        "autoencoder",
        "--warmup",
        "1",
        "--repeats",
        "2",
        "--steps",
        "1",
        "--json",
        s(&json),
    ]);
    assert_ok(&o);
    let records: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("json written")).expect("json");
    let r = &records[0];
    assert_eq!(r["model"], "autoencoder");
    assert_eq!(r["batch_size"], 64);
    assert!(
        r["train_images_per_sec"].as_f64().is_some_and(|v| v > 0.0),
        "{r}"
    );
    assert!(r["peak_rss_mib"].as_f64().is_some_and(|v| v > 10.0), "{r}");
    // The autoencoder does not sample: no sampling time is invented.
    assert!(r.get("sample_s").is_none());
    assert!(String::from_utf8_lossy(&o.stdout).contains("train img/s"));
}
