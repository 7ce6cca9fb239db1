//! Dataset names, the data root, and loading with verification and optional download.
//!
//! # Layout of the data root
//!
//! ```text
//! <root>/mnist/train-images-idx3-ubyte.gz   train-labels-idx1-ubyte.gz
//!              t10k-images-idx3-ubyte.gz    t10k-labels-idx1-ubyte.gz
//! <root>/fashion-mnist/  (the same four names)
//! <root>/cifar10/cifar-10-batches-bin/data_batch_1.bin … data_batch_5.bin, test_batch.bin
//! <root>/binarized-mnist/binarized_mnist_{train,valid,test}.amat   (or .amat.gz)
//! ```
//!
//! Each IDX file may also be stored decompressed (the name without `.gz`); any file may be gzipped.
//! The CIFAR-10 layout is what extracting the canonical `cifar-10-binary.tar.gz` inside `<root>/cifar10/`
//! produces. The root is, in order: [`DataOptions::data_dir`] (the CLI's `--data-dir`), the
//! `GENZOO_DATA_DIR` environment variable, then `<user cache dir>/genzoo` (e.g. `~/.cache/genzoo`).
//!
//! # Verification
//!
//! - MNIST: SHA-256 of each file's decompressed content, so re-compressed copies are accepted.
//! - Fashion-MNIST: SHA-256 of each file's decompressed content; downloads are also checked against the
//!   MD5 sums the dataset authors publish for the `.gz` files (also pinned by torchvision).
//! - The fixed binarized MNIST: SHA-256 of each file's decompressed content (the published `.amat` text),
//!   then the strict [`crate::amat`] parser; it is the only dataset with a validation split.
//! - CIFAR-10: files on disk are checked structurally (10,000 records each, labels in 0..10); the
//!   downloaded archive is checked against the authors' published MD5 `c32a1d4ab5d03f1284b67883e8d87530`.

use std::ffi::OsString;
use std::fmt;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::download::{DownloadOptions, download};
use crate::error::{Error, Result};
use crate::image_set::ImageSet;
use crate::{cifar, gz, idx, tar, verify};

/// The image datasets, by their CLI names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum DatasetKind {
    /// `mnist`: LeCun et al. 1998, 60,000 + 10,000 images 1×28×28.
    Mnist,
    /// `fashion-mnist`: Xiao et al. 2017 (arXiv:1708.07747), 60,000 + 10,000 images 1×28×28.
    FashionMnist,
    /// `cifar10`: Krizhevsky 2009, 50,000 + 10,000 images 3×32×32.
    Cifar10,
    /// `mnist-mini`: the first 10,000 training and 2,000 test MNIST images, embedded in this crate.
    MnistMini,
    /// `binarized-mnist`: the fixed binarized MNIST of Salakhutdinov & Murray 2008 (as published by
    /// Larochelle), 50,000 + 10,000 validation + 10,000 test images 1×28×28 of pixels 0 or 255, no
    /// labels: the benchmark of the likelihood literature.
    BinarizedMnist,
    /// `toy-ring8`: 2-D points of [`crate::toy::ring8`], as `4×1×1` "images" (see
    /// [`crate::toy::points_image_set`]); labels are the mixture components.
    ToyRing8,
    /// `toy-grid25`: 2-D points of [`crate::toy::grid25`], stored like `toy-ring8`.
    ToyGrid25,
}

impl DatasetKind {
    /// Every kind, in CLI order.
    pub const ALL: [DatasetKind; 7] = [
        DatasetKind::Mnist,
        DatasetKind::FashionMnist,
        DatasetKind::Cifar10,
        DatasetKind::MnistMini,
        DatasetKind::BinarizedMnist,
        DatasetKind::ToyRing8,
        DatasetKind::ToyGrid25,
    ];

    /// The CLI name.
    pub fn name(self) -> &'static str {
        match self {
            DatasetKind::Mnist => "mnist",
            DatasetKind::FashionMnist => "fashion-mnist",
            DatasetKind::Cifar10 => "cifar10",
            DatasetKind::MnistMini => "mnist-mini",
            DatasetKind::BinarizedMnist => "binarized-mnist",
            DatasetKind::ToyRing8 => "toy-ring8",
            DatasetKind::ToyGrid25 => "toy-grid25",
        }
    }

    /// The toy distribution of a 2-D point set, `None` for the image datasets.
    pub fn toy(self) -> Option<crate::toy::ToyKind> {
        match self {
            DatasetKind::ToyRing8 => Some(crate::toy::ToyKind::Ring8),
            DatasetKind::ToyGrid25 => Some(crate::toy::ToyKind::Grid25),
            _ => None,
        }
    }

    /// Whether the dataset has a validation split ([`Split::Valid`]).
    pub fn has_validation(self) -> bool {
        self == DatasetKind::BinarizedMnist
    }

    /// Whether this is a 2-D point set rather than images.
    pub fn is_toy(self) -> bool {
        self.toy().is_some()
    }

    /// `[C, H, W]` of the images.
    pub fn shape(self) -> [usize; 3] {
        match self {
            DatasetKind::Cifar10 => [3, 32, 32],
            DatasetKind::ToyRing8 | DatasetKind::ToyGrid25 => crate::toy::POINT_SHAPE,
            _ => [1, 28, 28],
        }
    }

    /// Number of classes; 0 for a dataset without labels (`binarized-mnist`).
    pub fn classes(self) -> usize {
        match self {
            DatasetKind::BinarizedMnist => 0,
            DatasetKind::ToyRing8 => 8,
            DatasetKind::ToyGrid25 => 25,
            _ => 10,
        }
    }
}

impl fmt::Display for DatasetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DatasetKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Error::find_named("dataset", DatasetKind::ALL, DatasetKind::name, s)
    }
}

/// Which half of a dataset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Split {
    /// The training set.
    Train,
    /// The test set.
    Test,
    /// The validation set, where the dataset has one ([`DatasetKind::has_validation`]).
    Valid,
}

