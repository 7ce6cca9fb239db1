//! Training the GANs with `genzoo-train` (feature `train`): `gan` (MLP), `dcgan`, `wgan`,
//! `wgan-gp`, `lsgan`, `cgan` and `acgan`, all one [`GanTask`] with different presets; the toy
//! 2-D mixtures (`--dataset toy-ring8|toy-grid25`) train the MLP GAN on points.
//!
//! Images reach the networks in [−1, 1] (the generators end in tanh) and leave them in [0, 1].
//! One step is the lecture's round: `k` discriminator updates, each on its own training batch,
//! then one generator update on fresh noise.

use std::path::Path;

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use genzoo_datasets::rng::{Rng, derive_seed};
use genzoo_datasets::toy::ToyKind;
use genzoo_datasets::{Binarization, DatasetKind, ImageSet};
use genzoo_train::capability::check_class;
use genzoo_train::memory::{Size, conv_macs, prod, sum};
use genzoo_train::protocol::test_batch;
use genzoo_train::state::{load_module, load_optim, module_section, optim_section};
use genzoo_train::weights::{
    Layout, from_safetensors, probe_latents, probe_one_hot, to_safetensors,
};
use genzoo_train::{
    Checkpoint, Error, Figure, Generate, GenerateClass, Grid, Result, Scalar, StepBatches,
    StepOutput, Task,
};
use serde::{Deserialize, Serialize};

use crate::nets::GanNets;
use crate::{Architecture, DcganConfig, GanTrainConfig, GanTrainer, MlpGanConfig, latent};

/// Fixed-noise grid: 8 × 8 samples (10 × 10, one row per class, for a conditional model).
const GRID_COLS: usize = 8;
/// Samples and test images used by `evaluate` by default.
const EVAL_IMAGES: usize = 1000;
/// Generation batch.
const GEN_BATCH: usize = 500;
/// Seed of the fixed noise behind every sample grid and figure.
const FIXED_SEED: u64 = 0x6A4E;
/// Toy sets: samples (and test points) scored for mode coverage, as in VEEGAN and PacGAN.
const TOY_EVAL_POINTS: usize = 2500;
/// Toy sets: a mode is captured with at least this many high-quality samples out of 2,500.
const TOY_MIN_COUNT: usize = 20;
/// Toy sets: batch size.
pub const TOY_BATCH: usize = 256;
/// Toy sets: default epochs of the 50,000 training points.
pub const TOY_EPOCHS: u64 = 30;
/// Toy sets: learning rate of the Adam recipes.
pub const TOY_LR: f64 = 5e-4;
/// Toy sets: learning rate of WGAN's RMSProp.
pub const TOY_WGAN_LR: f64 = 5e-4;
/// Toy sets: pixels per side of the scatter plot drawn as the sample "grid".
const TOY_PLOT: usize = 160;

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
    /// The toy 2-D mixture this GAN is trained on (`toy-ring8`, `toy-grid25`), `None` for images.
    /// Set by the preset from `--dataset`; it switches the data path to points and the evaluation
    /// to mode coverage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub toy: Option<ToyKind>,
}

fn default_eval_images() -> usize {
    EVAL_IMAGES
}

