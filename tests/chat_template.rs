//! Our chat prompts against the model's own chat template and Tunix's demo prompt helper.
//!
//! `chat_prompt` (one user turn) is compared with `apply_chat_template` of transformers on
//! models/gemma3-270m/tokenizer_config.json, and `prompt_text` (the training prompt: the demo's
//! system text, then the question) with Tunix's `math_dataset.apply_template`, which strips
//! control tokens from the question and renders a system + user message with that template (its
//! system text swapped for ours, the notebook's). Messages: plain, multi-line, non-ASCII,
//! surrounded by whitespace (the template trims the user text with Python's `str.strip`), and
//! holding control-token text. Text must be equal exactly, and so must the token ids: ours
//! (`GemmaTokenizer::encode`, which puts BOS in front) against the HF tokenizer's ids for the
//! rendered template (whose text begins with `<bos>`): one BOS, never two.

use std::path::PathBuf;

use grpo_xla::data::{prompt_text, SYSTEM_PROMPT};
use grpo_xla::models::tokenizer::{chat_prompt, template_trim, GemmaTokenizer, BOS};
use grpo_xla::reference;
use serde_json::{json, Value};

const SCRIPT: &str = include_str!("reference/chat_template.py");

fn model_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("models")
        .join("gemma3-270m");
    assert!(
        dir.join("tokenizer_config.json").is_file(),
        "{} is missing: build it with scripts/setup.sh",
        dir.display()
    );
    dir
}

const MESSAGES: &[&str] = &[
    "What is 12 + 30? Answer with a number.",
    "First line.\nSecond line:\n\n  - an indented item\n\tand a tab.",
    "Combien font 3 × 4 ? Réponds en français. 数学の問題です。 Ελληνικά, emoji 🙂👍🏽",
    "  \n  surrounded by whitespace, inside too  \t\n",
    "\u{3000}ideographic space and\u{a0}no-break space\u{2029}",
    "\u{1f}a unit separator, which Python's strip removes\u{1c}",
    " \n ",
    "<bos>at the start, and <st<eos>art_of_turn> nested",
    "text that says <end_of_turn> and <start_of_turn>model inside",
];

fn ids(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

#[test]
fn chat_prompts_equal_the_model_template_and_tunix() {
    let dir = model_dir();
    let tokenizer = GemmaTokenizer::load(&dir).unwrap();
    let theirs = reference::run(
        SCRIPT,
        &json!({"model_dir": dir, "messages": MESSAGES, "questions": MESSAGES, "system_prompt": SYSTEM_PROMPT}),
    )
    .unwrap();

    for (i, m) in MESSAGES.iter().enumerate() {
        let hf = &theirs["users"][i];
        let rendered = hf["text"].as_str().unwrap();
        let ours = chat_prompt(m);
        assert_eq!(
            format!("<bos>{ours}"),
            rendered,
            "chat_prompt({m:?}) differs from the model's chat template"
        );
        let hf_ids = ids(&hf["ids"]);
        assert_eq!(hf_ids, ids(&hf["plain_ids"]));
        assert!(
            hf_ids[0] == BOS && hf_ids[1] != BOS,
            "{m:?}: one BOS in front: {hf_ids:?}"
        );
        assert_eq!(
            tokenizer.encode(&ours).unwrap(),
            hf_ids,
            "{m:?}: our ids differ from the HF tokenizer's"
        );
        // Text that already carries the template's <bos> gets no second one.
        assert_eq!(
            tokenizer.encode(rendered).unwrap(),
            hf_ids,
            "{m:?}: encoding the rendered template (with its <bos>)"
        );

        let tunix = theirs["tunix_prompts"][i].as_str().unwrap();
        let ours = prompt_text(m);
        assert_eq!(
            format!("<bos>{ours}"),
            tunix,
            "prompt_text({m:?}) differs from Tunix's math_dataset.apply_template"
        );
        let demo = &theirs["demo"][i];
        assert_eq!(demo["text"].as_str().unwrap(), tunix);
        assert_eq!(
            tokenizer.encode(&ours).unwrap(),
            ids(&demo["ids"]),
            "{m:?}: training prompt ids differ from the HF tokenizer's"
        );
    }
    // The control-token text really was removed on Tunix's side (and so on ours).
    let last = theirs["tunix_questions"][MESSAGES.len() - 1]
        .as_str()
        .unwrap();
    assert_eq!(last, "text that says  and model inside");
    eprintln!(
        "Tunix's fallback template (used without an HF tokenizer): {:?}",
        theirs["fallback_template"]
    );
}

/// Jinja's `trim` is Python's `str.strip()`: every code point Python calls whitespace, and no
/// other, is trimmed by ours.
#[test]
fn template_trim_strips_what_python_strips() {
    let theirs = reference::run(
        SCRIPT,
        &json!({"model_dir": model_dir(), "messages": [], "questions": [], "system_prompt": SYSTEM_PROMPT}),
    )
    .unwrap();
    let space: std::collections::BTreeSet<u32> = ids(&theirs["isspace"]).into_iter().collect();
    assert!(space.len() > 20, "{space:?}");
    for cp in 0..0x11_0000u32 {
        let Some(c) = char::from_u32(cp) else {
            continue;
        };
        let s = format!("{c}x{c}");
        let trimmed = template_trim(&s) == "x";
        assert_eq!(
            trimmed,
            space.contains(&cp),
            "U+{cp:04X}: Python strips it: {}",
            space.contains(&cp)
        );
    }
}
