//! `report.html`: one self-contained page per run.
//!
//! The page shows what a run did without any tooling: the headline metrics of `summary.json` first,
//! with units and four significant figures (every field below them), one SVG chart per logged
//! quantity of `metrics.jsonl` with its train, validation and test curves together (throughput on a
//! chart of its own, elapsed time on none), a strip of sample grids over training (`samples/*.png`)
//! embedded as `data:` URIs, and the resolved `config.toml`. Everything is inline — CSS, SVG,
//! images — so the file can be mailed, attached to an issue or opened from a laptop without the run
//! directory next to it.
//!
//! The report is rebuilt from the files of the run directory and from nothing else, so it can be
//! written at any moment of a run (and again after a resume), and a missing or half-written file
//! shows up as "not written yet" or as a count of skipped lines instead of failing the run. The page
//! has no timestamp of its own, so the same run directory always yields the same bytes.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::fsutil::write_atomic;
use crate::svg::{self, ChartOptions, Series, escape_xml};

/// How many sample grids are embedded in the page, spread evenly over training from the first to the
/// last; all are listed by name.
pub const SAMPLES_SHOWN: usize = 6;

/// Sample files larger than this are listed but not embedded, so that one oversized grid cannot
/// turn the report into a file a browser chokes on.
const MAX_EMBEDDED_BYTES: u64 = 16 << 20;

/// Writes `run_dir/report.html` atomically (temporary file, fsync, rename) from the files of the run
/// directory; see [`render_report`].
///
/// # Errors
/// Only an error writing `report.html` (e.g. `run_dir` does not exist). Missing or malformed input
/// files are reported inside the page instead.
pub fn write_report(run_dir: &Path) -> io::Result<()> {
    write_atomic(
        &run_dir.join("report.html"),
        render_report(run_dir).as_bytes(),
    )
}

/// Renders the HTML page of the run in `run_dir` from `config.toml`, `metrics.jsonl`,
/// `summary.json` and `samples/*.png`. Never fails: a file that is missing or unreadable is
/// described in its section.
pub fn render_report(run_dir: &Path) -> String {
    let name = run_dir.file_name().map_or_else(
        || run_dir.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let mut h = String::new();
    // Writing to a String cannot fail, so the fmt::Results below are deliberately ignored.
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\
         <title>genzoo run — {title}</title><style>{CSS}</style></head><body>\n\
         <h1>genzoo run <code>{title}</code></h1><p class=\"path\">{path}</p>\n\
         <nav><a href=\"#summary\">Summary</a> · <a href=\"#curves\">Curves</a> · \
         <a href=\"#samples\">Samples</a> · <a href=\"#figures\">Figures</a> · <a href=\"#config\">Config</a></nav>\n",
        title = escape_xml(&name),
        path = escape_xml(&run_dir.display().to_string()),
    );
    summary_section(&mut h, &run_dir.join("summary.json"));
    curves_section(&mut h, &run_dir.join("metrics.jsonl"));
    samples_section(&mut h, &run_dir.join("samples"));
    figures_section(&mut h, &run_dir.join("figures"));
    config_section(&mut h, &run_dir.join("config.toml"));
    h.push_str("</body></html>\n");
    h
}

/// Kept free of `>` so that the page passes the tag-balance check in the tests.
const CSS: &str = "\
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1400px;margin:1.5em auto;\
padding:0 1em;color:#222;line-height:1.4}\
h1{font-size:1.5em;margin-bottom:0}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}\
.path{color:#777;margin-top:.2em;font-size:.9em}nav{margin:.8em 0}a{color:#2a6bb0}\
.missing{color:#999;font-style:italic}.warn{color:#a15c00}\
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:.25em .7em;text-align:left}\
td.num{text-align:right;font-variant-numeric:tabular-nums}\
pre{background:#f6f6f6;padding:.8em;overflow-x:auto;font-size:.85em}\
.charts{display:flex;flex-wrap:wrap;gap:1em}.samples{display:flex;gap:1em;overflow-x:auto}\
svg{max-width:100%;height:auto}td.unit{color:#666}\
figure{margin:0}figcaption{color:#555;font-size:.9em;text-align:center}\
img{image-rendering:pixelated;border:1px solid #ddd;max-width:100%;height:auto}";

