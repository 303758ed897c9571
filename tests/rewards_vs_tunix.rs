//! The Tunix demo rewards and GRPO advantages against Tunix's own Python functions
//! (`tunix/cli/reward_fn/gsm8k.py`, `tunix.rl.algo_core`) on the same inputs, edge cases included.
//! Rewards must be equal exactly; advantages within 1e-12.

use grpo_xla::grpo::advantages::{advantages, Estimator};
use grpo_xla::rewards::{rubric, tunix_demo};
use serde_json::json;

const SCRIPT: &str = r#"
import numpy as np
from tunix.cli.reward_fn import gsm8k
from tunix.rl import algo_core

def main(inputs):
    c, a = inputs["completions"], inputs["answers"]
    rewards = np.asarray(inputs["rewards"], np.float64)
    g = inputs["group"]
    return {
        "match_format_exactly": gsm8k.match_format_exactly(None, c),
        "match_format_approximately": gsm8k.match_format_approximately(None, c),
        "check_answer": gsm8k.check_answer(None, c, a),
        "check_numbers": gsm8k.check_numbers(None, c, a),
        "grpo": np.asarray(algo_core.compute_advantages(rewards, g)).tolist(),
        "drgrpo": np.asarray(algo_core.compute_drgrpo_advantages(rewards, g)).tolist(),
        "rloo": np.asarray(algo_core.compute_rloo_advantages(rewards, g)).tolist(),
    }
"#;

/// A reward function of (completion, answer).
type Reward = fn(&str, &str) -> f64;

fn cases() -> Vec<(&'static str, &'static str)> {
    vec![
        ("<reasoning>2+2 is 4</reasoning><answer>4</answer>", "4"),
        (
            "  <reasoning>\nsteps\n</reasoning>\n<answer> 1,234 </answer>  ",
            "1234",
        ),
        ("<reasoning>x</reasoning><answer>3.0</answer>", "3"),
        ("<reasoning>x</reasoning><answer>95</answer>", "100"),
        ("<reasoning>x</reasoning><answer>85</answer>", "100"),
        ("<reasoning>x</reasoning><answer>50</answer>", "100"),
        ("<reasoning>x</reasoning><answer>seven</answer>", "7"),
        ("<reasoning>x</reasoning><answer>0</answer>", "0"),
        ("<reasoning>x</reasoning><answer>5</answer>", "0"),
        ("<reasoning>x</reasoning><answer>12 apples</answer>", "12"),
        ("<reasoning>x</reasoning><answer>42", "42"),
        ("<reasoning>x</reasoning>\n<answer>1_000</answer>", "1000"),
        ("<reasoning>x</reasoning><answer>inf</answer>", "5"),
        ("<reasoning>x</reasoning><answer>-3</answer>", "3"),
        ("<reasoning></reasoning><answer>4</answer>", "4"),
        (
            "<reasoning>a</reasoning><reasoning>b</reasoning><answer>4</answer><answer>4</answer>",
            "4",
        ),
        ("The answer is 4.", "4"),
        ("<answer>4</answer>", "4"),
        ("<reasoning>x</reasoning><answer>.5</answer>", "0.5"),
        ("<reasoning>x</reasoning><answer>1e3</answer>", "1000"),
        ("", "1"),
    ]
}

#[test]
fn tunix_demo_rewards_and_advantages_equal_tunix() {
    let cases = cases();
    let completions: Vec<&str> = cases.iter().map(|c| c.0).collect();
    let answers: Vec<&str> = cases.iter().map(|c| c.1).collect();
    // Groups of 4, one with no spread (its grpo advantages are 0), one with a single outlier.
    let rewards = [
        3.0, 1.5, -1.0, 0.0, 2.0, 2.0, 2.0, 2.0, 0.25, 6.5, -0.5, 3.0,
    ];
    let theirs = grpo_xla::reference::run(
        SCRIPT,
        &json!({"completions": completions, "answers": answers, "rewards": rewards, "group": 4}),
    )
    .unwrap();
    let functions: [(&str, Reward); 4] = [
        ("match_format_exactly", |c, _| {
            tunix_demo::match_format_exactly(c)
        }),
        ("match_format_approximately", |c, _| {
            tunix_demo::match_format_approximately(c)
        }),
        ("check_answer", tunix_demo::check_answer),
        ("check_numbers", tunix_demo::check_numbers),
    ];
    for (name, f) in functions {
        for (i, (c, a)) in cases.iter().enumerate() {
            let ours = f(c, a);
            let tunix = theirs[name][i].as_f64().unwrap();
            assert_eq!(
                ours, tunix,
                "{name} on {c:?} (answer {a:?}): ours {ours}, tunix {tunix}"
            );
        }
    }
    for (name, est) in [
        ("grpo", Estimator::Grpo),
        ("drgrpo", Estimator::Drgrpo),
        ("rloo", Estimator::Rloo),
    ] {
        let ours = advantages(&rewards, 4, est, 1e-6);
        for (i, o) in ours.iter().enumerate() {
            let t = theirs[name][i].as_f64().unwrap();
            assert!((o - t).abs() <= 1e-12, "{name}[{i}]: ours {o}, tunix {t}");
        }
    }
}

