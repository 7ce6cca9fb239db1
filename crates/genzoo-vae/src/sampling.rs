//! Sampling procedures of the VAE family, kept apart from the networks: prior samples, latent
//! interpolation and traversal, the 2-D latent manifold over Gaussian quantiles (Kingma & Welling
//! 2014, Fig. 4, [arXiv:1312.6114](https://arxiv.org/abs/1312.6114)), and a PCA projection of
//! encodings for the latent-space scatter plot.
//!
//! Noise comes from genzoo's own seeded [`Rng`], not from the backend's generator, so a seed gives
//! the same latent codes on every backend.

use burn::tensor::{Device, Tensor, TensorData};
use genzoo_datasets::rng::Rng;

use crate::vae::{Vae, one_hot};

/// A `[rows, cols]` tensor of independent standard normal draws from `rng`.
pub fn standard_normal(rows: usize, cols: usize, rng: &mut Rng, device: &Device) -> Tensor<2> {
    let values: Vec<f32> = (0..rows * cols).map(|_| rng.normal_f32()).collect();
    Tensor::from_data(TensorData::new(values, [rows, cols]), device)
}

/// A `[rows, cols]` tensor from row vectors.
pub fn rows_to_tensor(rows: &[Vec<f32>], device: &Device) -> Tensor<2> {
    let cols = rows.first().map_or(0, Vec::len);
    let flat: Vec<f32> = rows.iter().flat_map(|r| r.iter().copied()).collect();
    Tensor::from_data(TensorData::new(flat, [rows.len(), cols]), device)
}

/// `n` images from the model: `z ~ N(0, I)` from `rng` (or `z₂ ~ N(0, I)`, `z ~ p(z|z₂)` with
/// two stochastic layers), shown as the mean of `p(x|z)` in [0, 1]. A conditional model needs
/// one label per image (`labels.len() == n`).
///
/// # Shapes
/// → `[n, C, H, W]`
pub fn sample_prior(
    model: &Vae,
    n: usize,
    labels: Option<&[usize]>,
    rng: &mut Rng,
    device: &Device,
) -> Tensor<4> {
    let z = prior_codes(model, n, rng, device);
    decode_codes(model, z, labels, device)
}

/// `n` codes from the model's prior, `[n, latent]` (see [`Vae::prior_codes`]).
pub fn prior_codes(model: &Vae, n: usize, rng: &mut Rng, device: &Device) -> Tensor<2> {
    model.prior_codes(standard_normal(n, model.noise_dims(), rng, device))
}

/// Decodes latent codes to images in [0, 1], with labels for a conditional model.
///
/// # Shapes
/// `z: [n, latent]` → `[n, C, H, W]`
pub fn decode_codes(
    model: &Vae,
    z: Tensor<2>,
    labels: Option<&[usize]>,
    device: &Device,
) -> Tensor<4> {
    let y = labels_one_hot(model, labels, z.dims()[0], device);
    model.decode_mean(z, y.as_ref())
}

/// One-hot labels for a conditional model (`None` for an unconditional one).
///
/// # Panics
/// If the model is conditional and `labels` is missing or has the wrong length.
pub fn labels_one_hot(
    model: &Vae,
    labels: Option<&[usize]>,
    n: usize,
    device: &Device,
) -> Option<Tensor<2>> {
    if model.num_classes() == 0 {
        return None;
    }
    let labels = labels.expect("a conditional VAE needs labels");
    assert_eq!(labels.len(), n, "one label per latent code");
    let ints: Vec<i64> = labels.iter().map(|&l| l as i64).collect();
    let t = Tensor::<1, burn::tensor::Int>::from_data(TensorData::new(ints, [n]), device);
    Some(one_hot(t, model.num_classes()))
}

/// `steps` points on the segment from `a` to `b`, both ends included.
pub fn interpolate(a: &[f32], b: &[f32], steps: usize) -> Vec<Vec<f32>> {
    assert_eq!(a.len(), b.len(), "codes of different sizes");
    (0..steps)
        .map(|i| {
            // A single step stands at `a`.
            let t = i as f32 / (steps - 1).max(1) as f32;
            a.iter().zip(b).map(|(x, y)| x + t * (y - x)).collect()
        })
        .collect()
}

