//! The classic unsupervised fits of lecture 13 §1 (clustering, dimensionality reduction, density
//! estimation) as runs (feature `train`): each fit reads `[n, d]` rows (MNIST-like image sets
//! flattened to [0, 1], or a toy 2-D set), fits once and writes its metrics and figures into a
//! `genzoo-train` run directory.
//!
//! Figures: k-means centres as an image grid (PNG); the 2-D PCA projection of the test set coloured by
//! label (SVG) and the principal axes as images; GMM / KDE samples as image grids for image data (fitted
//! on PCA features, decoded with the inverse transform); for the toy 2-D sets, a log-density heat-map SVG
//! (GMM, KDE) and samples against data.

use std::fmt::Write as _;
use std::time::Instant;

use burn::tensor::{Device, Tensor, TensorData};
use genzoo_datasets::rng::{Rng, derive_seed};
use genzoo_datasets::{DataOptions, DatasetKind, Split, ToyKind};
use genzoo_train::svg::{self, Series};
use genzoo_train::trainer::write_figure;
use genzoo_train::{Error, Figure, Grid, Result, RunDir};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate as un;

fn cfg_err(e: impl std::fmt::Display) -> Error {
    Error::Config(e.to_string())
}

/// Points drawn from a toy 2-D distribution for training / testing.
pub const TOY_TRAIN: usize = 2000;
/// See [`TOY_TRAIN`].
pub const TOY_TEST: usize = 1000;

/// k-means parameters (`[model_config]` of `kmeans`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KMeansParams {
    /// Clusters.
    pub k: usize,
    /// k-means++ restarts.
    pub n_init: usize,
    /// Lloyd iterations per restart.
    pub max_iter: usize,
    /// Relative tolerance on the centre shift.
    pub tol: f64,
}

/// Mini-batch k-means parameters (`[model_config]` of `minibatch-kmeans`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MiniBatchParams {
    /// Clusters.
    pub k: usize,
    /// Points per step.
    pub batch_size: usize,
    /// Passes over the data.
    pub max_iter: usize,
    /// Early stop after this many steps without improvement (0: never).
    pub max_no_improvement: usize,
}

/// PCA parameters (`[model_config]` of `pca`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PcaParams {
    /// Components kept.
    pub n_components: usize,
    /// Whitened projections.
    pub whiten: bool,
    /// `"full"` or `"randomized"`.
    pub solver: String,
}

/// Gaussian-mixture parameters (`[model_config]` of `gmm`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GmmFitParams {
    /// Mixture components.
    pub n_components: usize,
    /// `"full"` or `"diag"`.
    pub covariance_type: String,
    /// Floor added to covariance diagonals.
    pub reg_covar: f64,
    /// EM iterations.
    pub max_iter: usize,
    /// Convergence threshold on the mean log-likelihood.
    pub tol: f64,
    /// Fit on this many PCA features of the data (0: on the data itself).
    pub pca_components: usize,
}

/// KDE parameters (`[model_config]` of `kde`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KdeParams {
    /// `"scott"`, `"silverman"`, `"select"` (best held-out log-density among Scott × 2^(i/2),
    /// i = −12..=2) or a number.
    pub bandwidth: String,
    /// Fit on this many PCA features of the data (0: on the data itself).
    pub pca_components: usize,
    /// Training rows kept (0: all); the KDE keeps every one and compares each query with each.
    pub max_train: usize,
}

/// The classic fits of this crate by name, as `genzoo train` knows them, with one line each.
pub const FITS: [(&str, &str); 5] = [
    (
        "kmeans",
        "k-means, k-means++ seeding, Lloyd iterations, restarts (lecture §1.1)",
    ),
    (
        "minibatch-kmeans",
        "mini-batch k-means, per-centre rate 1/count (Sculley 2010)",
    ),
    (
        "pca",
        "principal component analysis, exact or randomized (lecture §1.2)",
    ),
    (
        "gmm",
        "Gaussian mixture by EM, full/diagonal covariances (lecture §1.4)",
    ),
    (
        "kde",
        "Gaussian kernel density estimate, held-out bandwidth choice (lecture §1.4)",
    ),
];

/// One classic fit and its parameters (a run's `[model_config]`; serialized as the parameters
/// alone).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ClassicFit {
    /// `kmeans`.
    KMeans(KMeansParams),
    /// `minibatch-kmeans`.
    MiniBatch(MiniBatchParams),
    /// `pca`.
    Pca(PcaParams),
    /// `gmm`.
    Gmm(GmmFitParams),
    /// `kde`.
    Kde(KdeParams),
}

