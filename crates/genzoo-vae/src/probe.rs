//! The autoencoder as a feature learner (feature `train`; `genzoo train ae-probe`) (CS231n lecture 13 §1.3; Hinton &
//! Salakhutdinov 2006, DOI 10.1126/science.1127647) — a linear softmax classifier trained on 100, 1,000 and
//! all labels of the training set from three feature sets: (a) the convolutional autoencoder's code (the
//! `autoencoder` model, trained here for `ae_epochs` or loaded from a run directory), (b) PCA-50 features,
//! (c) raw pixels. The labelled subsets are the first `m` images of a seeded permutation with the classes
//! balanced (`m / 10` per class), the same subset for all three feature sets.
//!
//! The probe is multinomial logistic regression, `softmax(z W + b)` on features `z` standardised with the
//! labelled subset's mean and standard deviation, fitted by Adam on the cross-entropy plus `l2 ‖W‖²/2`
//! with hand-written gradients (`∂/∂W = zᵀ(P − Y)/b + l2 W`), so no autodiff graph is needed.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::Module;
use burn::optim::Optimizer;
use burn::tensor::{Device, Tensor, TensorData};
use genzoo_datasets::rng::{Rng, derive_seed};
use genzoo_datasets::{Binarization, DatasetKind, Split};
use genzoo_layers::adam::AdamConfig;
use genzoo_train::{Batches, Checkpoint, Error, Result, RunDir, StepBatches, Task};
use genzoo_unsupervised::PcaConfig;
use genzoo_unsupervised::fit::{Ctx, Rows};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::train::{AutoencoderTask, test_mse};
use crate::{Autoencoder, AutoencoderConfig};

/// What the probe reads of an `autoencoder` run's `config.toml`.
#[derive(Deserialize)]
struct AutoencoderRun {
    model: String,
    lr: f64,
    model_config: toml::Table,
}

/// The probe's name on the command line and its line for `genzoo models`.
pub const PROBE: (&str, &str) = (
    "ae-probe",
    "linear probe on autoencoder / PCA-50 / pixel features, 100 / 1k / all labels (lecture §1.3)",
);

/// Parameters of the probe (`[model_config]` of `ae-probe`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeParams {
    /// Epochs of autoencoder training (ignored with `ae_run`).
    pub ae_epochs: u64,
    /// Autoencoder batch size.
    pub ae_batch_size: usize,
    /// Autoencoder Adam learning rate.
    pub ae_lr: f64,
    /// Load the autoencoder from this `genzoo train autoencoder` run directory (`checkpoints/best.ckpt`,
    /// else `last.ckpt`) instead of training one; empty to train.
    pub ae_run: String,
    /// Sizes of the labelled subsets; 0 means every training label.
    pub label_counts: Vec<usize>,
    /// PCA components of feature set (b).
    pub pca_components: usize,
    /// Probe: passes over the labelled subset (at least `probe_min_steps` steps are taken).
    pub probe_epochs: usize,
    /// Probe: minimum Adam steps (small subsets need more passes).
    pub probe_min_steps: usize,
    /// Probe: batch size.
    pub probe_batch_size: usize,
    /// Probe: Adam learning rate.
    pub probe_lr: f64,
    /// Probe: L2 penalty on the weights.
    pub probe_l2: f64,
}

impl ProbeParams {
    /// The reference configuration: one autoencoder epoch, subsets of 100, 1,000 and all labels.
    pub fn preset() -> Self {
        Self {
            ae_epochs: 1,
            ae_batch_size: 64,
            ae_lr: 1e-3,
            ae_run: String::new(),
            label_counts: vec![100, 1000, 0],
            pca_components: 50,
            probe_epochs: 10,
            probe_min_steps: 500,
            probe_batch_size: 128,
            probe_lr: 1e-2,
            probe_l2: 1e-3,
        }
    }

