//! Training glue for PixelCNN of `genzoo-pixel` (lecture §2.1): exact NLL training on
//! dynamically binarized MNIST (or 8-bit images with a 256-way softmax), test NLL in nats and
//! bits/dim, samples and completions of test images.

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
use genzoo_pixel::{PixelCnn, PixelCnnConfig, cached};
use genzoo_train::{Batches, Checkpoint, Figure, Grid, Result, StepOutput, Task};

/// Samples in the progress grid (fixed seed, so grids of successive steps are comparable).
const GRID_SAMPLES: usize = 16;
const GRID_COLS: usize = 8;
const GRID_SEED: u64 = 0x5EED;
/// Test images completed in the end-of-training figure, and completions drawn per image.
const COMPLETE_IMAGES: usize = 8;
const COMPLETIONS: usize = 2;
/// Evaluation batch.
const EVAL_BATCH: usize = 250;
/// Samples drawn per batch by `generate`.
const GENERATE_BATCH: usize = 64;
/// The test set is binarized once with this seed, so every evaluation sees the same images.
const TEST_BINARIZATION_SEED: u64 = 0x7E57;

/// A PixelCNN, its Adam optimizer and learning rate.
pub struct PixelCnnTask {
    model: PixelCnn,
    config: PixelCnnConfig,
    optim: ModuleOptimizer,
    lr: f64,
    device: Device,
    /// Cached sampler (the default) or naive sampler; both draw the same images.
    fast: bool,
}

impl PixelCnnTask {
    /// A freshly initialised model on `device` (an autodiff device). The config must pass
    /// [`PixelCnnConfig::check`].
    pub fn new(config: &PixelCnnConfig, lr: f64, device: &Device) -> Self {
        Self {
            model: config.init(device),
            config: config.clone(),
            optim: AdamConfig::new().init(),
            lr,
            device: device.clone(),
            fast: true,
        }
    }

    /// The model being trained.
    pub fn model(&self) -> &PixelCnn {
        &self.model
    }

    fn binarize(&self) -> Binarization {
        if self.config.levels == 2 {
            Binarization::Dynamic
        } else {
            Binarization::None
        }
    }

    /// `n` samples from `seed` with the cached sampler, or the naive one (same images) after
    /// `set_fast_sampling(false)`.
    fn sample_host(&self, n: usize, seed: u64) -> Option<Tensor<4>> {
        let model = self.model.valid();
        let device = self.device.clone().inner();
        let opts = SampleOptions::new(seed);
        if self.fast {
            cached::sample_cached(&model, n, &opts, &device).ok()
        } else {
            sample_naive(&model, n, &opts, &device).ok()
        }
    }
}

/// Test NLL per image in nats (mean over the test set) on a non-autodiff copy.
pub fn test_nll(
    model: &PixelCnn,
    test: &ImageSet,
    binarization: Binarization,
    device: &Device,
) -> f64 {
    let model = model.valid();
    let device = device.clone().inner();
    let mut sum = 0.0;
    let indices: Vec<usize> = (0..test.len()).collect();
    for chunk in indices.chunks(EVAL_BATCH) {
        let batch = test.batch(chunk, binarization, TEST_BINARIZATION_SEED, &device);
        let log_p = model.log_prob(batch.images).sum();
        sum -= f64::from(log_p.into_scalar::<f32>());
    }
    sum / test.len().max(1) as f64
}

/// Bench records of both samplers for `samples` images: `sample_cached_s` (a full cached run) and
/// `sample_naive_s`. The naive sampler costs one full forward pass per sub-pixel whichever pixel
/// it draws, so it is timed on the last row only (a completion of the cached samples' other rows)
/// and scaled by the number of rows (`sample_naive_timed_rows` = 1).
pub(crate) fn sampler_times(
    samples: usize,
    cached: impl Fn(usize, &SampleOptions) -> Option<Tensor<4>>,
    naive_complete: impl Fn(Tensor<4>, usize, &SampleOptions) -> Option<Tensor<4>>,
) -> Vec<(String, f64)> {
    if samples == 0 {
        return Vec::new();
    }
    let opts = SampleOptions::new(0);
    let t0 = std::time::Instant::now();
    let Some(images) = cached(samples, &opts) else {
        return Vec::new();
    };
    let cached_s = t0.elapsed().as_secs_f64();
    let [_, _, h, w] = images.dims();
    let t0 = std::time::Instant::now();
    if naive_complete(images, (h - 1) * w, &opts).is_none() {
        return Vec::new();
    }
    let naive_s = t0.elapsed().as_secs_f64() * h as f64;
    vec![
        ("sample_cached_s".into(), cached_s),
        ("sample_naive_s".into(), naive_s),
        ("sample_naive_timed_rows".into(), 1.0),
        ("sampler_speedup".into(), naive_s / cached_s.max(1e-9)),
    ]
}

