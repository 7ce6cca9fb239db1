//! Variational autoencoder — Kingma & Welling 2014, "Auto-Encoding Variational Bayes",
//! [arXiv:1312.6114](https://arxiv.org/abs/1312.6114); β-VAE (Higgins et al. 2017) and the
//! conditional VAE (Sohn et al. 2015) as options of the same model.
//!
//! The encoder outputs the mean and log-variance of a diagonal Gaussian `q(z|x)`; `z = μ + σ·ε`
//! (the reparameterization trick, `ε ~ N(0, I)` drawn by the caller); the decoder outputs the
//! parameters of `p(x|z)`: Bernoulli logits for binarized images, or a discretized logistic per
//! sub-pixel for 8-bit images. The loss is `−ELBO = −log p(x|z) + β · KL(q(z|x) ‖ N(0, I))`, with
//! the KL in closed form and both parts reported separately.

use std::f64::consts::PI;

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::{relu, sigmoid};
use burn::tensor::{Device, Int, Tensor};
use genzoo_layers::RoutedForward;
use genzoo_metrics::likelihood::{bernoulli_log_prob, softplus};
use serde::{Deserialize, Serialize};

use crate::autoencoder::{doubling_deconv, halving_conv};
use crate::error::VaeError;

/// Encoder/decoder family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Architecture {
    /// One hidden fully connected layer each way (the pytorch/examples VAE).
    Mlp,
    /// Two stride-2 convolutions, a hidden fully connected layer, and the transposed mirror.
    Conv,
}

/// The nonlinearity of the fully connected hidden layers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Activation {
    /// `max(0, x)` (pytorch/examples).
    Relu,
    /// `tanh(x)` (Burda et al. 2015's MNIST networks).
    Tanh,
}

impl Activation {
    fn apply<const D: usize>(self, x: Tensor<D>) -> Tensor<D> {
        match self {
            Activation::Relu => relu(x),
            Activation::Tanh => x.tanh(),
        }
    }
}

/// The observation model `p(x|z)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Likelihood {
    /// Independent Bernoulli pixels from logits, for binarized images (one output per sub-pixel).
    Bernoulli,
    /// A logistic per sub-pixel discretized to 256 bins, for 8-bit images (Kingma et al. 2016,
    /// PixelCNN++ without the mixture): two outputs per sub-pixel, mean and log-scale.
    DiscretizedLogistic,
}

impl Likelihood {
    /// Decoder outputs per image channel.
    pub fn params_per_channel(&self) -> usize {
        match self {
            Likelihood::Bernoulli => 1,
            Likelihood::DiscretizedLogistic => 2,
        }
    }

    /// `log p(x | params)` per image, summed over every sub-pixel, in nats.
    ///
    /// # Shapes
    /// `params: [B, C · params_per_channel, H, W]`, `x: [B, C, H, W]` in [0, 1] → `[B]`
    pub fn log_prob(&self, params: Tensor<4>, x: Tensor<4>) -> Tensor<1> {
        let lp = match self {
            Likelihood::Bernoulli => bernoulli_log_prob(params, x),
            Likelihood::DiscretizedLogistic => {
                let c = x.dims()[1];
                let mean = params.clone().narrow(1, 0, c);
                let log_scale = params.narrow(1, c, c);
                discretized_logistic_log_prob(mean, log_scale, x)
            }
        };
        lp.flatten::<2>(1, 3).sum_dim(1).squeeze_dim(1)
    }

    /// The mean of `p(x | params)` in [0, 1], the image shown for a decoded `z`.
    ///
    /// # Shapes
    /// `params: [B, C · params_per_channel, H, W]` → `[B, C, H, W]`
    pub fn mean(&self, params: Tensor<4>) -> Tensor<4> {
        match self {
            Likelihood::Bernoulli => sigmoid(params),
            Likelihood::DiscretizedLogistic => {
                let c = params.dims()[1] / 2;
                // The logistic is symmetric, so its mean is its location, mapped from [-1, 1].
                ((params.narrow(1, 0, c) + 1.0) * 0.5).clamp(0.0, 1.0)
            }
        }
    }
}

/// Lower bound on the log-scale of the discretized logistic: keeps `1/s` finite.
const MIN_LOG_SCALE: f64 = -7.0;

/// Elementwise `log P(x)` of a logistic with location `mean` and scale `exp(log_scale)` on
/// [-1, 1], discretized to the 256 bins of 8-bit data (`x` given in [0, 1], i.e. `k / 255`).
///
/// Bin `k` covers `[x' − 1/255, x' + 1/255]` with `x' = 2x − 1`; the first and last bins extend
/// to `∓∞`, so the 256 probabilities sum to one. Differences of sigmoids are computed from
/// softplus terms where they would cancel catastrophically, and a bin too narrow for `f32`
/// falls back to the density at its centre times its width.
pub fn discretized_logistic_log_prob(
    mean: Tensor<4>,
    log_scale: Tensor<4>,
    x: Tensor<4>,
) -> Tensor<4> {
    let half_bin: f64 = 1.0 / 255.0;
    let log_scale = log_scale.clamp_min(MIN_LOG_SCALE);
    let inv_s = log_scale.clone().neg().exp();
    let x_prime = x * 2.0 - 1.0; // [-1, 1]
    let centered = x_prime.clone() - mean;
    let plus_in = inv_s.clone() * (centered.clone() + half_bin);
    let min_in = inv_s.clone() * (centered.clone() - half_bin);
    // log σ(a) = a − softplus(a); log(1 − σ(b)) = −softplus(b).
    let log_cdf_plus = plus_in.clone() - softplus(plus_in.clone());
    let log_one_minus_cdf_min = softplus(min_in.clone()).neg();
    let cdf_delta = sigmoid(plus_in) - sigmoid(min_in);
    let mid_in = inv_s * centered;
    let log_pdf_mid = mid_in.clone() - log_scale - softplus(mid_in) * 2.0;
    let log_mid_bin = cdf_delta.clone().clamp_min(1e-12).log();
    let narrow_bin = log_pdf_mid + (2.0 * half_bin).ln();
    let middle = log_mid_bin.mask_where(cdf_delta.lower_elem(1e-5), narrow_bin);
    // The first bin (x = 0) takes all mass below its upper edge, the last (x = 1) all above.
    middle
        .mask_where(x_prime.clone().greater_elem(0.999), log_one_minus_cdf_min)
        .mask_where(x_prime.lower_elem(-0.999), log_cdf_plus)
}

