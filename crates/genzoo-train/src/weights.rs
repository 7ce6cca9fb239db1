//! Weights out and in: a task's networks as one safetensors file, written and read by burn-store's
//! [`SafetensorsStore`], in burn's own tensor names or in PyTorch's layout, with the run's
//! `config.toml` in the file's metadata so that the file alone rebuilds the model.
//!
//! Metadata keys (all strings): [`CONFIG_KEY`] (the run's `config.toml`), [`MODEL_KEY`] (the
//! registry name), [`LAYOUT_KEY`] (`burn` or `pytorch`), [`STEP_KEY`] (the training step the
//! weights come from). In PyTorch's layout ([`BurnToPyTorchAdapter`]) a `Linear` weight is stored
//! `[out, in]` and a norm's `gamma`/`beta` are `weight`/`bias`; enum variants (a GAN's `Mlp` or
//! `Dcgan` network) are left out of the names, so `torch.nn.Module.load_state_dict` takes the
//! tensors as they are.
//!
//! ```
//! use burn::nn::LinearConfig;
//! use burn::tensor::Device;
//! use genzoo_train::weights::{Layout, from_safetensors, to_safetensors};
//!
//! let device = Device::flex();
//! let net = LinearConfig::new(3, 2).init(&device);
//! let bytes = to_safetensors(&net, Layout::PyTorch, &[("genzoo.model", "demo")]).unwrap();
//! let fresh = LinearConfig::new(3, 2).init(&device);
//! let loaded = from_safetensors(&fresh, bytes, Layout::PyTorch, "net.safetensors".as_ref()).unwrap();
//! assert_eq!(loaded.weight.val().into_data(), net.weight.val().into_data());
//! // A network of another shape is refused, naming the tensor.
//! let other = LinearConfig::new(4, 2).init(&device);
//! let bytes = to_safetensors(&net, Layout::Burn, &[]).unwrap();
//! let err = from_safetensors(&other, bytes, Layout::Burn, "net.safetensors".as_ref()).unwrap_err();
//! assert!(err.to_string().contains("weight"), "{err}");
//! ```

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use burn::module::Module;
use burn::store::{BurnToPyTorchAdapter, ModuleSnapshot, PyTorchToBurnAdapter, SafetensorsStore};

use burn::tensor::{Device, Tensor, TensorData};
use genzoo_datasets::rng::{Rng, derive_seed};

use crate::checkpoint::{Checkpoint, CheckpointMeta};
use crate::config::RunConfig;
use crate::error::{Error, IoContext, Result};
use crate::run::RunDir;
use crate::trainer::Task;

/// Metadata key of the run's `config.toml`.
pub const CONFIG_KEY: &str = "genzoo.config";
/// Metadata key of the model's registry name.
pub const MODEL_KEY: &str = "genzoo.model";
/// Metadata key of the [`Layout`].
pub const LAYOUT_KEY: &str = "genzoo.layout";
/// Metadata key of the training step of the weights.
pub const STEP_KEY: &str = "genzoo.step";

/// PyTorch's BatchNorm counter of batches seen: a buffer with no counterpart in burn, which a
/// PyTorch state dict carries and an import ignores.
const TORCH_BATCH_COUNTER: &str = "num_batches_tracked";

/// Tensor names and layout of an exported file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// burn's own module paths and layouts (`Linear` weights `[in, out]`, norms' `gamma`/`beta`).
    Burn,
    /// PyTorch's: `Linear` weights `[out, in]`, norms' `weight`/`bias`, no enum variant names.
    PyTorch,
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Layout::Burn => "burn",
            Layout::PyTorch => "pytorch",
        })
    }
}

impl FromStr for Layout {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "burn" => Ok(Layout::Burn),
            "pytorch" => Ok(Layout::PyTorch),
            other => Err(Error::Config(format!(
                "unknown weights layout '{other}'; expected burn or pytorch"
            ))),
        }
    }
}

fn store(bytes: Option<Vec<u8>>, layout: Layout) -> SafetensorsStore {
    let store = SafetensorsStore::from_bytes(bytes);
    match layout {
        Layout::Burn => store,
        Layout::PyTorch => store
            .with_to_adapter(BurnToPyTorchAdapter)
            .with_from_adapter(PyTorchToBurnAdapter)
            .skip_enum_variants(true),
    }
}

