//! The IDX format of MNIST and Fashion-MNIST (LeCun et al., <http://yann.lecun.com/exdb/mnist/>):
//! a 4-byte magic `00 00 <dtype> <rank>`, `rank` big-endian `u32` dimensions, then the data row-major.
//! Only dtype `0x08` (unsigned byte) is accepted: it is the only one these datasets use.
//!
//! The parsers take decompressed bytes (see [`crate::gz::maybe_gunzip`]) and check every declared size
//! against the bytes actually present before touching or allocating anything.

use crate::error::{Error, Result};

/// A parsed rank-3 IDX file of `u8` images.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxImages {
    /// Number of images.
    pub count: usize,
    /// Rows per image.
    pub rows: usize,
    /// Columns per image.
    pub cols: usize,
    /// `count * rows * cols` bytes, row-major.
    pub pixels: Vec<u8>,
}

/// Human name of an IDX dtype byte, for error messages.
fn dtype_name(b: u8) -> &'static str {
    match b {
        0x08 => "unsigned byte",
        0x09 => "signed byte",
        0x0B => "i16",
        0x0C => "i32",
        0x0D => "f32",
        0x0E => "f64",
        _ => "not an IDX type",
    }
}

/// Checks the IDX header and returns the dimensions and the header length.
fn header(file: &str, bytes: &[u8], rank: u8) -> Result<(Vec<u64>, usize)> {
    if bytes.len() < 4 {
        return Err(Error::Truncated {
            file: file.into(),
            offset: 0,
            expected: 4,
            found: bytes.len() as u64,
            what: "IDX magic number",
        });
    }
    if bytes[0] != 0 || bytes[1] != 0 {
        return Err(Error::BadMagic {
            file: file.into(),
            offset: 0,
            expected: format!("00 00 08 {rank:02x} (IDX, u8, rank {rank})"),
            found: format!(
                "{:02x} {:02x} {:02x} {:02x}",
                bytes[0], bytes[1], bytes[2], bytes[3]
            ),
        });
    }
    if bytes[2] != 0x08 {
        return Err(Error::BadDtype {
            file: file.into(),
            found: bytes[2],
            name: dtype_name(bytes[2]),
        });
    }
    if bytes[3] != rank {
        return Err(Error::BadRank {
            file: file.into(),
            expected: rank,
            found: bytes[3],
        });
    }
    let header_len = 4 + 4 * usize::from(rank);
    if bytes.len() < header_len {
        return Err(Error::Truncated {
            file: file.into(),
            offset: 4,
            expected: 4 * u64::from(rank),
            found: bytes.len() as u64 - 4,
            what: "IDX dimensions",
        });
    }
    let dims = bytes[4..header_len]
        .chunks_exact(4)
        .map(|c| u64::from(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
        .collect::<Vec<_>>();
    let available = (bytes.len() - header_len) as u64;
    let needed = dims.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d));
    match needed {
        None => Err(Error::AbsurdSize {
            file: file.into(),
            offset: 4,
            dims,
            needed: u64::MAX,
            available,
        }),
        Some(needed) if needed > available => {
            // A plausible count cut short is a truncated file; a size beyond any real file is absurd.
            if needed > available.saturating_mul(2).max(1 << 30) {
                Err(Error::AbsurdSize {
                    file: file.into(),
                    offset: 4,
                    dims,
                    needed,
                    available,
                })
            } else {
                Err(Error::Truncated {
                    file: file.into(),
                    offset: header_len as u64,
                    expected: needed,
                    found: available,
                    what: "IDX data",
                })
            }
        }
        Some(needed) if needed < available => Err(Error::TrailingData {
            file: file.into(),
            offset: header_len as u64 + needed,
            found: available - needed,
        }),
        Some(_) => Ok((dims, header_len)),
    }
}

/// Parses a rank-3 `u8` IDX images file (`[count, rows, cols]`).
pub fn parse_images(file: &str, bytes: &[u8]) -> Result<IdxImages> {
    let (dims, h) = header(file, bytes, 3)?;
    // The product fits in the byte length, so each factor fits in usize.
    let [count, rows, cols] = [dims[0] as usize, dims[1] as usize, dims[2] as usize];
    Ok(IdxImages {
        count,
        rows,
        cols,
        pixels: bytes[h..].to_vec(),
    })
}

/// Parses a rank-1 `u8` IDX labels file and checks every label is below `classes`.
pub fn parse_labels(file: &str, bytes: &[u8], classes: u8) -> Result<Vec<u8>> {
    let (_, h) = header(file, bytes, 1)?;
    let labels = &bytes[h..];
    if let Some(i) = labels.iter().position(|&l| l >= classes) {
        return Err(Error::BadLabel {
            file: file.into(),
            offset: (h + i) as u64,
            classes,
            found: labels[i],
        });
    }
    Ok(labels.to_vec())
}

/// Parses an images file and its labels file and checks they hold the same number of items.
pub fn parse_pair(
    images_file: &str,
    images: &[u8],
    labels_file: &str,
    labels: &[u8],
    classes: u8,
) -> Result<(IdxImages, Vec<u8>)> {
    let im = parse_images(images_file, images)?;
    let lb = parse_labels(labels_file, labels, classes)?;
    if im.count != lb.len() {
        return Err(Error::CountMismatch {
            images: images_file.into(),
            image_count: im.count as u64,
            labels: labels_file.into(),
            label_count: lb.len() as u64,
        });
    }
    Ok((im, lb))
}

