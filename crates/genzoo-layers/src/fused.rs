//! Element-wise functions computed in one pass forward and one pass backward: the activations
//! that the Gated PixelCNN and the PixelRNN LSTMs apply to blocks of channels ([`gated_tanh`],
//! [`lstm_cell`], [`lstm_hidden`]), LeakyReLU ([`leaky_relu`]), the generators' output `tanh`
//! ([`tanh`]) and the Bernoulli log-likelihood ([`bernoulli_log_prob`]).
//!
//! Written with burn's ops, `tanh(x[:, :p]) ⊙ σ(x[:, p:])` is two `narrow`s, `tanh`, `sigmoid`
//! and a product: five buffers forward, and backward each `narrow` scatters its gradient into a
//! zeroed full-size buffer before the two are added. Profiled on `cond-pixelcnn`, `tanh` and
//! `sigmoid` alone were a fifth of the step (glibc's scalar `tanhf`/`expf`). The functions here
//! do the same arithmetic in one vectorised pass per direction, with a polynomial `exp`.
//!
//! On the Flex backend, with or without autodiff, they are custom operations registered through
//! burn's backend extension (`#[backend_extension]`), with hand-written backward passes. On every
//! other backend, and for tensors that are not `f32`, they are the composition of burn's ops, so
//! the same model code runs everywhere. Both routes are tested against each other in value and
//! gradient (`tests` below).
//!
//! Channel blocks: for `x: [B, k·p, …]`, block `j` is `x[:, j·p .. (j+1)·p, …]`.

use burn::backend::ops::ActivationOps;
use burn::backend::{Backend, backend_extension, tensor::FloatTensor};
use burn::tensor::Tensor;

/// `tanh(x[:, :p]) ⊙ σ(x[:, p:])`: the gated activation of the Gated PixelCNN (van den Oord
/// et al. 2016, arXiv:1606.05328), applied to a stacked pair of pre-activations.
///
/// # Shapes
/// `x: [B, 2p, …]` → `[B, p, …]`
///
/// # Panics
/// If dimension 1 of `x` is odd.
pub fn gated_tanh<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let dims = x.dims();
    assert!(
        D >= 2 && dims[1].is_multiple_of(2),
        "gated_tanh needs an even number of channels, got {dims:?}"
    );
    if crate::route::flex(&[&x]) {
        return op::gated_tanh(x);
    }
    composed::gated_tanh(x)
}

/// The cell update of an LSTM from pre-activation gates in the blocks `[i, f, o, g]`:
/// `c = σ(f) ⊙ c_prev + σ(i) ⊙ tanh(g)`.
///
/// # Shapes
/// `gates: [B, 4h, …]`, `c_prev: [B, h, …]` → `[B, h, …]`
///
/// # Panics
/// If the shapes do not match as above.
pub fn lstm_cell<const D: usize>(gates: Tensor<D>, c_prev: Tensor<D>) -> Tensor<D> {
    check_lstm_shapes(&gates, &c_prev, "lstm_cell");
    if crate::route::flex(&[&gates, &c_prev]) {
        return op::lstm_cell(gates, c_prev);
    }
    composed::lstm_cell(gates, c_prev)
}

/// The hidden state of an LSTM from its gates (blocks `[i, f, o, g]`) and new cell:
/// `h = σ(o) ⊙ tanh(c)`.
///
/// # Shapes
/// `gates: [B, 4h, …]`, `c: [B, h, …]` → `[B, h, …]`
///
/// # Panics
/// If the shapes do not match as above.
pub fn lstm_hidden<const D: usize>(gates: Tensor<D>, c: Tensor<D>) -> Tensor<D> {
    check_lstm_shapes(&gates, &c, "lstm_hidden");
    if crate::route::flex(&[&gates, &c]) {
        return op::lstm_hidden(gates, c);
    }
    composed::lstm_hidden(gates, c)
}

/// `x` where `x ≥ 0`, `slope · x` elsewhere — burn's `leaky_relu`, with the same gradient (`1`
/// at 0 and for NaN, `slope` below 0). burn's autodiff composes it from a comparison, a scaled
/// copy and a select (three passes forward, five backward); here it is one pass each way.
///
/// The Flex kernel keeps the output for the backward pass (the next layer keeps it anyway), which
/// determines the sign of `x` only for `slope > 0`; other slopes take burn's op.
pub fn leaky_relu<const D: usize>(x: Tensor<D>, slope: f64) -> Tensor<D> {
    if crate::route::leaky_relu(&x, slope) {
        return op::leaky_relu(x, slope as f32);
    }
    burn::tensor::activation::leaky_relu(x, slope)
}

/// `tanh(x)`, with burn's gradient `1 − tanh²(x)`. burn-flex computes it with glibc's scalar
/// `tanhf` on one thread: in `perf`, the MLP GAN generator's output `tanh` alone (64×784 values,
/// twice a step) was 8% of the `gan` step. The Flex kernel is one vectorised pass each way and
/// keeps the output for the backward pass (absolute error below 5e-7 against `f64`).
pub fn tanh<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    if crate::route::flex(&[&x]) {
        return op::tanh(x);
    }
    burn::tensor::activation::tanh(x)
}

/// `log p(target | logits)` of a Bernoulli with `p = σ(logits)`, elementwise:
/// `target · l − softplus(l)` with `softplus(l) = max(l, 0) + log1p(e^−|l|)`, exact for any `l`.
/// The gradient is `target − σ(l)` for the logits and `l` for the target.
///
/// Composed of burn's ops it is eight passes forward (and glibc's scalar `log1pf`/`expf` were a
/// third of the MLP VAE's step in `perf`); on Flex it is one pass each way.
///
/// # Shapes
/// `logits`, `target`: the same shape (burn's ops, with broadcasting, otherwise)
pub fn bernoulli_log_prob<const D: usize>(logits: Tensor<D>, target: Tensor<D>) -> Tensor<D> {
    if crate::route::bernoulli_log_prob(&logits, &target) {
        return op::bernoulli_log_prob(logits, target);
    }
    composed::bernoulli_log_prob(logits, target)
}

