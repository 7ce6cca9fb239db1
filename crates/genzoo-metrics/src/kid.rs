//! Kernel Inception Distance — Bińkowski et al. 2018, "Demystifying MMD GANs", arXiv:1801.01401.
//!
//! The unbiased estimate of the squared maximum mean discrepancy with the cubic polynomial kernel
//! `k(x, y) = (xᵀy / d + 1)³`, averaged over random subsets of both sets, as torch-fidelity and
//! torchmetrics compute it: 100 subsets of 1,000 by default, the spread reported as the population
//! standard deviation (`np.std`) of the per-subset values. Unlike FID it is unbiased, so it can be
//! negative when the two sets come from the same distribution.

use genzoo_datasets::rng::Rng;
use nalgebra::DMatrix;

use crate::error::{Error, Result};
use crate::features::{Features, same_dim};

/// How KID draws its subsets.
#[derive(Debug, Clone, PartialEq)]
pub struct KidOptions {
    /// Number of subsets (100 in torch-fidelity).
    pub subsets: usize,
    /// Samples per subset, from each set (1,000 in torch-fidelity); capped at the smaller set. When
    /// both sets are that small, the one "subset" is both whole sets and it is computed once.
    pub subset_size: usize,
    /// Seed of the subset draws.
    pub seed: u64,
}

impl Default for KidOptions {
    fn default() -> Self {
        Self {
            subsets: 100,
            subset_size: 1000,
            seed: 0,
        }
    }
}

/// A KID estimate.
#[derive(Debug, Clone, PartialEq)]
pub struct Kid {
    /// Mean of the per-subset unbiased MMD² values.
    pub mean: f64,
    /// Their population standard deviation.
    pub std: f64,
    /// Subsets used.
    pub subsets: usize,
    /// Samples per subset actually used.
    pub subset_size: usize,
}

/// KID between `real` and `fake` over random subsets.
///
/// Errors: different dimensions, fewer than two samples in a set, zero subsets.
pub fn kid(real: &Features, fake: &Features, opts: &KidOptions) -> Result<Kid> {
    same_dim(real, fake)?;
    if opts.subsets == 0 {
        return Err(Error::Option("KID needs at least one subset".into()));
    }
    let m = opts.subset_size.min(real.len()).min(fake.len());
    if m < 2 {
        return Err(Error::TooFewSamples {
            what: "KID (per set)",
            need: 2,
            got: real.len().min(fake.len()).min(opts.subset_size),
        });
    }
    // Subsets as large as both sets are the sets themselves, whatever the draw: one is enough.
    let draws = if m == real.len() && m == fake.len() {
        1
    } else {
        opts.subsets
    };
    let mut rng = Rng::seed_from_u64(opts.seed);
    let subsets: Vec<(Vec<usize>, Vec<usize>)> = (0..draws)
        .map(|_| {
            let x = choose(&mut rng, real.len(), m);
            let y = choose(&mut rng, fake.len(), m);
            (x, y)
        })
        .collect();
    kid_on_subsets(real, fake, &subsets)
}

