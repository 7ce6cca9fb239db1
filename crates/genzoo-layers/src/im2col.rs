//! The column-matrix kernels of the Flex convolutions, on `f32` slices: im2col and its adjoint
//! col2im in the channel-major layout `cols[C·kh·kw, B·Gh·Gw]` ([`Geometry`], stride 1) and in
//! the batch-major layout of the masked convolutions' kept taps ([`TapGeometry`]).
//!
//! The convolution operations multiply these columns through [`crate::gemm`]:
//!
//! | | forward | input gradient | weight gradient |
//! |---|---|---|---|
//! | `conv2d` | `W · im2col(x)` | `col2im(Wᵀ · dy)` | `dy · im2col(x)ᵀ` |
//! | `conv_transpose2d` | `col2im(Wᵀ · x)` | `W · im2col(dy)` | `x · im2col(dy)ᵀ` |
//!
//! A column matrix holds `kh·kw / (s_h·s_w)` values per input value (4× for DCGAN's 4×4 kernels
//! at stride 2, 6× for the Gated PixelCNN's 2×3 vertical stack), written and read back in every
//! direction; strided layers and the wider stride-1 ones are folded instead (`phase.rs`), which
//! needs no column matrix.

/// The grid indices `i < grid` whose pixel `s·i + p − pad` lies in `0..size`.
pub(crate) fn valid(
    grid: usize,
    s: usize,
    p: usize,
    pad: usize,
    size: usize,
) -> std::ops::Range<usize> {
    let lo = pad.saturating_sub(p).div_ceil(s);
    let hi = (size + pad).saturating_sub(p).div_ceil(s).min(grid);
    lo..hi.max(lo)
}

/// The geometry shared by im2col and col2im: an image `[C, H, W]` seen through a `kh × kw`
/// window at `Gh × Gw` grid positions; grid position `(i, j)`, tap `(u, v)` reads pixel
/// `(s_h·i + u − p_top, s_w·j + v − p_left)`, zero outside the image.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Geometry {
    pub(crate) c: usize,
    pub(crate) h: usize,
    pub(crate) w: usize,
    pub(crate) kh: usize,
    pub(crate) kw: usize,
    pub(crate) sh: usize,
    pub(crate) sw: usize,
    pub(crate) pt: usize,
    pub(crate) pl: usize,
    pub(crate) gh: usize,
    pub(crate) gw: usize,
}

impl Geometry {
    /// A convolution of `[C, H, W]` images with a `kh × kw` kernel and
    /// `p = [s_h, s_w, p_top, p_bottom, p_left, p_right]`, over its output grid.
    pub(crate) fn conv(c: usize, [h, w]: [usize; 2], [kh, kw]: [usize; 2], p: [usize; 6]) -> Self {
        let [sh, sw, pt, pb, pl, pr] = p;
        Self {
            c,
            h,
            w,
            kh,
            kw,
            sh,
            sw,
            pt,
            pl,
            gh: (h + pt + pb - kh) / sh + 1,
            gw: (w + pl + pr - kw) / sw + 1,
        }
    }

    /// Rows of the column matrix: `C·kh·kw`.
    pub(crate) fn rows(&self) -> usize {
        self.c * self.kh * self.kw
    }

    /// Grid positions per image: `Gh·Gw`.
    pub(crate) fn grid(&self) -> usize {
        self.gh * self.gw
    }

    /// Strided layers are folded (`phase.rs`); the column matrices here are stride 1's.
    fn check_unit_stride(&self) {
        assert!(
            self.grid() == 0 || (self.sh, self.sw) == (1, 1),
            "im2col: stride {:?} must be folded",
            (self.sh, self.sw)
        );
    }

