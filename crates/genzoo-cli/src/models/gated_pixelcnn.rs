//! Training glue for Gated PixelCNN of `genzoo-pixel` (lecture §2.1), unconditional
//! (`gated-pixelcnn`) or conditioned on the class (`cond-pixelcnn`). Samples and completions use
//! the cached sampler of `genzoo_pixel::cached_gated` (the naive one, which draws the same images,
//! after `set_fast_sampling(false)`).

use std::path::Path;

use crate::models::state;
use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor};
use genzoo_datasets::rng::{Rng, derive_seed};
use genzoo_datasets::{Binarization, ImageSet};
use genzoo_layers::adam::AdamConfig;
use genzoo_metrics::likelihood::bits_per_dim;
use genzoo_pixel::cached_gated::{complete_cached_gated, sample_cached_gated};
use genzoo_pixel::sampling::{SampleOptions, complete_naive, sample_naive};
use genzoo_pixel::{GatedPixelCnn, GatedPixelCnnConfig};
use genzoo_train::{Batches, Checkpoint, Figure, Grid, Result, StepOutput, Task};

use super::pixelcnn::{sampler_times, to_grid};

const GRID_SEED: u64 = 0x5EED;
/// Unconditional grid: 16 samples; conditional grid: one row of this many samples per class.
const GRID_SAMPLES: usize = 16;
const PER_CLASS: usize = 4;
const COMPLETE_IMAGES: usize = 8;
const EVAL_BATCH: usize = 250;
const GENERATE_BATCH: usize = 64;
const TEST_BINARIZATION_SEED: u64 = 0x7E57;

/// A Gated PixelCNN, its Adam optimizer and learning rate.
pub struct GatedPixelCnnTask {
    name: &'static str,
    model: GatedPixelCnn,
    config: GatedPixelCnnConfig,
    optim: ModuleOptimizer,
    lr: f64,
    device: Device,
    /// Cached sampler (the default) or naive sampler; both draw the same images.
    fast: bool,
}

impl GatedPixelCnnTask {
    /// A fresh model on `device` (autodiff); `name` is the registry name. The config must pass
    /// [`GatedPixelCnnConfig::check`].
    pub fn new(name: &'static str, config: &GatedPixelCnnConfig, lr: f64, device: &Device) -> Self {
        Self {
            name,
            model: config.init(device),
            config: config.clone(),
            optim: AdamConfig::new().init(),
            lr,
            device: device.clone(),
            fast: true,
        }
    }

    fn binarize(&self) -> Binarization {
        if self.config.levels == 2 {
            Binarization::Dynamic
        } else {
            Binarization::None
        }
    }

    fn dims(&self) -> usize {
        self.config.channels * self.config.image_size * self.config.image_size
    }

    /// Samples for `labels` (one image each; any labels for an unconditional model).
    fn sample_labels(&self, labels: &[usize], seed: u64) -> Option<Tensor<4>> {
        let model = self.model.valid();
        let device = self.device.clone().inner();
        let cond = model.conditioned(labels, &device).ok()?;
        let opts = SampleOptions::new(seed);
        if self.fast {
            sample_cached_gated(&cond, &opts, &device).ok()
        } else {
            sample_naive(&cond, labels.len(), &opts, &device).ok()
        }
    }

    /// Completions of `images` given their labels (clamped into range for an unconditional model).
    fn complete_labels(
        &self,
        images: Tensor<4>,
        labels: &[usize],
        known: usize,
        seed: u64,
    ) -> Option<Tensor<4>> {
        let model = self.model.valid();
        let device = self.device.clone().inner();
        let labels: Vec<usize> = labels
            .iter()
            .map(|&l| l.min(self.config.classes.max(1) - 1))
            .collect();
        let cond = model.conditioned(&labels, &device).ok()?;
        let images = images.to_device(&device);
        let opts = SampleOptions::new(seed);
        let done = if self.fast {
            complete_cached_gated(&cond, images, known, &opts, &device)
        } else {
            complete_naive(&cond, images, known, &opts, &device)
        };
        done.map_err(|e| tracing::warn!("completion failed: {e}"))
            .ok()
    }

    fn labels_for(&self, n: usize) -> Vec<usize> {
        (0..n).map(|i| i % self.config.classes.max(1)).collect()
    }
}

impl Task for GatedPixelCnnTask {
    fn name(&self) -> &str {
        self.name
    }

    fn binarization(&self) -> Binarization {
        self.binarize()
    }

