//! Training the autoencoder and the VAE family with `genzoo-train` (feature `train`):
//! [`AutoencoderTask`] (`autoencoder`) and [`VaeTask`] (`vae`, `vae-conv`, `beta-vae`, `cvae`,
//! `vae-2d`, `iwae`), each a model, its Adam optimizer and what its evaluation and figures read.
//!
//! Binarized data follows the likelihood literature (Burda et al. 2015): training images are
//! binarized **dynamically** (each pixel `~ Bernoulli(intensity)`, fresh at every visit), the
//! test set **once**, with a fixed seed ([`genzoo_train::protocol`]), so every evaluation sees the
//! same binary test set. Models with a discretized-logistic decoder see the 8-bit intensities.

use std::path::Path;

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use genzoo_datasets::rng::{Rng, derive_seed};
use genzoo_datasets::{Binarization, DatasetKind, ImageSet};
use genzoo_layers::adam::AdamConfig;
use genzoo_train::Scalar;
use genzoo_train::capability::check_class;
use genzoo_train::memory::{Size, conv_macs, prod, sum, train_flop};
use genzoo_train::protocol::{eval_chunks, test_batch, test_indices};
use genzoo_train::state::{Optimized, load_module};
use genzoo_train::svg::{group_by_label, scatter};
use genzoo_train::weights::{probe_images, probe_latents, probe_one_hot};
use genzoo_train::{
    BoundOptions, Checkpoint, Error, Figure, Generate, GenerateClass, Grid, LikelihoodBounds,
    Result, StepBatches, StepOutput, Task,
};

use crate::sampling::{
    decode_codes, interpolate, manifold_codes, pca_2d, prior_codes, rows_to_tensor, sample_prior,
    standard_normal, traversal,
};
use crate::vae::one_hot;
use crate::{Architecture, Autoencoder, AutoencoderConfig, Likelihood, Vae, VaeConfig};

/// Test images shown in the reconstruction grids (inputs row above outputs row).
const RECONSTRUCTIONS: usize = 16;

fn grid(images: Tensor<4>, cols: usize) -> Option<Grid> {
    Grid::from_tensor(images, cols)
        .map_err(|e| tracing::warn!("grid: {e}"))
        .ok()
}

/// An autoencoder, its Adam optimizer and learning rate.
pub struct AutoencoderTask {
    net: Optimized<Autoencoder>,
    /// `[C, H, W]` of the images, for the probe.
    shape: [usize; 3],
    device: Device,
}

impl AutoencoderTask {
    /// A freshly initialised model on `device` (an autodiff device). The config must pass
    /// [`AutoencoderConfig::validate`].
    pub fn new(config: &AutoencoderConfig, lr: f64, device: &Device) -> Self {
        Self {
            net: Optimized::new(config.init(device), AdamConfig::new().init(), lr),
            shape: [config.channels, config.image_size, config.image_size],
            device: device.clone(),
        }
    }

    /// The model being trained.
    pub fn model(&self) -> &Autoencoder {
        self.net.model()
    }
}

/// Test-set reconstruction MSE per pixel, averaged over all images, on a non-autodiff copy.
pub fn test_mse(model: &Autoencoder, test: &ImageSet, device: &Device) -> f64 {
    let model = model.valid();
    let device = device.clone().inner();
    let mut sum = 0.0;
    let indices = test_indices(test, 0);
    for chunk in eval_chunks(&indices, EVAL_BATCH, "reconstruction MSE") {
        let batch = test_batch(test, chunk, Binarization::None, &device);
        let out = model.loss(batch.images);
        sum += f64::from(out.loss.into_scalar::<f32>()) * chunk.len() as f64;
    }
    sum / indices.len().max(1) as f64
}

impl Task for AutoencoderTask {
    genzoo_train::delegate_to_optimized!(net);

    fn name(&self) -> &str {
        "autoencoder"
    }

    fn step(&mut self, batches: StepBatches, _rng: &mut Rng) -> StepOutput {
        let batch = batches.single();
        let images = batch.images.dims()[0];
        let loss = self.net.model().loss(batch.images).loss;
        StepOutput {
            loss: self.net.step(loss),
            parts: vec![],
            images,
        }
    }

    fn evaluate(&mut self, test: &ImageSet) -> Vec<(String, f64)> {
        vec![(
            "test_mse".into(),
            test_mse(self.net.model(), test, &self.device),
        )]
    }

    fn selection_metric(&self) -> &str {
        "test_mse"
    }

    fn sample_grid(&mut self, test: &ImageSet) -> Option<Grid> {
        let device = self.device.clone().inner();
        let indices = test_indices(test, RECONSTRUCTIONS);
        let x = test_batch(test, &indices, Binarization::None, &device).images;
        let y = self.net.model().valid().forward(x.clone());
        Grid::pairs(x, y, GRID_COLS).ok()
    }

    /// `input` images in [0, 1), their `code` and `reconstruction`.
    fn probe(&mut self) -> Result<Vec<(String, TensorData)>> {
        let device = self.device.clone().inner();
        let model = self.net.model().valid();
        let x = probe_images(self.shape, false, &device);
        let code = model.encode(x.clone());
        let reconstruction = model.decode(code.clone());
        Ok(vec![
            ("input".into(), x.into_data()),
            ("code".into(), code.into_data()),
            ("reconstruction".into(), reconstruction.into_data()),
        ])
    }
}

