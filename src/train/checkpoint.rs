//! Checkpoints: `<run>/checkpoints/step_<n>/` holds the merged model in HF layout (loadable by
//! Tunix's `create_model_from_safe_tensors`), the LoRA adapters (qwix names and shapes,
//! as Tunix's LoRA model holds them), and the full training state
//! (trainable parameters, Adam moments, step, data cursor). Each is written to a temporary
//! folder and renamed, and `latest` names the newest complete one.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::graph::HostArray;

/// Which phase of a run a step belongs to.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// The supervised warm start.
    Sft,
    #[default]
    Grpo,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct TrainState {
    /// The phase the last completed step belongs to (checkpoints from before phases: GRPO).
    #[serde(default)]
    pub phase: Phase,
    /// Steps completed, over all phases.
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

/// Whether `dir` holds a whole checkpoint: `state.json` is written last.
fn is_complete(dir: &Path) -> bool {
    dir.join("state.json").is_file()
}

/// Writes a checkpoint atomically and points `latest` at it. An older checkpoint of the same
/// step is replaced only once the new one is whole: it is moved aside, the new one renamed in,
/// then the old one removed (a crash in between leaves one of them, which `latest` finds).
pub fn save(run: &Path, ckpt: Checkpoint) -> Result<PathBuf> {
    let step = ckpt.state.step;
    let final_dir = step_dir(run, step);
    let tmp = final_dir.with_extension("partial");
    let written = write_whole(&tmp, ckpt);
    if let Err(e) = written {
        // A full disk or a lost permission: what was written of this one goes, the previous
        // checkpoint stays the newest.
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e.context(format!(
            "saving the checkpoint of step {step} in {} failed; nothing of it was kept",
            checkpoints_dir(run).display()
        )));
    }
    let old = final_dir.with_extension("old");
    if final_dir.exists() {
        let _ = std::fs::remove_dir_all(&old);
        std::fs::rename(&final_dir, &old)
            .with_context(|| format!("moving {} aside", final_dir.display()))?;
    }
    std::fs::rename(&tmp, &final_dir)
        .with_context(|| format!("renaming to {}", final_dir.display()))?;
    let latest = checkpoints_dir(run).join("latest");
    let latest_tmp = latest.with_extension("tmp");
    std::fs::write(
        &latest_tmp,
        final_dir.file_name().unwrap().to_string_lossy().as_bytes(),
    )
    .with_context(|| format!("writing {}", latest_tmp.display()))?;
    std::fs::rename(&latest_tmp, &latest)?;
    let _ = std::fs::remove_dir_all(&old);
    Ok(final_dir)
}

/// Writes every file of a checkpoint into `tmp`, `state.json` last (it marks the folder whole).
fn write_whole(tmp: &Path, ckpt: Checkpoint) -> Result<()> {
    let _ = std::fs::remove_dir_all(tmp);
    std::fs::create_dir_all(tmp).with_context(|| format!("creating {}", tmp.display()))?;
    write_arrays(&tmp.join("state.safetensors"), &ckpt.training_state)?;
    if let Some(lora) = &ckpt.lora {
        write_arrays(&tmp.join("lora.safetensors"), lora)?;
    }
    (ckpt.write_model)(&tmp.join("model"))?;
    std::fs::write(
        tmp.join("state.json"),
        serde_json::to_string_pretty(ckpt.state)?,
    )
    .with_context(|| format!("writing {}", tmp.join("state.json").display()))
}

/// Bytes free to this user on the filesystem holding `dir` (None where it cannot be asked).
pub fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: a valid NUL-terminated path and a statvfs struct to fill.
    let rc = unsafe { libc::statvfs(path.as_ptr(), &mut stat) };
    (rc == 0).then(|| stat.f_bavail as u64 * stat.f_frsize as u64)
}

/// Checks, before any training, that `run` can be written and has room for one checkpoint of
/// at least `checkpoint_bytes` (a read-only or full disk is reported now, not after an hour).
pub fn check_writable(run: &Path, checkpoint_bytes: u64) -> Result<()> {
    let probe = run.join(".write_probe");
    std::fs::write(&probe, b"probe")
        .with_context(|| format!("the output folder {} is not writable", run.display()))?;
    let _ = std::fs::remove_file(&probe);
    if let Some(free) = free_bytes(run) {
        if free < checkpoint_bytes {
            anyhow::bail!(
                "{} has {:.1} MB free, but one checkpoint of this model takes at least {:.1} MB: \
                 free some space or choose another --output-dir",
                run.display(),
                free as f64 / 1e6,
                checkpoint_bytes as f64 / 1e6
            );
        }
    }
    Ok(())
}

