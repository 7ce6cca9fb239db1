//! Spectral normalization — Miyato, Kataoka, Koyama & Yoshida 2018, "Spectral Normalization for
//! Generative Adversarial Networks", arXiv:1802.05957.
//!
//! A discriminator layer uses `W / σ(W)` instead of `W`, where `σ(W)` is the largest singular
//! value, so every layer is 1-Lipschitz. `σ` is estimated by power iteration (Algorithm 1 of the
//! paper): a vector `u` is kept between updates as a non-trained buffer (a burn
//! [`RunningState`], saved in checkpoints like BatchNorm's running statistics, never touched by
//! an optimizer), one iteration `v ← Wᵀu/‖Wᵀu‖`, `u ← Wv/‖Wv‖` runs per discriminator update
//! ([`SpectralNorm::power_iteration`]), and the forward pass uses `σ = uᵀ W v` with `u`, `v`
//! held constant, so the gradient flows through `W` in both `W` and `σ(W)` as in the paper.
//!
//! A convolution kernel `[out, in, kh, kw]` is treated as the matrix `[out, in·kh·kw]`, and a
//! burn `Linear` weight `[in, out]` as it is stored (a matrix and its transpose have the same
//! singular values).

use burn::module::{Module, RunningState};
use burn::tensor::{Device, Distribution, Tensor};

/// Guards the normalisations against a zero vector.
const EPS: f64 = 1e-12;

/// The power-iteration state of one weight matrix `[rows, cols]`: the left singular vector
/// estimate `u ∈ R^rows`.
#[derive(Module, Debug)]
pub struct SpectralNorm {
    u: RunningState<Tensor<1>>,
}

fn normalize(x: Tensor<1>) -> Tensor<1> {
    let norm = x.clone().square().sum().sqrt().add_scalar(EPS);
    x / norm
}

impl SpectralNorm {
    /// A fresh state for a `rows × cols` matrix: `u` drawn from N(0, I) and normalised (the
    /// device's seeded RNG).
    pub fn new(rows: usize, device: &Device) -> Self {
        let u = Tensor::<1>::random([rows], Distribution::Normal(0.0, 1.0), device);
        Self {
            u: RunningState::new(normalize(u)),
        }
    }

    /// The current `u`, on the weight's device, detached.
    fn u_on(&self, w: &Tensor<2>) -> Tensor<1> {
        self.u.value_sync().to_device(&w.device()).detach()
    }

    /// `v = Wᵀu / ‖Wᵀu‖`, a constant for autodiff.
    fn v_of(w: &Tensor<2>, u: &Tensor<1>) -> Tensor<1> {
        let wt_u = w
            .clone()
            .detach()
            .transpose()
            .matmul(u.clone().unsqueeze_dim(1))
            .squeeze_dim(1);
        normalize(wt_u)
    }

    /// One power iteration with the current weight: `u ← W v / ‖W v‖`, `v = Wᵀu / ‖Wᵀu‖`.
    /// Call once per discriminator update, before its forward passes.
    ///
    /// # Shapes
    /// `w: [rows, cols]`
    pub fn power_iteration(&self, w: &Tensor<2>) {
        let u = self.u_on(w);
        let v = Self::v_of(w, &u);
        let wv = w.clone().detach().matmul(v.unsqueeze_dim(1)).squeeze_dim(1);
        self.u.update(normalize(wv).detach());
    }

    /// The estimate `σ = uᵀ W v`, differentiable in `W` (`u`, `v` are constants).
    ///
    /// # Shapes
    /// `w: [rows, cols]` → `[1]`
    pub fn sigma(&self, w: &Tensor<2>) -> Tensor<1> {
        let u = self.u_on(w);
        let v = Self::v_of(w, &u);
        (u.unsqueeze_dim::<2>(0)
            .matmul(w.clone())
            .squeeze_dim::<1>(0)
            * v)
            .sum()
    }

    /// `W / σ(W)` for a matrix.
    ///
    /// # Shapes
    /// `w: [rows, cols]` → `[rows, cols]`
    pub fn normalize_matrix(&self, w: Tensor<2>) -> Tensor<2> {
        let sigma = self.sigma(&w);
        w / sigma.unsqueeze_dim::<2>(0)
    }

    /// `W / σ(W)` for a convolution kernel, seen as the matrix `[out, in·kh·kw]`.
    ///
    /// # Shapes
    /// `w: [out, in, kh, kw]` → `[out, in, kh, kw]`
    pub fn normalize_kernel(&self, w: Tensor<4>) -> Tensor<4> {
        let dims = w.dims();
        self.normalize_matrix(w.flatten(1, 3)).reshape(dims)
    }