fn check_lstm_shapes<const D: usize>(gates: &Tensor<D>, c: &Tensor<D>, name: &str) {
    let (g, c) = (gates.dims(), c.dims());
    let mut expected = c;
    if D >= 2 {
        expected[1] *= 4;
    }
    assert!(
        D >= 2 && g == expected,
        "{name}: gates {g:?} must have 4× the channels of the state {c:?}"
    );
}

/// The same functions composed of burn's ops: the route on every backend but Flex, and the
/// reference the Flex kernels are tested against.
pub mod composed {
    use super::*;
    use burn::tensor::activation::{sigmoid, tanh};

    /// [`super::gated_tanh`] with burn's ops.
    pub fn gated_tanh<const D: usize>(x: Tensor<D>) -> Tensor<D> {
        let p = x.dims()[1] / 2;
        tanh(x.clone().narrow(1, 0, p)) * sigmoid(x.narrow(1, p, p))
    }

    fn block<const D: usize>(gates: &Tensor<D>, j: usize) -> Tensor<D> {
        let h = gates.dims()[1] / 4;
        gates.clone().narrow(1, j * h, h)
    }

    /// [`super::lstm_cell`] with burn's ops.
    pub fn lstm_cell<const D: usize>(gates: Tensor<D>, c_prev: Tensor<D>) -> Tensor<D> {
        sigmoid(block(&gates, 1)) * c_prev + sigmoid(block(&gates, 0)) * tanh(block(&gates, 3))
    }

    /// [`super::bernoulli_log_prob`] with burn's ops.
    pub fn bernoulli_log_prob<const D: usize>(logits: Tensor<D>, target: Tensor<D>) -> Tensor<D> {
        let softplus = logits.clone().clamp_min(0.0) + logits.clone().abs().neg().exp().log1p();
        target * logits - softplus
    }

    /// [`super::lstm_hidden`] with burn's ops.
    pub fn lstm_hidden<const D: usize>(gates: Tensor<D>, c: Tensor<D>) -> Tensor<D> {
        sigmoid(block(&gates, 2)) * tanh(c)
    }
}

