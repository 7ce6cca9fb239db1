//! Convolutional LSTM step of PixelRNN — van den Oord et al. 2016, "Pixel Recurrent Neural
//! Networks", arXiv:1601.06759, §3.1 (Row LSTM) and §3.2 (Diagonal BiLSTM).
//!
//! Both PixelRNN layers compute the four gates of an LSTM with two convolutions:
//!
//! ```text
//! [o, f, i, g] = σ/σ/σ/tanh( K_is ⊛ x + K_ss ⊛ h_prev )
//! c = f ⊙ c_prev + i ⊙ g
//! h = o ⊙ tanh(c)
//! ```
//!
//! The **input-to-state** part `K_is ⊛ x` is a masked convolution (mask B, with the RGB channel
//! groups) that does not depend on the recurrence, so a layer computes it once for the whole
//! image ([`ConvLstmCell::input_gates`]). The **state-to-state** part `K_ss ⊛ h_prev` runs once
//! per step of the recurrence on the previous row (Row LSTM: `1×k` kernel) or the previous column
//! of the skewed map (Diagonal BiLSTM: `2×1` kernel); it is causal in height: a `kh×kw` kernel
//! sees rows `r − kh + 1 ..= r` of `h_prev` and columns `c − kw/2 ..= c + kw/2`
//! ([`ConvLstmCell::state_gates`]). A step over a whole row or column is one batched tensor op.
//!
//! Gate order in the `4h` channels: `i, f, o, g`, each a contiguous block of `h` channels. The
//! input-to-state mask is built per block, so hidden channel `j` of every gate belongs to the same
//! colour group as channel `j` of `h`.

use burn::config::Config;
use burn::module::Module;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Tensor, TensorData};

use crate::masked::{MaskType, causal_mask};

/// Configuration of [`ConvLstmCell`].
#[derive(Config, Debug, PartialEq)]
pub struct ConvLstmCellConfig {
    /// Channels of the layer input `x`.
    pub input_channels: usize,
    /// Hidden channels `h` (the state `h` and `c` each have `h` channels; the gates `4h`).
    pub hidden: usize,
    /// `[height, width]` of the mask-B input-to-state kernel, both odd (`[1, 3]` in Row LSTM,
    /// `[1, 1]` in Diagonal BiLSTM).
    pub input_kernel: [usize; 2],
    /// `[height, width]` of the state-to-state kernel, width odd (`[1, 3]` in Row LSTM, `[2, 1]`
    /// in Diagonal BiLSTM).
    pub state_kernel: [usize; 2],
    /// Channel groups of the colour order: 1 for grayscale, 3 for RGB.
    #[config(default = 1)]
    pub color_groups: usize,
}

impl ConvLstmCellConfig {
    /// Builds the cell on `device`.
    ///
    /// # Panics
    /// If a kernel side that must be odd is even, or `color_groups` is 0.
    pub fn init(&self, device: &Device) -> ConvLstmCell {
        let h = self.hidden;
        let c_in = self.input_channels;
        let [ih, iw] = self.input_kernel;
        let [sh, sw] = self.state_kernel;
        assert!(
            sw % 2 == 1 && sh >= 1,
            "the state-to-state kernel needs an odd width, got {sh}×{sw}"
        );
        // One mask block per gate, so gate channel `k·h + j` has the colour group of channel j.
        let block = causal_mask([c_in, h], self.input_kernel, MaskType::B, self.color_groups);
        let mask: Vec<f32> = (0..4).flat_map(|_| block.iter().copied()).collect();
        let input_to_state = Conv2dConfig::new([c_in, 4 * h], self.input_kernel)
            .with_padding(PaddingConfig2d::Explicit(ih / 2, iw / 2, ih / 2, iw / 2))
            .init(device);
        let state_to_state = Conv2dConfig::new([h, 4 * h], self.state_kernel)
            .with_bias(false)
            .init(device);
        ConvLstmCell {
            input_to_state,
            state_to_state,
            input_mask: Tensor::from_data(TensorData::new(mask, [4 * h, c_in, ih, iw]), device),
            hidden: h,
            input_kernel: self.input_kernel,
            state_kernel: self.state_kernel,
        }
    }
}

