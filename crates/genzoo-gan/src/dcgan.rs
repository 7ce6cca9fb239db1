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
use burn::tensor::activation::{leaky_relu, relu};
use burn::tensor::module::conv_transpose2d;
use burn::tensor::ops::ConvTransposeOptions;
use burn::tensor::{Device, Tensor};

use crate::nets::{leaky_slope, with_labels};

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
    /// to `z` in G and to the flattened features before D's last linear layer.
    #[config(default = 0)]
    pub classes: usize,
    /// Negative slope of the discriminator's LeakyReLUs.
    #[config(default = 0.2)]
    pub leak: f64,
    /// Standard deviation of the N(0, σ²) initialisation of conv and linear layers.
    #[config(default = 0.02)]
    pub init_std: f64,
}

impl DcganConfig {
    /// The reference MNIST preset of issue 8. G: z ∈ R¹⁰⁰ → Linear → 128×7×7, BN, ReLU →
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

    /// Checks the sizes the architecture needs.
    pub fn validate(&self) -> Result<(), String> {
        if self.image_size == 0 || !self.image_size.is_multiple_of(4) {
            return Err(format!(
                "DCGAN image_size must be a positive multiple of 4, got {}",
                self.image_size
            ));
        }
        if self.channels == 0
            || self.latent == 0
            || self.g_hidden.contains(&0)
            || self.d_hidden.contains(&0)
        {
            return Err("DCGAN channels, latent and hidden widths must be positive".into());
        }
        Ok(())
    }

    fn init(&self) -> Initializer {
        Initializer::Normal {
            mean: 0.0,
            std: self.init_std,
        }
    }

    fn side(&self) -> usize {
        self.image_size / 4
    }

    /// A fresh generator.
    ///
    /// # Panics
    /// If [`DcganConfig::validate`] fails.
    pub fn init_generator(&self, device: &Device) -> DcganGenerator {
        if let Err(e) = self.validate() {
            panic!("{e}");
        }
        let [g0, g1] = self.g_hidden;
        let s = self.side();
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
        if let Err(e) = self.validate() {
            panic!("{e}");
        }
        let [d0, d1] = self.d_hidden;
        let s = self.side();
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
            fc: LinearConfig::new(d1 * s * s + self.classes, 1)
                .with_initializer(self.init())
                .init(device),
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
        let h =
            self.fc
                .forward(with_labels(z, labels))
                .reshape([b, self.hidden, self.side, self.side]); // [B, 128, 7, 7]
        let h = relu(self.bn0.forward(h));
        let h = relu(self.bn1.forward(self.deconv1.forward(h))); // [B, 64, 14, 14]
        self.deconv2.forward(h).tanh() // [B, 1, 28, 28]
    }
}

/// The DCGAN discriminator.
#[derive(Module, Debug)]
pub struct DcganDiscriminator {
    conv1: Conv2d,
    conv2: Conv2d,
    bn: Option<BatchNorm>,
    fc: Linear,
    leak: f64,
}

impl DcganDiscriminator {
    /// The raw output (logit or critic score).
    ///
    /// # Shapes
    /// `x: [B, C, H, W]`, `labels: [B, classes]` → `[B, 1]`
    pub fn forward(&self, x: Tensor<4>, labels: Option<Tensor<2>>) -> Tensor<2> {
        let h = leaky_relu(self.conv1.forward(x), self.leak); // [B, 64, 14, 14]
        let h = self.conv2.forward(h); // [B, 128, 7, 7]
        let h = match &self.bn {
            Some(bn) => bn.forward(h),
            None => h,
        };
        let h = leaky_relu(h, self.leak).flatten(1, 3);
        self.fc.forward(with_labels(h, labels))
    }

    /// Whether the critic has BatchNorm (then [`Self::input_gradient`] is unavailable).
    pub fn has_batch_norm(&self) -> bool {
        self.bn.is_some()
    }

    /// `∂D(x)/∂x` written as differentiable tensor ops, for the gradient penalty: the linear
    /// layer's weight row, then each convolution's adjoint (`conv_transpose2d` with the same
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
        let _ = labels; // labels enter after the last convolution: they do not change ∂D/∂x.
        let h1 = self.conv1.forward(x); // [B, d0, H/2, W/2]
        let h2 = self.conv2.forward(leaky_relu(h1.clone(), self.leak)); // [B, d1, H/4, W/4]
        let [_, c2, s, _] = h2.dims();
        let w = self
            .fc
            .weight
            .val()
            .narrow(0, 0, c2 * s * s)
            .reshape([1, c2, s, s]);
        let g = w * leaky_slope(&h2, self.leak); // ∂D/∂h2
        let opts = ConvTransposeOptions::new([2, 2], [1, 1], [0, 0], [1, 1], 1);
        let g = conv_transpose2d(g, self.conv2.weight.val(), None, opts.clone())
            * leaky_slope(&h1, self.leak); // ∂D/∂h1
        conv_transpose2d(g, self.conv1.weight.val(), None, opts)
    }
}
