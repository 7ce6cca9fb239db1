//! Convolutional autoencoder — the feature learner of CS231n lecture 13, §1.3
//! (Hinton & Salakhutdinov 2006, "Reducing the Dimensionality of Data with Neural Networks";
//! the convolutional form of Masci et al. 2011).
//!
//! An encoder maps an image to a low-dimensional code `z`; a decoder maps `z` back to an image;
//! both are trained by the L2 reconstruction loss `‖x − x̂‖²`, averaged over pixels. Afterwards the
//! encoder's features can initialise a supervised model.

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::{relu, sigmoid};
use burn::tensor::{Device, Tensor};
use genzoo_layers::RoutedForward;

/// Configuration of [`Autoencoder`]. Images must have a side divisible by 4.
#[derive(Config, Debug, PartialEq)]
pub struct AutoencoderConfig {
    /// Image channels (1 for MNIST, 3 for CIFAR-10).
    #[config(default = 1)]
    pub channels: usize,
    /// Image height and width.
    #[config(default = 28)]
    pub image_size: usize,
    /// Channels of the two stride-2 convolutions of the encoder.
    #[config(default = "[32, 64]")]
    pub hidden: [usize; 2],
    /// Size of the code `z`.
    #[config(default = 32)]
    pub latent: usize,
}

/// A 3×3 convolution of stride 2 and padding 1: halves the side (rounding up).
pub(crate) fn halving_conv(c_in: usize, c_out: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([c_in, c_out], [3, 3])
        .with_stride([2, 2])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .init(device)
}

/// A 4×4 transposed convolution of stride 2 and padding 1: doubles the side exactly, with no
/// checkerboard overlap imbalance at the borders (the DCGAN convention).
pub(crate) fn doubling_deconv(c_in: usize, c_out: usize, device: &Device) -> ConvTranspose2d {
    ConvTranspose2dConfig::new([c_in, c_out], [4, 4])
        .with_stride([2, 2])
        .with_padding([1, 1])
        .init(device)
}

impl AutoencoderConfig {
    /// The reference MNIST preset: 28×28×1 → conv 32 → conv 64 → z ∈ R³² → mirror image.
    pub fn mnist() -> Self {
        Self::new()
    }

    /// A CIFAR-10 preset (32×32×3, a wider code).
    pub fn cifar10() -> Self {
        Self::new()
            .with_channels(3)
            .with_image_size(32)
            .with_hidden([64, 128])
            .with_latent(128)
    }

    /// Checks the values the model cannot be built with, naming the field: every size positive,
    /// `image_size` a multiple of 4 (the two stride-2 stages).
    pub fn validate(&self) -> crate::error::Result<()> {
        let bad = |m: String| Err(crate::error::VaeError::InvalidAutoencoder(m));
        if self.channels == 0 {
            return bad("channels must be positive, got 0".into());
        }
        if self.hidden.contains(&0) {
            return bad(format!(
                "hidden widths must be positive, got {:?}",
                self.hidden
            ));
        }
        if self.latent == 0 {
            return bad("latent must be positive, got 0".into());
        }
        if self.image_size == 0 || !self.image_size.is_multiple_of(4) {
            return bad(format!(
                "image_size must be a positive multiple of 4, got {}",
                self.image_size
            ));
        }
        Ok(())
    }

    /// Trainable parameters of the model this configuration builds, computed from the sizes
    /// alone (no allocation), saturating instead of overflowing, so a memory check can refuse a
    /// model before it is built.
    pub fn num_params(&self) -> u64 {
        let [c, h1, h2, z] =
            [self.channels, self.hidden[0], self.hidden[1], self.latent].map(|v| v as u64);
        let side = (self.image_size / 4) as u64;
        let flat = h2.saturating_mul(side * side);
        let conv =
            |i: u64, o: u64, k: u64| i.saturating_mul(o).saturating_mul(k * k).saturating_add(o);
        let linear = |i: u64, o: u64| i.saturating_mul(o).saturating_add(o);
        [
            conv(c, h1, 3),
            conv(h1, h2, 3),
            linear(flat, z),
            linear(z, flat),
            conv(h2, h1, 4),
            conv(h1, c, 4),
        ]
        .into_iter()
        .fold(0u64, u64::saturating_add)
    }