/// The arithmetic of the kernels, on `f32` slices, free of any backend.
#[cfg(any(feature = "flex", test))]
mod math {
    /// `exp(x)` in `f32` by range reduction (`x = k·ln2 + r`, `|r| ≤ ln2/2`) and a degree-6
    /// polynomial for `exp(r)`: relative error below 3e-7, and written without calls or
    /// branches so that the loops around it vectorise. Gives 0 below −87 and saturates at `e^88`
    /// instead of reaching ∞ (which `tanh` and `σ` below do not notice); NaN stays NaN.
    #[inline(always)]
    pub fn exp(x: f32) -> f32 {
        // 1.5·2²³: adding and subtracting it rounds to the nearest integer with plain adds.
        const ROUND: f32 = 12_582_912.0;
        let input = x;
        let x = x.clamp(-87.0, 88.0);
        // ln 2 in two parts (Cody–Waite): k·LN2_HI is exact for |k| < 2¹⁴, so r keeps its low bits.
        const LN2_HI: f32 = 0.693_359_4;
        const LN2_LO: f32 = -2.121_944_4e-4;
        let k = (x * std::f32::consts::LOG2_E + ROUND) - ROUND;
        let r = (x - k * LN2_HI) - k * LN2_LO;
        let p = 1.0
            + r * (1.0
                + r * (0.5
                    + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
        // 2^k from its exponent bits; k ∈ [−126, 127] after the clamp.
        let bits = ((k as i32).wrapping_add(127) as u32) << 23;
        let e = p * f32::from_bits(bits);
        // Below −87 the true value is subnormal or 0: 0, as burn's `exp` gives for −104 and less.
        if input < -87.0 { 0.0 } else { e }
    }

    /// `σ(x) = 1 / (1 + e^−x)`.
    #[inline(always)]
    pub fn sigmoid(x: f32) -> f32 {
        1.0 / (1.0 + exp(-x))
    }

    /// `softplus(x) = max(x, 0) + log1p(e^−|x|)`: with `y = e^−|x| ∈ (0, 1]`,
    /// `log1p(y) = 2·atanh(s)`, `s = y / (2 + y) ∈ (0, 1/3]`, by its odd series to `s¹⁵`
    /// (truncation below 2e-8 relative), without the cancellation of `log(1 + y)` for small `y`.
    #[inline(always)]
    pub fn softplus(x: f32) -> f32 {
        let y = exp(-x.abs());
        let s = y / (2.0 + y);
        let s2 = s * s;
        let series = 1.0
            + s2 * (1.0 / 3.0
                + s2 * (1.0 / 5.0
                    + s2 * (1.0 / 7.0
                        + s2 * (1.0 / 9.0
                            + s2 * (1.0 / 11.0 + s2 * (1.0 / 13.0 + s2 * (1.0 / 15.0)))))));
        x.max(0.0) + 2.0 * s * series
    }

    /// `tanh(x) = 1 − 2 / (e^2x + 1)`: absolute error below 3e-7.
    #[inline(always)]
    pub fn tanh(x: f32) -> f32 {
        1.0 - 2.0 / (exp(2.0 * x) + 1.0)
    }
}

/// The element-wise functions as operations a backend may compute with its own kernels, with
/// hand-written backward passes. `tanh` and `leaky_relu` default to burn's ops; the others have
/// their reference in [`composed`], written with `Tensor` (not with a backend's primitives), and
/// every backend that takes them implements them.
#[backend_extension(Flex: cfg(feature = "flex"), Autodiff)]
pub trait FusedOps: Backend {
    /// [`gated_tanh`].
    fn gated_tanh(x: FloatTensor<Self>) -> FloatTensor<Self>;
    /// [`lstm_cell`].
    fn lstm_cell(gates: FloatTensor<Self>, c_prev: FloatTensor<Self>) -> FloatTensor<Self>;
    /// [`lstm_hidden`].
    fn lstm_hidden(gates: FloatTensor<Self>, c: FloatTensor<Self>) -> FloatTensor<Self>;
    /// [`leaky_relu`] for `slope > 0`.
    // Without `flex` the generated dispatch has no backend to pass this argument to.
    #[cfg_attr(not(feature = "flex"), allow(unused_variables))]
    fn leaky_relu(x: FloatTensor<Self>, slope: f32) -> FloatTensor<Self> {
        <Self as ActivationOps<Self>>::leaky_relu(x, f64::from(slope).into())
    }
    /// [`tanh`].
    fn tanh(x: FloatTensor<Self>) -> FloatTensor<Self> {
        Self::float_tanh(x)
    }
    /// [`bernoulli_log_prob`] for equal shapes.
    fn bernoulli_log_prob(
        logits: FloatTensor<Self>,
        target: FloatTensor<Self>,
    ) -> FloatTensor<Self>;
}

/// The operations of [`FusedOps`] on tensors.
mod op {
    use super::FusedOps;
    use burn::backend::Dispatch;
    use burn::tensor::Tensor;

    pub fn bernoulli_log_prob<const D: usize>(logits: Tensor<D>, target: Tensor<D>) -> Tensor<D> {
        let (l, t) = (logits.into_dispatch(), target.into_dispatch());
        Tensor::from_dispatch(<Dispatch as FusedOps>::bernoulli_log_prob(l, t))
    }

    pub fn leaky_relu<const D: usize>(x: Tensor<D>, slope: f32) -> Tensor<D> {
        Tensor::from_dispatch(<Dispatch as FusedOps>::leaky_relu(x.into_dispatch(), slope))
    }

    pub fn tanh<const D: usize>(x: Tensor<D>) -> Tensor<D> {
        Tensor::from_dispatch(<Dispatch as FusedOps>::tanh(x.into_dispatch()))
    }

    pub fn gated_tanh<const D: usize>(x: Tensor<D>) -> Tensor<D> {
        Tensor::from_dispatch(<Dispatch as FusedOps>::gated_tanh(x.into_dispatch()))
    }

    pub fn lstm_cell<const D: usize>(gates: Tensor<D>, c_prev: Tensor<D>) -> Tensor<D> {
        let (g, c) = (gates.into_dispatch(), c_prev.into_dispatch());
        Tensor::from_dispatch(<Dispatch as FusedOps>::lstm_cell(g, c))
    }

    pub fn lstm_hidden<const D: usize>(gates: Tensor<D>, c: Tensor<D>) -> Tensor<D> {
        let (g, c) = (gates.into_dispatch(), c.into_dispatch());
        Tensor::from_dispatch(<Dispatch as FusedOps>::lstm_hidden(g, c))
    }
}

/// The Flex kernels, and the operations' registration on Flex with and without autodiff.
#[cfg(feature = "flex")]
mod flex {
    use super::{FusedOps, math};
    use crate::autodiff::tracked;
    use crate::flex::{contiguous, tensor, values};
    use burn::backend::autodiff::{Autodiff, checkpoint::strategy::CheckpointStrategy};
    use burn::backend::flex::FlexTensor;
    use burn::backend::{Flex, TensorMetadata, tensor::FloatTensor};
    use rayon::prelude::*;

    /// Elements per parallel task: large enough to amortise rayon, small enough to split a
    /// batch item between threads.
    const CHUNK: usize = 16 * 1024;

    /// The layout of one operation: `items` batch items, each with blocks of `m` elements.
    #[derive(Clone, Copy)]
    struct Blocks {
        items: usize,
        m: usize,
    }

    impl Blocks {
        /// For a state-shaped tensor `[B, c, …]`.
        fn of(state: &FlexTensor) -> Self {
            let shape = state.shape();
            let items = shape[0];
            let n = shape.num_elements();
            Blocks {
                items,
                m: n.checked_div(items).unwrap_or(0),
            }
        }

        /// Block `j` of item `n` in a tensor with `k` blocks per item.
        fn block<'a>(&self, x: &'a [f32], k: usize, n: usize, j: usize) -> &'a [f32] {
            let start = (n * k + j) * self.m;
            &x[start..start + self.m]
        }
    }

    // ---- gated_tanh: x = [a | b] per item → tanh(a)·σ(b) ----

    fn gated_forward(x: FlexTensor) -> FlexTensor {
        let x = contiguous(x);
        let mut shape = x.shape();
        shape[1] /= 2;
        let items = shape[0];
        let m = shape.num_elements().checked_div(items).unwrap_or(0);
        let xs = values(&x);
        let mut out = vec![0.0f32; items * m];
        let blocks = Blocks { items, m };
        out.par_chunks_mut(m.max(1))
            .enumerate()
            .for_each(|(n, item)| {
                let (a, b) = (blocks.block(xs, 2, n, 0), blocks.block(xs, 2, n, 1));
                item.par_chunks_mut(CHUNK).enumerate().for_each(|(ci, y)| {
                    let r = ci * CHUNK..ci * CHUNK + y.len();
                    for ((y, &a), &b) in y.iter_mut().zip(&a[r.clone()]).zip(&b[r]) {
                        *y = math::tanh(a) * math::sigmoid(b);
                    }
                });
            });
        tensor(out, shape)
    }