/// The weights of `module` as the bytes of a safetensors file in `layout`, with `metadata` in its
/// header (besides burn-store's own `format`, `producer` and `version`).
pub fn to_safetensors<M: Module>(
    module: &M,
    layout: Layout,
    metadata: &[(&str, &str)],
) -> Result<Vec<u8>> {
    let mut store = metadata
        .iter()
        .fold(store(None, layout), |s, (k, v)| s.metadata(*k, *v));
    let failed = |e: burn::store::SafetensorsStoreError| {
        Error::Model(format!("writing the weights as safetensors: {e}"))
    };
    module.save_into(&mut store).map_err(failed)?;
    store.get_bytes().map_err(failed)
}

/// `module` with the weights of the safetensors file `bytes` (read from `path`, which errors
/// name). Every parameter of `module` must be in the file with its shape and no tensor may be
/// left over (but PyTorch's `num_batches_tracked` in [`Layout::PyTorch`]); otherwise a
/// [`Error::WeightsMismatch`] names the tensors, and `module` is not changed.
pub fn from_safetensors<M: Module>(
    module: &M,
    bytes: Vec<u8>,
    layout: Layout,
    path: &Path,
) -> Result<M> {
    read_metadata(&bytes, path)?;
    let mut store = store(Some(bytes), layout)
        .allow_partial(true)
        .validate(false);
    let mut loaded = module.clone();
    let mismatch = |message: String| Error::WeightsMismatch {
        path: path.to_path_buf(),
        message,
    };
    let result = loaded
        .load_from(&mut store)
        .map_err(|e| mismatch(e.to_string()))?;
    let mut problems: Vec<String> = result.errors.iter().map(ToString::to_string).collect();
    problems.extend(
        result
            .missing
            .iter()
            .map(|(name, _)| format!("no tensor '{name}' in the file")),
    );
    problems.extend(
        result
            .unused
            .iter()
            .filter(|name| !(layout == Layout::PyTorch && name.ends_with(TORCH_BATCH_COUNTER)))
            .map(|name| format!("tensor '{name}' is not a parameter of this model")),
    );
    if problems.is_empty() {
        return Ok(loaded);
    }
    let count = problems.len();
    problems.truncate(8);
    let more = if count > problems.len() {
        format!("; and {} more", count - problems.len())
    } else {
        String::new()
    };
    Err(mismatch(format!(
        "{} (layout {layout}){more}",
        problems.join("; ")
    )))
}

/// The string metadata of the safetensors file `bytes`; a file that is not one (truncated, not
/// safetensors at all) is an [`Error::CorruptWeights`] naming `path`.
pub fn read_metadata(bytes: &[u8], path: &Path) -> Result<HashMap<String, String>> {
    let corrupt = |message: String| Error::CorruptWeights {
        path: path.to_path_buf(),
        message,
    };
    // Header and data are checked against each other: a truncated file fails here.
    safetensors::SafeTensors::deserialize(bytes)
        .map_err(|e| corrupt(format!("not a complete safetensors file: {e}")))?;
    let (_, meta) = safetensors::SafeTensors::read_metadata(bytes)
        .map_err(|e| corrupt(format!("not a safetensors file: {e}")))?;
    Ok(meta.metadata().clone().unwrap_or_default())
}

/// A weights file as read back: its bytes and the genzoo metadata of its header.
#[derive(Debug, Clone)]
pub struct WeightsFile {
    /// Where it was read from (for a shipped file, its name).
    pub path: PathBuf,
    /// The model's registry name ([`MODEL_KEY`]).
    pub model: String,
    /// The tensors' layout ([`LAYOUT_KEY`]).
    pub layout: Layout,
    /// The run configuration it was exported with ([`CONFIG_KEY`]).
    pub config_toml: String,
    /// The training step the weights come from ([`STEP_KEY`]; 0 when the file does not say).
    pub step: u64,
    /// The whole file.
    pub bytes: Vec<u8>,
}

