//! Naive vs cached sampling time for 16 samples of the class-conditional Gated PixelCNN MNIST
//! preset (`GatedPixelCnnConfig::mnist_conditional()`, labels 0–9 then 0–5).
//!
//! `cargo build --release --workspace --examples && $CARGO_TARGET_DIR/release/examples/sampling_speed_gated [ROWS]`
//!
//! The cached sampler (`genzoo_pixel::cached_gated`) draws all 784 pixels. The naive sampler costs
//! one full forward pass per pixel whatever the pixel, so it is timed on the last `ROWS` rows
//! (default 1, i.e. 28 passes) as a completion of the cached samples and extrapolated to 784
//! passes; the cached sampler's completion is checked to draw the same pixels. Weights are freshly
//! initialised (timing does not depend on training).

use std::time::Instant;

use burn::tensor::Device;
use genzoo_pixel::GatedPixelCnnConfig;
use genzoo_pixel::cached_gated::{complete_cached_gated, sample_cached_gated};
use genzoo_pixel::sampling::{SampleOptions, complete_naive};

fn main() {
    let rows: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1)
        .clamp(1, 28);
    let device = Device::flex();
    let model = GatedPixelCnnConfig::mnist_conditional().init(&device);
    let n = 16;
    let labels: Vec<usize> = (0..n).map(|i| i % 10).collect();
    let cond = model.conditioned(&labels, &device).expect("labels");
    let opts = SampleOptions::new(2017);

    let t = Instant::now();
    let samples = sample_cached_gated(&cond, &opts, &device).expect("cached sampling");
    let cached_s = t.elapsed().as_secs_f64();
    assert_eq!(samples.dims(), [n, 1, 28, 28]);

    let known = (28 - rows) * 28;
    let t = Instant::now();
    let naive = complete_naive(&cond, samples.clone(), known, &opts, &device).expect("naive");
    let naive_part_s = t.elapsed().as_secs_f64();
    let naive_s = naive_part_s * 784.0 / (rows * 28) as f64;
    let cached = complete_cached_gated(&cond, samples, known, &opts, &device).expect("cached");
    let same = naive.into_data().iter::<f32>().collect::<Vec<_>>()
        == cached.into_data().iter::<f32>().collect::<Vec<_>>();
    println!("Gated PixelCNN (conditional MNIST preset), {n} samples of 28×28");
    println!("cached sampler: {cached_s:.2} s for all 784 pixels");
    println!(
        "naive sampler:  {naive_part_s:.2} s for the last {} pixels → {naive_s:.1} s for 784 (extrapolated)",
        rows * 28
    );
    println!(
        "speed-up ≈ {:.0}×; cached completion equals naive: {same}",
        naive_s / cached_s
    );
    assert!(
        same,
        "the cached sampler must draw the naive sampler's pixels"
    );
}
