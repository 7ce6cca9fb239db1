//! Adam (Kingma & Ba 2015, arXiv:1412.6980) with burn's arithmetic, in one pass per parameter on
//! the Flex backend.
//!
//! burn's `Adam` updates a parameter with thirteen tensor operations (the two moments, their bias
//! corrections, the square root, the quotient, the step), each a pass over memory into a fresh
//! buffer. In `perf` that was a tenth of the MLP GAN's training step. Here, on Flex, one pass reads
//! the parameter, its gradient and both moments and writes the three new tensors, in place where
//! burn holds no other reference to them. On every other backend, and for parameters that are not
//! `f32`, it is burn's own `Adam`.
//!
//! The state is burn's [`AdamState`], so checkpoints are the same as with burn's optimizer and a
//! run can be resumed with either. The arithmetic is burn's, in burn's order, so both routes give
//! the same values (tested below to 1e-7 over several steps).
//!
//! ```
//! use burn::module::Module;
//! use burn::nn::LinearConfig;
//! use burn::optim::GradientsParams;
//! use burn::tensor::{Device, Distribution, Tensor};
//! use genzoo_layers::adam::AdamConfig;
//!
//! let device = Device::flex().autodiff();
//! let model = LinearConfig::new(3, 1).init(&device);
//! let mut optim = AdamConfig::new().with_beta_1(0.5).init();
//! let x = Tensor::<2>::random([8, 3], Distribution::Default, &device);
//! let loss = model.forward(x).powf_scalar(2.0).mean();
//! let grads = GradientsParams::from_grads(loss.backward(), &model);
//! let model = optim.step(1e-3, model, grads);
//! assert_eq!(model.weight.dims(), [3, 1]);
//! ```

use burn::backend::{Backend, Dispatch, backend_extension, tensor::FloatTensor};
use burn::config::Config;
use burn::optim::{AdamState, LearningRate, ModuleOptimizer, Optimizer};
use burn::tensor::{Device, Tensor};

/// The settings of [`Adam`]: burn's `AdamConfig` without weight decay, AMSGrad or gradient
/// clipping (which genzoo's models do not use; burn's optimizer has them), with burn's defaults.
#[derive(Config, Debug)]
pub struct AdamConfig {
    /// Decay of the first moment.
    #[config(default = 0.9)]
    pub beta_1: f32,
    /// Decay of the second moment.
    #[config(default = 0.999)]
    pub beta_2: f32,
    /// Added to the root of the second moment (burn's default, 1e-5, not the paper's 1e-8).
    #[config(default = 1e-5)]
    pub epsilon: f32,
}

impl AdamConfig {
    /// The optimizer for one parameter at a time.
    pub fn build(&self) -> Adam {
        Adam {
            beta_1: self.beta_1,
            beta_2: self.beta_2,
            epsilon: self.epsilon,
            reference: burn::optim::AdamConfig::new()
                .with_beta_1(self.beta_1)
                .with_beta_2(self.beta_2)
                .with_epsilon(self.epsilon)
                .build(),
        }
    }

    /// The optimizer for whole modules, as burn's `AdamConfig::init` gives.
    pub fn init(&self) -> ModuleOptimizer {
        ModuleOptimizer::from(self.build())
    }
}

/// Adam; see the [module documentation](self).
#[derive(Clone)]
pub struct Adam {
    beta_1: f32,
    beta_2: f32,
    epsilon: f32,
    /// burn's Adam with the same settings: the route off Flex.
    reference: burn::optim::Adam,
}

/// The scalars of one update at step `time` (1 at the first), computed as burn computes them.
#[derive(Clone, Copy, Debug)]
struct Scalars {
    beta_1: f32,
    beta_2: f32,
    /// `√(1 − β₂ᵗ) / (1 − β₁ᵗ)`, the moment's bias correction.
    combined: f32,
    /// `ε·√(1 − β₂ᵗ)`.
    epsilon: f32,
    lr: f32,
}

impl Adam {
    fn scalars(&self, time: usize, lr: LearningRate) -> Scalars {
        let t = time as i32;
        let bias_correction2_sqrt = (1.0 - self.beta_2.powi(t)).sqrt();
        Scalars {
            beta_1: self.beta_1,
            beta_2: self.beta_2,
            combined: bias_correction2_sqrt / (1.0 - self.beta_1.powi(t)),
            epsilon: self.epsilon * bias_correction2_sqrt,
            lr: lr as f32,
        }
    }
}

