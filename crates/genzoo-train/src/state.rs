//! A task's state in a checkpoint: burn module records and optimizer states as named byte sections,
//! loaded back with errors that name the checkpoint and the section; and [`Optimized`], a model
//! with its one optimizer, which every model trained by one loss and one optimizer is built on.

use std::path::Path;

use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::store::{ModuleRecord, RecordError};
use burn::tensor::{Bytes, Tensor};

use crate::checkpoint::Checkpoint;
use crate::error::{Error, Result};
use crate::scalar::Scalar;
use crate::weights::{Layout, from_safetensors, to_safetensors};

fn serialize_err(e: RecordError) -> Error {
    Error::Config(format!("serializing state: {e}"))
}

fn mismatch(path: &Path, what: &str, e: RecordError) -> Error {
    Error::CheckpointMismatch {
        path: path.to_path_buf(),
        message: format!("{what}: {e}"),
    }
}

/// The section `(name, bytes)` of a module's record.
pub fn module_section<M: Module>(name: &str, module: &M) -> Result<(String, Vec<u8>)> {
    let bytes = module
        .clone()
        .into_record()
        .into_bytes()
        .map_err(serialize_err)?;
    Ok((name.to_string(), bytes.to_vec()))
}

/// The section `(name, bytes)` of an optimizer's state.
pub fn optim_section(name: &str, optim: &ModuleOptimizer) -> Result<(String, Vec<u8>)> {
    Ok((
        name.to_string(),
        optim.into_bytes().map_err(serialize_err)?.to_vec(),
    ))
}

/// `module` with the weights of section `name`; a record of another shape is a
/// [`Error::CheckpointMismatch`].
pub fn load_module<M: Module>(
    module: &M,
    checkpoint: &Checkpoint,
    path: &Path,
    name: &str,
) -> Result<M> {
    let bytes = Bytes::from_bytes_vec(checkpoint.section(path, name)?.to_vec());
    let record = ModuleRecord::from_bytes(bytes).map_err(|e| mismatch(path, name, e))?;
    module
        .clone()
        .try_load_record(record)
        .map_err(|e| mismatch(path, name, e))
}

/// `optim` with the state of section `name`.
pub fn load_optim(
    optim: &ModuleOptimizer,
    checkpoint: &Checkpoint,
    path: &Path,
    name: &str,
) -> Result<ModuleOptimizer> {
    let bytes = Bytes::from_bytes_vec(checkpoint.section(path, name)?.to_vec());
    optim
        .clone()
        .from_bytes(bytes)
        .map_err(|e| mismatch(path, name, e))
}

/// A model on an autodiff device with its optimizer and learning rate: one gradient step from a
/// loss, saved as the checkpoint sections `model` and `optim`.
///
/// ```
/// use burn::module::Module;
/// use burn::nn::{Linear, LinearConfig};
/// use burn::optim::SgdConfig;
/// use burn::tensor::{Device, Tensor};
/// use genzoo_train::state::Optimized;
///
/// let device = Device::flex().autodiff();
/// let mut net = Optimized::new(LinearConfig::new(2, 1).init(&device), SgdConfig::new().init(), 0.1);
/// let x = Tensor::<2>::from_floats([[1.0, 2.0]], &device);
/// let before = net.step(net.model().forward(x.clone()).powf_scalar(2.0).mean()).read();
/// let after = net.step(net.model().forward(x).powf_scalar(2.0).mean()).read();
/// assert!(after < before);
/// ```
#[derive(Clone)]
pub struct Optimized<M> {
    model: M,
    optim: ModuleOptimizer,
    base_lr: f64,
    lr: f64,
}

impl<M: Module> Optimized<M> {
    /// `model` trained by `optim` at learning rate `lr`.
    pub fn new(model: M, optim: ModuleOptimizer, lr: f64) -> Self {
        Self {
            model,
            optim,
            base_lr: lr,
            lr,
        }
    }

    /// Trains on at `factor` × the learning rate it was made with.
    pub fn scale_lr(&mut self, factor: f64) {
        self.lr = self.base_lr * factor;
    }

    /// The model as trained so far.
    pub fn model(&self) -> &M {
        &self.model
    }

    /// One optimizer step down `loss` (a scalar computed from [`Optimized::model`]); returns its
    /// value, to be read when needed.
    pub fn step(&mut self, loss: Tensor<1>) -> Scalar {
        let value = Scalar::device(loss.clone());
        let grads = GradientsParams::from_grads(loss.backward(), &self.model);
        self.model = self.optim.step(self.lr, self.model.clone(), grads);
        value
    }

