//! `grpo-xla eval`: greedy answers (or pass@k of sampled ones) of one or more models (or a run's
//! base, SFT result and latest checkpoint) to held-out problems: format compliance by the anchored, echo-proof check,
//! accuracy and partial credit with 95% Wilson intervals, per domain and difficulty, mean
//! reward and length; optionally a JSON results file with sample completions.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use grpo_xla::data::{load_jsonl, prompt_text, BadLines};
use grpo_xla::eval::{best_of, verdict, Evaluation};
use grpo_xla::graph::Placement;
use grpo_xla::models::{DType, LoadedModel};
use grpo_xla::rewards::{score_all, tunix_demo, WeightedReward};
use grpo_xla::rollout::stop::truncate_after_stop;
use grpo_xla::rollout::{Generator, SamplingParams};
use grpo_xla::train::config::TrainConfig;

use super::DeviceArgs;

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// A model directory (HF layout); repeat to compare several, optionally named `NAME=DIR`.
    #[arg(long, conflicts_with = "run")]
    pub model: Vec<String>,
    /// A training run: its base model, its SFT result (if any) and its latest checkpoint.
    #[arg(long)]
    pub run: Option<PathBuf>,
    #[arg(long, default_value = "data/synthetic_reasoning_set.jsonl")]
    pub data: PathBuf,
    /// Evaluate the first N problems.
    #[arg(long, default_value_t = 32)]
    pub limit: usize,
    #[arg(long, default_value_t = 128)]
    pub max_new_tokens: usize,
    /// Prompts per device call (each sampled `--passes` times).
    #[arg(long, default_value_t = 8)]
    pub batch: usize,
    /// Write the results (and samples) as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Sample completions kept per model in the JSON file.
    #[arg(long, default_value_t = 10)]
    pub samples: usize,
    /// Print this many sample completions of each model after the table.
    #[arg(long, default_value_t = 0)]
    pub show: usize,
    /// Answers sampled per problem (needs --temperature): a problem counts as solved when any
    /// of them is right (pass@k, as Tunix's demo counts `num_passes`); the mean accuracy per
    /// sample is reported beside it.
    #[arg(long, default_value_t = 1)]
    pub passes: usize,
    /// Sampling temperature; 0 answers greedily.
    #[arg(long, default_value_t = 0.0)]
    pub temperature: f32,
    /// Sample among the k most likely tokens only.
    #[arg(long)]
    pub top_k: Option<i64>,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[command(flatten)]
    pub device: DeviceArgs,
}

/// What to evaluate with: the run's rewards and stop strings, or the Tunix demo's.
struct Setup {
    /// The reward row's name: which rewards it sums.
    reward_row: &'static str,
    rewards: Vec<WeightedReward>,
    stop_strings: Vec<String>,
}

/// One model's results.
struct Scores {
    /// Per problem: its best pass.
    eval: Evaluation,
    /// Per completion: every pass counted (the mean accuracy of one sample).
    per_sample: Evaluation,
    reward: f64,
    length: f64,
    samples: Vec<serde_json::Value>,
}