/// Seed of the posterior noise used by evaluation (so an evaluation is a function of the weights).
pub const EVAL_NOISE_SEED: u64 = 0xE7A1;
/// Evaluation batch: large enough to amortise per-op overhead, small enough for any GPU.
const EVAL_BATCH: usize = 500;
/// Importance samples of the cheap per-epoch IWAE estimate (k = 5000 is a separate command).
pub const EVAL_IWAE_K: usize = 10;
/// Test images encoded for the latent scatter plot.
const SCATTER_IMAGES: usize = 5000;
/// Side of the 2-D manifold grid.
const MANIFOLD_SIDE: usize = 20;
/// Test images per block of [`LikelihoodBounds::likelihood_bounds`]: progress is logged per block,
/// and the block starting at image `s` draws its noise from `seed ^ s`, so runs over parts of the
/// test set that start at multiples of it add up to one run over the whole.
const BOUND_BLOCK: usize = 200;
/// Importance samples decoded at once per image (`k = 5000` runs as 50 chunks of 100).
const IWAE_CHUNK: usize = 100;
/// `k` of the IWAE timing in `genzoo bench`, and the test images it is measured on (fewer for the
/// conv decoder, whose k = 5000 passes take ~20× as long on a CPU).
pub const BENCH_IWAE_K: usize = 5000;
const BENCH_IWAE_IMAGES_MLP: usize = 100;
const BENCH_IWAE_IMAGES_CONV: usize = 5;
const GRID_COLS: usize = 8;

/// A VAE, its Adam optimizer, learning rate and step counter (for the KL warm-up).
pub struct VaeTask {
    name: &'static str,
    config: VaeConfig,
    net: Optimized<Vae>,
    seed: u64,
    step: u64,
    device: Device,
}

/// Checks that a configuration fits the dataset's images; a clear error instead of a panic.
pub fn check_config(config: &VaeConfig, kind: DatasetKind) -> Result<()> {
    config
        .validate()
        .map_err(|e| Error::Config(format!("[model_config]: {e}")))?;
    let dataset = kind;
    let (c, s) = match kind {
        DatasetKind::Cifar10 => (3, 32),
        _ => (1, 28),
    };
    if (config.channels, config.image_size) != (c, s) {
        return Err(Error::Config(format!(
            "[model_config] channels = {}, image_size = {} do not fit {dataset} ({c}×{s}×{s} images)",
            config.channels, config.image_size
        )));
    }
    if config.likelihood == Likelihood::Bernoulli && kind == DatasetKind::Cifar10 {
        return Err(Error::Config(
            "a Bernoulli decoder needs binarized data; use likelihood = \"DiscretizedLogistic\" \
             for cifar10"
                .into(),
        ));
    }
    if config.num_classes > 0 && config.num_classes != kind.classes() {
        return Err(Error::Config(format!(
            "[model_config] num_classes = {} but {dataset} has {} classes",
            config.num_classes,
            kind.classes()
        )));
    }
    Ok(())
}

/// The test-time view of the data: one fixed binarization for Bernoulli models.
pub fn test_binarization(config: &VaeConfig) -> Binarization {
    match config.likelihood {
        Likelihood::Bernoulli => Binarization::Dynamic,
        Likelihood::DiscretizedLogistic => Binarization::None,
    }
}

/// Test-set averages, in nats per image.
#[derive(Debug, Clone, PartialEq)]
pub struct TestScores {
    /// `−ELBO` with β = 1, whatever β the model was trained with.
    pub nelbo: f64,
    /// Reconstruction NLL part.
    pub recon: f64,
    /// KL part.
    pub kl: f64,
    /// `−L_k`, the importance-weighted NLL estimate (if computed).
    pub iwae_nll: Option<f64>,
    /// Standard error of `iwae_nll` over the test images.
    pub iwae_se: Option<f64>,
    /// `−L_k` of each image, in the order of `indices` (empty without IWAE).
    pub iwae_values: Vec<f64>,
}

