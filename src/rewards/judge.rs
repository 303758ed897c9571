//! LLM-as-a-judge: a model (default: the frozen reference policy) reads a rubric template filled
//! with the question, reference answer and completion, and answers with a score. The score is
//! parsed robustly; an answer without a usable score is counted and scores 0, never a crash.

use std::path::PathBuf;

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JudgeConfig {
    /// A rubric template with {question}, {answer} and {completion} (data/rubric_templates/).
    pub template: PathBuf,
    /// An HF-layout model to judge with; absent: the frozen reference model being trained.
    #[serde(default)]
    pub model: Option<PathBuf>,
    #[serde(default = "sixteen")]
    pub max_new_tokens: usize,
    /// The weight of the judge's score (0..1) in the total reward.
    #[serde(default = "one")]
    pub weight: f64,
}

fn sixteen() -> usize {
    16
}

fn one() -> f64 {
    1.0
}

/// The judge's prompt for one completion.
pub fn fill(template: &str, question: &str, answer: &str, completion: &str) -> String {
    template
        .replace("{question}", question)
        .replace("{answer}", answer)
        .replace("{completion}", completion)
}

/// A score in [0, 1] from the judge's answer: the number after `SCORE`, else the first number;
/// read as out of 10 (a trailing `/N` or `%` changes the scale). None when there is no number.
pub fn parse_score(text: &str) -> Option<f64> {
    // ASCII upper-casing keeps every byte offset, so `from` indexes `text` too.
    let upper = text.to_ascii_uppercase();
    let from = upper.find("SCORE").map_or(0, |i| i + 5);
    let rest = &text[from..];
    let start = rest.find(|c: char| c.is_ascii_digit())?;
    let digits: String = rest[start..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let value: f64 = digits.trim_end_matches('.').parse().ok()?;
    let after = rest[start + digits.len()..].trim_start();
    let scale = if after.starts_with('%') {
        100.0
    } else if let Some(d) = after.strip_prefix('/') {
        d.trim_start()
            .chars()
            .take_while(|c| c.is_ascii_digit())
            .collect::<String>()
            .parse()
            .unwrap_or(10.0)
    } else {
        10.0
    };
    (scale > 0.0).then(|| (value / scale).clamp(0.0, 1.0))
}