fn evaluate(model: &Path, setup: &Setup, args: &EvalArgs) -> Result<Scores> {
    let model = LoadedModel::from_dir(model, DType::F32)?;
    let tokenizer = model.tokenizer.clone();
    let placement = Placement::data_parallel(args.device.client()?);
    let mut generator = Generator::new(placement, model.config, &model.params, model.tokenizer)?;
    let (data, _) = load_jsonl(&args.data, BadLines::Abort)?;
    let data: Vec<_> = data.into_iter().take(args.limit).collect();
    let sp = SamplingParams {
        max_new_tokens: args.max_new_tokens,
        stop_strings: setup.stop_strings.clone(),
        temperature: args.temperature,
        top_k: args.top_k,
        seed: args.seed,
        ..Default::default()
    };
    let passes = args.passes.max(1);
    let mut s = Scores {
        eval: Evaluation::default(),
        per_sample: Evaluation::default(),
        reward: 0.0,
        length: 0.0,
        samples: vec![],
    };
    let bar = indicatif::ProgressBar::new(data.len() as u64);
    for (k, chunk) in data.chunks(args.batch.max(1)).enumerate() {
        let prompts: Vec<Vec<u32>> = chunk
            .iter()
            .map(|e| tokenizer.encode(&prompt_text(&e.question)))
            .collect::<Result<_>>()?;
        // Each call draws its own noise: the same seed would give row i of every call the same.
        let sp = SamplingParams {
            seed: args.seed.wrapping_add(k as u64),
            ..sp.clone()
        };
        let completions = generator.generate(&prompts, passes, &sp, args.max_new_tokens, |_| {})?;
        for (e, answers) in chunk.iter().zip(completions.chunks(passes)) {
            let mut verdicts = vec![];
            for (pass, c) in answers.iter().enumerate() {
                let mut text = tokenizer.decode(&c.tokens);
                truncate_after_stop(&mut text, &setup.stop_strings);
                let v = verdict(&text, &e.answer);
                verdicts.push(v);
                s.per_sample.add(&e.domain, e.steps, v);
                s.reward += score_all(&setup.rewards, &e.question, &text, &e.answer).1;
                s.length += c.tokens.len() as f64;
                // The first pass of each problem: samples of different problems.
                if pass == 0 && s.samples.len() < args.samples.max(args.show) {
                    s.samples.push(serde_json::json!({
                        "question": e.question, "answer": e.answer, "domain": e.domain,
                        "completion": text, "compliant": v.compliant, "correct": v.correct,
                    }));
                }
            }
            s.eval.add(&e.domain, e.steps, best_of(&verdicts));
        }
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    Ok(s)
}

/// The models to compare, named, and how to score them.
fn columns(args: &EvalArgs) -> Result<(Setup, Vec<(String, PathBuf)>)> {
    if let Some(run) = &args.run {
        let config = TrainConfig::load(&run.join("config.yaml"))?;
        let latest = grpo_xla::train::checkpoint::latest(run)?
            .with_context(|| format!("{} has no checkpoint yet", run.display()))?;
        let mut columns = vec![];
        match &config.model.path {
            Some(base) => columns.push(("before (base)".to_string(), base.clone())),
            // A random preset (the smoke config) has no folder to load: its checkpoints do.
            None => {
                eprintln!("the run's base model is a random preset: evaluating its checkpoints")
            }
        }
        if run.join("sft_model").is_dir() {
            columns.push(("after SFT".to_string(), run.join("sft_model")));
        }
        columns.push((
            format!("after ({})", latest.file_name().unwrap().to_string_lossy()),
            latest.join("model"),
        ));
        let setup = Setup {
            reward_row: "mean reward (run's rewards)",
            rewards: config.rewards().to_vec(),
            stop_strings: config.rollout.stop_strings.clone(),
        };
        return Ok((setup, columns));
    }
    anyhow::ensure!(!args.model.is_empty(), "give --model DIR or --run RUN_DIR");
    let columns = args
        .model
        .iter()
        .map(|m| match m.split_once('=') {
            Some((name, dir)) => (name.to_string(), PathBuf::from(dir)),
            None => (m.clone(), PathBuf::from(m)),
        })
        .collect();
    let setup = Setup {
        reward_row: "mean reward (Tunix demo)",
        rewards: tunix_demo(),
        stop_strings: vec!["</answer>".into()],
    };
    Ok((setup, columns))
}

fn print_row(name: &str, cells: impl Iterator<Item = String>) {
    print!("| {name:<28} |");
    for c in cells {
        print!(" {c:>22} |");
    }
    println!();
}

/// How the answers were drawn, for the table's title and the results file.
fn decoding(args: &EvalArgs) -> String {
    let (t, k) = (args.temperature, args.passes);
    if t == 0.0 {
        "greedy".to_string()
    } else if k <= 1 {
        format!("one sample at temperature {t}")
    } else {
        format!("pass@{k} of {k} samples at temperature {t}")
    }
}

pub fn run(args: &EvalArgs) -> Result<()> {
    anyhow::ensure!(
        args.passes <= 1 || args.temperature > 0.0,
        "--passes {} needs --temperature above 0: greedy answers are the same every pass",
        args.passes
    );
    let (setup, columns) = columns(args)?;
    let results: Vec<Scores> = columns
        .iter()
        .map(|(_, dir)| evaluate(dir, &setup, args))
        .collect::<Result<_>>()?;
    print_table(args, &setup, &columns, &results);
    print_groups(&results);
    for ((name, _), r) in columns.iter().zip(&results) {
        for sample in r.samples.iter().take(args.show) {
            println!(
                "\n--- {name} | {} (answer {})\n{}",
                sample["question"].as_str().unwrap_or_default(),
                sample["answer"].as_str().unwrap_or_default(),
                sample["completion"].as_str().unwrap_or_default().trim()
            );
        }
    }
    if let Some(path) = &args.json {
        write_json(path, args, &columns, &results)?;
        println!("results: {}", path.display());
    }
    Ok(())
}

/// Reward and length are summed over every sample: their mean per sample.
fn per_sample_mean(total: f64, r: &Scores, args: &EvalArgs) -> f64 {
    total / (r.eval.overall.n * args.passes.max(1)).max(1) as f64
}

/// The overall rows: format, accuracy (and per sample), partial credit, reward, length.
fn print_table(args: &EvalArgs, setup: &Setup, columns: &[(String, PathBuf)], results: &[Scores]) {
    println!(
        "{} answers to the first {} problems of {} (format: the whole completion in the format, no echo of the instruction; [95% Wilson interval])",
        decoding(args),
        results[0].eval.overall.n,
        args.data.display()
    );
    print_row("metric", columns.iter().map(|(name, _)| name.clone()));
    println!(
        "|------------------------------|{}",
        "------------------------|".repeat(columns.len())
    );
    let with_ci = |v: f64, ci: [f64; 2]| format!("{v:.3} [{:.2},{:.2}]", ci[0], ci[1]);
    let summaries: Vec<_> = results.iter().map(|r| r.eval.overall.summary()).collect();
    print_row(
        "format compliance",
        summaries.iter().map(|s| with_ci(s.format, s.ci95.format)),
    );
    print_row(
        "answer accuracy",
        summaries
            .iter()
            .map(|s| with_ci(s.accuracy, s.ci95.accuracy)),
    );
    if args.passes > 1 {
        print_row(
            "accuracy per sample",
            results
                .iter()
                .map(|r| format!("{:.3}", r.per_sample.overall.summary().accuracy)),
        );
    }
    print_row(
        "partial credit",
        summaries.iter().map(|s| format!("{:.3}", s.partial)),
    );
    let per_sample = if args.passes > 1 { " per sample" } else { "" };
    print_row(
        &format!("{}{per_sample}", setup.reward_row),
        results
            .iter()
            .map(|r| format!("{:.3}", per_sample_mean(r.reward, r, args))),
    );
    print_row(
        &format!("mean completion length{per_sample}"),
        results
            .iter()
            .map(|r| format!("{:.3}", per_sample_mean(r.length, r, args))),
    );
}

/// Format and accuracy per domain, then per difficulty.
fn print_groups(results: &[Scores]) {
    let first = &results[0].eval;
    let groups = first
        .domains
        .keys()
        .map(|k| (true, k))
        .chain(first.difficulty.keys().map(|k| (false, k)));
    for (is_domain, key) in groups {
        let cells = results.iter().map(|r| {
            let map = if is_domain {
                &r.eval.domains
            } else {
                &r.eval.difficulty
            };
            map.get(key).map_or("-".to_string(), |t| {
                let s = t.summary();
                format!("{:.2} / {:.2} (n {})", s.format, s.accuracy, s.n)
            })
        });
        print_row(&format!("{key}: format / acc"), cells);
    }
}

/// The results file: every number of the table per model, and its sample completions.
fn write_json(
    path: &Path,
    args: &EvalArgs,
    columns: &[(String, PathBuf)],
    results: &[Scores],
) -> Result<()> {
    let rows: Vec<serde_json::Value> = columns
        .iter()
        .zip(results)
        .map(|((name, dir), r)| {
            let mut row = r.eval.to_json();
            row["name"] = name.clone().into();
            row["model"] = dir.display().to_string().into();
            if args.passes > 1 {
                row["per_sample"] = r.per_sample.to_json();
            }
            row["reward_mean"] = per_sample_mean(r.reward, r, args).into();
            row["length_mean"] = per_sample_mean(r.length, r, args).into();
            row["samples"] = r.samples[..r.samples.len().min(args.samples)]
                .to_vec()
                .into();
            row
        })
        .collect();
    let doc = serde_json::json!({
        "data": args.data.display().to_string(), "problems": results[0].eval.overall.n,
        "max_new_tokens": args.max_new_tokens, "decoding": decoding(args),
        "passes": args.passes.max(1), "seed": args.seed, "rows": rows,
    });
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, serde_json::to_string_pretty(&doc)? + "\n")
        .with_context(|| format!("writing {}", path.display()))
}