/// Scores a model on the test images at `indices`, on a non-autodiff copy. `iwae_k = 0` skips
/// the importance-weighted estimate; `chunk` samples per image are decoded at once. `seed` keys
/// the posterior noise, so a score is a function of the weights and the seed.
#[allow(clippy::too_many_arguments)]
pub fn test_scores(
    model: &Vae,
    config: &VaeConfig,
    test: &ImageSet,
    indices: &[usize],
    iwae_k: usize,
    chunk: usize,
    seed: u64,
    device: &Device,
) -> TestScores {
    let model = model.valid();
    let device = device.clone().inner();
    let n = indices.len();
    let mut rng = Rng::seed_from_u64(seed);
    let (mut recon, mut kl) = (0.0, 0.0);
    let mut iwae: Vec<f64> = Vec::new();
    let batch_size = if iwae_k > 0 {
        (EVAL_BATCH * 4 / chunk.max(1)).clamp(1, EVAL_BATCH)
    } else {
        EVAL_BATCH
    };
    for idx in eval_chunks(indices, batch_size, "ELBO and bounds") {
        let batch = test_batch(test, idx, test_binarization(config), &device);
        let y = (config.num_classes > 0).then(|| one_hot(batch.labels, config.num_classes));
        let eps = standard_normal(idx.len(), config.noise_dims(), &mut rng, &device);
        let (r, k) = model.nll_parts(batch.images.clone(), y.as_ref(), eps);
        recon += f64::from(r.sum().into_scalar::<f32>());
        kl += f64::from(k.sum().into_scalar::<f32>());
        if iwae_k > 0 {
            let l = model.importance_weighted_log_likelihood(
                batch.images,
                y.as_ref(),
                iwae_k,
                chunk,
                &mut rng,
            );
            let v = l.into_data().try_to_vec::<f32>().unwrap_or_default();
            iwae.extend(v.into_iter().map(|x| -f64::from(x)));
        }
    }
    let count = n.max(1) as f64;
    let (iwae_nll, iwae_se) = if iwae.is_empty() {
        (None, None)
    } else {
        let m = iwae.iter().sum::<f64>() / iwae.len() as f64;
        let var = iwae.iter().map(|v| (v - m).powi(2)).sum::<f64>()
            / (iwae.len().saturating_sub(1)).max(1) as f64;
        (Some(m), Some((var / iwae.len() as f64).sqrt()))
    };
    TestScores {
        nelbo: (recon + kl) / count,
        recon: recon / count,
        kl: kl / count,
        iwae_nll,
        iwae_se,
        iwae_values: iwae,
    }
}

/// Mean and standard error of the mean of `values` (0 for fewer than two).
fn mean_and_se(values: &[f64]) -> (f64, f64) {
    let n = values.len();
    if n == 0 {
        return (f64::NAN, 0.0);
    }
    let m = values.iter().sum::<f64>() / n as f64;
    if n < 2 {
        return (m, 0.0);
    }
    let var = values.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1) as f64;
    (m, (var / n as f64).sqrt())
}

/// Restores a model's weights from the `model` section of a checkpoint written by [`VaeTask`],
/// after checking the checkpoint's configuration against `config`.
pub fn load_model(
    config: &VaeConfig,
    checkpoint: &Checkpoint,
    path: &Path,
    device: &Device,
) -> Result<Vae> {
    check_saved_config(config, checkpoint, path)?;
    load_module(&config.init(device), checkpoint, path, "model")
}

/// Compares the configuration stored in a checkpoint with `config`, naming every field that differs.
fn check_saved_config(config: &VaeConfig, checkpoint: &Checkpoint, path: &Path) -> Result<()> {
    let Ok(saved) = checkpoint.section(path, "vae_config") else {
        return Ok(()); // Older checkpoints: the weight shapes are still checked.
    };
    let mismatch = |message: String| Error::CheckpointMismatch {
        path: path.to_path_buf(),
        message,
    };
    let saved: serde_json::Value = serde_json::from_slice(saved)
        .map_err(|e| mismatch(format!("unreadable vae_config section: {e}")))?;
    let ours = serde_json::to_value(config).map_err(|e| mismatch(e.to_string()))?;
    let (Some(saved), Some(ours)) = (saved.as_object(), ours.as_object()) else {
        return Err(mismatch("vae_config is not a table".into()));
    };
    // A field the checkpoint lacks was added later, and the checkpoint had its default.
    let default = serde_json::to_value(VaeConfig::new()).map_err(|e| mismatch(e.to_string()))?;
    let diffs: Vec<String> = ours
        .iter()
        .filter(|(k, v)| saved.get(*k).or_else(|| default.get(*k)) != Some(*v))
        .map(|(k, v)| {
            let theirs = saved
                .get(k)
                .map_or("(missing)".to_string(), |s| s.to_string());
            format!("{k}: checkpoint has {theirs}, this configuration {v}")
        })
        .collect();
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(mismatch(format!(
            "it was written by another VAE configuration ({})",
            diffs.join("; ")
        )))
    }
}

impl VaeTask {
    /// A freshly initialised model on `device` (an autodiff device). `config` must be valid
    /// ([`check_config`]).
    pub fn new(
        name: &'static str,
        config: &VaeConfig,
        lr: f64,
        seed: u64,
        device: &Device,
    ) -> Self {
        Self {
            name,
            config: config.clone(),
            net: Optimized::new(config.init(device), AdamConfig::new().init(), lr),
            seed,
            step: 0,
            device: device.clone(),
        }
    }

    /// The model being trained.
    pub fn model(&self) -> &Vae {
        self.net.model()
    }

    /// `n` prior samples in [0, 1] from `seed`, with the given labels for a conditional model.
    fn prior_samples(&self, n: usize, seed: u64, labels: Option<Vec<usize>>) -> Result<Tensor<4>> {
        let device = self.device.clone().inner();
        let model = self.net.model().valid();
        let mut rng = Rng::seed_from_u64(seed);
        let mut parts = Vec::new();
        let mut done = 0;
        while done < n {
            let m = (n - done).min(1000);
            let l = labels.as_ref().map(|l| &l[done..done + m]);
            parts.push(sample_prior(&model, m, l, &mut rng, &device));
            done += m;
        }
        if parts.is_empty() {
            return Err(Error::Model("no samples asked for".into()));
        }
        Ok(Tensor::cat(parts, 0))
    }

