//! The checkpoint file: everything needed to continue a run exactly.
//!
//! One file per checkpoint (`checkpoints/last.ckpt`, `checkpoints/best.ckpt`), so that a single
//! atomic rename publishes a consistent state: model weights, optimizer moments, step, epoch,
//! position in the epoch and RNG state can never come from two different moments.
//!
//! Layout (all integers little-endian):
//! ```text
//! 0   8 bytes   magic "GZCKPT02"
//! 8   u64       header length H
//! 16  32 bytes  SHA-256 of the header
//! 48  H bytes   JSON header: CheckpointMeta + [{name, len, sha256}] per section
//! ..  sections, concatenated in header order (burnpack bytes from burn's records)
//! ```
//! The header and every section carry their SHA-256, so a flipped bit anywhere (a step count, the
//! RNG state, a weight) or a truncated copy is a named error rather than a silently wrong resume.
//! Files of the first layout (`GZCKPT01`: no header hash, the header at offset 16) still load.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, IoContext, Result};
use crate::fsutil::write_atomic;

const MAGIC: &[u8; 8] = b"GZCKPT02";
/// The first layout, without the header's hash; read, never written.
const MAGIC_V1: &[u8; 8] = b"GZCKPT01";
const HASH_LEN: usize = 32;
/// Headers are small JSON objects; anything larger is corruption, not data.
const MAX_HEADER: u64 = 16 << 20;

/// Where a run stands: enough to continue it exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointMeta {
    /// The model name from the registry (`autoencoder`, `vae`, ...).
    pub model: String,
    /// Optimisation steps completed.
    pub step: u64,
    /// The epoch the next batch comes from.
    pub epoch: u64,
    /// Batches of that epoch already consumed.
    pub batch_in_epoch: u64,
    /// State of the run's RNG after `step` steps.
    pub rng: [u64; 4],
    /// The best value of the selection metric so far (lower is better), if any.
    pub best: Option<f64>,
    /// Version of genzoo that wrote the file.
    pub genzoo_version: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct SectionEntry {
    name: String,
    len: u64,
    sha256: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    meta: CheckpointMeta,
    sections: Vec<SectionEntry>,
}

