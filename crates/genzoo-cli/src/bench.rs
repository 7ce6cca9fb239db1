//! `genzoo bench`: training throughput, sampling time and peak memory of the reference presets.
//!
//! Each preset runs in a child process of its own (this binary, `bench --child`), so that its peak
//! resident memory is its own and one preset's allocator state does not slow the next. A preset's
//! training step is the real one — the model's `Task::step` fed by the same batch stream as `genzoo
//! train` — timed after warm-up; the reported rate is the median over repeats.

use std::path::PathBuf;
use std::process::Command;

use clap::Args;
use genzoo_datasets::{DataOptions, DatasetKind, Split};
use genzoo_train::bench::{BenchOptions, Machine, record};

use crate::{Error, Result};
use serde_json::{Map, Value};

use crate::{TrainArgs, models, resolve_config};

/// A reference preset: the registry model and the batch size it is measured at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preset {
    /// Registry name.
    pub model: &'static str,
    /// Images per training batch.
    pub batch_size: usize,
}

/// The presets `genzoo bench` measures, in order (those not in this build's registry are skipped):
/// model and batch size.
pub const PRESETS: [Preset; 9] = [
    preset("autoencoder", 64),
    preset("vae", 128),
    preset("vae-conv", 128),
    preset("pixelcnn", 64),
    preset("cond-pixelcnn", 32),
    preset("row-lstm", 16),
    preset("diagonal-bilstm", 16),
    preset("dcgan", 64),
    preset("gan", 64),
];

const fn preset(model: &'static str, batch_size: usize) -> Preset {
    Preset { model, batch_size }
}

/// The groups `genzoo bench GROUP` names, and their presets.
pub const GROUPS: [(&str, &[&str]); 6] = [
    ("autoencoder", &["autoencoder"]),
    ("vae", &["vae", "vae-conv"]),
    ("pixelcnn", &["pixelcnn", "cond-pixelcnn"]),
    ("pixelrnn", &["row-lstm", "diagonal-bilstm"]),
    ("gan", &["dcgan", "gan"]),
    (
        "all",
        &["autoencoder", "vae", "vae-conv", "pixelcnn", "dcgan", "gan"],
    ),
];

/// `genzoo bench` flags.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// A family to measure: autoencoder, vae, pixelcnn, pixelrnn, gan or all (the default) — training presets
    /// on mini-MNIST; or, on full MNIST (needs GENZOO_DATA_DIR), `unsupervised`, the classic fits, or
    /// `metrics`, genzoo-LeNet's feature extraction and a whole `calibrate`.
    #[arg(value_name = "GROUP")]
    pub group: Option<String>,
    /// Models to run, comma-separated: the presets, or any registry model at its default batch size
    /// (default: every preset this build has).
    #[arg(long)]
    pub only: Option<String>,
    /// CPU threads for the CPU backends (sets `RAYON_NUM_THREADS` in each preset's process; default:
    /// every core this process may run on — pin cores with `taskset`).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Untimed steps before measuring.
    #[arg(long, default_value_t = 3)]
    pub warmup: usize,
    /// Timed repeats; the median is reported.
    #[arg(long, default_value_t = 5)]
    pub repeats: usize,
    /// Training steps per repeat.
    #[arg(long, default_value_t = 5)]
    pub steps: usize,
    /// Samples drawn for the sampling time (0 to skip).
    #[arg(long, default_value_t = 16)]
    pub samples: usize,
    /// Backend (must be compiled in).
    #[arg(long)]
    pub backend: Option<String>,
    /// Also write the results as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Internal: measure one preset in this process and print its JSON.
    #[arg(long, hide = true)]
    pub child: bool,
}

fn presets(group: Option<&str>, only: Option<&str>) -> Result<Vec<Preset>> {
    let known: Vec<&str> = models::registry().iter().map(|m| m.name).collect();
    let group_list;
    let only = match (group, only) {
        (Some(_), Some(_)) => {
            return Err(Error::Config("give a GROUP or --only, not both".into()));
        }
        (Some(g), None) => {
            let (_, names) = GROUPS.iter().find(|(n, _)| *n == g).ok_or_else(|| {
                let mut names: Vec<&str> = GROUPS.iter().map(|(n, _)| *n).collect();
                names.extend(crate::bench_mnist::GROUPS);
                Error::Config(format!(
                    "unknown bench group '{g}'; known: {}",
                    names.join(", ")
                ))
            })?;
            group_list = names
                .iter()
                .filter(|n| known.contains(n))
                .copied()
                .collect::<Vec<_>>()
                .join(",");
            Some(group_list.as_str())
        }
        (None, only) => only,
    };
    let Some(only) = only else {
        return Ok(PRESETS
            .iter()
            .copied()
            .filter(|p| known.contains(&p.model))
            .collect());
    };
    only.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|name| {
            let spec = models::find(name)?;
            Ok(PRESETS
                .iter()
                .find(|p| p.model == name)
                .copied()
                .unwrap_or(preset(spec.name, spec.defaults.batch_size)))
        })
        .collect()
}

