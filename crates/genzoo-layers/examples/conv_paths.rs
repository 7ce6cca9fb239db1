//! Times the forward + backward pass of convolutions on the CPU backend, computed two ways each:
//! - the convolutions of `PixelCnnConfig::mnist()`: burn's `conv2d` and a batched matrix product
//!   (for 1×1 kernels, a convolution is a matrix product over channels) — the measurement behind
//!   the tap path of [`genzoo_layers::MaskedConv2d`];
//! - the strided and transposed convolutions of the DCGAN, autoencoder and conv-VAE presets: burn's
//!   `conv2d` / `conv_transpose2d` and [`genzoo_layers::conv`]'s one-GEMM versions.
//!
//! See `docs/performance.md`.
//!
//! `MIMALLOC_PURGE_DELAY=-1 cargo run --release --example conv_paths -p genzoo-layers` (set
//! `RAYON_NUM_THREADS` to pin threads).

/// The `genzoo` binary's allocator; run with `MIMALLOC_PURGE_DELAY=-1`, as the binary sets it, so
/// that buffers are reused as in training rather than faulted in afresh (which penalises the paths
/// with more intermediate buffers).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use burn::tensor::module::{conv_transpose2d, conv2d};
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
use burn::tensor::{Device, Distribution, Tensor};

mod common;

/// The best of five timed passes of `f`.
fn time(f: impl FnMut() -> f32) -> f64 {
    common::best_of(5, f)
}

/// The weight and input gradients of `y.sum()`, reduced to one number so that all the work is
/// done before the clock stops.
fn backward<const D: usize>(y: Tensor<D>, x: &Tensor<4>, w: &Tensor<4>) -> f32 {
    let g = y.sum().backward();
    let dw = w.grad(&g).expect("dw");
    let dx = x.grad(&g).expect("dx");
    dw.sum().into_scalar::<f32>() + dx.sum().into_scalar::<f32>()
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
            backward(conv2d(x.clone(), w.clone(), None, opts), &x, &w)
        };
        let t_conv = time(conv);
        let flop = 3.0 * 2.0 * (b * hw * hw * c_in * c_out * k * k) as f64;
        let rate = |what: &str, seconds: f64| {
            format!(
                "{what} {:>7.1} ms ({:>5.1} GFLOP/s)",
                seconds * 1e3,
                flop / seconds / 1e9
            )
        };
        print!("{c_in:>4}→{c_out:<4} {k}×{k}: {}", rate("conv2d", t_conv));
        if k == 1 {
            let mm = || {
                let w2 = w.clone().reshape([1, c_out, c_in]);
                let y = w2.matmul(x.clone().reshape([b, c_in, hw * hw]));
                backward(y, &x, &w)
            };
            print!(" | {}", rate("matmul", time(mm)));
        }
        if k == 3 {
            // PixelCNN's mask-B layer: the tap path over the 5 kept positions.
            let taps = || {
                let y = genzoo_layers::route::conv2d_taps(
                    x.clone(),
                    w.clone(),
                    None,
                    [(1, 1), (1, 1)],
                    &[0, 1, 2, 3, 4],
                );
                backward(y, &x, &w)
            };
            let t_taps = time(taps);
            print!(
                " | taps (mask B, 5 of 9) {:>7.1} ms ({:>4.1}×)",
                t_taps * 1e3,
                t_conv / t_taps
            );
        }
        println!();
    }
    plain_convs(&device);
}

/// (name, batch, c_in, c_out, input side, kernel, stride, padding (top, bottom, left, right),
/// transposed): 4×4 kernels with stride 2 and padding 1 (DCGAN), 3×3 stride 2 (encoders), 4×4
/// transposed (decoders), and the Gated PixelCNN's vertical-stack and link convolutions.
type Case = (
    &'static str,
    usize,
    usize,
    usize,
    usize,
    [usize; 2],
    usize,
    [usize; 4],
    bool,
);