#[test]
fn rubric_components_are_scored_as_documented() {
    let q = "Ana buys 3 boxes of 12 apples and gives away 5. How many apples does Ana have?";
    let good = "<reasoning>3 boxes x 12 apples = 36 apples.\nAfter giving away 5: 36 - 5 = 31.</reasoning><answer>31</answer>";
    let s = rubric::score(q, good, "31");
    assert_eq!(
        s.reasoning_quality, 1.0,
        "2 steps, 10-300 words, arithmetic: {s:?}"
    );
    assert_eq!(s.answer_correctness, 1.0);
    assert_eq!(
        s.trace_coherence, 1.0,
        "the answer 31 is in the reasoning, which uses 3, 12 and 5"
    );
    assert_eq!(s.step_clarity, 1.0);
    assert!((s.total() - 1.0).abs() < 1e-12);

    let wrong = "<reasoning>I think it is a lot of apples overall.</reasoning><answer>40</answer>";
    let s = rubric::score(q, wrong, "31");
    assert_eq!(s.answer_correctness, 0.0);
    assert_eq!(
        s.trace_coherence, 0.0,
        "no answer in the trace, no number from the question"
    );
    assert_eq!(
        s.reasoning_quality, 0.0,
        "one step, under 10 words, no numbers"
    );
    assert_eq!(
        rubric::score(q, "<reasoning>x</reasoning><answer>32</answer>", "31").answer_correctness,
        0.0,
        "3% off"
    );
    assert_eq!(
        rubric::score(q, "<reasoning>x</reasoning><answer>31.2</answer>", "31.1")
            .answer_correctness,
        0.5
    );
    assert_eq!(
        rubric::score(q, "31", "31"),
        rubric::RubricScore::default(),
        "no format, no score"
    );
    assert_eq!(rubric::answers_match(" Paris ", "paris"), 1.0);
}

#[test]
fn judge_scores_parse_robustly() {
    use grpo_xla::rewards::judge::{fill, parse_score};
    assert_eq!(parse_score("SCORE: 7"), Some(0.7));
    assert_eq!(
        parse_score("Reasoning is fine.\nscore = 8.5/10"),
        Some(0.85)
    );
    assert_eq!(parse_score("Score: 80%"), Some(0.8));
    assert_eq!(parse_score("SCORE: 4 / 5"), Some(0.8));
    assert_eq!(parse_score("I give it 9."), Some(0.9));
    assert_eq!(parse_score("SCORE: 12"), Some(1.0), "clamped");
    assert_eq!(parse_score("SCORE: excellent"), None);
    assert_eq!(parse_score(""), None);
    // Non-ASCII text before SCORE: upper-casing `ß` or `ﬁ` changes the byte length (a panic or
    // a wrong slice before the fix).
    assert_eq!(parse_score("Straße ist gut. SCORE: 7"), Some(0.7));
    assert_eq!(parse_score("ﬁne work, score 3/4"), Some(0.75));
    assert_eq!(parse_score("Évaluation 🙂 SCORE 6"), Some(0.6));
    assert_eq!(parse_score("Ça va: 9/10"), Some(0.9));
    let t = "Q: {question} A: {answer} R: {completion}";
    assert_eq!(
        fill(t, "1+1?", "2", "<answer>2</answer>"),
        "Q: 1+1? A: 2 R: <answer>2</answer>"
    );
    for name in ["math", "reasoning", "generic"] {
        let text =
            std::fs::read_to_string(format!("data/rubric_templates/{name}_rubric.txt")).unwrap();
        assert!(
            text.contains("{question}") && text.contains("{completion}") && text.contains("SCORE"),
            "{name}"
        );
    }
}

