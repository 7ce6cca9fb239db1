//! Atomic file writes: a crash or a full disk never leaves a half-written file in place.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Distinguishes temporary files of concurrent writers in one process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// A hidden name for a temporary sibling of `path`, unique among this process's writers:
/// `.NAME.TAG-PID-N`.
fn temp_name(path: &Path, tag: &str) -> io::Result<String> {
    let name = path
        .file_name()
        .ok_or_else(|| invalid(format!("{} has no file name", path.display())))?;
    Ok(format!(
        ".{}.{tag}-{}-{}",
        name.to_string_lossy(),
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ))
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory (so the rename stays on
/// one file system), fsync, rename over `path`, then a best-effort fsync of the directory so the rename
/// itself survives a crash. Readers see either the old file or the new one, never a partial one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let tmp = dir.join(temp_name(path, "tmp")?);
    let result = (|| {
        let mut file = File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        // The temporary file is garbage once the write failed; a failure to remove it changes nothing.
        let _ = fs::remove_file(&tmp);
        return result;
    }
    // Directories cannot be opened for syncing on every platform (Windows); the data is safe either way.
    if let Ok(d) = File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Writes `bytes` to a new file `path`: never replaces a file, not even one that appears while
/// writing (the complete temporary file is hard-linked into place, which fails if `path` exists).
pub fn write_new(path: &Path, bytes: &[u8]) -> io::Result<()> {
    if path.exists() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "the file exists and is not replaced; remove it or choose another name",
        ));
    }
    let tmp = path.with_file_name(temp_name(path, "new")?);
    write_atomic(&tmp, bytes)?;
    let linked = fs::hard_link(&tmp, path);
    let _ = fs::remove_file(&tmp);
    linked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_new_never_replaces_a_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("w.safetensors");
        write_new(&p, b"one").expect("first write");
        let err = write_new(&p, b"two").expect_err("exists");
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(&p).expect("read"), b"one");
        assert_eq!(fs::read_dir(dir.path()).expect("dir").count(), 1);
    }

    #[test]
    fn replaces_content_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("a.json");
        write_atomic(&p, b"one").expect("first write");
        write_atomic(&p, b"two").expect("second write");
        assert_eq!(fs::read(&p).expect("read"), b"two");
        let names: Vec<_> = fs::read_dir(dir.path())
            .expect("ls")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names.len(), 1, "temp files left behind: {names:?}");
    }

    #[test]
    fn failure_leaves_nothing_behind() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("missing-dir").join("a.json");
        write_atomic(&p, b"x").expect_err("parent does not exist");
        assert!(!dir.path().join("missing-dir").exists());
    }
}