impl Split {
    /// `train`, `test` or `valid`.
    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "test",
            Split::Valid => "valid",
        }
    }
}

/// Where to find data and whether to fetch it.
#[derive(Clone, Debug, Default)]
pub struct DataOptions {
    /// Explicit data root (`--data-dir`); beats `GENZOO_DATA_DIR` and the cache dir.
    pub data_dir: Option<PathBuf>,
    /// Download missing (or corrupt) files (`--download`).
    pub download: bool,
    /// Base URLs replacing the dataset's default mirrors.
    pub mirrors: Option<Vec<String>>,
}

/// The environment variable naming the data root.
pub const DATA_DIR_ENV: &str = "GENZOO_DATA_DIR";

/// Picks the data root: explicit dir, else the env value (if non-empty), else `<cache>/genzoo`.
fn resolve_root(
    explicit: Option<&Path>,
    env: Option<OsString>,
    cache: Option<PathBuf>,
) -> Option<(PathBuf, &'static str)> {
    if let Some(p) = explicit {
        return Some((p.to_path_buf(), "--data-dir"));
    }
    if let Some(v) = env.filter(|v| !v.is_empty()) {
        return Some((PathBuf::from(v), DATA_DIR_ENV));
    }
    cache.map(|c| (c.join("genzoo"), "the user cache directory"))
}

/// The data root for `data_dir` (see the module docs for the order).
pub fn data_root(data_dir: Option<&Path>) -> Result<PathBuf> {
    root_and_source(data_dir).map(|(p, _)| p)
}

fn root_and_source(data_dir: Option<&Path>) -> Result<(PathBuf, &'static str)> {
    resolve_root(data_dir, std::env::var_os(DATA_DIR_ENV), dirs::cache_dir())
        .ok_or(Error::NoDataRoot)
}

/// One canonical file.
#[derive(Clone, Debug)]
pub(crate) struct FileSpec {
    /// Canonical (remote and local) name.
    pub name: String,
    /// SHA-256 of the decompressed content, where known.
    pub sha256: Option<String>,
    /// MD5 of the file as served by the canonical mirrors (checked on download only).
    pub md5: Option<String>,
    /// Exact decompressed length.
    pub len: u64,
}

/// An IDX dataset: folder, mirrors, and per split the images/labels files and the item count.
#[derive(Clone, Debug)]
pub(crate) struct IdxSpec {
    pub dataset: &'static str,
    pub folder: &'static str,
    pub mirrors: Vec<String>,
    pub rows: usize,
    pub cols: usize,
    pub train: (FileSpec, FileSpec, usize),
    pub test: (FileSpec, FileSpec, usize),
}

fn fs_(name: &str, sha256: Option<&str>, md5: Option<&str>, len: u64) -> FileSpec {
    FileSpec {
        name: name.into(),
        sha256: sha256.map(Into::into),
        md5: md5.map(Into::into),
        len,
    }
}

fn idx_files(
    sha: [Option<&str>; 4],
    md5: [Option<&str>; 4],
) -> ((FileSpec, FileSpec, usize), (FileSpec, FileSpec, usize)) {
    (
        (
            fs_(
                "train-images-idx3-ubyte.gz",
                sha[0],
                md5[0],
                16 + 60_000 * 784,
            ),
            fs_("train-labels-idx1-ubyte.gz", sha[1], md5[1], 8 + 60_000),
            60_000,
        ),
        (
            fs_(
                "t10k-images-idx3-ubyte.gz",
                sha[2],
                md5[2],
                16 + 10_000 * 784,
            ),
            fs_("t10k-labels-idx1-ubyte.gz", sha[3], md5[3], 8 + 10_000),
            10_000,
        ),
    )
}

/// SHA-256 of the decompressed MNIST files (train images, train labels, test images, test labels).
pub const MNIST_SHA256: [&str; 4] = [
    "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
];

/// SHA-256 of the decompressed Fashion-MNIST files (train images, train labels, test images, test
/// labels), so a copy re-compressed by a package manager is accepted and any other is not.
pub const FASHION_MNIST_SHA256: [&str; 4] = [
    "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
];

/// MD5 of the canonical Fashion-MNIST `.gz` files, as published by Zalando Research and pinned by torchvision.
pub const FASHION_MNIST_GZ_MD5: [&str; 4] = [
    "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "25c81989df183df01b3e8a0aad5dffbe",
    "bef4ecab320f06d8554ea6380940ec79",
    "bb300cfdad3c16e7a12a480ee83cd310",
];

/// MD5 of `cifar-10-binary.tar.gz` as published on the CIFAR page.
pub const CIFAR10_ARCHIVE_MD5: &str = "c32a1d4ab5d03f1284b67883e8d87530";

/// Default MNIST mirrors.
pub const MNIST_MIRRORS: [&str; 2] = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
];
/// Default Fashion-MNIST mirror.
pub const FASHION_MNIST_MIRRORS: [&str; 1] =
    ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"];
/// Default CIFAR-10 mirror (the archive is `cifar-10-binary.tar.gz` under it).
pub const CIFAR10_MIRRORS: [&str; 1] = ["https://www.cs.toronto.edu/~kriz/"];

fn mnist_spec() -> IdxSpec {
    let (train, test) = idx_files(MNIST_SHA256.map(Some), [None; 4]);
    IdxSpec {
        dataset: "MNIST",
        folder: "mnist",
        mirrors: MNIST_MIRRORS.map(String::from).to_vec(),
        rows: 28,
        cols: 28,
        train,
        test,
    }
}

fn fashion_spec() -> IdxSpec {
    let (train, test) = idx_files(
        FASHION_MNIST_SHA256.map(Some),
        FASHION_MNIST_GZ_MD5.map(Some),
    );
    IdxSpec {
        dataset: "Fashion-MNIST",
        folder: "fashion-mnist",
        mirrors: FASHION_MNIST_MIRRORS.map(String::from).to_vec(),
        rows: 28,
        cols: 28,
        train,
        test,
    }
}

