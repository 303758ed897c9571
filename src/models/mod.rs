//! Models built on the graph builder. `layers` holds the pieces Gemma 2 and Gemma 3 share;
//! `LoadedModel` is the one way a model directory (or a random preset) becomes weights, config
//! and tokenizer.

pub mod gemma;
pub mod hf;
pub mod layers;
pub mod tokenizer;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;

use crate::graph::HostArray;
use crate::pjrt::ElementType;
use gemma::GemmaConfig;
use tokenizer::{GemmaTokenizer, TextTokenizer};

/// The parameter type of a model on the device, as configs and flags spell it.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum DType {
    #[default]
    F32,
    Bf16,
}

impl DType {
    pub fn element_type(self) -> ElementType {
        match self {
            DType::F32 => ElementType::F32,
            DType::Bf16 => ElementType::BF16,
        }
    }
}

/// A model ready to upload: its config, weights in `param_specs` order, and tokenizer.
pub struct LoadedModel {
    pub config: GemmaConfig,
    pub params: Vec<HostArray>,
    pub tokenizer: Arc<TextTokenizer>,
    /// The HF directory it came from (None for a random preset).
    pub dir: Option<PathBuf>,
}

impl LoadedModel {
    /// An HF-layout directory (config.json, *.safetensors, tokenizer.json), weights in `dtype`.
    pub fn from_dir(dir: &Path, dtype: DType) -> anyhow::Result<LoadedModel> {
        let mut config = hf::read_config(dir)?;
        config.dtype = dtype.element_type();
        let params =
            hf::load_params(dir, &config).with_context(|| format!("loading {}", dir.display()))?;
        let tokenizer = GemmaTokenizer::load(dir)?;
        Ok(LoadedModel {
            config,
            params,
            tokenizer: Arc::new(TextTokenizer::Gemma(Box::new(tokenizer))),
            dir: Some(dir.to_path_buf()),
        })
    }

    /// A preset with seeded random f32 weights and the byte tokenizer (tests, smoke runs).
    pub fn random(preset: &str, seed: u64) -> Option<LoadedModel> {
        let mut config = GemmaConfig::preset(preset)?;
        config.dtype = ElementType::F32;
        let params = gemma::random_params(&config, seed);
        Some(LoadedModel {
            config,
            params,
            tokenizer: Arc::new(TextTokenizer::Bytes),
            dir: None,
        })
    }
}
