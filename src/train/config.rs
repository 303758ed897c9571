//! The training configuration: YAML with every key documented in `configs/`, unknown keys
//! rejected with their path. The GRPO and reward sections may live in their own files
//! (`grpo_config:` / `reward_config:`, relative to the config file).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::data::BadLines;
use crate::graph::Layout;
use crate::grpo::advantages::Estimator;
use crate::grpo::lora::LoraConfig;
use crate::grpo::objective::{Aggregation, KlEstimator};
use crate::models::DType;
use crate::rewards::WeightedReward;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: at `{key}`: {message}", path.display())]
    Invalid {
        path: PathBuf,
        key: String,
        message: String,
    },
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    pub model: ModelSection,
    pub data: DataSection,
    pub rollout: RolloutSection,
    #[serde(default)]
    pub grpo: Option<GrpoSection>,
    #[serde(default)]
    pub grpo_config: Option<PathBuf>,
    #[serde(default)]
    pub rewards: Option<RewardSection>,
    #[serde(default)]
    pub reward_config: Option<PathBuf>,
    pub optimizer: OptimizerSection,
    /// Absent: full fine-tuning.
    #[serde(default)]
    pub lora: Option<LoraConfig>,
    /// A supervised warm start before GRPO (absent: GRPO only).
    #[serde(default)]
    pub sft: Option<SftSection>,
    pub training: TrainingSection,
    /// How the devices are arranged (absent: every device on `data`).
    #[serde(default)]
    pub mesh: MeshSection,
}

/// The device mesh: `data` splits every batch (rollouts and the learner's), `fsdp` splits the
/// batch too and the trainable weights and optimizer state along with it. Their product must
/// be the number of devices; give one and the other is what is left.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeshSection {
    #[serde(default)]
    pub data: Option<usize>,
    #[serde(default)]
    pub fsdp: Option<usize>,
}

impl MeshSection {
    /// The layout over `devices` devices, or what is wrong with the section for that count.
    pub fn layout(&self, devices: usize) -> anyhow::Result<Layout> {
        let (data, fsdp) = match (self.data, self.fsdp) {
            (None, None) => (devices, 1),
            (Some(d), None) if d > 0 && devices % d == 0 => (d, devices / d),
            (None, Some(f)) if f > 0 && devices % f == 0 => (devices / f, f),
            (Some(d), Some(f)) if d * f == devices => (d, f),
            _ => anyhow::bail!(
                "mesh: data={} × fsdp={} does not make the {devices} devices of this run (set one of them, or both so that they multiply to {devices})",
                self.data.map_or("-".to_string(), |d| d.to_string()),
                self.fsdp.map_or("-".to_string(), |f| f.to_string()),
            ),
        };
        Ok(Layout::new(data as i64, fsdp as i64))
    }
}

/// The supervised phase: `steps` updates of cross-entropy on worked examples rendered as
/// `<reasoning>…</reasoning>\n<answer>…</answer>` after the chat prompt, then GRPO starts from the
/// result (which is also its reference policy). Adam's b1, b2, eps, weight decay and clipping
/// come from `optimizer:`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SftSection {
    /// JSONL rows with `question`, `reasoning` and `answer`.
    pub data: PathBuf,
    pub steps: usize,
    pub batch_size: usize,
    #[serde(default = "sft_prompt_tokens")]
    pub max_prompt_length: usize,
    /// Target tokens kept per example (longer targets are cut; the end-of-turn token is one).
    #[serde(default = "sft_target_tokens")]
    pub max_target_length: usize,
    pub learning_rate: f64,
    #[serde(default = "warmup")]
    pub warmup_ratio: f64,
}

fn sft_prompt_tokens() -> usize {
    128
}

