//! WGAN weight clipping — Arjovsky, Chintala & Bottou 2017, "Wasserstein GAN", arXiv:1701.07875,
//! Algorithm 1: after each critic update every parameter is clamped to [−c, c].

use burn::module::{Module, ModuleMapper, Param};
use burn::tensor::Tensor;

/// Clamps every float parameter of `module` to `[−c, c]`.
///
/// The clamp is applied to the inner (non-autodiff) tensor, which is then re-attached as a fresh
/// leaf: `param.map(|t| t.clamp(..))` would leave a non-leaf parameter whose next backward pass
/// fails (see `BURN-0.22-NOTES.md`).
pub fn clip_weights<M: Module>(module: M, c: f64) -> M {
    module.map(&mut Clipper { c })
}

struct Clipper {
    c: f64,
}

impl ModuleMapper for Clipper {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let c = self.c;
        param.map(|t| {
            if !t.is_autodiff() {
                return t.clamp(-c, c);
            }
            let require_grad = t.is_require_grad();
            let t = t.inner().clamp(-c, c).autodiff();
            if require_grad { t.require_grad() } else { t }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mlp::MlpGanConfig;
    use burn::optim::{GradientsParams, RmsPropConfig};
    use burn::tensor::{Device, Distribution};

    fn max_abs<M: Module>(m: &M) -> f64 {
        let values = crate::parameter_values(m);
        f64::from(values.iter().fold(0.0f32, |a, v| a.max(v.abs())))
    }

    #[test]
    fn clipped_critic_stays_in_range_and_keeps_training() {
        let device = Device::flex().autodiff();
        device.seed(3);
        // init_std 1 puts most weights far outside [−0.01, 0.01].
        let cfg = MlpGanConfig::new()
            .with_image_size(4)
            .with_d_hidden([8, 8])
            .with_init_std(1.0);
        let mut d = cfg.init_discriminator(&device);
        assert!(max_abs(&d) > 0.5);
        let mut optim = RmsPropConfig::new().init();
        let x = Tensor::<4>::random([5, 1, 4, 4], Distribution::Normal(0.0, 1.0), &device);
        for _ in 0..3 {
            d = clip_weights(d, 0.01);
            assert!(max_abs(&d) <= 0.01 + 1e-9, "max |w| = {}", max_abs(&d));
            // A backward pass through the clipped parameters must work and reach every one.
            let loss = d.forward(x.clone(), None).mean();
            let grads = GradientsParams::from_grads(loss.backward(), &d);
            assert_eq!(
                grads.len(),
                6,
                "weights and biases of 3 layers get gradients"
            );
            d = optim.step(1e-1, d, grads);
        }
        // The clamp saturates: values inside the range are untouched.
        let small = MlpGanConfig::new()
            .with_image_size(4)
            .with_d_hidden([8, 8])
            .with_init_std(1e-4)
            .init_discriminator(&device);
        let before = max_abs(&small);
        assert!((max_abs(&clip_weights(small, 0.01)) - before).abs() < 1e-12);
    }
}
