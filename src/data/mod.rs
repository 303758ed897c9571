//! Training data: JSONL records of a question, an optional reference reasoning, an answer and a
//! domain. GSM8K's `answer` field ("...steps... #### 42") is split into reasoning and answer.

use std::path::{Path, PathBuf};

pub mod synthetic;

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Example {
    pub question: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<String>,
    pub answer: String,
    #[serde(default = "general")]
    pub domain: String,
    /// How many worked steps the reference solution takes (generated sets record it, so
    /// evaluation can split one/two-step from three-step problems); absent elsewhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<u32>,
}

fn general() -> String {
    "general".into()
}

/// What to do with a line that is not a valid record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BadLines {
    /// Skip it and count it.
    Skip,
    /// Stop with an error naming the file and line.
    Abort,
}

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}:{line}: {message}", path.display())]
    Line {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{}: no usable records ({skipped} bad lines skipped)", path.display())]
    Empty { path: PathBuf, skipped: usize },
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    question: Option<String>,
    prompt: Option<String>,
    reasoning: Option<String>,
    answer: Option<serde_json::Value>,
    domain: Option<String>,
    steps: Option<u32>,
    /// Tolerated for datasets that carry an id.
    #[allow(dead_code)]
    id: Option<serde_json::Value>,
}

fn parse_line(text: &str) -> Result<Example, String> {
    let r: Record = serde_json::from_str(text).map_err(|e| format!("not a valid record: {e}"))?;
    let question = r
        .question
        .or(r.prompt)
        .ok_or("no `question` (or `prompt`) field")?;
    if question.trim().is_empty() {
        return Err("empty question".into());
    }
    let answer = match r.answer.ok_or("no `answer` field")? {
        serde_json::Value::String(s) => s,
        serde_json::Value::Number(n) => n.to_string(),
        other => return Err(format!("`answer` must be a string or number, got {other}")),
    };
    // GSM8K: "reasoning steps\n#### 42"
    let (reasoning, answer) = match answer.rsplit_once("####") {
        Some((steps, a)) => (
            r.reasoning.or(Some(steps.trim().to_string())),
            a.trim().to_string(),
        ),
        None => (r.reasoning, answer.trim().to_string()),
    };
    if answer.is_empty() {
        return Err("empty answer".into());
    }
    Ok(Example {
        question,
        reasoning,
        answer,
        domain: r.domain.unwrap_or_else(general),
        steps: r.steps,
    })
}

/// Loads a JSONL file; returns the examples and how many bad lines were skipped.
pub fn load_jsonl(path: &Path, policy: BadLines) -> Result<(Vec<Example>, usize), DataError> {
    let text = std::fs::read_to_string(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut examples = vec![];
    let mut skipped = 0;
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match parse_line(line) {
            Ok(e) => examples.push(e),
            Err(message) => match policy {
                BadLines::Abort => {
                    return Err(DataError::Line {
                        path: path.to_path_buf(),
                        line: i + 1,
                        message,
                    })
                }
                BadLines::Skip => {
                    tracing::warn!("{}:{}: skipped: {message}", path.display(), i + 1);
                    skipped += 1;
                }
            },
        }
    }
    if examples.is_empty() {
        return Err(DataError::Empty {
            path: path.to_path_buf(),
            skipped,
        });
    }
    Ok((examples, skipped))
}

/// The Tunix demo's instruction, placed before every question.
pub const SYSTEM_PROMPT: &str = "You are given a problem. First, think about the problem and provide your reasoning. Place it between <reasoning> and </reasoning>. Then, provide the final answer (i.e., just one numerical value) between <answer> and </answer>.";

/// What a supervised example teaches the model to answer: its worked reasoning and answer in
/// the target format. None when the example has no reasoning.
pub fn target_text(e: &Example) -> Option<String> {
    let reasoning = e.reasoning.as_deref()?.trim();
    Some(format!(
        "<reasoning>{reasoning}</reasoning>\n<answer>{}</answer>",
        e.answer.trim()
    ))
}

/// The prompt text for an example (the tokenizer adds BOS), as Tunix's demo data pipeline builds
/// it (`math_dataset.apply_template`): control tokens removed from the question, then the
/// model's chat template on a system message and the question.
pub fn prompt_text(question: &str) -> String {
    use crate::models::tokenizer::{chat_prompt_with_system, sanitize_control_tokens};
    chat_prompt_with_system(SYSTEM_PROMPT, &sanitize_control_tokens(question))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_read_when_present_and_left_out_when_absent() {
        let e = parse_line(r#"{"question":"q","answer":"1","domain":"math","steps":3}"#).unwrap();
        assert_eq!(e.steps, Some(3));
        let json = serde_json::to_string(&e).unwrap();
        assert!(json.ends_with(r#""domain":"math","steps":3}"#), "{json}");
        let e = parse_line(r#"{"question":"q","answer":"1"}"#).unwrap();
        assert_eq!(e.steps, None);
        assert!(!serde_json::to_string(&e).unwrap().contains("steps"));
        assert!(parse_line(r#"{"question":"q","answer":"1","steps":"two"}"#).is_err());
    }
}