    fn gated_backward(x: FlexTensor, grad: FlexTensor) -> FlexTensor {
        let (x, grad) = (contiguous(x), contiguous(grad));
        let blocks = Blocks::of(&grad);
        let (xs, gs) = (values(&x), values(&grad));
        let m = blocks.m;
        let mut dx = vec![0.0f32; 2 * blocks.items * m];
        dx.par_chunks_mut((2 * m).max(1))
            .enumerate()
            .for_each(|(n, item)| {
                let (a, b) = (blocks.block(xs, 2, n, 0), blocks.block(xs, 2, n, 1));
                let g = blocks.block(gs, 1, n, 0);
                let (da, db) = item.split_at_mut(m);
                da.par_chunks_mut(CHUNK)
                    .zip(db.par_chunks_mut(CHUNK))
                    .enumerate()
                    .for_each(|(ci, (da, db))| {
                        let r = ci * CHUNK..ci * CHUNK + da.len();
                        let (a, b, g) = (&a[r.clone()], &b[r.clone()], &g[r]);
                        for k in 0..da.len() {
                            let (t, s) = (math::tanh(a[k]), math::sigmoid(b[k]));
                            da[k] = g[k] * s * (1.0 - t * t);
                            db[k] = g[k] * t * s * (1.0 - s);
                        }
                    });
            });
        tensor(dx, x.shape())
    }

    // ---- lstm_cell: gates = [i | f | o | g] per item, c = σ(f)·c_prev + σ(i)·tanh(g) ----

    fn cell_forward(gates: FlexTensor, c_prev: FlexTensor) -> FlexTensor {
        let (gates, c_prev) = (contiguous(gates), contiguous(c_prev));
        let blocks = Blocks::of(&c_prev);
        let (gs, cs) = (values(&gates), values(&c_prev));
        let m = blocks.m;
        let mut out = vec![0.0f32; blocks.items * m];
        out.par_chunks_mut(m.max(1))
            .enumerate()
            .for_each(|(n, item)| {
                let [i, f, g] = [0, 1, 3].map(|j| blocks.block(gs, 4, n, j));
                let cp = blocks.block(cs, 1, n, 0);
                item.par_chunks_mut(CHUNK).enumerate().for_each(|(ci, c)| {
                    let r = ci * CHUNK..ci * CHUNK + c.len();
                    let (i, f, g, cp) = (&i[r.clone()], &f[r.clone()], &g[r.clone()], &cp[r]);
                    for k in 0..c.len() {
                        c[k] = math::sigmoid(f[k]) * cp[k] + math::sigmoid(i[k]) * math::tanh(g[k]);
                    }
                });
            });
        tensor(out, c_prev.shape())
    }

    /// → (d gates, d c_prev).
    fn cell_backward(
        gates: FlexTensor,
        c_prev: FlexTensor,
        grad: FlexTensor,
    ) -> (FlexTensor, FlexTensor) {
        let (gates, c_prev, grad) = (contiguous(gates), contiguous(c_prev), contiguous(grad));
        let blocks = Blocks::of(&c_prev);
        let (gs, cs, dcs) = (values(&gates), values(&c_prev), values(&grad));
        let m = blocks.m;
        let mut d_gates = vec![0.0f32; 4 * blocks.items * m];
        let mut d_prev = vec![0.0f32; blocks.items * m];
        d_gates
            .par_chunks_mut((4 * m).max(1))
            .zip(d_prev.par_chunks_mut(m.max(1)))
            .enumerate()
            .for_each(|(n, (dg_item, dp_item))| {
                let [i, f, g] = [0, 1, 3].map(|j| blocks.block(gs, 4, n, j));
                let (cp, dc) = (blocks.block(cs, 1, n, 0), blocks.block(dcs, 1, n, 0));
                // Blocks i, f, g and the previous cell, chunk by chunk; block o stays zero.
                let (dif, dog) = dg_item.split_at_mut(2 * m);
                let (di, df) = dif.split_at_mut(m);
                let dgg = &mut dog[m..];
                di.par_chunks_mut(CHUNK)
                    .zip(df.par_chunks_mut(CHUNK))
                    .zip(dgg.par_chunks_mut(CHUNK))
                    .zip(dp_item.par_chunks_mut(CHUNK))
                    .enumerate()
                    .for_each(|(ci, (((di, df), dg), dp))| {
                        let r = ci * CHUNK..ci * CHUNK + di.len();
                        let (i, f, g) = (&i[r.clone()], &f[r.clone()], &g[r.clone()]);
                        let (cp, dc) = (&cp[r.clone()], &dc[r]);
                        for k in 0..di.len() {
                            let (si, sf, tg) =
                                (math::sigmoid(i[k]), math::sigmoid(f[k]), math::tanh(g[k]));
                            di[k] = dc[k] * tg * si * (1.0 - si);
                            df[k] = dc[k] * cp[k] * sf * (1.0 - sf);
                            dg[k] = dc[k] * si * (1.0 - tg * tg);
                            dp[k] = dc[k] * sf;
                        }
                    });
            });
        (
            tensor(d_gates, gates.shape()),
            tensor(d_prev, c_prev.shape()),
        )
    }

    // ---- lstm_hidden: h = σ(o)·tanh(c) ----

