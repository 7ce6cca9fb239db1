//! A run's configuration, as `config.toml` holds it.
//!
//! Resolution order, for a fresh run: the model's defaults and dataset preset, then a TOML file of
//! overrides, then command-line flags. The result is written verbatim into the run directory, and
//! a resumed run reads it back, so a run's configuration is always the file next to its checkpoints.

use serde::{Deserialize, Serialize};

use genzoo_datasets::DatasetKind;

use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::trainer::{Budget, TrainOptions};

/// Everything that determines a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// Registry name of the model.
    pub model: String,
    /// The dataset, by its name in `config.toml` (`mnist`, `mnist-mini`, `binarized-mnist`, ...).
    #[serde(with = "by_name")]
    pub dataset: DatasetKind,
    /// The backend the run trains on, by name (`flex`, `wgpu`, ...).
    #[serde(with = "by_name")]
    pub backend: Backend,
    /// Seed for initialisation, data order and sampling.
    pub seed: u64,
    /// Images per batch.
    pub batch_size: usize,
    /// Train for this many epochs (exclusive with `steps`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epochs: Option<u64>,
    /// Train for this many steps (exclusive with `epochs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<u64>,
    /// Learning rate.
    pub lr: f64,
    /// The learning rate's factor per epoch, applied continuously; absent: a constant rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lr_decay: Option<f64>,
    /// Log a training record every this many steps.
    pub log_every: u64,
    /// Write a sample grid every this many steps.
    pub sample_every: u64,
    /// Write `last.ckpt` every this many steps.
    pub checkpoint_every: u64,
    /// The model's own configuration (its preset, with overrides).
    pub model_config: toml::Table,
    /// Where this configuration came from. Informational; ignored when resuming.
    #[serde(default)]
    pub provenance: Provenance,
}

/// Versions and origin of a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// genzoo version.
    #[serde(default)]
    pub genzoo_version: String,
    /// burn version.
    #[serde(default)]
    pub burn_version: String,
    /// `git rev-parse HEAD` of the working directory, if any.
    #[serde(default)]
    pub git_revision: String,
    /// UTC time the run was created.
    #[serde(default)]
    pub created_utc: String,
    /// Where the dataset files were looked up (empty for embedded data).
    #[serde(default)]
    pub data_dir: String,
}

impl Provenance {
    /// The provenance of a run created now (`git`: with the working directory's revision).
    pub fn now(git: bool) -> Self {
        let git_revision = git.then(|| {
            std::process::Command::new("git")
                .args(["rev-parse", "HEAD"])
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
                .unwrap_or_else(|| "unknown".into())
        });
        Self {
            genzoo_version: env!("CARGO_PKG_VERSION").into(),
            burn_version: "0.22.1".into(),
            git_revision: git_revision.unwrap_or_default(),
            created_utc: crate::run::utc_stamp(),
            data_dir: String::new(),
        }
    }
}

impl RunConfig {
    /// Serializes to TOML.
    pub fn to_toml(&self) -> Result<String> {
        toml::to_string_pretty(self).map_err(|e| Error::Config(e.to_string()))
    }

    /// Parses `config.toml`; `origin` names the file in errors.
    pub fn from_toml(origin: &str, text: &str) -> Result<Self> {
        let cfg: Self =
            toml::from_str(text).map_err(|e| Error::Config(format!("{origin}: {e}")))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// The loop settings of this configuration: its seed, batch size, budget (`default_epochs`
    /// when it names neither epochs nor steps) and cadence; no progress bar, no time limit, no TensorBoard.
    pub fn train_options(&self, default_epochs: u64) -> TrainOptions {
        TrainOptions {
            seed: self.seed,
            batch_size: self.batch_size,
            budget: match (self.epochs, self.steps) {
                (_, Some(s)) => Budget::Steps(s),
                (Some(e), None) => Budget::Epochs(e),
                (None, None) => Budget::Epochs(default_epochs),
            },
            log_every: self.log_every,
            sample_every: self.sample_every,
            checkpoint_every: self.checkpoint_every,
            progress: false,
            time_limit: None,
            tensorboard: false,
            lr_decay: self.lr_decay,
        }
    }

    /// Checks the values a run cannot start with.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Config(m));
        if self.batch_size == 0 {
            return bad("batch_size must be at least 1".into());
        }
        if self.epochs.is_some() && self.steps.is_some() {
            return bad("give either epochs or steps, not both".into());
        }
        if self.epochs == Some(0) || self.steps == Some(0) {
            return bad("epochs/steps must be at least 1".into());
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return bad(format!("lr must be a positive number, got {}", self.lr));
        }
        if self.log_every == 0 || self.sample_every == 0 || self.checkpoint_every == 0 {
            return bad("log_every, sample_every and checkpoint_every must be at least 1".into());
        }
        crate::trainer::check_lr_decay(self.lr_decay)
    }
}

