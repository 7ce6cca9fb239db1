//! The members of a tar stream, through the `tar` crate: enough to pull the six `.bin` members out of
//! `cifar-10-binary.tar.gz`. Regular-file members only; names are matched exactly against a wanted list by
//! the caller, so nothing is ever written to a path taken from the archive. The crate's I/O errors become
//! [`Error::Tar`] naming the archive and the offset of the member being read.

use std::io::{self, Read};

use crate::error::{Error, Result};

fn tar_err(file: &str, offset: u64, expected: &str, e: &io::Error) -> Error {
    Error::Tar {
        file: file.into(),
        offset,
        expected: expected.into(),
        found: e.to_string(),
    }
}

/// Walks a tar stream and calls `visit(name, size, reader)` for every regular file; `visit` reads the
/// bytes it wants (the rest of the member is skipped). `max_member` caps member sizes.
pub fn for_each_file(
    file: &str,
    input: impl Read,
    max_member: u64,
    mut visit: impl FnMut(&str, u64, &mut dyn Read) -> Result<()>,
) -> Result<()> {
    let mut archive = ::tar::Archive::new(input);
    // Where the member being read starts: the offset an error is reported at.
    let mut offset = 0u64;
    let entries = archive
        .entries()
        .map_err(|e| tar_err(file, offset, "a tar archive", &e))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| tar_err(file, offset, "a valid tar header", &e))?;
        offset = entry.raw_header_position();
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let size = entry.size();
        if size > max_member {
            return Err(Error::Tar {
                file: file.into(),
                offset: offset + 124,
                expected: format!("member size at most {max_member}"),
                found: format!("{size}"),
            });
        }
        let name = entry
            .path()
            .map_err(|e| tar_err(file, offset, "a member name", &e))?
            .to_string_lossy()
            .into_owned();
        // The member's whole data must be there, whatever the visitor reads of it.
        let mut reader = Counted {
            inner: &mut entry,
            read: 0,
        };
        visit(&name, size, &mut reader)?;
        io::copy(&mut reader, &mut io::sink())
            .map_err(|e| tar_err(file, offset, "the member's data", &e))?;
        if reader.read != size {
            return Err(Error::Tar {
                file: file.into(),
                offset: offset + 512 + reader.read,
                expected: format!("{size} bytes of member {name:?}"),
                found: format!("{} then end of stream", reader.read),
            });
        }
    }
    Ok(())
}

/// A reader that counts the bytes read through it.
struct Counted<R> {
    inner: R,
    read: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        Ok(n)
    }
}

/// Builds a ustar archive in memory (for tests), with the `tar` crate's builder.
#[cfg(test)]
pub(crate) fn build(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut builder = ::tar::Builder::new(Vec::new());
    for (name, data) in members {
        let mut header = ::tar::Header::new_ustar();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(::tar::EntryType::Regular);
        builder
            .append_data(&mut header, name, *data)
            .expect("in-memory archive");
    }
    builder.into_inner().expect("in-memory archive")
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
                .starts_with("t.tar: bad tar archive at byte 0: expected a valid tar header"),
            "{e}"
        );
        assert!(e.to_string().contains("checksum"), "{e}");
    }

    #[test]
    fn a_member_larger_than_the_cap_is_refused_by_its_size() {
        let tar = build(&[("a", &[1u8; 600])]);
        let e = for_each_file("t.tar", &tar[..], 599, |_, _, _| Ok(())).expect_err("too large");
        assert!(
            e.to_string().starts_with(
                "t.tar: bad tar archive at byte 124: expected member size at most 599"
            ),
            "{e}"
        );
    }

    #[test]
    fn gnu_long_names_and_ustar_prefixes_are_read() {
        let long = format!("{}/{}", "d".repeat(120), "member.bin");
        let tar = build(&[(long.as_str(), b"abc")]);
        assert_eq!(collect(&tar).expect("valid"), vec![(long, b"abc".to_vec())]);
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
