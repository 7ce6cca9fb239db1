//! Training the pixel models with `genzoo-train` (feature `train`): one task, [`PixelTask`], for
//! PixelCNN, Gated PixelCNN (unconditional or class-conditional) and both PixelRNNs.
//!
//! Every one of them is trained by its exact NLL and Adam; evaluated by the exact test NLL in
//! nats and bits per dimension (on the test-time view of [`genzoo_train::protocol`]); samples and
//! completes images with its cached sampler (the naive one, which draws the same images, after
//! `set_fast_sampling(false)`); and draws test images completed from their top half as its figure.

use burn::module::Module;
use burn::tensor::{Device, Int, Tensor, TensorData};
use genzoo_datasets::rng::{Rng, derive_seed};
use genzoo_datasets::{Binarization, DatasetKind, ImageSet};
use genzoo_layers::adam::AdamConfig;
use genzoo_metrics::likelihood::bits_per_dim;
use genzoo_train::capability::{check_class, completion_figure};
use genzoo_train::memory::{Size, conv_macs, prod, sum, train_flop};
use genzoo_train::protocol::{eval_chunks, test_batch, test_indices};
use genzoo_train::state::Optimized;
use genzoo_train::weights::{PROBE_BATCH, probe_images};
use genzoo_train::{
    Complete, Error, Figure, Generate, GenerateClass, Grid, Result, StepBatches, StepOutput, Task,
};

use crate::common::Shared;
use crate::sampling::{Autoregressive, CachedSampler, SampleOptions, Start, draw_naive};
use crate::{
    GatedPixelCnn, GatedPixelCnnConfig, PixelCnn, PixelCnnConfig, PixelRnn, PixelRnnConfig, RnnKind,
};

/// Seed of the progress grids and figures (fixed, so grids of successive steps compare).
const GRID_SEED: u64 = 0x5EED;
const GRID_COLS: usize = 8;
/// Samples in the progress grid of an unconditional model.
pub const GRID_SAMPLES: usize = 16;
/// Samples per class (one row per class) in the progress grid of a conditional model.
const PER_CLASS: usize = 4;
/// Test images completed in the end-of-training figure, and completions drawn per image.
const COMPLETE_IMAGES: usize = 8;
const COMPLETIONS: usize = 2;
/// Evaluation batch.
const EVAL_BATCH: usize = 250;
/// Samples drawn per batch by `generate`.
const GENERATE_BATCH: usize = 64;

/// What the task needs of a pixel model besides its network: the likelihood given labels
/// (ignored by unconditional models) and the model its samplers draw from.
pub trait PixelModel: Module + Autoregressive {
    /// Classes it is conditioned on (0: unconditional).
    fn classes(&self) -> usize {
        0
    }
    /// Exact `log p(x | labels)` per image in nats.
    ///
    /// # Shapes
    /// `x: [B, C, H, W]`, `labels: [B]` → `[B]`
    fn log_prob_given(&self, x: Tensor<4>, labels: Tensor<1, Int>) -> Tensor<1>;
    /// Logits of every conditional given `labels` (ignored by unconditional models).
    ///
    /// # Shapes
    /// `x: [B, C, H, W]`, `labels: [B]` → `[B, C, outs, H, W]`
    fn logits_given(&self, x: Tensor<4>, labels: Tensor<1, Int>) -> Tensor<5>;
    /// The model to draw one image per label from: itself if unconditional (labels not used).
    fn given(&self, labels: &[usize], device: &Device) -> crate::Result<impl CachedSampler + '_>;
}

/// [`PixelModel`] for an unconditional model: labels are not used.
macro_rules! unconditional_pixel_model {
    ($model:ty) => {
        impl PixelModel for $model {
            fn log_prob_given(&self, x: Tensor<4>, _labels: Tensor<1, Int>) -> Tensor<1> {
                self.log_prob(x)
            }

            fn logits_given(&self, x: Tensor<4>, _labels: Tensor<1, Int>) -> Tensor<5> {
                self.logits(x)
            }

            fn given(
                &self,
                _labels: &[usize],
                _device: &Device,
            ) -> crate::Result<impl CachedSampler + '_> {
                Ok(self)
            }
        }
    };
}

