//! Fault injection on the real `genzoo` binary: each class of user fault is tried and must end in a
//! clear one-line error, a non-zero exit, no panic, no new directory and the files already there
//! unchanged.
//!
//! The promises, one a line:
//! 1. `--overwrite` never deletes what is not a run directory, nor the current directory or a parent of it.
//! 2. An `--overwrite` whose later checks fail leaves the old run byte-identical; one that succeeds keeps the user's files.
//! 3. Invalid flags never create a directory.
//! 4. Every model's `[model_config]`: a zero size, a shape the data does not have, an unknown key or a model too big for memory is refused before anything is made.
//! 5. A run directory in use by a training process is refused to every other writer, and the lock dies with its process.
//! 6. A corrupt checkpoint (a flipped bit anywhere, a truncated or empty file) is a named error, and resuming from it changes no file.
//! 7. A training killed at any moment (kill -9, or SIGTERM: exit 130) leaves a checkpoint that loads, resumes, and leaves no temporary file behind.
//! 8. `--resume` cannot change what determines a run, and refuses to continue a run whose budget is spent.
//! 9. A training whose loss stops being finite says so, and leaves a loadable checkpoint and no null metric.
//! 10. A request too big for memory is refused with the estimated need; a command that does not apply says so in one plain line.
//! 11. A data file that is a directory is named as such, not reported missing.
//! 12. A full disk fails the write in progress with the file's name and loses nothing: a failed start leaves no directory, a failed resume no changed file.
//!
//! Conventions: every child runs with `RUST_LOG=error`, so its stderr holds only the final error
//! line; a needle is a case-sensitive substring of that line, `|` separating alternatives that are
//! all acceptable. Exit code 1 is the program's own refusal (`error: ...`), 2 clap's argument errors.
//! All data is the embedded `mnist-mini`, and every training is a few steps of batch 8.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use genzoo_train::Checkpoint;

const BIN: &str = env!("CARGO_BIN_EXE_genzoo");

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

/// Exit codes a case accepts: the program's refusal, clap's usage error, or either.
const REFUSED: &[i32] = &[1];
const USAGE: &[i32] = &[2];
const EITHER: &[i32] = &[1, 2];

/// Address-space cap (KiB) of the children asked for something too big: a binary that does not
/// refuse up front then fails an allocation instead of taking the machine's memory.
const MEMORY_CAP_KIB: u64 = 8 << 20;

/// How long a spawned training may take to reach the state a test waits for.
const WAIT_CAP: Duration = Duration::from_secs(120);

fn configure(c: &mut Command) -> &mut Command {
    c.env_remove("GENZOO_DATA_DIR")
        .env("RUST_LOG", "error")
        .stdin(Stdio::null())
}

fn command(args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args);
    configure(&mut c);
    c
}

/// Runs `genzoo ARGS` to completion.
fn genzoo(args: &[&str]) -> Output {
    command(args).output().expect("genzoo runs")
}

/// Runs `genzoo ARGS` with `dir` as its current directory.
fn genzoo_in(dir: &Path, args: &[&str]) -> Output {
    command(args)
        .current_dir(dir)
        .output()
        .expect("genzoo runs")
}

/// Runs `genzoo ARGS` under an address-space limit of [`MEMORY_CAP_KIB`].
fn genzoo_capped(args: &[&str]) -> Output {
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg(format!("ulimit -v {MEMORY_CAP_KIB} && exec \"$0\" \"$@\""))
        .arg(BIN)
        .args(args);
    configure(&mut c).output().expect("sh runs genzoo")
}

fn s(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Status, stderr and the end of stdout, for assertion messages.
fn describe(o: &Output) -> String {
    let out = String::from_utf8_lossy(&o.stdout);
    let tail: String = out
        .chars()
        .rev()
        .take(2000)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!(
        "{}\n--- stderr\n{}--- stdout (end)\n{tail}",
        o.status,
        stderr(o)
    )
}

fn assert_ok(o: &Output, ctx: &str) {
    assert!(
        o.status.success(),
        "{ctx}: expected success, got {}",
        describe(o)
    );
}

/// A refusal: exit code in `codes`, no panic, exactly one stderr line, mentioning `needle` (one of
/// its `|`-separated alternatives), and starting with `error: ` for exit code 1. Returns the line.
fn assert_refused(o: &Output, codes: &[i32], needle: &str, ctx: &str) -> String {
    let err = stderr(o);
    let code = o.status.code();
    assert!(
        code.is_some_and(|c| codes.contains(&c)),
        "{ctx}: exit {:?}, expected one of {codes:?}; {}",
        code,
        describe(o)
    );
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "{ctx}: the binary panicked:\n{err}"
    );
    let lines: Vec<&str> = err.trim().lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "{ctx}: expected exactly one stderr line, got {}:\n{err}",
        lines.len()
    );
    let line = lines[0];
    assert!(
        needle.split('|').any(|n| line.contains(n)),
        "{ctx}: the error does not mention {needle:?}: {line}"
    );
    if code == Some(1) {
        assert!(
            line.starts_with("error: "),
            "{ctx}: not an `error: ` line: {line}"
        );
    }
    line.to_string()
}

/// Every file and directory below `dir`, by relative path (dotfiles included): file bytes, or
/// [`DIRECTORY`] for a directory, so an emptied or removed directory shows too.
type Snapshot = BTreeMap<PathBuf, Vec<u8>>;
const DIRECTORY: &[u8] = b"<directory>";

fn snapshot(dir: &Path) -> Snapshot {
    fn walk(root: &Path, dir: &Path, out: &mut Snapshot) {
        for entry in fs::read_dir(dir).expect("read_dir") {
            let path = entry.expect("dir entry").path();
            let rel = path.strip_prefix(root).expect("below root").to_path_buf();
            if fs::symlink_metadata(&path).expect("metadata").is_dir() {
                out.insert(rel, DIRECTORY.to_vec());
                walk(root, &path, out);
            } else {
                out.insert(rel, fs::read(&path).expect("read file"));
            }
        }
    }
    let mut out = Snapshot::new();
    walk(dir, dir, &mut out);
    out
}

/// Asserts two snapshots are equal, naming every path added, removed or changed.
fn assert_same(before: &Snapshot, after: &Snapshot, ctx: &str) {
    let mut diffs = Vec::new();
    for (path, bytes) in before {
        match after.get(path) {
            None => diffs.push(format!("removed {}", path.display())),
            Some(now) if now != bytes => diffs.push(format!("changed {}", path.display())),
            Some(_) => {}
        }
    }
    for path in after.keys().filter(|p| !before.contains_key(*p)) {
        diffs.push(format!("added {}", path.display()));
    }
    assert!(
        diffs.is_empty(),
        "{ctx}: files changed:\n  {}",
        diffs.join("\n  ")
    );
}

