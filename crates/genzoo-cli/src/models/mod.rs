//! The model registry: every model `genzoo train` knows, with its defaults and how to build it.

pub mod autoencoder;
pub mod vae;

use burn::tensor::Device;
use genzoo_datasets::DatasetKind;
use genzoo_train::{Result, Task};

use crate::config::RunConfig;

/// Training defaults of a model, overridable by `--config` and flags.
#[derive(Debug, Clone)]
pub struct Defaults {
    /// Images per batch.
    pub batch_size: usize,
    /// Epochs when neither `--epochs` nor `--steps` is given.
    pub epochs: u64,
    /// Adam learning rate.
    pub lr: f64,
}

/// One entry of the registry.
pub struct ModelSpec {
    /// The name on the command line.
    pub name: &'static str,
    /// One line for `genzoo models`.
    pub summary: &'static str,
    /// Training defaults.
    pub defaults: Defaults,
    /// The model's reference configuration for a dataset, as a TOML table.
    pub preset: fn(DatasetKind) -> Result<toml::Table>,
    /// Builds the task from a resolved configuration on an autodiff device.
    pub build: fn(&RunConfig, &Device) -> Result<Box<dyn Task>>,
}

fn to_table<T: serde::Serialize>(value: &T) -> Result<toml::Table> {
    toml::Table::try_from(value).map_err(|e| genzoo_train::Error::Config(e.to_string()))
}

fn from_table<T: serde::de::DeserializeOwned>(model: &str, table: &toml::Table) -> Result<T> {
    table
        .clone()
        .try_into()
        .map_err(|e| genzoo_train::Error::Config(format!("[model_config] of '{model}': {e}")))
}

/// All models, in the order `genzoo models` lists them.
pub fn registry() -> Vec<ModelSpec> {
    vec![
        ModelSpec {
            name: "autoencoder",
            summary: "convolutional autoencoder, L2 reconstruction (lecture §1.3)",
            defaults: Defaults {
                batch_size: 64,
                epochs: 10,
                lr: 1e-3,
            },
            preset: |dataset| {
                let cfg = match dataset {
                    DatasetKind::Cifar10 => genzoo_vae::AutoencoderConfig::cifar10(),
                    _ => genzoo_vae::AutoencoderConfig::mnist(),
                };
                to_table(&cfg)
            },
            build: |run, device| {
                let cfg: genzoo_vae::AutoencoderConfig = from_table(&run.model, &run.model_config)?;
                if !cfg.image_size.is_multiple_of(4) || cfg.image_size == 0 {
                    return Err(genzoo_train::Error::Config(format!(
                        "[model_config] image_size must be a positive multiple of 4, got {}",
                        cfg.image_size
                    )));
                }
                Ok(Box::new(autoencoder::AutoencoderTask::new(
                    &cfg, run.lr, device,
                )))
            },
        },
        vae::vae(),
        vae::vae_conv(),
        vae::beta_vae(),
        vae::cvae(),
        vae::vae_2d(),
        vae::iwae(),
    ]
}

/// Looks a model up by name; the error lists the known names.
pub fn find(name: &str) -> Result<ModelSpec> {
    let all = registry();
    let names: Vec<&str> = all.iter().map(|m| m.name).collect();
    let joined = names.join(", ");
    all.into_iter().find(|m| m.name == name).ok_or_else(|| {
        genzoo_train::Error::Config(format!("unknown model '{name}'; known models: {joined}"))
    })
}
