//! `grpo-xla eval`: format compliance, answer accuracy, mean reward and completion length of
//! greedy answers on a dataset; for a run, its base model and latest checkpoint side by side,
//! with the run's own rewards and stop strings.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use grpo_xla::data::{load_jsonl, prompt_text, BadLines};
use grpo_xla::graph::Placement;
use grpo_xla::models::{DType, LoadedModel};
use grpo_xla::rewards::{score_all, tunix_demo, WeightedReward};
use grpo_xla::rollout::stop::truncate_after_stop;
use grpo_xla::rollout::{Generator, SamplingParams};
use grpo_xla::train::config::TrainConfig;

use super::DeviceArgs;

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// A model directory (HF layout).
    #[arg(long, conflicts_with = "run")]
    pub model: Option<PathBuf>,
    /// A training run: compares its base model with its latest checkpoint.
    #[arg(long)]
    pub run: Option<PathBuf>,
    #[arg(long, default_value = "data/synthetic_reasoning_set.jsonl")]
    pub data: PathBuf,
    /// Evaluate the first N problems.
    #[arg(long, default_value_t = 32)]
    pub limit: usize,
    #[arg(long, default_value_t = 128)]
    pub max_new_tokens: usize,
    /// Prompts per device call.
    #[arg(long, default_value_t = 8)]
    pub batch: usize,
    #[command(flatten)]
    pub device: DeviceArgs,
}

/// One row of the table: its name and how to read it from the scores.
type Row<'a> = (&'a str, fn(&Scores) -> f64);

#[derive(Default)]
struct Scores {
    format: f64,
    accuracy: f64,
    reward: f64,
    length: f64,
    n: usize,
}

/// What to evaluate with: the run's rewards and stop strings, or the Tunix demo's.
struct Setup {
    /// The reward row's name: which rewards it sums.
    reward_row: &'static str,
    rewards: Vec<WeightedReward>,
    stop_strings: Vec<String>,
}

fn evaluate(model: &Path, setup: &Setup, args: &EvalArgs) -> Result<Scores> {
    let model = LoadedModel::from_dir(model, DType::F32)?;
    let tokenizer = model.tokenizer.clone();
    let placement = Placement::single(args.device.client()?);
    let mut generator = Generator::new(placement, model.config, &model.params, model.tokenizer)?;
    let (data, _) = load_jsonl(&args.data, BadLines::Skip)?;
    let data: Vec<_> = data.into_iter().take(args.limit).collect();
    let sp = SamplingParams {
        max_new_tokens: args.max_new_tokens,
        stop_strings: setup.stop_strings.clone(),
        ..Default::default()
    };
    let mut s = Scores::default();
    let bar = indicatif::ProgressBar::new(data.len() as u64);
    for chunk in data.chunks(args.batch.max(1)) {
        let prompts: Vec<Vec<u32>> = chunk
            .iter()
            .map(|e| tokenizer.encode(&prompt_text(&e.question)))
            .collect::<Result<_>>()?;
        let completions = generator.generate(&prompts, 1, &sp, args.max_new_tokens, |_| {})?;
        for (e, c) in chunk.iter().zip(completions) {
            let mut text = tokenizer.decode(&c.tokens);
            truncate_after_stop(&mut text, &setup.stop_strings);
            s.format += f64::from(tunix_demo::match_format_exactly(&text) > 0.0);
            s.accuracy += f64::from(tunix_demo::check_answer(&text, &e.answer) == 3.0);
            s.reward += score_all(&setup.rewards, &e.question, &text, &e.answer).1;
            s.length += c.tokens.len() as f64;
            s.n += 1;
        }
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    Ok(s)
}

pub fn run(args: &EvalArgs) -> Result<()> {
    let (setup, columns): (Setup, Vec<(String, PathBuf)>) = match (&args.model, &args.run) {
        (Some(m), None) => (
            Setup {
                reward_row: "mean reward (Tunix demo)",
                rewards: tunix_demo(),
                stop_strings: vec!["</answer>".into()],
            },
            vec![(m.display().to_string(), m.clone())],
        ),
        (None, Some(run)) => {
            let config = TrainConfig::load(&run.join("config.yaml"))?;
            let base = config
                .model
                .path
                .clone()
                .context("the run's model is a random preset; nothing to compare")?;
            let latest = grpo_xla::train::checkpoint::latest(run)?
                .with_context(|| format!("{} has no checkpoint yet", run.display()))?;
            let setup = Setup {
                reward_row: "mean reward (run's rewards)",
                rewards: config.rewards().to_vec(),
                stop_strings: config.rollout.stop_strings.clone(),
            };
            let columns = vec![
                ("before (base)".into(), base),
                (
                    format!("after ({})", latest.file_name().unwrap().to_string_lossy()),
                    latest.join("model"),
                ),
            ];
            (setup, columns)
        }
        _ => anyhow::bail!("give --model DIR or --run RUN_DIR"),
    };
    let results: Vec<Scores> = columns
        .iter()
        .map(|(_, dir)| evaluate(dir, &setup, args))
        .collect::<Result<_>>()?;
    println!(
        "greedy answers to the first {} problems of {}",
        results[0].n,
        args.data.display()
    );
    print!("| metric                  |");
    for (name, _) in &columns {
        print!(" {name:>22} |");
    }
    println!();
    println!(
        "|-------------------------|{}",
        "------------------------|".repeat(columns.len())
    );
    let rows: [Row; 4] = [
        ("format compliance", |s| s.format / s.n.max(1) as f64),
        ("answer accuracy", |s| s.accuracy / s.n.max(1) as f64),
        (setup.reward_row, |s| s.reward / s.n.max(1) as f64),
        ("mean completion length", |s| s.length / s.n.max(1) as f64),
    ];
    for (name, f) in rows {
        print!("| {name:<23} |");
        for r in &results {
            print!(" {:>22.3} |", f(r));
        }
        println!();
    }
    Ok(())
}