    /// Rejects values the probe cannot run with.
    pub fn check(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Config(format!("[model_config] of 'ae-probe': {m}")));
        if self.label_counts.is_empty() {
            return bad("label_counts is empty".into());
        }
        if self.label_counts.iter().any(|&m| m != 0 && m < 10) {
            return bad(format!(
                "every label count must be 0 (all) or at least 10 (one per class), found {:?}",
                self.label_counts
            ));
        }
        if self.probe_batch_size == 0 || self.ae_batch_size == 0 || self.pca_components == 0 {
            return bad("batch sizes and pca_components must be positive".into());
        }
        if self.ae_run.is_empty() && self.ae_epochs == 0 {
            return bad("ae_epochs must be positive unless ae_run names a trained run".into());
        }
        if !(self.probe_lr > 0.0 && self.ae_lr > 0.0 && self.probe_l2 >= 0.0) {
            return bad("learning rates must be positive and probe_l2 >= 0".into());
        }
        Ok(())
    }
}

/// A balanced labelled subset: `m / classes` indices per class from a seeded permutation (all for 0).
pub fn labelled_subset(labels: &[usize], m: usize, classes: usize, seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..labels.len()).collect();
    Rng::seed_from_u64(seed).shuffle(&mut order);
    if m == 0 || m >= labels.len() {
        return order;
    }
    let per = m / classes;
    let mut taken = vec![0usize; classes];
    let mut out = Vec::with_capacity(m);
    for i in order {
        let l = labels[i];
        if l < classes && taken[l] < per {
            taken[l] += 1;
            out.push(i);
        }
    }
    out
}

/// A fitted softmax classifier: weights `[d, classes]`, bias, and the feature standardisation.
pub struct Softmax {
    w: Tensor<2>,
    b: Tensor<2>,
    mean: Tensor<2>,
    inv_std: Tensor<2>,
}

/// Options of [`fit_softmax`].
pub struct SoftmaxOptions {
    /// Passes over the data.
    pub epochs: usize,
    /// Minimum steps.
    pub min_steps: usize,
    /// Batch size.
    pub batch_size: usize,
    /// Adam learning rate.
    pub lr: f64,
    /// L2 penalty on the weights.
    pub l2: f64,
    /// Seed of the batch order.
    pub seed: u64,
}

fn one_hot(labels: &[usize], classes: usize, device: &Device) -> Tensor<2> {
    let mut y = vec![0.0f32; labels.len() * classes];
    for (i, &l) in labels.iter().enumerate() {
        y[i * classes + l] = 1.0;
    }
    Tensor::from_data(TensorData::new(y, [labels.len(), classes]), device)
}

fn rows_tensor(x: &[f32], rows: &[usize], d: usize, device: &Device) -> Tensor<2> {
    let v: Vec<f32> = rows
        .iter()
        .flat_map(|&i| x[i * d..(i + 1) * d].iter().copied())
        .collect();
    Tensor::from_data(TensorData::new(v, [rows.len(), d]), device)
}

/// Fits multinomial logistic regression by Adam with analytic gradients.
///
/// # Shapes
/// `x`: `[n, d]` row-major features; `labels`: `n` classes in `0..classes`.
pub fn fit_softmax(
    x: &[f32],
    d: usize,
    labels: &[usize],
    classes: usize,
    opts: &SoftmaxOptions,
    device: &Device,
) -> Softmax {
    let n = labels.len();
    // Standardise with the labelled rows' statistics (constant features get unit scale).
    let mut mean = vec![0.0f64; d];
    let mut sq = vec![0.0f64; d];
    for row in x.chunks(d) {
        for j in 0..d {
            mean[j] += f64::from(row[j]);
            sq[j] += f64::from(row[j]).powi(2);
        }
    }
    let mean: Vec<f32> = mean.iter().map(|m| (m / n as f64) as f32).collect();
    let inv_std: Vec<f32> = sq
        .iter()
        .zip(&mean)
        .map(|(s, &m)| {
            let var = s / n as f64 - f64::from(m).powi(2);
            if var > 1e-12 {
                (1.0 / var.sqrt()) as f32
            } else {
                1.0
            }
        })
        .collect();
    let mean = Tensor::<2>::from_data(TensorData::new(mean, [1, d]), device);
    let inv_std = Tensor::<2>::from_data(TensorData::new(inv_std, [1, d]), device);
    let mut w = Tensor::<2>::zeros([d, classes], device);
    let mut b = Tensor::<2>::zeros([1, classes], device);
    let adam = AdamConfig::new().with_epsilon(1e-8).build();
    let (mut state_w, mut state_b) = (None, None);
    let bs = opts.batch_size.min(n);
    let per_epoch = n.div_ceil(bs);
    let steps = (opts.epochs * per_epoch).max(opts.min_steps);
    let mut rng = Rng::seed_from_u64(opts.seed);
    let mut order: Vec<usize> = (0..n).collect();
    for t in 0..steps {
        if t % per_epoch == 0 {
            rng.shuffle(&mut order);
        }
        let start = (t % per_epoch) * bs;
        let rows = &order[start..(start + bs).min(n)];
        let m = rows.len() as f64;
        let z = (rows_tensor(x, rows, d, device) - mean.clone()) * inv_std.clone();
        let y = one_hot(
            &rows.iter().map(|&i| labels[i]).collect::<Vec<_>>(),
            classes,
            device,
        );
        let logits = z.clone().matmul(w.clone()) + b.clone();
        let p = burn::tensor::activation::softmax(logits, 1);
        let g = (p - y) / m;
        let gw = z.transpose().matmul(g.clone()) + w.clone() * opts.l2;
        let gb = g.sum_dim(0);
        (w, state_w) = adam.step(opts.lr, w, gw, state_w);
        (b, state_b) = adam.step(opts.lr, b, gb, state_b);
    }
    Softmax {
        w,
        b,
        mean,
        inv_std,
    }
}

