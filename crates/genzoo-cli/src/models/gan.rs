//! Training glue for the GANs of `genzoo-gan` (lecture §2.3): `gan` (MLP), `dcgan`, `wgan`,
//! `wgan-gp`, `lsgan` and `cgan`, all one [`GanTask`] with different presets.
//!
//! Images reach the networks in [−1, 1] (the generators end in tanh) and leave them in [0, 1].
//! One step is the lecture's round: `k` discriminator updates, each on its own training batch,
//! then one generator update on fresh noise.

use std::path::Path;

use crate::models::state;
use burn::tensor::{Device, Tensor};
use genzoo_datasets::rng::{Rng, derive_seed};
use genzoo_datasets::{Binarization, DatasetKind, ImageSet};
use genzoo_gan::{Architecture, DcganConfig, GanTrainConfig, GanTrainer, MlpGanConfig, latent};
use genzoo_train::{Batches, Checkpoint, Error, Figure, Grid, Result, StepOutput, Task};
use serde::{Deserialize, Serialize};

/// Fixed-noise grid: 8 × 8 samples (10 × 10, one row per class, for a conditional model).
const GRID_COLS: usize = 8;
/// Samples and test images used by `evaluate` by default.
const EVAL_IMAGES: usize = 1000;
/// Generation batch.
const GEN_BATCH: usize = 500;
/// Seed of the fixed noise behind every sample grid and figure.
const FIXED_SEED: u64 = 0x6A4E;

/// The `[model_config]` table of a GAN run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GanModelConfig {
    /// The networks.
    pub network: Architecture,
    /// Objective, k, optimizers, constraint.
    pub training: GanTrainConfig,
    /// Test images and samples compared by `evaluate` (at most the test set's size).
    #[serde(default = "default_eval_images")]
    pub eval_images: usize,
}

fn default_eval_images() -> usize {
    EVAL_IMAGES
}

impl GanModelConfig {
    /// The preset of a registry entry for a dataset.
    pub fn preset(model: &str, dataset: DatasetKind) -> Result<Self> {
        let [c, h, _] = dataset.shape();
        let dcgan = match dataset {
            DatasetKind::Cifar10 => DcganConfig::cifar10(),
            _ => DcganConfig::mnist(),
        };
        let (network, training) = match model {
            "gan" => (
                Architecture::Mlp(MlpGanConfig::mnist().with_channels(c).with_image_size(h)),
                GanTrainConfig::dcgan(),
            ),
            "dcgan" => (Architecture::Dcgan(dcgan), GanTrainConfig::dcgan()),
            "wgan" => (Architecture::Dcgan(dcgan), GanTrainConfig::wgan()),
            "wgan-gp" => (
                Architecture::Dcgan(dcgan.with_d_batch_norm(false)),
                GanTrainConfig::wgan_gp(),
            ),
            "lsgan" => (Architecture::Dcgan(dcgan), GanTrainConfig::lsgan()),
            "cgan" => (
                Architecture::Dcgan(dcgan.with_classes(dataset.classes())),
                GanTrainConfig::dcgan(),
            ),
            other => return Err(Error::Config(format!("no GAN preset named '{other}'"))),
        };
        Ok(Self {
            network,
            training,
            eval_images: EVAL_IMAGES,
        })
    }

    /// Checks the combination before anything is built.
    pub fn validate(&self) -> Result<()> {
        self.network
            .validate()
            .and_then(|_| self.training.validate(&self.network))
            .map_err(|e| Error::Config(format!("[model_config]: {e}")))
    }
}

/// A GAN being trained: both networks, both optimizers, the fixed noise of its grids.
pub struct GanTask {
    name: &'static str,
    gan: GanTrainer,
    network: Architecture,
    lr: f64,
    eval_images: usize,
    device: Device,
}

impl GanTask {
    /// Fresh networks on `device` (an autodiff device). Validate `config` first.
    pub fn new(name: &'static str, config: &GanModelConfig, lr: f64, device: &Device) -> Self {
        Self {
            name,
            gan: GanTrainer::new(&config.network, config.training.clone(), device),
            network: config.network.clone(),
            lr,
            eval_images: config.eval_images.max(1),
            device: device.clone(),
        }
    }

    /// The trainer (networks and optimizers).
    pub fn trainer(&self) -> &GanTrainer {
        &self.gan
    }

    fn classes(&self) -> usize {
        self.network.classes()
    }

    /// Generated images in [0, 1] from explicit noise rows and labels, on the inner device.
    fn render(&self, z: Vec<f32>, labels: &[usize]) -> Tensor<4> {
        let device = self.device.clone().inner();
        let dim = self.network.latent();
        let n = z.len() / dim;
        let z = Tensor::<2>::from_data(burn::tensor::TensorData::new(z, [n, dim]), &device);
        let y = latent::one_hot(labels, self.classes(), &device);
        to_unit(self.gan.sampler().forward(z, y))
    }