/// KID over the given `(real rows, fake rows)` subsets, each pair of equal size ≥ 2.
pub fn kid_on_subsets(
    real: &Features,
    fake: &Features,
    subsets: &[(Vec<usize>, Vec<usize>)],
) -> Result<Kid> {
    same_dim(real, fake)?;
    let mut values = Vec::with_capacity(subsets.len());
    let mut size = 0;
    for (x, y) in subsets {
        if x.len() != y.len() || x.len() < 2 {
            return Err(Error::Option(format!(
                "KID subsets must be of equal size ≥ 2, got {} and {}",
                x.len(),
                y.len()
            )));
        }
        if let Some(&bad) = x
            .iter()
            .find(|&&i| i >= real.len())
            .or(y.iter().find(|&&i| i >= fake.len()))
        {
            return Err(Error::Option(format!(
                "KID subset index {bad} out of range"
            )));
        }
        size = x.len();
        values.push(mmd2_unbiased(&real.matrix(Some(x)), &fake.matrix(Some(y))));
    }
    if values.is_empty() {
        return Err(Error::Option("KID needs at least one subset".into()));
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let std = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
    Ok(Kid {
        mean,
        std,
        subsets: values.len(),
        subset_size: size,
    })
}

/// Unbiased MMD² between the rows of `x` and `y` (equal row counts `m ≥ 2`) with the cubic
/// polynomial kernel: the diagonal terms `k(xᵢ, xᵢ)` are left out of the within-set means.
pub fn mmd2_unbiased(x: &DMatrix<f64>, y: &DMatrix<f64>) -> f64 {
    let m = x.nrows() as f64;
    let d = x.ncols() as f64;
    let kernel_sum = |a: &DMatrix<f64>, b: &DMatrix<f64>| -> (f64, f64) {
        let k = (a * b.transpose()).map(|v| (v / d + 1.0).powi(3));
        let diag = if a.nrows() == k.ncols() {
            k.trace()
        } else {
            0.0
        };
        (k.sum(), diag)
    };
    let (sxx, txx) = kernel_sum(x, x);
    let (syy, tyy) = kernel_sum(y, y);
    let (sxy, _) = kernel_sum(x, y);
    (sxx - txx) / (m * (m - 1.0)) + (syy - tyy) / (m * (m - 1.0)) - 2.0 * sxy / (m * m)
}

/// `m` distinct indices below `n`, uniformly (a partial Fisher–Yates shuffle).
fn choose(rng: &mut Rng, n: usize, m: usize) -> Vec<usize> {
    let mut all: Vec<usize> = (0..n).collect();
    for i in 0..m {
        let j = i + rng.below((n - i) as u64) as usize;
        all.swap(i, j);
    }
    all.truncate(m);
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_mmd_in_one_dimension() {
        // d = 1, k(x, y) = (xy + 1)³. x = {0, 1}, y = {1, 2}:
        // within x: k(0,1) = 1 (twice) → 2 / 2 = 1; within y: k(1,2) = 27 → 54 / 2 = 27;
        // across: k(0,1) + k(0,2) + k(1,1) + k(1,2) = 1 + 1 + 8 + 27 = 37 → 2·37/4 = 18.5.
        let x = DMatrix::from_row_slice(2, 1, &[0.0, 1.0]);
        let y = DMatrix::from_row_slice(2, 1, &[1.0, 2.0]);
        assert!((mmd2_unbiased(&x, &y) - (1.0 + 27.0 - 18.5)).abs() < 1e-12);
    }

    #[test]
    fn choose_gives_distinct_indices_in_range() {
        let mut rng = Rng::seed_from_u64(3);
        let mut idx = choose(&mut rng, 50, 20);
        assert_eq!(idx.len(), 20);
        idx.sort_unstable();
        idx.dedup();
        assert_eq!(idx.len(), 20);
        assert!(idx.iter().all(|&i| i < 50));
    }

    #[test]
    fn same_distribution_is_near_zero_and_shift_is_not() {
        let mut rng = Rng::seed_from_u64(7);
        let mut draw = |n: usize, shift: f32| {
            Features::new((0..n * 4).map(|_| rng.normal_f32() + shift).collect(), 4)
                .expect("features")
        };
        let (a, b, c) = (draw(400, 0.0), draw(400, 0.0), draw(400, 1.0));
        let opts = KidOptions {
            subsets: 20,
            subset_size: 200,
            seed: 1,
        };
        let same = kid(&a, &b, &opts).expect("kid");
        let shifted = kid(&a, &c, &opts).expect("kid");
        assert_eq!((same.subsets, same.subset_size), (20, 200));
        assert!(same.mean.abs() < 0.05, "{same:?}");
        assert!(
            shifted.mean > 10.0 * same.mean.abs().max(0.01),
            "{shifted:?}"
        );
        // Same seed, same subsets, same value.
        assert_eq!(kid(&a, &c, &opts).expect("kid"), shifted);
    }

    #[test]
    fn whole_sets_are_one_subset() {
        let mut rng = Rng::seed_from_u64(9);
        let mut draw = |n: usize| {
            Features::new((0..n * 3).map(|_| rng.normal_f32()).collect(), 3).expect("features")
        };
        let (a, b) = (draw(30), draw(30));
        let k = kid(
            &a,
            &b,
            &KidOptions {
                subsets: 50,
                subset_size: 1000,
                seed: 0,
            },
        )
        .expect("kid");
        assert_eq!((k.subsets, k.subset_size, k.std), (1, 30, 0.0));
        let whole = mmd2_unbiased(&a.matrix(None), &b.matrix(None));
        assert!((k.mean - whole).abs() < 1e-9 * whole.abs().max(1.0));
        // A larger second set still gets fresh subsets of it.
        let c = draw(60);
        assert_eq!(
            kid(
                &a,
                &c,
                &KidOptions {
                    subsets: 5,
                    subset_size: 1000,
                    seed: 0
                }
            )
            .expect("kid")
            .subsets,
            5
        );
    }

    #[test]
    fn bad_options_are_errors() {
        let a = Features::new(vec![0.0, 1.0, 2.0], 1).expect("features");
        let one = Features::new(vec![0.0], 1).expect("features");
        assert!(kid(&a, &one, &KidOptions::default()).is_err());
        assert!(
            kid(
                &a,
                &a,
                &KidOptions {
                    subsets: 0,
                    ..KidOptions::default()
                }
            )
            .is_err()
        );
        assert!(kid_on_subsets(&a, &a, &[(vec![0, 1], vec![0, 5])]).is_err());
    }
}
