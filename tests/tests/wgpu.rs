//! Backend parity on wgpu: the code written once against `Device` gives the same numbers on the
//! GPU path as on flex. Run by `cargo xtask test --wgpu` (in CI on Mesa's software Vulkan);
//! compiled only with the `wgpu` feature. Kept small: first shader compiles take minutes.
#![cfg(feature = "wgpu")]

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::Device;
use genzoo_datasets::{Binarization, DataOptions, DatasetKind, Split};
use genzoo_train::Backend;
use genzoo_vae::AutoencoderConfig;

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn autoencoder_forward_and_training_steps_match_flex() {
    let gpu = Backend::Wgpu.device().expect("wgpu compiled in");
    let cpu = Device::flex();
    let data = genzoo_datasets::load(DatasetKind::MnistMini, Split::Test, &DataOptions::default())
        .expect("mini");
    let idx: Vec<usize> = (0..8).collect();

    cpu.seed(3);
    let cpu_model = AutoencoderConfig::mnist().init(&cpu.clone().autodiff());
    let gpu_model = AutoencoderConfig::mnist()
        .init(&gpu.clone().autodiff())
        .load_record(cpu_model.clone().into_record());

    // Forward pass, no autodiff.
    let xc = data.batch(&idx, Binarization::None, 0, &cpu).images;
    let xg = data.batch(&idx, Binarization::None, 0, &gpu).images;
    let forward = |model: &genzoo_vae::Autoencoder, x| {
        model
            .valid()
            .forward(x)
            .into_data()
            .try_to_vec::<f32>()
            .expect("f32")
    };
    let (yc, yg) = (forward(&cpu_model, xc), forward(&gpu_model, xg));
    let d = max_abs_diff(&yc, &yg);
    assert!(d < 1e-4, "forward differs by {d}");

    // Three Adam steps on each backend from the same weights see the same losses.
    let train = |mut model: genzoo_vae::Autoencoder, device: &Device| -> Vec<f32> {
        let mut optim = AdamConfig::new().init();
        let x = data.batch(&idx, Binarization::None, 0, device).images;
        (0..3)
            .map(|_| {
                let loss = model.loss(x.clone()).loss;
                let v = loss.clone().into_scalar::<f32>();
                let grads = GradientsParams::from_grads(loss.backward(), &model);
                model = optim.step(1e-3, model.clone(), grads);
                v
            })
            .collect()
    };
    let lc = train(cpu_model, &cpu.autodiff());
    let lg = train(gpu_model, &gpu.autodiff());
    for (c, g) in lc.iter().zip(&lg) {
        assert!(
            (c - g).abs() <= 1e-3 * c.abs().max(1e-3),
            "losses differ: flex {lc:?} vs wgpu {lg:?}"
        );
    }
    assert!(lc[2] < lc[0], "loss should fall: {lc:?}");
}

#[test]
fn the_run_loop_trains_on_wgpu() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("run");
    let args = genzoo_cli::TrainArgs {
        model: Some("autoencoder".into()),
        backend: Some("wgpu".into()),
        steps: Some(2),
        batch_size: Some(16),
        out: Some(dir.clone()),
        no_progress: true,
        ..genzoo_cli::TrainArgs::default()
    };
    let (_, summary) = genzoo_cli::train(&args).expect("trains on wgpu");
    assert!(
        summary["test_mse"]
            .as_f64()
            .is_some_and(|m| m.is_finite() && m > 0.0)
    );
    assert!(dir.join("checkpoints/last.ckpt").is_file());
}

/// The masked convolutions take their GPU route on wgpu (one convolution over the masked kernel)
/// and their tap product on flex: a small PixelCNN gives the same logits, NLL and weight gradient.
#[test]
fn pixelcnn_logits_and_gradients_match_flex() {
    use genzoo_pixel::{PixelCnnConfig, log_prob_from_logits};
    let gpu = Backend::Wgpu.device().expect("wgpu compiled in").autodiff();
    let cpu = Device::flex().autodiff();
    let data = genzoo_datasets::load(DatasetKind::MnistMini, Split::Test, &DataOptions::default())
        .expect("mini");
    let idx: Vec<usize> = (0..4).collect();
    let config = PixelCnnConfig::mnist()
        .with_hidden(16)
        .with_residual_blocks(1)
        .with_head_hidden(16);
    cpu.seed(5);
    let cpu_model = config.init(&cpu);
    let gpu_model = config
        .init(&gpu)
        .load_record(cpu_model.clone().into_record());
    let run = |model: &genzoo_pixel::PixelCnn, device: &Device| {
        let x = data.batch(&idx, Binarization::Dynamic, 0, device).images;
        let logits = model.forward(x.clone());
        let nll = log_prob_from_logits(logits.clone(), x, 2).mean().neg();
        let grads = nll.backward();
        let dw = model
            .input_layer()
            .conv
            .weight
            .grad(&grads)
            .expect("input layer gradient");
        let f = |t: burn::tensor::TensorData| t.try_to_vec::<f32>().expect("f32");
        (f(logits.into_data()), f(nll.into_data()), f(dw.into_data()))
    };
    let (lc, nc, gc) = run(&cpu_model, &cpu);
    let (lg, ng, gg) = run(&gpu_model, &gpu);
    let d = max_abs_diff(&lc, &lg);
    assert!(d < 1e-3, "logits differ by {d}");
    assert!(
        (nc[0] - ng[0]).abs() < 1e-3 * nc[0].abs(),
        "NLL {nc:?} vs {ng:?}"
    );
    let scale = gc.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let d = max_abs_diff(&gc, &gg);
    assert!(
        d < 1e-3 * scale.max(1e-3),
        "input-layer gradient differs by {d} (scale {scale})"
    );
}
