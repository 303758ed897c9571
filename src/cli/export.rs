//! `grpo-xla export`: a run's checkpoint as an Orbax checkpoint Tunix restores, as LoRA adapters
//! alone, or as an HF safetensors folder.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use grpo_xla::models::tunix_trees::Tree;
use grpo_xla::models::DType;
use grpo_xla::train::export::{export, ExportFormat, ExportRequest};

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// The run folder (holds checkpoints/).
    #[arg(long)]
    run: PathBuf,
    /// The checkpoint's step [default: the newest complete one].
    #[arg(long)]
    step: Option<usize>,
    /// orbax: the merged model, restorable by Tunix (`<out>/<step>/model_params/`); lora: the
    /// adapters alone in qwix's names, same layout, with lora.json; safetensors: an HF folder;
    /// run: the run cut down to what `train --resume` needs (a Kaggle model for the next session).
    #[arg(long, value_enum)]
    format: ExportFormat,
    /// Where to write.
    #[arg(long)]
    out: PathBuf,
    /// Array type of the export (orbax and lora).
    #[arg(long, value_enum, default_value_t = DType::F32)]
    dtype: DType,
    /// The Orbax tree: Tunix's nnx state, or Google's upstream Gemma 3 checkpoint tree (read by
    /// `tunix.models.gemma3.params.create_model_from_checkpoint`).
    #[arg(long, value_enum, default_value_t = Tree::Nnx)]
    tree: Tree,
}

pub fn run(args: &ExportArgs) -> Result<()> {
    let written = export(&ExportRequest {
        run: &args.run,
        step: args.step,
        format: args.format,
        out: &args.out,
        dtype: args.dtype,
        tree: args.tree,
    })?;
    println!("wrote {}", written.display());
    Ok(())
}