impl Optimizer for Adam {
    type State<const D: usize> = AdamState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        if crate::route::adam(&tensor, &grad, state.as_ref()) {
            let (time, m, v) = match state {
                Some(s) => (
                    s.momentum.time + 1,
                    s.momentum.moment_1,
                    s.momentum.moment_2,
                ),
                None => (1, grad.zeros_like(), grad.zeros_like()),
            };
            let (p, m, v) = update(tensor, grad, m, v, self.scalars(time, lr));
            let momentum = burn::optim::AdaptiveMomentumState::new(time, m, v);
            return (p, Some(AdamState::new(momentum)));
        }
        self.reference.step(lr, tensor, grad, state)
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        burn::optim::Adam::to_device(state, device)
    }
}

/// One Adam update as an operation a backend may compute with its own kernel (never tracked). The
/// reference is burn's `Adam` optimizer, written with `Tensor` (not with a backend's primitives),
/// so every backend that takes it implements it.
#[backend_extension(Flex: cfg(feature = "flex"), Autodiff)]
pub trait AdamOps: Backend {
    /// The new parameter and moments `(p, m, v)` from the old ones and the gradient, with
    /// the step's scalars `[β₁, β₂, bias correction, ε·√(1 − β₂ᵗ), learning rate]`.
    // Without `flex` the generated dispatch has no backend to pass this argument to.
    #[cfg_attr(not(feature = "flex"), allow(unused_variables))]
    fn adam_update(
        param: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        moment_1: FloatTensor<Self>,
        moment_2: FloatTensor<Self>,
        scalars: [f32; 5],
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
}

/// [`AdamOps::adam_update`] on tensors.
fn update<const D: usize>(
    param: Tensor<D>,
    grad: Tensor<D>,
    moment_1: Tensor<D>,
    moment_2: Tensor<D>,
    s: Scalars,
) -> (Tensor<D>, Tensor<D>, Tensor<D>) {
    let (p, m, v) = <Dispatch as AdamOps>::adam_update(
        param.into_dispatch(),
        grad.into_dispatch(),
        moment_1.into_dispatch(),
        moment_2.into_dispatch(),
        [s.beta_1, s.beta_2, s.combined, s.epsilon, s.lr],
    );
    (
        Tensor::from_dispatch(p),
        Tensor::from_dispatch(m),
        Tensor::from_dispatch(v),
    )
}

/// The Flex kernel, and the operation's registration on Flex with and without autodiff.
#[cfg(feature = "flex")]
mod flex {
    use super::AdamOps;
    use crate::flex::contiguous;
    use burn::backend::autodiff::{Autodiff, checkpoint::strategy::CheckpointStrategy};
    use burn::backend::flex::FlexTensor;
    use burn::backend::{AutodiffBackend, Flex, tensor::FloatTensor};
    use rayon::prelude::*;

    /// Elements per parallel task.
    const CHUNK: usize = 16 * 1024;

    /// `x` as a tensor whose buffer holds exactly its values, in order: written in place when
    /// nothing else holds the buffer, copied once otherwise (`storage_mut` copies on write).
    fn exact(x: FlexTensor) -> FlexTensor {
        let x = contiguous(x);
        let whole = x.as_slice::<f32>().map(<[f32]>::len) == Some(x.storage::<f32>().len());
        if whole { x } else { x.to_contiguous() }
    }

    fn update_flex(
        param: FlexTensor,
        grad: FlexTensor,
        moment_1: FlexTensor,
        moment_2: FlexTensor,
        [beta_1, beta_2, combined, epsilon, lr]: [f32; 5],
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        let grad = contiguous(grad);
        let (mut p, mut m, mut v) = (exact(param), exact(moment_1), exact(moment_2));
        let gs = grad.as_slice::<f32>().expect("made contiguous");
        let (f1, f2) = (1.0 - beta_1, 1.0 - beta_2);
        p.storage_mut::<f32>()
            .par_chunks_mut(CHUNK)
            .zip(m.storage_mut::<f32>().par_chunks_mut(CHUNK))
            .zip(v.storage_mut::<f32>().par_chunks_mut(CHUNK))
            .zip(gs.par_chunks(CHUNK))
            .for_each(|(((p, m), v), g)| {
                for (((p, m), v), &g) in p.iter_mut().zip(m).zip(v).zip(g) {
                    // burn's order of operations, so that both routes round alike.
                    *m = *m * beta_1 + g * f1;
                    *v = *v * beta_2 + (g * g) * f2;
                    let step = (*m * combined) / (v.sqrt() + epsilon);
                    *p -= step * lr;
                }
            });
        (p, m, v)
    }

