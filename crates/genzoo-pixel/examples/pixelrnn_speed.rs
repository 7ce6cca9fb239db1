//! Training and sampling speed of PixelRNN (Row LSTM, Diagonal BiLSTM) next to PixelCNN, MNIST
//! presets, on the same machine in the same process.
//!
//! `cargo build --release --workspace --examples && $CARGO_TARGET_DIR/release/examples/pixelrnn_speed [STEPS] [BATCH]`
//!
//! For each model: `STEPS` (default 3) Adam training steps on random binary 28×28 images of
//! batch `BATCH` (default 16), timed after one warm-up step → training images/s; then the time
//! of one forward pass on a batch of 16 without autodiff — the cost of one step of naive
//! sampling, which draws a 28×28 image in 784 such passes (the samples are timed on 28 passes,
//! one row, and multiplied by 28). Weights are freshly initialised: speed does not depend on
//! training.

use std::time::Instant;

use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Distribution, Tensor};
use genzoo_layers::adam::AdamConfig;
use genzoo_pixel::sampling::{SampleOptions, complete_naive};
use genzoo_pixel::{PixelCnnConfig, PixelRnnConfig};

fn main() {
    let mut args = std::env::args().skip(1);
    let steps: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(3).max(1);
    let batch: usize = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(16)
        .max(1);
    let device = Device::flex().autodiff();
    println!(
        "model            train images/s   forward (16 images)   naive sampling of 16, extrapolated"
    );
    macro_rules! measure {
        ($name:expr, $model:expr) => {{
            let mut model = $model;
            let mut optim: ModuleOptimizer = AdamConfig::new().init();
            let x = Tensor::<4>::random([batch, 1, 28, 28], Distribution::Bernoulli(0.2), &device);
            let mut t = Instant::now();
            for k in 0..=steps {
                if k == 1 {
                    t = Instant::now(); // step 0 is warm-up
                }
                let loss = model.loss(x.clone()).loss;
                let grads = GradientsParams::from_grads(loss.backward(), &model);
                model = optim.step(1e-3, model, grads);
            }
            let train = (steps * batch) as f64 / t.elapsed().as_secs_f64();
            let valid = model.valid();
            let inner = device.clone().inner();
            let x16 = Tensor::<4>::random([16, 1, 28, 28], Distribution::Bernoulli(0.2), &inner);
            let t = Instant::now();
            let _ = valid.forward(x16.clone()).into_data();
            let forward = t.elapsed().as_secs_f64();
            // One row (28 passes) of naive sampling as a completion of the last row.
            let t = Instant::now();
            let _ = complete_naive(&valid, x16, 27 * 28, &SampleOptions::new(1), &inner)
                .expect("sampling");
            let row = t.elapsed().as_secs_f64();
            println!(
                "{:<16} {:>15.2} {:>18.3} s {:>20.0} s",
                $name,
                train,
                forward,
                row * 28.0
            );
        }};
    }
    measure!("pixelcnn", PixelCnnConfig::mnist().init(&device));
    measure!("row-lstm", PixelRnnConfig::mnist_row_lstm().init(&device));
    measure!("diagonal-bilstm", PixelRnnConfig::mnist().init(&device));
}
