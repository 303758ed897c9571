//! Timing a training step the way `train` runs it, for `grpo-xla bench train`: the config's own
//! learner (LoRA or full, its optimizer and batch geometry) on one batch of its own data.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};

use super::config::TrainConfig;
use super::learner::Learner;
use super::packing::TrainExample;
use super::sft::{pack_examples, pack_sft_batch};
use super::sft_packing::PackedExamples;
use super::trainer::{load_model, sft_spec};
use crate::data::load_jsonl;
use crate::graph::Placement;
use crate::grpo::lora::LoraConfig;
use crate::grpo::optimizer::AdamWConfig;
use crate::models::gemma::GemmaConfig;
use crate::pjrt::Client;

/// One supervised step as the SFT phase runs it (the examples packed), timed.
pub struct SftTiming {
    /// Building and compiling the learner's programs, and uploading its state.
    pub compile_s: f64,
    /// Each timed step (after one untimed warm-up step).
    pub steps_s: Vec<f64>,
    /// The loss of the first step (before any update: the same on any implementation).
    pub first_loss: f64,
    /// The batch every step trained on, one example a row (as Tunix's side takes it).
    pub batch: TrainExample,
    /// The same examples as our steps took them, packed (`sft_packing`).
    pub packed: PackedExamples,
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
    let packed = pack_sft_batch(&model.tokenizer, &examples, spec.geo, 1)?;
    let placement = Placement::single(client);
    let started = Instant::now();
    let mut learner = Learner::new(placement, &model, spec, None)?;
    learner.compile_for(packed.geo)?;
    let compile_s = started.elapsed().as_secs_f64();
    let uploaded = learner.prepare_packed_sft(&packed)?;
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
        packed,
        model: model.config.clone(),
        model_dir: model.tokenizer_dir.clone(),
        lora: cfg.lora.clone(),
        optimizer,
    })
}

/// A copy of `config` at `out` that runs only its GRPO phase (no `sft:`), for `steps` steps,
/// with no checkpoint or sample before the end; `edit` changes the YAML mapping further.
pub fn write_grpo_only_config(
    config: &Path,
    steps: usize,
    out: &Path,
    edit: impl FnOnce(&mut serde_yaml::Mapping) -> Result<()>,
) -> Result<()> {
    use serde_yaml::Value;
    let text =
        std::fs::read_to_string(config).with_context(|| format!("reading {}", config.display()))?;
    let mut cfg: Value =
        serde_yaml::from_str(&text).with_context(|| format!("parsing {}", config.display()))?;
    let map = cfg
        .as_mapping_mut()
        .with_context(|| format!("{} is not a mapping", config.display()))?;
    map.remove("sft");
    // Files the config includes are named relative to it; the copy lives elsewhere.
    let base = config.parent().unwrap_or(Path::new("."));
    for key in ["grpo_config", "reward_config"] {
        if let Some(Value::String(f)) = map.get(key) {
            let path = base.join(f).to_string_lossy().into_owned();
            map.insert(key.into(), path.into());
        }
    }
    let training = map
        .get_mut("training")
        .and_then(Value::as_mapping_mut)
        .with_context(|| format!("{} has no training section", config.display()))?;
    training.insert("steps".into(), (steps as u64).into());
    training.insert("checkpoint_every".into(), 1_000_000u64.into());
    training.insert("sample_every".into(), 1_000_000u64.into());
    edit(map)?;
    std::fs::write(out, serde_yaml::to_string(&cfg)?)
        .with_context(|| format!("writing {}", out.display()))
}

/// GRPO steps of a config as `train` runs them, timed.
pub struct GrpoTiming {
    /// The first step's seconds (it compiles the rollout programs; the learner compiled before).
    pub first_s: f64,
    /// Each step after the first: rollout, scoring, reference log-probs and the update.
    pub steps_s: Vec<f64>,
    /// The rollout part of each timed step.
    pub rollout_s: Vec<f64>,
    /// Tokens the learner's programs ran over in each timed step (rows, or grouped rows).
    pub trained_tokens: Vec<f64>,
    /// The step's prompts (the first batch of the data, unshuffled) as the rollouts read them.
    pub prompt_ids: Vec<Vec<u32>>,
    /// The run's config (GRPO only, fixed-length completions).
    pub config: TrainConfig,
    pub model: GemmaConfig,
    pub model_dir: Option<std::path::PathBuf>,
}

/// `steps` GRPO steps (after one untimed first step) of the config, through `train` itself, in
/// `dir`: the data unshuffled and every completion `max_new_tokens` long, so that another
/// implementation given the same prompts does the same work.
pub fn time_grpo(config: &Path, client: Client, steps: usize, dir: &Path) -> Result<GrpoTiming> {
    use super::trainer::{train, RunOptions};
    let copy = dir.join("grpo_only.yaml");
    write_grpo_only_config(config, steps + 1, &copy, |map| {
        let set = |map: &mut serde_yaml::Mapping, section: &str, key: &str, value: bool| {
            if let Some(s) = map.get_mut(section).and_then(|v| v.as_mapping_mut()) {
                s.insert(key.into(), value.into());
            }
        };
        set(map, "data", "shuffle", false);
        set(map, "rollout", "fixed_length", true);
        Ok(())
    })?;
    let cfg = TrainConfig::load(&copy)?;
    let model = load_model(&cfg, config)?;
    let (data, _) = load_jsonl(&cfg.data.train, cfg.data.bad_lines)?;
    let prompt_ids = data
        .iter()
        .take(cfg.training.prompts_per_step)
        .map(|e| {
            let ids = model
                .tokenizer
                .encode(&crate::data::prompt_text(&e.question))?;
            Ok(super::rollout::truncate_keeping_bos(
                ids,
                cfg.rollout.max_prompt_length,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    let run = dir.join("run");
    let options = RunOptions {
        output_dir: Some(run.clone()),
        resume: false,
        max_steps: None,
    };
    train(&copy, options, client)?;
    let metrics = std::fs::read_to_string(run.join("metrics.jsonl"))?;
    let lines: Vec<serde_json::Value> = metrics
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    let field = |name: &str| -> Vec<f64> {
        lines
            .iter()
            .filter_map(|l| l.get(name).and_then(|v| v.as_f64()))
            .collect()
    };
    let all = field("step_time_s");
    anyhow::ensure!(
        all.len() == steps + 1,
        "{}: expected {} GRPO steps in metrics.jsonl, found {}",
        run.display(),
        steps + 1,
        all.len()
    );
    Ok(GrpoTiming {
        first_s: all[0],
        steps_s: all[1..].to_vec(),
        rollout_s: field("time/rollout_s")[1..].to_vec(),
        trained_tokens: field("train_tokens_per_s")
            .iter()
            .zip(field("time/update_s"))
            .skip(1)
            .map(|(rate, s)| rate * s / cfg.grpo().num_iterations as f64)
            .collect(),
        prompt_ids,
        model: model.config.clone(),
        model_dir: model.tokenizer_dir.clone(),
        config: cfg,
    })
}
