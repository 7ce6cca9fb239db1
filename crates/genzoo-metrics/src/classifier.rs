//! genzoo's domain classifiers: LeNet-style CNNs (LeCun et al. 1998, "Gradient-Based Learning
//! Applied to Document Recognition") trained by this project, whose penultimate layer is the feature
//! space of genzoo's FID/KID/precision-recall on MNIST-like data and whose softmax feeds the
//! Inception-style score.
//!
//! Inception-v3 (the network of "real" FID) was trained on ImageNet photographs; on 28×28 digits its
//! features say little, and its weights cannot be shipped or fetched here. A small classifier trained
//! on the domain itself is the usual substitute (e.g. the "MNIST FID" of many GAN papers). Numbers
//! computed with it are named for it — "FID (genzoo-LeNet-MNIST, penultimate layer)" — and are never
//! comparable with Inception FID.
//!
//! Weights travel as safetensors, with the config and training provenance in the metadata; the
//! weights shipped inside this crate are checked against their SHA-256 when loaded.

use std::collections::HashMap;

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::loss::CrossEntropyLoss;
use burn::nn::{Linear, LinearConfig};
use burn::optim::GradientsParams;
use burn::tensor::activation::{relu, softmax};
use burn::tensor::{Device, Tensor, TensorData};
use genzoo_datasets::{Binarization, ImageSet, epoch_order};
use genzoo_layers::adam::AdamConfig;
use genzoo_layers::{RoutedForward, max_pool2x2};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::features::Features;

/// Images per forward pass when extracting features or measuring accuracy.
pub const EVAL_BATCH: usize = 500;

/// Configuration of [`LeNet`]: conv 5×5 → ReLU → max-pool 2 → conv 5×5 → ReLU → max-pool 2 →
/// linear → ReLU (the feature layer) → linear to the class logits. No padding, so a 28×28 input
/// leaves 4×4 maps.
#[derive(Config, Debug, PartialEq)]
pub struct LeNetConfig {
    /// Image channels.
    #[config(default = 1)]
    pub channels: usize,
    /// Image height and width.
    #[config(default = 28)]
    pub image_size: usize,
    /// Channels of the two convolutions.
    #[config(default = "[32, 64]")]
    pub conv: [usize; 2],
    /// Width of the penultimate (feature) layer.
    #[config(default = 128)]
    pub hidden: usize,
    /// Number of classes.
    #[config(default = 10)]
    pub classes: usize,
}

impl LeNetConfig {
    /// The MNIST / Fashion-MNIST classifier: 1×28×28 → 32 → 64 → 128 features → 10 classes
    /// (184,586 parameters).
    pub fn mnist() -> Self {
        Self::new()
    }

    /// Side of the maps after the second pooling, if the image is large enough.
    fn final_side(&self) -> Option<usize> {
        let s = self.image_size.checked_sub(4)? / 2;
        let s = s.checked_sub(4)? / 2;
        (s > 0).then_some(s)
    }

    /// Builds the network with fresh weights.
    ///
    /// # Panics
    /// If the image is smaller than 16×16 (two 5×5 convolutions and poolings need it).
    pub fn init(&self, device: &Device) -> LeNet {
        let side = self.final_side().unwrap_or_else(|| {
            panic!(
                "LeNet needs images of at least 16×16, got {}",
                self.image_size
            )
        });
        let [c1, c2] = self.conv;
        LeNet {
            conv1: Conv2dConfig::new([self.channels, c1], [5, 5]).init(device),
            conv2: Conv2dConfig::new([c1, c2], [5, 5]).init(device),
            fc1: LinearConfig::new(c2 * side * side, self.hidden).init(device),
            fc2: LinearConfig::new(self.hidden, self.classes).init(device),
        }
    }
}

/// A LeNet-style classifier; see [`LeNetConfig`].
#[derive(Module, Debug)]
pub struct LeNet {
    conv1: Conv2d,
    conv2: Conv2d,
    fc1: Linear,
    fc2: Linear,
}

