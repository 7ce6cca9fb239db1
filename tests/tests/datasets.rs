//! The datasets on the real files (under `GENZOO_DATA_DIR`, which CI sets; without it the checks
//! fail under `CI=true` and are skipped, saying so, elsewhere).
//!
//! Fashion-MNIST's two splits hold each of the ten classes exactly 6,000 and 1,000 times (as its
//! authors publish). The fixed binarized MNIST's published test rows are MNIST's test images stably sorted by label, then binarized by
//! drawing each pixel from Bernoulli(intensity / 255). So, independently of how the parser reads
//! the text: a `1` never falls on a pixel whose MNIST intensity is 0, and the share of ones is the
//! mean intensity / 255 to within the sampling noise.

use genzoo_datasets::{DataOptions, DatasetKind, Split, load};

/// Where the real datasets are, or `None` (the check is skipped) where that is not set.
fn options(what: &str) -> Option<DataOptions> {
    Some(DataOptions {
        data_dir: Some(genzoo_tests::data_dir(what)?),
        ..DataOptions::default()
    })
}

#[test]
fn the_fixed_binarized_mnist_is_mnist_test_sorted_by_label_and_binarized() {
    let Some(opts) = options("the binarized-MNIST check") else {
        return;
    };
    let kind = DatasetKind::BinarizedMnist;
    for (split, n) in [
        (Split::Train, 50_000),
        (Split::Valid, 10_000),
        (Split::Test, 10_000),
    ] {
        let set = load(kind, split, &opts).expect("binarized MNIST split");
        assert_eq!((set.len(), set.shape()), (n, [1, 28, 28]), "{split:?}");
        assert!(
            set.images().iter().all(|&p| p == 0 || p == 255),
            "{split:?}: only 0 and 255"
        );
    }
    let binarized = load(kind, Split::Test, &opts).expect("test split");
    let mnist = load(DatasetKind::Mnist, Split::Test, &opts).expect("MNIST test set");
    let mut order: Vec<usize> = (0..mnist.len()).collect();
    order.sort_by_key(|&i| mnist.labels()[i]); // stable
    let (mut ones, mut intensity) = (0u64, 0f64);
    for (row, &i) in order.iter().enumerate() {
        let (b, m) = (binarized.image(row), mnist.image(i));
        let stray = b
            .iter()
            .zip(m)
            .filter(|&(&b, &m)| b == 255 && m == 0)
            .count();
        assert_eq!(
            stray, 0,
            "row {row} (MNIST test image {i}): a 1 on a blank pixel"
        );
        ones += b.iter().filter(|&&p| p == 255).count() as u64;
        intensity += m.iter().map(|&p| f64::from(p) / 255.0).sum::<f64>();
    }
    let pixels = (mnist.len() * 784) as f64;
    let (share, mean) = (ones as f64 / pixels, intensity / pixels);
    // Bernoulli noise over 7.84 M pixels: a standard deviation of about 1.2e-4.
    assert!(
        (share - mean).abs() < 2e-3,
        "share of ones {share} against mean intensity {mean}"
    );
}

#[test]
fn fashion_mnist_loads_verified_with_every_class_equally_often() {
    let Some(opts) = options("the Fashion-MNIST check") else {
        return;
    };
    for (split, n) in [(Split::Train, 60_000), (Split::Test, 10_000)] {
        let set =
            load(DatasetKind::FashionMnist, split, &opts).expect("Fashion-MNIST, SHA-256 checked");
        assert_eq!((set.len(), set.shape()), (n, [1, 28, 28]), "{split:?}");
        let mut counts = [0usize; 10];
        for &l in set.labels() {
            counts[usize::from(l)] += 1;
        }
        assert_eq!(counts, [n / 10; 10], "{split:?}");
    }
}
