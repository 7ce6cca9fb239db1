//! GAN objectives — Goodfellow et al. 2014 (minimax and non-saturating, arXiv:1406.2661),
//! Mao et al. 2017 (least squares, arXiv:1611.04076), Arjovsky et al. 2017 (Wasserstein,
//! arXiv:1701.07875), Lim & Ye 2017 / Miyato et al. 2018 (hinge, arXiv:1705.02894).
//!
//! Every function takes the discriminator's raw output `d` (a logit for the sigmoid losses, a
//! score for the others), shaped `[B, 1]`, and returns a scalar averaged over the batch. The
//! sigmoid losses are written with `softplus`, never with `log(sigmoid(d))`:
//! `−log σ(d) = softplus(−d)` and `−log(1 − σ(d)) = softplus(d)`, both exact in `f32` for any
//! finite logit (the naive form is `−∞` once `|d| > 104`).

use burn::tensor::Tensor;
use burn::tensor::activation::{relu, sigmoid};
use serde::{Deserialize, Serialize};

/// `log(1 + exp(x))`, exact for large `|x|`: `max(x, 0) + log1p(exp(−|x|))`.
pub fn softplus<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    x.clone().clamp_min(0.0) + x.abs().neg().exp().log1p()
}

/// A GAN objective: the pair (discriminator loss, generator loss).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GanLoss {
    /// The original game: D maximises `log D(x) + log(1 − D(G(z)))`, G minimises
    /// `log(1 − D(G(z)))` (saturates when D wins: weak gradients early in training).
    Minimax,
    /// The lecture's recommendation: same D loss, G minimises `−log D(G(z))` instead.
    NonSaturating,
    /// LSGAN with targets a = 0 (fake), b = 1 (real), c = 1:
    /// D minimises `½(D(x) − 1)² + ½D(G(z))²`, G minimises `½(D(G(z)) − 1)²`.
    LeastSquares,
    /// WGAN: the critic minimises `E D(G(z)) − E D(x)`, G minimises `−E D(G(z))`.
    /// Needs a Lipschitz constraint: weight clipping or a gradient penalty.
    Wasserstein,
    /// Hinge: D minimises `E relu(1 − D(x)) + E relu(1 + D(G(z)))`, G minimises `−E D(G(z))`.
    Hinge,
}

impl GanLoss {
    /// All objectives, in documentation order.
    pub const ALL: [GanLoss; 5] = [
        GanLoss::Minimax,
        GanLoss::NonSaturating,
        GanLoss::LeastSquares,
        GanLoss::Wasserstein,
        GanLoss::Hinge,
    ];

    /// The name used in configs and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            GanLoss::Minimax => "minimax",
            GanLoss::NonSaturating => "non-saturating",
            GanLoss::LeastSquares => "least-squares",
            GanLoss::Wasserstein => "wasserstein",
            GanLoss::Hinge => "hinge",
        }
    }

    /// Whether the discriminator's output is a logit of `P(real)`.
    pub fn uses_sigmoid(self) -> bool {
        matches!(self, GanLoss::Minimax | GanLoss::NonSaturating)
    }

    /// The discriminator's (critic's) loss from its outputs on real and on generated data.
    ///
    /// # Shapes
    /// `real: [B, 1]`, `fake: [B', 1]` → `[1]`
    pub fn discriminator(self, real: Tensor<2>, fake: Tensor<2>) -> Tensor<1> {
        match self {
            GanLoss::Minimax | GanLoss::NonSaturating => {
                softplus(real.neg()).mean() + softplus(fake).mean()
            }
            GanLoss::LeastSquares => {
                (real - 1.0).square().mean().mul_scalar(0.5) + fake.square().mean().mul_scalar(0.5)
            }
            GanLoss::Wasserstein => fake.mean() - real.mean(),
            GanLoss::Hinge => relu(real.neg() + 1.0).mean() + relu(fake + 1.0).mean(),
        }
    }

    /// The generator's loss from the discriminator's outputs on generated data.
    ///
    /// # Shapes
    /// `fake: [B, 1]` → `[1]`
    pub fn generator(self, fake: Tensor<2>) -> Tensor<1> {
        match self {
            // log(1 − σ(d)) = −softplus(d).
            GanLoss::Minimax => softplus(fake).mean().neg(),
            GanLoss::NonSaturating => softplus(fake.neg()).mean(),
            GanLoss::LeastSquares => (fake - 1.0).square().mean().mul_scalar(0.5),
            GanLoss::Wasserstein | GanLoss::Hinge => fake.mean().neg(),
        }
    }

    /// What to report as "D(x)": the mean probability `σ(d)` for the sigmoid losses, the mean
    /// raw output otherwise (an LSGAN score, a critic value).
    pub fn report(self, d: Tensor<2>) -> f64 {
        f64::from(self.report_mean(d).into_scalar::<f32>())
    }

    /// [`GanLoss::report`] as a one-element tensor, not read.
    ///
    /// # Shapes
    /// `d: [B, 1]` → `[1]`
    pub fn report_mean(self, d: Tensor<2>) -> Tensor<1> {
        if self.uses_sigmoid() {
            sigmoid(d).mean()
        } else {
            d.mean()
        }
    }
}

