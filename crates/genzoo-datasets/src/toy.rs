//! Toy 2-D distributions for GAN mode-collapse and density-estimation checks, seeded with [`Rng`].
//!
//! - [`ring8`]: 8 Gaussians on a circle of radius 2, std 0.02 — the unrolled-GAN setup (Metz et al. 2017,
//!   arXiv:1611.02163); WGAN-GP's toy code (Gulrajani et al. 2017) uses the same ring before rescaling.
//! - [`grid25`]: 25 Gaussians at `(-4 + 2i, -4 + 2j)`, `i, j ∈ 0..5`, std 0.05 — VEEGAN (Srivastava et al.
//!   2017, arXiv:1705.07761) and PacGAN (Lin et al. 2018).
//! - [`two_moons`]: scikit-learn's `make_moons` construction (two half circles plus Gaussian noise).
//! - [`swiss_roll`]: scikit-learn's `make_swiss_roll` projected on its `(x, z)` coordinates, unscaled.

use std::f64::consts::PI;
use std::str::FromStr;

use crate::error::Error;
use crate::rng::Rng;

/// A sampled toy set: points and, where the distribution is a mixture, each point's component.
#[derive(Clone, Debug, PartialEq)]
pub struct ToySample {
    /// The points.
    pub points: Vec<[f32; 2]>,
    /// Component (mode or moon) of each point.
    pub labels: Vec<u32>,
}

/// The toy distributions, by their CLI names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum ToyKind {
    /// `toy-ring8`: [`ring8`].
    Ring8,
    /// `toy-grid25`: [`grid25`].
    Grid25,
    /// `toy-moons`: [`two_moons`] with noise 0.1.
    TwoMoons,
    /// `toy-swissroll`: [`swiss_roll`] with noise 0.5.
    SwissRoll,
}

impl ToyKind {
    /// Every kind, in CLI order.
    pub const ALL: [ToyKind; 4] = [
        ToyKind::Ring8,
        ToyKind::Grid25,
        ToyKind::TwoMoons,
        ToyKind::SwissRoll,
    ];

    /// The CLI name.
    pub fn name(self) -> &'static str {
        match self {
            ToyKind::Ring8 => "toy-ring8",
            ToyKind::Grid25 => "toy-grid25",
            ToyKind::TwoMoons => "toy-moons",
            ToyKind::SwissRoll => "toy-swissroll",
        }
    }

    /// Draws `n` points with the default parameters listed on each variant.
    pub fn sample(self, n: usize, rng: &mut Rng) -> ToySample {
        match self {
            ToyKind::Ring8 => ring8(n, rng),
            ToyKind::Grid25 => grid25(n, rng),
            ToyKind::TwoMoons => two_moons(n, 0.1, rng),
            ToyKind::SwissRoll => swiss_roll(n, 0.5, rng),
        }
    }

    /// Mode centres for mode-coverage metrics, for the mixtures; `None` for the manifolds.
    pub fn modes(self) -> Option<Vec<[f32; 2]>> {
        match self {
            ToyKind::Ring8 => Some(ring8_modes()),
            ToyKind::Grid25 => Some(grid25_modes()),
            ToyKind::TwoMoons | ToyKind::SwissRoll => None,
        }
    }

    /// Standard deviation of each mixture component (the usual "high quality sample" radius is 3 std).
    pub fn mode_std(self) -> Option<f32> {
        match self {
            ToyKind::Ring8 => Some(RING8_STD),
            ToyKind::Grid25 => Some(GRID25_STD),
            ToyKind::TwoMoons | ToyKind::SwissRoll => None,
        }
    }
}

impl std::fmt::Display for ToyKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ToyKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Error::find_named("toy distribution", ToyKind::ALL, ToyKind::name, s)
    }
}

/// Radius of the 8-Gaussian ring.
pub const RING8_RADIUS: f32 = 2.0;
/// Std of each ring component.
pub const RING8_STD: f32 = 0.02;
/// Std of each grid component.
pub const GRID25_STD: f32 = 0.05;

/// The 8 ring centres, at angles `2πk/8`.
pub fn ring8_modes() -> Vec<[f32; 2]> {
    (0..8)
        .map(|k| {
            let a = 2.0 * PI * f64::from(k) / 8.0;
            [
                (f64::from(RING8_RADIUS) * a.cos()) as f32,
                (f64::from(RING8_RADIUS) * a.sin()) as f32,
            ]
        })
        .collect()
}

