//! Shared pieces of the networks: label conditioning, LeakyReLU slopes, and the two network
//! families behind one [`Generator`] / [`Discriminator`] pair so losses and training code work
//! with any architecture.

use burn::module::Module;
use burn::tensor::Tensor;

use crate::dcgan::{DcganConfig, DcganDiscriminator, DcganGenerator};
use crate::mlp::{MlpDiscriminator, MlpGanConfig, MlpGenerator};

/// Concatenates one-hot labels (if any) to a batch of feature vectors.
pub(crate) fn with_labels(x: Tensor<2>, labels: Option<Tensor<2>>) -> Tensor<2> {
    match labels {
        Some(y) => Tensor::cat(vec![x, y], 1),
        None => x,
    }
}

/// The derivative of `leaky_relu(h, a)`: 1 where `h > 0`, `a` elsewhere. Computed from the
/// detached pre-activation, so it is a constant for autodiff (its true derivative is zero almost
/// everywhere).
pub(crate) fn leaky_slope<const D: usize>(h: &Tensor<D>, a: f64) -> Tensor<D> {
    // The cast keeps the slope in the activation's precision (an f64 critic in the tests).
    h.clone()
        .detach()
        .greater_elem(0.0)
        .float()
        .cast(h.dtype())
        .mul_scalar(1.0 - a)
        .add_scalar(a)
}

/// The architecture of a GAN.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Architecture {
    /// Fully connected G and D.
    Mlp(MlpGanConfig),
    /// DCGAN.
    Dcgan(DcganConfig),
}

impl Architecture {
    /// Size of `z`.
    pub fn latent(&self) -> usize {
        match self {
            Architecture::Mlp(c) => c.latent,
            Architecture::Dcgan(c) => c.latent,
        }
    }

    /// Number of classes conditioned on (0: unconditional).
    pub fn classes(&self) -> usize {
        match self {
            Architecture::Mlp(c) => c.classes,
            Architecture::Dcgan(c) => c.classes,
        }
    }

    /// `[C, H, W]` of generated images.
    pub fn image_shape(&self) -> [usize; 3] {
        match self {
            Architecture::Mlp(c) => [c.channels, c.image_size, c.image_size],
            Architecture::Dcgan(c) => [c.channels, c.image_size, c.image_size],
        }
    }

    /// Whether D has an auxiliary classifier head (AC-GAN).
    pub fn auxiliary(&self) -> bool {
        match self {
            Architecture::Mlp(_) => false,
            Architecture::Dcgan(c) => c.is_auxiliary(),
        }
    }

    /// Whether D's output depends on other samples of the batch (BatchNorm).
    pub fn d_batch_norm(&self) -> bool {
        match self {
            Architecture::Mlp(_) => false,
            Architecture::Dcgan(c) => c.d_batch_norm,
        }
    }

    /// The same networks with a critic without BatchNorm (what a gradient penalty needs).
    pub fn without_d_batch_norm(self) -> Self {
        match self {
            Architecture::Dcgan(c) => Architecture::Dcgan(c.with_d_batch_norm(false)),
            other => other,
        }
    }

    /// Checks sizes; the message says what is wrong.
    pub fn validate(&self) -> crate::Result<()> {
        let (leak, init_std) = match self {
            Architecture::Mlp(c) => (c.leak, c.init_std),
            Architecture::Dcgan(c) => (c.leak, c.init_std),
        };
        if !(0.0..1.0).contains(&leak) {
            return Err(invalid(format!(
                "leak (LeakyReLU's negative slope) must be in [0, 1), got {leak}"
            )));
        }
        if !(init_std > 0.0 && init_std.is_finite()) {
            return Err(invalid(format!(
                "init_std must be a positive number, got {init_std}"
            )));
        }
        match self {
            Architecture::Mlp(c) => positive_sizes(
                "MLP GAN",
                &[
                    ("channels", &[c.channels]),
                    ("image_size", &[c.image_size]),
                    ("latent", &[c.latent]),
                    ("g_hidden", &c.g_hidden),
                    ("d_hidden", &c.d_hidden),
                ],
            ),
            Architecture::Dcgan(c) => c.validate(),
        }
    }