    /// The sections `model` and `optim`.
    pub fn sections(&self) -> Result<Vec<(String, Vec<u8>)>> {
        Ok(vec![
            module_section("model", &self.model)?,
            optim_section("optim", &self.optim)?,
        ])
    }

    /// The model's weights as a safetensors file ([`crate::weights::to_safetensors`]).
    pub fn export_weights(&self, layout: Layout, metadata: &[(&str, &str)]) -> Result<Vec<u8>> {
        to_safetensors(&self.model, layout, metadata)
    }

    /// Replaces the model's weights by those of a safetensors file; the optimizer's state stays.
    /// On an error nothing changes.
    pub fn import_weights(&mut self, bytes: Vec<u8>, layout: Layout, path: &Path) -> Result<()> {
        self.model = from_safetensors(&self.model, bytes, layout, path)?;
        Ok(())
    }

    /// Restores both sections; on an error nothing changes.
    pub fn load(&mut self, checkpoint: &Checkpoint, path: &Path) -> Result<()> {
        let model = load_module(&self.model, checkpoint, path, "model")?;
        self.load_with(model, checkpoint, path)
    }

    /// Restores the optimizer's section with `model` already loaded (by a caller that checks
    /// more than the weights' shapes); on an error nothing changes.
    pub fn load_with(&mut self, model: M, checkpoint: &Checkpoint, path: &Path) -> Result<()> {
        let optim = load_optim(&self.optim, checkpoint, path, "optim")?;
        self.model = model;
        self.optim = optim;
        Ok(())
    }
}

/// The [`Task`](crate::Task) methods of a task whose networks and optimizer are one
/// [`Optimized`] field, delegated to it: `scale_lr`, `export_weights` and `import_weights`, and with
/// the field alone also `save` and `load` (a task that saves more than the field writes those two
/// itself: `delegate_to_optimized!(net, weights)`). Invoked inside the `impl Task`:
/// `genzoo_train::delegate_to_optimized!(net);`.
#[macro_export]
macro_rules! delegate_to_optimized {
    ($field:ident) => {
        $crate::delegate_to_optimized!($field, weights);

        fn save(&self) -> $crate::Result<Vec<(String, Vec<u8>)>> {
            self.$field.sections()
        }

        fn load(
            &mut self,
            checkpoint: &$crate::Checkpoint,
            path: &std::path::Path,
        ) -> $crate::Result<()> {
            self.$field.load(checkpoint, path)
        }
    };
    ($field:ident, weights) => {
        fn scale_lr(&mut self, factor: f64) {
            self.$field.scale_lr(factor);
        }

        fn export_weights(
            &self,
            layout: $crate::Layout,
            metadata: &[(&str, &str)],
        ) -> $crate::Result<Vec<u8>> {
            self.$field.export_weights(layout, metadata)
        }

        fn import_weights(
            &mut self,
            bytes: Vec<u8>,
            layout: $crate::Layout,
            path: &std::path::Path,
        ) -> $crate::Result<()> {
            self.$field.import_weights(bytes, layout, path)
        }
    };
}

#[cfg(test)]
mod tests {
    use burn::nn::LinearConfig;
    use burn::optim::SgdConfig;
    use burn::tensor::Device;

    use super::*;

    /// Plain SGD moves a weight by `lr · factor · gradient`; the gradient of `sum(x·W + b)` with
    /// respect to `W` is `x`, so the step is known in closed form. A later factor replaces an
    /// earlier one rather than compounding it.
    #[test]
    fn scale_lr_scales_the_step_by_its_factor() {
        let device = Device::flex().autodiff();
        let model = LinearConfig::new(2, 1).init(&device);
        let x = Tensor::<2>::from_floats([[1.0, 2.0]], &device);
        let weights = |m: &burn::nn::Linear| -> Vec<f32> {
            m.weight.val().into_data().try_to_vec::<f32>().expect("f32")
        };
        let before = weights(&model);
        for factors in [&[1.0][..], &[0.25], &[0.5, 0.25], &[0.25, 1.0]] {
            let mut net = Optimized::new(model.clone(), SgdConfig::new().init(), 0.1);
            for &f in factors {
                net.scale_lr(f);
            }
            net.step(net.model().forward(x.clone()).sum());
            let factor = factors[factors.len() - 1] as f32;
            let moved: Vec<f32> = before
                .iter()
                .zip(weights(net.model()))
                .map(|(b, a)| b - a)
                .collect();
            for (m, xi) in moved.iter().zip([1.0f32, 2.0]) {
                let want = 0.1 * factor * xi;
                assert!(
                    (m - want).abs() < 1e-6,
                    "{factors:?}: moved {m}, want {want}"
                );
            }
        }
    }
}