    fn hidden_forward(gates: FlexTensor, c: FlexTensor) -> FlexTensor {
        let (gates, c) = (contiguous(gates), contiguous(c));
        let blocks = Blocks::of(&c);
        let (gs, cs) = (values(&gates), values(&c));
        let m = blocks.m;
        let mut out = vec![0.0f32; blocks.items * m];
        out.par_chunks_mut(m.max(1))
            .enumerate()
            .for_each(|(n, item)| {
                let (o, c) = (blocks.block(gs, 4, n, 2), blocks.block(cs, 1, n, 0));
                item.par_chunks_mut(CHUNK).enumerate().for_each(|(ci, h)| {
                    let r = ci * CHUNK..ci * CHUNK + h.len();
                    for ((h, &o), &c) in h.iter_mut().zip(&o[r.clone()]).zip(&c[r]) {
                        *h = math::sigmoid(o) * math::tanh(c);
                    }
                });
            });
        tensor(out, c.shape())
    }

    /// → (d gates, d c).
    fn hidden_backward(
        gates: FlexTensor,
        c: FlexTensor,
        grad: FlexTensor,
    ) -> (FlexTensor, FlexTensor) {
        let (gates, c, grad) = (contiguous(gates), contiguous(c), contiguous(grad));
        let blocks = Blocks::of(&c);
        let (gs, cs, dhs) = (values(&gates), values(&c), values(&grad));
        let m = blocks.m;
        let mut d_gates = vec![0.0f32; 4 * blocks.items * m];
        let mut d_c = vec![0.0f32; blocks.items * m];
        d_gates
            .par_chunks_mut((4 * m).max(1))
            .zip(d_c.par_chunks_mut(m.max(1)))
            .enumerate()
            .for_each(|(n, (dg_item, dc_item))| {
                let (o, c) = (blocks.block(gs, 4, n, 2), blocks.block(cs, 1, n, 0));
                let dh = blocks.block(dhs, 1, n, 0);
                let d_o = &mut dg_item[2 * m..3 * m];
                d_o.par_chunks_mut(CHUNK)
                    .zip(dc_item.par_chunks_mut(CHUNK))
                    .enumerate()
                    .for_each(|(ci, (d_o, d_c))| {
                        let r = ci * CHUNK..ci * CHUNK + d_o.len();
                        let (o, c, dh) = (&o[r.clone()], &c[r.clone()], &dh[r]);
                        for k in 0..d_o.len() {
                            let (so, tc) = (math::sigmoid(o[k]), math::tanh(c[k]));
                            d_o[k] = dh[k] * tc * so * (1.0 - so);
                            d_c[k] = dh[k] * so * (1.0 - tc * tc);
                        }
                    });
            });
        (tensor(d_gates, gates.shape()), tensor(d_c, c.shape()))
    }

    // ---- leaky_relu: y = x (x ≥ 0), slope·x (x < 0); backward from y (slope > 0) ----

    /// `f(x)` elementwise, in parallel chunks, shaped like `x`.
    fn map(x: FlexTensor, f: impl Fn(f32) -> f32 + Sync) -> FlexTensor {
        let x = contiguous(x);
        let xs = values(&x);
        let mut out = vec![0.0f32; xs.len()];
        out.par_chunks_mut(CHUNK)
            .zip(xs.par_chunks(CHUNK))
            .for_each(|(y, x)| {
                for (y, &x) in y.iter_mut().zip(x) {
                    *y = f(x);
                }
            });
        tensor(out, x.shape())
    }

    /// `f(a, b)` elementwise over two tensors of one shape, shaped like `a`.
    fn zip_map(a: FlexTensor, b: FlexTensor, f: impl Fn(f32, f32) -> f32 + Sync) -> FlexTensor {
        let (a, b) = (contiguous(a), contiguous(b));
        let (xs, ys) = (values(&a), values(&b));
        let mut out = vec![0.0f32; xs.len()];
        out.par_chunks_mut(CHUNK)
            .zip(xs.par_chunks(CHUNK).zip(ys.par_chunks(CHUNK)))
            .for_each(|(o, (x, y))| {
                for ((o, &x), &y) in o.iter_mut().zip(x).zip(y) {
                    *o = f(x, y);
                }
            });
        tensor(out, a.shape())
    }

    fn leaky_forward(x: FlexTensor, slope: f32) -> FlexTensor {
        map(x, |x| if x < 0.0 { slope * x } else { x })
    }

    fn leaky_backward(y: FlexTensor, grad: FlexTensor, slope: f32) -> FlexTensor {
        zip_map(y, grad, |y, g| if y < 0.0 { slope * g } else { g })
    }

    // ---- tanh: y = tanh(x); backward from y: dx = g·(1 − y²) ----

    fn tanh_forward(x: FlexTensor) -> FlexTensor {
        map(x, math::tanh)
    }

    fn tanh_backward(y: FlexTensor, grad: FlexTensor) -> FlexTensor {
        zip_map(y, grad, |y, g| g * (1.0 - y * y))
    }

    // ---- bernoulli_log_prob: t·l − softplus(l); d/dl = t − σ(l), d/dt = l ----

    fn bernoulli_forward(logits: FlexTensor, target: FlexTensor) -> FlexTensor {
        zip_map(logits, target, |l, t| t * l - math::softplus(l))
    }

    /// → (d logits, d target).
    fn bernoulli_backward(
        logits: FlexTensor,
        target: FlexTensor,
        grad: FlexTensor,
    ) -> (FlexTensor, FlexTensor) {
        let (logits, target, grad) = (contiguous(logits), contiguous(target), contiguous(grad));
        let (ls, ts, gs) = (values(&logits), values(&target), values(&grad));
        let mut dl = vec![0.0f32; ls.len()];
        let mut dt = vec![0.0f32; ls.len()];
        dl.par_chunks_mut(CHUNK)
            .zip(dt.par_chunks_mut(CHUNK))
            .enumerate()
            .for_each(|(ci, (dl, dt))| {
                let r = ci * CHUNK..ci * CHUNK + dl.len();
                let (l, t, g) = (&ls[r.clone()], &ts[r.clone()], &gs[r]);
                for k in 0..dl.len() {
                    dl[k] = g[k] * (t[k] - math::sigmoid(l[k]));
                    dt[k] = g[k] * l[k];
                }
            });
        (tensor(dl, logits.shape()), tensor(dt, target.shape()))
    }