/// The state `(h, c)` of a convolutional LSTM over one row or column.
#[derive(Debug, Clone)]
pub struct LstmState {
    /// Hidden state `[B, h, a, b]`.
    pub h: Tensor<4>,
    /// Cell state `[B, h, a, b]`.
    pub c: Tensor<4>,
}

impl LstmState {
    /// The all-zero state of `hidden` channels over an `[a, b]` row or column.
    pub fn zeros(batch: usize, hidden: usize, extent: [usize; 2], device: &Device) -> Self {
        let [a, b] = extent;
        Self {
            h: Tensor::zeros([batch, hidden, a, b], device),
            c: Tensor::zeros([batch, hidden, a, b], device),
        }
    }
}

/// The LSTM step of PixelRNN with convolutional input-to-state and state-to-state parts.
#[derive(Module, Debug)]
pub struct ConvLstmCell {
    /// `K_is`: weight `[4h, c_in, kh, kw]` (multiplied by the mask in forward) and bias `[4h]`.
    pub input_to_state: Conv2d,
    /// `K_ss`: weight `[4h, h, kh, kw]`, no bias (the input part has one).
    pub state_to_state: Conv2d,
    input_mask: Tensor<4>,
    hidden: usize,
    input_kernel: [usize; 2],
    state_kernel: [usize; 2],
}

impl ConvLstmCell {
    /// Hidden channels `h`.
    pub fn hidden(&self) -> usize {
        self.hidden
    }

    /// The constant mask of the input-to-state kernel.
    pub fn input_mask(&self) -> Tensor<4> {
        self.input_mask.clone()
    }

    /// `K_is ⊛ x` for the whole input at once (mask B, "same" padding).
    ///
    /// # Shapes
    /// `x: [B, c_in, H, W]` → `[B, 4h, H, W]`
    pub fn input_gates(&self, x: Tensor<4>) -> Tensor<4> {
        let [kh, kw] = self.input_kernel;
        let weight = self.input_to_state.weight.val() * self.input_mask.clone();
        let bias = self.input_to_state.bias.as_ref().map(|b| b.val());
        let options =
            ConvOptions::new_with_padding([1, 1], [(kh / 2, kh / 2), (kw / 2, kw / 2)], [1, 1], 1);
        crate::route::lstm_conv2d(x, weight, bias, options)
    }

    /// `K_ss ⊛ h_prev`, causal in height: zero padding of `kh − 1` rows on top and `kw/2`
    /// columns on each side, so output `(r, c)` sees rows `r − kh + 1 ..= r`.
    ///
    /// # Shapes
    /// `h_prev: [B, h, a, b]` → `[B, 4h, a, b]`
    pub fn state_gates(&self, h_prev: Tensor<4>) -> Tensor<4> {
        let [kh, kw] = self.state_kernel;
        let options =
            ConvOptions::new_with_padding([1, 1], [(kh - 1, 0), (kw / 2, kw / 2)], [1, 1], 1);
        crate::route::lstm_conv2d(h_prev, self.state_to_state.weight.val(), None, options)
    }

    /// One step of the recurrence from the precomputed input part of this row or column.
    ///
    /// # Shapes
    /// `input_gates: [B, 4h, a, b]`, `state.h`, `state.c`: `[B, h, a, b]` → the new state, same
    /// shapes.
    pub fn step(&self, input_gates: Tensor<4>, state: &LstmState) -> LstmState {
        let gates = input_gates + self.state_gates(state.h.clone());
        lstm_update(gates, state.c.clone())
    }
}

