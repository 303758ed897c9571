//! Checkpoints: `<run>/checkpoints/step_<n>/` holds the merged model in HF layout (loadable by
//! Tunix's `create_model_from_safe_tensors`), the LoRA adapters (qwix names and shapes,
//! as Tunix's LoRA model holds them), and the full training state
//! (trainable parameters, Adam moments, step, data cursor). Each is written to a temporary
//! folder and renamed, and `latest` names the newest complete one.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::graph::HostArray;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TrainState {
    /// Steps completed.
    pub step: usize,
    /// Position in the shuffled data: epoch and index within it.
    pub epoch: usize,
    pub cursor: usize,
}

/// Arrays by name, as a checkpoint stores them.
pub type NamedArrays = Vec<(String, HostArray)>;

pub fn checkpoints_dir(run: &Path) -> PathBuf {
    run.join("checkpoints")
}

pub fn step_dir(run: &Path, step: usize) -> PathBuf {
    checkpoints_dir(run).join(format!("step_{step:06}"))
}

/// Writes named f32 arrays as one safetensors file.
pub fn write_arrays(path: &Path, arrays: &[(String, HostArray)]) -> Result<()> {
    let views: Vec<(String, safetensors::tensor::TensorView)> = arrays
        .iter()
        .map(|(name, a)| {
            let dtype = match a.ty {
                crate::pjrt::ElementType::BF16 => safetensors::Dtype::BF16,
                crate::pjrt::ElementType::S32 => safetensors::Dtype::I32,
                _ => safetensors::Dtype::F32,
            };
            let shape = a.dims.iter().map(|&d| d as usize).collect();
            (
                name.clone(),
                safetensors::tensor::TensorView::new(dtype, shape, &a.bytes)
                    .expect("array sizes match"),
            )
        })
        .collect();
    safetensors::serialize_to_file(views, None, path)
        .with_context(|| format!("writing {}", path.display()))
}

pub fn read_arrays(path: &Path) -> Result<Vec<(String, HostArray)>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let st = safetensors::SafeTensors::deserialize(&bytes)
        .with_context(|| format!("{} is not a safetensors file", path.display()))?;
    let mut out: Vec<(String, HostArray)> = st
        .tensors()
        .into_iter()
        .map(|(name, v)| {
            let ty = match v.dtype() {
                safetensors::Dtype::BF16 => crate::pjrt::ElementType::BF16,
                safetensors::Dtype::I32 => crate::pjrt::ElementType::S32,
                _ => crate::pjrt::ElementType::F32,
            };
            (
                name,
                HostArray {
                    ty,
                    dims: v.shape().iter().map(|&d| d as i64).collect(),
                    bytes: v.data().to_vec(),
                },
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// Writes the merged model (HF layout) into the folder it is given.
pub type ModelWriter<'a> = Box<dyn FnOnce(&Path) -> Result<()> + 'a>;

/// Everything one checkpoint holds.
pub struct Checkpoint<'a> {
    pub state: &'a TrainState,
    /// Trainable tensors, mu, nu, by name.
    pub training_state: Vec<(String, HostArray)>,
    pub lora: Option<Vec<(String, HostArray)>>,
    pub write_model: ModelWriter<'a>,
}

/// Writes a checkpoint atomically and points `latest` at it.
pub fn save(run: &Path, ckpt: Checkpoint) -> Result<PathBuf> {
    let final_dir = step_dir(run, ckpt.state.step);
    let tmp = final_dir.with_extension("partial");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    write_arrays(&tmp.join("state.safetensors"), &ckpt.training_state)?;
    if let Some(lora) = &ckpt.lora {
        write_arrays(&tmp.join("lora.safetensors"), lora)?;
    }
    (ckpt.write_model)(&tmp.join("model"))?;
    std::fs::write(
        tmp.join("state.json"),
        serde_json::to_string_pretty(ckpt.state)?,
    )?;
    if final_dir.exists() {
        std::fs::remove_dir_all(&final_dir)?;
    }
    std::fs::rename(&tmp, &final_dir)
        .with_context(|| format!("renaming to {}", final_dir.display()))?;
    let latest = checkpoints_dir(run).join("latest");
    let latest_tmp = latest.with_extension("tmp");
    std::fs::write(
        &latest_tmp,
        final_dir.file_name().unwrap().to_string_lossy().as_bytes(),
    )?;
    std::fs::rename(&latest_tmp, &latest)?;
    Ok(final_dir)
}

/// The newest complete checkpoint of a run, if any.
pub fn latest(run: &Path) -> Result<Option<PathBuf>> {
    let latest = checkpoints_dir(run).join("latest");
    if !latest.exists() {
        return Ok(None);
    }
    let name = std::fs::read_to_string(&latest)?;
    let dir = checkpoints_dir(run).join(name.trim());
    anyhow::ensure!(
        dir.join("state.json").is_file(),
        "{} names {}, which is incomplete",
        latest.display(),
        dir.display()
    );
    Ok(Some(dir))
}

pub fn load_state(dir: &Path) -> Result<(TrainState, Vec<(String, HostArray)>)> {
    let state: TrainState =
        serde_json::from_str(&std::fs::read_to_string(dir.join("state.json"))?)?;
    Ok((state, read_arrays(&dir.join("state.safetensors"))?))
}