    /// `cols[(c, u, v), (n, i, j)]` from `images[n, c, :, :]` (`n < batch`), at stride 1.
    pub(crate) fn im2col(&self, images: &[f32], batch: usize) -> Vec<f32> {
        use rayon::prelude::*;
        self.check_unit_stride();
        let g = *self;
        let (l, hw) = (g.grid(), g.h * g.w);
        let mut cols = vec![0.0f32; g.rows() * batch * l];
        cols.par_chunks_mut((batch * l).max(1))
            .enumerate()
            .for_each(|(r, row)| {
                let (c, u, v) = (r / (g.kh * g.kw), (r / g.kw) % g.kh, r % g.kw);
                let rows = valid(g.gh, g.sh, u, g.pt, g.h);
                let js = valid(g.gw, g.sw, v, g.pl, g.w);
                for (n, out) in row.chunks_mut(l.max(1)).enumerate() {
                    let plane = &images[(n * g.c + c) * hw..][..hw];
                    for i in rows.clone() {
                        let y = i + u - g.pt;
                        let src = &plane[y * g.w..][..g.w];
                        let dst = &mut out[i * g.gw..][..g.gw];
                        if js.is_empty() {
                            continue;
                        }
                        let x0 = js.start + v - g.pl;
                        dst[js.clone()].copy_from_slice(&src[x0..x0 + js.len()]);
                    }
                }
            });
        cols
    }

    /// The adjoint of [`Self::im2col`]: `images[n, c, y, x] = Σ cols[(c, u, v), (n, i, j)]` over
    /// the grid positions and taps that read pixel `(y, x)`.
    pub(crate) fn col2im(&self, cols: &[f32], batch: usize) -> Vec<f32> {
        use rayon::prelude::*;
        self.check_unit_stride();
        let g = *self;
        let (l, hw) = (g.grid(), g.h * g.w);
        let mut images = vec![0.0f32; batch * g.c * hw];
        images
            .par_chunks_mut(hw.max(1))
            .enumerate()
            .with_min_len(crate::flex::min_parts(hw))
            .for_each(|(nc, plane)| {
                let (n, c) = (nc / g.c, nc % g.c);
                for u in 0..g.kh {
                    let rows = valid(g.gh, g.sh, u, g.pt, g.h);
                    for v in 0..g.kw {
                        let js = valid(g.gw, g.sw, v, g.pl, g.w);
                        let r = (c * g.kh + u) * g.kw + v;
                        let src = &cols[(r * batch + n) * l..][..l];
                        for i in rows.clone() {
                            let y = i + u - g.pt;
                            let dst = &mut plane[y * g.w..][..g.w];
                            let srow = &src[i * g.gw..][..g.gw];
                            if js.is_empty() {
                                continue;
                            }
                            let x0 = js.start + v - g.pl;
                            for (d, s) in dst[x0..].iter_mut().zip(&srow[js.clone()]) {
                                *d += s;
                            }
                        }
                    }
                }
            });
        images
    }
}

/// A stride-1 correlation over some taps of a `kh × kw` kernel in the *batch-major* layout of
/// the masked convolutions' tap product: `cols[n, (t, c), i, j] = x[n, c, i + u_t − p_top, j + v_t − p_left]`
/// for tap `t` at kernel position `(u_t, v_t)`, zero outside the image. With this layout the
/// forward product and the input gradient's are batched GEMMs that read and write `[B, C, H·W]`
/// tensors in place, so nothing is transposed (the channel-major [`Geometry`] needs a transpose
/// of the output and of its gradient, which lost on the masked convolutions).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct TapGeometry {
    pub(crate) c: usize,
    pub(crate) h: usize,
    pub(crate) w: usize,
    pub(crate) ho: usize,
    pub(crate) wo: usize,
    pub(crate) pt: usize,
    pub(crate) pl: usize,
    /// `(u, v)` of each tap, in the order of the weight's columns.
    pub(crate) taps: Vec<(usize, usize)>,
}