    impl AdamOps for Flex {
        fn adam_update(
            param: FloatTensor<Self>,
            grad: FloatTensor<Self>,
            moment_1: FloatTensor<Self>,
            moment_2: FloatTensor<Self>,
            scalars: [f32; 5],
        ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
            update_flex(param, grad, moment_1, moment_2, scalars)
        }
    }

    /// The optimizer works on the tensors without autodiff; a tracked call is a constant of the
    /// graph.
    impl<C: CheckpointStrategy> AdamOps for Autodiff<Flex, C> {
        fn adam_update(
            param: FloatTensor<Self>,
            grad: FloatTensor<Self>,
            moment_1: FloatTensor<Self>,
            moment_2: FloatTensor<Self>,
            scalars: [f32; 5],
        ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
            let inner = |t: FloatTensor<Self>| <Self as AutodiffBackend>::inner(t);
            let outer = |t| <Self as AutodiffBackend>::from_inner(t);
            let (p, m, v) = update_flex(
                inner(param),
                inner(grad),
                inner(moment_1),
                inner(moment_2),
                scalars,
            );
            (outer(p), outer(m), outer(v))
        }
    }
}

#[cfg(all(test, feature = "flex"))]
mod tests {
    use super::*;
    use crate::test_util::{max_diff, values};
    use burn::module::Param;
    use burn::nn::{Linear, LinearConfig};
    use burn::optim::GradientsParams;
    use burn::tensor::TensorData;

    /// Values from a fixed formula.
    fn fixed<const D: usize>(shape: [usize; D], device: &Device) -> Param<Tensor<D>> {
        let v: Vec<f32> = (0..shape.iter().product::<usize>())
            .map(|i| ((i * 7919) % 1000) as f32 / 1e4 - 0.05)
            .collect();
        Param::from_tensor(Tensor::from_data(TensorData::new(v, shape), device))
    }

    /// A linear model (37 → 300) with fixed parameters, the same for every run.
    fn model(device: &Device) -> Linear {
        let mut model: Linear = LinearConfig::new(37, 300).init(device);
        model.weight = fixed([37, 300], device);
        model.bias = Some(fixed([300], device));
        model
    }

    /// Training steps `steps` of that model with `optim`, on fixed data.
    fn train(
        device: &Device,
        optim: &mut ModuleOptimizer,
        mut model: Linear,
        steps: std::ops::Range<usize>,
    ) -> Linear {
        for step in steps {
            let x: Vec<f32> = (0..16 * 37)
                .map(|i| (((i + step * 13) * 104_729) % 997) as f32 / 500.0 - 1.0)
                .collect();
            let x = Tensor::<2>::from_data(TensorData::new(x, [16, 37]), device);
            let loss = model.forward(x).tanh().powf_scalar(2.0).sum();
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(2e-2, model, grads);
        }
        model
    }

    fn params(model: &Linear) -> [Vec<f32>; 2] {
        [
            values(model.weight.val()),
            values(model.bias.as_ref().expect("bias").val()),
        ]
    }

    fn burns(config: &AdamConfig) -> ModuleOptimizer {
        burn::optim::AdamConfig::new()
            .with_beta_1(config.beta_1)
            .with_beta_2(config.beta_2)
            .with_epsilon(config.epsilon)
            .init()
    }

    fn assert_close(a: &[Vec<f32>; 2], b: &[Vec<f32>; 2], what: &str) {
        for (a, b) in a.iter().zip(b) {
            assert!(max_diff(a, b) < 1e-7, "{what}: {}", max_diff(a, b));
        }
    }

    #[test]
    fn the_flex_route_matches_burns_adam_step_by_step() {
        let device = Device::flex().autodiff();
        let start = params(&model(&device));
        for config in [
            AdamConfig::new(),
            AdamConfig::new().with_beta_1(0.5).with_epsilon(1e-8),
        ] {
            for steps in [1, 5] {
                let a = train(&device, &mut burns(&config), model(&device), 0..steps);
                let b = train(&device, &mut config.init(), model(&device), 0..steps);
                assert_close(&params(&a), &params(&b), &format!("{steps} steps"));
                // The parameters moved: the comparison is not of two untouched models.
                assert!(max_diff(&start[0], &params(&b)[0]) > 1e-3);
            }
        }
    }