/// Configuration of [`Vae`].
#[derive(Config, Debug, PartialEq)]
pub struct VaeConfig {
    /// Image channels (1 for MNIST, 3 for CIFAR-10).
    #[config(default = 1)]
    pub channels: usize,
    /// Image height and width (a multiple of 4 for the convolutional architecture).
    #[config(default = 28)]
    pub image_size: usize,
    /// Encoder/decoder family.
    #[config(default = "Architecture::Mlp")]
    pub architecture: Architecture,
    /// Width of the hidden fully connected layers on each side.
    #[config(default = 400)]
    pub hidden: usize,
    /// Fully connected hidden layers on each side (1: the pytorch/examples VAE; 2: Burda et al.'s
    /// one-stochastic-layer network).
    #[config(default = 1)]
    pub hidden_layers: usize,
    /// Nonlinearity of the fully connected hidden layers.
    #[config(default = "Activation::Relu")]
    pub activation: Activation,
    /// Channels of the two stride-2 convolutions (convolutional architecture only).
    #[config(default = "[32, 64]")]
    pub conv_channels: [usize; 2],
    /// Dimension of `z`.
    #[config(default = 20)]
    pub latent: usize,
    /// The observation model `p(x|z)`.
    #[config(default = "Likelihood::Bernoulli")]
    pub likelihood: Likelihood,
    /// Weight of the KL term (1 = the ELBO; β > 1 is the β-VAE of Higgins et al. 2017).
    #[config(default = 1.0)]
    pub beta: f64,
    /// Training steps over which the KL weight ramps linearly from 0 to `beta` (0 = no warm-up;
    /// Bowman et al. 2016, Sønderby et al. 2016).
    #[config(default = 0)]
    pub kl_warmup_steps: u64,
    /// Number of classes the encoder and decoder are conditioned on (0 = unconditional;
    /// 10 for the conditional VAE on MNIST, Sohn et al. 2015).
    #[config(default = 0)]
    pub num_classes: usize,
    /// Importance samples of the training objective: 1 = the ELBO; k > 1 = the IWAE bound `L_k`
    /// of Burda et al. 2015 (which has no separate KL term, so β must be 1 with no warm-up).
    #[config(default = 1)]
    pub iwae_k: usize,
    /// Dimension of a second, top stochastic layer `z₂` (0 = one stochastic layer). With it the
    /// prior of `z` is itself a latent-variable model, `p(z) = ∫ p(z|z₂) p(z₂) dz₂` with
    /// `p(z₂) = N(0, I)` and a diagonal Gaussian `p(z|z₂)`, and the posterior is `q(z|x) q(z₂|z)`:
    /// Burda et al. 2015's networks with two stochastic layers (§5, App. C).
    #[config(default = 0)]
    pub top_latent: usize,
    /// Width of the deterministic layers between `z` and `z₂` on each side (`hidden_layers` of
    /// them, with the same nonlinearity); unused without `top_latent`.
    #[config(default = 100)]
    pub top_hidden: usize,
}

impl VaeConfig {
    /// The pytorch/examples VAE: 784-400-(20, 20) / 20-400-784, ReLU, Bernoulli decoder
    /// (train with Adam 1e-3, batch 128).
    pub fn mnist_mlp() -> Self {
        Self::new()
    }

    /// A convolutional MNIST VAE: conv 32, conv 64 (stride 2), fc 256, z ∈ R²⁰, mirrored decoder.
    pub fn mnist_conv() -> Self {
        Self::new()
            .with_architecture(Architecture::Conv)
            .with_hidden(256)
    }

    /// β-VAE on MNIST: the MLP preset with β = 4 and a KL warm-up over 2,000 steps (about four
    /// epochs at batch 128).
    pub fn mnist_beta() -> Self {
        Self::mnist_mlp().with_beta(4.0).with_kl_warmup_steps(2000)
    }

    /// Conditional VAE on MNIST: the MLP preset with the one-hot digit label fed to the encoder
    /// and the decoder.
    pub fn mnist_conditional() -> Self {
        Self::mnist_mlp().with_num_classes(10)
    }

    /// The importance-weighted autoencoder of Burda et al. 2015 on the MLP preset: the same
    /// networks trained on `L_5` instead of the ELBO.
    pub fn mnist_iwae() -> Self {
        Self::mnist_mlp().with_iwae_k(5)
    }

    /// The one-stochastic-layer MNIST network of Burda et al. 2015 (§5): 784-200-200-(50, 50) /
    /// 50-200-200-784, tanh, Bernoulli decoder; `with_iwae_k(k)` for its IWAE.
    pub fn burda_one_layer() -> Self {
        Self::new()
            .with_hidden(200)
            .with_hidden_layers(2)
            .with_latent(50)
            .with_activation(Activation::Tanh)
    }

    /// The two-stochastic-layer MNIST network of Burda et al. 2015 (§5, App. C): `x → z` through
    /// 784-200-200-(100, 100), `z → z₂` through 100-100-100-(50, 50), and back the same way
    /// (50-100-100-(100, 100) for `p(z|z₂)`, 100-200-200-784 for `p(x|z)`), tanh, Bernoulli
    /// decoder; `with_iwae_k(k)` for its IWAE.
    pub fn burda_two_layer() -> Self {
        Self::burda_one_layer()
            .with_latent(100)
            .with_top_latent(50)
            .with_top_hidden(100)
    }

    /// The MLP preset with a 2-D latent space, for the manifold picture of Kingma & Welling Fig. 4.
    pub fn mnist_2d() -> Self {
        Self::mnist_mlp().with_latent(2)
    }

    /// A CIFAR-10 convolutional VAE with a discretized-logistic decoder (reports bits/dim).
    pub fn cifar10_conv() -> Self {
        Self::new()
            .with_channels(3)
            .with_image_size(32)
            .with_architecture(Architecture::Conv)
            .with_conv_channels([64, 128])
            .with_hidden(512)
            .with_latent(128)
            .with_likelihood(Likelihood::DiscretizedLogistic)
    }

    /// Sub-pixels per image, `C · H · W`.
    pub fn dims(&self) -> usize {
        self.channels * self.image_size * self.image_size
    }

    /// Standard normal draws per image of one posterior sample: `latent`, plus `top_latent` for
    /// the second stochastic layer (the width of the `eps` that [`Vae::loss`] takes).
    pub fn noise_dims(&self) -> usize {
        self.latent + self.top_latent
    }

    /// The KL weight at a training step: `beta`, ramped linearly over `kl_warmup_steps`.
    pub fn kl_weight(&self, step: u64) -> f64 {
        if self.kl_warmup_steps == 0 {
            self.beta
        } else {
            self.beta * (step as f64 / self.kl_warmup_steps as f64).min(1.0)
        }
    }

    /// Checks the values a model cannot be built with.
    pub fn validate(&self) -> crate::error::Result<()> {
        let bad = |m: String| Err(VaeError::InvalidConfig(m));
        if self.channels == 0
            || self.image_size == 0
            || self.hidden == 0
            || self.hidden_layers == 0
            || self.latent == 0
        {
            return bad(format!(
                "channels, image_size, hidden, hidden_layers and latent must be positive, got {}, {}, {}, {}, {}",
                self.channels, self.image_size, self.hidden, self.hidden_layers, self.latent
            ));
        }
        if self.architecture == Architecture::Conv
            && (!self.image_size.is_multiple_of(4) || self.conv_channels.contains(&0))
        {
            return bad(format!(
                "the conv architecture needs image_size a multiple of 4 and positive conv_channels, \
                 got image_size {} and conv_channels {:?}",
                self.image_size, self.conv_channels
            ));
        }
        if self.top_latent > 0 && self.top_hidden == 0 {
            return bad("top_hidden must be positive with a second stochastic layer".into());
        }
        if self.iwae_k == 0 {
            return bad("iwae_k must be at least 1 (1 = the ELBO)".into());
        }
        if self.iwae_k > 1 && (self.beta != 1.0 || self.kl_warmup_steps > 0) {
            return bad(format!(
                "iwae_k = {} trains the IWAE bound, which has no KL term to weight: \
                 set beta = 1.0 and kl_warmup_steps = 0 (got {} and {})",
                self.iwae_k, self.beta, self.kl_warmup_steps
            ));
        }
        if !(self.beta.is_finite() && self.beta >= 0.0) {
            return bad(format!(
                "beta must be finite and non-negative, got {}",
                self.beta
            ));
        }
        Ok(())
    }

