//! In-memory image sets and their conversion to burn tensors.
//!
//! With the feature `burn-data`, [`ImageSet`] is a burn `Dataset<ImageItem>` and [`ImageBatcher`] a burn
//! `Batcher<ImageItem, ImageBatch>`, so burn's `DataLoaderBuilder` takes them (batch size, shuffling, worker
//! threads). The feature is off by default because it compiles burn's dataset crate; genzoo's own loop uses
//! [`ImageSet::batch`] with [`epoch_order`] instead, which is what makes a resumed run see the same batches.

use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::binarize::Binarization;
use crate::error::{Error, Result};
use crate::rng::{Rng, derive_seed};

/// `u8` images stored contiguously as `[len, channels, height, width]`, with one label each.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageSet {
    images: Vec<u8>,
    labels: Vec<u8>,
    len: usize,
    channels: usize,
    height: usize,
    width: usize,
}

/// One image and its label, as handed to a batcher.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageItem {
    /// Pixels, `[C, H, W]` row-major.
    pub image: Vec<u8>,
    /// Class label.
    pub label: u8,
    /// Index of the item in its [`ImageSet`]; keys dynamic binarization.
    pub index: usize,
    /// `[C, H, W]`.
    pub shape: [usize; 3],
}

impl ImageSet {
    /// Builds a set from pixel and label buffers; fails if the sizes disagree.
    pub fn new(images: Vec<u8>, labels: Vec<u8>, shape: [usize; 3]) -> Result<Self> {
        let [channels, height, width] = shape;
        let per = channels
            .checked_mul(height)
            .and_then(|x| x.checked_mul(width));
        let expected = per.and_then(|p| p.checked_mul(labels.len()));
        if per == Some(0) || expected != Some(images.len()) {
            return Err(Error::BadShape {
                file: "<in-memory image set>".into(),
                offset: 0,
                expected: format!(
                    "{} labels × {shape:?} = {expected:?} pixel bytes",
                    labels.len()
                ),
                found: format!("{} pixel bytes", images.len()),
            });
        }
        Ok(Self {
            len: labels.len(),
            images,
            labels,
            channels,
            height,
            width,
        })
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// `[C, H, W]`.
    pub fn shape(&self) -> [usize; 3] {
        [self.channels, self.height, self.width]
    }

    /// Bytes per image.
    pub fn image_len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// Image `i` as `[C, H, W]` bytes. Panics if `i >= len()`.
    pub fn image(&self, i: usize) -> &[u8] {
        assert!(
            i < self.len,
            "image index {i} out of range for a set of {}",
            self.len
        );
        let n = self.image_len();
        &self.images[i * n..(i + 1) * n]
    }

    /// Label of image `i`. Panics if `i >= len()`.
    pub fn label(&self, i: usize) -> u8 {
        self.labels[i]
    }

    /// All pixels, `[len, C, H, W]`.
    pub fn images(&self) -> &[u8] {
        &self.images
    }

    /// All labels.
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// Item `i`, or `None` past the end (burn's `Dataset::get` contract).
    pub fn get(&self, i: usize) -> Option<ImageItem> {
        (i < self.len).then(|| ImageItem {
            image: self.image(i).to_vec(),
            label: self.labels[i],
            index: i,
            shape: self.shape(),
        })
    }

    /// The first `n` items (or all, if fewer), e.g. for quick runs.
    pub fn take(&self, n: usize) -> ImageSet {
        let n = n.min(self.len);
        Self {
            images: self.images[..n * self.image_len()].to_vec(),
            labels: self.labels[..n].to_vec(),
            len: n,
            ..*self
        }
    }

    /// The images (and labels) at `indices`, in that order. Panics on an index out of range, like
    /// slice indexing.
    pub fn select(&self, indices: &[usize]) -> ImageSet {
        let len = self.image_len();
        Self {
            images: indices
                .iter()
                .flat_map(|&i| &self.images[i * len..(i + 1) * len])
                .copied()
                .collect(),
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            len: indices.len(),
            ..*self
        }
    }

    /// Batches the items at `indices` directly (no intermediate [`ImageItem`]s). Panics on an index out of
    /// range, like slice indexing.
    pub fn batch(
        &self,
        indices: &[usize],
        binarization: Binarization,
        seed: u64,
        device: &Device,
    ) -> ImageBatch {
        let [c, h, w] = self.shape();
        let mut pixels = Vec::with_capacity(indices.len() * self.image_len());
        for &i in indices {
            binarization.apply_into(self.image(i), seed, i as u64, &mut pixels);
        }
        let labels = indices.iter().map(|&i| i64::from(self.labels[i])).collect();
        ImageBatch::from_parts(pixels, labels, [indices.len(), c, h, w], device)
    }
}

/// A batch on a device.
#[derive(Clone, Debug)]
pub struct ImageBatch {
    /// `[B, C, H, W]`, `f32` in `[0, 1]`.
    pub images: Tensor<4>,
    /// `[B]` class labels.
    pub labels: Tensor<1, Int>,
}

impl ImageBatch {
    fn from_parts(pixels: Vec<f32>, labels: Vec<i64>, shape: [usize; 4], device: &Device) -> Self {
        let b = shape[0];
        Self {
            images: Tensor::<4>::from_data(TensorData::new(pixels, shape), device),
            labels: Tensor::<1, Int>::from_data(TensorData::new(labels, [b]), device),
        }
    }
}

/// Turns [`ImageItem`]s into an [`ImageBatch`], applying a [`Binarization`].
#[derive(Clone, Debug, Default)]
pub struct ImageBatcher {
    /// How pixels become floats.
    pub binarization: Binarization,
    /// Seed for dynamic binarization in [`ImageBatcher::batch`]; draws are keyed by `(seed, item index)`.
    /// For fresh draws each epoch call [`ImageBatcher::batch_seeded`] with `derive_seed(seed, &[epoch])`.
    pub seed: u64,
}

impl ImageBatcher {
    /// A batcher with seed 0.
    pub fn new(binarization: Binarization) -> Self {
        Self {
            binarization,
            seed: 0,
        }
    }