    #[test]
    fn a_run_resumes_across_the_two_optimizers() {
        // The state is burn's: a record saved by either optimizer resumes with the other.
        let device = Device::flex().autodiff();
        let config = AdamConfig::new();
        let straight = train(&device, &mut config.init(), model(&device), 0..5);
        for (first, then) in [
            (config.init(), burns(&config)),
            (burns(&config), config.init()),
        ] {
            let mut first = first;
            let half = train(&device, &mut first, model(&device), 0..3);
            let mut then = then.load_record(first.to_record());
            let resumed = train(&device, &mut then, half, 3..5);
            assert_close(&params(&straight), &params(&resumed), "resumed");
        }
    }

    #[test]
    fn updates_on_flex_take_the_kernel() {
        let device = Device::flex();
        let t = |v: [f32; 2]| Tensor::<1>::from_floats(v, &device);
        assert!(crate::route::adam(&t([1.0, 2.0]), &t([0.5, 0.5]), None));
        let (_, state) = AdamConfig::new()
            .build()
            .step(1e-3, t([1.0, 2.0]), t([0.5, 0.5]), None);
        let state = state.expect("state");
        assert!(crate::route::adam(
            &t([1.0, 2.0]),
            &t([0.5, 0.5]),
            Some(&state)
        ));
        // Off the kernel: another dtype, another shape, an AMSGrad state.
        let wide = t([1.0, 2.0]).cast(burn::tensor::DType::F64);
        assert!(!crate::route::adam(&wide.clone(), &wide, None));
        let three = Tensor::<1>::from_floats([1.0, 2.0, 3.0], &device);
        assert!(!crate::route::adam(&three.clone(), &three, Some(&state)));
        let mut amsgrad = state;
        amsgrad.momentum.max_moment_2 = Some(t([0.0, 0.0]));
        assert!(!crate::route::adam(
            &t([1.0, 2.0]),
            &t([0.5, 0.5]),
            Some(&amsgrad)
        ));
    }

    #[test]
    fn one_update_matches_the_formula() {
        let device = Device::flex();
        let (b1, b2, eps, lr) = (0.8f32, 0.99f32, 1e-3f32, 0.1f64);
        let optim = AdamConfig::new()
            .with_beta_1(b1)
            .with_beta_2(b2)
            .with_epsilon(eps)
            .build();
        let p0 = [1.0f32, -2.0, 0.5];
        let (g1, g2) = ([0.3f32, -1.0, 0.0], [-0.2f32, 2.0, 1.0]);
        let t = |v: [f32; 3]| Tensor::<1>::from_floats(v, &device);
        let (p1, s) = optim.step(lr, t(p0), t(g1), None);
        let before = values(p1.clone());
        let (p2, s) = optim.step(lr, p1.clone(), t(g2), s);
        // The caller's copy of the parameter is not written through.
        assert_eq!(values(p1), before);
        let s = s.expect("state").momentum;
        assert_eq!(s.time, 2);
        let (p2, m2s, v2s) = (values(p2), values(s.moment_1), values(s.moment_2));
        // The paper's form in f64: m̂ / (√v̂ + ε), which burn's bias correction equals.
        let (b1, b2, eps) = (f64::from(b1), f64::from(b2), f64::from(eps));
        let update = |m: f64, v: f64, t: i32| {
            let (mh, vh) = (m / (1.0 - b1.powi(t)), v / (1.0 - b2.powi(t)));
            lr * mh / (vh.sqrt() + eps)
        };
        for i in 0..3 {
            let (g1, g2) = (f64::from(g1[i]), f64::from(g2[i]));
            let (m1, v1) = ((1.0 - b1) * g1, (1.0 - b2) * g1 * g1);
            let p1 = f64::from(p0[i]) - update(m1, v1, 1);
            let (m2, v2) = (b1 * m1 + (1.0 - b1) * g2, b2 * v1 + (1.0 - b2) * g2 * g2);
            let p2e = p1 - update(m2, v2, 2);
            assert!(
                (f64::from(p2[i]) - p2e).abs() < 1e-6,
                "{i}: {} vs {p2e}",
                p2[i]
            );
            assert!((f64::from(m2s[i]) - m2).abs() < 1e-7);
            assert!((f64::from(v2s[i]) - v2).abs() < 1e-7);
        }
    }
}