    fn labels_for(&self, n: usize, per_row: usize) -> Option<Vec<usize>> {
        (self.config.num_classes > 0).then(|| {
            (0..n)
                .map(|i| (i / per_row) % self.config.num_classes)
                .collect()
        })
    }

    /// Test images (fixed binarization), their one-hot labels and plain labels.
    fn test_batch(
        &self,
        test: &ImageSet,
        idx: &[usize],
        device: &Device,
    ) -> (Tensor<4>, Option<Tensor<2>>, Vec<usize>) {
        let batch = test_batch(test, idx, test_binarization(&self.config), device);
        let labels: Vec<usize> = idx.iter().map(|&i| usize::from(test.label(i))).collect();
        let y =
            (self.config.num_classes > 0).then(|| one_hot(batch.labels, self.config.num_classes));
        (batch.images, y, labels)
    }

    fn to_rows(t: Tensor<2>) -> Vec<Vec<f32>> {
        let [_, l] = t.dims();
        let v = t.into_data().try_to_vec::<f32>().unwrap_or_default();
        v.chunks(l.max(1)).map(<[f32]>::to_vec).collect()
    }

    fn reconstructions(&self, test: &ImageSet, device: &Device) -> Option<Grid> {
        let model = self.net.model().valid();
        let n = RECONSTRUCTIONS.min(test.len());
        let idx: Vec<usize> = (0..n).collect();
        let (x, y, _) = self.test_batch(test, &idx, device);
        let out = model.reconstruct(x.clone(), y.as_ref());
        Grid::pairs(x, out, GRID_COLS).ok()
    }

    fn interpolations(&self, test: &ImageSet, device: &Device) -> Option<Grid> {
        let model = self.net.model().valid();
        let pairs = 6.min(test.len() / 2);
        let steps = 10;
        let idx: Vec<usize> = (0..2 * pairs).collect();
        let (x, y, labels) = self.test_batch(test, &idx, device);
        let (mu, _) = model.encode(x, y.as_ref());
        let codes = Self::to_rows(mu);
        let mut rows = Vec::new();
        let mut row_labels = Vec::new();
        for p in 0..pairs {
            rows.extend(interpolate(&codes[2 * p], &codes[2 * p + 1], steps));
            // A conditional model keeps the first image's label along the path.
            row_labels.extend(std::iter::repeat_n(labels[2 * p], steps));
        }
        let z = rows_to_tensor(&rows, device);
        let labels = (self.config.num_classes > 0).then_some(row_labels);
        grid(decode_codes(&model, z, labels.as_deref(), device), steps)
    }

    fn traversals(&self, test: &ImageSet, device: &Device) -> Option<Grid> {
        let model = self.net.model().valid();
        let (x, y, labels) = self.test_batch(test, &[0], device);
        let (mu, _) = model.encode(x, y.as_ref());
        let base = Self::to_rows(mu).pop()?;
        let dims: Vec<usize> = (0..self.config.latent.min(10)).collect();
        let values: Vec<f32> = (0..9).map(|i| -3.0 + 0.75 * i as f32).collect();
        let rows = traversal(&base, &dims, &values);
        let n = rows.len();
        let z = rows_to_tensor(&rows, device);
        let labels = (self.config.num_classes > 0).then(|| vec![labels[0]; n]);
        grid(
            decode_codes(&model, z, labels.as_deref(), device),
            values.len(),
        )
    }

    fn latent_scatter(&self, test: &ImageSet, device: &Device) -> Option<String> {
        let model = self.net.model().valid();
        let n = SCATTER_IMAGES.min(test.len());
        let idx: Vec<usize> = (0..n).collect();
        let mut points: Vec<Vec<f64>> = Vec::with_capacity(n);
        let mut labels = Vec::with_capacity(n);
        for chunk in idx.chunks(EVAL_BATCH) {
            let (x, y, l) = self.test_batch(test, chunk, device);
            let (mu, _) = model.encode(x, y.as_ref());
            points.extend(
                Self::to_rows(mu)
                    .into_iter()
                    .map(|r| r.into_iter().map(f64::from).collect::<Vec<_>>()),
            );
            labels.extend(l);
        }
        let projected = pca_2d(&points);
        let (title, axis) = if self.config.latent <= 2 {
            (
                "Test-set posterior means μ(x), by digit",
                "z₁ (vertical: z₂)",
            )
        } else {
            (
                "Test-set μ(x), first two principal components, by digit",
                "PC 1 (vertical: PC 2)",
            )
        };
        Some(scatter(title, axis, &group_by_label(&projected, &labels)))
    }

    fn manifold(&self, device: &Device) -> Option<Grid> {
        if self.config.latent != 2 || self.config.num_classes > 0 {
            return None;
        }
        let model = self.net.model().valid();
        let z = rows_to_tensor(&manifold_codes(MANIFOLD_SIDE), device);
        grid(decode_codes(&model, z, None, device), MANIFOLD_SIDE)
    }
}