impl LeNet {
    /// The penultimate-layer features (after the ReLU).
    ///
    /// # Shapes
    /// `images`: `[N, C, H, W]` in [0, 1] → `[N, hidden]`.
    pub fn features(&self, images: Tensor<4>) -> Tensor<2> {
        let x = images * 2.0 - 1.0;
        let x = max_pool2x2(relu(self.conv1.forward_routed(x))); // [N, 32, 12, 12]
        let x = max_pool2x2(relu(self.conv2.forward_routed(x))); // [N, 64, 4, 4]
        relu(self.fc1.forward_routed(x.flatten(1, 3))) // [N, hidden]
    }

    /// Class logits.
    ///
    /// # Shapes
    /// `images`: `[N, C, H, W]` in [0, 1] → `[N, classes]`.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.fc2.forward_routed(self.features(images))
    }

    /// Named weight tensors in burn's layout (`Linear` weights are `[in, out]`).
    fn named(&self) -> Vec<(&'static str, Tensor<1>)> {
        let w4 = |p: &Param<Tensor<4>>| p.val().flatten::<1>(0, 3);
        let w2 = |p: &Param<Tensor<2>>| p.val().flatten::<1>(0, 1);
        let b = |p: &Option<Param<Tensor<1>>>| p.as_ref().map(|p| p.val());
        let mut out = vec![
            ("conv1.weight", w4(&self.conv1.weight)),
            ("conv2.weight", w4(&self.conv2.weight)),
            ("fc1.weight", w2(&self.fc1.weight)),
            ("fc2.weight", w2(&self.fc2.weight)),
        ];
        for (name, bias) in [
            ("conv1.bias", b(&self.conv1.bias)),
            ("conv2.bias", b(&self.conv2.bias)),
            ("fc1.bias", b(&self.fc1.bias)),
            ("fc2.bias", b(&self.fc2.bias)),
        ] {
            if let Some(t) = bias {
                out.push((name, t));
            }
        }
        out
    }

    fn shapes(&self) -> HashMap<&'static str, Vec<usize>> {
        let mut m = HashMap::new();
        m.insert("conv1.weight", self.conv1.weight.dims().to_vec());
        m.insert("conv2.weight", self.conv2.weight.dims().to_vec());
        m.insert("fc1.weight", self.fc1.weight.dims().to_vec());
        m.insert("fc2.weight", self.fc2.weight.dims().to_vec());
        for (name, bias) in [
            ("conv1.bias", &self.conv1.bias),
            ("conv2.bias", &self.conv2.bias),
            ("fc1.bias", &self.fc1.bias),
            ("fc2.bias", &self.fc2.bias),
        ] {
            if let Some(p) = bias {
                m.insert(name, p.dims().to_vec());
            }
        }
        m
    }
}

/// Where a set of classifier weights came from, stored in the safetensors metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct Provenance {
    /// Dataset the classifier was trained on (`mnist`, `fashion-mnist`).
    pub dataset: String,
    /// Test accuracy reached, in [0, 1].
    pub test_accuracy: f64,
    /// The command that reproduces the weights.
    pub command: String,
}

/// Serializes weights, config and provenance as safetensors (f32, little-endian).
pub fn to_safetensors(
    model: &LeNet,
    config: &LeNetConfig,
    provenance: &Provenance,
) -> crate::Result<Vec<u8>> {
    let shapes = model.shapes();
    let mut buffers = Vec::new();
    for (name, t) in model.named() {
        let values = t
            .into_data()
            .try_into_vec_as::<f32>()
            .map_err(|e| weights_err("model", format!("reading {name}: {e:?}")))?;
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        buffers.push((name, shapes[name].clone(), bytes));
    }
    let views = buffers
        .iter()
        .map(|(name, shape, bytes)| {
            TensorView::new(Dtype::F32, shape.clone(), bytes)
                .map(|v| (name.to_string(), v))
                .map_err(|e| weights_err("model", format!("{name}: {e}")))
        })
        .collect::<crate::Result<Vec<_>>>()?;
    let mut meta = HashMap::new();
    meta.insert("format".to_string(), "genzoo-lenet".to_string());
    meta.insert("config".to_string(), config.to_string());
    meta.insert("dataset".to_string(), provenance.dataset.clone());
    meta.insert(
        "test_accuracy".to_string(),
        format!("{:.4}", provenance.test_accuracy),
    );
    meta.insert("command".to_string(), provenance.command.clone());
    safetensors::serialize(views, Some(meta)).map_err(|e| weights_err("model", e.to_string()))
}