/// A latent traversal: for each dimension in `dims`, copies of `base` with that coordinate set to
/// each of `values` (row-major: one row of the grid per dimension).
pub fn traversal(base: &[f32], dims: &[usize], values: &[f32]) -> Vec<Vec<f32>> {
    let mut out = Vec::with_capacity(dims.len() * values.len());
    for &d in dims {
        for &v in values {
            let mut z = base.to_vec();
            z[d] = v;
            out.push(z);
        }
    }
    out
}

/// The inverse of the standard normal CDF, `Φ⁻¹(p)` for `p ∈ (0, 1)` (Acklam's rational
/// approximation, relative error below 1.2e-9).
///
/// # Panics
/// If `p` is not strictly between 0 and 1.
pub fn normal_quantile(p: f64) -> f64 {
    assert!(
        p > 0.0 && p < 1.0,
        "normal_quantile needs 0 < p < 1, got {p}"
    );
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    const P_LOW: f64 = 0.024_25;
    if p < P_LOW {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - P_LOW {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// The `n × n` latent codes of the 2-D manifold picture: `(Φ⁻¹(p_j), Φ⁻¹(p_i))` for
/// `p = (k + ½) / n`, row `i` from top to bottom with the second coordinate decreasing, so equal
/// areas of the grid hold equal prior mass (Kingma & Welling 2014, Fig. 4).
pub fn manifold_codes(n: usize) -> Vec<Vec<f32>> {
    let q: Vec<f64> = (0..n)
        .map(|k| normal_quantile((k as f64 + 0.5) / n as f64))
        .collect();
    let mut out = Vec::with_capacity(n * n);
    for i in 0..n {
        for j in 0..n {
            out.push(vec![q[j] as f32, q[n - 1 - i] as f32]);
        }
    }
    out
}

/// Projects points onto their two principal axes (centred; axes from power iteration with
/// deflation on the covariance matrix). Points of dimension 2 or less are returned as they are
/// (padded with 0), since for them the picture should show `z` itself.
pub fn pca_2d(points: &[Vec<f64>]) -> Vec<(f64, f64)> {
    let d = points.first().map_or(0, Vec::len);
    if d <= 2 {
        return points
            .iter()
            .map(|p| {
                (
                    p.first().copied().unwrap_or(0.0),
                    p.get(1).copied().unwrap_or(0.0),
                )
            })
            .collect();
    }
    let n = points.len() as f64;
    let mut mean = vec![0.0; d];
    for p in points {
        for (m, v) in mean.iter_mut().zip(p) {
            *m += v / n;
        }
    }
    let mut cov = vec![0.0; d * d];
    for p in points {
        for i in 0..d {
            let a = p[i] - mean[i];
            for j in 0..d {
                cov[i * d + j] += a * (p[j] - mean[j]) / n;
            }
        }
    }
    let mut axes: Vec<Vec<f64>> = Vec::new();
    for _ in 0..2 {
        // A fixed, non-degenerate start vector keeps the projection deterministic.
        let mut v: Vec<f64> = (0..d).map(|i| 1.0 + (i as f64) * 0.01).collect();
        for _ in 0..500 {
            let mut w = vec![0.0; d];
            for i in 0..d {
                w[i] = (0..d).map(|j| cov[i * d + j] * v[j]).sum();
            }
            for a in &axes {
                let dot: f64 = w.iter().zip(a).map(|(x, y)| x * y).sum();
                w.iter_mut().zip(a).for_each(|(x, y)| *x -= dot * y);
            }
            let norm = w.iter().map(|x| x * x).sum::<f64>().sqrt();
            if norm == 0.0 {
                break;
            }
            v = w.into_iter().map(|x| x / norm).collect();
        }
        axes.push(v);
    }
    points
        .iter()
        .map(|p| {
            let c: Vec<f64> = p.iter().zip(&mean).map(|(x, m)| x - m).collect();
            let proj = |a: &Vec<f64>| c.iter().zip(a).map(|(x, y)| x * y).sum::<f64>();
            (proj(&axes[0]), proj(&axes[1]))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_quantile_matches_tabulated_values() {
        // Standard normal table values (e.g. Abramowitz & Stegun 26.2), to 9 digits.
        for (p, z) in [
            (0.5, 0.0),
            (0.975, 1.959_963_985),
            (0.841_344_746, 1.0),
            (0.001, -3.090_232_306),
            (0.999_99, 4.264_890_794),
        ] {
            let got = normal_quantile(p);
            assert!((got - z).abs() < 1e-7, "Φ⁻¹({p}) = {got}, expected {z}");
        }
    }

    #[test]
    fn manifold_codes_are_symmetric_and_ordered() {
        let codes = manifold_codes(4);
        assert_eq!(codes.len(), 16);
        // Top-left corner: smallest first coordinate, largest second; the grid is point-symmetric.
        assert!(codes[0][0] < 0.0 && codes[0][1] > 0.0);
        assert!((codes[0][0] + codes[15][0]).abs() < 1e-6);
        assert!((codes[0][1] + codes[15][1]).abs() < 1e-6);
        assert!(codes[0][0] < codes[1][0]);
        assert!(codes[0][1] > codes[4][1]);
    }

    #[test]
    fn interpolation_and_traversal_hit_their_end_points() {
        let path = interpolate(&[0.0, 2.0], &[1.0, -2.0], 5);
        assert_eq!(path.len(), 5);
        assert_eq!(path[0], vec![0.0, 2.0]);
        assert_eq!(path[4], vec![1.0, -2.0]);
        assert_eq!(path[2], vec![0.5, 0.0]);
        let t = traversal(&[0.1, 0.2, 0.3], &[0, 2], &[-1.0, 1.0]);
        assert_eq!(
            t,
            vec![
                vec![-1.0, 0.2, 0.3],
                vec![1.0, 0.2, 0.3],
                vec![0.1, 0.2, -1.0],
                vec![0.1, 0.2, 1.0]
            ]
        );
    }

    #[test]
    fn pca_recovers_the_axes_of_an_elongated_cloud() {
        // Points spread 10× more along (1, 1, 0)/√2 than along (0, 0, 1), none along (1, −1, 0).
        let mut rng = Rng::seed_from_u64(3);
        let s = std::f64::consts::FRAC_1_SQRT_2;
        let pts: Vec<Vec<f64>> = (0..2000)
            .map(|_| {
                let a = 10.0 * rng.normal();
                let b = rng.normal();
                vec![5.0 + a * s, -1.0 + a * s, b]
            })
            .collect();
        let proj = pca_2d(&pts);
        let var = |f: &dyn Fn(&(f64, f64)) -> f64| {
            proj.iter().map(|p| f(p).powi(2)).sum::<f64>() / proj.len() as f64
        };
        let (v1, v2) = (var(&|p| p.0), var(&|p| p.1));
        assert!((v1 / 100.0 - 1.0).abs() < 0.1, "first axis variance {v1}");
        assert!((v2 - 1.0).abs() < 0.15, "second axis variance {v2}");
        // The first coordinate is ± the signal along (1, 1, 0)/√2: |cos| between them ≈ 1.
        let sig: Vec<f64> = pts
            .iter()
            .map(|x| ((x[0] - 5.0) + (x[1] + 1.0)) * s)
            .collect();
        let dot: f64 = proj.iter().zip(&sig).map(|(p, a)| p.0 * a).sum();
        let n1 = proj.iter().map(|p| p.0 * p.0).sum::<f64>().sqrt();
        let n2 = sig.iter().map(|a| a * a).sum::<f64>().sqrt();
        assert!((dot / (n1 * n2)).abs() > 0.999, "cos = {}", dot / (n1 * n2));
    }
}
