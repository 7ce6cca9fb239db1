//! PixelRNN — van den Oord et al. 2016, "Pixel Recurrent Neural Networks", arXiv:1601.06759:
//! **Row LSTM** (§3.1) and **Diagonal BiLSTM** (§3.2), with residual connections (§3.3), a 7×7
//! mask-A first layer and mask-B 1×1 output layers (§3.4, Table 1). Paper numbers: Diagonal
//! BiLSTM 79.20 nats on binarized MNIST (Table 4); Row LSTM 3.07 and Diagonal BiLSTM 3.00
//! bits/dim on CIFAR-10 (Table 5).
//!
//! Network: `x → 7×7 mask A (C → 2h)`, then `layers` residual LSTM layers
//! `y = x + 1×1 mask B (h → 2h) (LSTM(x))`, then `ReLU → 1×1 mask B → ReLU → 1×1 mask B` to the
//! logits (one Bernoulli logit per sub-pixel for `levels = 2`, else a `levels`-way softmax), the
//! same output heads and likelihood as [`crate::PixelCnn`].
//!
//! - **Row LSTM**: the input-to-state part is a mask-B `1×k` convolution of the whole layer input,
//!   computed once; rows are then processed top to bottom, each row's state computed from the
//!   previous row's hidden state with a `1×k` state-to-state convolution — one batched tensor op
//!   per row. Receptive field: a triangle above the pixel (it misses part of the context).
//! - **Diagonal BiLSTM**: the layer input is skewed ([`genzoo_layers::skew`]) so diagonals become
//!   columns; a 1×1 mask-B input-to-state convolution, then a `2×1` state-to-state convolution
//!   from column to column (the pixel to the left and the one above). The right-to-left direction
//!   runs the same recurrence on the horizontally mirrored input; its output map is shifted down
//!   one row so that it never sees the current row (whose right part is in the future). Both
//!   directions are unskewed and summed. Receptive field: every earlier pixel — but only because
//!   the right-to-left stream also reads the pixels themselves (an unmasked 1×1 convolution into
//!   its gates, causal thanks to the shift). The layer exactly as the paper specifies it misses
//!   the last pixel of the row above, `(r − 1, W − 1)`, at the outputs `(r, c)` with
//!   `c < W − 1 − k/2` for a `k×k` mask-A input, however many layers are stacked (see
//!   [`DiagonalBiLstmLayer`] and the tests).

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use genzoo_layers::{
    ConvLstmCell, ConvLstmCellConfig, LstmState, MaskType, MaskedConv2d, skew, unskew,
};

use crate::common::{impl_config, impl_likelihood, masked_convs};
use crate::pixelcnn::outputs_per_subpixel;
use crate::sampling::impl_autoregressive;

/// Which recurrent layer a [`PixelRnn`] stacks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum RnnKind {
    /// Row LSTM: rows top to bottom, `1×k` kernels.
    RowLstm,
    /// Diagonal BiLSTM: diagonals in both directions, `2×1` state kernel on the skewed map.
    DiagonalBiLstm,
}

/// Configuration of [`PixelRnn`].
#[derive(Config, Debug, PartialEq)]
pub struct PixelRnnConfig {
    /// Row LSTM or Diagonal BiLSTM.
    pub kind: RnnKind,
    /// Image channels: 1 (grayscale) or 3 (RGB, modelled R → G → B).
    #[config(default = 1)]
    pub channels: usize,
    /// Image height and width.
    #[config(default = 28)]
    pub image_size: usize,
    /// Hidden channels `h` of each LSTM; the residual stream has `2h`.
    #[config(default = 16)]
    pub hidden: usize,
    /// Number of LSTM layers.
    #[config(default = 7)]
    pub layers: usize,
    /// Side of the first, mask-A convolution.
    #[config(default = 7)]
    pub first_kernel: usize,
    /// Width `k` of the Row LSTM's `1×k` input-to-state and state-to-state kernels (odd).
    #[config(default = 3)]
    pub row_kernel: usize,
    /// Channels of the hidden 1×1 output layer.
    #[config(default = 32)]
    pub head_hidden: usize,
    /// Values a sub-pixel takes: 2 = binary (one Bernoulli logit), 256 = 8-bit (softmax).
    #[config(default = 2)]
    pub levels: usize,
}

