//! Full-MNIST agreement with scikit-learn; runs only when `GENZOO_DATA_DIR` points at the MNIST files.
//! Reference numbers: `scripts/mnist_reference.py` → `tests/mnist_reference.json`.

use burn::tensor::{Device, Tensor, TensorData};
use genzoo_datasets::{DATA_DIR_ENV, DataOptions, DatasetKind, Split, load};
use genzoo_unsupervised::{KMeansConfig, PcaConfig};
use serde_json::Value;

#[test]
fn mnist_pca_and_kmeans_match_sklearn() {
    if std::env::var_os(DATA_DIR_ENV).is_none_or(|v| v.is_empty()) {
        eprintln!("{DATA_DIR_ENV} not set: skipping the full-MNIST check");
        return;
    }
    let r: Value =
        serde_json::from_str(include_str!("mnist_reference.json")).expect("reference parses");
    let set = load(DatasetKind::Mnist, Split::Train, &DataOptions::default()).expect("MNIST loads");
    let (n, d) = (set.len(), set.image_len());
    let pixels: Vec<f32> = set.images().iter().map(|&p| f32::from(p) / 255.0).collect();
    let x = Tensor::<2>::from_data(TensorData::new(pixels, [n, d]), &Device::flex());

    let pca = PcaConfig::new(50).fit(&x).expect("pca");
    let want = r["pca50_explained_variance_ratio"]
        .as_array()
        .expect("ratios");
    for (i, (a, b)) in pca.explained_variance_ratio().iter().zip(want).enumerate() {
        let b = b.as_f64().expect("number");
        assert!((a - b).abs() < 1e-5, "ratio {i}: {a} vs sklearn {b}");
    }

    let init = x.clone().slice([0..10, 0..d]);
    let km = KMeansConfig::new(10)
        .with_max_iter(r["kmeans_max_iter"].as_u64().expect("max_iter") as usize)
        .with_tol(r["kmeans_tol"].as_f64().expect("tol"))
        .fit_from(&x, &init)
        .expect("kmeans");
    let want = r["kmeans_inertia"].as_f64().expect("inertia");
    let rel = (km.inertia() - want).abs() / want;
    assert!(
        rel < 1e-6,
        "inertia {} vs sklearn {want} (relative {rel:e})",
        km.inertia()
    );
}
