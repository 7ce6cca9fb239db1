//! Sample grids as PNG files.
//!
//! A run writes `samples/step-<N>.png` so that progress is visible without any tooling: a batch of
//! generated images, laid out in a grid with a border between them. This module works on plain
//! `[N, C, H, W]` slices of `f32` rather than on burn tensors, so that it builds fast, is testable
//! without a backend, and any model can hand it `tensor.into_data().to_vec()`.
//!
//! The border and padding are **mid-gray (128)**: MNIST digits are white on black and CIFAR
//! images are mostly mid-tone, and a mid-gray frame separates neighbours in both cases, where a black
//! frame would melt into MNIST backgrounds and a white one into their strokes.
//!
//! The trainer writes the encoded PNG atomically ([`crate::fsutil::write_atomic`]: temporary file in
//! the same directory, fsync, rename), so a run killed mid-write — or a report being rendered at the
//! same moment — never sees a truncated PNG.

use std::io;

/// The gray level of the padding between images and of the outer border.
pub const PAD_GRAY: u8 = 128;

/// How images are laid out in a grid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GridOptions {
    /// Number of columns; the number of rows follows from the number of images.
    /// When there are fewer images than columns, the grid is only as wide as the images.
    pub cols: usize,
    /// Padding in output pixels between images and around the grid (not scaled).
    pub pad: usize,
    /// Integer upscaling factor per image (nearest neighbour), e.g. 2 turns 28×28 into 56×56.
    pub scale: usize,
}

impl Default for GridOptions {
    /// Eight columns, a 2-pixel border, no upscaling.
    fn default() -> Self {
        Self {
            cols: 8,
            pad: 2,
            scale: 1,
        }
    }
}

impl GridOptions {
    /// The default options with `cols` columns.
    pub fn with_cols(cols: usize) -> Self {
        Self {
            cols,
            ..Self::default()
        }
    }
}

/// An 8-bit pixel buffer, row-major, `channels` interleaved bytes per pixel (1 = gray, 3 = RGB).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GridPixels {
    /// `height * width * channels` bytes, rows top to bottom, pixels left to right.
    pub pixels: Vec<u8>,
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Bytes per pixel: 1 (grayscale) or 3 (RGB).
    pub channels: usize,
}

