//! Models built on the graph builder. `layers` holds the pieces Gemma 2 and Gemma 3 share;
//! `LoadedModel` is the one way a model directory (or a random preset) becomes weights, config
//! and tokenizer.

pub mod gemma;
pub mod hf;
pub mod layers;
pub mod orbax;
pub mod tokenizer;
pub mod tunix_trees;

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
    /// The folder its tokenizer files came from (None for a random preset): checkpoints copy
    /// them from there.
    pub tokenizer_dir: Option<PathBuf>,
}

impl LoadedModel {
    /// A model folder, weights in `dtype`: HF layout (config.json, *.safetensors,
    /// tokenizer.json), or a Tunix/Orbax checkpoint (see `from_orbax`).
    pub fn from_dir(dir: &Path, dtype: DType) -> anyhow::Result<LoadedModel> {
        if let Some(tree) = orbax_tree_dir(dir) {
            return Self::from_orbax(&tree, dtype)
                .with_context(|| format!("loading the Orbax checkpoint {}", tree.display()));
        }
        let mut config = hf::read_config(dir)?;
        config.dtype = dtype.element_type();
        let params =
            hf::load_params(dir, &config).with_context(|| format!("loading {}", dir.display()))?;
        let (tokenizer, tokenizer_dir) = tokenizer_for(dir, &config)?;
        Ok(LoadedModel {
            config,
            params,
            tokenizer: Arc::new(tokenizer),
            tokenizer_dir,
        })
    }

    /// An Orbax checkpoint of Tunix's model state (nnx tree) or of Google's upstream tree. Its
    /// config is the config.json found in the checkpoint folder or up to two folders above it
    /// (our exports put it there), else the preset whose shapes it has; its tokenizer is the
    /// tokenizer.json found the same way.
    pub fn from_orbax(tree_dir: &Path, dtype: DType) -> anyhow::Result<LoadedModel> {
        let leaves = orbax::read(tree_dir)?;
        let mut config = match find_upwards(tree_dir, "config.json") {
            Some(folder) => hf::read_config(&folder)?,
            None => tunix_trees::preset_for(&leaves).ok_or_else(|| {
                anyhow::anyhow!(
                    "no config.json in or above {} and its arrays match no preset \
                     (gemma3_270m, gemma3_1b, gemma2_2b): put the model's config.json beside it",
                    tree_dir.display()
                )
            })?,
        };
        config.dtype = dtype.element_type();
        let params = tunix_trees::from_leaves(&config, leaves, tree_dir)?
            .into_iter()
            .map(|p| hf::converted(p, config.dtype))
            .collect();
        let (tokenizer, tokenizer_dir) = tokenizer_for(tree_dir, &config)?;
        Ok(LoadedModel {
            config,
            params,
            tokenizer: Arc::new(tokenizer),
            tokenizer_dir,
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
            tokenizer_dir: None,
        })
    }
}

/// The PyTree folder of an Orbax checkpoint at `dir`: `dir` itself, or, for the root of a Tunix
/// `CheckpointManager` (`<root>/<step>/model_params/`), the newest step's `model_params`.
pub fn orbax_tree_dir(dir: &Path) -> Option<PathBuf> {
    if orbax::is_checkpoint(dir) {
        return Some(dir.to_path_buf());
    }
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let step: u64 = e.file_name().to_str()?.parse().ok()?;
            let tree = e.path().join("model_params");
            orbax::is_checkpoint(&tree).then_some((step, tree))
        })
        .max_by_key(|(step, _)| *step)
        .map(|(_, tree)| tree)
}

/// The tokenizer found in or up to two folders above the model folder `dir`; without one, a
/// tiny test model's vocabulary is bytes, as its preset's is.
fn tokenizer_for(
    dir: &Path,
    config: &GemmaConfig,
) -> anyhow::Result<(TextTokenizer, Option<PathBuf>)> {
    match find_upwards(dir, "tokenizer.json") {
        Some(folder) => {
            let t = GemmaTokenizer::load(&folder)?;
            anyhow::ensure!(
                t.vocab_size() as i64 <= config.vocab_size,
                "{}: the tokenizer has {} tokens but the model's embedding has {} rows: it is \
                 not this model's tokenizer",
                folder.join("tokenizer.json").display(),
                t.vocab_size(),
                config.vocab_size
            );
            Ok((TextTokenizer::Gemma(Box::new(t)), Some(folder)))
        }
        None if config.vocab_size <= TextTokenizer::BYTES_VOCAB => Ok((TextTokenizer::Bytes, None)),
        None => anyhow::bail!(
            "no tokenizer.json in or above {}: copy the model's tokenizer.json (from its HF \
             folder) beside it",
            dir.display()
        ),
    }
}

/// The first of `dir` and its two parent folders that holds `file`.
fn find_upwards(dir: &Path, file: &str) -> Option<PathBuf> {
    dir.ancestors()
        .take(3)
        .find(|d| d.join(file).is_file())
        .map(Path::to_path_buf)
}