impl ClassicFit {
    /// The reference parameters of fit `model` on `data`: scikit-learn's defaults and the
    /// literature's MNIST settings for images (k = 10, PCA-50, a diagonal GMM on PCA-50), one
    /// cluster or component per mode for a toy set.
    pub fn preset(model: &str, data: ClassicData) -> Result<Self> {
        let toy = matches!(data, ClassicData::Toy(_));
        let per_mode = |images: usize| if toy { data.classes() } else { images };
        Ok(match model {
            "kmeans" => Self::KMeans(KMeansParams {
                k: per_mode(10),
                n_init: if toy { 4 } else { 1 },
                max_iter: if toy { 300 } else { 100 },
                tol: 1e-4,
            }),
            "minibatch-kmeans" => Self::MiniBatch(MiniBatchParams {
                k: per_mode(10),
                batch_size: if toy { 256 } else { 1024 },
                max_iter: 100,
                max_no_improvement: 10,
            }),
            "pca" => Self::Pca(PcaParams {
                n_components: if toy { 2 } else { 50 },
                whiten: false,
                solver: "full".into(),
            }),
            "gmm" => Self::Gmm(GmmFitParams {
                n_components: per_mode(10),
                covariance_type: if toy { "full" } else { "diag" }.into(),
                reg_covar: 1e-6,
                max_iter: 100,
                tol: 1e-3,
                pca_components: if toy { 0 } else { 50 },
            }),
            "kde" => Self::Kde(KdeParams {
                bandwidth: "select".into(),
                pca_components: if toy { 0 } else { 50 },
                max_train: if toy { 0 } else { 20_000 },
            }),
            other => return Err(not_a_fit(other)),
        })
    }

    /// Fit `model` with the parameters in `params` (a run's `[model_config]`), checked: unknown
    /// keys, wrong types and unknown string choices (solver, covariance, bandwidth) are errors.
    pub fn parse<'de, D: serde::Deserializer<'de>>(model: &str, params: D) -> Result<Self> {
        fn de<'de, T: Deserialize<'de>, D: serde::Deserializer<'de>>(
            model: &str,
            d: D,
        ) -> Result<T> {
            T::deserialize(d)
                .map_err(|e| Error::Config(format!("[model_config] of '{model}': {e}")))
        }
        let fit = match model {
            "kmeans" => Self::KMeans(de(model, params)?),
            "minibatch-kmeans" => Self::MiniBatch(de(model, params)?),
            "pca" => Self::Pca(de(model, params)?),
            "gmm" => Self::Gmm(de(model, params)?),
            "kde" => Self::Kde(de(model, params)?),
            other => return Err(not_a_fit(other)),
        };
        match &fit {
            Self::Pca(p) => {
                solver(&p.solver)?;
            }
            Self::Gmm(p) => {
                covariance(&p.covariance_type)?;
            }
            Self::Kde(p) => {
                bandwidth_rule(&p.bandwidth)?;
            }
            Self::KMeans(_) | Self::MiniBatch(_) => {}
        }
        Ok(fit)
    }

    /// Checks the sizes against `n` training rows of dimension `d`, before anything is written:
    /// clusters and components between 1 and what the data has.
    pub fn check_rows(&self, n: usize, d: usize) -> Result<()> {
        let within = |what: &str, value: usize, max: usize, of: &str| {
            if value == 0 || value > max {
                Err(Error::Config(format!(
                    "{what} = {value} must be between 1 and {max} ({of})"
                )))
            } else {
                Ok(())
            }
        };
        let rows = format!("the {n} training rows");
        // 0 = no PCA step.
        let optional_pca = |k: usize| match k {
            0 => Ok(()),
            k => within("pca_components", k, n.min(d), "rows and dimensions"),
        };
        match self {
            Self::KMeans(p) => within("k (--k)", p.k, n, &rows),
            Self::MiniBatch(p) => {
                within("k (--k)", p.k, n, &rows)?;
                within("batch_size", p.batch_size, n, &rows)
            }
            Self::Pca(p) => within(
                "n_components (--k)",
                p.n_components,
                n.min(d),
                &format!("the smaller of {n} rows and {d} dimensions"),
            ),
            Self::Gmm(p) => {
                within("n_components (--k)", p.n_components, n, &rows)?;
                optional_pca(p.pca_components)
            }
            Self::Kde(p) => optional_pca(p.pca_components),
        }
    }

    /// The name of the parameter `--k` sets (k-means' `k`, PCA's and the GMM's `n_components`);
    /// `None` for the KDE.
    pub fn k_key(&self) -> Option<&'static str> {
        match self {
            Self::KMeans(_) | Self::MiniBatch(_) => Some("k"),
            Self::Pca(_) | Self::Gmm(_) => Some("n_components"),
            Self::Kde(_) => None,
        }
    }

    /// Fits and writes the run's metrics and figures; returns the summary.
    pub fn run(&self, ctx: &Ctx<'_>) -> Result<Map<String, Value>> {
        match self {
            Self::KMeans(p) => fit_kmeans(ctx, p),
            Self::MiniBatch(p) => fit_minibatch(ctx, p),
            Self::Pca(p) => fit_pca(ctx, p),
            Self::Gmm(p) => fit_gmm(ctx, p),
            Self::Kde(p) => fit_kde(ctx, p),
        }
    }
}