/// Measures one preset in this process.
pub fn measure(preset: Preset, args: &BenchArgs) -> Result<Map<String, Value>> {
    let train_args = TrainArgs {
        model: Some(preset.model.into()),
        dataset: Some("mnist-mini".into()),
        backend: args.backend.clone(),
        batch_size: Some(preset.batch_size),
        ..TrainArgs::default()
    };
    let cfg = resolve_config(&train_args)?;
    let backend = cfg.backend;
    let device = backend.device()?.autodiff();
    device.seed(0);
    // The configuration is read once: it builds the task and counts its FLOP.
    let model = models::ModelConfig::read(preset.model, &cfg.model_config)?;
    let mut task = model.task(preset.model, &cfg, &device)?;
    let train = genzoo_datasets::load(
        DatasetKind::MnistMini,
        Split::Train,
        &DataOptions::default(),
    )?;
    let test = genzoo_datasets::load(DatasetKind::MnistMini, Split::Test, &DataOptions::default())?;
    let opts = BenchOptions {
        batch_size: preset.batch_size,
        warmup: args.warmup,
        repeats: args.repeats,
        steps: args.steps,
        samples: args.samples,
    };
    let flop = model.train_flop_per_image();
    let machine = backend.is_cpu().then(Machine::detect);
    let mut out = Map::new();
    out.insert("model".into(), Value::from(preset.model));
    out.insert("backend".into(), Value::from(backend.to_string()));
    let measured = record(
        task.as_mut(),
        [&train, &test],
        &device,
        flop,
        machine,
        &opts,
    )?;
    out.extend(measured);
    Ok(out)
}

/// `genzoo bench`: measures each preset in a child process; returns one record per preset.
pub fn bench(args: &BenchArgs) -> Result<Vec<Map<String, Value>>> {
    if let Some(g) = args.group.as_deref()
        && crate::bench_mnist::GROUPS.contains(&g)
    {
        return crate::bench_mnist::bench(g, args);
    }
    let presets = presets(args.group.as_deref(), args.only.as_deref())?;
    if args.child {
        let [preset] = presets.as_slice() else {
            return Err(Error::Config("--child measures exactly one preset".into()));
        };
        return Ok(vec![measure(*preset, args)?]);
    }
    let exe = std::env::current_exe().map_err(|source| Error::Io {
        path: "genzoo".into(),
        source,
    })?;
    let mut records = Vec::new();
    for p in presets {
        tracing::info!(model = p.model, "benchmarking");
        let mut cmd = Command::new(&exe);
        cmd.args(["bench", "--child", "--only", p.model])
            .args([
                "--warmup",
                &args.warmup.to_string(),
                "--repeats",
                &args.repeats.to_string(),
            ])
            .args([
                "--steps",
                &args.steps.to_string(),
                "--samples",
                &args.samples.to_string(),
            ]);
        if let Some(b) = &args.backend {
            cmd.args(["--backend", b]);
        }
        if let Some(t) = args.threads {
            if t == 0 {
                return Err(Error::Config("--threads must be at least 1".into()));
            }
            cmd.env("RAYON_NUM_THREADS", t.to_string());
        }
        let out = cmd.output().map_err(|source| Error::Io {
            path: exe.clone(),
            source,
        })?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let record = stdout
            .lines()
            .rev()
            .find_map(|l| serde_json::from_str::<Map<String, Value>>(l).ok());
        let record = match record {
            Some(mut r) => {
                if !out.status.success() {
                    // Seen with NVIDIA's Vulkan driver: the process crashes while tearing the
                    // device down, after the measurement was printed. Keep it, and say so.
                    let why = child_failure(&out);
                    tracing::warn!(
                        model = p.model,
                        "preset process failed after reporting: {why}"
                    );
                    r.insert("exit_after_report".into(), Value::from(why));
                }
                r
            }
            None => {
                // One preset's failure (a backend bug, a driver crash) must not hide the others:
                // record why it failed and go on; `bench` reports failure at the end.
                let why = child_failure(&out);
                tracing::error!(model = p.model, "bench failed: {why}");
                let mut r = Map::new();
                r.insert("model".into(), Value::from(p.model));
                r.insert("batch_size".into(), Value::from(p.batch_size));
                r.insert("error".into(), Value::from(why));
                r
            }
        };
        records.push(record);
    }
    if let Some(path) = &args.json {
        let text =
            serde_json::to_string_pretty(&records).map_err(|e| Error::Config(e.to_string()))?;
        genzoo_train::fsutil::write_atomic(path, text.as_bytes()).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
    }
    Ok(records)
}

