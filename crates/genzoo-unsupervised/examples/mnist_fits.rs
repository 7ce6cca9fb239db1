//! Times k-means (k = 10), PCA-50 and a 10-component diagonal GMM on PCA-50 features on full MNIST
//! (60,000 × 784 pixels in [0, 1]), the reference fits.
//!
//! ```text
//! GENZOO_DATA_DIR=/path/with/mnist cargo run --release --example mnist_fits -- [mnist|mnist-mini]
//! ```

use std::time::Instant;

use burn::tensor::{Device, Tensor, TensorData};
use genzoo_datasets::{DataOptions, DatasetKind, Split, load};
use genzoo_unsupervised::{GaussianMixtureConfig, KMeansConfig, PcaConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let kind = match std::env::args().nth(1).as_deref() {
        None | Some("mnist") => DatasetKind::Mnist,
        Some("mnist-mini") => DatasetKind::MnistMini,
        Some(other) => return Err(format!("unknown dataset {other:?} (mnist | mnist-mini)").into()),
    };
    let device = Device::flex();
    let set = load(kind, Split::Train, &DataOptions::default())?;
    let (n, d) = (set.len(), set.image_len());
    let pixels: Vec<f32> = set.images().iter().map(|&p| f32::from(p) / 255.0).collect();
    let x = Tensor::<2>::from_data(TensorData::new(pixels, [n, d]), &device);
    println!("data: {n} x {d}");

    let t = Instant::now();
    let km = KMeansConfig::mnist().with_seed(0).fit(&x)?;
    println!(
        "kmeans k=10 n_init=1 max_iter=100: {:.2} s, inertia {:.1} ({:.3} per image), {} iterations, converged {}",
        t.elapsed().as_secs_f64(),
        km.inertia(),
        km.inertia() / n as f64,
        km.n_iter(),
        km.converged()
    );

    let t = Instant::now();
    let pca = PcaConfig::mnist().fit(&x)?;
    let ratio: f64 = pca.explained_variance_ratio().iter().sum();
    println!(
        "pca 50: {:.2} s, explained variance {:.2} of {:.2} (ratio {:.4}); first 3 ratios {:.4?}",
        t.elapsed().as_secs_f64(),
        pca.explained_variance().iter().sum::<f64>(),
        pca.total_variance(),
        ratio,
        &pca.explained_variance_ratio()[..3]
    );

    let feats = pca.transform(&x)?;
    let t = Instant::now();
    let gmm = GaussianMixtureConfig::mnist_pca()
        .with_seed(0)
        .fit(&feats)?;
    println!(
        "gmm 10 diag on pca-50: {:.2} s (k-means init included), mean log-likelihood {:.3} nats, {} iterations, converged {}",
        t.elapsed().as_secs_f64(),
        gmm.score(&feats)?,
        gmm.n_iter(),
        gmm.converged()
    );
    Ok(())
}
