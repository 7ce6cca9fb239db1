//! TensorBoard event files: the run's logged scalars and its sample grids, in the format
//! TensorBoard reads (`tensorboard --logdir <run>/tensorboard`).
//!
//! A file is a sequence of TFRecords — the data's length as a little-endian `u64`, the masked
//! CRC-32C of those 8 bytes, the data, the masked CRC-32C of the data — each holding one
//! `tensorflow.Event` protocol buffer. The first event names the file version; then each logged
//! record becomes one event of scalars tagged `<split>/<field>`, and each sample grid one event
//! holding its PNG. The messages are declared here with `prost`, field for field as TensorFlow's
//! `event.proto` and `summary.proto` number them.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use prost::Message;

use crate::error::{Error, IoContext, Result};

/// `tensorflow.Event`.
#[derive(Clone, PartialEq, Message)]
pub struct Event {
    /// Seconds since the Unix epoch.
    #[prost(double, tag = "1")]
    pub wall_time: f64,
    /// The training step.
    #[prost(int64, tag = "2")]
    pub step: i64,
    /// What the event holds.
    #[prost(oneof = "What", tags = "3, 5")]
    pub what: Option<What>,
}

/// `tensorflow.Event.what`.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum What {
    /// The file's first event: `brain.Event:2`.
    #[prost(string, tag = "3")]
    FileVersion(String),
    /// Values at a step.
    #[prost(message, tag = "5")]
    Summary(Summary),
}

/// `tensorflow.Summary`.
#[derive(Clone, PartialEq, Message)]
pub struct Summary {
    /// The values.
    #[prost(message, repeated, tag = "1")]
    pub value: Vec<SummaryValue>,
}

/// `tensorflow.Summary.Value`.
#[derive(Clone, PartialEq, Message)]
pub struct SummaryValue {
    /// The chart or image it belongs to.
    #[prost(string, tag = "1")]
    pub tag: String,
    /// A number or an image.
    #[prost(oneof = "Value", tags = "2, 4")]
    pub value: Option<Value>,
}

/// `tensorflow.Summary.Value.value`.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum Value {
    /// A scalar.
    #[prost(float, tag = "2")]
    SimpleValue(f32),
    /// An encoded image.
    #[prost(message, tag = "4")]
    Image(Image),
}

/// `tensorflow.Summary.Image`.
#[derive(Clone, PartialEq, Message)]
pub struct Image {
    /// Pixels.
    #[prost(int32, tag = "1")]
    pub height: i32,
    /// Pixels.
    #[prost(int32, tag = "2")]
    pub width: i32,
    /// 1 grey, 3 RGB.
    #[prost(int32, tag = "3")]
    pub colorspace: i32,
    /// The PNG file's bytes.
    #[prost(bytes = "vec", tag = "4")]
    pub encoded_image_string: Vec<u8>,
}

/// CRC-32C masked as TFRecord does, so that a CRC of data holding CRCs stays well distributed.
fn masked_crc(data: &[u8]) -> u32 {
    crc32c::crc32c(data)
        .rotate_right(15)
        .wrapping_add(0xa282_ead8)
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Appends events to one file of a run's `tensorboard/` directory.
pub struct EventWriter {
    file: File,
    path: PathBuf,
}

impl EventWriter {
    /// A new event file in `dir` (created if needed), named as TensorBoard expects
    /// (`events.out.tfevents.<seconds>.<pid>.genzoo`: a resumed run adds a file beside the
    /// first), opened by its file-version event.
    pub fn create(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).at(dir)?;
        let name = format!(
            "events.out.tfevents.{}.{}.genzoo",
            now() as u64,
            std::process::id()
        );
        let path = dir.join(name);
        let file = File::options()
            .create_new(true)
            .append(true)
            .open(&path)
            .at(&path)?;
        let mut writer = Self { file, path };
        writer.write(&Event {
            wall_time: now(),
            step: 0,
            what: Some(What::FileVersion("brain.Event:2".into())),
        })?;
        Ok(writer)
    }

    /// The file written to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// One event of scalars at `step`.
    pub fn scalars(&mut self, step: u64, values: &[(String, f64)]) -> Result<()> {
        let value = values
            .iter()
            .map(|(tag, v)| SummaryValue {
                tag: tag.clone(),
                value: Some(Value::SimpleValue(*v as f32)),
            })
            .collect();
        self.summary(step, value)
    }

    /// One event holding a PNG image at `step`.
    pub fn png(&mut self, step: u64, tag: &str, png: &[u8]) -> Result<()> {
        let Some((width, height)) = crate::report::png_size(png) else {
            return Err(Error::Metric(format!(
                "{tag}: not a PNG image, not written to TensorBoard"
            )));
        };
        // PNG colour type: 0 grey, 2 RGB.
        let colorspace = if png.get(25) == Some(&2) { 3 } else { 1 };
        let image = Image {
            height: i32::try_from(height).unwrap_or(i32::MAX),
            width: i32::try_from(width).unwrap_or(i32::MAX),
            colorspace,
            encoded_image_string: png.to_vec(),
        };
        self.summary(
            step,
            vec![SummaryValue {
                tag: tag.to_string(),
                value: Some(Value::Image(image)),
            }],
        )
    }

    fn summary(&mut self, step: u64, value: Vec<SummaryValue>) -> Result<()> {
        self.write(&Event {
            wall_time: now(),
            step: i64::try_from(step).unwrap_or(i64::MAX),
            what: Some(What::Summary(Summary { value })),
        })
    }

    fn write(&mut self, event: &Event) -> Result<()> {
        let data = event.encode_to_vec();
        let len = (data.len() as u64).to_le_bytes();
        let mut record = Vec::with_capacity(data.len() + 16);
        record.extend_from_slice(&len);
        record.extend_from_slice(&masked_crc(&len).to_le_bytes());
        record.extend_from_slice(&data);
        record.extend_from_slice(&masked_crc(&data).to_le_bytes());
        self.file.write_all(&record).at(&self.path)?;
        self.file.flush().at(&self.path)
    }
}

