//! Convolutions without a column matrix: each image is folded into its `s_h·s_w` phases
//! (space-to-depth), and the stride-`s` convolution becomes a stride-1 one over the folded image,
//! computed as a few matrix products that read the folded image in place ("implicit GEMM"). At
//! stride 1 the folded image is the padded image; the router sends every strided layer here
//! and the stride-1 ones over 32 channels or more.
//!
//! For stride `s` and tap `u = s·a + p` (`p < s`), the input pixel `s·i + u − pad` is pixel
//! `i + a` of phase `p`. So with the folded image `X'[(p, q, c), i', j'] = x[c, s_h·i' + p − p_top,
//! s_w·j' + q − p_left]` (zero outside the image) and the kernel regrouped as
//! `W'_{ab}[o, (p, q, c)] = W[o, c, s_h·a + p, s_w·b + q]` (zero past the kernel),
//!
//! `y[o, i, j] = Σ_{a,b} (W'_{ab} · X'[:, i + a, j + b])[o]`.
//!
//! Stored row-major with `W_q` columns per row, `X'[:, i + a, j + b]` over all `(i, j)` of a grid
//! `H_o × W_q` is one strided view of `X'` starting at `a·W_q + b`: the product over it needs no
//! copy. The grid's columns `j ≥ W_o` are not outputs; they cost `W_q / W_o` more arithmetic
//! (8/7 for DCGAN's 7×7 layers) and are dropped when the output is written.
//!
//! The column matrix of [`crate::im2col`] holds `kh·kw` values per input channel and output
//! position (4× the input for a 4×4 kernel at stride 2), gathered with a stride, written to memory
//! and read back by the product, in every direction of every strided layer. The folded image is
//! the input's size plus a border, built per image, and stays in cache.
//!
//! | | per image |
//! |---|---|
//! | forward | `y = Σ_{ab} W'_{ab} · view_{ab}(X')` |
//! | input gradient | `dX'` `+=` `W'_{ab}ᵀ · dy` at `view_{ab}`, unfolded |
//! | weight gradient | `dW'_{ab} += dy · view_{ab}(X')ᵀ`, summed over the batch, regrouped |
//!
//! where `dy` is the output gradient on the `H_o × W_q` grid, with zeros in the extra columns.

use crate::gemm::{Mat, matmul, per_image, sum_over_images};
use crate::im2col::{Geometry, valid};

/// One product of the folded convolution: folded channels `k0..k0 + index.len()` of tap `tap`,
/// whose `[O, index.len()]` kernel block starts at `start` in the regrouped kernel; `index[k]` is
/// where folded channel `k0 + k`'s value lies in one output channel's kernel `[C, kh, kw]`.
#[derive(Clone, Debug)]
struct Segment {
    tap: usize,
    k0: usize,
    start: usize,
    index: Vec<usize>,
}

/// The phase route of [`Geometry`] (`gh × gw` is the output grid `H_o × W_o`).
impl Geometry {
    /// Kernel rows and columns of the folded convolution: `⌈kh / s_h⌉ × ⌈kw / s_w⌉`.
    fn ka(&self) -> usize {
        self.kh.div_ceil(self.sh)
    }

    fn kb(&self) -> usize {
        self.kw.div_ceil(self.sw)
    }

    /// Rows and columns of a folded plane: `H_o + ka` rows (one spare, so that every view of the
    /// last channel stays inside it) and `W_q = W_o + kb − 1` columns.
    fn hq(&self) -> usize {
        self.gh + self.ka()
    }

    fn wq(&self) -> usize {
        self.gw + self.kb() - 1
    }

    fn plane(&self) -> usize {
        self.hq() * self.wq()
    }

    /// Channels of the folded image: `s_h·s_w·C`.
    fn folded(&self) -> usize {
        self.sh * self.sw * self.c
    }

    /// Columns of the products: the `H_o × W_q` grid.
    fn cols(&self) -> usize {
        self.gh * self.wq()
    }

