//! The rollout stage: the step's prompts as token ids, the policy's current weights handed over
//! from the learner, and G sampled completions per prompt.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Result;

use crate::data::{prompt_text, Example};
use crate::graph::DeviceArray;
use crate::models::tokenizer::TextTokenizer;
use crate::rollout::{Completion, Generator, SamplingParams};

/// Keeps BOS and the last `max - 1` tokens (the end holds the question and the turn marker).
pub fn truncate_keeping_bos(ids: Vec<u32>, max: usize) -> Vec<u32> {
    if ids.len() <= max {
        return ids;
    }
    std::iter::once(ids[0])
        .chain(ids[ids.len() - max + 1..].iter().copied())
        .collect()
}

/// One step's samples and how long they took.
pub struct Rollout {
    pub completions: Vec<Completion>,
    pub seconds: f64,
}

pub struct RolloutStage {
    generator: Generator,
    sampling: SamplingParams,
    num_generations: usize,
    max_prompt_tokens: usize,
}

impl RolloutStage {
    /// `sampling.seed` is the run's seed; each step samples with its own seed derived from it.
    pub fn new(
        generator: Generator,
        sampling: SamplingParams,
        num_generations: usize,
        max_prompt_tokens: usize,
    ) -> RolloutStage {
        RolloutStage {
            generator,
            sampling,
            num_generations,
            max_prompt_tokens,
        }
    }

    pub fn tokenizer(&self) -> &Arc<TextTokenizer> {
        self.generator.tokenizer()
    }

    /// The prompts as the model reads them: chat-templated, tokenized, truncated.
    pub fn encode(&self, batch: &[&Example]) -> Result<Vec<Vec<u32>>> {
        batch
            .iter()
            .map(|e| {
                let ids = self.tokenizer().encode(&prompt_text(&e.question))?;
                Ok(truncate_keeping_bos(ids, self.max_prompt_tokens))
            })
            .collect()
    }

    /// The completions as text.
    pub fn texts(&self, completions: &[Completion]) -> Vec<String> {
        completions
            .iter()
            .map(|c| self.tokenizer().decode(&c.tokens))
            .collect()
    }

    /// Samples with these weights from now on (the learner's current policy, already in the
    /// rollouts' layout and dtype).
    pub fn sync_weights(&mut self, weights: Vec<Arc<DeviceArray>>) {
        self.generator.set_params(weights);
    }

    /// G completions per prompt, consecutive per prompt, sampled with the seed of `step`.
    pub fn run(&mut self, prompts: &[Vec<u32>], step: usize) -> Result<Rollout> {
        let sampling = SamplingParams {
            seed: self
                .sampling
                .seed
                .wrapping_mul(1_000_003)
                .wrapping_add(step as u64),
            ..self.sampling.clone()
        };
        let started = Instant::now();
        let completions = self.generator.generate(
            prompts,
            self.num_generations,
            &sampling,
            sampling.max_new_tokens,
            |_| {},
        )?;
        Ok(Rollout {
            completions,
            seconds: started.elapsed().as_secs_f64(),
        })
    }
}