/// Serializes an IDX `u8` file: used by tests and by the mnist-mini generator's checks.
pub fn encode(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn images(n: u32) -> Vec<u8> {
        let data: Vec<u8> = (0..n * 4 * 3).map(|i| (i % 251) as u8).collect();
        encode(&[n, 4, 3], &data)
    }

    fn labels(n: u32) -> Vec<u8> {
        encode(&[n], &(0..n).map(|i| (i % 10) as u8).collect::<Vec<_>>())
    }

    #[test]
    fn valid_files_parse() {
        let im = parse_images("im", &images(5)).expect("valid");
        assert_eq!((im.count, im.rows, im.cols, im.pixels.len()), (5, 4, 3, 60));
        assert_eq!(im.pixels[13], 13);
        assert_eq!(parse_labels("lb", &labels(12), 10).expect("valid")[11], 1);
        let empty = parse_images("im", &images(0)).expect("zero items is structurally valid");
        assert_eq!(empty.count, 0);
    }

    #[test]
    fn every_truncated_prefix_is_a_named_error() {
        for file in [images(3), labels(7)] {
            for cut in 0..file.len() {
                let r = if file[3] == 3 {
                    parse_images("f", &file[..cut]).map(|_| ())
                } else {
                    parse_labels("f", &file[..cut], 10).map(|_| ())
                };
                assert!(
                    matches!(r, Err(Error::Truncated { .. })),
                    "cut {cut}: {r:?}"
                );
            }
        }
    }

    #[test]
    fn truncated_message_names_file_offset_expected_found() {
        let f = images(2);
        let e = parse_images("train-images", &f[..f.len() - 5]).expect_err("truncated");
        assert_eq!(
            e.to_string(),
            "train-images: truncated at byte 16: expected 24 more bytes (IDX data), found 19"
        );
    }

    /// A corrupt magic number or data type byte: the error of its kind, naming what was expected.
    #[test]
    fn wrong_magic_or_dtype() {
        // (byte, value written there, the error's kind, what its message says was expected)
        type Case = (usize, u8, fn(&Error) -> bool, &'static str);
        let cases: [Case; 2] = [
            (
                1,
                7,
                |e| matches!(e, Error::BadMagic { offset: 0, .. }),
                "expected 00 00 08 03",
            ),
            (
                2,
                0x0D,
                |e| matches!(e, Error::BadDtype { found: 0x0D, .. }),
                "expected 0x08 (u8), found 0x0d (f32)",
            ),
        ];
        for (at, byte, is_kind, message) in cases {
            let mut f = images(1);
            f[at] = byte;
            let e = parse_images("f", &f).expect_err("bad header");
            assert!(is_kind(&e), "{e:?}");
            assert!(e.to_string().contains(message), "{e}");
        }
    }

    #[test]
    fn wrong_rank() {
        assert!(matches!(
            parse_labels("f", &images(1), 10),
            Err(Error::BadRank {
                expected: 1,
                found: 3,
                ..
            })
        ));
        assert!(matches!(
            parse_images("f", &labels(1)),
            Err(Error::BadRank {
                expected: 3,
                found: 1,
                ..
            })
        ));
    }

    #[test]
    fn trailing_bytes() {
        let mut f = labels(4);
        f.extend_from_slice(&[0, 0]);
        assert!(matches!(
            parse_labels("f", &f, 10),
            Err(Error::TrailingData {
                offset: 12,
                found: 2,
                ..
            })
        ));
    }

    #[test]
    fn absurd_sizes_do_not_allocate() {
        // 2^32-1 cubed overflows u64; 60000 x 65535 x 65535 does not but exceeds the bytes present.
        let overflow = encode(&[u32::MAX, u32::MAX, u32::MAX], &[1, 2, 3]);
        assert!(matches!(
            parse_images("f", &overflow),
            Err(Error::AbsurdSize {
                needed: u64::MAX,
                ..
            })
        ));
        let huge = encode(&[60_000, 65_535, 65_535], &[0; 100]);
        let e = parse_images("f", &huge).expect_err("absurd");
        assert!(
            matches!(e, Error::AbsurdSize { available: 100, .. }),
            "{e:?}"
        );
    }

    #[test]
    fn label_out_of_range() {
        let f = encode(&[3], &[1, 10, 2]);
        let e = parse_labels("lb", &f, 10).expect_err("bad label");
        assert_eq!(
            e.to_string(),
            "lb: label out of range at byte 9: expected 0..10, found 10"
        );
    }

    #[test]
    fn images_and_labels_disagree() {
        let e = parse_pair("im", &images(3), "lb", &labels(4), 10).expect_err("mismatch");
        assert_eq!(
            e.to_string(),
            "im holds 3 images but lb holds 4 labels: expected equal counts"
        );
        assert!(parse_pair("im", &images(4), "lb", &labels(4), 10).is_ok());
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse_images("f", &bytes);
            let _ = parse_labels("f", &bytes, 10);
        }

        #[test]
        fn arbitrary_gzip_streams_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut bytes = crate::gz::GZIP_MAGIC.to_vec();
            bytes.extend(tail);
            if let Ok(d) = crate::gz::maybe_gunzip("f.gz", bytes, 1 << 16) {
                let _ = parse_images("f.gz", &d);
            }
        }

        #[test]
        fn mutated_valid_files_never_panic(
            n in 0u32..6,
            edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..6),
            cut in any::<usize>(),
        ) {
            for mut f in [images(n), labels(n)] {
                for &(pos, b) in &edits {
                    let len = f.len();
                    f[pos % len] = b;
                }
                let cut = cut % (f.len() + 1);
                let _ = parse_images("f", &f[..cut]);
                let _ = parse_labels("f", &f[..cut], 10);
            }
        }
    }
}