impl GanModelConfig {
    /// The preset of a registry entry for a dataset.
    pub fn preset(model: &str, dataset: DatasetKind) -> Result<Self> {
        if let Some(toy) = dataset.toy() {
            return Self::toy_preset(model, toy, dataset.classes());
        }
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
            "acgan" => (
                Architecture::Dcgan(
                    dcgan
                        .with_classes(dataset.classes())
                        .with_auxiliary(Some(true)),
                ),
                GanTrainConfig::dcgan(),
            ),
            other => return Err(Error::Config(format!("no GAN preset named '{other}'"))),
        };
        Ok(Self {
            network,
            training,
            eval_images: EVAL_IMAGES,
            toy: None,
        })
    }

    /// The preset for a toy 2-D mixture: the MLP of [`crate::toy::toy_mlp`] (the DCGAN is
    /// convolutional and has no meaning on single points) with the entry's objective.
    fn toy_preset(model: &str, toy: ToyKind, classes: usize) -> Result<Self> {
        let mlp = crate::toy::toy_mlp();
        let (network, training) = match model {
            "gan" => (Architecture::Mlp(mlp), GanTrainConfig::dcgan()),
            "wgan" => (Architecture::Mlp(mlp), GanTrainConfig::wgan()),
            "wgan-gp" => (Architecture::Mlp(mlp), GanTrainConfig::wgan_gp()),
            "lsgan" => (Architecture::Mlp(mlp), GanTrainConfig::lsgan()),
            "cgan" => (
                Architecture::Mlp(mlp.with_classes(classes)),
                GanTrainConfig::dcgan(),
            ),
            other => {
                return Err(Error::Config(format!(
                    "'{other}' has no preset for the 2-D points of '{}': train `gan` (MLP) \
                     with --loss minimax|ns|wgan|wgan-gp|lsgan|hinge, or `cgan`",
                    toy.name()
                )));
            }
        };
        Ok(Self {
            network,
            training,
            eval_images: TOY_EVAL_POINTS,
            toy: Some(toy),
        })
    }

    /// Checks the combination before anything is built.
    pub fn validate(&self) -> Result<()> {
        if self.eval_images == 0 {
            return Err(Error::Config(
                "[model_config]: eval_images must be at least 1".into(),
            ));
        }
        self.network
            .validate()
            .and_then(|_| self.training.validate(&self.network))
            .map_err(|e| Error::Config(format!("[model_config]: {e}")))
    }

    /// Analytic FLOP of one round's work per image (2 FLOP a multiply-add): each D step runs G
    /// forward (detached) and D forward and backward on a real and a fake batch; the G step runs G
    /// and D forward and backward. Counted for one D step, as the bench's presets train.
    pub fn train_flop_per_image(&self) -> f64 {
        let (g, d) = match &self.network {
            Architecture::Mlp(c) => {
                let [g0, g1] = c.g_hidden;
                let [d0, d1] = c.d_hidden;
                let x = c.data_dim();
                (
                    ((c.latent + c.classes) * g0 + g0 * g1 + g1 * x) as f64,
                    ((x + c.classes) * d0 + d0 * d1 + d1) as f64,
                )
            }
            Architecture::Dcgan(c) => {
                let (s, half) = (c.image_size / 4, c.image_size / 2);
                let [g0, g1] = c.g_hidden;
                let [d0, d1] = c.d_hidden;
                (
                    ((c.latent + c.classes) * g0 * s * s) as f64
                        + conv_macs(s * s, 4, g0, g1)
                        + conv_macs(half * half, 4, g1, c.channels),
                    conv_macs(half * half, 4, c.channels + c.classes, d0)
                        + conv_macs(s * s, 4, d0, d1)
                        + (d1 * s * s * (1 + c.classes)) as f64,
                )
            }
        };
        2.0 * (g + 2.0 * 3.0 * d + 3.0 * (g + d))
    }

    /// Parameters and activations per image of the generator and the discriminator.
    pub fn size(&self) -> Size {
        match &self.network {
            Architecture::Mlp(c) => {
                let d = c.data_dim();
                let [g0, g1] = c.g_hidden;
                let [d0, d1] = c.d_hidden;
                Size {
                    params: sum(&[
                        prod(&[c.latent + c.classes, g0]),
                        prod(&[g0, g1]),
                        prod(&[g1, d]),
                        prod(&[d + c.classes, d0]),
                        prod(&[d0, d1]),
                        d1 as u64,
                    ]),
                    activations: sum(&[prod(&[g0 + g1 + d, 1]), prod(&[d + d0 + d1, 2])]),
                }
            }
            Architecture::Dcgan(c) => {
                let s = c.image_size / 4;
                let half = c.image_size / 2;
                let [g0, g1] = c.g_hidden;
                let [d0, d1] = c.d_hidden;
                Size {
                    params: sum(&[
                        prod(&[c.latent + c.classes, g0, s, s]),
                        prod(&[g0, g1, 4, 4]),
                        prod(&[g1, c.channels, 4, 4]),
                        prod(&[c.channels + c.classes, d0, 4, 4]),
                        prod(&[d0, d1, 4, 4]),
                        prod(&[d1, s, s, 1 + c.classes]),
                    ]),
                    activations: sum(&[
                        prod(&[g0, s, s]),
                        prod(&[g1, half, half]),
                        prod(&[c.channels, c.image_size, c.image_size, 3]),
                        prod(&[d0 + c.classes, half, half, 2]),
                        prod(&[d1, s, s, 2]),
                    ]),
                }
            }
        }
    }

    /// Checks that the networks fit the run's dataset (images of its shape, or 2-D points).
    pub fn check_dataset(&self, dataset: DatasetKind) -> Result<()> {
        let bad = |m: String| Err(Error::Config(format!("[model_config]: {m}")));
        if self.toy != dataset.toy() {
            return bad(format!(
                "toy = {:?} does not match dataset '{dataset}'",
                self.toy.map(ToyKind::name)
            ));
        }
        let want = match dataset.toy() {
            Some(_) => [2, 1, 1],
            None => dataset.shape(),
        };
        if self.network.image_shape() != want {
            return bad(format!(
                "the networks make {:?} samples but dataset '{dataset}' needs {want:?}",
                self.network.image_shape()
            ));
        }
        let classes = self.network.classes();
        if classes > 0 && classes != dataset.classes() {
            return bad(format!(
                "classes = {classes} but dataset '{dataset}' has {}",
                dataset.classes()
            ));
        }
        Ok(())
    }
}