impl Task for VaeTask {
    genzoo_train::delegate_to_optimized!(net, weights);

    fn name(&self) -> &str {
        self.name
    }

    fn binarization(&self) -> Binarization {
        match self.config.likelihood {
            Likelihood::Bernoulli => Binarization::Dynamic,
            Likelihood::DiscretizedLogistic => Binarization::None,
        }
    }

    fn step(&mut self, batches: StepBatches, rng: &mut Rng) -> StepOutput {
        let batch = batches.single();
        let images = batch.images.dims()[0];
        let y =
            (self.config.num_classes > 0).then(|| one_hot(batch.labels, self.config.num_classes));
        if self.config.iwae_k > 1 {
            let loss =
                self.net
                    .model()
                    .iwae_loss(batch.images, y.as_ref(), self.config.iwae_k, rng);
            let value = self.net.step(loss);
            self.step += 1;
            return StepOutput {
                loss: value,
                parts: vec![],
                images,
            };
        }
        let eps = standard_normal(images, self.config.noise_dims(), rng, &self.device);
        let kl_weight = self.config.kl_weight(self.step);
        let out = self
            .net
            .model()
            .loss(batch.images, y.as_ref(), eps, kl_weight);
        let recon = Scalar::device(out.recon);
        let kl = Scalar::device(out.kl);
        let value = self.net.step(out.loss);
        self.step += 1;
        StepOutput {
            loss: value,
            parts: vec![
                ("recon", recon),
                ("kl", kl),
                ("kl_weight", Scalar::Host(kl_weight)),
            ],
            images,
        }
    }

    fn evaluate(&mut self, test: &ImageSet) -> Vec<(String, f64)> {
        let indices: Vec<usize> = (0..test.len()).collect();
        let s = test_scores(
            self.net.model(),
            &self.config,
            test,
            &indices,
            EVAL_IWAE_K,
            EVAL_IWAE_K,
            EVAL_NOISE_SEED,
            &self.device,
        );
        let dims = self.config.dims();
        let mut out = vec![
            ("test_nelbo".to_string(), s.nelbo),
            ("test_recon".to_string(), s.recon),
            ("test_kl".to_string(), s.kl),
            (
                "test_nelbo_bits_per_dim".to_string(),
                genzoo_metrics::likelihood::bits_per_dim(s.nelbo, dims),
            ),
        ];
        if self.config.beta != 1.0 {
            // What a β-VAE minimises at full β; it picks `best.ckpt` (the −ELBO would pick a
            // checkpoint from before the warm-up reached β).
            out.push((
                "test_beta_objective".to_string(),
                s.recon + self.config.beta * s.kl,
            ));
        }
        if let Some(v) = s.iwae_nll {
            out.push((format!("test_iwae{EVAL_IWAE_K}_nll"), v));
        }
        out
    }

    fn selection_metric(&self) -> &str {
        if self.config.beta != 1.0 {
            "test_beta_objective"
        } else {
            "test_nelbo"
        }
    }

    fn sample_grid(&mut self, _test: &ImageSet) -> Option<Grid> {
        let device = self.device.clone().inner();
        let model = self.net.model().valid();
        // Fixed noise: the same codes at every step show how one sample evolves. A conditional
        // model shows one row per class, with the same codes in each column.
        let mut rng = Rng::seed_from_u64(derive_seed(self.seed, &[0x5A3]));
        let (images, cols) = if self.config.num_classes > 0 {
            let k = self.config.num_classes;
            let z = prior_codes(&model, GRID_COLS, &mut rng, &device);
            let z = z.repeat_dim(0, k); // row r, column c: code c
            let labels = self.labels_for(k * GRID_COLS, GRID_COLS)?;
            (decode_codes(&model, z, Some(&labels), &device), GRID_COLS)
        } else {
            (sample_prior(&model, 64, None, &mut rng, &device), GRID_COLS)
        };
        grid(images, cols)
    }

    fn bench_extras(&mut self, test: &ImageSet, _samples: usize) -> Vec<(String, f64)> {
        let images = match self.config.architecture {
            Architecture::Mlp => BENCH_IWAE_IMAGES_MLP,
            Architecture::Conv => BENCH_IWAE_IMAGES_CONV,
        }
        .min(test.len());
        if images == 0 {
            return Vec::new();
        }
        let opts = BoundOptions {
            k: BENCH_IWAE_K,
            start: 0,
            images,
            seed: 0,
        };
        let t0 = std::time::Instant::now();
        if let Err(e) = self.likelihood_bounds(test, &opts) {
            tracing::warn!("IWAE timing: {e}");
            return Vec::new();
        }
        let ms = t0.elapsed().as_secs_f64() * 1000.0 / images as f64;
        vec![
            (format!("iwae_k{BENCH_IWAE_K}_ms_per_image"), ms),
            ("iwae_bench_images".to_string(), images as f64),
        ]
    }

