//! DCGAN — Radford, Metz & Chintala 2016, "Unsupervised Representation Learning with Deep
//! Convolutional Generative Adversarial Networks", arXiv:1511.06434.
//!
//! The generator projects `z` to a `side × side` feature map (`side = image_size / 4`) and doubles
//! it twice with 4×4 stride-2 transposed convolutions; the discriminator mirrors it with 4×4
//! stride-2 convolutions and LeakyReLU 0.2. Weights start from N(0, 0.02). BatchNorm runs in
//! train mode on an autodiff device and in eval mode (running statistics) elsewhere, so sample
//! on a non-autodiff device (`model.valid()`).

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Initializer, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::module::conv_transpose2d;
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
use burn::tensor::{Device, Tensor};
use genzoo_layers::fused::{leaky_relu, tanh};
use genzoo_layers::norm::batch_norm;
use genzoo_layers::{RoutedForward, conv2d, linear};

use crate::nets::{invalid, leaky_slope, positive_sizes, with_labels};
use crate::spectral::SpectralNorm;

/// Configuration of the DCGAN [`DcganGenerator`] and [`DcganDiscriminator`].
#[derive(Config, Debug, PartialEq)]
pub struct DcganConfig {
    /// Image channels (1 for MNIST, 3 for CIFAR-10).
    #[config(default = 1)]
    pub channels: usize,
    /// Image height and width (a positive multiple of 4).
    #[config(default = 28)]
    pub image_size: usize,
    /// Size of the noise vector `z`.
    #[config(default = 100)]
    pub latent: usize,
    /// Generator channels at `side` and at `2·side` (before the output convolution).
    #[config(default = "[128, 64]")]
    pub g_hidden: [usize; 2],
    /// Discriminator channels after its first and second convolution.
    #[config(default = "[64, 128]")]
    pub d_hidden: [usize; 2],
    /// BatchNorm after the discriminator's second convolution. Off for WGAN-GP: the penalty is
    /// per sample, and batch statistics would couple samples (Gulrajani et al. 2017, §4).
    #[config(default = true)]
    pub d_batch_norm: bool,
    /// Number of classes to condition on (0: unconditional). The one-hot label is concatenated
    /// to `z` in G; D is a projection discriminator (Miyato & Koyama 2018, arXiv:1802.05637):
    /// `D(x, y) = fc(φ(x)) + ⟨V y, φ(x)⟩`, `φ(x)` its flattened features and `V` a learned class
    /// embedding, so the label acts on what D sees of the image. (A label concatenated to `φ(x)`
    /// before the linear output would only add a per-class constant to the logit, which says
    /// nothing about whether image and label match: G learns to ignore it.)
    #[config(default = 0)]
    pub classes: usize,
    /// AC-GAN (Odena et al. 2017, arXiv:1610.09585): the discriminator does not see the label;
    /// instead a second linear head on its features predicts the class (`classes` logits). The
    /// generator is conditioned as in the cGAN. Needs `classes > 0`. `None` (what configs
    /// written before this option hold) means off.
    #[config(default = "None")]
    pub auxiliary: Option<bool>,
    /// Spectral normalization (Miyato et al. 2018) of the discriminator's two convolutions and
    /// its output layer (not of the AC-GAN class head). `None` means off.
    #[config(default = "None")]
    pub spectral_norm: Option<bool>,
    /// Negative slope of the discriminator's LeakyReLUs.
    #[config(default = 0.2)]
    pub leak: f64,
    /// Standard deviation of the N(0, σ²) initialisation of conv and linear layers.
    #[config(default = 0.02)]
    pub init_std: f64,
}

impl DcganConfig {
    /// The reference MNIST preset. G: z ∈ R¹⁰⁰ → Linear → 128×7×7, BN, ReLU →
    /// ConvT(128→64, 4, s2, p1), BN, ReLU → ConvT(64→1, 4, s2, p1), tanh. D: Conv(1→64, 4, s2, p1),
    /// LeakyReLU 0.2 → Conv(64→128, 4, s2, p1), BN, LeakyReLU 0.2 → Linear(128·7·7 → 1).
    pub fn mnist() -> Self {
        Self::new()
    }

