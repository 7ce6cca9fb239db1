//! The shipped trained weights: each file is intact, loads into its model, and still gives the test
//! number it is documented with (recomputed on a fixed subset of the test split); `sample`, `eval`,
//! `import` and `figures` with `--pretrained` do what they say and replace nothing.

use std::path::Path;

use genzoo_cli::eval::{
    EvalArgs, FiguresArgs, RunSource, SampleArgs, eval, figures, load_pretrained, load_run, sample,
};
use genzoo_cli::models;
use genzoo_cli::weights::{ImportArgs, import};
use genzoo_datasets::{DataOptions, Split};
use genzoo_train::BoundOptions;
use genzoo_train::pretrained::{Pretrained, Subset};

/// All shipped files together stay small enough to keep in the repository and to copy to a GPU
/// machine with the working tree.
const SHIPPED_BYTES_LIMIT: usize = 25 << 20;

/// How far the subset's value may move between machines, and how far it may be from the documented
/// value, per metric.
///
/// NLLs: summation order differs between SIMD widths and thread counts, worth far less than a
/// hundredth of a nat on a mean of ~90 nats; per-image NLLs of these models spread by about 25
/// nats, so the mean of 295 of the 10,000 test images (every 34th) has a standard error of about
/// 1.5 nats, and 5 nats is more than three of them.
///
/// Class accuracy: rounding may move a sample across a decision boundary, so two of the 500
/// samples may change class; near 99.7%, the standard error of a share of 500 is about 0.25%,
/// and 2% is far more than three of them.
fn tolerances(metrics: &str) -> (f64, f64) {
    match metrics {
        "acc" => (2.0 / 500.0, 0.02),
        _ => (0.02, 5.0),
    }
}

fn args(source: RunSource, n: usize, out: Option<&Path>) -> SampleArgs {
    SampleArgs {
        source,
        n,
        seed: 3,
        cols: None,
        out: out.map(Path::to_path_buf),
        label: None,
        fast: true,
        complete: false,
    }
}

#[test]
fn the_shipped_files_are_listed_once_intact_and_small() {
    let all = models::pretrained();
    assert!(all.len() >= 4, "the VAE, IWAE, PixelCNN and Row LSTM ship");
    let mut names: Vec<&str> = all.iter().map(|p| p.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), all.len(), "names are unique");
    let total: usize = all.iter().map(|p| p.bytes.len()).sum();
    assert!(total < SHIPPED_BYTES_LIMIT, "{total} bytes shipped");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for p in &all {
        let w = p.weights().unwrap_or_else(|e| panic!("{}: {e}", p.name));
        assert_eq!(w.model, p.model, "{}", p.name);
        assert!(w.step > 0, "{}: trained weights", p.name);
        assert!(
            root.join(p.recipe).is_file(),
            "{}: recipe {}",
            p.name,
            p.recipe
        );
        models::find(p.model).expect("a registered model");
    }
    let err = models::find_pretrained("no-such-weights").expect_err("refused");
    assert!(err.to_string().contains(all[0].name), "{err}");
}

/// The documented metric of `p` on its subset, computed as `genzoo eval` computes it.
fn subset_metric(p: &Pretrained, data: &Path) -> f64 {
    let mut loaded = load_pretrained(p.name, None).expect("loads");
    if let Subset::PerClass(per) = p.test.subset {
        let device = loaded.device.clone().inner();
        let g = loaded
            .task
            .conditional()
            .expect("a class-conditional model");
        let per_class: Vec<_> = (0..g.num_classes())
            .map(|c| {
                g.generate_class(per, c as u64, c)
                    .expect("samples")
                    .to_device(&device)
            })
            .collect();
        let lenet = genzoo_metrics::classifier::DomainClassifier::mnist(&device).expect("LeNet");
        let out = genzoo_metrics::suite::class_accuracy(&lenet, &per_class).expect("accuracy");
        return out[p.test.key].as_f64().expect("a number");
    }
    let opts = DataOptions {
        data_dir: Some(data.to_path_buf()),
        ..DataOptions::default()
    };
    let test =
        genzoo_datasets::load(loaded.config.dataset, Split::Test, &opts).expect("test split");
    let subset = test.select(&p.subset(test.len()));
    let values: Vec<(String, f64)> = match p.test.metrics {
        "nll" => loaded.task.evaluate(&subset),
        "iwae" => loaded
            .task
            .likelihood()
            .expect("a VAE-family model")
            .likelihood_bounds(
                &subset,
                &BoundOptions {
                    k: p.test.iwae_k,
                    start: 0,
                    images: subset.len(),
                    seed: 0,
                },
            )
            .expect("bounds"),
        other => panic!("{}: no check for metric {other}", p.name),
    };
    values
        .into_iter()
        .find(|(k, _)| k == p.test.key)
        .unwrap_or_else(|| panic!("{}: no {} in the results", p.name, p.test.key))
        .1
}

