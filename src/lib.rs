//! grpo-xla: GRPO training for Gemma with XLA programs built in Rust and run through PJRT.

pub mod data;
pub mod eval;
pub mod graph;
pub mod grpo;
pub mod home;
pub mod models;
pub mod pjrt;
pub mod reference;
pub mod rewards;
pub mod rng;
pub mod rollout;
pub mod train;
