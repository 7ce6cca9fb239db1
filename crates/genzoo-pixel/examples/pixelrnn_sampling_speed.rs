//! Naive vs cached sampling time for 16 samples of the PixelRNN MNIST presets.
//!
//! `cargo build --release --workspace --examples && $CARGO_TARGET_DIR/release/examples/pixelrnn_sampling_speed [ROWS] [MODELS]`
//!
//! `MODELS`: `row-lstm` (default), `diagonal-bilstm` or `both`. The cached sampler draws all 784
//! pixels of 16 images. The naive sampler costs one full forward pass per pixel whatever the
//! pixel, so it is timed on the last `ROWS` rows (default 1, i.e. 28 passes) as a completion and
//! extrapolated to 784 passes; the same completion by the cached sampler is checked to give
//! identical pixels. Weights are freshly initialised (timing does not depend on training).

use std::time::Instant;

use burn::tensor::{Device, Tensor};
use genzoo_pixel::PixelRnnConfig;
use genzoo_pixel::cached_rnn::{complete_cached, sample_cached};
use genzoo_pixel::sampling::{SampleOptions, complete_naive};

fn main() {
    let mut args = std::env::args().skip(1);
    let rows: usize = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1)
        .clamp(1, 28);
    let which = args.next().unwrap_or_else(|| "row-lstm".into());
    let mut configs = Vec::new();
    if which == "row-lstm" || which == "both" {
        configs.push((
            "Row LSTM (mnist_row_lstm)",
            PixelRnnConfig::mnist_row_lstm(),
        ));
    }
    if which == "diagonal-bilstm" || which == "both" {
        configs.push(("Diagonal BiLSTM (mnist)", PixelRnnConfig::mnist()));
    }
    if configs.is_empty() {
        eprintln!("MODELS must be row-lstm, diagonal-bilstm or both, got {which}");
        std::process::exit(2);
    }
    let device = Device::flex();
    let opts = SampleOptions::new(2016);
    let n = 16;
    for (name, config) in configs {
        let model = config.init(&device);
        let t = Instant::now();
        let samples = sample_cached(&model, n, &opts, &device).expect("cached sampling");
        let cached_s = t.elapsed().as_secs_f64();
        assert_eq!(samples.dims(), [n, 1, 28, 28]);

        let known = (28 - rows) * 28;
        let start = Tensor::<4>::zeros([n, 1, 28, 28], &device);
        let t = Instant::now();
        let naive = complete_naive(&model, start.clone(), known, &opts, &device).expect("naive");
        let naive_part_s = t.elapsed().as_secs_f64();
        let naive_s = naive_part_s * 784.0 / (rows * 28) as f64;
        let t = Instant::now();
        let cached = complete_cached(&model, start, known, &opts, &device).expect("cached");
        let cached_part_s = t.elapsed().as_secs_f64();
        let same = naive.into_data().try_to_vec::<f32>().expect("f32")
            == cached.into_data().try_to_vec::<f32>().expect("f32");

        println!("{name}: 16 samples, flex backend");
        println!("  cached: {cached_s:.2} s for 784 pixels");
        println!(
            "  naive:  {naive_part_s:.2} s for {} pixels -> {naive_s:.1} s for 784 (extrapolated)",
            rows * 28
        );
        println!(
            "  cached on the same {} pixels: {cached_part_s:.2} s; naive == cached there: {same}",
            rows * 28
        );
        println!("  speed-up: {:.1}x", naive_s / cached_s);
    }
}
