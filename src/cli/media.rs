//! `grpo-xla media`: the submission's pictures, drawn from committed results files only, so
//! every number in them comes from a run a command in this repository reproduces: the cover, the
//! pipeline, the training curves, a before/after sample table and the speed chart.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use serde_json::Value;

use super::plot;

#[derive(Args, Debug)]
pub struct MediaArgs {
    /// Where the PNGs go.
    #[arg(long, default_value = "writeup/media")]
    out: PathBuf,
    /// The recipe's evaluation (`grpo-xla eval --json`): base, SFT and SFT+GRPO rows with samples.
    #[arg(long, default_value = "writeup/results/reasoning_270m.json")]
    results: PathBuf,
    /// A run folder holding the recipe's metrics.jsonl (for the curves).
    #[arg(long, default_value = "writeup/results/reasoning_270m_run")]
    run: PathBuf,
    /// A folder of benchmark rows (`grpo-xla bench ... --json`), one file per bench.
    #[arg(long, default_value = "writeup/bench")]
    bench: PathBuf,
}

pub fn run(args: &MediaArgs) -> Result<Vec<PathBuf>> {
    plot::register_font()?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let results = read_json(&args.results)?;
    let rows = results["rows"]
        .as_array()
        .filter(|r| r.len() >= 2)
        .with_context(|| {
            format!(
                "{}: expected `rows` with at least a before and an after model",
                args.results.display()
            )
        })?;
    let out = |name: &str| args.out.join(name);
    cover(&out("cover.png"), rows)?;
    pipeline(&out("pipeline.png"))?;
    plot::run(&args.run, Some(out("curves.png")))?;
    samples(&out("samples.png"), rows)?;
    speed(&out("speed.png"), &bench_rows(&args.bench)?)?;
    Ok(["cover", "pipeline", "curves", "samples", "speed"]
        .iter()
        .map(|n| out(&format!("{n}.png")))
        .collect())
}

fn read_json(path: &Path) -> Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{}: not JSON", path.display()))
}

/// A short label for an eval row: base, SFT, SFT+GRPO.
fn row_label(row: &Value, index: usize, count: usize) -> String {
    let name = row["name"].as_str().unwrap_or("");
    if index == 0 {
        "base".into()
    } else if name.contains("SFT") && index + 1 < count {
        "SFT".into()
    } else if index + 1 == count && count > 2 {
        "SFT + GRPO".into()
    } else {
        name.to_string()
    }
}

type Area<'a> = DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>;

fn text(area: &Area, s: &str, at: (i32, i32), size: f64, color: &RGBColor) -> Result<()> {
    area.draw(&Text::new(
        s.to_string(),
        at,
        ("sans-serif", size).into_font().color(color),
    ))?;
    Ok(())
}

/// The title, what the tool is, and the headline result as bars.
fn cover(path: &Path, rows: &[Value]) -> Result<()> {
    let root = BitMapBackend::new(path, (1200, 630)).into_drawing_area();
    let ink = RGBColor(24, 32, 56);
    root.fill(&RGBColor(244, 246, 250))?;
    text(&root, "grpo-xla", (60, 60), 88.0, &ink)?;
    for (i, line) in [
        "Teaching Gemma to show its reasoning with GRPO,",
        "in Rust on XLA through PJRT (CPU, GPU, TPU).",
        "Tested equal to Tunix; checkpoints load in Tunix.",
    ]
    .iter()
    .enumerate()
    {
        text(&root, line, (64, 180 + 44 * i as i32), 30.0, &ink)?;
    }
    text(
        &root,
        "Gemma 3 270M, 400 held-out problems, greedy:",
        (64, 360),
        24.0,
        &ink,
    )?;
    let chart_area = root.margin(390, 30, 60, 60);
    let labels: Vec<String> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| row_label(r, i, rows.len()))
        .collect();
    let n = rows.len() as f64;
    let mut chart = ChartBuilder::on(&chart_area)
        .x_label_area_size(30)
        .y_label_area_size(50)
        .build_cartesian_2d(0.0..n, 0.0..1.0)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .y_labels(3)
        .x_labels(0)
        .label_style(("sans-serif", 16))
        .draw()?;
    let series = [
        ("format", RGBColor(46, 125, 200)),
        ("accuracy", RGBColor(230, 126, 34)),
    ];
    for (k, (key, color)) in series.iter().copied().enumerate() {
        chart
            .draw_series(rows.iter().enumerate().map(|(i, r)| {
                let v = r[key].as_f64().unwrap_or(0.0);
                let x0 = i as f64 + 0.15 + 0.35 * k as f64;
                Rectangle::new([(x0, 0.0), (x0 + 0.33, v)], color.filled())
            }))?
            .label(key)
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], color.filled()));
    }
    for (i, r) in rows.iter().enumerate() {
        for (k, (key, _)) in series.iter().enumerate() {
            let v = r[key].as_f64().unwrap_or(0.0);
            chart.draw_series(std::iter::once(Text::new(
                format!("{:.0}%", 100.0 * v),
                (i as f64 + 0.315 + 0.35 * k as f64, v + 0.03),
                ("sans-serif", 16)
                    .into_font()
                    .color(&BLACK)
                    .pos(Pos::new(HPos::Center, VPos::Bottom)),
            )))?;
        }
    }
    for (i, label) in labels.iter().enumerate() {
        chart.draw_series(std::iter::once(Text::new(
            label.clone(),
            (i as f64 + 0.5, -0.02),
            ("sans-serif", 18)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(HPos::Center, VPos::Top)),
        )))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font(("sans-serif", 16))
        .background_style(WHITE.mix(0.8))
        .draw()?;
    root.present()?;
    Ok(())
}