/// The 25 grid centres `(-4 + 2i, -4 + 2j)`, row-major in `i`.
pub fn grid25_modes() -> Vec<[f32; 2]> {
    (0..5)
        .flat_map(|i| (0..5).map(move |j| [(-4 + 2 * i) as f32, (-4 + 2 * j) as f32]))
        .collect()
}

fn mixture(n: usize, modes: &[[f32; 2]], std: f32, rng: &mut Rng) -> ToySample {
    let mut points = Vec::with_capacity(n);
    let mut labels = Vec::with_capacity(n);
    for _ in 0..n {
        let k = rng.below(modes.len() as u64) as usize;
        let [cx, cy] = modes[k];
        points.push([cx + std * rng.normal_f32(), cy + std * rng.normal_f32()]);
        labels.push(k as u32);
    }
    ToySample { points, labels }
}

/// `n` points from 8 equally weighted Gaussians on a radius-2 ring, std 0.02.
pub fn ring8(n: usize, rng: &mut Rng) -> ToySample {
    mixture(n, &ring8_modes(), RING8_STD, rng)
}

/// `n` points from 25 equally weighted Gaussians on a 5×5 grid of spacing 2, std 0.05.
pub fn grid25(n: usize, rng: &mut Rng) -> ToySample {
    mixture(n, &grid25_modes(), GRID25_STD, rng)
}

/// scikit-learn's `make_moons(n, noise=noise)`: the outer moon `(cos t, sin t)` gets `n/2` points (label 0),
/// the inner `(1 - cos t, 1/2 - sin t)` the rest (label 1), `t` evenly spaced on `[0, π]`, then
/// `N(0, noise²)` added per coordinate and the points shuffled.
pub fn two_moons(n: usize, noise: f32, rng: &mut Rng) -> ToySample {
    let n_out = n / 2;
    let n_in = n - n_out;
    let linspace = |m: usize, i: usize| {
        if m <= 1 {
            0.0
        } else {
            PI * i as f64 / (m - 1) as f64
        }
    };
    let mut pts: Vec<([f32; 2], u32)> = Vec::with_capacity(n);
    for i in 0..n_out {
        let t = linspace(n_out, i);
        pts.push(([t.cos() as f32, t.sin() as f32], 0));
    }
    for i in 0..n_in {
        let t = linspace(n_in, i);
        pts.push(([(1.0 - t.cos()) as f32, (0.5 - t.sin()) as f32], 1));
    }
    rng.shuffle(&mut pts);
    for (p, _) in &mut pts {
        p[0] += noise * rng.normal_f32();
        p[1] += noise * rng.normal_f32();
    }
    let (points, labels) = pts.into_iter().unzip();
    ToySample { points, labels }
}

/// scikit-learn's `make_swiss_roll(n, noise)` keeping `(x, z) = (t cos t, t sin t)`,
/// `t = 1.5π (1 + 2u)`, `u ~ U[0, 1)`, plus `N(0, noise²)`. Labels are all 0 (a single manifold).
pub fn swiss_roll(n: usize, noise: f32, rng: &mut Rng) -> ToySample {
    let points = (0..n)
        .map(|_| {
            let t = 1.5 * PI * (1.0 + 2.0 * rng.uniform_f64());
            [
                (t * t.cos()) as f32 + noise * rng.normal_f32(),
                (t * t.sin()) as f32 + noise * rng.normal_f32(),
            ]
        })
        .collect();
    ToySample {
        points,
        labels: vec![0; n],
    }
}

/// `[C, H, W]` of a point stored as an "image": each coordinate as a 16-bit fixed-point number
/// split into a high and a low byte, `[x_hi, x_lo, y_hi, y_lo]`. One byte per coordinate would
/// quantise the ring to steps of 0.02, its own σ; two bytes give steps of `2R/65535` (8e-5 for the
/// ring), far below any σ.
pub const POINT_SHAPE: [usize; 3] = [4, 1, 1];
/// Training points of a toy [`crate::DatasetKind`].
pub const TOY_TRAIN_POINTS: usize = 50_000;
/// Test points of a toy [`crate::DatasetKind`].
pub const TOY_TEST_POINTS: usize = 5_000;