fn sft_target_tokens() -> usize {
    160
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSection {
    /// An HF-layout model directory.
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// Or a preset with random weights (tests): tiny_gemma3, tiny_gemma2.
    #[serde(default)]
    pub preset: Option<String>,
    /// Parameter type on the device: f32 or bf16.
    #[serde(default)]
    pub dtype: DType,
    #[serde(default)]
    pub init_seed: u64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSection {
    pub train: PathBuf,
    #[serde(default = "skip")]
    pub bad_lines: BadLines,
    #[serde(default = "yes")]
    pub shuffle: bool,
    /// Keep only problems of at most this many reasoning steps (a curriculum on easy problems;
    /// rows without `steps` are kept).
    #[serde(default)]
    pub max_steps: Option<usize>,
    /// Keep only problems of these domains (a curriculum on the domains where the starting
    /// model already samples right answers, so its groups carry an advantage).
    #[serde(default)]
    pub domains: Option<Vec<String>>,
}

fn skip() -> BadLines {
    BadLines::Skip
}

fn yes() -> bool {
    true
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolloutSection {
    pub num_generations: usize,
    pub max_prompt_length: usize,
    pub max_new_tokens: usize,
    pub temperature: f32,
    #[serde(default)]
    pub top_k: Option<i64>,
    #[serde(default = "one_f32")]
    pub top_p: f32,
    #[serde(default = "answer_end")]
    pub stop_strings: Vec<String>,
    /// Every completion runs to `max_new_tokens`: end-of-turn tokens and stop strings are
    /// ignored. For benchmarks that must compare equal work (Tunix's sampler stops at EOS only).
    #[serde(default)]
    pub fixed_length: bool,
    /// The rollouts' weights and activations (default: the model's). bf16 halves the bytes a
    /// decode step reads; the learner stays in the model's dtype.
    #[serde(default)]
    pub dtype: Option<crate::models::DType>,
}

fn one_f32() -> f32 {
    1.0
}

fn answer_end() -> Vec<String> {
    vec!["</answer>".into()]
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrpoSection {
    #[serde(default = "beta")]
    pub beta: f64,
    #[serde(default = "epsilon")]
    pub epsilon: f64,
    #[serde(default)]
    pub epsilon_high: Option<f64>,
    #[serde(default = "kl")]
    pub kl: KlEstimator,
    #[serde(default = "aggregation")]
    pub aggregation: Aggregation,
    #[serde(default = "one_usize")]
    pub num_iterations: usize,
    #[serde(default = "estimator")]
    pub advantage: Estimator,
    #[serde(default = "adv_eps")]
    pub advantage_epsilon: f64,
    /// Divide the training logits by the rollout temperature (Tunix 0.1.7 does).
    #[serde(default = "yes")]
    pub scale_logits_by_temperature: bool,
    /// Leave groups whose rewards are all equal out of the update (their advantages are 0):
    /// less work per step, and the loss averages over the groups that teach something.
    #[serde(default)]
    pub drop_uniform_groups: bool,
}

fn beta() -> f64 {
    0.04
}
fn epsilon() -> f64 {
    0.2
}
fn kl() -> KlEstimator {
    KlEstimator::Kl
}
fn aggregation() -> Aggregation {
    Aggregation::SequenceMeanTokenMean
}
fn one_usize() -> usize {
    1
}
fn estimator() -> Estimator {
    Estimator::Grpo
}
fn adv_eps() -> f64 {
    1e-6
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RewardSection {
    pub functions: Vec<WeightedReward>,
    /// An LLM judge scoring each completion against a rubric template (optional).
    #[serde(default)]
    pub judge: Option<crate::rewards::judge::JudgeConfig>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizerSection {
    pub learning_rate: f64,
    #[serde(default = "b1")]
    pub b1: f64,
    #[serde(default = "b2")]
    pub b2: f64,
    #[serde(default = "adam_eps")]
    pub eps: f64,
    #[serde(default = "wd")]
    pub weight_decay: f64,
    #[serde(default)]
    pub max_grad_norm: Option<f64>,
    #[serde(default = "warmup")]
    pub warmup_ratio: f64,
}

fn b1() -> f64 {
    0.9
}
fn b2() -> f64 {
    0.99
}
fn adam_eps() -> f64 {
    1e-8
}
fn wd() -> f64 {
    0.1
}
fn warmup() -> f64 {
    0.1
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingSection {
    pub steps: usize,
    pub prompts_per_step: usize,
    #[serde(default)]
    pub seed: u64,
    #[serde(default = "ten")]
    pub checkpoint_every: usize,
    #[serde(default = "one_usize")]
    pub log_every: usize,
    #[serde(default = "ten")]
    pub sample_every: usize,
    pub output_dir: PathBuf,
    /// The learner pads each GRPO batch's prompts and completions only to the next multiple of
    /// this over the longest of them, not to the configured lengths (0: always to those). SFT
    /// batches are packed instead (`sft_packing`).
    #[serde(default = "thirty_two")]
    pub pad_to_multiple_of: i64,
    /// Gradient accumulation: the learner takes a step's completions this many at a time and
    /// sums their gradients into one update (the same update as all at once, in less memory).
    /// Unset: all of a step's completions in one program.
    #[serde(default)]
    pub micro_batch_rows: Option<usize>,
}

fn thirty_two() -> i64 {
    32
}

fn ten() -> usize {
    10
}

fn parse<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let de = serde_yaml::Deserializer::from_str(&text);
    serde_path_to_error::deserialize(de).map_err(|e| ConfigError::Invalid {
        path: path.to_path_buf(),
        key: if e.path().to_string() == "." {
            "(top level)".into()
        } else {
            e.path().to_string()
        },
        message: e.inner().to_string(),
    })
}

fn invalid(path: &Path, key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        path: path.to_path_buf(),
        key: key.into(),
        message: message.into(),
    }
}

/// A section given inline (`key:`) or in a file of its own (`file_key: FILE`, relative to the
/// config), exactly one of the two.
fn inline_or_file<T: Clone + serde::de::DeserializeOwned>(
    path: &Path,
    inline: &Option<T>,
    file: &Option<PathBuf>,
    key: &str,
    file_key: &str,
) -> Result<T, ConfigError> {
    match (inline, file) {
        (Some(_), Some(_)) => Err(invalid(
            path,
            file_key,
            format!("give either `{key}:` or `{file_key}:`, not both"),
        )),
        (Some(section), None) => Ok(section.clone()),
        (None, Some(f)) => parse(&path.parent().unwrap_or(Path::new(".")).join(f)),
        (None, None) => Err(invalid(
            path,
            key,
            format!("missing: give a `{key}:` section or `{file_key}: FILE`"),
        )),
    }
}

impl TrainConfig {
    /// Reads the config and the files it names, and checks what serde cannot.
    pub fn load(path: &Path) -> Result<TrainConfig, ConfigError> {
        let mut cfg: TrainConfig = parse(path)?;
        cfg.grpo = Some(inline_or_file(
            path,
            &cfg.grpo,
            &cfg.grpo_config,
            "grpo",
            "grpo_config",
        )?);
        cfg.rewards = Some(inline_or_file(
            path,
            &cfg.rewards,
            &cfg.reward_config,
            "rewards",
            "reward_config",
        )?);
        if cfg.model.path.is_some() == cfg.model.preset.is_some() {
            return Err(invalid(
                path,
                "model",
                "give exactly one of `path` and `preset`",
            ));
        }
        if cfg.rollout.num_generations < 2 {
            return Err(invalid(
                path,
                "rollout.num_generations",
                "GRPO needs at least 2 generations per prompt",
            ));
        }
        if cfg.training.steps == 0 || cfg.training.prompts_per_step == 0 {
            return Err(invalid(
                path,
                "training",
                "steps and prompts_per_step must be at least 1",
            ));
        }
        if cfg.training.micro_batch_rows == Some(0) {
            return Err(invalid(
                path,
                "training.micro_batch_rows",
                "a micro-batch needs at least 1 row (leave it out for the whole step at once)",
            ));
        }
        if let Some(sft) = &cfg.sft {
            if sft.steps == 0 || sft.batch_size == 0 || sft.max_target_length == 0 {
                return Err(invalid(
                    path,
                    "sft",
                    "steps, batch_size and max_target_length must be at least 1",
                ));
            }
        }
        if cfg.rewards.as_ref().is_some_and(|r| r.functions.is_empty()) {
            return Err(invalid(
                path,
                "rewards.functions",
                "at least one reward function is needed",
            ));
        }
        let functions = cfg.rewards.as_ref().map_or(&[][..], |r| &r.functions[..]);
        for (i, f) in functions.iter().enumerate() {
            if let Some(problem) = f.problem() {
                return Err(invalid(path, &format!("rewards.functions[{i}]"), &problem));
            }
        }
        Ok(cfg)
    }

    pub fn grpo(&self) -> &GrpoSection {
        self.grpo.as_ref().expect("checked in load")
    }

    pub fn rewards(&self) -> &[WeightedReward] {
        &self.rewards.as_ref().expect("checked in load").functions
    }

    pub fn judge(&self) -> Option<&crate::rewards::judge::JudgeConfig> {
        self.rewards.as_ref().and_then(|r| r.judge.as_ref())
    }
}
