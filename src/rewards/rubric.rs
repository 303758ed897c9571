//! The rubric reward: four components scored in [0, 1], weighted 40/30/20/10.
//!
//! - reasoning quality (40%): the reasoning section exists and does work: 0.5 for 2+ steps
//!   (sentences or lines), 0.25 for 10-300 words, 0.25 for doing arithmetic or citing numbers.
//! - answer correctness (30%): 1 when the answer equals the reference (numbers compared as
//!   numbers, text case- and space-insensitively), 0.5 when a number is within 1% of it.
//! - trace coherence (20%): 0.5 when the answer also appears in the reasoning (the trace arrives
//!   at it), 0.5 when the reasoning uses at least one number from the question.
//! - step clarity (10%): the share of steps of at most 40 words.
//!
//! A completion without the `<reasoning>…</reasoning><answer>…</answer>` format scores 0.

use super::tunix_demo::{extract_answer, python_float};

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RubricScore {
    pub reasoning_quality: f64,
    pub answer_correctness: f64,
    pub trace_coherence: f64,
    pub step_clarity: f64,
}

impl RubricScore {
    pub fn total(&self) -> f64 {
        0.4 * self.reasoning_quality
            + 0.3 * self.answer_correctness
            + 0.2 * self.trace_coherence
            + 0.1 * self.step_clarity
    }
}

fn reasoning_section(completion: &str) -> Option<&str> {
    let start = completion.find("<reasoning>")? + "<reasoning>".len();
    let end = completion[start..].find("</reasoning>")? + start;
    Some(completion[start..end].trim())
}

fn steps(reasoning: &str) -> Vec<&str> {
    reasoning
        .split(['\n', '.', ';'])
        .map(str::trim)
        .filter(|s| s.split_whitespace().count() >= 2)
        .collect()
}

fn numbers(text: &str) -> Vec<String> {
    let mut out = vec![];
    let mut current = String::new();
    for c in text.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_digit() || (c == '.' && !current.is_empty()) {
            current.push(c);
        } else if !current.is_empty() {
            out.push(current.trim_end_matches('.').to_string());
            current.clear();
        }
    }
    out
}

pub fn answers_match(guess: &str, reference: &str) -> f64 {
    let (g, r) = (
        guess.trim().replace(',', ""),
        reference.trim().replace(',', ""),
    );
    match (python_float(&g), python_float(&r)) {
        (Some(a), Some(b)) if a == b => 1.0,
        (Some(a), Some(b)) if b != 0.0 && ((a - b) / b).abs() <= 0.01 => 0.5,
        (Some(_), Some(_)) => 0.0,
        _ => {
            let norm = |s: &str| {
                s.split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
                    .to_lowercase()
            };
            if norm(&g) == norm(&r) {
                1.0
            } else {
                0.0
            }
        }
    }
}

pub fn score(question: &str, completion: &str, reference: &str) -> RubricScore {
    let (Some(reasoning), Some(answer)) =
        (reasoning_section(completion), extract_answer(completion))
    else {
        return RubricScore::default();
    };
    let answer = answer.trim();
    let steps = steps(reasoning);
    let words = reasoning.split_whitespace().count();
    let nums = numbers(reasoning);
    let does_math = reasoning.contains(['+', '-', '*', '×', '/', '=']) || !nums.is_empty();
    let reasoning_quality = if steps.len() >= 2 { 0.5 } else { 0.0 }
        + if (10..=300).contains(&words) {
            0.25
        } else {
            0.0
        }
        + if does_math { 0.25 } else { 0.0 };
    let question_numbers = numbers(question);
    let coherent_answer = !answer.is_empty() && reasoning.contains(answer);
    let uses_question = nums.iter().any(|n| question_numbers.contains(n));
    let trace_coherence = 0.5 * f64::from(coherent_answer)
        + 0.5 * f64::from(uses_question || question_numbers.is_empty());
    let step_clarity = if steps.is_empty() {
        0.0
    } else {
        steps
            .iter()
            .filter(|s| s.split_whitespace().count() <= 40)
            .count() as f64
            / steps.len() as f64
    };
    RubricScore {
        reasoning_quality,
        answer_correctness: answers_match(answer, reference),
        trace_coherence,
        step_clarity,
    }
}