    /// burn's `Batcher::batch` signature; uses `self.seed`.
    ///
    /// # Panics
    /// If the items have different shapes (a programming error: items come from one set).
    pub fn batch(&self, items: Vec<ImageItem>, device: &Device) -> ImageBatch {
        self.batch_seeded(items, self.seed, device)
    }

    /// Batches with an explicit seed for dynamic binarization.
    ///
    /// # Panics
    /// If `items` is empty or the items have different shapes.
    pub fn batch_seeded(&self, items: Vec<ImageItem>, seed: u64, device: &Device) -> ImageBatch {
        let shape = items
            .first()
            .map(|it| it.shape)
            .expect("ImageBatcher: cannot batch zero items");
        let [c, h, w] = shape;
        let mut pixels = Vec::with_capacity(items.len() * c * h * w);
        let mut labels = Vec::with_capacity(items.len());
        for it in &items {
            assert_eq!(
                it.shape, shape,
                "ImageBatcher: item {} has shape {:?}, expected {shape:?}",
                it.index, it.shape
            );
            self.binarization
                .apply_into(&it.image, seed, it.index as u64, &mut pixels);
            labels.push(i64::from(it.label));
        }
        ImageBatch::from_parts(pixels, labels, [items.len(), c, h, w], device)
    }
}

#[cfg(feature = "burn-data")]
impl burn::data::dataset::Dataset<ImageItem> for ImageSet {
    fn get(
        &self,
        index: usize,
    ) -> std::result::Result<ImageItem, burn::data::dataset::DatasetError> {
        ImageSet::get(self, index).ok_or_else(|| {
            burn::data::dataset::DatasetError::new(Error::Index {
                index,
                len: self.len,
            })
        })
    }

    fn len(&self) -> usize {
        ImageSet::len(self)
    }
}

#[cfg(feature = "burn-data")]
impl burn::data::dataloader::batcher::Batcher<ImageItem, ImageBatch> for ImageBatcher {
    fn batch(&self, items: Vec<ImageItem>, device: &Device) -> ImageBatch {
        ImageBatcher::batch(self, items, device)
    }
}

/// The visiting order for `epoch`: a permutation of `0..len` drawn from `derive_seed(seed, &[epoch])`, so a
/// run resumed at any epoch sees the same order as an uninterrupted one.
pub fn epoch_order(len: usize, seed: u64, epoch: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..len).collect();
    Rng::seed_from_u64(derive_seed(seed, &[epoch])).shuffle(&mut order);
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn set(n: usize) -> ImageSet {
        let images = (0..n * 2 * 3 * 2).map(|i| (i * 7 % 256) as u8).collect();
        ImageSet::new(images, (0..n).map(|i| (i % 10) as u8).collect(), [2, 3, 2])
            .expect("consistent")
    }