/// The notebook's format rewards against the notebook's own definitions, and the anchored,
/// echo-proof check on the same completions: the echoes the base 270M learned in
/// writeup/longer_run earn the demo's (and the notebook's) format reward but not ours.
#[test]
fn notebook_format_rewards_equal_the_notebook_and_the_anchored_check_refuses_echoes() {
    use grpo_xla::rewards::format;
    let log = std::fs::read_to_string("writeup/longer_run/train.log").unwrap();
    let echoes: Vec<String> = log
        .lines()
        .zip(log.lines().skip(1))
        .filter(|(l, _)| l.starts_with("--- sample at step"))
        .map(|(_, sample)| sample.to_string())
        .collect();
    assert_eq!(echoes.len(), 4, "the four samples of the longer run");
    let mut completions: Vec<String> = echoes.clone();
    completions.extend(
        [
            "<reasoning>3 x 4 = 12</reasoning>\n<answer>12</answer>",
            "  <reasoning>\nsteps\n</reasoning>\n<answer> 7 </answer>\n",
            "Let me see.\n<reasoning>x</reasoning><answer>1</answer>",
            "<reasoning>x</reasoning><answer>1</answer> trailing words",
            "<reasoning>x</reasoning>\ntext\n<answer>1</answer>\nmore",
            "<answer>1</answer>",
            "",
            "<reasoning>a</reasoning><reasoning>b</reasoning><answer>1</answer>",
        ]
        .map(String::from),
    );
    let theirs = grpo_xla::reference::run(
        include_str!("reference/tunix_notebook_rewards.py"),
        &json!({ "completions": completions }),
    )
    .unwrap();
    let column = |name: &str| -> Vec<f64> {
        theirs[name]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect()
    };
    let ours = |f: fn(&str) -> f64| -> Vec<f64> { completions.iter().map(|c| f(c)).collect() };
    assert_eq!(
        ours(format::notebook_match_format_exactly),
        column("notebook_match_format_exactly")
    );
    assert_eq!(
        ours(format::notebook_match_format_approximately),
        column("notebook_match_format_approximately")
    );
    for echo in &echoes {
        assert!(
            tunix_demo::match_format_exactly(echo) > 0.0,
            "the demo's regex rewards the echo: {echo}"
        );
        assert_eq!(format::match_format_anchored(echo), 0.0, "{echo}");
    }
    let anchored = ours(format::match_format_anchored);
    assert_eq!(
        anchored[4..],
        [3.0, 3.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        "only the two whole-format completions pass"
    );
}

/// The arithmetic reward against the worked examples the project ships: every equation of
/// every reference reasoning (training and evaluation splits) is right, so each scores 1, or 0
/// where it computes nothing (logic, lists); and changing one computed result makes it negative.
#[test]
fn arithmetic_reward_finds_every_reference_step_right_and_a_changed_one_wrong() {
    use grpo_xla::data::{load_jsonl, BadLines};
    use grpo_xla::rewards::arithmetic::arithmetic_consistency;
    let mut computed = 0;
    for file in ["data/reasoning_train.jsonl", "data/reasoning_eval.jsonl"] {
        let (rows, _) = load_jsonl(std::path::Path::new(file), BadLines::Abort).unwrap();
        for e in &rows {
            let reasoning = e.reasoning.as_deref().unwrap();
            let completion = format!(
                "<reasoning>{reasoning}</reasoning><answer>{}</answer>",
                e.answer
            );
            let score = arithmetic_consistency(&e.question, &completion);
            assert!(
                score == 1.0 || score == 0.0,
                "{file}: {score} for {:?} -> {reasoning:?}",
                e.question
            );
            if score == 1.0 {
                computed += 1;
            }
            // The last "= N" (N ≥ 0) of the reasoning, off by one: that step is now wrong.
            let result_at = reasoning
                .match_indices("= ")
                .map(|(i, _)| i + 2)
                .filter(|&i| reasoning[i..].starts_with(|c: char| c.is_ascii_digit()))
                .last();
            if let (1.0, Some(at)) = (score, result_at) {
                let end = reasoning[at..]
                    .find(|c: char| !c.is_ascii_digit() && c != '.')
                    .map_or(reasoning.len(), |k| at + k);
                let written: f64 = reasoning[at..end].trim_end_matches('.').parse().unwrap();
                let changed = format!("{}{}{}", &reasoning[..at], written + 1.0, &reasoning[end..]);
                assert!(
                    arithmetic_consistency(&e.question, &changed) < 1.0,
                    "{file}: {changed:?} still scores 1"
                );
            }
        }
    }
    // Most of the math, science and general problems compute something.
    assert!(computed > 1000, "only {computed} reasonings compute");
}