/// `extra` plus what keeps a training of `model` tiny: `--steps 2` unless it sets `--steps` or
/// `--epochs`, `--batch-size 8` unless it sets `--batch-size`; nothing for a classic fit (k-means:
/// no steps or batches).
fn tiny<'a>(model: &str, extra: &[&'a str]) -> Vec<&'a str> {
    let has = |flag: &str| {
        extra
            .iter()
            .any(|a| *a == flag || a.starts_with(&format!("{flag}=")))
    };
    let mut v = extra.to_vec();
    if model == "kmeans" {
        return v;
    }
    if !has("--steps") && !has("--epochs") {
        v.extend(["--steps", "2"]);
    }
    if !has("--batch-size") {
        v.extend(["--batch-size", "8"]);
    }
    v
}

/// `genzoo train MODEL --dataset DATASET` into `out`, without a progress bar, then `extra`.
fn train_on<'a>(dataset: &'a str, model: &'a str, out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec![
        "train",
        model,
        "--dataset",
        dataset,
        "--no-progress",
        "--out",
        out,
    ];
    v.extend_from_slice(extra);
    v
}

/// `genzoo train MODEL` on mnist-mini into `out`, kept [`tiny`].
fn fresh<'a>(model: &'a str, out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    train_on("mnist-mini", model, out, &tiny(model, extra))
}

/// Trains the small valid "old run" (autoencoder, 4 steps of 8, a checkpoint every 2) into `dir`.
fn train_small_run(dir: &Path) -> PathBuf {
    let o = genzoo(&fresh(
        "autoencoder",
        s(dir),
        &["--steps", "4", "--checkpoint-every", "2"],
    ));
    assert_ok(&o, "training the old run");
    Checkpoint::load(&dir.join("checkpoints/last.ckpt")).expect("the old run's last.ckpt loads");
    dir.to_path_buf()
}

/// A valid k-means fit (k = 3) into `dir`.
fn fit_small_kmeans(dir: &Path) -> PathBuf {
    let o = genzoo(&fresh("kmeans", s(dir), &["--k", "3"]));
    assert_ok(&o, "fitting the old k-means run");
    dir.to_path_buf()
}

fn metrics_lines(run: &Path) -> usize {
    fs::read_to_string(run.join("metrics.jsonl"))
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

/// Paths below `dir` whose name contains `.tmp-` (what an interrupted atomic write leaves).
fn temporaries(dir: &Path) -> Vec<PathBuf> {
    snapshot(dir)
        .into_keys()
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().contains(".tmp-"))
        })
        .collect()
}

/// Resumes the run in `dir` for two steps more than its `last.ckpt` holds: the checkpoint loads
/// before and after, the resume succeeds and ends two steps on, and no temporary file is left.
fn resume_two_more_steps(dir: &Path, ctx: &str) {
    let last = dir.join("checkpoints/last.ckpt");
    let stopped = Checkpoint::load(&last)
        .unwrap_or_else(|e| panic!("{ctx}: last.ckpt does not load: {e}"))
        .meta
        .step;
    let target = (stopped + 2).to_string();
    let o = genzoo(&[
        "train",
        "--resume",
        s(dir),
        "--steps",
        &target,
        "--no-progress",
    ]);
    assert_ok(&o, ctx);
    let resumed = Checkpoint::load(&last)
        .unwrap_or_else(|e| panic!("{ctx}: resumed last.ckpt does not load: {e}"));
    assert_eq!(resumed.meta.step, stopped + 2, "{ctx}");
    let left = temporaries(dir);
    assert!(left.is_empty(), "{ctx}: temporary files left: {left:?}");
}

/// A spawned `genzoo` that is killed (SIGKILL) and reaped when dropped, so a failing test never
/// leaves a training behind. Its stderr goes to `log`.
struct Running {
    child: Child,
    log: PathBuf,
}

impl Running {
    fn spawn(args: &[&str], log: &Path) -> Self {
        let file = fs::File::create(log).expect("create log");
        let child = command(args)
            .stdout(Stdio::null())
            .stderr(Stdio::from(file))
            .spawn()
            .expect("spawn genzoo");
        Self {
            child,
            log: log.to_path_buf(),
        }
    }

    /// A training of the autoencoder into `dir` that runs until it is killed (100,000 steps),
    /// logging every step and saving `last.ckpt` every `checkpoint_every` steps.
    fn endless(dir: &Path, checkpoint_every: &str, log: &Path) -> Self {
        let args = [
            "--steps",
            "100000",
            "--log-every",
            "1",
            "--checkpoint-every",
            checkpoint_every,
        ];
        Self::spawn(&fresh("autoencoder", s(dir), &args), log)
    }

