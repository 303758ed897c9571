//! `grpo-xla bench train`: a config's training steps, ours against Tunix's in the same run on
//! the same weights: one supervised step of its `sft:` learner against `PeftTrainer`'s train step
//! (same tokens), and one whole GRPO step (rollout, scoring, reference log-probs, update) against
//! `GRPOLearner`'s (same prompts, completions of the same fixed length). Steady state, compile
//! reported apart, and our FLOP rate against the matmul peak measured in the same run.

use std::path::{Path, PathBuf};

use anyhow::Result;
use grpo_xla::models::gemma::GemmaConfig;
use grpo_xla::reference;
use grpo_xla::train::bench::{time_grpo, time_sft, GrpoTiming, SftTiming};
use serde_json::json;

use super::bench::{matmul_peak, BenchRow, MatmulPeak};
use super::DeviceArgs;

const TUNIX_SFT: &str = concat!(
    include_str!("../../tests/reference/tunix_gemma.py"),
    include_str!("../../tests/reference/sft_loss.py"),
    include_str!("../../scripts/reference/tunix_sft_step.py")
);

const TUNIX_GRPO: &str = concat!(
    include_str!("../../tests/reference/tunix_gemma.py"),
    include_str!("../../scripts/reference/tunix_grpo_step.py")
);

/// Which of the config's steps to time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Phases {
    Sft,
    Grpo,
    Both,
}

/// The median (NaN for no values).
fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s.get(s.len() / 2).copied().unwrap_or(f64::NAN)
}

/// FLOPs of one step as our learner computes it, counting matmuls only: the forward (every
/// layer over the packed rows' tokens, padding included, the LM head at every target slot), the
/// gradient with respect to activations (as much again), and for full fine-tuning the weight
/// gradients (as much again).
fn step_flops(t: &SftTiming) -> f64 {
    let geo = t.packed.geo;
    let forward = forward_flops(&t.model, geo.rows * geo.row_len, geo.rows * geo.targets);
    forward * backward_factor(t.lora.is_some())
}

/// Matmul FLOPs of a forward pass over `tokens` tokens, the LM head at `head` of them.
fn forward_flops(c: &GemmaConfig, tokens: i64, head: i64) -> f64 {
    let embedding = (c.vocab_size * c.embed_dim) as f64;
    let layers = c.num_params() as f64 - embedding;
    2.0 * layers * tokens as f64 + 2.0 * embedding * head as f64
}

/// A training step's FLOPs over its forward's: the gradient with respect to activations, and
/// with respect to the weights when all of them train.
fn backward_factor(lora: bool) -> f64 {
    if lora {
        2.0
    } else {
        3.0
    }
}

/// A GRPO step's matmul FLOPs as our trainer computes them: the rollout (prefill and decode,
/// the head at each new token), the reference log-probs (a forward) and the update (forward and
/// backward), these two over the tokens the learner's programs ran (the median step's: each
/// group's prompt once when grouped).
fn grpo_flops(t: &GrpoTiming) -> f64 {
    let r = &t.config.rollout;
    let rows = (t.config.training.prompts_per_step * r.num_generations) as i64;
    let prompt = grpo_xla::rollout::generator::prompt_bucket(r.max_prompt_length);
    let new = r.max_new_tokens as i64;
    let rollout = forward_flops(&t.model, rows * (prompt + new), rows * new);
    let learner = forward_flops(&t.model, median(&t.trained_tokens) as i64, rows * new);
    let reference = if t.config.grpo().beta != 0.0 {
        1.0
    } else {
        0.0
    };
    rollout + learner * (reference + backward_factor(t.config.lora.is_some()))
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
    let lora = t.lora.as_ref().map(qwix_lora);
    reference::run(
        TUNIX_SFT,
        &json!({
            "family": "gemma3", "model_dir": model_dir, "dtype": t.model.dtype.mlir_name(), "steps": steps, "lora": lora,
            "prompt_ids": reference::array(&[geo.batch, geo.prompt_len], "i32", &prompt),
            "target_ids": reference::array(&[geo.batch, geo.completion_len], "i32", &target),
            "target_mask": reference::array(&[geo.batch, geo.completion_len], "f32", &t.batch.completion_mask),
            "optimizer": {"learning_rate": o.peak_lr, "b1": o.b1, "b2": o.b2, "eps": o.eps,
                          "weight_decay": o.weight_decay, "max_grad_norm": o.max_grad_norm.unwrap_or(1e30)},
        }),
    )
}

