//! `genzoo bench`: training throughput, sampling time and peak memory of the reference presets.
//!
//! Each preset runs in a child process of its own (this binary, `bench --child`), so that its peak
//! resident memory is its own and one preset's allocator state does not slow the next. A preset's
//! training step is the real one — the model's `Task::step` fed by the same batch stream as `genzoo
//! train` — timed after warm-up; the reported rate is the median over repeats.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use clap::Args;
use genzoo_datasets::rng::Rng;
use genzoo_datasets::{DataOptions, DatasetKind, Split};
use genzoo_train::{Backend, Batches, Error, Result};
use serde_json::{Map, Value};

use crate::{TrainArgs, models, resolve_config};

/// A reference preset: the registry model and the batch size its issue names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preset {
    /// Registry name.
    pub model: &'static str,
    /// Images per training batch.
    pub batch_size: usize,
}

/// The presets `genzoo bench` measures, in order (those not in this build's registry are skipped).
pub const PRESETS: [Preset; 6] = [
    Preset {
        model: "autoencoder",
        batch_size: 64,
    },
    Preset {
        model: "vae",
        batch_size: 128,
    },
    Preset {
        model: "vae-conv",
        batch_size: 128,
    },
    Preset {
        model: "pixelcnn",
        batch_size: 64,
    },
    Preset {
        model: "dcgan",
        batch_size: 64,
    },
    Preset {
        model: "gan",
        batch_size: 64,
    },
];

/// `genzoo bench` flags.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Group of benchmarks: omitted for the training presets, `unsupervised` for the classic fits on
    /// full MNIST (needs GENZOO_DATA_DIR).
    #[arg(value_name = "GROUP")]
    pub group: Option<String>,
    /// Presets to run, comma-separated (default: all of autoencoder, vae, vae-conv, pixelcnn, dcgan, gan
    /// that this build has).
    #[arg(long)]
    pub only: Option<String>,
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

fn presets(only: Option<&str>) -> Result<Vec<Preset>> {
    let known: Vec<&str> = models::registry().iter().map(|m| m.name).collect();
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
            let preset = PRESETS
                .iter()
                .find(|p| p.model == name)
                .copied()
                .ok_or_else(|| {
                    let names: Vec<&str> = PRESETS.iter().map(|p| p.model).collect();
                    Error::Config(format!(
                        "unknown bench preset '{name}'; known: {}",
                        names.join(", ")
                    ))
                })?;
            models::find(name)?;
            Ok(preset)
        })
        .collect()
}

/// Peak resident set size of this process in MiB (Linux `VmHWM`); `None` where unavailable.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

/// Measures one preset in this process.
pub fn measure(preset: Preset, args: &BenchArgs) -> Result<Map<String, Value>> {
    if args.repeats == 0 || args.steps == 0 {
        return Err(Error::Config(
            "--repeats and --steps must be at least 1".into(),
        ));
    }
    let train_args = TrainArgs {
        model: Some(preset.model.into()),
        dataset: Some("mnist-mini".into()),
        backend: args.backend.clone(),
        batch_size: Some(preset.batch_size),
        ..TrainArgs::default()
    };
    let cfg = resolve_config(&train_args)?;
    let backend: Backend = cfg.backend.parse()?;
    let device = backend.device()?.autodiff();
    device.seed(0);
    let spec = models::find(preset.model)?;
    let mut task = (spec.build)(&cfg, &device)?;
    let train = genzoo_datasets::load(
        DatasetKind::MnistMini,
        Split::Train,
        &DataOptions::default(),
    )?;
    let mut batches = Batches::new(
        &train,
        device.clone(),
        preset.batch_size,
        task.binarization(),
        0,
        0,
        0,
    );
    let mut rng = Rng::seed_from_u64(0);
    for _ in 0..args.warmup {
        task.step(&mut batches, &mut rng);
    }
    let mut rates = Vec::with_capacity(args.repeats);
    let mut step_s = Vec::with_capacity(args.repeats);
    for _ in 0..args.repeats {
        let t0 = Instant::now();
        let mut images = 0;
        for _ in 0..args.steps {
            images += task.step(&mut batches, &mut rng).images;
        }
        let dt = t0.elapsed().as_secs_f64();
        rates.push(images as f64 / dt);
        step_s.push(dt / args.steps as f64);
    }
    let num = genzoo_train::run::num;
    let mut out = Map::new();
    out.insert("model".into(), Value::from(preset.model));
    out.insert("backend".into(), Value::from(backend.to_string()));
    out.insert("batch_size".into(), Value::from(preset.batch_size));
    out.insert("train_images_per_sec".into(), num(median(rates)));
    out.insert("train_step_s".into(), num(median(step_s)));
    if args.samples > 0 {
        let t0 = Instant::now();
        if task.generate(args.samples, 0).is_some() {
            out.insert("sample_n".into(), Value::from(args.samples));
            out.insert("sample_s".into(), num(t0.elapsed().as_secs_f64()));
        }
    }
    if let Some(mib) = peak_rss_mib() {
        out.insert("peak_rss_mib".into(), num(mib));
    }
    Ok(out)
}

/// `genzoo bench`: measures each preset in a child process; returns one record per preset.
pub fn bench(args: &BenchArgs) -> Result<Vec<Map<String, Value>>> {
    if args.group.as_deref() == Some(crate::bench_unsup::GROUP) {
        return crate::bench_unsup::bench(args);
    }
    let presets = presets(args.only.as_deref())?;
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
        let out = cmd.output().map_err(|source| Error::Io {
            path: exe.clone(),
            source,
        })?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let record = stdout
            .lines()
            .rev()
            .find_map(|l| serde_json::from_str::<Map<String, Value>>(l).ok())
            .filter(|_| out.status.success())
            .ok_or_else(|| {
                let stderr = String::from_utf8_lossy(&out.stderr);
                let last = stderr
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("no output");
                Error::Config(format!("bench of '{}' failed: {last}", p.model))
            })?;
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

/// Prints the records as a table.
pub fn print(records: &[Map<String, Value>]) {
    if crate::bench_unsup::is_unsup(records) {
        return crate::bench_unsup::print(records);
    }
    println!(
        "{:<12} {:>6} {:>12} {:>10} {:>14} {:>10}",
        "model", "batch", "train img/s", "step s", "sample 16 s", "peak MiB"
    );
    for r in records {
        let f = |k: &str| r.get(k).and_then(Value::as_f64);
        let opt = |v: Option<f64>, prec: usize| {
            v.map_or_else(|| "—".to_string(), |x| format!("{x:.prec$}"))
        };
        println!(
            "{:<12} {:>6} {:>12} {:>10} {:>14} {:>10}",
            r.get("model").and_then(Value::as_str).unwrap_or("?"),
            r.get("batch_size").and_then(Value::as_u64).unwrap_or(0),
            opt(f("train_images_per_sec"), 1),
            opt(f("train_step_s"), 3),
            opt(f("sample_s"), 2),
            opt(f("peak_rss_mib"), 0),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_even_and_empty() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(vec![]).is_nan());
    }

    #[test]
    fn unknown_presets_are_named() {
        let e = presets(Some("autoencoder,bogus")).expect_err("bogus");
        assert!(
            e.to_string().contains("unknown bench preset 'bogus'"),
            "{e}"
        );
        assert_eq!(
            presets(Some("autoencoder")).expect("known")[0].batch_size,
            64
        );
    }

    #[test]
    fn peak_memory_is_read_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(peak_rss_mib().is_some_and(|m| m > 1.0));
        }
    }
}
