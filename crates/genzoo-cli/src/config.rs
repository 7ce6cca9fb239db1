//! Flags → configuration: the layers of a fresh run's configuration (the model's preset, the
//! `--config` file, the flags). The configuration itself is [`genzoo_train::config::RunConfig`].

use genzoo_train::Backend;

use crate::{Error, Result};

pub use genzoo_train::config::{Provenance, RunConfig, merge};

use crate::TrainArgs;

/// The layers of a fresh run's configuration, lowest first: the model's preset, the `--config`
/// file, the flags. Gradient-trained models and classic fits resolve through it alike.
pub struct Layers {
    /// The dataset: `--dataset`, else the file's, else `mnist-mini`.
    pub dataset: String,
    /// The backend: `--backend`, else the file's, else the fastest compiled in.
    pub backend: Backend,
    file: Option<toml::Table>,
}

impl Layers {
    /// Reads `--config` (refusing a file that names a model other than `model`) and settles the
    /// dataset and the backend.
    pub fn read(args: &TrainArgs, model: &str) -> Result<Self> {
        let file: Option<toml::Table> = match &args.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
                    path: path.clone(),
                    source,
                })?;
                Some(
                    toml::from_str(&text)
                        .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?,
                )
            }
            None => None,
        };
        let file_str = |key: &str| {
            file.as_ref()
                .and_then(|t| t.get(key))
                .and_then(|v| v.as_str())
                .map(String::from)
        };
        if let Some(m) = file_str("model").filter(|m| m != model) {
            return Err(Error::Config(format!(
                "--config names model '{m}' but the command trains '{model}'"
            )));
        }
        let dataset = args
            .dataset
            .clone()
            .or_else(|| file_str("dataset"))
            .unwrap_or_else(|| "mnist-mini".into());
        let backend = Backend::named_or_default(
            args.backend
                .clone()
                .or_else(|| file_str("backend"))
                .as_deref(),
        )?;
        Ok(Self {
            dataset,
            backend,
            file,
        })
    }

    /// `base` (the model's defaults and preset), the file over it (its provenance dropped), then
    /// the dataset, the backend and `--seed`: the table the model's own flags go on.
    pub fn merge(self, mut base: toml::Table, args: &TrainArgs) -> toml::Table {
        if let Some(mut file) = self.file {
            file.remove("provenance");
            merge(&mut base, file);
        }
        base.insert("dataset".into(), self.dataset.into());
        base.insert("backend".into(), self.backend.to_string().into());
        set_flag(&mut base, "seed", args.seed.map(|s| s as i64));
        base
    }
}

/// Sets `key` of `table` to the flag's value when the flag was given.
pub fn set_flag(table: &mut toml::Table, key: &str, value: Option<impl Into<toml::Value>>) {
    if let Some(v) = value {
        table.insert(key.into(), v.into());
    }
}