/// Loads a split of a dataset: from memory for [`DatasetKind::MnistMini`], else from the data root,
/// verified, downloading first if `opts.download` and a file is missing or fails verification.
pub fn load(kind: DatasetKind, split: Split, opts: &DataOptions) -> Result<ImageSet> {
    if split == Split::Valid && !kind.has_validation() {
        return Err(Error::NoSplit {
            dataset: kind.name().into(),
            split: split.name().into(),
        });
    }
    match kind {
        DatasetKind::BinarizedMnist => {
            from_root(&BinarizedSpec::canonical(), split, opts, load_binarized_at)
        }
        DatasetKind::MnistMini => crate::mini::load(split),
        DatasetKind::Mnist => from_root(&mnist_spec(), split, opts, load_idx_at),
        DatasetKind::FashionMnist => from_root(&fashion_spec(), split, opts, load_idx_at),
        DatasetKind::Cifar10 => from_root(&CifarSpec::canonical(), split, opts, load_cifar_at),
        DatasetKind::ToyRing8 => crate::toy::points_image_set(crate::toy::ToyKind::Ring8, split),
        DatasetKind::ToyGrid25 => crate::toy::points_image_set(crate::toy::ToyKind::Grid25, split),
    }
}

/// A split of the dataset `spec` describes, by `load_at` under the data root `opts` names.
fn from_root<S>(
    spec: &S,
    split: Split,
    opts: &DataOptions,
    load_at: fn(&S, Split, &DataOptions, &Path, &'static str) -> Result<ImageSet>,
) -> Result<ImageSet> {
    let (root, source) = root_and_source(opts.data_dir.as_deref())?;
    load_at(spec, split, opts, &root, source)
}

/// The error for a split a dataset does not have.
pub(crate) fn no_split(dataset: &str, split: Split) -> Error {
    Error::NoSplit {
        dataset: dataset.into(),
        split: split.name().into(),
    }
}

/// SHA-256 of the decompressed `binarized_mnist_{train,valid,test}.amat`.
pub const BINARIZED_MNIST_SHA256: [&str; 3] = [
    "ad693b29f94c14277b095f5238ddefbbdaaae0939789dd2f4f0205278cee3e4d",
    "1de3d397c40fe8eeb33dafd4099a1f665ec01e96d9be234aaeeac8a34930e2e2",
    "e6687bfea3f820c174f33b7865140b2a2dd2930ef786f35d45795fc193b5ab2c",
];
/// Where the fixed binarized MNIST is published (Hugo Larochelle's dataset page).
pub const BINARIZED_MNIST_MIRRORS: [&str; 1] =
    ["http://www.cs.toronto.edu/~larocheh/public/datasets/binarized_mnist/"];

/// The fixed binarized MNIST: folder, mirrors, and per split the file and its image count.
#[derive(Clone, Debug)]
pub(crate) struct BinarizedSpec {
    pub folder: &'static str,
    pub mirrors: Vec<String>,
    pub side: usize,
    /// `(file, images)` of train, valid, test.
    pub splits: [(FileSpec, usize); 3],
}

impl BinarizedSpec {
    fn canonical() -> Self {
        let file = |split: &str, images: usize, sha: &str| {
            (
                fs_(
                    &format!("binarized_mnist_{split}.amat"),
                    Some(sha),
                    None,
                    // 784 one-byte values, 783 spaces and a newline per image.
                    (images * 2 * 784) as u64,
                ),
                images,
            )
        };
        let [train, valid, test] = BINARIZED_MNIST_SHA256;
        Self {
            folder: "binarized-mnist",
            mirrors: BINARIZED_MNIST_MIRRORS.map(String::from).to_vec(),
            side: 28,
            splits: [
                file("train", 50_000, train),
                file("valid", 10_000, valid),
                file("test", 10_000, test),
            ],
        }
    }
}

/// Finds (or downloads), verifies and parses one split of the fixed binarized MNIST under `root`.
/// The images come with label 0: the dataset has none.
pub(crate) fn load_binarized_at(
    spec: &BinarizedSpec,
    split: Split,
    opts: &DataOptions,
    root: &Path,
    source: &'static str,
) -> Result<ImageSet> {
    let (file, images) = match split {
        Split::Train => &spec.splits[0],
        Split::Valid => &spec.splits[1],
        Split::Test => &spec.splits[2],
    };
    let values = spec.side * spec.side;
    let dir = root.join(spec.folder);
    let from = FileSource::new("binarized MNIST", spec.folder, &spec.mirrors, &dir, source);
    let candidates = [dir.join(&file.name), dir.join(format!("{}.gz", file.name))];
    let parse = |name: &str, text: &[u8]| crate::amat::parse(name, text, values, *images);
    let pixels = obtain_file(&from, file, candidates, opts, &parse)?;
    ImageSet::new(pixels, vec![0; *images], [1, spec.side, spec.side])
}

fn download_options(default: &[String], opts: &DataOptions) -> DownloadOptions {
    DownloadOptions::new(opts.mirrors.clone().unwrap_or_else(|| default.to_vec()))
}

/// Reads a file with a size cap, decompresses it if gzipped, and checks its SHA-256 if one is known.
fn read_checked(path: &Path, spec: &FileSpec) -> Result<Vec<u8>> {
    let name = path.display().to_string();
    // A .gz of incompressible data is a little larger than the data; 1 MiB of slack covers gzip's overhead.
    let raw_cap = spec.len + (1 << 20);
    let meta = fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.len() > raw_cap {
        return Err(Error::TooLarge {
            file: name,
            limit: raw_cap,
            decompressed: false,
        });
    }
    let raw = fs::read(path).map_err(|e| Error::io(path, e))?;
    let data = if gz::is_gzip(&raw) {
        // One byte beyond the exact length lets an over-long file reach the parser's clearer
        // "trailing data" error, while still bounding the allocation.
        gz::gunzip_capped(&name, &raw[..], spec.len + 1)?
    } else {
        raw
    };
    if let Some(sha) = &spec.sha256 {
        verify::check_sha256(&name, &data, sha)?;
    }
    Ok(data)
}

/// Where a dataset's files live and where they come from, for [`obtain_file`].
struct FileSource<'a> {
    dataset: &'a str,
    folder: &'static str,
    dir: &'a Path,
    mirrors: &'a [String],
    root_source: &'static str,
}