/// A checkpoint in memory: its metadata and named binary sections (`model`, `optim`, `generator`, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    /// Step, epoch, RNG and model name.
    pub meta: CheckpointMeta,
    /// Named sections in write order.
    pub sections: Vec<(String, Vec<u8>)>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Checkpoint {
    /// The bytes of a section, or a mismatch error naming what the file does have.
    pub fn section(&self, path: &Path, name: &str) -> Result<&[u8]> {
        self.sections
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, b)| b.as_slice())
            .ok_or_else(|| Error::CheckpointMismatch {
                path: path.to_path_buf(),
                message: format!(
                    "no section '{name}' (the file has: {})",
                    self.sections
                        .iter()
                        .map(|(n, _)| n.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            })
    }

    /// Serializes the checkpoint.
    pub fn to_bytes(&self) -> Vec<u8> {
        let header = Header {
            meta: self.meta.clone(),
            sections: self
                .sections
                .iter()
                .map(|(name, bytes)| SectionEntry {
                    name: name.clone(),
                    len: bytes.len() as u64,
                    sha256: hex(&Sha256::digest(bytes)),
                })
                .collect(),
        };
        let header = serde_json::to_vec(&header).expect("checkpoint header serializes");
        let total = 16
            + HASH_LEN
            + header.len()
            + self.sections.iter().map(|(_, b)| b.len()).sum::<usize>();
        let mut out = Vec::with_capacity(total);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(header.len() as u64).to_le_bytes());
        out.extend_from_slice(&Sha256::digest(&header));
        out.extend_from_slice(&header);
        for (_, bytes) in &self.sections {
            out.extend_from_slice(bytes);
        }
        out
    }

    /// Parses a checkpoint; `path` is only used in error messages.
    pub fn from_bytes(path: &Path, bytes: &[u8]) -> Result<Self> {
        let corrupt = |message: String| Error::CorruptCheckpoint {
            path: path.to_path_buf(),
            message,
        };
        if bytes.len() < 16 {
            return Err(corrupt(format!(
                "file is {} bytes, shorter than the 16-byte preamble",
                bytes.len()
            )));
        }
        let hashed = match &bytes[..8] {
            m if m == MAGIC => true,
            m if m == MAGIC_V1 => false,
            m => {
                return Err(corrupt(format!(
                    "bad magic at offset 0: expected {:?}, found {:?}",
                    String::from_utf8_lossy(MAGIC),
                    String::from_utf8_lossy(m)
                )));
            }
        };
        let header_start = if hashed { 16 + HASH_LEN } else { 16 };
        if bytes.len() < header_start {
            return Err(corrupt(format!(
                "file is {} bytes, shorter than the {header_start}-byte preamble",
                bytes.len()
            )));
        }
        let header_len = u64::from_le_bytes(bytes[8..16].try_into().expect("8 bytes"));
        let available = (bytes.len() - header_start) as u64;
        if header_len > MAX_HEADER || header_len > available {
            return Err(corrupt(format!(
                "header length at offset 8 is {header_len}, but only {available} bytes follow"
            )));
        }
        let body_start = header_start + header_len as usize;
        let header_bytes = &bytes[header_start..body_start];
        if hashed {
            let expected = hex(&bytes[16..header_start]);
            let found = hex(&Sha256::digest(header_bytes));
            if found != expected {
                return Err(corrupt(format!(
                    "header at offset {header_start}: SHA-256 expected {expected}, found {found} (step, epoch or RNG state damaged)"
                )));
            }
        }
        let header: Header = serde_json::from_slice(header_bytes)
            .map_err(|e| corrupt(format!("header at offset {header_start} is not valid: {e}")))?;
        let mut offset = body_start;
        let mut sections = Vec::with_capacity(header.sections.len());
        for entry in header.sections {
            let remaining = (bytes.len() - offset) as u64;
            if entry.len > remaining {
                return Err(corrupt(format!(
                    "section '{}' at offset {offset} needs {} bytes, only {remaining} remain (truncated file?)",
                    entry.name, entry.len
                )));
            }
            let data = &bytes[offset..offset + entry.len as usize];
            let found = hex(&Sha256::digest(data));
            if found != entry.sha256 {
                return Err(corrupt(format!(
                    "section '{}' at offset {offset}: SHA-256 expected {}, found {found}",
                    entry.name, entry.sha256
                )));
            }
            sections.push((entry.name, data.to_vec()));
            offset += entry.len as usize;
        }
        if offset != bytes.len() {
            return Err(corrupt(format!(
                "{} unexpected bytes after the last section at offset {offset}",
                bytes.len() - offset
            )));
        }
        Ok(Self {
            meta: header.meta,
            sections,
        })
    }

    /// Writes the checkpoint atomically (temporary file, fsync, rename).
    pub fn save(&self, path: &Path) -> Result<()> {
        write_atomic(path, &self.to_bytes()).at(path)
    }

    /// Reads and verifies a checkpoint file.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).at(path)?;
        Self::from_bytes(path, &bytes)
    }

    /// Checks that the checkpoint was written for `model`.
    pub fn expect_model(&self, path: &Path, model: &str) -> Result<()> {
        if self.meta.model != model {
            return Err(Error::CheckpointMismatch {
                path: PathBuf::from(path),
                message: format!(
                    "it was written by model '{}', not '{model}'",
                    self.meta.model
                ),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> Checkpoint {
        Checkpoint {
            meta: CheckpointMeta {
                model: "autoencoder".into(),
                step: 12,
                epoch: 1,
                batch_in_epoch: 3,
                rng: [1, 2, 3, u64::MAX],
                best: Some(0.25),
                genzoo_version: "0.1.0".into(),
            },
            sections: vec![
                ("model".into(), vec![7; 100]),
                ("optim".into(), (0..=255).collect()),
            ],
        }
    }

    #[test]
    fn round_trips_through_a_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("last.ckpt");
        sample().save(&p).expect("save");
        assert_eq!(Checkpoint::load(&p).expect("load"), sample());
    }

    #[test]
    fn every_truncation_is_a_named_error() {
        let bytes = sample().to_bytes();
        for cut in 0..bytes.len() {
            let err =
                Checkpoint::from_bytes(Path::new("x.ckpt"), &bytes[..cut]).expect_err("truncated");
            assert!(
                matches!(err, Error::CorruptCheckpoint { .. }),
                "cut {cut}: {err}"
            );
            assert!(err.to_string().contains("x.ckpt"));
        }
    }

    #[test]
    fn a_flipped_bit_in_a_section_is_caught_with_both_hashes() {
        let mut bytes = sample().to_bytes();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let err = Checkpoint::from_bytes(Path::new("x.ckpt"), &bytes).expect_err("corrupt");
        let msg = err.to_string();
        assert!(
            msg.contains("section 'optim'") && msg.contains("expected") && msg.contains("found"),
            "{msg}"
        );
    }

    #[test]
    fn wrong_model_and_missing_section_are_mismatches() {
        let c = sample();
        let p = Path::new("x.ckpt");
        assert!(c.expect_model(p, "autoencoder").is_ok());
        let err = c.expect_model(p, "pixelcnn").expect_err("other model");
        assert!(
            err.to_string().contains("'autoencoder', not 'pixelcnn'"),
            "{err}"
        );
        let err = c.section(p, "generator").expect_err("missing");
        assert!(err.to_string().contains("model, optim"), "{err}");
    }

    #[test]
    fn a_flipped_bit_anywhere_in_the_header_is_caught() {
        let bytes = sample().to_bytes();
        let header_len = u64::from_le_bytes(bytes[8..16].try_into().expect("8 bytes")) as usize;
        for pos in 8..16 + HASH_LEN + header_len {
            for bit in [0u8, 3, 7] {
                let mut b = bytes.clone();
                b[pos] ^= 1 << bit;
                let err = Checkpoint::from_bytes(Path::new("x.ckpt"), &b)
                    .expect_err("a damaged header must not load");
                assert!(
                    matches!(err, Error::CorruptCheckpoint { .. }),
                    "byte {pos}: {err}"
                );
            }
        }
        // The issue the hash closes: `"step":12` turned into `"step":13` by one bit.
        let at = find(&bytes, b"\"step\":12").expect("step in header") + 8;
        let mut b = bytes.clone();
        b[at] ^= 1;
        let msg = Checkpoint::from_bytes(Path::new("x.ckpt"), &b)
            .expect_err("step changed")
            .to_string();
        assert!(msg.contains("header") && msg.contains("SHA-256"), "{msg}");
    }

    #[test]
    fn files_of_the_first_layout_still_load() {
        let current = sample().to_bytes();
        let header_len = u64::from_le_bytes(current[8..16].try_into().expect("8 bytes")) as usize;
        let mut v1 = MAGIC_V1.to_vec();
        v1.extend_from_slice(&current[8..16]);
        v1.extend_from_slice(&current[16 + HASH_LEN..]);
        assert_eq!(v1.len(), current.len() - HASH_LEN);
        assert_eq!(
            Checkpoint::from_bytes(Path::new("x.ckpt"), &v1).expect("v1 loads"),
            sample()
        );
        assert!(header_len > 0);
    }

    fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
        hay.windows(needle.len()).position(|w| w == needle)
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = Checkpoint::from_bytes(Path::new("x"), &bytes);
        }

        #[test]
        fn arbitrary_bytes_after_magic_never_panic(mut tail in proptest::collection::vec(any::<u8>(), 0..512)) {
            let mut bytes = MAGIC.to_vec();
            bytes.append(&mut tail);
            let _ = Checkpoint::from_bytes(Path::new("x"), &bytes);
        }
    }
}
