//! `genzoo export` and `genzoo import`: flags, then `genzoo_train::weights` (the file: safetensors,
//! the run's `config.toml` in its metadata).

use std::path::PathBuf;

use clap::Args;
use genzoo_train::WeightsFile;
use genzoo_train::weights::{export_run, import_weights_file};

use crate::{Error, Result, eval, models};

/// `genzoo export` flags.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The run directory.
    pub run: PathBuf,
    /// Which checkpoint: best or last.
    #[arg(long, default_value = "best")]
    pub checkpoint: String,
    /// The safetensors file to write (never replaced). Its metadata holds the run's config.toml
    /// (`genzoo.config`), `genzoo.model`, `genzoo.layout` and `genzoo.step`.
    #[arg(long)]
    pub out: PathBuf,
    /// Tensor names: burn (burn's module paths) or pytorch (Linear weights [out, in], norms'
    /// weight/bias, no enum variants: what the PyTorch twins in bench/pytorch load).
    #[arg(long, default_value = "burn", value_parser = ["burn", "pytorch"])]
    pub layout: String,
    /// Also write fixed inputs and the networks' outputs on them (a second safetensors file), to
    /// check another implementation of the networks against genzoo's.
    #[arg(long)]
    pub probe: Option<PathBuf>,
}

/// `genzoo import` flags.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// A safetensors file written by `genzoo export` (or saved from PyTorch with its metadata).
    #[arg(required_unless_present = "pretrained")]
    pub file: Option<PathBuf>,
    /// Shipped weights instead of a file (`genzoo models` lists them): a run to continue training
    /// from, or to draw figures of.
    #[arg(long, conflicts_with = "file")]
    pub pretrained: Option<String>,
    /// The model the file must hold (see `genzoo models`); with --pretrained, the shipped model's.
    #[arg(long, required_unless_present = "pretrained")]
    pub model: Option<String>,
    /// The run directory to make; an existing one is never replaced.
    #[arg(long)]
    pub out: PathBuf,
}

/// `genzoo export`: prints the files written.
pub fn export(args: &ExportArgs) -> Result<()> {
    let layout = args.layout.parse()?;
    let mut run = eval::load_run(&args.run, &args.checkpoint, None)?;
    let config = run.run_dir()?.read_config()?;
    let probe = args.probe.as_deref();
    let task = run.task.as_mut();
    for path in export_run(task, &config, run.step, layout, &args.out, probe)? {
        println!("{}", path.display());
    }
    Ok(())
}

/// `genzoo import`: prints the run directory made.
pub fn import(args: &ImportArgs) -> Result<()> {
    let (weights, model) = match (&args.pretrained, &args.file, &args.model) {
        (Some(name), _, model) => {
            let entry = models::find_pretrained(name)?;
            (entry.weights()?, model.as_deref().unwrap_or(entry.model))
        }
        (None, Some(file), Some(model)) => (WeightsFile::read(file)?, model.as_str()),
        _ => {
            return Err(Error::Config(
                "give a weights file and --model, or --pretrained NAME".into(),
            ));
        }
    };
    if models::classic::is_classic(model) {
        return Err(Error::Config(format!(
            "'{model}' is a classic fit: it has no network weights to import"
        )));
    }
    models::find(model)?;
    let run = import_weights_file(weights, model, &args.out, |cfg| {
        let device = cfg.backend.device()?.autodiff();
        device.seed(cfg.seed);
        models::find(&cfg.model)?.build(cfg, &device)
    })?;
    println!("{}", run.display());
    Ok(())
}