    impl FusedOps for Flex {
        fn gated_tanh(x: FlexTensor) -> FlexTensor {
            gated_forward(x)
        }
        fn lstm_cell(gates: FlexTensor, c_prev: FlexTensor) -> FlexTensor {
            cell_forward(gates, c_prev)
        }
        fn lstm_hidden(gates: FlexTensor, c: FlexTensor) -> FlexTensor {
            hidden_forward(gates, c)
        }
        fn leaky_relu(x: FlexTensor, slope: f32) -> FlexTensor {
            leaky_forward(x, slope)
        }
        fn tanh(x: FlexTensor) -> FlexTensor {
            tanh_forward(x)
        }
        fn bernoulli_log_prob(logits: FlexTensor, target: FlexTensor) -> FlexTensor {
            bernoulli_forward(logits, target)
        }
    }

    /// What the one-input operations keep: their input (`gated_tanh`) or their output.
    fn input([x]: [FlexTensor; 1], _: &FlexTensor) -> FlexTensor {
        x
    }

    fn output(_: [FlexTensor; 1], y: &FlexTensor) -> FlexTensor {
        y.clone()
    }

    /// What the two-input operations keep: both inputs.
    fn both([a, b]: [FlexTensor; 2], _: &FlexTensor) -> (FlexTensor, FlexTensor) {
        (a, b)
    }

    /// A two-input backward kernel `(a, b, grad) → (da, db)` as the node's kernel.
    macro_rules! pair {
        ($kernel:ident) => {
            |(a, b): (FlexTensor, FlexTensor), grad, (), _| {
                let (da, db) = $kernel(a, b, grad);
                [Some(da), Some(db)]
            }
        };
    }

    impl<C: CheckpointStrategy> FusedOps for Autodiff<Flex, C> {
        fn gated_tanh(x: FloatTensor<Self>) -> FloatTensor<Self> {
            let backward = |x, grad, (), _| [Some(gated_backward(x, grad))];
            tracked::<Flex, C, _, _, 1>([x], (), |[x]| gated_forward(x), input, backward)
        }

        fn lstm_cell(gates: FloatTensor<Self>, c_prev: FloatTensor<Self>) -> FloatTensor<Self> {
            let forward = |[g, c]: [FlexTensor; 2]| cell_forward(g, c);
            tracked::<Flex, C, _, _, 2>([gates, c_prev], (), forward, both, pair!(cell_backward))
        }

        fn lstm_hidden(gates: FloatTensor<Self>, c: FloatTensor<Self>) -> FloatTensor<Self> {
            let forward = |[g, c]: [FlexTensor; 2]| hidden_forward(g, c);
            tracked::<Flex, C, _, _, 2>([gates, c], (), forward, both, pair!(hidden_backward))
        }

        fn bernoulli_log_prob(
            logits: FloatTensor<Self>,
            target: FloatTensor<Self>,
        ) -> FloatTensor<Self> {
            let forward = |[l, t]: [FlexTensor; 2]| bernoulli_forward(l, t);
            let backward = pair!(bernoulli_backward);
            tracked::<Flex, C, _, _, 2>([logits, target], (), forward, both, backward)
        }

        fn leaky_relu(x: FloatTensor<Self>, slope: f32) -> FloatTensor<Self> {
            let forward = |[x]: [FlexTensor; 1]| leaky_forward(x, slope);
            let backward = |y, grad, slope, _| [Some(leaky_backward(y, grad, slope))];
            tracked::<Flex, C, _, _, 1>([x], slope, forward, output, backward)
        }