    fn taps(&self) -> usize {
        self.ka() * self.kb()
    }

    fn input_len(&self) -> usize {
        self.c * self.h * self.w
    }

    /// Start of tap `(a, b)`'s view in a folded plane.
    fn offset(&self, t: usize) -> usize {
        (t / self.kb()) * self.wq() + t % self.kb()
    }

    /// One image `[C, H, W]` folded into `out = [(p, q, c), H_q, W_q]`; every value is written.
    fn fold(&self, x: &[f32], out: &mut [f32]) {
        let (hq, wq, plane) = (self.hq(), self.wq(), self.plane());
        for p in 0..self.sh {
            let rows = valid(hq, self.sh, p, self.pt, self.h);
            for q in 0..self.sw {
                let js = valid(wq, self.sw, q, self.pl, self.w);
                for c in 0..self.c {
                    let ch = (p * self.sw + q) * self.c + c;
                    let dst = &mut out[ch * plane..][..plane];
                    let src = &x[c * self.h * self.w..][..self.h * self.w];
                    dst[..rows.start * wq].fill(0.0);
                    dst[rows.end * wq..].fill(0.0);
                    for i in rows.clone() {
                        let y = self.sh * i + p - self.pt;
                        let row = &mut dst[i * wq..][..wq];
                        row[..js.start].fill(0.0);
                        row[js.end..].fill(0.0);
                        if js.is_empty() {
                            continue;
                        }
                        let x0 = self.sw * js.start + q - self.pl;
                        let srow = &src[y * self.w + x0..(y + 1) * self.w];
                        for (d, s) in row[js.clone()].iter_mut().zip(srow.iter().step_by(self.sw)) {
                            *d = *s;
                        }
                    }
                }
            }
        }
    }

    /// The adjoint of [`Self::fold`]: `dx[c, y, x]` from the folded gradient (each input pixel
    /// is one folded value; `dx` is overwritten where a folded value exists, left alone elsewhere).
    fn unfold(&self, dxq: &[f32], dx: &mut [f32]) {
        let (hq, wq, plane) = (self.hq(), self.wq(), self.plane());
        for p in 0..self.sh {
            let rows = valid(hq, self.sh, p, self.pt, self.h);
            for q in 0..self.sw {
                let js = valid(wq, self.sw, q, self.pl, self.w);
                if js.is_empty() {
                    continue;
                }
                for c in 0..self.c {
                    let ch = (p * self.sw + q) * self.c + c;
                    let src = &dxq[ch * plane..][..plane];
                    let dst = &mut dx[c * self.h * self.w..][..self.h * self.w];
                    for i in rows.clone() {
                        let y = self.sh * i + p - self.pt;
                        let x0 = self.sw * js.start + q - self.pl;
                        let drow = &mut dst[y * self.w + x0..(y + 1) * self.w];
                        let srow = &src[i * wq..][js.clone()];
                        for (d, s) in drow.iter_mut().step_by(self.sw).zip(srow) {
                            *d = *s;
                        }
                    }
                }
            }
        }
    }

    /// The products of the folded convolution: for each tap `(a, b)`, the runs of folded
    /// channels whose kernel values exist (`s_h·a + p < kh`, `s_w·b + q < kw`), as
    /// `(tap, first channel, channels)`. In the channel order `(p, q, c)` the phases of one `p`
    /// are adjacent, so a tap is one run when all its `q` exist (every tap of a 4×4 kernel at
    /// stride 2) and one run per `p` otherwise: no product multiplies a kernel value that is not
    /// there (a 3×3 kernel at stride 2 folds to 2×2 taps of 4 phases, 16 blocks of which 9 exist).
    fn segments(&self) -> Vec<(usize, usize, usize)> {
        let (kb, c) = (self.kb(), self.c);
        let mut out = Vec::new();
        for t in 0..self.taps() {
            let (a, b) = (t / kb, t % kb);
            let pa = (self.kh - self.sh * a).min(self.sh);
            let qb = (self.kw - self.sw * b).min(self.sw);
            if qb == self.sw {
                out.push((t, 0, pa * qb * c));
            } else {
                out.extend((0..pa).map(|p| (t, p * self.sw * c, qb * c)));
            }
        }
        out
    }