/// Serde by the name a type prints and parses (`Display` / `FromStr`), so `config.toml` holds
/// `dataset = "mnist"` and an unknown name is an error listing the known ones.
pub mod by_name {
    use std::fmt::Display;
    use std::str::FromStr;

    use serde::{Deserialize, Deserializer, Serializer, de};

    /// Writes the value's name.
    pub fn serialize<T: Display, S: Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(value)
    }

    /// Parses a name; an unknown one is an error of the deserializer.
    pub fn deserialize<'de, T, D>(d: D) -> Result<T, D::Error>
    where
        T: FromStr<Err: Display>,
        D: Deserializer<'de>,
    {
        String::deserialize(d)?.parse().map_err(de::Error::custom)
    }
}

/// Refuses the keys of `given` (recursively) that `known`, the parsed-and-reserialized
/// configuration, does not have.
pub fn unknown_keys(
    model: &str,
    path: &str,
    given: &toml::Table,
    known: &toml::Table,
) -> Result<()> {
    for (key, value) in given {
        match (known.get(key), value) {
            (None, _) => {
                let mut names: Vec<&str> = known.keys().map(String::as_str).collect();
                names.sort_unstable();
                return Err(Error::Config(format!(
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

/// Deep-merges `overrides` into `base`: tables merge key by key, everything else replaces.
pub fn merge(base: &mut toml::Table, overrides: toml::Table) {
    for (k, v) in overrides {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> RunConfig {
        RunConfig {
            model: "autoencoder".into(),
            dataset: DatasetKind::MnistMini,
            backend: Backend::Flex,
            seed: 3,
            batch_size: 64,
            epochs: Some(2),
            steps: None,
            lr: 1e-3,
            lr_decay: None,
            log_every: 10,
            sample_every: 100,
            checkpoint_every: 100,
            model_config: toml::from_str("latent = 32\nhidden = [32, 64]").expect("toml"),
            provenance: Provenance::default(),
        }
    }

    #[test]
    fn round_trips_through_toml() {
        let cfg = sample();
        let text = cfg.to_toml().expect("serialize");
        assert_eq!(
            RunConfig::from_toml("config.toml", &text).expect("parse"),
            cfg
        );
    }

    #[test]
    fn unknown_keys_and_bad_values_are_errors_naming_the_problem() {
        let text = sample()
            .to_toml()
            .expect("serialize")
            .replace("seed = 3", "seed = 3\nsead = 4");
        let err = RunConfig::from_toml("c.toml", &text).expect_err("unknown key");
        assert!(err.to_string().contains("sead"), "{err}");
        let mut cfg = sample();
        cfg.steps = Some(5);
        assert!(
            cfg.validate()
                .expect_err("both")
                .to_string()
                .contains("either epochs or steps")
        );
        let mut cfg = sample();
        cfg.lr = f64::NAN;
        assert!(cfg.validate().is_err());
        // Dataset and backend are names, parsed: an unknown one names the known ones.
        let text = sample().to_toml().expect("serialize");
        assert!(text.contains("dataset = \"mnist-mini\"") && text.contains("backend = \"flex\""));
        let err = RunConfig::from_toml("c.toml", &text.replace("mnist-mini", "mnist-maxi"))
            .expect_err("unknown dataset");
        assert!(
            err.to_string().contains("mnist-maxi") && err.to_string().contains("binarized-mnist"),
            "{err}"
        );
        let err = RunConfig::from_toml("c.toml", &text.replace("\"flex\"", "\"tpu\""))
            .expect_err("unknown backend");
        assert!(err.to_string().contains("tpu"), "{err}");
    }

    #[test]
    fn merge_is_deep() {
        let mut base: toml::Table = toml::from_str("a = 1\n[t]\nx = 1\ny = 2").expect("toml");
        merge(
            &mut base,
            toml::from_str("b = 2\n[t]\ny = 3").expect("toml"),
        );
        assert_eq!(
            base,
            toml::from_str("a = 1\nb = 2\n[t]\nx = 1\ny = 3").expect("toml")
        );
    }
}
