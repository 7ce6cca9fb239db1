//! Trained weights shipped with a model crate: a `genzoo export` file embedded in the crate, its
//! pinned SHA-256, what it reached on the test set and the recipe that trained it.
//!
//! The model crates list theirs (`genzoo_vae::pretrained::SHIPPED`,
//! `genzoo_pixel::pretrained::SHIPPED`); `genzoo sample --pretrained NAME` and `genzoo eval
//! --pretrained NAME` build the model from the file's metadata and load it. [`Pretrained::weights`]
//! checks the bytes against the pinned hash before anything reads them, so a file edited by hand or
//! replaced without its hash is refused rather than sampled from.

use std::path::Path;

use genzoo_datasets::verify::sha256_hex;

use crate::error::{Error, Result};
use crate::weights::WeightsFile;

/// One shipped weights file and the numbers it is documented with.
#[derive(Debug, Clone, Copy)]
pub struct Pretrained {
    /// The name users pass to `--pretrained` (model and dataset, e.g. `row-lstm-binarized-mnist`).
    pub name: &'static str,
    /// The model's registry name (`genzoo models`); the file's metadata must agree.
    pub model: &'static str,
    /// One line on what it is and how it was trained.
    pub summary: &'static str,
    /// The `genzoo export` file.
    pub bytes: &'static [u8],
    /// Its SHA-256 (lowercase hex; surrounding whitespace ignored), checked before every load.
    pub sha256: &'static str,
    /// The recipe (a `--config` TOML in `docs/recipes/`) that trained it.
    pub recipe: &'static str,
    /// The documented test number: what `genzoo eval --pretrained NAME` reports on every test image.
    pub test: TestNumber,
}

/// A test-set number of shipped weights: the `genzoo eval` metric, its value as documented, and its
/// value on a smaller fixed [`Subset`] that a test recomputes in seconds.
#[derive(Debug, Clone, Copy)]
pub struct TestNumber {
    /// `genzoo eval --metrics` value that measures it (`nll`, `iwae` or `acc`).
    pub metrics: &'static str,
    /// The key of the number in `genzoo eval`'s output (e.g. `test_nll_nats`, `class_accuracy`).
    pub key: &'static str,
    /// Importance samples per image for `iwae` (0 otherwise).
    pub iwae_k: usize,
    /// As documented: on all test images (nats per image), or for `acc` over 1,000 samples per
    /// class; at the eval's default seed 0.
    pub value: f64,
    /// What the test recomputes.
    pub subset: Subset,
    /// The metric on that subset at seed 0, as measured when the file was shipped.
    pub subset_value: f64,
}

/// The part of a documented number that a test recomputes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subset {
    /// Every `n`-th test image from the first (34 gives 295 of 10,000).
    EveryNth(usize),
    /// `n` samples per class, class `c` from seed `c` (as `genzoo eval --metrics acc --n 10·n`).
    PerClass(usize),
}

/// Every `stride`-th test image: 295 of 10,000.
const SUBSET_STRIDE: usize = 34;

impl TestNumber {
    /// The exact test NLL (`genzoo eval --metrics nll`, key `test_nll_nats`): `value` on every test
    /// image, `subset_value` on every 34th.
    pub const fn nll(value: f64, subset_value: f64) -> Self {
        Self {
            metrics: "nll",
            key: "test_nll_nats",
            iwae_k: 0,
            value,
            subset: Subset::EveryNth(SUBSET_STRIDE),
            subset_value,
        }
    }

    /// The −L₅₀₀₀ bound of Burda et al. (`genzoo eval --metrics iwae --iwae-k 5000`, key
    /// `test_iwae5000_nll`): `value` on every test image, `subset_value` on every 34th.
    pub const fn iwae5000(value: f64, subset_value: f64) -> Self {
        Self {
            metrics: "iwae",
            key: "test_iwae5000_nll",
            iwae_k: 5000,
            value,
            subset: Subset::EveryNth(SUBSET_STRIDE),
            subset_value,
        }
    }

    /// The share of a class-conditional model's samples that genzoo-LeNet reads as the class asked
    /// for (`genzoo eval --metrics acc`, key `class_accuracy`): `value` over 1,000 samples per
    /// class, `subset_value` over [`SUBSET_PER_CLASS`].
    pub const fn class_accuracy(value: f64, subset_value: f64) -> Self {
        Self {
            metrics: "acc",
            key: "class_accuracy",
            iwae_k: 0,
            value,
            subset: Subset::PerClass(SUBSET_PER_CLASS),
            subset_value,
        }
    }
}

/// Samples per class that the test of a class accuracy draws.
pub const SUBSET_PER_CLASS: usize = 50;