impl WeightsFile {
    /// Reads and checks `path`: a complete safetensors file whose metadata names a model, a layout
    /// and a configuration.
    pub fn read(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).at(path)?;
        Self::from_bytes(bytes, path)
    }

    /// Checks the bytes of a weights file read from `path` (named in errors), as [`Self::read`].
    pub fn from_bytes(bytes: Vec<u8>, path: &Path) -> Result<Self> {
        let meta = read_metadata(&bytes, path)?;
        let get = |key: &str| {
            meta.get(key).cloned().ok_or_else(|| Error::CorruptWeights {
                path: path.to_path_buf(),
                message: format!(
                    "its metadata has no '{key}' (genzoo writes it with `genzoo export`; a file saved from PyTorch keeps it with `safetensors.torch.save_file(state_dict, path, metadata=the export's metadata)`)"
                ),
            })
        };
        let step = match meta.get(STEP_KEY) {
            None => 0,
            Some(s) => s.parse().map_err(|_| Error::CorruptWeights {
                path: path.to_path_buf(),
                message: format!("its metadata '{STEP_KEY}' is '{s}', not a step number"),
            })?,
        };
        Ok(Self {
            path: path.to_path_buf(),
            model: get(MODEL_KEY)?,
            layout: get(LAYOUT_KEY)?.parse()?,
            config_toml: get(CONFIG_KEY)?,
            step,
            bytes,
        })
    }
}

fn write_new(path: &Path, bytes: &[u8]) -> Result<()> {
    crate::fsutil::write_new(path, bytes).at(path)
}

/// `genzoo export`: writes the weights of `task` (loaded from a checkpoint at `step` of a run
/// whose `config.toml` is `config_toml`) to the new file `out` in `layout`, and with `probe` the
/// probe ([`Task::probe`]) to that new file; returns the files written. Neither file may exist.
pub fn export_run(
    task: &mut dyn Task,
    config_toml: &str,
    step: u64,
    layout: Layout,
    out: &Path,
    probe: Option<&Path>,
) -> Result<Vec<PathBuf>> {
    if probe == Some(out) {
        return Err(Error::Config(format!(
            "the probe and the weights would both go to {}; give the probe another file",
            out.display()
        )));
    }
    if let Some(path) = std::iter::once(out).chain(probe).find(|p| p.exists()) {
        return Err(Error::Config(format!(
            "{} exists and is not replaced; remove it or choose another name",
            path.display()
        )));
    }
    let (layout_name, step) = (layout.to_string(), step.to_string());
    let meta = [
        (MODEL_KEY, task.name().to_string()),
        (LAYOUT_KEY, layout_name),
        (STEP_KEY, step),
        (CONFIG_KEY, config_toml.to_string()),
    ];
    let meta: Vec<(&str, &str)> = meta.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let weights = task.export_weights(layout, &meta)?;
    let probe = match probe {
        Some(path) => Some((path, probe_to_safetensors(&task.probe()?, &meta[..3])?)),
        None => None,
    };
    write_new(out, &weights)?;
    let mut written = vec![out.to_path_buf()];
    if let Some((path, bytes)) = probe {
        write_new(path, &bytes)?;
        written.push(path.to_path_buf());
    }
    Ok(written)
}

/// `genzoo import`: reads `file`, checks that it holds `model`, builds the task of the
/// configuration in its metadata with `build` and loads the weights into it (every tensor
/// checked), then makes the run directory `out` (never replacing one) with that configuration
/// and a `last` checkpoint at step 0 (fresh optimizer state). Returns the run directory.
pub fn import_run<E: From<Error>>(
    file: &Path,
    model: &str,
    out: &Path,
    build: impl FnOnce(&RunConfig) -> std::result::Result<Box<dyn Task>, E>,
) -> std::result::Result<PathBuf, E> {
    import_weights_file(WeightsFile::read(file)?, model, out, build)
}

