//! The Gemma tokenizer (tokenizer.json through the `tokenizers` crate) and chat template.

use std::path::Path;

pub const BOS: u32 = 2;
pub const EOS: u32 = 1;
pub const PAD: u32 = 0;
pub const START_OF_TURN: &str = "<start_of_turn>";
pub const END_OF_TURN: &str = "<end_of_turn>";

pub struct GemmaTokenizer {
    inner: tokenizers::Tokenizer,
    pub end_of_turn: u32,
}

impl GemmaTokenizer {
    pub fn load(dir: &Path) -> anyhow::Result<GemmaTokenizer> {
        let path = dir.join("tokenizer.json");
        let inner = tokenizers::Tokenizer::from_file(&path)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let end_of_turn = inner.token_to_id(END_OF_TURN).unwrap_or(106);
        Ok(GemmaTokenizer { inner, end_of_turn })
    }

    /// How many tokens its vocabulary has (added tokens not counted).
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(false)
    }

    /// Token ids of `text`, with BOS in front (Gemma is always run with it). Text that already
    /// begins with `<bos>` (the chat template's own rendering does) gets no second one.
    pub fn encode(&self, text: &str) -> anyhow::Result<Vec<u32>> {
        let enc = self
            .inner
            .encode(text, false)
            .map_err(|e| anyhow::anyhow!("tokenizing: {e}"))?;
        let ids = enc.get_ids();
        let bos = (ids.first() != Some(&BOS)).then_some(BOS);
        Ok(bos.into_iter().chain(ids.iter().copied()).collect())
    }

    pub fn decode(&self, ids: &[u32]) -> anyhow::Result<String> {
        self.inner
            .decode(ids, true)
            .map_err(|e| anyhow::anyhow!("detokenizing: {e}"))
    }

    /// The tokens that end a completion: `<eos>` and `<end_of_turn>`.
    pub fn stop_tokens(&self) -> Vec<u32> {
        vec![EOS, self.end_of_turn]
    }
}

/// Gemma's chat template (the model's `chat_template`) for one user turn, ready for the model's
/// answer, without the template's leading `<bos>` (`encode` adds it). The template trims the
/// message as Jinja's `trim` does.
pub fn chat_prompt(user: &str) -> String {
    let user = template_trim(user);
    format!("{START_OF_TURN}user\n{user}{END_OF_TURN}\n{START_OF_TURN}model\n")
}

/// The template for a system message then one user turn: Gemma has no system role, so the
/// template puts the system text (untrimmed) and a blank line before the (trimmed) user text.
pub fn chat_prompt_with_system(system: &str, user: &str) -> String {
    let user = template_trim(user);
    format!("{START_OF_TURN}user\n{system}\n\n{user}{END_OF_TURN}\n{START_OF_TURN}model\n")
}

/// Jinja's `trim` filter, Python's `str.strip()`: what Python calls whitespace, which is
/// Unicode's White_Space plus the separators U+001C..U+001F.
pub fn template_trim(text: &str) -> &str {
    text.trim_matches(|c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c))
}

/// The control-token texts Tunix's demo data pipeline removes from questions
/// (`tunix.utils.token_sanitization`), so a question cannot open or close a turn.
const CONTROL_TOKENS: &[&str] = &[
    "<start_of_turn>",
    "<end_of_turn>",
    "<bos>",
    "<eos>",
    "<|begin_of_text|>",
    "<|end_of_text|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|eot_id|>",
    "<|im_start|>",
    "<|im_end|>",
];

/// Removes control-token text, again until none is left (removal can join a new one).
pub fn sanitize_control_tokens(text: &str) -> String {
    let mut text = text.to_string();
    loop {
        let mut next = String::with_capacity(text.len());
        let mut rest = text.as_str();
        'scan: while !rest.is_empty() {
            for t in CONTROL_TOKENS {
                if let Some(after) = rest.strip_prefix(t) {
                    rest = after;
                    continue 'scan;
                }
            }
            let c = rest.chars().next().expect("not empty");
            next.push(c);
            rest = &rest[c.len_utf8()..];
        }
        if next == text {
            return text;
        }
        text = next;
    }
}

/// Text ↔ ids for training: the Gemma tokenizer, or bytes for tiny test models
/// (0 pad, 1 eos, 2 bos, 3 end of turn, 4 + b for byte b; vocabulary 260).
pub enum TextTokenizer {
    Gemma(Box<GemmaTokenizer>),
    Bytes,
}

impl TextTokenizer {
    /// The byte tokenizer's vocabulary size.
    pub const BYTES_VOCAB: i64 = 260;

    pub fn encode(&self, text: &str) -> anyhow::Result<Vec<u32>> {
        match self {
            TextTokenizer::Gemma(t) => t.encode(text),
            TextTokenizer::Bytes => Ok(std::iter::once(BOS)
                .chain(text.bytes().map(|b| 4 + b as u32))
                .collect()),
        }
    }

    pub fn decode(&self, ids: &[u32]) -> String {
        match self {
            TextTokenizer::Gemma(t) => t.decode(ids).unwrap_or_default(),
            TextTokenizer::Bytes => String::from_utf8_lossy(
                &ids.iter()
                    .filter(|&&i| i >= 4)
                    .map(|&i| (i - 4) as u8)
                    .collect::<Vec<_>>(),
            )
            .into_owned(),
        }
    }

    pub fn stop_tokens(&self) -> Vec<u32> {
        vec![EOS, self.end_of_turn()]
    }

    /// The token that ends the model's turn (what a supervised target ends with).
    pub fn end_of_turn(&self) -> u32 {
        match self {
            TextTokenizer::Gemma(t) => t.end_of_turn,
            TextTokenizer::Bytes => 3,
        }
    }

    /// Ids of `text` as a continuation: no BOS in front.
    pub fn encode_continuation(&self, text: &str) -> anyhow::Result<Vec<u32>> {
        let mut ids = self.encode(text)?;
        ids.remove(0);
        Ok(ids)
    }
}
