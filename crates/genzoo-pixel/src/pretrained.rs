//! The autoregressive models' shipped weights, trained on the fixed binarized MNIST (the PixelRNN
//! paper's benchmark) by their recipes in `docs/recipes/`. `genzoo sample --pretrained NAME` (with
//! `--fast`, or `--complete`) and `genzoo eval --pretrained NAME` load them;
//! [`genzoo_train::Pretrained::weights`] checks each against its pinned SHA-256.

use genzoo_train::pretrained::{Pretrained, TestNumber};
use genzoo_train::shipped;

/// The shipped autoregressive weights.
pub const SHIPPED: &[Pretrained] = &[
    shipped!(
        "row-lstm-binarized-mnist",
        "row-lstm",
        "docs/recipes/row-lstm-binarized-mnist.toml",
        TestNumber::nll(83.780971, 84.585092),
        "Row LSTM, 7 layers, h = 16 (the PixelRNN paper's MNIST setting), 5 epochs, Adam 1e-3",
    ),
    shipped!(
        "pixelcnn-binarized-mnist",
        "pixelcnn",
        "docs/recipes/pixelcnn-binarized-mnist.toml",
        TestNumber::nll(87.209596, 88.301092),
        "PixelCNN, 7×7 mask A + 7 residual blocks, h = 128, 11 epochs, Adam 1e-3",
    ),
];
