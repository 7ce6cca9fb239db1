//! The run directory: where a training run keeps everything it produces.
//!
//! ```text
//! runs/<model>-<dataset>-<UTC time>/
//!   config.toml            resolved configuration
//!   metrics.jsonl          one JSON object per logged step / evaluation
//!   summary.json           final metrics
//!   samples/step-N.png     sample or reconstruction grids
//!   checkpoints/last.ckpt  checkpoints/best.ckpt
//!   report.html            self-contained page with all of the above
//! ```

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::error::{Error, IoContext, Result};
use crate::fsutil::write_atomic;

/// A run directory, created fresh or reopened to resume.
#[derive(Debug, Clone)]
pub struct RunDir {
    root: PathBuf,
}

/// Today's UTC date and time as `YYYYMMDD-HHMMSS`, computed without a time-zone database.
pub fn utc_stamp() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil-from-days (H. Hinnant's algorithm), valid for all dates after 1970.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}-{:02}{:02}{:02}",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

impl RunDir {
    /// Creates a new run directory. An existing non-empty directory is an error unless
    /// `overwrite` is set, in which case its old contents are removed first.
    pub fn create(root: &Path, overwrite: bool) -> Result<Self> {
        if root.exists() {
            let non_empty = fs::read_dir(root).at(root)?.next().is_some();
            if non_empty && !overwrite {
                return Err(Error::RunDirExists(root.to_path_buf()));
            }
            if non_empty {
                fs::remove_dir_all(root).at(root)?;
            }
        }
        for sub in ["", "samples", "checkpoints"] {
            let dir = root.join(sub);
            fs::create_dir_all(&dir).at(&dir)?;
        }
        Ok(Self {
            root: root.to_path_buf(),
        })
    }

    /// Opens an existing run directory to resume it.
    pub fn open(root: &Path) -> Result<Self> {
        let config = root.join("config.toml");
        if !config.is_file() {
            return Err(Error::Config(format!(
                "{} is not a genzoo run directory (no config.toml)",
                root.display()
            )));
        }
        for sub in ["samples", "checkpoints"] {
            let dir = root.join(sub);
            fs::create_dir_all(&dir).at(&dir)?;
        }
        Ok(Self {
            root: root.to_path_buf(),
        })
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `config.toml`.
    pub fn config_path(&self) -> PathBuf {
        self.root.join("config.toml")
    }

    /// `checkpoints/<name>.ckpt` (`last` or `best`).
    pub fn checkpoint_path(&self, name: &str) -> PathBuf {
        self.root.join("checkpoints").join(format!("{name}.ckpt"))
    }

    /// `samples/<name>.png`.
    pub fn sample_path(&self, name: &str) -> PathBuf {
        self.root.join("samples").join(format!("{name}.png"))
    }

    /// Writes the resolved configuration.
    pub fn write_config(&self, toml_text: &str) -> Result<()> {
        write_atomic(&self.config_path(), toml_text.as_bytes()).at(self.config_path())
    }

    /// Reads the resolved configuration back.
    pub fn read_config(&self) -> Result<String> {
        fs::read_to_string(self.config_path()).at(self.config_path())
    }

    /// Writes `summary.json` (pretty, atomic).
    pub fn write_summary(&self, summary: &Map<String, Value>) -> Result<()> {
        let text = serde_json::to_string_pretty(summary).expect("JSON map serializes");
        let path = self.root.join("summary.json");
        write_atomic(&path, text.as_bytes()).at(path)
    }

    /// Reads `summary.json`, or an empty map if it is not written yet.
    pub fn read_summary(&self) -> Result<Map<String, Value>> {
        let path = self.root.join("summary.json");
        match fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text)
                .map_err(|e| Error::Config(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Map::new()),
            Err(e) => Err(e).at(path),
        }
    }

    /// Opens `metrics.jsonl` for appending. With `keep_up_to_step`, lines of later steps (logged
    /// after the checkpoint a resumed run restarts from) are dropped first, so the log never
    /// holds two different histories of the same step.
    pub fn metrics_log(&self, keep_up_to_step: Option<u64>) -> Result<MetricsLog> {
        let path = self.root.join("metrics.jsonl");
        if let (Some(limit), true) = (keep_up_to_step, path.exists()) {
            let file = File::open(&path).at(&path)?;
            let mut kept = String::new();
            for line in BufReader::new(file).lines() {
                let line = line.at(&path)?;
                let step = serde_json::from_str::<Value>(&line)
                    .ok()
                    .and_then(|v| v.get("step").and_then(Value::as_u64));
                if step.is_some_and(|s| s <= limit) {
                    kept.push_str(&line);
                    kept.push('\n');
                }
            }
            write_atomic(&path, kept.as_bytes()).at(&path)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .at(&path)?;
        Ok(MetricsLog { file, path })
    }
}

/// Append-only `metrics.jsonl`; every record is flushed so a crash loses nothing logged.
#[derive(Debug)]
pub struct MetricsLog {
    file: File,
    path: PathBuf,
}

impl MetricsLog {
    /// Appends one JSON object as a line.
    pub fn write(&mut self, record: &Map<String, Value>) -> Result<()> {
        let mut line = serde_json::to_string(record).expect("JSON map serializes");
        line.push('\n');
        self.file.write_all(line.as_bytes()).at(&self.path)?;
        self.file.flush().at(&self.path)
    }
}

/// Builds a JSON object from `(key, value)` pairs; non-finite floats become `null` (JSON has no NaN).
pub fn record<I, K>(pairs: I) -> Map<String, Value>
where
    I: IntoIterator<Item = (K, Value)>,
    K: Into<String>,
{
    pairs.into_iter().map(|(k, v)| (k.into(), v)).collect()
}

/// A float as JSON, `null` when not finite.
pub fn num(x: f64) -> Value {
    serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn existing_run_dir_is_not_overwritten_unless_asked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("run");
        let run = RunDir::create(&root, false).expect("fresh");
        run.write_config("a = 1\n").expect("config");
        let err = RunDir::create(&root, false).expect_err("exists");
        assert!(matches!(err, Error::RunDirExists(_)));
        assert!(err.to_string().contains("--resume"), "{err}");
        assert_eq!(run.read_config().expect("still there"), "a = 1\n");
        RunDir::create(&root, true).expect("overwrite asked");
        assert!(!root.join("config.toml").exists());
    }

    #[test]
    fn resume_drops_metrics_after_the_checkpoint_step() {
        let dir = tempfile::tempdir().expect("tempdir");
        let run = RunDir::create(dir.path(), false).expect("create");
        let mut log = run.metrics_log(None).expect("log");
        for step in [10u64, 20, 30] {
            log.write(&record([("step", Value::from(step)), ("loss", num(0.5))]))
                .expect("write");
        }
        drop(log);
        let mut log = run.metrics_log(Some(20)).expect("reopen");
        log.write(&record([
            ("step", Value::from(25u64)),
            ("loss", num(f64::NAN)),
        ]))
        .expect("write");
        let text = fs::read_to_string(dir.path().join("metrics.jsonl")).expect("read");
        let steps: Vec<u64> = text
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).expect("json")["step"]
                    .as_u64()
                    .expect("step")
            })
            .collect();
        assert_eq!(steps, vec![10, 20, 25]);
        assert!(
            text.contains("\"loss\":null"),
            "NaN must become null: {text}"
        );
    }

    #[test]
    fn open_requires_a_config() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = RunDir::open(dir.path()).expect_err("no config");
        assert!(
            err.to_string().contains("not a genzoo run directory"),
            "{err}"
        );
    }

    #[test]
    fn utc_stamp_has_the_documented_shape() {
        let s = utc_stamp();
        assert_eq!(s.len(), 15, "{s}");
        assert_eq!(&s[8..9], "-");
        assert!(s[..4].parse::<u32>().expect("year") >= 2024);
    }
}
