//! WGAN-GP gradient penalty — Gulrajani et al. 2017, "Improved Training of Wasserstein GANs",
//! arXiv:1704.00028, Algorithm 1: `λ (‖∇x̂ D(x̂)‖₂ − 1)²` on `x̂ = εx + (1 − ε)x̃`, ε ~ U[0, 1]
//! per sample, the norm taken per sample over all of C, H, W.
//!
//! burn 0.22's autodiff is first order (`x.grad()` carries no graph), so `∇x̂ D(x̂)` comes from
//! [`Discriminator::input_gradient`], which writes it as ordinary differentiable tensor ops; the
//! penalty's parameter gradients then come from one ordinary backward pass.

use burn::tensor::Tensor;

use crate::nets::Discriminator;

/// The penalty, averaged over the batch and multiplied by `lambda`.
///
/// # Shapes
/// `real, fake: [B, C, H, W]`, `eps: [B, 1, 1, 1]` in [0, 1], `labels: [B, classes]` → `[1]`
pub fn gradient_penalty(
    critic: &Discriminator,
    real: Tensor<4>,
    fake: Tensor<4>,
    eps: Tensor<4>,
    labels: Option<Tensor<2>>,
    lambda: f64,
) -> Tensor<1> {
    let x_hat = real * eps.clone() + fake * (eps.neg() + 1.0);
    let grad: Tensor<2> = critic.input_gradient(x_hat, labels).flatten(1, 3); // [B, C·H·W]
    // The tiny constant keeps the derivative of the square root finite at a zero gradient.
    let norm = (grad.square().sum_dim(1) + 1e-12).sqrt(); // [B, 1]
    (norm - 1.0).square().mean().mul_scalar(lambda)
}
