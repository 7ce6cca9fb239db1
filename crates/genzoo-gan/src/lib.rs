//! # genzoo-gan — generative adversarial networks on burn
//!
//! Lecture 13 of CS231n, §2.3. A generator `G: z ↦ x` and a discriminator (critic) `D: x ↦ score`
//! play a game; this crate has the objectives ([`GanLoss`]: minimax, non-saturating, LSGAN,
//! Wasserstein, hinge), the Lipschitz constraints of the WGANs ([`clip_weights`],
//! [`gradient_penalty`]), spectral normalization of the discriminator ([`SpectralNorm`]), two
//! architectures (an MLP GAN and [`DcganConfig::mnist`]), optional class conditioning (cGAN, and
//! AC-GAN's auxiliary classifier), the latent sampler ([`latent`]), the alternating update of the lecture
//! ([`GanTrainer`]: `k` discriminator steps per generator step, two optimizers) and the mode-coverage
//! diagnostic on toy 2-D mixtures ([`toy`]). With the feature `train`, `task` holds the training
//! task for `genzoo-train`'s loop (evaluation, grids, figures, the toy path), the presets of every
//! GAN entry and the `--loss` recipes; the README opens with a first run: DCGAN on mini-MNIST.
//!
//! ```
//! use burn::tensor::{Device, Distribution, Tensor};
//! use genzoo_gan::{Architecture, DcganConfig, GanTrainConfig, GanTrainer, latent};
//! use genzoo_datasets::rng::Rng;
//!
//! let device = Device::flex().autodiff();
//! let arch = Architecture::Dcgan(DcganConfig::mnist());
//! let mut gan = GanTrainer::new(&arch, GanTrainConfig::dcgan(), &device);
//! let mut rng = Rng::seed_from_u64(0);
//! let real = Tensor::<4>::random([8, 1, 28, 28], Distribution::Uniform(-1.0, 1.0), &device);
//! let z = latent::normal_noise(&mut rng, 8, 100, &device);
//! let eps = latent::uniform_per_image(&mut rng, 8, &device);
//! let d = gan.discriminator_step(real, None, z, eps, 2e-4);
//! // The reported numbers are one-element tensors, read when needed.
//! let (loss, d_real) = (d.loss.into_scalar::<f32>(), d.d_real.into_scalar::<f32>());
//! assert!(loss.is_finite() && (0.0..=1.0).contains(&d_real));
//! let g_loss = gan.generator_step(latent::normal_noise(&mut rng, 8, 100, &device), None, 2e-4);
//! assert!(g_loss.into_scalar::<f32>().is_finite());
//! // Sampling: BatchNorm in eval mode on the plain device.
//! let x = gan.sampler().forward(latent::normal_noise(&mut rng, 4, 100, &device.inner()), None);
//! assert_eq!(x.dims(), [4, 1, 28, 28]);
//! ```

pub mod clip;
pub mod dcgan;
pub mod error;
pub mod latent;
pub mod loss;
pub mod mlp;
pub mod nets;
pub mod penalty;
#[cfg(feature = "train")]
pub mod pretrained;
pub mod spectral;
#[cfg(feature = "train")]
pub mod task;
pub mod toy;
pub mod train;

/// Every float parameter of `m`, in visiting order: what the tests compare networks by.
#[cfg(test)]
pub(crate) fn parameter_values<M: burn::module::Module>(m: &M) -> Vec<f32> {
    struct Values(Vec<f32>);
    impl burn::module::ModuleVisitor for Values {
        fn visit_float<const D: usize>(
            &mut self,
            p: &burn::module::Param<burn::tensor::Tensor<D>>,
        ) {
            self.0
                .extend(p.val().into_data().try_to_vec::<f32>().expect("f32"));
        }
    }
    let mut v = Values(Vec::new());
    m.visit(&mut v);
    v.0
}

pub use clip::clip_weights;
pub use dcgan::{DcganConfig, DcganDiscriminator, DcganGenerator};
pub use error::{Error, Result};
pub use loss::GanLoss;
pub use mlp::{MlpDiscriminator, MlpGanConfig, MlpGenerator};
pub use nets::{Architecture, Discriminator, GanNets, Generator};
pub use penalty::gradient_penalty;
pub use spectral::SpectralNorm;
pub use train::{DiscriminatorReport, GanOptimizer, GanTrainConfig, GanTrainer};

/// The README's examples, compiled and run as doctests.
#[cfg(all(doctest, feature = "train"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