    /// Builds the model with freshly initialised weights on `device`.
    ///
    /// # Panics
    /// If [`VaeConfig::validate`] fails (callers handling user input validate first).
    pub fn init(&self, device: &Device) -> Vae {
        if let Err(e) = self.validate() {
            panic!("{e}");
        }
        let y = self.num_classes;
        let out_channels = self.channels * self.likelihood.params_per_channel();
        let linear = |i, o| LinearConfig::new(i, o).init(device);
        let [h1, h2] = self.conv_channels;
        let side = self.image_size / 4;
        let (conv, deconv, enc_in, dec_out) = match self.architecture {
            Architecture::Mlp => (
                None,
                None,
                self.dims(),
                out_channels * self.image_size * self.image_size,
            ),
            Architecture::Conv => {
                let conv = |c_in, c_out| halving_conv(c_in, c_out, device);
                let deconv = |c_in, c_out| doubling_deconv(c_in, c_out, device);
                (
                    Some([conv(self.channels, h1), conv(h1, h2)].to_vec()),
                    Some([deconv(h2, h1), deconv(h1, out_channels)].to_vec()),
                    h2 * side * side,
                    h2 * side * side,
                )
            }
        };
        let more = || {
            (1..self.hidden_layers)
                .map(|_| linear(self.hidden, self.hidden))
                .collect()
        };
        let top = (self.top_latent > 0).then(|| {
            let stack = |input| {
                (0..self.hidden_layers)
                    .map(|i| {
                        linear(
                            if i == 0 { input } else { self.top_hidden },
                            self.top_hidden,
                        )
                    })
                    .collect()
            };
            TopLayer {
                up: stack(self.latent),
                up_mean: linear(self.top_hidden, self.top_latent),
                up_logvar: linear(self.top_hidden, self.top_latent),
                down: stack(self.top_latent),
                down_mean: linear(self.top_hidden, self.latent),
                down_logvar: linear(self.top_hidden, self.latent),
            }
        });
        Vae {
            enc_convs: conv.unwrap_or_default(),
            enc_fc: linear(enc_in + y, self.hidden),
            enc_more: more(),
            enc_mean: linear(self.hidden, self.latent),
            enc_logvar: linear(self.hidden, self.latent),
            dec_fc: linear(self.latent + y, self.hidden),
            dec_more: more(),
            dec_out: linear(self.hidden, dec_out),
            dec_deconvs: deconv.unwrap_or_default(),
            top,
            likelihood: self.likelihood,
            activation: self.activation,
            channels: self.channels,
            image_size: self.image_size,
            latent: self.latent,
            num_classes: self.num_classes,
            conv_hidden: h2,
            side,
        }
    }
}

/// A variational autoencoder with a diagonal Gaussian posterior and a standard normal prior.
#[derive(Module, Debug)]
pub struct Vae {
    enc_convs: Vec<Conv2d>,
    enc_fc: Linear,
    /// The hidden layers after the first (`hidden_layers − 1`).
    enc_more: Vec<Linear>,
    enc_mean: Linear,
    enc_logvar: Linear,
    dec_fc: Linear,
    /// The hidden layers after the first (`hidden_layers − 1`).
    dec_more: Vec<Linear>,
    dec_out: Linear,
    dec_deconvs: Vec<ConvTranspose2d>,
    /// The second stochastic layer: `q(z₂|z)` and `p(z|z₂)` (`None`: `p(z) = N(0, I)`).
    top: Option<TopLayer>,
    #[module(skip)]
    likelihood: Likelihood,
    #[module(skip)]
    activation: Activation,
    channels: usize,
    image_size: usize,
    latent: usize,
    num_classes: usize,
    conv_hidden: usize,
    side: usize,
}

/// The networks of a second stochastic layer `z₂` above `z`: `q(z₂|z)` ("up") and `p(z|z₂)`
/// ("down"), each a stack of hidden layers and a diagonal Gaussian head (mean, log-variance).
#[derive(Module, Debug)]
pub struct TopLayer {
    up: Vec<Linear>,
    up_mean: Linear,
    up_logvar: Linear,
    down: Vec<Linear>,
    down_mean: Linear,
    down_logvar: Linear,
}

/// [`Vae::top_draw`]: `q(z₂|z)`'s parameters, the draw `z₂`, and `p(z|z₂)`'s parameters.
struct TopDraw {
    mean: Tensor<2>,
    logvar: Tensor<2>,
    z2: Tensor<2>,
    prior_mean: Tensor<2>,
    prior_logvar: Tensor<2>,
}

/// A hidden stack then a diagonal Gaussian head: (mean, log-variance).
fn gaussian_head(
    layers: &[Linear],
    mean: &Linear,
    logvar: &Linear,
    activation: Activation,
    input: Tensor<2>,
) -> (Tensor<2>, Tensor<2>) {
    let mut h = input;
    for layer in layers {
        h = activation.apply(layer.forward_routed(h));
    }
    (mean.forward_routed(h.clone()), logvar.forward_routed(h))
}

/// The loss of one batch and its two parts, each averaged over the batch, in nats per image.
#[derive(Debug, Clone)]
pub struct VaeOutput {
    /// `recon + kl_weight · kl` (a scalar tensor, differentiable).
    pub loss: Tensor<1>,
    /// Reconstruction NLL `−log p(x|z)` for one `z ~ q(z|x)`.
    pub recon: Tensor<1>,
    /// Analytic `KL(q(z|x) ‖ N(0, I))`.
    pub kl: Tensor<1>,
}

impl Vae {
    /// Dimension of `z`.
    pub fn latent(&self) -> usize {
        self.latent
    }

    /// Dimension of the second stochastic layer `z₂` (0 without one).
    pub fn top_latent(&self) -> usize {
        self.top.as_ref().map_or(0, |t| t.up_mean.weight.dims()[1])
    }

    /// Standard normal draws per image of one posterior sample (`latent + top_latent`).
    pub fn noise_dims(&self) -> usize {
        self.latent + self.top_latent()
    }

    /// The parameters of `q(z₂|z)`, or `None` with one stochastic layer.
    ///
    /// # Shapes
    /// `z: [B, latent]` → (`[B, top_latent]`, `[B, top_latent]`)
    pub fn encode_top(&self, z: Tensor<2>) -> Option<(Tensor<2>, Tensor<2>)> {
        let t = self.top.as_ref()?;
        Some(gaussian_head(
            &t.up,
            &t.up_mean,
            &t.up_logvar,
            self.activation,
            z,
        ))
    }

    /// The parameters of `p(z|z₂)`, or `None` with one stochastic layer.
    ///
    /// # Shapes
    /// `z2: [B, top_latent]` → (`[B, latent]`, `[B, latent]`)
    pub fn prior_given_top(&self, z2: Tensor<2>) -> Option<(Tensor<2>, Tensor<2>)> {
        let t = self.top.as_ref()?;
        Some(gaussian_head(
            &t.down,
            &t.down_mean,
            &t.down_logvar,
            self.activation,
            z2,
        ))
    }

    /// The log-weight of a code under the prior. With one stochastic layer, `log N(z; 0, I)`
    /// exactly (`eps_top` is ignored); with two, `log p(z|z₂) + log p(z₂) − log q(z₂|z)` for
    /// `z₂ = μ₂(z) + σ₂(z)·eps_top`: the log of an unbiased estimate of `p(z)`, which is what an
    /// importance weight of the joint `(z, z₂)` needs.
    ///
    /// # Shapes
    /// `z: [B, latent]`, `eps_top: [B, top_latent]` → `[B]`
    ///
    /// # Panics
    /// With two stochastic layers and `eps_top` missing.
    pub fn prior_log_weight(&self, z: Tensor<2>, eps_top: Option<Tensor<2>>) -> Tensor<1> {
        if self.top.is_none() {
            return standard_normal_log_prob(z);
        }
        let eps = eps_top.expect("a two-stochastic-layer VAE needs noise for z₂");
        let d = self.top_draw(z.clone(), eps);
        diagonal_normal_log_prob(z, d.prior_mean, d.prior_logvar)
            + standard_normal_log_prob(d.z2.clone())
            - diagonal_normal_log_prob(d.z2, d.mean, d.logvar)
    }

