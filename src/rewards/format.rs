//! Format rewards that echoing the instruction cannot earn, and the Tunix demo notebook's own
//! variants (`examples/grpo_gemma.ipynb`, which differ from `tunix/cli`'s on edge cases).
//!
//! The base Gemma 3 270M learned under GRPO to copy the instruction ("Place it between
//! <reasoning> and </reasoning>. Then, provide the final answer ... between <answer> and
//! </answer>."), which the demo's unanchored regex rewards. `match_format_anchored` requires the
//! whole completion to be one `<reasoning>…</reasoning>` then one `<answer>…</answer>`, nothing
//! else, and gives nothing to a completion that repeats any six consecutive words of the
//! instruction.

use std::sync::OnceLock;

use regex::Regex;

use super::tunix_demo::{REASONING_END, REASONING_START, SOLUTION_END, SOLUTION_START};
use crate::data::SYSTEM_PROMPT;

/// The whole text, not a line of it: `\A\s*<reasoning>.+?</reasoning>\s*<answer>(.+?)</answer>\s*\z`.
fn anchored() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"(?s)\A\s*<reasoning>(.+?)</reasoning>\s*<answer>(.+?)</answer>\s*\z")
            .expect("valid regex")
    })
}

/// The notebook's regex: `^[\s]{0,}<reasoning>.+?</reasoning>.*?<answer>(.+?)</answer>[\s]{0,}$`
/// with MULTILINE | DOTALL, searched (so `^` and `$` match at any line boundary).
fn notebook_format() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"(?ms)^[\s]{0,}<reasoning>.+?</reasoning>.*?<answer>(.+?)</answer>[\s]{0,}$")
            .expect("valid regex")
    })
}

/// Lower-case words, punctuation dropped.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Whether `completion` repeats six or more consecutive words of the instruction.
pub fn echoes_instruction(completion: &str) -> bool {
    static SHINGLES: OnceLock<Vec<String>> = OnceLock::new();
    let shingles = SHINGLES.get_or_init(|| {
        words(SYSTEM_PROMPT)
            .windows(6)
            .map(|w| w.join(" "))
            .collect()
    });
    let text = format!(" {} ", words(completion).join(" "));
    shingles.iter().any(|s| text.contains(&format!(" {s} ")))
}

/// The answer of a completion in the anchored format (one of each tag, nothing around them).
pub fn anchored_answer(completion: &str) -> Option<&str> {
    let once = [REASONING_START, REASONING_END, SOLUTION_START, SOLUTION_END]
        .iter()
        .all(|tag| completion.matches(tag).count() == 1);
    if !once {
        return None;
    }
    let caps = anchored().captures(completion)?;
    let reasoning = caps.get(1)?.as_str();
    (!reasoning.trim().is_empty()).then(|| caps.get(2).map(|m| m.as_str()))?
}

/// Whether a completion has the target format and does not echo the instruction: what eval
/// counts as format-compliant.
pub fn is_compliant(completion: &str) -> bool {
    anchored_answer(completion).is_some() && !echoes_instruction(completion)
}

/// 3.0 for a compliant completion, else 0.
pub fn match_format_anchored(completion: &str) -> f64 {
    if is_compliant(completion) {
        3.0
    } else {
        0.0
    }
}

/// The notebook's `match_format_exactly`: 3.0 when its regex matches.
pub fn notebook_match_format_exactly(completion: &str) -> f64 {
    if notebook_format().is_match(completion) {
        3.0
    } else {
        0.0
    }
}

/// The notebook's `match_format_approximately`: ±0.5 for each tag appearing exactly once, and
/// ±0.5 for `<reasoning>` opening the completion.
pub fn notebook_match_format_approximately(completion: &str) -> f64 {
    let once = |tag: &str| {
        if completion.matches(tag).count() == 1 {
            0.5
        } else {
            -0.5
        }
    };
    let first = if completion.starts_with(REASONING_START) {
        0.5
    } else {
        -0.5
    };
    once(REASONING_START) + first + once(REASONING_END) + once(SOLUTION_START) + once(SOLUTION_END)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Completions the base 270M produced under GRPO in writeup/longer_run (train.log samples).
    const ECHOES: [&str; 3] = [
        "You are given a problem. First, think about the problem and generate your reasoning. Place it between <reasoning> and </reasoning>. Then, provide the final answer (i.e., just one numerical value) between <answer> and </answer>.",
        "You are given a problem. First, think about the problem and provide your reasoning. Place it between <reasoning> and </reasoning>. Then, provide the final answer (i.e., just one numerical value) between <answer> and </answer>.",
        "You are given a problem. First, think about the problem and provide your reasoning. Place it between <reasoning> and </reasoning> <answer> and </answer>",
    ];

    #[test]
    fn echoing_the_instruction_earns_no_anchored_format_reward() {
        for echo in ECHOES {
            assert!(echoes_instruction(echo), "{echo}");
            assert_eq!(match_format_anchored(echo), 0.0, "{echo}");
            // The echo wrapped in the format still earns nothing.
            let wrapped = format!("<reasoning>{echo}</reasoning>\n<answer>7</answer>");
            assert_eq!(match_format_anchored(&wrapped), 0.0, "{wrapped}");
        }
    }

    #[test]
    fn the_anchored_check_wants_the_whole_completion_in_the_format() {
        let good = "<reasoning>3 boxes of 4 is 3 x 4 = 12.</reasoning>\n<answer>12</answer>";
        assert_eq!(match_format_anchored(good), 3.0);
        assert_eq!(anchored_answer(good), Some("12"));
        assert_eq!(match_format_anchored(&format!("  {good}\n\n")), 3.0);
        for bad in [
            "Sure! <reasoning>x</reasoning><answer>1</answer>",
            "<reasoning>x</reasoning><answer>1</answer> and more text",
            "<reasoning>x</reasoning> then <answer>1</answer>",
            "<reasoning> </reasoning><answer>1</answer>",
            "<reasoning>a</reasoning><reasoning>b</reasoning><answer>1</answer>",
            "<reasoning>x</reasoning><answer>1</answer><answer>2</answer>",
            "<answer>1</answer><reasoning>x</reasoning>",
            "<reasoning>x</reasoning>",
        ] {
            assert_eq!(match_format_anchored(bad), 0.0, "{bad}");
        }
        // Restating the question is not an echo of the instruction.
        assert!(!echoes_instruction(
            "<reasoning>The problem says Ana has 3 apples and buys 4 more.</reasoning><answer>7</answer>"
        ));
    }
}
