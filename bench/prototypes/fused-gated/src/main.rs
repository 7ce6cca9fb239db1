//! Prototype, not part of the genzoo workspace: the Gated PixelCNN's gated activation tanh(a)·σ(b)
//! as one custom op for the Flex backend, registered through burn 0.22's backend extension
//! (`#[backend_extension(Flex, Autodiff)]`), with a hand-written backward for `Autodiff<Flex>`:
//! one pass forward, one pass backward, exp by range reduction and a polynomial so the loops
//! vectorize. Prints the largest difference from the composed burn ops (value and both gradients)
//! and the time of both, forward + backward on [32, 64, 28, 28].
//!
//! `RAYON_NUM_THREADS=2 MIMALLOC_PURGE_DELAY=-1 cargo run --release`

use burn::backend::autodiff::{
    Autodiff,
    checkpoint::{base::Checkpointer, strategy::CheckpointStrategy},
    grads::Gradients,
    ops::{Backward, Ops, OpsKind},
};
use burn::backend::{
    Backend, Dispatch, Flex, TensorMetadata, backend_extension, tensor::FloatTensor,
};
use burn::tensor::activation::{sigmoid, tanh};
use burn::tensor::{Device, Distribution, Tensor, TensorData};
use burn_flex::FlexTensor;
use rayon::prelude::*;
use std::time::Instant;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[backend_extension(Flex, Autodiff)]
pub trait GatedBackend: Backend {
    /// tanh(a) · σ(b), elementwise.
    fn gated(a: FloatTensor<Self>, b: FloatTensor<Self>) -> FloatTensor<Self>;
}

/// exp(x) for f32 by range reduction and a degree-6 polynomial: written so the loop vectorizes.
#[inline(always)]
fn fast_exp(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    let k = (x * std::f32::consts::LOG2_E).round();
    let r = x - k * std::f32::consts::LN_2;
    // exp(r) on |r| <= ln2/2
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    let bits = ((k as i32 + 127) as u32) << 23;
    p * f32::from_bits(bits)
}

#[inline(always)]
fn tanh_sig(a: f32, b: f32) -> (f32, f32) {
    let t = 1.0 - 2.0 / (fast_exp(2.0 * a) + 1.0);
    let s = 1.0 / (1.0 + fast_exp(-b));
    (t, s)
}

fn contiguous(x: &FlexTensor) -> FlexTensor {
    if x.is_contiguous() {
        x.clone()
    } else {
        x.to_contiguous()
    }
}

fn slice(x: &FlexTensor) -> &[f32] {
    x.as_slice::<f32>().expect("contiguous f32")
}

const CHUNK: usize = 16 * 1024;

fn gated_forward(a: FlexTensor, b: FlexTensor) -> FlexTensor {
    let shape = a.shape();
    let (a, b) = (contiguous(&a), contiguous(&b));
    let (a, b) = (slice(&a), slice(&b));
    let mut out = Vec::<f32>::with_capacity(a.len());
    a.par_chunks(CHUNK)
        .zip(b.par_chunks(CHUNK))
        .map(|(a, b)| {
            a.iter()
                .zip(b)
                .map(|(&a, &b)| {
                    let (t, s) = tanh_sig(a, b);
                    t * s
                })
                .collect::<Vec<f32>>()
        })
        .collect::<Vec<_>>()
        .into_iter()
        .for_each(|c| out.extend_from_slice(&c));
    FlexTensor::from_data(TensorData::new(out, shape))
}

fn gated_backward(a: FlexTensor, b: FlexTensor, g: FlexTensor) -> (FlexTensor, FlexTensor) {
    let shape = a.shape();
    let (a, b, g) = (contiguous(&a), contiguous(&b), contiguous(&g));
    let (a, b, g) = (slice(&a), slice(&b), slice(&g));
    let parts: Vec<(Vec<f32>, Vec<f32>)> = a
        .par_chunks(CHUNK)
        .zip(b.par_chunks(CHUNK))
        .zip(g.par_chunks(CHUNK))
        .map(|((a, b), g)| {
            let mut ga = Vec::with_capacity(a.len());
            let mut gb = Vec::with_capacity(a.len());
            for i in 0..a.len() {
                let (t, s) = tanh_sig(a[i], b[i]);
                ga.push(g[i] * s * (1.0 - t * t));
                gb.push(g[i] * t * s * (1.0 - s));
            }
            (ga, gb)
        })
        .collect();
    let mut ga = Vec::with_capacity(a.len());
    let mut gb = Vec::with_capacity(a.len());
    for (x, y) in parts {
        ga.extend_from_slice(&x);
        gb.extend_from_slice(&y);
    }
    (
        FlexTensor::from_data(TensorData::new(ga, shape.clone())),
        FlexTensor::from_data(TensorData::new(gb, shape)),
    )
}

