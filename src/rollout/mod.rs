//! Rollouts: prefill and KV-cache decoding on the device, sampling, batching of G samples per prompt.

pub mod generator;
pub mod programs;
pub mod sampling;
pub mod stop;

pub use generator::{Completion, Finish, Generator, SamplingParams};
