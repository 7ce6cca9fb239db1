//! The MLP GAN of Goodfellow et al. 2014, "Generative Adversarial Networks", arXiv:1406.2661
//! (fully connected G and D; LeakyReLU 0.2 instead of the paper's maxout, as in most reference
//! code), optionally conditioned on a class label as in Mirza & Osindero 2014, arXiv:1411.1784.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Initializer, Linear, LinearConfig};
use burn::tensor::{Device, Tensor};
use genzoo_layers::RoutedForward;
use genzoo_layers::fused::{leaky_relu, tanh};

use crate::nets::{leaky_slope, with_labels};

/// Configuration of the MLP [`MlpGenerator`] and [`MlpDiscriminator`].
#[derive(Config, Debug, PartialEq)]
pub struct MlpGanConfig {
    /// Image channels.
    #[config(default = 1)]
    pub channels: usize,
    /// Image height and width.
    #[config(default = 28)]
    pub image_size: usize,
    /// Size of the noise vector `z`.
    #[config(default = 100)]
    pub latent: usize,
    /// Hidden widths of the generator, from `z` upwards.
    #[config(default = "[256, 512]")]
    pub g_hidden: [usize; 2],
    /// Hidden widths of the discriminator, from the image downwards.
    #[config(default = "[512, 256]")]
    pub d_hidden: [usize; 2],
    /// Number of classes to condition on (0: unconditional). The one-hot label is concatenated
    /// to `z` and to the flattened image, so the first layer of each net learns its embedding.
    #[config(default = 0)]
    pub classes: usize,
    /// Negative slope of the LeakyReLUs.
    #[config(default = 0.2)]
    pub leak: f64,
    /// Standard deviation of the N(0, σ²) initialisation of weights and biases.
    #[config(default = 0.02)]
    pub init_std: f64,
}

impl MlpGanConfig {
    /// The MNIST preset: z ∈ R¹⁰⁰ → 256 → 512 → 784 (tanh); 784 → 512 → 256 → 1.
    pub fn mnist() -> Self {
        Self::new()
    }

    /// Pixels per image.
    pub fn data_dim(&self) -> usize {
        self.channels * self.image_size * self.image_size
    }

    fn linear(&self, i: usize, o: usize, device: &Device) -> Linear {
        LinearConfig::new(i, o)
            .with_initializer(Initializer::Normal {
                mean: 0.0,
                std: self.init_std,
            })
            .init(device)
    }

    /// A fresh generator.
    pub fn init_generator(&self, device: &Device) -> MlpGenerator {
        let [h1, h2] = self.g_hidden;
        MlpGenerator {
            fc1: self.linear(self.latent + self.classes, h1, device),
            fc2: self.linear(h1, h2, device),
            out: self.linear(h2, self.data_dim(), device),
            shape: [self.channels, self.image_size, self.image_size],
            leak: self.leak,
        }
    }

    /// A fresh discriminator (no sigmoid: it outputs a logit or a critic score).
    pub fn init_discriminator(&self, device: &Device) -> MlpDiscriminator {
        let [h1, h2] = self.d_hidden;
        MlpDiscriminator {
            fc1: self.linear(self.data_dim() + self.classes, h1, device),
            fc2: self.linear(h1, h2, device),
            out: self.linear(h2, 1, device),
            leak: self.leak,
        }
    }
}

/// Fully connected generator with a tanh output in [−1, 1].
#[derive(Module, Debug)]
pub struct MlpGenerator {
    fc1: Linear,
    fc2: Linear,
    out: Linear,
    shape: [usize; 3],
    leak: f64,
}

impl MlpGenerator {
    /// Maps noise (and one-hot labels for a conditional model) to images.
    ///
    /// # Shapes
    /// `z: [B, latent]`, `labels: [B, classes]` → `[B, C, H, W]` in [−1, 1]
    pub fn forward(&self, z: Tensor<2>, labels: Option<Tensor<2>>) -> Tensor<4> {
        let [b, _] = z.dims();
        let [c, h, w] = self.shape;
        let x = with_labels(z, labels);
        let x = leaky_relu(self.fc1.forward_routed(x), self.leak);
        let x = leaky_relu(self.fc2.forward_routed(x), self.leak);
        tanh(self.out.forward_routed(x)).reshape([b, c, h, w])
    }
}

/// Fully connected discriminator.
#[derive(Module, Debug)]
pub struct MlpDiscriminator {
    fc1: Linear,
    fc2: Linear,
    out: Linear,
    leak: f64,
}

impl MlpDiscriminator {
    /// The raw output (logit or critic score).
    ///
    /// # Shapes
    /// `x: [B, C, H, W]`, `labels: [B, classes]` → `[B, 1]`
    pub fn forward(&self, x: Tensor<4>, labels: Option<Tensor<2>>) -> Tensor<2> {
        let h = with_labels(x.flatten(1, 3), labels);
        let h = leaky_relu(self.fc1.forward_routed(h), self.leak);
        let h = leaky_relu(self.fc2.forward_routed(h), self.leak);
        self.out.forward_routed(h)
    }

    /// `∂D(x)/∂x` written as differentiable tensor ops (for the gradient penalty): the
    /// transposed weights chained through the detached LeakyReLU slopes.
    ///
    /// # Shapes
    /// `x: [B, C, H, W]`, `labels: [B, classes]` → `[B, C, H, W]`
    pub fn input_gradient(&self, x: Tensor<4>, labels: Option<Tensor<2>>) -> Tensor<4> {
        let dims = x.dims();
        let dx = dims[1] * dims[2] * dims[3];
        let h1 = self.fc1.forward(with_labels(x.flatten(1, 3), labels));
        let h2 = self.fc2.forward(leaky_relu(h1.clone(), self.leak));
        // out = a2 · w3 + b3, so ∂out/∂a2 = w3ᵀ for every sample: [1, h2] broadcast over B.
        let g = self.out.weight.val().transpose() * leaky_slope(&h2, self.leak); // [B, h2]
        let g = g.matmul(self.fc2.weight.val().transpose()) * leaky_slope(&h1, self.leak); // [B, h1]
        let g = g.matmul(self.fc1.weight.val().transpose()); // [B, dx + classes]
        g.narrow(1, 0, dx).reshape(dims)
    }
}
