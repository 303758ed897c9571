//! The Tunix GSM8K demo's four reward functions, giving exactly the values of
//! `tunix/cli/reward_fn/gsm8k.py` (google-tunix 0.1.7): format match 3.0, approximate format
//! ±0.5 per tag, answer check (3.0 / 0.5 / 0.25 / -1.0 / -0.5), number check 1.5.

use std::sync::OnceLock;

use regex::Regex;

pub const REASONING_START: &str = "<reasoning>";
pub const REASONING_END: &str = "</reasoning>";
pub const SOLUTION_START: &str = "<answer>";
pub const SOLUTION_END: &str = "</answer>";

/// `<reasoning>.+?</reasoning>.*?<answer>(.+?)(?:</answer>|$)`, multi-line and dot-all.
fn match_format() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"(?ms)<reasoning>.+?</reasoning>.*?<answer>(.+?)(?:</answer>|$)")
            .expect("valid regex")
    })
}

fn match_numbers() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"(?ms)<answer>.*?([\d\.]{1,})").expect("valid regex"))
}

/// The text captured as the answer by the format regex, if the completion has the format.
pub fn extract_answer(completion: &str) -> Option<&str> {
    match_format()
        .captures(completion)
        .and_then(|c| c.get(1))
        .map(|m| m.as_str())
}

pub fn match_format_exactly(completion: &str) -> f64 {
    if match_format().is_match(completion) {
        3.0
    } else {
        0.0
    }
}

pub fn match_format_approximately(completion: &str) -> f64 {
    [REASONING_START, REASONING_END, SOLUTION_START, SOLUTION_END]
        .iter()
        .map(|tag| {
            if completion.matches(tag).count() == 1 {
                0.5
            } else {
                -0.5
            }
        })
        .sum()
}

/// Python's `float(s)`: surrounding whitespace allowed, underscores between digits, inf/nan.
pub fn python_float(s: &str) -> Option<f64> {
    let t = s.trim();
    if t.is_empty() {
        return None;
    }
    let chars: Vec<char> = t.chars().collect();
    let mut cleaned = String::with_capacity(t.len());
    for (i, &c) in chars.iter().enumerate() {
        if c == '_' {
            let between = i > 0
                && i + 1 < chars.len()
                && chars[i - 1].is_ascii_digit()
                && chars[i + 1].is_ascii_digit();
            if !between {
                return None;
            }
            continue;
        }
        cleaned.push(c);
    }
    let lower = cleaned.to_ascii_lowercase();
    let body = lower.trim_start_matches(['+', '-']);
    if matches!(body, "inf" | "infinity" | "nan") {
        let sign = if lower.starts_with('-') { -1.0 } else { 1.0 };
        return Some(if body == "nan" {
            f64::NAN
        } else {
            sign * f64::INFINITY
        });
    }
    // Rust accepts forms Python rejects ("1." is fine in both; "0x1" in neither).
    if body
        .chars()
        .any(|c| !(c.is_ascii_digit() || c == '.' || c == 'e' || c == '+' || c == '-'))
    {
        return None;
    }
    cleaned.parse::<f64>().ok()
}

pub fn check_answer(completion: &str, answer: &str) -> f64 {
    let true_answer = answer.trim().replace(',', "");
    let Some(guess) = extract_answer(completion) else {
        return 0.0;
    };
    let guess = guess.trim().replace(',', "");
    if guess == true_answer {
        return 3.0;
    }
    match (python_float(&guess), python_float(&true_answer)) {
        (Some(g), Some(t)) => {
            if g == t {
                3.0
            } else if t == 0.0 {
                if g != 0.0 {
                    -1.0
                } else {
                    0.0
                }
            } else {
                let ratio = g / t;
                if (0.9..=1.1).contains(&ratio) {
                    0.5
                } else if (0.8..=1.2).contains(&ratio) {
                    0.25
                } else {
                    -1.0
                }
            }
        }
        _ => -0.5,
    }
}

pub fn check_numbers(completion: &str, answer: &str) -> f64 {
    let Some(guess) = match_numbers().captures(completion).and_then(|c| c.get(1)) else {
        return 0.0;
    };
    let true_answer = answer.trim().replace(',', "");
    match (
        python_float(&true_answer.trim().replace(',', "")),
        python_float(&guess.as_str().trim().replace(',', "")),
    ) {
        (Some(t), Some(g)) if g == t => 1.5,
        _ => 0.0,
    }
}