unconditional_pixel_model!(PixelCnn);
unconditional_pixel_model!(PixelRnn);

impl PixelModel for GatedPixelCnn {
    fn classes(&self) -> usize {
        GatedPixelCnn::classes(self)
    }

    fn log_prob_given(&self, x: Tensor<4>, labels: Tensor<1, Int>) -> Tensor<1> {
        self.log_prob(x, Some(labels))
    }

    fn logits_given(&self, x: Tensor<4>, labels: Tensor<1, Int>) -> Tensor<5> {
        let labels = (self.classes() > 0).then_some(labels);
        self.forward(x, labels)
    }

    fn given(&self, labels: &[usize], device: &Device) -> crate::Result<impl CachedSampler + '_> {
        self.conditioned(labels, device)
    }
}

/// One image per label from `start`, with the cached sampler (`fast`) or the naive one: both draw
/// the same images.
fn draw<M: PixelModel>(
    model: &M,
    labels: &[usize],
    start: Start,
    opts: &SampleOptions,
    fast: bool,
    device: &Device,
) -> crate::Result<Tensor<4>> {
    let model = model.given(labels, device)?;
    if fast {
        model.sample(start, opts, device)
    } else {
        draw_naive(&model, start, opts, device)
    }
}

fn sampling_error(e: crate::Error) -> Error {
    Error::Model(format!("sampling: {e}"))
}

/// A pixel model, its Adam optimizer and learning rate, and what its evaluation reads.
pub struct PixelTask<M> {
    name: &'static str,
    net: Optimized<M>,
    device: Device,
    /// Test images of each evaluation (0: all).
    eval_images: usize,
    /// Samples in the progress grid of an unconditional model (0: no grid).
    grid_samples: usize,
    /// Cached sampler (the default) or naive sampler; both draw the same images.
    fast: bool,
}

impl PixelTask<PixelCnn> {
    /// `pixelcnn`: a fresh PixelCNN on `device` (an autodiff device). The config must pass
    /// [`PixelCnnConfig::check`].
    pub fn pixelcnn(config: &PixelCnnConfig, lr: f64, device: &Device) -> Self {
        Self::new("pixelcnn", config.init(device), lr, device)
    }
}

impl PixelTask<GatedPixelCnn> {
    /// `gated-pixelcnn`, or `cond-pixelcnn` when the config has classes: a fresh Gated
    /// PixelCNN. The config must pass [`GatedPixelCnnConfig::check`].
    pub fn gated(config: &GatedPixelCnnConfig, lr: f64, device: &Device) -> Self {
        let name = if config.classes > 0 {
            "cond-pixelcnn"
        } else {
            "gated-pixelcnn"
        };
        Self::new(name, config.init(device), lr, device)
    }
}

impl PixelTask<PixelRnn> {
    /// `row-lstm` or `diagonal-bilstm` by the config's kind: a fresh PixelRNN. The config must
    /// pass [`PixelRnnConfig::check`].
    pub fn pixelrnn(config: &PixelRnnConfig, lr: f64, device: &Device) -> Self {
        let name = match config.kind {
            RnnKind::RowLstm => "row-lstm",
            RnnKind::DiagonalBiLstm => "diagonal-bilstm",
        };
        Self::new(name, config.init(device), lr, device)
    }
}

impl<M: PixelModel> PixelTask<M> {
    /// `model` (on the autodiff `device`) trained by Adam at `lr`, under the registry `name`.
    pub fn new(name: &'static str, model: M, lr: f64, device: &Device) -> Self {
        Self {
            name,
            net: Optimized::new(model, AdamConfig::new().init(), lr),
            device: device.clone(),
            eval_images: 0,
            grid_samples: GRID_SAMPLES,
            fast: true,
        }
    }

