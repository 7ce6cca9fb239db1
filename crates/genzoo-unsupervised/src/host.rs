//! Moving matrices between burn tensors and host `f64` buffers.
//!
//! The O(n·k·d) and O(n·d²) products run on burn tensors (any backend); the O(n·d) reductions whose
//! rounding decides whether we match scikit-learn to 1e-6 (centre updates, inertia, sums of
//! log-likelihoods) are accumulated on the host in `f64`.

use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::error::{Error, Result};

/// A row-major `[n, d]` matrix on the host.
#[derive(Clone, Debug)]
pub(crate) struct HostMatrix {
    pub data: Vec<f32>,
    pub n: usize,
    pub d: usize,
}

impl HostMatrix {
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.d..(i + 1) * self.d]
    }
}

/// The row-major `v` as an `[n, d]` matrix on Flex: the tests' data.
#[cfg(test)]
pub(crate) fn mat(v: Vec<f32>, n: usize, d: usize) -> Tensor<2> {
    Tensor::from_data(TensorData::new(v, [n, d]), &Device::flex())
}

/// Copies a tensor to the host and checks it is a non-empty matrix of finite values.
pub(crate) fn to_host(x: &Tensor<2>) -> Result<HostMatrix> {
    let [n, d] = x.dims();
    if n == 0 || d == 0 {
        return Err(Error::EmptyData { n, d });
    }
    let data = floats(x.clone());
    if let Some(pos) = data.iter().position(|v| !v.is_finite()) {
        return Err(Error::NonFinite {
            row: pos / d,
            col: pos % d,
        });
    }
    Ok(HostMatrix { data, n, d })
}

/// All values of a float tensor as `f32`.
pub(crate) fn floats<const D: usize>(x: Tensor<D>) -> Vec<f32> {
    x.into_data().iter::<f32>().collect()
}

/// All values of an int tensor as `usize`.
pub(crate) fn ints<const D: usize>(x: Tensor<D, Int>) -> Vec<usize> {
    x.into_data().iter::<i64>().map(|v| v as usize).collect()
}

/// A `[rows, cols]` tensor from `f64` host values (rounded to the device's float type).
pub(crate) fn tensor(values: &[f64], rows: usize, cols: usize, device: &Device) -> Tensor<2> {
    let v: Vec<f32> = values.iter().map(|&v| v as f32).collect();
    Tensor::from_data(TensorData::new(v, [rows, cols]), device)
}

/// Fails unless `x` has `d` columns.
pub(crate) fn check_cols(what: &'static str, x: &Tensor<2>, d: usize) -> Result<()> {
    let dims = x.dims();
    if dims[1] != d {
        return Err(Error::Shape {
            what,
            expected: vec![dims[0], d],
            found: dims.to_vec(),
        });
    }
    Ok(())
}