    /// [`SpectralNorm::power_iteration`] for a convolution kernel.
    pub fn power_iteration_kernel(&self, w: &Tensor<4>) {
        self.power_iteration(&w.clone().flatten(1, 3));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    fn matrix(rows: usize, cols: usize, seed: u64) -> (Vec<f32>, Tensor<2>) {
        let mut rng = genzoo_datasets::rng::Rng::seed_from_u64(seed);
        let v: Vec<f32> = (0..rows * cols).map(|_| rng.normal_f32()).collect();
        let t = Tensor::from_data(TensorData::new(v.clone(), [rows, cols]), &Device::flex());
        (v, t)
    }

    /// The largest singular value by nalgebra's SVD (an independent method), in f64.
    fn svd_sigma(v: &[f32], rows: usize, cols: usize) -> f64 {
        let m = nalgebra::DMatrix::from_row_iterator(rows, cols, v.iter().map(|&x| f64::from(x)));
        m.singular_values().max()
    }

    fn scalar(t: Tensor<1>) -> f64 {
        f64::from(t.into_scalar::<f32>())
    }

    #[test]
    fn power_iteration_converges_to_the_largest_singular_value_of_an_svd() {
        let device = Device::flex();
        device.seed(2);
        for (rows, cols, seed) in [(12, 7, 1), (5, 30, 2), (64, 64, 3)] {
            let (v, w) = matrix(rows, cols, seed);
            let want = svd_sigma(&v, rows, cols);
            let sn = SpectralNorm::new(rows, &device);
            for _ in 0..200 {
                sn.power_iteration(&w);
            }
            let got = scalar(sn.sigma(&w));
            assert!(
                (got - want).abs() < 1e-4 * want,
                "{rows}×{cols}: {got} vs {want}"
            );
            // The normalised matrix has spectral norm 1.
            let n: Vec<f32> = sn
                .normalize_matrix(w)
                .into_data()
                .try_to_vec()
                .expect("f32");
            let s = svd_sigma(&n, rows, cols);
            assert!((s - 1.0).abs() < 1e-4, "{s}");
        }
    }

    #[test]
    fn one_iteration_per_step_tracks_a_slowly_changing_weight() {
        // As in training: the weight moves a little between updates and u is carried over, so
        // after a warm-up one iteration per step keeps σ within a fraction of a percent.
        let device = Device::flex();
        device.seed(3);
        let (rows, cols) = (16, 24);
        let (mut v, _) = matrix(rows, cols, 4);
        let sn = SpectralNorm::new(rows, &device);
        let mut rng = genzoo_datasets::rng::Rng::seed_from_u64(5);
        let mut worst: f64 = 0.0;
        for step in 0..300 {
            for x in v.iter_mut() {
                *x += 0.002 * rng.normal_f32();
            }
            let w = Tensor::from_data(TensorData::new(v.clone(), [rows, cols]), &device);
            sn.power_iteration(&w);
            if step >= 100 {
                let want = svd_sigma(&v, rows, cols);
                worst = worst.max((scalar(sn.sigma(&w)) - want).abs() / want);
            }
        }
        assert!(worst < 5e-3, "worst relative error {worst}");
    }

    #[test]
    fn the_gradient_of_sigma_is_u_v_transposed() {
        // ∂(uᵀWv)/∂W = u vᵀ with u, v constant: compare with an outer product built here.
        let device = Device::flex().autodiff();
        device.seed(6);
        let (rows, cols) = (4, 3);
        let (_, w) = matrix(rows, cols, 7);
        let w = Tensor::<2>::from_data(w.into_data(), &device).require_grad();
        let sn = SpectralNorm::new(rows, &device);
        for _ in 0..50 {
            sn.power_iteration(&w);
        }
        let grads = sn.sigma(&w).backward();
        let g: Vec<f32> = w
            .grad(&grads)
            .expect("grad")
            .into_data()
            .try_to_vec()
            .expect("f32");
        let u: Vec<f32> = sn.u.value_sync().into_data().try_to_vec().expect("u");
        let wi = w.clone().detach().inner();
        let v: Vec<f32> = SpectralNorm::v_of(
            &wi,
            &Tensor::from_data(TensorData::new(u.clone(), [rows]), &wi.device()),
        )
        .into_data()
        .try_to_vec()
        .expect("v");
        for i in 0..rows {
            for j in 0..cols {
                assert!((g[i * cols + j] - u[i] * v[j]).abs() < 1e-5, "{i},{j}");
            }
        }
    }

    #[test]
    fn the_buffer_is_not_a_trained_parameter() {
        // The optimizer sees only what autodiff tracks: u is detached and carries no gradient.
        let device = Device::flex().autodiff();
        let sn = SpectralNorm::new(3, &device);
        let w = Tensor::<2>::ones([3, 2], &device).require_grad();
        let grads = sn.sigma(&w).backward();
        let u = sn.u.value_sync();
        assert!(u.grad(&grads).is_none());
    }
}