/// The objectives `genzoo train <gan> --loss NAME` selects.
pub const LOSS_FLAGS: [&str; 6] = ["minimax", "ns", "wgan", "wgan-gp", "lsgan", "hinge"];

/// The training recipe of a `--loss` name ([`LOSS_FLAGS`]) and its learning rate on images and
/// on toy points.
pub fn loss_recipe(name: &str) -> Result<(GanTrainConfig, f64, f64)> {
    Ok(match name {
        "minimax" => (
            GanTrainConfig::dcgan().with_loss(crate::GanLoss::Minimax),
            2e-4,
            TOY_LR,
        ),
        "ns" | "non-saturating" => (GanTrainConfig::dcgan(), 2e-4, TOY_LR),
        "lsgan" | "least-squares" => (GanTrainConfig::lsgan(), 2e-4, TOY_LR),
        "hinge" => (
            GanTrainConfig::dcgan().with_loss(crate::GanLoss::Hinge),
            2e-4,
            TOY_LR,
        ),
        "wgan" => (GanTrainConfig::wgan(), 5e-5, TOY_WGAN_LR),
        "wgan-gp" => (GanTrainConfig::wgan_gp(), 1e-4, TOY_LR),
        other => {
            return Err(Error::Config(format!(
                "unknown --loss '{other}'; known: {}",
                LOSS_FLAGS.join(", ")
            )));
        }
    })
}

impl GanModelConfig {
    /// This configuration trained with the `--loss` recipe `name` ([`LOSS_FLAGS`]): its loss,
    /// Lipschitz constraint, k, optimizer and β (WGAN-GP also drops the critic's BatchNorm, whose
    /// batch coupling the penalty's independent samples forbid), with the recipe's learning rate
    /// on images or on the toy 2-D sets.
    pub fn with_loss_recipe(mut self, name: &str, toy: bool) -> Result<(Self, f64)> {
        let (r, lr_images, lr_toy) = loss_recipe(name)?;
        let t = &mut self.training;
        t.loss = r.loss;
        t.d_steps = r.d_steps;
        t.optimizer = r.optimizer;
        t.beta1 = r.beta1;
        t.beta2 = r.beta2;
        t.clip = r.clip;
        t.gradient_penalty = r.gradient_penalty;
        if r.gradient_penalty.is_some() {
            self.network = self.network.without_d_batch_norm();
        }
        Ok((self, if toy { lr_toy } else { lr_images }))
    }

