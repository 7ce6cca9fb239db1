//! Checkpoint sections of a task: burn module records and optimizer states as named byte blobs,
//! and their loading with errors that name the checkpoint and the section.

use std::path::Path;

use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::store::{ModuleRecord, RecordError};
use burn::tensor::Bytes;
use genzoo_train::{Checkpoint, Error, Result};

fn serialize_err(e: RecordError) -> Error {
    Error::Config(format!("serializing state: {e}"))
}

fn mismatch(path: &Path, what: &str, e: RecordError) -> Error {
    Error::CheckpointMismatch {
        path: path.to_path_buf(),
        message: format!("{what}: {e}"),
    }
}

/// The section `(name, bytes)` of a module's record.
pub fn module_section<M: Module>(name: &str, module: &M) -> Result<(String, Vec<u8>)> {
    let bytes = module
        .clone()
        .into_record()
        .into_bytes()
        .map_err(serialize_err)?;
    Ok((name.to_string(), bytes.to_vec()))
}

/// The section `(name, bytes)` of an optimizer's state.
pub fn optim_section(name: &str, optim: &ModuleOptimizer) -> Result<(String, Vec<u8>)> {
    Ok((
        name.to_string(),
        optim.into_bytes().map_err(serialize_err)?.to_vec(),
    ))
}

/// `module` with the weights of section `name`; a record of another shape is a
/// [`Error::CheckpointMismatch`].
pub fn load_module<M: Module>(
    module: &M,
    checkpoint: &Checkpoint,
    path: &Path,
    name: &str,
) -> Result<M> {
    let bytes = Bytes::from_bytes_vec(checkpoint.section(path, name)?.to_vec());
    let record = ModuleRecord::from_bytes(bytes).map_err(|e| mismatch(path, name, e))?;
    module
        .clone()
        .try_load_record(record)
        .map_err(|e| mismatch(path, name, e))
}

/// `optim` with the state of section `name`.
pub fn load_optim(
    optim: &ModuleOptimizer,
    checkpoint: &Checkpoint,
    path: &Path,
    name: &str,
) -> Result<ModuleOptimizer> {
    let bytes = Bytes::from_bytes_vec(checkpoint.section(path, name)?.to_vec());
    optim
        .clone()
        .from_bytes(bytes)
        .map_err(|e| mismatch(path, name, e))
}