    /// Evaluates on the first `n` test images only (0: all), for models slow to evaluate.
    pub fn with_eval_images(mut self, n: usize) -> Self {
        self.eval_images = n;
        self
    }

    /// Draws `n` samples in each progress grid of an unconditional model (0: no grid).
    pub fn with_grid_samples(mut self, n: usize) -> Self {
        self.grid_samples = n;
        self
    }

    /// The model being trained.
    pub fn model(&self) -> &M {
        self.net.model()
    }

    /// A non-autodiff copy of the model and the plain device, to evaluate and sample.
    fn inference(&self) -> (M, Device) {
        (self.net.model().valid(), self.device.clone().inner())
    }

    fn dims(&self) -> usize {
        self.net.model().image_shape().iter().product()
    }

    fn classes(&self) -> usize {
        self.net.model().classes()
    }

    /// Labels of `n` samples: the classes in turn (all 0 for an unconditional model).
    fn labels_for(&self, n: usize) -> Vec<usize> {
        (0..n).map(|i| i % self.classes().max(1)).collect()
    }

    /// One sample per label, `GENERATE_BATCH` at a time, batch `k` drawn from `(seed, k)`.
    fn sample_batched(&self, labels: &[usize], seed: u64) -> Result<Tensor<4>> {
        let (model, device) = self.inference();
        let chunks: Vec<Tensor<4>> = labels
            .chunks(GENERATE_BATCH)
            .enumerate()
            .map(|(k, l)| {
                let opts = SampleOptions::new(derive_seed(seed, &[k as u64]));
                draw(&model, l, Start::Fresh(l.len()), &opts, self.fast, &device)
                    .map_err(sampling_error)
            })
            .collect::<Result<_>>()?;
        if chunks.is_empty() {
            return Err(Error::Model("no samples asked for".into()));
        }
        Ok(Tensor::cat(chunks, 0))
    }
}

/// Test NLL per image in nats, the mean over the first `limit` test images (all for 0), on a
/// non-autodiff copy of `model`.
pub fn test_nll<M: PixelModel>(model: &M, test: &ImageSet, limit: usize, device: &Device) -> f64 {
    let model = model.valid();
    let device = device.clone().inner();
    let binarization = binarization_of(&model);
    let indices = test_indices(test, limit);
    let mut sum = 0.0;
    for chunk in eval_chunks(&indices, EVAL_BATCH, "exact NLL") {
        let batch = test_batch(test, chunk, binarization, &device);
        let log_p = model.log_prob_given(batch.images, batch.labels).sum();
        sum -= f64::from(log_p.into_scalar::<f32>());
    }
    sum / indices.len().max(1) as f64
}

/// How a model's data is binarized: afresh at each use for a binary model (`levels = 2`), not at
/// all otherwise.
fn binarization_of(model: &impl Autoregressive) -> Binarization {
    if model.levels() == 2 {
        Binarization::Dynamic
    } else {
        Binarization::None
    }
}

/// Bench records of both samplers for `samples` images: `sample_cached_s` (a full cached run) and
/// `sample_naive_s`. The naive sampler costs one full forward pass per sub-pixel whichever pixel
/// it draws, so it is timed on the last row only (a completion of the cached samples' other rows)
/// and scaled by the number of rows (`sample_naive_timed_rows` = 1).
fn sampler_times<M: PixelModel>(
    model: &M,
    labels: &[usize],
    device: &Device,
) -> Result<Vec<(String, f64)>> {
    if labels.is_empty() {
        return Ok(Vec::new());
    }
    let opts = SampleOptions::new(0);
    let t0 = std::time::Instant::now();
    let start = Start::Fresh(labels.len());
    let images = draw(model, labels, start, &opts, true, device).map_err(sampling_error)?;
    let cached_s = t0.elapsed().as_secs_f64();
    let [_, _, h, w] = images.dims();
    let t0 = std::time::Instant::now();
    let start = Start::Completion(images, (h - 1) * w);
    draw(model, labels, start, &opts, false, device).map_err(sampling_error)?;
    let naive_s = t0.elapsed().as_secs_f64() * h as f64;
    Ok(vec![
        ("sample_cached_s".into(), cached_s),
        ("sample_naive_s".into(), naive_s),
        ("sample_naive_timed_rows".into(), 1.0),
        ("sampler_speedup".into(), naive_s / cached_s.max(1e-9)),
    ])
}