fn not_a_fit(model: &str) -> Error {
    Error::Config(format!(
        "'{model}' is not a classic fit; known: {}",
        FITS.map(|(name, _)| name).join(", ")
    ))
}

/// Either an image set or a toy 2-D distribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClassicData {
    /// MNIST-like images, flattened.
    Images(DatasetKind),
    /// A toy 2-D set.
    Toy(ToyKind),
}

impl std::str::FromStr for ClassicData {
    type Err = Error;

    /// Parses `toy-…` names as toy sets, anything else as an image dataset.
    fn from_str(name: &str) -> Result<Self> {
        if name.starts_with("toy-") {
            Ok(Self::Toy(name.parse().map_err(cfg_err)?))
        } else {
            Ok(Self::Images(name.parse()?))
        }
    }
}

impl std::fmt::Display for ClassicData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Images(kind) => kind.fmt(f),
            Self::Toy(kind) => kind.fmt(f),
        }
    }
}

impl ClassicData {
    /// Parses `toy-…` names as toy sets, anything else as an image dataset.
    pub fn parse(name: &str) -> Result<Self> {
        name.parse()
    }

    /// Classes of the data (mixture components of a toy set).
    pub fn classes(self) -> usize {
        match self {
            Self::Images(k) => k.classes(),
            Self::Toy(t) => t.modes().map_or(10, |m| m.len()),
        }
    }
}

/// Rows of a data matrix with their labels.
#[derive(Debug, Clone)]
pub struct Rows {
    /// `[n, d]` row-major.
    pub x: Vec<f32>,
    /// Rows.
    pub n: usize,
    /// Columns.
    pub d: usize,
    /// Class (image label or toy mixture component) of each row.
    pub labels: Vec<usize>,
}

impl Rows {
    /// The rows as a tensor.
    pub fn tensor(&self, device: &Device) -> Tensor<2> {
        Tensor::from_data(TensorData::new(self.x.clone(), [self.n, self.d]), device)
    }

    /// The first `m` rows (all when `m` is 0 or too large).
    pub fn head(&self, m: usize) -> Rows {
        let m = if m == 0 { self.n } else { m.min(self.n) };
        Rows {
            x: self.x[..m * self.d].to_vec(),
            n: m,
            d: self.d,
            labels: self.labels[..m].to_vec(),
        }
    }

    /// Pixels of an image set in [0, 1], one image per row.
    pub fn from_images(set: &genzoo_datasets::ImageSet) -> Rows {
        Rows {
            x: set.images().iter().map(|&p| f32::from(p) / 255.0).collect(),
            n: set.len(),
            d: set.image_len(),
            labels: set.labels().iter().map(|&l| usize::from(l)).collect(),
        }
    }
}

/// Train and test rows of a dataset, and the image shape for image data.
pub fn load_rows(
    data: ClassicData,
    opts: &DataOptions,
    seed: u64,
) -> Result<(Rows, Rows, Option<[usize; 3]>)> {
    match data {
        ClassicData::Images(kind) => {
            let train = genzoo_datasets::load(kind, Split::Train, opts)?;
            let test = genzoo_datasets::load(kind, Split::Test, opts)?;
            Ok((
                Rows::from_images(&train),
                Rows::from_images(&test),
                Some(kind.shape()),
            ))
        }
        ClassicData::Toy(kind) => {
            let draw = |n: usize, part: u64| {
                let s = kind.sample(n, &mut Rng::seed_from_u64(derive_seed(seed, &[part])));
                Rows {
                    x: s.points.iter().flatten().copied().collect(),
                    n,
                    d: 2,
                    labels: s.labels.iter().map(|&l| l as usize).collect(),
                }
            };
            Ok((draw(TOY_TRAIN, 1), draw(TOY_TEST, 2), None))
        }
    }
}

fn floats(t: Tensor<2>) -> Vec<f32> {
    t.into_data().iter::<f32>().collect()
}

/// The PCA solver named by `[model_config] solver`.
pub fn solver(s: &str) -> Result<un::PcaSolver> {
    match s {
        "full" => Ok(un::PcaSolver::Full),
        "randomized" => Ok(un::PcaSolver::Randomized),
        o => Err(Error::Config(format!(
            "[model_config] solver must be \"full\" or \"randomized\", found \"{o}\""
        ))),
    }
}

/// The covariance type named by `[model_config] covariance_type`.
pub fn covariance(s: &str) -> Result<un::CovarianceType> {
    match s {
        "full" => Ok(un::CovarianceType::Full),
        "diag" => Ok(un::CovarianceType::Diag),
        o => Err(Error::Config(format!(
            "[model_config] covariance_type must be \"full\" or \"diag\", found \"{o}\""
        ))),
    }
}

