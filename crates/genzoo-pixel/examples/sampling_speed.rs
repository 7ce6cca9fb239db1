//! Naive vs cached sampling time for 16 samples of the PixelCNN MNIST preset.
//!
//! `cargo build --release --workspace --examples && $CARGO_TARGET_DIR/release/examples/sampling_speed [ROWS]`
//!
//! The cached sampler draws all 784 pixels. The naive sampler costs one full forward pass per
//! pixel whatever the pixel, so it is timed on the last `ROWS` rows (default 2, i.e. 56 passes)
//! as a completion and extrapolated to 784 passes; the same completion by the cached sampler is
//! checked to give identical pixels. Weights are freshly initialised (timing does not depend on
//! training).

use std::time::Instant;

use burn::tensor::{Device, Tensor};
use genzoo_pixel::PixelCnnConfig;
use genzoo_pixel::cached::{complete_cached, sample_cached};
use genzoo_pixel::sampling::{SampleOptions, complete_naive};

fn main() {
    let rows: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(2)
        .clamp(1, 28);
    let device = Device::flex();
    let model = PixelCnnConfig::mnist().init(&device);
    let opts = SampleOptions::new(2017);
    let n = 16;

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
    let cached = complete_cached(&model, start, known, &opts, &device).expect("cached");
    let same = naive.into_data().try_to_vec::<f32>().expect("f32")
        == cached.into_data().try_to_vec::<f32>().expect("f32");

    println!("16 samples, PixelCNN mnist preset, flex backend");
    println!("cached: {cached_s:.2} s for 784 pixels");
    println!(
        "naive:  {naive_part_s:.2} s for {} pixels -> {naive_s:.1} s for 784 (extrapolated)",
        rows * 28
    );
    println!(
        "speed-up: {:.0}x; naive == cached on the timed pixels: {same}",
        naive_s / cached_s
    );
}
