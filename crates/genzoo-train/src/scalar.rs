//! Numbers a training step reports, left on the step's device until the loop reads them.
//!
//! Reading a tensor's value waits for the device to finish the work queued before it; on a GPU a
//! read per step per number would stall the pipeline several times a step. A step therefore
//! returns [`Scalar`]s, and the run loop reads them when it logs, confirms a checkpoint, ends an
//! epoch or stops — the same numbers, computed in the same order, read later.

use burn::tensor::Tensor;

/// A number reported by a step: a host value, or a one-element tensor read on demand, or an
/// arithmetic of those that is evaluated in `f64` when read.
// A step returns a handful of these; keeping the tensor inline saves an allocation each.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Scalar {
    /// A value already on the host.
    Host(f64),
    /// A one-element tensor (detached from any autodiff graph), read as `f32` widened to `f64`.
    Device(Tensor<1>),
    /// The first number divided by the second (in `f64`).
    Quotient(Box<Scalar>, f64),
    /// The numbers' sum, added left to right from 0.0 (in `f64`).
    Sum(Vec<Scalar>),
}

impl Scalar {
    /// The value of a one-element tensor, read when needed. Detaches it, so that holding it does not
    /// keep an autodiff graph alive.
    ///
    /// # Shapes
    /// `value: [1]`
    pub fn device(value: Tensor<1>) -> Self {
        Scalar::Device(value.detach())
    }

    /// This number divided by `divisor`.
    pub fn divided_by(self, divisor: f64) -> Self {
        Scalar::Quotient(Box::new(self), divisor)
    }

    /// The mean of `values` as `Σ (v / n)`, added in order: each term is divided before the sum.
    pub fn mean_of_terms(values: Vec<Scalar>) -> Self {
        let n = values.len() as f64;
        Scalar::Sum(values.into_iter().map(|v| v.divided_by(n)).collect())
    }

    /// The value; a [`Scalar::Device`] waits for its device.
    pub fn read(&self) -> f64 {
        match self {
            Scalar::Host(v) => *v,
            Scalar::Device(t) => f64::from(t.clone().into_scalar::<f32>()),
            Scalar::Quotient(s, d) => s.read() / d,
            Scalar::Sum(terms) => terms.iter().fold(0.0, |acc, s| acc + s.read()),
        }
    }
}

impl Default for Scalar {
    fn default() -> Self {
        Scalar::Host(0.0)
    }
}

impl From<f64> for Scalar {
    fn from(v: f64) -> Self {
        Scalar::Host(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    #[test]
    fn reads_the_same_numbers_as_reading_at_once() {
        let device = Device::flex();
        let t = |v: f32| Tensor::<1>::from_floats([v], &device);
        let (a, b, c) = (0.1f32, 2.7f32, -1.3f32);
        assert_eq!(Scalar::device(t(a)).read(), f64::from(a));
        // What a loop over k terms computed eagerly: `acc += v / k`.
        let mut eager = 0.0;
        for v in [a, b, c] {
            eager += f64::from(v) / 3.0;
        }
        let lazy = Scalar::mean_of_terms(vec![
            Scalar::device(t(a)),
            Scalar::device(t(b)),
            Scalar::Host(f64::from(c)),
        ]);
        assert_eq!(lazy.read().to_bits(), eager.to_bits());
        let dims = 784.0 * std::f64::consts::LN_2;
        assert_eq!(
            Scalar::device(t(b)).divided_by(dims).read().to_bits(),
            (f64::from(b) / dims).to_bits()
        );
        assert!(Scalar::device(t(f32::NAN)).read().is_nan());
        assert_eq!(Scalar::default().read(), 0.0);
    }

    #[test]
    fn a_tensor_from_an_autodiff_graph_is_read_after_the_backward_pass() {
        let device = Device::flex().autodiff();
        let x = Tensor::<1>::from_floats([3.0], &device).require_grad();
        let loss = x.clone().powf_scalar(2.0);
        let kept = Scalar::device(loss.clone());
        let grads = loss.backward();
        let dx = x.grad(&grads).expect("gradient of x");
        assert_eq!(f64::from(dx.into_scalar::<f32>()), 6.0);
        assert_eq!(kept.read(), 9.0);
    }
}