    fn still_running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }

    /// `kill -9` and wait, so the process is gone (and its pid reaped) on return.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Polls `ready` until it holds; fails if the process exits first or [`WAIT_CAP`] passes.
    fn wait_until(&mut self, what: &str, mut ready: impl FnMut() -> bool) {
        let start = Instant::now();
        while !ready() {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                panic!(
                    "genzoo exited ({status}) before {what}:\n{}",
                    fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            assert!(
                start.elapsed() < WAIT_CAP,
                "{what}: not within {WAIT_CAP:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The cases of one table-driven test. Each runs with its assertion failure caught, so that the
/// test reports every failing case at once instead of stopping at the first.
struct Cases {
    test: &'static str,
    count: usize,
    failures: Vec<String>,
}

impl Cases {
    fn new(test: &'static str) -> Self {
        Self {
            test,
            count: 0,
            failures: Vec::new(),
        }
    }

    /// Runs one case, catching its assertion failure.
    fn run(&mut self, ctx: &str, f: impl FnOnce()) {
        self.count += 1;
        if let Err(panic) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|m| (*m).to_string()))
                .unwrap_or_else(|| "(panic without a message)".into());
            self.failures.push(format!("[{ctx}] {message}"));
        }
    }

    /// A case: the command `run` runs is refused (exit code 1, mentioning `needle`), and every
    /// file below `watched` stays as it was before.
    fn refused_keeping(
        &mut self,
        ctx: &str,
        watched: &Path,
        needle: &str,
        run: impl FnOnce() -> Output,
    ) {
        let before = snapshot(watched);
        self.run(ctx, || {
            assert_refused(&run(), REFUSED, needle, ctx);
            assert_same(&before, &snapshot(watched), ctx);
        });
    }

    /// A case: the command `run` runs is refused (an exit code of `codes`, mentioning `needle`)
    /// and `out` does not come to exist.
    fn refused_creating_nothing(
        &mut self,
        ctx: &str,
        out: &Path,
        codes: &[i32],
        needle: &str,
        run: impl FnOnce() -> Output,
    ) {
        self.run(ctx, || {
            assert_refused(&run(), codes, needle, ctx);
            assert!(!out.exists(), "{ctx}: created {}", out.display());
        });
        // A directory a failed case left would fail every later case too.
        let _ = fs::remove_dir_all(out);
    }

    /// Prints the case count and fails the test if any case failed, listing them all.
    fn finish(self) {
        let (test, cases, failures) = (self.test, self.count, self.failures);
        eprintln!("{test}: {cases} cases, {} failed", failures.len());
        assert!(
            failures.is_empty(),
            "{test}: {} of {cases} cases failed:\n\n{}",
            failures.len(),
            failures.join("\n\n")
        );
    }
}

/// Runs the table-driven test `test` in a new temporary directory: `body` adds its cases, and the
/// test fails at the end if any of them failed, listing them all.
fn table_test(test: &'static str, body: impl FnOnce(&Path, &mut Cases)) {
    let tmp = tempdir();
    let mut cases = Cases::new(test);
    body(tmp.path(), &mut cases);
    cases.finish();
}

/// Runs `genzoo ARGS` and asserts, before handing the output on, that its stderr does not
/// contain `unwanted` (`why` says what that would mean).
fn genzoo_without(args: &[&str], unwanted: &str, why: &str) -> Output {
    let o = genzoo(args);
    let err = stderr(&o);
    assert!(!err.contains(unwanted), "{why}: {err}");
    o
}

// ---------------------------------------------------------------------------------------------
// 1. --overwrite never deletes what is not a run
// ---------------------------------------------------------------------------------------------

#[test]
fn overwrite_never_deletes_what_is_not_a_run_nor_the_current_directory() {
    table_test("overwrite_never_deletes_what_is_not_a_run", |tmp, cases| {
        let user = tmp.join("mine");
        let user_sub = user.join("sub");
        fs::create_dir_all(&user_sub).expect("mkdir");
        fs::write(user.join("notes.txt"), "my notes").expect("write");
        fs::write(user_sub.join("x"), "x").expect("write");
        fs::write(user.join(".hidden"), "dot").expect("write");
        let notes = user.join("notes.txt");
        let run = train_small_run(&tmp.join("run"));
        let run_samples = run.join("samples");

        // (current directory of the child, --out, the directory that must stay as it is, needle)
        let (u, r) = (user.as_path(), run.as_path());
        let not_run = "not a genzoo run directory";
        let either = "not a genzoo run directory|current directory";
        let table: &[(Option<&Path>, &str, &Path, &str)] = &[
            (None, s(u), u, not_run),
            (None, s(&notes), u, "file|not a genzoo run directory"),
            (Some(u), ".", u, either),
            (Some(user_sub.as_path()), "..", u, either),
            (Some(r), ".", r, "current directory"),
            (Some(r), s(r), r, "current directory"),
            (Some(run_samples.as_path()), s(r), r, "current directory"),
            (Some(run_samples.as_path()), "..", r, "current directory"),
        ];
        for &(cwd, out, watched, needle) in table {
            let ctx = format!("--out {out} --overwrite from {cwd:?}");
            let args = fresh("autoencoder", out, &["--overwrite"]);
            cases.refused_keeping(&ctx, watched, needle, || match cwd {
                Some(dir) => genzoo_in(dir, &args),
                None => genzoo(&args),
            });
        }

        // An empty directory holds nothing to lose: it is trained into.
        let empty = tmp.join("empty");
        fs::create_dir(&empty).expect("mkdir");
        cases.run("--overwrite of an empty directory", || {
            let o = genzoo(&fresh("autoencoder", s(&empty), &["--overwrite"]));
            assert_ok(&o, "--overwrite of an empty directory");
            assert!(empty.join("config.toml").is_file());
        });
    });
}

// ---------------------------------------------------------------------------------------------
// 2. A failed --overwrite leaves the old run byte-identical
// ---------------------------------------------------------------------------------------------

#[test]
fn a_failed_overwrite_leaves_the_old_run_byte_identical() {
    table_test("a_failed_overwrite_leaves_the_old_run", |tmp, cases| {
        let run = train_small_run(&tmp.join("run"));
        // A file of the user's inside the run: every refusal keeps it, and so does a real overwrite.
        fs::write(run.join("notes.txt"), "mine").expect("write");
        let latent0 = tmp.join("latent0.toml");
        fs::write(&latent0, "[model_config]\nlatent = 0\n").expect("write");
        // A classic fit, whose parameters used to fail only once fitting had begun.
        let km = fit_small_kmeans(&tmp.join("km"));

        // (model, its old run, flags besides --overwrite, needle)
        let table: &[(&str, &Path, &[&str], &str)] = &[
            (
                "autoencoder",
                &run,
                &["--batch-size", "100000000"],
                "batch size",
            ),
            (
                "autoencoder",
                &run,
                &["--max-minutes", "0"],
                "--max-minutes",
            ),
            (
                "autoencoder",
                &run,
                &["--max-minutes", "nan"],
                "--max-minutes",
            ),
            ("autoencoder", &run, &["--max-minutes=-1"], "--max-minutes"),
            ("autoencoder", &run, &["--config", s(&latent0)], "latent"),
            ("kmeans", &km, &["--k", "0"], "k"),
            ("kmeans", &km, &["--k", "100000"], "k"),
        ];
        for &(model, old, extra, needle) in table {
            let ctx = format!("{model} --overwrite {extra:?}");
            let mut flags = vec!["--overwrite"];
            flags.extend_from_slice(extra);
            cases.refused_keeping(&ctx, old, needle, || genzoo(&fresh(model, s(old), &flags)));
        }

        // A valid --overwrite replaces the run and keeps the user's file.
        cases.run("a valid --overwrite", || {
            let o = genzoo(&fresh(
                "autoencoder",
                s(&run),
                &["--overwrite", "--seed", "5"],
            ));
            assert_ok(&o, "a valid --overwrite");
            assert_eq!(
                fs::read_to_string(run.join("notes.txt")).expect("notes.txt kept"),
                "mine"
            );
            let config = fs::read_to_string(run.join("config.toml")).expect("config");
            assert!(config.contains("seed = 5"), "not replaced:\n{config}");
            Checkpoint::load(&run.join("checkpoints/last.ckpt"))
                .expect("the new run's checkpoint loads");
        });
    });
}

// ---------------------------------------------------------------------------------------------
// 3. Invalid input never creates a directory
// ---------------------------------------------------------------------------------------------

#[test]
fn invalid_flags_never_create_a_directory() {
    table_test("invalid_flags_never_create_a_directory", |tmp, cases| {
        let out = tmp.join("new");
        // (flags, needle): what the program refuses for the autoencoder.
        let autoencoder: &[(&[&str], &str)] = &[
            (&["--batch-size", "0"], "batch"),
            (&["--batch-size", "100000000"], "batch"),
            (&["--steps", "0"], "steps"),
            (&["--epochs", "0"], "epochs"),
            (&["--lr", "0"], "lr"),
            (&["--lr=-1"], "lr"),
            (&["--lr", "nan"], "lr"),
            (&["--lr", "inf"], "lr"),
            (&["--lr-decay", "0"], "lr_decay"),
            (&["--lr-decay", "1.5"], "lr_decay"),
            (&["--lr-decay", "nan"], "lr_decay"),
            (&["--max-minutes", "0"], "--max-minutes"),
            (&["--max-minutes", "nan"], "--max-minutes"),
            (&["--max-minutes=-1"], "--max-minutes"),
            (&["--log-every", "0"], "log_every|--log-every"),
            (
                &["--checkpoint-every", "0"],
                "checkpoint_every|--checkpoint-every",
            ),
            (&["--sample-every", "0"], "sample_every|--sample-every"),
            (&["--k", "5"], "--k"),
            (&["--d-steps", "2"], "--d-steps"),
            (&["--loss", "ns"], "--loss"),
        ];
        // (model, flags, accepted exit codes, needle)
        let mut table: Vec<(&str, &[&str], &[i32], &str)> = autoencoder
            .iter()
            .map(|&(flags, needle)| ("autoencoder", flags, REFUSED, needle))
            .collect();
        table.extend_from_slice(&[
            // clap's error, naming the value (not "unexpected argument '-1'").
            ("autoencoder", &["--steps", "-1"], USAGE, "-1"),
            // A negative number after a space: clap's error or the program's, naming the value.
            ("autoencoder", &["--lr", "-1"], EITHER, "-1"),
            ("kmeans", &["--k", "0"], REFUSED, "k"),
            ("kmeans", &["--k", "10001"], REFUSED, "k"),
            ("kmeans", &["--k", "100000"], REFUSED, "k"),
            ("gan", &["--d-steps", "0"], REFUSED, "d_steps|--d-steps"),
            ("gan", &["--loss", "bogus"], REFUSED, "--loss"),
        ]);
        for (model, extra, codes, needle) in table {
            let ctx = format!("train {model} {extra:?}");
            let why = format!("{ctx}: a value taken for a flag");
            cases.refused_creating_nothing(&ctx, &out, codes, needle, || {
                genzoo_without(&fresh(model, s(&out), extra), "unexpected argument", &why)
            });
        }
        // A model that learns from labels, on the one dataset without them.
        for model in ["cvae", "cond-pixelcnn", "cgan", "acgan", "ae-probe"] {
            let ctx = format!("train {model} --dataset binarized-mnist");
            cases.refused_creating_nothing(&ctx, &out, REFUSED, "has none", || {
                genzoo(&train_on("binarized-mnist", model, s(&out), &[]))
            });
        }
    });
}

// ---------------------------------------------------------------------------------------------
// 4. Every model's [model_config]
// ---------------------------------------------------------------------------------------------

const AE: &[&str] = &["autoencoder"];
const VAES: &[&str] = &["vae", "vae-conv", "beta-vae", "cvae", "vae-2d", "iwae"];
const PIXELCNN: &[&str] = &["pixelcnn"];
const GATED: &[&str] = &["gated-pixelcnn", "cond-pixelcnn"];
const RNNS: &[&str] = &["row-lstm", "diagonal-bilstm"];
const MLP_GAN: &[&str] = &["gan"];
const DCGANS: &[&str] = &["dcgan", "wgan", "wgan-gp", "lsgan", "cgan", "acgan"];
const GANS: &[&str] = &["gan", "dcgan", "wgan", "wgan-gp", "lsgan", "cgan", "acgan"];

/// The TOML tables of the cases below: `[model_config]` and the GAN configuration's parts.
const MC: &str = "model_config";
const MLP_NET: &str = "model_config.network.mlp";
const DCGAN_NET: &str = "model_config.network.dcgan";
const TRAINING: &str = "model_config.training";

/// (models, TOML table, `key = value` line, needle). Sizes set to 0 name their field; fields whose 0
/// is meaningful are left out: `residual_blocks` (PixelCNN without blocks), PixelRNN `layers`,
/// `eval_images` and `grid_samples` (0 = all / none), `classes` / `num_classes` of unconditional
/// or optionally conditional models, `beta` and `kl_warmup_steps`, `conv_channels` of the MLP VAEs
/// and `row_kernel` of the Diagonal BiLSTM (both unused there).
///
/// A case that turns out to be a valid configuration is to be removed from this table, not
/// weakened (no accepting exit 0).
const MODEL_CONFIG_CASES: &[(&[&str], &str, &str, &str)] = &[
    (AE, MC, "channels = 0", "channels"),
    (AE, MC, "image_size = 0", "image_size"),
    (AE, MC, "hidden = [0, 64]", "hidden"),
    (AE, MC, "hidden = [32, 0]", "hidden"),
    (AE, MC, "latent = 0", "latent"),
    (AE, MC, "channels = 3", "channels"),
    (AE, MC, "image_size = 32", "image_size"),
    // Refused before allocating, stating the estimated need (run under an address-space cap).
    (AE, MC, "latent = 100000000", "memory|GiB"),
    (AE, MC, "latnet = 16", "unknown"),
    (VAES, MC, "channels = 0", "channels"),
    (VAES, MC, "image_size = 0", "image_size"),
    (VAES, MC, "hidden = 0", "hidden"),
    (VAES, MC, "latent = 0", "latent"),
    (VAES, MC, "iwae_k = 0", "iwae_k"),
    (VAES, MC, "channels = 3", "channels"),
    (VAES, MC, "latnet = 16", "unknown"),
    (
        &["vae-conv"],
        MC,
        "conv_channels = [0, 64]",
        "conv_channels",
    ),
    (PIXELCNN, MC, "channels = 0", "channels"),
    (PIXELCNN, MC, "image_size = 0", "image_size"),
    (PIXELCNN, MC, "hidden = 0", "hidden"),
    (PIXELCNN, MC, "first_kernel = 0", "first_kernel"),
    (PIXELCNN, MC, "block_kernel = 0", "block_kernel"),
    (PIXELCNN, MC, "head_hidden = 0", "head_hidden"),
    (PIXELCNN, MC, "levels = 0", "levels"),
    (PIXELCNN, MC, "hiden = 128", "unknown"),
    (GATED, MC, "channels = 0", "channels"),
    (GATED, MC, "image_size = 0", "image_size"),
    (GATED, MC, "hidden = 0", "hidden"),
    (GATED, MC, "layers = 0", "layers"),
    (GATED, MC, "first_kernel = 0", "first_kernel"),
    (GATED, MC, "kernel = 0", "kernel"),
    (GATED, MC, "head_hidden = 0", "head_hidden"),
    (GATED, MC, "levels = 0", "levels"),
    (GATED, MC, "hiden = 64", "unknown"),
    (&["cond-pixelcnn"], MC, "classes = 0", "classes"),
    (RNNS, MC, "channels = 0", "channels"),
    (RNNS, MC, "image_size = 0", "image_size"),
    (RNNS, MC, "hidden = 0", "hidden"),
    (RNNS, MC, "first_kernel = 0", "first_kernel"),
    (RNNS, MC, "head_hidden = 0", "head_hidden"),
    (RNNS, MC, "levels = 0", "levels"),
    (RNNS, MC, "hiden = 16", "unknown"),
    (&["row-lstm"], MC, "row_kernel = 0", "row_kernel"),
    (MLP_GAN, MLP_NET, "channels = 0", "channels"),
    (MLP_GAN, MLP_NET, "image_size = 0", "image_size"),
    (MLP_GAN, MLP_NET, "latent = 0", "latent"),
    (MLP_GAN, MLP_NET, "g_hidden = [0, 512]", "g_hidden"),
    (MLP_GAN, MLP_NET, "d_hidden = [0, 256]", "d_hidden"),
    (MLP_GAN, MLP_NET, "latnet = 100", "unknown"),
    (MLP_GAN, MC, "eval_imgaes = 100", "unknown"),
    (DCGANS, DCGAN_NET, "channels = 0", "channels"),
    (DCGANS, DCGAN_NET, "image_size = 0", "image_size"),
    (DCGANS, DCGAN_NET, "latent = 0", "latent"),
    (DCGANS, DCGAN_NET, "g_hidden = [0, 64]", "g_hidden"),
    (DCGANS, DCGAN_NET, "d_hidden = [0, 128]", "d_hidden"),
    (DCGANS, DCGAN_NET, "latnet = 100", "unknown"),
    (&["acgan"], DCGAN_NET, "classes = 0", "classes"),
    (GANS, TRAINING, "d_steps = 0", "d_steps"),
    (GANS, TRAINING, "beta1 = -1.0", "beta1"),
    (GANS, TRAINING, "beta2 = 1.5", "beta2"),
    (GANS, MC, "eval_images = 0", "eval_images"),
    (MLP_GAN, MLP_NET, "init_std = -1.0", "init_std"),
    (MLP_GAN, MLP_NET, "leak = -1.0", "leak"),
    (DCGANS, DCGAN_NET, "init_std = 0.0", "init_std"),
    (DCGANS, DCGAN_NET, "leak = 1.5", "leak"),
];

#[test]
fn every_model_config_fault_is_refused_before_anything_is_made() {
    table_test("every_model_config_fault_is_refused", |tmp, cases| {
        let out = tmp.join("new");
        for &(models, table, line, needle) in MODEL_CONFIG_CASES {
            for &model in models {
                let ctx = format!("{model}: [{table}] {line}");
                let cfg = tmp.join(format!("case-{}.toml", cases.count));
                fs::write(&cfg, format!("[{table}]\n{line}\n")).expect("write config");
                let args = fresh(model, s(&out), &["--config", s(&cfg), "--steps", "1"]);
                cases.refused_creating_nothing(&ctx, &out, REFUSED, needle, || {
                    if line.contains("100000000") {
                        genzoo_capped(&args)
                    } else {
                        genzoo(&args)
                    }
                });
            }
        }
    });
}

// ---------------------------------------------------------------------------------------------
// 5. Concurrent use
// ---------------------------------------------------------------------------------------------

#[test]
fn a_run_in_use_is_refused_to_every_other_writer_and_the_lock_dies_with_its_process() {
    table_test("a_run_in_use_is_refused", |tmp, cases| {
        let d = tmp.join("run");
        let ds = s(&d);
        let last = d.join("checkpoints/last.ckpt");
        let mut first = Running::endless(&d, "5", &tmp.join("first.log"));
        first.wait_until("two logged steps and a checkpoint", || {
            metrics_lines(&d) >= 2 && last.is_file()
        });
        let config = fs::read(d.join("config.toml")).expect("config");

        let second = fresh("autoencoder", ds, &[]);
        let mut overwrite = second.clone();
        overwrite.push("--overwrite");
        // --max-minutes bounds a resume that wrongly gets in (it would train 100,000 steps).
        let resume = vec![
            "train",
            "--resume",
            ds,
            "--no-progress",
            "--max-minutes",
            "0.1",
        ];
        let table: Vec<(Vec<&str>, &str)> = vec![
            (second, "in use"),
            (resume, "in use"),
            (overwrite, "in use"),
        ];
        for (args, needle) in &table {
            let ctx = format!("{args:?} while another process trains into it");
            cases.run(&ctx, || {
                let o = genzoo(args);
                assert_refused(&o, REFUSED, needle, &ctx);
                assert!(first.still_running(), "{ctx}: the first training stopped");
                assert_eq!(
                    fs::read(d.join("config.toml")).expect("config"),
                    config,
                    "{ctx}: config.toml changed"
                );
            });
        }

        first.kill();
        cases.run("resume after the lock holder died", || {
            resume_two_more_steps(&d, "resume after the lock holder died (kill -9)");
        });
    });
}

// ---------------------------------------------------------------------------------------------
// 6. Corrupt checkpoints
// ---------------------------------------------------------------------------------------------

/// Offset of the first occurrence of `needle` in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The offset of the `}` closing the JSON object opened at `start` (quotes and escapes respected).
fn matching_brace(bytes: &[u8], start: usize) -> Option<usize> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for (i, &b) in bytes.iter().enumerate().skip(start) {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' => depth += 1,
            b'}' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// The JSON header of a checkpoint as `(first, last)` offsets, inclusive: the first `{` after the
/// 16-byte preamble whose matching `}` closes a JSON object that parses, so a header hash between
/// the preamble and the header does not move it (a `{` inside the hash does not parse). The
/// length field at 8..16 must agree.
fn header_span(bytes: &[u8]) -> (usize, usize) {
    let len = u64::from_le_bytes(bytes[8..16].try_into().expect("8 bytes"));
    let search_end = bytes.len().min(16 + 512);
    for start in (16..search_end).filter(|&i| bytes[i] == b'{') {
        let Some(end) = matching_brace(bytes, start) else {
            continue;
        };
        let parsed = serde_json::from_slice::<serde_json::Value>(&bytes[start..=end]);
        if parsed.is_ok_and(|v| v.is_object()) {
            assert_eq!(len, (end + 1 - start) as u64, "header length field");
            return (start, end);
        }
    }
    panic!("no JSON header found in the checkpoint");
}

#[test]
fn a_corrupt_checkpoint_is_a_named_error_and_changes_nothing() {
    table_test("a_corrupt_checkpoint_is_a_named_error", |tmp, cases| {
        let run = train_small_run(&tmp.join("run"));
        let path = run.join("checkpoints/last.ckpt");
        let original = fs::read(&path).expect("read checkpoint");
        let (hs, he) = header_span(&original);
        let header = &original[hs..=he];
        let len = original.len();

        // (offset, bit mask, what)
        let mut flips: Vec<(usize, u8, String)> = vec![
            (0, 0x01, "magic, first byte".to_string()),
            (7, 0x01, "magic, last byte".to_string()),
            (8, 0x01, "header length, low bit".to_string()),
            (15, 0x80, "header length, top bit".to_string()),
        ];
        if hs > 16 {
            flips.push((
                16,
                0x01,
                "between preamble and header, first byte".to_string(),
            ));
            flips.push((
                hs - 1,
                0x01,
                "between preamble and header, last byte".to_string(),
            ));
        }
        flips.extend([
            (hs, 0x01, "header: opening brace".to_string()),
            (hs + 2, 0x01, "header: first key".to_string()),
            ((hs + he) / 2, 0x01, "header: middle".to_string()),
            (he, 0x01, "header: closing brace".to_string()),
        ]);
        // Bits that leave valid JSON: a digit of the step ('4' becomes '5'), a letter of the model
        // name, a hex digit of a section hash. Only a checked header catches the first two.
        for (key, what) in [
            (&b"\"step\":"[..], "header: a digit of the step"),
            (&b"\"model\":\""[..], "header: a letter of the model name"),
            (
                &b"\"sha256\":\""[..],
                "header: a hex digit of a section hash",
            ),
        ] {
            let at = find(header, key).unwrap_or_else(|| panic!("no {what} in the header"));
            flips.push((hs + at + key.len(), 0x01, what.to_string()));
        }
        flips.extend([
            (he + 1, 0x01, "body: first byte".to_string()),
            ((he + 1 + len) / 2, 0x10, "body: middle".to_string()),
            (len - 1, 0x01, "body: last byte".to_string()),
        ]);

        let mut corruptions: Vec<(Vec<u8>, String)> = flips
            .into_iter()
            .map(|(at, mask, what)| {
                let mut bytes = original.clone();
                bytes[at] ^= mask;
                (bytes, format!("bit {mask:#04x} of byte {at} ({what})"))
            })
            .collect();
        corruptions.push((
            original[..len / 2].to_vec(),
            "truncated to half".to_string(),
        ));
        corruptions.push((Vec::new(), "empty file".to_string()));

        for (bytes, what) in &corruptions {
            for cmd in [
                vec![
                    "train",
                    "--resume",
                    s(&run),
                    "--steps",
                    "10",
                    "--no-progress",
                ],
                vec!["eval", s(&run), "--checkpoint", "last"],
            ] {
                let ctx = format!("{} with last.ckpt {what}", cmd[0]);
                fs::write(&path, bytes).expect("write corrupt checkpoint");
                cases.refused_keeping(&ctx, &run, "checkpoint", || genzoo(&cmd));
            }
        }
        fs::write(&path, &original).expect("restore checkpoint");
    });
}

// ---------------------------------------------------------------------------------------------
// 7. Crashes during writes
// ---------------------------------------------------------------------------------------------

#[test]
fn a_training_killed_at_any_moment_resumes_from_a_checkpoint_that_loads() {
    table_test("a_training_killed_at_any_moment_resumes", |tmp, cases| {
        // (logged lines to wait for, then a delay before kill -9, to land at different moments)
        let table: &[(usize, u64)] = &[(1, 0), (3, 7), (6, 23)];
        for (i, &(lines, delay_ms)) in table.iter().enumerate() {
            let ctx = format!("killed after {lines} logged lines + {delay_ms} ms");
            let d = tmp.join(format!("run{i}"));
            let log = tmp.join(format!("run{i}.log"));
            cases.run(&ctx, || {
                let last = d.join("checkpoints/last.ckpt");
                let mut child = Running::endless(&d, "1", &log);
                child.wait_until(&format!("{lines} logged steps and a checkpoint"), || {
                    metrics_lines(&d) >= lines && last.is_file()
                });
                std::thread::sleep(Duration::from_millis(delay_ms));
                child.kill();
                resume_two_more_steps(&d, &ctx);
            });
        }
        // SIGTERM (what a scheduler or `docker stop` sends): the step finishes, `last` is saved, 130.
        let d = tmp.join("term");
        cases.run("SIGTERM", || {
            let mut child = Running::endless(&d, "1000", &tmp.join("term.log"));
            child.wait_until("two logged steps", || metrics_lines(&d) >= 2);
            let pid = child.child.id().to_string();
            let sent = Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .expect("kill");
            assert!(sent.success());
            let status = child.child.wait().expect("wait");
            let log = fs::read_to_string(tmp.join("term.log")).expect("log");
            assert_eq!(status.code(), Some(130), "{log}");
            assert!(
                log.trim()
                    .lines()
                    .last()
                    .is_some_and(|l| l.contains("interrupted at step")),
                "{log}"
            );
            resume_two_more_steps(&d, "resume after SIGTERM (last saved on SIGTERM)");
        });
    });
}

// ---------------------------------------------------------------------------------------------
// 8. Resume
// ---------------------------------------------------------------------------------------------

#[test]
fn resume_cannot_change_the_run_nor_continue_a_finished_one() {
    table_test("resume_cannot_change_the_run", |tmp, cases| {
        let run = train_small_run(&tmp.join("run"));
        let no_data = tmp.join("no-data");
        fs::create_dir(&no_data).expect("mkdir");
        // Each change comes with a longer budget, so only the change can be the reason to refuse.
        let table: &[(&[&str], &str)] = &[
            (&["--lr", "0.5", "--steps", "8"], "cannot change"),
            (&["--lr-decay", "0.5", "--steps", "8"], "cannot change"),
            (&["--batch-size", "4", "--steps", "8"], "cannot change"),
            (&["--seed", "9", "--steps", "8"], "cannot change"),
            (
                &[
                    "--dataset",
                    "mnist",
                    "--data-dir",
                    s(&no_data),
                    "--steps",
                    "8",
                ],
                "cannot change",
            ),
            // The run trained its 4 steps: nothing is left to do.
            (&[], "already"),
            (&["--steps", "4"], "already"),
        ];
        for &(extra, needle) in table {
            let ctx = format!("--resume {extra:?}");
            let mut args = vec!["train", "--resume", s(&run), "--no-progress"];
            args.extend_from_slice(extra);
            cases.refused_keeping(&ctx, &run, needle, || genzoo(&args));
        }
        // What does not change the run's results may change.
        let ctx = "--resume --checkpoint-every 3 --steps 8";
        cases.run(ctx, || {
            let o = genzoo(&[
                "train",
                "--resume",
                s(&run),
                "--checkpoint-every",
                "3",
                "--steps",
                "8",
                "--no-progress",
            ]);
            assert_ok(&o, ctx);
            let last =
                Checkpoint::load(&run.join("checkpoints/last.ckpt")).expect("resumed checkpoint");
            assert_eq!(last.meta.step, 8);
        });
    });
}

// ---------------------------------------------------------------------------------------------
// 9. Non-finite training
// ---------------------------------------------------------------------------------------------

#[test]
fn a_loss_that_stops_being_finite_is_said_and_leaves_no_null_metric() {
    table_test("a_loss_that_stops_being_finite_is_said", |tmp, cases| {
        // A learning rate of 1e12 overflows the weights within a step or two. One step: the loss of
        // that step is finite, and only the final evaluation can tell.
        let table: &[(&str, &str)] = &[("autoencoder", "3"), ("autoencoder", "1"), ("vae", "3")];
        for &(model, steps) in table {
            let ctx = format!("{model} at lr 1e12 for {steps} steps");
            let d = tmp.join(format!("{model}-{steps}-run"));
            cases.run(&ctx, || {
                let o = genzoo(&fresh(
                    model,
                    s(&d),
                    &["--steps", steps, "--lr", "1e12", "--checkpoint-every", "1"],
                ));
                assert_refused(&o, REFUSED, "not finite|NaN|inf", &ctx);
                let last = d.join("checkpoints/last.ckpt");
                if last.exists() {
                    Checkpoint::load(&last).unwrap_or_else(|e| {
                        panic!("{ctx}: the kept checkpoint does not load: {e}")
                    });
                }
                let summary = d.join("summary.json");
                if summary.exists() {
                    let text = fs::read_to_string(&summary).expect("read summary");
                    let value: serde_json::Value =
                        serde_json::from_str(&text).expect("summary is JSON");
                    assert!(
                        !value
                            .get("test_mse")
                            .is_some_and(serde_json::Value::is_null)
                            && !text.contains("\"test_mse\": null"),
                        "{ctx}: summary.json records a null test_mse:\n{text}"
                    );
                }
            });
        }
    });
}

// ---------------------------------------------------------------------------------------------
// 10. Requests too big, commands that do not apply
// ---------------------------------------------------------------------------------------------

#[test]
fn a_request_too_big_is_refused_and_a_command_that_does_not_apply_says_so_plainly() {
    table_test("a_request_too_big_is_refused", |tmp, cases| {
        let vae = tmp.join("vae");
        assert_ok(&genzoo(&fresh("vae", s(&vae), &[])), "training the vae");
        let table: &[(&[&str], &str)] = &[(&["--n", "10000000"], "memory|GiB")];
        for &(extra, needle) in table {
            let ctx = format!("sample {extra:?}");
            let mut args = vec!["sample", s(&vae)];
            args.extend_from_slice(extra);
            cases.refused_keeping(&ctx, &vae, needle, || genzoo_capped(&args));
        }

        let km = fit_small_kmeans(&tmp.join("km"));
        for cmd in ["eval", "sample", "figures"] {
            let ctx = format!("{cmd} on a k-means fit");
            let why = format!("{ctx}: a run of spaces in the message");
            cases.refused_keeping(&ctx, &km, "kmeans", || {
                genzoo_without(&[cmd, s(&km)], "     ", &why)
            });
        }
    });
}

// ---------------------------------------------------------------------------------------------
// 11. Data
// ---------------------------------------------------------------------------------------------

#[test]
fn a_data_file_that_is_a_directory_is_named_not_reported_missing() {
    table_test("a_data_file_that_is_a_directory_is_named", |tmp, cases| {
        let out = tmp.join("new");
        let gz = "train-images-idx3-ubyte.gz";
        let plain = "train-images-idx3-ubyte";
        // (model, entries of <data>/mnist/ made directories)
        let table: &[(&str, &[&str])] = &[
            ("autoencoder", &[gz]),
            ("autoencoder", &[plain]),
            ("autoencoder", &[gz, plain]),
            ("kmeans", &[gz]),
        ];
        for (i, &(model, dirs)) in table.iter().enumerate() {
            let ctx = format!("{model} with {dirs:?} as directories");
            let data = tmp.join(format!("data{i}"));
            // The message names the directory, as given or canonical.
            let mut names = Vec::new();
            for name in dirs {
                let bad = data.join("mnist").join(name);
                fs::create_dir_all(&bad).expect("mkdir");
                names.push(bad.display().to_string());
                names.push(
                    fs::canonicalize(&bad)
                        .expect("canonicalize")
                        .display()
                        .to_string(),
                );
            }
            let needle = names.join("|");
            let why = format!("{ctx}: a directory reported as missing");
            cases.refused_creating_nothing(&ctx, &out, REFUSED, &needle, || {
                let extra = tiny(model, &["--data-dir", s(&data)]);
                let args = train_on("mnist", model, s(&out), &extra);
                genzoo_without(&args, "not found", &why)
            });
        }
    });
}

// ---------------------------------------------------------------------------------------------
// 12. A full disk
// ---------------------------------------------------------------------------------------------

/// Runs `genzoo ARGS` in a new user and mount namespace (`unshare -rm`) whose `mnt` (below
/// `work`) is a tmpfs of `kib` KiB: first filled with a copy of `preload/` (if given), then, with
/// `fill`, with a file that takes every byte left. Once genzoo exits, the file is removed and what
/// the tmpfs holds is copied to `work/after/`, since the mount dies with the namespace. Returns
/// genzoo's exit code and stderr, or `None` where namespaces cannot be made (an error under
/// `CI=true`, where every case must run).
fn on_small_disk(
    work: &Path,
    kib: u64,
    preload: Option<&Path>,
    fill: bool,
    args: &[&str],
) -> Option<(Option<i32>, String)> {
    let can = Command::new("unshare")
        .args(["-rm", "true"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !can {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "unshare -rm (user and mount namespaces) is needed for the full-disk cases"
        );
        eprintln!("unshare -rm is not available here: full-disk cases not run (CI runs them)");
        return None;
    }
    let mnt = work.join("mnt");
    let after = work.join("after");
    fs::create_dir_all(&mnt).expect("mkdir mnt");
    fs::create_dir_all(&after).expect("mkdir after");
    let script = r#"
        set -e
        mount -t tmpfs -o size="$KIB"k tmpfs "$MNT"
        if [ -n "$PRELOAD" ]; then cp -a "$PRELOAD" "$MNT/run"; fi
        if [ "$FILL" = 1 ]; then dd if=/dev/zero of="$MNT/fill" bs=1024 2>/dev/null || true; fi
        set +e
        "$BIN" "$@" 2> "$WORK/stderr"
        echo $? > "$WORK/rc"
        rm -f "$MNT/fill"
        cp -a "$MNT/." "$WORK/after/"
    "#;
    let mut c = Command::new("unshare");
    c.args(["-rm", "sh", "-c", script, "sh"])
        .args(args)
        .env("KIB", kib.to_string())
        .env("MNT", &mnt)
        .env("WORK", work)
        .env("BIN", BIN)
        .env("PRELOAD", preload.map(Path::as_os_str).unwrap_or_default())
        .env("FILL", if fill { "1" } else { "0" });
    let o = configure(&mut c).output().expect("unshare runs");
    assert!(
        o.status.success(),
        "the namespace script failed: {}",
        describe(&o)
    );
    let rc = fs::read_to_string(work.join("rc"))
        .expect("rc written")
        .trim()
        .parse()
        .ok();
    Some((
        rc,
        fs::read_to_string(work.join("stderr")).expect("stderr written"),
    ))
}

/// The checks of a refusal on the output of [`on_small_disk`].
fn assert_disk_refusal(rc: Option<i32>, err: &str, needle: &str, ctx: &str) {
    assert_eq!(rc, Some(1), "{ctx}: exit code; stderr:\n{err}");
    assert!(
        !err.contains("panicked"),
        "{ctx}: the binary panicked:\n{err}"
    );
    let lines: Vec<&str> = err.trim().lines().collect();
    assert_eq!(lines.len(), 1, "{ctx}: expected one stderr line:\n{err}");
    assert!(
        lines[0].starts_with("error: ") && needle.split('|').all(|n| lines[0].contains(n)),
        "{ctx}: the error does not name {needle:?}: {}",
        lines[0]
    );
}

#[test]
fn a_full_disk_fails_the_write_names_the_file_and_loses_nothing() {
    table_test("a_full_disk_fails_the_write", |tmp, cases| {
        let old = train_small_run(&tmp.join("old"));
        let mnt_run = |work: &Path| work.join("mnt/run");

        // Nothing fits: not even config.toml. The run directory made for it is removed again.
        let work = tmp.join("nothing-fits");
        let out = mnt_run(&work);
        cases.run("a fresh run on a full disk", || {
            let Some((rc, err)) =
                on_small_disk(&work, 64, None, true, &fresh("autoencoder", s(&out), &[]))
            else {
                return;
            };
            assert_disk_refusal(rc, &err, "No space left", "a fresh run on a full disk");
            let left: Vec<PathBuf> = snapshot(&work.join("after")).into_keys().collect();
            assert!(left.is_empty(), "a failed start left {left:?}");
        });

        // The first checkpoint does not fit: the error names it, no temporary file stays, and every
        // line of metrics.jsonl is whole.
        let work = tmp.join("checkpoint-does-not-fit");
        let out = mnt_run(&work);
        cases.run("a checkpoint larger than the disk", || {
            let args = fresh(
                "autoencoder",
                s(&out),
                &[
                    "--steps",
                    "4",
                    "--checkpoint-every",
                    "2",
                    "--log-every",
                    "1",
                ],
            );
            let Some((rc, err)) = on_small_disk(&work, 256, None, false, &args) else {
                return;
            };
            assert_disk_refusal(
                rc,
                &err,
                "No space left|.ckpt",
                "a checkpoint larger than the disk",
            );
            let run = work.join("after/run");
            assert!(
                temporaries(&run).is_empty(),
                "temporary files left: {:?}",
                temporaries(&run)
            );
            let metrics = fs::read_to_string(run.join("metrics.jsonl")).expect("metrics.jsonl");
            for line in metrics.lines() {
                serde_json::from_str::<serde_json::Value>(line)
                    .unwrap_or_else(|e| panic!("a torn metrics line {line:?}: {e}"));
            }
            assert!(
                metrics.lines().count() >= 2,
                "the steps before the failure are logged"
            );
            // The run stopped before its first checkpoint: a resume says so, and what to do.
            let o = genzoo(&["train", "--resume", s(&run), "--no-progress"]);
            assert_refused(
                &o,
                REFUSED,
                "no checkpoint to resume from",
                "resume without a checkpoint",
            );
        });

        // Resuming an old run on a disk with no byte left: it fails and the old run is byte-identical.
        let work = tmp.join("resume-on-full-disk");
        let resumed = mnt_run(&work);
        cases.run("a resume on a full disk", || {
            let used: u64 = snapshot(&old)
                .values()
                .map(|b| b.len() as u64 / 1024 + 8)
                .sum();
            let args = [
                "train",
                "--resume",
                s(&resumed),
                "--steps",
                "8",
                "--no-progress",
            ];
            let Some((rc, err)) = on_small_disk(&work, used + 256, Some(&old), true, &args) else {
                return;
            };
            assert_disk_refusal(rc, &err, "No space left", "a resume on a full disk");
            assert_same(
                &snapshot(&old),
                &snapshot(&work.join("after/run")),
                "a resume on a full disk",
            );
        });
    });
}