    fn grid(&self, images: Tensor<4>, cols: usize) -> Option<Grid> {
        let [n, c, h, w] = images.dims();
        Some(Grid {
            images: images.into_data().try_to_vec().ok()?,
            n,
            channels: c,
            height: h,
            width: w,
            cols,
        })
    }

    /// The fixed noise and labels of the sample grid.
    fn fixed_inputs(&self) -> (Vec<f32>, Vec<usize>, usize) {
        let mut rng = Rng::seed_from_u64(FIXED_SEED);
        let dim = self.network.latent();
        let (n, cols) = match self.classes() {
            0 => (GRID_COLS * GRID_COLS, GRID_COLS),
            k => (k * 10, 10),
        };
        let z: Vec<f32> = (0..n * dim).map(|_| rng.normal_f32()).collect();
        // One row per class.
        let labels = (0..n).map(|i| i / cols).collect();
        (z, labels, cols)
    }
}

/// [−1, 1] → [0, 1].
fn to_unit(x: Tensor<4>) -> Tensor<4> {
    ((x + 1.0) * 0.5).clamp(0.0, 1.0)
}

fn labels_of(t: Tensor<1, burn::tensor::Int>) -> Vec<usize> {
    t.into_data()
        .convert::<i64>()
        .try_to_vec::<i64>()
        .unwrap_or_default()
        .into_iter()
        .map(|v| v.max(0) as usize)
        .collect()
}

impl Task for GanTask {
    fn name(&self) -> &str {
        self.name
    }

    fn batches_per_step(&self) -> usize {
        self.gan.config.d_steps
    }

    fn step(&mut self, batches: &mut Batches<'_>, rng: &mut Rng) -> StepOutput {
        let k = self.gan.config.d_steps;
        let dim = self.network.latent();
        let classes = self.classes();
        let (mut d_loss, mut d_real, mut d_fake, mut gp) = (0.0, 0.0, 0.0, 0.0);
        let mut images = 0;
        for _ in 0..k {
            let batch = batches.next_batch();
            let b = batch.images.dims()[0];
            images += b;
            let real = batch.images * 2.0 - 1.0;
            let y = latent::one_hot(&labels_of(batch.labels), classes, &self.device);
            let z = latent::normal_noise(rng, b, dim, &self.device);
            let eps = latent::uniform_per_image(rng, b, &self.device);
            let r = self.gan.discriminator_step(real, y, z, eps, self.lr);
            d_loss += r.loss / k as f64;
            d_real += r.d_real / k as f64;
            d_fake += r.d_fake / k as f64;
            gp += r.penalty.unwrap_or(0.0) / k as f64;
        }
        let b = images / k;
        let z = latent::normal_noise(rng, b, dim, &self.device);
        let y = latent::one_hot(
            &latent::random_labels(rng, b, classes),
            classes,
            &self.device,
        );
        let g_loss = self.gan.generator_step(z, y, self.lr);
        let mut parts = vec![("g_loss", g_loss), ("d_real", d_real), ("d_fake", d_fake)];
        if self.gan.config.gradient_penalty.is_some() {
            parts.push(("gradient_penalty", gp));
        }
        StepOutput {
            loss: d_loss,
            parts,
            images,
        }
    }

    fn evaluate(&mut self, test: &ImageSet) -> Vec<(String, f64)> {
        let device = self.device.clone().inner();
        let n = self.eval_images.min(test.len());
        let indices: Vec<usize> = (0..n).collect();
        let batch = test.batch(&indices, Binarization::None, 0, &device);
        let real01 = batch.images;
        let test_labels = labels_of(batch.labels);
        let y = latent::one_hot(&test_labels, self.classes(), &device);
        // A conditional model generates the test images' own labels, so D scores both with the
        // same conditioning.
        let fake01 = self
            .generate_labeled(n, derive_seed(FIXED_SEED, &[1]), Some(&test_labels))
            .unwrap_or_else(|| real01.clone());
        let critic = self.gan.critic();
        let loss = self.gan.config.loss;
        let d_x = critic.forward(real01.clone() * 2.0 - 1.0, y.clone());
        let d_g = critic.forward(fake01.clone() * 2.0 - 1.0, y);
        // A crude, model-free distance between samples and test images: squared differences of
        // per-pixel means and standard deviations. It catches collapse and blur, not detail; FID
        // and KID come from `genzoo eval`.
        let moments = |x: Tensor<4>| {
            let flat: Tensor<2> = x.flatten(1, 3);
            let mean = flat.clone().mean_dim(0);
            let std = (flat - mean.clone()).square().mean_dim(0).sqrt();
            (mean, std)
        };
        let (mr, sr) = moments(real01);
        let (mf, sf) = moments(fake01);
        let dist = (mr - mf).square().mean() + (sr - sf).square().mean();
        vec![
            ("test_d_real".into(), loss.report(d_x.clone())),
            ("test_d_fake".into(), loss.report(d_g.clone())),
            (
                "test_d_loss".into(),
                f64::from(loss.discriminator(d_x, d_g).into_scalar::<f32>()),
            ),
            (
                "moment_distance".into(),
                f64::from(dist.into_scalar::<f32>()),
            ),
        ]
    }