impl GridPixels {
    /// The bytes of pixel `(x, y)`, one per channel.
    ///
    /// # Panics
    /// If `(x, y)` lies outside the grid; this is a programmer error, like slice indexing.
    pub fn pixel(&self, x: usize, y: usize) -> &[u8] {
        assert!(
            x < self.width && y < self.height,
            "pixel ({x}, {y}) outside a {}x{} grid",
            self.width,
            self.height
        );
        let start = (y * self.width + x) * self.channels;
        &self.pixels[start..start + self.channels]
    }
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// Converts a value in [0, 1] to a byte; out-of-range values are clamped and NaN becomes 0, so that a
/// diverging model still produces a viewable (if ugly) grid instead of an error.
fn to_u8(v: f32) -> u8 {
    if v.is_nan() {
        0
    } else {
        (v.clamp(0.0, 1.0) * 255.0).round() as u8
    }
}

/// Builds the pixel buffer of a grid of `n` images of shape `[channels, height, width]`.
///
/// `images` is `[n, channels, height, width]`, row-major, with values in [0, 1] (clamped; NaN → 0).
/// `channels` must be 1 (grayscale output) or 3 (RGB output).
///
/// # Errors
/// An [`io::ErrorKind::InvalidInput`] error when `images.len() != n * channels * height * width`, when
/// `n`, `height`, `width`, `cols` or `scale` is zero, when `channels` is neither 1 nor 3, or when the
/// grid would be larger than a PNG can hold. It never panics on such input.
pub fn grid_rgb8(
    images: &[f32],
    n: usize,
    channels: usize,
    height: usize,
    width: usize,
    opts: &GridOptions,
) -> io::Result<GridPixels> {
    if channels != 1 && channels != 3 {
        return Err(invalid(format!(
            "sample grid: expected 1 or 3 channels, found {channels}"
        )));
    }
    if n == 0 || height == 0 || width == 0 {
        return Err(invalid(format!(
            "sample grid: empty shape [{n}, {channels}, {height}, {width}]"
        )));
    }
    if opts.cols == 0 || opts.scale == 0 {
        return Err(invalid(format!(
            "sample grid: cols ({}) and scale ({}) must be positive",
            opts.cols, opts.scale
        )));
    }
    let expected = n
        .checked_mul(channels)
        .and_then(|v| v.checked_mul(height))
        .and_then(|v| v.checked_mul(width));
    if expected != Some(images.len()) {
        return Err(invalid(format!(
            "sample grid: shape [{n}, {channels}, {height}, {width}] needs {} values, found {}",
            expected.map_or_else(|| "more than usize::MAX".to_string(), |e| e.to_string()),
            images.len()
        )));
    }

    let cols = opts.cols.min(n);
    let rows = n.div_ceil(cols);
    let (pad, scale) = (opts.pad, opts.scale);
    // Checked arithmetic: absurd options must yield an error, not an overflow panic or a huge allocation.
    let too_big = || invalid("sample grid: the grid would be too large for a PNG".to_string());
    let dim = |count: usize, size: usize| -> Option<usize> {
        let cell = size.checked_mul(scale)?;
        count
            .checked_mul(cell)?
            .checked_add(count.checked_add(1)?.checked_mul(pad)?)
    };
    let grid_w = dim(cols, width).ok_or_else(too_big)?;
    let grid_h = dim(rows, height).ok_or_else(too_big)?;
    if u32::try_from(grid_w).is_err() || u32::try_from(grid_h).is_err() {
        return Err(too_big());
    }
    let len = grid_w
        .checked_mul(grid_h)
        .and_then(|v| v.checked_mul(channels))
        .filter(|&len| len <= isize::MAX as usize)
        .ok_or_else(too_big)?;

    let mut pixels = vec![PAD_GRAY; len];
    let plane = height * width;
    for (i, image) in images.chunks_exact(channels * plane).enumerate() {
        let (gx, gy) = (i % cols, i / cols);
        let x0 = pad + gx * (width * scale + pad);
        let y0 = pad + gy * (height * scale + pad);
        for y in 0..height * scale {
            let sy = y / scale;
            let row = (y0 + y) * grid_w;
            for x in 0..width * scale {
                let sx = x / scale;
                let out = (row + x0 + x) * channels;
                for c in 0..channels {
                    pixels[out + c] = to_u8(image[c * plane + sy * width + sx]);
                }
            }
        }
    }
    Ok(GridPixels {
        pixels,
        width: grid_w,
        height: grid_h,
        channels,
    })
}

/// Encodes a pixel buffer as an 8-bit PNG (grayscale or RGB), e.g. to embed it in an HTML page.
///
/// # Errors
/// [`io::ErrorKind::InvalidInput`] when the buffer does not match its stated size or channel count,
/// and any error of the encoder.
pub fn encode_png(grid: &GridPixels) -> io::Result<Vec<u8>> {
    let color = match grid.channels {
        1 => png::ColorType::Grayscale,
        3 => png::ColorType::Rgb,
        c => {
            return Err(invalid(format!(
                "PNG encoding: expected 1 or 3 channels, found {c}"
            )));
        }
    };
    let (Ok(w), Ok(h)) = (u32::try_from(grid.width), u32::try_from(grid.height)) else {
        return Err(invalid(format!(
            "PNG encoding: {}x{} is too large",
            grid.width, grid.height
        )));
    };
    if grid
        .width
        .checked_mul(grid.height)
        .and_then(|v| v.checked_mul(grid.channels))
        != Some(grid.pixels.len())
    {
        return Err(invalid(format!(
            "PNG encoding: {}x{}x{} pixels expected, found {} bytes",
            grid.width,
            grid.height,
            grid.channels,
            grid.pixels.len()
        )));
    }
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, w, h);
    encoder.set_color(color);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(png_err)?;
    writer.write_image_data(&grid.pixels).map_err(png_err)?;
    writer.finish().map_err(png_err)?;
    Ok(out)
}

