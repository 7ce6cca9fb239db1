//! Training glue for PixelRNN of `genzoo-pixel` (lecture §2.1; van den Oord et al. 2016,
//! arXiv:1601.06759): `row-lstm` and `diagonal-bilstm`, exact NLL training on dynamically
//! binarized MNIST (or 8-bit images with a 256-way softmax), test NLL in nats and bits/dim.
//!
//! Samples: the cached sampler of `genzoo_pixel::cached_rnn` by default (each draw recomputes one
//! row of the Row LSTM, or one position of the Diagonal BiLSTM, from kept LSTM states);
//! `set_fast_sampling(false)` picks the naive sampler (one full forward pass per sub-pixel, same
//! images).

use std::path::Path;

use crate::models::state;
use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor};
use genzoo_datasets::rng::{Rng, derive_seed};
use genzoo_datasets::{Binarization, ImageSet};
use genzoo_layers::adam::AdamConfig;
use genzoo_metrics::likelihood::bits_per_dim;
use genzoo_pixel::sampling::{SampleOptions, complete_naive, sample_naive};
use genzoo_pixel::{PixelRnn, PixelRnnConfig, RnnKind, cached_rnn};
use genzoo_train::{Batches, Checkpoint, Grid, Result, StepOutput, Task};

use super::pixelcnn::{sampler_times, to_grid};

/// Default samples in the progress grid (fixed seed, so grids of successive steps are comparable).
const GRID_SAMPLES: usize = 16;
const GRID_COLS: usize = 8;
const GRID_SEED: u64 = 0x5EED;
/// Evaluation batch.
const EVAL_BATCH: usize = 250;
/// Samples drawn per batch by `generate`.
const GENERATE_BATCH: usize = 64;
/// The test set is binarized once with this seed, so every evaluation sees the same images.
const TEST_BINARIZATION_SEED: u64 = 0x7E57;

/// The `[model_config]` of `row-lstm` and `diagonal-bilstm`: the network's configuration and
/// how many test images an evaluation reads.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PixelRnnRunConfig {
    /// The network.
    #[serde(flatten)]
    pub model: PixelRnnConfig,
    /// Test images of each evaluation, the first ones of the split; 0 = the whole test set.
    /// The recurrent models evaluate slowly on a CPU, so a budget run may evaluate a prefix.
    #[serde(default)]
    pub eval_images: usize,
    /// Samples in each progress grid (cached sampler); 0 = no grid.
    #[serde(default = "default_grid_samples")]
    pub grid_samples: usize,
}

fn default_grid_samples() -> usize {
    GRID_SAMPLES
}

impl PixelRnnRunConfig {
    /// `model` evaluated on the whole test set.
    pub fn new(model: PixelRnnConfig) -> Self {
        Self {
            model,
            eval_images: 0,
            grid_samples: GRID_SAMPLES,
        }
    }
}

/// A PixelRNN (Row LSTM or Diagonal BiLSTM), its Adam optimizer and learning rate.
pub struct PixelRnnTask {
    name: &'static str,
    model: PixelRnn,
    config: PixelRnnConfig,
    eval_images: usize,
    grid_samples: usize,
    optim: ModuleOptimizer,
    lr: f64,
    device: Device,
    /// Cached sampler (the default where the model has one) or naive sampler; same images.
    fast: bool,
}

/// Whether `genzoo_pixel::cached_rnn` samples this kind of model (both kinds now).
fn has_cached_sampler(kind: RnnKind) -> bool {
    matches!(kind, RnnKind::RowLstm | RnnKind::DiagonalBiLstm)
}

impl PixelRnnTask {
    /// A fresh model on `device` (an autodiff device); `name` is the registry name. The config
    /// must pass [`PixelRnnConfig::check`].
    pub fn new(name: &'static str, config: &PixelRnnRunConfig, lr: f64, device: &Device) -> Self {
        Self {
            name,
            model: config.model.init(device),
            config: config.model.clone(),
            eval_images: config.eval_images,
            grid_samples: config.grid_samples,
            optim: AdamConfig::new().init(),
            lr,
            device: device.clone(),
            fast: has_cached_sampler(config.model.kind),
        }
    }