/// The training pipeline as boxes and arrows, with the weight sync looping back.
fn pipeline(path: &Path) -> Result<()> {
    let (w, h) = (1500i32, 380i32);
    let root = BitMapBackend::new(path, (w as u32, h as u32)).into_drawing_area();
    root.fill(&WHITE)?;
    let ink = RGBColor(24, 32, 56);
    let stages = [
        ("data", "gen-data: worked examples,", "4 domains"),
        ("SFT", "cross-entropy on", "completion tokens"),
        ("rollout", "prefill + on-device", "decode loop, G samples"),
        ("rewards", "anchored format, answer,", "rubric, judge"),
        ("advantages", "group-relative", "(per prompt)"),
        ("learner", "GRPO loss + KL, AdamW,", "one compiled step"),
        ("export", "Orbax (Tunix),", "LoRA, safetensors"),
    ];
    let (box_w, gap, top, box_h) = (180, 29, 110, 120);
    let x_of = |i: usize| 24 + i as i32 * (box_w + gap);
    text(
        &root,
        "grpo-xla: one config, one command; every program built as StableHLO and run through PJRT",
        (24, 24),
        24.0,
        &ink,
    )?;
    for (i, (name, l1, l2)) in stages.iter().enumerate() {
        let x = x_of(i);
        let fill = if i == 1 || i == 6 {
            RGBColor(232, 240, 250)
        } else {
            RGBColor(255, 243, 224)
        };
        root.draw(&Rectangle::new(
            [(x, top), (x + box_w, top + box_h)],
            fill.filled(),
        ))?;
        root.draw(&Rectangle::new(
            [(x, top), (x + box_w, top + box_h)],
            ink.stroke_width(2),
        ))?;
        text(&root, name, (x + 12, top + 14), 24.0, &ink)?;
        text(&root, l1, (x + 12, top + 56), 15.0, &ink)?;
        text(&root, l2, (x + 12, top + 78), 15.0, &ink)?;
        if i + 1 < stages.len() {
            arrow(
                &root,
                (x + box_w, top + box_h / 2),
                (x_of(i + 1), top + box_h / 2),
                &ink,
            )?;
        }
    }
    // The loop: the learner's weights go back to the rollout (merged LoRA, on the device).
    let (from, to) = (x_of(5) + box_w / 2, x_of(2) + box_w / 2);
    let y = top + box_h + 50;
    root.draw(&PathElement::new(
        vec![(from, top + box_h), (from, y), (to, y)],
        ink.stroke_width(2),
    ))?;
    arrow(&root, (to, y), (to, top + box_h), &ink)?;
    text(
        &root,
        "each GRPO step: current policy weights to the rollout",
        (to + 20, y + 10),
        16.0,
        &ink,
    )?;
    root.present()?;
    Ok(())
}

fn arrow(area: &Area, from: (i32, i32), to: (i32, i32), color: &RGBColor) -> Result<()> {
    area.draw(&PathElement::new(vec![from, to], color.stroke_width(2)))?;
    let (dx, dy) = ((to.0 - from.0) as f64, (to.1 - from.1) as f64);
    let len = (dx * dx + dy * dy).sqrt().max(1.0);
    let (ux, uy) = (dx / len, dy / len);
    let head = |side: f64| {
        (
            (to.0 as f64 - 12.0 * ux + side * 6.0 * uy) as i32,
            (to.1 as f64 - 12.0 * uy - side * 6.0 * ux) as i32,
        )
    };
    area.draw(&Polygon::new(
        vec![to, head(1.0), head(-1.0)],
        color.filled(),
    ))?;
    Ok(())
}

