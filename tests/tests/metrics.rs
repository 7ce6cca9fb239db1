//! The shipped metrics feature extractors on the real MNIST and Fashion-MNIST test sets (run when
//! `GENZOO_DATA_DIR` points at the datasets, as in CI, where their absence is an error; the
//! embedded MNIST subset is checked in genzoo-metrics itself).

use burn::tensor::Device;
use genzoo_datasets::{DataOptions, DatasetKind, Split};
use genzoo_metrics::classifier::{DomainClassifier, accuracy};

/// The shipped classifier `shipped` reaches `at_least` on the test set of `kind`, and the
/// accuracy its provenance records.
fn check_shipped(
    kind: DatasetKind,
    shipped: fn(&Device) -> genzoo_metrics::Result<DomainClassifier>,
    at_least: f64,
) {
    if genzoo_tests::data_dir("the real-test-set accuracy check").is_none() {
        return;
    }
    let device = Device::flex();
    let test = genzoo_datasets::load(kind, Split::Test, &DataOptions::default())
        .unwrap_or_else(|e| panic!("{kind:?} test set under GENZOO_DATA_DIR: {e}"));
    let c = shipped(&device).expect("shipped weights");
    let acc = accuracy(&c.model, &test, &device);
    assert!(acc >= at_least, "{kind:?} test accuracy {acc}");
    assert!(
        (acc - c.provenance.test_accuracy).abs() < 5e-4,
        "{acc} vs recorded {}",
        c.provenance.test_accuracy
    );
}

#[test]
fn shipped_lenet_reaches_90_percent_on_the_fashion_mnist_test_set() {
    check_shipped(
        DatasetKind::FashionMnist,
        DomainClassifier::fashion_mnist,
        0.90,
    );
}

#[test]
fn shipped_lenet_reaches_99_percent_on_the_mnist_test_set() {
    check_shipped(DatasetKind::Mnist, DomainClassifier::mnist, 0.99);
}
