//! Training glue for the convolutional autoencoder of `genzoo-vae` (lecture §1.3).

use std::path::Path;

use crate::models::state;
use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::Device;
use genzoo_datasets::rng::Rng;
use genzoo_datasets::{Binarization, ImageSet};
use genzoo_layers::adam::AdamConfig;
use genzoo_train::{Batches, Checkpoint, Grid, Result, StepOutput, Task};
use genzoo_vae::{Autoencoder, AutoencoderConfig};

/// Test images shown in the reconstruction grid (inputs row above outputs row).
const GRID_IMAGES: usize = 16;
const GRID_COLS: usize = 8;
/// Evaluation batch: large enough to amortise per-op overhead, small enough for any GPU.
const EVAL_BATCH: usize = 500;

/// An autoencoder, its Adam optimizer and learning rate.
pub struct AutoencoderTask {
    model: Autoencoder,
    optim: ModuleOptimizer,
    lr: f64,
    device: Device,
}

impl AutoencoderTask {
    /// A freshly initialised model on `device` (an autodiff device).
    pub fn new(config: &AutoencoderConfig, lr: f64, device: &Device) -> Self {
        Self {
            model: config.init(device),
            optim: AdamConfig::new().init(),
            lr,
            device: device.clone(),
        }
    }

    /// The model being trained.
    pub fn model(&self) -> &Autoencoder {
        &self.model
    }
}

/// Test-set reconstruction MSE per pixel, averaged over all images, on a non-autodiff copy.
pub fn test_mse(model: &Autoencoder, test: &ImageSet, device: &Device) -> f64 {
    let model = model.valid();
    let device = device.clone().inner();
    let mut sum = 0.0;
    let mut count = 0usize;
    let indices: Vec<usize> = (0..test.len()).collect();
    for chunk in indices.chunks(EVAL_BATCH) {
        let batch = test.batch(chunk, Binarization::None, 0, &device);
        let out = model.loss(batch.images);
        sum += f64::from(out.loss.into_scalar::<f32>()) * chunk.len() as f64;
        count += chunk.len();
    }
    sum / count.max(1) as f64
}

impl Task for AutoencoderTask {
    fn name(&self) -> &str {
        "autoencoder"
    }

    fn step(&mut self, batches: &mut Batches<'_>, _rng: &mut Rng) -> StepOutput {
        let batch = batches.next_batch();
        let images = batch.images.dims()[0];
        let loss = self.model.loss(batch.images).loss;
        let value = f64::from(loss.clone().into_scalar::<f32>());
        let grads = GradientsParams::from_grads(loss.backward(), &self.model);
        self.model = self.optim.step(self.lr, self.model.clone(), grads);
        StepOutput {
            loss: value,
            parts: vec![],
            images,
        }
    }

    fn evaluate(&mut self, test: &ImageSet) -> Vec<(String, f64)> {
        vec![("test_mse".into(), test_mse(&self.model, test, &self.device))]
    }

    fn selection_metric(&self) -> &str {
        "test_mse"
    }

    fn sample_grid(&mut self, test: &ImageSet) -> Option<Grid> {
        let n = GRID_IMAGES.min(test.len());
        let device = self.device.clone().inner();
        let indices: Vec<usize> = (0..n).collect();
        let x = test.batch(&indices, Binarization::None, 0, &device).images;
        let y = self.model.valid().forward(x.clone());
        let [_, c, h, w] = x.dims();
        let rows_in: Vec<f32> = x.into_data().try_to_vec().ok()?;
        let rows_out: Vec<f32> = y.into_data().try_to_vec().ok()?;
        // Interleave rows of GRID_COLS inputs with the matching rows of outputs.
        let per = c * h * w;
        let mut images = Vec::with_capacity(2 * n * per);
        for start in (0..n).step_by(GRID_COLS) {
            let end = (start + GRID_COLS).min(n);
            images.extend_from_slice(&rows_in[start * per..end * per]);
            images.extend_from_slice(&rows_out[start * per..end * per]);
        }
        Some(Grid {
            images,
            n: 2 * n,
            channels: c,
            height: h,
            width: w,
            cols: GRID_COLS.min(n),
        })
    }

    fn save(&self) -> Result<Vec<(String, Vec<u8>)>> {
        Ok(vec![
            state::module_section("model", &self.model)?,
            state::optim_section("optim", &self.optim)?,
        ])
    }

    fn load(&mut self, checkpoint: &Checkpoint, path: &Path) -> Result<()> {
        let model = state::load_module(&self.model, checkpoint, path, "model")?;
        let optim = state::load_optim(&self.optim, checkpoint, path, "optim")?;
        // Assigned only once both loaded, so a failed load leaves the task untouched.
        self.model = model;
        self.optim = optim;
        Ok(())
    }
}
