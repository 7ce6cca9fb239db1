//! The crate's error type: every message names the file, the byte offset and what was expected vs found.

use std::path::PathBuf;

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// Everything that can go wrong while resolving, downloading, verifying or parsing a dataset.
///
/// Offsets into gzip-compressed files are offsets into the *decompressed* bytes, since that is what the
/// parsers see; the message says so.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file ends before a header field or the declared data.
    #[error(
        "{file}: truncated at byte {offset}: expected {expected} more bytes ({what}), found {found}"
    )]
    Truncated {
        /// File name or path.
        file: String,
        /// Byte offset where the missing part starts.
        offset: u64,
        /// Bytes needed from `offset`.
        expected: u64,
        /// Bytes present from `offset`.
        found: u64,
        /// What was being read.
        what: &'static str,
    },
    /// The file holds more bytes than its header declares.
    #[error(
        "{file}: trailing data after byte {offset}: expected end of file, found {found} more bytes"
    )]
    TrailingData {
        /// File name or path.
        file: String,
        /// Where the declared data ends.
        offset: u64,
        /// Number of extra bytes.
        found: u64,
    },
    /// A magic number or fixed marker does not match the format.
    #[error("{file}: bad magic number at byte {offset}: expected {expected}, found {found}")]
    BadMagic {
        /// File name or path.
        file: String,
        /// Byte offset of the magic number.
        offset: u64,
        /// Expected bytes, as text.
        expected: String,
        /// Found bytes, as text.
        found: String,
    },
    /// The IDX data-type byte is not 0x08 (unsigned byte).
    #[error(
        "{file}: unsupported IDX data type at byte 2: expected 0x08 (u8), found {found:#04x} ({name})"
    )]
    BadDtype {
        /// File name or path.
        file: String,
        /// The data-type byte found.
        found: u8,
        /// What that byte means in the IDX format.
        name: &'static str,
    },
    /// The IDX rank byte is not the one this kind of file needs.
    #[error("{file}: wrong IDX rank at byte 3: expected {expected}, found {found}")]
    BadRank {
        /// File name or path.
        file: String,
        /// Rank needed (3 for images, 1 for labels).
        expected: u8,
        /// Rank found.
        found: u8,
    },
    /// Declared dimensions whose product overflows or cannot fit in the bytes available.
    #[error(
        "{file}: absurd declared size at byte {offset}: dimensions {dims:?} need {needed} bytes, only {available} available"
    )]
    AbsurdSize {
        /// File name or path.
        file: String,
        /// Offset of the dimension fields.
        offset: u64,
        /// The declared dimensions.
        dims: Vec<u64>,
        /// Bytes the dimensions imply (saturated at `u64::MAX` on overflow).
        needed: u64,
        /// Bytes actually present after the header.
        available: u64,
    },
    /// The data has the wrong item count or item shape for this dataset.
    #[error("{file}: wrong shape at byte {offset}: expected {expected}, found {found}")]
    BadShape {
        /// File name or path.
        file: String,
        /// Offset of the offending header field.
        offset: u64,
        /// Expected shape, as text.
        expected: String,
        /// Found shape, as text.
        found: String,
    },
    /// An images file and its labels file disagree on the number of items.
    #[error(
        "{images} holds {image_count} images but {labels} holds {label_count} labels: expected equal counts"
    )]
    CountMismatch {
        /// Images file.
        images: String,
        /// Item count in the images file.
        image_count: u64,
        /// Labels file.
        labels: String,
        /// Item count in the labels file.
        label_count: u64,
    },
    /// A label outside `0..classes`.
    #[error("{file}: label out of range at byte {offset}: expected 0..{classes}, found {found}")]
    BadLabel {
        /// File name or path.
        file: String,
        /// Offset of the label byte.
        offset: u64,
        /// Number of classes.
        classes: u8,
        /// The label found.
        found: u8,
    },
    /// The gzip stream is corrupt or truncated.
    #[error("{file}: corrupt gzip stream after {offset} decompressed bytes: {source}")]
    Gzip {
        /// File name or path.
        file: String,
        /// Decompressed bytes produced before the failure.
        offset: u64,
        /// The decoder's error.
        source: std::io::Error,
    },
    /// A file (or its decompressed content) is larger than any valid file of its kind.
    #[error("{file}: too large: expected at most {limit} bytes{}, found more", if *.decompressed { " after decompression" } else { "" })]
    TooLarge {
        /// File name or path.
        file: String,
        /// The cap in bytes.
        limit: u64,
        /// Whether the cap applies to decompressed bytes.
        decompressed: bool,
    },
    /// A checksum does not match the canonical file.
    #[error("{file}: {algorithm} mismatch{}: expected {expected}, found {found}", if *.decompressed { " of the decompressed content" } else { "" })]
    Checksum {
        /// File name or path.
        file: String,
        /// "SHA-256" or "MD5".
        algorithm: &'static str,
        /// Whether the hash covers the decompressed content (else the raw file).
        decompressed: bool,
        /// The canonical hash.
        expected: String,
        /// The hash of the bytes found.
        found: String,
    },
    /// A tar archive is malformed or lacks a member.
    #[error("{file}: bad tar archive at byte {offset}: expected {expected}, found {found}")]
    Tar {
        /// Archive name or path.
        file: String,
        /// Offset in the decompressed tar stream.
        offset: u64,
        /// What was expected.
        expected: String,
        /// What was found.
        found: String,
    },
    /// An I/O error on a named path.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A text data file (`.amat`) holds something other than what its format allows.
    #[error("{file}: line {line}, column {column}: expected {expected}, found {found}")]
    BadText {
        /// File name or path.
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based byte column.
        column: usize,
        /// What the format allows there.
        expected: String,
        /// What the file holds.
        found: String,
    },
    /// The dataset has no such split (only the fixed binarized MNIST has a validation split).
    #[error("{dataset} has no {split} split")]
    NoSplit {
        /// The dataset's CLI name.
        dataset: String,
        /// The split asked for.
        split: String,
    },
    /// A dataset file's name is taken by something that is not a file (a directory).
    #[error("{path} is a directory, not a data file; move it away or point --data-dir elsewhere")]
    NotAFile {
        /// The path that should be a file.
        path: PathBuf,
    },
    /// Dataset files are missing and downloading was not requested.
    #[error(
        "{dataset}: {file} not found in {dir} (data root taken from {root_source}). \
         Put the files there (`.gz` or decompressed), point --data-dir or the GENZOO_DATA_DIR \
         environment variable at a folder holding `{folder}/`, or pass --download to fetch them"
    )]
    Missing {
        /// Dataset name.
        dataset: String,
        /// Missing file name.
        file: String,
        /// Directory searched.
        dir: PathBuf,
        /// The dataset's folder name under the root.
        folder: &'static str,
        /// Where the root came from (`--data-dir`, `GENZOO_DATA_DIR`, or the user cache dir).
        root_source: &'static str,
    },
    /// No data root could be determined.
    #[error(
        "no data directory: pass --data-dir, set GENZOO_DATA_DIR, or run where a user cache directory exists"
    )]
    NoDataRoot,
    /// Every mirror failed for a file.
    #[error("download of {file} failed from every mirror:\n  {}", .attempts.join("\n  "))]
    Download {
        /// The file being downloaded.
        file: String,
        /// One line per mirror tried: URL and what went wrong.
        attempts: Vec<String>,
    },
    /// A name that is not one of the known dataset names.
    #[error("unknown {what} {found:?}: expected one of {expected}")]
    UnknownName {
        /// "dataset" or "toy distribution".
        what: &'static str,
        /// The name given.
        found: String,
        /// The valid names, comma-separated.
        expected: String,
    },
    /// An item index past the end of an image set.
    #[error("item {index} of an image set of {len}")]
    Index {
        /// The index asked for.
        index: usize,
        /// Items in the set.
        len: usize,
    },
}

impl Error {
    /// Looks `name` up among `all` by their `name_of`; unknown names list the valid ones.
    pub(crate) fn find_named<T: Copy, const N: usize>(
        what: &'static str,
        all: [T; N],
        name_of: fn(T) -> &'static str,
        name: &str,
    ) -> Result<T> {
        all.into_iter()
            .find(|k| name_of(*k) == name)
            .ok_or_else(|| Error::UnknownName {
                what,
                found: name.to_string(),
                expected: all.map(name_of).join(", "),
            })
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
