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

    /// Token ids of `text`, with BOS in front (Gemma is always run with it).
    pub fn encode(&self, text: &str) -> anyhow::Result<Vec<u32>> {
        let enc = self
            .inner
            .encode(text, false)
            .map_err(|e| anyhow::anyhow!("tokenizing: {e}"))?;
        Ok(std::iter::once(BOS)
            .chain(enc.get_ids().iter().copied())
            .collect())
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

/// Gemma's chat template for one user turn, ready for the model's answer.
pub fn chat_prompt(user: &str) -> String {
    format!("{START_OF_TURN}user\n{user}{END_OF_TURN}\n{START_OF_TURN}model\n")
}

/// Text ↔ ids for training: the Gemma tokenizer, or bytes for tiny test models
/// (0 pad, 1 eos, 2 bos, 3 end of turn, 4 + b for byte b; vocabulary 260).
pub enum TextTokenizer {
    Gemma(Box<GemmaTokenizer>),
    Bytes,
}

impl TextTokenizer {
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