/// Loads a classifier written by [`to_safetensors`]; `source` names the file in errors.
///
/// Errors: not safetensors, not a genzoo LeNet, a missing tensor, a shape or dtype that does not
/// match the stored config, a NaN.
pub fn from_safetensors(
    bytes: &[u8],
    source: &str,
    device: &Device,
) -> crate::Result<(LeNet, LeNetConfig, Provenance)> {
    let err = |m: String| weights_err(source, m);
    let (_, meta) = SafeTensors::read_metadata(bytes)
        .map_err(|e| err(format!("not a safetensors file: {e}")))?;
    let meta = meta.metadata().clone().unwrap_or_default();
    if meta.get("format").map(String::as_str) != Some("genzoo-lenet") {
        return Err(err(
            "not genzoo LeNet weights (metadata 'format' is not 'genzoo-lenet')".into(),
        ));
    }
    let config_json = meta
        .get("config")
        .ok_or_else(|| err("metadata has no 'config'".into()))?;
    let config: LeNetConfig =
        serde_json::from_str(config_json).map_err(|e| err(format!("metadata 'config': {e}")))?;
    if config.final_side().is_none() || config.classes == 0 || config.hidden == 0 {
        return Err(err(format!("unusable config {config_json}")));
    }
    let provenance = Provenance {
        dataset: meta.get("dataset").cloned().unwrap_or_default(),
        test_accuracy: meta
            .get("test_accuracy")
            .and_then(|a| a.parse().ok())
            .unwrap_or(f64::NAN),
        command: meta.get("command").cloned().unwrap_or_default(),
    };
    let tensors = SafeTensors::deserialize(bytes).map_err(|e| err(e.to_string()))?;
    let mut model = config.init(device);
    let shapes = model.shapes();
    let read = |name: &str| -> crate::Result<TensorData> {
        let view = tensors
            .tensor(name)
            .map_err(|_| err(format!("tensor '{name}' missing")))?;
        let expect = &shapes[name];
        if view.dtype() != Dtype::F32 || view.shape() != expect.as_slice() {
            return Err(err(format!(
                "tensor '{name}': expected F32 {expect:?}, found {:?} {:?}",
                view.dtype(),
                view.shape()
            )));
        }
        let values: Vec<f32> = view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        if values.iter().any(|v| !v.is_finite()) {
            return Err(err(format!("tensor '{name}' holds NaN or infinity")));
        }
        Ok(TensorData::new(values, expect.clone()))
    };
    let p4 = |name: &str| read(name).map(|d| Param::from_tensor(Tensor::<4>::from_data(d, device)));
    let p2 = |name: &str| read(name).map(|d| Param::from_tensor(Tensor::<2>::from_data(d, device)));
    let p1 = |name: &str| read(name).map(|d| Param::from_tensor(Tensor::<1>::from_data(d, device)));
    model.conv1.weight = p4("conv1.weight")?;
    model.conv2.weight = p4("conv2.weight")?;
    model.fc1.weight = p2("fc1.weight")?;
    model.fc2.weight = p2("fc2.weight")?;
    model.conv1.bias = Some(p1("conv1.bias")?);
    model.conv2.bias = Some(p1("conv2.bias")?);
    model.fc1.bias = Some(p1("fc1.bias")?);
    model.fc2.bias = Some(p1("fc2.bias")?);
    Ok((model, config, provenance))
}

fn weights_err(source: &str, message: String) -> Error {
    Error::Weights {
        source_name: source.to_string(),
        message,
    }
}

/// SHA-256 of `bytes` in lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// How [`train_classifier`] trains.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassifierTraining {
    /// Passes over the training set.
    pub epochs: u64,
    /// Images per step.
    pub batch_size: usize,
    /// Adam learning rate of the first epoch.
    pub lr: f64,
    /// Factor applied to the learning rate after every epoch.
    pub lr_decay: f64,
    /// Seed of the initial weights and the data order.
    pub seed: u64,
}

impl Default for ClassifierTraining {
    fn default() -> Self {
        Self {
            epochs: 5,
            batch_size: 128,
            lr: 1e-3,
            lr_decay: 0.6,
            seed: 0,
        }
    }
}