/// Reads a file as (lossy) UTF-8; `Ok(None)` when it does not exist yet.
fn read_text(path: &Path) -> Result<Option<String>, String> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("could not read {}: {e}", path.display())),
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
}

fn missing(h: &mut String, path: &Path) {
    let _ = writeln!(
        h,
        "<p class=\"missing\"><code>{}</code> not written yet.</p>",
        escape_xml(&file_name(path))
    );
}

fn error(h: &mut String, msg: &str) {
    let _ = writeln!(h, "<p class=\"warn\">{}</p>", escape_xml(msg));
}

/// The text of a section's file, or `None` with a note in `h` that it is missing or unreadable.
fn section_text(h: &mut String, path: &Path) -> Option<String> {
    match read_text(path) {
        Ok(Some(t)) => Some(t),
        Ok(None) => {
            missing(h, path);
            None
        }
        Err(e) => {
            error(h, &e);
            None
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Summary

fn summary_section(h: &mut String, path: &Path) {
    h.push_str("<h2 id=\"summary\">Summary</h2>\n");
    let Some(text) = section_text(h, path) else {
        return;
    };
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(map)) => {
            headline_table(h, &map);
            let mut rows = Vec::new();
            for (k, v) in &map {
                flatten_value(k, v, &mut rows);
            }
            h.push_str("<details><summary>Every field of <code>summary.json</code></summary>\n");
            h.push_str("<table><tr><th>metric</th><th>value</th></tr>\n");
            for (k, v) in rows {
                let class = if v.parse::<f64>().is_ok() {
                    " class=\"num\""
                } else {
                    ""
                };
                let _ = writeln!(
                    h,
                    "<tr><td>{}</td><td{class}>{}</td></tr>",
                    escape_xml(&k),
                    escape_xml(&v)
                );
            }
            h.push_str("</table></details>\n");
        }
        Ok(other) => {
            let _ = writeln!(h, "<pre>{}</pre>", escape_xml(&other.to_string()));
        }
        Err(e) => {
            error(
                h,
                &format!("summary.json is not valid JSON ({e}); its text:"),
            );
            let _ = writeln!(h, "<pre>{}</pre>", escape_xml(&text));
        }
    }
}

/// The summary fields a reader opens the report for: the test and validation metrics, the final
/// training loss, the budget and the throughput.
fn is_headline(key: &str) -> bool {
    key.starts_with("test_")
        || key.starts_with("valid_")
        || matches!(
            key,
            "final_train_loss"
                | "steps"
                | "epochs_completed"
                | "train_images_per_sec"
                | "wall_time_s"
        )
}

/// The unit of a metric, read off its name: likelihoods, their bounds (`nll`, `nelbo`) and the
/// ELBO's terms (`kl`, `recon`) are in nats unless they are bits per dimension.
fn unit(key: &str) -> &'static str {
    let nats = ["_nats", "_kl", "_recon"];
    if key.ends_with("bits_per_dim") {
        "bits/dim"
    } else if nats.iter().any(|n| key.ends_with(n)) || key.contains("nll") || key.contains("nelbo")
    {
        "nats"
    } else if key.ends_with("images_per_sec") {
        "images/s"
    } else if key.ends_with("_s") {
        "s"
    } else {
        ""
    }
}

/// `x` to four significant figures: plain notation from 0.001 to 10⁶, scientific outside; integers
/// as they are.
pub fn four_significant(x: f64) -> String {
    if !x.is_finite() {
        return x.to_string();
    }
    if x.fract() == 0.0 && x.abs() < 1e15 {
        return format!("{x:.0}");
    }
    let magnitude = x.abs().log10().floor();
    if (-3.0..4.0).contains(&magnitude) {
        format!("{x:.*}", (3.0 - magnitude) as usize)
    } else if (4.0..6.0).contains(&magnitude) {
        let unit = 10f64.powf(magnitude - 3.0);
        format!("{:.0}", (x / unit).round() * unit)
    } else {
        format!("{x:.3e}")
    }
}

