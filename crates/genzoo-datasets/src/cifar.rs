//! The CIFAR-10 binary format (Krizhevsky 2009, <https://www.cs.toronto.edu/~kriz/cifar.html>): a file is a
//! sequence of 3073-byte records, one label byte (0..10) then 3072 pixel bytes, the red, green and blue
//! 32×32 planes in turn (so each record's pixels are already `[C, H, W]`). `data_batch_1.bin` …
//! `data_batch_5.bin` hold 10,000 training records each, `test_batch.bin` the 10,000 test records.

use crate::error::{Error, Result};

/// Bytes per image: 3 × 32 × 32.
pub const IMAGE_BYTES: usize = 3 * 32 * 32;
/// Bytes per record: the label byte and the image.
pub const RECORD_BYTES: usize = 1 + IMAGE_BYTES;
/// Number of classes.
pub const CLASSES: u8 = 10;

/// Parses one CIFAR-10 binary batch into `(pixels [n, 3, 32, 32], labels [n])`.
pub fn parse_batch(file: &str, bytes: &[u8]) -> Result<(Vec<u8>, Vec<u8>)> {
    if bytes.is_empty() {
        return Err(Error::Truncated {
            file: file.into(),
            offset: 0,
            expected: RECORD_BYTES as u64,
            found: 0,
            what: "CIFAR-10 record",
        });
    }
    let whole = bytes.len() / RECORD_BYTES * RECORD_BYTES;
    if whole != bytes.len() {
        return Err(Error::Truncated {
            file: file.into(),
            offset: whole as u64,
            expected: RECORD_BYTES as u64,
            found: (bytes.len() - whole) as u64,
            what: "CIFAR-10 record (label byte + 3072 RGB bytes)",
        });
    }
    let n = bytes.len() / RECORD_BYTES;
    let mut pixels = Vec::with_capacity(n * IMAGE_BYTES);
    let mut labels = Vec::with_capacity(n);
    for (i, rec) in bytes.chunks_exact(RECORD_BYTES).enumerate() {
        if rec[0] >= CLASSES {
            return Err(Error::BadLabel {
                file: file.into(),
                offset: (i * RECORD_BYTES) as u64,
                classes: CLASSES,
                found: rec[0],
            });
        }
        labels.push(rec[0]);
        pixels.extend_from_slice(&rec[1..]);
    }
    Ok((pixels, labels))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    pub(crate) fn batch(n: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for i in 0..n {
            out.push((i % 10) as u8);
            out.extend((0..IMAGE_BYTES).map(|p| ((p + i) % 256) as u8));
        }
        out
    }

    #[test]
    fn valid_batch_parses_planar() {
        let (px, lb) = parse_batch("b", &batch(3)).expect("valid");
        assert_eq!(lb, [0, 1, 2]);
        assert_eq!(px.len(), 3 * IMAGE_BYTES);
        // Record 1's green plane starts at pixel byte 1024.
        assert_eq!(px[IMAGE_BYTES + 1024], ((1024 + 1) % 256) as u8);
    }

    #[test]
    fn every_truncated_prefix_is_a_named_error() {
        let f = batch(2);
        for cut in 0..f.len() {
            if cut == RECORD_BYTES {
                continue; // one whole record is a valid file
            }
            let r = parse_batch("b", &f[..cut]);
            assert!(
                matches!(r, Err(Error::Truncated { .. })),
                "cut {cut}: {r:?}"
            );
        }
        let e = parse_batch("data_batch_1.bin", &f[..RECORD_BYTES + 10]).expect_err("truncated");
        assert_eq!(
            e.to_string(),
            "data_batch_1.bin: truncated at byte 3073: expected 3073 more bytes \
             (CIFAR-10 record (label byte + 3072 RGB bytes)), found 10"
        );
    }

    #[test]
    fn bad_label_names_record_offset() {
        let mut f = batch(3);
        f[2 * RECORD_BYTES] = 200;
        let e = parse_batch("b", &f).expect_err("bad label");
        assert!(
            matches!(
                e,
                Error::BadLabel {
                    offset: 6146,
                    found: 200,
                    ..
                }
            ),
            "{e:?}"
        );
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..8000)) {
            let _ = parse_batch("b", &bytes);
        }
    }
}