/// Trains a classifier by cross-entropy with Adam on `device` (an autodiff device); `on_epoch` is
/// called with `(epoch, mean training loss)` after each epoch. Deterministic for a seed and backend.
pub fn train_classifier(
    config: &LeNetConfig,
    train: &ImageSet,
    opts: &ClassifierTraining,
    device: &Device,
    mut on_epoch: impl FnMut(u64, f64),
) -> LeNet {
    device.seed(opts.seed);
    let mut model = config.init(device);
    let mut optim = AdamConfig::new().init();
    let loss_fn = CrossEntropyLoss::new(None, device);
    for epoch in 0..opts.epochs {
        let lr = opts.lr * opts.lr_decay.powi(i32::try_from(epoch).unwrap_or(i32::MAX));
        let order = epoch_order(train.len(), opts.seed, epoch);
        let mut sum = 0.0;
        let mut steps = 0usize;
        for chunk in order.chunks(opts.batch_size) {
            if chunk.len() < opts.batch_size {
                break;
            }
            let batch = train.batch(chunk, Binarization::None, 0, device);
            let loss = loss_fn.forward(model.forward(batch.images), batch.labels);
            sum += f64::from(loss.clone().into_scalar::<f32>());
            steps += 1;
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(lr, model, grads);
        }
        on_epoch(epoch, sum / steps.max(1) as f64);
    }
    model
}

/// Fraction of `set` classified correctly (on `device`, a plain device).
pub fn accuracy(model: &LeNet, set: &ImageSet, device: &Device) -> f64 {
    let mut correct = 0i64;
    let indices: Vec<usize> = (0..set.len()).collect();
    for chunk in indices.chunks(EVAL_BATCH) {
        let batch = set.batch(chunk, Binarization::None, 0, device);
        let pred = model.forward(batch.images).argmax(1).flatten::<1>(0, 1);
        correct += pred.equal(batch.labels).int().sum().into_scalar::<i64>();
    }
    correct as f64 / set.len().max(1) as f64
}

/// Anything that maps images to feature vectors: genzoo's LeNets, or a user's own network.
pub trait FeatureExtractor {
    /// How the features are named in reports, e.g. "genzoo-LeNet-MNIST (penultimate layer, 128-d)".
    fn name(&self) -> String;
    /// Features of a batch of images in [0, 1].
    ///
    /// # Shapes
    /// `[N, C, H, W]` → `[N, D]`.
    fn features(&self, images: Tensor<4>) -> Tensor<2>;
    /// Class probabilities for the Inception-style score, if the extractor is a classifier.
    ///
    /// # Shapes
    /// `[N, C, H, W]` → `[N, classes]`.
    fn class_probabilities(&self, images: Tensor<4>) -> Option<Tensor<2>> {
        let _ = images;
        None
    }
}

/// A trained [`LeNet`] as a feature extractor, with the name of what it was trained on.
#[derive(Debug, Clone)]
pub struct DomainClassifier {
    /// The network (on a plain, non-autodiff device).
    pub model: LeNet,
    /// What it was trained on and how well it does.
    pub provenance: Provenance,
}

/// The MNIST classifier's weights, shipped with the crate.
pub const LENET_MNIST: &[u8] = include_bytes!("../weights/lenet-mnist.safetensors");
/// Their SHA-256, checked at every load.
pub const LENET_MNIST_SHA256: &str = include_str!("../weights/lenet-mnist.safetensors.sha256");

/// The Fashion-MNIST classifier's weights, shipped with the crate (`genzoo classifier --dataset
/// fashion-mnist --epochs 8 --seed 0`: 90.43% test accuracy).
pub const LENET_FASHION_MNIST: &[u8] = include_bytes!("../weights/lenet-fashion-mnist.safetensors");
/// Their SHA-256, checked at every load.
pub const LENET_FASHION_MNIST_SHA256: &str =
    include_str!("../weights/lenet-fashion-mnist.safetensors.sha256");

impl DomainClassifier {
    /// The shipped MNIST classifier, checked against its SHA-256.
    pub fn mnist(device: &Device) -> crate::Result<Self> {
        Self::from_bytes(
            LENET_MNIST,
            "lenet-mnist.safetensors (embedded)",
            Some(LENET_MNIST_SHA256.trim()),
            device,
        )
    }