impl Softmax {
    /// Fraction of rows of `x` (`[n, d]`) whose arg-max class equals the label.
    pub fn accuracy(&self, x: &[f32], d: usize, labels: &[usize], device: &Device) -> f64 {
        let mut hits = 0usize;
        let all: Vec<usize> = (0..labels.len()).collect();
        for chunk in all.chunks(2000) {
            let z = (rows_tensor(x, chunk, d, device) - self.mean.clone()) * self.inv_std.clone();
            let pred: Vec<i64> = (z.matmul(self.w.clone()) + self.b.clone())
                .argmax(1)
                .into_data()
                .iter::<i64>()
                .collect();
            hits += chunk
                .iter()
                .zip(pred)
                .filter(|(i, p)| labels[**i] as i64 == *p)
                .count();
        }
        hits as f64 / labels.len().max(1) as f64
    }
}

/// The autoencoder's code of every row (`[n, latent]`, row-major), on a non-autodiff copy.
fn encode(
    model: &Autoencoder,
    rows: &Rows,
    shape: [usize; 3],
    device: &Device,
) -> (Vec<f32>, usize) {
    let model = model.valid();
    let [c, h, w] = shape;
    let mut out = Vec::new();
    let mut latent = 0;
    for start in (0..rows.n).step_by(1000) {
        let m = 1000.min(rows.n - start);
        let x = Tensor::<4>::from_data(
            TensorData::new(
                rows.x[start * rows.d..(start + m) * rows.d].to_vec(),
                [m, c, h, w],
            ),
            device,
        );
        let z = model.encode(x);
        latent = z.dims()[1];
        out.extend(z.into_data().iter::<f32>());
    }
    (out, latent)
}

/// Trains the autoencoder (or loads it from `ae_run`); returns it with a description and its test MSE.
fn autoencoder(
    p: &ProbeParams,
    dataset: &str,
    ctx: &Ctx<'_>,
    summary: &mut Map<String, Value>,
) -> Result<Autoencoder> {
    let kind: DatasetKind = dataset.parse()?;
    let device = ctx.device.clone().autodiff();
    device.seed(ctx.seed);
    let opts = ctx.data_opts;
    let test = genzoo_datasets::load(kind, Split::Test, opts)?;
    let t = Instant::now();
    let model = if p.ae_run.is_empty() {
        let cfg = match kind {
            DatasetKind::Cifar10 => AutoencoderConfig::cifar10(),
            _ => AutoencoderConfig::mnist(),
        };
        let mut task = AutoencoderTask::new(&cfg, p.ae_lr, &device);
        let train = genzoo_datasets::load(kind, Split::Train, opts)?;
        if p.ae_batch_size > train.len() {
            return Err(Error::Config(format!(
                "ae_batch_size {} exceeds the {} training images",
                p.ae_batch_size,
                train.len()
            )));
        }
        let mut batches = Batches::new(
            &train,
            device.clone(),
            p.ae_batch_size,
            Binarization::None,
            ctx.seed,
            0,
            0,
        );
        let steps = p.ae_epochs * batches.batches_per_epoch();
        let mut rng = Rng::seed_from_u64(derive_seed(ctx.seed, &[3]));
        tracing::info!(steps, "training the autoencoder");
        for _ in 0..steps {
            task.step(StepBatches::take(&mut batches, 1), &mut rng);
        }
        summary.insert("ae_steps".into(), Value::from(steps));
        summary.insert(
            "ae_source".into(),
            Value::from(format!("trained {} epoch(s)", p.ae_epochs)),
        );
        task.model().clone()
    } else {
        let (task, from) = load_autoencoder(Path::new(&p.ae_run), kind, &device)?;
        summary.insert("ae_source".into(), Value::from(from.display().to_string()));
        task.model().clone()
    };
    summary.insert(
        "ae_seconds".into(),
        genzoo_train::run::num(t.elapsed().as_secs_f64()),
    );
    summary.insert(
        "ae_test_mse".into(),
        genzoo_train::run::num(test_mse(&model, &test, &device)),
    );
    Ok(model)
}

