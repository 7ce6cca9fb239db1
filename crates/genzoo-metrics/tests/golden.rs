//! genzoo-metrics against reference values computed by `scripts/golden.py` (numpy + scipy, the way
//! pytorch-fid and torch-fidelity compute them). Regenerate with
//! `python3 crates/genzoo-metrics/scripts/golden.py > crates/genzoo-metrics/tests/golden.json`.

use genzoo_metrics::features::Features;
use genzoo_metrics::frechet::frechet_distance;
use genzoo_metrics::inception_score::inception_score;
use genzoo_metrics::kid::kid_on_subsets;
use genzoo_metrics::precision_recall::precision_recall;
use serde_json::Value;

fn golden() -> Value {
    serde_json::from_str(include_str!("golden.json")).expect("golden.json parses")
}

fn matrix(v: &Value) -> Features {
    let rows = v.as_array().expect("rows");
    let dim = rows[0].as_array().expect("row").len();
    let values = rows
        .iter()
        .flat_map(|r| {
            r.as_array()
                .expect("row")
                .iter()
                .map(|x| x.as_f64().expect("number") as f32)
        })
        .collect();
    Features::new(values, dim).expect("features")
}

fn indices(v: &Value) -> Vec<usize> {
    v.as_array()
        .expect("indices")
        .iter()
        .map(|i| i.as_u64().expect("index") as usize)
        .collect()
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-12)
}

#[test]
fn frechet_distance_matches_pytorch_fid_definition() {
    let g = golden();
    for case in g["fid"].as_array().expect("cases") {
        let name = case["name"].as_str().expect("name");
        let expect = case["fid"].as_f64().expect("fid");
        let got = frechet_distance(&matrix(&case["x"]), &matrix(&case["y"])).expect("fid");
        // The inputs travel as f32 here (as network features do) and f64 in the script.
        assert!(
            rel(got.value, expect) < 1e-6,
            "{name}: {} vs {expect} (rel {:e})",
            got.value,
            rel(got.value, expect)
        );
        let eps = case["eps"].as_f64().expect("eps");
        assert_eq!(got.regularized.is_some(), eps > 0.0, "{name}");
    }
}

#[test]
fn kid_matches_torch_fidelity_definition() {
    let g = &golden()["kid"];
    let (x, y) = (matrix(&g["x"]), matrix(&g["y"]));
    let subsets: Vec<(Vec<usize>, Vec<usize>)> = g["subsets"]
        .as_array()
        .expect("subsets")
        .iter()
        .map(|s| (indices(&s["x"]), indices(&s["y"])))
        .collect();
    for (i, s) in subsets.iter().enumerate() {
        let one = kid_on_subsets(&x, &y, std::slice::from_ref(s)).expect("kid");
        let expect = g["mmd2"][i].as_f64().expect("mmd2");
        assert!(
            rel(one.mean, expect) < 1e-6,
            "subset {i}: {} vs {expect}",
            one.mean
        );
    }
    let all = kid_on_subsets(&x, &y, &subsets).expect("kid");
    assert!(rel(all.mean, g["mean"].as_f64().expect("mean")) < 1e-6);
    assert!(rel(all.std, g["std"].as_f64().expect("std")) < 1e-6);
    assert_eq!((all.subsets, all.subset_size), (4, 50));
}

#[test]
fn inception_score_matches_torch_fidelity_definition() {
    let g = &golden()["inception_score"];
    let probs = matrix(&g["probs"]);
    let splits = g["splits"].as_u64().expect("splits") as usize;
    let s = inception_score(probs.values(), probs.dim(), splits).expect("is");
    assert!(
        rel(s.mean, g["mean"].as_f64().expect("mean")) < 1e-5,
        "{s:?}"
    );
    assert!(rel(s.std, g["std"].as_f64().expect("std")) < 1e-4, "{s:?}");
}

#[test]
fn precision_recall_matches_brute_force() {
    let g = &golden()["precision_recall"];
    let k = g["k"].as_u64().expect("k") as usize;
    let pr = precision_recall(&matrix(&g["real"]), &matrix(&g["fake"]), k).expect("pr");
    // Fractions of 50 and 60 samples; the golden file keeps 12 significant digits.
    assert!(
        (pr.precision - g["precision"].as_f64().expect("precision")).abs() < 1e-9,
        "{pr:?}"
    );
    assert!(
        (pr.recall - g["recall"].as_f64().expect("recall")).abs() < 1e-9,
        "{pr:?}"
    );
}