/// The newest complete checkpoint of a run, if any: the one `latest` names, or, when that one
/// is missing or incomplete (a crash while writing), the newest complete `step_*` folder
/// (a `step_*.old` left by a crash while replacing is renamed back first).
pub fn latest(run: &Path) -> Result<Option<PathBuf>> {
    let dir = checkpoints_dir(run);
    if !dir.is_dir() {
        return Ok(None);
    }
    if let Ok(name) = std::fs::read_to_string(dir.join("latest")) {
        let named = dir.join(name.trim());
        if is_complete(&named) {
            return Ok(Some(named));
        }
    }
    let entries = std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?;
    let mut complete = vec![];
    for entry in entries {
        let path = entry?.path();
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let Some(step) = name.strip_prefix("step_") else {
            continue;
        };
        let (digits, moved_aside) = match step.strip_suffix(".old") {
            Some(d) => (d, true),
            None => (step, false),
        };
        let Ok(n) = digits.parse::<usize>() else {
            continue;
        };
        if moved_aside {
            let original = step_dir(run, n);
            if original.exists() || !is_complete(&path) {
                continue;
            }
            std::fs::rename(&path, &original)
                .with_context(|| format!("restoring {}", original.display()))?;
            complete.push((n, original));
        } else if is_complete(&path) {
            complete.push((n, path));
        }
    }
    let newest = complete.into_iter().max_by_key(|(n, _)| *n).map(|(_, p)| p);
    if let Some(p) = &newest {
        tracing::warn!(
            "{} does not name a complete checkpoint; using {}",
            dir.join("latest").display(),
            p.display()
        );
    }
    Ok(newest)
}

pub fn load_state(dir: &Path) -> Result<(TrainState, Vec<(String, HostArray)>)> {
    let path = dir.join("state.json");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let state: TrainState = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a training state", path.display()))?;
    Ok((state, read_arrays(&dir.join("state.safetensors"))?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn save_step(run: &Path, step: usize, value: f32) -> PathBuf {
        let state = TrainState {
            step,
            cursor: value as usize,
            ..Default::default()
        };
        save(
            run,
            Checkpoint {
                state: &state,
                training_state: vec![("param.w".into(), HostArray::new(&[value], &[1]))],
                lora: None,
                write_model: Box::new(|dir: &Path| {
                    std::fs::create_dir_all(dir)?;
                    Ok(())
                }),
            },
        )
        .unwrap()
    }

    fn value_in(dir: &Path) -> f32 {
        load_state(dir).unwrap().1[0].1.to_vec::<f32>()[0]
    }

    #[test]
    fn saving_a_step_again_replaces_it_whole_and_leaves_nothing_behind() {
        let run = tempfile::tempdir().unwrap();
        save_step(run.path(), 2, 1.0);
        let dir = save_step(run.path(), 2, 5.0);
        assert_eq!(value_in(&dir), 5.0);
        let names: Vec<String> = std::fs::read_dir(checkpoints_dir(run.path()))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        let mut names = names;
        names.sort();
        assert_eq!(names, ["latest", "step_000002"]);
    }

    #[test]
    fn a_partial_folder_or_a_latest_naming_an_incomplete_checkpoint_falls_back_to_the_newest_whole_one(
    ) {
        let run = tempfile::tempdir().unwrap();
        assert_eq!(latest(run.path()).unwrap(), None);
        let two = save_step(run.path(), 2, 2.0);
        // A write of step 4 that died half way: a .partial folder, and (worse) a `latest`
        // naming a folder without state.json.
        let ckpts = checkpoints_dir(run.path());
        std::fs::create_dir_all(ckpts.join("step_000004.partial")).unwrap();
        std::fs::create_dir_all(ckpts.join("step_000006")).unwrap();
        std::fs::write(ckpts.join("latest"), "step_000006").unwrap();
        assert_eq!(latest(run.path()).unwrap(), Some(two.clone()));
        // The next save of step 4 succeeds over the leftover.
        let four = save_step(run.path(), 4, 4.0);
        assert_eq!(latest(run.path()).unwrap(), Some(four.clone()));
        assert_eq!(value_in(&four), 4.0);
        // A crash between moving step 4 aside and renaming its replacement in.
        std::fs::rename(&four, ckpts.join("step_000004.old")).unwrap();
        assert_eq!(latest(run.path()).unwrap(), Some(four.clone()));
        assert_eq!(value_in(&four), 4.0);
    }
}
