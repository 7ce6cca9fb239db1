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
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::error::{Error, IoContext, Result};
use crate::fsutil::write_atomic;
use crate::tensorboard::EventWriter;

/// A run directory, created fresh, reopened to resume, or opened to read.
///
/// A `RunDir` from [`RunDir::create`] or [`RunDir::resume`] holds the directory's lock
/// (`.lock`, an exclusive advisory lock of the operating system) for as long as it or a clone of
/// it lives, so two processes never train into one directory; the OS releases the lock when the
/// process dies, however it dies.
#[derive(Debug, Clone)]
pub struct RunDir {
    root: PathBuf,
    lock: Option<Arc<File>>,
}

/// The entries a run directory is made of; `--overwrite` removes these and nothing else.
const RUN_ENTRIES: [&str; 7] = [
    "config.toml",
    "metrics.jsonl",
    "summary.json",
    "report.html",
    "samples",
    "checkpoints",
    "figures",
];
/// The lock file, held by the one process that writes the run.
const LOCK_FILE: &str = ".lock";
/// Held briefly around each read-modify-write of `summary.json` (training and `eval` both update it).
const SUMMARY_LOCK_FILE: &str = ".summary.lock";
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
    /// Creates a new run directory, locks it and writes `config_toml` into it.
    ///
    /// An existing non-empty directory is an error unless `overwrite` is set. Even then only a
    /// genzoo run directory (one with a `config.toml`) is replaced, never the current directory or
    /// one of its parents, and only the entries genzoo writes are removed: a file of the user's
    /// that sits in the run directory stays. When anything fails, a directory this call created
    /// is removed again, so a failed start leaves nothing behind.
    pub fn create(root: &Path, overwrite: bool, config_toml: &str) -> Result<Self> {
        let existed = root.exists();
        if existed && !root.is_dir() {
            return Err(Error::Config(format!(
                "--out {} is a file, not a directory",
                root.display()
            )));
        }
        if existed && overwrite && contains_current_dir(root) {
            return Err(Error::RefuseOverwrite {
                path: root.to_path_buf(),
                reason: "it is the current directory or one of its parents; pass --out a run directory below it".into(),
            });
        }
        // Refused before the lock is taken, so that a refusal does not even add a `.lock` to the
        // user's directory; checked again below, under the lock.
        if existed {
            // A run another process trains is "in use" before it is anything else.
            if root.join(LOCK_FILE).is_file() {
                drop(lock(root)?);
            }
            Self::check_replaceable(root, overwrite)?;
        }
        let lock_existed = root.join(LOCK_FILE).exists();
        fs::create_dir_all(root).at(root)?;
        let lock = match lock(root) {
            Ok(lock) => lock,
            Err(e) => {
                if !existed {
                    remove_if_only_lock(root);
                }
                return Err(e);
            }
        };
        let run = Self {
            root: root.to_path_buf(),
            lock: Some(Arc::new(lock)),
        };
        let result = (|| {
            if existed && Self::check_replaceable(root, overwrite)? {
                run.remove_run_entries()?;
            }
            for sub in ["samples", "checkpoints"] {
                let dir = root.join(sub);
                fs::create_dir_all(&dir).at(&dir)?;
            }
            run.write_config(config_toml)
        })();
        match result {
            Ok(()) => Ok(run),
            Err(e) => {
                if !existed {
                    let _ = fs::remove_dir_all(root);
                } else if !lock_existed {
                    let _ = fs::remove_file(root.join(LOCK_FILE));
                }
                Err(e)
            }
        }
    }

    /// Whether the existing directory `root` may receive a new run: `Ok(false)` when it is empty,
    /// `Ok(true)` when it is a run directory to replace (`overwrite`), else the refusal.
    fn check_replaceable(root: &Path, overwrite: bool) -> Result<bool> {
        let mut entries = fs::read_dir(root).at(root)?;
        let non_empty = entries.any(|e| {
            e.map(|e| e.file_name() != LOCK_FILE && e.file_name() != SUMMARY_LOCK_FILE)
                .unwrap_or(true)
        });
        if !non_empty {
            return Ok(false);
        }
        if !overwrite {
            return Err(Error::RunDirExists(root.to_path_buf()));
        }
        if !root.join("config.toml").is_file() {
            return Err(Error::RefuseOverwrite {
                path: root.to_path_buf(),
                reason: "it is not a genzoo run directory (no config.toml); only run directories are replaced".into(),
            });
        }
        Ok(true)
    }

    /// Reopens an existing run directory to continue training it: locks it, and removes the
    /// temporary files of writers that died (a crash during a checkpoint write).
    pub fn resume(root: &Path) -> Result<Self> {
        let mut run = Self::open(root)?;
        run.lock = Some(Arc::new(lock(root)?));
        run.remove_stale_temporaries()?;
        for sub in ["samples", "checkpoints"] {
            let dir = root.join(sub);
            fs::create_dir_all(&dir).at(&dir)?;
        }
        Ok(run)
    }

    /// Opens an existing run directory to read it (`eval`, `sample`, `figures`), without the lock:
    /// those commands write only files of their own, atomically, and `summary.json` through
    /// [`RunDir::update_summary`].
    pub fn open(root: &Path) -> Result<Self> {
        if !root.is_dir() {
            return Err(Error::Config(format!(
                "{} is not a genzoo run directory ({})",
                root.display(),
                if root.exists() {
                    "it is a file"
                } else {
                    "it does not exist"
                }
            )));
        }
        let config = root.join("config.toml");
        if !config.is_file() {
            return Err(Error::Config(format!(
                "{} is not a genzoo run directory (no config.toml)",
                root.display()
            )));
        }
        Ok(Self {
            root: root.to_path_buf(),
            lock: None,
        })
    }

    /// Whether this handle holds the directory's lock.
    pub fn is_locked(&self) -> bool {
        self.lock.is_some()
    }

    /// Entries of the directory other than the lock files.
    fn user_entries(&self) -> Result<Vec<std::ffi::OsString>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(&self.root).at(&self.root)? {
            let name = entry.at(&self.root)?.file_name();
            if name != LOCK_FILE && name != SUMMARY_LOCK_FILE {
                names.push(name);
            }
        }
        Ok(names)
    }

    /// Removes what genzoo wrote (config, logs, summary, report, samples, checkpoints, figures,
    /// temporary files); anything else stays, and is named in the log.
    fn remove_run_entries(&self) -> Result<()> {
        for name in self.user_entries()? {
            let path = self.root.join(&name);
            let text = name.to_string_lossy();
            let ours = RUN_ENTRIES.contains(&text.as_ref()) || is_temporary(&text);
            if !ours {
                tracing::warn!(
                    "--overwrite keeps {} (genzoo did not write it)",
                    path.display()
                );
                continue;
            }
            if path.is_dir() {
                fs::remove_dir_all(&path).at(&path)?;
            } else {
                fs::remove_file(&path).at(&path)?;
            }
        }
        Ok(())
    }

    /// Removes `.NAME.tmp-PID-N` files whose writer process no longer exists.
    fn remove_stale_temporaries(&self) -> Result<()> {
        for sub in ["", "checkpoints", "samples", "figures"] {
            let dir = self.root.join(sub);
            let Ok(entries) = fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries {
                let entry = entry.at(&dir)?;
                let name = entry.file_name();
                let name = name.to_string_lossy();
                if temporary_writer(&name).is_some_and(|pid| !process_alive(pid)) {
                    let path = entry.path();
                    fs::remove_file(&path).at(&path)?;
                    tracing::info!("removed {} (left by a writer that died)", path.display());
                }
            }
        }
        Ok(())
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

    /// Writes `summary.json` (pretty, atomic), replacing it whole.
    pub fn write_summary(&self, summary: &Map<String, Value>) -> Result<()> {
        self.update_summary(|current| *current = summary.clone())
    }

    /// Reads `summary.json`, lets `change` edit it and writes it back, holding `.summary.lock` so
    /// that a training run and an `eval` of it never undo each other's entries.
    pub fn update_summary(&self, change: impl FnOnce(&mut Map<String, Value>)) -> Result<()> {
        let lock_path = self.root.join(SUMMARY_LOCK_FILE);
        let lock = open_lock_file(&lock_path)?;
        lock.lock().at(&lock_path)?;
        let mut summary = self.read_summary()?;
        change(&mut summary);
        let text = serde_json::to_string_pretty(&summary).expect("JSON map serializes");
        let path = self.root.join("summary.json");
        write_atomic(&path, text.as_bytes()).at(path)
        // `lock` is released when it is dropped here.
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
        Ok(MetricsLog {
            file,
            path,
            tensorboard: None,
        })
    }
}