impl<M: PixelModel> Task for PixelTask<M> {
    genzoo_train::delegate_to_optimized!(net);

    fn name(&self) -> &str {
        self.name
    }

    fn binarization(&self) -> Binarization {
        binarization_of(self.net.model())
    }

    fn step(&mut self, batches: StepBatches, _rng: &mut Rng) -> StepOutput {
        let batch = batches.single();
        let images = batch.images.dims()[0];
        let loss = self
            .net
            .model()
            .log_prob_given(batch.images, batch.labels)
            .mean()
            .neg();
        let value = self.net.step(loss);
        // Bits per dimension as `metrics::bits_per_dim` computes them, when the loss is read.
        let bits = value
            .clone()
            .divided_by(self.dims() as f64 * std::f64::consts::LN_2);
        StepOutput {
            loss: value,
            parts: vec![("bits_per_dim", bits)],
            images,
        }
    }

    fn evaluate(&mut self, test: &ImageSet) -> Vec<(String, f64)> {
        let nll = test_nll(self.net.model(), test, self.eval_images, &self.device);
        vec![
            ("test_nll_nats".into(), nll),
            ("test_bits_per_dim".into(), bits_per_dim(nll, self.dims())),
        ]
    }

    fn selection_metric(&self) -> &str {
        "test_nll_nats"
    }

    fn sample_grid(&mut self, _test: &ImageSet) -> Option<Grid> {
        let classes = self.classes();
        let (labels, cols): (Vec<usize>, usize) = if classes > 0 {
            // One row per class.
            let labels = (0..classes)
                .flat_map(|c| std::iter::repeat_n(c, PER_CLASS))
                .collect();
            (labels, PER_CLASS)
        } else if self.grid_samples > 0 {
            (vec![0; self.grid_samples], GRID_COLS.min(self.grid_samples))
        } else {
            return None;
        };
        let (model, device) = self.inference();
        let opts = SampleOptions::new(GRID_SEED);
        let start = Start::Fresh(labels.len());
        match draw(&model, &labels, start, &opts, self.fast, &device) {
            Ok(images) => Grid::from_tensor(images, cols).ok(),
            Err(e) => {
                tracing::warn!("progress grid: {e}");
                None
            }
        }
    }

    fn figures(&mut self, test: &ImageSet) -> Vec<(String, Figure)> {
        let n = COMPLETE_IMAGES.min(test.len());
        if n == 0 {
            return Vec::new();
        }
        let device = self.device.clone().inner();
        let seeds: Vec<u64> = (0..COMPLETIONS as u64)
            .map(|k| derive_seed(GRID_SEED, &[k, 0xC0]))
            .collect();
        let binarization = binarization_of(self.net.model());
        let figure = completion_figure(self, test, binarization, n, &seeds, &device)
            .and_then(|images| Grid::from_tensor(images, n));
        match figure {
            Ok(grid) => vec![("completions".into(), Figure::Grid(grid))],
            Err(e) => {
                tracing::warn!("completion figure: {e}");
                Vec::new()
            }
        }
    }

    fn bench_extras(&mut self, _test: &ImageSet, samples: usize) -> Vec<(String, f64)> {
        let (model, device) = self.inference();
        sampler_times(&model, &self.labels_for(samples), &device).unwrap_or_else(|e| {
            tracing::warn!("sampler timing: {e}");
            Vec::new()
        })
    }