    /// Builds the model with freshly initialised weights on `device`.
    ///
    /// # Panics
    /// If `image_size` is not divisible by 4 (the two stride-2 stages need it).
    pub fn init(&self, device: &Device) -> Autoencoder {
        assert!(
            self.image_size.is_multiple_of(4) && self.image_size > 0,
            "autoencoder image_size must be a positive multiple of 4, got {}",
            self.image_size
        );
        let [h1, h2] = self.hidden;
        let side = self.image_size / 4;
        let conv = |c_in, c_out| halving_conv(c_in, c_out, device);
        let deconv = |c_in, c_out| doubling_deconv(c_in, c_out, device);
        Autoencoder {
            enc1: conv(self.channels, h1),
            enc2: conv(h1, h2),
            enc_fc: LinearConfig::new(h2 * side * side, self.latent).init(device),
            dec_fc: LinearConfig::new(self.latent, h2 * side * side).init(device),
            dec1: deconv(h2, h1),
            dec2: deconv(h1, self.channels),
            hidden: h2,
            side,
        }
    }
}

/// A convolutional autoencoder with a linear bottleneck.
#[derive(Module, Debug)]
pub struct Autoencoder {
    enc1: Conv2d,
    enc2: Conv2d,
    enc_fc: Linear,
    dec_fc: Linear,
    dec1: ConvTranspose2d,
    dec2: ConvTranspose2d,
    hidden: usize,
    side: usize,
}

/// The loss of one batch and its reconstruction.
#[derive(Debug, Clone)]
pub struct AutoencoderOutput {
    /// Mean squared error over all pixels of the batch (a scalar tensor, differentiable).
    pub loss: Tensor<1>,
    /// The reconstruction `x̂`, in [0, 1].
    pub reconstruction: Tensor<4>,
}

impl Autoencoder {
    /// Encodes images to codes.
    ///
    /// # Shapes
    /// `x: [B, C, H, W]` in [0, 1] → `[B, latent]`
    pub fn encode(&self, x: Tensor<4>) -> Tensor<2> {
        let h = relu(self.enc1.forward_routed(x)); // [B, h1, H/2, W/2]
        let h = relu(self.enc2.forward_routed(h)); // [B, h2, H/4, W/4]
        self.enc_fc.forward(h.flatten(1, 3))
    }

    /// Decodes codes to images in [0, 1].
    ///
    /// # Shapes
    /// `z: [B, latent]` → `[B, C, H, W]`
    pub fn decode(&self, z: Tensor<2>) -> Tensor<4> {
        let [b, _] = z.dims();
        let h = relu(self.dec_fc.forward(z)).reshape([b, self.hidden, self.side, self.side]);
        let h = relu(self.dec1.forward_routed(h)); // [B, h1, H/2, W/2]
        sigmoid(self.dec2.forward_routed(h))
    }