    /// A CIFAR-10 preset: 32×32×3, twice the channels (G: 256×8×8 → 128×16×16 → 3×32×32).
    pub fn cifar10() -> Self {
        Self::new()
            .with_channels(3)
            .with_image_size(32)
            .with_g_hidden([256, 128])
            .with_d_hidden([128, 256])
    }

    /// Whether D has AC-GAN's class head.
    pub fn is_auxiliary(&self) -> bool {
        self.auxiliary == Some(true)
    }

    /// Whether D's layers are spectrally normalised.
    pub fn has_spectral_norm(&self) -> bool {
        self.spectral_norm == Some(true)
    }

    /// Checks the sizes the architecture needs.
    pub fn validate(&self) -> crate::Result<()> {
        if self.is_auxiliary() && self.classes == 0 {
            return Err(invalid(
                "an auxiliary classifier (AC-GAN) needs classes > 0",
            ));
        }
        if self.image_size == 0 || !self.image_size.is_multiple_of(4) {
            return Err(invalid(format!(
                "DCGAN image_size must be a positive multiple of 4, got {}",
                self.image_size
            )));
        }
        positive_sizes(
            "DCGAN",
            &[
                ("channels", &[self.channels]),
                ("latent", &[self.latent]),
                ("g_hidden", &self.g_hidden),
                ("d_hidden", &self.d_hidden),
            ],
        )
    }

    fn init(&self) -> Initializer {
        Initializer::Normal {
            mean: 0.0,
            std: self.init_std,
        }
    }

    /// The side of the smallest feature map (`image_size / 4`), which both networks are built
    /// around.
    ///
    /// # Panics
    /// If [`DcganConfig::validate`] fails.
    fn checked_side(&self) -> usize {
        if let Err(e) = self.validate() {
            panic!("{e}");
        }
        self.image_size / 4
    }

    /// A fresh generator.
    ///
    /// # Panics
    /// If [`DcganConfig::validate`] fails.
    pub fn init_generator(&self, device: &Device) -> DcganGenerator {
        let s = self.checked_side();
        let [g0, g1] = self.g_hidden;
        let deconv = |i, o| {
            ConvTranspose2dConfig::new([i, o], [4, 4])
                .with_stride([2, 2])
                .with_padding([1, 1])
                .with_initializer(self.init())
                .init(device)
        };
        DcganGenerator {
            fc: LinearConfig::new(self.latent + self.classes, g0 * s * s)
                .with_initializer(self.init())
                .init(device),
            bn0: BatchNormConfig::new(g0).init(device),
            deconv1: deconv(g0, g1),
            bn1: BatchNormConfig::new(g1).init(device),
            deconv2: deconv(g1, self.channels),
            hidden: g0,
            side: s,
        }
    }