    /// A fresh generator.
    pub fn init_generator(&self, device: &burn::tensor::Device) -> Generator {
        match self {
            Architecture::Mlp(c) => Generator::Mlp(c.init_generator(device)),
            Architecture::Dcgan(c) => Generator::Dcgan(c.init_generator(device)),
        }
    }

    /// A fresh discriminator.
    pub fn init_discriminator(&self, device: &burn::tensor::Device) -> Discriminator {
        match self {
            Architecture::Mlp(c) => Discriminator::Mlp(c.init_discriminator(device)),
            Architecture::Dcgan(c) => Discriminator::Dcgan(c.init_discriminator(device)),
        }
    }
}

/// An [`Error::InvalidConfig`](crate::Error::InvalidConfig) with this message.
pub(crate) fn invalid(message: impl Into<String>) -> crate::Error {
    crate::Error::InvalidConfig(message.into())
}

/// The first of the named size fields that holds a zero, as a message naming it and its value.
pub(crate) fn positive_sizes(what: &str, fields: &[(&str, &[usize])]) -> crate::Result<()> {
    match fields.iter().find(|(_, v)| v.contains(&0)) {
        Some((name, v)) => Err(invalid(format!(
            "{what} sizes must be positive, got {name} = {}",
            if v.len() == 1 {
                v[0].to_string()
            } else {
                format!("{v:?}")
            }
        ))),
        None => Ok(()),
    }
}

/// A generator of either architecture.
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Generator {
    /// Fully connected.
    Mlp(MlpGenerator),
    /// DCGAN.
    Dcgan(DcganGenerator),
}

impl Generator {
    /// Images in [−1, 1] from noise (and one-hot labels).
    ///
    /// # Shapes
    /// `z: [B, latent]`, `labels: [B, classes]` → `[B, C, H, W]`
    pub fn forward(&self, z: Tensor<2>, labels: Option<Tensor<2>>) -> Tensor<4> {
        match self {
            Generator::Mlp(g) => g.forward(z, labels),
            Generator::Dcgan(g) => g.forward(z, labels),
        }
    }
}

/// Both networks of a GAN as one module, so that one weights file holds them, under
/// `generator.` and `discriminator.`.
#[derive(Module, Debug)]
pub struct GanNets {
    /// The generator.
    pub generator: Generator,
    /// The discriminator or critic.
    pub discriminator: Discriminator,
}

/// A discriminator (critic) of either architecture.
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Discriminator {
    /// Fully connected.
    Mlp(MlpDiscriminator),
    /// DCGAN.
    Dcgan(DcganDiscriminator),
}

impl Discriminator {
    /// The raw output (logit or critic score).
    ///
    /// # Shapes
    /// `x: [B, C, H, W]`, `labels: [B, classes]` → `[B, 1]`
    pub fn forward(&self, x: Tensor<4>, labels: Option<Tensor<2>>) -> Tensor<2> {
        match self {
            Discriminator::Mlp(d) => d.forward(x, labels),
            Discriminator::Dcgan(d) => d.forward(x, labels),
        }
    }

    /// The raw output and, for an AC-GAN, the auxiliary class logits.
    ///
    /// # Shapes
    /// `x: [B, C, H, W]`, `labels: [B, classes]` → (`[B, 1]`, `[B, classes]`)
    pub fn forward_aux(
        &self,
        x: Tensor<4>,
        labels: Option<Tensor<2>>,
    ) -> (Tensor<2>, Option<Tensor<2>>) {
        match self {
            Discriminator::Mlp(d) => (d.forward(x, labels), None),
            Discriminator::Dcgan(d) => d.forward_aux(x, labels),
        }
    }

    /// One power iteration of the spectrally normalised layers (no-op without them).
    pub fn power_iteration(&self) {
        match self {
            Discriminator::Mlp(_) => {}
            Discriminator::Dcgan(d) => d.power_iteration(),
        }
    }

    /// `∂D(x)/∂x` as differentiable tensor ops (see [`DcganDiscriminator::input_gradient`]).
    ///
    /// # Shapes
    /// `x: [B, C, H, W]` → `[B, C, H, W]`
    pub fn input_gradient(&self, x: Tensor<4>, labels: Option<Tensor<2>>) -> Tensor<4> {
        match self {
            Discriminator::Mlp(d) => d.input_gradient(x, labels),
            Discriminator::Dcgan(d) => d.input_gradient(x, labels),
        }
    }
}
