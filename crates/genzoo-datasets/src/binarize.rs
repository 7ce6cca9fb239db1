//! Binarization of `u8` intensities for Bernoulli likelihoods: the two conventions of the NLL literature.
//!
//! - **Fixed threshold** (`x > 0.5`): the "statically binarized" MNIST of e.g. Larochelle & Murray 2011 is a
//!   single stochastic draw saved once; thresholding is the deterministic stand-in many codebases use.
//! - **Dynamic** binarization (Salakhutdinov & Murray 2008; used by IWAE, Burda et al. 2015, and PixelCNN
//!   NLL tables): every time an image is seen, each pixel is drawn `~ Bernoulli(intensity / 255)`.
//!
//! Dynamic draws here are keyed by `(seed, item index)`, so a given image binarizes the same way whatever
//! batch it lands in, and a resumed run reproduces them.

use crate::rng::{Rng, derive_seed};

/// How `u8` pixels become `f32` values in `[0, 1]`.
#[derive(Clone, Copy, Debug, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub enum Binarization {
    /// Intensities scaled to `[0, 1]` (`x / 255`).
    #[default]
    None,
    /// `1.0` where `x / 255 > t`, else `0.0`; the usual `t` is 0.5 ([`Binarization::threshold`]).
    Threshold(f32),
    /// Each pixel `~ Bernoulli(x / 255)`, seeded.
    Dynamic,
}

impl Binarization {
    /// The conventional fixed threshold, 0.5.
    pub const fn threshold() -> Self {
        Binarization::Threshold(0.5)
    }

    /// Whether the output is in `{0, 1}`.
    pub fn is_binary(&self) -> bool {
        !matches!(self, Binarization::None)
    }

    /// Appends `pixels` converted to `f32` onto `out`. `seed` and `index` key the dynamic draws and are
    /// ignored otherwise.
    pub fn apply_into(&self, pixels: &[u8], seed: u64, index: u64, out: &mut Vec<f32>) {
        match *self {
            Binarization::None => out.extend(pixels.iter().map(|&p| f32::from(p) / 255.0)),
            Binarization::Threshold(t) => out.extend(
                pixels
                    .iter()
                    .map(|&p| if f32::from(p) / 255.0 > t { 1.0 } else { 0.0 }),
            ),
            Binarization::Dynamic => {
                let mut rng = Rng::seed_from_u64(derive_seed(seed, &[index]));
                // Compare in f64 so that 255 always gives 1 and 0 always gives 0.
                out.extend(pixels.iter().map(|&p| {
                    if rng.uniform_f64() < f64::from(p) / 255.0 {
                        1.0
                    } else {
                        0.0
                    }
                }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(b: Binarization, px: &[u8], seed: u64, index: u64) -> Vec<f32> {
        let mut v = Vec::new();
        b.apply_into(px, seed, index, &mut v);
        v
    }

    #[test]
    fn none_and_threshold() {
        assert_eq!(
            run(Binarization::None, &[0, 51, 255], 0, 0),
            [0.0, 0.2, 1.0]
        );
        assert_eq!(
            run(Binarization::threshold(), &[0, 127, 128, 255], 0, 0),
            [0.0, 0.0, 1.0, 1.0]
        );
    }

    #[test]
    fn dynamic_is_seeded_and_unbiased() {
        let px = vec![64u8; 100_000];
        let a = run(Binarization::Dynamic, &px, 5, 3);
        assert_eq!(a, run(Binarization::Dynamic, &px, 5, 3));
        assert_ne!(a, run(Binarization::Dynamic, &px, 5, 4));
        assert_ne!(a, run(Binarization::Dynamic, &px, 6, 3));
        let mean = a.iter().sum::<f32>() / a.len() as f32;
        assert!((mean - 64.0 / 255.0).abs() < 0.005, "{mean}");
        assert!(a.iter().all(|&v| v == 0.0 || v == 1.0));
        assert_eq!(
            run(Binarization::Dynamic, &[0, 255, 0, 255], 1, 1),
            [0.0, 1.0, 0.0, 1.0]
        );
    }
}
