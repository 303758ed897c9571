//! `grpo-xla plot RUN_DIR`: the run's curves (reward, loss, KL, completion length) as a PNG.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use plotters::prelude::*;

const FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

pub(crate) fn register_font() -> Result<()> {
    let bytes = std::fs::read(FONT).with_context(|| format!("{FONT} is missing: install it with `apt-get install fonts-dejavu-core` (scripts/setup.sh does)"))?;
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
        .map_err(|_| anyhow::anyhow!("{FONT} is not a usable font"))?;
    Ok(())
}

/// Reads metrics.jsonl: (step, record) pairs.
fn read_metrics(run: &Path) -> Result<Vec<serde_json::Value>> {
    let path = run.join("metrics.jsonl");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l)
                .with_context(|| format!("{}:{}: not JSON", path.display(), i + 1))
        })
        .collect()
}

/// Mean of a trailing window, so noisy per-step values show their trend.
fn smooth(v: &[(f64, f64)], window: usize) -> Vec<(f64, f64)> {
    (0..v.len())
        .map(|i| {
            let lo = i.saturating_sub(window - 1);
            let part = &v[lo..=i];
            (
                v[i].0,
                part.iter().map(|p| p.1).sum::<f64>() / part.len() as f64,
            )
        })
        .collect()
}

/// A named curve: (step, value) points.
type Line = (String, Vec<(f64, f64)>);

pub fn run(run_dir: &Path, out: Option<PathBuf>) -> Result<PathBuf> {
    register_font()?;
    let metrics = read_metrics(run_dir)?;
    anyhow::ensure!(
        !metrics.is_empty(),
        "{}: no steps logged yet",
        run_dir.display()
    );
    let out = out.unwrap_or_else(|| run_dir.join("curves.png"));
    let series = |key: &str| -> Vec<(f64, f64)> {
        metrics
            .iter()
            .filter_map(|m| Some((m["step"].as_f64()?, m[key].as_f64()?)))
            .collect()
    };
    let target = out.clone();
    let root = BitMapBackend::new(&target, (1200, 800)).into_drawing_area();
    root.fill(&WHITE)?;
    let panels = root.split_evenly((2, 2));
    let rewards = reward_keys(&metrics);
    let window = (metrics.len() / 10).clamp(1, 20);
    let specs: [(&str, Vec<&str>); 4] = [
        ("reward (mean per step, smoothed)", vec!["reward_mean"]),
        (
            "loss (SFT cross-entropy, then GRPO)",
            vec!["loss", "sft_loss"],
        ),
        ("KL to the reference", vec!["kl"]),
        ("completion length (tokens)", vec!["completion_length_mean"]),
    ];
    for (panel, (title, keys)) in panels.iter().zip(specs) {
        let mut lines: Vec<Line> = keys.iter().map(|k| (k.to_string(), series(k))).collect();
        if title.starts_with("reward") {
            lines.extend(
                rewards
                    .iter()
                    .map(|k| (k.trim_start_matches("reward/").to_string(), series(k))),
            );
        }
        lines.retain(|l| !l.1.is_empty());
        draw_panel(panel, title, &lines, window)?;
    }
    root.present()?;
    print_reward_summary(&series("reward_mean"), metrics.len());
    Ok(out)
}

/// The reward columns (`reward/*`) of the first GRPO step (an SFT phase logs none).
fn reward_keys(metrics: &[serde_json::Value]) -> Vec<String> {
    metrics
        .iter()
        .find(|m| m.get("reward_mean").is_some())
        .and_then(|m| m.as_object())
        .map(|o| {
            o.keys()
                .filter(|k| k.starts_with("reward/"))
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

/// One chart: the first line bold and smoothed over `window` steps, the others as logged,
/// with a legend when there are several.
fn draw_panel(
    panel: &DrawingArea<BitMapBackend, plotters::coord::Shift>,
    title: &str,
    lines: &[Line],
    window: usize,
) -> Result<()> {
    let all: Vec<(f64, f64)> = lines.iter().flat_map(|l| l.1.clone()).collect();
    if all.is_empty() {
        panel.titled(&format!("{title}: nothing logged"), ("sans-serif", 18))?;
        return Ok(());
    }
    let (x0, x1) = (
        all.iter().map(|p| p.0).fold(f64::MAX, f64::min),
        all.iter().map(|p| p.0).fold(f64::MIN, f64::max).max(1.0),
    );
    let (mut y0, mut y1) = (
        all.iter().map(|p| p.1).fold(f64::MAX, f64::min),
        all.iter().map(|p| p.1).fold(f64::MIN, f64::max),
    );
    if (y1 - y0).abs() < 1e-9 {
        y0 -= 1.0;
        y1 += 1.0;
    }
    let pad = (y1 - y0) * 0.05;
    let mut chart = ChartBuilder::on(panel)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(55)
        .build_cartesian_2d(x0..x1, (y0 - pad)..(y1 + pad))?;
    chart
        .configure_mesh()
        .x_desc("step")
        .label_style(("sans-serif", 14))
        .draw()?;
    for (i, (name, points)) in lines.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let width = if i == 0 { 3 } else { 1 };
        let shown = if i == 0 {
            smooth(points, window)
        } else {
            points.clone()
        };
        chart
            .draw_series(LineSeries::new(shown, color.stroke_width(width)))?
            .label(name.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
            });
    }
    if lines.len() > 1 {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .label_font(("sans-serif", 13))
            .draw()?;
    }
    Ok(())
}

/// The mean reward of the first and last steps (up to 20 each), or that none were GRPO.
fn print_reward_summary(rewards: &[(f64, f64)], steps: usize) {
    if rewards.is_empty() {
        println!("{steps} steps, none of them GRPO");
        return;
    }
    let n = (rewards.len() / 2).clamp(1, 20);
    let mean = |v: &[(f64, f64)]| v.iter().map(|p| p.1).sum::<f64>() / v.len().max(1) as f64;
    println!(
        "{} steps; mean reward of the first {n}: {:.3}, of the last {n}: {:.3}",
        rewards.len(),
        mean(&rewards[..n]),
        mean(&rewards[rewards.len() - n..])
    );
}