    /// Each of [`Self::segments`] with its place in the regrouped kernel.
    fn layout(&self, o: usize) -> Vec<Segment> {
        let mut start = 0;
        self.segments()
            .into_iter()
            .map(|(tap, k0, len)| {
                let (a, b) = (tap / self.kb(), tap % self.kb());
                let index = (k0..k0 + len)
                    .map(|ch| {
                        let (pq, c) = (ch / self.c, ch % self.c);
                        let (u, v) = (self.sh * a + pq / self.sw, self.sw * b + pq % self.sw);
                        (c * self.kh + u) * self.kw + v
                    })
                    .collect();
                let segment = Segment {
                    tap,
                    k0,
                    start,
                    index,
                };
                start += o * len;
                segment
            })
            .collect()
    }

    /// The kernel `[O, C, kh, kw]` regrouped into one `[O, channels]` block per segment.
    fn kernel(&self, w: &[f32], layout: &[Segment], o: usize) -> Vec<f32> {
        let per = self.c * self.kh * self.kw;
        let mut out = vec![0.0f32; o * per];
        for Segment { start, index, .. } in layout {
            let block = &mut out[*start..][..o * index.len()];
            for (row, wo) in block.chunks_mut(index.len()).zip(w.chunks(per)) {
                for (d, &i) in row.iter_mut().zip(index) {
                    *d = wo[i];
                }
            }
        }
        out
    }

    /// The adjoint of [`Self::kernel`]: `[O, C, kh, kw]` from the segment blocks.
    fn unkernel(&self, blocks: &[f32], layout: &[Segment], o: usize) -> Vec<f32> {
        let per = self.c * self.kh * self.kw;
        let mut out = vec![0.0f32; o * per];
        for Segment { start, index, .. } in layout {
            let block = &blocks[*start..][..o * index.len()];
            for (row, wo) in block.chunks(index.len()).zip(out.chunks_mut(per)) {
                for (s, &i) in row.iter().zip(index) {
                    wo[i] = *s;
                }
            }
        }
        out
    }

    /// Image `n` of `x[B, C, H, W]`, folded.
    fn fold_image(&self, x: &[f32], n: usize) -> Vec<f32> {
        let mut xq = vec![0.0f32; self.folded() * self.plane()];
        self.fold(&x[n * self.input_len()..][..self.input_len()], &mut xq);
        xq
    }

    /// Image `n` of the output gradient `dy[B, O, H_o, W_o]` on the `H_o × W_q` grid, zero in the
    /// extra columns.
    fn widen_image(&self, dy: &[f32], n: usize, o: usize) -> Vec<f32> {
        let len = o * self.gh * self.gw;
        self.widen(&dy[n * len..][..len], o)
    }

    /// One image's output gradient `[O, H_o, W_o]` on the `H_o × W_q` grid, zero in the extra
    /// columns.
    fn widen(&self, dy: &[f32], o: usize) -> Vec<f32> {
        let wq = self.wq();
        let mut out = vec![0.0f32; o * self.cols()];
        for (dst, src) in out.chunks_mut(wq).zip(dy.chunks(self.gw)) {
            dst[..self.gw].copy_from_slice(src);
        }
        out
    }