impl ToyKind {
    /// Half-width `R` of the square `[−R, R]²` the stored points are scaled from: 1.25 × the
    /// largest mode coordinate for the mixtures (so a tanh generator's `[−1, 1]²` covers it with
    /// margin), 1.25 × the largest |coordinate| the default parameters reach for the manifolds.
    pub fn range(self) -> f32 {
        match self {
            ToyKind::Ring8 => 1.25 * RING8_RADIUS,
            ToyKind::Grid25 => 5.0,
            ToyKind::TwoMoons => 2.5,
            ToyKind::SwissRoll => 17.5,
        }
    }
}

/// Encodes a point of `[−range, range]²` (clamped) as the four bytes of [`POINT_SHAPE`].
pub fn encode_point(p: [f32; 2], range: f32) -> [u8; 4] {
    let q = |c: f32| {
        let u = ((f64::from(c) / f64::from(range) + 1.0) * 0.5).clamp(0.0, 1.0);
        (u * 65535.0).round() as u16
    };
    let (x, y) = (q(p[0]), q(p[1]));
    [(x >> 8) as u8, x as u8, (y >> 8) as u8, y as u8]
}

/// Decodes [`encode_point`]'s bytes into `[−1, 1]²` units (the point divided by `range`).
pub fn decode_unit(b: [u8; 4]) -> [f32; 2] {
    let q = |hi: u8, lo: u8| (f64::from(hi) * 256.0 + f64::from(lo)) / 65535.0 * 2.0 - 1.0;
    [q(b[0], b[1]) as f32, q(b[2], b[3]) as f32]
}