/// Why a preset's child process failed: its exit status (or the signal that killed it) and the
/// last line it wrote to stderr.
fn child_failure(out: &std::process::Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no output on stderr");
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = out.status.signal() {
            return format!("killed by signal {sig}; {last}");
        }
    }
    match out.status.code() {
        Some(0) => format!("no result line; {last}"),
        Some(code) => format!("exit status {code}; {last}"),
        None => last.to_string(),
    }
}

/// Prints the records as a table.
pub fn print(records: &[Map<String, Value>]) {
    if !crate::bench_mnist::print(records) {
        print_presets(records);
    }
    let text = |r: &Map<String, Value>, k: &str| r.get(k).and_then(Value::as_str).map(String::from);
    if let Some(r) = records.iter().find(|r| r.contains_key("isa")) {
        println!(
            "CPU: {}, {}, {} threads",
            text(r, "cpu_model").unwrap_or_else(|| "unknown model".into()),
            text(r, "isa").unwrap_or_default(),
            r.get("threads").and_then(Value::as_u64).unwrap_or(0)
        );
    }
}

fn print_presets(records: &[Map<String, Value>]) {
    println!(
        "{:<12} {:>6} {:>12} {:>10} {:>9} {:>7} {:>14} {:>10}",
        "model", "batch", "train img/s", "step s", "GFLOP/s", "% peak", "sample 16 s", "peak MiB"
    );
    for r in records {
        if let Some(e) = r.get("error").and_then(Value::as_str) {
            println!(
                "{:<12} failed: {e}",
                r.get("model").and_then(Value::as_str).unwrap_or("?")
            );
            continue;
        }
        let f = |k: &str| r.get(k).and_then(Value::as_f64);
        let opt = |v: Option<f64>, prec: usize| {
            v.map_or_else(|| "—".to_string(), |x| format!("{x:.prec$}"))
        };
        println!(
            "{:<12} {:>6} {:>12} {:>10} {:>9} {:>7} {:>14} {:>10}",
            r.get("model").and_then(Value::as_str).unwrap_or("?"),
            r.get("batch_size").and_then(Value::as_u64).unwrap_or(0),
            opt(f("train_images_per_sec"), 1),
            opt(f("train_step_s"), 3),
            opt(f("gflop_per_sec"), 1),
            opt(f("percent_of_peak"), 1),
            opt(f("sample_s"), 2),
            opt(f("peak_rss_mib"), 0),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_pick_their_presets_and_exclude_only() {
        let names = |v: Vec<Preset>| v.iter().map(|p| p.model).collect::<Vec<_>>();
        assert_eq!(
            names(presets(Some("vae"), None).expect("vae")),
            ["vae", "vae-conv"]
        );
        assert_eq!(
            names(presets(Some("gan"), None).expect("gan")),
            ["dcgan", "gan"]
        );
        let e = presets(Some("gans"), None).expect_err("unknown group");
        assert!(e.to_string().contains("unknown bench group 'gans'"), "{e}");
        let e = presets(Some("vae"), Some("vae")).expect_err("both");
        assert!(e.to_string().contains("not both"), "{e}");
    }

    #[test]
    fn unknown_models_are_named_and_others_take_their_default_batch() {
        let e = presets(None, Some("autoencoder,bogus")).expect_err("bogus");
        assert!(e.to_string().contains("unknown model 'bogus'"), "{e}");
        let got = presets(None, Some("pixelcnn,gated-pixelcnn")).expect("known");
        assert_eq!(
            got,
            [preset("pixelcnn", 64), preset("gated-pixelcnn", 32)],
            "a preset's batch, else the registry default"
        );
    }
}