    #[test]
    fn accessors() {
        let s = set(4);
        assert_eq!((s.len(), s.shape(), s.image_len()), (4, [2, 3, 2], 12));
        assert_eq!(s.image(1), &s.images()[12..24]);
        assert_eq!(s.label(3), 3);
        assert!(s.get(4).is_none());
        assert_eq!(s.get(2).map(|it| it.index), Some(2));
        assert_eq!(s.take(2).len(), 2);
        let picked = s.select(&[3, 1, 3]);
        assert_eq!((picked.len(), picked.labels()), (3, &[3, 1, 3][..]));
        assert_eq!((picked.image(0), picked.image(1)), (s.image(3), s.image(1)));
        assert!(ImageSet::new(vec![0; 5], vec![0], [1, 2, 2]).is_err());
        assert!(ImageSet::new(vec![], vec![0], [0, 2, 2]).is_err());
    }

    #[test]
    fn batch_values_and_shapes() {
        let s = set(5);
        let dev = Device::flex();
        let b = s.batch(&[4, 0], Binarization::None, 0, &dev);
        assert_eq!(b.images.dims(), [2, 2, 3, 2]);
        assert_eq!(b.labels.dims(), [2]);
        let px: Vec<f32> = b.images.into_data().try_to_vec::<f32>().expect("f32");
        assert_eq!(px[0], f32::from(s.image(4)[0]) / 255.0);
        assert_eq!(px[12], f32::from(s.image(0)[0]) / 255.0);
        let lb: Vec<i64> = b
            .labels
            .into_data()
            .convert::<i64>()
            .try_to_vec::<i64>()
            .expect("i64");
        assert_eq!(lb, [4, 0]);
    }

    #[test]
    fn batcher_matches_set_batch_and_is_deterministic() {
        let s = set(6);
        let dev = Device::flex();
        let batcher = ImageBatcher {
            binarization: Binarization::Dynamic,
            seed: 11,
        };
        let items: Vec<_> = [5, 1, 3].iter().filter_map(|&i| s.get(i)).collect();
        let a: Vec<f32> = batcher
            .batch(items.clone(), &dev)
            .images
            .into_data()
            .try_to_vec::<f32>()
            .expect("f32");
        let b: Vec<f32> = s
            .batch(&[5, 1, 3], Binarization::Dynamic, 11, &dev)
            .images
            .into_data()
            .try_to_vec::<f32>()
            .expect("f32");
        assert_eq!(a, b);
        // An item binarizes the same way whatever batch it is in.
        let single: Vec<f32> = batcher
            .batch(vec![items[1].clone()], &dev)
            .images
            .into_data()
            .try_to_vec::<f32>()
            .expect("f32");
        assert_eq!(&a[12..24], &single[..]);
        assert!(a.iter().all(|&v| v == 0.0 || v == 1.0));
    }

    #[test]
    fn epoch_order_is_a_reproducible_permutation() {
        let a = epoch_order(100, 7, 3);
        assert_eq!(a, epoch_order(100, 7, 3));
        assert_ne!(a, epoch_order(100, 7, 4));
        let mut s = a.clone();
        s.sort_unstable();
        assert_eq!(s, (0..100).collect::<Vec<_>>());
        assert!(epoch_order(0, 1, 1).is_empty());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn batches_keep_shapes(n in 1usize..8, picks in proptest::collection::vec(any::<usize>(), 1..6), mode in 0u8..3) {
            let s = set(n);
            let idx: Vec<usize> = picks.iter().map(|p| p % n).collect();
            let bin = [Binarization::None, Binarization::threshold(), Binarization::Dynamic][mode as usize];
            let b = s.batch(&idx, bin, 1, &Device::flex());
            prop_assert_eq!(b.images.dims(), [idx.len(), 2, 3, 2]);
            prop_assert_eq!(b.labels.dims(), [idx.len()]);
            let px: Vec<f32> = b.images.into_data().try_to_vec::<f32>().expect("f32");
            prop_assert!(px.iter().all(|v| (0.0..=1.0).contains(v)));
        }
    }
}
