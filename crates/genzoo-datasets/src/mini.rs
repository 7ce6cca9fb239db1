//! `mnist-mini`: the first 10,000 training and first 2,000 test MNIST images and labels, embedded in the
//! crate so that tests, examples and CI need no download.
//!
//! The four gzipped IDX files under `data/mnist-mini/` are produced deterministically from the canonical
//! MNIST files by `cargo xtask mnist-mini` (`xtask/src/mnist_mini.rs`): same headers with the item count
//! replaced, the first N items, gzip level 9 with a zeroed header timestamp.

use crate::error::Result;
use crate::image_set::ImageSet;
use crate::load::{Split, check_idx_images, check_idx_labels};
use crate::{gz, idx};

/// Training images in mnist-mini.
pub const TRAIN_LEN: usize = 10_000;
/// Test images in mnist-mini.
pub const TEST_LEN: usize = 2_000;

/// The embedded files: (name, gzipped bytes).
pub const FILES: [(&str, &[u8]); 4] = [
    (
        "train-images-idx3-ubyte.gz",
        include_bytes!("../data/mnist-mini/train-images-idx3-ubyte.gz"),
    ),
    (
        "train-labels-idx1-ubyte.gz",
        include_bytes!("../data/mnist-mini/train-labels-idx1-ubyte.gz"),
    ),
    (
        "t10k-images-idx3-ubyte.gz",
        include_bytes!("../data/mnist-mini/t10k-images-idx3-ubyte.gz"),
    ),
    (
        "t10k-labels-idx1-ubyte.gz",
        include_bytes!("../data/mnist-mini/t10k-labels-idx1-ubyte.gz"),
    ),
];

fn decompress(i: usize, len: u64) -> Result<(String, Vec<u8>)> {
    let (name, bytes) = FILES[i];
    let name = format!("mnist-mini/{name} (embedded)");
    let d = gz::maybe_gunzip(&name, bytes.to_vec(), len)?;
    Ok((name, d))
}

/// Loads a split of mnist-mini from the bytes embedded in the binary.
pub fn load(split: Split) -> Result<ImageSet> {
    let (first, n) = match split {
        Split::Train => (0, TRAIN_LEN),
        Split::Test => (2, TEST_LEN),
        Split::Valid => return Err(crate::load::no_split("mnist-mini", split)),
    };
    let (img_name, img) = decompress(first, 16 + 784 * n as u64)?;
    let (lbl_name, lbl) = decompress(first + 1, 8 + n as u64)?;
    idx::parse_pair(&img_name, &img, &lbl_name, &lbl, 10)?;
    let images = check_idx_images(&img_name, &img, n, 28, 28)?;
    let labels = check_idx_labels(&lbl_name, &lbl, n)?;
    ImageSet::new(images.pixels, labels, [1, 28, 28])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::sha256_hex;

    #[test]
    fn embedded_files_parse() {
        let train = load(Split::Train).expect("embedded train");
        let test = load(Split::Test).expect("embedded test");
        assert_eq!((train.len(), train.shape()), (TRAIN_LEN, [1, 28, 28]));
        assert_eq!(test.len(), TEST_LEN);
        assert!(train.labels().iter().chain(test.labels()).all(|&l| l < 10));
        // Every digit occurs, in roughly MNIST's proportions.
        for d in 0..10u8 {
            let c = train.labels().iter().filter(|&&l| l == d).count();
            assert!((800..1300).contains(&c), "digit {d}: {c}");
        }
        // MNIST's first training label is 5 and first test label is 7.
        assert_eq!((train.label(0), test.label(0)), (5, 7));
    }

    /// The embedded files are exactly the first N items of the canonical MNIST files: checked when
    /// `GENZOO_DATA_DIR` points at a folder holding `mnist/` (CI sets it to the shared copy).
    #[test]
    fn embedded_files_are_a_prefix_of_real_mnist() {
        let Some(root) = std::env::var_os(crate::load::DATA_DIR_ENV) else {
            return;
        };
        let dir = std::path::PathBuf::from(root).join("mnist");
        for (i, (name, _)) in FILES.iter().enumerate() {
            let n = if i < 2 { TRAIN_LEN } else { TEST_LEN };
            let (header, item) = if name.contains("images") {
                (16, 784)
            } else {
                (8, 1)
            };
            let raw =
                std::fs::read(dir.join(name)).expect("real MNIST file under GENZOO_DATA_DIR/mnist");
            let real = gz::maybe_gunzip(name, raw, 64 << 20).expect("real file decompresses");
            let mut want = real[..header + n * item].to_vec();
            want[4..8].copy_from_slice(&(n as u32).to_be_bytes());
            let (_, got) = decompress(i, 64 << 20).expect("embedded file decompresses");
            assert_eq!(sha256_hex(&got), sha256_hex(&want), "{name}");
        }
    }
}
