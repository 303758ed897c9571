//! `grpo-xla generate`: text from a model directory, streamed as it is decoded.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use grpo_xla::models::hf::{load_params, read_config};
use grpo_xla::models::tokenizer::{chat_prompt, GemmaTokenizer};
use grpo_xla::pjrt::ElementType;
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
    #[arg(long, default_value = "f32", value_parser = ["f32", "bf16"])]
    pub dtype: String,
    /// Tokens decoded per device call (smaller streams more often).
    #[arg(long, default_value_t = 8)]
    pub chunk: usize,
    #[command(flatten)]
    pub device: DeviceArgs,
}

pub fn run(args: &GenerateArgs) -> Result<()> {
    let mut cfg = read_config(&args.model)?;
    cfg.dtype = if args.dtype == "bf16" {
        ElementType::BF16
    } else {
        ElementType::F32
    };
    let tokenizer = GemmaTokenizer::load(&args.model)?;
    let params = load_params(&args.model, &cfg)
        .with_context(|| format!("loading {}", args.model.display()))?;
    let mut generator =
        Generator::new(args.device.client()?, cfg, &params, tokenizer.stop_tokens())?;
    drop(params);
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
    tokenizer: &GemmaTokenizer,
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
    let stops = tokenizer.stop_tokens();
    let mut printed = String::new();
    let mut stdout = std::io::stdout();
    generator.generate(&[ids], 1, sampling, args.chunk, |rows| {
        let tokens: Vec<u32> = rows[0]
            .iter()
            .copied()
            .take_while(|t| !stops.contains(t))
            .collect();
        let mut text = tokenizer.decode(&tokens).unwrap_or_default();
        let mut hit = false;
        for s in &sampling.stop_strings {
            if let Some(at) = text.find(s.as_str()) {
                text.truncate(at + s.len());
                hit = true;
            }
        }
        if let Some(new) = text.strip_prefix(printed.as_str()) {
            let _ = write!(stdout, "{new}");
            let _ = stdout.flush();
            printed = text;
        }
        vec![hit]
    })?;
    println!();
    Ok(())
}
