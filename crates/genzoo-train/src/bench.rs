//! Timing a task's training steps, and what a speed number needs beside it: the machine it was
//! measured on (CPU model, the widest vector ISA, threads, nominal peak) and the peak memory.
//!
//! ```
//! use genzoo_train::bench::{Machine, median};
//! let m = Machine::from_cpuinfo("model name : Some CPU\ncpu MHz : 2000\nflags : avx avx2 fma\n", 2);
//! assert_eq!(m.isa, "avx2+fma");
//! assert_eq!(m.peak_gflops, Some(2.0 * 2.0 * 32.0));
//! assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
//! ```

use std::time::Instant;

use burn::tensor::Device;
use genzoo_datasets::ImageSet;
use genzoo_datasets::rng::Rng;
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::run::num;
use crate::trainer::{Batches, StepBatches, Task};

/// What a bench record measures of a task.
#[derive(Debug, Clone, Copy)]
pub struct BenchOptions {
    /// Images per training step.
    pub batch_size: usize,
    /// Untimed steps first.
    pub warmup: usize,
    /// Timed repeats; the median is reported.
    pub repeats: usize,
    /// Training steps per repeat.
    pub steps: usize,
    /// Samples drawn for the sampling time (0: none).
    pub samples: usize,
}

/// One bench record of `task` on `device` (seed 0): training throughput on batches of `train`,
/// with the FLOP rate where the FLOP per image are known, and its share of the nominal peak of
/// `machine` (the CPU the device runs on; `None` for an accelerator); the time to draw
/// `opts.samples` samples; the task's own extras on `test`; the process's peak memory.
pub fn record(
    task: &mut dyn Task,
    data: [&ImageSet; 2],
    device: &Device,
    flop_per_image: Option<f64>,
    machine: Option<Machine>,
    opts: &BenchOptions,
) -> Result<Map<String, Value>> {
    let [train, test] = data;
    let binarization = task.binarization();
    let mut batches = Batches::new(
        train,
        device.clone(),
        opts.batch_size,
        binarization,
        0,
        0,
        0,
    );
    let mut rng = Rng::seed_from_u64(0);
    let timing = time_steps(
        task,
        &mut batches,
        &mut rng,
        opts.warmup,
        opts.repeats,
        opts.steps,
    )?;
    let mut out = Map::new();
    out.insert("batch_size".into(), Value::from(opts.batch_size));
    out.insert("train_images_per_sec".into(), num(timing.images_per_sec));
    out.insert("train_step_s".into(), num(timing.step_s));
    if let Some(per_image) = flop_per_image {
        let flop = per_image * opts.batch_size as f64;
        let rate = flop / timing.step_s / 1e9;
        out.insert("gflop_per_step".into(), num(flop / 1e9));
        out.insert("gflop_per_sec".into(), num(rate));
        if let Some(peak) = machine.as_ref().and_then(|m| m.peak_gflops) {
            out.insert("peak_gflop_per_sec".into(), num(peak));
            out.insert("percent_of_peak".into(), num(100.0 * rate / peak));
        }
    }
    if let Some(m) = machine {
        out.insert("threads".into(), Value::from(m.threads));
        out.insert("isa".into(), Value::from(m.isa));
        if let Some(model) = m.cpu_model {
            out.insert("cpu_model".into(), Value::from(model));
        }
    }
    if opts.samples > 0
        && let Some(g) = task.generator()
    {
        let t0 = Instant::now();
        g.generate(opts.samples, 0)?;
        out.insert("sample_n".into(), Value::from(opts.samples));
        out.insert("sample_s".into(), num(t0.elapsed().as_secs_f64()));
    }
    for (k, v) in task.bench_extras(test, opts.samples) {
        out.insert(k, num(v));
    }
    if let Some(mib) = peak_rss_mib() {
        out.insert("peak_rss_mib".into(), num(mib));
    }
    Ok(out)
}

/// The median of `xs` (NaN for none).
pub fn median(mut xs: Vec<f64>) -> f64 {
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

/// Training speed of a task: medians over the timed repeats.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepTiming {
    /// Training images per second.
    pub images_per_sec: f64,
    /// Seconds per optimisation step.
    pub step_s: f64,
}

/// Times `task`'s real training step on `batches`: `warmup` untimed steps, then `repeats` timed
/// runs of `steps` steps each; the medians over the repeats.
pub fn time_steps(
    task: &mut dyn Task,
    batches: &mut Batches<'_>,
    rng: &mut Rng,
    warmup: usize,
    repeats: usize,
    steps: usize,
) -> Result<StepTiming> {
    if repeats == 0 || steps == 0 {
        return Err(Error::Config(
            "--repeats and --steps must be at least 1".into(),
        ));
    }
    let mut step = |task: &mut dyn Task| {
        let n = task.batches_per_step();
        let out = task.step(StepBatches::take(batches, n), rng);
        // Reading its numbers waits for the device, so the step's time is all of its work.
        out.loss.read();
        for (_, part) in &out.parts {
            part.read();
        }
        out.images
    };
    for _ in 0..warmup {
        step(task);
    }
    let mut rates = Vec::with_capacity(repeats);
    let mut step_s = Vec::with_capacity(repeats);
    for _ in 0..repeats {
        let t0 = Instant::now();
        let mut images = 0;
        for _ in 0..steps {
            images += step(task);
        }
        let dt = t0.elapsed().as_secs_f64();
        rates.push(images as f64 / dt);
        step_s.push(dt / steps as f64);
    }
    Ok(StepTiming {
        images_per_sec: median(rates),
        step_s: median(step_s),
    })
}