    /// The run defaults on a toy 2-D set: batch size, learning rate and epochs.
    pub fn toy_run_defaults(&self) -> (usize, f64, u64) {
        let lr = if self.training.clip.is_some() {
            TOY_WGAN_LR
        } else {
            TOY_LR
        };
        (TOY_BATCH, lr, TOY_EPOCHS)
    }
}

/// A GAN being trained: both networks, both optimizers, the fixed noise of its grids.
pub struct GanTask {
    name: &'static str,
    gan: GanTrainer,
    network: Architecture,
    base_lr: f64,
    lr: f64,
    eval_images: usize,
    toy: Option<ToyKind>,
    device: Device,
}

impl GanTask {
    /// Fresh networks on `device` (an autodiff device). Validate `config` first.
    pub fn new(name: &'static str, config: &GanModelConfig, lr: f64, device: &Device) -> Self {
        Self {
            name,
            gan: GanTrainer::new(&config.network, config.training.clone(), device),
            network: config.network.clone(),
            base_lr: lr,
            lr,
            eval_images: config.eval_images.max(1),
            toy: config.toy,
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
        Grid::from_tensor(images, cols)
            .map_err(|e| tracing::warn!("grid: {e}"))
            .ok()
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

    fn scale_lr(&mut self, factor: f64) {
        self.lr = self.base_lr * factor;
    }

    fn step(&mut self, batches: StepBatches, rng: &mut Rng) -> StepOutput {
        let dim = self.network.latent();
        let classes = self.classes();
        // Each D step's numbers; the round reports their means over the k steps.
        let (mut d_loss, mut d_real, mut d_fake, mut gp, mut class_loss) =
            (vec![], vec![], vec![], vec![], vec![]);
        let mut images = 0;
        for batch in batches {
            let b = batch.images.dims()[0];
            images += b;
            let real = self.to_model_space(batch.images);
            let y = latent::one_hot(&labels_of(batch.labels), classes, &self.device);
            let z = latent::normal_noise(rng, b, dim, &self.device);
            let eps = latent::uniform_per_image(rng, b, &self.device);
            let r = self.gan.discriminator_step(real, y, z, eps, self.lr);
            let or_zero = |t: Option<Tensor<1>>| t.map_or(Scalar::Host(0.0), Scalar::device);
            d_loss.push(Scalar::device(r.loss));
            d_real.push(Scalar::device(r.d_real));
            d_fake.push(Scalar::device(r.d_fake));
            gp.push(or_zero(r.penalty));
            class_loss.push(or_zero(r.class_loss));
        }
        let b = images / d_loss.len();
        let z = latent::normal_noise(rng, b, dim, &self.device);
        let y = latent::one_hot(
            &latent::random_labels(rng, b, classes),
            classes,
            &self.device,
        );
        let g_loss = Scalar::device(self.gan.generator_step(z, y, self.lr));
        let mut parts = vec![
            ("g_loss", g_loss),
            ("d_real", Scalar::mean_of_terms(d_real)),
            ("d_fake", Scalar::mean_of_terms(d_fake)),
        ];
        if self.gan.config.gradient_penalty.is_some() {
            parts.push(("gradient_penalty", Scalar::mean_of_terms(gp)));
        }
        if self.network.auxiliary() {
            parts.push(("d_class_loss", Scalar::mean_of_terms(class_loss)));
        }
        StepOutput {
            loss: Scalar::mean_of_terms(d_loss),
            parts,
            images,
        }
    }

    fn evaluate(&mut self, test: &ImageSet) -> Vec<(String, f64)> {
        if let Some(toy) = self.toy {
            return self.evaluate_toy(toy, test);
        }
        let device = self.device.clone().inner();
        let n = self.eval_images.min(test.len());
        let indices: Vec<usize> = (0..n).collect();
        let batch = test_batch(test, &indices, Binarization::None, &device);
        let real01 = batch.images;
        let test_labels = labels_of(batch.labels);
        let y = latent::one_hot(&test_labels, self.classes(), &device);
        // A conditional model generates the test images' own labels, so D scores both with the
        // same conditioning.
        let fake01 = self
            .generate_labeled(n, derive_seed(FIXED_SEED, &[1]), Some(&test_labels))
            .unwrap_or_else(|_| real01.clone());
        let critic = self.gan.critic();
        let loss = self.gan.config.loss;
        let (d_x, c_x) = critic.forward_aux(real01.clone() * 2.0 - 1.0, y.clone());
        let (d_g, c_g) = critic.forward_aux(fake01.clone() * 2.0 - 1.0, y);
        // AC-GAN: how often the class head names the test image's label, and the label the
        // sample was generated for.
        let accuracy = |logits: Tensor<2>| {
            let pred = labels_of(logits.argmax(1).flatten::<1>(0, 1));
            let hits = pred
                .iter()
                .zip(&test_labels)
                .filter(|(p, t)| p == t)
                .count();
            hits as f64 / test_labels.len().max(1) as f64
        };
        let aux: Vec<(String, f64)> = match (c_x, c_g) {
            (Some(cx), Some(cg)) => vec![
                ("test_aux_acc_real".into(), accuracy(cx)),
                ("test_aux_acc_fake".into(), accuracy(cg)),
            ],
            _ => Vec::new(),
        };
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
        let mut out = vec![
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
        ];
        out.extend(aux);
        out
    }

    fn selection_metric(&self) -> &str {
        if self.toy.is_some() {
            "modes_missed"
        } else {
            "moment_distance"
        }
    }

    fn sample_grid(&mut self, test: &ImageSet) -> Option<Grid> {
        if let Some(toy) = self.toy {
            return Some(self.toy_plot(toy, test));
        }
        let (z, labels, cols) = self.fixed_inputs();
        let x = self.render(z, &labels);
        self.grid(x, cols)
    }

    fn figures(&mut self, test: &ImageSet) -> Vec<(String, Figure)> {
        if let Some(toy) = self.toy {
            return vec![("toy-samples".to_string(), self.toy_svg(toy, test))];
        }
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

    // Toy samples are points, not images: they have nothing for the image metrics.
    fn generator(&mut self) -> Option<&mut dyn Generate> {
        if self.toy.is_none() { Some(self) } else { None }
    }

    fn conditional(&mut self) -> Option<&mut dyn GenerateClass> {
        if self.toy.is_none() && self.classes() > 0 {
            Some(self)
        } else {
            None
        }
    }

    fn save(&self) -> Result<Vec<(String, Vec<u8>)>> {
        Ok(vec![
            module_section("generator", &self.gan.generator)?,
            module_section("discriminator", &self.gan.discriminator)?,
            optim_section("g_optim", &self.gan.g_optim)?,
            optim_section("d_optim", &self.gan.d_optim)?,
        ])
    }

    fn load(&mut self, checkpoint: &Checkpoint, path: &Path) -> Result<()> {
        let g = load_module(&self.gan.generator, checkpoint, path, "generator")?;
        let d = load_module(&self.gan.discriminator, checkpoint, path, "discriminator")?;
        let g_optim = load_optim(&self.gan.g_optim, checkpoint, path, "g_optim")?;
        let d_optim = load_optim(&self.gan.d_optim, checkpoint, path, "d_optim")?;
        // Assign only once everything loaded, so a failed load leaves the task untouched.
        self.gan.generator = g;
        self.gan.discriminator = d;
        self.gan.g_optim = g_optim;
        self.gan.d_optim = d_optim;
        Ok(())
    }

    fn export_weights(&self, layout: Layout, metadata: &[(&str, &str)]) -> Result<Vec<u8>> {
        to_safetensors(&self.nets(), layout, metadata)
    }

    fn import_weights(&mut self, bytes: Vec<u8>, layout: Layout, path: &Path) -> Result<()> {
        let nets = from_safetensors(&self.nets(), bytes, layout, path)?;
        self.gan.generator = nets.generator;
        self.gan.discriminator = nets.discriminator;
        Ok(())
    }

    /// Fixed codes `z` and, for a conditional model, `labels` one-hot; the generator's `output`
    /// in [−1, 1] (before the mapping to [0, 1]), the discriminator's raw `score` of it and, for
    /// an AC-GAN, its `class_logits`.
    fn probe(&mut self) -> Result<Vec<(String, TensorData)>> {
        let device = self.device.clone().inner();
        let nets = self.nets().valid();
        let z = probe_latents(self.network.latent(), &device);
        let classes = self.classes();
        let y = (classes > 0).then(|| probe_one_hot(classes, &device));
        let output = nets.generator.forward(z.clone(), y.clone());
        let (score, class_logits) = nets.discriminator.forward_aux(output.clone(), y.clone());
        let mut out = vec![("z".to_string(), z.into_data())];
        out.extend(y.map(|y| ("labels".to_string(), y.into_data())));
        out.push(("output".to_string(), output.into_data()));
        out.push(("score".to_string(), score.into_data()));
        out.extend(class_logits.map(|c| ("class_logits".to_string(), c.into_data())));
        Ok(out)
    }
}

impl GanTask {
    /// Both networks as one module (a cheap copy: tensors are shared).
    fn nets(&self) -> GanNets {
        GanNets {
            generator: self.gan.generator.clone(),
            discriminator: self.gan.discriminator.clone(),
        }
    }
}

impl GanTask {
    /// `n` samples in [0, 1] from `seed`; a conditional model uses `labels` (one per sample) or
    /// draws them uniformly over the classes.
    fn generate_labeled(&self, n: usize, seed: u64, labels: Option<&[usize]>) -> Result<Tensor<4>> {
        if n == 0 {
            return Err(Error::Model("no samples asked for".into()));
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
        Ok(Tensor::cat(parts, 0))
    }
}

impl Generate for GanTask {
    fn generate(&mut self, n: usize, seed: u64) -> Result<Tensor<4>> {
        self.generate_labeled(n, seed, None)
    }
}

impl GenerateClass for GanTask {
    fn num_classes(&self) -> usize {
        self.classes()
    }

    fn generate_class(&mut self, n: usize, seed: u64, label: usize) -> Result<Tensor<4>> {
        check_class(label, self.classes())?;
        self.generate_labeled(n, seed, Some(&vec![label; n]))
    }
}

/// The toy 2-D path: points instead of images, mode coverage instead of image statistics.
impl GanTask {
    /// A training or test batch in the networks' [−1, 1] range: images rescaled, toy points decoded.
    fn to_model_space(&self, images: Tensor<4>) -> Tensor<4> {
        match self.toy {
            Some(_) => crate::toy::decode_points(images),
            None => images * 2.0 - 1.0,
        }
    }

    /// `n` generated points in the mixture's own coordinates, from `seed`.
    fn toy_samples(&self, toy: ToyKind, n: usize, seed: u64) -> Vec<[f32; 2]> {
        let device = self.device.clone().inner();
        let mut rng = Rng::seed_from_u64(seed);
        let z = latent::normal_noise(&mut rng, n, self.network.latent(), &device);
        let classes = self.classes();
        let y = latent::one_hot(
            &latent::random_labels(&mut rng, n, classes),
            classes,
            &device,
        );
        let x = self.gan.sampler().forward(z, y);
        unit_points(x, toy.range())
    }

    /// The first `n` test points, in the mixture's coordinates.
    fn toy_test_points(&self, toy: ToyKind, test: &ImageSet, n: usize) -> Vec<[f32; 2]> {
        let device = self.device.clone().inner();
        let indices: Vec<usize> = (0..n.min(test.len())).collect();
        let batch = test_batch(test, &indices, Binarization::None, &device);
        unit_points(crate::toy::decode_points(batch.images), toy.range())
    }

    fn evaluate_toy(&self, toy: ToyKind, test: &ImageSet) -> Vec<(String, f64)> {
        let device = self.device.clone().inner();
        let n = self.eval_images.min(test.len());
        let indices: Vec<usize> = (0..n).collect();
        let batch = test_batch(test, &indices, Binarization::None, &device);
        let real = crate::toy::decode_points(batch.images);
        let labels = labels_of(batch.labels);
        let y = latent::one_hot(&labels, self.classes(), &device);
        let mut rng = Rng::seed_from_u64(derive_seed(FIXED_SEED, &[1]));
        let z = latent::normal_noise(&mut rng, n, self.network.latent(), &device);
        let fake = self.gan.sampler().forward(z, y.clone());
        let critic = self.gan.critic();
        let loss = self.gan.config.loss;
        let d_x = critic.forward(real, y.clone());
        let d_g = critic.forward(fake.clone(), y);
        let samples = unit_points(fake, toy.range());
        let (Some(modes), Some(std)) = (toy.modes(), toy.mode_std()) else {
            return Vec::new();
        };
        let c = crate::toy::mode_coverage(&samples, &modes, std, TOY_MIN_COUNT);
        vec![
            ("test_d_real".into(), loss.report(d_x.clone())),
            ("test_d_fake".into(), loss.report(d_g.clone())),
            (
                "test_d_loss".into(),
                f64::from(loss.discriminator(d_x, d_g).into_scalar::<f32>()),
            ),
            ("modes_captured".into(), c.captured as f64),
            ("modes_total".into(), c.modes as f64),
            ("high_quality_share".into(), c.high_quality),
            ("modes_missed".into(), (c.modes - c.captured) as f64),
        ]
    }

    /// 2,500 fixed-noise samples (red) over 2,500 test points (light blue), rasterised, with the
    /// square `[−R, R]²` of the stored points as the frame: the "sample grid" of a toy run.
    fn toy_plot(&self, toy: ToyKind, test: &ImageSet) -> Grid {
        let s = TOY_PLOT;
        let mut img = vec![1.0f32; 3 * s * s];
        let r = toy.range();
        let mut dot = |p: [f32; 2], rgb: [f32; 3]| {
            let px = ((p[0] / r + 1.0) * 0.5 * (s - 1) as f32).round();
            let py = ((1.0 - p[1] / r) * 0.5 * (s - 1) as f32).round();
            if !(px.is_finite() && py.is_finite()) || px < 0.0 || py < 0.0 {
                return;
            }
            let (x, y) = (px as usize, py as usize);
            if x >= s || y >= s {
                return;
            }
            for (c, v) in rgb.iter().enumerate() {
                img[c * s * s + y * s + x] = *v;
            }
        };
        for p in self.toy_test_points(toy, test, TOY_EVAL_POINTS) {
            dot(p, [0.62, 0.76, 1.0]);
        }
        for p in self.toy_samples(toy, TOY_EVAL_POINTS, FIXED_SEED) {
            dot(p, [0.85, 0.1, 0.1]);
        }
        Grid {
            images: img,
            n: 1,
            channels: 3,
            height: s,
            width: s,
            cols: 1,
        }
    }

    /// The same picture as an SVG scatter plot with axes, for the report.
    fn toy_svg(&self, toy: ToyKind, test: &ImageSet) -> Figure {
        let pairs = |v: Vec<[f32; 2]>| -> Vec<(f64, f64)> {
            v.into_iter()
                .map(|p| (f64::from(p[0]), f64::from(p[1])))
                .collect()
        };
        let real = pairs(self.toy_test_points(toy, test, TOY_EVAL_POINTS));
        let fake = pairs(self.toy_samples(toy, TOY_EVAL_POINTS, FIXED_SEED));
        let svg = genzoo_train::svg::scatter_with(
            &format!("{}: 2,500 samples over 2,500 test points", toy.name()),
            "x",
            &[
                genzoo_train::svg::Series::new("test points", real),
                genzoo_train::svg::Series::new("generated", fake),
            ],
            &genzoo_train::svg::ChartOptions {
                width: 560,
                height: 560,
                y_label: "y".into(),
                log_y: false,
            },
        );
        Figure::Svg(svg)
    }
}

/// `[B, 2, 1, 1]` points in [−1, 1] units → the mixture's coordinates (× `range`).
fn unit_points(x: Tensor<4>, range: f32) -> Vec<[f32; 2]> {
    let v = x.into_data().try_to_vec::<f32>().unwrap_or_default();
    v.chunks_exact(2)
        .map(|p| [p[0] * range, p[1] * range])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::Module;

    #[test]
    fn loss_recipes_replace_the_objective_and_pick_the_learning_rate() {
        let dcgan = GanModelConfig::preset("dcgan", DatasetKind::Mnist).expect("preset");
        assert!(dcgan.network.d_batch_norm());
        let (gp, lr) = dcgan
            .clone()
            .with_loss_recipe("wgan-gp", false)
            .expect("wgan-gp");
        assert!(gp.training.gradient_penalty.is_some() && !gp.network.d_batch_norm());
        assert_eq!((gp.training.d_steps, lr), (5, 1e-4));
        let (w, lr) = dcgan.clone().with_loss_recipe("wgan", true).expect("wgan");
        assert!(w.training.clip.is_some());
        assert_eq!(lr, TOY_WGAN_LR);
        assert_eq!(w.toy_run_defaults(), (TOY_BATCH, TOY_WGAN_LR, TOY_EPOCHS));
        assert!(dcgan.with_loss_recipe("bogus", false).is_err());
    }

    /// The hand counts of `docs/performance.md`: DCGAN ≈ 11.35 GFLOP a step of 64 images; the MLP
    /// GAN's layers written out.
    #[test]
    fn flop_counts_match_the_hand_counts() {
        let flop = |m: &str| {
            GanModelConfig::preset(m, DatasetKind::Mnist)
                .expect("preset")
                .train_flop_per_image()
        };
        let dcgan = flop("dcgan") * 64.0 / 1e9;
        assert!((dcgan - 11.35).abs() < 0.05, "{dcgan}");
        let g = 100.0 * 256.0 + 256.0 * 512.0 + 512.0 * 784.0;
        let d = 784.0 * 512.0 + 512.0 * 256.0 + 256.0;
        let hand = 2.0 * (g + 6.0 * d + 3.0 * (g + d));
        assert!((flop("gan") - hand).abs() < 1e-6 * hand);
    }

    #[test]
    fn size_estimates_are_near_the_built_models() {
        let device = Device::flex();
        for model in ["gan", "dcgan", "acgan"] {
            let cfg = GanModelConfig::preset(model, DatasetKind::Mnist).expect("preset");
            let a = &cfg.network;
            let actual = (a.init_generator(&device).num_params()
                + a.init_discriminator(&device).num_params()) as u64;
            let estimate = cfg.size().params;
            assert!(
                estimate * 2 >= actual && estimate <= actual * 2,
                "{model}: estimate {estimate}, model {actual}"
            );
        }
    }
}
