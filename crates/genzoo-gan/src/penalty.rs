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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dcgan::DcganConfig;
    use crate::mlp::MlpGanConfig;
    use crate::nets::Architecture;
    use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
    use burn::optim::GradientsParams;
    use burn::tensor::{DType, Device, Distribution};

    /// Small critics of both families, with and without labels.
    fn critics() -> Vec<Architecture> {
        let dcgan = DcganConfig::new()
            .with_image_size(8)
            .with_d_hidden([3, 4])
            .with_d_batch_norm(false)
            .with_init_std(0.3);
        let mlp = MlpGanConfig::new()
            .with_image_size(4)
            .with_d_hidden([6, 5])
            .with_init_std(0.3);
        vec![
            Architecture::Dcgan(dcgan.clone()),
            Architecture::Dcgan(dcgan.with_classes(3).with_channels(2)),
            Architecture::Mlp(mlp.clone()),
            Architecture::Mlp(mlp.with_classes(3)),
        ]
    }

    fn labels(arch: &Architecture, b: usize, device: &Device) -> Option<Tensor<2>> {
        let labels: Vec<usize> = (0..b).collect();
        crate::latent::one_hot(&labels, arch.classes(), device)
    }

    fn to_vec(t: Tensor<4>) -> Vec<f64> {
        t.cast(DType::F64)
            .into_data()
            .try_to_vec::<f64>()
            .expect("f64")
    }

    #[test]
    fn manual_input_gradient_equals_autodiff() {
        let device = Device::flex().autodiff();
        device.seed(5);
        for arch in critics() {
            let critic = arch.init_discriminator(&device);
            let [c, h, w] = arch.image_shape();
            let x = Tensor::<4>::random([4, c, h, w], Distribution::Normal(0.0, 1.0), &device)
                .require_grad();
            let y = labels(&arch, 4, &device);
            // Samples are independent (no BatchNorm), so ∂ΣD/∂x_i = ∂D(x_i)/∂x_i.
            let grads = critic.forward(x.clone(), y.clone()).sum().backward();
            let auto = to_vec(Tensor::from_inner(x.grad(&grads).expect("x.grad")));
            let manual = to_vec(critic.input_gradient(x.detach(), y));
            let scale = auto.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            assert!(scale > 1e-3, "degenerate critic: {scale}");
            for (a, m) in auto.iter().zip(&manual) {
                assert!((a - m).abs() <= 1e-5 * scale, "{a} vs {m} ({arch:?})");
            }
        }
    }

    /// Casts every parameter to f64, keeping its id, so finite differences are exact enough.
    struct ToF64;
    impl ModuleMapper for ToF64 {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            param.map(|t| {
                let t = t.inner().cast(DType::F64).autodiff();
                t.require_grad()
            })
        }
    }

    /// Every float parameter as (id, flat f64 values).
    fn params<M: Module>(m: &M) -> Vec<(ParamId, Vec<f64>, Vec<usize>)> {
        struct Collect(Vec<(ParamId, Vec<f64>, Vec<usize>)>);
        impl ModuleVisitor for Collect {
            fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
                let t = param.val();
                let shape = t.dims().to_vec();
                let v = t.into_data().try_to_vec::<f64>().expect("f64");
                self.0.push((param.id, v, shape));
            }
        }
        let mut c = Collect(Vec::new());
        m.visit(&mut c);
        c.0
    }

    /// The module with parameter `id`'s element `index` shifted by `delta`.
    fn nudge<M: Module>(m: M, id: ParamId, index: usize, delta: f64) -> M {
        struct Nudge(ParamId, usize, f64);
        impl ModuleMapper for Nudge {
            fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
                if param.id != self.0 {
                    return param;
                }
                let (index, delta) = (self.1, self.2);
                param.map(|t| {
                    let device = t.device();
                    let dims = t.dims();
                    let mut v = t.into_data().try_to_vec::<f64>().expect("f64");
                    v[index] += delta;
                    Tensor::<D>::from_data(
                        burn::tensor::TensorData::new(v, dims),
                        (&device, DType::F64),
                    )
                    .require_grad()
                })
            }
        }
        m.map(&mut Nudge(id, index, delta))
    }

    #[test]
    fn penalty_and_its_parameter_gradients_match_finite_differences() {
        let device = Device::flex().autodiff();
        device.seed(11);
        for arch in critics() {
            let critic = arch.init_discriminator(&device).map(&mut ToF64);
            let [c, h, w] = arch.image_shape();
            let b = 3;
            let f64s = |t: Tensor<4>| t.cast(DType::F64);
            let real = f64s(Tensor::random(
                [b, c, h, w],
                Distribution::Normal(0.0, 1.0),
                &device,
            ));
            let fake = f64s(Tensor::random(
                [b, c, h, w],
                Distribution::Normal(0.0, 1.0),
                &device,
            ));
            let eps = f64s(Tensor::random(
                [b, 1, 1, 1],
                Distribution::Uniform(0.0, 1.0),
                &device,
            ));
            let y = labels(&arch, b, &device).map(|t| t.cast(DType::F64));
            let lambda = 10.0;
            let penalty = |m: &Discriminator| {
                gradient_penalty(
                    m,
                    real.clone(),
                    fake.clone(),
                    eps.clone(),
                    y.clone(),
                    lambda,
                )
            };

            // The penalty's value against an independent route: autodiff's x.grad() at x̂.
            let x_hat = (real.clone() * eps.clone() + fake.clone() * (eps.clone().neg() + 1.0))
                .detach()
                .require_grad();
            let g = critic.forward(x_hat.clone(), y.clone()).sum().backward();
            let gx = to_vec(Tensor::from_inner(x_hat.grad(&g).expect("grad")));
            let per = c * h * w;
            let want: f64 = gx
                .chunks(per)
                .map(|s| (s.iter().map(|v| v * v).sum::<f64>().sqrt() - 1.0).powi(2))
                .sum::<f64>()
                * lambda
                / b as f64;
            let p = penalty(&critic);
            let got = p.clone().into_data().try_to_vec::<f64>().expect("f64")[0];
            assert!(
                (got - want).abs() <= 1e-9 * want.max(1.0),
                "{got} vs {want}"
            );

            // Parameter gradients by one backward pass through the manual input gradient...
            let grads = GradientsParams::from_grads(p.backward(), &critic);
            // ...against central differences of the penalty itself, parameter by parameter.
            let value =
                |m: &Discriminator| penalty(m).into_data().try_to_vec::<f64>().expect("f64")[0];
            let (mut diff2, mut norm2) = (0.0f64, 0.0f64);
            let mut checked = 0;
            for (id, values, shape) in params(&critic) {
                // A parameter's gradient is stored with its rank: ask for exactly that rank.
                // Biases have none: they move the LeakyReLU kinks but not ∂D/∂x between kinks,
                // so the penalty does not depend on them (their finite differences must be 0).
                fn flat<const D: usize>(g: &GradientsParams, id: ParamId) -> Option<Vec<f64>> {
                    g.get::<D>(id)
                        .map(|t| t.cast(DType::F64).into_data().try_to_vec().expect("f64"))
                }
                let auto = match shape.len() {
                    1 => flat::<1>(&grads, id),
                    2 => flat::<2>(&grads, id),
                    _ => flat::<4>(&grads, id),
                }
                .unwrap_or_else(|| vec![0.0; values.len()]);
                assert_eq!(auto.len(), values.len());
                for (i, a) in auto.iter().enumerate() {
                    let d = 1e-6;
                    let up = value(&nudge(critic.clone(), id, i, d));
                    let down = value(&nudge(critic.clone(), id, i, -d));
                    let fd = (up - down) / (2.0 * d);
                    diff2 += (fd - a).powi(2);
                    norm2 += a * a;
                    assert!(
                        (fd - a).abs() <= 1e-3 * a.abs().max(1e-3),
                        "param {id:?}[{i}]: fd {fd} vs autodiff {a} ({arch:?})"
                    );
                    checked += 1;
                }
            }
            assert!(checked > 20 && norm2 > 0.0);
            assert!(diff2.sqrt() <= 1e-3 * norm2.sqrt());
        }
    }
}
