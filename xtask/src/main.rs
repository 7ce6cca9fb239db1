//! `cargo xtask <verb>`: the project's entry points, with no burn dependency so it builds in
//! seconds.
//!
//! - `train [genzoo train flags]` — maps `--backend` to Cargo features and runs the `genzoo`
//!   binary in release mode (same profile as the tests, so one build serves both).
//! - `test [--wgpu]` — the test suite on the default CPU backend; `--wgpu` adds the wgpu pass.
//! - `mnist-mini [--src DIR] [--out DIR]` — regenerates the embedded MNIST subset.

mod mnist_mini;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};

const BACKENDS: [&str; 4] = ["flex", "ndarray", "wgpu", "cuda"];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("xtask: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

fn usage() -> &'static str {
    "usage: cargo xtask <train|eval|sample|figures|export|import|classifier|calibrate|bench|test|mnist-mini> [args]\n  \
     train [model] [--backend flex|ndarray|wgpu|cuda] [genzoo train flags]   (`cargo xtask train --help` for all)\n  \
     eval <run> [--metrics nll,elbo,iwae,fid,kid,is,pr,acc] [--n 10000] [--iwae-k 5000] [--json]   test metrics of a run\n  \
     sample <run> [--n 64] [--seed S] [--label K] [--fast] [--complete] [--out FILE.png]   fresh samples of a run\n  \
     figures <run> [--checkpoint best|last]                            redraw manifold/interpolation/... figures\n  \
     export <run> --out FILE.safetensors [--layout burn|pytorch] [--probe FILE]   a run's weights, config in the metadata\n  \
     import FILE.safetensors --model M --out RUN                       a new run from exported weights\n  \
     classifier --dataset mnist --out FILE                             retrain a metrics feature extractor\n  \
     calibrate [--dataset mnist] [--n 10000]                           metrics between real sets\n  \
     bench [vae|pixelcnn|gan|unsupervised|metrics|all] [--only M,..] [--threads N] [--backend B] [--json FILE]   speed, GFLOP/s, memory\n  \
     test [--wgpu]                       run the tests (CPU; --wgpu adds the wgpu backend pass)\n  \
     mnist-mini [--src DIR] [--out DIR]  regenerate crates/genzoo-datasets/data/mnist-mini"
}

fn run(args: &[String]) -> Result<ExitCode> {
    let Some((verb, rest)) = args.split_first() else {
        eprintln!("{}", usage());
        return Ok(ExitCode::from(2));
    };
    match verb.as_str() {
        "train" => genzoo("train", rest),
        "models" => genzoo("models", rest),
        "eval" => genzoo("eval", rest),
        "sample" => genzoo("sample", rest),
        "figures" => genzoo("figures", rest),
        "export" => genzoo("export", rest),
        "import" => genzoo("import", rest),
        "classifier" => genzoo("classifier", rest),
        "calibrate" => genzoo("calibrate", rest),
        "bench" => genzoo("bench", rest),
        "test" => test(rest),
        "mnist-mini" => {
            let root = workspace_root();
            let src = flag_value(rest, "--src")?
                .map(PathBuf::from)
                .unwrap_or_else(|| root.join("../shared/datasets/mnist"));
            let out = flag_value(rest, "--out")?
                .map(PathBuf::from)
                .unwrap_or_else(|| root.join("crates/genzoo-datasets/data/mnist-mini"));
            mnist_mini::run(&src, &out)?;
            println!("wrote {}", out.display());
            Ok(ExitCode::SUCCESS)
        }
        "-h" | "--help" | "help" => {
            println!("{}", usage());
            Ok(ExitCode::SUCCESS)
        }
        other => bail!("unknown command '{other}'\n{}", usage()),
    }
}

/// The value after `flag` (`--flag v` or `--flag=v`), if present.
fn flag_value(args: &[String], flag: &str) -> Result<Option<String>> {
    for (i, a) in args.iter().enumerate() {
        if a == flag {
            return args
                .get(i + 1)
                .cloned()
                .map(Some)
                .with_context(|| format!("{flag} needs a value"));
        }
        if let Some(v) = a.strip_prefix(&format!("{flag}=")) {
            return Ok(Some(v.to_string()));
        }
    }
    Ok(None)
}

fn status(cmd: &mut Command) -> Result<ExitCode> {
    let st = cmd.status().with_context(|| format!("running {cmd:?}"))?;
    Ok(match st.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(c) => ExitCode::from(u8::try_from(c).unwrap_or(1)),
        None => ExitCode::FAILURE,
    })
}

/// Runs the `genzoo` binary with the features of `--backend` (default flex).
fn genzoo(verb: &str, rest: &[String]) -> Result<ExitCode> {
    let backend = flag_value(rest, "--backend")?.unwrap_or_else(|| "flex".into());
    if !BACKENDS.contains(&backend.as_str()) {
        eprintln!(
            "unknown backend '{backend}'; expected one of: {}",
            BACKENDS.join(", ")
        );
        return Ok(ExitCode::from(2));
    }
    let mut cmd = Command::new(env!("CARGO"));
    cmd.current_dir(workspace_root())
        .args([
            "run",
            "--quiet",
            "--release",
            "-p",
            "genzoo-cli",
            "--bin",
            "genzoo",
            "--no-default-features",
        ])
        .args(["--features", &backend, "--", verb])
        .args(rest);
    status(&mut cmd)
}

fn test(rest: &[String]) -> Result<ExitCode> {
    let wgpu = rest.iter().any(|a| a == "--wgpu");
    if let Some(bad) = rest.iter().find(|a| *a != "--wgpu") {
        bail!("unknown test flag '{bad}' (only --wgpu)");
    }
    let root = workspace_root();
    // Everything in release: burn's kernels are ~40x slower unoptimized, and `cargo xtask train`
    // uses the same profile, so one build serves both.
    let code = status(Command::new(env!("CARGO")).current_dir(&root).args([
        "test",
        "--release",
        "--workspace",
    ]))?;
    if code != ExitCode::SUCCESS || !wgpu {
        return Ok(code);
    }
    // The wgpu pass: the backend-parity tests, on whatever adapter wgpu picks (Mesa lavapipe in CI).
    status(
        Command::new(env!("CARGO"))
            .current_dir(&root)
            .env("GENZOO_TEST_BACKEND", "wgpu")
            // `--workspace` keeps feature unification identical to the first pass plus `wgpu`, so only
            // burn's wgpu-dependent crates are rebuilt.
            .args([
                "test",
                "--release",
                "--workspace",
                "--features",
                "genzoo-tests/wgpu",
                "--test",
                "wgpu",
            ]),
    )
}
