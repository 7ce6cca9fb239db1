//! The model registry: every model `genzoo train` knows, with its defaults and how to build it.

pub mod classic;
pub mod gan;
pub mod vae;

use burn::tensor::Device;
use genzoo_datasets::DatasetKind;
use genzoo_gan::task::{GanModelConfig, GanTask};
use genzoo_pixel::train::{PixelRnnRunConfig, PixelTask};
use genzoo_pixel::{GatedPixelCnnConfig, PixelCnnConfig, PixelRnnConfig, RnnKind};
use genzoo_train::Task;
use genzoo_vae::train::{AutoencoderTask, VaeTask, check_config};
use genzoo_vae::{AutoencoderConfig, VaeConfig};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

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

const fn defaults(batch_size: usize, epochs: u64, lr: f64) -> Defaults {
    Defaults {
        batch_size,
        epochs,
        lr,
    }
}

/// One entry of the registry.
pub struct ModelSpec {
    /// The name on the command line.
    pub name: &'static str,
    /// One line for `genzoo models`.
    pub summary: &'static str,
    /// Training defaults.
    pub defaults: Defaults,
    make_preset: fn(&'static str, DatasetKind) -> Result<ModelConfig>,
}

impl ModelSpec {
    /// The model's reference configuration for a dataset.
    pub fn preset(&self, dataset: DatasetKind) -> Result<ModelConfig> {
        (self.make_preset)(self.name, dataset)
    }

    /// The task of a resolved configuration on an autodiff device: `[model_config]` parsed and
    /// checked against the dataset and the memory there is.
    pub fn build(&self, run: &RunConfig, device: &Device) -> Result<Box<dyn Task>> {
        ModelConfig::read(self.name, &run.model_config)?.task(self.name, run, device)
    }
}

/// A gradient-trained run's `model` and `[model_config]` read as one value: the model's name is
/// the tag, the configuration type of that model the content. The run configuration of
/// `genzoo-train` keeps `[model_config]` as a table because that crate knows no model; the
/// registry reads it here, once, into this type.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "model", content = "model_config", rename_all = "kebab-case")]
#[allow(missing_docs)] // each variant is the model of the same name in `genzoo models`
pub enum ModelConfig {
    Autoencoder(AutoencoderConfig),
    Vae(VaeConfig),
    VaeConv(VaeConfig),
    BetaVae(VaeConfig),
    Cvae(VaeConfig),
    #[serde(rename = "vae-2d")]
    Vae2d(VaeConfig),
    Iwae(VaeConfig),
    Pixelcnn(PixelCnnConfig),
    GatedPixelcnn(GatedPixelCnnConfig),
    CondPixelcnn(GatedPixelCnnConfig),
    Gan(GanModelConfig),
    Dcgan(GanModelConfig),
    Wgan(GanModelConfig),
    WganGp(GanModelConfig),
    Lsgan(GanModelConfig),
    Cgan(GanModelConfig),
    Acgan(GanModelConfig),
    RowLstm(PixelRnnRunConfig),
    DiagonalBilstm(PixelRnnRunConfig),
}

impl ModelConfig {
    /// `[model_config]` of model `model`, typed; a key its type does not have is an error naming
    /// it and the keys there are (burn's `Config` derive cannot deny unknown fields itself). A VAE
    /// field added after a run was made (e.g. `iwae_k`) takes its default, which is the behaviour
    /// the run had, so older run directories still resume.
    pub fn read(model: &str, table: &toml::Table) -> Result<Self> {
        let mut content = if vae::is_vae(model) {
            to_table(&VaeConfig::new())?
        } else {
            toml::Table::new()
        };
        content.extend(table.clone());
        let mut tagged = toml::Table::new();
        tagged.insert("model".into(), model.into());
        tagged.insert("model_config".into(), content.into());
        // The message alone: every key is in `[model_config]`, which the error names already.
        let cfg: Self = tagged
            .try_into()
            .map_err(|e: toml::de::Error| bad_config(model)(e.message()))?;
        genzoo_train::config::unknown_keys(model, "[model_config]", table, &cfg.table()?)?;
        Ok(cfg)
    }

