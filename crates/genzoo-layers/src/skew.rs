//! Skewing of feature maps for the Diagonal BiLSTM — van den Oord et al. 2016, "Pixel Recurrent
//! Neural Networks", arXiv:1601.06759, §3.2 (Figure 3).
//!
//! [`skew`] shifts row `i` of an `H × W` map right by `i` positions into an `H × (W + H − 1)` map,
//! so each diagonal of the image becomes a column and a recurrence along the diagonals is a loop
//! over columns; [`unskew`] undoes it. Both are a pad, a reshape and a slice (no per-row loop):
//! flattening rows of width `W + H` and reading them back at width `W + H − 1` moves row `i` by
//! exactly `i`.

use burn::tensor::Tensor;

/// Shifts row `i` right by `i`; the new positions are zero.
///
/// `out[.., i, j] = x[.., i, j − i]` for `i ≤ j < i + W`, else 0.
///
/// # Shapes
/// `x: [B, C, H, W]` → `[B, C, H, W + H − 1]`
pub fn skew(x: Tensor<4>) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    let wide = w + h - 1;
    let zeros = Tensor::zeros([b, c, h, h], &x.device());
    let padded = Tensor::cat(vec![x, zeros], 3); // [B, C, H, W + H]
    padded
        .reshape([b, c, h * (w + h)])
        .narrow(2, 0, h * wide)
        .reshape([b, c, h, wide])
}

/// The inverse of [`skew`]: `out[.., i, j] = s[.., i, j + i]`.
///
/// # Shapes
/// `s: [B, C, H, L]` with `L ≥ H − 1` → `[B, C, H, L − H + 1]`
///
/// # Panics
/// If `L < H − 1` (no skewed map has that shape).
pub fn unskew(s: Tensor<4>) -> Tensor<4> {
    let [b, c, h, l] = s.dims();
    assert!(
        l + 1 >= h,
        "a skewed map of height {h} has width ≥ {}, got {l}",
        h - 1
    );
    let w = l + 1 - h;
    let zeros = Tensor::zeros([b, c, h], &s.device());
    let flat = Tensor::cat(vec![s.reshape([b, c, h * l]), zeros], 2); // [B, C, H (L + 1)]
    flat.reshape([b, c, h, l + 1]).narrow(3, 0, w)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, Distribution, TensorData};

    fn values(t: Tensor<4>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().expect("f32 data")
    }

    #[test]
    fn skew_of_a_3x2_map_by_hand() {
        let device = Device::flex();
        let x: Vec<f32> = (1..=6).map(|v| v as f32).collect();
        let x = Tensor::<4>::from_data(TensorData::new(x, [1, 1, 3, 2]), &device);
        let s = skew(x.clone());
        assert_eq!(s.dims(), [1, 1, 3, 4]);
        // 1 2 / 3 4 / 5 6 → rows shifted by 0, 1, 2.
        assert_eq!(
            values(s.clone()),
            vec![1., 2., 0., 0., 0., 3., 4., 0., 0., 0., 5., 6.]
        );
        assert_eq!(values(unskew(s)), values(x));
    }

    #[test]
    fn skew_round_trips_and_has_the_right_shapes() {
        let device = Device::flex();
        for (h, w) in [(1, 1), (1, 5), (5, 1), (4, 7), (7, 4), (28, 28)] {
            let x = Tensor::<4>::random([2, 3, h, w], Distribution::Normal(0.0, 1.0), &device);
            let s = skew(x.clone());
            assert_eq!(s.dims(), [2, 3, h, w + h - 1]);
            let sv = values(s.clone());
            let xv = values(x.clone());
            // Every entry in place, every other entry zero.
            for plane in 0..6 {
                for i in 0..h {
                    for j in 0..w + h - 1 {
                        let got = sv[(plane * h + i) * (w + h - 1) + j];
                        let want = if j >= i && j < i + w {
                            xv[(plane * h + i) * w + j - i]
                        } else {
                            0.0
                        };
                        assert_eq!(got, want, "{h}×{w} plane {plane} at ({i}, {j})");
                    }
                }
            }
            let back = unskew(s);
            assert_eq!(back.dims(), [2, 3, h, w]);
            assert_eq!(values(back), xv);
        }
    }
}
