//! `cargo xtask mnist-mini`: writes the embedded mnist-mini subset of `genzoo-datasets`.
//!
//! Reads the four canonical MNIST files (gzipped or not) from `src_dir`, checks the SHA-256 of their
//! decompressed content, keeps the first 10,000 training and 2,000 test items (the IDX header's item count
//! rewritten), and writes them gzipped to `out_dir`. The output is byte-for-byte deterministic: fixed
//! compression level 9, header mtime 0, OS byte 255 ("unknown"), no file name in the header.

use std::fs;
use std::io::{Read, Write};
use std::path::Path;

use anyhow::{Context, Result, bail, ensure};
use flate2::{Compression, GzBuilder, read::MultiGzDecoder};
use sha2::{Digest, Sha256};

/// (file name, SHA-256 of the decompressed canonical file, items kept, header bytes, bytes per item).
const FILES: [(&str, &str, usize, usize, usize); 4] = [
    (
        "train-images-idx3-ubyte.gz",
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        10_000,
        16,
        784,
    ),
    (
        "train-labels-idx1-ubyte.gz",
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        10_000,
        8,
        1,
    ),
    (
        "t10k-images-idx3-ubyte.gz",
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        2_000,
        16,
        784,
    ),
    (
        "t10k-labels-idx1-ubyte.gz",
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        2_000,
        8,
        1,
    ),
];

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes the mnist-mini files from the MNIST copy in `src_dir` into `out_dir`.
pub fn run(src_dir: &Path, out_dir: &Path) -> Result<()> {
    fs::create_dir_all(out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    for (name, sha, keep, header, item) in FILES {
        let gz_path = src_dir.join(name);
        let plain_path = src_dir.join(name.trim_end_matches(".gz"));
        let path = if gz_path.is_file() {
            gz_path
        } else {
            plain_path
        };
        let raw = fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        let data = if raw.starts_with(&[0x1f, 0x8b]) {
            let mut out = Vec::new();
            MultiGzDecoder::new(&raw[..])
                .read_to_end(&mut out)
                .with_context(|| format!("decompressing {}", path.display()))?;
            out
        } else {
            raw
        };
        let found = hex(&Sha256::digest(&data));
        if found != sha {
            bail!(
                "{}: SHA-256 of the decompressed content: expected {sha}, found {found}",
                path.display()
            );
        }
        let end = header + keep * item;
        ensure!(
            data.len() >= end,
            "{}: too short for {keep} items",
            path.display()
        );
        let mut subset = data[..end].to_vec();
        subset[4..8].copy_from_slice(&u32::try_from(keep)?.to_be_bytes());

        let mut enc = GzBuilder::new()
            .mtime(0)
            .operating_system(255)
            .write(Vec::new(), Compression::new(9));
        enc.write_all(&subset)?;
        let bytes = enc.finish()?;
        let out = out_dir.join(name);
        fs::write(&out, &bytes).with_context(|| format!("writing {}", out.display()))?;
        println!(
            "{}: {keep} items, {} bytes, decompressed SHA-256 {}",
            out.display(),
            bytes.len(),
            hex(&Sha256::digest(&subset))
        );
    }
    Ok(())
}
