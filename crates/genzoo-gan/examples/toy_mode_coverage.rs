//! Mode coverage of each GAN objective on the 8-Gaussian ring (or the 25-Gaussian grid).
//!
//! `cargo run --release --example toy_mode_coverage -p genzoo-gan --features flex -- [toy-ring8|toy-grid25] [steps]`
//! (inside the workspace, prefer `cargo build --release --workspace --examples` and run
//! `$CARGO_TARGET_DIR/release/examples/toy_mode_coverage`). Prints a markdown table.

use std::time::Instant;

use burn::tensor::{Device, Tensor, TensorData};
use genzoo_datasets::rng::Rng;
use genzoo_datasets::toy::ToyKind;
use genzoo_gan::toy::{mode_coverage, toy_mlp};
use genzoo_gan::{Architecture, GanLoss, GanTrainConfig, GanTrainer, latent};

fn main() {
    let mut args = std::env::args().skip(1);
    let kind: ToyKind = args
        .next()
        .unwrap_or_else(|| "toy-ring8".into())
        .parse()
        .unwrap_or_else(|e| {
            eprintln!("{e}");
            std::process::exit(2)
        });
    let steps: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(2000);
    let (Some(modes), Some(std)) = (kind.modes(), kind.mode_std()) else {
        eprintln!("{kind} has no modes to count");
        std::process::exit(2)
    };
    // G ends in tanh: scale the mixture into [−1, 1]².
    let scale = modes
        .iter()
        .flat_map(|m| m.iter().map(|v| v.abs()))
        .fold(0.0f32, f32::max)
        * 1.25;
    let batch = 256;
    let device = Device::flex().autodiff();
    let arch = Architecture::Mlp(toy_mlp());
    let recipes: [(&str, GanTrainConfig, f64); 5] = [
        ("non-saturating", GanTrainConfig::dcgan(), 1e-3),
        ("least-squares", GanTrainConfig::lsgan(), 1e-3),
        (
            "hinge",
            GanTrainConfig::new().with_loss(GanLoss::Hinge),
            1e-3,
        ),
        ("wgan (clip 0.01, RMSProp)", GanTrainConfig::wgan(), 5e-4),
        ("wgan-gp (λ = 10)", GanTrainConfig::wgan_gp(), 1e-3),
    ];
    println!("{kind}, {steps} generator steps, batch {batch}, MLP 128-128, seed 0");
    println!(
        "| objective | k | modes captured (≥ 20 of 2,500) | high-quality share (≤ 3σ) | wall s |"
    );
    println!("|---|---|---|---|---|");
    for (name, cfg, lr) in recipes {
        device.seed(0);
        let mut rng = Rng::seed_from_u64(0);
        let k = cfg.d_steps;
        let mut gan = GanTrainer::new(&arch, cfg, &device);
        let t0 = Instant::now();
        for _ in 0..steps {
            for _ in 0..k {
                let pts = kind.sample(batch, &mut rng).points;
                let v: Vec<f32> = pts
                    .iter()
                    .flat_map(|p| [p[0] / scale, p[1] / scale])
                    .collect();
                let real = Tensor::<4>::from_data(TensorData::new(v, [batch, 2, 1, 1]), &device);
                let z = latent::normal_noise(&mut rng, batch, 8, &device);
                let eps = latent::uniform_per_image(&mut rng, batch, &device);
                gan.discriminator_step(real, None, z, eps, lr);
            }
            let z = latent::normal_noise(&mut rng, batch, 8, &device);
            gan.generator_step(z, None, lr);
        }
        let secs = t0.elapsed().as_secs_f64();
        let z = latent::normal_noise(&mut rng, 2500, 8, &device.clone().inner());
        let x: Vec<f32> = gan
            .sampler()
            .forward(z, None)
            .into_data()
            .try_to_vec()
            .unwrap_or_default();
        let pts: Vec<[f32; 2]> = x.chunks(2).map(|c| [c[0] * scale, c[1] * scale]).collect();
        let c = mode_coverage(&pts, &modes, std, 20);
        println!(
            "| {name} | {k} | {} / {} | {:.3} | {secs:.0} |",
            c.captured, c.modes, c.high_quality
        );
    }
}
