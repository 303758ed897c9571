//! `grpo-xla bench train`: one supervised step of a config's learner (its model, LoRA or full,
//! optimizer and batch), ours against Tunix's `PeftTrainer` train step on the same weights and
//! tokens, steady state (compile reported apart), and our FLOP rate against the matmul peak
//! measured on this machine in the same run.

use std::path::{Path, PathBuf};

use anyhow::Result;
use grpo_xla::reference;
use grpo_xla::train::bench::{time_sft, SftTiming};
use serde_json::json;

use super::bench::{matmul_gflops, BenchRow};
use super::DeviceArgs;

const TUNIX_SCRIPT: &str = concat!(
    include_str!("../../tests/reference/tunix_gemma.py"),
    include_str!("../../tests/reference/sft_loss.py"),
    include_str!("../../scripts/reference/tunix_sft_step.py")
);

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s[s.len() / 2]
}

/// FLOPs of one step, counting matmuls only: the forward (every layer over all tokens, the LM
/// head over the completion positions), the gradient with respect to activations (as much
/// again), and for full fine-tuning the weight gradients (as much again).
fn step_flops(t: &SftTiming) -> f64 {
    let c = &t.model;
    let geo = t.batch.geo;
    let embedding = (c.vocab_size * c.embed_dim) as f64;
    let layers = c.num_params() as f64 - embedding;
    let forward = 2.0 * layers * (geo.batch * geo.seq_len()) as f64
        + 2.0 * embedding * (geo.batch * geo.completion_len) as f64;
    forward * if t.lora.is_some() { 2.0 } else { 3.0 }
}

fn tunix_step(t: &SftTiming, model_dir: &Path, steps: usize) -> Result<serde_json::Value> {
    let geo = t.batch.geo;
    let (p, c) = (geo.prompt_len as usize, geo.completion_len as usize);
    let row = p + c;
    let (mut prompt, mut target) = (vec![], vec![]);
    for r in t.batch.tokens.chunks(row) {
        prompt.extend_from_slice(&r[..p]);
        target.extend_from_slice(&r[p..]);
    }
    let o = &t.optimizer;
    let lora = t.lora.as_ref().map(|l| {
        let targets: Vec<String> = l.targets.iter().map(|t| format!(".*{t}")).collect();
        json!({"rank": l.rank, "alpha": l.alpha, "module_path": targets.join("|")})
    });
    reference::run(
        TUNIX_SCRIPT,
        &json!({
            "family": "gemma3", "model_dir": model_dir, "steps": steps, "lora": lora,
            "prompt_ids": reference::array(&[geo.batch, geo.prompt_len], "i32", &prompt),
            "target_ids": reference::array(&[geo.batch, geo.completion_len], "i32", &target),
            "target_mask": reference::array(&[geo.batch, geo.completion_len], "f32", &t.batch.completion_mask),
            "optimizer": {"learning_rate": o.peak_lr, "b1": o.b1, "b2": o.b2, "eps": o.eps,
                          "weight_decay": o.weight_decay, "max_grad_norm": o.max_grad_norm.unwrap_or(1e30)},
        }),
    )
}

pub fn run(
    device: &DeviceArgs,
    config: &Path,
    steps: usize,
    with_tunix: bool,
    json_out: Option<&PathBuf>,
) -> Result<()> {
    let client = device.client()?;
    let peak = matmul_gflops(&client)?;
    eprintln!("timing our SFT step ({steps} steps after a warm-up) ...");
    let ours = time_sft(config, client.clone(), steps)?;
    let tunix = match (&ours.model_dir, with_tunix) {
        (Some(dir), true) => {
            eprintln!("timing Tunix's PeftTrainer step on the same weights and batch ...");
            Some(tunix_step(&ours, dir, steps)?)
        }
        (None, true) => anyhow::bail!(
            "{}: the Tunix side needs a model folder (model.path), not a random preset; pass --no-tunix",
            config.display()
        ),
        _ => None,
    };
    let ours_s = median(&ours.steps_s);
    let tunix_s = tunix.as_ref().map(|t| {
        let v: Vec<f64> = serde_json::from_value(t["steps_s"].clone()).unwrap_or_default();
        median(&v)
    });
    let geo = ours.batch.geo;
    let kind = if ours.lora.is_some() { "LoRA" } else { "full" };
    let name = format!(
        "SFT step, {kind}, {} x ({} + {}) tokens",
        geo.batch, geo.prompt_len, geo.completion_len
    );
    let gflops = step_flops(&ours) / ours_s / 1e9;
    let rows = vec![
        BenchRow::new(&name, ours_s, tunix_s, "s/step", true).with_bound(gflops / peak),
        BenchRow::new(
            "start-up to the first step (ours: compile or executable cache; tunix: first call)",
            ours.compile_s,
            tunix.as_ref().and_then(|t| t["first_s"].as_f64()),
            "s",
            true,
        ),
    ];
    println!(
        "training step, {} ({} params, {}), {}",
        config.display(),
        ours.model.num_params(),
        ours.model.dtype,
        client.platform_name()
    );
    BenchRow::print_table(&rows);
    println!(
        "our step runs matmuls at {gflops:.1} GFLOP/s, {:.0}% of the {peak:.1} GFLOP/s a 1024x1024 f32 matmul reaches here (bound_fraction)",
        100.0 * gflops / peak
    );
    if let Some(t) = &tunix {
        println!(
            "loss at the first step (before any update, so the same on both sides): ours {:.6}, tunix {:.6}",
            ours.first_loss,
            t["first_loss"].as_f64().unwrap_or(f64::NAN)
        );
    }
    println!("Tunix: its PeftTrainer's jitted train step (value_and_grad over the same trainable params, optax AdamW with the same clipping), the same loss; its compile row is its first call.");
    if let Some(path) = json_out {
        BenchRow::write_json(&rows, path)?;
    }
    Ok(())
}
