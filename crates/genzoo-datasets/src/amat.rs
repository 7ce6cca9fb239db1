//! The `.amat` text format of the fixed binarized MNIST (Salakhutdinov & Murray 2008, as published
//! by Larochelle): one image a line, its pixel values `0` or `1` separated by single spaces, row
//! major, each line ended by `\n` (a `\r\n` is accepted, and so is a last line without one).
//!
//! The parser is strict and never panics: a wrong token, a line of the wrong length, a file cut
//! short or holding more images than expected is an [`Error::BadText`] naming the file, the line
//! (1-based) and the column, with what was expected and what was found.

use crate::error::{Error, Result};

/// Pixel value of a `1`: the images are stored as `u8` intensities like every other dataset, so
/// that "intensity / 255" is the probability a binarizer draws from, and it is exactly 0 or 1.
pub const ONE: u8 = 255;

/// Parses `text` (the decompressed file `file`) into `images` images of `values` pixels each,
/// `0 → 0` and `1 → ONE`, image after image.
pub fn parse(file: &str, text: &[u8], values: usize, images: usize) -> Result<Vec<u8>> {
    let bad = |line: usize, column: usize, expected: String, found: String| Error::BadText {
        file: file.to_string(),
        line,
        column,
        expected,
        found,
    };
    let mut out = Vec::with_capacity(values.saturating_mul(images).min(text.len()));
    let mut lines = 0usize;
    let mut rest = text;
    while !rest.is_empty() {
        let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
        let mut line = &rest[..end];
        rest = rest.get(end + 1..).unwrap_or(&[]);
        if let Some(stripped) = line.strip_suffix(b"\r") {
            line = stripped;
        }
        lines += 1;
        if lines > images {
            return Err(bad(
                lines,
                1,
                format!("end of file after {images} images"),
                "another line".into(),
            ));
        }
        // A line is `v ␣ v ␣ … v`: values at even byte offsets, single spaces at odd ones.
        if line.len() != 2 * values - 1 {
            let found = line.iter().filter(|&&b| b != b' ').count();
            return Err(bad(
                lines,
                1,
                format!(
                    "{values} values 0/1 separated by single spaces ({} bytes)",
                    2 * values - 1
                ),
                format!("{} bytes ({found} non-space)", line.len()),
            ));
        }
        for (i, &b) in line.iter().enumerate() {
            let ok = if i % 2 == 0 {
                match b {
                    b'0' => {
                        out.push(0);
                        true
                    }
                    b'1' => {
                        out.push(ONE);
                        true
                    }
                    _ => false,
                }
            } else {
                b == b' '
            };
            if !ok {
                return Err(bad(
                    lines,
                    i + 1,
                    if i % 2 == 0 {
                        "0 or 1"
                    } else {
                        "a single space"
                    }
                    .into(),
                    format!("{:?}", char::from(b)),
                ));
            }
        }
    }
    if lines != images {
        return Err(bad(
            lines + 1,
            1,
            format!("{images} images"),
            format!("end of file after {lines}"),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn line(values: &[u8]) -> String {
        values
            .iter()
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn parses_lines_of_zeros_and_ones() {
        let text = format!("{}\n{}\r\n", line(&[0, 1, 1]), line(&[1, 0, 0]));
        assert_eq!(
            parse("f", text.as_bytes(), 3, 2).expect("valid"),
            vec![0, ONE, ONE, ONE, 0, 0]
        );
        // A last line without its newline is whole too.
        let text = format!("{}\n{}", line(&[0, 1, 1]), line(&[1, 0, 0]));
        assert_eq!(parse("f", text.as_bytes(), 3, 2).expect("valid").len(), 6);
    }

    #[test]
    fn every_fault_names_file_line_and_column() {
        let ok = line(&[0, 1, 0, 1]);
        let cases: Vec<(String, &str)> = vec![
            (
                format!("{ok}\n0 1 2 1\n"),
                "f: line 2, column 5: expected 0 or 1, found '2'",
            ),
            (format!("{ok}\n0  1 0 1\n"), "f: line 2, column 1"),
            (
                format!("{ok}\n0,1,0,1\n"),
                "f: line 2, column 2: expected a single space, found ','",
            ),
            (
                format!("{ok}\n0 1 0\n"),
                "f: line 2, column 1: expected 4 values",
            ),
            (format!("{ok}\n0 1 0 1 1\n"), "f: line 2"),
            (
                format!("{ok}\n"),
                "f: line 2, column 1: expected 2 images, found end of file after 1",
            ),
            (
                format!("{ok}\n{ok}\n{ok}\n"),
                "f: line 3, column 1: expected end of file after 2 images",
            ),
            (
                String::new(),
                "expected 2 images, found end of file after 0",
            ),
            (format!("{ok}\n\n"), "f: line 2"),
        ];
        for (text, needle) in cases {
            let err = parse("f", text.as_bytes(), 4, 2)
                .expect_err(&text)
                .to_string();
            assert!(err.contains(needle), "{text:?}: {err}");
        }
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse("f", &bytes, 4, 3);
        }

        #[test]
        fn round_trips_any_binary_images(images in proptest::collection::vec(proptest::collection::vec(0u8..2, 5), 1..6)) {
            let text: String = images.iter().map(|im| line(im) + "\n").collect();
            let parsed = parse("f", text.as_bytes(), 5, images.len()).expect("valid");
            let expected: Vec<u8> = images.iter().flatten().map(|&v| v * ONE).collect();
            prop_assert_eq!(parsed, expected);
        }
    }
}