impl GatedBackend for Flex {
    fn gated(a: FloatTensor<Self>, b: FloatTensor<Self>) -> FloatTensor<Self> {
        gated_forward(a, b)
    }
}

impl<C: CheckpointStrategy> GatedBackend for Autodiff<Flex, C> {
    fn gated(a: FloatTensor<Self>, b: FloatTensor<Self>) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct GatedBackward;
        impl Backward<Flex, 2> for GatedBackward {
            type State = (FlexTensor, FlexTensor);
            fn backward(
                self,
                ops: Ops<Self::State, 2>,
                grads: &mut Gradients,
                _c: &mut Checkpointer,
            ) {
                let [node_a, node_b] = ops.parents;
                let grad = grads.consume::<Flex>(&ops.node);
                let (a, b) = ops.state;
                let (ga, gb) = gated_backward(a, b, grad);
                if let Some(node) = node_a {
                    grads.register::<Flex>(node.id, ga);
                }
                if let Some(node) = node_b {
                    grads.register::<Flex>(node.id, gb);
                }
            }
        }
        match GatedBackward
            .prepare::<C>([a.node(), b.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let (x, y) = (a.primitive().clone(), b.primitive().clone());
                let out = gated_forward(x.clone(), y.clone());
                prep.finish((x, y), out)
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(gated_forward(a.into_primitive(), b.into_primitive()))
            }
        }
    }
}

fn fused(a: Tensor<4>, b: Tensor<4>) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as GatedBackend>::gated(
        a.into_dispatch(),
        b.into_dispatch(),
    ))
}

fn values(t: Tensor<4>) -> Vec<f32> {
    t.into_data().convert::<f32>().to_vec::<f32>().unwrap()
}

fn main() {
    let device = Device::flex().autodiff();
    let shape = [32, 64, 28, 28];
    let a = Tensor::<4>::random(shape, Distribution::Normal(0.0, 2.0), &device).require_grad();
    let b = Tensor::<4>::random(shape, Distribution::Normal(0.0, 2.0), &device).require_grad();
    let r = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &device);
    let run = |f: bool| {
        let y = if f {
            fused(a.clone(), b.clone())
        } else {
            tanh(a.clone()) * sigmoid(b.clone())
        };
        let g = (y.clone() * r.clone()).sum().backward();
        (
            values(y.inner()),
            values(a.grad(&g).unwrap()),
            values(b.grad(&g).unwrap()),
        )
    };
    let (y0, ga0, gb0) = run(false);
    let (y1, ga1, gb1) = run(true);
    let maxerr = |x: &[f32], y: &[f32]| {
        x.iter()
            .zip(y)
            .map(|(p, q)| (p - q).abs())
            .fold(0.0f32, f32::max)
    };
    println!(
        "max abs err: y {:.2e} ga {:.2e} gb {:.2e}",
        maxerr(&y0, &y1),
        maxerr(&ga0, &ga1),
        maxerr(&gb0, &gb1)
    );
    for f in [false, true, false, true] {
        let mut best = f64::INFINITY;
        for _ in 0..5 {
            let t0 = Instant::now();
            let y = if f {
                fused(a.clone(), b.clone())
            } else {
                tanh(a.clone()) * sigmoid(b.clone())
            };
            let g = (y * r.clone()).sum().backward();
            let s: f32 = a.grad(&g).unwrap().sum().into_scalar::<f32>()
                + b.grad(&g).unwrap().sum().into_scalar::<f32>();
            std::hint::black_box(s);
            best = best.min(t0.elapsed().as_secs_f64());
        }
        println!(
            "{}: forward + backward {:.1} ms",
            if f {
                "fused (extension)"
            } else {
                "composed burn ops"
            },
            best * 1e3
        );
    }
}
