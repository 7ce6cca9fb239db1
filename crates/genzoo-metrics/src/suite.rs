//! The sample-quality metrics as one suite ([`sample_metrics`]), the feature extractor each
//! dataset is measured with ([`feature_extractor`]), and the altered real sets that calibrate a
//! reader's sense of the numbers ([`shuffled`], [`blurred`]).

use std::path::Path;
use std::time::Instant;

use burn::tensor::{Device, Tensor};
use genzoo_datasets::rng::Rng;
use genzoo_datasets::{DatasetKind, ImageSet};
use serde_json::{Map, Value};

use crate::classifier::{
    ClassifierTraining, DomainClassifier, FeatureExtractor, LeNetConfig, Provenance, accuracy,
    extract, extract_set, to_safetensors, train_classifier,
};
use crate::error::{Error, Result};
use crate::features::Features;
use crate::frechet::frechet_distance;
use crate::inception_score::inception_score;
use crate::kid::{KidOptions, kid};
use crate::precision_recall::precision_recall;

/// The sample-quality metrics [`sample_metrics`] knows: FID, KID, Inception Score, precision and
/// recall.
pub const SAMPLE_METRICS: [&str; 4] = ["fid", "kid", "is", "pr"];

/// `x` as a JSON number (`null` for a NaN or an infinity).
pub(crate) fn num(x: f64) -> Value {
    serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
}

/// The feature extractor for images of `shape`: a user's file, else the shipped LeNet of MNIST
/// (also for the binarized MNIST) or Fashion-MNIST, else an error that says what to do.
pub fn feature_extractor(
    file: Option<&Path>,
    dataset: DatasetKind,
    shape: [usize; 3],
    device: &Device,
) -> Result<DomainClassifier> {
    if let Some(path) = file {
        return DomainClassifier::from_file(path, device);
    }
    match (dataset, shape) {
        (
            DatasetKind::Mnist | DatasetKind::MnistMini | DatasetKind::BinarizedMnist,
            [1, 28, 28],
        ) => DomainClassifier::mnist(device),
        (DatasetKind::FashionMnist, [1, 28, 28]) => DomainClassifier::fashion_mnist(device),
        _ => Err(Error::Option(format!(
            "no shipped feature extractor for {dataset} images {shape:?}: train one with \
             `genzoo classifier --dataset {dataset} --out FILE` and pass --classifier FILE"
        ))),
    }
}

/// Sample-quality metrics of `fake` against `real` features, as a flat JSON map
/// (`fid`, `kid_mean`, ..., plus `time_<metric>_s`).
pub fn sample_metrics(
    which: &[&str],
    real: &(Features, Option<Features>),
    fake: &(Features, Option<Features>),
    seed: u64,
) -> Result<Map<String, Value>> {
    let mut out = Map::new();
    for &m in which {
        let t0 = Instant::now();
        match m {
            "fid" => {
                let d = frechet_distance(&real.0, &fake.0)?;
                out.insert("fid".into(), num(d.value));
                // No more samples than feature dimensions: `eps`·I was added to both covariances.
                if let Some(eps) = d.regularized {
                    out.insert("fid_regularized_eps".into(), num(eps));
                }
            }
            "kid" => {
                let k = kid(
                    &real.0,
                    &fake.0,
                    &KidOptions {
                        seed,
                        ..KidOptions::default()
                    },
                )?;
                out.insert("kid_mean".into(), num(k.mean));
                out.insert("kid_std".into(), num(k.std));
                out.insert("kid_subsets".into(), Value::from(k.subsets));
                out.insert("kid_subset_size".into(), Value::from(k.subset_size));
            }
            "is" => {
                let probs = fake.1.as_ref().ok_or_else(|| {
                    Error::Option("the feature extractor gives no class probabilities".into())
                })?;
                let s = inception_score(probs.values(), probs.dim(), 10.min(probs.len()))?;
                out.insert("is_mean".into(), num(s.mean));
                out.insert("is_std".into(), num(s.std));
            }
            "pr" => {
                let pr = precision_recall(&real.0, &fake.0, 3)?;
                out.insert("precision".into(), num(pr.precision));
                out.insert("recall".into(), num(pr.recall));
            }
            other => return Err(Error::Option(format!("unknown metric '{other}'"))),
        }
        out.insert(format!("time_{m}_s"), num(t0.elapsed().as_secs_f64()));
    }
    Ok(out)
}

/// The sample metrics `which` of `n` generated images against `n` real ones, both given as
/// batches `(start, len) → [len, c, h, w]` in [0, 1] and read through `extractor`: the map of
/// [`sample_metrics`] plus `feature_extractor` and `n`.
pub fn compare(
    extractor: &DomainClassifier,
    n: usize,
    real: impl FnMut(usize, usize) -> Tensor<4>,
    fake: impl FnMut(usize, usize) -> Tensor<4>,
    which: &[&str],
    seed: u64,
) -> Result<Map<String, Value>> {
    let real = extract(extractor, n, real)?;
    let fake = extract(extractor, n, fake)?;
    let mut out = Map::new();
    out.insert("feature_extractor".into(), Value::from(extractor.name()));
    out.insert("n".into(), Value::from(n));
    out.extend(sample_metrics(which, &real, &fake, seed)?);
    Ok(out)
}

