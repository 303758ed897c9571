//! Measuring a model on problems it never trained on: format compliance by the anchored,
//! echo-proof check, answer accuracy and partial credit, each with a 95% confidence interval
//! (Wilson's score interval for proportions), overall, per domain and per difficulty.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use regex::Regex;
use serde::Serialize;

use crate::rewards::format::is_compliant;
use crate::rewards::tunix_demo::python_float;

/// The text inside the first `<answer>…</answer>`, wherever it is.
pub fn answer_text(completion: &str) -> Option<&str> {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = RE.get_or_init(|| Regex::new(r"(?s)<answer>(.*?)</answer>").expect("valid regex"));
    re.captures(completion)
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().trim())
}

/// Numbers compare as numbers ("12" = "12.0" = "1,2"... no: commas are dropped first, as the
/// demo rewards do), anything else case-insensitively.
pub fn answers_equal(given: &str, reference: &str) -> bool {
    let clean = |s: &str| s.trim().replace(',', "");
    let (g, r) = (clean(given), clean(reference));
    match (python_float(&g), python_float(&r)) {
        (Some(a), Some(b)) => a == b || (a - b).abs() <= 1e-9 * b.abs().max(1.0),
        _ => g.to_lowercase() == r.to_lowercase(),
    }
}

/// How one completion did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Verdict {
    /// The whole completion in the target format, no echo of the instruction.
    pub compliant: bool,
    /// Its answer equals the reference.
    pub correct: bool,
    /// 1 correct, 0.5 a number within 10% of the reference, else 0.
    pub partial: f64,
}

pub fn verdict(completion: &str, reference: &str) -> Verdict {
    let given = answer_text(completion);
    let correct = given.is_some_and(|g| answers_equal(g, reference));
    let close = given
        .and_then(|g| python_float(&g.replace(',', "")))
        .zip(python_float(&reference.trim().replace(',', "")))
        .is_some_and(|(g, r)| r != 0.0 && ((g / r) - 1.0).abs() <= 0.1);
    Verdict {
        compliant: is_compliant(completion),
        correct,
        partial: if correct {
            1.0
        } else if close {
            0.5
        } else {
            0.0
        },
    }
}

/// Wilson's 95% score interval for k successes in n trials.
pub fn wilson(k: usize, n: usize) -> [f64; 2] {
    if n == 0 {
        return [0.0, 1.0];
    }
    let (k, n, z) = (k as f64, n as f64, 1.959_963_984_540_054);
    let p = k / n;
    let denom = 1.0 + z * z / n;
    let centre = (p + z * z / (2.0 * n)) / denom;
    let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / denom;
    // At k = 0 (k = n) the bound is exactly 0 (1); the formula leaves a rounding residue.
    let lower = if k == 0.0 {
        0.0
    } else {
        (centre - half).max(0.0)
    };
    let upper = if k == n {
        1.0
    } else {
        (centre + half).min(1.0)
    };
    [lower, upper]
}

/// One verdict for a problem answered `passes` times, as Tunix's demo `evaluate` counts
/// `num_passes`: right if any pass is right, in the format if any pass is, and the best partial
/// credit. With one pass it is that pass's verdict.
pub fn best_of(passes: &[Verdict]) -> Verdict {
    Verdict {
        compliant: passes.iter().any(|v| v.compliant),
        correct: passes.iter().any(|v| v.correct),
        partial: passes.iter().map(|v| v.partial).fold(0.0, f64::max),
    }
}

/// Counts over a set of problems.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    pub n: usize,
    pub compliant: usize,
    pub correct: usize,
    pub partial: f64,
}

impl Tally {
    pub fn add(&mut self, v: Verdict) {
        self.n += 1;
        self.compliant += usize::from(v.compliant);
        self.correct += usize::from(v.correct);
        self.partial += v.partial;
    }

    pub fn summary(&self) -> Summary {
        let n = self.n.max(1) as f64;
        Summary {
            n: self.n,
            format: self.compliant as f64 / n,
            accuracy: self.correct as f64 / n,
            partial: self.partial / n,
            ci95: Intervals {
                format: wilson(self.compliant, self.n),
                accuracy: wilson(self.correct, self.n),
            },
        }
    }
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Intervals {
    pub format: [f64; 2],
    pub accuracy: [f64; 2],
}

/// What a results file records for one set of problems.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Summary {
    pub n: usize,
    pub format: f64,
    pub accuracy: f64,
    pub partial: f64,
    pub ci95: Intervals,
}

