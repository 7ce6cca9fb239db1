//! The model registry: every model `genzoo train` knows, with its defaults and how to build it.

pub mod classic;
pub mod gan;
pub mod vae;

use burn::tensor::Device;
use genzoo_datasets::DatasetKind;
use genzoo_gan::task::{GanModelConfig, GanTask};
use genzoo_pixel::train::{PixelRnnRunConfig, PixelTask};
use genzoo_pixel::{GatedPixelCnnConfig, PixelCnnConfig, PixelRnnConfig, RnnKind};
use genzoo_train::{Result, Task};
use genzoo_vae::AutoencoderConfig;

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

pub(crate) fn to_table<T: serde::Serialize>(value: &T) -> Result<toml::Table> {
    toml::Table::try_from(value).map_err(|e| genzoo_train::Error::Config(e.to_string()))
}

/// `[model_config]` as the model's configuration type; a key the type does not have is an error
/// naming it and the keys there are (burn's `Config` derive cannot deny unknown fields itself).
pub fn from_table<T: serde::de::DeserializeOwned + serde::Serialize>(
    model: &str,
    table: &toml::Table,
) -> Result<T> {
    let cfg: T = table
        .clone()
        .try_into()
        .map_err(|e| genzoo_train::Error::Config(format!("[model_config] of '{model}': {e}")))?;
    let known = to_table(&cfg)?;
    unknown_keys(model, "[model_config]", table, &known)?;
    Ok(cfg)
}