/// A toy split as an [`ImageSet`](crate::ImageSet) of [`POINT_SHAPE`] "images" labelled by their
/// mixture component: 50,000 training and 5,000 test points from fixed seeds (the two splits are
/// independent draws).
pub fn points_image_set(kind: ToyKind, split: crate::Split) -> crate::Result<crate::ImageSet> {
    let (n, seed) = match split {
        crate::Split::Train => (TOY_TRAIN_POINTS, 0x70_7921),
        crate::Split::Test => (TOY_TEST_POINTS, 0x70_7e57),
        crate::Split::Valid => return Err(crate::load::no_split(kind.name(), split)),
    };
    let sample = kind.sample(n, &mut Rng::seed_from_u64(seed));
    let range = kind.range();
    let images = sample
        .points
        .iter()
        .flat_map(|&p| encode_point(p, range))
        .collect();
    let labels = sample.labels.iter().map(|&l| l.min(255) as u8).collect();
    crate::ImageSet::new(images, labels, POINT_SHAPE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_survive_the_image_encoding_to_one_quantisation_step() {
        for kind in ToyKind::ALL {
            let set = points_image_set(kind, crate::Split::Test).expect("set");
            assert_eq!((set.len(), set.shape()), (TOY_TEST_POINTS, POINT_SHAPE));
            let raw = kind.sample(TOY_TEST_POINTS, &mut Rng::seed_from_u64(0x70_7e57));
            let r = kind.range();
            for (i, p) in raw.points.iter().enumerate() {
                let b: [u8; 4] = set.image(i).try_into().expect("4 bytes");
                let u = decode_unit(b);
                for d in 0..2 {
                    let want = p[d].clamp(-r, r);
                    // Half a step of 2R/65535, plus f32 rounding.
                    assert!(
                        (u[d] * r - want).abs() <= r / 65535.0 + 1e-5 * r,
                        "{kind}: {p:?} came back as {u:?} × {r}"
                    );
                }
                assert_eq!(u32::from(set.label(i)), raw.labels[i].min(255));
            }
        }
        // Only the manifolds ever reach the clamp, and rarely.
        assert_eq!(encode_point([9.0, -9.0], 2.5), [255, 255, 0, 0]);
    }

    fn moments(p: &[[f32; 2]]) -> ([f64; 2], [f64; 2]) {
        let n = p.len() as f64;
        let mean = [0, 1].map(|d| p.iter().map(|q| f64::from(q[d])).sum::<f64>() / n);
        let var = [0, 1].map(|d| {
            p.iter()
                .map(|q| (f64::from(q[d]) - mean[d]).powi(2))
                .sum::<f64>()
                / n
        });
        (mean, var)
    }

    /// Per coordinate, the sample mean within `tol[0]` of `mean` and the variance within `tol[1]`
    /// of `var`.
    fn assert_moments(p: &[[f32; 2]], mean: [f64; 2], var: [f64; 2], tol: [f64; 2]) {
        let (m, v) = moments(p);
        for d in 0..2 {
            assert!((m[d] - mean[d]).abs() < tol[0], "{m:?} vs {mean:?}");
            assert!((v[d] - var[d]).abs() < tol[1], "{v:?} vs {var:?}");
        }
    }

    #[test]
    fn ring8_moments_and_modes() {
        let s = ring8(200_000, &mut Rng::seed_from_u64(1));
        // Per coordinate: mean 0, variance r²/2 + σ².
        let want = 2.0 + 0.02f64.powi(2);
        assert_moments(&s.points, [0.0; 2], [want; 2], [0.01, 0.02]);
        let modes = ring8_modes();
        for (p, &l) in s.points.iter().zip(&s.labels) {
            let c = modes[l as usize];
            assert!(((p[0] - c[0]).powi(2) + (p[1] - c[1]).powi(2)).sqrt() < 6.0 * RING8_STD);
        }
    }

    #[test]
    fn grid25_moments() {
        let s = grid25(200_000, &mut Rng::seed_from_u64(2));
        // Centres {-4,-2,0,2,4} uniformly: variance 8, plus σ².
        let want = 8.0 + 0.05f64.powi(2);
        assert_moments(&s.points, [0.0; 2], [want; 2], [0.02, 0.06]);
        assert_eq!(grid25_modes().len(), 25);
        assert_eq!(ToyKind::Grid25.modes().map(|m| m.len()), Some(25));
    }

    #[test]
    fn two_moons_moments() {
        let noise = 0.1;
        let s = two_moons(200_001, noise, &mut Rng::seed_from_u64(3));
        assert_eq!(s.labels.iter().filter(|&&l| l == 0).count(), 100_000);
        // x: moons centred at 0 and 1, each with Var(cos t) = 1/2 for t ~ U[0, π].
        // y: means 2/π and 1/2 - 2/π, each with Var(sin t) = 1/2 - 4/π².
        let n2 = f64::from(noise).powi(2);
        let want_m = [0.5, 0.25];
        let half_gap_y = (4.0 / PI - 0.5) / 2.0;
        let want_v = [
            0.5 + 0.25 + n2,
            0.5 - 4.0 / (PI * PI) + half_gap_y.powi(2) + n2,
        ];
        assert_moments(&s.points, want_m, want_v, [0.01, 0.01]);
    }

    #[test]
    fn swiss_roll_moments() {
        let noise = 0.5f64;
        let s = swiss_roll(400_000, noise as f32, &mut Rng::seed_from_u64(4));
        let (m, v) = moments(&s.points);
        // t ~ U[a, b], a = 1.5π, b = 4.5π: E[t cos t] = 6π/3π = 2, E[t sin t] = 2/(3π),
        // and E[x² + z²] = E[t²] + 2·noise² = (b³ - a³)/(3(b - a)) + 2·noise².
        let (a, b) = (1.5 * PI, 4.5 * PI);
        assert!((m[0] - 2.0).abs() < 0.05, "{m:?}");
        assert!((m[1] - 2.0 / (3.0 * PI)).abs() < 0.05, "{m:?}");
        let second = v[0] + m[0] * m[0] + v[1] + m[1] * m[1];
        let want = (b.powi(3) - a.powi(3)) / (3.0 * (b - a)) + 2.0 * noise * noise;
        assert!((second / want - 1.0).abs() < 0.005, "{second} vs {want}");
    }

    #[test]
    fn seeded_and_named() {
        for k in ToyKind::ALL {
            let a = k.sample(100, &mut Rng::seed_from_u64(9));
            assert_eq!(a, k.sample(100, &mut Rng::seed_from_u64(9)));
            assert_eq!(a.points.len(), 100);
            assert_eq!(k.name().parse::<ToyKind>().ok(), Some(k));
            assert_eq!(k.to_string(), k.name());
        }
        let e = "toy-ring".parse::<ToyKind>().expect_err("unknown");
        assert!(
            e.to_string()
                .contains("toy-ring8, toy-grid25, toy-moons, toy-swissroll"),
            "{e}"
        );
    }
}
