//! Memory a request needs against memory the machine has, checked before anything is allocated,
//! so that an absurd size is a one-line refusal with both numbers instead of an allocation abort
//! or the kernel's out-of-memory killer.

use crate::error::{Error, Result};

/// Bytes per trained `f32` parameter: the weight, its gradient and Adam's two moments.
pub const TRAINED_PARAM_BYTES: u64 = 4 * 4;

/// Memory available to this process in bytes: `MemAvailable` of `/proc/meminfo` (Linux), or
/// `None` where it cannot be read (the check is then skipped).
pub fn available_bytes() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    parse_meminfo(&text)
}

/// `MemAvailable` in bytes from the text of `/proc/meminfo`.
pub fn parse_meminfo(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let mut parts = line.split_whitespace().skip(1);
    let value: u64 = parts.next()?.parse().ok()?;
    match parts.next() {
        Some("kB") | None => value.checked_mul(1024),
        Some(_) => None,
    }
}

/// `bytes` in GiB with two decimals.
fn gib(bytes: u64) -> String {
    format!("{:.2} GiB", bytes as f64 / f64::from(1u32 << 30))
}

/// Refuses `what` when it needs more than `available` bytes.
pub fn check_fits_in(what: &str, needed: u64, available: u64) -> Result<()> {
    if needed > available {
        return Err(Error::Config(format!(
            "{what} needs about {} of memory, but {} is available; use smaller sizes",
            gib(needed),
            gib(available)
        )));
    }
    Ok(())
}

/// Refuses `what` when it needs more than this machine's available memory.
pub fn check_fits(what: &str, needed: u64) -> Result<()> {
    match available_bytes() {
        Some(available) => check_fits_in(what, needed, available),
        None => Ok(()),
    }
}

/// Bytes per activation value kept for the backward pass: the value and its gradient.
pub const ACTIVATION_BYTES: u64 = 2 * 4;

/// What a model needs in memory, estimated from its configuration alone, so that a configuration
/// too large for the machine is refused with the estimate before a single weight is allocated.
///
/// Estimates count the large terms only (weight matrices and kernels, the activations kept for
/// the backward pass); biases and norms are small beside them. They are meant to refuse sizes
/// that cannot fit, not to predict the peak: a training step needs more than this.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    /// Trained parameters.
    pub params: u64,
    /// Activation values one training image keeps for the backward pass.
    pub activations: u64,
}

impl Size {
    /// Refuses the model `what` trained with batches of `batch` images when it cannot fit.
    pub fn check(self, what: &str, batch: usize) -> Result<()> {
        let bytes = self
            .params
            .saturating_mul(TRAINED_PARAM_BYTES)
            .saturating_add(
                self.activations
                    .saturating_mul(batch as u64)
                    .saturating_mul(ACTIVATION_BYTES),
            );
        check_fits(
            &format!(
                "{what} ({} parameters, batches of {batch} images)",
                self.params
            ),
            bytes,
        )
    }
}

/// Multiply-adds of a convolution producing `out_pixels` output pixels (a transposed convolution:
/// `out_pixels` = its input pixels) with a `k`×`k` kernel.
pub fn conv_macs(out_pixels: usize, k: usize, c_in: usize, c_out: usize) -> f64 {
    (out_pixels * k * k * c_in * c_out) as f64
}

/// Analytic FLOP of training on one image from the multiply-adds of one forward pass:
/// 2 FLOP a multiply-add, and backward ≈ 2× forward, so training ≈ 3× forward. Elementwise
/// work, the optimiser and the loss are left out (the convention of `docs/performance.md`, which
/// `bench/pytorch/reference.py` shares).
pub fn train_flop(forward_macs: f64) -> f64 {
    2.0 * 3.0 * forward_macs
}

/// Saturating product of sizes.
pub fn prod(sizes: &[usize]) -> u64 {
    sizes
        .iter()
        .fold(1u64, |acc, &v| acc.saturating_mul(v as u64))
}

/// Saturating sum.
pub fn sum(terms: &[u64]) -> u64 {
    terms.iter().fold(0u64, |acc, &v| acc.saturating_add(v))
}

/// Bytes of `n` images of `shape` as `f32`, saturating.
pub fn images_bytes(n: usize, shape: [usize; 3]) -> u64 {
    shape
        .iter()
        .fold(n as u64, |acc, &d| acc.saturating_mul(d as u64))
        .saturating_mul(4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_mem_available_in_kib() {
        let text = "MemTotal:       24000000 kB\nMemFree:  100 kB\nMemAvailable:   20000000 kB\n";
        assert_eq!(parse_meminfo(text), Some(20_000_000 * 1024));
        assert_eq!(parse_meminfo("MemTotal: 5 kB\n"), None);
        assert_eq!(parse_meminfo("MemAvailable: x kB\n"), None);
    }

    #[test]
    fn this_machine_reports_some_memory() {
        if std::path::Path::new("/proc/meminfo").exists() {
            assert!(available_bytes().is_some_and(|b| b > 1 << 20));
        }
    }

    #[test]
    fn refusals_name_both_numbers() {
        check_fits_in("x", 10, 10).expect("fits exactly");
        let err = check_fits_in("a model of 3 parameters", 3 << 30, 1 << 30)
            .expect_err("too big")
            .to_string();
        assert!(
            err.contains("a model of 3 parameters")
                && err.contains("3.00 GiB")
                && err.contains("1.00 GiB"),
            "{err}"
        );
        assert_eq!(images_bytes(10, [1, 28, 28]), 10 * 784 * 4);
        assert_eq!(images_bytes(usize::MAX, [3, 32, 32]), u64::MAX);
    }

    #[test]
    fn absurd_sizes_saturate_and_are_refused() {
        assert_eq!(prod(&[usize::MAX, 3]), u64::MAX);
        assert_eq!(sum(&[u64::MAX, 1]), u64::MAX);
        let huge = Size {
            params: prod(&[usize::MAX / 2, 4]),
            activations: 1,
        };
        let err = huge.check("a model", 32).expect_err("cannot fit");
        assert!(err.to_string().contains("GiB"), "{err}");
        let small = Size {
            params: 1000,
            activations: 1000,
        };
        assert!(small.check("a small model", 32).is_ok());
    }
}
