//! `genzoo export` and `genzoo import` on the embedded mini-MNIST: for a model of every family, a
//! run exported in burn's layout and in PyTorch's and imported back draws the very same samples
//! for a seed and gives the very same probe outputs; files that do not fit (missing, truncated,
//! another model, tensors of other shapes) and existing outputs are clear errors that change nothing.

use std::path::{Path, PathBuf};

use burn::tensor::TensorData;
use genzoo_cli::TrainArgs;
use genzoo_cli::eval::load_run;
use genzoo_cli::weights::{ExportArgs, ImportArgs, export, import};
use genzoo_tests::{TINY_GATED, assert_bitwise_equal, mini_args, write_file};
use genzoo_train::Error;

const TINY_PIXELCNN: &str = "[model_config]\nchannels = 1\nimage_size = 28\nhidden = 8\nresidual_blocks = 1\n\
first_kernel = 3\nblock_kernel = 3\nhead_hidden = 8\nlevels = 2\n";

const TINY_RNN: &str = "[model_config]\nkind = \"RowLstm\"\nchannels = 1\nimage_size = 28\nhidden = 2\n\
layers = 1\nfirst_kernel = 3\nrow_kernel = 3\nhead_hidden = 2\nlevels = 2\neval_images = 64\ngrid_samples = 4\n";

/// A model and the `--config` text that keeps its run small.
fn small(model: &str) -> String {
    match model {
        "pixelcnn" => TINY_PIXELCNN.into(),
        "gated-pixelcnn" => TINY_GATED.replace("classes = 10", "classes = 0"),
        "cond-pixelcnn" => TINY_GATED.into(),
        "row-lstm" => TINY_RNN.into(),
        "diagonal-bilstm" => TINY_RNN.replace("RowLstm", "DiagonalBiLstm"),
        m if m.contains("gan") => "[model_config]\neval_images = 64\n".into(),
        _ => String::new(),
    }
}

/// Trains `model` for one step into `tmp/NAME` with `config` (a `--config` text, if any).
fn trained_with(tmp: &Path, name: &str, model: &str, config: &str) -> PathBuf {
    let dir = tmp.join(name);
    let config = (!config.is_empty()).then(|| write_file(tmp, &format!("{name}.toml"), config));
    let args = TrainArgs {
        config,
        ..mini_args(model, &dir, 1, 8, 3)
    };
    genzoo_cli::train(&args).unwrap_or_else(|e| panic!("{model} trains: {e}"));
    dir
}

fn export_args(run: &Path, out: &Path, layout: &str) -> ExportArgs {
    ExportArgs {
        run: run.to_path_buf(),
        checkpoint: "last".into(),
        out: out.to_path_buf(),
        layout: layout.into(),
        probe: None,
    }
}

fn import_args(file: &Path, model: &str, out: &Path) -> ImportArgs {
    ImportArgs {
        file: Some(file.to_path_buf()),
        pretrained: None,
        model: Some(model.into()),
        out: out.to_path_buf(),
    }
}

/// The probe's tensors and, for a model that generates, 3 samples from seed 11, as f32 values.
fn outputs(run: &Path) -> Vec<(String, Vec<f32>)> {
    let mut loaded = load_run(run, "last", None).expect("the run loads");
    let flat = |d: TensorData| d.try_to_vec_as::<f32>().expect("f32");
    let mut out: Vec<(String, Vec<f32>)> = loaded
        .task
        .probe()
        .expect("probe")
        .into_iter()
        .map(|(n, d)| (n, flat(d)))
        .collect();
    assert!(out.len() >= 3, "{run:?}: a probe of inputs and outputs");
    if let Some(g) = loaded.task.generator() {
        g.set_fast_sampling(true);
        let samples = g.generate(3, 11).expect("samples");
        out.push(("samples".into(), flat(samples.into_data())));
    }
    out
}

/// Exports the run of `model` in both layouts, imports each as a new run, and compares every
/// probe output and the seeded samples bit for bit.
fn round_trips(model: &str) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let run = trained_with(tmp.path(), "run", model, &small(model));
    let expected = outputs(&run);
    for layout in ["burn", "pytorch"] {
        let file = tmp.path().join(format!("{layout}.safetensors"));
        export(&export_args(&run, &file, layout)).expect("export");
        assert!(file.is_file());
        let back = tmp.path().join(format!("imported-{layout}"));
        import(&import_args(&file, model, &back))
            .unwrap_or_else(|e| panic!("{model} {layout}: {e}"));
        assert!(back.join("checkpoints/last.ckpt").is_file());
        let got = outputs(&back);
        assert_eq!(got.len(), expected.len());
        for ((name, a), (other, b)) in expected.iter().zip(&got) {
            assert_eq!(name, other);
            assert_bitwise_equal(a, b, &format!("{model} {layout} {name}"));
        }
    }
}

#[test]
fn an_autoencoder_round_trips_in_both_layouts() {
    round_trips("autoencoder");
}

#[test]
fn mlp_and_conv_vaes_round_trip_in_both_layouts() {
    round_trips("vae");
    round_trips("vae-conv");
}

#[test]
fn pixelcnns_round_trip_in_both_layouts() {
    round_trips("pixelcnn");
    round_trips("gated-pixelcnn");
    round_trips("cond-pixelcnn");
}

#[test]
fn pixelrnns_round_trip_in_both_layouts() {
    round_trips("row-lstm");
    round_trips("diagonal-bilstm");
}

#[test]
fn gans_round_trip_in_both_layouts() {
    round_trips("gan");
    round_trips("dcgan");
}