impl<'a> FileSource<'a> {
    fn new(
        dataset: &'a str,
        folder: &'static str,
        mirrors: &'a [String],
        dir: &'a Path,
        root_source: &'static str,
    ) -> Self {
        Self {
            dataset,
            folder,
            dir,
            mirrors,
            root_source,
        }
    }
}

/// One data file, verified against `file` and read by `read`: the first of `candidates` that
/// exists, or where none does (or the one found fails and `opts.download` is set), downloaded
/// from the mirrors to `candidates[0]` first.
fn obtain_file<T>(
    from: &FileSource<'_>,
    file: &FileSpec,
    candidates: [PathBuf; 2],
    opts: &DataOptions,
    read: &dyn Fn(&str, &[u8]) -> Result<T>,
) -> Result<T> {
    let dest = candidates[0].clone();
    if let Some(path) = first_file(candidates)? {
        let name = path.display().to_string();
        match read_checked(&path, file).and_then(|d| read(&name, &d)) {
            Ok(t) => return Ok(t),
            Err(e) if !opts.download => return Err(e),
            Err(_) => {} // a corrupt copy and --download: fetch a good one over it
        }
    } else if !opts.download {
        return Err(Error::Missing {
            dataset: from.dataset.into(),
            file: file.name.clone(),
            dir: from.dir.to_path_buf(),
            folder: from.folder,
            root_source: from.root_source,
        });
    }
    let verify_part = |part: &Path| -> Result<()> {
        if let Some(md5) = &file.md5 {
            let raw = fs::read(part).map_err(|e| Error::io(part, e))?;
            verify::check_md5(&format!("{} (downloaded)", file.name), &raw, md5)?;
        }
        let d = read_checked(part, file)?;
        read(&part.display().to_string(), &d).map(|_| ())
    };
    download(
        &download_options(from.mirrors, opts),
        &file.name,
        &dest,
        file.len + (1 << 20),
        &verify_part,
    )?;
    let d = read_checked(&dest, file)?;
    read(&dest.display().to_string(), &d)
}

pub(crate) fn load_idx_at(
    spec: &IdxSpec,
    split: Split,
    opts: &DataOptions,
    root: &Path,
    source: &'static str,
) -> Result<ImageSet> {
    let dir = root.join(spec.folder);
    let (img_spec, lbl_spec, count) = match split {
        Split::Train => &spec.train,
        Split::Test => &spec.test,
        Split::Valid => return Err(no_split(spec.folder, split)),
    };
    let (rows, cols, count) = (spec.rows, spec.cols, *count);
    let from = FileSource::new(spec.dataset, spec.folder, &spec.mirrors, &dir, source);
    // The canonical name (gzipped), else the file as it unpacks.
    let candidates = |file: &FileSpec| {
        [
            dir.join(&file.name),
            dir.join(file.name.trim_end_matches(".gz")),
        ]
    };
    let images = obtain_file(&from, img_spec, candidates(img_spec), opts, &|name, d| {
        check_idx_images(name, d, count, rows, cols)
    })?;
    let labels = obtain_file(&from, lbl_spec, candidates(lbl_spec), opts, &|name, d| {
        check_idx_labels(name, d, count)
    })?;
    ImageSet::new(images.pixels, labels, [1, rows, cols])
}

/// Parses an IDX images file and checks it holds `count` images of `rows × cols`.
pub(crate) fn check_idx_images(
    name: &str,
    d: &[u8],
    count: usize,
    rows: usize,
    cols: usize,
) -> Result<idx::IdxImages> {
    let im = idx::parse_images(name, d)?;
    if (im.count, im.rows, im.cols) != (count, rows, cols) {
        return Err(Error::BadShape {
            file: name.into(),
            offset: 4,
            expected: format!("[{count}, {rows}, {cols}]"),
            found: format!("[{}, {}, {}]", im.count, im.rows, im.cols),
        });
    }
    Ok(im)
}

/// Parses an IDX labels file and checks it holds `count` labels in `0..10`.
pub(crate) fn check_idx_labels(name: &str, d: &[u8], count: usize) -> Result<Vec<u8>> {
    let lb = idx::parse_labels(name, d, 10)?;
    if lb.len() != count {
        return Err(Error::BadShape {
            file: name.into(),
            offset: 4,
            expected: format!("[{count}]"),
            found: format!("[{}]", lb.len()),
        });
    }
    Ok(lb)
}

/// The CIFAR-10 files and archive.
#[derive(Clone, Debug)]
pub(crate) struct CifarSpec {
    pub mirrors: Vec<String>,
    pub archive: String,
    pub archive_md5: Option<String>,
    pub archive_max: u64,
    pub records_per_file: usize,
}

/// The CIFAR-10 folder under the root, and the folder inside it that holds the batches.
const CIFAR_FOLDER: &str = "cifar10";
const CIFAR_BATCHES: &str = "cifar-10-batches-bin";
const CIFAR_TRAIN: [&str; 5] = [
    "data_batch_1.bin",
    "data_batch_2.bin",
    "data_batch_3.bin",
    "data_batch_4.bin",
    "data_batch_5.bin",
];
const CIFAR_TEST: &str = "test_batch.bin";

impl CifarSpec {
    fn canonical() -> Self {
        Self {
            mirrors: CIFAR10_MIRRORS.map(String::from).to_vec(),
            archive: "cifar-10-binary.tar.gz".into(),
            archive_md5: Some(CIFAR10_ARCHIVE_MD5.into()),
            // The archive is 170,052,171 bytes.
            archive_max: 200 << 20,
            records_per_file: 10_000,
        }
    }
}

