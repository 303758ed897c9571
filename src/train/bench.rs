//! Timing a training step the way `train` runs it, for `grpo-xla bench train`: the config's own
//! learner (LoRA or full, its optimizer and batch geometry) on one batch of its own data.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};

use super::config::TrainConfig;
use super::learner::Learner;
use super::packing::TrainExample;
use super::sft::pack_examples;
use super::trainer::{load_model, sft_spec};
use crate::data::load_jsonl;
use crate::graph::Placement;
use crate::grpo::lora::LoraConfig;
use crate::grpo::optimizer::AdamWConfig;
use crate::models::gemma::GemmaConfig;
use crate::pjrt::Client;

/// One supervised step, timed.
pub struct SftTiming {
    /// Building and compiling the learner's programs, and uploading its state.
    pub compile_s: f64,
    /// Each timed step (after one untimed warm-up step).
    pub steps_s: Vec<f64>,
    /// The loss of the first step (before any update: the same on any implementation).
    pub first_loss: f64,
    /// The batch every step trained on.
    pub batch: TrainExample,
    pub model: GemmaConfig,
    pub model_dir: Option<std::path::PathBuf>,
    pub lora: Option<LoraConfig>,
    pub optimizer: AdamWConfig,
}

/// `steps` supervised updates of the config's `sft:` learner on the first batch of its data.
pub fn time_sft(config: &Path, client: Client, steps: usize) -> Result<SftTiming> {
    let cfg = TrainConfig::load(config)?;
    let sft = cfg
        .sft
        .as_ref()
        .with_context(|| format!("{} has no sft section", config.display()))?;
    let model = load_model(&cfg, config)?;
    let (data, _) = load_jsonl(&sft.data, cfg.data.bad_lines)?;
    let spec = sft_spec(&cfg, sft, &model.config);
    let optimizer = spec.optimizer.clone();
    let examples: Vec<_> = data.iter().take(sft.batch_size).collect();
    let batch = pack_examples(&model.tokenizer, &examples, spec.geo)?;
    let placement = Placement::single(client);
    let started = Instant::now();
    let mut learner = Learner::new(placement, &model, spec, None)?;
    let compile_s = started.elapsed().as_secs_f64();
    let uploaded = learner.prepare_sft(&batch)?;
    let first_loss = learner.update(&uploaded)?.loss as f64;
    let mut steps_s = vec![];
    for _ in 0..steps {
        let t = Instant::now();
        learner.update(&uploaded)?;
        steps_s.push(t.elapsed().as_secs_f64());
    }
    Ok(SftTiming {
        compile_s,
        steps_s,
        first_loss,
        batch,
        model: model.config.clone(),
        model_dir: model.tokenizer_dir.clone(),
        lora: cfg.lora.clone(),
        optimizer,
    })
}
