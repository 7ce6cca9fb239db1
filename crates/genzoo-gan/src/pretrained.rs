//! The GANs' shipped weights: the conditional DCGAN on MNIST by its recipe in `docs/recipes/`.
//! `genzoo sample --pretrained NAME --label K` and `genzoo eval --pretrained NAME --metrics acc`
//! load it; [`genzoo_train::Pretrained::weights`] checks it against its pinned SHA-256.

use genzoo_train::pretrained::{Pretrained, TestNumber};

/// The shipped GAN weights.
pub const SHIPPED: &[Pretrained] = &[genzoo_train::shipped!(
    "cgan-mnist",
    "cgan",
    "docs/recipes/cgan-mnist.toml",
    TestNumber::class_accuracy(0.9938, 0.99),
    "conditional DCGAN (projection discriminator), MNIST, 5 epochs, Adam(0.5, 0.999) 2e-4",
)];
