//! Training: the config, the GRPO loop, checkpoints.

pub mod checkpoint;
pub mod config;
pub mod trainer;