    /// One reparameterized draw `z₂ = μ₂(z) + σ₂(z)·eps` from `q(z₂|z)` and `p(z|z₂)` at it:
    /// what the two-layer ELBO and importance weight both need.
    ///
    /// # Panics
    /// With one stochastic layer.
    fn top_draw(&self, z: Tensor<2>, eps: Tensor<2>) -> TopDraw {
        let (mean, logvar) = self.encode_top(z).expect("top layer");
        let z2 = reparameterize(mean.clone(), logvar.clone(), eps);
        let (prior_mean, prior_logvar) = self.prior_given_top(z2.clone()).expect("top layer");
        TopDraw {
            mean,
            logvar,
            z2,
            prior_mean,
            prior_logvar,
        }
    }

    /// Codes drawn from the prior: `z ~ N(0, I)`, or ancestrally `z₂ ~ N(0, I)`,
    /// `z ~ p(z|z₂)` with two stochastic layers. `noise` holds the standard normal draws,
    /// `z₂`'s first: `[n, latent]` or `[n, top_latent + latent]`.
    ///
    /// # Shapes
    /// `noise: [n, noise_dims]` → `[n, latent]`
    pub fn prior_codes(&self, noise: Tensor<2>) -> Tensor<2> {
        let top = self.top_latent();
        if top == 0 {
            return noise;
        }
        let z2 = noise.clone().narrow(1, 0, top);
        let eps = noise.narrow(1, top, self.latent);
        let (pm, plv) = self.prior_given_top(z2).expect("top layer");
        reparameterize(pm, plv, eps)
    }

    /// Number of conditioning classes (0 = unconditional).
    pub fn num_classes(&self) -> usize {
        self.num_classes
    }

    /// `[C, H, W]` of the images the model is built for.
    pub fn image_shape(&self) -> [usize; 3] {
        [self.channels, self.image_size, self.image_size]
    }

    /// The observation model.
    pub fn likelihood(&self) -> Likelihood {
        self.likelihood
    }

    fn condition(&self, h: Tensor<2>, y: Option<&Tensor<2>>) -> Tensor<2> {
        match (self.num_classes, y) {
            (0, _) => h,
            (n, Some(y)) => {
                assert_eq!(y.dims()[1], n, "condition must be one-hot over {n} classes");
                Tensor::cat(vec![h, y.clone()], 1)
            }
            (n, None) => panic!("this VAE is conditioned on {n} classes: pass one-hot labels"),
        }
    }

    /// The parameters of `q(z|x)`: mean and log-variance.
    ///
    /// # Shapes
    /// `x: [B, C, H, W]` in [0, 1], `y: [B, num_classes]` one-hot (conditional models only)
    /// → (`[B, latent]`, `[B, latent]`)
    pub fn encode(&self, x: Tensor<4>, y: Option<&Tensor<2>>) -> (Tensor<2>, Tensor<2>) {
        let mut h = x;
        for conv in &self.enc_convs {
            h = relu(conv.forward_routed(h)); // [B, h1, H/2, W/2], then [B, h2, H/4, W/4]
        }
        let h = self.condition(h.flatten(1, 3), y);
        let mut h = self.activation.apply(self.enc_fc.forward_routed(h)); // [B, hidden]
        for layer in &self.enc_more {
            h = self.activation.apply(layer.forward_routed(h));
        }
        (
            self.enc_mean.forward_routed(h.clone()),
            self.enc_logvar.forward_routed(h),
        )
    }

    /// The parameters of `p(x|z)` (logits for Bernoulli; means then log-scales for the
    /// discretized logistic).
    ///
    /// # Shapes
    /// `z: [B, latent]`, `y: [B, num_classes]` → `[B, C · params_per_channel, H, W]`
    pub fn decode(&self, z: Tensor<2>, y: Option<&Tensor<2>>) -> Tensor<4> {
        let [b, _] = z.dims();
        let mut h = self
            .activation
            .apply(self.dec_fc.forward_routed(self.condition(z, y))); // [B, hidden]
        for layer in &self.dec_more {
            h = self.activation.apply(layer.forward_routed(h));
        }
        let h = self.dec_out.forward_routed(h);
        if self.dec_deconvs.is_empty() {
            let c = self.channels * self.likelihood.params_per_channel();
            return h.reshape([b, c, self.image_size, self.image_size]);
        }
        let mut h = relu(h).reshape([b, self.conv_hidden, self.side, self.side]);
        let last = self.dec_deconvs.len() - 1;
        for (i, deconv) in self.dec_deconvs.iter().enumerate() {
            h = deconv.forward_routed(h); // [B, h1, H/2, W/2], then [B, C', H, W]
            if i < last {
                h = relu(h);
            }
        }
        h
    }

    /// The image shown for a latent code: the mean of `p(x|z)`, in [0, 1].
    ///
    /// # Shapes
    /// `z: [B, latent]` → `[B, C, H, W]`
    pub fn decode_mean(&self, z: Tensor<2>, y: Option<&Tensor<2>>) -> Tensor<4> {
        self.likelihood.mean(self.decode(z, y))
    }

    /// `log p(x|z)` per image in nats.
    ///
    /// # Shapes
    /// `x: [B, C, H, W]`, `z: [B, latent]` → `[B]`
    pub fn log_px_given_z(&self, x: Tensor<4>, z: Tensor<2>, y: Option<&Tensor<2>>) -> Tensor<1> {
        self.likelihood.log_prob(self.decode(z, y), x)
    }

    /// Reconstructs images through the posterior mean (no sampling): `mean p(x | z = μ(x))`.
    pub fn reconstruct(&self, x: Tensor<4>, y: Option<&Tensor<2>>) -> Tensor<4> {
        let (mu, _) = self.encode(x, y);
        self.decode_mean(mu, y)
    }

    /// Per-image reconstruction NLL and KL for one reparameterized draw `z = μ + exp(logvar/2)·ε`.
    ///
    /// With two stochastic layers, `eps` also holds the draw of `z₂ ~ q(z₂|z)` (columns
    /// `latent..`), and the KL part is the one-sample estimate
    /// `−H[q(z|x)] − log p(z|z₂) + KL(q(z₂|z) ‖ N(0, I))`, the entropy and the last KL in closed
    /// form, whose expectation is `KL(q(z, z₂|x) ‖ p(z, z₂))`. The closed-form entropy stands for
    /// the sampled `log q(z|x)`: the same expectation and, through the reparameterization, the
    /// same gradient, without the sampled value's noise (variance `latent / 2` nats²) in the
    /// reported loss.
    ///
    /// # Shapes
    /// `x: [B, C, H, W]`, `eps: [B, noise_dims]` → (`[B]`, `[B]`)
    pub fn nll_parts(
        &self,
        x: Tensor<4>,
        y: Option<&Tensor<2>>,
        eps: Tensor<2>,
    ) -> (Tensor<1>, Tensor<1>) {
        let (mu, logvar) = self.encode(x.clone(), y);
        if self.top.is_none() {
            let z = reparameterize(mu.clone(), logvar.clone(), eps);
            let recon = self.log_px_given_z(x, z, y).neg();
            return (recon, gaussian_kl(mu, logvar));
        }
        let eps_top = eps.clone().narrow(1, self.latent, self.top_latent());
        let z = reparameterize(mu, logvar.clone(), eps.narrow(1, 0, self.latent));
        let recon = self.log_px_given_z(x, z.clone(), y).neg();
        let d = self.top_draw(z.clone(), eps_top);
        let kl = gaussian_entropy(logvar).neg()
            - diagonal_normal_log_prob(z, d.prior_mean, d.prior_logvar)
            + gaussian_kl(d.mean, d.logvar);
        (recon, kl)
    }