/// The events of a file, each record's two CRCs checked; an error names the file and the offset of
/// the first bad record.
pub fn read_events(path: &Path) -> Result<Vec<Event>> {
    let bytes = std::fs::read(path).at(path)?;
    let bad = |offset: usize, what: &str| Error::CorruptCheckpoint {
        path: path.to_path_buf(),
        message: format!("TFRecord at byte {offset}: {what}"),
    };
    let mut events = Vec::new();
    let mut at = 0usize;
    while at < bytes.len() {
        let header = bytes
            .get(at..at + 12)
            .ok_or_else(|| bad(at, "truncated length"))?;
        let (len, len_crc) = header.split_at(8);
        if masked_crc(len) != u32::from_le_bytes(len_crc.try_into().expect("4 bytes")) {
            return Err(bad(at, "length CRC mismatch"));
        }
        let n = usize::try_from(u64::from_le_bytes(len.try_into().expect("8 bytes")))
            .map_err(|_| bad(at, "length too large"))?;
        let data_end = (at + 12)
            .checked_add(n)
            .filter(|&e| e + 4 <= bytes.len())
            .ok_or_else(|| bad(at, "truncated data"))?;
        let data = &bytes[at + 12..data_end];
        let crc = u32::from_le_bytes(bytes[data_end..data_end + 4].try_into().expect("4 bytes"));
        if masked_crc(data) != crc {
            return Err(bad(at, "data CRC mismatch"));
        }
        events.push(Event::decode(data).map_err(|e| bad(at, &format!("not an Event: {e}")))?);
        at = data_end + 4;
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_masked_crc_is_tensorflows() {
        // CRC-32C check value (RFC 3720): "123456789" → 0xE3069283; TFRecord's mask of it,
        // computed by hand: rotate right by 15, add 0xA282EAD8 (mod 2³²).
        assert_eq!(crc32c::crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(masked_crc(b"123456789"), 0xC78A_B0E5);
    }

    #[test]
    fn events_read_back_and_a_flipped_byte_is_found() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut w = EventWriter::create(dir.path()).expect("writer");
        w.scalars(10, &[("train/loss".into(), 0.25), ("train/kl".into(), 3.5)])
            .expect("scalars");
        let grid = crate::image::grid_rgb8(
            &[0.5; 4 * 4],
            1,
            1,
            4,
            4,
            &crate::image::GridOptions::default(),
        )
        .expect("grid");
        let png = crate::image::encode_png(&grid).expect("png");
        w.png(10, "samples", &png).expect("image");
        let path = w.path().to_path_buf();
        let events = read_events(&path).expect("valid file");
        assert_eq!(events.len(), 3);
        assert_eq!(
            events[0].what,
            Some(What::FileVersion("brain.Event:2".into()))
        );
        let Some(What::Summary(s)) = &events[1].what else {
            panic!("scalars expected: {:?}", events[1]);
        };
        assert_eq!(events[1].step, 10);
        assert_eq!(s.value[0].tag, "train/loss");
        assert_eq!(s.value[0].value, Some(Value::SimpleValue(0.25)));
        assert_eq!(s.value[1].value, Some(Value::SimpleValue(3.5)));
        let Some(What::Summary(s)) = &events[2].what else {
            panic!("image expected");
        };
        let Some(Value::Image(img)) = &s.value[0].value else {
            panic!("image expected");
        };
        assert_eq!(
            (img.width, img.height, img.colorspace),
            (grid.width as i32, grid.height as i32, 1)
        );
        assert_eq!(img.encoded_image_string, png);

        let mut bytes = std::fs::read(&path).expect("read");
        let last = bytes.len() - 10;
        bytes[last] ^= 1;
        std::fs::write(&path, &bytes).expect("write");
        let err = read_events(&path).expect_err("corrupt");
        assert!(err.to_string().contains("data CRC mismatch"), "{err}");
    }
}