/// The LSTM update from pre-activation gates `[i, f, o, g]` (blocks of `h` channels):
/// `c = σ(f) ⊙ c_prev + σ(i) ⊙ tanh(g)`, `h = σ(o) ⊙ tanh(c)`.
///
/// # Shapes
/// `gates: [B, 4h, a, b]`, `c_prev: [B, h, a, b]` → state with `h`, `c`: `[B, h, a, b]`
pub fn lstm_update(gates: Tensor<4>, c_prev: Tensor<4>) -> LstmState {
    let c = crate::fused::lstm_cell(gates.clone(), c_prev);
    let h = crate::fused::lstm_hidden(gates, c.clone());
    LstmState { h, c }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::values;
    use burn::module::Param;

    fn device() -> Device {
        Device::flex()
    }

    fn sig(v: f64) -> f64 {
        1.0 / (1.0 + (-v).exp())
    }

    /// A Row-LSTM-shaped step (1×3 input kernel with mask B, 1×3 state kernel) on one row of
    /// three pixels, against the LSTM equations evaluated by hand in f64.
    #[test]
    fn row_step_matches_a_hand_computation() {
        let device = device();
        let mut cell = ConvLstmCellConfig::new(1, 1, [1, 3], [1, 3]).init(&device);
        // Input kernel per gate [left, centre, right]; mask B keeps left and centre only.
        let w_is = [
            [0.5f32, -1.0, 7.0], // i
            [1.0, 0.25, -3.0],   // f
            [-0.5, 2.0, 9.0],    // o
            [0.75, -0.25, 11.0], // g
        ];
        let b_is = [0.1f32, 0.2, -0.3, 0.05];
        let w_ss = [
            [0.2f32, -0.4, 0.6],
            [-0.1, 0.3, 0.5],
            [0.7, 0.0, -0.2],
            [0.4, 0.9, -0.6],
        ];
        cell.input_to_state.weight = Param::from_tensor(Tensor::from_data(
            TensorData::new(w_is.concat(), [4, 1, 1, 3]),
            &device,
        ));
        cell.input_to_state.bias = Some(Param::from_tensor(Tensor::from_data(
            TensorData::new(b_is.to_vec(), [4]),
            &device,
        )));
        cell.state_to_state.weight = Param::from_tensor(Tensor::from_data(
            TensorData::new(w_ss.concat(), [4, 1, 1, 3]),
            &device,
        ));
        let x = [0.3f32, -0.8, 0.5];
        let h_prev = [0.2f32, -0.6, 0.9];
        let c_prev = [-0.4f32, 0.7, 0.1];
        let t =
            |v: &[f32]| Tensor::<4>::from_data(TensorData::new(v.to_vec(), [1, 1, 1, 3]), &device);
        let state = LstmState {
            h: t(&h_prev),
            c: t(&c_prev),
        };
        let out = cell.step(cell.input_gates(t(&x)), &state);
        let (h, c) = (values(out.h), values(out.c));

        // By hand: zero padding outside the row; the right input tap is masked.
        let at = |v: &[f32], k: isize| -> f64 {
            if !(0..3).contains(&k) {
                0.0
            } else {
                f64::from(v[k as usize])
            }
        };
        for p in 0..3isize {
            let pre: Vec<f64> = (0..4)
                .map(|g| {
                    f64::from(b_is[g])
                        + f64::from(w_is[g][0]) * at(&x, p - 1)
                        + f64::from(w_is[g][1]) * at(&x, p)
                        + f64::from(w_ss[g][0]) * at(&h_prev, p - 1)
                        + f64::from(w_ss[g][1]) * at(&h_prev, p)
                        + f64::from(w_ss[g][2]) * at(&h_prev, p + 1)
                })
                .collect();
            let c_new = sig(pre[1]) * f64::from(c_prev[p as usize]) + sig(pre[0]) * pre[3].tanh();
            let h_new = sig(pre[2]) * c_new.tanh();
            let k = p as usize;
            assert!(
                (f64::from(c[k]) - c_new).abs() < 1e-5,
                "c[{k}] {} vs {c_new}",
                c[k]
            );
            assert!(
                (f64::from(h[k]) - h_new).abs() < 1e-5,
                "h[{k}] {} vs {h_new}",
                h[k]
            );
        }
        // Pixel 0 by plain numbers (weights above): the gate pre-activations are
        // i = 0.1 + (−1)(0.3) + (−0.4)(0.2) + 0.6(−0.6) = −0.64,
        // f = 0.2 + 0.25(0.3) + 0.3(0.2) + 0.5(−0.6) = 0.035,
        // o = −0.3 + 2(0.3) + 0(0.2) + (−0.2)(−0.6) = 0.42,
        // g = 0.05 + (−0.25)(0.3) + 0.9(0.2) + (−0.6)(−0.6) = 0.515,
        // so c = σ(0.035)(−0.4) + σ(−0.64) tanh(0.515) = −0.203500 + 0.163589 = −0.039911
        // and h = σ(0.42) tanh(c) = 0.603483 · (−0.039890) = −0.024073.
        assert!((c[0] - (-0.039911)).abs() < 2e-5, "c[0] = {}", c[0]);
        assert!((h[0] - (-0.024073)).abs() < 2e-5, "h[0] = {}", h[0]);
    }

    /// The Diagonal-BiLSTM-shaped state kernel (2×1) sees the same and the previous row only.
    #[test]
    fn column_state_kernel_is_causal_in_height() {
        let device = device();
        let mut cell = ConvLstmCellConfig::new(1, 1, [1, 1], [2, 1]).init(&device);
        // Gate block k: weight [above, same row] = [k + 1, 10(k + 1)].
        let w: Vec<f32> = (1..=4).flat_map(|k| [k as f32, 10.0 * k as f32]).collect();
        cell.state_to_state.weight =
            Param::from_tensor(Tensor::from_data(TensorData::new(w, [4, 1, 2, 1]), &device));
        let h_prev = Tensor::<4>::from_data(
            TensorData::new(vec![1.0f32, 2.0, 3.0], [1, 1, 3, 1]),
            &device,
        );
        let g = values(cell.state_gates(h_prev));
        assert_eq!(g.len(), 12);
        // Block k, row r: (k+1) · h[r−1] + 10 (k+1) · h[r], h[−1] = 0.
        for k in 0..4 {
            let s = (k + 1) as f32;
            assert_eq!(
                &g[3 * k..3 * k + 3],
                &[10.0 * s, s + 20.0 * s, 2.0 * s + 30.0 * s]
            );
        }
    }

    /// On RGB the input mask is built per gate block: every gate of hidden channel j has the
    /// colour group of j, so a mask-B 1×1 kernel lets a G channel see R and G inputs, not B.
    #[test]
    fn rgb_input_mask_repeats_per_gate_block() {
        let device = device();
        let cell = ConvLstmCellConfig::new(3, 3, [1, 1], [2, 1])
            .with_color_groups(3)
            .init(&device);
        let mask = values(cell.input_mask());
        let block = [1., 0., 0., 1., 1., 0., 1., 1., 1.];
        for k in 0..4 {
            assert_eq!(&mask[9 * k..9 * k + 9], &block);
        }
    }

    #[test]
    fn shapes_of_a_row_and_a_column_step() {
        let device = device();
        let row = ConvLstmCellConfig::new(6, 4, [1, 3], [1, 3]).init(&device);
        let x = Tensor::<4>::zeros([2, 6, 5, 7], &device);
        let gates = row.input_gates(x);
        assert_eq!(gates.dims(), [2, 16, 5, 7]);
        let s = LstmState::zeros(2, 4, [1, 7], &device);
        let out = row.step(gates.narrow(2, 0, 1), &s);
        assert_eq!((out.h.dims(), out.c.dims()), ([2, 4, 1, 7], [2, 4, 1, 7]));
        let col = ConvLstmCellConfig::new(6, 4, [1, 1], [2, 1]).init(&device);
        let gates = col.input_gates(Tensor::zeros([2, 6, 5, 9], &device));
        let s = LstmState::zeros(2, 4, [5, 1], &device);
        let out = col.step(gates.narrow(3, 0, 1), &s);
        assert_eq!(out.h.dims(), [2, 4, 5, 1]);
    }
}