/// [`import_run`] of a weights file already read (shipped weights, for one).
pub fn import_weights_file<E: From<Error>>(
    weights: WeightsFile,
    model: &str,
    out: &Path,
    build: impl FnOnce(&RunConfig) -> std::result::Result<Box<dyn Task>, E>,
) -> std::result::Result<PathBuf, E> {
    let file = weights.path.clone();
    let origin = format!("{} (metadata {CONFIG_KEY})", file.display());
    let cfg = RunConfig::from_toml(&origin, &weights.config_toml)?;
    if weights.model != model || cfg.model != model {
        return Err(Error::Config(format!(
            "{} holds the weights of '{}', not '{model}'",
            file.display(),
            weights.model
        ))
        .into());
    }
    let mut task = build(&cfg)?;
    task.import_weights(weights.bytes, weights.layout, &file)?;
    let checkpoint = Checkpoint {
        meta: CheckpointMeta::start(model, cfg.seed),
        sections: task.save()?,
    };
    let run = RunDir::create(out, false, &cfg.to_toml()?).map_err(|e| match e {
        Error::RunDirExists(p) => Error::Config(format!(
            "run directory {} already exists and is not replaced; pass --out a new directory",
            p.display()
        )),
        e => e,
    })?;
    checkpoint.save(&run.checkpoint_path("last"))?;
    Ok(run.root().to_path_buf())
}

/// Seed of the probe's fixed inputs: the same inputs on every backend and in every run.
pub const PROBE_SEED: u64 = 0x9B0E;
/// Images (or latent codes) in a probe batch.
pub const PROBE_BATCH: usize = 8;

/// `n` fixed values from genzoo's seeded RNG stream `stream` of the probe: uniform in [0, 1), or
/// standard normal.
pub fn probe_values(stream: u64, n: usize, normal: bool) -> Vec<f32> {
    let mut rng = Rng::seed_from_u64(derive_seed(PROBE_SEED, &[stream]));
    (0..n)
        .map(|_| {
            if normal {
                rng.normal_f32()
            } else {
                rng.uniform_f32()
            }
        })
        .collect()
}

/// The probe's fixed images of `shape` `[C, H, W]`: [`PROBE_BATCH`] images in [0, 1), or of
/// 0/1 pixels (uniform values above 1/2) for a binary model.
///
/// # Shapes
/// → `[PROBE_BATCH, C, H, W]`
pub fn probe_images(shape: [usize; 3], binary: bool, device: &Device) -> Tensor<4> {
    let [c, h, w] = shape;
    let mut values = probe_values(1, PROBE_BATCH * c * h * w, false);
    if binary {
        values
            .iter_mut()
            .for_each(|v| *v = f32::from(u8::from(*v > 0.5)));
    }
    Tensor::from_data(TensorData::new(values, [PROBE_BATCH, c, h, w]), device)
}

/// The probe's fixed latent codes: [`PROBE_BATCH`] standard normal vectors of `dim` values.
///
/// # Shapes
/// → `[PROBE_BATCH, dim]`
pub fn probe_latents(dim: usize, device: &Device) -> Tensor<2> {
    let values = probe_values(2, PROBE_BATCH * dim, true);
    Tensor::from_data(TensorData::new(values, [PROBE_BATCH, dim]), device)
}

/// The probe's class labels, `0, 1, …` modulo `classes`, one-hot.
///
/// # Shapes
/// → `[PROBE_BATCH, classes]`
pub fn probe_one_hot(classes: usize, device: &Device) -> Tensor<2> {
    let mut values = vec![0.0f32; PROBE_BATCH * classes];
    for i in 0..PROBE_BATCH {
        values[i * classes + i % classes] = 1.0;
    }
    Tensor::from_data(TensorData::new(values, [PROBE_BATCH, classes]), device)
}

