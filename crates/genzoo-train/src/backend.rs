//! Backend names and the devices they map to.
//!
//! Library code never names a backend: it takes a [`Device`]. This module is the one place that
//! turns a user's `--backend` into a device, and it only knows the backends compiled in through
//! Cargo features.

use std::fmt;
use std::str::FromStr;

use burn::tensor::Device;

use crate::error::{Error, Result};

/// A compute backend a genzoo binary may be built with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// burn's pure-Rust CPU backend with SIMD and rayon (the default: fastest on CPU).
    Flex,
    /// burn's ndarray CPU backend (deprecated upstream; slow convolutions).
    Ndarray,
    /// WebGPU through wgpu: Vulkan/Metal/DX12 GPUs, or Mesa's software Vulkan.
    Wgpu,
    /// NVIDIA CUDA through CubeCL.
    Cuda,
}

impl Backend {
    /// All backends, in order of preference for a default.
    pub const ALL: [Backend; 4] = [
        Backend::Flex,
        Backend::Wgpu,
        Backend::Cuda,
        Backend::Ndarray,
    ];

    /// The Cargo feature that compiles this backend in (the same name in every genzoo crate).
    pub fn feature(self) -> &'static str {
        match self {
            Backend::Flex => "flex",
            Backend::Ndarray => "ndarray",
            Backend::Wgpu => "wgpu",
            Backend::Cuda => "cuda",
        }
    }

    /// Whether the backend computes on the CPU (so threads and the CPU's peak FLOP rate apply).
    pub fn is_cpu(self) -> bool {
        matches!(self, Backend::Flex | Backend::Ndarray)
    }

    /// Whether this binary was built with the backend.
    pub fn is_compiled(self) -> bool {
        match self {
            Backend::Flex => cfg!(feature = "flex"),
            Backend::Ndarray => cfg!(feature = "ndarray"),
            Backend::Wgpu => cfg!(feature = "wgpu"),
            Backend::Cuda => cfg!(feature = "cuda"),
        }
    }

    /// The backends compiled into this binary, in order of preference.
    pub fn compiled() -> Vec<Backend> {
        Self::ALL.into_iter().filter(|b| b.is_compiled()).collect()
    }

    /// The preferred compiled backend: flex when present (CPU speed), else the first compiled.
    pub fn default_compiled() -> Result<Backend> {
        Self::compiled().first().copied().ok_or_else(|| {
            Error::Backend("this binary was built without any backend; enable one of the features flex, ndarray, wgpu, cuda".into())
        })
    }

    /// The backend a user named (`--backend`, or a file's), else [`Backend::default_compiled`].
    pub fn named_or_default(name: Option<&str>) -> Result<Backend> {
        name.map_or_else(Self::default_compiled, str::parse)
    }

    /// The device (without autodiff) for this backend, or an error saying how to compile it in.
    pub fn device(self) -> Result<Device> {
        if !self.is_compiled() {
            let have: Vec<String> = Self::compiled().iter().map(|b| b.to_string()).collect();
            return Err(Error::Backend(format!(
                "backend '{self}' is not compiled into this binary (it has: {}); rebuild with `--features {}` or run `cargo xtask train --backend {self}`",
                if have.is_empty() {
                    "none".to_string()
                } else {
                    have.join(", ")
                },
                self.feature()
            )));
        }
        Ok(self.device_unchecked())
    }

    #[allow(unreachable_code, deprecated)]
    fn device_unchecked(self) -> Device {
        match self {
            #[cfg(feature = "flex")]
            Backend::Flex => return Device::flex(),
            #[cfg(feature = "ndarray")]
            Backend::Ndarray => return Device::ndarray(),
            #[cfg(feature = "wgpu")]
            Backend::Wgpu => return Device::wgpu(burn::tensor::DeviceKind::DefaultDevice),
            #[cfg(feature = "cuda")]
            Backend::Cuda => return Device::cuda(0),
            _ => {}
        }
        unreachable!("device() checks is_compiled first")
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.feature())
    }
}

impl FromStr for Backend {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|b| b.feature() == s)
            .ok_or_else(|| {
                Error::Backend(format!(
                    "unknown backend '{s}'; expected one of: flex, ndarray, wgpu, cuda"
                ))
            })
    }
}

/// The device tests run on: `GENZOO_TEST_BACKEND` (e.g. `wgpu`) or the default compiled backend.
///
/// Lets one test suite run unchanged on the CPU and on a GPU backend.
pub fn test_device() -> Device {
    let backend = match std::env::var("GENZOO_TEST_BACKEND") {
        Ok(name) => name
            .parse()
            .unwrap_or_else(|e| panic!("GENZOO_TEST_BACKEND: {e}")),
        Err(_) => Backend::default_compiled().unwrap_or_else(|e| panic!("{e}")),
    };
    backend.device().unwrap_or_else(|e| panic!("{e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_list_the_choices() {
        for b in Backend::ALL {
            assert_eq!(b.to_string().parse::<Backend>().expect("parses"), b);
        }
        let err = "tpu".parse::<Backend>().expect_err("unknown");
        assert!(
            err.to_string().contains("flex, ndarray, wgpu, cuda"),
            "{err}"
        );
    }

    #[test]
    fn flex_is_compiled_in_tests_and_a_missing_backend_says_how_to_get_it() {
        assert!(Backend::Flex.is_compiled());
        assert!(Backend::Flex.device().is_ok());
        if !Backend::Cuda.is_compiled() {
            let err = Backend::Cuda.device().expect_err("not compiled");
            assert!(err.to_string().contains("--features cuda"), "{err}");
        }
    }
}
