//! GRPO: the per-token objective and the optimizer, as graphs.

pub mod objective;
pub mod optimizer;
