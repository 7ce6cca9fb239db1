//! Times the forward + backward pass of the convolutions of `PixelCnnConfig::mnist()` on the CPU
//! backend, computed two ways: burn's `conv2d` and a batched matrix product (for 1×1 kernels, a
//! convolution is a matrix product over channels). This is the measurement behind the 1×1 path of
//! [`genzoo_layers::MaskedConv2d`]; see `docs/performance.md`.
//!
//! `cargo run --release --example conv_paths -p genzoo-layers` (set `RAYON_NUM_THREADS` to pin threads).

use std::time::Instant;

use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Distribution, Tensor};

fn time<F: FnMut() -> f32>(mut f: F) -> f64 {
    f();
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let t0 = Instant::now();
        f();
        best = best.min(t0.elapsed().as_secs_f64());
    }
    best
}

fn main() {
    let device = Device::flex().autodiff();
    let [b, hw] = [64usize, 28usize];
    for (c_in, c_out, k) in [(128, 64, 1), (64, 128, 1), (128, 128, 1), (64, 64, 3)] {
        let x = Tensor::<4>::random([b, c_in, hw, hw], Distribution::Normal(0.0, 1.0), &device)
            .require_grad();
        let w = Tensor::<4>::random([c_out, c_in, k, k], Distribution::Normal(0.0, 0.1), &device)
            .require_grad();
        let conv = || {
            let opts = ConvOptions::new([1, 1], [k / 2, k / 2], [1, 1], 1);
            let y = conv2d(x.clone(), w.clone(), None, opts);
            let g = y.clone().sum().backward();
            let dw = w.grad(&g).expect("dw");
            let dx = x.grad(&g).expect("dx");
            dw.sum().into_scalar::<f32>() + dx.sum().into_scalar::<f32>()
        };
        let t_conv = time(conv);
        let flop = 3.0 * 2.0 * (b * hw * hw * c_in * c_out * k * k) as f64;
        print!(
            "{c_in:>4}→{c_out:<4} {k}×{k}: conv2d {:>7.1} ms ({:>5.1} GFLOP/s)",
            t_conv * 1e3,
            flop / t_conv / 1e9
        );
        if k == 1 {
            let mm = || {
                let w2 = w.clone().reshape([1, c_out, c_in]);
                let y = w2.matmul(x.clone().reshape([b, c_in, hw * hw]));
                let g = y.sum().backward();
                let dw = w.grad(&g).expect("dw");
                let dx = x.grad(&g).expect("dx");
                dw.sum().into_scalar::<f32>() + dx.sum().into_scalar::<f32>()
            };
            let t_mm = time(mm);
            print!(
                " | matmul {:>7.1} ms ({:>5.1} GFLOP/s)",
                t_mm * 1e3,
                flop / t_mm / 1e9
            );
        }
        println!();
    }
}
