//! `grpo-xla train` and `grpo-xla gen-data`.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use grpo_xla::data::synthetic::{self, Split};
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
    /// Write worked examples in four domains with this split's phrasings (train and eval
    /// never share a phrasing); without it, the original small set.
    #[arg(long, value_enum)]
    pub split: Option<Split>,
    /// How many problems [default: 2000 train, 400 eval, 256 without --split].
    #[arg(long)]
    pub count: Option<usize>,
    /// The seed: the same seed writes the same file [default: 1 train, 2 eval, 0 without --split]
    #[arg(long)]
    pub seed: Option<u64>,
    /// Where to write [default: data/reasoning_train.jsonl, data/reasoning_eval.jsonl,
    /// data/synthetic_reasoning_set.jsonl without --split]
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn gen_data(args: &GenDataArgs) -> Result<()> {
    let examples = match args.split {
        Some(split) => synthetic::generate_split(
            split,
            args.count.unwrap_or(split.default_count()),
            args.seed.unwrap_or(split.default_seed()),
        ),
        None => synthetic::generate(args.count.unwrap_or(256), args.seed.unwrap_or(0)),
    };
    let out = args.out.clone().unwrap_or_else(|| {
        PathBuf::from(match args.split {
            Some(split) => split.default_out(),
            None => "data/synthetic_reasoning_set.jsonl",
        })
    });
    std::fs::write(&out, synthetic::to_jsonl(&examples))?;
    println!("wrote {} problems to {}", examples.len(), out.display());
    Ok(())
}