    fn generator(&mut self) -> Option<&mut dyn Generate> {
        Some(self)
    }

    fn conditional(&mut self) -> Option<&mut dyn GenerateClass> {
        if self.classes() > 0 { Some(self) } else { None }
    }

    fn completer(&mut self) -> Option<&mut dyn Complete> {
        Some(self)
    }

    /// `input` images (0/1 pixels for a binary model, multiples of 1/(levels − 1) otherwise),
    /// `labels` (`0, 1, …` modulo the classes; zeros for an unconditional model), the `logits` of
    /// every conditional and the exact `log_prob` per image in nats.
    fn probe(&mut self) -> Result<Vec<(String, TensorData)>> {
        let device = self.device.clone().inner();
        let model = self.net.model().valid();
        let levels = model.levels();
        let mut x = probe_images(model.image_shape(), levels == 2, &device);
        if levels > 2 {
            let top = (levels - 1) as f64;
            x = x.mul_scalar(top).floor().div_scalar(top);
        }
        let classes = model.classes().max(1);
        let labels: Vec<i64> = (0..PROBE_BATCH).map(|i| (i % classes) as i64).collect();
        let labels = Tensor::<1, Int>::from_data(TensorData::new(labels, [PROBE_BATCH]), &device);
        let logits = model.logits_given(x.clone(), labels.clone());
        let log_prob = model.log_prob_given(x.clone(), labels.clone());
        Ok(vec![
            ("input".into(), x.into_data()),
            ("labels".into(), labels.float().into_data()),
            ("logits".into(), logits.into_data()),
            ("log_prob".into(), log_prob.into_data()),
        ])
    }
}

impl<M: PixelModel> Generate for PixelTask<M> {
    fn generate(&mut self, n: usize, seed: u64) -> Result<Tensor<4>> {
        self.sample_batched(&self.labels_for(n), seed)
    }

    fn set_fast_sampling(&mut self, fast: bool) -> bool {
        self.fast = fast;
        true
    }
}

impl<M: PixelModel> GenerateClass for PixelTask<M> {
    fn num_classes(&self) -> usize {
        self.classes()
    }

    fn generate_class(&mut self, n: usize, seed: u64, label: usize) -> Result<Tensor<4>> {
        check_class(label, self.classes())?;
        self.sample_batched(&vec![label; n], seed)
    }
}

impl<M: PixelModel> Complete for PixelTask<M> {
    fn complete(
        &mut self,
        images: Tensor<4>,
        labels: &[usize],
        known: usize,
        seed: u64,
    ) -> Result<Tensor<4>> {
        let (model, device) = self.inference();
        let start = Start::Completion(images.to_device(&device), known);
        // Labels beyond the model's classes are clamped: an unconditional model takes any labels
        // (it does not use them).
        let labels: Vec<usize> = labels
            .iter()
            .map(|&l| l.min(self.classes().max(1) - 1))
            .collect();
        let opts = SampleOptions::new(seed);
        draw(&model, &labels, start, &opts, self.fast, &device).map_err(sampling_error)
    }
}

/// The `[model_config]` of a PixelRNN run: the network's configuration and what its evaluation
/// and progress grids draw.
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

    /// The task of this configuration (its config must pass [`PixelRnnConfig::check`]).
    pub fn task(&self, lr: f64, device: &Device) -> PixelTask<PixelRnn> {
        PixelTask::pixelrnn(&self.model, lr, device)
            .with_eval_images(self.eval_images)
            .with_grid_samples(self.grid_samples)
    }
}

