//! `genzoo bench metrics`: what evaluating a model costs — the feature extractor's rate over a test
//! set and a whole calibration ([`crate::suite::calibration`]), the records `genzoo bench` prints and
//! writes. `bench/pytorch/metrics_reference.py` computes the same in PyTorch.

use std::time::Instant;

use burn::tensor::Device;
use genzoo_datasets::ImageSet;
use serde_json::{Map, Value};

use crate::classifier::{DomainClassifier, EVAL_BATCH, extract_set};
use crate::error::Result;
use crate::suite::{calibration, num};

/// The group's name in `genzoo bench GROUP`.
pub const GROUP: &str = "metrics";

/// Feature extraction over the first `n` images of `test` (`warmup` untimed passes, then the median
/// of `repeats` timed ones) and one timed [`calibration`] of `train` against
/// `test` on `n` images: two records with `group`, `what`, `n` and `seconds`; the first with
/// `images_per_sec` and `ms_per_image`, the second with each comparison's metrics under `rows`.
pub fn reference(
    extractor: &DomainClassifier,
    [train, test]: [&ImageSet; 2],
    n: usize,
    [warmup, repeats]: [usize; 2],
    device: &Device,
) -> Result<Vec<Map<String, Value>>> {
    let n = n.min(test.len()).min(train.len());
    for _ in 0..warmup {
        extract_set(extractor, test, n, device)?;
    }
    let mut times = Vec::with_capacity(repeats.max(1));
    for _ in 0..repeats.max(1) {
        let t0 = Instant::now();
        extract_set(extractor, test, n, device)?;
        times.push(t0.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let mut features = record("features", n, median);
    features.insert("batch".into(), Value::from(EVAL_BATCH));
    features.insert("images_per_sec".into(), num(n as f64 / median));
    features.insert("ms_per_image".into(), num(median * 1e3 / n.max(1) as f64));
    let t0 = Instant::now();
    let rows = calibration(extractor, "mnist", train, test, n, device)?;
    let mut whole = record("calibrate", n, t0.elapsed().as_secs_f64());
    let rows = rows.into_iter().map(|(k, m)| (k, Value::Object(m)));
    whole.insert("rows".into(), Value::Object(rows.collect()));
    Ok(vec![features, whole])
}

fn record(what: &str, n: usize, seconds: f64) -> Map<String, Value> {
    let mut r = Map::new();
    r.insert("group".into(), Value::from(GROUP));
    r.insert("what".into(), Value::from(what));
    r.insert("n".into(), Value::from(n));
    r.insert("seconds".into(), num(seconds));
    r
}

/// Whether `records` are this group's.
pub fn is_metrics(records: &[Map<String, Value>]) -> bool {
    records
        .first()
        .is_some_and(|r| r.get("group").and_then(Value::as_str) == Some(GROUP))
}

/// Prints the records as a table: one line for the features, one per comparison of the calibration.
pub fn print(records: &[Map<String, Value>]) {
    let f = |r: &Map<String, Value>, k: &str| r.get(k).and_then(Value::as_f64).unwrap_or(f64::NAN);
    println!("{:<44} {:>9}  result", "metrics (genzoo-LeNet)", "seconds");
    for r in records {
        let n = r.get("n").and_then(Value::as_u64).unwrap_or(0);
        match r.get("what").and_then(Value::as_str) {
            Some("features") => println!(
                "{:<44} {:>9.2}  {:.0} images/s, {:.3} ms an image",
                format!("features of {n} test images"),
                f(r, "seconds"),
                f(r, "images_per_sec"),
                f(r, "ms_per_image")
            ),
            Some("calibrate") => {
                println!(
                    "{:<44} {:>9.2}",
                    format!("calibrate, n = {n} (4 feature sets)"),
                    f(r, "seconds")
                );
                let rows = r.get("rows").and_then(Value::as_object);
                for (name, m) in rows.into_iter().flatten() {
                    let Some(m) = m.as_object() else { continue };
                    println!(
                        "  {name:<42} {:>9}  FID {:.2}, KID {:.1} ± {:.1}, IS {:.2}, P/R {:.3}/{:.3}",
                        "",
                        f(m, "fid"),
                        f(m, "kid_mean"),
                        f(m, "kid_std"),
                        f(m, "is_mean"),
                        f(m, "precision"),
                        f(m, "recall")
                    );
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use genzoo_datasets::{DataOptions, DatasetKind, Split, load};

    #[test]
    fn the_records_time_the_features_and_carry_the_calibration() {
        let device = Device::flex();
        let opts = DataOptions::default();
        let train = load(DatasetKind::MnistMini, Split::Train, &opts).expect("mini train");
        let test = load(DatasetKind::MnistMini, Split::Test, &opts).expect("mini test");
        let extractor = DomainClassifier::mnist(&device).expect("shipped LeNet");
        let n = 40;
        let records = reference(&extractor, [&train, &test], n, [0, 3], &device).expect("bench");
        assert!(is_metrics(&records));
        let [features, whole] = records.as_slice() else {
            panic!("two records: {records:?}")
        };
        let get = |r: &Map<String, Value>, k: &str| r[k].as_f64().expect(k);
        assert_eq!(features["what"], "features");
        assert_eq!(features["n"], n);
        let s = get(features, "seconds");
        assert!(s > 0.0, "{s}");
        assert!((get(features, "images_per_sec") * s - n as f64).abs() < 1e-6);
        assert!((get(features, "ms_per_image") * n as f64 - 1e3 * s).abs() < 1e-6);
        assert_eq!(whole["what"], "calibrate");
        let rows = whole["rows"].as_object().expect("rows");
        assert_eq!(rows.len(), 3, "{rows:?}");
        let floor = rows["mnist train vs test"]["fid"].as_f64().expect("fid");
        let shuffled = rows["mnist test vs test, pixels shuffled"]["fid"]
            .as_f64()
            .expect("fid");
        assert!(
            floor < shuffled,
            "train vs test {floor} ≥ shuffled {shuffled}"
        );
        assert!(get(whole, "seconds") > 0.0);
    }
}