/// The headline metrics, in a table of name, value (four significant figures) and unit.
fn headline_table(h: &mut String, map: &serde_json::Map<String, Value>) {
    let mut rows: Vec<(&String, f64)> = map
        .iter()
        .filter(|(k, _)| is_headline(k))
        .filter_map(|(k, v)| Some((k, v.as_f64()?)))
        .collect();
    if rows.is_empty() {
        return;
    }
    // Test metrics first, then validation, then the rest.
    rows.sort_by_key(|(k, _)| {
        (
            !k.starts_with("test_"),
            !k.starts_with("valid_"),
            k.as_str(),
        )
    });
    h.push_str("<table class=\"headline\"><tr><th>metric</th><th>value</th><th>unit</th></tr>\n");
    for (k, v) in rows {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"unit\">{}</td></tr>",
            escape_xml(k),
            four_significant(v),
            unit(k)
        );
    }
    h.push_str("</table>\n");
}

/// Flattens nested objects into dotted keys (`{"test": {"nll": 1}}` → `test.nll`); other values
/// are shown as text, arrays as compact JSON.
fn flatten_value(key: &str, v: &Value, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                flatten_value(&format!("{key}.{k}"), v, out);
            }
        }
        Value::String(s) => out.push((key.to_string(), s.clone())),
        other => out.push((key.to_string(), other.to_string())),
    }
}

// ---------------------------------------------------------------------------------------------
// Curves

/// Points of one metric: split (or `None` for lines without one) → `(step, value)` in file order.
type SplitSeries = BTreeMap<Option<String>, Vec<(f64, f64)>>;

/// The charts found in `metrics.jsonl`.
#[derive(Debug, Default)]
struct Metrics {
    /// Metric key (dotted for nested objects) → its points per split.
    series: BTreeMap<String, SplitSeries>,
    /// Non-empty lines read.
    lines: usize,
    /// Lines that are not a JSON object with a numeric `step`; a run killed mid-write leaves one.
    malformed: usize,
    /// 1-based number of the first malformed line.
    first_malformed: Option<usize>,
}

/// Collects the numeric fields of an object under dotted keys.
fn numeric_fields(key: &str, v: &Value, out: &mut Vec<(String, f64)>) {
    match v {
        Value::Number(n) => {
            if let Some(x) = n.as_f64() {
                out.push((key.to_string(), x));
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                numeric_fields(&format!("{key}.{k}"), v, out);
            }
        }
        _ => {}
    }
}

fn parse_metrics(text: &str) -> Metrics {
    let mut m = Metrics::default();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        m.lines += 1;
        let parsed = serde_json::from_str::<Value>(line).ok();
        let Some(Value::Object(obj)) = parsed else {
            m.malformed += 1;
            m.first_malformed.get_or_insert(i + 1);
            continue;
        };
        let Some(step) = obj.get("step").and_then(Value::as_f64) else {
            m.malformed += 1;
            m.first_malformed.get_or_insert(i + 1);
            continue;
        };
        let split = obj.get("split").and_then(Value::as_str).map(str::to_string);
        let mut fields = Vec::new();
        for (k, v) in &obj {
            if !matches!(k.as_str(), "step" | "epoch" | "split") {
                numeric_fields(k, v, &mut fields);
            }
        }
        for (k, x) in fields {
            m.series
                .entry(k)
                .or_default()
                .entry(split.clone())
                .or_default()
                .push((step, x));
        }
    }
    m
}