/// The bandwidth rule of a KDE; `None` for `"select"`.
pub fn bandwidth_rule(s: &str) -> Result<Option<un::Bandwidth>> {
    match s {
        "select" => Ok(None),
        "scott" => Ok(Some(un::Bandwidth::Scott)),
        "silverman" => Ok(Some(un::Bandwidth::Silverman)),
        o => match o.parse::<f64>() {
            Ok(h) if h.is_finite() && h > 0.0 => Ok(Some(un::Bandwidth::Given(h))),
            _ => Err(Error::Config(format!(
                "[model_config] bandwidth must be \"scott\", \"silverman\", \"select\" or a positive number, found \"{o}\""
            ))),
        },
    }
}

/// What every fit needs.
pub struct Ctx<'a> {
    /// The run directory.
    pub run: &'a RunDir,
    /// Device of the tensor products.
    pub device: &'a Device,
    /// Seed of the run.
    pub seed: u64,
    /// `[c, h, w]` for image data.
    pub shape: Option<[usize; 3]>,
    /// Training rows.
    pub train: &'a Rows,
    /// Test rows.
    pub test: &'a Rows,
    /// Whether the rows carry real labels (`binarized-mnist` has none: no label-based metric).
    pub labelled: bool,
    /// Where the dataset files are.
    pub data_opts: &'a DataOptions,
}

fn num(v: f64) -> Value {
    genzoo_train::run::num(v)
}

fn lib(e: un::Error) -> Error {
    Error::Config(e.to_string())
}

/// An image grid of `[n, c·h·w]` rows, clamped to [0, 1].
pub fn grid(rows: &[f32], n: usize, shape: [usize; 3], cols: usize) -> Grid {
    let [c, h, w] = shape;
    Grid {
        images: rows[..n * c * h * w]
            .iter()
            .map(|v| v.clamp(0.0, 1.0))
            .collect(),
        n,
        channels: c,
        height: h,
        width: w,
        cols: cols.min(n).max(1),
    }
}

/// Accuracy of "each cluster predicts the majority training label of its members" on the test rows.
pub fn cluster_accuracy(
    train_clusters: &[usize],
    train_labels: &[usize],
    test_clusters: &[usize],
    test_labels: &[usize],
    k: usize,
    classes: usize,
) -> f64 {
    let mut counts = vec![0usize; k * classes];
    for (&c, &l) in train_clusters.iter().zip(train_labels) {
        if l < classes {
            counts[c * classes + l] += 1;
        }
    }
    let majority: Vec<usize> = (0..k)
        .map(|c| {
            (0..classes)
                .max_by_key(|&l| (counts[c * classes + l], std::cmp::Reverse(l)))
                .unwrap_or(0)
        })
        .collect();
    let hits = test_clusters
        .iter()
        .zip(test_labels)
        .filter(|(c, l)| majority[**c] == **l)
        .count();
    hits as f64 / test_labels.len().max(1) as f64
}

fn kmeans_outputs(ctx: &Ctx<'_>, fit: &un::KMeans, seconds: f64) -> Result<Map<String, Value>> {
    let x_test = ctx.test.tensor(ctx.device);
    let test_clusters = fit.predict(&x_test).map_err(lib)?;
    let test_inertia = fit.score_inertia(&x_test).map_err(lib)?;
    let classes = ctx.train.labels.iter().max().map_or(1, |m| m + 1);
    let mut s = Map::new();
    s.insert("fit_seconds".into(), num(seconds));
    s.insert("k".into(), Value::from(fit.k()));
    s.insert("inertia".into(), num(fit.inertia()));
    s.insert(
        "inertia_per_sample".into(),
        num(fit.inertia() / ctx.train.n as f64),
    );
    s.insert(
        "test_inertia_per_sample".into(),
        num(test_inertia / ctx.test.n as f64),
    );
    s.insert("n_iter".into(), Value::from(fit.n_iter()));
    s.insert("converged".into(), Value::from(fit.converged()));
    if ctx.labelled {
        s.insert(
            "test_cluster_accuracy".into(),
            num(cluster_accuracy(
                fit.labels(),
                &ctx.train.labels,
                &test_clusters,
                &ctx.test.labels,
                fit.k(),
                classes,
            )),
        );
    }
    let centers: Vec<f32> = fit.centers().iter().map(|&v| v as f32).collect();
    match ctx.shape {
        Some(shape) => {
            let g = grid(&centers, fit.k(), shape, 10);
            write_figure(ctx.run, "centres", &Figure::Grid(g))?;
        }
        None => {
            let pts = pairs(&ctx.train.x);
            let mut groups = svg::group_by_label(&pts, fit.labels());
            groups.push(Series::new("centres", pairs(&centers)));
            let svg = svg::scatter("k-means clusters and centres", "x₁", &groups);
            write_figure(ctx.run, "clusters", &Figure::Svg(svg))?;
        }
    }
    Ok(s)
}

