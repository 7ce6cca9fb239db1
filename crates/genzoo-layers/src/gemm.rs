//! A safe, bounds-checked entry to the `gemm` crate's `f32` matrix product (the crate burn-flex
//! multiplies with), for the custom Flex convolutions.
//!
//! Going through `Flex::float_matmul` cost two extra passes over every product's output: burn-flex
//! allocates it as a zeroed byte vector, which cubecl then copies into a 16-byte-aligned
//! allocation (`Bytes::from_bytes_vec`). Calling `gemm` on slices we own removes both, reads
//! strided operands (a transpose or one image's block) in place, and accumulates into its output,
//! so a weight gradient summed over a batch needs no per-image buffers.
//!
//! This module holds the workspace's second `unsafe` call (`docs/ARCHITECTURE.md`): `gemm::gemm`
//! takes raw pointers and strides. [`Mat`] checks on construction that every element it can
//! address lies inside its slice, and the borrow checker keeps the output disjoint from the inputs.
#![allow(unsafe_code)]

/// A read-only `rows × cols` matrix inside a slice: element `(i, j)` is `data[i·rs + j·cs]`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Mat<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
}

impl<'a> Mat<'a> {
    /// The row-major `rows × cols` matrix at the start of `data`.
    ///
    /// # Panics
    /// If `data` is shorter than `rows · cols`.
    pub(crate) fn new(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Self::strided(data, [rows, cols], [cols, 1])
    }

    /// A matrix with row stride `strides[0]` and column stride `strides[1]`.
    ///
    /// # Panics
    /// If an element lies outside `data`.
    pub(crate) fn strided(data: &'a [f32], [rows, cols]: [usize; 2], [rs, cs]: [usize; 2]) -> Self {
        if rows > 0 && cols > 0 {
            let last = (rows - 1) * rs + (cols - 1) * cs;
            assert!(
                last < data.len(),
                "gemm: a {rows}×{cols} matrix with strides ({rs}, {cs}) needs {} values, has {}",
                last + 1,
                data.len()
            );
        }
        Self {
            data,
            rows,
            cols,
            rs,
            cs,
        }
    }

    /// The transpose, as a view.
    pub(crate) fn t(self) -> Self {
        Self {
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
            ..self
        }
    }
}

/// `dst = lhs · rhs`, or `dst += lhs · rhs` when `accumulate`; `dst` is row-major
/// `lhs.rows × rhs.cols`. `parallel` lets `gemm` split the product over rayon's threads (for a
/// single large product; products that already run in parallel tasks pass `false`); products of
/// fewer than 192³ multiply-adds run on one thread regardless.
///
/// # Panics
/// If the inner dimensions differ or `dst` has the wrong length.
pub(crate) fn matmul(
    dst: &mut [f32],
    lhs: Mat<'_>,
    rhs: Mat<'_>,
    accumulate: bool,
    parallel: bool,
) {
    let (m, k, n) = (lhs.rows, lhs.cols, rhs.cols);
    assert_eq!(k, rhs.rows, "gemm: inner dimensions {k} and {}", rhs.rows);
    assert_eq!(dst.len(), m * n, "gemm: output of {m}×{n}");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            dst.fill(0.0);
        }
        return;
    }
    // Below ~7M multiply-adds rayon's hand-offs cost more than the second thread gives (burn-flex's
    // threshold, 192³).
    let parallelism = if parallel && m.saturating_mul(n).saturating_mul(k) >= 192 * 192 * 192 {
        gemm::Parallelism::Rayon(0)
    } else {
        gemm::Parallelism::None
    };
    let stride = |s: usize| isize::try_from(s).expect("a stride fits isize");
    // SAFETY: `Mat::strided` checked that every element of `lhs` and `rhs` lies inside its slice;
    // `dst` is a unique borrow of exactly m·n values, row-major (row stride n, column stride 1),
    // so it overlaps neither input. gemm reads `dst` only when `read_dst` (accumulate) is set.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            stride(n),
            accumulate,
            lhs.data.as_ptr(),
            stride(lhs.cs),
            stride(lhs.rs),
            rhs.data.as_ptr(),
            stride(rhs.cs),
            stride(rhs.rs),
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// One product per image: `out` is split into `batch` blocks of `len` values and
/// `f(n, block, parallel)` fills block `n`. Images run in parallel when there are enough of them
/// to share between the threads, else one after the other with each product parallel inside.
pub(crate) fn per_image(out: &mut [f32], len: usize, f: impl Fn(usize, &mut [f32], bool) + Sync) {
    use rayon::prelude::*;
    let batch = out.len() / len.max(1);
    if batch >= 2 * rayon::current_num_threads() {
        out.par_chunks_mut(len.max(1))
            .enumerate()
            .for_each(|(n, block)| f(n, block, false));
    } else {
        for (n, block) in out.chunks_mut(len.max(1)).enumerate() {
            f(n, block, true);
        }
    }
}