/// How often `extractor` recognises the class a conditional model was asked for:
/// `per_class[c]` holds images generated for class `c`. Gives `class_accuracy` (the mean over
/// classes), `class_accuracy_<c>` and `class_accuracy_per_class_n` (images of the first class).
pub fn class_accuracy(
    extractor: &DomainClassifier,
    per_class: &[Tensor<4>],
) -> Result<Map<String, Value>> {
    let mut out = Map::new();
    let mut total = 0.0;
    for (c, images) in per_class.iter().enumerate() {
        let n = images.dims()[0];
        let (_, probs) = extract(extractor, n, |s, l| images.clone().narrow(0, s, l))?;
        let probs = probs.ok_or_else(|| {
            Error::Option("the feature extractor gives no class probabilities".into())
        })?;
        let hits = (0..probs.len())
            .filter(|&i| {
                let row = probs.row(i);
                (0..row.len()).max_by(|&a, &b| row[a].total_cmp(&row[b])) == Some(c)
            })
            .count();
        let acc = hits as f64 / probs.len().max(1) as f64;
        out.insert(format!("class_accuracy_{c}"), num(acc));
        total += acc;
    }
    out.insert(
        "class_accuracy".into(),
        num(total / per_class.len().max(1) as f64),
    );
    let per = per_class.first().map_or(0, |t| t.dims()[0]);
    out.insert("class_accuracy_per_class_n".into(), Value::from(per));
    Ok(out)
}

/// The sample metrics between real sets, so readers know what the numbers mean: the first `n`
/// images of `train` against those of `test` (the floor), and `test` against its pixel-shuffled
/// and its blurred self. Rows are named after `dataset`; each map is [`sample_metrics`]' plus
/// `n`, `feature_extractor` and `time_features_per_image_s`.
pub fn calibration(
    extractor: &DomainClassifier,
    dataset: &str,
    train: &ImageSet,
    test: &ImageSet,
    n: usize,
    device: &Device,
) -> Result<Vec<(String, Map<String, Value>)>> {
    let n = n.min(test.len()).min(train.len());
    let t0 = Instant::now();
    let reference = extract_set(extractor, test, n, device)?;
    let extract_s = t0.elapsed().as_secs_f64() / n.max(1) as f64;
    let test_n = test.take(n);
    let mut rows = Vec::new();
    for (name, other) in [
        (format!("{dataset} train vs test"), train.take(n)),
        (
            format!("{dataset} test vs test, pixels shuffled"),
            shuffled(&test_n)?,
        ),
        (
            format!("{dataset} test vs test, Gaussian blur σ=1"),
            blurred(&test_n)?,
        ),
    ] {
        let f = extract_set(extractor, &other, n, device)?;
        let mut m = sample_metrics(&SAMPLE_METRICS, &reference, &f, 0)?;
        m.insert("n".into(), Value::from(n));
        m.insert("feature_extractor".into(), Value::from(extractor.name()));
        m.insert("time_features_per_image_s".into(), num(extract_s));
        rows.push((name, m));
    }
    Ok(rows)
}

/// Trains genzoo-LeNet on `train` (the architecture of the shipped extractors, sized to the
/// images), measures its accuracy on `test` and returns its safetensors file (with `command`, the
/// command that reproduces it, in the metadata) and that accuracy. `on_epoch` hears each epoch's
/// mean loss.
pub fn train_extractor(
    dataset: &str,
    train: &ImageSet,
    test: &ImageSet,
    training: &ClassifierTraining,
    command: String,
    device: &Device,
    on_epoch: impl FnMut(u64, f64),
) -> Result<(Vec<u8>, f64)> {
    let [c, h, w] = train.shape();
    if h != w {
        return Err(Error::Option(format!(
            "LeNet needs square images, got {h}×{w}"
        )));
    }
    let config = LeNetConfig::mnist().with_channels(c).with_image_size(h);
    let model = train_classifier(
        &config,
        train,
        training,
        &device.clone().autodiff(),
        on_epoch,
    );
    let model = burn::module::Module::valid(&model);
    let acc = accuracy(&model, test, device);
    let provenance = Provenance {
        dataset: dataset.into(),
        test_accuracy: acc,
        command,
    };
    Ok((to_safetensors(&model, &config, &provenance)?, acc))
}

/// Pixels of `set` shuffled within each image (a fixed seed per image).
pub fn shuffled(set: &ImageSet) -> Result<ImageSet> {
    let mut pixels = set.images().to_vec();
    let len = set.image_len();
    for (i, img) in pixels.chunks_mut(len).enumerate() {
        Rng::seed_from_u64(i as u64).shuffle(img);
    }
    ImageSet::new(pixels, set.labels().to_vec(), set.shape())
        .map_err(|e| Error::Option(e.to_string()))
}