/// Word-wraps `s` to lines of at most `width` characters.
fn wrap(s: &str, width: usize) -> Vec<String> {
    let mut lines = vec![];
    let mut line = String::new();
    for word in s.split_whitespace() {
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// The same held-out problems answered by the base model and by the final model.
fn samples(path: &Path, rows: &[Value]) -> Result<()> {
    let (before, after) = (&rows[0], &rows[rows.len() - 1]);
    let pairs: Vec<(&Value, &Value)> = before["samples"]
        .as_array()
        .into_iter()
        .flatten()
        .zip(after["samples"].as_array().into_iter().flatten())
        .take(3)
        .collect();
    anyhow::ensure!(!pairs.is_empty(), "the results hold no samples");
    let (w, row_h) = (1500i32, 190i32);
    let h = 70 + row_h * pairs.len() as i32;
    let root = BitMapBackend::new(path, (w as u32, h as u32)).into_drawing_area();
    root.fill(&WHITE)?;
    let ink = RGBColor(24, 32, 56);
    let cols = [
        (20, "problem (held out)"),
        (430, "base Gemma 3 270M"),
        (960, "after SFT + GRPO"),
    ];
    for (x, title) in cols {
        text(&root, title, (x, 20), 22.0, &ink)?;
    }
    for (i, (b, a)) in pairs.iter().enumerate() {
        let y = 60 + row_h * i as i32;
        root.draw(&PathElement::new(vec![(10, y), (w - 10, y)], ink.mix(0.3)))?;
        let question = format!(
            "{} (answer {})",
            b["question"].as_str().unwrap_or(""),
            b["answer"].as_str().unwrap_or("")
        );
        let cells = [
            (cols[0].0, question, 44, None),
            (cols[1].0, cell_text(b), 58, Some(b)),
            (cols[2].0, cell_text(a), 58, Some(a)),
        ];
        for (x, body, width, verdict) in cells {
            for (k, line) in wrap(&body, width).iter().take(6).enumerate() {
                text(&root, line, (x, y + 12 + 22 * k as i32), 16.0, &ink)?;
            }
            if let Some(s) = verdict {
                let (label, color) = match (s["compliant"].as_bool(), s["correct"].as_bool()) {
                    (Some(true), Some(true)) => ("format ok, right", RGBColor(46, 139, 87)),
                    (Some(true), _) => ("format ok, wrong", RGBColor(200, 120, 20)),
                    _ => ("not in the format", RGBColor(190, 40, 40)),
                };
                text(&root, label, (x, y + row_h - 34), 17.0, &color)?;
            }
        }
    }
    root.present()?;
    Ok(())
}

fn cell_text(sample: &Value) -> String {
    sample["completion"]
        .as_str()
        .unwrap_or("")
        .replace('\n', " ")
}

/// The machine a benchmark file was measured on, from its name (`..._cpu...`, `..._gpu_h200...`).
fn machine_of(file: &Path) -> String {
    let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    match stem.split_once("_gpu_") {
        Some((_, card)) => card.split('_').next().unwrap_or(card).to_uppercase(),
        None if stem.contains("_cpu") => "CPU".into(),
        None => "?".into(),
    }
}

/// Every benchmark row with a ratio, from the JSON files of `dir`, labelled with its machine.
fn bench_rows(dir: &Path) -> Result<Vec<(String, f64)>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let mut rows = vec![];
    for file in files {
        for row in read_json(&file)?.as_array().into_iter().flatten() {
            if let (Some(name), Some(ratio)) = (row["name"].as_str(), row["ratio"].as_f64()) {
                let against = row["reference"].as_str().unwrap_or("tunix");
                let machine = machine_of(&file);
                rows.push((format!("[{machine}] {name} (vs {against})"), ratio));
            }
        }
    }
    anyhow::ensure!(
        !rows.is_empty(),
        "{}: no benchmark rows with a ratio",
        dir.display()
    );
    Ok(rows)
}

/// Ours against JAX/Tunix on the same machine, as ratios (above 1: grpo-xla is faster).
fn speed(path: &Path, rows: &[(String, f64)]) -> Result<()> {
    let h = 90 + 44 * rows.len() as u32;
    let root = BitMapBackend::new(path, (1400, h)).into_drawing_area();
    root.fill(&WHITE)?;
    let max = rows.iter().map(|r| r.1).fold(1.0, f64::max) * 1.15;
    let n = rows.len() as f64;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "grpo-xla against JAX/Tunix, same machine, same run (above 1: grpo-xla faster)",
            ("sans-serif", 22),
        )
        .margin(16)
        .x_label_area_size(30)
        .y_label_area_size(0)
        .build_cartesian_2d(0.0..max, 0.0..n)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(0)
        .x_desc("ratio")
        .label_style(("sans-serif", 14))
        .draw()?;
    for (i, (name, ratio)) in rows.iter().enumerate() {
        let y = n - i as f64 - 1.0;
        let color = if *ratio >= 1.0 {
            RGBColor(46, 125, 200)
        } else {
            RGBColor(200, 90, 60)
        };
        // The label above its bar, so short bars keep a readable label.
        chart.draw_series(std::iter::once(Rectangle::new(
            [(0.0, y + 0.08), (*ratio, y + 0.5)],
            color.filled(),
        )))?;
        chart.draw_series(std::iter::once(Text::new(
            format!("{ratio:.2}x  {name}"),
            (0.005 * max, y + 0.75),
            ("sans-serif", 16)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(HPos::Left, VPos::Center)),
        )))?;
    }
    chart.draw_series(std::iter::once(PathElement::new(
        vec![(1.0, 0.0), (1.0, n)],
        BLACK.stroke_width(2),
    )))?;
    root.present()?;
    Ok(())
}