fn pairs(x: &[f32]) -> Vec<(f64, f64)> {
    x.chunks(2)
        .map(|p| (f64::from(p[0]), f64::from(p[1])))
        .collect()
}

/// `fit` applied to the training rows (a tensor on the run's device), and the seconds it took.
fn fit_timed<T>(ctx: &Ctx<'_>, fit: impl FnOnce(&Tensor<2>) -> un::Result<T>) -> Result<(T, f64)> {
    let x = ctx.train.tensor(ctx.device);
    let t = Instant::now();
    let fitted = fit(&x).map_err(lib)?;
    Ok((fitted, t.elapsed().as_secs_f64()))
}

/// k-means: centres, inertia, test cluster accuracy (labelled data), the centres as images or
/// the clusters of a toy set.
pub fn fit_kmeans(ctx: &Ctx<'_>, p: &KMeansParams) -> Result<Map<String, Value>> {
    let (fit, seconds) = fit_timed(ctx, |x| {
        un::KMeansConfig::new(p.k)
            .with_n_init(p.n_init)
            .with_max_iter(p.max_iter)
            .with_tol(p.tol)
            .with_seed(ctx.seed)
            .fit(x)
    })?;
    kmeans_outputs(ctx, &fit, seconds)
}

/// Mini-batch k-means: as [`fit_kmeans`], with its fit time.
pub fn fit_minibatch(ctx: &Ctx<'_>, p: &MiniBatchParams) -> Result<Map<String, Value>> {
    let (fit, seconds) = fit_timed(ctx, |x| {
        un::MiniBatchKMeansConfig::new(p.k)
            .with_batch_size(p.batch_size)
            .with_max_iter(p.max_iter)
            .with_max_no_improvement(p.max_no_improvement)
            .with_seed(ctx.seed)
            .fit(x)
    })?;
    let mut s = kmeans_outputs(ctx, &fit, seconds)?;
    s.insert("steps".into(), Value::from(fit.n_iter()));
    Ok(s)
}

/// PCA: explained variance, reconstruction error, the 2-D projection of the test set and the
/// principal axes as images.
pub fn fit_pca(ctx: &Ctx<'_>, p: &PcaParams) -> Result<Map<String, Value>> {
    let solver = solver(&p.solver)?;
    let (pca, seconds) = fit_timed(ctx, |x| {
        un::PcaConfig::new(p.n_components)
            .with_whiten(p.whiten)
            .with_solver(solver)
            .with_seed(ctx.seed)
            .fit(x)
    })?;
    let x_test = ctx.test.tensor(ctx.device);
    let z = pca.transform(&x_test).map_err(lib)?;
    let back = floats(pca.inverse_transform(&z).map_err(lib)?);
    let mse = back
        .iter()
        .zip(&ctx.test.x)
        .map(|(a, b)| f64::from(a - b).powi(2))
        .sum::<f64>()
        / (ctx.test.n * ctx.test.d) as f64;
    let ratios = pca.explained_variance_ratio();
    let mut s = Map::new();
    s.insert("fit_seconds".into(), num(seconds));
    s.insert("n_components".into(), Value::from(pca.n_components()));
    s.insert(
        "explained_variance".into(),
        num(pca.explained_variance().iter().sum()),
    );
    s.insert("total_variance".into(), num(pca.total_variance()));
    s.insert(
        "explained_variance_ratio".into(),
        num(ratios.iter().sum::<f64>()),
    );
    s.insert(
        "explained_variance_ratio_first".into(),
        Value::from(ratios.iter().take(10).map(|&r| num(r)).collect::<Vec<_>>()),
    );
    s.insert("test_reconstruction_mse".into(), num(mse));
    // 2-D scatter of the test set (first two components), coloured by label; at most 2,000 points.
    let zs = floats(z);
    let k = pca.n_components();
    let shown = ctx.test.n.min(2000);
    if k >= 2 {
        let pts: Vec<(f64, f64)> = (0..shown)
            .map(|i| (f64::from(zs[i * k]), f64::from(zs[i * k + 1])))
            .collect();
        let groups = svg::group_by_label(&pts, &ctx.test.labels[..shown]);
        let svg = svg::scatter(
            "test set on the first two principal components",
            "component 1",
            &groups,
        );
        write_figure(ctx.run, "pca-scatter", &Figure::Svg(svg))?;
    }
    if let Some(shape) = ctx.shape {
        // Principal axes as images, each rescaled to [0, 1] (0.5 = zero).
        let d = ctx.train.d;
        let n = k.min(20);
        let mut axes = Vec::with_capacity(n * d);
        for c in 0..n {
            let row = &pca.components()[c * d..(c + 1) * d];
            let m = row.iter().fold(1e-12f64, |m, v| m.max(v.abs()));
            axes.extend(row.iter().map(|v| (0.5 + 0.5 * v / m) as f32));
        }
        write_figure(
            ctx.run,
            "components",
            &Figure::Grid(grid(&axes, n, shape, 10)),
        )?;
        // Test images (odd rows) above their reconstructions (even rows).
        let mut both = Vec::new();
        for r in 0..2 {
            let rows = r * 10..(r + 1) * 10;
            both.extend_from_slice(&ctx.test.x[rows.start * d..rows.end * d]);
            both.extend_from_slice(&back[rows.start * d..rows.end * d]);
        }
        write_figure(
            ctx.run,
            "reconstructions",
            &Figure::Grid(grid(&both, 40, shape, 10)),
        )?;
    }
    Ok(s)
}