/// `Σ_n` of one product per image, `n < batch`, into `len` values: `f(n, acc, accumulate,
/// parallel)` writes (`accumulate` false) or adds (true) image `n`'s product into `acc`. Each
/// thread sums a contiguous share of the images into its own buffer; the buffers are then added.
pub(crate) fn sum_over_images(
    batch: usize,
    len: usize,
    f: impl Fn(usize, &mut [f32], bool, bool) + Sync,
) -> Vec<f32> {
    use rayon::prelude::*;
    let threads = rayon::current_num_threads();
    let sum_range = |range: std::ops::Range<usize>, parallel: bool| {
        let mut acc = vec![0.0f32; len];
        let start = range.start;
        for n in range {
            f(n, &mut acc, n > start, parallel);
        }
        acc
    };
    if batch < 2 * threads {
        return sum_range(0..batch, true);
    }
    let share = batch.div_ceil(threads);
    let parts: Vec<Vec<f32>> = (0..threads)
        .into_par_iter()
        .map(|t| sum_range(t * share..((t + 1) * share).min(batch), false))
        .collect();
    let mut parts = parts.into_iter();
    let mut total = parts.next().unwrap_or_else(|| vec![0.0; len]);
    for part in parts {
        total.iter_mut().zip(&part).for_each(|(a, b)| *a += b);
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The textbook triple loop.
    fn naive(lhs: Mat<'_>, rhs: Mat<'_>) -> Vec<f32> {
        let mut out = vec![0.0f32; lhs.rows * rhs.cols];
        for i in 0..lhs.rows {
            for j in 0..rhs.cols {
                out[i * rhs.cols + j] = (0..lhs.cols)
                    .map(|p| {
                        f64::from(lhs.data[i * lhs.rs + p * lhs.cs])
                            * f64::from(rhs.data[p * rhs.rs + j * rhs.cs])
                    })
                    .sum::<f64>() as f32;
            }
        }
        out
    }

    fn pseudo(n: usize, seed: u32) -> Vec<f32> {
        (0..n)
            .map(|i| ((i as u32).wrapping_mul(2_654_435_761) ^ seed) % 1000)
            .map(|v| v as f32 / 500.0 - 1.0)
            .collect()
    }

    fn close(a: &[f32], b: &[f32]) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < 1e-4, "{x} vs {y}");
        }
    }

    #[test]
    fn products_of_strided_views_match_the_triple_loop() {
        let (m, k, n) = (7, 13, 5);
        let a = pseudo(m * k, 1);
        let b = pseudo(k * n, 2);
        let at = pseudo(k * m, 3); // read transposed
        // b's columns 2..2+n of a wider k×(n+4) matrix: one image's block of a channel-major one.
        let wide = pseudo(k * (n + 4), 4);
        let cases = [
            (Mat::new(&a, m, k), Mat::new(&b, k, n)),
            (Mat::new(&at, k, m).t(), Mat::new(&b, k, n)),
            (
                Mat::new(&a, m, k),
                Mat::strided(&wide[2..], [k, n], [n + 4, 1]),
            ),
        ];
        for (lhs, rhs) in cases {
            for parallel in [false, true] {
                let mut out = vec![f32::NAN; m * n];
                matmul(&mut out, lhs, rhs, false, parallel);
                close(&out, &naive(lhs, rhs));
                // Accumulating adds the product once more.
                matmul(&mut out, lhs, rhs, true, parallel);
                let twice: Vec<f32> = naive(lhs, rhs).iter().map(|v| 2.0 * v).collect();
                close(&out, &twice);
            }
        }
        // k = 0: the product is zero.
        let mut out = vec![f32::NAN; 6];
        matmul(
            &mut out,
            Mat::new(&[], 2, 0),
            Mat::new(&[], 0, 3),
            false,
            false,
        );
        assert_eq!(out, vec![0.0; 6]);
    }

    #[test]
    #[should_panic(expected = "needs 15 values, has 12")]
    fn a_view_past_its_slice_is_refused() {
        let _ = Mat::strided(&[0.0; 12], [3, 4], [4, 2]);
    }

    #[test]
    fn batched_helpers_equal_a_loop_over_the_images() {
        let (batch, m, k, n) = (9, 4, 6, 3);
        let w = pseudo(m * k, 5);
        let x = pseudo(batch * k * n, 6);
        let image = |i: usize| Mat::new(&x[i * k * n..], k, n);
        let mut per = vec![0.0f32; batch * m * n];
        per_image(&mut per, m * n, |i, out, parallel| {
            matmul(out, Mat::new(&w, m, k), image(i), false, parallel)
        });
        let mut sum = vec![0.0f32; m * n];
        for i in 0..batch {
            let y = naive(Mat::new(&w, m, k), image(i));
            close(&per[i * m * n..][..m * n], &y);
            sum.iter_mut().zip(&y).for_each(|(s, v)| *s += v);
        }
        let total = sum_over_images(batch, m * n, |i, acc, accumulate, parallel| {
            matmul(acc, Mat::new(&w, m, k), image(i), accumulate, parallel)
        });
        close(&total, &sum);
        assert_eq!(sum_over_images(0, 2, |_, _, _, _| {}), vec![0.0; 2]);
    }
}