    /// Model `model` with configuration `content` (the model's own configuration type).
    pub fn tagged<T: serde::Serialize>(model: &str, content: &T) -> Result<Self> {
        Self::read(model, &to_table(content)?)
    }

    /// The `[model_config]` table of `config.toml`.
    pub fn table(&self) -> Result<toml::Table> {
        match to_table(self)?.remove("model_config") {
            Some(toml::Value::Table(content)) => Ok(content),
            _ => Err(Error::Config(
                "a model configuration must be a table".into(),
            )),
        }
    }

    /// The model's family and its configuration: one exhaustive match over the models.
    fn family(&self) -> Family<'_> {
        match self {
            Self::Autoencoder(c) => Family::Autoencoder(c),
            Self::Vae(c) | Self::VaeConv(c) | Self::BetaVae(c) | Self::Cvae(c) => Family::Vae(c),
            Self::Vae2d(c) | Self::Iwae(c) => Family::Vae(c),
            Self::Pixelcnn(c) => Family::PixelCnn(c),
            Self::GatedPixelcnn(c) => Family::Gated(c, false),
            Self::CondPixelcnn(c) => Family::Gated(c, true),
            Self::Gan(c) | Self::Dcgan(c) | Self::Wgan(c) | Self::WganGp(c) => Family::Gan(c),
            Self::Lsgan(c) | Self::Cgan(c) | Self::Acgan(c) => Family::Gan(c),
            Self::RowLstm(c) => Family::PixelRnn(c, RnnKind::RowLstm),
            Self::DiagonalBilstm(c) => Family::PixelRnn(c, RnnKind::DiagonalBiLstm),
        }
    }

    /// The task of model `name` trained with `run`'s data, batch and learning rate, after checking
    /// the configuration against the dataset and the memory there is.
    pub fn task(
        &self,
        name: &'static str,
        run: &RunConfig,
        device: &Device,
    ) -> Result<Box<dyn Task>> {
        let (dataset, batch, lr) = (run.dataset, run.batch_size, run.lr);
        let what = format!("the {name}");
        Ok(match self.family() {
            Family::Autoencoder(cfg) => {
                cfg.check_dataset(dataset)?;
                cfg.size().check(&what, batch)?;
                Box::new(AutoencoderTask::new(cfg, lr, device))
            }
            Family::Vae(cfg) => {
                check_config(cfg, dataset)?;
                cfg.size().check(&what, batch)?;
                Box::new(VaeTask::new(name, cfg, lr, run.seed, device))
            }
            Family::PixelCnn(cfg) => {
                cfg.check_dataset(dataset).map_err(bad_config(name))?;
                cfg.size().check(&what, batch)?;
                Box::new(PixelTask::pixelcnn(cfg, lr, device))
            }
            Family::Gated(cfg, conditional) => {
                cfg.check_dataset(dataset, conditional)
                    .map_err(bad_config(name))?;
                cfg.size().check(&what, batch)?;
                Box::new(PixelTask::new(name, cfg.init(device), lr, device))
            }
            Family::PixelRnn(run_cfg, kind) => {
                let model = &run_cfg.model;
                model
                    .check_dataset(dataset, kind)
                    .map_err(bad_config(name))?;
                model.size().check(&what, batch)?;
                Box::new(run_cfg.task(lr, device))
            }
            Family::Gan(cfg) => {
                cfg.validate()?;
                cfg.check_dataset(dataset)?;
                cfg.size().check(&format!("{what} networks"), batch)?;
                Box::new(GanTask::new(name, cfg, lr, device))
            }
        })
    }