/// A [`Pretrained`] entry of the calling crate: `weights/NAME.safetensors` and its
/// `weights/NAME.safetensors.sha256` under the crate's root, embedded.
///
/// `shipped!(name, model, recipe, test, summary)`.
#[macro_export]
macro_rules! shipped {
    ($name:literal, $model:literal, $recipe:literal, $test:expr, $summary:literal $(,)?) => {
        $crate::pretrained::Pretrained {
            name: $name,
            model: $model,
            summary: $summary,
            bytes: include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/weights/",
                $name,
                ".safetensors"
            )),
            sha256: include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/weights/",
                $name,
                ".safetensors.sha256"
            )),
            recipe: $recipe,
            test: $test,
        }
    };
}

impl Pretrained {
    /// The file, checked against its pinned SHA-256 and read as a `genzoo export` file whose
    /// metadata names this model.
    pub fn weights(&self) -> Result<WeightsFile> {
        let origin = format!("{}.safetensors (shipped)", self.name);
        let path = Path::new(&origin);
        let found = sha256_hex(self.bytes);
        if found != self.sha256.trim() {
            return Err(Error::CorruptWeights {
                path: path.to_path_buf(),
                message: format!(
                    "SHA-256 {found}, expected {}: the shipped file was changed without its pinned hash",
                    self.sha256.trim()
                ),
            });
        }
        let file = WeightsFile::from_bytes(self.bytes.to_vec(), path)?;
        if file.model != self.model {
            return Err(Error::CorruptWeights {
                path: path.to_path_buf(),
                message: format!(
                    "it holds the weights of '{}', not '{}'",
                    file.model, self.model
                ),
            });
        }
        Ok(file)
    }

    /// The test images of [`TestNumber::subset_value`] among `len`: every n-th for
    /// [`Subset::EveryNth`], none for [`Subset::PerClass`] (it scores samples).
    pub fn subset(&self, len: usize) -> Vec<usize> {
        match self.test.subset {
            Subset::EveryNth(n) => (0..len).step_by(n.max(1)).collect(),
            Subset::PerClass(_) => Vec::new(),
        }
    }
}

/// The entry called `name` among `shipped`, or an error that lists the names there are.
pub fn find<'a>(shipped: &'a [Pretrained], name: &str) -> Result<&'a Pretrained> {
    shipped.iter().find(|p| p.name == name).ok_or_else(|| {
        let names: Vec<&str> = shipped.iter().map(|p| p.name).collect();
        Error::Config(format!(
            "no shipped weights called '{name}'; there are: {}",
            names.join(", ")
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::weights::{CONFIG_KEY, LAYOUT_KEY, MODEL_KEY, STEP_KEY};

    fn file() -> Vec<u8> {
        use burn::nn::LinearConfig;
        let net = LinearConfig::new(3, 2).init(&burn::tensor::Device::flex());
        let meta = [
            (MODEL_KEY, "demo"),
            (LAYOUT_KEY, "burn"),
            (STEP_KEY, "42"),
            (CONFIG_KEY, "model = \"demo\""),
        ];
        crate::weights::to_safetensors(&net, crate::weights::Layout::Burn, &meta).expect("a file")
    }

    fn entry(bytes: &'static [u8], sha256: &'static str, model: &'static str) -> Pretrained {
        Pretrained {
            name: "demo-set",
            model,
            summary: "",
            bytes,
            sha256,
            recipe: "",
            test: TestNumber::nll(0.0, 0.0),
        }
    }

    #[test]
    fn an_intact_file_loads_with_its_metadata() {
        let bytes: &'static [u8] = Box::leak(file().into_boxed_slice());
        let sha: &'static str = Box::leak(sha256_hex(bytes).into_boxed_str());
        let w = entry(bytes, sha, "demo").weights().expect("intact");
        assert_eq!((w.model.as_str(), w.step), ("demo", 42));
        assert_eq!(w.config_toml, "model = \"demo\"");
    }

    #[test]
    fn a_changed_byte_or_another_model_is_refused() {
        let intact: &'static [u8] = Box::leak(file().into_boxed_slice());
        let sha: &'static str = Box::leak(sha256_hex(intact).into_boxed_str());
        let mut changed = intact.to_vec();
        let last = changed.len() - 1;
        changed[last] ^= 1;
        let changed: &'static [u8] = Box::leak(changed.into_boxed_slice());
        let err = entry(changed, sha, "demo").weights().expect_err("changed");
        assert!(err.to_string().contains("SHA-256"), "{err}");
        let err = entry(intact, sha, "vae").weights().expect_err("foreign");
        assert!(err.to_string().contains("not 'vae'"), "{err}");
    }

    #[test]
    fn the_subset_is_every_strideth_image_and_unknown_names_list_the_known() {
        let e = entry(b"", "", "demo");
        let s = e.subset(10_000);
        assert_eq!((s.len(), s[1], s[s.len() - 1]), (295, 34, 9996));
        let err = find(&[e], "nope").expect_err("unknown").to_string();
        assert!(err.contains("'nope'") && err.contains("demo-set"), "{err}");
    }
}
