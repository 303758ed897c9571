//! grpo-xla: GRPO training for Gemma with XLA programs built in Rust and run through PJRT.

pub mod home;
pub mod graph;
pub mod pjrt;
pub mod reference;