impl PixelRnnConfig {
    /// The paper's binarized-MNIST model (Table 4, 79.20 nats): Diagonal BiLSTM, 7 layers,
    /// `h = 16` (residual stream 32), 7×7 mask-A input, 1×1 mask-B head of 32, one Bernoulli
    /// logit per pixel.
    pub fn mnist() -> Self {
        Self::new(RnnKind::DiagonalBiLstm)
    }

    /// A Row LSTM of similar size for binarized MNIST: 7 layers, `h = 16`, `1×3` kernels.
    pub fn mnist_row_lstm() -> Self {
        Self::new(RnnKind::RowLstm)
    }

    /// A small CIFAR-10 model (the paper's uses 12 layers of `h = 128`): Diagonal BiLSTM,
    /// 32×32×3, 6 layers of `h = 32`, R/G/B channel groups, 256-way softmax per sub-pixel.
    pub fn cifar10() -> Self {
        Self::new(RnnKind::DiagonalBiLstm)
            .with_channels(3)
            .with_image_size(32)
            .with_hidden(32)
            .with_layers(6)
            .with_head_hidden(96)
            .with_levels(256)
    }

    /// [`PixelRnnConfig::cifar10`] with Row LSTM layers.
    pub fn cifar10_row_lstm() -> Self {
        Self {
            kind: RnnKind::RowLstm,
            ..Self::cifar10()
        }
    }

    /// Builds the model with fresh weights on `device`.
    ///
    /// # Panics
    /// If [`PixelRnnConfig::check`] fails.
    pub fn init(&self, device: &Device) -> PixelRnn {
        self.assert_valid();
        let groups = self.channels;
        let (h, h2) = (self.hidden, 2 * self.hidden);
        let conv = masked_convs(groups, device);
        let cell = |input_kernel, state_kernel| {
            ConvLstmCellConfig::new(h2, h, input_kernel, state_kernel)
                .with_color_groups(groups)
                .init(device)
        };
        let k = self.row_kernel;
        let (mut rows, mut diagonals) = (Vec::new(), Vec::new());
        for _ in 0..self.layers {
            match self.kind {
                RnnKind::RowLstm => rows.push(RowLstmLayer {
                    cell: cell([1, k], [1, k]),
                    out: conv(h, h2, 1, MaskType::B),
                }),
                RnnKind::DiagonalBiLstm => diagonals.push(DiagonalBiLstmLayer {
                    forward: cell([1, 1], [2, 1]),
                    backward: cell([1, 1], [2, 1]),
                    // Unmasked: the right-to-left map is shifted down a row, so it may read
                    // every sub-pixel of its own row (see `DiagonalBiLstmLayer`).
                    backward_pixels: Conv2dConfig::new([self.channels, 4 * h], [1, 1])
                        .with_bias(false)
                        .init(device),
                    out: conv(h, h2, 1, MaskType::B),
                }),
            }
        }
        let logits = self.channels * outputs_per_subpixel(self.levels);
        PixelRnn {
            input: conv(self.channels, h2, self.first_kernel, MaskType::A),
            rows,
            diagonals,
            head: conv(h2, self.head_hidden, 1, MaskType::B),
            out: conv(self.head_hidden, logits, 1, MaskType::B),
            channels: self.channels,
            image_size: self.image_size,
            levels: self.levels,
            kind: self.kind,
        }
    }
}

impl_config!(PixelRnnConfig, kernel: row_kernel, positive: [], per_group: 1);

/// The slices of width 1 of `x` along `dim`, in order, cut in two levels: blocks of about √n
/// slices, then the slices of each block.
///
/// The gradient of every slice is a zero tensor of the *sliced* tensor's full size with the
/// slice's gradient written in (burn's autodiff), so cutting n slices straight from `x` costs n
/// full-size buffers, fills and additions in the backward pass — quadratic in n, and the largest
/// cost of a PixelRNN training step (`docs/performance.md`). Two levels cost about 2√n.
///
/// # Shapes
/// `x: [B, C, H, W]` → `n = dims[dim]` tensors with `dims[dim] = 1`
pub fn unstack(x: Tensor<4>, dim: usize) -> Vec<Tensor<4>> {
    let n = x.dims()[dim];
    let block = n.isqrt().max(1);
    let mut out = Vec::with_capacity(n);
    let mut start = 0;
    while start < n {
        let len = block.min(n - start);
        let part = x.clone().narrow(dim, start, len);
        out.extend((0..len).map(|i| part.clone().narrow(dim, i, 1)));
        start += len;
    }
    out
}