/// Fits PCA features for a density model (or returns the data as they are for `components == 0`).
fn features(x: &Tensor<2>, components: usize) -> Result<Option<un::Pca>> {
    if components == 0 {
        return Ok(None);
    }
    let pca = un::PcaConfig::new(components).fit(x).map_err(lib)?;
    Ok(Some(pca))
}

fn project(pca: Option<&un::Pca>, x: Tensor<2>) -> Result<Tensor<2>> {
    match pca {
        Some(p) => p.transform(&x).map_err(lib),
        None => Ok(x),
    }
}

/// Samples (in feature space) back to image rows through the inverse PCA, as a grid figure.
fn sample_figure(
    ctx: &Ctx<'_>,
    name: &str,
    pca: Option<&un::Pca>,
    samples: Tensor<2>,
    n: usize,
) -> Result<()> {
    match (ctx.shape, pca) {
        (Some(shape), Some(p)) => {
            let rows = floats(p.inverse_transform(&samples).map_err(lib)?);
            write_figure(ctx.run, name, &Figure::Grid(grid(&rows, n, shape, 8)))
        }
        (Some(shape), None) => {
            let rows = floats(samples);
            write_figure(ctx.run, name, &Figure::Grid(grid(&rows, n, shape, 8)))
        }
        (None, _) => {
            let groups = vec![
                Series::new("data", pairs(&ctx.test.x)),
                Series::new("samples", pairs(&floats(samples))),
            ];
            let svg = svg::scatter(&format!("{name}: test data and samples"), "x₁", &groups);
            write_figure(ctx.run, name, &Figure::Svg(svg))
        }
    }
}

/// Gaussian mixture by EM (on PCA features of image data): test log-likelihood, BIC, samples, and
/// the log-density of a toy set.
pub fn fit_gmm(ctx: &Ctx<'_>, p: &GmmFitParams) -> Result<Map<String, Value>> {
    let x = ctx.train.tensor(ctx.device);
    let t = Instant::now();
    let pca = features(&x, p.pca_components)?;
    let pca_seconds = t.elapsed().as_secs_f64();
    let f = project(pca.as_ref(), x)?;
    let t = Instant::now();
    let gmm = un::GaussianMixtureConfig::new(p.n_components)
        .with_covariance_type(covariance(&p.covariance_type)?)
        .with_reg_covar(p.reg_covar)
        .with_max_iter(p.max_iter)
        .with_tol(p.tol)
        .with_seed(ctx.seed)
        .fit(&f)
        .map_err(lib)?;
    let seconds = t.elapsed().as_secs_f64();
    let f_test = project(pca.as_ref(), ctx.test.tensor(ctx.device))?;
    let mut s = Map::new();
    s.insert("fit_seconds".into(), num(seconds));
    if pca.is_some() {
        s.insert("pca_seconds".into(), num(pca_seconds));
        s.insert(
            "features".into(),
            Value::from(format!("pca-{}", p.pca_components)),
        );
    }
    s.insert(
        "train_log_likelihood".into(),
        num(gmm.score(&f).map_err(lib)?),
    );
    s.insert(
        "test_log_likelihood".into(),
        num(gmm.score(&f_test).map_err(lib)?),
    );
    s.insert("bic".into(), num(gmm.bic(&f).map_err(lib)?));
    s.insert("n_iter".into(), Value::from(gmm.n_iter()));
    s.insert("converged".into(), Value::from(gmm.converged()));
    let (samples, _) = gmm.sample(64, derive_seed(ctx.seed, &[7]), ctx.device);
    sample_figure(ctx, "samples", pca.as_ref(), samples, 64)?;
    if ctx.shape.is_some() {
        let k = p.n_components;
        let d = gmm.params().means.len() / k;
        let means: Vec<f32> = gmm.params().means.iter().map(|&v| v as f32).collect();
        let means = Tensor::from_data(TensorData::new(means, [k, d]), ctx.device);
        sample_figure(ctx, "means", pca.as_ref(), means, k)?;
    } else {
        let svg = heatmap(ctx, "GMM log-density", |q| {
            gmm.score_samples(q).map_err(lib)
        })?;
        write_figure(ctx.run, "density", &Figure::Svg(svg))?;
    }
    Ok(s)
}

/// Scott × 2^(i/2), i = −12..=2: the bandwidths `"select"` tries.
pub fn bandwidth_candidates(scott: f64) -> Vec<f64> {
    (-12..=2)
        .map(|i| scott * 2f64.powf(f64::from(i) / 2.0))
        .collect()
}

