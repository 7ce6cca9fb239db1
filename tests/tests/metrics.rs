//! The shipped metrics feature extractor on the real MNIST test set (runs when `GENZOO_DATA_DIR`
//! points at a folder holding `mnist/`; the embedded subset is checked in genzoo-metrics itself).

use burn::tensor::Device;
use genzoo_datasets::{DataOptions, DatasetKind, Split};
use genzoo_metrics::classifier::{DomainClassifier, accuracy};

#[test]
fn shipped_lenet_reaches_99_percent_on_the_mnist_test_set() {
    if std::env::var_os(genzoo_datasets::DATA_DIR_ENV).is_none() {
        eprintln!("GENZOO_DATA_DIR not set: skipping the full-MNIST accuracy check");
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
