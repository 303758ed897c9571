//! GRPO: the per-token objective and the optimizer, as graphs.

pub mod accumulate;
pub mod advantages;
pub mod batches;
pub mod head;
pub mod lora;
pub mod losses;
pub mod objective;
pub mod optimizer;
pub mod programs;