/// A probe's named tensors as a safetensors file (f32, the names as given), with `metadata`.
pub fn probe_to_safetensors(
    tensors: &[(String, TensorData)],
    metadata: &[(&str, &str)],
) -> Result<Vec<u8>> {
    let bad = |e: String| Error::Model(format!("writing the probe: {e}"));
    let mut views = Vec::with_capacity(tensors.len());
    let mut buffers = Vec::with_capacity(tensors.len());
    for (name, data) in tensors {
        let values: Vec<f32> = data
            .try_to_vec_as::<f32>()
            .map_err(|e| bad(format!("{name}: {e:?}")))?;
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        buffers.push((name.clone(), data.shape().to_vec(), bytes));
    }
    for (name, shape, bytes) in &buffers {
        let view =
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), bytes)
                .map_err(|e| bad(format!("{name}: {e}")))?;
        views.push((name.clone(), view));
    }
    let metadata: HashMap<String, String> = metadata
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    safetensors::tensor::serialize(views, Some(metadata)).map_err(|e| bad(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::Module;
    use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig};
    use burn::tensor::Device;

    #[derive(Module, Debug)]
    struct Net {
        fc: Linear,
        norm: BatchNorm,
    }

    fn net(d_in: usize, device: &Device) -> Net {
        Net {
            fc: LinearConfig::new(d_in, 3).init(device),
            norm: BatchNormConfig::new(3).init(device),
        }
    }

    fn tensor_names(bytes: &[u8]) -> Vec<(String, Vec<usize>)> {
        let st = safetensors::SafeTensors::deserialize(bytes).expect("safetensors");
        let mut names: Vec<_> = st
            .tensors()
            .into_iter()
            .map(|(n, t)| (n, t.shape().to_vec()))
            .collect();
        names.sort();
        names
    }

    #[test]
    fn pytorch_layout_transposes_linear_weights_and_renames_norms() {
        let device = Device::flex();
        let bytes =
            to_safetensors(&net(5, &device), Layout::PyTorch, &[(MODEL_KEY, "n")]).expect("export");
        let names = tensor_names(&bytes);
        assert!(
            names.contains(&("fc.weight".into(), vec![3, 5])),
            "{names:?}"
        );
        assert!(
            names.contains(&("norm.weight".into(), vec![3])),
            "{names:?}"
        );
        assert!(
            names.contains(&("norm.running_var".into(), vec![3])),
            "{names:?}"
        );
        let burn = tensor_names(&to_safetensors(&net(5, &device), Layout::Burn, &[]).expect("x"));
        assert!(burn.contains(&("fc.weight".into(), vec![5, 3])), "{burn:?}");
        assert!(burn.contains(&("norm.gamma".into(), vec![3])), "{burn:?}");
        let meta = read_metadata(&bytes, Path::new("n")).expect("metadata");
        assert_eq!(meta.get(MODEL_KEY).map(String::as_str), Some("n"));
    }

    #[test]
    fn both_layouts_round_trip_exactly() {
        let device = Device::flex();
        let original = net(4, &device);
        for layout in [Layout::Burn, Layout::PyTorch] {
            let bytes = to_safetensors(&original, layout, &[]).expect("export");
            let loaded =
                from_safetensors(&net(4, &device), bytes, layout, Path::new("x")).expect("import");
            assert_eq!(
                loaded.fc.weight.val().into_data(),
                original.fc.weight.val().into_data()
            );
            assert_eq!(
                loaded.norm.gamma.val().into_data(),
                original.norm.gamma.val().into_data()
            );
        }
    }

    #[test]
    fn wrong_shapes_layouts_and_truncations_are_named_errors() {
        let device = Device::flex();
        let bytes = to_safetensors(&net(4, &device), Layout::PyTorch, &[]).expect("export");
        let err = from_safetensors(
            &net(6, &device),
            bytes.clone(),
            Layout::PyTorch,
            Path::new("w"),
        )
        .expect_err("shape");
        assert!(
            matches!(err, Error::WeightsMismatch { .. }) && err.to_string().contains("fc.weight"),
            "{err}"
        );
        // A PyTorch-layout file read as burn's: the norm's names are not burn's.
        let err = from_safetensors(
            &net(4, &device),
            bytes.clone(),
            Layout::Burn,
            Path::new("w"),
        )
        .expect_err("layout");
        assert!(err.to_string().contains("gamma"), "{err}");
        for cut in [0, 7, 8, 20, bytes.len() / 2, bytes.len() - 1] {
            let err = from_safetensors(
                &net(4, &device),
                bytes[..cut].to_vec(),
                Layout::PyTorch,
                Path::new("w"),
            )
            .expect_err("truncated");
            assert!(
                matches!(err, Error::CorruptWeights { .. }),
                "cut {cut}: {err}"
            );
        }
    }

    #[test]
    fn layout_names_parse_and_print() {
        for layout in [Layout::Burn, Layout::PyTorch] {
            assert_eq!(layout.to_string().parse::<Layout>().expect("parse"), layout);
        }
        assert!("onnx".parse::<Layout>().is_err());
    }
}
