//! The scoring stage: every configured reward function on each completion, plus the LLM judge
//! when one is configured, as named columns and a weighted total per completion.

use anyhow::{Context, Result};

use super::rollout::truncate_keeping_bos;
use crate::data::Example;
use crate::graph::{DeviceArray, Placement};
use crate::models::gemma::GemmaConfig;
use crate::models::{DType, LoadedModel};
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
        policy_config: &GemmaConfig,
        policy_base: Vec<Arc<DeviceArray>>,
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
                policy_config.clone(),
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
        let texts: Vec<String> = replies
            .iter()
            .map(|r| tokenizer.decode(&r.tokens))
            .collect();
        Ok(read_scores(&texts, &mut self.failures))
    }
}

/// The judge's scores in [0, 1] from its replies: 0 where a reply has no usable score, each
/// such reply counted in `failures`.
pub fn read_scores(replies: &[String], failures: &mut usize) -> Vec<f64> {
    replies
        .iter()
        .map(|r| {
            let score = parse_score(r);
            *failures += usize::from(score.is_none());
            score.unwrap_or(0.0)
        })
        .collect()
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
        let mut scores = Scores {
            columns,
            judge: None,
            totals,
        };
        if let Some(judge) = self.judge.as_mut() {
            let judged = judge.score(examples, texts)?;
            scores.add_judge(judged, judge.config.weight);
        }
        Ok(scores)
    }
}

impl Scores {
    /// Adds the judge's scores, weighted, to the totals, and keeps them as their own column.
    pub fn add_judge(&mut self, judged: Vec<f64>, weight: f64) {
        for (t, s) in self.totals.iter_mut().zip(&judged) {
            *t += weight * s;
        }
        self.judge = Some(judged);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rewards::tunix_demo;

    #[test]
    fn judge_replies_are_read_and_weighted_into_the_totals() {
        let example = Example {
            question: "What is 2 + 3?".into(),
            reasoning: None,
            answer: "5".into(),
            domain: "math".into(),
            steps: None,
        };
        let texts = vec![
            "<reasoning>2 + 3 = 5</reasoning>\n<answer>5</answer>".to_string(),
            "<reasoning>guess</reasoning>\n<answer>6</answer>".to_string(),
            "five".to_string(),
        ];
        let examples = vec![&example; 3];
        let mut scorer = Scorer::new(tunix_demo(), None);
        let mut scores = scorer.score(&examples, &texts).unwrap();
        let rewards_only = scores.totals.clone();
        // With weights 1 the total is the sum of the columns (each tested against Tunix).
        for (k, total) in rewards_only.iter().enumerate() {
            let sum: f64 = scores.columns.iter().map(|(_, c)| c[k]).sum();
            assert_eq!(*total, sum);
        }
        assert!(rewards_only[0] > rewards_only[1] && rewards_only[1] > rewards_only[2]);
        let replies = [
            "The reasoning is correct. SCORE: 8".to_string(),
            "Straße-Logik, ﬁne: SCORE 5/10".to_string(),
            "I cannot tell.".to_string(),
        ];
        let mut failures = 0;
        let judged = read_scores(&replies, &mut failures);
        assert_eq!((judged.clone(), failures), (vec![0.8, 0.5, 0.0], 1));
        scores.add_judge(judged, 2.0);
        let expected: Vec<f64> = rewards_only
            .iter()
            .zip([1.6, 1.0, 0.0])
            .map(|(r, j)| r + j)
            .collect();
        assert_eq!(scores.totals, expected);
        assert_eq!(scores.judge, Some(vec![0.8, 0.5, 0.0]));
        assert_eq!(scores.columns.len(), 4);
    }
}