/// Gaussian KDE (on PCA features of image data), its bandwidth picked on held-out rows: test
/// log-density, samples, and the log-density of a toy set.
pub fn fit_kde(ctx: &Ctx<'_>, p: &KdeParams) -> Result<Map<String, Value>> {
    let train = ctx.train.head(p.max_train);
    let x = train.tensor(ctx.device);
    let t = Instant::now();
    let pca = features(&x, p.pca_components)?;
    let f = project(pca.as_ref(), x)?;
    let [n, dim] = f.dims();
    let mut s = Map::new();
    let rule = bandwidth_rule(&p.bandwidth)?;
    let bandwidth = match rule {
        Some(b) => b,
        None => {
            // Hold out a fifth of the training rows (at most 2,000) and keep the bandwidth with the best
            // held-out mean log-density.
            let held = (n / 5).clamp(1, 2000);
            if n < 2 * held {
                return Err(Error::Config(format!(
                    "bandwidth \"select\" needs at least 2 training rows, found {n}"
                )));
            }
            let fit_part = f.clone().slice([0..n - held, 0..dim]);
            let val = f.clone().slice([n - held..n, 0..dim]);
            let scott = ((n - held) as f64).powf(-1.0 / (dim as f64 + 4.0));
            let mut best = (f64::NEG_INFINITY, scott);
            let mut tried = Vec::new();
            for h in bandwidth_candidates(scott) {
                let kde = un::KernelDensityConfig::new()
                    .with_bandwidth(un::Bandwidth::Given(h))
                    .fit(&fit_part)
                    .map_err(lib)?;
                let score = kde.score(&val).map_err(lib)?;
                tried.push(Value::from(vec![num(h), num(score)]));
                if score > best.0 {
                    best = (score, h);
                }
            }
            s.insert("bandwidth_search".into(), Value::from(tried));
            un::Bandwidth::Given(best.1)
        }
    };
    let kde = un::KernelDensityConfig::new()
        .with_bandwidth(bandwidth)
        .fit(&f)
        .map_err(lib)?;
    let fit_seconds = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let f_test = project(pca.as_ref(), ctx.test.tensor(ctx.device))?;
    let test_ll = kde.score(&f_test).map_err(lib)?;
    s.insert("fit_seconds".into(), num(fit_seconds));
    s.insert("test_eval_seconds".into(), num(t.elapsed().as_secs_f64()));
    s.insert("bandwidth".into(), num(kde.bandwidth()));
    s.insert("kde_points".into(), Value::from(n));
    if pca.is_some() {
        s.insert(
            "features".into(),
            Value::from(format!("pca-{}", p.pca_components)),
        );
    }
    s.insert("test_log_density".into(), num(test_ll));
    let samples = kde.sample(64, derive_seed(ctx.seed, &[8]), ctx.device);
    sample_figure(ctx, "samples", pca.as_ref(), samples, 64)?;
    if ctx.shape.is_none() {
        let svg = heatmap(ctx, "KDE log-density", |q| kde.log_density(q).map_err(lib))?;
        write_figure(ctx.run, "density", &Figure::Svg(svg))?;
    }
    Ok(s)
}

/// Cells per side of the density heat-map.
const HEAT_CELLS: usize = 90;