fn curves_section(h: &mut String, path: &Path) {
    h.push_str("<h2 id=\"curves\">Curves</h2>\n");
    let Some(text) = section_text(h, path) else {
        return;
    };
    let m = parse_metrics(&text);
    let _ = write!(h, "<p>{} lines in <code>metrics.jsonl</code>", m.lines);
    if let Some(first) = m.first_malformed {
        let _ = write!(
            h,
            "; <span class=\"warn\">{} malformed line{} skipped (first: line {first})</span>",
            m.malformed,
            if m.malformed == 1 { "" } else { "s" }
        );
    }
    h.push_str(".</p>\n");
    if m.series.is_empty() {
        h.push_str("<p class=\"missing\">No metrics logged yet.</p>\n");
        return;
    }
    // One chart per quantity: `bits_per_dim` of the training records, `valid_bits_per_dim` and
    // `test_bits_per_dim` are the same quantity on three splits. Elapsed time is not charted.
    let mut charts: BTreeMap<String, SplitSeries> = BTreeMap::new();
    for (key, splits) in &m.series {
        if key == "time_s" {
            continue;
        }
        let quantity = key
            .strip_prefix("test_")
            .or_else(|| key.strip_prefix("valid_"))
            .unwrap_or(key);
        let chart = charts.entry(quantity.to_string()).or_default();
        for (split, points) in splits {
            chart
                .entry(split.clone())
                .or_default()
                .extend_from_slice(points);
        }
    }
    // Losses come first: they are what one opens a report for.
    let mut keys: Vec<&String> = charts.keys().collect();
    keys.sort_by_key(|k| (!k.contains("loss"), k.as_str()));
    h.push_str("<div class=\"charts\">\n");
    for key in keys {
        let splits = &charts[key];
        let series: Vec<Series> = splits
            .iter()
            .map(|(split, pts)| {
                Series::new(split.clone().unwrap_or_else(|| key.clone()), pts.clone())
            })
            .collect();
        let ys = || {
            splits
                .values()
                .flatten()
                .map(|p| p.1)
                .filter(|y| y.is_finite())
        };
        let (lo, hi) = ys().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, u), y| {
            (l.min(y), u.max(y))
        });
        // A quantity logged over and over without changing (a KL weight without warm-up) says
        // nothing as a curve.
        if lo == hi && ys().count() > 1 {
            continue;
        }
        // A log axis only pays off when values span two decades or more, as early losses often do.
        let log_y = lo > 0.0 && hi / lo >= 100.0;
        let opts = ChartOptions {
            width: 640,
            height: 320,
            y_label: key.clone(),
            log_y,
        };
        h.push_str(&svg::line_chart_with(key, "step", &series, &opts));
        h.push('\n');
    }
    h.push_str("</div>\n");
}

// ---------------------------------------------------------------------------------------------
// Samples

/// Sort key of a sample file: `step-<N>.png` by N, then any other name alphabetically after them
/// (e.g. a `final.png` written at the end of a run).
fn sample_key(name: &str) -> (u8, u64, String) {
    let stem = name
        .strip_suffix(".png")
        .or_else(|| name.strip_suffix(".PNG"))
        .unwrap_or(name);
    match stem
        .strip_prefix("step-")
        .and_then(|n| n.parse::<u64>().ok())
    {
        Some(step) => (0, step, name.to_string()),
        None => (1, 0, name.to_string()),
    }
}

/// Width and height from a PNG's IHDR chunk, or `None` when the bytes are not a PNG.
pub(crate) fn png_size(bytes: &[u8]) -> Option<(u32, u32)> {
    const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
    if bytes.len() < 24 || &bytes[..8] != SIGNATURE || &bytes[12..16] != b"IHDR" {
        return None;
    }
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    Some((be(&bytes[16..20]), be(&bytes[20..24])))
}

