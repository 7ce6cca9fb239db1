//! The latent sampler: noise, labels and interpolation paths for a generator, kept apart from the
//! networks. Everything draws from the project's seeded [`Rng`], so a resumed run or a repeated
//! `generate(n, seed)` sees the same noise.

use burn::tensor::{Device, Tensor, TensorData};
use genzoo_datasets::rng::Rng;

/// `n` noise vectors z ~ N(0, I) of size `dim`.
///
/// # Shapes
/// → `[n, dim]`
pub fn normal_noise(rng: &mut Rng, n: usize, dim: usize, device: &Device) -> Tensor<2> {
    let v: Vec<f32> = (0..n * dim).map(|_| rng.normal_f32()).collect();
    Tensor::from_data(TensorData::new(v, [n, dim]), device)
}

/// `n` interpolation weights ε ~ U[0, 1], one per image.
///
/// # Shapes
/// → `[n, 1, 1, 1]`
pub fn uniform_per_image(rng: &mut Rng, n: usize, device: &Device) -> Tensor<4> {
    let v: Vec<f32> = (0..n).map(|_| rng.uniform_f32()).collect();
    Tensor::from_data(TensorData::new(v, [n, 1, 1, 1]), device)
}

/// One-hot rows for `labels`, or `None` for an unconditional model (`classes == 0`). A label
/// outside `0..classes` gets a row of zeros (no class), never another class's row.
///
/// # Shapes
/// → `[labels.len(), classes]`
pub fn one_hot(labels: &[usize], classes: usize, device: &Device) -> Option<Tensor<2>> {
    if classes == 0 {
        return None;
    }
    let mut v = vec![0.0f32; labels.len() * classes];
    for (i, &y) in labels.iter().enumerate() {
        if y < classes {
            v[i * classes + y] = 1.0;
        }
    }
    Some(Tensor::from_data(
        TensorData::new(v, [labels.len(), classes]),
        device,
    ))
}

/// `n` uniformly drawn class labels.
pub fn random_labels(rng: &mut Rng, n: usize, classes: usize) -> Vec<usize> {
    (0..n)
        .map(|_| rng.below(classes.max(1) as u64) as usize)
        .collect()
}

/// Spherical interpolation between two noise vectors at `steps` evenly spaced points (both ends
/// included). Gaussian noise lives near a sphere of radius √dim; slerp stays there, where a
/// straight line would pass through the low-norm interior the generator never saw (White 2016,
/// "Sampling Generative Networks", arXiv:1609.04468).
pub fn slerp(z0: &[f32], z1: &[f32], steps: usize) -> Vec<Vec<f32>> {
    let dot: f64 = z0.iter().zip(z1).map(|(a, b)| f64::from(a * b)).sum();
    let n0: f64 = z0.iter().map(|a| f64::from(a * a)).sum::<f64>().sqrt();
    let n1: f64 = z1.iter().map(|a| f64::from(a * a)).sum::<f64>().sqrt();
    let omega = (dot / (n0 * n1).max(1e-12)).clamp(-1.0, 1.0).acos();
    (0..steps)
        .map(|i| {
            // A single step stands at t = 0.
            let t = i as f64 / (steps - 1).max(1) as f64;
            let (a, b) = if omega.abs() < 1e-6 {
                (1.0 - t, t)
            } else {
                (
                    ((1.0 - t) * omega).sin() / omega.sin(),
                    (t * omega).sin() / omega.sin(),
                )
            };
            z0.iter()
                .zip(z1)
                .map(|(x, y)| (a * f64::from(*x) + b * f64::from(*y)) as f32)
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slerp_hits_both_ends_and_keeps_the_norm_between_orthogonal_unit_vectors() {
        let z0 = [1.0f32, 0.0, 0.0];
        let z1 = [0.0f32, 1.0, 0.0];
        let path = slerp(&z0, &z1, 5);
        assert_eq!(path.len(), 5);
        assert_eq!(path[0], z0.to_vec());
        for (a, b) in path[4].iter().zip(z1) {
            assert!((a - b).abs() < 1e-6);
        }
        // Midpoint of a quarter circle: (cos 45°, sin 45°, 0).
        let h = std::f32::consts::FRAC_1_SQRT_2;
        assert!((path[2][0] - h).abs() < 1e-6 && (path[2][1] - h).abs() < 1e-6);
        for p in &path {
            let n: f32 = p.iter().map(|x| x * x).sum::<f32>().sqrt();
            assert!((n - 1.0).abs() < 1e-5, "norm {n}");
        }
    }

    #[test]
    fn noise_is_reproducible_from_the_seed_and_standard_normal() {
        let device = Device::flex();
        let a = normal_noise(&mut Rng::seed_from_u64(9), 200, 50, &device);
        let b = normal_noise(&mut Rng::seed_from_u64(9), 200, 50, &device);
        let (a, b): (Vec<f32>, Vec<f32>) = (
            a.into_data().try_to_vec().expect("f32"),
            b.into_data().try_to_vec().expect("f32"),
        );
        assert_eq!(a, b);
        let mean = a.iter().map(|&x| f64::from(x)).sum::<f64>() / a.len() as f64;
        let var = a
            .iter()
            .map(|&x| (f64::from(x) - mean).powi(2))
            .sum::<f64>()
            / a.len() as f64;
        // 10,000 draws: the standard error of the mean is 0.01.
        assert!(
            mean.abs() < 0.05 && (var - 1.0).abs() < 0.08,
            "{mean} {var}"
        );
        let oh = one_hot(&[2, 0], 3, &device).expect("classes");
        let oh: Vec<f32> = oh.into_data().try_to_vec().expect("f32");
        assert_eq!(oh, vec![0.0, 0.0, 1.0, 1.0, 0.0, 0.0]);
        assert!(one_hot(&[1], 0, &device).is_none());
        // A label out of range names no class (it is never wrapped onto another one).
        let oh = one_hot(&[3, 1], 3, &device).expect("classes");
        let oh: Vec<f32> = oh.into_data().try_to_vec().expect("f32");
        assert_eq!(oh, vec![0.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
    }
}