    fn figures(&mut self, test: &ImageSet) -> Vec<(String, Figure)> {
        let device = self.device.clone().inner();
        let mut out = Vec::new();
        if test.is_empty() {
            return out;
        }
        let grids = [
            ("reconstructions", self.reconstructions(test, &device)),
            ("interpolation", self.interpolations(test, &device)),
            ("traversal", self.traversals(test, &device)),
            ("manifold", self.manifold(&device)),
        ];
        for (name, g) in grids {
            if let Some(g) = g {
                out.push((name.to_string(), Figure::Grid(g)));
            }
        }
        if let Some(svg) = self.latent_scatter(test, &device) {
            out.push(("latent_scatter".into(), Figure::Svg(svg)));
        }
        out
    }

    fn generator(&mut self) -> Option<&mut dyn Generate> {
        Some(self)
    }

    fn conditional(&mut self) -> Option<&mut dyn GenerateClass> {
        if self.config.num_classes > 0 {
            Some(self)
        } else {
            None
        }
    }

    fn likelihood(&mut self) -> Option<&mut dyn LikelihoodBounds> {
        Some(self)
    }

    fn save(&self) -> Result<Vec<(String, Vec<u8>)>> {
        let config = serde_json::to_vec(&self.config).map_err(|e| Error::Config(e.to_string()))?;
        Ok([("vae_config".to_string(), config)]
            .into_iter()
            .chain(self.net.sections()?)
            .collect())
    }

    fn load(&mut self, checkpoint: &Checkpoint, path: &Path) -> Result<()> {
        let model = load_model(&self.config, checkpoint, path, &self.device)?;
        self.net.load_with(model, checkpoint, path)?;
        self.step = checkpoint.meta.step;
        Ok(())
    }

    /// `input` images (0/1 pixels for a Bernoulli decoder) and, for a conditional model, `labels`
    /// one-hot; the posterior's `mu` and `logvar`; `recon_params`, the decoder's output at
    /// `z = mu`; fixed codes `z` and the decoder's output `decoded` there (logits, or means then
    /// log-scales).
    fn probe(&mut self) -> Result<Vec<(String, TensorData)>> {
        let device = self.device.clone().inner();
        let model = self.net.model().valid();
        let binary = model.likelihood() == Likelihood::Bernoulli;
        let x = probe_images(model.image_shape(), binary, &device);
        let y = (model.num_classes() > 0).then(|| probe_one_hot(model.num_classes(), &device));
        let (mu, logvar) = model.encode(x.clone(), y.as_ref());
        let recon = model.decode(mu.clone(), y.as_ref());
        let z = probe_latents(model.latent(), &device);
        let decoded = model.decode(z.clone(), y.as_ref());
        let mut out = vec![("input".to_string(), x.into_data())];
        out.extend(y.map(|y| ("labels".to_string(), y.into_data())));
        out.extend([
            ("mu".to_string(), mu.into_data()),
            ("logvar".to_string(), logvar.into_data()),
            ("recon_params".to_string(), recon.into_data()),
            ("z".to_string(), z.into_data()),
            ("decoded".to_string(), decoded.into_data()),
        ]);
        Ok(out)
    }
}

impl GenerateClass for VaeTask {
    fn num_classes(&self) -> usize {
        self.config.num_classes
    }

    fn generate_class(&mut self, n: usize, seed: u64, label: usize) -> Result<Tensor<4>> {
        check_class(label, self.config.num_classes)?;
        self.prior_samples(n, seed, Some(vec![label; n]))
    }
}

impl Generate for VaeTask {
    fn generate(&mut self, n: usize, seed: u64) -> Result<Tensor<4>> {
        let labels = self.labels_for(n, 1);
        self.prior_samples(n, seed, labels)
    }
}

impl LikelihoodBounds for VaeTask {
    fn likelihood_bounds(
        &mut self,
        test: &ImageSet,
        opts: &BoundOptions,
    ) -> Result<Vec<(String, f64)>> {
        if opts.start >= test.len() {
            return Err(Error::Config(format!(
                "the first test image scored ({}) is past the {} test images",
                opts.start,
                test.len()
            )));
        }
        let end = opts.start.saturating_add(opts.images).min(test.len());
        let n = end - opts.start;
        let started = std::time::Instant::now();
        let (mut recon, mut kl) = (0.0, 0.0);
        let mut iwae: Vec<f64> = Vec::with_capacity(if opts.k > 0 { n } else { 0 });
        for start in (opts.start..end).step_by(BOUND_BLOCK) {
            let idx: Vec<usize> = (start..(start + BOUND_BLOCK).min(end)).collect();
            let s = test_scores(
                self.net.model(),
                &self.config,
                test,
                &idx,
                opts.k,
                IWAE_CHUNK.min(opts.k.max(1)),
                opts.seed ^ start as u64,
                &self.device,
            );
            recon += s.recon * idx.len() as f64;
            kl += s.kl * idx.len() as f64;
            iwae.extend(s.iwae_values);
            if opts.k > 0 {
                let (m, se) = mean_and_se(&iwae);
                tracing::info!(
                    "IWAE k = {}: {}/{n} images, −L_k {m:.3} ± {se:.3} nats so far ({:.0} s)",
                    opts.k,
                    iwae.len(),
                    started.elapsed().as_secs_f64()
                );
            }
        }
        let count = n.max(1) as f64;
        let mut out = vec![
            ("test_nelbo".to_string(), (recon + kl) / count),
            ("test_recon".to_string(), recon / count),
            ("test_kl".to_string(), kl / count),
        ];
        if opts.k > 0 && !iwae.is_empty() {
            let (m, se) = mean_and_se(&iwae);
            out.push((format!("test_iwae{}_nll", opts.k), m));
            out.push((format!("test_iwae{}_se", opts.k), se));
        }
        Ok(out)
    }
}