    /// A fresh discriminator (no sigmoid: it outputs a logit or a critic score).
    ///
    /// # Panics
    /// If [`DcganConfig::validate`] fails.
    pub fn init_discriminator(&self, device: &Device) -> DcganDiscriminator {
        let s = self.checked_side();
        let [d0, d1] = self.d_hidden;
        let conv = |i, o| {
            Conv2dConfig::new([i, o], [4, 4])
                .with_stride([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .with_initializer(self.init())
                .init(device)
        };
        DcganDiscriminator {
            conv1: conv(self.channels, d0),
            conv2: conv(d0, d1),
            bn: self
                .d_batch_norm
                .then(|| BatchNormConfig::new(d1).init(device)),
            fc: LinearConfig::new(d1 * s * s, 1)
                .with_initializer(self.init())
                .init(device),
            sn: self.has_spectral_norm().then(|| {
                [
                    SpectralNorm::new(d0, device),
                    SpectralNorm::new(d1, device),
                    SpectralNorm::new(d1 * s * s, device),
                ]
            }),
            embed: (self.classes > 0 && !self.is_auxiliary()).then(|| {
                LinearConfig::new(self.classes, d1 * s * s)
                    .with_bias(false)
                    .with_initializer(self.init())
                    .init(device)
            }),
            aux: self.is_auxiliary().then(|| {
                LinearConfig::new(d1 * s * s, self.classes)
                    .with_initializer(self.init())
                    .init(device)
            }),
            leak: self.leak,
        }
    }
}

/// The DCGAN generator, tanh output in [−1, 1].
#[derive(Module, Debug)]
pub struct DcganGenerator {
    fc: Linear,
    bn0: BatchNorm,
    deconv1: ConvTranspose2d,
    bn1: BatchNorm,
    deconv2: ConvTranspose2d,
    hidden: usize,
    side: usize,
}

impl DcganGenerator {
    /// Maps noise (and one-hot labels for a conditional model) to images.
    ///
    /// # Shapes
    /// `z: [B, latent]`, `labels: [B, classes]` → `[B, C, 4·side, 4·side]` in [−1, 1]
    pub fn forward(&self, z: Tensor<2>, labels: Option<Tensor<2>>) -> Tensor<4> {
        let [b, _] = z.dims();
        let h = self.fc.forward_routed(with_labels(z, labels)).reshape([
            b,
            self.hidden,
            self.side,
            self.side,
        ]); // [B, 128, 7, 7]
        // BatchNorm's training pass as one custom operation on Flex (`genzoo_layers::norm`).
        let h = relu(batch_norm(&self.bn0, h));
        let h = relu(batch_norm(&self.bn1, self.deconv1.forward_routed(h))); // [B, 64, 14, 14]
        tanh(self.deconv2.forward_routed(h)) // [B, 1, 28, 28]
    }
}

/// The DCGAN discriminator.
#[derive(Module, Debug)]
pub struct DcganDiscriminator {
    conv1: Conv2d,
    conv2: Conv2d,
    bn: Option<BatchNorm>,
    fc: Linear,
    /// Spectral-normalization state of conv1, conv2 and fc, when enabled.
    sn: Option<[SpectralNorm; 3]>,
    /// The projection's class embedding `V` (`classes → features`, no bias) of a conditional,
    /// non-auxiliary discriminator.
    embed: Option<Linear>,
    /// AC-GAN's class head; when present, D ignores the labels it is given.
    aux: Option<Linear>,
    leak: f64,
}

impl DcganDiscriminator {
    /// The raw output (logit or critic score).
    ///
    /// # Shapes
    /// `x: [B, C, H, W]`, `labels: [B, classes]` → `[B, 1]`
    pub fn forward(&self, x: Tensor<4>, labels: Option<Tensor<2>>) -> Tensor<2> {
        self.forward_aux(x, labels).0
    }

    /// The raw output and, for an AC-GAN, the class logits of the auxiliary head.
    ///
    /// # Shapes
    /// `x: [B, C, H, W]`, `labels: [B, classes]` → (`[B, 1]`, `[B, classes]`)
    pub fn forward_aux(
        &self,
        x: Tensor<4>,
        labels: Option<Tensor<2>>,
    ) -> (Tensor<2>, Option<Tensor<2>>) {
        let h = leaky_relu(self.conv(0, x), self.leak); // [B, 64, 14, 14]
        let h = self.conv(1, h); // [B, 128, 7, 7]
        let h = match &self.bn {
            Some(bn) => batch_norm(bn, h),
            None => h,
        };
        let h = leaky_relu(h, self.leak).flatten(1, 3);
        if let Some(aux) = &self.aux {
            return (self.linear(h.clone()), Some(aux.forward(h)));
        }
        let out = self.linear(h.clone());
        match self.projection(labels) {
            Some(v) => (out + (v * h).sum_dim(1), None),
            None => (out, None),
        }
    }

    /// `V y`, the class embedding of each image's label (`[B, features]`), for a conditional
    /// discriminator given labels.
    fn projection(&self, labels: Option<Tensor<2>>) -> Option<Tensor<2>> {
        Some(self.embed.as_ref()?.forward(labels?))
    }

    /// Convolution `i` (0 or 1), with its spectrally normalised kernel when enabled.
    fn conv(&self, i: usize, x: Tensor<4>) -> Tensor<4> {
        let layer = if i == 0 { &self.conv1 } else { &self.conv2 };
        match &self.sn {
            None => layer.forward_routed(x),
            Some(_) => {
                let bias = layer.bias.as_ref().map(|b| b.val());
                let options = ConvOptions::new([2, 2], [1, 1], [1, 1], 1);
                conv2d(x, self.kernel(i), bias, options)
            }
        }
    }

    /// The kernel convolution `i` uses: `W` or `W / σ(W)`.
    fn kernel(&self, i: usize) -> Tensor<4> {
        let w = if i == 0 { &self.conv1 } else { &self.conv2 }.weight.val();
        match &self.sn {
            Some(sn) => sn[i].normalize_kernel(w),
            None => w,
        }
    }

    /// The output layer's weight `[features, 1]`: `W` or `W / σ(W)`.
    fn fc_weight(&self) -> Tensor<2> {
        let w = self.fc.weight.val();
        match &self.sn {
            Some(sn) => sn[2].normalize_matrix(w),
            None => w,
        }
    }

    fn linear(&self, h: Tensor<2>) -> Tensor<2> {
        match &self.sn {
            None => self.fc.forward_routed(h),
            Some(_) => linear(h, self.fc_weight(), self.fc.bias.as_ref().map(|b| b.val())),
        }
    }

    /// One power iteration of every spectrally normalised layer (a no-op without spectral
    /// normalization); the trainer calls it once per discriminator update.
    pub fn power_iteration(&self) {
        if let Some(sn) = &self.sn {
            sn[0].power_iteration_kernel(&self.conv1.weight.val());
            sn[1].power_iteration_kernel(&self.conv2.weight.val());
            sn[2].power_iteration(&self.fc.weight.val());
        }
    }

    /// The current σ estimates of conv1, conv2 and fc (empty without spectral normalization).
    pub fn spectral_norms(&self) -> Vec<f64> {
        let Some(sn) = &self.sn else {
            return Vec::new();
        };
        let one = |t: Tensor<1>| f64::from(t.into_scalar::<f32>());
        vec![
            one(sn[0].sigma(&self.conv1.weight.val().flatten(1, 3))),
            one(sn[1].sigma(&self.conv2.weight.val().flatten(1, 3))),
            one(sn[2].sigma(&self.fc.weight.val())),
        ]
    }

    /// Whether the critic has BatchNorm (then [`Self::input_gradient`] is unavailable).
    pub fn has_batch_norm(&self) -> bool {
        self.bn.is_some()
    }

    /// `∂D(x)/∂x` written as differentiable tensor ops, for the gradient penalty: the linear
    /// layer's weight row (plus each image's class embedding `V y` for a conditional critic), then
    /// each convolution's adjoint (`conv_transpose2d` with the same
    /// weight, stride and padding) chained through the detached LeakyReLU slopes. Because the
    /// slopes are piecewise constant, differentiating this expression with respect to the
    /// parameters gives the exact gradient of the penalty (the "double backward").
    ///
    /// # Shapes
    /// `x: [B, C, H, W]`, `labels: [B, classes]` → `[B, C, H, W]`
    ///
    /// # Panics
    /// If the discriminator has BatchNorm (its output then depends on the whole batch).
    pub fn input_gradient(&self, x: Tensor<4>, labels: Option<Tensor<2>>) -> Tensor<4> {
        assert!(
            self.bn.is_none(),
            "the manual input gradient needs a critic without BatchNorm (set d_batch_norm = false)"
        );
        let h1 = self.conv(0, x); // [B, d0, H/2, W/2]
        let h2 = self.conv(1, leaky_relu(h1.clone(), self.leak)); // [B, d1, H/4, W/4]
        let [b, c2, s, _] = h2.dims();
        let w = self.fc_weight().reshape([1, c2, s, s]); // ∂fc/∂φ
        let w = match self.projection(labels) {
            Some(v) => v.reshape([b, c2, s, s]) + w, // ∂⟨V y, φ⟩/∂φ = V y
            None => w,
        };
        let g = w * leaky_slope(&h2, self.leak); // ∂D/∂h2
        let opts = ConvTransposeOptions::new([2, 2], [1, 1], [0, 0], [1, 1], 1);
        let g =
            conv_transpose2d(g, self.kernel(1), None, opts.clone()) * leaky_slope(&h1, self.leak); // ∂D/∂h1
        conv_transpose2d(g, self.kernel(0), None, opts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Distribution, TensorData};

    #[test]
    fn the_mnist_preset_has_the_issue_s_layers_and_parameter_count() {
        // Hand count. G: Linear 100→6272 (633,472) + BN 128 (256) + ConvT 128→64 4×4 (131,136)
        // + BN 64 (128) + ConvT 64→1 4×4 (1,025). D: Conv 1→64 4×4 (1,088) + Conv 64→128 4×4
        // (131,200) + BN 128 (256) + Linear 6272→1 (6,273). burn's `num_params` also counts each
        // BatchNorm's running mean and variance (G: 384, D: 256).
        let device = Device::flex();
        let cfg = DcganConfig::mnist();
        assert_eq!(cfg.init_generator(&device).num_params(), 766_017 + 384);
        assert_eq!(cfg.init_discriminator(&device).num_params(), 138_817 + 256);
        let d = cfg
            .clone()
            .with_d_batch_norm(false)
            .init_discriminator(&device);
        assert_eq!(d.num_params(), 138_817 - 256);
    }

    /// A conditional discriminator scores how image and label go together: the change of its
    /// output from one label to another differs from image to image (with the label concatenated
    /// before the linear output layer it was the same constant for every image, so G could ignore
    /// the label). The AC-GAN's discriminator ignores labels altogether.
    #[test]
    fn the_label_acts_on_what_the_discriminator_sees_of_the_image() {
        let device = Device::flex();
        let cfg = DcganConfig::mnist().with_classes(10).with_init_std(0.2);
        let d = cfg.init_discriminator(&device);
        let x = Tensor::<4>::random([2, 1, 28, 28], Distribution::Uniform(-1.0, 1.0), &device);
        let score = |label: usize| {
            let y = crate::latent::one_hot(&[label, label], 10, &device);
            let v: Vec<f32> = d
                .forward(x.clone(), y)
                .into_data()
                .try_to_vec::<f32>()
                .expect("f32");
            v
        };
        let (a, b) = (score(3), score(8));
        let (first, second) = (a[0] - b[0], a[1] - b[1]);
        assert!(
            (first - second).abs() > 1e-3 * (first.abs() + second.abs() + 1e-6),
            "the label's effect is the same for both images: {first} and {second}"
        );
        let aux = DcganConfig::mnist()
            .with_classes(10)
            .with_auxiliary(Some(true))
            .init_discriminator(&device);
        let y = |l| crate::latent::one_hot(&[l, l], 10, &device);
        let (p, q): (Vec<f32>, Vec<f32>) = (
            aux.forward(x.clone(), y(3))
                .into_data()
                .try_to_vec::<f32>()
                .expect("f32"),
            aux.forward(x.clone(), y(8))
                .into_data()
                .try_to_vec::<f32>()
                .expect("f32"),
        );
        assert_eq!(p, q);
    }

    #[test]
    fn shapes_follow_the_presets_and_outputs_lie_in_tanh_range() {
        let device = Device::flex().autodiff();
        for cfg in [
            DcganConfig::mnist(),
            DcganConfig::cifar10(),
            DcganConfig::mnist().with_classes(10),
        ] {
            let g = cfg.init_generator(&device);
            let d = cfg.init_discriminator(&device);
            let z = Tensor::<2>::random([3, cfg.latent], Distribution::Normal(0.0, 1.0), &device);
            let y = crate::latent::one_hot(&[0, 1, 2], cfg.classes, &device);
            let x = g.forward(z, y.clone());
            let s = cfg.image_size;
            assert_eq!(x.dims(), [3, cfg.channels, s, s]);
            let v: Vec<f32> = x.clone().into_data().try_to_vec().expect("f32");
            assert!(v.iter().all(|p| (-1.0..=1.0).contains(p)));
            assert_eq!(d.forward(x, y).dims(), [3, 1]);
        }
        assert!(DcganConfig::mnist().with_image_size(30).validate().is_err());
    }

    #[test]
    fn spectral_norm_divides_each_layer_by_its_largest_singular_value() {
        // After enough power iterations, the kernels the critic uses have spectral norm 1 by an
        // independent SVD (nalgebra), and the output equals a plain critic whose weights were
        // divided by those SVD values by hand.
        let device = Device::flex();
        device.seed(8);
        let cfg = DcganConfig::new()
            .with_image_size(8)
            .with_d_hidden([4, 6])
            .with_d_batch_norm(false)
            .with_spectral_norm(Some(true));
        let d = cfg.init_discriminator(&device);
        for _ in 0..100 {
            d.power_iteration();
        }
        let sigma_svd = |w: Vec<f32>, rows: usize| {
            let cols = w.len() / rows;
            nalgebra::DMatrix::from_row_iterator(rows, cols, w.iter().map(|&x| f64::from(x)))
                .singular_values()
                .max()
        };
        let raw = |t: Tensor<4>| -> Vec<f32> { t.into_data().try_to_vec().expect("f32") };
        let s1 = sigma_svd(raw(d.conv1.weight.val()), 4);
        let s2 = sigma_svd(raw(d.conv2.weight.val()), 6);
        let fc: Vec<f32> = d.fc.weight.val().into_data().try_to_vec().expect("f32");
        let s3 = sigma_svd(fc, 6 * 2 * 2);
        let est = d.spectral_norms();
        for (got, want) in est.iter().zip([s1, s2, s3]) {
            assert!(
                (got - want).abs() < 1e-4 * want,
                "{est:?} vs {s1} {s2} {s3}"
            );
        }
        assert!((sigma_svd(raw(d.kernel(0)), 4) - 1.0).abs() < 1e-4);
        assert!((sigma_svd(raw(d.kernel(1)), 6) - 1.0).abs() < 1e-4);
        // The same critic without spectral normalization, weights divided by the SVD's σ.
        let mut plain = cfg
            .clone()
            .with_spectral_norm(None)
            .init_discriminator(&device);
        plain.conv1.weight = burn::module::Param::from_tensor(d.conv1.weight.val() / s1 as f32);
        plain.conv1.bias = d.conv1.bias.clone();
        plain.conv2.weight = burn::module::Param::from_tensor(d.conv2.weight.val() / s2 as f32);
        plain.conv2.bias = d.conv2.bias.clone();
        plain.fc.weight = burn::module::Param::from_tensor(d.fc.weight.val() / s3 as f32);
        plain.fc.bias = d.fc.bias.clone();
        let x = Tensor::<4>::random([3, 1, 8, 8], Distribution::Uniform(-1.0, 1.0), &device);
        let a: Vec<f32> = d
            .forward(x.clone(), None)
            .into_data()
            .try_to_vec()
            .expect("f32");
        let b: Vec<f32> = plain
            .forward(x, None)
            .into_data()
            .try_to_vec()
            .expect("f32");
        for (p, q) in a.iter().zip(&b) {
            assert!((p - q).abs() < 1e-4 * q.abs().max(1e-2), "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn weights_start_from_n_0_002() {
        let device = Device::flex();
        device.seed(1);
        let d = DcganConfig::mnist().init_discriminator(&device);
        let w: Vec<f32> = d.conv2.weight.val().into_data().try_to_vec().expect("f32");
        let n = w.len() as f64;
        let mean = w.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let std = (w
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / n)
            .sqrt();
        // 131,072 draws: the sample std is within 1% of 0.02 with overwhelming probability.
        assert!(
            mean.abs() < 5e-4 && (std - 0.02).abs() < 2e-4,
            "{mean} {std}"
        );
    }

    #[test]
    fn batch_norm_uses_batch_statistics_in_training_and_running_ones_for_sampling() {
        let device = Device::flex().autodiff();
        device.seed(2);
        let g = DcganConfig::mnist().init_generator(&device);
        let z = Tensor::<2>::random([4, 100], Distribution::Normal(0.0, 1.0), &device);
        let first =
            |x: Tensor<4>| -> Vec<f32> { x.narrow(0, 0, 1).into_data().try_to_vec().expect("f32") };
        // Training mode: the first sample's image depends on the rest of the batch.
        let alone = first(g.forward(z.clone().narrow(0, 0, 2), None));
        let batch = first(g.forward(z.clone(), None));
        assert!(alone.iter().zip(&batch).any(|(a, b)| (a - b).abs() > 1e-4));
        // Sampling on the plain device: each image depends on its own noise only.
        let g = g.valid();
        let z = Tensor::<2>::from_data(
            TensorData::new(z.into_data().try_to_vec::<f32>().expect("f32"), [4, 100]),
            &device.inner(),
        );
        let alone = first(g.forward(z.clone().narrow(0, 0, 2), None));
        let batch = first(g.forward(z, None));
        assert!(alone.iter().zip(&batch).all(|(a, b)| (a - b).abs() < 1e-5));
    }
}
