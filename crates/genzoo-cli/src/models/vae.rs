//! The VAE family's registry entries (`vae`, `vae-conv`, `beta-vae`, `cvae`, `vae-2d`, `iwae`);
//! the task, presets and checks are `genzoo_vae::train`'s.

use genzoo_vae::train::preset;

use super::{ModelConfig, ModelSpec, defaults};

/// The VAE entries: name and summary.
const VAES: [(&str, &str); 6] = [
    (
        "vae",
        "VAE, MLP 784-400-(20,20), Bernoulli decoder (Kingma & Welling 2014; lecture §2.2)",
    ),
    (
        "vae-conv",
        "convolutional VAE (Bernoulli on MNIST, discretized logistic on CIFAR-10)",
    ),
    (
        "beta-vae",
        "β-VAE, β = 4 with a linear KL warm-up (Higgins et al. 2017)",
    ),
    (
        "cvae",
        "conditional VAE, one-hot label into encoder and decoder (Sohn et al. 2015)",
    ),
    (
        "vae-2d",
        "MLP VAE with z in R^2: the 2-D latent manifold (Kingma & Welling Fig. 4)",
    ),
    (
        "iwae",
        "importance-weighted autoencoder, MLP preset trained on L_5 (Burda et al. 2015)",
    ),
];

/// Whether `name` is a VAE entry.
pub fn is_vae(name: &str) -> bool {
    VAES.iter().any(|(n, _)| *n == name)
}

/// The VAE entries, with the pytorch/examples VAE's training defaults (Adam 1e-3, batch 128).
pub fn entries() -> [ModelSpec; 6] {
    VAES.map(|(name, summary)| ModelSpec {
        name,
        summary,
        defaults: defaults(128, 10, 1e-3),
        make_preset: |name, dataset| ModelConfig::tagged(name, &preset(name, dataset)),
    })
}