    /// The shipped Fashion-MNIST classifier, checked against its SHA-256.
    pub fn fashion_mnist(device: &Device) -> crate::Result<Self> {
        Self::from_bytes(
            LENET_FASHION_MNIST,
            "lenet-fashion-mnist.safetensors (embedded)",
            Some(LENET_FASHION_MNIST_SHA256.trim()),
            device,
        )
    }

    /// A classifier from safetensors bytes, optionally checked against an expected SHA-256.
    pub fn from_bytes(
        bytes: &[u8],
        source: &str,
        sha256: Option<&str>,
        device: &Device,
    ) -> crate::Result<Self> {
        if let Some(expect) = sha256 {
            let found = sha256_hex(bytes);
            if found != expect {
                return Err(weights_err(
                    source,
                    format!("SHA-256 {found}, expected {expect}"),
                ));
            }
        }
        let (model, _, provenance) = from_safetensors(bytes, source, device)?;
        Ok(Self { model, provenance })
    }

    /// A classifier from a safetensors file.
    pub fn from_file(path: &std::path::Path, device: &Device) -> crate::Result<Self> {
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_bytes(&bytes, &path.display().to_string(), None, device)
    }
}

impl FeatureExtractor for DomainClassifier {
    fn name(&self) -> String {
        let dataset = match self.provenance.dataset.as_str() {
            "mnist" => "MNIST",
            "fashion-mnist" => "Fashion-MNIST",
            other => other,
        };
        format!("genzoo-LeNet-{dataset} (penultimate layer)")
    }

    fn features(&self, images: Tensor<4>) -> Tensor<2> {
        self.model.features(images)
    }

    fn class_probabilities(&self, images: Tensor<4>) -> Option<Tensor<2>> {
        Some(softmax(self.model.forward(images), 1))
    }
}

/// Features (and class probabilities, when the extractor has them) of `n` images produced batch by
/// batch by `images(start, len)`, so that any `n` fits in memory.
pub fn extract(
    extractor: &dyn FeatureExtractor,
    n: usize,
    mut images: impl FnMut(usize, usize) -> Tensor<4>,
) -> crate::Result<(Features, Option<Features>)> {
    let mut features: Option<Features> = None;
    let mut probs: Option<Features> = None;
    let mut start = 0;
    while start < n {
        let len = EVAL_BATCH.min(n - start);
        let x = images(start, len);
        let f = Features::from_tensor(extractor.features(x.clone()))?;
        match &mut features {
            Some(all) => all.extend(&f)?,
            None => features = Some(f),
        }
        if let Some(p) = extractor.class_probabilities(x) {
            let p = Features::from_tensor(p)?;
            match &mut probs {
                Some(all) => all.extend(&p)?,
                None => probs = Some(p),
            }
        }
        start += len;
    }
    let features = features.ok_or(Error::TooFewSamples {
        what: "feature extraction",
        need: 1,
        got: 0,
    })?;
    Ok((features, probs))
}