/// Parameters and activations per image of the pixel model of `c`: a `C → first_width` first
/// convolution, `count` layers of `layer` parameters each with `stack` activations per pixel in
/// all, and the two-layer 1×1 head `hidden → head_hidden → C·levels` every pixel model ends in.
fn model_size(c: Shared, first_width: usize, [layer, count]: [u64; 2], stack: u64) -> Size {
    let (channels, levels, fk) = (c.channels, c.levels, c.first_kernel);
    let head_params = sum(&[
        prod(&[c.hidden, c.head_hidden]),
        prod(&[c.head_hidden, channels, levels]),
    ]);
    let head_activations = sum(&[c.head_hidden as u64, prod(&[channels, levels])]);
    Size {
        params: sum(&[
            prod(&[channels, first_width, fk, fk]),
            layer.saturating_mul(count),
            head_params,
        ]),
        activations: prod(&[c.image_size, c.image_size])
            .saturating_mul(sum(&[stack, head_activations])),
    }
}

/// Refuses a model of `[channels, size, size]` images for a dataset of another shape.
fn check_shape(model: [usize; 3], kind: DatasetKind) -> crate::Result<()> {
    let [c, h, w] = kind.shape();
    if model != [c, h, w] {
        return Err(crate::Error::InvalidConfig(format!(
            "the model is for {}×{}×{} images but dataset '{kind}' has {c}×{h}×{w}",
            model[0], model[1], model[2]
        )));
    }
    Ok(())
}

impl PixelCnnConfig {
    /// The reference configuration for a dataset.
    pub fn for_dataset(kind: DatasetKind) -> Self {
        match kind {
            DatasetKind::Cifar10 => Self::cifar10(),
            _ => Self::mnist(),
        }
    }

    /// [`PixelCnnConfig::check`], and images of the dataset's shape.
    pub fn check_dataset(&self, kind: DatasetKind) -> crate::Result<()> {
        self.check()?;
        check_shape([self.channels, self.image_size, self.image_size], kind)
    }

    /// Analytic training FLOP per image ([`train_flop`]): every masked kernel counted whole.
    pub fn train_flop_per_image(&self) -> f64 {
        let pixels = self.image_size * self.image_size;
        let (h, half, c) = (self.hidden, self.hidden / 2, self.channels);
        let outs = crate::pixelcnn::outputs_per_subpixel(self.levels);
        let block = conv_macs(pixels, 1, h, half)
            + conv_macs(pixels, self.block_kernel, half, half)
            + conv_macs(pixels, 1, half, h);
        train_flop(
            conv_macs(pixels, self.first_kernel, c, h)
                + self.residual_blocks as f64 * block
                + conv_macs(pixels, 1, h, self.head_hidden)
                + conv_macs(pixels, 1, self.head_hidden, c * outs),
        )
    }

    /// Parameters and activations per image: a 7×7-style first layer, residual blocks of
    /// 1×1 → k×k → 1×1 at half width, a two-layer 1×1 head.
    pub fn size(&self) -> Size {
        let c = self;
        let (h, half) = (c.hidden, c.hidden / 2);
        let bk = c.block_kernel;
        let block = sum(&[
            prod(&[h, half]),
            prod(&[half, half, bk, bk]),
            prod(&[half, h]),
        ]);
        model_size(
            c.shared(),
            h,
            [block, c.residual_blocks as u64],
            prod(&[h, 2 * c.residual_blocks + 2]),
        )
    }
}

impl GatedPixelCnnConfig {
    /// The reference configuration for a dataset, class-conditional or not.
    pub fn for_dataset(kind: DatasetKind, conditional: bool) -> Self {
        match (kind, conditional) {
            (DatasetKind::Cifar10, false) => Self::cifar10(),
            (DatasetKind::Cifar10, true) => Self::cifar10().with_classes(10),
            (_, false) => Self::mnist(),
            (_, true) => Self::mnist_conditional(),
        }
    }

    /// [`GatedPixelCnnConfig::check`], images of the dataset's shape, and at most its classes
    /// (at least one for a `conditional` model).
    pub fn check_dataset(&self, kind: DatasetKind, conditional: bool) -> crate::Result<()> {
        self.check()?;
        check_shape([self.channels, self.image_size, self.image_size], kind)?;
        if self.classes > kind.classes() || (conditional && self.classes == 0) {
            return Err(crate::Error::InvalidConfig(format!(
                "classes must be between 1 and the {} classes of '{kind}', got {}",
                kind.classes(),
                self.classes
            )));
        }
        Ok(())
    }