/// Asserts `err` is the genzoo-train error `matches` says and its message contains `needle`.
fn assert_run_error(err: genzoo_cli::Error, matches: impl Fn(&Error) -> bool, needle: &str) {
    let text = err.to_string();
    match &err {
        genzoo_cli::Error::Run(e) if matches(e) => {}
        _ => panic!("unexpected error: {text}"),
    }
    assert!(text.contains(needle), "no {needle:?} in: {text}");
}

#[test]
fn files_that_do_not_fit_are_named_errors_and_nothing_is_written() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let tmp = tmp.path();
    let run = trained_with(tmp, "run", "pixelcnn", TINY_PIXELCNN);
    let file = tmp.join("w.safetensors");
    export(&export_args(&run, &file, "pytorch")).expect("export");
    let out = tmp.join("new");

    // A file that is not there.
    let missing = tmp.join("missing.safetensors");
    let err = import(&import_args(&missing, "pixelcnn", &out)).expect_err("missing");
    assert_run_error(
        err,
        |e| matches!(e, Error::Io { .. }),
        "missing.safetensors",
    );

    // Another model's name.
    let err = import(&import_args(&file, "vae", &out)).expect_err("wrong model");
    assert!(err.to_string().contains("'pixelcnn', not 'vae'"), "{err}");
    let err = import(&import_args(&file, "kmeans", &out)).expect_err("classic");
    assert!(err.to_string().contains("classic fit"), "{err}");

    // Truncated copies.
    let bytes = std::fs::read(&file).expect("read");
    for cut in [0, 5, 100, bytes.len() / 2, bytes.len() - 1] {
        let cut_file = write_bytes(tmp, &format!("cut-{cut}.safetensors"), &bytes[..cut]);
        let err = import(&import_args(&cut_file, "pixelcnn", &out)).expect_err("truncated");
        assert_run_error(err, |e| matches!(e, Error::CorruptWeights { .. }), "cut-");
    }

    // The tensors of a wider network under this run's configuration.
    let wide = trained_with(
        tmp,
        "wide",
        "pixelcnn",
        &TINY_PIXELCNN.replace("hidden = 8", "hidden = 6"),
    );
    let wide_file = tmp.join("wide.safetensors");
    export(&export_args(&wide, &wide_file, "pytorch")).expect("export");
    let spliced = splice(&std::fs::read(&wide_file).expect("read"), &bytes);
    let spliced = write_bytes(tmp, "spliced.safetensors", &spliced);
    let err = import(&import_args(&spliced, "pixelcnn", &out)).expect_err("shapes");
    assert_run_error(
        err,
        |e| matches!(e, Error::WeightsMismatch { .. }),
        "Shape mismatch",
    );
    assert!(
        !out.exists(),
        "no run directory is made for a file that does not fit"
    );

    // The probe beside the weights: its inputs and outputs; never in the weights' own file.
    let probe = tmp.join("w.probe.safetensors");
    let with_probe = tmp.join("w2.safetensors");
    let args = ExportArgs {
        probe: Some(probe.clone()),
        ..export_args(&run, &with_probe, "burn")
    };
    export(&args).expect("export with a probe");
    let names =
        genzoo_train::weights::read_metadata(&std::fs::read(&probe).expect("probe"), &probe)
            .expect("a safetensors file");
    assert_eq!(
        names.get("genzoo.model").map(String::as_str),
        Some("pixelcnn")
    );
    let tensors = std::fs::read(&probe).expect("probe");
    let st = safetensors::SafeTensors::deserialize(&tensors).expect("safetensors");
    let mut keys = st.names();
    keys.sort_unstable();
    assert_eq!(keys, ["input", "labels", "log_prob", "logits"]);
    let same = tmp.join("same.safetensors");
    let args = ExportArgs {
        probe: Some(same.clone()),
        ..export_args(&run, &same, "burn")
    };
    let err = export(&args).expect_err("one file for both");
    assert!(err.to_string().contains("another file"), "{err}");
    assert!(!same.exists());

    // An existing run directory is not replaced, an existing file not overwritten.
    let err = import(&import_args(&file, "pixelcnn", &run)).expect_err("exists");
    assert!(err.to_string().contains("already exists"), "{err}");
    assert!(run.join("checkpoints/best.ckpt").is_file());
    let err = export(&export_args(&run, &missing, "pytorch"))
        .and_then(|_| export(&export_args(&run, &missing, "burn")))
        .expect_err("exists");
    assert!(err.to_string().contains("not replaced"), "{err}");
    assert_eq!(
        genzoo_train::WeightsFile::read(&missing)
            .expect("the first export stays")
            .layout,
        genzoo_train::Layout::PyTorch
    );
}

/// A safetensors file with the tensors of `tensors_from` and the metadata of `metadata_from`.
fn splice(tensors_from: &[u8], metadata_from: &[u8]) -> Vec<u8> {
    let meta = genzoo_train::weights::read_metadata(metadata_from, Path::new("m")).expect("meta");
    let st = safetensors::SafeTensors::deserialize(tensors_from).expect("safetensors");
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = st.tensors();
    safetensors::tensor::serialize(views, Some(meta)).expect("serialize")
}

fn write_bytes(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write");
    path
}

#[test]
fn a_classic_fit_has_no_weights_to_export() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("km");
    let args = TrainArgs {
        k: Some(3),
        ..mini_args("kmeans", &dir, 1, 8, 3)
    };
    genzoo_cli::train(&TrainArgs {
        steps: None,
        batch_size: None,
        log_every: None,
        sample_every: None,
        checkpoint_every: None,
        ..args
    })
    .expect("k-means fits");
    let file = tmp.path().join("km.safetensors");
    let err = export(&export_args(&dir, &file, "burn")).expect_err("classic");
    assert!(err.to_string().contains("classic fit"), "{err}");
    assert!(!file.exists());
}