/// `set` blurred by a separable Gaussian of σ = 1 pixel (radius 2, edges clamped).
pub fn blurred(set: &ImageSet) -> Result<ImageSet> {
    let [c, h, w] = set.shape();
    let k: Vec<f32> = (-2i32..=2).map(|d| (-(d * d) as f32 / 2.0).exp()).collect();
    let norm: f32 = k.iter().sum();
    let mut out = Vec::with_capacity(set.images().len());
    let mut tmp = vec![0.0f32; h * w];
    for i in 0..set.len() {
        for plane in set.image(i).chunks(h * w).take(c) {
            for y in 0..h {
                for x in 0..w {
                    tmp[y * w + x] = (0..5)
                        .map(|j| {
                            k[j] * f32::from(plane[y * w + (x + j).saturating_sub(2).min(w - 1)])
                        })
                        .sum::<f32>()
                        / norm;
                }
            }
            for y in 0..h {
                for x in 0..w {
                    let v: f32 = (0..5)
                        .map(|j| k[j] * tmp[(y + j).saturating_sub(2).min(h - 1) * w + x])
                        .sum::<f32>()
                        / norm;
                    out.push(v.round().clamp(0.0, 255.0) as u8);
                }
            }
        }
    }
    ImageSet::new(out, set.labels().to_vec(), set.shape()).map_err(|e| Error::Option(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blur_keeps_constant_images_and_smooths_a_point() {
        let mut pixels = vec![100u8; 2 * 25];
        pixels[25 + 12] = 255; // second image: a bright centre on a flat background
        let set = ImageSet::new(pixels, vec![0, 1], [1, 5, 5]).expect("set");
        let b = blurred(&set).expect("blur");
        assert!(b.image(0).iter().all(|&v| v == 100));
        let centre = b.image(1)[12];
        assert!(centre > 100 && centre < 255, "{centre}");
        assert!(b.image(1)[0] >= 100);
    }

    #[test]
    fn calibration_orders_real_blurred_and_shuffled_sets() {
        let device = Device::flex();
        let load = |split| {
            genzoo_datasets::load(DatasetKind::MnistMini, split, &Default::default())
                .expect("mnist-mini")
        };
        let (train, test) = (
            load(genzoo_datasets::Split::Train),
            load(genzoo_datasets::Split::Test),
        );
        let extractor = DomainClassifier::mnist(&device).expect("shipped");
        let rows =
            calibration(&extractor, "mnist-mini", &train, &test, 600, &device).expect("calibrate");
        let get = |i: usize, k: &str| rows[i].1[k].as_f64().expect(k);
        // Train vs test (two samples of one distribution) < blurred < shuffled, for FID and KID.
        assert!(
            get(0, "fid") < get(2, "fid") && get(2, "fid") < get(1, "fid"),
            "{rows:?}"
        );
        assert!(get(0, "kid_mean") < get(2, "kid_mean") && get(2, "kid_mean") < get(1, "kid_mean"));
        // Real digits are recognisable and varied; shuffled pixels are neither.
        assert!(
            get(0, "is_mean") > 7.0 && get(1, "is_mean") < 2.0,
            "{rows:?}"
        );
        // Two real samples cover each other; shuffled noise covers no digit.
        assert!(
            get(0, "precision") > 0.75 && get(0, "recall") > 0.75,
            "{rows:?}"
        );
        assert!(get(1, "recall") < 0.05);
        assert_eq!(rows[0].1["n"], Value::from(600));
    }

    #[test]
    fn class_accuracy_counts_the_classes_the_extractor_recognises() {
        let device = Device::flex();
        let test = genzoo_datasets::load(
            DatasetKind::MnistMini,
            genzoo_datasets::Split::Test,
            &Default::default(),
        )
        .expect("mnist-mini");
        let extractor = DomainClassifier::mnist(&device).expect("shipped");
        // Real test digits of classes 0 and 1 "generated" for classes 0 and 1: near-perfect; the
        // same images presented as classes 1 and 0: near zero.
        let of = |c: u8| {
            let idx: Vec<usize> = (0..test.len())
                .filter(|&i| test.label(i) == c)
                .take(40)
                .collect();
            test.batch(&idx, genzoo_datasets::Binarization::None, 0, &device)
                .images
        };
        let right = class_accuracy(&extractor, &[of(0), of(1)]).expect("acc");
        let wrong = class_accuracy(&extractor, &[of(1), of(0)]).expect("acc");
        let acc = |m: &Map<String, Value>| m["class_accuracy"].as_f64().expect("acc");
        assert!(
            acc(&right) > 0.95 && acc(&wrong) < 0.05,
            "{right:?} {wrong:?}"
        );
        assert_eq!(right["class_accuracy_per_class_n"], Value::from(40));
        assert!(right.contains_key("class_accuracy_1"));
    }

    #[test]
    fn shuffle_keeps_each_images_pixels() {
        let pixels: Vec<u8> = (0..50).collect();
        let set = ImageSet::new(pixels, vec![0, 1], [1, 5, 5]).expect("set");
        let s = shuffled(&set).expect("shuffle");
        for i in 0..2 {
            let mut a = s.image(i).to_vec();
            a.sort_unstable();
            assert_eq!(a, set.image(i));
        }
        assert_ne!(s.image(0), set.image(0));
    }
}
