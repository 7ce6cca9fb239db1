//! What a model needs in memory, from its configuration alone, so that a configuration too
//! large for the machine is refused with the estimate before a single weight is allocated.
//!
//! Estimates count the large terms only (weight matrices and kernels, the activations kept for
//! the backward pass); biases and norms are small beside them. They are meant to refuse sizes
//! that cannot fit, not to predict the peak: a training step needs more than this.

use genzoo_gan::Architecture;
use genzoo_pixel::{GatedPixelCnnConfig, PixelCnnConfig, PixelRnnConfig, RnnKind};
use genzoo_train::Result;
use genzoo_train::memory::{TRAINED_PARAM_BYTES, check_fits};

/// Bytes per activation value kept for the backward pass: the value and its gradient.
const ACTIVATION_BYTES: u64 = 2 * 4;

/// Parameters and activation values per image of a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    /// Trained parameters.
    pub params: u64,
    /// Activation values one training image keeps for the backward pass.
    pub activations: u64,
}

/// Saturating product of the sizes.
fn prod(sizes: &[usize]) -> u64 {
    sizes
        .iter()
        .fold(1u64, |acc, &v| acc.saturating_mul(v as u64))
}

/// Saturating sum.
fn sum(terms: &[u64]) -> u64 {
    terms.iter().fold(0u64, |acc, &v| acc.saturating_add(v))
}

impl Size {
    /// Refuses the model `what` trained with batches of `batch` images when it cannot fit.
    pub fn check(self, what: &str, batch: usize) -> Result<()> {
        let bytes = self
            .params
            .saturating_mul(TRAINED_PARAM_BYTES)
            .saturating_add(
                self.activations
                    .saturating_mul(batch as u64)
                    .saturating_mul(ACTIVATION_BYTES),
            );
        check_fits(
            &format!(
                "{what} ({} parameters, batches of {batch} images)",
                self.params
            ),
            bytes,
        )
    }
}

/// The convolutional autoencoder's activations per image (its parameters are counted exactly by
/// [`genzoo_vae::AutoencoderConfig::num_params`]).
pub fn autoencoder_activations(c: &genzoo_vae::AutoencoderConfig) -> u64 {
    let (half, quarter) = (c.image_size / 2, c.image_size / 4);
    sum(&[
        prod(&[c.hidden[0], half, half, 2]),
        prod(&[c.hidden[1], quarter, quarter, 2]),
        prod(&[c.latent, 1]),
        prod(&[c.channels, c.image_size, c.image_size, 2]),
    ])
}

/// The VAE (MLP or convolutional encoder and decoder), from its sizes, to within the small
/// layers (biases, the conv stacks' kernels).
pub fn vae(c: &genzoo_vae::VaeConfig) -> Size {
    let pixels = prod(&[c.channels, c.image_size, c.image_size]);
    let flat = match c.architecture {
        genzoo_vae::Architecture::Mlp => pixels,
        genzoo_vae::Architecture::Conv => {
            prod(&[c.conv_channels[1], c.image_size / 4, c.image_size / 4])
        }
    };
    let (h, z, y) = (c.hidden as u64, c.latent as u64, c.num_classes as u64);
    let m = |a: u64, b: u64| a.saturating_mul(b);
    // Up to two decoder outputs per pixel (the discretized logistic's mean and scale).
    Size {
        params: sum(&[
            m(flat.saturating_add(y), h),
            m(h, m(2, z)),
            m(z.saturating_add(y), h),
            m(h, m(2, flat)),
        ]),
        activations: m(
            sum(&[m(pixels, 3), m(flat, 2), m(h, 2), m(z, 3)]),
            c.iwae_k as u64,
        ),
    }
}

/// PixelCNN: a 7×7-style first layer, residual blocks of 1×1 → k×k → 1×1 at half width, a
/// two-layer 1×1 head.
pub fn pixelcnn(c: &PixelCnnConfig) -> Size {
    let (h, half) = (c.hidden, c.hidden / 2);
    let fk = c.first_kernel;
    let bk = c.block_kernel;
    let block = sum(&[
        prod(&[h, half]),
        prod(&[half, half, bk, bk]),
        prod(&[half, h]),
    ]);
    let pixels = prod(&[c.image_size, c.image_size]);
    Size {
        params: sum(&[
            prod(&[c.channels, h, fk, fk]),
            block.saturating_mul(c.residual_blocks as u64),
            prod(&[h, c.head_hidden]),
            prod(&[c.head_hidden, c.channels, c.levels]),
        ]),
        activations: pixels.saturating_mul(sum(&[
            prod(&[h, 2 * c.residual_blocks + 2]),
            c.head_hidden as u64,
            prod(&[c.channels, c.levels]),
        ])),
    }
}

/// Gated PixelCNN: per layer a vertical k×k and a horizontal 1×k gated convolution (2h outputs
/// each), the vertical-to-horizontal and output 1×1 links, and per-class biases.
pub fn gated(c: &GatedPixelCnnConfig) -> Size {
    let h = c.hidden;
    let k = c.kernel;
    let fk = c.first_kernel;
    let layer = sum(&[
        prod(&[2 * h, h, k, k]),
        prod(&[2 * h, h, k]),
        prod(&[3 * h, h]),
        prod(&[c.classes, 4 * h]),
    ]);
    let pixels = prod(&[c.image_size, c.image_size]);
    Size {
        params: sum(&[
            prod(&[c.channels, 4 * h, fk, fk]),
            layer.saturating_mul(c.layers as u64),
            prod(&[h, c.head_hidden]),
            prod(&[c.head_hidden, c.channels, c.levels]),
        ]),
        activations: pixels.saturating_mul(sum(&[
            prod(&[6 * h, c.layers + 1]),
            c.head_hidden as u64,
            prod(&[c.channels, c.levels]),
        ])),
    }
}