/// The machine a CPU measurement ran on, as every speed number is to be read with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Machine {
    /// The CPU's model name (`/proc/cpuinfo`), `None` where unknown.
    pub cpu_model: Option<String>,
    /// The widest vector ISA the CPU lists: `avx512f`, `avx2+fma`, `avx`, or `sse` (also off x86).
    pub isa: &'static str,
    /// Threads the CPU backends use.
    pub threads: usize,
    /// Nominal single-precision peak of those threads in GFLOP/s: the listed clock times FLOP per
    /// cycle of the widest FMA (two FMA pipes assumed: 64 with AVX-512, 32 with AVX2 + FMA, 16 with
    /// AVX, 8 otherwise). An estimate — turbo clocks, one-pipe AVX-512 parts and SMT siblings
    /// sharing pipes all move the true figure.
    pub peak_gflops: Option<f64>,
}

impl Machine {
    /// This machine, with [`cpu_threads`] threads (Linux `/proc/cpuinfo`; elsewhere only the
    /// thread count is known).
    pub fn detect() -> Self {
        let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        Self::from_cpuinfo(&info, cpu_threads())
    }

    /// The machine described by the text of `/proc/cpuinfo`, using `threads` threads.
    pub fn from_cpuinfo(info: &str, threads: usize) -> Self {
        let field = |name: &str| {
            info.lines()
                .find(|l| l.split(':').next().is_some_and(|k| k.trim() == name))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        };
        let flags = field("flags").unwrap_or_default();
        let has = |f: &str| flags.split_whitespace().any(|x| x == f);
        // AMD's family 25 (Zen 3, Zen 4) executes AVX-512 on 256-bit units: Zen 4's peak is AVX2's.
        let amd_256_bit = field("vendor_id").as_deref() == Some("AuthenticAMD")
            && field("cpu family").as_deref() == Some("25");
        let (isa, per_cycle) = if has("avx512f") {
            ("avx512f", if amd_256_bit { 32.0 } else { 64.0 })
        } else if has("avx2") && has("fma") {
            ("avx2+fma", 32.0)
        } else if has("avx") {
            ("avx", 16.0)
        } else {
            ("sse", 8.0)
        };
        let mhz: Option<f64> = field("cpu MHz").and_then(|v| v.parse().ok());
        Self {
            cpu_model: field("model name").filter(|m| !m.is_empty()),
            isa,
            threads,
            peak_gflops: mhz.map(|mhz| threads as f64 * mhz / 1000.0 * per_cycle),
        }
    }
}

/// Threads the CPU backends use in this process: `RAYON_NUM_THREADS` if set, else every core this
/// process may run on (which `taskset` restricts).
pub fn cpu_threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n: &usize| n > 0)
        .or_else(|| std::thread::available_parallelism().ok().map(|n| n.get()))
        .unwrap_or(1)
}

/// Peak resident set size of this process in MiB (Linux `VmHWM`); `None` where unavailable.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
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
    fn machine_is_read_from_cpuinfo() {
        let info = "processor\t: 0\nmodel name\t: AMD EPYC 7B13\ncpu MHz\t\t: 2500.000\nflags\t\t: fpu sse avx avx2 fma\n";
        let m = Machine::from_cpuinfo(info, 2);
        assert_eq!(m.cpu_model.as_deref(), Some("AMD EPYC 7B13"));
        assert_eq!(m.isa, "avx2+fma");
        assert_eq!(m.peak_gflops, Some(2.0 * 2.5 * 32.0));
        let m = Machine::from_cpuinfo("cpu MHz : 2000\nflags : avx avx2 fma avx512f\n", 1);
        assert_eq!((m.isa, m.peak_gflops), ("avx512f", Some(2.0 * 64.0)));
        let zen4 =
            "vendor_id : AuthenticAMD\ncpu family : 25\ncpu MHz : 2000\nflags : avx2 fma avx512f\n";
        let m = Machine::from_cpuinfo(zen4, 1);
        assert_eq!((m.isa, m.peak_gflops), ("avx512f", Some(2.0 * 32.0)));
        assert_eq!(m.cpu_model, None);
        let m = Machine::from_cpuinfo("flags : avx2\n", 1);
        assert_eq!((m.isa, m.peak_gflops), ("sse", None));
    }

    #[test]
    fn this_machine_has_threads_and_on_linux_a_peak_memory() {
        assert!(Machine::detect().threads >= 1);
        if cfg!(target_os = "linux") {
            assert!(peak_rss_mib().is_some_and(|m| m > 1.0));
        }
    }
}