    /// Analytic training FLOP per image ([`train_flop`]): per layer the vertical convolution over
    /// `[k/2 + 1, k]` and the horizontal one over `[1, k/2 + 1]`, both to the two gates (`2h`), the
    /// 1×1 links `2h → 2h` and the horizontal output `h → h`; the first layer reads the image with
    /// `first_kernel`; the head `h → head_hidden → C·outs`.
    pub fn train_flop_per_image(&self) -> f64 {
        let pixels = (self.image_size * self.image_size) as f64;
        let (h, c) = (self.hidden as f64, self.channels as f64);
        let outs = crate::pixelcnn::outputs_per_subpixel(self.levels) as f64;
        let layer = |c_in: f64, k: usize| {
            let (rows, k) = ((k / 2 + 1) as f64, k as f64);
            pixels * (rows * k * c_in * 2.0 * h + rows * c_in * 2.0 * h + 4.0 * h * h + h * h)
        };
        let head = pixels * (h * self.head_hidden as f64 + self.head_hidden as f64 * c * outs);
        let rest = self.layers.saturating_sub(1) as f64 * layer(h, self.kernel);
        train_flop(layer(c, self.first_kernel) + rest + head)
    }

    /// Parameters and activations per image: per layer a vertical k×k and a horizontal 1×k
    /// gated convolution (2h outputs each), the vertical-to-horizontal and output 1×1 links, and
    /// per-class biases.
    pub fn size(&self) -> Size {
        let c = self;
        let h = c.hidden;
        let k = c.kernel;
        let layer = sum(&[
            prod(&[2 * h, h, k, k]),
            prod(&[2 * h, h, k]),
            prod(&[3 * h, h]),
            prod(&[c.classes, 4 * h]),
        ]);
        model_size(
            c.shared(),
            4 * h,
            [layer, c.layers as u64],
            prod(&[6 * h, c.layers + 1]),
        )
    }
}

impl PixelRnnConfig {
    /// The reference configuration of a kind for a dataset.
    pub fn for_dataset(kind: DatasetKind, rnn: RnnKind) -> Self {
        match (kind, rnn) {
            (DatasetKind::Cifar10, RnnKind::RowLstm) => Self::cifar10_row_lstm(),
            (DatasetKind::Cifar10, RnnKind::DiagonalBiLstm) => Self::cifar10(),
            (_, RnnKind::RowLstm) => Self::mnist_row_lstm(),
            (_, RnnKind::DiagonalBiLstm) => Self::mnist(),
        }
    }

    /// [`PixelRnnConfig::check`], the kind `want`, and images of the dataset's shape.
    pub fn check_dataset(&self, kind: DatasetKind, want: RnnKind) -> crate::Result<()> {
        self.check()?;
        if self.kind != want {
            let name = match want {
                RnnKind::RowLstm => "row-lstm",
                RnnKind::DiagonalBiLstm => "diagonal-bilstm",
            };
            return Err(crate::Error::InvalidConfig(format!(
                "kind is {:?} but model '{name}' is {want:?}",
                self.kind
            )));
        }
        check_shape([self.channels, self.image_size, self.image_size], kind)
    }

