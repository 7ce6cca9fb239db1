//! The GAN entries' command-line glue: the toy sets' run defaults and `--loss`/`--d-steps`, applied
//! to the `[model_config]` table; the task, presets and recipes are `genzoo_gan::task`'s.

use crate::{Error, Result};
use genzoo_datasets::DatasetKind;
use genzoo_gan::task::GanModelConfig;

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
        super::gan_names()
    ))
}

/// Dataset-dependent run defaults, applied before `--config` and the flags: the toy 2-D sets
/// train GANs only, with batch 256 and their own learning rates.
pub fn dataset_defaults(model: &str, dataset: DatasetKind, table: &mut toml::Table) -> Result<()> {
    if !dataset.is_toy() {
        return Ok(());
    }
    if !super::is_gan(model) {
        return Err(not_a_gan(
            model,
            &format!("dataset '{dataset}' (2-D points, not images)"),
        ));
    }
    let (batch, lr, epochs) = gan_config_of(model, table)?.toy_run_defaults();
    table.insert("batch_size".into(), (batch as i64).into());
    table.insert("lr".into(), lr.into());
    table.insert("epochs".into(), (epochs as i64).into());
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
    if !super::is_gan(model) {
        return Err(not_a_gan(model, "--loss/--d-steps"));
    }
    let mut cfg = gan_config_of(model, table)?;
    if let Some(name) = loss {
        let lr;
        (cfg, lr) = cfg.with_loss_recipe(name, dataset.is_toy())?;
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