/// [`extract`] over the first `n` images of a dataset.
pub fn extract_set(
    extractor: &dyn FeatureExtractor,
    set: &ImageSet,
    n: usize,
    device: &Device,
) -> crate::Result<(Features, Option<Features>)> {
    let n = n.min(set.len());
    extract(extractor, n, |start, len| {
        let idx: Vec<usize> = (start..start + len).collect();
        set.batch(&idx, Binarization::None, 0, device).images
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    fn device() -> Device {
        Device::flex()
    }

    fn provenance() -> Provenance {
        Provenance {
            dataset: "mnist".into(),
            test_accuracy: 0.5,
            command: "test".into(),
        }
    }

    fn small() -> LeNetConfig {
        LeNetConfig::new().with_conv([4, 6]).with_hidden(8)
    }

    #[test]
    fn safetensors_round_trip_keeps_the_function() {
        let device = device();
        let config = small();
        let model = config.init(&device);
        let bytes = to_safetensors(&model, &config, &provenance()).expect("serialize");
        let (back, back_config, prov) = from_safetensors(&bytes, "mem", &device).expect("load");
        assert_eq!(back_config, config);
        assert_eq!(prov, provenance());
        let x = Tensor::<4>::random([3, 1, 28, 28], Distribution::Uniform(0.0, 1.0), &device);
        let (a, b) = (model.forward(x.clone()), back.forward(x));
        let diff = (a - b).abs().max().into_scalar::<f32>();
        assert_eq!(diff, 0.0);
    }

    #[test]
    fn parameter_count_of_the_mnist_preset() {
        let model = LeNetConfig::mnist().init(&device());
        assert_eq!(model.num_params(), 832 + 51_264 + 131_200 + 1_290);
    }

    #[test]
    fn bad_weights_are_clear_errors() {
        let device = device();
        let config = small();
        let bytes =
            to_safetensors(&config.init(&device), &config, &provenance()).expect("serialize");
        let msg = |r: crate::Result<(LeNet, LeNetConfig, Provenance)>| {
            r.err().map(|e| e.to_string()).unwrap_or_default()
        };
        // Truncated anywhere: an error, not a panic.
        for cut in [0, 7, 100, bytes.len() / 2, bytes.len() - 1] {
            assert!(
                from_safetensors(&bytes[..cut], "cut", &device).is_err(),
                "cut at {cut}"
            );
        }
        // Valid safetensors, but a tensor of the wrong shape for the stored config.
        let other = LeNetConfig::new().with_conv([4, 6]).with_hidden(9);
        let model = other.init(&device);
        let mut mismatched = to_safetensors(&model, &other, &provenance()).expect("serialize");
        let header_end =
            8 + u64::from_le_bytes(mismatched[..8].try_into().expect("8 bytes")) as usize;
        let header = String::from_utf8(mismatched[8..header_end].to_vec()).expect("utf8");
        // The stored config says hidden = 8 while the tensors are those of hidden = 9.
        let patched = header.replace(r#"hidden\": 9"#, r#"hidden\": 8"#);
        assert_ne!(patched, header);
        mismatched.splice(8..header_end, patched.into_bytes());
        let m = msg(from_safetensors(&mismatched, "patched", &device));
        assert!(
            m.contains("fc1.weight") && m.contains("expected F32"),
            "{m}"
        );
        // A safetensors file that is not ours.
        let data = [0u8; 4];
        let view = TensorView::new(Dtype::F32, vec![1], &data).expect("view");
        let foreign = safetensors::serialize([("x", view)], None).expect("serialize");
        assert!(msg(from_safetensors(&foreign, "foreign", &device)).contains("not genzoo LeNet"));
        // A checksum mismatch.
        let e = DomainClassifier::from_bytes(&bytes, "mem", Some("00"), &device).expect_err("sha");
        assert!(e.to_string().contains("SHA-256"), "{e}");
    }

    /// Each shipped classifier loads, names its dataset and records a test accuracy above its floor
    /// (the accuracies on the real test sets are checked in tests/: the files are not shipped).
    #[test]
    fn shipped_classifiers_are_intact() {
        let device = device();
        type Load = fn(&Device) -> crate::Result<DomainClassifier>;
        let shipped: [(Load, &str, &str, f64); 2] = [
            (
                DomainClassifier::mnist,
                "mnist",
                "genzoo-LeNet-MNIST (penultimate layer)",
                0.985,
            ),
            (
                DomainClassifier::fashion_mnist,
                "fashion-mnist",
                "genzoo-LeNet-Fashion-MNIST (penultimate layer)",
                0.90,
            ),
        ];
        for (load, dataset, name, floor) in shipped {
            let c = load(&device).expect("shipped weights load");
            assert_eq!(c.provenance.dataset, dataset);
            assert_eq!(c.name(), name);
            assert!(c.provenance.test_accuracy >= floor, "{:?}", c.provenance);
        }
    }

    #[test]
    fn shipped_mnist_classifier_is_accurate() {
        let device = device();
        let c = DomainClassifier::mnist(&device).expect("shipped weights load");
        // The embedded 2,000 MNIST test images (the full test set is checked in tests/ with real data).
        let test = genzoo_datasets::load(
            genzoo_datasets::DatasetKind::MnistMini,
            genzoo_datasets::Split::Test,
            &genzoo_datasets::DataOptions::default(),
        )
        .expect("mnist-mini");
        let acc = accuracy(&c.model, &test, &device);
        assert!(acc >= 0.985, "accuracy {acc}");
        let (f, p) = extract_set(&c, &test, 600, &device).expect("features");
        assert_eq!((f.len(), f.dim()), (600, 128));
        let p = p.expect("probabilities");
        assert_eq!((p.len(), p.dim()), (600, 10));
    }
}