    /// Reconstructs images: `decode(encode(x))`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.decode(self.encode(x))
    }

    /// The L2 reconstruction loss of a batch, averaged over every pixel.
    pub fn loss(&self, x: Tensor<4>) -> AutoencoderOutput {
        let reconstruction = self.forward(x.clone());
        let loss = (reconstruction.clone() - x).square().mean();
        AutoencoderOutput {
            loss,
            reconstruction,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::optim::GradientsParams;
    use burn::tensor::{Distribution, TensorData};
    use genzoo_layers::adam::AdamConfig;

    #[test]
    fn shapes_follow_the_config() {
        let device = Device::flex();
        for cfg in [AutoencoderConfig::mnist(), AutoencoderConfig::cifar10()] {
            let model = cfg.init(&device);
            let s = cfg.image_size;
            let x = Tensor::<4>::random(
                [2, cfg.channels, s, s],
                Distribution::Uniform(0.0, 1.0),
                &device,
            );
            assert_eq!(model.encode(x.clone()).dims(), [2, cfg.latent]);
            let y = model.forward(x);
            assert_eq!(y.dims(), [2, cfg.channels, s, s]);
            let v = y.into_data().try_to_vec::<f32>().expect("f32");
            assert!(
                v.iter().all(|p| (0.0..=1.0).contains(p)),
                "sigmoid output must lie in [0, 1]"
            );
        }
    }

    #[test]
    fn the_mnist_preset_has_the_documented_parameter_count() {
        // Hand count (docs/models/autoencoder.md): conv 1→32 (320) + conv 32→64 (18,496)
        // + linear 3136→32 (100,384) + linear 32→3136 (103,488) + convT 64→32 (32,800) + convT 32→1 (513).
        let model = AutoencoderConfig::mnist().init(&Device::flex());
        assert_eq!(model.num_params(), 256_001);
        assert_eq!(AutoencoderConfig::mnist().num_params(), 256_001);
    }

    #[test]
    fn the_config_counts_the_parameters_the_model_has() {
        let device = Device::flex();
        for cfg in [
            AutoencoderConfig::cifar10(),
            AutoencoderConfig::mnist()
                .with_hidden([3, 5])
                .with_latent(7),
            AutoencoderConfig::mnist()
                .with_image_size(8)
                .with_channels(2),
        ] {
            assert_eq!(
                cfg.num_params(),
                cfg.init(&device).num_params() as u64,
                "{cfg:?}"
            );
        }
        // Absurd sizes saturate instead of overflowing.
        let huge = AutoencoderConfig::mnist().with_latent(usize::MAX);
        assert_eq!(huge.num_params(), u64::MAX);
    }

    #[test]
    fn invalid_sizes_are_named_errors() {
        for (cfg, field) in [
            (AutoencoderConfig::mnist().with_latent(0), "latent"),
            (AutoencoderConfig::mnist().with_channels(0), "channels"),
            (AutoencoderConfig::mnist().with_hidden([0, 64]), "hidden"),
            (AutoencoderConfig::mnist().with_image_size(30), "image_size"),
            (AutoencoderConfig::mnist().with_image_size(0), "image_size"),
        ] {
            let err = cfg.validate().expect_err("invalid").to_string();
            assert!(err.contains(field), "{field}: {err}");
        }
        AutoencoderConfig::cifar10()
            .validate()
            .expect("the presets are valid");
    }

    #[test]
    fn loss_is_the_pixel_mean_of_squared_errors() {
        let device = Device::flex();
        let model = AutoencoderConfig::mnist().init(&device);
        let x = Tensor::<4>::random([3, 1, 28, 28], Distribution::Uniform(0.0, 1.0), &device);
        let out = model.loss(x.clone());
        let xs = x.into_data().try_to_vec::<f32>().expect("f32");
        let ys = out
            .reconstruction
            .into_data()
            .try_to_vec::<f32>()
            .expect("f32");
        let expected: f64 = xs
            .iter()
            .zip(&ys)
            .map(|(a, b)| f64::from(a - b).powi(2))
            .sum::<f64>()
            / xs.len() as f64;
        let got = f64::from(out.loss.into_scalar::<f32>());
        assert!(
            (got - expected).abs() < 1e-6 * expected.max(1.0),
            "{got} vs {expected}"
        );
    }

    #[test]
    fn a_few_adam_steps_reduce_the_loss_on_a_fixed_batch() {
        let device = Device::flex().autodiff();
        device.seed(7);
        let mut model = AutoencoderConfig::mnist().init(&device);
        let mut optim = AdamConfig::new().init();
        // Two fixed "images": a bright square and a bright bar.
        let mut pixels = vec![0.0f32; 2 * 28 * 28];
        for y in 8..20 {
            for x in 8..20 {
                pixels[y * 28 + x] = 1.0;
            }
            pixels[784 + y * 28 + 14] = 1.0;
        }
        let x = Tensor::<4>::from_data(TensorData::new(pixels, [2, 1, 28, 28]), &device);
        let first = model.loss(x.clone()).loss.into_scalar::<f32>();
        for _ in 0..30 {
            let loss = model.loss(x.clone()).loss;
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(1e-3, model, grads);
        }
        let last = model.loss(x).loss.into_scalar::<f32>();
        assert!(last < 0.5 * first, "loss went from {first} to {last}");
    }
}
