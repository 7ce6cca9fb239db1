//! The importance-weighted test log-likelihood of a trained VAE run (Burda et al. 2015,
//! arXiv:1509.00519): the `−log p(x)` estimate the literature reports, with k = 5000 by default.
//!
//! ```text
//! GENZOO_DATA_DIR=/path/to/datasets cargo run --release --example vae_iwae -- RUN_DIR \
//!     [--k 5000] [--chunk 100] [--start 0] [--n 10000] [--checkpoint best|last] [--seed 0]
//! ```
//!
//! The test set is binarized once with the same fixed seed as training-time evaluation. A running
//! mean and its standard error are printed as batches finish, so a partial run is still a number
//! for the images it covered (`n` test images from index `start`; a block of 200 images starting at
//! `s` always uses the noise seed `seed ^ s`, so split runs add up to the unsplit one).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use genzoo_cli::config::RunConfig;
use genzoo_datasets::{DataOptions, DatasetKind, Split};
use genzoo_train::{Backend, Checkpoint, RunDir};
use genzoo_vae::VaeConfig;
use genzoo_vae::train::{check_config, load_model, test_scores};

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let mut run_dir: Option<PathBuf> = None;
    let (mut k, mut chunk, mut n, mut seed, mut first) =
        (5000usize, 100usize, usize::MAX, 0u64, 0usize);
    let mut which = "best".to_string();
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().with_context(|| format!("{name} needs a value"));
        match a.as_str() {
            "--k" => k = value("--k")?.parse()?,
            "--chunk" => chunk = value("--chunk")?.parse()?,
            "--n" => n = value("--n")?.parse()?,
            "--start" => first = value("--start")?.parse()?,
            "--seed" => seed = value("--seed")?.parse()?,
            "--checkpoint" => which = value("--checkpoint")?,
            s if s.starts_with("--") => bail!("unknown flag {s}"),
            s => run_dir = Some(PathBuf::from(s)),
        }
    }
    let run_dir = run_dir.context(
        "usage: vae_iwae RUN_DIR [--k K] [--chunk C] [--start S] [--n N] [--checkpoint best|last] [--seed S]",
    )?;
    if k == 0 || chunk == 0 {
        bail!("--k and --chunk must be positive");
    }
    let run = RunDir::open(&run_dir)?;
    let cfg = RunConfig::from_toml(
        &run.config_path().display().to_string(),
        &run.read_config()?,
    )?;
    // Fields added after a run was made take their defaults.
    let mut table = toml::Table::try_from(VaeConfig::new())?;
    table.extend(cfg.model_config.clone());
    let vae: VaeConfig = table
        .try_into()
        .context("[model_config] is not a VAE configuration")?;
    check_config(&vae, cfg.dataset.parse()?)?;
    let device = cfg.backend.parse::<Backend>()?.device()?;
    let path = run.checkpoint_path(&which);
    let ckpt = Checkpoint::load(&path)?;
    let model = load_model(&vae, &ckpt, &path, &device)?;
    let kind: DatasetKind = cfg.dataset.parse()?;
    let test = genzoo_datasets::load(kind, Split::Test, &DataOptions::default())?;
    if first >= test.len() {
        bail!("--start {first} is past the {} test images", test.len());
    }
    let end = first.saturating_add(n).min(test.len());
    let n = end - first;
    println!(
        "{}: {} ({} at step {}), {} test images, k = {k}, chunk = {chunk}",
        run_dir.display(),
        cfg.model,
        which,
        ckpt.meta.step,
        n
    );
    let started = Instant::now();
    let (mut all, mut nelbo_sum) = (Vec::with_capacity(n), 0.0);
    let block = 200;
    for start in (first..end).step_by(block) {
        let idx: Vec<usize> = (start..(start + block).min(end)).collect();
        let s = test_scores(
            &model,
            &vae,
            &test,
            &idx,
            k,
            chunk,
            seed ^ start as u64,
            &device,
        );
        nelbo_sum += s.nelbo * idx.len() as f64;
        all.extend(s.iwae_values);
        let m = all.iter().sum::<f64>() / all.len() as f64;
        let var = all.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (all.len().max(2) - 1) as f64;
        println!(
            "images {:>5}  -ELBO {:8.3}  -L_{k} {:8.3} ± {:.3} nats  ({:.0} s)",
            all.len(),
            nelbo_sum / all.len() as f64,
            m,
            (var / all.len() as f64).sqrt(),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