    /// `−ELBO` with the KL weighted by `kl_weight` (β, possibly warmed up), averaged over the batch.
    ///
    /// # Shapes
    /// `x: [B, C, H, W]` in [0, 1], `y: [B, num_classes]` or `None`, `eps: [B, noise_dims]` ~ N(0, I)
    pub fn loss(
        &self,
        x: Tensor<4>,
        y: Option<&Tensor<2>>,
        eps: Tensor<2>,
        kl_weight: f64,
    ) -> VaeOutput {
        let (recon, kl) = self.nll_parts(x, y, eps);
        let recon = recon.mean();
        let kl = kl.mean();
        VaeOutput {
            loss: recon.clone() + kl.clone() * kl_weight,
            recon,
            kl,
        }
    }
}

/// `z = μ + exp(logvar / 2) · ε`, differentiable in `μ` and `logvar`.
pub fn reparameterize(mu: Tensor<2>, logvar: Tensor<2>, eps: Tensor<2>) -> Tensor<2> {
    mu + (logvar * 0.5).exp() * eps
}

/// `KL(N(μ, diag exp(logvar)) ‖ N(0, I))` per row, in closed form:
/// `½ Σ (μ² + exp(logvar) − 1 − logvar)`.
///
/// # Shapes
/// `[B, L]`, `[B, L]` → `[B]`
pub fn gaussian_kl(mu: Tensor<2>, logvar: Tensor<2>) -> Tensor<1> {
    ((mu.square() + logvar.clone().exp() - 1.0 - logvar) * 0.5)
        .sum_dim(1)
        .squeeze_dim(1)
}

/// The entropy of `N(μ, diag exp(logvar))` per row: `½ Σ (1 + ln 2π + logvar)`.
///
/// # Shapes
/// `[B, L]` → `[B]`
pub fn gaussian_entropy(logvar: Tensor<2>) -> Tensor<1> {
    let l = logvar.dims()[1] as f64;
    logvar.sum_dim(1).squeeze_dim(1) * 0.5 + 0.5 * l * (1.0 + (2.0 * PI).ln())
}

/// `log N(z; μ, diag exp(logvar))` per row.
///
/// # Shapes
/// `[B, L]` ×3 → `[B]`
pub fn diagonal_normal_log_prob(z: Tensor<2>, mu: Tensor<2>, logvar: Tensor<2>) -> Tensor<1> {
    let l = z.dims()[1] as f64;
    let quad = (z - mu).square() * logvar.clone().neg().exp();
    ((quad + logvar) * -0.5).sum_dim(1).squeeze_dim(1) - 0.5 * l * (2.0 * PI).ln()
}

/// `log N(z; 0, I)` per row.
///
/// # Shapes
/// `[B, L]` → `[B]`
pub fn standard_normal_log_prob(z: Tensor<2>) -> Tensor<1> {
    let l = z.dims()[1] as f64;
    (z.square() * -0.5).sum_dim(1).squeeze_dim(1) - 0.5 * l * (2.0 * PI).ln()
}

