//! Feature matrices: one row of `f32` per image, as a feature extractor produces them.

use burn::tensor::Tensor;
use nalgebra::DMatrix;

use crate::error::{Error, Result};

/// `n` feature vectors of dimension `dim`, row-major, all finite.
#[derive(Debug, Clone, PartialEq)]
pub struct Features {
    values: Vec<f32>,
    dim: usize,
}

impl Features {
    /// Rows of length `dim` from `values`. Errors: `dim == 0`, a ragged length, a NaN or infinity.
    pub fn new(values: Vec<f32>, dim: usize) -> Result<Self> {
        if dim == 0 || !values.len().is_multiple_of(dim) {
            return Err(Error::Shape {
                values: values.len(),
                dim,
            });
        }
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(Error::NotFinite {
                what: "features",
                row: i / dim,
                col: i % dim,
            });
        }
        Ok(Self { values, dim })
    }

    /// The rows of a `[n, dim]` tensor.
    pub fn from_tensor(t: Tensor<2>) -> Result<Self> {
        let [_, dim] = t.dims();
        let values = t
            .into_data()
            .try_into_vec_as::<f32>()
            .map_err(|e| Error::Option(format!("feature tensor: {e:?}")))?;
        Self::new(values, dim)
    }

    /// Number of feature vectors.
    pub fn len(&self) -> usize {
        self.values.len() / self.dim
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Dimension of each vector.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.values[i * self.dim..(i + 1) * self.dim]
    }

    /// All values, row-major.
    pub fn values(&self) -> &[f32] {
        &self.values
    }

    /// Appends the rows of `other` (same dimension).
    pub fn extend(&mut self, other: &Features) -> Result<()> {
        same_dim(self, other)?;
        self.values.extend_from_slice(&other.values);
        Ok(())
    }

    /// The rows `rows` (all rows for `None`) as an f64 matrix.
    pub(crate) fn matrix(&self, rows: Option<&[usize]>) -> DMatrix<f64> {
        match rows {
            None => DMatrix::from_row_iterator(
                self.len(),
                self.dim,
                self.values.iter().map(|&v| f64::from(v)),
            ),
            Some(rows) => DMatrix::from_row_iterator(
                rows.len(),
                self.dim,
                rows.iter()
                    .flat_map(|&r| self.row(r).iter().map(|&v| f64::from(v))),
            ),
        }
    }
}

/// Errors unless both sets have the same dimension.
pub(crate) fn same_dim(a: &Features, b: &Features) -> Result<()> {
    if a.dim() == b.dim() {
        Ok(())
    } else {
        Err(Error::DimensionMismatch {
            a: a.dim(),
            b: b.dim(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_ragged_empty_dim_and_nan() {
        assert!(matches!(
            Features::new(vec![1.0; 5], 2),
            Err(Error::Shape { .. })
        ));
        assert!(matches!(Features::new(vec![], 0), Err(Error::Shape { .. })));
        let err = Features::new(vec![0.0, 1.0, 2.0, f32::NAN], 2).expect_err("NaN");
        assert!(
            matches!(err, Error::NotFinite { row: 1, col: 1, .. }),
            "{err}"
        );
    }

    #[test]
    fn rows_and_matrix_subsets() {
        let f = Features::new((0..6).map(|v| v as f32).collect(), 2).expect("features");
        assert_eq!(f.len(), 3);
        assert_eq!(f.row(2), &[4.0, 5.0]);
        let m = f.matrix(Some(&[2, 0]));
        assert_eq!(
            (m[(0, 0)], m[(0, 1)], m[(1, 0)], m[(1, 1)]),
            (4.0, 5.0, 0.0, 1.0)
        );
    }
}
