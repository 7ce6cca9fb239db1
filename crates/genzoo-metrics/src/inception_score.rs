//! Inception-style score — Salimans et al. 2016, "Improved Techniques for Training GANs",
//! arXiv:1606.03498: `exp E_x KL(p(y|x) ‖ p(y))` from a classifier's class probabilities.
//!
//! As torch-fidelity: the samples are cut into `splits` consecutive parts (10 by default), `p(y)` is
//! each part's mean prediction, and the score is reported as the mean ± population standard deviation
//! over parts. With genzoo's domain classifiers it is named for the classifier (e.g. "IS
//! (genzoo-LeNet-MNIST)") and is not comparable with Inception-v3 numbers. It lies in `[1, classes]`.

use crate::error::{Error, Result};

/// Tolerance on `Σ p = 1` per row (the probabilities come from an f32 softmax).
const SUM_TOLERANCE: f64 = 1e-3;

/// An Inception-style score.
#[derive(Debug, Clone, PartialEq)]
pub struct InceptionScore {
    /// Mean over splits.
    pub mean: f64,
    /// Population standard deviation over splits.
    pub std: f64,
    /// Splits used.
    pub splits: usize,
}

/// The score of `n` rows of `classes` probabilities (row-major), over `splits` parts.
///
/// Errors: a ragged matrix, a negative, non-finite or non-normalised row, `splits` of zero or more
/// than the number of rows.
pub fn inception_score(probs: &[f32], classes: usize, splits: usize) -> Result<InceptionScore> {
    if classes == 0 || !probs.len().is_multiple_of(classes) {
        return Err(Error::Shape {
            values: probs.len(),
            dim: classes,
        });
    }
    let n = probs.len() / classes;
    if splits == 0 || splits > n {
        return Err(Error::Option(format!(
            "{splits} splits for {n} samples: need 1 ≤ splits ≤ samples"
        )));
    }
    for (row, p) in probs.chunks(classes).enumerate() {
        if let Some(v) = p.iter().find(|v| !v.is_finite() || **v < 0.0) {
            return Err(Error::Probabilities {
                row,
                problem: format!("holds {v}"),
            });
        }
        let sum: f64 = p.iter().map(|&v| f64::from(v)).sum();
        if (sum - 1.0).abs() > SUM_TOLERANCE {
            return Err(Error::Probabilities {
                row,
                problem: format!("sums to {sum}, not 1"),
            });
        }
    }
    let mut scores = Vec::with_capacity(splits);
    for k in 0..splits {
        let part = &probs[k * n / splits * classes..(k + 1) * n / splits * classes];
        let rows = part.len() / classes;
        let mut marginal = vec![0.0f64; classes];
        for p in part.chunks(classes) {
            for (m, &v) in marginal.iter_mut().zip(p) {
                *m += f64::from(v) / rows as f64;
            }
        }
        let mut kl = 0.0;
        for p in part.chunks(classes) {
            for (&v, &m) in p.iter().zip(&marginal) {
                let v = f64::from(v);
                if v > 0.0 {
                    kl += v * (v.ln() - m.ln());
                }
            }
        }
        scores.push((kl / rows as f64).exp());
    }
    let mean = scores.iter().sum::<f64>() / splits as f64;
    let std = (scores.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / splits as f64).sqrt();
    Ok(InceptionScore { mean, std, splits })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_predictions_score_one() {
        let s = inception_score(&[0.25; 40], 4, 2).expect("is");
        assert!((s.mean - 1.0).abs() < 1e-12 && s.std.abs() < 1e-12);
    }

    #[test]
    fn confident_and_balanced_predictions_score_the_class_count() {
        // Each row one-hot, the classes evenly used in every split: KL = ln C, score = C.
        let c = 5;
        let probs: Vec<f32> = (0..20)
            .flat_map(|i| (0..c).map(move |j| f32::from(u8::from(i % c == j))))
            .collect();
        let s = inception_score(&probs, c, 2).expect("is");
        assert!((s.mean - 5.0).abs() < 1e-9, "{s:?}");
    }

    #[test]
    fn confident_but_collapsed_scores_one() {
        let probs: Vec<f32> = (0..10).flat_map(|_| [1.0, 0.0, 0.0]).collect();
        let s = inception_score(&probs, 3, 1).expect("is");
        assert!((s.mean - 1.0).abs() < 1e-12);
    }

    #[test]
    fn two_by_two_by_hand() {
        // Rows (0.9, 0.1) and (0.2, 0.8); marginal (0.55, 0.45).
        let kl = |p: [f64; 2]| p[0] * (p[0] / 0.55).ln() + p[1] * (p[1] / 0.45).ln();
        let expect = ((kl([0.9, 0.1]) + kl([0.2, 0.8])) / 2.0).exp();
        let s = inception_score(&[0.9, 0.1, 0.2, 0.8], 2, 1).expect("is");
        assert!((s.mean - expect).abs() < 1e-7, "{} vs {expect}", s.mean);
    }

    #[test]
    fn bad_probabilities_are_errors() {
        assert!(matches!(
            inception_score(&[0.5, 0.6], 2, 1),
            Err(Error::Probabilities { row: 0, .. })
        ));
        assert!(matches!(
            inception_score(&[0.5, 0.5, -0.1, 1.1], 2, 1),
            Err(Error::Probabilities { row: 1, .. })
        ));
        assert!(inception_score(&[0.5, 0.5, 0.5], 2, 1).is_err());
        assert!(inception_score(&[0.5, 0.5], 2, 2).is_err());
    }
}