/// Append-only `metrics.jsonl`; every record is flushed so a crash loses nothing logged. With a
/// TensorBoard writer, each record's numbers are also an event of scalars tagged
/// `<split>/<field>`.
pub struct MetricsLog {
    file: File,
    path: PathBuf,
    tensorboard: Option<EventWriter>,
}

impl MetricsLog {
    /// Appends one JSON object as a line (and its numbers to TensorBoard, if it writes there).
    pub fn write(&mut self, record: &Map<String, Value>) -> Result<()> {
        let mut line = serde_json::to_string(record).expect("JSON map serializes");
        line.push('\n');
        self.file.write_all(line.as_bytes()).at(&self.path)?;
        self.file.flush().at(&self.path)?;
        if let Some(tb) = &mut self.tensorboard {
            let step = record.get("step").and_then(Value::as_u64).unwrap_or(0);
            let split = record.get("split").and_then(Value::as_str).unwrap_or("run");
            let scalars: Vec<(String, f64)> = record
                .iter()
                .filter(|(k, _)| !matches!(k.as_str(), "step" | "epoch" | "split"))
                .filter_map(|(k, v)| Some((format!("{split}/{k}"), v.as_f64()?)))
                .collect();
            if !scalars.is_empty() {
                tb.scalars(step, &scalars)?;
            }
        }
        Ok(())
    }