    /// Analytic training FLOP per image (2 FLOP a multiply-add, training ≈ 3× forward; each
    /// config counts its own layers), or `None` for a model without a count.
    pub fn train_flop_per_image(&self) -> Option<f64> {
        match self.family() {
            Family::Autoencoder(cfg) => Some(cfg.train_flop_per_image()),
            Family::Vae(cfg) => Some(cfg.train_flop_per_image()),
            Family::PixelCnn(cfg) => Some(cfg.train_flop_per_image()),
            Family::Gated(cfg, _) => Some(cfg.train_flop_per_image()),
            Family::Gan(cfg) => Some(cfg.train_flop_per_image()),
            Family::PixelRnn(..) => None,
        }
    }
}

/// The families of [`ModelConfig`]: models that share a configuration type and a task.
enum Family<'a> {
    Autoencoder(&'a AutoencoderConfig),
    Vae(&'a VaeConfig),
    PixelCnn(&'a PixelCnnConfig),
    /// The Gated PixelCNN, class-conditional or not.
    Gated(&'a GatedPixelCnnConfig, bool),
    PixelRnn(&'a PixelRnnRunConfig, RnnKind),
    Gan(&'a GanModelConfig),
}

pub(crate) fn to_table<T: serde::Serialize>(value: &T) -> Result<toml::Table> {
    toml::Table::try_from(value).map_err(|e| Error::Config(e.to_string()))
}

/// `[model_config]` as the model's configuration type; a key the type does not have is an error
/// naming it and the keys there are.
pub fn from_table<T: serde::de::DeserializeOwned + serde::Serialize>(
    model: &str,
    table: &toml::Table,
) -> Result<T> {
    let cfg: T = table.clone().try_into().map_err(bad_config(model))?;
    let known = to_table(&cfg)?;
    genzoo_train::config::unknown_keys(model, "[model_config]", table, &known)?;
    Ok(cfg)
}

/// The models that learn from labels (class-conditional ones, the linear probe).
pub const NEEDS_LABELS: [&str; 5] = ["cvae", "cond-pixelcnn", "cgan", "acgan", "ae-probe"];

/// Refuses a model that needs labels on a dataset that has none (`binarized-mnist`).
pub fn check_labels(model: &str, kind: DatasetKind) -> Result<()> {
    if kind.classes() == 0 && NEEDS_LABELS.contains(&model) {
        return Err(Error::Config(format!(
            "'{model}' learns from labels and {kind} has none; train it on mnist (or fashion-mnist)"
        )));
    }
    Ok(())
}

/// The GAN entries: name, summary, learning rate.
const GANS: [(&str, &str, f64); 7] = [
    (
        "gan",
        "MLP GAN, non-saturating loss (lecture §2.3, Goodfellow et al. 2014)",
        2e-4,
    ),
    (
        "dcgan",
        "DCGAN, non-saturating loss, Adam(β1 = 0.5) (Radford et al. 2016)",
        2e-4,
    ),
    (
        "wgan",
        "WGAN: DCGAN nets, critic k = 5, weight clipping 0.01, RMSProp (Arjovsky et al. 2017)",
        5e-5,
    ),
    (
        "wgan-gp",
        "WGAN-GP: DCGAN nets without BN in the critic, λ = 10, k = 5 (Gulrajani et al. 2017)",
        1e-4,
    ),
    (
        "lsgan",
        "LSGAN: DCGAN nets, least-squares loss (Mao et al. 2017)",
        2e-4,
    ),
    (
        "cgan",
        "conditional DCGAN, one-hot label into G and D (Mirza & Osindero 2014)",
        2e-4,
    ),
    (
        "acgan",
        "AC-GAN: label into G, D predicts it with an auxiliary head (Odena et al. 2017)",
        2e-4,
    ),
];

/// Whether `name` is a GAN entry.
pub fn is_gan(name: &str) -> bool {
    GANS.iter().any(|(n, _, _)| *n == name)
}

/// The names of the GAN entries, for messages.
pub fn gan_names() -> String {
    GANS.map(|(n, _, _)| n).join(", ")
}

/// All models, in the order `genzoo models` lists them.
pub fn registry() -> Vec<ModelSpec> {
    const PIXEL: Defaults = defaults(32, 1, 1e-3);
    const RNN: Defaults = defaults(16, 1, 1e-3);
    let mut all = vec![ModelSpec {
        name: "autoencoder",
        summary: "convolutional autoencoder, L2 reconstruction (lecture §1.3)",
        defaults: defaults(64, 10, 1e-3),
        make_preset: |name, dataset| {
            ModelConfig::tagged(name, &AutoencoderConfig::for_dataset(dataset))
        },
    }];
    all.extend(vae::entries());
    all.extend([
        ModelSpec {
            name: "pixelcnn",
            summary: "PixelCNN, exact NLL on binarized MNIST / 256-way softmax (lecture §2.1)",
            defaults: PIXEL,
            make_preset: |name, dataset| {
                ModelConfig::tagged(name, &PixelCnnConfig::for_dataset(dataset))
            },
        },
        ModelSpec {
            name: "gated-pixelcnn",
            summary: "Gated PixelCNN, vertical + horizontal stacks, no blind spot (lecture §2.1)",
            defaults: PIXEL,
            make_preset: gated_preset,
        },
        ModelSpec {
            name: "cond-pixelcnn",
            summary: "class-conditional Gated PixelCNN, one sample row per class (lecture §2.1)",
            defaults: PIXEL,
            make_preset: gated_preset,
        },
    ]);
    all.extend(GANS.map(|(name, summary, lr)| ModelSpec {
        name,
        summary,
        defaults: defaults(64, 5, lr),
        make_preset: |name, dataset| {
            ModelConfig::tagged(name, &GanModelConfig::preset(name, dataset)?)
        },
    }));
    all.extend([
        ModelSpec {
            name: "row-lstm",
            summary: "PixelRNN Row LSTM, rows top to bottom, exact NLL (lecture §2.1)",
            defaults: RNN,
            make_preset: |name, dataset| rnn_preset(name, dataset, RnnKind::RowLstm),
        },
        ModelSpec {
            name: "diagonal-bilstm",
            summary: "PixelRNN Diagonal BiLSTM, skewed diagonals both ways, exact NLL (lecture §2.1)",
            defaults: RNN,
            make_preset: |name, dataset| rnn_preset(name, dataset, RnnKind::DiagonalBiLstm),
        },
    ]);
    all
}

fn gated_preset(name: &'static str, dataset: DatasetKind) -> Result<ModelConfig> {
    let conditional = name == "cond-pixelcnn";
    ModelConfig::tagged(
        name,
        &GatedPixelCnnConfig::for_dataset(dataset, conditional),
    )
}

fn rnn_preset(name: &str, dataset: DatasetKind, kind: RnnKind) -> Result<ModelConfig> {
    let cfg = PixelRnnConfig::for_dataset(dataset, kind);
    ModelConfig::tagged(name, &PixelRnnRunConfig::new(cfg))
}

/// An error of `[model_config]` of model `name`.
fn bad_config<E: std::fmt::Display>(name: &str) -> impl Fn(E) -> Error + '_ {
    move |m| Error::Config(format!("[model_config] of '{name}': {m}"))
}

/// Every shipped trained weights file, from the model crates that ship them.
pub fn pretrained() -> Vec<genzoo_train::Pretrained> {
    genzoo_vae::pretrained::SHIPPED
        .iter()
        .chain(genzoo_pixel::pretrained::SHIPPED)
        .chain(genzoo_gan::pretrained::SHIPPED)
        .copied()
        .collect()
}

/// The shipped weights called `name`, or an error listing those there are.
pub fn find_pretrained(name: &str) -> Result<genzoo_train::Pretrained> {
    Ok(*genzoo_train::pretrained::find(&pretrained(), name)?)
}

/// Looks a model up by name; the error lists the known names.
pub fn find(name: &str) -> Result<ModelSpec> {
    let all = registry();
    let names: Vec<&str> = all.iter().map(|m| m.name).collect();
    let joined = names.join(", ");
    all.into_iter()
        .find(|m| m.name == name)
        .ok_or_else(|| Error::Config(format!("unknown model '{name}'; known models: {joined}")))
}