    fn selection_metric(&self) -> &str {
        "moment_distance"
    }

    fn sample_grid(&mut self, _test: &ImageSet) -> Option<Grid> {
        let (z, labels, cols) = self.fixed_inputs();
        let x = self.render(z, &labels);
        self.grid(x, cols)
    }

    fn generate(&mut self, n: usize, seed: u64) -> Option<Tensor<4>> {
        self.generate_labeled(n, seed, None)
    }

    fn num_classes(&self) -> usize {
        self.classes()
    }

    fn generate_class(&mut self, n: usize, seed: u64, label: usize) -> Option<Tensor<4>> {
        (label < self.classes()).then(|| self.generate_labeled(n, seed, Some(&vec![label; n])))?
    }

    fn figures(&mut self, _test: &ImageSet) -> Vec<(String, Figure)> {
        let mut out = Vec::new();
        let dim = self.network.latent();
        let classes = self.classes();
        // Eight rows, each a spherical interpolation between two fixed noise vectors.
        let mut rng = Rng::seed_from_u64(derive_seed(FIXED_SEED, &[2]));
        let (rows, steps) = (8, 10);
        let mut z = Vec::with_capacity(rows * steps * dim);
        let mut labels = Vec::new();
        for r in 0..rows {
            let a: Vec<f32> = (0..dim).map(|_| rng.normal_f32()).collect();
            let b: Vec<f32> = (0..dim).map(|_| rng.normal_f32()).collect();
            for p in latent::slerp(&a, &b, steps) {
                z.extend(p);
                labels.push(r % classes.max(1));
            }
        }
        if let Some(g) = self.grid(self.render(z, &labels), steps) {
            out.push(("interpolation".to_string(), Figure::Grid(g)));
        }
        if classes > 0 {
            // One row per class, one column per noise vector shared by all rows: style vs label.
            let cols = 10;
            let zs: Vec<Vec<f32>> = (0..cols)
                .map(|_| (0..dim).map(|_| rng.normal_f32()).collect())
                .collect();
            let mut z = Vec::new();
            let mut labels = Vec::new();
            for c in 0..classes {
                for v in &zs {
                    z.extend_from_slice(v);
                    labels.push(c);
                }
            }
            if let Some(g) = self.grid(self.render(z, &labels), cols) {
                out.push(("classes".to_string(), Figure::Grid(g)));
            }
        }
        out
    }

    fn save(&self) -> Result<Vec<(String, Vec<u8>)>> {
        Ok(vec![
            state::module_section("generator", &self.gan.generator)?,
            state::module_section("discriminator", &self.gan.discriminator)?,
            state::optim_section("g_optim", &self.gan.g_optim)?,
            state::optim_section("d_optim", &self.gan.d_optim)?,
        ])
    }

    fn load(&mut self, checkpoint: &Checkpoint, path: &Path) -> Result<()> {
        let g = state::load_module(&self.gan.generator, checkpoint, path, "generator")?;
        let d = state::load_module(&self.gan.discriminator, checkpoint, path, "discriminator")?;
        let g_optim = state::load_optim(&self.gan.g_optim, checkpoint, path, "g_optim")?;
        let d_optim = state::load_optim(&self.gan.d_optim, checkpoint, path, "d_optim")?;
        // Assign only once everything loaded, so a failed load leaves the task untouched.
        self.gan.generator = g;
        self.gan.discriminator = d;
        self.gan.g_optim = g_optim;
        self.gan.d_optim = d_optim;
        Ok(())
    }
}

impl GanTask {
    /// `n` samples in [0, 1] from `seed`; a conditional model uses `labels` (one per sample) or
    /// draws them uniformly over the classes.
    fn generate_labeled(&self, n: usize, seed: u64, labels: Option<&[usize]>) -> Option<Tensor<4>> {
        if n == 0 {
            return None;
        }
        let mut rng = Rng::seed_from_u64(seed);
        let dim = self.network.latent();
        let classes = self.classes();
        let mut parts = Vec::new();
        let mut left = n;
        while left > 0 {
            let b = left.min(GEN_BATCH);
            let z: Vec<f32> = (0..b * dim).map(|_| rng.normal_f32()).collect();
            let drawn = latent::random_labels(&mut rng, b, classes);
            let done = n - left;
            let batch_labels = labels.map_or(&drawn[..], |l| &l[done..done + b]);
            parts.push(self.render(z, batch_labels));
            left -= b;
        }
        Some(Tensor::cat(parts, 0))
    }
}
