//! Models built on the graph builder. `layers` holds the pieces Gemma 2 and Gemma 3 share.

pub mod gemma;
pub mod hf;
pub mod layers;
pub mod tokenizer;