/// Runs a convolutional LSTM over the rows of `gates` (top to bottom) and stacks the hidden rows.
///
/// # Shapes
/// `gates: [B, 4h, H, W]` (input-to-state part of every position) → `[B, h, H, W]`
pub fn scan_rows(cell: &ConvLstmCell, gates: Tensor<4>) -> Tensor<4> {
    scan(cell, gates, 2)
}

/// Runs a convolutional LSTM over the columns of `gates` (left to right) and stacks them.
///
/// # Shapes
/// `gates: [B, 4h, H, L]` → `[B, h, H, L]`
pub fn scan_columns(cell: &ConvLstmCell, gates: Tensor<4>) -> Tensor<4> {
    scan(cell, gates, 3)
}

/// Runs a convolutional LSTM over the slices of `gates` along `dim` (2: rows, 3: columns), in
/// order from a zero state, and stacks the hidden slices.
fn scan(cell: &ConvLstmCell, gates: Tensor<4>, dim: usize) -> Tensor<4> {
    let [b, _, h, w] = gates.dims();
    let steps = gates.dims()[dim];
    let mut size = [h, w];
    size[dim - 2] = 1;
    let mut state = LstmState::zeros(b, cell.hidden(), size, &gates.device());
    let mut out = Vec::with_capacity(steps);
    for slice in unstack(gates, dim) {
        state = cell.step(slice, &state);
        out.push(state.h.clone());
    }
    debug_assert_eq!(out.len(), steps);
    Tensor::cat(out, dim)
}

/// A Row LSTM layer with its residual connection: `x + out(RowLSTM(x))`.
#[derive(Module, Debug)]
pub struct RowLstmLayer {
    cell: ConvLstmCell,
    out: MaskedConv2d,
}

impl RowLstmLayer {
    /// # Shapes
    /// `x: [B, 2h, H, W]` → `[B, 2h, H, W]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let gates = self.cell.input_gates(x.clone()); // [B, 4h, H, W], once for the image
        let hidden = scan_rows(&self.cell, gates); // [B, h, H, W]
        x + self.out.forward(hidden)
    }

    /// The LSTM cell: `1×k` mask-B input-to-state and `1×k` state-to-state kernels.
    pub fn cell(&self) -> &ConvLstmCell {
        &self.cell
    }

    /// The 1×1 mask-B output convolution `h → 2h`.
    pub fn out(&self) -> &MaskedConv2d {
        &self.out
    }
}

/// A Diagonal BiLSTM layer with its residual connection: `x + out(left→right + shifted
/// right→left)`.
///
/// The right-to-left direction also reads the image itself (`backward_pixels`, an unmasked 1×1
/// convolution of the pixels into its gates). Without it the layer misses the last pixel of the
/// row above, `(r − 1, W − 1)`, at the outputs `(r, c)` with `c < W − 1 − k/2` (`k` the side of the
/// mask-A input convolution): a feature at position `p` only ever describes pixels before `p`,
/// so `(r − 1, W − 1)` is described only by features of row `r` and below, and of those the
/// output `(r, c)` reaches only `(r, 0..=c)` (left-to-right stream) — whose mask-A windows end
/// `k/2` columns right of them. The right-to-left state at `(r − 1, c)`, which the shift hands to
/// `(r, c)`, covers every position of rows `≤ r − 1` right of `c`, so giving it the pixels of
/// those positions as well is causal and closes the gap.
#[derive(Module, Debug)]
pub struct DiagonalBiLstmLayer {
    forward: ConvLstmCell,
    backward: ConvLstmCell,
    backward_pixels: Conv2d,
    out: MaskedConv2d,
}

