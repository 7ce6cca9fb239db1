//! The shipped metrics feature extractors on the real MNIST and Fashion-MNIST test sets (run when
//! `GENZOO_DATA_DIR` points at the datasets, as in CI, where their absence is an error; the
//! embedded MNIST subset is checked in genzoo-metrics itself).

use burn::tensor::Device;
use genzoo_datasets::{DataOptions, DatasetKind, Split};
use genzoo_metrics::classifier::{DomainClassifier, accuracy};

fn data_dir_set() -> bool {
    if std::env::var_os(genzoo_datasets::DATA_DIR_ENV).is_some() {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "GENZOO_DATA_DIR must point at the datasets in CI"
    );
    eprintln!("GENZOO_DATA_DIR not set: skipping the real-test-set accuracy checks");
    false
}

#[test]
fn shipped_lenet_reaches_90_percent_on_the_fashion_mnist_test_set() {
    if !data_dir_set() {
        return;
    }
    let device = Device::flex();
    let test = genzoo_datasets::load(
        DatasetKind::FashionMnist,
        Split::Test,
        &DataOptions::default(),
    )
    .expect("Fashion-MNIST test set under GENZOO_DATA_DIR");
    let c = DomainClassifier::fashion_mnist(&device).expect("shipped weights");
    let acc = accuracy(&c.model, &test, &device);
    assert!(acc >= 0.90, "test accuracy {acc}");
    assert!(
        (acc - c.provenance.test_accuracy).abs() < 5e-4,
        "{acc} vs recorded {}",
        c.provenance.test_accuracy
    );
}

#[test]
fn shipped_lenet_reaches_99_percent_on_the_mnist_test_set() {
    if !data_dir_set() {
        return;
    }
    let device = Device::flex();
    let test = genzoo_datasets::load(DatasetKind::Mnist, Split::Test, &DataOptions::default())
        .expect("MNIST test set under GENZOO_DATA_DIR");
    let c = DomainClassifier::mnist(&device).expect("shipped weights");
    let acc = accuracy(&c.model, &test, &device);
    assert!(acc >= 0.99, "test accuracy {acc}");
    assert!(
        (acc - c.provenance.test_accuracy).abs() < 5e-4,
        "{acc} vs recorded {}",
        c.provenance.test_accuracy
    );
}