/// Loads an `autoencoder` run's best (else last) checkpoint, checking the run is an autoencoder on
/// images of this dataset's shape.
fn load_autoencoder(
    dir: &Path,
    kind: DatasetKind,
    device: &Device,
) -> Result<(AutoencoderTask, PathBuf)> {
    let run = RunDir::open(dir)?;
    let origin = run.config_path().display().to_string();
    let cfg: AutoencoderRun = toml::from_str(&run.read_config()?)
        .map_err(|e| Error::Config(format!("ae_run: {origin}: {e}")))?;
    if cfg.model != "autoencoder" {
        return Err(Error::Config(format!(
            "ae_run: {origin} is a '{}' run, not 'autoencoder'",
            cfg.model
        )));
    }
    let ae: AutoencoderConfig = cfg
        .model_config
        .clone()
        .try_into()
        .map_err(|e| Error::Config(format!("ae_run: [model_config] of {origin}: {e}")))?;
    let [c, h, _] = kind.shape();
    if ae.channels != c || ae.image_size != h {
        return Err(Error::Config(format!(
            "ae_run: the autoencoder is for {}×{s}×{s} images, the probe dataset has {c}×{h}×{h}",
            ae.channels,
            s = ae.image_size
        )));
    }
    let best = run.checkpoint_path("best");
    let path = if best.exists() {
        best
    } else {
        run.checkpoint_path("last")
    };
    let ckpt = Checkpoint::load(&path)?;
    let mut task = AutoencoderTask::new(&ae, cfg.lr, device);
    task.load(&ckpt, &path)?;
    Ok((task, path))
}

