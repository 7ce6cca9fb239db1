//! The sample-quality metrics as one suite ([`sample_metrics`]), the feature extractor each
//! dataset is measured with ([`feature_extractor`]), and the altered real sets that calibrate a
//! reader's sense of the numbers ([`shuffled`], [`blurred`]).

use std::path::Path;
use std::time::Instant;

use burn::tensor::Device;
use genzoo_datasets::rng::Rng;
use genzoo_datasets::{DatasetKind, ImageSet};
use serde_json::{Map, Value};

use crate::classifier::DomainClassifier;
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
fn num(x: f64) -> Value {
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