fn plain_convs(device: &Device) {
    let cases: [Case; 12] = [
        (
            "dcgan D conv1 1→64 4×4/2",
            64,
            1,
            64,
            28,
            [4, 4],
            2,
            [1; 4],
            false,
        ),
        (
            "dcgan D conv2 64→128 4×4/2",
            64,
            64,
            128,
            14,
            [4, 4],
            2,
            [1; 4],
            false,
        ),
        (
            "dcgan G convT 128→64 4×4/2",
            64,
            128,
            64,
            7,
            [4, 4],
            2,
            [1; 4],
            true,
        ),
        (
            "dcgan G convT 64→1 4×4/2",
            64,
            64,
            1,
            14,
            [4, 4],
            2,
            [1; 4],
            true,
        ),
        (
            "vae-conv enc 32→64 3×3/2",
            128,
            32,
            64,
            14,
            [3, 3],
            2,
            [1; 4],
            false,
        ),
        (
            "vae-conv dec convT 64→32 4×4/2",
            128,
            64,
            32,
            7,
            [4, 4],
            2,
            [1; 4],
            true,
        ),
        ("ae enc 1→32 3×3/2", 64, 1, 32, 28, [3, 3], 2, [1; 4], false),
        (
            "gated vertical 64→64 2×3",
            32,
            64,
            64,
            28,
            [2, 3],
            1,
            [1, 0, 1, 1],
            false,
        ),
        (
            "gated link 128→64 1×1",
            32,
            128,
            64,
            28,
            [1, 1],
            1,
            [0; 4],
            false,
        ),
        (
            "gated vertical pair 64→128 2×3",
            32,
            64,
            128,
            28,
            [2, 3],
            1,
            [1, 0, 1, 1],
            false,
        ),
        (
            "gated first vertical pair 1→128 4×7",
            32,
            1,
            128,
            28,
            [4, 7],
            1,
            [3, 0, 3, 3],
            false,
        ),
        (
            "gated link pair 128→128 1×1",
            32,
            128,
            128,
            28,
            [1, 1],
            1,
            [0; 4],
            false,
        ),
    ];
    for (name, b, c_in, c_out, side, [kh, kw], s, [pt, pb, pl, pr], transposed) in cases {
        let x = Tensor::<4>::random(
            [b, c_in, side, side],
            Distribution::Normal(0.0, 1.0),
            device,
        )
        .require_grad();
        let w_shape = if transposed {
            [c_in, c_out, kh, kw]
        } else {
            [c_out, c_in, kh, kw]
        };
        let w = Tensor::<4>::random(w_shape, Distribution::Normal(0.0, 0.1), device).require_grad();
        let conv_options = ConvOptions::new_with_padding([s, s], [(pt, pb), (pl, pr)], [1, 1], 1);
        let transpose_options = ConvTransposeOptions::new([s, s], [pt, pl], [0, 0], [1, 1], 1);
        let all_taps: Vec<usize> = (0..kh * kw).collect();
        // 0: burn's op, 1: the channel-major GEMM path, 2: the batch-major tap path (stride 1).
        let run = |path: u8| {
            let (xc, wc) = (x.clone(), w.clone());
            let y = match (transposed, path) {
                (false, 0) => conv2d(xc, wc, None, conv_options.clone()),
                (false, 1) => genzoo_layers::conv::conv2d(xc, wc, None, conv_options.clone()),
                (false, _) => {
                    genzoo_layers::route::conv2d_taps(xc, wc, None, conv_options.padding, &all_taps)
                }
                (true, 0) => conv_transpose2d(xc, wc, None, transpose_options.clone()),
                (true, _) => {
                    genzoo_layers::conv::conv_transpose2d(xc, wc, None, transpose_options.clone())
                }
            };
            backward(y, &x, &w)
        };
        let t_burn = time(|| run(0));
        let t_gemm = time(|| run(1));
        print!(
            "{name:<36} batch {b:>3}: burn {:>7.2} ms | gemm {:>7.2} ms ({:>4.1}×)",
            t_burn * 1e3,
            t_gemm * 1e3,
            t_burn / t_gemm
        );
        if s == 1 && !transposed {
            let t_taps = time(|| run(2));
            print!(
                " | taps {:>7.2} ms ({:>4.1}×)",
                t_taps * 1e3,
                t_burn / t_taps
            );
        }
        println!();
    }
}