fn cifar_file_path(dir: &Path, name: &str) -> Result<Option<PathBuf>> {
    first_file([dir.join(name), dir.join(format!("{name}.gz"))])
}

/// The first of `candidates` that is a file; `None` when none exists, and an error naming the
/// path when one exists but is not a file (a directory named like the data file is no "missing file").
fn first_file<const N: usize>(candidates: [PathBuf; N]) -> Result<Option<PathBuf>> {
    if let Some(file) = candidates.iter().find(|p| p.is_file()) {
        return Ok(Some(file.clone()));
    }
    match candidates.into_iter().find(|p| p.exists()) {
        Some(path) => Err(Error::NotAFile { path }),
        None => Ok(None),
    }
}

fn read_cifar_file(path: &Path, records: usize) -> Result<(Vec<u8>, Vec<u8>)> {
    let name = path.display().to_string();
    let len = (records * cifar::RECORD_BYTES) as u64;
    let spec = FileSpec {
        name: name.clone(),
        sha256: None,
        md5: None,
        len,
    };
    let d = read_checked(path, &spec)?;
    let (px, lb) = cifar::parse_batch(&name, &d)?;
    if lb.len() != records {
        return Err(Error::BadShape {
            file: name,
            offset: 0,
            expected: format!("{records} records"),
            found: format!("{} records", lb.len()),
        });
    }
    Ok((px, lb))
}

pub(crate) fn load_cifar_at(
    spec: &CifarSpec,
    split: Split,
    opts: &DataOptions,
    root: &Path,
    source: &'static str,
) -> Result<ImageSet> {
    let folder = root.join(CIFAR_FOLDER);
    let dir = folder.join(CIFAR_BATCHES);
    let names: Vec<&str> = match split {
        Split::Train => CIFAR_TRAIN.to_vec(),
        Split::Test => vec![CIFAR_TEST],
        Split::Valid => return Err(no_split(CIFAR_FOLDER, split)),
    };
    let mut missing = None;
    for n in &names {
        if cifar_file_path(&dir, n)?.is_none() {
            missing = missing.or(Some(*n));
        }
    }
    if let Some(m) = missing {
        if !opts.download {
            return Err(Error::Missing {
                dataset: "CIFAR-10".into(),
                file: (*m).into(),
                dir: dir.clone(),
                folder: "cifar10/cifar-10-batches-bin",
                root_source: source,
            });
        }
        fetch_cifar_archive(spec, opts, &folder, &dir)?;
    }
    let mut images = Vec::new();
    let mut labels = Vec::new();
    for n in names {
        let path = cifar_file_path(&dir, n)?.ok_or_else(|| Error::Missing {
            dataset: "CIFAR-10".into(),
            file: n.into(),
            dir: dir.clone(),
            folder: "cifar10/cifar-10-batches-bin",
            root_source: source,
        })?;
        let (px, lb) = read_cifar_file(&path, spec.records_per_file)?;
        images.extend_from_slice(&px);
        labels.extend_from_slice(&lb);
    }
    ImageSet::new(images, labels, [3, 32, 32])
}

/// Downloads and verifies the archive, then extracts the six batch files into `dir`.
fn fetch_cifar_archive(
    spec: &CifarSpec,
    opts: &DataOptions,
    folder: &Path,
    dir: &Path,
) -> Result<()> {
    let archive = folder.join(&spec.archive);
    let verify_archive = |part: &Path| -> Result<()> {
        let Some(md5) = &spec.archive_md5 else {
            return Ok(());
        };
        let mut f = fs::File::open(part).map_err(|e| Error::io(part, e))?;
        let mut h = <crate::md5::Md5 as md5::Digest>::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = f.read(&mut buf).map_err(|e| Error::io(part, e))?;
            if n == 0 {
                break;
            }
            md5::Digest::update(&mut h, &buf[..n]);
        }
        let found = verify::hex(&md5::Digest::finalize(h));
        if found.eq_ignore_ascii_case(md5) {
            Ok(())
        } else {
            Err(Error::Checksum {
                file: spec.archive.clone(),
                algorithm: "MD5",
                decompressed: false,
                expected: md5.clone(),
                found,
            })
        }
    };
    if !archive.is_file() || verify_archive(&archive).is_err() {
        download(
            &download_options(&spec.mirrors, opts),
            &spec.archive,
            &archive,
            spec.archive_max,
            &verify_archive,
        )?;
    }
    extract_cifar(&archive, dir, spec.records_per_file)?;
    // The batches are now in place and verified structurally; the 170 MB archive is no longer needed.
    let _ = fs::remove_file(&archive);
    Ok(())
}

/// Extracts `cifar-10-batches-bin/{data_batch_1..5,test_batch}.bin` from a `.tar.gz`, each through a
/// `.part` file and a structural check.
pub(crate) fn extract_cifar(archive: &Path, dir: &Path, records: usize) -> Result<()> {
    fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let name = archive.display().to_string();
    let f = fs::File::open(archive).map_err(|e| Error::io(archive, e))?;
    let decoder = flate2::read::MultiGzDecoder::new(std::io::BufReader::new(f));
    let wanted: Vec<String> = CIFAR_TRAIN
        .iter()
        .chain([&CIFAR_TEST])
        .map(|n| format!("{CIFAR_BATCHES}/{n}"))
        .collect();
    let mut done = Vec::new();
    let size = (records * cifar::RECORD_BYTES) as u64;
    tar::for_each_file(&name, decoder, 1 << 30, |member, len, reader| {
        let member = member.trim_start_matches("./");
        let Some(w) = wanted.iter().find(|w| w.as_str() == member) else {
            return Ok(());
        };
        if len != size {
            return Err(Error::BadShape {
                file: format!("{name}:{member}"),
                offset: 124,
                expected: format!("{size} bytes"),
                found: format!("{len} bytes"),
            });
        }
        let file_name = &w[CIFAR_BATCHES.len() + 1..];
        let dest = dir.join(file_name);
        let part = dir.join(format!("{file_name}.part"));
        let mut data = Vec::with_capacity(size as usize);
        reader
            .read_to_end(&mut data)
            .map_err(|e| Error::io(archive, e))?;
        cifar::parse_batch(&format!("{name}:{member}"), &data)?;
        fs::write(&part, &data).map_err(|e| Error::io(&part, e))?;
        fs::rename(&part, &dest).map_err(|e| Error::io(&dest, e))?;
        done.push(file_name.to_string());
        Ok(())
    })?;
    if let Some(m) = wanted
        .iter()
        .find(|w| !done.iter().any(|d| w.ends_with(d.as_str())))
    {
        return Err(Error::Tar {
            file: name,
            offset: 0,
            expected: format!("member {m}"),
            found: "end of archive".into(),
        });
    }
    Ok(())
}

