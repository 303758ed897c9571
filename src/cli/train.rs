//! `grpo-xla train` and `grpo-xla gen-data`.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use grpo_xla::train::trainer::{train, RunOptions};

use super::DeviceArgs;

#[derive(Args, Debug)]
pub struct TrainArgs {
    /// The training config (see configs/).
    #[arg(long)]
    pub config: PathBuf,
    /// Where metrics and checkpoints go (default: the config's training.output_dir).
    #[arg(long)]
    pub output_dir: Option<PathBuf>,
    /// Continue from the run's latest checkpoint.
    #[arg(long)]
    pub resume: bool,
    /// End this session after N steps (with a checkpoint); `--resume` continues.
    #[arg(long)]
    pub max_steps: Option<usize>,
    #[command(flatten)]
    pub device: DeviceArgs,
}

pub fn run(args: &TrainArgs) -> Result<()> {
    let run = train(
        &args.config,
        RunOptions {
            output_dir: args.output_dir.clone(),
            resume: args.resume,
            max_steps: args.max_steps,
        },
        args.device.client()?,
    )?;
    println!("run: {} (metrics.jsonl, checkpoints/)", run.display());
    Ok(())
}

#[derive(Args, Debug)]
pub struct GenDataArgs {
    #[arg(long, default_value_t = 256)]
    pub count: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long, default_value = "data/synthetic_reasoning_set.jsonl")]
    pub out: PathBuf,
}

pub fn gen_data(args: &GenDataArgs) -> Result<()> {
    let examples = grpo_xla::data::synthetic::generate(args.count, args.seed);
    let mut text = String::new();
    for e in &examples {
        text.push_str(&serde_json::to_string(e)?);
        text.push('\n');
    }
    std::fs::write(&args.out, text)?;
    println!(
        "wrote {} problems to {}",
        examples.len(),
        args.out.display()
    );
    Ok(())
}