#[test]
fn each_shipped_file_reproduces_its_documented_test_number() {
    let Some(data) = genzoo_tests::data_dir("the shipped weights' test numbers") else {
        return;
    };
    let mut failures = Vec::new();
    for p in models::pretrained() {
        let got = subset_metric(&p, &data);
        eprintln!(
            "{}: {} on {:?} = {got:.6} (shipped {:.6}; documented {:.6})",
            p.name, p.test.key, p.test.subset, p.test.subset_value, p.test.value
        );
        let (reproduce, subset) = tolerances(p.test.metrics);
        let off = (got - p.test.subset_value).abs();
        if off.is_nan() || off > reproduce {
            failures.push(format!(
                "{}: {got:.6} vs {:.6}",
                p.name, p.test.subset_value
            ));
        }
        if (p.test.subset_value - p.test.value).abs() > subset {
            failures.push(format!(
                "{}: the subset's {:.3} is far from the documented {:.3}",
                p.name, p.test.subset_value, p.test.value
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn sample_from_shipped_weights_writes_a_png_and_never_replaces_a_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("rows.png");
    let path = sample(&args(
        RunSource::pretrained("row-lstm-binarized-mnist"),
        4,
        Some(&out),
    ))
    .expect("samples");
    assert_eq!(path, out);
    let png = std::fs::read(&out).expect("the PNG");
    assert_eq!(&png[1..4], b"PNG");
    // The same seed draws the same picture; a run loaded from an import of the file draws it too.
    let run = dir.path().join("imported");
    import(&ImportArgs {
        file: None,
        pretrained: Some("row-lstm-binarized-mnist".into()),
        model: None,
        out: run.clone(),
    })
    .expect("import");
    let again = dir.path().join("again.png");
    let source = RunSource {
        checkpoint: "last".into(),
        ..RunSource::new(&run)
    };
    sample(&args(source, 4, Some(&again))).expect("samples of the import");
    assert_eq!(std::fs::read(&again).expect("PNG"), png);
    assert_eq!(
        load_run(&run, "last", None)
            .expect("the import loads")
            .config
            .model,
        "row-lstm"
    );
    // An import never replaces a directory.
    let err = import(&ImportArgs {
        file: None,
        pretrained: Some("row-lstm-binarized-mnist".into()),
        model: None,
        out: run.clone(),
    })
    .expect_err("refused");
    assert!(err.to_string().contains("already exists"), "{err}");
    // Another model's name is refused.
    let err = import(&ImportArgs {
        file: None,
        pretrained: Some("row-lstm-binarized-mnist".into()),
        model: Some("pixelcnn".into()),
        out: dir.path().join("other"),
    })
    .expect_err("refused");
    assert!(err.to_string().contains("not 'pixelcnn'"), "{err}");
    assert!(!dir.path().join("other").exists());
}

#[test]
fn figures_and_unknown_names_are_refused_with_the_way_forward() {
    let err = figures(&FiguresArgs {
        source: RunSource::pretrained("vae-burda-binarized-mnist"),
    })
    .expect_err("refused");
    assert!(
        err.to_string().contains("genzoo import --pretrained"),
        "{err}"
    );
    let err = eval(&EvalArgs {
        source: RunSource::pretrained("vae"),
        metrics: Some("nll".into()),
        n: 10,
        start: 0,
        iwae_k: 1,
        seed: 0,
        classifier: None,
        json: true,
    })
    .expect_err("refused");
    assert!(
        err.to_string().contains("vae-burda-binarized-mnist"),
        "{err}"
    );
}