fn samples_section(h: &mut String, dir: &Path) {
    h.push_str("<h2 id=\"samples\">Samples</h2>\n");
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            h.push_str("<p class=\"missing\"><code>samples/</code> not written yet.</p>\n");
            return;
        }
        Err(e) => return error(h, &format!("could not list {}: {e}", dir.display())),
    };
    let mut files: Vec<(String, PathBuf)> = entries
        .filter_map(Result::ok)
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .filter(|(n, p)| {
            n.to_ascii_lowercase().ends_with(".png") && !n.starts_with('.') && p.is_file()
        })
        .collect();
    if files.is_empty() {
        h.push_str("<p class=\"missing\">No sample grids written yet.</p>\n");
        return;
    }
    files.sort_by_cached_key(|(n, _)| sample_key(n));

    let shown = spread(files.len(), SAMPLES_SHOWN);
    if shown.len() == files.len() {
        let _ = writeln!(
            h,
            "<p>{} grid{}, in training order.</p>",
            shown.len(),
            if shown.len() == 1 { "" } else { "s" }
        );
    } else {
        let _ = writeln!(
            h,
            "<p>{} of {} grids, from the first to the last, in training order.</p>",
            shown.len(),
            files.len()
        );
    }
    h.push_str("<div class=\"samples\">\n");
    for (name, path) in shown.into_iter().map(|i| &files[i]) {
        let caption = escape_xml(name);
        let too_big = fs::metadata(path)
            .map(|m| m.len() > MAX_EMBEDDED_BYTES)
            .unwrap_or(false);
        if too_big {
            let _ = writeln!(h, "<p class=\"warn\">{caption}: too large to embed.</p>");
            continue;
        }
        match fs::read(path) {
            Ok(bytes) => match png_size(&bytes) {
                Some((w, _)) => {
                    // Small grids (e.g. MNIST) are shown enlarged, up to about 512 pixels wide, with
                    // pixelated rendering so that no blur is invented.
                    let factor = (512 / w.max(1)).clamp(1, 4);
                    let _ = writeln!(
                        h,
                        "<figure><img width=\"{}\" alt=\"{caption}\" src=\"data:image/png;base64,{}\"/>\
                         <figcaption>{caption}</figcaption></figure>",
                        w.saturating_mul(factor),
                        base64_encode(&bytes)
                    );
                }
                None => {
                    let _ = writeln!(h, "<p class=\"warn\">{caption}: not a PNG file.</p>");
                }
            },
            Err(e) => error(h, &format!("could not read {}: {e}", path.display())),
        }
    }
    h.push_str("</div>\n<details><summary>All sample grids</summary><ol>\n");
    for (name, _) in &files {
        let _ = writeln!(h, "<li><code>{}</code></li>", escape_xml(name));
    }
    h.push_str("</ol></details>\n");
}

/// Up to `k` indices of `0..n` spread evenly from the first to the last, in order.
fn spread(n: usize, k: usize) -> Vec<usize> {
    if n <= k {
        return (0..n).collect();
    }
    if k <= 1 {
        return vec![n - 1];
    }
    (0..k).map(|i| i * (n - 1) / (k - 1)).collect()
}

// ---------------------------------------------------------------------------------------------
// Figures

/// The end-of-training figures (`figures/*.png`, `figures/*.svg`), in name order, embedded as
/// `data:` images so that an SVG cannot script the page. No section when there are none.
fn figures_section(h: &mut String, dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut files: Vec<(String, PathBuf, &str)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let lower = name.to_ascii_lowercase();
            let mime = if lower.ends_with(".png") {
                "image/png"
            } else if lower.ends_with(".svg") {
                "image/svg+xml"
            } else {
                return None;
            };
            (!name.starts_with('.') && e.path().is_file()).then(|| (name, e.path(), mime))
        })
        .collect();
    if files.is_empty() {
        return;
    }
    files.sort();
    h.push_str("<h2 id=\"figures\">Figures</h2>\n<div class=\"samples\">\n");
    for (name, path, mime) in &files {
        let caption = escape_xml(name);
        match fs::read(path) {
            Ok(bytes) if bytes.len() as u64 > MAX_EMBEDDED_BYTES => {
                let _ = writeln!(h, "<p class=\"warn\">{caption}: too large to embed.</p>");
            }
            Ok(bytes) => {
                let width = png_size(&bytes)
                    .map_or(640, |(w, _)| w.saturating_mul((512 / w.max(1)).clamp(1, 4)));
                let _ = writeln!(
                    h,
                    "<figure><img width=\"{width}\" alt=\"{caption}\" src=\"data:{mime};base64,{}\"/>\
                     <figcaption>{caption}</figcaption></figure>",
                    base64_encode(&bytes)
                );
            }
            Err(e) => error(h, &format!("could not read {}: {e}", path.display())),
        }
    }
    h.push_str("</div>\n");
}

