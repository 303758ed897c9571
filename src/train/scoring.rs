//! The scoring stage: every configured reward function on each completion, plus the LLM judge
//! when one is configured, as named columns and a weighted total per completion.

use anyhow::{Context, Result};

use super::rollout::truncate_keeping_bos;
use crate::data::Example;
use crate::graph::Placement;
use crate::models::{DType, LoadedModel};
use crate::pjrt::Buffer;
use crate::rewards::judge::{fill, parse_score, JudgeConfig};
use crate::rewards::{score_all, WeightedReward};
use crate::rollout::{Generator, SamplingParams};
use std::sync::Arc;

/// The judge reads at most this many prompt tokens (the end of its prompt is kept).
const JUDGE_PROMPT_TOKENS: usize = 1024;

/// A model that reads a rubric filled with each completion and answers with a score.
pub struct Judge {
    config: JudgeConfig,
    template: String,
    generator: Generator,
    /// Replies without a usable score, over the whole session.
    pub failures: usize,
}

impl Judge {
    /// The judge of `config`: its own model, or `policy_base` (the frozen reference weights,
    /// shared on the device) with the policy's tokenizer.
    pub fn new(
        config: &JudgeConfig,
        placement: &Placement,
        policy: &LoadedModel,
        policy_base: Vec<Arc<Buffer>>,
    ) -> Result<Judge> {
        let template = std::fs::read_to_string(&config.template)
            .with_context(|| format!("reading the judge template {}", config.template.display()))?;
        let generator = match &config.model {
            Some(dir) => {
                let m = LoadedModel::from_dir(dir, DType::F32)?;
                Generator::new(placement.clone(), m.config, &m.params, m.tokenizer)?
            }
            None => Generator::with_params(
                placement.clone(),
                policy.config.clone(),
                policy_base,
                policy.tokenizer.clone(),
            ),
        };
        Ok(Judge {
            config: config.clone(),
            template,
            generator,
            failures: 0,
        })
    }

    /// One score in [0, 1] per completion (0 where the reply has none, counted in `failures`).
    fn score(&mut self, examples: &[&Example], texts: &[String]) -> Result<Vec<f64>> {
        let tokenizer = self.generator.tokenizer().clone();
        let prompts: Vec<Vec<u32>> = examples
            .iter()
            .zip(texts)
            .map(|(e, text)| {
                let ids = tokenizer.encode(&fill(&self.template, &e.question, &e.answer, text))?;
                Ok(truncate_keeping_bos(ids, JUDGE_PROMPT_TOKENS))
            })
            .collect::<Result<_>>()?;
        let sampling = SamplingParams {
            max_new_tokens: self.config.max_new_tokens,
            ..Default::default()
        };
        let replies =
            self.generator
                .generate(&prompts, 1, &sampling, self.config.max_new_tokens, |_| {})?;
        Ok(replies
            .iter()
            .map(|r| {
                let score = parse_score(&tokenizer.decode(&r.tokens));
                self.failures += usize::from(score.is_none());
                score.unwrap_or(0.0)
            })
            .collect())
    }
}

/// A step's scores: one column per reward (unweighted), the judge's, and the weighted total.
pub struct Scores {
    pub columns: Vec<(String, Vec<f64>)>,
    pub judge: Option<Vec<f64>>,
    pub totals: Vec<f64>,
}

pub struct Scorer {
    rewards: Vec<WeightedReward>,
    pub judge: Option<Judge>,
}

impl Scorer {
    pub fn new(rewards: Vec<WeightedReward>, judge: Option<Judge>) -> Scorer {
        Scorer { rewards, judge }
    }

    /// Scores completion `k` (text `texts[k]`) against `examples[k]`.
    pub fn score(&mut self, examples: &[&Example], texts: &[String]) -> Result<Scores> {
        let mut columns: Vec<(String, Vec<f64>)> = self
            .rewards
            .iter()
            .map(|r| (r.name.name().to_string(), vec![]))
            .collect();
        let mut totals = vec![];
        for (e, text) in examples.iter().zip(texts) {
            let (each, total) = score_all(&self.rewards, &e.question, text, &e.answer);
            for (column, v) in columns.iter_mut().zip(each) {
                column.1.push(v);
            }
            totals.push(total);
        }
        let judge = match self.judge.as_mut() {
            Some(judge) => {
                let scores = judge.score(examples, texts)?;
                for (t, s) in totals.iter_mut().zip(&scores) {
                    *t += judge.config.weight * s;
                }
                Some(scores)
            }
            None => None,
        };
        Ok(Scores {
            columns,
            judge,
            totals,
        })
    }
}