    fn step(&mut self, batches: &mut Batches<'_>, _rng: &mut Rng) -> StepOutput {
        let batch = batches.next_batch();
        let images = batch.images.dims()[0];
        let loss = self.model.loss(batch.images, Some(batch.labels));
        let value = f64::from(loss.clone().into_scalar::<f32>());
        let grads = GradientsParams::from_grads(loss.backward(), &self.model);
        self.model = self.optim.step(self.lr, self.model.clone(), grads);
        StepOutput {
            loss: value,
            parts: vec![("bits_per_dim", bits_per_dim(value, self.dims()))],
            images,
        }
    }

    fn evaluate(&mut self, test: &ImageSet) -> Vec<(String, f64)> {
        let model = self.model.valid();
        let device = self.device.clone().inner();
        let mut sum = 0.0;
        let indices: Vec<usize> = (0..test.len()).collect();
        for chunk in indices.chunks(EVAL_BATCH) {
            let batch = test.batch(chunk, self.binarize(), TEST_BINARIZATION_SEED, &device);
            let log_p = model.log_prob(batch.images, Some(batch.labels)).sum();
            sum -= f64::from(log_p.into_scalar::<f32>());
        }
        let nll = sum / test.len().max(1) as f64;
        vec![
            ("test_nll_nats".into(), nll),
            ("test_bits_per_dim".into(), bits_per_dim(nll, self.dims())),
        ]
    }

    fn selection_metric(&self) -> &str {
        "test_nll_nats"
    }

    fn sample_grid(&mut self, _test: &ImageSet) -> Option<Grid> {
        if self.config.classes > 0 {
            // One row per class.
            let labels: Vec<usize> = (0..self.config.classes)
                .flat_map(|c| std::iter::repeat_n(c, PER_CLASS))
                .collect();
            to_grid(self.sample_labels(&labels, GRID_SEED)?, PER_CLASS)
        } else {
            to_grid(self.sample_labels(&[0; GRID_SAMPLES], GRID_SEED)?, 8)
        }
    }

    fn generate(&mut self, n: usize, seed: u64) -> Option<Tensor<4>> {
        let labels = self.labels_for(n);
        let chunks: Vec<Tensor<4>> = labels
            .chunks(GENERATE_BATCH)
            .enumerate()
            .map(|(k, l)| self.sample_labels(l, derive_seed(seed, &[k as u64])))
            .collect::<Option<_>>()?;
        if chunks.is_empty() {
            return None;
        }
        Some(Tensor::cat(chunks, 0))
    }

    fn num_classes(&self) -> usize {
        self.config.classes
    }

    fn generate_class(&mut self, n: usize, seed: u64, label: usize) -> Option<Tensor<4>> {
        if label >= self.config.classes || n == 0 {
            return None;
        }
        let labels = vec![label; n];
        let chunks: Vec<Tensor<4>> = labels
            .chunks(GENERATE_BATCH)
            .enumerate()
            .map(|(k, l)| self.sample_labels(l, derive_seed(seed, &[k as u64])))
            .collect::<Option<_>>()?;
        Some(Tensor::cat(chunks, 0))
    }

    fn figures(&mut self, test: &ImageSet) -> Vec<(String, Figure)> {
        let n = COMPLETE_IMAGES.min(test.len());
        if n == 0 {
            return Vec::new();
        }
        let device = self.device.clone().inner();
        let indices: Vec<usize> = (0..n).collect();
        let labels: Vec<usize> = indices
            .iter()
            .map(|&i| usize::from(test.label(i)))
            .collect();
        let x = test
            .batch(&indices, self.binarize(), TEST_BINARIZATION_SEED, &device)
            .images;
        let [_, _, h, w] = x.dims();
        let seed = derive_seed(GRID_SEED, &[0xC0]);
        match self.complete_labels(x.clone(), &labels, (h / 2) * w, seed) {
            Some(done) => to_grid(Tensor::cat(vec![x, done], 0), n)
                .map(|g| vec![("completions".to_string(), Figure::Grid(g))])
                .unwrap_or_default(),
            None => Vec::new(),
        }
    }

    fn set_fast_sampling(&mut self, fast: bool) -> bool {
        self.fast = fast;
        true
    }

    fn complete(
        &mut self,
        images: Tensor<4>,
        labels: &[usize],
        known: usize,
        seed: u64,
    ) -> Option<Tensor<4>> {
        self.complete_labels(images, labels, known, seed)
    }

    fn bench_extras(&mut self, _test: &ImageSet, samples: usize) -> Vec<(String, f64)> {
        let labels = self.labels_for(samples);
        let model = self.model.valid();
        let device = self.device.clone().inner();
        let Ok(cond) = model.conditioned(&labels, &device) else {
            return Vec::new();
        };
        sampler_times(
            samples,
            |_, opts| sample_cached_gated(&cond, opts, &device).ok(),
            |images, known, opts| complete_naive(&cond, images, known, opts, &device).ok(),
        )
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