/// A log-density heat-map of a 2-D model over the padded range of the training data, with the
/// test points on top; colours span the 10 nats below the maximum (viridis).
fn heatmap(
    ctx: &Ctx<'_>,
    title: &str,
    log_density: impl Fn(&Tensor<2>) -> Result<Vec<f64>>,
) -> Result<String> {
    let pts = pairs(&ctx.train.x);
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in &pts {
        (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
    }
    let pad = 0.1 * (x1 - x0).max(y1 - y0).max(1e-6);
    let (x0, x1, y0, y1) = (x0 - pad, x1 + pad, y0 - pad, y1 + pad);
    let g = HEAT_CELLS;
    let mut q = Vec::with_capacity(g * g * 2);
    for r in 0..g {
        for c in 0..g {
            let x = x0 + (c as f64 + 0.5) / g as f64 * (x1 - x0);
            let y = y1 - (r as f64 + 0.5) / g as f64 * (y1 - y0);
            q.extend([x as f32, y as f32]);
        }
    }
    let qt = Tensor::from_data(TensorData::new(q, [g * g, 2]), ctx.device);
    let ld = log_density(&qt)?;
    Ok(heatmap_svg(
        title,
        &ld,
        g,
        [x0, x1, y0, y1],
        &pairs(&ctx.test.x),
    ))
}

/// Viridis colour of `t` in [0, 1] (five stops, linear between them).
fn viridis(t: f64) -> String {
    const STOPS: [[f64; 3]; 5] = [
        [68.0, 1.0, 84.0],
        [59.0, 82.0, 139.0],
        [33.0, 145.0, 140.0],
        [94.0, 201.0, 98.0],
        [253.0, 231.0, 37.0],
    ];
    let t = t.clamp(0.0, 1.0) * 4.0;
    let i = (t.floor() as usize).min(3);
    let f = t - i as f64;
    let c: Vec<u8> = (0..3)
        .map(|j| (STOPS[i][j] + f * (STOPS[i + 1][j] - STOPS[i][j])).round() as u8)
        .collect();
    format!("#{:02x}{:02x}{:02x}", c[0], c[1], c[2])
}

/// The SVG of a `g × g` log-density grid (row 0 at the top) over `[x0, x1, y0, y1]`, with `points`.
pub fn heatmap_svg(
    title: &str,
    log_density: &[f64],
    g: usize,
    [x0, x1, y0, y1]: [f64; 4],
    points: &[(f64, f64)],
) -> String {
    const SIZE: f64 = 540.0;
    const LEFT: f64 = 60.0;
    const TOP: f64 = 40.0;
    const RANGE: f64 = 10.0;
    let max = log_density
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold(f64::NEG_INFINITY, f64::max);
    let cell = SIZE / g as f64;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"sans-serif\" font-size=\"12\">\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\
         <text x=\"{tx}\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">{t}</text>",
        w = LEFT + SIZE + 110.0,
        h = TOP + SIZE + 40.0,
        tx = LEFT + SIZE / 2.0,
        t = svg::escape_xml(title),
    );
    for (i, v) in log_density.iter().enumerate() {
        let (r, c) = (i / g, i % g);
        let t = if v.is_finite() {
            1.0 - (max - v) / RANGE
        } else {
            0.0
        };
        let _ = write!(
            s,
            "<rect x=\"{:.2}\" y=\"{:.2}\" width=\"{:.2}\" height=\"{:.2}\" fill=\"{}\"/>",
            LEFT + c as f64 * cell,
            TOP + r as f64 * cell,
            cell + 0.3,
            cell + 0.3,
            viridis(t)
        );
    }
    for &(x, y) in points.iter().take(1000) {
        let px = LEFT + (x - x0) / (x1 - x0) * SIZE;
        let py = TOP + (y1 - y) / (y1 - y0) * SIZE;
        let _ = write!(
            s,
            "<circle cx=\"{px:.1}\" cy=\"{py:.1}\" r=\"1.3\" fill=\"white\" fill-opacity=\"0.6\"/>"
        );
    }
    let _ = write!(
        s,
        "<text x=\"{LEFT}\" y=\"{yb}\">x₁ from {x0:.2} to {x1:.2}; x₂ from {y0:.2} to {y1:.2}; dots: test points</text>",
        yb = TOP + SIZE + 25.0
    );
    // Colour bar.
    for i in 0..50 {
        let t = 1.0 - i as f64 / 49.0;
        let _ = write!(
            s,
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"20\" height=\"{h:.2}\" fill=\"{c}\"/>",
            x = LEFT + SIZE + 20.0,
            y = TOP + i as f64 * SIZE / 50.0,
            h = SIZE / 50.0 + 0.3,
            c = viridis(t)
        );
    }
    let _ = write!(
        s,
        "<text x=\"{x}\" y=\"{y0}\">{max:.2}</text><text x=\"{x}\" y=\"{y1}\">{low:.2}</text>\
         <text x=\"{x}\" y=\"{ym}\">log p</text></svg>",
        x = LEFT + SIZE + 45.0,
        y0 = TOP + 10.0,
        y1 = TOP + SIZE,
        ym = TOP + SIZE / 2.0,
        low = max - RANGE,
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_accuracy_by_majority() {
        // Cluster 0 holds labels {1, 1, 2} → predicts 1; cluster 1 holds {0} → predicts 0.
        let acc = cluster_accuracy(
            &[0, 0, 0, 1],
            &[1, 1, 2, 0],
            &[0, 1, 0, 1],
            &[1, 0, 2, 1],
            2,
            3,
        );
        assert!((acc - 0.5).abs() < 1e-12);
    }

    #[test]
    fn bandwidth_rules_parse_and_reject() {
        assert_eq!(bandwidth_rule("select").expect("select"), None);
        assert_eq!(
            bandwidth_rule("0.25").expect("number"),
            Some(un::Bandwidth::Given(0.25))
        );
        assert!(bandwidth_rule("-1").is_err() && bandwidth_rule("wide").is_err());
        let c = bandwidth_candidates(1.0);
        assert_eq!(c.len(), 15);
        assert!((c[0] - 1.0 / 64.0).abs() < 1e-12 && (c[14] - 2.0).abs() < 1e-12);
    }

    #[test]
    fn viridis_ends() {
        assert_eq!(viridis(0.0), "#440154");
        assert_eq!(viridis(1.0), "#fde725");
        assert_eq!(viridis(7.0), "#fde725");
    }
}