    /// Also writes the records, and the sample grids given to [`MetricsLog::image`], as
    /// TensorBoard events.
    pub fn with_tensorboard(mut self, writer: EventWriter) -> Self {
        self.tensorboard = Some(writer);
        self
    }

    /// A PNG image as a TensorBoard image at `step`, if TensorBoard is written.
    pub fn image(&mut self, step: u64, tag: &str, png: &[u8]) -> Result<()> {
        match &mut self.tensorboard {
            Some(tb) => tb.png(step, tag, png),
            None => Ok(()),
        }
    }
}

/// Takes the exclusive lock of the run directory `root` (creating `.lock`), or says who has it.
fn lock(root: &Path) -> Result<File> {
    let path = root.join(LOCK_FILE);
    let file = open_lock_file(&path)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(fs::TryLockError::WouldBlock) => Err(Error::RunDirInUse(root.to_path_buf())),
        Err(fs::TryLockError::Error(e)) => Err(e).at(path),
    }
}

/// Opens (creating, never truncating) a file that is only ever locked, not read.
fn open_lock_file(path: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .at(path)
}

/// Removes `root` if nothing but the lock file is in it (a directory this process just made).
fn remove_if_only_lock(root: &Path) {
    let only_lock = fs::read_dir(root)
        .map(|entries| entries.flatten().all(|e| e.file_name() == LOCK_FILE))
        .unwrap_or(false);
    if only_lock {
        let _ = fs::remove_dir_all(root);
    }
}

/// Whether `dir` is the current directory or one of its parents (so removing it would remove the
/// directory the user stands in).
fn contains_current_dir(dir: &Path) -> bool {
    match (
        fs::canonicalize(dir),
        std::env::current_dir().and_then(fs::canonicalize),
    ) {
        (Ok(dir), Ok(cwd)) => cwd.starts_with(dir),
        // Cannot tell: assume the worst.
        _ => true,
    }
}

/// The writer's process id of a temporary file of [`write_atomic`] (`.NAME.tmp-PID-N`).
fn temporary_writer(name: &str) -> Option<u32> {
    let rest = &name[name.rfind(".tmp-")? + 5..];
    let (pid, counter) = rest.split_once('-')?;
    counter.parse::<u64>().ok()?;
    pid.parse().ok()
}

fn is_temporary(name: &str) -> bool {
    name.starts_with('.') && temporary_writer(name).is_some()
}

