//! Improved precision and recall — Kynkäänniemi et al. 2019, "Improved Precision and Recall Metric
//! for Assessing Generative Models", arXiv:1904.06991.
//!
//! Each set's manifold is the union of balls around its samples, each ball's radius the distance to
//! the sample's `k`-th nearest neighbour in its own set (k = 3 by default). Precision is the fraction
//! of generated samples inside the real manifold (quality); recall the fraction of real samples inside
//! the generated manifold (coverage). Distances are Euclidean in feature space, computed in f64 blocks
//! so that 10,000 × 10,000 never holds a full distance matrix in memory.

use nalgebra::DMatrix;

use crate::error::{Error, Result};
use crate::features::{Features, same_dim};

/// Rows per block of the pairwise distance computation.
const BLOCK: usize = 1024;

/// Improved precision and recall.
#[derive(Debug, Clone, PartialEq)]
pub struct PrecisionRecall {
    /// Fraction of fake samples within the real manifold.
    pub precision: f64,
    /// Fraction of real samples within the fake manifold.
    pub recall: f64,
    /// The `k` of the radii.
    pub k: usize,
}

/// Precision and recall of `fake` against `real` with `k`-NN radii.
///
/// Errors: different dimensions, `k == 0`, or a set with no more than `k` samples.
pub fn precision_recall(real: &Features, fake: &Features, k: usize) -> Result<PrecisionRecall> {
    same_dim(real, fake)?;
    if k == 0 {
        return Err(Error::Option("precision/recall needs k ≥ 1".into()));
    }
    for set in [real, fake] {
        if set.len() <= k {
            return Err(Error::TooFewSamples {
                what: "k-NN radii (k + 1 per set)",
                need: k + 1,
                got: set.len(),
            });
        }
    }
    let (r, f) = (real.matrix(None), fake.matrix(None));
    let real_radii = knn_radii_sq(&r, k);
    let fake_radii = knn_radii_sq(&f, k);
    Ok(PrecisionRecall {
        precision: covered_fraction(&f, &r, &real_radii),
        recall: covered_fraction(&r, &f, &fake_radii),
        k,
    })
}

/// Squared distance from each row to its `k`-th nearest other row (the row itself, at distance 0,
/// is the 0-th).
pub fn knn_radii_sq(x: &DMatrix<f64>, k: usize) -> Vec<f64> {
    let mut radii = Vec::with_capacity(x.nrows());
    for_blocks(x, x, |_, row| {
        let mut row = row.to_vec();
        let (_, kth, _) = row.select_nth_unstable_by(k, f64::total_cmp);
        radii.push(*kth);
    });
    radii
}

/// Fraction of rows of `queries` within `radii_sq[j]` of some row `j` of `centres`.
fn covered_fraction(queries: &DMatrix<f64>, centres: &DMatrix<f64>, radii_sq: &[f64]) -> f64 {
    let mut inside = 0usize;
    for_blocks(queries, centres, |_, row| {
        if row.iter().zip(radii_sq).any(|(d, r)| d <= r) {
            inside += 1;
        }
    });
    inside as f64 / queries.nrows() as f64
}

/// Calls `f(i, squared distances from a[i] to every row of b)` for each row of `a`, in order.
fn for_blocks(a: &DMatrix<f64>, b: &DMatrix<f64>, mut f: impl FnMut(usize, &[f64])) {
    let b_sq: Vec<f64> = b.row_iter().map(|r| r.norm_squared()).collect();
    let bt = b.transpose();
    let mut row = vec![0.0; b.nrows()];
    for start in (0..a.nrows()).step_by(BLOCK) {
        let len = BLOCK.min(a.nrows() - start);
        let block = a.rows(start, len);
        let dots = block * &bt; // [len, b rows]
        for i in 0..len {
            let a_sq = block.row(i).norm_squared();
            for (j, out) in row.iter_mut().enumerate() {
                *out = (a_sq + b_sq[j] - 2.0 * dots[(i, j)]).max(0.0);
            }
            f(start + i, &row);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(xs: &[f32]) -> Features {
        Features::new(xs.to_vec(), 1).expect("features")
    }

    #[test]
    fn hand_checked_on_a_line() {
        // Real at 0,1,2,3: with k = 1 every radius is 1, so the real manifold is [-1, 4].
        // Fake at 3.5, 10, 11, 12: radii 6.5, 1, 1, 1 → manifold [-3, 10] ∪ [9, 13].
        let real = line(&[0.0, 1.0, 2.0, 3.0]);
        let fake = line(&[3.5, 10.0, 11.0, 12.0]);
        let pr = precision_recall(&real, &fake, 1).expect("pr");
        assert!((pr.precision - 0.25).abs() < 1e-12, "{pr:?}"); // only 3.5 is inside
        assert!((pr.recall - 1.0).abs() < 1e-12, "{pr:?}"); // 3.5's big ball covers all real
    }

    #[test]
    fn identical_sets_have_full_precision_and_recall() {
        let a = line(&[0.0, 0.5, 2.0, 7.0, 7.5]);
        let pr = precision_recall(&a, &a, 3).expect("pr");
        assert_eq!((pr.precision, pr.recall), (1.0, 1.0));
    }

    #[test]
    fn radii_match_brute_force() {
        let x = DMatrix::from_row_slice(5, 2, &[0.0, 0.0, 1.0, 0.0, 0.0, 2.0, 3.0, 3.0, -1.0, 0.5]);
        for k in 1..5 {
            let radii = knn_radii_sq(&x, k);
            for (i, r) in radii.iter().enumerate() {
                let mut d: Vec<f64> = (0..5)
                    .map(|j| (x.row(i) - x.row(j)).norm_squared())
                    .collect();
                d.sort_by(f64::total_cmp);
                assert!((r - d[k]).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn too_few_samples_or_zero_k_are_errors() {
        let a = line(&[0.0, 1.0, 2.0]);
        assert!(matches!(
            precision_recall(&a, &a, 3),
            Err(Error::TooFewSamples { .. })
        ));
        assert!(precision_recall(&a, &a, 0).is_err());
    }
}