/// One-hot float encoding of class labels.
///
/// # Shapes
/// `[B]` → `[B, num_classes]`
pub fn one_hot(labels: Tensor<1, Int>, num_classes: usize) -> Tensor<2> {
    labels.one_hot::<2>(num_classes).float()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sampling::standard_normal;
    use burn::optim::GradientsParams;
    use burn::tensor::{Distribution, TensorData};
    use genzoo_datasets::rng::Rng;
    use genzoo_layers::adam::AdamConfig;

    use crate::f64s;

    fn binary_images(n: usize, shape: [usize; 3], seed: u64, device: &Device) -> Tensor<4> {
        let mut rng = Rng::seed_from_u64(seed);
        let len = n * shape.iter().product::<usize>();
        let v: Vec<f32> = (0..len)
            .map(|_| if rng.uniform_f64() < 0.3 { 1.0 } else { 0.0 })
            .collect();
        Tensor::from_data(
            TensorData::new(v, [n, shape[0], shape[1], shape[2]]),
            device,
        )
    }

    #[test]
    fn the_mnist_mlp_preset_has_the_pytorch_examples_parameter_count() {
        // fc1 784·400+400, fc21/fc22 2·(400·20+20), fc3 20·400+400, fc4 400·784+784.
        let model = VaeConfig::mnist_mlp().init(&Device::flex());
        assert_eq!(
            model.num_params(),
            784 * 400 + 400 + 2 * (400 * 20 + 20) + 20 * 400 + 400 + 400 * 784 + 784
        );
    }

    #[test]
    fn the_burda_network_has_the_papers_layers_and_tanh_units() {
        // Burda et al. 2015 §5: 784-200-200-(50, 50) / 50-200-200-784.
        let device = Device::flex();
        let cfg = VaeConfig::burda_one_layer();
        let model = cfg.init(&device);
        let linear = |i: usize, o: usize| i * o + o;
        assert_eq!(
            model.num_params(),
            linear(784, 200)
                + linear(200, 200)
                + 2 * linear(200, 50)
                + linear(50, 200)
                + linear(200, 200)
                + linear(200, 784)
        );
        // Saturated inputs: tanh units stay within (−1, 1), so the code mean is bounded by the
        // output layer's weights; ReLU units grow without bound and the mean with them.
        let big = Tensor::<4>::ones([1, 1, 28, 28], &device) * 1e4;
        let bound = |m: &Vae| {
            let w = f64s(m.enc_mean.weight.val().abs().sum_dim(0).max())[0];
            let b = f64s(m.enc_mean.bias.as_ref().expect("bias").val().abs().max())[0];
            w + b
        };
        let (mu, _) = model.encode(big.clone(), None);
        assert!(f64s(mu.abs().max())[0] <= bound(&model) * 1.0001);
        let relu_model = cfg.with_activation(Activation::Relu).init(&device);
        let (mu, _) = relu_model.encode(big, None);
        assert!(f64s(mu.abs().max())[0] > bound(&relu_model) * 10.0);
    }

    #[test]
    fn shapes_follow_every_preset() {
        let device = Device::flex();
        for cfg in [
            VaeConfig::burda_one_layer(),
            VaeConfig::burda_two_layer(),
            VaeConfig::mnist_mlp(),
            VaeConfig::mnist_conv(),
            VaeConfig::mnist_conditional(),
            VaeConfig::mnist_2d(),
            VaeConfig::cifar10_conv(),
        ] {
            let model = cfg.init(&device);
            let s = cfg.image_size;
            let x = Tensor::<4>::random(
                [3, cfg.channels, s, s],
                Distribution::Uniform(0.0, 1.0),
                &device,
            );
            let y = (cfg.num_classes > 0).then(|| {
                one_hot(
                    Tensor::from_data(TensorData::new(vec![0i64, 3, 9], [3]), &device),
                    10,
                )
            });
            let (mu, lv) = model.encode(x.clone(), y.as_ref());
            assert_eq!(mu.dims(), [3, cfg.latent]);
            assert_eq!(lv.dims(), [3, cfg.latent]);
            let params = model.decode(mu, y.as_ref());
            let p = cfg.likelihood.params_per_channel();
            assert_eq!(params.dims(), [3, cfg.channels * p, s, s]);
            let img = model.reconstruct(x.clone(), y.as_ref());
            assert_eq!(img.dims(), [3, cfg.channels, s, s]);
            assert!(f64s(img).iter().all(|v| (0.0..=1.0).contains(v)));
            let eps = Tensor::<2>::zeros([3, cfg.noise_dims()], &device);
            let out = model.loss(x, y.as_ref(), eps, 1.0);
            let (l, r, k) = (f64s(out.loss)[0], f64s(out.recon)[0], f64s(out.kl)[0]);
            // One sample of the two-layer KL estimate may be negative; the closed form may not.
            let kl_ok = k >= 0.0 || cfg.top_latent > 0;
            assert!(r > 0.0 && kl_ok && (l - r - k).abs() < 1e-3 * l.abs());
            assert_eq!(model.noise_dims(), cfg.noise_dims());
            let mut rng = Rng::seed_from_u64(1);
            let codes = crate::sampling::prior_codes(&model, 5, &mut rng, &device);
            assert_eq!(codes.dims(), [5, cfg.latent]);
        }
    }

    #[test]
    fn kl_matches_numerical_integration() {
        // KL(N(μ, σ²) ‖ N(0, 1)) per dimension by the trapezoid rule on a fine grid, in f64 —
        // a second method, independent of the closed form under test.
        let cases = [(0.0, 0.0), (1.5, -1.0), (-0.7, 0.8), (2.0, 1.5)];
        let numeric: f64 = cases
            .iter()
            .map(|&(m, lv): &(f64, f64)| {
                let s = (0.5 * lv).exp();
                let (lo, hi, n) = (m - 12.0 * s, m + 12.0 * s, 20_000);
                let h = (hi - lo) / n as f64;
                (0..=n)
                    .map(|i| {
                        let z = lo + i as f64 * h;
                        let log_q = -0.5 * ((z - m) / s).powi(2) - s.ln() - 0.5 * (2.0 * PI).ln();
                        let log_p = -0.5 * z * z - 0.5 * (2.0 * PI).ln();
                        let w = if i == 0 || i == n { 0.5 } else { 1.0 };
                        w * h * log_q.exp() * (log_q - log_p)
                    })
                    .sum::<f64>()
            })
            .sum();
        let device = Device::flex();
        let mu: Vec<f32> = cases.iter().map(|c| c.0 as f32).collect();
        let lv: Vec<f32> = cases.iter().map(|c| c.1 as f32).collect();
        let kl = gaussian_kl(
            Tensor::from_data(TensorData::new(mu, [1, 4]), &device),
            Tensor::from_data(TensorData::new(lv, [1, 4]), &device),
        );
        let got = f64s(kl)[0];
        assert!((got - numeric).abs() < 1e-5, "{got} vs {numeric}");
    }

    /// A VAE small enough that `log p(x) = log ∫ p(x|z) N(z; 0, 1) dz` can be computed by
    /// quadrature over a one-dimensional `z`: 2×2 binary images, 8 hidden units.
    /// Replaces every float parameter by N(0, 0.5²) values from a host RNG, so a test's model does
    /// not depend on the device RNG, which tests running in parallel threads share.
    /// Every parameter drawn from N(0, std²) by genzoo's own generator: `HostInit(rng, std)`.
    struct HostInit(Rng, f32);

    impl burn::module::ModuleMapper for HostInit {
        fn map_float<const D: usize>(
            &mut self,
            param: burn::module::Param<Tensor<D>>,
        ) -> burn::module::Param<Tensor<D>> {
            let (rng, std) = (&mut self.0, self.1);
            param.map(|t| {
                let shape = t.dims();
                let values: Vec<f32> = (0..shape.iter().product::<usize>())
                    .map(|_| std * rng.normal_f32())
                    .collect();
                Tensor::from_data(TensorData::new(values, shape), &t.device())
            })
        }
    }

    fn tiny() -> (Vae, Device) {
        let device = Device::flex();
        let cfg = VaeConfig::new()
            .with_image_size(2)
            .with_hidden(8)
            .with_latent(1);
        let model = cfg
            .init(&device)
            .map(&mut HostInit(Rng::seed_from_u64(11), 0.5));
        (model, device)
    }

    fn quadrature_log_px(model: &Vae, x: &Tensor<4>, device: &Device) -> Vec<f64> {
        let n = 4001;
        let (lo, hi) = (-10.0f64, 10.0f64);
        let h = (hi - lo) / (n - 1) as f64;
        let zs: Vec<f32> = (0..n).map(|i| (lo + i as f64 * h) as f32).collect();
        let z = Tensor::<2>::from_data(TensorData::new(zs.clone(), [n, 1]), device);
        let b = x.dims()[0];
        (0..b)
            .map(|i| {
                let xi = x.clone().narrow(0, i, 1).repeat_dim(0, n);
                let lp = f64s(model.log_px_given_z(xi, z.clone(), None));
                let terms: Vec<f64> = lp
                    .iter()
                    .zip(&zs)
                    .enumerate()
                    .map(|(j, (l, &z))| {
                        let w: f64 = if j == 0 || j == n - 1 { 0.5 } else { 1.0 };
                        l - 0.5 * f64::from(z).powi(2) - 0.5 * (2.0 * PI).ln() + (w * h).ln()
                    })
                    .collect();
                let m = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                m + terms.iter().map(|t| (t - m).exp()).sum::<f64>().ln()
            })
            .collect()
    }

    #[test]
    fn elbo_and_importance_bound_sit_below_log_p_x_and_close_in() {
        let (model, device) = tiny();
        let x = binary_images(4, [1, 2, 2], 5, &device);
        let truth = quadrature_log_px(&model, &x, &device);
        // The ELBO, E_q[log p(x|z)] − KL, by Monte Carlo over many draws of ε.
        let draws = 4000;
        let mut rng = Rng::seed_from_u64(1);
        let xr = x.clone().repeat_dim(0, draws);
        let eps = standard_normal(4 * draws, 1, &mut rng, &device);
        let (recon, kl) = model.nll_parts(xr, None, eps);
        let neg_elbo = f64s((recon + kl).reshape([draws, 4]).mean_dim(0));
        // L_2000 for 16 independent repeats of each image, in one batch.
        let repeats = 16;
        let mut rng = Rng::seed_from_u64(2);
        let iwae = f64s(model.importance_weighted_log_likelihood(
            x.repeat_dim(0, repeats),
            None,
            2000,
            250,
            &mut rng,
        ));
        for i in 0..4 {
            let elbo = -neg_elbo[i];
            assert!(
                elbo < truth[i] - 0.02,
                "ELBO {elbo} not below log p(x) {}",
                truth[i]
            );
            let est: Vec<f64> = (0..repeats).map(|r| iwae[r * 4 + i]).collect();
            let mean = est.iter().sum::<f64>() / repeats as f64;
            let var = est.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / (repeats - 1) as f64;
            let se = (var / repeats as f64).sqrt();
            assert!(mean > elbo, "L_2000 {mean} below the ELBO {elbo}");
            assert!(
                mean < truth[i] + 3.0 * se + 1e-4,
                "mean L_2000 {mean} above log p(x) {} (standard error {se})",
                truth[i]
            );
            assert!((mean - truth[i]).abs() < 0.01, "{mean} vs {}", truth[i]);
        }
    }

    #[test]
    fn the_same_noise_gives_the_same_loss_and_a_reloaded_model_the_same_output() {
        let device = Device::flex();
        let model = VaeConfig::mnist_mlp().init(&device);
        let x = binary_images(4, [1, 28, 28], 3, &device);
        let loss = |m: &Vae, seed: u64| {
            let mut rng = Rng::seed_from_u64(seed);
            let eps = standard_normal(4, 20, &mut rng, &device);
            f64s(m.loss(x.clone(), None, eps, 1.0).loss)[0]
        };
        assert_eq!(loss(&model, 4), loss(&model, 4));
        assert_ne!(loss(&model, 4), loss(&model, 5));
        // A fresh model loaded from the first one's record is the same function.
        let other = VaeConfig::mnist_mlp()
            .init(&device)
            .load_record(model.clone().into_record());
        assert_eq!(loss(&model, 4), loss(&other, 4));
    }

    #[test]
    fn the_iwae_objective_with_one_sample_is_the_elbo_loss() {
        let device = Device::flex();
        device.seed(7);
        let model = VaeConfig::mnist_mlp().init(&device);
        let x = binary_images(5, [1, 28, 28], 4, &device);
        let mut rng = Rng::seed_from_u64(21);
        let iwae1 = f64s(model.iwae_loss(x.clone(), None, 1, &mut rng))[0];
        let mut rng = Rng::seed_from_u64(21);
        let eps = standard_normal(5, 20, &mut rng, &device);
        // The single-sample ELBO with a Monte-Carlo KL, log q(z|x) − log p(z), at the same z.
        let (mu, lv) = model.encode(x.clone(), None);
        let z = reparameterize(mu.clone(), lv.clone(), eps.clone());
        let mc_kl = diagonal_normal_log_prob(z.clone(), mu, lv) - standard_normal_log_prob(z);
        let recon = model.nll_parts(x.clone(), None, eps.clone()).0;
        let single = f64s((recon + mc_kl).mean())[0];
        assert!((iwae1 - single).abs() < 1e-3, "{iwae1} vs {single}");
        // More samples tighten the bound on average: −L_50 < −ELBO for an untrained model. One
        // draw of each can come out the other way round; 40 draws per image cannot.
        let xs = x.repeat_dim(0, 40);
        let eps = standard_normal(200, 20, &mut rng, &device);
        let elbo = f64s(model.loss(xs.clone(), None, eps, 1.0).loss)[0];
        let mut rng = Rng::seed_from_u64(22);
        let iwae50 = f64s(model.iwae_loss(xs, None, 50, &mut rng))[0];
        assert!(iwae50 < elbo, "{iwae50} vs {elbo}");
        let bad = VaeConfig::mnist_iwae().with_beta(4.0);
        assert!(matches!(bad.validate(), Err(VaeError::InvalidConfig(m)) if m.contains("iwae_k")));
    }

    #[test]
    fn kl_weight_ramps_to_beta() {
        let cfg = VaeConfig::mnist_beta();
        assert_eq!(cfg.kl_weight(0), 0.0);
        assert_eq!(cfg.kl_weight(1000), 2.0);
        assert_eq!(cfg.kl_weight(2000), 4.0);
        assert_eq!(cfg.kl_weight(50_000), 4.0);
        assert_eq!(VaeConfig::mnist_mlp().kl_weight(0), 1.0);
    }

    #[test]
    fn invalid_configs_are_errors_not_panics() {
        let conv = VaeConfig::mnist_conv().with_image_size(30);
        assert!(matches!(conv.validate(), Err(VaeError::InvalidConfig(m)) if m.contains("30")));
        assert!(VaeConfig::mnist_mlp().with_latent(0).validate().is_err());
        assert!(VaeConfig::mnist_mlp().with_beta(-1.0).validate().is_err());
        assert!(
            VaeConfig::mnist_mlp()
                .with_image_size(30)
                .validate()
                .is_ok()
        );
    }

    #[test]
    fn the_conditional_decoder_depends_on_the_label() {
        let device = Device::flex();
        let model = VaeConfig::mnist_conditional().init(&device);
        let z = Tensor::<2>::zeros([2, 20], &device);
        let y = one_hot(
            Tensor::from_data(TensorData::new(vec![1i64, 7], [2]), &device),
            10,
        );
        let img = f64s(model.decode_mean(z, Some(&y)));
        let diff: f64 = img[..784]
            .iter()
            .zip(&img[784..])
            .map(|(a, b)| (a - b).abs())
            .sum();
        assert!(diff > 1e-3, "labels 1 and 7 decode identically");
    }

    /// Logistic CDF in f64.
    fn cdf(x: f64) -> f64 {
        1.0 / (1.0 + (-x).exp())
    }

    #[test]
    fn discretized_logistic_matches_cdf_differences_and_sums_to_one() {
        let device = Device::flex();
        for (m, ls) in [(0.1f64, -2.0f64), (-0.9, -3.5), (0.95, -1.0), (0.0, -6.5)] {
            let xs: Vec<f32> = (0..256).map(|k| k as f32 / 255.0).collect();
            let x = Tensor::<4>::from_data(TensorData::new(xs, [1, 1, 1, 256]), &device);
            let mean = Tensor::<4>::zeros([1, 1, 1, 256], &device) + m;
            let log_scale = Tensor::<4>::zeros([1, 1, 1, 256], &device) + ls;
            let lp = f64s(discretized_logistic_log_prob(mean, log_scale, x));
            let s = ls.exp();
            let mut total = 0.0;
            for (k, l) in lp.iter().enumerate() {
                let c = 2.0 * k as f64 / 255.0 - 1.0;
                let upper = if k == 255 {
                    1.0
                } else {
                    cdf((c + 1.0 / 255.0 - m) / s)
                };
                let lower = if k == 0 {
                    0.0
                } else {
                    cdf((c - 1.0 / 255.0 - m) / s)
                };
                let p = upper - lower;
                total += l.exp();
                if p > 1e-4 {
                    assert!(
                        (l - p.ln()).abs() < 2e-3,
                        "bin {k}, mean {m}, log-scale {ls}: {l} vs {}",
                        p.ln()
                    );
                }
            }
            assert!((total - 1.0).abs() < 2e-3, "mass {total} for mean {m}");
        }
    }

    #[test]
    fn a_few_adam_steps_reduce_the_negative_elbo() {
        for cfg in [VaeConfig::mnist_mlp(), VaeConfig::burda_two_layer()] {
            let device = Device::flex().autodiff();
            device.seed(3);
            let mut model = cfg.init(&device);
            let top_before = model.top.as_ref().map(|t| f64s(t.down_mean.weight.val()));
            let mut optim = AdamConfig::new().init();
            let x = binary_images(16, [1, 28, 28], 8, &device);
            let mut rng = Rng::seed_from_u64(0);
            let mut losses = Vec::new();
            for _ in 0..80 {
                let eps = standard_normal(16, cfg.noise_dims(), &mut rng, &device);
                let out = model.loss(x.clone(), None, eps, 1.0);
                losses.push(out.loss.clone().into_scalar::<f32>());
                let grads = GradientsParams::from_grads(out.loss.backward(), &model);
                model = optim.step(1e-3, model, grads);
            }
            let (first, last) = (losses[0], losses[losses.len() - 1]);
            assert!(
                last < 0.8 * first,
                "{cfg:?}: −ELBO went from {first} to {last}"
            );
            if let (Some(before), Some(t)) = (top_before, model.top.as_ref()) {
                // The prior p(z|z₂) learns too: its weights receive gradients.
                assert_ne!(before, f64s(t.down_mean.weight.val()));
            }
        }
    }

    /// A two-stochastic-layer model small enough to integrate numerically: 4 pixels, `z` and
    /// `z₂` one-dimensional, every weight drawn from N(0, STD²) so that `p(z|z₂)` and `p(x|z)`
    /// are far from flat.
    fn tiny_two_layer(device: &Device) -> Vae {
        let cfg = VaeConfig::new()
            .with_image_size(2)
            .with_hidden(8)
            .with_latent(1)
            .with_top_latent(1)
            .with_top_hidden(8)
            .with_activation(Activation::Tanh);
        cfg.init(device)
            .map(&mut HostInit(Rng::seed_from_u64(11), STD))
    }

    /// `log Σ exp(v)` in f64.
    fn lse(v: &[f64]) -> f64 {
        let m = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        m + v.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
    }

    /// A column of grid points `lo, lo + h, …` as a `[n, 1]` tensor.
    fn grid_column(lo: f64, h: f64, n: usize, device: &Device) -> (Vec<f64>, Tensor<2>) {
        let v: Vec<f64> = (0..n).map(|i| lo + h * i as f64).collect();
        let f: Vec<f32> = v.iter().map(|x| *x as f32).collect();
        (v, Tensor::from_data(TensorData::new(f, [n, 1]), device))
    }

    /// `log N(z; m, exp(lv))` of one dimension, in f64.
    fn log_normal(z: f64, m: f64, lv: f64) -> f64 {
        -0.5 * ((z - m).powi(2) * (-lv).exp() + lv + (2.0 * PI).ln())
    }

    const STD: f32 = 0.4;
    /// Quadrature grids (first point, step, points) of `z` and of `z₂ ~ N(0, 1)`.
    const Z_GRID: (f64, f64, usize) = (-30.0, 0.02, 3001);
    const Z2_GRID: (f64, f64, usize) = (-9.0, 0.02, 901);

    /// `log p(z|z₂) + log N(z₂; 0, 1) + log Δz₂` on the grid `z × z₂` (rows `z`), by the
    /// model's own conditional: `lse` of a row is `log p(z)`.
    fn prior_table(model: &Vae, device: &Device) -> Vec<Vec<f64>> {
        let (zs, _) = grid_column(Z_GRID.0, Z_GRID.1, Z_GRID.2, device);
        let (z2s, col) = grid_column(Z2_GRID.0, Z2_GRID.1, Z2_GRID.2, device);
        let (pm, plv) = model.prior_given_top(col).expect("two layers");
        let (pm, plv) = (f64s(pm), f64s(plv));
        let h2 = Z2_GRID.1.ln();
        zs.iter()
            .map(|z| {
                (0..z2s.len())
                    .map(|j| log_normal(*z, pm[j], plv[j]) + log_normal(z2s[j], 0.0, 0.0) + h2)
                    .collect()
            })
            .collect()
    }

    #[test]
    fn the_two_layer_prior_weight_is_an_unbiased_estimate_of_the_marginal_of_z() {
        // p(z) = ∫ p(z|z₂) N(z₂; 0, 1) dz₂ by quadrature against the mean of exp(prior_log_weight)
        // over draws of z₂ ~ q(z₂|z).
        let device = Device::flex();
        let model = tiny_two_layer(&device);
        let table = prior_table(&model, &device);
        let draws = 40_000;
        let mut rng = Rng::seed_from_u64(5);
        for zi in [1400, 1450, 1500, 1560, 1660] {
            let z = Z_GRID.0 + Z_GRID.1 * zi as f64;
            let truth = lse(&table[zi]).exp();
            let zt =
                Tensor::<2>::from_data(TensorData::new(vec![z as f32; draws], [draws, 1]), &device);
            let eps = standard_normal(draws, 1, &mut rng, &device);
            let w: Vec<f64> = f64s(model.prior_log_weight(zt, Some(eps)))
                .into_iter()
                .map(f64::exp)
                .collect();
            let mean = w.iter().sum::<f64>() / draws as f64;
            let se = (w.iter().map(|v| (v - mean).powi(2)).sum::<f64>()
                / ((draws - 1) * draws) as f64)
                .sqrt();
            assert!(
                (mean - truth).abs() < 4.0 * se + 1e-3 * truth,
                "z = {z}: mean weight {mean} ± {se}, p(z) = {truth}"
            );
        }
    }

    #[test]
    fn the_two_layer_bounds_agree_with_log_p_x_by_quadrature() {
        let device = Device::flex();
        let model = tiny_two_layer(&device);
        let (lo, h, n) = Z_GRID;
        // log p(z) on the grid, then log p(x) = log ∫ p(x|z) p(z) dz.
        let log_pz: Vec<f64> = prior_table(&model, &device)
            .iter()
            .map(|r| lse(r))
            .collect();
        let (_, zcol) = grid_column(lo, h, n, &device);
        let images: [[f32; 4]; 3] = [[1.0, 0.0, 0.0, 1.0], [1.0, 1.0, 1.0, 0.0], [0.0; 4]];
        for img in images {
            let x1 = Tensor::<4>::from_data(TensorData::new(img.to_vec(), [1, 1, 2, 2]), &device);
            let log_px_z =
                f64s(model.log_px_given_z(x1.clone().repeat_dim(0, n), zcol.clone(), None));
            let t: Vec<f64> = (0..n).map(|i| log_px_z[i] + log_pz[i] + h.ln()).collect();
            let truth = lse(&t);
            let rows = 2000;
            let x = x1.clone().repeat_dim(0, rows);
            let mut rng = Rng::seed_from_u64(9);
            // L_1 and the one-sample −ELBO of `nll_parts` have the same expectation.
            let l1 =
                f64s(model.importance_weighted_log_likelihood(x.clone(), None, 1, 1, &mut rng));
            let eps = standard_normal(rows, 2, &mut rng, &device);
            let (r, k) = model.nll_parts(x.clone(), None, eps);
            let nelbo: Vec<f64> = f64s(r).iter().zip(f64s(k)).map(|(a, b)| a + b).collect();
            let stats = |v: &[f64]| {
                let m = v.iter().sum::<f64>() / v.len() as f64;
                let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64;
                (m, (var / v.len() as f64).sqrt())
            };
            let (m1, se1) = stats(&l1);
            let (me, see) = stats(&nelbo);
            assert!(
                (m1 + me).abs() < 4.0 * (se1 * se1 + see * see).sqrt(),
                "E[L_1] = {m1} ± {se1} but −E[recon + KL] = {} ± {see}",
                -me
            );
            assert!(
                m1 < truth,
                "the ELBO {m1} must lie below log p(x) = {truth}"
            );
            // L_5000 of 40 copies of the image: its mean within Monte-Carlo error of log p(x),
            // far above the ELBO.
            let lk = f64s(model.importance_weighted_log_likelihood(
                x1.clone().repeat_dim(0, 40),
                None,
                5000,
                500,
                &mut rng,
            ));
            let (mk, sek) = stats(&lk);
            assert!(
                (mk - truth).abs() < 4.0 * sek + 0.005,
                "L_5000 = {mk} ± {sek}, log p(x) = {truth}"
            );
            assert!(mk > m1 + 0.5, "L_5000 = {mk} barely above the ELBO {m1}");
        }
    }
}
