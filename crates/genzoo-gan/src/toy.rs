//! Mode coverage on the toy 2-D mixtures (8 Gaussians on a ring, 25 on a grid) — the standard
//! mode-collapse diagnostic of Metz et al. 2017 (Unrolled GANs, arXiv:1611.02163), Srivastava et al.
//! 2017 (VEEGAN, arXiv:1705.07761) and Lin et al. 2018 (PacGAN, arXiv:1712.04086).
//!
//! A sample is *high quality* when it lies within 3σ of its nearest mode centre; a mode is
//! *captured* when at least `min_count` high-quality samples land on it.

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
