//! # genzoo-train — the run loop every genzoo model uses
//!
//! A run lives in a directory ([`RunDir`]): the resolved `config.toml`, `metrics.jsonl`,
//! `summary.json`, sample grids in `samples/`, atomic checkpoints in `checkpoints/` and a
//! self-contained `report.html`. [`train`] drives any [`Task`] (one model family's networks and
//! optimizers) through minibatch steps with exact resume, a NaN guard and clean Ctrl-C handling.
//!
//! ```
//! use genzoo_train::{Checkpoint, CheckpointMeta};
//! let ckpt = Checkpoint {
//!     meta: CheckpointMeta {
//!         model: "autoencoder".into(), step: 3, epoch: 0, batch_in_epoch: 3,
//!         rng: [1, 2, 3, 4], best: None, genzoo_version: "0.1.0".into(),
//!     },
//!     sections: vec![("model".into(), vec![1, 2, 3])],
//! };
//! let bytes = ckpt.to_bytes();
//! assert_eq!(Checkpoint::from_bytes("x.ckpt".as_ref(), &bytes).unwrap(), ckpt);
//! ```

pub mod backend;
pub mod bench;
pub mod capability;
pub mod checkpoint;
pub mod config;
pub mod error;
pub mod fsutil;
pub mod image;
pub mod memory;
pub mod pretrained;
pub mod protocol;
pub mod report;
pub mod run;
pub mod scalar;
pub mod signal;
pub mod state;
pub mod svg;
pub mod tensorboard;
pub mod trainer;
pub mod weights;

pub use backend::Backend;
pub use capability::{BoundOptions, Complete, Generate, GenerateClass, LikelihoodBounds};
pub use checkpoint::{Checkpoint, CheckpointMeta};
pub use error::{Error, Result};
pub use pretrained::Pretrained;
pub use run::RunDir;
pub use scalar::Scalar;
pub use trainer::{
    Batches, Budget, Figure, Grid, StepBatches, StepOutput, Task, TrainOptions, train,
    train_with_validation, validation_name,
};
pub use weights::{Layout, WeightsFile};