    /// Parameters and activations per image: per layer the input-to-state and state-to-state
    /// convolutions of the four LSTM gates (both directions for the Diagonal BiLSTM), a
    /// two-layer head.
    pub fn size(&self) -> Size {
        let c = self;
        let h = c.hidden;
        let directions = match c.kind {
            RnnKind::DiagonalBiLstm => 2,
            RnnKind::RowLstm => 1,
        };
        let layer = prod(&[directions, 2, 4 * h, h, c.row_kernel.max(2)]);
        model_size(
            c.shared(),
            2 * h,
            [layer, c.layers as u64],
            prod(&[directions, 6 * h, c.layers]),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::Module;

    /// Within a factor of 2 of the built model's parameter count: the estimate is for refusing
    /// what cannot fit, and must not refuse what does.
    fn close(estimate: u64, actual: usize, what: &str) {
        let actual = actual as u64;
        assert!(
            estimate * 2 >= actual && estimate <= actual * 2,
            "{what}: estimate {estimate}, model {actual}"
        );
    }

    #[test]
    fn size_estimates_are_near_the_built_models() {
        let device = Device::flex();
        let c = PixelCnnConfig::mnist();
        close(c.size().params, c.init(&device).num_params(), "pixelcnn");
        for c in [
            GatedPixelCnnConfig::mnist(),
            GatedPixelCnnConfig::mnist_conditional(),
        ] {
            close(c.size().params, c.init(&device).num_params(), "gated");
        }
        for c in [PixelRnnConfig::mnist_row_lstm(), PixelRnnConfig::mnist()] {
            close(c.size().params, c.init(&device).num_params(), "pixelrnn");
        }
        let absurd = PixelCnnConfig::mnist().with_hidden(usize::MAX / 2).size();
        assert_eq!(absurd.params, u64::MAX);
        assert!(absurd.check("the PixelCNN", 32).is_err());
        assert!(
            PixelCnnConfig::mnist()
                .size()
                .check("the PixelCNN", 32)
                .is_ok()
        );
    }

    /// The hand counts of `docs/performance.md`: PixelCNN ≈ 119.07 GFLOP a step of 64 images;
    /// the class-conditional Gated PixelCNN, 10 layers of 64 channels (7×7, then 3×3).
    #[test]
    fn flop_counts_match_the_hand_counts() {
        let per_step = |f: f64, batch: f64| f * batch / 1e9;
        let pixelcnn = per_step(PixelCnnConfig::mnist().train_flop_per_image(), 64.0);
        assert!((pixelcnn - 119.07).abs() < 0.05, "{pixelcnn}");
        let p = 64.0;
        let layer = |c_in: f64, k: f64| {
            784.0 * ((k / 2.0f64).floor() + 1.0) * k * c_in * 2.0 * p
                + 784.0 * ((k / 2.0f64).floor() + 1.0) * c_in * 2.0 * p
                + 784.0 * 4.0 * p * p
                + 784.0 * p * p
        };
        let hand = 6.0 * (layer(1.0, 7.0) + 9.0 * layer(p, 3.0) + 784.0 * (p * 128.0 + 128.0));
        let gated = GatedPixelCnnConfig::mnist_conditional().train_flop_per_image();
        assert!((gated - hand).abs() < 1e-6 * hand, "{gated} vs {hand}");
    }

    #[test]
    fn dataset_checks_name_the_mismatch() {
        assert!(
            PixelCnnConfig::mnist()
                .check_dataset(DatasetKind::Mnist)
                .is_ok()
        );
        let err = PixelCnnConfig::mnist()
            .check_dataset(DatasetKind::Cifar10)
            .expect_err("grey model, colour data")
            .to_string();
        assert!(err.contains("1×28×28") && err.contains("3×32×32"), "{err}");
        let err = GatedPixelCnnConfig::mnist()
            .check_dataset(DatasetKind::Mnist, true)
            .expect_err("a conditional model needs classes")
            .to_string();
        assert!(
            err.contains("classes must be between 1 and the 10"),
            "{err}"
        );
        assert!(
            GatedPixelCnnConfig::for_dataset(DatasetKind::Mnist, true)
                .check_dataset(DatasetKind::BinarizedMnist, true)
                .is_err(),
            "binarized MNIST has no labels"
        );
        let err = PixelRnnConfig::mnist()
            .check_dataset(DatasetKind::Mnist, RnnKind::RowLstm)
            .expect_err("a diagonal BiLSTM is not a row LSTM")
            .to_string();
        assert!(err.contains("model 'row-lstm'"), "{err}");
    }
}