/// PixelRNN: per layer the input-to-state and state-to-state convolutions of the four LSTM gates
/// (both directions for the Diagonal BiLSTM), a two-layer head.
pub fn pixelrnn(c: &PixelRnnConfig) -> Size {
    let h = c.hidden;
    let directions = match c.kind {
        RnnKind::DiagonalBiLstm => 2,
        RnnKind::RowLstm => 1,
    };
    let fk = c.first_kernel;
    let layer = prod(&[directions, 2, 4 * h, h, c.row_kernel.max(2)]);
    let pixels = prod(&[c.image_size, c.image_size]);
    Size {
        params: sum(&[
            prod(&[c.channels, 2 * h, fk, fk]),
            layer.saturating_mul(c.layers as u64),
            prod(&[h, c.head_hidden]),
            prod(&[c.head_hidden, c.channels, c.levels]),
        ]),
        activations: pixels.saturating_mul(sum(&[
            prod(&[directions, 6 * h, c.layers]),
            c.head_hidden as u64,
            prod(&[c.channels, c.levels]),
        ])),
    }
}

/// The generator and the discriminator of a GAN (the MLP or the DCGAN).
pub fn gan(a: &Architecture) -> Size {
    match a {
        Architecture::Mlp(c) => {
            let d = c.data_dim();
            let [g0, g1] = c.g_hidden;
            let [d0, d1] = c.d_hidden;
            Size {
                params: sum(&[
                    prod(&[c.latent + c.classes, g0]),
                    prod(&[g0, g1]),
                    prod(&[g1, d]),
                    prod(&[d + c.classes, d0]),
                    prod(&[d0, d1]),
                    d1 as u64,
                ]),
                activations: sum(&[prod(&[g0 + g1 + d, 1]), prod(&[d + d0 + d1, 2])]),
            }
        }
        Architecture::Dcgan(c) => {
            let s = c.image_size / 4;
            let half = c.image_size / 2;
            let [g0, g1] = c.g_hidden;
            let [d0, d1] = c.d_hidden;
            Size {
                params: sum(&[
                    prod(&[c.latent + c.classes, g0, s, s]),
                    prod(&[g0, g1, 4, 4]),
                    prod(&[g1, c.channels, 4, 4]),
                    prod(&[c.channels + c.classes, d0, 4, 4]),
                    prod(&[d0, d1, 4, 4]),
                    prod(&[d1, s, s, 1 + c.classes]),
                ]),
                activations: sum(&[
                    prod(&[g0, s, s]),
                    prod(&[g1, half, half]),
                    prod(&[c.channels, c.image_size, c.image_size, 3]),
                    prod(&[d0 + c.classes, half, half, 2]),
                    prod(&[d1, s, s, 2]),
                ]),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::Module;
    use burn::tensor::Device;

    /// Within a factor of 2 of the built model's parameter count: the estimate is for refusing
    /// what cannot fit, and must not refuse what does.
    fn close(estimate: u64, actual: usize, what: &str) {
        let actual = actual as u64;
        assert!(
            estimate * 2 >= actual && estimate <= actual * 2,
            "{what}: estimate {estimate}, model {actual}"
        );
    }

    #[test]
    fn estimates_are_near_the_built_models() {
        let device = Device::flex();
        let c = PixelCnnConfig::mnist();
        close(
            pixelcnn(&c).params,
            c.init(&device).num_params(),
            "pixelcnn",
        );
        for c in [
            GatedPixelCnnConfig::mnist(),
            GatedPixelCnnConfig::mnist_conditional(),
        ] {
            close(gated(&c).params, c.init(&device).num_params(), "gated");
        }
        for c in [PixelRnnConfig::mnist_row_lstm(), PixelRnnConfig::mnist()] {
            close(
                pixelrnn(&c).params,
                c.init(&device).num_params(),
                "pixelrnn",
            );
        }
        for a in [
            Architecture::Mlp(genzoo_gan::MlpGanConfig::mnist()),
            Architecture::Dcgan(genzoo_gan::DcganConfig::mnist()),
        ] {
            let n =
                a.init_generator(&device).num_params() + a.init_discriminator(&device).num_params();
            close(gan(&a).params, n, "gan");
        }
    }

    #[test]
    fn the_vae_estimate_is_near_the_built_model() {
        let device = Device::flex();
        for c in [
            genzoo_vae::VaeConfig::mnist_mlp(),
            genzoo_vae::VaeConfig::mnist_conditional(),
        ] {
            close(vae(&c).params, c.init(&device).num_params(), "vae");
        }
    }

    #[test]
    fn absurd_sizes_saturate_and_are_refused() {
        let c = PixelCnnConfig::mnist().with_hidden(usize::MAX / 2);
        let size = pixelcnn(&c);
        assert_eq!(size.params, u64::MAX);
        let err = size.check("the PixelCNN", 32).expect_err("cannot fit");
        assert!(err.to_string().contains("GiB"), "{err}");
        assert!(
            pixelcnn(&PixelCnnConfig::mnist())
                .check("the PixelCNN", 32)
                .is_ok(),
            "the preset fits"
        );
    }
}
