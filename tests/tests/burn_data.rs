//! genzoo's image sets in burn's own data pipeline: `ImageSet` is a burn `Dataset`, `ImageBatcher`
//! a burn `Batcher`, and burn's `DataLoader` built from them yields the batches genzoo's own
//! `ImageSet::batch` makes.

use burn::data::dataloader::DataLoaderBuilder;
use burn::tensor::{Device, Int, Tensor};
use genzoo_datasets::{Binarization, DataOptions, DatasetKind, ImageBatch, ImageSet, Split, load};

fn floats(t: Tensor<4>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .expect("f32")
}

fn ints(t: Tensor<1, Int>) -> Vec<i64> {
    t.into_data()
        .convert::<i64>()
        .try_to_vec::<i64>()
        .expect("i64")
}

/// Every batch a loader over `set` yields, images and labels concatenated, and the batch count.
fn drain(
    set: &ImageSet,
    binarization: Binarization,
    batch_size: usize,
    shuffle: Option<u64>,
) -> (Vec<f32>, Vec<i64>, usize) {
    let mut builder = DataLoaderBuilder::new(genzoo_datasets::ImageBatcher::new(binarization))
        .batch_size(batch_size)
        .set_device(Device::flex());
    if let Some(seed) = shuffle {
        builder = builder.shuffle(seed);
    }
    let loader = builder.build(set.clone());
    assert_eq!(loader.num_items(), set.len());
    let (mut images, mut labels, mut batches) = (vec![], vec![], 0);
    for batch in loader.iter() {
        let ImageBatch {
            images: x,
            labels: y,
        } = batch.expect("a batch");
        assert!(x.dims()[0] <= batch_size);
        images.extend(floats(x));
        labels.extend(ints(y));
        batches += 1;
    }
    (images, labels, batches)
}

#[test]
fn burn_data_loader_yields_the_sets_own_batches() {
    let set = load(DatasetKind::MnistMini, Split::Test, &DataOptions::default()).expect("mini");
    let n = set.len();
    let everything: Vec<usize> = (0..n).collect();
    let direct = set.batch(&everything, Binarization::threshold(), 0, &Device::flex());

    // In order: the same pixels, binarized the same way, and the same labels.
    let (images, labels, batches) = drain(&set, Binarization::threshold(), 16, None);
    assert_eq!(batches, n.div_ceil(16));
    assert_eq!(images, floats(direct.images));
    assert_eq!(labels, ints(direct.labels.clone()));

    // Shuffled: another order, every image exactly once.
    let plain = floats(
        set.batch(&everything, Binarization::None, 0, &Device::flex())
            .images,
    );
    let (images, labels, _) = drain(&set, Binarization::None, 10, Some(3));
    assert_ne!(
        labels,
        ints(direct.labels.clone()),
        "shuffling changes the order"
    );
    let per_image = 784;
    let rows = |v: &[f32], l: &[i64]| {
        let mut rows: Vec<(i64, Vec<u32>)> = v
            .chunks(per_image)
            .zip(l)
            .map(|(px, &label)| (label, px.iter().map(|p| p.to_bits()).collect()))
            .collect();
        rows.sort();
        rows
    };
    assert_eq!(
        rows(&images, &labels),
        rows(&plain, &ints(direct.labels)),
        "the shuffled loader yields each (image, label) once"
    );

    // Past the end: an error that names the index, as burn's trait has it (no panic).
    let err = burn::data::dataset::Dataset::get(&set, n).expect_err("past the end");
    assert_eq!(err.to_string(), format!("item {n} of an image set of {n}"));
}
