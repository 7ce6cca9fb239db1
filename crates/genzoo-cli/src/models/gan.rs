//! The GAN entries' command-line glue: the toy sets' run defaults and `--loss`/`--d-steps`, applied
//! to the `[model_config]` table; the task, presets and recipes are `genzoo_gan::task`'s.

use genzoo_datasets::DatasetKind;
use genzoo_gan::task::{GanModelConfig, TOY_BATCH, TOY_EPOCHS, TOY_LR, TOY_WGAN_LR, loss_recipe};
use genzoo_train::{Error, Result};

fn gan_config_of(model: &str, table: &toml::Table) -> Result<GanModelConfig> {
    table
        .get("model_config")
        .and_then(toml::Value::as_table)
        .cloned()
        .unwrap_or_default()
        .try_into()
        .map_err(|e| Error::Config(format!("[model_config] of '{model}': {e}")))
}

fn not_a_gan(model: &str, what: &str) -> Error {
    Error::Config(format!(
        "{what} applies to the GAN models only ({}), not '{model}'",
        super::GAN_MODELS.join(", ")
    ))
}

/// Dataset-dependent run defaults, applied before `--config` and the flags: the toy 2-D sets
/// train GANs only, with batch 256 and their own learning rates.
pub fn dataset_defaults(model: &str, dataset: DatasetKind, table: &mut toml::Table) -> Result<()> {
    if !dataset.is_toy() {
        return Ok(());
    }
    if !super::GAN_MODELS.contains(&model) {
        return Err(not_a_gan(
            model,
            &format!("dataset '{dataset}' (2-D points, not images)"),
        ));
    }
    let cfg = gan_config_of(model, table)?;
    let lr = if cfg.training.clip.is_some() {
        TOY_WGAN_LR
    } else {
        TOY_LR
    };
    table.insert("batch_size".into(), (TOY_BATCH as i64).into());
    table.insert("lr".into(), lr.into());
    table.insert("epochs".into(), (TOY_EPOCHS as i64).into());
    Ok(())
}

/// `genzoo train <gan> --loss NAME --d-steps K`: `--loss` replaces the objective's recipe (loss,
/// Lipschitz constraint, k, optimizer and its β, learning rate; WGAN-GP also turns the critic's
/// BatchNorm off), then `--d-steps` sets k. Applied after `--config`, before `--lr`.
pub fn apply_train_flags(
    model: &str,
    dataset: DatasetKind,
    table: &mut toml::Table,
    loss: Option<&str>,
    d_steps: Option<usize>,
) -> Result<()> {
    if loss.is_none() && d_steps.is_none() {
        return Ok(());
    }
    if !super::GAN_MODELS.contains(&model) {
        return Err(not_a_gan(model, "--loss/--d-steps"));
    }
    let mut cfg = gan_config_of(model, table)?;
    if let Some(name) = loss {
        let (r, lr_images, lr_toy) = loss_recipe(name)?;
        let t = &mut cfg.training;
        t.loss = r.loss;
        t.d_steps = r.d_steps;
        t.optimizer = r.optimizer;
        t.beta1 = r.beta1;
        t.beta2 = r.beta2;
        t.clip = r.clip;
        t.gradient_penalty = r.gradient_penalty;
        if r.gradient_penalty.is_some() {
            cfg.network = cfg.network.without_d_batch_norm();
        }
        let lr = if dataset.is_toy() { lr_toy } else { lr_images };
        table.insert("lr".into(), lr.into());
    }
    if let Some(k) = d_steps {
        cfg.training.d_steps = k;
    }
    cfg.validate()?;
    let cfg = toml::Table::try_from(&cfg).map_err(|e| Error::Config(e.to_string()))?;
    table.insert("model_config".into(), cfg.into());
    Ok(())
}
