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
    /// −|characters − target| (TRL's quickstart reward): a dense reward that any policy can
    /// move, for shaping and for checking that a trainer learns at all. Needs `target`.
    Length,
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
            RewardKind::Length => "length",
        }
    }

    /// The score of one completion; `target` is the `length` reward's (ignored by the others).
    pub fn score(self, question: &str, completion: &str, answer: &str, target: usize) -> f64 {
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
            RewardKind::Length => -(completion.chars().count().abs_diff(target) as f64),
        }
    }
}

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeightedReward {
    pub name: RewardKind,
    #[serde(default = "one")]
    pub weight: f64,
    /// The `length` reward's target, in characters (only that reward takes one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<usize>,
}

impl WeightedReward {
    pub fn new(name: RewardKind) -> WeightedReward {
        WeightedReward {
            name,
            weight: 1.0,
            target: None,
        }
    }

    /// Unweighted score of one completion.
    pub fn score(&self, question: &str, completion: &str, answer: &str) -> f64 {
        let target = self.target.unwrap_or(0);
        self.name.score(question, completion, answer, target)
    }

    /// Why this entry is malformed: `length` without a target, or a target on another reward.
    pub fn problem(&self) -> Option<String> {
        match (self.name, self.target) {
            (RewardKind::Length, None) => {
                Some("the length reward needs `target` (characters)".into())
            }
            (RewardKind::Length, Some(_)) | (_, None) => None,
            (other, Some(_)) => Some(format!("{} takes no `target`", other.name())),
        }
    }
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
    .map(WeightedReward::new)
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
        .map(|r| r.score(question, completion, answer))
        .collect();
    let total = rewards.iter().zip(&each).map(|(r, s)| r.weight * s).sum();
    (each, total)
}

#[cfg(test)]
mod tests {
    use super::{RewardKind, WeightedReward};

    #[test]
    fn length_scores_the_distance_in_characters_to_its_target() {
        let length = WeightedReward {
            target: Some(3),
            ..WeightedReward::new(RewardKind::Length)
        };
        assert_eq!(length.score("q", "abcde", "a"), -2.0);
        assert_eq!(length.score("q", "é", "a"), -2.0, "characters, not bytes");
        assert_eq!(length.score("q", "abc", "a"), 0.0);
        assert!(length.problem().is_none());
        let untargeted = WeightedReward::new(RewardKind::Length);
        assert!(untargeted.problem().unwrap().contains("needs `target`"));
    }
}