#[cfg(all(test, feature = "download"))]
mod tests {
    use super::*;
    use crate::download::test_server::{Mode, start};
    use std::collections::HashMap;
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
        e.write_all(data).expect("in-memory");
        e.finish().expect("in-memory")
    }

    /// A tiny fixed-binarized dataset (2×2 images: 3 train, 1 valid, 2 test), its `.amat` texts
    /// by file name, and the pixels each split must give.
    fn tiny_binarized(mirrors: Vec<String>) -> (BinarizedSpec, HashMap<String, Vec<u8>>) {
        let splits = [
            ("train", "0 1 1 0\n1 1 1 1\n0 0 0 1\n"),
            ("valid", "1 0 0 0\n"),
            ("test", "0 0 1 1\n1 0 1 0\n"),
        ];
        let mut files = HashMap::new();
        let specs = splits.map(|(split, text)| {
            let name = format!("binarized_mnist_{split}.amat");
            files.insert(name.clone(), text.as_bytes().to_vec());
            (
                FileSpec {
                    name,
                    sha256: Some(verify::sha256_hex(text.as_bytes())),
                    md5: None,
                    len: text.len() as u64,
                },
                text.lines().count(),
            )
        });
        (
            BinarizedSpec {
                folder: "bin",
                mirrors,
                side: 2,
                splits: specs,
            },
            files,
        )
    }

    #[test]
    fn binarized_splits_load_from_amat_or_amat_gz_and_are_verified() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (spec, files) = tiny_binarized(vec![]);
        let folder = dir.path().join("bin");
        fs::create_dir_all(&folder).expect("mkdir");
        for (name, text) in &files {
            if name.contains("train") {
                fs::write(folder.join(format!("{name}.gz")), gz(text)).expect("write");
            } else {
                fs::write(folder.join(name), text).expect("write");
            }
        }
        let opts = DataOptions::default();
        let load = |split| load_binarized_at(&spec, split, &opts, dir.path(), "--data-dir");
        let train = load(Split::Train).expect("train from .amat.gz");
        assert_eq!((train.len(), train.shape()), (3, [1, 2, 2]));
        assert_eq!(train.image(0), &[0, 255, 255, 0]);
        assert_eq!(train.image(2), &[0, 0, 0, 255]);
        assert_eq!(load(Split::Valid).expect("valid").image(0), &[255, 0, 0, 0]);
        assert_eq!(load(Split::Test).expect("test").len(), 2);
        // A flipped value fails the checksum, with the file named.
        fs::write(
            folder.join("binarized_mnist_test.amat"),
            "0 0 1 1\n1 0 1 1\n",
        )
        .expect("write");
        let err = load(Split::Test).expect_err("checksum").to_string();
        assert!(
            err.contains("binarized_mnist_test.amat") && err.contains("SHA-256"),
            "{err}"
        );
        // A malformed file is named with its line and column (the checksum is the parser's guard
        // only when one is pinned; this spec pins none for it).
        let mut unpinned = spec.clone();
        unpinned.splits[2].0.sha256 = None;
        fs::write(
            folder.join("binarized_mnist_test.amat"),
            "0 0 1 1\n1 0 2 0\n",
        )
        .expect("write");
        let err = load_binarized_at(&unpinned, Split::Test, &opts, dir.path(), "--data-dir")
            .expect_err("bad token")
            .to_string();
        assert!(err.contains("line 2, column 5"), "{err}");
        // A missing file says where it was looked for and how to get it.
        fs::remove_file(folder.join("binarized_mnist_test.amat")).expect("rm");
        let err = load(Split::Test).expect_err("missing");
        assert!(matches!(err, Error::Missing { .. }), "{err}");
        assert!(err.to_string().contains("--download"), "{err}");
    }

    #[test]
    fn binarized_files_download_from_a_local_mirror() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (_, files) = tiny_binarized(vec![]);
        let server = start(files, Mode::Normal);
        let (spec, _) = tiny_binarized(vec![server.base.clone()]);
        let opts = DataOptions {
            download: true,
            ..Default::default()
        };
        let set = load_binarized_at(&spec, Split::Valid, &opts, dir.path(), "--data-dir")
            .expect("downloaded");
        assert_eq!(set.image(0), &[255, 0, 0, 0]);
        assert!(dir.path().join("bin/binarized_mnist_valid.amat").is_file());
    }

    #[test]
    fn only_the_binarized_mnist_has_a_validation_split() {
        assert!(DatasetKind::BinarizedMnist.has_validation());
        assert_eq!(DatasetKind::BinarizedMnist.classes(), 0);
        let err = load(
            DatasetKind::MnistMini,
            Split::Valid,
            &DataOptions::default(),
        )
        .expect_err("no valid split");
        assert_eq!(err.to_string(), "mnist-mini has no valid split");
        assert_eq!(
            "binarized-mnist".parse::<DatasetKind>().expect("a name"),
            DatasetKind::BinarizedMnist
        );
    }

    /// A tiny IDX dataset (3 train and 2 test 4×5 images), with or without checksums.
    /// The tiny dataset's folder under `root`, created and holding `files`.
    fn write_tiny(root: &Path, files: &HashMap<String, Vec<u8>>) -> PathBuf {
        let folder = root.join("tiny");
        fs::create_dir_all(&folder).expect("mkdir");
        for (name, bytes) in files {
            fs::write(folder.join(name), bytes).expect("write");
        }
        folder
    }

    fn tiny_spec(with_sha: bool, mirrors: Vec<String>) -> (IdxSpec, HashMap<String, Vec<u8>>) {
        let mut files = HashMap::new();
        let mut mk = |name: &str, dims: &[u32], data: Vec<u8>| {
            let raw = idx::encode(dims, &data);
            let spec = FileSpec {
                name: name.into(),
                sha256: with_sha.then(|| verify::sha256_hex(&raw)),
                md5: None,
                len: raw.len() as u64,
            };
            files.insert(name.to_string(), gz(&raw));
            spec
        };
        let train = (
            mk("train-images-idx3-ubyte.gz", &[3, 4, 5], (0..60).collect()),
            mk("train-labels-idx1-ubyte.gz", &[3], vec![1, 2, 3]),
            3,
        );
        let test = (
            mk(
                "t10k-images-idx3-ubyte.gz",
                &[2, 4, 5],
                (100..140).collect(),
            ),
            mk("t10k-labels-idx1-ubyte.gz", &[2], vec![9, 0]),
            2,
        );
        (
            IdxSpec {
                dataset: "Tiny",
                folder: "tiny",
                mirrors,
                rows: 4,
                cols: 5,
                train,
                test,
            },
            files,
        )
    }

    #[test]
    fn names_round_trip_and_unknown_lists_valid_names() {
        for k in DatasetKind::ALL {
            assert_eq!(k.to_string().parse::<DatasetKind>().ok(), Some(k));
        }
        let e = "cifar".parse::<DatasetKind>().expect_err("unknown");
        assert_eq!(
            e.to_string(),
            "unknown dataset \"cifar\": expected one of mnist, fashion-mnist, cifar10, mnist-mini, \
             binarized-mnist, toy-ring8, toy-grid25"
        );
    }

    #[test]
    fn root_resolution_order() {
        let cache = Some(PathBuf::from("/c"));
        let env = Some(OsString::from("/e"));
        assert_eq!(
            resolve_root(Some(Path::new("/x")), env.clone(), cache.clone()),
            Some((PathBuf::from("/x"), "--data-dir"))
        );
        assert_eq!(
            resolve_root(None, env, cache.clone()),
            Some((PathBuf::from("/e"), "GENZOO_DATA_DIR"))
        );
        assert_eq!(
            resolve_root(None, Some(OsString::new()), cache.clone()).map(|r| r.0),
            Some(PathBuf::from("/c/genzoo"))
        );
        assert_eq!(resolve_root(None, None, None), None);
    }

    /// An empty data root and the options that read from it, without downloading.
    fn empty_root() -> (tempfile::TempDir, DataOptions) {
        let dir = tempfile::tempdir().expect("tempdir");
        let opts = DataOptions {
            data_dir: Some(dir.path().to_path_buf()),
            ..Default::default()
        };
        (dir, opts)
    }

    #[test]
    fn a_directory_named_like_a_data_file_is_named_as_such() {
        let (dir, opts) = empty_root();
        for (kind, path) in [
            (DatasetKind::Mnist, "mnist/t10k-images-idx3-ubyte"),
            (
                DatasetKind::Cifar10,
                "cifar10/cifar-10-batches-bin/test_batch.bin.gz",
            ),
        ] {
            let taken = dir.path().join(path);
            fs::create_dir_all(&taken).expect("mkdir");
            let e = load(kind, Split::Test, &opts).expect_err("a directory");
            assert!(matches!(e, Error::NotAFile { .. }), "{e:?}");
            let msg = e.to_string();
            assert!(
                msg.contains(&taken.display().to_string()) && !msg.contains("not found"),
                "{msg}"
            );
        }
    }

    #[test]
    fn missing_offline_names_dir_env_and_flag() {
        let (dir, opts) = empty_root();
        for kind in [
            DatasetKind::Mnist,
            DatasetKind::FashionMnist,
            DatasetKind::Cifar10,
        ] {
            let e = load(kind, Split::Test, &opts).expect_err("missing");
            let msg = e.to_string();
            assert!(matches!(e, Error::Missing { .. }), "{e:?}");
            assert!(msg.contains(&dir.path().display().to_string()), "{msg}");
            assert!(
                msg.contains("GENZOO_DATA_DIR")
                    && msg.contains("--download")
                    && msg.contains("--data-dir"),
                "{msg}"
            );
        }
    }

    #[test]
    fn loads_gz_and_plain_files_and_checks_sha() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (spec, files) = tiny_spec(true, vec![]);
        let folder = write_tiny(dir.path(), &files);
        // The training images stored decompressed under the plain name instead.
        let (name, bytes) = files
            .iter()
            .find(|(name, _)| name.starts_with("train-images"))
            .expect("training images");
        fs::remove_file(folder.join(name)).expect("remove");
        let raw = gz::maybe_gunzip(name, bytes.clone(), 1 << 20).expect("gz");
        fs::write(folder.join(name.trim_end_matches(".gz")), raw).expect("write");
        let opts = DataOptions::default();
        let set = load_idx_at(&spec, Split::Train, &opts, dir.path(), "--data-dir").expect("valid");
        assert_eq!((set.len(), set.shape(), set.label(2)), (3, [1, 4, 5], 3));
        assert_eq!(set.image(1)[0], 20);
        let test = load_idx_at(&spec, Split::Test, &opts, dir.path(), "--data-dir").expect("valid");
        assert_eq!((test.len(), test.label(0)), (2, 9));

        // A corrupt copy is named with both hashes when no download is allowed.
        fs::write(
            folder.join("t10k-labels-idx1-ubyte.gz"),
            gz(&idx::encode(&[2], &[9, 1])),
        )
        .expect("write");
        let e =
            load_idx_at(&spec, Split::Test, &opts, dir.path(), "--data-dir").expect_err("corrupt");
        assert!(matches!(e, Error::Checksum { .. }), "{e:?}");
    }

    #[test]
    fn structural_checks_without_sha() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (spec, files) = tiny_spec(false, vec![]);
        let folder = write_tiny(dir.path(), &files);
        // Labels with the wrong count: a BadShape naming expected and found.
        fs::write(
            folder.join("t10k-labels-idx1-ubyte.gz"),
            gz(&idx::encode(&[3], &[1, 2, 3])),
        )
        .expect("write");
        let opts = DataOptions::default();
        let e = load_idx_at(&spec, Split::Test, &opts, dir.path(), "x").expect_err("bad count");
        assert!(e.to_string().contains("expected [2], found [3]"), "{e}");
        // A label out of range.
        fs::write(
            folder.join("t10k-labels-idx1-ubyte.gz"),
            gz(&idx::encode(&[2], &[1, 12])),
        )
        .expect("write");
        let e = load_idx_at(&spec, Split::Test, &opts, dir.path(), "x").expect_err("bad label");
        assert!(matches!(e, Error::BadLabel { found: 12, .. }), "{e:?}");
    }

    #[test]
    fn downloads_missing_idx_files_from_a_local_mirror() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (_, files) = tiny_spec(true, vec![]);
        let server = start(files, Mode::Normal);
        let (spec, _) = tiny_spec(true, vec![server.base.clone()]);
        let opts = DataOptions {
            download: true,
            ..Default::default()
        };
        let set =
            load_idx_at(&spec, Split::Train, &opts, dir.path(), "--data-dir").expect("downloaded");
        assert_eq!(set.len(), 3);
        assert!(dir.path().join("tiny/train-images-idx3-ubyte.gz").is_file());
        // A second load is served from disk.
        let n = server.log.lock().expect("log").len();
        load_idx_at(&spec, Split::Train, &opts, dir.path(), "--data-dir").expect("cached");
        assert_eq!(server.log.lock().expect("log").len(), n);
    }

    fn cifar_batch(n: usize, salt: u8) -> Vec<u8> {
        let mut out = Vec::new();
        for i in 0..n {
            out.push(((i + salt as usize) % 10) as u8);
            out.extend((0..cifar::IMAGE_BYTES).map(|p| ((p + i) % 256) as u8 ^ salt));
        }
        out
    }

    #[test]
    fn cifar_download_extract_and_load() {
        let batches: Vec<(String, Vec<u8>)> = CIFAR_TRAIN
            .iter()
            .chain([&CIFAR_TEST])
            .enumerate()
            .map(|(i, n)| (format!("{CIFAR_BATCHES}/{n}"), cifar_batch(2, i as u8)))
            .collect();
        let mut members: Vec<(&str, &[u8])> = vec![("cifar-10-batches-bin/readme.html", b"<html>")];
        members.extend(batches.iter().map(|(n, d)| (n.as_str(), d.as_slice())));
        let archive = gz(&tar::build(&members));
        let server = start(
            HashMap::from([("cifar-10-binary.tar.gz".to_string(), archive.clone())]),
            Mode::Normal,
        );
        let spec = CifarSpec {
            mirrors: vec![server.base.clone()],
            archive: "cifar-10-binary.tar.gz".into(),
            archive_md5: Some(crate::md5::md5_hex(&archive)),
            archive_max: 1 << 20,
            records_per_file: 2,
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let offline = DataOptions::default();
        assert!(matches!(
            load_cifar_at(&spec, Split::Train, &offline, dir.path(), "x"),
            Err(Error::Missing { .. })
        ));
        let opts = DataOptions {
            download: true,
            ..Default::default()
        };
        let train = load_cifar_at(&spec, Split::Train, &opts, dir.path(), "x").expect("downloaded");
        assert_eq!((train.len(), train.shape()), (10, [3, 32, 32]));
        assert_eq!(train.label(2), 1); // batch 2 (salt 1), record 0
        let test = load_cifar_at(&spec, Split::Test, &offline, dir.path(), "x").expect("extracted");
        assert_eq!(test.labels(), [5, 6]);
        assert!(!dir.path().join("cifar10/cifar-10-binary.tar.gz").exists());

        // A wrong archive checksum is refused and nothing is extracted.
        let dir2 = tempfile::tempdir().expect("tempdir");
        let bad = CifarSpec {
            archive_md5: Some("00000000000000000000000000000000".into()),
            ..spec
        };
        let e = load_cifar_at(&bad, Split::Test, &opts, dir2.path(), "x").expect_err("md5");
        assert!(e.to_string().contains("MD5 mismatch"), "{e}");
        assert!(
            !dir2
                .path()
                .join("cifar10/cifar-10-batches-bin/test_batch.bin")
                .exists()
        );
    }

    /// Full MNIST through the public entry point, when `GENZOO_DATA_DIR` points at a copy.
    #[test]
    fn real_mnist_when_available() {
        let Some(root) = std::env::var_os(DATA_DIR_ENV) else {
            return;
        };
        let opts = DataOptions {
            data_dir: Some(PathBuf::from(root)),
            ..Default::default()
        };
        let test = load(DatasetKind::Mnist, Split::Test, &opts).expect("real MNIST test split");
        assert_eq!((test.len(), test.shape()), (10_000, [1, 28, 28]));
        assert_eq!(test.label(0), 7); // the famous first test digit
        let train = load(DatasetKind::Mnist, Split::Train, &opts).expect("real MNIST train split");
        assert_eq!((train.len(), train.label(0)), (60_000, 5));
    }
}
