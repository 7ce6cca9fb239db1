//! Fréchet distance between Gaussians fitted to two feature sets — the "FD" of FID,
//! Heusel et al. 2017, "GANs Trained by a Two Time-Scale Update Rule…", arXiv:1706.08500.
//!
//! `d² = ‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2 tr √(Σ₁^½ Σ₂ Σ₁^½)`, in f64. The last trace equals pytorch-fid's
//! `tr sqrtm(Σ₁ Σ₂)` (the two matrices are similar), but is computed from two real symmetric
//! eigendecompositions, so it is always real and never needs the complex-part workaround of
//! `scipy.linalg.sqrtm`. Covariances use `n − 1`, as `np.cov` does.

use nalgebra::{DMatrix, DVector, SymmetricEigen};

use crate::error::{Error, Result};
use crate::features::{Features, same_dim};

/// What is added to both covariance diagonals when one of them is singular by construction
/// (no more samples than dimensions); pytorch-fid's fallback offset.
pub const SINGULAR_EPS: f64 = 1e-6;

/// Mean and covariance of a feature set.
#[derive(Debug, Clone, PartialEq)]
pub struct GaussianStats {
    /// Mean, length `d`.
    pub mean: DVector<f64>,
    /// Covariance `d × d` (divided by `n − 1`).
    pub cov: DMatrix<f64>,
    /// Number of samples it was fitted to.
    pub n: usize,
}

impl GaussianStats {
    /// Fits mean and covariance. Errors: fewer than two samples.
    pub fn fit(features: &Features) -> Result<Self> {
        let n = features.len();
        if n < 2 {
            return Err(Error::TooFewSamples {
                what: "a covariance",
                need: 2,
                got: n,
            });
        }
        let mut x = features.matrix(None);
        let mean = x.row_mean().transpose();
        for mut row in x.row_iter_mut() {
            row -= mean.transpose();
        }
        let mut cov = x.tr_mul(&x) / (n - 1) as f64;
        symmetrize(&mut cov);
        Ok(Self { mean, cov, n })
    }

    /// Feature dimension.
    pub fn dim(&self) -> usize {
        self.mean.len()
    }
}

/// A Fréchet distance and how it was obtained.
#[derive(Debug, Clone, PartialEq)]
pub struct FrechetDistance {
    /// The squared Fréchet distance (never negative).
    pub value: f64,
    /// `Some(eps)` when `eps·I` was added to both covariances because a set had no more samples
    /// than dimensions; the value is then finite but not comparable with well-sampled numbers.
    pub regularized: Option<f64>,
}

/// Fréchet distance between two feature sets (fits both Gaussians first).
pub fn frechet_distance(a: &Features, b: &Features) -> Result<FrechetDistance> {
    same_dim(a, b)?;
    frechet_distance_stats(&GaussianStats::fit(a)?, &GaussianStats::fit(b)?)
}

/// Fréchet distance between two fitted Gaussians.
pub fn frechet_distance_stats(a: &GaussianStats, b: &GaussianStats) -> Result<FrechetDistance> {
    if a.dim() != b.dim() {
        return Err(Error::DimensionMismatch {
            a: a.dim(),
            b: b.dim(),
        });
    }
    let d = a.dim();
    let singular = a.n <= d || b.n <= d;
    let (s1, s2) = if singular {
        let eps = DMatrix::identity(d, d) * SINGULAR_EPS;
        (&a.cov + &eps, &b.cov + &eps)
    } else {
        (a.cov.clone(), b.cov.clone())
    };
    let root1 = psd_sqrt(&s1);
    let mut m = &root1 * &s2 * &root1;
    symmetrize(&mut m);
    let tr_sqrt: f64 = SymmetricEigen::new(m)
        .eigenvalues
        .iter()
        .map(|&l| l.max(0.0).sqrt())
        .sum();
    let diff = &a.mean - &b.mean;
    let value = diff.norm_squared() + s1.trace() + s2.trace() - 2.0 * tr_sqrt;
    Ok(FrechetDistance {
        // Identical sets give a rounding-level value of either sign; a distance is not negative.
        value: value.max(0.0),
        regularized: singular.then_some(SINGULAR_EPS),
    })
}

