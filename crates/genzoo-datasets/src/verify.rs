//! Checksums: SHA-256 of decompressed content (so a re-compressed copy of a canonical file is accepted)
//! and MD5 of raw downloaded archives where only MD5 sums are published.

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

/// Checks the SHA-256 of already-decompressed content.
pub fn check_sha256(file: &str, decompressed: &[u8], expected: &str) -> Result<()> {
    compare(file, "SHA-256", true, sha256_hex(decompressed), expected)
}

/// Checks the MD5 of a raw (still compressed) file.
pub fn check_md5(file: &str, raw: &[u8], expected: &str) -> Result<()> {
    compare(file, "MD5", false, crate::md5::md5_hex(raw), expected)
}

/// `Ok` if the digest `found` equals `expected` (either case of hex), else the checksum error
/// naming both.
fn compare(
    file: &str,
    algorithm: &'static str,
    decompressed: bool,
    found: String,
    expected: &str,
) -> Result<()> {
    if found.eq_ignore_ascii_case(expected) {
        Ok(())
    } else {
        Err(Error::Checksum {
            file: file.into(),
            algorithm,
            decompressed,
            expected: expected.into(),
            found,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_known_value_and_mismatch_message() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let e =
            check_sha256("mnist/t10k-labels-idx1-ubyte.gz", b"abc", "00ff").expect_err("mismatch");
        assert_eq!(
            e.to_string(),
            "mnist/t10k-labels-idx1-ubyte.gz: SHA-256 mismatch of the decompressed content: expected 00ff, \
             found ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(check_md5("a.tar.gz", b"abc", "900150983CD24FB0D6963F7D28E17F72").is_ok());
    }
}