pub(crate) fn to_grid(images: Tensor<4>, cols: usize) -> Option<Grid> {
    let [n, c, h, w] = images.dims();
    Some(Grid {
        images: images
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .ok()?,
        n,
        channels: c,
        height: h,
        width: w,
        cols,
    })
}

impl Task for PixelCnnTask {
    fn name(&self) -> &str {
        "pixelcnn"
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
        let dims = self.config.channels * self.config.image_size * self.config.image_size;
        StepOutput {
            loss: value,
            parts: vec![("bits_per_dim", bits_per_dim(value, dims))],
            images,
        }
    }

    fn evaluate(&mut self, test: &ImageSet) -> Vec<(String, f64)> {
        let nll = test_nll(&self.model, test, self.binarize(), &self.device);
        let dims = self.config.channels * self.config.image_size * self.config.image_size;
        vec![
            ("test_nll_nats".into(), nll),
            ("test_bits_per_dim".into(), bits_per_dim(nll, dims)),
        ]
    }

    fn selection_metric(&self) -> &str {
        "test_nll_nats"
    }

    fn sample_grid(&mut self, _test: &ImageSet) -> Option<Grid> {
        to_grid(self.sample_host(GRID_SAMPLES, GRID_SEED)?, GRID_COLS)
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

    fn figures(&mut self, test: &ImageSet) -> Vec<(String, Figure)> {
        let n = COMPLETE_IMAGES.min(test.len());
        if n == 0 {
            return Vec::new();
        }
        let model = self.model.valid();
        let device = self.device.clone().inner();
        let indices: Vec<usize> = (0..n).collect();
        let x = test
            .batch(&indices, self.binarize(), TEST_BINARIZATION_SEED, &device)
            .images;
        let [_, c, h, w] = x.dims();
        let known = (h / 2) * w;
        // Row 1: the test images; row 2: what the model is shown (bottom half grey);
        // rows 3..: completions with different seeds.
        let mut rows = vec![x.clone()];
        let mask =
            Tensor::<4>::ones([n, c, h, w], &device).slice_fill([0..n, 0..c, h / 2..h, 0..w], 0.0);
        rows.push(x.clone() * mask.clone() + (mask.neg() + 1.0) * 0.5);
        for k in 0..COMPLETIONS {
            let opts = SampleOptions::new(derive_seed(GRID_SEED, &[k as u64, 0xC0]));
            match cached::complete_cached(&model, x.clone(), known, &opts, &device) {
                Ok(done) => rows.push(done),
                Err(e) => {
                    tracing::warn!("completion failed: {e}");
                    return Vec::new();
                }
            }
        }
        match to_grid(Tensor::cat(rows, 0), n) {
            Some(grid) => vec![("completions".into(), Figure::Grid(grid))],
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
        _labels: &[usize],
        known: usize,
        seed: u64,
    ) -> Option<Tensor<4>> {
        let model = self.model.valid();
        let device = self.device.clone().inner();
        let images = images.to_device(&device);
        let opts = SampleOptions::new(seed);
        let done = if self.fast {
            cached::complete_cached(&model, images, known, &opts, &device)
        } else {
            complete_naive(&model, images, known, &opts, &device)
        };
        done.map_err(|e| tracing::warn!("completion failed: {e}"))
            .ok()
    }

    fn bench_extras(&mut self, _test: &ImageSet, samples: usize) -> Vec<(String, f64)> {
        let model = self.model.valid();
        let device = self.device.clone().inner();
        sampler_times(
            samples,
            |n, opts| cached::sample_cached(&model, n, opts, &device).ok(),
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
