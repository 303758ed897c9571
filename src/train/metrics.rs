//! The metrics stage: one JSON line per step in `metrics.jsonl`, a progress bar, a log line and
//! now and then a sample completion.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

use super::scoring::Scores;
use crate::grpo::advantages::is_uniform;
use crate::grpo::programs::StepMetrics;

pub fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// Population standard deviation.
pub fn std(v: &[f64]) -> f64 {
    let m = mean(v);
    (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len().max(1) as f64).sqrt()
}

/// The fraction of groups (G consecutive rewards) whose rewards are all equal: they get zero
/// advantage and teach nothing.
pub fn zero_spread_fraction(totals: &[f64], g: usize) -> f64 {
    let groups = totals.chunks(g);
    let n = groups.len().max(1) as f64;
    groups.filter(|grp| is_uniform(grp)).count() as f64 / n
}

/// What one step measured.
pub struct StepReport<'a> {
    pub step: usize,
    pub scores: &'a Scores,
    pub lengths: &'a [f64],
    pub group_size: usize,
    pub update: StepMetrics,
    pub judge_failures: Option<usize>,
    pub step_seconds: f64,
    /// Where the step's time went.
    pub stages: StageSeconds,
    pub rollout_tokens_per_s: f64,
    pub train_tokens_per_s: f64,
    /// Whether the update measured a KL to the reference (β ≠ 0); Tunix logs none without.
    pub kl_measured: bool,
}

/// A stopwatch read in laps: each `lap` is the seconds since the previous one.
pub struct Lap(std::time::Instant);

impl Lap {
    pub fn start() -> Lap {
        Lap(std::time::Instant::now())
    }

    pub fn lap(&mut self) -> f64 {
        std::mem::replace(&mut self.0, std::time::Instant::now())
            .elapsed()
            .as_secs_f64()
    }
}

/// Seconds a GRPO step spent in each stage (the rest: prompts, packing, logging).
#[derive(Clone, Copy, Debug, Default)]
pub struct StageSeconds {
    /// Weight sync and generation.
    pub rollout: f64,
    pub scoring: f64,
    /// Reference (and old) log-probs, and the batch's upload.
    pub prepare: f64,
    /// The μ optimizer updates.
    pub update: f64,
}

impl StepReport<'_> {
    pub fn record(&self) -> serde_json::Value {
        let totals = &self.scores.totals;
        let mut record = serde_json::json!({
            "step": self.step,
            "reward_mean": mean(totals), "reward_std": std(totals),
            "completion_length_mean": mean(self.lengths),
            "zero_spread_groups": zero_spread_fraction(totals, self.group_size),
            "step_time_s": self.step_seconds,
            "rollout_tokens_per_s": self.rollout_tokens_per_s,
            "train_tokens_per_s": self.train_tokens_per_s,
            "time/rollout_s": self.stages.rollout,
            "time/scoring_s": self.stages.scoring,
            "time/prepare_s": self.stages.prepare,
            "time/update_s": self.stages.update,
        });
        for (name, value) in self.update.named() {
            if name != "kl" || self.kl_measured {
                record[name] = serde_json::json!(value);
            }
        }
        if let (Some(judge), Some(failures)) = (&self.scores.judge, self.judge_failures) {
            record["reward/judge"] = serde_json::json!(mean(judge));
            record["judge_parse_failures"] = serde_json::json!(failures);
        }
        for (name, scores) in &self.scores.columns {
            record[format!("reward/{name}")] = serde_json::json!(mean(scores));
        }
        record
    }

    /// The KL for a log line: "-" when none was measured.
    fn kl_text(&self) -> String {
        match self.kl_measured {
            true => format!("{:.4}", self.update.kl),
            false => "-".to_string(),
        }
    }

    pub fn log_line(&self) -> String {
        let totals = &self.scores.totals;
        format!(
            "step {:>4}  reward {:>7.3} ± {:.3}  loss {:>8.4}  kl {}  clip {:.3}  len {:.1}  {:.1}s",
            self.step,
            mean(totals),
            std(totals),
            self.update.loss,
            self.kl_text(),
            self.update.clip_fraction,
            mean(self.lengths),
            self.step_seconds
        )
    }
}

/// What one supervised step measured.
pub struct SftReport {
    pub step: usize,
    pub update: StepMetrics,
    pub target_tokens: f64,
    pub step_seconds: f64,
    pub train_tokens_per_s: f64,
}

impl SftReport {
    pub fn record(&self) -> serde_json::Value {
        serde_json::json!({
            "step": self.step,
            "phase": "sft",
            "sft_loss": self.update.loss,
            "entropy": self.update.entropy,
            "grad_norm": self.update.grad_norm,
            "learning_rate": self.update.learning_rate,
            "target_tokens_mean": self.target_tokens,
            "step_time_s": self.step_seconds,
            "train_tokens_per_s": self.train_tokens_per_s,
        })
    }

