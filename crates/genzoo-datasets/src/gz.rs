//! Transparent gzip: bytes that start with the gzip magic `1f 8b` are decompressed, with a cap on the
//! output so that a hostile or corrupt file cannot make us allocate without bound.

use std::io::Read;

use crate::error::{Error, Result};

/// The two bytes every gzip member starts with (RFC 1952).
pub const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Whether `bytes` start like a gzip stream.
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&GZIP_MAGIC)
}

/// Returns `bytes` decompressed if they are gzip (all members), else unchanged; fails with
/// [`Error::TooLarge`] once the output would exceed `cap` bytes.
pub fn maybe_gunzip(file: &str, bytes: Vec<u8>, cap: u64) -> Result<Vec<u8>> {
    if !is_gzip(&bytes) {
        if bytes.len() as u64 > cap {
            return Err(Error::TooLarge {
                file: file.to_string(),
                limit: cap,
                decompressed: false,
            });
        }
        return Ok(bytes);
    }
    gunzip_capped(file, &bytes[..], cap)
}

/// Decompresses a gzip stream read from `reader`, failing once the output would exceed `cap` bytes.
pub fn gunzip_capped(file: &str, reader: impl Read, cap: u64) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    // `take(cap + 1)` bounds the allocation; `read_to_end` grows the buffer as bytes actually arrive.
    let mut decoder = flate2::read::MultiGzDecoder::new(reader).take(cap.saturating_add(1));
    if let Err(source) = decoder.read_to_end(&mut out) {
        return Err(Error::Gzip {
            file: file.to_string(),
            offset: out.len() as u64,
            source,
        });
    }
    if out.len() as u64 > cap {
        return Err(Error::TooLarge {
            file: file.to_string(),
            limit: cap,
            decompressed: true,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
        e.write_all(data).expect("in-memory write");
        e.finish().expect("in-memory write")
    }

    #[test]
    fn plain_bytes_pass_through() {
        assert_eq!(
            maybe_gunzip("f", vec![1, 2, 3], 10).ok(),
            Some(vec![1, 2, 3])
        );
        assert!(matches!(
            maybe_gunzip("f", vec![0; 11], 10),
            Err(Error::TooLarge {
                decompressed: false,
                ..
            })
        ));
    }

    #[test]
    fn gzip_round_trip_and_cap() {
        let data = vec![7u8; 10_000];
        let z = gz(&data);
        assert_eq!(maybe_gunzip("f", z.clone(), 10_000).ok(), Some(data));
        let err = maybe_gunzip("f.gz", z, 9_999);
        assert!(
            matches!(
                err,
                Err(Error::TooLarge {
                    decompressed: true,
                    limit: 9_999,
                    ..
                })
            ),
            "{err:?}"
        );
    }

    #[test]
    fn truncated_gzip_is_a_named_error() {
        let z = gz(&[1u8; 5000]);
        for cut in [2, 10, z.len() / 2, z.len() - 1] {
            let err = maybe_gunzip("x.gz", z[..cut].to_vec(), 1 << 20);
            match err {
                Err(e @ Error::Gzip { .. }) => {
                    assert!(e.to_string().starts_with("x.gz: corrupt gzip"))
                }
                other => panic!("cut {cut}: {other:?}"),
            }
        }
    }

    #[test]
    fn gzip_bomb_is_capped() {
        // 64 MiB of zeros compresses to ~64 KiB; a 1 MiB cap must stop it early.
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(9));
        let chunk = vec![0u8; 1 << 20];
        for _ in 0..64 {
            e.write_all(&chunk).expect("in-memory write");
        }
        let z = e.finish().expect("in-memory write");
        assert!(matches!(
            maybe_gunzip("bomb.gz", z, 1 << 20),
            Err(Error::TooLarge { .. })
        ));
    }
}
