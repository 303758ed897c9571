//! Training: the config, the GRPO loop and its stages (prompts, rollout, scoring, packing,
//! learner, metrics), checkpoints.

pub mod bench;
pub mod checkpoint;
pub mod config;
pub mod export;
pub mod learner;
pub mod metrics;
pub mod packing;
pub mod plan;
pub mod prompts;
pub mod rollout;
pub mod scoring;
pub mod sft;
pub mod sft_packing;
pub mod trainer;