/// Refuses the keys of `given` (recursively) that `known`, the parsed-and-reserialized
/// configuration, does not have.
fn unknown_keys(model: &str, path: &str, given: &toml::Table, known: &toml::Table) -> Result<()> {
    for (key, value) in given {
        match (known.get(key), value) {
            (None, _) => {
                let mut names: Vec<&str> = known.keys().map(String::as_str).collect();
                names.sort_unstable();
                return Err(genzoo_train::Error::Config(format!(
                    "unknown key '{key}' in {path} of '{model}'; its keys are: {}",
                    names.join(", ")
                )));
            }
            (Some(toml::Value::Table(k)), toml::Value::Table(g)) => {
                unknown_keys(model, &format!("{path}.{key}"), g, k)?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// The models that learn from labels (class-conditional ones, the linear probe).
pub const NEEDS_LABELS: [&str; 5] = ["cvae", "cond-pixelcnn", "cgan", "acgan", "ae-probe"];

/// Refuses a model that needs labels on a dataset that has none (`binarized-mnist`).
pub fn check_labels(model: &str, kind: DatasetKind) -> Result<()> {
    if kind.classes() == 0 && NEEDS_LABELS.contains(&model) {
        return Err(genzoo_train::Error::Config(format!(
            "'{model}' learns from labels and {kind} has none; train it on mnist (or fashion-mnist)"
        )));
    }
    Ok(())
}

/// A GAN registry entry: the preset comes from [`gan::GanModelConfig::preset`].
fn gan_spec(name: &'static str, summary: &'static str, lr: f64) -> ModelSpec {
    ModelSpec {
        name,
        summary,
        defaults: Defaults {
            batch_size: 64,
            epochs: 5,
            lr,
        },
        preset: match name {
            "gan" => |d| to_table(&GanModelConfig::preset("gan", d)?),
            "dcgan" => |d| to_table(&GanModelConfig::preset("dcgan", d)?),
            "wgan" => |d| to_table(&GanModelConfig::preset("wgan", d)?),
            "wgan-gp" => |d| to_table(&GanModelConfig::preset("wgan-gp", d)?),
            "lsgan" => |d| to_table(&GanModelConfig::preset("lsgan", d)?),
            "cgan" => |d| to_table(&GanModelConfig::preset("cgan", d)?),
            _ => |d| to_table(&GanModelConfig::preset("acgan", d)?),
        },
        build: |run, device| {
            let cfg: GanModelConfig = from_table(&run.model, &run.model_config)?;
            cfg.validate()?;
            cfg.check_dataset(run.dataset.parse()?)?;
            cfg.size()
                .check(&format!("the {} networks", run.model), run.batch_size)?;
            let name = GAN_MODELS
                .iter()
                .find(|n| **n == run.model)
                .copied()
                .unwrap_or("gan");
            Ok(Box::new(GanTask::new(name, &cfg, run.lr, device)))
        },
    }
}

/// The GAN entries of the registry.
pub const GAN_MODELS: [&str; 7] = ["gan", "dcgan", "wgan", "wgan-gp", "lsgan", "cgan", "acgan"];

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
            preset: |dataset| to_table(&AutoencoderConfig::for_dataset(dataset)),
            build: |run, device| {
                let cfg: AutoencoderConfig = from_table(&run.model, &run.model_config)?;
                cfg.check_dataset(run.dataset.parse()?)?;
                cfg.size().check("the autoencoder", run.batch_size)?;
                Ok(Box::new(genzoo_vae::train::AutoencoderTask::new(
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
        ModelSpec {
            name: "pixelcnn",
            summary: "PixelCNN, exact NLL on binarized MNIST / 256-way softmax (lecture §2.1)",
            defaults: Defaults {
                batch_size: 32,
                epochs: 1,
                lr: 1e-3,
            },
            preset: |dataset| to_table(&PixelCnnConfig::for_dataset(dataset)),
            build: |run, device| {
                let cfg: PixelCnnConfig = from_table(&run.model, &run.model_config)?;
                cfg.check_dataset(run.dataset.parse()?)
                    .map_err(bad_config("pixelcnn"))?;
                cfg.size().check("the PixelCNN", run.batch_size)?;
                Ok(Box::new(PixelTask::pixelcnn(&cfg, run.lr, device)))
            },
        },
        ModelSpec {
            name: "gated-pixelcnn",
            summary: "Gated PixelCNN, vertical + horizontal stacks, no blind spot (lecture §2.1)",
            defaults: Defaults {
                batch_size: 32,
                epochs: 1,
                lr: 1e-3,
            },
            preset: |dataset| to_table(&GatedPixelCnnConfig::for_dataset(dataset, false)),
            build: |run, device| build_gated("gated-pixelcnn", run, device, false),
        },
        ModelSpec {
            name: "cond-pixelcnn",
            summary: "class-conditional Gated PixelCNN, one sample row per class (lecture §2.1)",
            defaults: Defaults {
                batch_size: 32,
                epochs: 1,
                lr: 1e-3,
            },
            preset: |dataset| to_table(&GatedPixelCnnConfig::for_dataset(dataset, true)),
            build: |run, device| build_gated("cond-pixelcnn", run, device, true),
        },
        gan_spec(
            "gan",
            "MLP GAN, non-saturating loss (lecture §2.3, Goodfellow et al. 2014)",
            2e-4,
        ),
        gan_spec(
            "dcgan",
            "DCGAN, non-saturating loss, Adam(β1 = 0.5) (Radford et al. 2016)",
            2e-4,
        ),
        gan_spec(
            "wgan",
            "WGAN: DCGAN nets, critic k = 5, weight clipping 0.01, RMSProp (Arjovsky et al. 2017)",
            5e-5,
        ),
        gan_spec(
            "wgan-gp",
            "WGAN-GP: DCGAN nets without BN in the critic, λ = 10, k = 5 (Gulrajani et al. 2017)",
            1e-4,
        ),
        gan_spec(
            "lsgan",
            "LSGAN: DCGAN nets, least-squares loss (Mao et al. 2017)",
            2e-4,
        ),
        gan_spec(
            "cgan",
            "conditional DCGAN, one-hot label into G and D (Mirza & Osindero 2014)",
            2e-4,
        ),
        gan_spec(
            "acgan",
            "AC-GAN: label into G, D predicts it with an auxiliary head (Odena et al. 2017)",
            2e-4,
        ),
        pixelrnn_spec(
            "row-lstm",
            "PixelRNN Row LSTM, rows top to bottom, exact NLL (lecture §2.1)",
        ),
        pixelrnn_spec(
            "diagonal-bilstm",
            "PixelRNN Diagonal BiLSTM, skewed diagonals both ways, exact NLL (lecture §2.1)",
        ),
    ]
}

/// A PixelRNN registry entry: `row-lstm` or `diagonal-bilstm`.
fn pixelrnn_spec(name: &'static str, summary: &'static str) -> ModelSpec {
    ModelSpec {
        name,
        summary,
        defaults: Defaults {
            batch_size: 16,
            epochs: 1,
            lr: 1e-3,
        },
        preset: if name == "row-lstm" {
            |d| {
                to_table(&PixelRnnRunConfig::new(PixelRnnConfig::for_dataset(
                    d,
                    RnnKind::RowLstm,
                )))
            }
        } else {
            |d| {
                to_table(&PixelRnnRunConfig::new(PixelRnnConfig::for_dataset(
                    d,
                    RnnKind::DiagonalBiLstm,
                )))
            }
        },
        build: |run, device| {
            let (name, want) = if run.model == "row-lstm" {
                ("row-lstm", RnnKind::RowLstm)
            } else {
                ("diagonal-bilstm", RnnKind::DiagonalBiLstm)
            };
            let run_cfg: PixelRnnRunConfig = from_table(&run.model, &run.model_config)?;
            run_cfg
                .model
                .check_dataset(run.dataset.parse()?, want)
                .map_err(bad_config(name))?;
            run_cfg
                .model
                .size()
                .check(&format!("the {name}"), run.batch_size)?;
            Ok(Box::new(run_cfg.task(run.lr, device)))
        },
    }
}

/// Builds a Gated PixelCNN task after checking its config against the dataset.
fn build_gated(
    name: &'static str,
    run: &RunConfig,
    device: &Device,
    conditional: bool,
) -> Result<Box<dyn Task>> {
    let cfg: GatedPixelCnnConfig = from_table(&run.model, &run.model_config)?;
    cfg.check_dataset(run.dataset.parse()?, conditional)
        .map_err(bad_config(name))?;
    cfg.size().check(&format!("the {name}"), run.batch_size)?;
    Ok(Box::new(PixelTask::new(
        name,
        cfg.init(device),
        run.lr,
        device,
    )))
}

/// An error of `[model_config]` of model `name`.
fn bad_config(name: &str) -> impl Fn(String) -> genzoo_train::Error + '_ {
    move |m| genzoo_train::Error::Config(format!("[model_config] of '{name}': {m}"))
}

/// Analytic training FLOP per image of a run's model (2 FLOP a multiply-add, training ≈ 3×
/// forward; each config counts its own layers), or `None` for a model without a count.
pub fn train_flop_per_image(run: &RunConfig) -> Result<Option<f64>> {
    let (model, table) = (run.model.as_str(), &run.model_config);
    Ok(Some(match model {
        "autoencoder" => from_table::<AutoencoderConfig>(model, table)?.train_flop_per_image(),
        "pixelcnn" => from_table::<PixelCnnConfig>(model, table)?.train_flop_per_image(),
        "gated-pixelcnn" | "cond-pixelcnn" => {
            from_table::<GatedPixelCnnConfig>(model, table)?.train_flop_per_image()
        }
        m if vae::VAE_MODELS.contains(&m) => vae::config(run)?.train_flop_per_image(),
        m if GAN_MODELS.contains(&m) => {
            from_table::<GanModelConfig>(model, table)?.train_flop_per_image()
        }
        _ => return Ok(None),
    }))
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
