//! A run's checkpoint in the forms users take elsewhere (`grpo-xla export`):
//!
//! - `orbax`: the merged model as an Orbax checkpoint in a Tunix `CheckpointManager` root,
//!   `<out>/<step>/model_params/` (Tunix's nnx tree, or Google's upstream Gemma 3 tree), f32 or
//!   bf16, with the model's config.json and tokenizer files in `<out>`.
//! - `lora`: only the adapters, in qwix's names, in the same layout; `<out>/lora.json` holds the
//!   rank, alpha and scale α/r, which a Tunix LoRA model is built with before restoring.
//! - `safetensors`: the merged model as an HF folder (what every checkpoint holds already).
//! - `run`: the run folder cut down to what resuming needs (config, metrics, the SFT result and
//!   the one checkpoint), to upload as a Kaggle model and resume from in the next session.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::checkpoint::{self, read_arrays};
use super::config::TrainConfig;
use crate::models::tunix_trees::{self, Tree};
use crate::models::{hf, orbax, DType, LoadedModel};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    Orbax,
    Lora,
    Safetensors,
    Run,
}

pub struct ExportRequest<'a> {
    pub run: &'a Path,
    /// The checkpoint's step; None: the newest complete one.
    pub step: Option<usize>,
    pub format: ExportFormat,
    pub out: &'a Path,
    pub dtype: DType,
    pub tree: Tree,
}

/// Exports one checkpoint of a run; returns the folder a restore reads (the Orbax tree, or the
/// HF folder).
pub fn export(req: &ExportRequest) -> Result<PathBuf> {
    let ckpt = match req.step {
        Some(step) => {
            let dir = checkpoint::step_dir(req.run, step);
            if !dir.join("state.json").is_file() {
                bail!("{} is not a complete checkpoint of this run", dir.display());
            }
            dir
        }
        None => checkpoint::latest(req.run)?
            .with_context(|| format!("{} has no complete checkpoint", req.run.display()))?,
    };
    let (state, _) = checkpoint::load_state(&ckpt)?;
    let model_dir = ckpt.join("model");
    std::fs::create_dir_all(req.out).with_context(|| format!("creating {}", req.out.display()))?;
    let tree_dir = req.out.join(state.step.to_string()).join("model_params");
    match req.format {
        ExportFormat::Run => {
            export_run(req.run, &ckpt, req.out)?;
            Ok(req.out.to_path_buf())
        }
        ExportFormat::Safetensors => {
            if req.dtype != DType::F32 {
                bail!("the safetensors export is f32 (Tunix converts on load); drop --dtype");
            }
            copy_files(&model_dir, req.out, true)?;
            Ok(req.out.to_path_buf())
        }
        ExportFormat::Orbax => {
            let model = LoadedModel::from_dir(&model_dir, req.dtype)?;
            let leaves = tunix_trees::to_leaves(&model.config, &model.params, req.tree)?;
            orbax::write(&tree_dir, &leaves)?;
            copy_files(&model_dir, req.out, false)?;
            Ok(tree_dir)
        }
        ExportFormat::Lora => {
            let cfg = TrainConfig::load(&req.run.join("config.yaml"))?;
            let lora = cfg
                .lora
                .with_context(|| format!("{}: the run has no lora section", req.run.display()))?;
            let path = ckpt.join("lora.safetensors");
            let leaves: Vec<orbax::Leaf> = read_arrays(&path)?
                .into_iter()
                .map(|(name, a)| {
                    let keys = name.split('.').map(str::to_string).chain(["value".into()]);
                    (keys.collect(), hf::converted(a, req.dtype.element_type()))
                })
                .collect();
            orbax::write(&tree_dir, &leaves)?;
            copy_files(&model_dir, req.out, false)?;
            let meta = serde_json::json!({
                "rank": lora.rank, "alpha": lora.alpha, "scale": lora.scale(),
                "module_path": lora.targets.iter().map(|t| format!(".*{t}")).collect::<Vec<_>>().join("|"),
            });
            let meta_path = req.out.join("lora.json");
            std::fs::write(&meta_path, serde_json::to_string_pretty(&meta)?)
                .with_context(|| format!("writing {}", meta_path.display()))?;
            Ok(tree_dir)
        }
    }
}

/// Copies what a resume reads: config.yaml, metrics.jsonl, sft_model/ (GRPO starts from it)
/// and the checkpoint `ckpt`, named `latest`. Written beside `out` and renamed into place.
fn export_run(run: &Path, ckpt: &Path, out: &Path) -> Result<()> {
    let tmp = out.with_extension("partial");
    let _ = std::fs::remove_dir_all(&tmp);
    let name = ckpt.file_name().context("a checkpoint folder has a name")?;
    let ckpts = tmp.join("checkpoints");
    copy_tree(ckpt, &ckpts.join(name))?;
    std::fs::write(ckpts.join("latest"), name.to_string_lossy().as_bytes())?;
    for file in ["config.yaml", "metrics.jsonl"] {
        if run.join(file).is_file() {
            std::fs::copy(run.join(file), tmp.join(file))
                .with_context(|| format!("copying {}", run.join(file).display()))?;
        }
    }
    if run.join("sft_model").is_dir() {
        copy_tree(&run.join("sft_model"), &tmp.join("sft_model"))?;
    }
    if out.exists() {
        std::fs::remove_dir_all(out).with_context(|| format!("replacing {}", out.display()))?;
    }
    std::fs::rename(&tmp, out).with_context(|| format!("renaming to {}", out.display()))
}

fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let path = entry?.path();
        let target = to.join(path.file_name().unwrap_or_default());
        if path.is_dir() {
            copy_tree(&path, &target)?;
        } else {
            std::fs::copy(&path, &target).with_context(|| format!("copying {}", path.display()))?;
        }
    }
    Ok(())
}

/// Copies the model folder's config and tokenizer files, and its weights if `weights`.
fn copy_files(model_dir: &Path, out: &Path, weights: bool) -> Result<()> {
    for entry in
        std::fs::read_dir(model_dir).with_context(|| format!("reading {}", model_dir.display()))?
    {
        let path = entry?.path();
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let wanted = name.ends_with(".json") || (weights && name.ends_with(".safetensors"));
        if path.is_file() && wanted {
            std::fs::copy(&path, out.join(&name))
                .with_context(|| format!("copying {} to {}", path.display(), out.display()))?;
        }
    }
    Ok(())
}