    pub fn log_line(&self) -> String {
        format!(
            "step {:>4}  sft loss {:>8.4}  entropy {:.3}  grad {:.3}  lr {:.2e}  {:.1}s",
            self.step,
            self.update.loss,
            self.update.entropy,
            self.update.grad_norm,
            self.update.learning_rate,
            self.step_seconds
        )
    }
}

/// `metrics.jsonl` and the progress bar.
pub struct MetricsLog {
    file: std::fs::File,
    pub bar: indicatif::ProgressBar,
}

/// Rewrites `path` (if it exists) without the lines past step `done` or that are not JSON.
fn keep_steps_up_to(path: &Path, done: usize) -> Result<()> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(());
    };
    let kept: Vec<&str> = text
        .lines()
        .filter(|line| {
            serde_json::from_str::<serde_json::Value>(line)
                .is_ok_and(|v| v["step"].as_u64().is_none_or(|step| step as usize <= done))
        })
        .collect();
    if kept.len() == text.lines().count() {
        return Ok(());
    }
    let tmp = path.with_extension("jsonl.tmp");
    let body: String = kept.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&tmp, body).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))
}

impl MetricsLog {
    /// Opens `metrics.jsonl` to append after step `done`. Lines of later steps (written before a
    /// crash, after the checkpoint resumed from) and a torn last line are dropped first, so the
    /// file holds one line per step however often the run was interrupted.
    pub fn open(run: &Path, total_steps: usize, done: usize) -> Result<MetricsLog> {
        let path = run.join("metrics.jsonl");
        keep_steps_up_to(&path, done)?;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        let bar = indicatif::ProgressBar::new(total_steps as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:30} {pos}/{len} steps [{elapsed_precise} < {eta_precise}] {msg}",
            )
            .expect("a valid template"),
        );
        bar.set_position(done as u64);
        Ok(MetricsLog { file, bar })
    }

    pub fn append(&mut self, report: &StepReport) -> Result<()> {
        let message = format!(
            "reward {:.3} loss {:.4} kl {}",
            mean(&report.scores.totals),
            report.update.loss,
            report.kl_text()
        );
        self.write(report.step, &report.record(), message)
    }

    /// One line of `metrics.jsonl` for `step`, and the bar's position and message.
    pub fn write(
        &mut self,
        step: usize,
        record: &serde_json::Value,
        message: String,
    ) -> Result<()> {
        writeln!(self.file, "{record}")?;
        self.file.flush()?;
        self.bar.set_position(step as u64);
        self.bar.set_message(message);
        Ok(())
    }

    /// Prints above the progress bar, also when stderr is not a terminal (where indicatif's own
    /// `println` prints nothing).
    pub fn say(&self, line: String) {
        self.bar.suspend(|| eprintln!("{line}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reopening_after_a_crash_drops_later_steps_and_a_torn_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.jsonl");
        let lines = [
            r#"{"step":1,"loss":0.5}"#,
            r#"{"step":2,"loss":0.4}"#,
            r#"{"note":"no step"}"#,
            r#"{"step":3,"loss":0.3}"#,
            r#"{"step":4,"lo"#,
        ];
        std::fs::write(&path, lines.join("\n")).unwrap();
        // Resumed from the checkpoint of step 2: steps 3 and the torn 4 are re-run.
        drop(MetricsLog::open(dir.path(), 10, 2).unwrap());
        let kept = std::fs::read_to_string(&path).unwrap();
        assert_eq!(kept, format!("{}\n{}\n{}\n", lines[0], lines[1], lines[2]));
    }

    #[test]
    fn a_step_without_a_reference_logs_no_kl() {
        let scores = Scores {
            columns: vec![("check_answer".into(), vec![1.0, -1.0])],
            judge: None,
            totals: vec![1.0, -1.0],
        };
        let report = |kl_measured| StepReport {
            step: 3,
            scores: &scores,
            lengths: &[10.0, 20.0],
            group_size: 2,
            update: StepMetrics {
                kl: 0.25,
                ..Default::default()
            },
            judge_failures: None,
            step_seconds: 1.0,
            stages: StageSeconds::default(),
            rollout_tokens_per_s: 1.0,
            train_tokens_per_s: 1.0,
            kl_measured,
        };
        assert_eq!(report(true).record()["kl"], 0.25);
        assert!(report(true).log_line().contains("kl 0.2500"));
        assert!(report(false).record().get("kl").is_none());
        assert!(report(false).log_line().contains("kl -"));
        assert_eq!(report(false).record()["reward/check_answer"], 0.0);
    }
}