/// The reference configuration of a registry entry for a dataset.
pub fn preset(name: &str, dataset: DatasetKind) -> VaeConfig {
    let cifar = |c: VaeConfig| {
        c.with_channels(3)
            .with_image_size(32)
            .with_likelihood(Likelihood::DiscretizedLogistic)
    };
    match (name, dataset == DatasetKind::Cifar10) {
        ("vae-conv", false) => VaeConfig::mnist_conv(),
        ("vae-conv", true) => VaeConfig::cifar10_conv(),
        ("beta-vae", false) => VaeConfig::mnist_beta(),
        ("beta-vae", true) => VaeConfig::cifar10_conv()
            .with_beta(4.0)
            .with_kl_warmup_steps(2000),
        ("cvae", false) => VaeConfig::mnist_conditional(),
        ("cvae", true) => VaeConfig::cifar10_conv().with_num_classes(10),
        ("vae-2d", false) => VaeConfig::mnist_2d(),
        ("iwae", false) => VaeConfig::mnist_iwae(),
        ("iwae", true) => cifar(VaeConfig::mnist_iwae()),
        ("vae-2d", true) => cifar(VaeConfig::mnist_2d()),
        (_, false) => VaeConfig::mnist_mlp(),
        (_, true) => cifar(VaeConfig::mnist_mlp()),
    }
}

impl AutoencoderConfig {
    /// The reference configuration for a dataset.
    pub fn for_dataset(kind: DatasetKind) -> Self {
        match kind {
            DatasetKind::Cifar10 => Self::cifar10(),
            _ => Self::mnist(),
        }
    }

    /// [`AutoencoderConfig::validate`], and images of the dataset's shape.
    pub fn check_dataset(&self, kind: DatasetKind) -> Result<()> {
        self.validate()
            .map_err(|e| Error::Config(format!("[model_config]: {e}")))?;
        let [c, h, w] = kind.shape();
        if (self.channels, self.image_size, self.image_size) != (c, h, w) {
            return Err(Error::Config(format!(
                "[model_config] channels = {}, image_size = {} do not fit {kind} ({c}×{h}×{w} images)",
                self.channels, self.image_size
            )));
        }
        Ok(())
    }

    /// Analytic training FLOP per image ([`train_flop`]): two 3×3 stride-2 convolutions, the
    /// linear code and back, two 4×4 stride-2 transposed convolutions.
    pub fn train_flop_per_image(&self) -> f64 {
        let (s2, s4) = (self.image_size / 2, self.image_size / 4);
        let [h1, h2] = self.hidden;
        let flat = (h2 * s4 * s4) as f64;
        train_flop(
            conv_macs(s2 * s2, 3, self.channels, h1)
                + conv_macs(s4 * s4, 3, h1, h2)
                + 2.0 * flat * self.latent as f64
                + conv_macs(s4 * s4, 4, h2, h1)
                + conv_macs(s2 * s2, 4, h1, self.channels),
        )
    }

    /// Parameters (exact) and activations per image.
    pub fn size(&self) -> Size {
        let c = self;
        let (half, quarter) = (c.image_size / 2, c.image_size / 4);
        Size {
            params: c.num_params(),
            activations: sum(&[
                prod(&[c.hidden[0], half, half, 2]),
                prod(&[c.hidden[1], quarter, quarter, 2]),
                prod(&[c.latent, 1]),
                prod(&[c.channels, c.image_size, c.image_size, 2]),
            ]),
        }
    }
}

impl VaeConfig {
    /// Analytic training FLOP per image ([`train_flop`]): the encoder once, the decoder once per
    /// importance sample (`iwae_k`); the label enters both by one-hot.
    pub fn train_flop_per_image(&self) -> f64 {
        let c = self;
        let (s2, s4) = (c.image_size / 2, c.image_size / 4);
        let [h1, h2] = c.conv_channels;
        let outs = c.channels * c.likelihood.params_per_channel();
        let (flat, enc_convs, dec_convs) = match c.architecture {
            Architecture::Mlp => (c.dims(), 0.0, 0.0),
            Architecture::Conv => (
                h2 * s4 * s4,
                conv_macs(s2 * s2, 3, c.channels, h1) + conv_macs(s4 * s4, 3, h1, h2),
                conv_macs(s4 * s4, 4, h2, h1) + conv_macs(s2 * s2, 4, h1, outs),
            ),
        };
        let dec_flat = match c.architecture {
            Architecture::Mlp => outs * c.image_size * c.image_size,
            Architecture::Conv => flat,
        };
        let (h, z, y) = (c.hidden as f64, c.latent as f64, c.num_classes as f64);
        let more = (c.hidden_layers.max(1) - 1) as f64 * h * h;
        let encoder = enc_convs + (flat as f64 + y) * h + more + h * 2.0 * z;
        let decoder = (z + y) * h + more + h * dec_flat as f64 + dec_convs;
        // A second stochastic layer: q(z₂|z) and p(z|z₂), both once per importance sample.
        let (t, z2) = (c.top_hidden as f64, c.top_latent as f64);
        let top_more = (c.hidden_layers.max(1) - 1) as f64 * t * t;
        let top = if c.top_latent > 0 {
            (z * t + top_more + t * 2.0 * z2) + (z2 * t + top_more + t * 2.0 * z)
        } else {
            0.0
        };
        train_flop(encoder + c.iwae_k.max(1) as f64 * (decoder + top))
    }