/// The symmetric square root of a symmetric positive semi-definite matrix; eigenvalues below zero
/// (rounding) are taken as zero.
pub fn psd_sqrt(m: &DMatrix<f64>) -> DMatrix<f64> {
    let eig = SymmetricEigen::new(m.clone());
    let roots = eig.eigenvalues.map(|l| l.max(0.0).sqrt());
    let v = &eig.eigenvectors;
    let mut out = v * DMatrix::from_diagonal(&roots) * v.transpose();
    symmetrize(&mut out);
    out
}

fn symmetrize(m: &mut DMatrix<f64>) {
    let t = m.transpose();
    *m += t;
    *m *= 0.5;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn features(rows: &[&[f32]]) -> Features {
        let dim = rows[0].len();
        Features::new(rows.iter().flat_map(|r| r.iter().copied()).collect(), dim).expect("features")
    }

    #[test]
    fn one_dimensional_closed_form() {
        // 1-D: d² = (μ1 − μ2)² + (σ1 − σ2)².
        let a = features(&[&[0.0], &[2.0], &[4.0]]); // mean 2, var 4
        let b = features(&[&[5.0], &[6.0], &[7.0]]); // mean 6, var 1
        let d = frechet_distance(&a, &b).expect("fd");
        assert!((d.value - (16.0 + 1.0)).abs() < 1e-12, "{}", d.value);
        assert_eq!(d.regularized, None);
    }

    #[test]
    fn diagonal_closed_form() {
        // Independent coordinates: sum over dimensions of the 1-D formula.
        let a = features(&[&[1.0, 0.0], &[-1.0, 0.0], &[0.0, 3.0], &[0.0, -3.0]]);
        let b = features(&[&[2.0, 1.0], &[0.0, 1.0], &[1.0, 2.0], &[1.0, 0.0]]);
        // a: mean (0,0), cov diag(2/3, 6); b: mean (1,1), cov diag(2/3, 2/3).
        let expect = 2.0 + (6.0f64.sqrt() - (2.0f64 / 3.0).sqrt()).powi(2);
        let d = frechet_distance(&a, &b).expect("fd").value;
        assert!((d - expect).abs() < 1e-10, "{d} vs {expect}");
    }

    #[test]
    fn identical_sets_give_zero_never_negative() {
        let a = features(&[
            &[0.3, 1.0, -2.0],
            &[1.5, 0.2, 0.1],
            &[-0.7, 2.0, 1.0],
            &[0.1, -1.0, 0.5],
            &[2.0, 0.0, 0.0],
        ]);
        let d = frechet_distance(&a, &a).expect("fd");
        assert!(d.value >= 0.0 && d.value < 1e-10, "{}", d.value);
    }

    #[test]
    fn one_sample_and_mismatched_dims_are_errors() {
        let one = features(&[&[1.0, 2.0]]);
        let two = features(&[&[1.0, 2.0], &[0.0, 1.0]]);
        assert!(matches!(
            frechet_distance(&one, &two),
            Err(Error::TooFewSamples { got: 1, .. })
        ));
        let other = features(&[&[1.0], &[2.0]]);
        assert!(matches!(
            frechet_distance(&two, &other),
            Err(Error::DimensionMismatch { a: 2, b: 1 })
        ));
    }

    #[test]
    fn singular_covariances_are_regularized_and_finite() {
        // 3 samples in 5 dimensions: rank-2 covariances.
        let a = features(&[
            &[1.0, 0.0, 2.0, 0.0, 1.0],
            &[0.0, 1.0, 0.0, 1.0, 0.0],
            &[1.0, 1.0, 1.0, 1.0, 1.0],
        ]);
        let b = features(&[
            &[0.0, 0.0, 1.0, 0.0, 1.0],
            &[2.0, 1.0, 0.0, 1.0, 0.0],
            &[1.0, 0.0, 1.0, 1.0, 3.0],
        ]);
        let d = frechet_distance(&a, &b).expect("fd");
        assert_eq!(d.regularized, Some(SINGULAR_EPS));
        assert!(d.value.is_finite() && d.value > 0.0);
    }

    #[test]
    fn psd_sqrt_squares_back() {
        let m = DMatrix::from_row_slice(3, 3, &[4.0, 1.0, 0.5, 1.0, 3.0, 0.2, 0.5, 0.2, 2.0]);
        let r = psd_sqrt(&m);
        assert!((&r * &r - &m).abs().max() < 1e-12);
    }
}