/// Tallies overall, by domain and by difficulty (`steps`).
#[derive(Clone, Debug, Default)]
pub struct Evaluation {
    pub overall: Tally,
    pub domains: BTreeMap<String, Tally>,
    pub difficulty: BTreeMap<String, Tally>,
}

impl Evaluation {
    pub fn add(&mut self, domain: &str, steps: Option<u32>, v: Verdict) {
        self.overall.add(v);
        self.domains.entry(domain.to_string()).or_default().add(v);
        if let Some(s) = steps {
            let bucket = if s <= 2 { "1-2 steps" } else { "3+ steps" };
            self.difficulty
                .entry(bucket.to_string())
                .or_default()
                .add(v);
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        let map = |m: &BTreeMap<String, Tally>| -> serde_json::Value {
            m.iter()
                .map(|(k, t)| {
                    (
                        k.clone(),
                        serde_json::to_value(t.summary()).expect("plain data"),
                    )
                })
                .collect::<serde_json::Map<_, _>>()
                .into()
        };
        let mut v = serde_json::to_value(self.overall.summary()).expect("plain data");
        v["domains"] = map(&self.domains);
        v["difficulty"] = map(&self.difficulty);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_intervals_match_the_textbook_values() {
        // Reference values: scipy.stats.binomtest(k, n).proportion_ci(0.95, method="wilson").
        let close =
            |a: [f64; 2], b: [f64; 2]| (a[0] - b[0]).abs() < 1e-6 && (a[1] - b[1]).abs() < 1e-6;
        assert!(close(wilson(0, 10), [0.0, 0.277533]), "{:?}", wilson(0, 10));
        assert!(
            close(wilson(5, 10), [0.236593, 0.763407]),
            "{:?}",
            wilson(5, 10)
        );
        assert!(
            close(wilson(81, 100), [0.722212, 0.874852]),
            "{:?}",
            wilson(81, 100)
        );
        assert!(
            close(wilson(400, 400), [0.990488, 1.0]),
            "{:?}",
            wilson(400, 400)
        );
        assert_eq!(wilson(0, 0), [0.0, 1.0]);
    }

    #[test]
    fn verdicts_and_tallies_on_fixed_completions() {
        let good = "<reasoning>3 x 4 = 12</reasoning>\n<answer>12</answer>";
        assert_eq!(
            verdict(good, "12"),
            Verdict {
                compliant: true,
                correct: true,
                partial: 1.0
            }
        );
        assert!(verdict(good, "12.0").correct);
        assert_eq!(verdict(good, "13").partial, 0.5);
        assert_eq!(verdict(good, "20").partial, 0.0);
        let echo = "Place it between <reasoning> and </reasoning>. Then, provide the final answer (i.e., just one numerical value) between <answer> and </answer>.";
        assert_eq!(
            verdict(echo, "12"),
            Verdict {
                compliant: false,
                correct: false,
                partial: 0.0
            }
        );
        let words = "<reasoning>Ana is older than Ben.</reasoning><answer> Ana </answer>";
        assert!(verdict(words, "ana").correct);
        let mut e = Evaluation::default();
        e.add("math", Some(1), verdict(good, "12"));
        e.add("math", Some(3), verdict(good, "13"));
        e.add("logic", None, verdict(echo, "yes"));
        let s = e.overall.summary();
        assert_eq!(
            (s.n, s.format, s.accuracy, s.partial),
            (3, 2.0 / 3.0, 1.0 / 3.0, 0.5)
        );
        assert_eq!(s.ci95.format, wilson(2, 3));
        let json = e.to_json();
        assert_eq!(json["domains"]["math"]["n"], 2);
        assert_eq!(json["difficulty"]["3+ steps"]["accuracy"], 0.0);
        assert_eq!(json["difficulty"]["1-2 steps"]["accuracy"], 1.0);
    }

    #[test]
    fn several_passes_count_a_problem_solved_when_any_pass_solves_it() {
        let right = verdict("<reasoning>3 x 4 = 12</reasoning><answer>12</answer>", "12");
        let near = verdict("<reasoning>3 x 4 = 13</reasoning><answer>13</answer>", "12");
        let echo = verdict("First, think about the problem.", "12");
        assert_eq!(best_of(&[right]), right);
        assert_eq!(
            best_of(&[echo, near]),
            Verdict {
                compliant: true,
                correct: false,
                partial: 0.5
            }
        );
        assert_eq!(best_of(&[near, echo, right]), right);
        assert!(!best_of(&[echo, echo]).compliant);
    }
}