    /// Parameters and activations per image of the VAE (MLP or convolutional encoder and
    /// decoder), from its sizes, to within the small layers (biases, the conv stacks' kernels).
    pub fn size(&self) -> Size {
        let c = self;
        let pixels = prod(&[c.channels, c.image_size, c.image_size]);
        let flat = match c.architecture {
            Architecture::Mlp => pixels,
            Architecture::Conv => prod(&[c.conv_channels[1], c.image_size / 4, c.image_size / 4]),
        };
        let (h, z, y) = (c.hidden as u64, c.latent as u64, c.num_classes as u64);
        let m = |a: u64, b: u64| a.saturating_mul(b);
        // Up to two decoder outputs per pixel (the discretized logistic's mean and scale).
        let layers = c.hidden_layers.max(1) as u64;
        let more = m(m(2, layers - 1), m(h, h));
        let (t, z2) = (c.top_hidden as u64, c.top_latent as u64);
        let top = if z2 > 0 {
            // q(z₂|z) and p(z|z₂): a stack of `layers` each, with Gaussian heads.
            let stack = |input: u64| sum(&[m(input, t), m(layers - 1, m(t, t))]);
            sum(&[stack(z), m(t, m(2, z2)), stack(z2), m(t, m(2, z))])
        } else {
            0
        };
        let top_activations = if z2 > 0 {
            sum(&[m(m(t, 4), layers), m(z2, 3), m(z, 2)])
        } else {
            0
        };
        Size {
            params: sum(&[
                m(flat.saturating_add(y), h),
                more,
                m(h, m(2, z)),
                m(z.saturating_add(y), h),
                m(h, m(2, flat)),
                top,
            ]),
            activations: m(
                sum(&[
                    m(pixels, 3),
                    m(flat, 2),
                    m(m(h, 2), layers),
                    m(z, 3),
                    top_activations,
                ]),
                c.iwae_k as u64,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_estimates_are_near_the_built_models() {
        let device = Device::flex();
        for c in [
            VaeConfig::mnist_mlp(),
            VaeConfig::mnist_conditional(),
            VaeConfig::burda_one_layer(),
            VaeConfig::burda_two_layer(),
        ] {
            let (estimate, actual) = (c.size().params, c.init(&device).num_params() as u64);
            assert!(
                estimate * 2 >= actual && estimate <= actual * 2,
                "estimate {estimate}, model {actual}"
            );
        }
        let c = AutoencoderConfig::mnist();
        assert_eq!(c.size().params, c.init(&device).num_params() as u64);
    }

    /// The hand counts of `docs/performance.md`: the MLP VAE ≈ 0.50 GFLOP a step of 128 images,
    /// the autoencoder ≈ 1.10 a step of 64, and the conv VAE's layers written out.
    #[test]
    fn flop_counts_match_the_hand_counts() {
        let vae = VaeConfig::mnist_mlp().train_flop_per_image() * 128.0 / 1e9;
        assert!((vae - 0.50).abs() < 0.005, "{vae}");
        let ae = AutoencoderConfig::mnist().train_flop_per_image() * 64.0 / 1e9;
        assert!((ae - 1.10).abs() < 0.01, "{ae}");
        let conv = |p: f64, k: f64, i: f64, o: f64| p * k * k * i * o;
        let hand = 6.0
            * (conv(196.0, 3.0, 1.0, 32.0)
                + conv(49.0, 3.0, 32.0, 64.0)
                + 3136.0 * 256.0
                + 256.0 * 40.0
                + 20.0 * 256.0
                + 256.0 * 3136.0
                + conv(49.0, 4.0, 64.0, 32.0)
                + conv(196.0, 4.0, 32.0, 1.0));
        let c = VaeConfig::mnist_conv();
        assert_eq!((c.conv_channels, c.hidden, c.latent), ([32, 64], 256, 20));
        let got = c.train_flop_per_image();
        assert!((got - hand).abs() < 1e-6 * hand, "{got} vs {hand}");
    }

    #[test]
    fn dataset_checks_name_the_mismatch() {
        assert!(check_config(&preset("vae", DatasetKind::Mnist), DatasetKind::Mnist).is_ok());
        let err = check_config(&preset("vae", DatasetKind::Mnist), DatasetKind::Cifar10)
            .expect_err("grey model, colour data")
            .to_string();
        assert!(err.contains("do not fit cifar10"), "{err}");
        let err = AutoencoderConfig::mnist()
            .check_dataset(DatasetKind::Cifar10)
            .expect_err("grey model, colour data")
            .to_string();
        assert!(err.contains("3×32×32"), "{err}");
    }
}