/// A LoRA config as the Tunix scripts hand it to qwix's `LoraProvider`.
fn qwix_lora(l: &grpo_xla::grpo::lora::LoraConfig) -> serde_json::Value {
    let targets: Vec<String> = l.targets.iter().map(|t| format!(".*{t}")).collect();
    json!({"rank": l.rank, "alpha": l.alpha, "module_path": targets.join("|")})
}

/// Tunix's `GRPOLearner` on the prompts and settings our GRPO steps ran with.
fn tunix_grpo(t: &GrpoTiming, model_dir: &Path, steps: usize) -> Result<serde_json::Value> {
    let cfg = &t.config;
    let r = &cfg.rollout;
    let width = grpo_xla::rollout::generator::prompt_bucket(r.max_prompt_length) as usize;
    let mut padded = vec![];
    for ids in &t.prompt_ids {
        padded.extend(std::iter::repeat_n(0i32, width - ids.len()));
        padded.extend(ids.iter().map(|&i| i as i32));
    }
    let grpo = cfg.grpo();
    let o = adamw_of(cfg);
    let lora = cfg.lora.as_ref().map(qwix_lora);
    reference::run(
        TUNIX_GRPO,
        &json!({
            "family": "gemma3", "model_dir": model_dir, "dtype": t.model.dtype.mlir_name(), "steps": steps, "lora": lora,
            "prompt_ids": reference::array(&[t.prompt_ids.len() as i64, width as i64], "i32", &padded),
            "num_generations": r.num_generations, "max_new_tokens": r.max_new_tokens,
            "temperature": r.temperature, "top_k": r.top_k, "top_p": r.top_p,
            "beta": grpo.beta, "epsilon": grpo.epsilon, "num_iterations": grpo.num_iterations,
            "optimizer": o,
        }),
    )
}

/// Runs the Tunix side (`what` names it) on the model folder ours ran on, when asked; a random
/// preset has no folder for Tunix to load.
fn tunix_side(
    config: &Path,
    model_dir: &Option<PathBuf>,
    with_tunix: bool,
    what: &str,
    run: impl FnOnce(&Path) -> Result<serde_json::Value>,
) -> Result<Option<serde_json::Value>> {
    match (model_dir, with_tunix) {
        (Some(dir), true) => {
            eprintln!("timing Tunix's {what} step on the same weights and data ...");
            Ok(tunix_or_warn(run(dir)))
        }
        (None, true) => anyhow::bail!(
            "{}: the Tunix side needs a model folder (model.path), not a random preset; pass --no-tunix",
            config.display()
        ),
        _ => Ok(None),
    }
}

/// The median of the step times a Tunix script returned.
fn median_step(result: &serde_json::Value) -> f64 {
    let v: Vec<f64> = serde_json::from_value(result["steps_s"].clone()).unwrap_or_default();
    median(&v)
}

/// The Tunix side's result, or None with the reason printed: our rows are still worth having
/// (on a machine whose JAX the pinned Tunix does not run on, say).
pub fn tunix_or_warn(result: Result<serde_json::Value>) -> Option<serde_json::Value> {
    result
        .map_err(|e| eprintln!("the Tunix side failed, its column stays empty: {e:#}"))
        .ok()
}

/// The GRPO optimizer settings as the Tunix scripts read them.
fn adamw_of(cfg: &grpo_xla::train::config::TrainConfig) -> serde_json::Value {
    let o = &cfg.optimizer;
    json!({"learning_rate": o.learning_rate, "b1": o.b1, "b2": o.b2, "eps": o.eps,
           "weight_decay": o.weight_decay, "max_grad_norm": o.max_grad_norm.unwrap_or(1e30)})
}

