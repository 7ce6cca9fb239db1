//! The VAE family's shipped weights: Burda et al.'s one-stochastic-layer network trained as a VAE
//! and as an IWAE (k = 5) on the fixed binarized MNIST, and the conditional VAE with a 2-D latent
//! space on MNIST, each by its recipe in `docs/recipes/`.
//! `genzoo sample --pretrained NAME` and `genzoo eval --pretrained NAME` load them;
//! [`genzoo_train::Pretrained::weights`] checks each against its pinned SHA-256.

use genzoo_train::pretrained::{Pretrained, TestNumber};
use genzoo_train::shipped;

/// The shipped VAE-family weights.
pub const SHIPPED: &[Pretrained] = &[
    shipped!(
        "vae-burda-binarized-mnist",
        "vae",
        "docs/recipes/vae-burda-lr-decay-binarized-mnist.toml",
        TestNumber::iwae5000(92.502985, 93.012255),
        "VAE, 784-200-200-50 tanh (Burda et al.'s one stochastic layer), 60 epochs, Adam 1e-3 ×0.95/epoch",
    ),
    shipped!(
        "iwae5-burda-binarized-mnist",
        "iwae",
        "docs/recipes/iwae5-burda-lr-decay-binarized-mnist.toml",
        TestNumber::iwae5000(90.782381, 91.179748),
        "IWAE k = 5, 784-200-200-50 tanh (Burda et al.'s one stochastic layer), 60 epochs, Adam 1e-3 ×0.95/epoch",
    ),
    shipped!(
        "cvae-2d-mnist",
        "cvae",
        "docs/recipes/cvae-2d-mnist.toml",
        TestNumber::class_accuracy(0.9972, 1.0),
        "conditional VAE, 784+10-400-2 ReLU, dynamically binarized MNIST, 10 epochs, Adam 1e-3",
    ),
];