/// Runs the probe for every feature set and labelled subset; returns the summary with one
/// `acc_<features>_<labels>` entry per cell of the table.
pub fn run_probe(ctx: &Ctx<'_>, p: &ProbeParams, dataset: &str) -> Result<Map<String, Value>> {
    let shape = ctx
        .shape
        .ok_or_else(|| Error::Config("ae-probe needs an image dataset".into()))?;
    let mut s = Map::new();
    let device = ctx.device;
    let classes = ctx.train.labels.iter().max().map_or(1, |m| m + 1);
    let ae = autoencoder(p, dataset, ctx, &mut s)?;
    let t = Instant::now();
    let (ae_train, latent) = encode(&ae, ctx.train, shape, device);
    let (ae_test, _) = encode(&ae, ctx.test, shape, device);
    s.insert("ae_latent".into(), Value::from(latent));
    let pca = PcaConfig::new(p.pca_components)
        .fit(&ctx.train.tensor(device))
        .map_err(|e| Error::Config(e.to_string()))?;
    let proj = |r: &Rows| -> Result<Vec<f32>> {
        Ok(pca
            .transform(&r.tensor(device))
            .map_err(|e| Error::Config(e.to_string()))?
            .into_data()
            .iter::<f32>()
            .collect())
    };
    let (pca_train, pca_test) = (proj(ctx.train)?, proj(ctx.test)?);
    s.insert(
        "features_seconds".into(),
        genzoo_train::run::num(t.elapsed().as_secs_f64()),
    );
    let sets: [(&str, &[f32], &[f32], usize); 3] = [
        ("autoencoder", &ae_train, &ae_test, latent),
        ("pca", &pca_train, &pca_test, p.pca_components),
        ("pixels", &ctx.train.x, &ctx.test.x, ctx.train.d),
    ];
    let mut table = Vec::new();
    for &m in &p.label_counts {
        let subset = labelled_subset(
            &ctx.train.labels,
            m,
            classes,
            derive_seed(ctx.seed, &[m as u64]),
        );
        let labels: Vec<usize> = subset.iter().map(|&i| ctx.train.labels[i]).collect();
        let name = if m == 0 {
            "all".to_string()
        } else {
            m.to_string()
        };
        for (feat, train, test, d) in sets {
            let x: Vec<f32> = subset
                .iter()
                .flat_map(|&i| train[i * d..(i + 1) * d].iter().copied())
                .collect();
            let t = Instant::now();
            let opts = SoftmaxOptions {
                epochs: p.probe_epochs,
                min_steps: p.probe_min_steps,
                batch_size: p.probe_batch_size,
                lr: p.probe_lr,
                l2: p.probe_l2,
                seed: derive_seed(ctx.seed, &[m as u64, d as u64]),
            };
            let clf = fit_softmax(&x, d, &labels, classes, &opts, device);
            let acc = clf.accuracy(test, d, &ctx.test.labels, device);
            let secs = t.elapsed().as_secs_f64();
            tracing::info!(features = feat, labels = %name, acc, secs, "probe");
            s.insert(format!("acc_{feat}_{name}"), genzoo_train::run::num(acc));
            table.push(Value::from(vec![
                Value::from(feat),
                Value::from(subset.len()),
                genzoo_train::run::num(acc),
                genzoo_train::run::num(secs),
            ]));
        }
    }
    s.insert(
        "table_features_labels_acc_seconds".into(),
        Value::from(table),
    );
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balanced_subsets() {
        let labels: Vec<usize> = (0..1000).map(|i| (i * 7) % 10).collect();
        let s = labelled_subset(&labels, 100, 10, 1);
        assert_eq!(s.len(), 100);
        for c in 0..10 {
            assert_eq!(s.iter().filter(|&&i| labels[i] == c).count(), 10);
        }
        let all = labelled_subset(&labels, 0, 10, 1);
        let mut sorted = all.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..1000).collect::<Vec<_>>());
        assert_eq!(labelled_subset(&labels, 100, 10, 1), s);
    }

    /// Three separated classes in 2-D: the probe reaches 100 % training accuracy; with the labels
    /// shuffled it cannot (near chance, 1/3).
    #[test]
    fn softmax_separates_separable_classes() {
        let device = Device::flex();
        let mut rng = Rng::seed_from_u64(4);
        let centres = [[0.0f32, 4.0], [4.0, -2.0], [-4.0, -2.0]];
        let mut x = Vec::new();
        let mut labels = Vec::new();
        for i in 0..300 {
            let c = i % 3;
            x.extend([
                centres[c][0] + rng.normal_f32() * 0.5,
                centres[c][1] + rng.normal_f32() * 0.5,
            ]);
            labels.push(c);
        }
        let opts = SoftmaxOptions {
            epochs: 5,
            min_steps: 100,
            batch_size: 32,
            lr: 0.05,
            l2: 0.0,
            seed: 0,
        };
        let clf = fit_softmax(&x, 2, &labels, 3, &opts, &device);
        assert_eq!(clf.accuracy(&x, 2, &labels, &device), 1.0);
        // Label noise makes perfect accuracy impossible: shuffled labels stay near chance.
        let mut shuffled = labels.clone();
        rng.shuffle(&mut shuffled);
        let clf = fit_softmax(&x, 2, &shuffled, 3, &opts, &device);
        assert!(clf.accuracy(&x, 2, &shuffled, &device) < 0.6);
    }

    #[test]
    fn bad_params_are_errors() {
        let mut p = ProbeParams::preset();
        assert!(p.check().is_ok());
        p.label_counts = vec![5];
        assert!(p.check().is_err());
        let mut p = ProbeParams::preset();
        p.ae_epochs = 0;
        assert!(p.check().is_err());
    }
}