impl DiagonalBiLstmLayer {
    /// The left-to-right and the right-to-left LSTM cells.
    pub fn cells(&self) -> [&ConvLstmCell; 2] {
        [&self.forward, &self.backward]
    }

    /// The unmasked 1×1 convolution of the pixels into the right-to-left gates (no bias).
    pub fn backward_pixels(&self) -> &Conv2d {
        &self.backward_pixels
    }

    /// The 1×1 mask-B output convolution `h → 2h` of the summed streams.
    pub fn out(&self) -> &MaskedConv2d {
        &self.out
    }

    /// One direction: skew, input-to-state once (plus `extra` gate inputs), column recurrence,
    /// unskew.
    fn direction(cell: &ConvLstmCell, x: Tensor<4>, extra: Option<Tensor<4>>) -> Tensor<4> {
        let mut gates = cell.input_gates(skew(x)); // [B, 4h, H, W + H − 1]
        if let Some(extra) = extra {
            gates = gates + skew(extra);
        }
        unskew(scan_columns(cell, gates)) // [B, h, H, W]
    }

    /// `image` is the network input (scaled to `[−1, 1]`).
    ///
    /// # Shapes
    /// `x: [B, 2h, H, W]`, `image: [B, C, H, W]` → `[B, 2h, H, W]`
    pub fn forward(&self, x: Tensor<4>, image: Tensor<4>) -> Tensor<4> {
        let [b, _, h, w] = x.dims();
        let left = Self::direction(&self.forward, x.clone(), None); // [B, h, H, W]
        // A 1×1 convolution without bias maps the skew's zero padding to zeros: it commutes
        // with the skew.
        let pixels = self.backward_pixels.forward(image.flip([3])); // [B, 4h, H, W]
        let right = Self::direction(&self.backward, x.clone().flip([3]), Some(pixels)).flip([3]);
        // Shift the right-to-left map down one row: row r takes row r − 1, row 0 gets zeros.
        let hidden = self.forward.hidden();
        let right = Tensor::cat(
            vec![
                Tensor::zeros([b, hidden, 1, w], &x.device()),
                right.narrow(2, 0, h - 1),
            ],
            2,
        );
        x + self.out.forward(left + right)
    }
}

/// PixelRNN: a 7×7 mask-A convolution, residual Row LSTM or Diagonal BiLSTM layers and mask-B
/// 1×1 output layers.
#[derive(Module, Debug)]
pub struct PixelRnn {
    input: MaskedConv2d,
    rows: Vec<RowLstmLayer>,
    diagonals: Vec<DiagonalBiLstmLayer>,
    head: MaskedConv2d,
    out: MaskedConv2d,
    channels: usize,
    image_size: usize,
    levels: usize,
    /// Not saved: the config gives it (and which of `rows`, `diagonals` is filled).
    #[module(skip)]
    kind: RnnKind,
}

/// The loss of one batch.
#[derive(Debug, Clone)]
pub struct PixelRnnOutput {
    /// Mean negative log-likelihood per image in nats (scalar, differentiable).
    pub loss: Tensor<1>,
}

impl PixelRnn {
    /// Row LSTM or Diagonal BiLSTM.
    pub fn kind(&self) -> RnnKind {
        self.kind
    }

    /// The 7×7 mask-A input convolution.
    pub fn input_layer(&self) -> &MaskedConv2d {
        &self.input
    }

    /// The Row LSTM layers (empty for a Diagonal BiLSTM).
    pub fn row_layers(&self) -> &[RowLstmLayer] {
        &self.rows
    }

    /// The Diagonal BiLSTM layers (empty for a Row LSTM).
    pub fn diagonal_layers(&self) -> &[DiagonalBiLstmLayer] {
        &self.diagonals
    }

    /// The two 1×1 mask-B output layers (each after a ReLU): `[hidden, logits]`.
    pub fn head_layers(&self) -> [&MaskedConv2d; 2] {
        [&self.head, &self.out]
    }