// ---------------------------------------------------------------------------------------------
// Config

fn config_section(h: &mut String, path: &Path) {
    h.push_str("<h2 id=\"config\">Config</h2>\n");
    if let Some(t) = section_text(h, path) {
        let _ = writeln!(h, "<pre>{}</pre>", escape_xml(&t));
    }
}

// ---------------------------------------------------------------------------------------------
// Base64

/// Encodes bytes as standard base64 with padding (RFC 4648 §4), as `data:` URIs require.
///
/// Written here rather than taken from a crate because it is ten lines and the crate needs nothing
/// else of one.
pub fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::{GridOptions, encode_png, grid_rgb8};
    use crate::svg::assert_balanced;

    #[test]
    fn base64_rfc4648_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (input, want) in cases {
            assert_eq!(base64_encode(input.as_bytes()), want, "{input:?}");
        }
        assert_eq!(base64_encode(&[0xfb, 0xff, 0xbf]), "+/+/");
    }

    fn write_run(dir: &Path) {
        fs::write(
            dir.join("config.toml"),
            "[model]\nname = \"vae <beta & gamma>\"\nlatent = 16\n",
        )
        .expect("config");
        let metrics = [
            r#"{"step": 10, "epoch": 0, "split": "train", "loss": 0.9, "images_per_sec": 812.0}"#,
            r#"{"step": 20, "epoch": 0, "split": "train", "loss": 0.5, "images_per_sec": 830.5}"#,
            r#"{"step": 20, "epoch": 0, "split": "valid", "loss": 0.6, "parts": {"kl": 0.1}}"#,
            r#"{"step": 30, "epoch": 1, "split": "train", "loss": 0.4"#, // truncated by a crash
            "",
            r#"{"epoch": 1, "loss": 0.4}"#, // no step
            r#"{"step": 30, "epoch": 1, "split": "train", "loss": 0.35, "lr": 0.001}"#,
        ];
        fs::write(dir.join("metrics.jsonl"), metrics.join("\n")).expect("metrics");
        fs::write(
            dir.join("summary.json"),
            r#"{"test": {"nll_bits_per_dim": 1.2345, "kl": 7}, "steps": 30, "note": "a<b", "test_nll_nats": 87.509677}"#,
        )
        .expect("summary");
        let samples = dir.join("samples");
        fs::create_dir(&samples).expect("samples dir");
        let grid =
            grid_rgb8(&[0.5; 2 * 4 * 4], 2, 1, 4, 4, &GridOptions::with_cols(2)).expect("grid");
        let png = encode_png(&grid).expect("png");
        for step in [100, 20, 3] {
            fs::write(samples.join(format!("step-{step}.png")), &png).expect("png");
        }
    }

    #[test]
    fn full_report() {
        let dir = tempfile::tempdir().expect("tempdir");
        let run = dir.path().join("vae-mnist-20250101T000000Z");
        fs::create_dir(&run).expect("run dir");
        write_run(&run);
        write_report(&run).expect("report");
        let html = fs::read_to_string(run.join("report.html")).expect("read report");
        assert_balanced(&html);

        assert!(html.contains("<title>genzoo run — vae-mnist-20250101T000000Z</title>"));
        // The config verbatim, escaped.
        assert!(html.contains("name = &quot;vae &lt;beta &amp; gamma&gt;&quot;\nlatent = 16"));
        // One chart per quantity: loss (first), images_per_sec, lr, parts.kl; loss has two splits.
        assert_eq!(html.matches("<svg").count(), 4);
        let loss_at = html.find("<title>loss</title>").expect("loss chart");
        assert!(
            loss_at
                < html
                    .find("<title>images_per_sec</title>")
                    .expect("ips chart")
        );
        assert!(html.contains("<title>parts.kl</title>") && html.contains("<title>lr</title>"));
        assert!(html.contains(">train</text>") && html.contains(">valid</text>"));
        // Lines 4 and 6 are skipped and counted; the blank line is not a line.
        assert!(html.contains("6 lines in"));
        assert!(html.contains("2 malformed lines skipped (first: line 4)"));
        // The headline first: test metrics with units and four significant figures.
        let headline = html.find("class=\"headline\"").expect("headline table");
        assert!(headline < html.find("Every field").expect("all fields"));
        assert!(html.contains(
            "<td>test_nll_nats</td><td class=\"num\">87.51</td><td class=\"unit\">nats</td>"
        ));
        assert!(html.contains("<td>steps</td><td class=\"num\">30</td>"));
        assert_eq!(
            [
                unit("test_nelbo"),
                unit("test_iwae10_nll"),
                unit("test_nelbo_bits_per_dim")
            ],
            ["nats", "nats", "bits/dim"]
        );
        assert_eq!([unit("wall_time_s"), unit("test_mse")], ["s", ""]);
        assert_eq!([unit("test_kl"), unit("valid_recon")], ["nats", "nats"]);
        // The summary table, flattened and escaped.
        assert!(html.contains("<td>test.nll_bits_per_dim</td><td class=\"num\">1.2345</td>"));
        assert!(html.contains("<td>test.kl</td><td class=\"num\">7</td>"));
        assert!(html.contains("<td>note</td><td>a&lt;b</td>"));
        // The grids, in training order, embedded; small grids are enlarged.
        assert_eq!(
            html.matches("src=\"data:image/png;base64,iVBORw0KGgo")
                .count(),
            3
        );
        let (a, b, c) = (
            html.find("step-100.png"),
            html.find("step-20.png"),
            html.find("step-3.png"),
        );
        assert!(c < b && b < a, "in training order");
        assert!(
            html.contains("<img width=\"56\""),
            "a 14-pixel-wide grid is shown 4x"
        );
        // Self-contained: nothing is fetched from elsewhere.
        for external in ["src=\"http", "href=\"http", "url(", "<script", "<link"] {
            assert!(!html.contains(external), "{external}");
        }
        // No temporary file is left behind.
        let names: Vec<String> = fs::read_dir(&run)
            .expect("ls")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().all(|n| !n.starts_with('.')), "{names:?}");
    }

    #[test]
    fn figures_are_embedded_as_data_images_in_name_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let figures = dir.path().join("figures");
        fs::create_dir(&figures).expect("figures dir");
        let svg = "<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>";
        fs::write(figures.join("b-embedding.svg"), svg).expect("svg");
        let png = crate::image::encode_png(
            &crate::image::grid_rgb8(
                &[0.5; 16],
                1,
                1,
                4,
                4,
                &crate::image::GridOptions::default(),
            )
            .expect("grid"),
        )
        .expect("png");
        fs::write(figures.join("a-manifold.png"), png).expect("png");
        fs::write(figures.join("notes.txt"), "ignored").expect("txt");
        write_report(dir.path()).expect("report");
        let html = fs::read_to_string(dir.path().join("report.html")).expect("read");
        assert_balanced(&html);
        let (a, b) = (
            html.find("a-manifold.png").expect("png figure"),
            html.find("b-embedding.svg").expect("svg figure"),
        );
        assert!(a < b);
        assert!(html.contains("src=\"data:image/svg+xml;base64,"));
        assert!(!html.contains("<script") && !html.contains("notes.txt"));
    }

    #[test]
    fn empty_run_dir_says_not_written_yet() {
        let dir = tempfile::tempdir().expect("tempdir");
        write_report(dir.path()).expect("report");
        let html = fs::read_to_string(dir.path().join("report.html")).expect("read");
        assert_balanced(&html);
        for file in ["summary.json", "metrics.jsonl", "samples/", "config.toml"] {
            assert!(
                html.contains(&format!("<code>{file}</code> not written yet")),
                "{file}"
            );
        }
        assert!(!html.contains("<svg"));
    }

    #[test]
    fn degenerate_inputs_do_not_fail() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(dir.path().join("summary.json"), "{not json").expect("summary");
        fs::write(dir.path().join("metrics.jsonl"), "garbage\n[1,2]\n").expect("metrics");
        fs::create_dir(dir.path().join("samples")).expect("samples");
        fs::write(dir.path().join("samples/step-1.png"), b"not a png").expect("fake png");
        let html = render_report(dir.path());
        assert_balanced(&html);
        assert!(html.contains("summary.json is not valid JSON"));
        assert!(html.contains("2 malformed lines skipped (first: line 1)"));
        assert!(html.contains("No metrics logged yet"));
        assert!(html.contains("step-1.png: not a PNG file"));
        assert!(write_report(&dir.path().join("missing-dir")).is_err());
    }

    #[test]
    fn samples_sort_by_step_then_name() {
        let mut names = [
            "final.png",
            "step-100.png",
            "step-9.png",
            "step-x.png",
            "step-10.png",
        ];
        names.sort_by_key(|n| sample_key(n));
        assert_eq!(
            names,
            [
                "step-9.png",
                "step-10.png",
                "step-100.png",
                "final.png",
                "step-x.png"
            ]
        );
    }

    #[test]
    fn train_and_test_curves_of_a_quantity_share_a_chart_and_time_has_none() {
        let dir = tempfile::tempdir().expect("tempdir");
        let metrics = [
            r#"{"step": 1, "split": "train", "bits_per_dim": 0.3, "time_s": 1.0, "kl_weight": 1}"#,
            r#"{"step": 2, "split": "train", "bits_per_dim": 0.2, "time_s": 2.0, "kl_weight": 1}"#,
            r#"{"step": 2, "split": "valid", "valid_bits_per_dim": 0.25}"#,
            r#"{"step": 2, "split": "test", "test_bits_per_dim": 0.24}"#,
        ];
        fs::write(dir.path().join("metrics.jsonl"), metrics.join("\n")).expect("metrics");
        let html = render_report(dir.path());
        assert_eq!(html.matches("<svg").count(), 1, "one chart: bits_per_dim");
        assert!(html.contains("<title>bits_per_dim</title>"));
        for split in ["train", "valid", "test"] {
            assert!(html.contains(&format!(">{split}</text>")), "{split}");
        }
        assert!(!html.contains("<title>time_s</title>"));
        assert!(
            !html.contains("<title>kl_weight</title>"),
            "a constant is not charted"
        );
    }

    #[test]
    fn four_significant_figures() {
        let cases = [
            (0.007290652603842318, "0.007291"),
            (3990.9745584590614, "3991"),
            (87.509677, "87.51"),
            (0.16103288, "0.1610"),
            (30.0, "30"),
            (123456.7, "123500"),
            (1.5e-5, "1.500e-5"),
            (2.5e7, "25000000"),
            (-0.5, "-0.5000"),
        ];
        for (x, want) in cases {
            assert_eq!(four_significant(x), want, "{x}");
        }
    }

    #[test]
    fn a_strip_of_samples_spans_training() {
        let dir = tempfile::tempdir().expect("tempdir");
        let samples = dir.path().join("samples");
        fs::create_dir(&samples).expect("samples");
        let grid = grid_rgb8(&[1.0; 4], 1, 1, 2, 2, &GridOptions::with_cols(1)).expect("grid");
        let png = encode_png(&grid).expect("png");
        for step in 0..(SAMPLES_SHOWN as u32 + 3) {
            fs::write(samples.join(format!("step-{step}.png")), &png).expect("png");
        }
        let html = render_report(dir.path());
        assert_eq!(
            html.matches("data:image/png;base64,").count(),
            SAMPLES_SHOWN
        );
        // Nine grids, six shown: the first, the last and four between, in order.
        assert!(html.contains("<li><code>step-2.png</code></li>"));
        assert!(!html.contains("alt=\"step-2.png\""));
        let at = |step: u32| {
            html.find(&format!("alt=\"step-{step}.png\""))
                .expect("embedded")
        };
        assert!(at(0) < at(3) && at(3) < at(8));
        assert_eq!(spread(9, 6), [0, 1, 3, 4, 6, 8]);
        assert_eq!(spread(4, 6), [0, 1, 2, 3]);
    }
}
