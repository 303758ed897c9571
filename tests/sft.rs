//! The supervised warm start end to end on a tiny random Gemma 3 (byte tokenizer): an
//! interrupted SFT-then-GRPO run resumes in the right phase and step and ends bit-identical to
//! an uninterrupted one; and SFT makes the anchored format rise on held-out problems (sums of
//! digit pairs it never trained on: 0% before, at least half after 150 steps).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use common::cpu_client;
use grpo_xla::data::{load_jsonl, prompt_text, BadLines};
use grpo_xla::graph::Placement;
use grpo_xla::models::gemma::GemmaConfig;
use grpo_xla::models::hf::load_params;
use grpo_xla::models::tokenizer::TextTokenizer;
use grpo_xla::rewards::format::is_compliant;
use grpo_xla::rollout::{Generator, SamplingParams};
use grpo_xla::train::rollout::truncate_keeping_bos;

fn grpo_xla(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_grpo-xla"))
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "grpo-xla {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The smoke config with an SFT phase of `sft_steps` on `data` before its GRPO steps.
fn config(dir: &Path, data: &str, sft_steps: usize, lr: f64, grpo_steps: usize) -> PathBuf {
    let text = std::fs::read_to_string("configs/smoke.yaml")
        .unwrap()
        .replace("  steps: 4\n", &format!("  steps: {grpo_steps}\n"))
        .replace(
            "rollout:",
            &format!(
                "sft:\n  data: {data}\n  steps: {sft_steps}\n  batch_size: 8\n  max_prompt_length: 40\n  max_target_length: 64\n  learning_rate: {lr}\nrollout:"
            ),
        );
    let path = dir.join("config.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn an_interrupted_sft_then_grpo_run_resumes_in_the_right_phase_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "data/synthetic_reasoning_set.jsonl", 4, 3e-3, 3);
    let (straight, split) = (dir.path().join("straight"), dir.path().join("split"));
    grpo_xla(&["train", "--config", s(&cfg), "--output-dir", s(&straight)]);
    // Stop inside SFT, then at the first GRPO step, then finish.
    grpo_xla(&[
        "train",
        "--config",
        s(&cfg),
        "--output-dir",
        s(&split),
        "--max-steps",
        "2",
    ]);
    let state = std::fs::read_to_string(split.join("checkpoints/step_000002/state.json")).unwrap();
    assert!(state.contains("\"phase\": \"sft\""), "{state}");
    assert!(!split.join("sft_model").exists(), "SFT is not finished yet");
    grpo_xla(&[
        "train",
        "--config",
        s(&cfg),
        "--output-dir",
        s(&split),
        "--resume",
        "--max-steps",
        "3",
    ]);
    let state = std::fs::read_to_string(split.join("checkpoints/step_000005/state.json")).unwrap();
    assert!(state.contains("\"phase\": \"grpo\""), "{state}");
    grpo_xla(&[
        "train",
        "--config",
        s(&cfg),
        "--output-dir",
        s(&split),
        "--resume",
    ]);
    for file in [
        "checkpoints/step_000007/state.safetensors",
        "sft_model/model.safetensors",
    ] {
        assert_eq!(
            std::fs::read(straight.join(file)).unwrap(),
            std::fs::read(split.join(file)).unwrap(),
            "{file} differs between a straight run and 2 + 3 + 2 steps"
        );
    }
    let lines = |run: &Path| -> Vec<serde_json::Value> {
        std::fs::read_to_string(run.join("metrics.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let (a, b) = (lines(&straight), lines(&split));
    assert_eq!((a.len(), b.len()), (7, 7), "one line per step");
    for (x, y) in a.iter().zip(&b) {
        for key in ["step", "phase", "sft_loss", "loss", "reward_mean", "kl"] {
            assert_eq!(x.get(key), y.get(key), "{key} at step {}", x["step"]);
        }
    }
    assert_eq!(a[3]["phase"], "sft");
    assert!(a[4].get("reward_mean").is_some(), "step 5 is GRPO");
}

/// Greedy completions of the tiny model with `params` to `questions`: the share in the
/// anchored format.
fn compliance(params: &[grpo_xla::graph::HostArray], questions: &[String]) -> f64 {
    let mut cfg = GemmaConfig::tiny(grpo_xla::models::gemma::Family::Gemma3);
    cfg.dtype = grpo_xla::pjrt::ElementType::F32;
    let tokenizer = Arc::new(TextTokenizer::Bytes);
    let mut generator = Generator::new(
        Placement::single(cpu_client(1)),
        cfg,
        params,
        tokenizer.clone(),
    )
    .unwrap();
    let prompts: Vec<Vec<u32>> = questions
        .iter()
        .map(|q| truncate_keeping_bos(tokenizer.encode(&prompt_text(q)).unwrap(), 64))
        .collect();
    let sp = SamplingParams {
        max_new_tokens: 64,
        stop_strings: vec!["</answer>".into()],
        ..Default::default()
    };
    let completions = generator.generate(&prompts, 1, &sp, 64, |_| {}).unwrap();
    let ok = completions
        .iter()
        .filter(|c| is_compliant(&tokenizer.decode(&c.tokens)))
        .count();
    ok as f64 / questions.len() as f64
}

#[test]
fn sft_makes_the_anchored_format_rise_on_held_out_problems() {
    let dir = tempfile::tempdir().unwrap();
    // Short worked sums of two digits: a quarter of the pairs are held out. The answer reads
    // "sum c", so the tiny model's local layers (window 4) see a fixed word after <answer>.
    let pairs: Vec<(i32, i32)> = (0..64).map(|i| (i % 8, i / 8)).collect();
    let held = |&(a, b): &(i32, i32)| (a * 3 + b) % 4 == 0;
    let question = |(a, b): (i32, i32)| format!("What is {a} plus {b}?");
    let train: Vec<String> = pairs
        .iter()
        .filter(|p| !held(p))
        .map(|&(a, b)| {
            serde_json::json!({
                "question": question((a, b)),
                "reasoning": format!("{a}+{b}={}", a + b),
                "answer": format!("sum {}", a + b),
            })
            .to_string()
        })
        .collect();
    let data = dir.path().join("sums.jsonl");
    std::fs::write(&data, train.join("\n")).unwrap();
    let held_out: Vec<String> = pairs
        .iter()
        .filter(|p| held(p))
        .map(|&p| question(p))
        .collect();
    assert_eq!((train.len(), held_out.len()), (48, 16));
    let cfg = config(dir.path(), s(&data), 150, 1e-2, 1);
    let run = dir.path().join("run");
    grpo_xla(&["train", "--config", s(&cfg), "--output-dir", s(&run)]);
    let tiny = GemmaConfig::tiny(grpo_xla::models::gemma::Family::Gemma3);
    let base = grpo_xla::models::gemma::random_params(&tiny, 0);
    let tuned = load_params(&run.join("sft_model"), &tiny).unwrap();
    let (before, after) = (compliance(&base, &held_out), compliance(&tuned, &held_out));
    eprintln!("anchored format on held-out problems: before {before}, after SFT {after}");
    assert_eq!(before, 0.0);
    assert!(
        after >= 0.5,
        "after SFT only {after} of the held-out completions are in the format"
    );
    let (examples, _) = load_jsonl(&data, BadLines::Abort).unwrap();
    assert!(examples.iter().all(|e| !held_out.contains(&e.question)));
}
