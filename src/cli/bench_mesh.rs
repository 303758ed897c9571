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

pub fn run(
    device: &DeviceArgs,
    config: &Path,
    devices: &[usize],
    steps: usize,
    prompts: Option<usize>,
    json: Option<&PathBuf>,
) -> Result<()> {
    let dir = tempfile::Builder::new()
        .prefix("grpo-xla-bench-mesh-")
        .tempdir()?;
    let exe = std::env::current_exe()?;
    let rows = rows_per_step(config, prompts)?;
    let mut timings = vec![];
    let mut held = vec![];
    for &n in std::iter::once(&1).chain(devices.iter().filter(|&&n| n != 1)) {
        let cfg = config_for(config, n, steps.max(2), prompts, dir.path())?;
        let run = dir.path().join(format!("run_{n}"));
        eprintln!("{n} device(s): {} GRPO steps ...", steps.max(2));
        let out = Command::new(&exe)
            .args(["train", "--config"])
            .arg(&cfg)
            .arg("--output-dir")
            .arg(&run)
            .args(["--device", &device.device.to_string()])
            .args(["--num-devices", &n.to_string()])
            .output()?;
        if !out.status.success() {
            bail!(
                "training on {n} devices failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        timings.push((n, seconds_per_step(&run)? / rows as f64));
        // The trainer's own account of what each device holds.
        let stderr = String::from_utf8_lossy(&out.stderr);
        for line in stderr.lines().filter(|l| l.starts_with("per device: ")) {
            held.push(format!("{n} device(s), {line}"));
        }
    }
    let one = timings[0].1;
    let table: Vec<BenchRow> = timings
        .iter()
        .skip(1)
        .map(|&(n, s)| {
            BenchRow::new(
                &format!("GRPO step per example, {n} devices ({rows} rows)"),
                s,
                Some(one),
                "s/example",
                true,
            )
            .against("ours on 1 device")
        })
        .collect();
    println!(
        "{}: GRPO steps after the first, mean; the reference column is the same run on 1 device ({one:.4} s/example)\n",
        config.display()
    );
    BenchRow::print_table(&table);
    println!();
    for line in &held {
        println!("{line}");
    }
    if let Some(path) = json {
        BenchRow::write_json(&table, path)?;
    }
    Ok(())
}
