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

use crate::{Error, Result};
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
    make_preset: fn(&'static str, DatasetKind) -> Result<toml::Table>,
    make_task: fn(&'static str, &RunConfig, &Device) -> Result<Box<dyn Task>>,
}

impl ModelSpec {
    /// The model's reference configuration for a dataset, as a TOML table.
    pub fn preset(&self, dataset: DatasetKind) -> Result<toml::Table> {
        (self.make_preset)(self.name, dataset)
    }

    /// The task of a resolved configuration on an autodiff device: `[model_config]` parsed and
    /// checked against the dataset and the memory there is.
    pub fn build(&self, run: &RunConfig, device: &Device) -> Result<Box<dyn Task>> {
        (self.make_task)(self.name, run, device)
    }
}

pub(crate) fn to_table<T: serde::Serialize>(value: &T) -> Result<toml::Table> {
    toml::Table::try_from(value).map_err(|e| Error::Config(e.to_string()))
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
        .map_err(|e| Error::Config(format!("[model_config] of '{model}': {e}")))?;
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
    let mut all = vec![ModelSpec {
        name: "autoencoder",
        summary: "convolutional autoencoder, L2 reconstruction (lecture §1.3)",
        defaults: defaults(64, 10, 1e-3),
        make_preset: |_, dataset| to_table(&AutoencoderConfig::for_dataset(dataset)),
        make_task: |_, run, device| {
            let cfg: AutoencoderConfig = from_table(&run.model, &run.model_config)?;
            cfg.check_dataset(run.dataset)?;
            cfg.size().check("the autoencoder", run.batch_size)?;
            Ok(Box::new(genzoo_vae::train::AutoencoderTask::new(
                &cfg, run.lr, device,
            )))
        },
    }];
    all.extend(vae::entries());
    all.push(ModelSpec {
        name: "pixelcnn",
        summary: "PixelCNN, exact NLL on binarized MNIST / 256-way softmax (lecture §2.1)",
        defaults: defaults(32, 1, 1e-3),
        make_preset: |_, dataset| to_table(&PixelCnnConfig::for_dataset(dataset)),
        make_task: |name, run, device| {
            let cfg: PixelCnnConfig = from_table(name, &run.model_config)?;
            cfg.check_dataset(run.dataset).map_err(bad_config(name))?;
            cfg.size().check("the PixelCNN", run.batch_size)?;
            Ok(Box::new(PixelTask::pixelcnn(&cfg, run.lr, device)))
        },
    });
    for (name, summary) in [
        (
            "gated-pixelcnn",
            "Gated PixelCNN, vertical + horizontal stacks, no blind spot (lecture §2.1)",
        ),
        (
            "cond-pixelcnn",
            "class-conditional Gated PixelCNN, one sample row per class (lecture §2.1)",
        ),
    ] {
        all.push(ModelSpec {
            name,
            summary,
            defaults: defaults(32, 1, 1e-3),
            make_preset: |name, dataset| {
                let conditional = name == "cond-pixelcnn";
                to_table(&GatedPixelCnnConfig::for_dataset(dataset, conditional))
            },
            make_task: |name, run, device| {
                let conditional = name == "cond-pixelcnn";
                let cfg: GatedPixelCnnConfig = from_table(name, &run.model_config)?;
                cfg.check_dataset(run.dataset, conditional)
                    .map_err(bad_config(name))?;
                cfg.size().check(&format!("the {name}"), run.batch_size)?;
                Ok(Box::new(PixelTask::new(
                    name,
                    cfg.init(device),
                    run.lr,
                    device,
                )))
            },
        });
    }
    all.extend(GANS.map(|(name, summary, lr)| ModelSpec {
        name,
        summary,
        defaults: defaults(64, 5, lr),
        make_preset: |name, dataset| to_table(&GanModelConfig::preset(name, dataset)?),
        make_task: |name, run, device| {
            let cfg: GanModelConfig = from_table(name, &run.model_config)?;
            cfg.validate()?;
            cfg.check_dataset(run.dataset)?;
            cfg.size()
                .check(&format!("the {name} networks"), run.batch_size)?;
            Ok(Box::new(GanTask::new(name, &cfg, run.lr, device)))
        },
    }));
    for (name, summary) in [
        (
            "row-lstm",
            "PixelRNN Row LSTM, rows top to bottom, exact NLL (lecture §2.1)",
        ),
        (
            "diagonal-bilstm",
            "PixelRNN Diagonal BiLSTM, skewed diagonals both ways, exact NLL (lecture §2.1)",
        ),
    ] {
        all.push(ModelSpec {
            name,
            summary,
            defaults: defaults(16, 1, 1e-3),
            make_preset: |name, dataset| {
                let cfg = PixelRnnConfig::for_dataset(dataset, rnn_kind(name));
                to_table(&PixelRnnRunConfig::new(cfg))
            },
            make_task: |name, run, device| {
                let run_cfg: PixelRnnRunConfig = from_table(name, &run.model_config)?;
                let model = &run_cfg.model;
                model
                    .check_dataset(run.dataset, rnn_kind(name))
                    .map_err(bad_config(name))?;
                model.size().check(&format!("the {name}"), run.batch_size)?;
                Ok(Box::new(run_cfg.task(run.lr, device)))
            },
        });
    }
    all
}

fn rnn_kind(name: &str) -> RnnKind {
    if name == "row-lstm" {
        RnnKind::RowLstm
    } else {
        RnnKind::DiagonalBiLstm
    }
}

/// An error of `[model_config]` of model `name`.
fn bad_config<E: std::fmt::Display>(name: &str) -> impl Fn(E) -> Error + '_ {
    move |m| Error::Config(format!("[model_config] of '{name}': {m}"))
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
        m if vae::is_vae(m) => vae::config(run)?.train_flop_per_image(),
        m if is_gan(m) => from_table::<GanModelConfig>(model, table)?.train_flop_per_image(),
        _ => return Ok(None),
    }))
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