/// Whether process `pid` exists. Where that cannot be known (no `/proc`), it is assumed to exist,
/// so a live writer's file is never removed.
fn process_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    let proc = Path::new("/proc");
    !proc.join("self").exists() || proc.join(pid.to_string()).exists()
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
        let run = RunDir::create(&root, false, "a = 1\n").expect("fresh");
        drop(run);
        let err = RunDir::create(&root, false, "a = 2\n").expect_err("exists");
        assert!(matches!(err, Error::RunDirExists(_)));
        assert!(err.to_string().contains("--resume"), "{err}");
        let run = RunDir::open(&root).expect("open");
        assert_eq!(run.read_config().expect("still there"), "a = 1\n");
        fs::write(root.join("notes.txt"), "mine").expect("user file");
        fs::write(root.join("checkpoints/last.ckpt"), "old").expect("ckpt");
        let run = RunDir::create(&root, true, "a = 3\n").expect("overwrite asked");
        assert_eq!(run.read_config().expect("new config"), "a = 3\n");
        assert!(!root.join("checkpoints/last.ckpt").exists());
        assert_eq!(
            fs::read_to_string(root.join("notes.txt")).expect("a file genzoo did not write stays"),
            "mine"
        );
    }

    #[test]
    fn overwrite_refuses_what_is_not_a_run_and_changes_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("mine");
        fs::create_dir_all(root.join("sub")).expect("mkdir");
        fs::write(root.join("notes.txt"), "a").expect("write");
        fs::write(root.join("sub/x"), "b").expect("write");
        let err = RunDir::create(&root, true, "a = 1\n").expect_err("not a run");
        assert!(matches!(err, Error::RefuseOverwrite { .. }), "{err}");
        assert!(
            err.to_string().contains("not a genzoo run directory"),
            "{err}"
        );
        assert_eq!(
            fs::read_to_string(root.join("notes.txt")).expect("kept"),
            "a"
        );
        assert_eq!(fs::read_to_string(root.join("sub/x")).expect("kept"), "b");
        assert!(!root.join("config.toml").exists());
        assert!(!root.join(LOCK_FILE).exists(), "a refusal adds nothing");
        RunDir::create(&root, false, "a = 1\n").expect_err("exists");
        assert!(!root.join(LOCK_FILE).exists(), "a refusal adds nothing");
        // A file given as the run directory is named as such.
        let file = root.join("notes.txt");
        let err = RunDir::create(&file, true, "a = 1\n").expect_err("a file");
        assert!(err.to_string().contains("is a file"), "{err}");
    }

    #[test]
    fn the_current_directory_and_its_parents_are_never_replaced() {
        let cwd = std::env::current_dir().expect("cwd");
        assert!(contains_current_dir(&cwd));
        assert!(contains_current_dir(cwd.parent().expect("parent")));
        assert!(contains_current_dir(Path::new(".")));
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(!contains_current_dir(dir.path()) || cwd.starts_with(dir.path()));
    }

    #[test]
    fn a_locked_run_refuses_a_second_writer_until_the_first_is_gone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("run");
        let first = RunDir::create(&root, false, "a = 1\n").expect("fresh");
        assert!(first.is_locked());
        for err in [
            RunDir::resume(&root).expect_err("in use"),
            RunDir::create(&root, true, "a = 2\n").expect_err("in use"),
            RunDir::create(&root, false, "a = 2\n").expect_err("in use"),
        ] {
            assert!(matches!(err, Error::RunDirInUse(_)), "{err}");
            assert!(err.to_string().contains("in use"), "{err}");
        }
        assert_eq!(first.read_config().expect("unchanged"), "a = 1\n");
        // Readers do not need the lock.
        assert!(!RunDir::open(&root).expect("readable").is_locked());
        let clone = first.clone();
        drop(first);
        RunDir::resume(&root).expect_err("a clone still holds the lock");
        drop(clone);
        assert!(RunDir::resume(&root).expect("free again").is_locked());
    }

    #[test]
    fn resume_removes_temporaries_of_dead_writers_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("run");
        drop(RunDir::create(&root, false, "a = 1\n").expect("fresh"));
        let dead = root.join("checkpoints/.last.ckpt.tmp-4000000000-3");
        let alive = root.join(format!(
            "checkpoints/.last.ckpt.tmp-{}-0",
            std::process::id()
        ));
        let user = root.join("checkpoints/keep.tmp-1");
        for p in [&dead, &alive, &user] {
            fs::write(p, "x").expect("write");
        }
        let _run = RunDir::resume(&root).expect("resume");
        assert!(!dead.exists(), "a dead writer's temporary file is removed");
        assert!(alive.exists() && user.exists());
        assert_eq!(temporary_writer(".a.json.tmp-12-7"), Some(12));
        assert_eq!(temporary_writer("a.tmp-x-7"), None);
    }

    #[test]
    fn summary_updates_keep_each_others_entries() {
        let dir = tempfile::tempdir().expect("tempdir");
        let run = RunDir::create(dir.path(), false, "a = 1\n").expect("fresh");
        run.update_summary(|s| {
            s.insert("steps".into(), Value::from(3));
        })
        .expect("train writes");
        let reader = RunDir::open(dir.path()).expect("open");
        reader
            .update_summary(|s| {
                s.insert("eval".into(), Value::from("e"));
            })
            .expect("eval writes");
        run.update_summary(|s| {
            s.insert("steps".into(), Value::from(4));
        })
        .expect("train writes again");
        let s = run.read_summary().expect("read");
        assert_eq!(s["steps"], Value::from(4));
        assert_eq!(s["eval"], Value::from("e"));
    }

    #[test]
    fn resume_drops_metrics_after_the_checkpoint_step() {
        let dir = tempfile::tempdir().expect("tempdir");
        let run = RunDir::create(dir.path(), false, "a = 1\n").expect("create");
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