impl std::fmt::Display for GanLoss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for GanLoss {
    type Err = crate::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        GanLoss::ALL
            .into_iter()
            .find(|l| l.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = GanLoss::ALL.iter().map(|l| l.name()).collect();
                crate::Error::UnknownLoss {
                    name: s.to_string(),
                    known: names.join(", "),
                }
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    fn col(v: &[f64], device: &Device) -> Tensor<2> {
        let v: Vec<f32> = v.iter().map(|&x| x as f32).collect();
        let n = v.len();
        Tensor::from_data(TensorData::new(v, [n, 1]), device)
    }

    fn scalar(t: Tensor<1>) -> f64 {
        f64::from(t.into_scalar::<f32>())
    }

    fn mean(v: impl Iterator<Item = f64>) -> f64 {
        let v: Vec<f64> = v.collect();
        v.iter().sum::<f64>() / v.len() as f64
    }

    // Independent f64 definitions, written with the probabilities themselves (fine in f64 for
    // moderate logits): D(x) = 1 / (1 + e^{−d}).
    fn d_prob(d: f64) -> f64 {
        1.0 / (1.0 + (-d).exp())
    }

    const REAL: [f64; 5] = [-3.0, -0.5, 0.0, 1.25, 4.0];
    const FAKE: [f64; 4] = [-2.0, 0.3, 2.5, -6.0];

    fn close(got: f64, want: f64) {
        assert!(
            (got - want).abs() <= 1e-5 * want.abs().max(1.0),
            "{got} vs {want}"
        );
    }

    #[test]
    fn every_loss_matches_its_f64_definition() {
        let device = Device::flex();
        for loss in GanLoss::ALL {
            let d = scalar(loss.discriminator(col(&REAL, &device), col(&FAKE, &device)));
            let g = scalar(loss.generator(col(&FAKE, &device)));
            let (want_d, want_g) = match loss {
                GanLoss::Minimax => (
                    -mean(REAL.iter().map(|&r| d_prob(r).ln()))
                        - mean(FAKE.iter().map(|&f| (1.0 - d_prob(f)).ln())),
                    mean(FAKE.iter().map(|&f| (1.0 - d_prob(f)).ln())),
                ),
                GanLoss::NonSaturating => (
                    -mean(REAL.iter().map(|&r| d_prob(r).ln()))
                        - mean(FAKE.iter().map(|&f| (1.0 - d_prob(f)).ln())),
                    -mean(FAKE.iter().map(|&f| d_prob(f).ln())),
                ),
                GanLoss::LeastSquares => (
                    0.5 * mean(REAL.iter().map(|&r| (r - 1.0).powi(2)))
                        + 0.5 * mean(FAKE.iter().map(|&f| f * f)),
                    0.5 * mean(FAKE.iter().map(|&f| (f - 1.0).powi(2))),
                ),
                GanLoss::Wasserstein => (
                    mean(FAKE.iter().copied()) - mean(REAL.iter().copied()),
                    -mean(FAKE.iter().copied()),
                ),
                GanLoss::Hinge => (
                    mean(REAL.iter().map(|&r| (1.0 - r).max(0.0)))
                        + mean(FAKE.iter().map(|&f| (1.0 + f).max(0.0))),
                    -mean(FAKE.iter().copied()),
                ),
            };
            close(d, want_d);
            close(g, want_g);
        }
    }

    #[test]
    fn sigmoid_losses_stay_exact_for_extreme_logits() {
        // log(sigmoid(-200)) is -inf in f32; the softplus form gives 200 (+ e^-200 ≈ 0).
        let device = Device::flex();
        let real = col(&[-200.0], &device);
        let fake = col(&[300.0], &device);
        let d = scalar(GanLoss::NonSaturating.discriminator(real, fake.clone()));
        close(d, 500.0);
        close(scalar(GanLoss::NonSaturating.generator(fake.clone())), 0.0);
        close(scalar(GanLoss::Minimax.generator(fake)), -300.0);
        close(
            scalar(GanLoss::NonSaturating.generator(col(&[-150.0], &device))),
            150.0,
        );
    }

    #[test]
    fn non_saturating_generator_has_strong_gradient_where_minimax_saturates() {
        // When D confidently rejects a fake (logit −5), d/dd log(1 − σ(d)) = −σ(d) ≈ −0.0067 is
        // tiny, while d/dd [−log σ(d)] = σ(d) − 1 ≈ −0.9933: the lecture's argument, checked.
        let device = Device::flex().autodiff();
        let grad = |loss: GanLoss| {
            let d = col(&[-5.0], &device).require_grad();
            let g = loss.generator(d.clone()).backward();
            f64::from(d.grad(&g).expect("grad").into_scalar::<f32>())
        };
        close(grad(GanLoss::Minimax), -d_prob(-5.0));
        close(grad(GanLoss::NonSaturating), d_prob(-5.0) - 1.0);
    }

    #[test]
    fn names_round_trip_and_unknown_names_are_rejected() {
        for loss in GanLoss::ALL {
            assert_eq!(loss.name().parse::<GanLoss>(), Ok(loss));
        }
        let err = "wgan".parse::<GanLoss>().expect_err("unknown").to_string();
        assert!(err.contains("wasserstein"), "{err}");
    }
}
