//! `grpo-xla bench mesh`: GRPO steps of a config on 1 and on N devices, seconds per example,
//! each N against one device in the same run. Each device count runs `grpo-xla train` as its
//! own process (a CPU client's device count is fixed when it is made) on a copy of the config
//! whose `mesh:` puts every device on `data` (keeping the config's `fsdp` where it divides) and
//! without its SFT phase.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Result};
use grpo_xla::train::bench::write_grpo_only_config;
use serde_yaml::Value;

use super::bench::BenchRow;
use super::DeviceArgs;

/// The config as a GRPO-only run of `steps` steps on `devices` devices: every device on `data`
/// but the config's `fsdp` where it divides.
fn config_for(
    config: &Path,
    devices: usize,
    steps: usize,
    prompts: Option<usize>,
    dir: &Path,
) -> Result<PathBuf> {
    let path = dir.join(format!("config_{devices}.yaml"));
    write_grpo_only_config(config, steps, &path, |map| {
        let fsdp = map
            .get("mesh")
            .and_then(|m| m.get("fsdp"))
            .and_then(Value::as_u64)
            .filter(|f| devices as u64 % f == 0)
            .unwrap_or(1);
        let mut mesh = serde_yaml::Mapping::new();
        mesh.insert("fsdp".into(), fsdp.into());
        map.insert("mesh".into(), Value::Mapping(mesh));
        if let (Some(p), Some(training)) = (
            prompts,
            map.get_mut("training").and_then(Value::as_mapping_mut),
        ) {
            training.insert("prompts_per_step".into(), (p as u64).into());
        }
        Ok(())
    })?;
    Ok(path)
}

/// Mean seconds of the steps after the first (which compiles).
fn seconds_per_step(run: &Path) -> Result<f64> {
    let text = std::fs::read_to_string(run.join("metrics.jsonl"))?;
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    let timed: Vec<f64> = lines
        .iter()
        .skip(1)
        .filter_map(|l| l["step_time_s"].as_f64())
        .collect();
    if timed.is_empty() {
        bail!("{}: no timed step (ask for at least 2)", run.display());
    }
    Ok(timed.iter().sum::<f64>() / timed.len() as f64)
}

fn rows_per_step(config: &Path, prompts: Option<usize>) -> Result<usize> {
    let cfg: Value = serde_yaml::from_str(&std::fs::read_to_string(config)?)?;
    let get = |section: &str, key: &str| cfg[section][key].as_u64().unwrap_or(0) as usize;
    let prompts = prompts.unwrap_or_else(|| get("training", "prompts_per_step"));
    Ok(prompts * get("rollout", "num_generations"))
}

/// What `bench mesh` runs: the config's GRPO steps on one device and on each of `devices`,
/// the whole sequence `repeats` times, interleaved so that a slow spell of a shared machine
/// falls on every count alike.
pub struct MeshBench<'a> {
    pub config: &'a Path,
    pub devices: &'a [usize],
    pub steps: usize,
    pub prompts: Option<usize>,
    pub repeats: usize,
}

/// One `grpo-xla train` of `config` (written by `config_for`) on `n` devices: mean seconds per
/// step, and the trainer's own account of what each device holds.
fn train_on(
    device: &DeviceArgs,
    config: &Path,
    n: usize,
    run: &Path,
) -> Result<(f64, Vec<String>)> {
    let out = Command::new(std::env::current_exe()?)
        .args(["train", "--config"])
        .arg(config)
        .arg("--output-dir")
        .arg(run)
        .args(["--device", &device.device.to_string()])
        .args(["--num-devices", &n.to_string()])
        .output()?;
    if !out.status.success() {
        bail!(
            "training on {n} devices failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let held = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.starts_with("per device: "))
        .map(|line| format!("{n} device(s), {line}"))
        .collect();
    Ok((seconds_per_step(run)?, held))
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let m = xs.len() / 2;
    match xs.len() % 2 {
        1 => xs[m],
        _ => (xs[m - 1] + xs[m]) / 2.0,
    }
}

pub fn run(device: &DeviceArgs, bench: &MeshBench, json: Option<&PathBuf>) -> Result<()> {
    let dir = tempfile::Builder::new()
        .prefix("grpo-xla-bench-mesh-")
        .tempdir()?;
    let rows = rows_per_step(bench.config, bench.prompts)?;
    let (steps, repeats) = (bench.steps.max(2), bench.repeats.max(1));
    let counts: Vec<usize> = std::iter::once(1)
        .chain(bench.devices.iter().copied().filter(|&n| n != 1))
        .collect();
    let configs: Vec<PathBuf> = counts
        .iter()
        .map(|&n| config_for(bench.config, n, steps, bench.prompts, dir.path()))
        .collect::<Result<_>>()?;
    // seconds[i][r]: seconds per example on counts[i] devices, repeat r.
    let mut seconds = vec![vec![]; counts.len()];
    let mut held = vec![];
    for r in 0..repeats {
        for (i, (&n, config)) in counts.iter().zip(&configs).enumerate() {
            eprintln!(
                "repeat {}/{repeats}, {n} device(s): {steps} GRPO steps ...",
                r + 1
            );
            let run = dir.path().join(format!("run_{n}_{r}"));
            let (per_step, lines) = train_on(device, config, n, &run)?;
            seconds[i].push(per_step / rows as f64);
            if r == 0 {
                held.extend(lines);
            }
        }
    }
    let one = median(seconds[0].clone());
    let table: Vec<BenchRow> = counts
        .iter()
        .zip(&seconds)
        .skip(1)
        .map(|(&n, s)| {
            BenchRow::new(
                &format!("GRPO step per example, {n} devices ({rows} rows)"),
                median(s.clone()),
                Some(one),
                "s/example",
                true,
            )
            .against("ours on 1 device")
        })
        .collect();
    let median_of = match repeats {
        1 => String::new(),
        r => format!(", median of {r} interleaved repeats"),
    };
    println!(
        "{}: GRPO steps after the first, mean{median_of}; the reference column is the same run on 1 device ({one:.4} s/example)\n",
        bench.config.display()
    );
    BenchRow::print_table(&table);
    if repeats > 1 {
        println!("\neach repeat, one device's time over N devices' (the ratio of that repeat):");
        for (&n, s) in counts.iter().zip(&seconds).skip(1) {
            let each: Vec<String> = s
                .iter()
                .zip(&seconds[0])
                .map(|(s, one)| format!("{:.2}x", one / s))
                .collect();
            println!("  {n} devices: {}", each.join(", "));
        }
    }
    println!();
    for line in &held {
        println!("{line}");
    }
    if let Some(path) = json {
        BenchRow::write_json(&table, path)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(vec![5.0]), 5.0);
    }
}