fn png_err(e: png::EncodingError) -> io::Error {
    match e {
        png::EncodingError::IoError(e) => e,
        other => io::Error::other(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::io::Cursor;

    /// Decodes a PNG into (pixels, width, height, color type).
    fn decode(bytes: &[u8]) -> (Vec<u8>, u32, u32, png::ColorType) {
        let decoder = png::Decoder::new(Cursor::new(bytes));
        let mut reader = decoder.read_info().expect("valid PNG header");
        let mut buf = vec![0; reader.output_buffer_size().expect("buffer size")];
        let info = reader.next_frame(&mut buf).expect("valid PNG data");
        buf.truncate(info.buffer_size());
        (buf, info.width, info.height, info.color_type)
    }

    /// `n` grayscale images where image `i` has the constant value `i / 10` except pixel (0, 0) = 1.
    fn gray_images(n: usize, h: usize, w: usize) -> Vec<f32> {
        let mut v = Vec::new();
        for i in 0..n {
            for p in 0..h * w {
                v.push(if p == 0 { 1.0 } else { i as f32 / 10.0 });
            }
        }
        v
    }

    #[test]
    fn gray_grid_written_and_decoded() {
        // 5 images of 3x4 (h x w) in 2 columns: 3 rows.
        let grid = grid_rgb8(
            &gray_images(5, 3, 4),
            5,
            1,
            3,
            4,
            &GridOptions::with_cols(2),
        )
        .expect("grid");
        let (px, w, h, color) = decode(&encode_png(&grid).expect("encode"));
        assert_eq!(color, png::ColorType::Grayscale);
        assert_eq!((w, h), (2 * 4 + 3 * 2, 3 * 3 + 4 * 2));
        let at = |x: usize, y: usize| px[y * w as usize + x];
        // Border and padding.
        assert_eq!(at(0, 0), PAD_GRAY);
        assert_eq!(at(1, 5), PAD_GRAY);
        assert_eq!(at(6, 3), PAD_GRAY); // between the columns
        // Image 3 sits at column 1, row 1: x0 = 2 + 4 + 2 = 8, y0 = 2 + 3 + 2 = 7.
        assert_eq!(at(8, 7), 255);
        assert_eq!(at(9, 7), (0.3f32 * 255.0).round() as u8);
        assert_eq!(at(11, 9), (0.3f32 * 255.0).round() as u8);
        // Image 4 at column 0, row 2; the empty slot beside it stays padding.
        assert_eq!(at(3, 13), (0.4f32 * 255.0).round() as u8);
        assert_eq!(at(10, 13), PAD_GRAY);
    }

    #[test]
    fn rgb_grid_keeps_channels_apart() {
        // Two 1x2 images: image 0 is red then green, image 1 is blue then white.
        #[rustfmt::skip]
        let images = [
            1.0, 0.0,  0.0, 1.0,  0.0, 0.0, // image 0: R plane, G plane, B plane
            0.0, 1.0,  0.0, 1.0,  1.0, 1.0, // image 1
        ];
        let grid = grid_rgb8(
            &images,
            2,
            3,
            1,
            2,
            &GridOptions {
                cols: 2,
                pad: 1,
                scale: 1,
            },
        )
        .expect("grid");
        assert_eq!(
            (grid.width, grid.height, grid.channels),
            (2 * 2 + 3, 1 + 2, 3)
        );
        assert_eq!(grid.pixel(1, 1), [255, 0, 0]);
        assert_eq!(grid.pixel(2, 1), [0, 255, 0]);
        assert_eq!(grid.pixel(3, 1), [PAD_GRAY; 3]);
        assert_eq!(grid.pixel(4, 1), [0, 0, 255]);
        assert_eq!(grid.pixel(5, 1), [255, 255, 255]);
        let (px, w, h, color) = decode(&encode_png(&grid).expect("encode"));
        assert_eq!(color, png::ColorType::Rgb);
        assert_eq!((w as usize, h as usize), (grid.width, grid.height));
        assert_eq!(px, grid.pixels);
    }

    #[test]
    fn nan_is_black_and_values_are_clamped() {
        let images = [f32::NAN, -3.0, 7.0, 0.5, f32::INFINITY, f32::NEG_INFINITY];
        let grid = grid_rgb8(
            &images,
            1,
            1,
            1,
            6,
            &GridOptions {
                cols: 1,
                pad: 0,
                scale: 1,
            },
        )
        .expect("grid");
        assert_eq!(grid.pixels, [0, 0, 255, 128, 255, 0]);
    }

    #[test]
    fn upscaling_repeats_pixels() {
        let images = [0.0, 1.0, 1.0, 0.0]; // 2x2 checkerboard
        let grid = grid_rgb8(
            &images,
            1,
            1,
            2,
            2,
            &GridOptions {
                cols: 4,
                pad: 2,
                scale: 3,
            },
        )
        .expect("grid");
        assert_eq!((grid.width, grid.height), (2 * 3 + 4, 2 * 3 + 4));
        for y in 0..6 {
            for x in 0..6 {
                let want = if (x / 3 + y / 3) % 2 == 1 { 255 } else { 0 };
                assert_eq!(grid.pixel(x + 2, y + 2), [want], "pixel ({x}, {y})");
            }
        }
    }

    #[test]
    fn bad_shapes_are_invalid_input() {
        let opts = GridOptions::default();
        // (images, n, channels, height, width, options)
        type Case<'a> = (&'a [f32], usize, usize, usize, usize, GridOptions);
        let cases: [Case<'_>; 7] = [
            (&[0.0; 5], 1, 1, 2, 2, opts), // too few values
            (&[0.0; 9], 2, 1, 2, 2, opts), // too many values
            (&[0.0; 8], 1, 2, 2, 2, opts), // two channels
            (&[], 0, 1, 2, 2, opts),       // no images
            (&[0.0; 4], 1, 1, 2, 2, GridOptions { cols: 0, ..opts }), // no columns
            (&[0.0; 4], 1, 1, 2, 2, GridOptions { scale: 0, ..opts }),
            (&[0.0; 4], usize::MAX, 1, 2, 2, opts), // overflowing shape
        ];
        for (images, n, c, h, w, o) in cases {
            let err = grid_rgb8(images, n, c, h, w, &o).expect_err("must be rejected");
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
        }
        let huge = GridOptions {
            cols: 1,
            pad: usize::MAX / 2,
            scale: 1,
        };
        let err = grid_rgb8(&[0.0; 4], 1, 1, 2, 2, &huge).expect_err("too large");
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn encode_rejects_inconsistent_buffer() {
        let grid = GridPixels {
            pixels: vec![0; 5],
            width: 2,
            height: 2,
            channels: 1,
        };
        assert_eq!(
            encode_png(&grid).expect_err("short").kind(),
            io::ErrorKind::InvalidInput
        );
    }

    #[test]
    fn atomic_write_replaces_existing_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x.bin");
        crate::fsutil::write_atomic(&path, b"old").expect("first");
        crate::fsutil::write_atomic(&path, b"new").expect("second");
        assert_eq!(fs::read(&path).expect("read"), b"new");
        assert_eq!(fs::read_dir(dir.path()).expect("ls").count(), 1);
    }
}