        fn tanh(x: FloatTensor<Self>) -> FloatTensor<Self> {
            let backward = |y, grad, (), _| [Some(tanh_backward(y, grad))];
            tracked::<Flex, C, _, _, 1>([x], (), |[x]| tanh_forward(x), output, backward)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    #[test]
    fn exp_tanh_and_sigmoid_match_f64() {
        let mut worst = [0.0f64; 3];
        let mut x = -90.0f32;
        while x < 90.0 {
            let e = f64::from(x).exp();
            let rel = ((f64::from(math::exp(x)) - e) / e).abs();
            if x > -87.0 && x < 88.0 {
                worst[0] = worst[0].max(rel);
            }
            let t = (f64::from(math::tanh(x)) - f64::from(x).tanh()).abs();
            let s = (f64::from(math::sigmoid(x)) - 1.0 / (1.0 + (-f64::from(x)).exp())).abs();
            worst[1] = worst[1].max(t);
            worst[2] = worst[2].max(s);
            x += 0.0137;
        }
        assert!(worst[0] < 3e-7, "exp relative error {}", worst[0]);
        assert!(worst[1] < 5e-7, "tanh absolute error {}", worst[1]);
        assert!(worst[2] < 3e-7, "sigmoid absolute error {}", worst[2]);
        // softplus: relative error against f64, including the tails where it is e^x (x ≪ 0) or
        // x (x ≫ 0).
        let mut x = -100.0f32;
        let mut worst_softplus = 0.0f64;
        while x < 100.0 {
            let v = f64::from(x);
            let exact = v.max(0.0) + (-v.abs()).exp().ln_1p();
            let got = f64::from(math::softplus(x));
            if x > -80.0 {
                worst_softplus = worst_softplus.max(((got - exact) / exact).abs());
            } else {
                // e^x below f32's normal range: `exp` saturates at e^−87 ≈ 1.6e-38.
                assert!(got < 3e-35, "softplus({x}) = {got}");
            }
            x += 0.0173;
        }
        assert!(
            worst_softplus < 1e-6,
            "softplus relative error {worst_softplus}"
        );
        assert!(math::softplus(f32::NAN).is_nan());
        assert!(math::exp(f32::NAN).is_nan());
        assert!(math::tanh(f32::NAN).is_nan() && math::sigmoid(f32::NAN).is_nan());
        assert_eq!(
            (math::tanh(f32::INFINITY), math::tanh(f32::NEG_INFINITY)),
            (1.0, -1.0)
        );
        // σ(−∞) saturates at 1/(1 + e⁸⁸) ≈ 6e-39 rather than 0.
        assert_eq!(math::sigmoid(f32::INFINITY), 1.0);
        assert!((0.0..1e-37).contains(&math::sigmoid(f32::NEG_INFINITY)));
    }

    #[test]
    #[should_panic(expected = "even number of channels")]
    fn gated_tanh_rejects_an_odd_channel_count() {
        gated_tanh(Tensor::<4>::zeros([1, 3, 2, 2], &Device::flex()));
    }

    #[test]
    #[should_panic(expected = "4× the channels")]
    fn lstm_cell_rejects_mismatched_gates() {
        let device = Device::flex();
        lstm_cell(
            Tensor::<4>::zeros([1, 6, 2, 2], &device),
            Tensor::<4>::zeros([1, 2, 2, 2], &device),
        );
    }

    /// The Flex kernels against burn's ops. Compiled with this crate's `flex` feature, as in the
    /// workspace's test run (without it the public functions are burn's ops and there is nothing
    /// to compare).
    #[cfg(feature = "flex")]
    mod flex_route {
        use super::*;
        use crate::test_util::{assert_each_within, max_diff, values};
        use burn::tensor::Distribution;

        /// The public functions take the Flex kernels here; `composed` is burn's ops.
        #[test]
        fn the_flex_route_is_taken_on_flex_only_for_f32() {
            let x = Tensor::<4>::zeros([1, 2, 1, 1], &Device::flex());
            assert!(crate::flex::applies(&[&x]));
            let tracked =
                Tensor::<4>::zeros([1, 2, 1, 1], &Device::flex().autodiff()).require_grad();
            assert!(crate::flex::applies(&[&tracked]));
            assert!(!crate::flex::applies(&[&x.cast(burn::tensor::DType::F64)]));
        }

        /// Value and every input gradient of `fused` against `reference` under `loss = Σ y ⊙ r`.
        fn compare_gated(shape: [usize; 4], std: f32, permuted: bool) {
            let device = Device::flex().autodiff();
            let mut x =
                Tensor::<4>::random(shape, Distribution::Normal(0.0, f64::from(std)), &device);
            if permuted {
                // A non-contiguous input: the kernels must copy it, not read it as laid out.
                x = x.swap_dims(2, 3);
            }
            let x = x.require_grad();
            let out = gated_tanh(x.clone()).dims();
            let r = Tensor::<4>::random(out, Distribution::Normal(0.0, 1.0), &device);
            let run = |f: fn(Tensor<4>) -> Tensor<4>| {
                let y = f(x.clone());
                let g = (y.clone() * r.clone()).sum().backward();
                (values(y.inner()), values(x.grad(&g).expect("grad")))
            };
            let (y0, g0) = run(composed::gated_tanh);
            let (y1, g1) = run(gated_tanh);
            assert!(max_diff(&y0, &y1) < 1e-5, "value {}", max_diff(&y0, &y1));
            assert!(max_diff(&g0, &g1) < 1e-5, "grad {}", max_diff(&g0, &g1));
        }

        #[test]
        fn gated_tanh_matches_burns_ops_in_value_and_gradient() {
            compare_gated([2, 6, 5, 7], 1.0, false);
            compare_gated([3, 4, 9, 1], 3.0, true);
            // Saturated: |x| up to ~150, where tanh and σ are flat.
            compare_gated([2, 2, 4, 4], 50.0, false);
            // Items larger than one parallel chunk (16 Ki elements).
            compare_gated([2, 64, 28, 28], 2.0, false);
        }

        #[test]
        fn leaky_relu_matches_burns_op_in_value_and_gradient() {
            let device = Device::flex().autodiff();
            let base = Tensor::<4>::random([3, 5, 40, 41], Distribution::Normal(0.0, 1.0), &device);
            // Exact zeros (gradient 1, as burn's op) and a non-contiguous view.
            let base = base
                .clone()
                .mask_fill(base.clone().abs().lower_elem(0.05), 0.0);
            for (x, slope) in [(base.clone(), 0.2), (base.swap_dims(1, 3), 0.01)] {
                let x = x.require_grad();
                let r = Tensor::<4>::random(x.dims(), Distribution::Normal(0.0, 1.0), &device);
                let run = |fused: bool| {
                    let y = if fused {
                        leaky_relu(x.clone(), slope)
                    } else {
                        burn::tensor::activation::leaky_relu(x.clone(), slope)
                    };
                    let g = (y.clone() * r.clone()).sum().backward();
                    (values(y.inner()), values(x.grad(&g).expect("grad")))
                };
                let ((y0, g0), (y1, g1)) = (run(false), run(true));
                assert!(max_diff(&y0, &y1) < 1e-6 && max_diff(&g0, &g1) < 1e-6);
            }
            let plain = Tensor::<2>::from_floats([[-2.0, 0.0, 3.0]], &Device::flex());
            assert_eq!(values(leaky_relu(plain, 0.5)), [-1.0, 0.0, 3.0]);
        }

        #[test]
        fn tanh_matches_burns_op_in_value_and_gradient() {
            let device = Device::flex().autodiff();
            // Saturated values (|x| up to ~40), exact zeros and a non-contiguous view, larger than
            // one parallel chunk.
            let base = Tensor::<4>::random([3, 5, 40, 41], Distribution::Normal(0.0, 8.0), &device);
            let base = base
                .clone()
                .mask_fill(base.clone().abs().lower_elem(0.05), 0.0);
            for x in [base.clone(), base.swap_dims(1, 3)] {
                let x = x.require_grad();
                let r = Tensor::<4>::random(x.dims(), Distribution::Normal(0.0, 1.0), &device);
                let run = |fused: bool| {
                    let y = if fused {
                        tanh(x.clone())
                    } else {
                        burn::tensor::activation::tanh(x.clone())
                    };
                    let g = (y.clone() * r.clone()).sum().backward();
                    (values(y.inner()), values(x.grad(&g).expect("grad")))
                };
                let ((y0, g0), (y1, g1)) = (run(false), run(true));
                assert!(max_diff(&y0, &y1) < 1e-6, "value {}", max_diff(&y0, &y1));
                assert!(max_diff(&g0, &g1) < 2e-6, "grad {}", max_diff(&g0, &g1));
            }
            // Untracked, with closed forms: tanh(0) = 0, tanh(±∞-ish) = ±1, tanh(ln 3 / 2) = 1/2.
            let half = 3f32.ln() / 2.0;
            let plain = Tensor::<2>::from_floats([[0.0, 100.0, -100.0, half]], &Device::flex());
            let y = values(tanh(plain));
            assert_eq!(&y[..3], [0.0, 1.0, -1.0]);
            assert!((y[3] - 0.5).abs() < 5e-7, "{}", y[3]);
        }

        #[test]
        fn bernoulli_log_prob_matches_burns_ops_in_value_and_gradient() {
            let device = Device::flex().autodiff();
            let shape = [7, 300];
            let logits =
                Tensor::<2>::random(shape, Distribution::Normal(0.0, 8.0), &device).require_grad();
            // Binary and fractional targets, tracked too.
            let target = Tensor::<2>::random(shape, Distribution::Uniform(0.0, 1.0), &device);
            let target = target
                .clone()
                .greater_elem(0.7)
                .float()
                .mask_where(target.clone().lower_elem(0.2), target);
            let target = target.require_grad();
            let r = Tensor::<2>::random(shape, Distribution::Normal(0.0, 1.0), &device);
            let run = |f: fn(Tensor<2>, Tensor<2>) -> Tensor<2>| {
                let y = f(logits.clone(), target.clone());
                let g = (y.clone() * r.clone()).sum().backward();
                [
                    values(y.inner()),
                    values(logits.grad(&g).expect("d logits")),
                    values(target.grad(&g).expect("d target")),
                ]
            };
            let (a, b) = (run(composed::bernoulli_log_prob), run(bernoulli_log_prob));
            for (what, (a, b)) in ["value", "d logits", "d target"]
                .iter()
                .zip(a.iter().zip(&b))
            {
                // Values reach |l| ≈ 40: compare relative to the largest magnitude.
                let scale = a.iter().fold(1.0f32, |m, v| m.max(v.abs()));
                let d = max_diff(a, b) / scale;
                assert!(d < 1e-6, "{what}: {d}");
            }
        }

        #[test]
        fn gated_tanh_without_autodiff_matches_burns_ops() {
            let device = Device::flex();
            let x = Tensor::<3>::random([3, 8, 11], Distribution::Normal(0.0, 2.0), &device);
            let d = max_diff(
                &values(gated_tanh(x.clone())),
                &values(composed::gated_tanh(x)),
            );
            assert!(d < 1e-6, "{d}");
            let empty = Tensor::<4>::zeros([0, 4, 3, 3], &device);
            assert_eq!(gated_tanh(empty).dims(), [0, 2, 3, 3]);
        }

        type Lstm = fn(Tensor<4>, Tensor<4>) -> Tensor<4>;

        /// `lstm_update`'s two operations together, both outputs in the loss, so that the cell's
        /// gradient has two paths (through `h` and directly).
        fn compare_lstm(shape: [usize; 4], std: f64, track_state: bool) {
            let device = Device::flex().autodiff();
            let [b, h, a, w] = shape;
            let gates =
                Tensor::<4>::random([b, 4 * h, a, w], Distribution::Normal(0.0, std), &device)
                    .require_grad();
            let mut c_prev = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &device);
            if track_state {
                c_prev = c_prev.require_grad();
            }
            let r1 = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &device);
            let r2 = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &device);
            let run = |cell: Lstm, hidden: Lstm| {
                let c = cell(gates.clone(), c_prev.clone());
                let hh = hidden(gates.clone(), c.clone());
                let loss = (hh.clone() * r1.clone()).sum() + (c.clone() * r2.clone()).sum();
                let g = loss.backward();
                let mut out = vec![
                    values(c.inner()),
                    values(hh.inner()),
                    values(gates.grad(&g).expect("gates grad")),
                ];
                if track_state {
                    out.push(values(c_prev.grad(&g).expect("state grad")));
                } else {
                    assert!(c_prev.grad(&g).is_none());
                }
                out
            };
            let reference = run(composed::lstm_cell, composed::lstm_hidden);
            let fused = run(lstm_cell, lstm_hidden);
            let names = ["c", "h", "d gates", "d c_prev"];
            assert_each_within(&names, &fused, &reference, 1e-5, &format!("{shape:?}"));
        }

        #[test]
        fn lstm_operations_match_burns_ops_in_value_and_gradient() {
            compare_lstm([2, 3, 1, 7], 1.0, true);
            compare_lstm([4, 16, 1, 28], 2.0, false);
            compare_lstm([2, 64, 28, 2], 1.5, true);
            compare_lstm([1, 2, 2, 2], 40.0, true);
        }
    }
}