impl TapGeometry {
    /// For input `[B, C, H, W]` and `p = [kh, kw, taps, p_top, p_bottom, p_left, p_right]`, where
    /// bit `u·kw + v` of `taps` marks tap `(u, v)` (ascending order).
    pub(crate) fn new(x: [usize; 4], p: [usize; 7]) -> Self {
        let [_, c, h, w] = x;
        let [kh, kw, mask, pt, pb, pl, pr] = p;
        let taps = (0..kh * kw)
            .filter(|&i| mask >> i & 1 == 1)
            .map(|i| (i / kw, i % kw))
            .collect();
        Self {
            c,
            h,
            w,
            ho: h + pt + pb + 1 - kh,
            wo: w + pl + pr + 1 - kw,
            pt,
            pl,
            taps,
        }
    }

    /// Whether the columns are the input itself: one tap that reads every pixel in place.
    pub(crate) fn is_identity(&self) -> bool {
        self.taps == [(self.pt, self.pl)] && (self.ho, self.wo) == (self.h, self.w)
    }

    /// Rows of one image's column matrix: `T·C`.
    pub(crate) fn rows(&self) -> usize {
        self.taps.len() * self.c
    }

    /// Output pixels per image: `ho·wo`.
    pub(crate) fn grid(&self) -> usize {
        self.ho * self.wo
    }

    /// Tap `(u, v)`: the output rows and columns whose input pixel lies inside the image.
    fn span(&self, (u, v): (usize, usize)) -> [std::ops::Range<usize>; 2] {
        [
            valid(self.ho, 1, u, self.pt, self.h),
            valid(self.wo, 1, v, self.pl, self.w),
        ]
    }

    /// The column matrices of `x`'s `batch` images: `x` itself for the identity layout.
    pub(crate) fn columns<'a>(&self, x: &'a [f32], batch: usize) -> std::borrow::Cow<'a, [f32]> {
        if self.is_identity() {
            std::borrow::Cow::Borrowed(x)
        } else {
            std::borrow::Cow::Owned(self.im2col(x, batch))
        }
    }

    /// `cols[n, (t, c), :, :]` from `x[n, c, :, :]` (`n < batch`).
    pub(crate) fn im2col(&self, x: &[f32], batch: usize) -> Vec<f32> {
        use rayon::prelude::*;
        let (l, hw, c) = (self.grid(), self.h * self.w, self.c);
        let mut cols = vec![0.0f32; batch * self.rows() * l];
        cols.par_chunks_mut(l.max(1))
            .with_min_len(crate::flex::min_parts(self.grid()))
            .enumerate()
            .for_each(|(r, plane)| {
                let (n, tc) = (r / self.rows(), r % self.rows());
                let tap = self.taps[tc / c];
                let src = &x[(n * c + tc % c) * hw..][..hw];
                let [rows, js] = self.span(tap);
                let x0 = js.start + tap.1 - self.pl;
                for i in rows {
                    let y = i + tap.0 - self.pt;
                    plane[i * self.wo..][js.clone()]
                        .copy_from_slice(&src[y * self.w + x0..][..js.len()]);
                }
            });
        cols
    }

    /// The adjoint of [`Self::im2col`]: `x[n, c, y, x] = Σ_t cols[n, (t, c), y − u_t + p_top,
    /// x − v_t + p_left]`.
    pub(crate) fn col2im(&self, cols: &[f32], batch: usize) -> Vec<f32> {
        use rayon::prelude::*;
        let (l, hw, c) = (self.grid(), self.h * self.w, self.c);
        let mut x = vec![0.0f32; batch * c * hw];
        x.par_chunks_mut(hw.max(1))
            .with_min_len(crate::flex::min_parts(self.grid()))
            .enumerate()
            .for_each(|(nc, plane)| {
                let (n, ch) = (nc / c, nc % c);
                for (t, &tap) in self.taps.iter().enumerate() {
                    let src = &cols[(n * self.rows() + t * c + ch) * l..][..l];
                    let [rows, js] = self.span(tap);
                    let x0 = js.start + tap.1 - self.pl;
                    for i in rows {
                        let y = i + tap.0 - self.pt;
                        let dst = &mut plane[y * self.w + x0..][..js.len()];
                        for (d, s) in dst.iter_mut().zip(&src[i * self.wo..][js.clone()]) {
                            *d += s;
                        }
                    }
                }
            });
        x
    }
}
