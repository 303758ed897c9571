//! Rewards: named functions of (question, completion, reference answer), weighted and summed.
//! Each is logged on its own.

pub mod arithmetic;
pub mod format;
pub mod judge;
pub mod rubric;
pub mod tunix_demo;

/// A reward function by name, as configs spell it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RewardKind {
    MatchFormatExactly,
    MatchFormatApproximately,
    CheckAnswer,
    CheckNumbers,
    Rubric,
    /// The whole completion in the format, no echo of the instruction (`format.rs`).
    MatchFormatAnchored,
    /// Each equation of the worked reasoning checked (`arithmetic.rs`): right − wrong over
    /// those counted, in [−1, 1].
    ArithmeticConsistency,
    /// The Tunix demo notebook's variants.
    NotebookMatchFormatExactly,
    NotebookMatchFormatApproximately,
}

impl RewardKind {
    pub fn name(self) -> &'static str {
        match self {
            RewardKind::MatchFormatExactly => "match_format_exactly",
            RewardKind::MatchFormatApproximately => "match_format_approximately",
            RewardKind::CheckAnswer => "check_answer",
            RewardKind::CheckNumbers => "check_numbers",
            RewardKind::Rubric => "rubric",
            RewardKind::MatchFormatAnchored => "match_format_anchored",
            RewardKind::ArithmeticConsistency => "arithmetic_consistency",
            RewardKind::NotebookMatchFormatExactly => "notebook_match_format_exactly",
            RewardKind::NotebookMatchFormatApproximately => "notebook_match_format_approximately",
        }
    }

    pub fn score(self, question: &str, completion: &str, answer: &str) -> f64 {
        match self {
            RewardKind::MatchFormatExactly => tunix_demo::match_format_exactly(completion),
            RewardKind::MatchFormatApproximately => {
                tunix_demo::match_format_approximately(completion)
            }
            RewardKind::CheckAnswer => tunix_demo::check_answer(completion, answer),
            RewardKind::CheckNumbers => tunix_demo::check_numbers(completion, answer),
            RewardKind::Rubric => rubric::score(question, completion, answer).total(),
            RewardKind::MatchFormatAnchored => format::match_format_anchored(completion),
            RewardKind::ArithmeticConsistency => {
                arithmetic::arithmetic_consistency(question, completion)
            }
            RewardKind::NotebookMatchFormatExactly => {
                format::notebook_match_format_exactly(completion)
            }
            RewardKind::NotebookMatchFormatApproximately => {
                format::notebook_match_format_approximately(completion)
            }
        }
    }
}

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeightedReward {
    pub name: RewardKind,
    #[serde(default = "one")]
    pub weight: f64,
}

fn one() -> f64 {
    1.0
}

/// The Tunix demo's rewards, each with weight 1 (their sum is the demo's reward).
pub fn tunix_demo() -> Vec<WeightedReward> {
    [
        RewardKind::MatchFormatExactly,
        RewardKind::MatchFormatApproximately,
        RewardKind::CheckAnswer,
        RewardKind::CheckNumbers,
    ]
    .into_iter()
    .map(|name| WeightedReward { name, weight: 1.0 })
    .collect()
}

/// Per-function scores (unweighted) and the weighted total for one completion.
pub fn score_all(
    rewards: &[WeightedReward],
    question: &str,
    completion: &str,
    answer: &str,
) -> (Vec<f64>, f64) {
    let each: Vec<f64> = rewards
        .iter()
        .map(|r| r.name.score(question, completion, answer))
        .collect();
    let total = rewards.iter().zip(&each).map(|(r, s)| r.weight * s).sum();
    (each, total)
}
