//! The VAE family's registry entries (`vae`, `vae-conv`, `beta-vae`, `cvae`, `vae-2d`, `iwae`);
//! the task, presets and checks are `genzoo_vae::train`'s.

use burn::tensor::Device;
use genzoo_train::{Result, Task};
use genzoo_vae::VaeConfig;
use genzoo_vae::train::{VaeTask, check_config, preset};

use super::{Defaults, ModelSpec, from_table, to_table};
use crate::config::RunConfig;

/// The VAE entries.
pub const VAE_MODELS: [&str; 6] = ["vae", "vae-conv", "beta-vae", "cvae", "vae-2d", "iwae"];

/// A run's VAE configuration. A field added after a run was made (e.g. `iwae_k`) takes its
/// default, which is the behaviour the run had, so older run directories still resume.
pub fn config(run: &RunConfig) -> Result<VaeConfig> {
    let mut table = to_table(&VaeConfig::new())?;
    table.extend(run.model_config.clone());
    from_table(&run.model, &table)
}

fn build(name: &'static str, run: &RunConfig, device: &Device) -> Result<Box<dyn Task>> {
    let cfg = config(run)?;
    check_config(&cfg, run.dataset.parse()?)?;
    cfg.size().check(&format!("the {name}"), run.batch_size)?;
    Ok(Box::new(VaeTask::new(name, &cfg, run.lr, run.seed, device)))
}

/// Training defaults of every VAE entry: the pytorch/examples VAE's Adam 1e-3, batch 128.
fn defaults() -> Defaults {
    Defaults {
        batch_size: 128,
        epochs: 10,
        lr: 1e-3,
    }
}

/// `vae`: the pytorch/examples MLP VAE.
pub fn vae() -> ModelSpec {
    ModelSpec {
        name: "vae",
        summary: "VAE, MLP 784-400-(20,20), Bernoulli decoder (Kingma & Welling 2014; lecture §2.2)",
        defaults: defaults(),
        preset: |d| to_table(&preset("vae", d)),
        build: |run, device| build("vae", run, device),
    }
}

/// `vae-conv`: the convolutional VAE.
pub fn vae_conv() -> ModelSpec {
    ModelSpec {
        name: "vae-conv",
        summary: "convolutional VAE (Bernoulli on MNIST, discretized logistic on CIFAR-10)",
        defaults: defaults(),
        preset: |d| to_table(&preset("vae-conv", d)),
        build: |run, device| build("vae-conv", run, device),
    }
}

/// `beta-vae`: β = 4 with KL warm-up.
pub fn beta_vae() -> ModelSpec {
    ModelSpec {
        name: "beta-vae",
        summary: "β-VAE, β = 4 with a linear KL warm-up (Higgins et al. 2017)",
        defaults: defaults(),
        preset: |d| to_table(&preset("beta-vae", d)),
        build: |run, device| build("beta-vae", run, device),
    }
}

/// `cvae`: label-conditioned encoder and decoder.
pub fn cvae() -> ModelSpec {
    ModelSpec {
        name: "cvae",
        summary: "conditional VAE, one-hot label into encoder and decoder (Sohn et al. 2015)",
        defaults: defaults(),
        preset: |d| to_table(&preset("cvae", d)),
        build: |run, device| build("cvae", run, device),
    }
}

/// `vae-2d`: z ∈ R² for the latent manifold picture.
pub fn vae_2d() -> ModelSpec {
    ModelSpec {
        name: "vae-2d",
        summary: "MLP VAE with z in R^2: the 2-D latent manifold (Kingma & Welling Fig. 4)",
        defaults: defaults(),
        preset: |d| to_table(&preset("vae-2d", d)),
        build: |run, device| build("vae-2d", run, device),
    }
}

/// `iwae`: the MLP preset trained on the importance-weighted bound with k = 5.
pub fn iwae() -> ModelSpec {
    ModelSpec {
        name: "iwae",
        summary: "importance-weighted autoencoder, MLP preset trained on L_5 (Burda et al. 2015)",
        defaults: defaults(),
        preset: |d| to_table(&preset("iwae", d)),
        build: |run, device| build("iwae", run, device),
    }
}