/// The GRPO row: our steady-state step and Tunix's on the same prompts, and where ours went.
fn grpo_rows(
    config: &Path,
    client: &grpo_xla::pjrt::Client,
    steps: usize,
    with_tunix: bool,
    peak: &MatmulPeak,
) -> Result<Vec<BenchRow>> {
    let dir = tempfile::tempdir()?;
    eprintln!("timing our GRPO step ({steps} steps after the first) ...");
    let ours = time_grpo(config, client.clone(), steps, dir.path())?;
    let tunix = tunix_side(config, &ours.model_dir, with_tunix, "GRPOLearner", |dir| {
        tunix_grpo(&ours, dir, steps)
    })?;
    let r = &ours.config.rollout;
    let ours_s = median(&ours.steps_s);
    let tunix_s = tunix.as_ref().map(median_step);
    let kind = if ours.config.lora.is_some() {
        "LoRA"
    } else {
        "full"
    };
    let name = format!(
        "GRPO step, {kind}, {} prompts x {} (prompt {} + {} new tokens)",
        ours.config.training.prompts_per_step,
        r.num_generations,
        grpo_xla::rollout::generator::prompt_bucket(r.max_prompt_length),
        r.max_new_tokens
    );
    let gflops = grpo_flops(&ours) / ours_s / 1e9;
    println!(
        "GRPO: our step's rollout took {:.3} s of its {ours_s:.3} s (median); its first step {:.2} s{}",
        median(&ours.rollout_s),
        ours.first_s,
        tunix.as_ref().map_or(String::new(), |t| format!(
            "; Tunix's first step {:.2} s, its completions {:.1} tokens on average",
            t["first_s"].as_f64().unwrap_or(f64::NAN),
            t["completion_len_mean"].as_f64().unwrap_or(f64::NAN)
        ))
    );
    Ok(vec![
        BenchRow::new(&name, ours_s, tunix_s, "s/step", true).with_bound(gflops / peak.gflops)
    ])
}

pub fn run(
    device: &DeviceArgs,
    config: &Path,
    steps: usize,
    phases: Phases,
    with_tunix: bool,
    json_out: Option<&PathBuf>,
) -> Result<()> {
    let client = device.client()?;
    let peak = matmul_peak(&client)?;
    let mut rows = vec![];
    if phases != Phases::Grpo {
        rows.extend(sft_rows(config, &client, steps, with_tunix, &peak)?);
    }
    if phases != Phases::Sft {
        rows.extend(grpo_rows(config, &client, steps, with_tunix, &peak)?);
    }
    println!(
        "training steps, {}, {}",
        config.display(),
        client.platform_name()
    );
    BenchRow::print_table(&rows);
    println!("bound_fraction: our step's matmul FLOP rate over the matmul peak, {peak}.");
    println!("Tunix: PeftTrainer's jitted train step (value_and_grad over the same trainable params, optax AdamW with the same clipping, the same loss); GRPOLearner's whole step with its vanilla sampler. Its start-up row is its first call.");
    if let Some(path) = json_out {
        BenchRow::write_json(&rows, path)?;
    }
    Ok(())
}

/// The SFT rows: our steady-state step and Tunix's, and start-up.
fn sft_rows(
    config: &Path,
    client: &grpo_xla::pjrt::Client,
    steps: usize,
    with_tunix: bool,
    peak: &MatmulPeak,
) -> Result<Vec<BenchRow>> {
    eprintln!("timing our SFT step ({steps} steps after a warm-up) ...");
    let ours = time_sft(config, client.clone(), steps)?;
    let tunix = tunix_side(config, &ours.model_dir, with_tunix, "PeftTrainer", |dir| {
        tunix_step(&ours, dir, steps)
    })?;
    let ours_s = median(&ours.steps_s);
    let tunix_s = tunix.as_ref().map(median_step);
    let geo = ours.batch.geo;
    let kind = if ours.lora.is_some() { "LoRA" } else { "full" };
    let name = format!(
        "SFT step, {kind}, {} examples (ours packed: {}; tunix: {geo})",
        geo.batch, ours.packed.geo
    );
    let gflops = step_flops(&ours) / ours_s / 1e9;
    let rows = vec![
        BenchRow::new(&name, ours_s, tunix_s, "s/step", true).with_bound(gflops / peak.gflops),
        BenchRow::new(
            "start-up to the first step (ours: compile or executable cache; tunix: first call)",
            ours.compile_s,
            tunix.as_ref().and_then(|t| t["first_s"].as_f64()),
            "s",
            true,
        ),
    ];
    println!(
        "SFT: {} params, {}; our step runs matmuls at {gflops:.1} GFLOP/s",
        ours.model.num_params(),
        ours.model.dtype
    );
    if let Some(t) = &tunix {
        println!(
            "SFT loss at the first step (before any update, so the same on both sides): ours {:.6}, tunix {:.6}",
            ours.first_loss,
            t["first_loss"].as_f64().unwrap_or(f64::NAN)
        );
    }
    Ok(rows)
}