    /// The model being trained.
    pub fn model(&self) -> &PixelRnn {
        &self.model
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

    /// `n` samples from `seed` on a non-autodiff copy, with the cached sampler if chosen, else
    /// the naive one.
    fn sample_host(&self, n: usize, seed: u64) -> Option<Tensor<4>> {
        let model = self.model.valid();
        let device = self.device.clone().inner();
        let opts = SampleOptions::new(seed);
        if self.fast {
            cached_rnn::sample_cached(&model, n, &opts, &device).ok()
        } else {
            sample_naive(&model, n, &opts, &device).ok()
        }
    }
}

/// Test NLL per image in nats, the mean over the first `limit` test images (all if `limit` is 0),
/// on a non-autodiff copy.
pub fn test_nll(
    model: &PixelRnn,
    test: &ImageSet,
    limit: usize,
    binarization: Binarization,
    device: &Device,
) -> f64 {
    let model = model.valid();
    let device = device.clone().inner();
    let mut sum = 0.0;
    let n = if limit == 0 {
        test.len()
    } else {
        limit.min(test.len())
    };
    let indices: Vec<usize> = (0..n).collect();
    for chunk in indices.chunks(EVAL_BATCH) {
        let batch = test.batch(chunk, binarization, TEST_BINARIZATION_SEED, &device);
        let log_p = model.log_prob(batch.images).sum();
        sum -= f64::from(log_p.into_scalar::<f32>());
    }
    sum / n.max(1) as f64
}

impl Task for PixelRnnTask {
    fn name(&self) -> &str {
        self.name
    }

    fn binarization(&self) -> Binarization {
        self.binarize()
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
            parts: vec![("bits_per_dim", bits_per_dim(value, self.dims()))],
            images,
        }
    }

    fn evaluate(&mut self, test: &ImageSet) -> Vec<(String, f64)> {
        let nll = test_nll(
            &self.model,
            test,
            self.eval_images,
            self.binarize(),
            &self.device,
        );
        vec![
            ("test_nll_nats".into(), nll),
            ("test_bits_per_dim".into(), bits_per_dim(nll, self.dims())),
        ]
    }

    fn selection_metric(&self) -> &str {
        "test_nll_nats"
    }

    fn sample_grid(&mut self, _test: &ImageSet) -> Option<Grid> {
        if self.grid_samples == 0 {
            return None;
        }
        let n = self.grid_samples;
        to_grid(self.sample_host(n, GRID_SEED)?, GRID_COLS.min(n))
    }

    fn generate(&mut self, n: usize, seed: u64) -> Option<Tensor<4>> {
        let chunks: Vec<Tensor<4>> = (0..n.div_ceil(GENERATE_BATCH))
            .map(|k| {
                let m = GENERATE_BATCH.min(n - k * GENERATE_BATCH);
                self.sample_host(m, derive_seed(seed, &[k as u64]))
            })
            .collect::<Option<_>>()?;
        if chunks.is_empty() {
            return None;
        }
        Some(Tensor::cat(chunks, 0))
    }

    fn set_fast_sampling(&mut self, fast: bool) -> bool {
        if !has_cached_sampler(self.config.kind) {
            return false;
        }
        self.fast = fast;
        true
    }

    fn complete(
        &mut self,
        images: Tensor<4>,
        _labels: &[usize],
        known: usize,
        seed: u64,
    ) -> Option<Tensor<4>> {
        let model = self.model.valid();
        let device = self.device.clone().inner();
        let images = images.to_device(&device);
        let opts = SampleOptions::new(seed);
        let done = if self.fast {
            cached_rnn::complete_cached(&model, images, known, &opts, &device)
        } else {
            complete_naive(&model, images, known, &opts, &device)
        };
        done.map_err(|e| tracing::warn!("completion failed: {e}"))
            .ok()
    }

    fn bench_extras(&mut self, _test: &ImageSet, samples: usize) -> Vec<(String, f64)> {
        if !has_cached_sampler(self.config.kind) {
            return Vec::new();
        }
        let model = self.model.valid();
        let device = self.device.clone().inner();
        sampler_times(
            samples,
            |n, opts| cached_rnn::sample_cached(&model, n, opts, &device).ok(),
            |images, known, opts| complete_naive(&model, images, known, opts, &device).ok(),
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
