//! A minimal streaming ustar/GNU tar reader: enough to pull the six `.bin` members out of
//! `cifar-10-binary.tar.gz` without a tar dependency. Regular-file members only; names are matched
//! exactly against a wanted list, so nothing is ever written to a path taken from the archive.

use std::io::{self, Read};

use crate::error::{Error, Result};

const BLOCK: u64 = 512;

fn tar_err(
    file: &str,
    offset: u64,
    expected: impl Into<String>,
    found: impl Into<String>,
) -> Error {
    Error::Tar {
        file: file.into(),
        offset,
        expected: expected.into(),
        found: found.into(),
    }
}

/// Parses an octal numeric header field (NUL/space padded).
fn octal(field: &[u8]) -> Option<u64> {
    let s: Vec<u8> = field
        .iter()
        .copied()
        .skip_while(|&b| b == b' ')
        .take_while(|&b| b != 0 && b != b' ')
        .collect();
    if s.is_empty() {
        return Some(0);
    }
    s.iter().try_fold(0u64, |acc, &b| {
        if !(b'0'..=b'7').contains(&b) {
            return None;
        }
        acc.checked_mul(8)?.checked_add(u64::from(b - b'0'))
    })
}

/// Reads exactly `buf.len()` bytes, or reports how many arrived before end of stream.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Walks a tar stream and calls `visit(name, size, reader)` for every regular file; `visit` must consume
/// exactly the bytes it wants (the rest of the member is skipped). `max_member` caps member sizes.
pub fn for_each_file(
    file: &str,
    mut input: impl Read,
    max_member: u64,
    mut visit: impl FnMut(&str, u64, &mut dyn Read) -> Result<()>,
) -> Result<()> {
    let mut offset = 0u64;
    let mut header = [0u8; BLOCK as usize];
    let mut long_name: Option<String> = None;
    let io_err =
        |offset: u64, e: io::Error| tar_err(file, offset, "readable archive data", e.to_string());
    loop {
        let got = read_full(&mut input, &mut header).map_err(|e| io_err(offset, e))?;
        if got == 0 {
            // Archives should end with two zero blocks, but a bare end of stream after a whole member is
            // harmless; the caller checks it found every member it needs.
            return Ok(());
        }
        if got < header.len() {
            return Err(tar_err(
                file,
                offset,
                "a 512-byte header block",
                format!("{got} bytes then end of stream"),
            ));
        }
        if header.iter().all(|&b| b == 0) {
            return Ok(());
        }
        let stored_sum = octal(&header[148..156]).ok_or_else(|| {
            tar_err(
                file,
                offset + 148,
                "octal header checksum",
                "non-octal bytes",
            )
        })?;
        let sum: u64 = header
            .iter()
            .enumerate()
            .map(|(i, &b)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    u64::from(b)
                }
            })
            .sum();
        if sum != stored_sum {
            return Err(tar_err(
                file,
                offset + 148,
                format!("header checksum {sum}"),
                format!("{stored_sum}"),
            ));
        }
        let size = octal(&header[124..136])
            .ok_or_else(|| tar_err(file, offset + 124, "octal member size", "non-octal bytes"))?;
        if size > max_member {
            return Err(tar_err(
                file,
                offset + 124,
                format!("member size at most {max_member}"),
                format!("{size}"),
            ));
        }
        let kind = header[156];
        let mut name =
            String::from_utf8_lossy(header[..100].split(|&b| b == 0).next().unwrap_or(&[]))
                .into_owned();
        if &header[257..262] == b"ustar" {
            let prefix =
                String::from_utf8_lossy(header[345..500].split(|&b| b == 0).next().unwrap_or(&[]))
                    .into_owned();
            if !prefix.is_empty() {
                name = format!("{prefix}/{name}");
            }
        }
        if let Some(long) = long_name.take() {
            name = long;
        }
        offset += BLOCK;
        let mut member = (&mut input).take(size);
        match kind {
            b'0' | 0 => visit(&name, size, &mut member)?,
            b'L' => {
                // GNU long name: the member's data is the next header's name.
                let mut buf = Vec::new();
                member
                    .read_to_end(&mut buf)
                    .map_err(|e| io_err(offset, e))?;
                long_name = Some(
                    String::from_utf8_lossy(buf.split(|&b| b == 0).next().unwrap_or(&[]))
                        .into_owned(),
                );
            }
            _ => {}
        }
        // Skip whatever the visitor left, then the padding to the next block.
        io::copy(&mut member, &mut io::sink()).map_err(|e| io_err(offset, e))?;
        let consumed = size - member.limit();
        if consumed != size {
            return Err(tar_err(
                file,
                offset + consumed,
                format!("{size} bytes of member {name:?}"),
                format!("{consumed} then end of stream"),
            ));
        }
        let pad = (BLOCK - size % BLOCK) % BLOCK;
        let mut skip = vec![0u8; pad as usize];
        let got = read_full(&mut input, &mut skip).map_err(|e| io_err(offset + size, e))?;
        if got as u64 != pad {
            return Err(tar_err(
                file,
                offset + size,
                format!("{pad} bytes of padding"),
                format!("{got}"),
            ));
        }
        offset += size + pad;
    }
}

/// Builds a ustar archive in memory (for tests).
#[cfg(test)]
pub(crate) fn build(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, data) in members {
        let mut h = [0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..108].copy_from_slice(b"0000644\0");
        h[108..116].copy_from_slice(b"0000000\0");
        h[116..124].copy_from_slice(b"0000000\0");
        h[124..136].copy_from_slice(format!("{:011o}\0", data.len()).as_bytes());
        h[136..148].copy_from_slice(b"00000000000\0");
        h[156] = b'0';
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        out.extend_from_slice(&h);
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn collect(bytes: &[u8]) -> Result<Vec<(String, Vec<u8>)>> {
        let mut got = Vec::new();
        for_each_file("t.tar", bytes, 1 << 20, |name, _, r| {
            let mut v = Vec::new();
            r.read_to_end(&mut v).map_err(|e| Error::io("t.tar", e))?;
            got.push((name.to_string(), v));
            Ok(())
        })?;
        Ok(got)
    }

    #[test]
    fn round_trip() {
        let a = vec![1u8; 700];
        let tar = build(&[("dir/a.bin", &a), ("b.txt", b"hello")]);
        let got = collect(&tar).expect("valid");
        assert_eq!(
            got,
            vec![
                ("dir/a.bin".to_string(), a),
                ("b.txt".to_string(), b"hello".to_vec())
            ]
        );
    }

    #[test]
    fn truncated_archive_is_a_named_error() {
        let tar = build(&[("a", &[5u8; 1000])]);
        // Cut inside the header and inside the data.
        for cut in [100, 512 + 10, 512 + 1000 + 3] {
            let e = collect(&tar[..cut]).expect_err("truncated");
            assert!(matches!(e, Error::Tar { .. }), "{e:?}");
        }
    }

    #[test]
    fn bad_checksum_is_a_named_error() {
        let mut tar = build(&[("a", b"x")]);
        tar[0] = b'b';
        let e = collect(&tar).expect_err("bad checksum");
        assert!(
            e.to_string()
                .starts_with("t.tar: bad tar archive at byte 148: expected header checksum"),
            "{e}"
        );
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
            let _ = collect(&bytes);
        }

        #[test]
        fn mutated_archives_never_panic(pos in 0usize..2560, b in any::<u8>(), cut in 0usize..2561) {
            let mut tar = build(&[("a", &[5u8; 700])]);
            let p = pos % tar.len();
            tar[p] = b;
            let _ = collect(&tar[..cut.min(tar.len())]);
        }
    }
}
