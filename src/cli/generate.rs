//! `grpo-xla generate`: text from a model directory, streamed as it is decoded.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use grpo_xla::graph::Placement;
use grpo_xla::models::tokenizer::{chat_prompt, TextTokenizer};
use grpo_xla::models::{DType, LoadedModel};
use grpo_xla::rollout::stop::truncate_after_stop;
use grpo_xla::rollout::{Generator, SamplingParams};

use super::DeviceArgs;

#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// An HF-layout model directory (config.json, *.safetensors, tokenizer.json).
    #[arg(long, default_value = "models/gemma3-270m")]
    pub model: PathBuf,
    /// The prompt (omit with --interactive).
    #[arg(long)]
    pub prompt: Option<String>,
    /// Wrap the prompt in Gemma's chat template.
    #[arg(long)]
    pub chat: bool,
    #[arg(long, default_value_t = 128)]
    pub max_new_tokens: usize,
    /// 0 is greedy.
    #[arg(long, default_value_t = 0.0)]
    pub temperature: f32,
    #[arg(long)]
    pub top_k: Option<i64>,
    #[arg(long, default_value_t = 1.0)]
    pub top_p: f32,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Stop once the text contains this (repeatable), e.g. --stop '</answer>'.
    #[arg(long)]
    pub stop: Vec<String>,
    /// Read prompts from standard input, one per line.
    #[arg(long)]
    pub interactive: bool,
    /// Parameter type on the device.
    #[arg(long, value_enum, default_value = "f32")]
    pub dtype: DType,
    /// Tokens decoded per device call (smaller streams more often).
    #[arg(long, default_value_t = 8)]
    pub chunk: usize,
    #[command(flatten)]
    pub device: DeviceArgs,
}

pub fn run(args: &GenerateArgs) -> Result<()> {
    let model = LoadedModel::from_dir(&args.model, args.dtype)?;
    let tokenizer = model.tokenizer.clone();
    let placement = Placement::data_parallel(args.device.client()?);
    let mut generator = Generator::new(placement, model.config, &model.params, model.tokenizer)?;
    let sampling = SamplingParams {
        temperature: args.temperature,
        top_k: args.top_k,
        top_p: args.top_p,
        seed: args.seed,
        max_new_tokens: args.max_new_tokens,
        stop_strings: args.stop.clone(),
    };
    if args.interactive {
        let stdin = std::io::stdin();
        eprint!("> ");
        for line in stdin.lock().lines() {
            let line = line?;
            if !line.trim().is_empty() {
                complete(&mut generator, &tokenizer, &line, args, &sampling)?;
            }
            eprint!("> ");
        }
        return Ok(());
    }
    let prompt = args
        .prompt
        .as_deref()
        .context("give --prompt TEXT, or --interactive")?;
    complete(&mut generator, &tokenizer, prompt, args, &sampling)
}

fn complete(
    generator: &mut Generator,
    tokenizer: &TextTokenizer,
    prompt: &str,
    args: &GenerateArgs,
    sampling: &SamplingParams,
) -> Result<()> {
    let text = if args.chat {
        chat_prompt(prompt)
    } else {
        prompt.to_string()
    };
    let ids = tokenizer.encode(&text)?;
    let mut printed = String::new();
    let mut stdout = std::io::stdout();
    generator.generate(&[ids], 1, sampling, args.chunk, |rows| {
        let mut text = tokenizer.decode(&rows[0]);
        truncate_after_stop(&mut text, &sampling.stop_strings);
        if let Some(new) = text.strip_prefix(printed.as_str()) {
            let _ = write!(stdout, "{new}");
            let _ = stdout.flush();
            printed = text;
        }
    })?;
    println!();
    Ok(())
}