    /// Rows `k0..k0 + len` of tap `t`'s view of a folded image: `[len, H_o·W_q]`.
    fn view<'a>(&self, xq: &'a [f32], t: usize, k0: usize, len: usize) -> Mat<'a> {
        Mat::strided(
            &xq[k0 * self.plane() + self.offset(t)..],
            [len, self.cols()],
            [self.plane(), 1],
        )
    }

    /// `y[B, O, H_o, W_o]` from `x[B, C, H, W]` and `w[O, C, kh, kw]`.
    pub(crate) fn folded_forward(&self, x: &[f32], w: &[f32], o: usize, batch: usize) -> Vec<f32> {
        let wq = self.wq();
        let layout = self.layout(o);
        let kernel = self.kernel(w, &layout, o);
        let out_len = o * self.gh * self.gw;
        let mut y = vec![0.0f32; batch * out_len];
        per_image(&mut y, out_len, |n, out, parallel| {
            let xq = self.fold_image(x, n);
            let mut wide = vec![0.0f32; o * self.cols()];
            for (
                i,
                Segment {
                    tap,
                    k0,
                    start,
                    index,
                },
            ) in layout.iter().enumerate()
            {
                let lhs = Mat::new(&kernel[*start..], o, index.len());
                let rhs = self.view(&xq, *tap, *k0, index.len());
                matmul(&mut wide, lhs, rhs, i > 0, parallel);
            }
            for (dst, src) in out.chunks_mut(self.gw).zip(wide.chunks(wq)) {
                dst.copy_from_slice(&src[..self.gw]);
            }
        });
        y
    }

    /// `dx[B, C, H, W]` from the output gradient `dy[B, O, H_o, W_o]` and `w[O, C, kh, kw]`.
    pub(crate) fn folded_input_grad(
        &self,
        dy: &[f32],
        w: &[f32],
        o: usize,
        batch: usize,
    ) -> Vec<f32> {
        let (cf, plane, cols) = (self.folded(), self.plane(), self.cols());
        let layout = self.layout(o);
        let kernel = self.kernel(w, &layout, o);
        let mut dx = vec![0.0f32; batch * self.input_len()];
        per_image(&mut dx, self.input_len(), |n, out, parallel| {
            let dy = self.widen_image(dy, n, o);
            let dy = Mat::new(&dy, o, cols);
            let mut dxq = vec![0.0f32; cf * plane];
            let mut part = vec![0.0f32; cf * cols];
            for Segment {
                tap,
                k0,
                start,
                index,
            } in &layout
            {
                let len = index.len();
                let part = &mut part[..len * cols];
                matmul(
                    part,
                    Mat::new(&kernel[*start..], o, len).t(),
                    dy,
                    false,
                    parallel,
                );
                let at = self.offset(*tap);
                for (dst, src) in dxq[k0 * plane..].chunks_mut(plane).zip(part.chunks(cols)) {
                    for (d, s) in dst[at..at + cols].iter_mut().zip(src) {
                        *d += s;
                    }
                }
            }
            self.unfold(&dxq, out);
        });
        dx
    }

    /// `dw[O, C, kh, kw]` from `x[B, C, H, W]` and the output gradient `dy[B, O, H_o, W_o]`.
    pub(crate) fn folded_weight_grad(
        &self,
        x: &[f32],
        dy: &[f32],
        o: usize,
        batch: usize,
    ) -> Vec<f32> {
        let cols = self.cols();
        let layout = self.layout(o);
        let total = o * self.c * self.kh * self.kw;
        let blocks = sum_over_images(batch, total, |n, acc, accumulate, parallel| {
            let xq = self.fold_image(x, n);
            let dy = self.widen_image(dy, n, o);
            let dy = Mat::new(&dy, o, cols);
            for Segment {
                tap,
                k0,
                start,
                index,
            } in &layout
            {
                let len = index.len();
                let rhs = self.view(&xq, *tap, *k0, len).t();
                matmul(&mut acc[*start..][..o * len], dy, rhs, accumulate, parallel);
            }
        });
        self.unkernel(&blocks, &layout, o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The direct definition: `y[n, o, i, j] = Σ_{c,u,v} w[o, c, u, v] · x[n, c, s·i + u − p, …]`.
    fn direct(g: &Geometry, x: &[f32], w: &[f32], o: usize, batch: usize) -> Vec<f64> {
        let mut y = vec![0.0f64; batch * o * g.gh * g.gw];
        for n in 0..batch {
            for oc in 0..o {
                for i in 0..g.gh {
                    for j in 0..g.gw {
                        let mut s = 0.0f64;
                        for c in 0..g.c {
                            for u in 0..g.kh {
                                for v in 0..g.kw {
                                    let (yy, xx) = (g.sh * i + u, g.sw * j + v);
                                    if yy < g.pt || xx < g.pl {
                                        continue;
                                    }
                                    let (yy, xx) = (yy - g.pt, xx - g.pl);
                                    if yy >= g.h || xx >= g.w {
                                        continue;
                                    }
                                    let xv = x[((n * g.c + c) * g.h + yy) * g.w + xx];
                                    let wv = w[((oc * g.c + c) * g.kh + u) * g.kw + v];
                                    s += f64::from(xv) * f64::from(wv);
                                }
                            }
                        }
                        y[((n * o + oc) * g.gh + i) * g.gw + j] = s;
                    }
                }
            }
        }
        y
    }

    fn pseudo(n: usize, seed: usize) -> Vec<f32> {
        (0..n)
            .map(|i| (((i * 7919 + seed * 104_729) % 2003) as f32 / 1001.0) - 1.0)
            .collect()
    }

    fn dot(a: &[f32], b: &[f32]) -> f64 {
        a.iter()
            .zip(b)
            .map(|(a, b)| f64::from(*a) * f64::from(*b))
            .sum()
    }

    /// The forward pass against the definition, and both gradients by the adjoint identities
    /// `⟨forward(x, w), r⟩ = ⟨x, input_grad(r, w)⟩ = ⟨w, weight_grad(x, r)⟩`.
    #[test]
    fn forward_and_adjoints_match_the_definition() {
        // (c, h, w, kh, kw, sh, sw, pt, pb, pl, pr, o)
        let cases = [
            (3, 14, 14, 4, 4, 2, 2, 1, 1, 1, 1, 5),
            (2, 9, 7, 3, 3, 2, 2, 1, 1, 1, 1, 3),
            (1, 10, 11, 5, 3, 3, 2, 2, 2, 0, 1, 2),
            (2, 5, 5, 2, 2, 2, 2, 0, 0, 0, 0, 2),
            (2, 8, 6, 3, 4, 1, 3, 0, 2, 1, 0, 3),
            (1, 4, 4, 1, 1, 3, 3, 0, 0, 0, 0, 1),
            // More folded channels per product (32) than gemm's 16-row tile.
            (8, 6, 6, 4, 4, 2, 2, 1, 1, 1, 1, 3),
            // Stride 1 (no folding: the padded image), as `im2col` routes wide layers.
            (32, 5, 6, 2, 3, 1, 1, 1, 0, 1, 1, 3),
        ];
        for (c, h, w, kh, kw, sh, sw, pt, pb, pl, pr, o) in cases {
            let g = Geometry::conv(c, [h, w], [kh, kw], [sh, sw, pt, pb, pl, pr]);
            for batch in [1, 5] {
                let x = pseudo(batch * c * h * w, 1);
                let wt = pseudo(o * c * kh * kw, 2);
                let y = g.folded_forward(&x, &wt, o, batch);
                let expected = direct(&g, &x, &wt, o, batch);
                for (a, b) in y.iter().zip(&expected) {
                    assert!((f64::from(*a) - b).abs() < 1e-4, "{g:?}: {a} vs {b}");
                }
                let r = pseudo(y.len(), 3);
                let dx = g.folded_input_grad(&r, &wt, o, batch);
                let dw = g.folded_weight_grad(&x, &r, o, batch);
                let (lhs, scale) = (dot(&y, &r), dot(&r, &r).sqrt());
                assert!(
                    (lhs - dot(&x, &dx)).abs() < 1e-4 * scale.max(1.0),
                    "dx {g:?}"
                );
                assert!(
                    (lhs - dot(&wt, &dw)).abs() < 1e-4 * scale.max(1.0),
                    "dw {g:?}"
                );
            }
        }
    }
}
