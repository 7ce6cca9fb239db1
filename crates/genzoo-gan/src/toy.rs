//! Mode coverage on the toy 2-D mixtures (8 Gaussians on a ring, 25 on a grid) — the standard
//! mode-collapse diagnostic of Metz et al. 2017 (Unrolled GANs, arXiv:1611.02163), Srivastava et al.
//! 2017 (VEEGAN, arXiv:1705.07761) and Lin et al. 2018 (PacGAN, arXiv:1712.04086).
//!
//! A sample is *high quality* when it lies within 3σ of its nearest mode centre; a mode is
//! *captured* when at least `min_count` high-quality samples land on it.

use burn::tensor::{Tensor, TensorData};

use crate::mlp::MlpGanConfig;

/// The result of [`mode_coverage`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModeCoverage {
    /// Modes with at least `min_count` high-quality samples.
    pub captured: usize,
    /// Number of modes of the mixture.
    pub modes: usize,
    /// Share of samples within 3σ of their nearest mode.
    pub high_quality: f64,
}

/// Counts captured modes and the share of high-quality samples.
pub fn mode_coverage(
    samples: &[[f32; 2]],
    modes: &[[f32; 2]],
    std: f32,
    min_count: usize,
) -> ModeCoverage {
    let radius = 3.0 * f64::from(std);
    let mut counts = vec![0usize; modes.len()];
    let mut good = 0usize;
    for p in samples {
        let nearest = modes
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let dx = f64::from(p[0] - m[0]);
                let dy = f64::from(p[1] - m[1]);
                (i, (dx * dx + dy * dy).sqrt())
            })
            .min_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((i, d)) = nearest
            && d <= radius
        {
            counts[i] += 1;
            good += 1;
        }
    }
    ModeCoverage {
        captured: counts.iter().filter(|&&c| c >= min_count.max(1)).count(),
        modes: modes.len(),
        high_quality: good as f64 / samples.len().max(1) as f64,
    }
}

/// Points stored as [`POINT_SHAPE`](genzoo_datasets::toy::POINT_SHAPE) "images" (pixels in
/// [0, 1], i.e. bytes / 255) back to `[−1, 1]²` units: `(256·hi + lo) / 65535 · 2 − 1` per
/// coordinate — the tensor form of [`genzoo_datasets::toy::decode_unit`].
///
/// # Shapes
/// `[B, 4, 1, 1]` → `[B, 2, 1, 1]`
pub fn decode_points(images: Tensor<4>) -> Tensor<4> {
    let [b, c, h, w] = images.dims();
    assert_eq!(
        [c, h, w],
        [4, 1, 1],
        "toy points are stored as 4×1×1 images"
    );
    let bytes = (images * 255.0).round().reshape([b, 2, 2]);
    let place = Tensor::<3>::from_data(
        TensorData::new(vec![256.0f32, 1.0], [1, 1, 2]),
        &bytes.device(),
    );
    let q = (bytes * place).sum_dim(2); // [B, 2, 1]
    (q / 65535.0 * 2.0 - 1.0).reshape([b, 2, 1, 1])
}

/// An MLP GAN for 2-D points: a point is a `[2, 1, 1]` "image"; G's tanh output covers [−1, 1]²,
/// so scale the data into that square first.
pub fn toy_mlp() -> MlpGanConfig {
    MlpGanConfig::new()
        .with_channels(2)
        .with_image_size(1)
        .with_latent(8)
        .with_g_hidden([128, 128])
        .with_d_hidden([128, 128])
}

#[cfg(test)]
mod tests {
    use super::*;
    use genzoo_datasets::rng::Rng;
    use genzoo_datasets::toy::{RING8_STD, ToyKind, ring8_modes};

    #[test]
    fn decoded_points_match_the_byte_decoder() {
        use burn::tensor::Device;
        let mut rng = Rng::seed_from_u64(3);
        let r = ToyKind::Ring8.range();
        let pts = ToyKind::Ring8.sample(64, &mut rng).points;
        let bytes: Vec<[u8; 4]> = pts
            .iter()
            .map(|&p| genzoo_datasets::toy::encode_point(p, r))
            .collect();
        let pixels: Vec<f32> = bytes
            .iter()
            .flatten()
            .map(|&v| f32::from(v) / 255.0)
            .collect();
        let device = Device::flex();
        let x = decode_points(Tensor::from_data(
            TensorData::new(pixels, [64, 4, 1, 1]),
            &device,
        ));
        assert_eq!(x.dims(), [64, 2, 1, 1]);
        let got = x.into_data().try_to_vec::<f32>().expect("f32");
        for (i, b) in bytes.iter().enumerate() {
            let want = genzoo_datasets::toy::decode_unit(*b);
            for d in 0..2 {
                assert!(
                    (got[2 * i + d] - want[d]).abs() < 1e-6,
                    "{i}: {got:?} vs {want:?}"
                );
                // And the point itself, to one quantisation step.
                assert!((got[2 * i + d] * r - pts[i][d]).abs() < 2.0 * r / 65535.0);
            }
        }
    }

    #[test]
    fn true_samples_cover_every_mode_and_a_collapsed_generator_one() {
        let mut rng = Rng::seed_from_u64(1);
        let modes = ring8_modes();
        let data = ToyKind::Ring8.sample(2000, &mut rng).points;
        let c = mode_coverage(&data, &modes, RING8_STD, 20);
        assert_eq!((c.captured, c.modes), (8, 8));
        // Within 3σ in 2-D: P(χ²₂ ≤ 9) = 1 − e^{−4.5} = 0.98889.
        assert!(
            (c.high_quality - (1.0 - (-4.5f64).exp())).abs() < 0.01,
            "{c:?}"
        );
        // All mass on one mode, plus junk between modes.
        let mut collapsed: Vec<[f32; 2]> = data.iter().filter(|p| p[0] > 1.9).copied().collect();
        let n = collapsed.len();
        collapsed.extend(std::iter::repeat_n([0.0f32, 0.0], n));
        let c = mode_coverage(&collapsed, &modes, RING8_STD, 20);
        assert_eq!(c.captured, 1);
        assert!((c.high_quality - 0.5).abs() < 0.01, "{c:?}");
    }
}
