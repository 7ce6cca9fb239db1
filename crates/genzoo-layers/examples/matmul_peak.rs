//! Times burn's matrix product alone (forward, best of 7) on the CPU backend for the shapes the
//! presets' convolutions reduce to, and a large square one: the GEMM throughput every convolution
//! path is bounded by. `bench/pytorch/matmul_peak.py` times the same shapes in PyTorch; both are
//! in `docs/performance.md`.
//!
//! `RAYON_NUM_THREADS=2 cargo run --release --example matmul_peak -p genzoo-layers`

use burn::tensor::{Device, Distribution, Tensor};

mod common;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let device = Device::flex();
    // (what, batch, m, k, n): y[batch, m, n] = a[batch, m, k] · b[batch, k, n]
    let shapes: [(&str, usize, usize, usize, usize); 5] = [
        ("square 2048", 1, 2048, 2048, 2048),
        ("pixelcnn 1×1 128→64, batch 64", 64, 64, 128, 784),
        ("pixelcnn 3×3 mask B taps, batch 64", 64, 64, 320, 784),
        ("gated vertical pair as GEMM", 1, 128, 384, 25_088),
        ("dcgan D conv2 im2col", 1, 128, 1024, 3136),
    ];
    println!("{:<38} {:>10} {:>10}", "shape", "ms", "GFLOP/s");
    for (what, batch, m, k, n) in shapes {
        let a = Tensor::<3>::random([batch, m, k], Distribution::Normal(0.0, 1.0), &device);
        let b = Tensor::<3>::random([batch, k, n], Distribution::Normal(0.0, 1.0), &device);
        let best = common::best_of(7, || a.clone().matmul(b.clone()).sum().into_scalar::<f32>());
        let flop = 2.0 * (batch * m * k * n) as f64;
        println!(
            "{what:<38} {:>10.2} {:>10.1}",
            best * 1e3,
            flop / best / 1e9
        );
    }
}