    /// Logits from the residual stream after the last recurrent layer, at any positions.
    ///
    /// # Shapes
    /// `y: [B, 2h, a, b]` → `[B, C, outs, a, b]`
    pub fn head_logits(&self, y: Tensor<4>) -> Tensor<5> {
        let [b, _, rows, cols] = y.dims();
        let y = self.head.forward(relu(y));
        let y = self.out.forward(relu(y));
        y.reshape([
            b,
            self.channels,
            outputs_per_subpixel(self.levels),
            rows,
            cols,
        ])
    }

    /// Logits of every conditional.
    ///
    /// # Shapes
    /// `x: [B, C, H, W]` with values `k / (levels − 1)` → `[B, C, outs, H, W]`, `outs` = 1
    /// (Bernoulli logit) or `levels`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<5> {
        let image = x * 2.0 - 1.0;
        let mut y = self.input.forward(image.clone()); // [B, 2h, H, W]
        for layer in &self.rows {
            y = layer.forward(y);
        }
        for layer in &self.diagonals {
            y = layer.forward(y, image.clone());
        }
        self.head_logits(y) // [B, C, outs, H, W]
    }
}

impl_likelihood!(PixelRnn, PixelRnnOutput);

impl_autoregressive!(PixelRnn, |model, x| model.forward(x));

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{assert_normalised, causal_case, causal_moves, values};
    use burn::tensor::{Distribution, TensorData};
    use proptest::prelude::*;

    fn device() -> Device {
        Device::flex()
    }

    #[test]
    fn unstack_gives_every_slice_in_order_and_their_gradients() {
        let device = device().autodiff();
        for (dim, n) in [(3, 11), (2, 1), (3, 4), (2, 7)] {
            let mut shape = [2, 3, 5, 6];
            shape[dim] = n;
            let x =
                Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &device).require_grad();
            let parts = unstack(x.clone(), dim);
            assert_eq!(parts.len(), n);
            // Weight slice i by i + 1: the gradient of x at index i along `dim` is i + 1.
            let mut loss = Tensor::<1>::zeros([1], &device);
            for (i, part) in parts.iter().enumerate() {
                assert_eq!(
                    values(part.clone().inner()),
                    values(x.clone().narrow(dim, i, 1).inner()),
                    "slice {i} of {n} along {dim}"
                );
                loss = loss + part.clone().sum() * (i as f32 + 1.0);
            }
            let grad = x.grad(&loss.backward()).expect("gradient");
            let want: Vec<Tensor<4>> = (0..n)
                .map(|i| {
                    Tensor::<4>::ones([1, 1, 1, 1], &device.clone().inner()) * (i as f32 + 1.0)
                })
                .map(|t| {
                    let mut rep = shape;
                    rep[dim] = 1;
                    t.repeat(&rep)
                })
                .collect();
            assert_eq!(values(grad), values(Tensor::cat(want, dim)));
        }
    }

    fn tiny(kind: RnnKind, channels: usize, size: usize, levels: usize) -> PixelRnnConfig {
        PixelRnnConfig::new(kind)
            .with_channels(channels)
            .with_image_size(size)
            .with_hidden(if channels == 3 { 6 } else { 4 })
            .with_layers(2)
            .with_first_kernel(3)
            // Wide enough that no colour group's ReLU head units are all inactive by chance
            // (a dead head makes a logit constant and blinds the checks below).
            .with_head_hidden(48)
            .with_levels(levels)
    }

    /// `Σ_x p(x) = 1` over all 2×2 binary images (and 1×2 RGB with 2 levels): a model that leaks
    /// a sub-pixel into its own conditional is not normalised.
    #[test]
    fn probabilities_of_all_images_sum_to_one() {
        let device = device();
        for kind in [RnnKind::RowLstm, RnnKind::DiagonalBiLstm] {
            for (c, s) in [(1usize, 2usize), (3, 2)] {
                let model = tiny(kind, c, s, 2).init(&device);
                let what = format!("{kind:?} {c}×{s}×{s}");
                assert_normalised(|x| model.log_prob(x), [c, s], 2, &device, &what);
            }
        }
    }

    /// Input gradient of the logit at `(py, px)` of a 2-layer 8×8 model (3×3 first layer),
    /// summed in absolute value over three models and inputs: a pixel the architecture reaches
    /// can still get an exactly zero gradient from one draw (every head unit inactive there), and
    /// burn's device RNG is shared with the tests running beside this one, so one seed does not
    /// pin the draw. A pixel the architecture cannot reach is zero in every draw.
    fn reach(kind: RnnKind, py: usize, px: usize) -> Vec<f32> {
        let mut total: Vec<f32> = reach_once(kind, py, px, 7)
            .iter()
            .map(|g| g.abs())
            .collect();
        for seed in [8, 9] {
            for (t, g) in total.iter_mut().zip(reach_once(kind, py, px, seed)) {
                *t += g.abs();
            }
        }
        total
    }

    fn reach_once(kind: RnnKind, py: usize, px: usize, seed: u64) -> Vec<f32> {
        let device = device().autodiff();
        device.seed(seed);
        let size = 8;
        // A wide head: with few ReLU units, all may be inactive at a pixel, and the gradient of
        // its logit would be zero everywhere.
        let model = PixelRnnConfig::new(kind)
            .with_image_size(size)
            .with_hidden(4)
            .with_layers(2)
            .with_first_kernel(3)
            .with_head_hidden(32)
            .init(&device);
        let x = Tensor::<4>::random([1, 1, size, size], Distribution::Uniform(0.2, 0.8), &device)
            .require_grad();
        let logits = model.forward(x.clone()); // [1, 1, 1, H, W]
        let one = logits
            .slice([0..1, 0..1, 0..1, py..py + 1, px..px + 1])
            .sum();
        let grads = one.backward();
        values(x.grad(&grads).expect("input gradient"))
    }

    /// Receptive fields, from the gradient of one logit: Diagonal BiLSTM sees every earlier
    /// pixel of the region its two directions cover; Row LSTM sees a triangle above the pixel
    /// and misses the far left of its own and the previous row. Neither sees a later pixel.
    #[test]
    fn receptive_fields_of_row_lstm_and_diagonal_bilstm() {
        let size = 8;
        let (py, px) = (6usize, 6usize);
        let diag = reach(RnnKind::DiagonalBiLstm, py, px);
        let row = reach(RnnKind::RowLstm, py, px);
        for p in 0..size * size {
            if p >= py * size + px {
                assert_eq!(diag[p], 0.0, "diagonal: pixel {p} is not earlier");
                assert_eq!(row[p], 0.0, "row: pixel {p} is not earlier");
            } else {
                assert!(diag[p] != 0.0, "diagonal BiLSTM misses earlier pixel {p}");
            }
        }
        // Row LSTM: (6, 0) and (5, 0) are earlier but outside its triangle (two layers reach
        // three columns left along a row); (5, 5) and (6, 5) are inside.
        assert_eq!(row[py * size], 0.0);
        assert_eq!(row[5 * size], 0.0);
        assert!(row[5 * size + 5] != 0.0 && row[py * size + 5] != 0.0);
    }

    /// `([H, W], layers, first_kernel)` of a model.
    type Case = ([usize; 2], usize, usize);

    /// Which input pixels each output logit of a grayscale model depends on: entry
    /// `[q · H·W + p]` is the input gradient at pixel `p` of the logit at output pixel `q`.
    ///
    /// One backward pass: image copy `q` of a batch of `H·W` copies contributes only its logit at
    /// pixel `q` to the summed objective, and the batch elements are independent. The head's ReLU
    /// units are kept alive (positive biases on the last residual output and on the hidden head
    /// layer), so a zero gradient means no path, not a dead unit.
    fn dependencies(
        kind: RnnKind,
        ([height, width], layers, first_kernel): Case,
        paper_layer: bool,
    ) -> Vec<f32> {
        let device = device().autodiff();
        let model = PixelRnnConfig::new(kind)
            .with_image_size(height)
            .with_hidden(4)
            .with_layers(layers)
            .with_first_kernel(first_kernel)
            .with_head_hidden(8)
            .init(&device);
        let mut model = model;
        let alive = |conv: &mut MaskedConv2d, value: f32| {
            conv.conv.bias = conv
                .conv
                .bias
                .take()
                .map(|b| b.map(|t| t.zeros_like() + value));
        };
        // The residual stream entering the head ≈ 3 + O(1) (ReLU alive on most channels, LSTMs
        // far from saturation), the hidden head units ≈ 20 ± a few (all alive).
        alive(&mut model.head, 20.0);
        match kind {
            RnnKind::RowLstm => alive(&mut model.rows[layers - 1].out, 3.0),
            RnnKind::DiagonalBiLstm => alive(&mut model.diagonals[layers - 1].out, 3.0),
        }
        if paper_layer {
            // The layer exactly as the paper specifies it: no pixel input to the right-to-left
            // stream.
            for layer in &mut model.diagonals {
                layer.backward_pixels.weight =
                    layer.backward_pixels.weight.clone().map(|w| w.zeros_like());
            }
        }
        let n = height * width;
        // Pixel values of a fixed pseudo-random image, the same in every copy.
        let pixels: Vec<f32> = (0..n)
            .map(|p| 0.2 + 0.6 * ((p * 37 % 11) as f32 / 10.0))
            .collect();
        let x: Vec<f32> = (0..n).flat_map(|_| pixels.iter().copied()).collect();
        let x = Tensor::<4>::from_data(TensorData::new(x, [n, 1, height, width]), &device)
            .require_grad();
        let logits = model.forward(x.clone()).reshape([n, n]); // [copy, pixel]
        let eye: Vec<f32> = (0..n * n)
            .map(|k| if k / n == k % n { 1.0 } else { 0.0 })
            .collect();
        let eye = Tensor::<2>::from_data(TensorData::new(eye, [n, n]), &device);
        let grads = (logits * eye).sum().backward();
        values(x.grad(&grads).expect("input gradient"))
    }

    /// The Diagonal BiLSTM sees the whole available context (van den Oord et al. 2016a, §3.2 and
    /// Figure 4): for EVERY output pixel `(r, c)`, the logit depends on every earlier pixel in
    /// raster order — columns 0 and `W − 1` included, and `(r − 1, W − 1)` for `(r, 0)` — and on no
    /// later pixel or itself. 1 and 2 layers, 7×7 and 3×3 mask-A input, square and non-square
    /// images, `W` large enough that `(r − 1, W − 1)` is outside the mask-A window of `(r, 0)`.
    #[test]
    fn diagonal_bilstm_sees_every_earlier_pixel_from_every_output() {
        for case in [
            ([6, 6], 1, 7),
            ([6, 6], 2, 7),
            ([7, 5], 1, 7),
            ([5, 7], 2, 7),
            ([5, 5], 2, 3),
            ([4, 6], 1, 3),
        ] {
            let ([height, width], layers, first_kernel) = case;
            let n = height * width;
            let dep = dependencies(RnnKind::DiagonalBiLstm, case, false);
            let at = |p: usize| (p / width, p % width);
            let mut missing = Vec::new();
            for q in 0..n {
                for p in 0..n {
                    let g = dep[q * n + p];
                    if p >= q {
                        assert_eq!(
                            g,
                            0.0,
                            "{height}×{width}, {layers} layer(s), {first_kernel}×{first_kernel} input: output {:?} depends on pixel {:?}",
                            at(q),
                            at(p)
                        );
                    } else if g == 0.0 {
                        missing.push((at(q), at(p)));
                    }
                }
            }
            assert!(
                missing.is_empty(),
                "{height}×{width}, {layers} layer(s), {first_kernel}×{first_kernel} input: {} (output, earlier pixel) pairs without dependence, e.g. {:?}",
                missing.len(),
                &missing[..missing.len().min(8)]
            );
        }
    }

    /// Why the right-to-left stream reads the pixels: without that input (the layer as the paper
    /// specifies it), the missing dependencies are exactly the last pixel of the row above,
    /// `(r − 1, W − 1)`, for the outputs `(r, c)` with `c < W − 1 − k/2` (`k×k` mask-A input),
    /// however many layers are stacked.
    #[test]
    fn paper_diagonal_bilstm_misses_exactly_the_last_pixel_of_the_row_above() {
        for case in [([6, 6], 1, 7), ([5, 7], 2, 7), ([5, 5], 2, 3)] {
            let ([height, width], layers, first_kernel) = case;
            let n = height * width;
            let dep = dependencies(RnnKind::DiagonalBiLstm, case, true);
            for q in 0..n {
                for p in 0..n {
                    let ((r, c), (pr, pc)) = ((q / width, q % width), (p / width, p % width));
                    let blind = r >= 1
                        && (pr, pc) == (r - 1, width - 1)
                        && c + 1 + first_kernel / 2 < width;
                    let expected = p < q && !blind;
                    assert_eq!(
                        dep[q * n + p] != 0.0,
                        expected,
                        "{height}×{width}, {layers} layer(s), {first_kernel}×{first_kernel}: output ({r}, {c}), pixel ({pr}, {pc})"
                    );
                }
            }
        }
    }

    #[test]
    fn presets_match_the_paper_and_have_the_right_shapes() {
        let m = PixelRnnConfig::mnist();
        assert_eq!(
            (
                m.kind,
                m.channels,
                m.hidden,
                m.layers,
                m.first_kernel,
                m.levels
            ),
            (RnnKind::DiagonalBiLstm, 1, 16, 7, 7, 2)
        );
        let r = PixelRnnConfig::mnist_row_lstm();
        assert_eq!(
            (r.kind, r.hidden, r.layers, r.row_kernel),
            (RnnKind::RowLstm, 16, 7, 3)
        );
        let device = device();
        let x = Tensor::<4>::random([2, 1, 28, 28], Distribution::Bernoulli(0.3), &device);
        // Parameters counted from the layer shapes (pixelrnn.md): the Diagonal BiLSTM's 7 layers
        // each add 1 × 64 weights for the right-to-left pixel input (64,737 + 448).
        for (cfg, params) in [(m, 65_185), (r, 71_457)] {
            let model = cfg.init(&device);
            assert_eq!(model.num_params(), params, "{:?}", cfg.kind);
            assert_eq!(model.forward(x.clone()).dims(), [2, 1, 1, 28, 28]);
            // An untrained net is near p = 1/2 per pixel: about 784 ln 2 = 543 nats.
            let nll = -f64::from(model.log_prob(x.clone()).mean().into_scalar::<f32>());
            assert!((300.0..900.0).contains(&nll), "untrained NLL {nll}");
        }
        for c in [
            PixelRnnConfig::cifar10(),
            PixelRnnConfig::cifar10_row_lstm(),
        ] {
            assert_eq!((c.channels, c.image_size, c.levels), (3, 32, 256));
            assert!(c.check().is_ok());
            // Shape test on a small image (the 32×32 forward pass is slow on a CPU test run).
            let model = c
                .clone()
                .with_image_size(6)
                .with_hidden(6)
                .with_layers(1)
                .init(&device);
            let x = Tensor::<4>::random([1, 3, 6, 6], Distribution::Uniform(0.0, 1.0), &device);
            assert_eq!(model.forward(x).dims(), [1, 3, 256, 6, 6]);
        }
        assert!(PixelRnnConfig::mnist().with_row_kernel(2).check().is_err());
        assert!(PixelRnnConfig::mnist().with_channels(2).check().is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(8))]

        /// The whole network is causal: changing sub-pixels at order position ≥ i never changes
        /// the logits of any sub-pixel ≤ i, for both recurrent layers.
        #[test]
        fn pixelrnn_is_causal(diagonal in any::<bool>(), case in causal_case(2..9)) {
            let device = device();
            let kind = if diagonal { RnnKind::DiagonalBiLstm } else { RnnKind::RowLstm };
            let [c, size] = case.shape;
            let levels = if c == 3 { 4 } else { 2 };
            let model = tiny(kind, c, size, levels).init(&device);
            let m = causal_moves(|x| model.forward(x), case, &device);
            prop_assert!(m.early.is_none(),
                "{kind:?}: logit (channel, pixel, before, after) {:?} moved when inputs ≥ {} changed",
                m.early, m.i);
            // The change is seen somewhere later (else the test would pass vacuously), where a later
            // pixel exists: within the last pixel only one or two sub-pixels follow, and a random
            // tiny network's ReLU head can be dead at exactly those.
            if m.i / c + 1 < size * size {
                prop_assert!(m.later, "{kind:?}: no later logit depends on the changed inputs");
            }
        }
    }
}
