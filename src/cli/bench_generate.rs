//! `grpo-xla bench generate`: prefill and decode throughput at several batch sizes, side by side
//! with Tunix's sampler on the same weights and machine, and the memory-bandwidth bound.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Result;
use grpo_xla::graph::{DeviceArray, Placement};
use grpo_xla::models::{DType, LoadedModel};
use grpo_xla::rollout::programs::{Bucket, GenerationPrograms, Knobs, PrefillInputs};
use grpo_xla::rollout::sampling::SamplerShape;
use serde_json::json;
use std::sync::Arc;

use super::bench::BenchRow;
use super::DeviceArgs;

const TUNIX_SCRIPT: &str = r#"
import dataclasses, time, jax, jax.numpy as jnp
from tunix.models.gemma3 import model as m, params_safetensors as ps
from tunix.generate import sampler as sampler_lib
import transformers

def main(inputs):
    mesh = jax.make_mesh((1, 1), ("fsdp", "tp"), axis_types=(jax.sharding.AxisType.Auto,) * 2)
    cfg = dataclasses.replace(m.ModelConfig.gemma3_270m(), param_dtype=jnp.float32)
    tok = transformers.PreTrainedTokenizerFast(tokenizer_file=inputs["model_dir"] + "/tokenizer.json")
    tok.pad_token_id, tok.bos_token_id, tok.eos_token_id = 0, 2, 1
    rows = []
    with jax.set_mesh(mesh):
        model = ps.create_model_from_safe_tensors(inputs["model_dir"], cfg, mesh, dtype=jnp.float32)
        steps, plen = inputs["steps"], inputs["prompt_len"]
        k = inputs["top_k"]
        sampling = dict(temperature=0.0) if k is None else dict(temperature=1.0, top_k=k, seed=0)
        s = sampler_lib.Sampler(model, tok, sampler_lib.CacheConfig(cache_size=plen + steps + 8, num_layers=18, num_kv_heads=1, head_dim=256))
        for b in inputs["batches"]:
            prompts = [inputs["prompt"]] * b
            def timed(n):
                # One untimed call (compiles), then the best of three, as ours is timed.
                s(prompts, max_generation_steps=n, max_prompt_length=plen, echo=False, **sampling)
                best = float("inf")
                for _ in range(3):
                    t = time.perf_counter()
                    s(prompts, max_generation_steps=n, max_prompt_length=plen, echo=False, **sampling)
                    best = min(best, time.perf_counter() - t)
                return best
            one, many = timed(1), timed(steps)
            rows.append({"batch": b, "prefill_s": one, "decode_s_per_step": (many - one) / (steps - 1)})
    return {"rows": rows, "tunix_version": "0.1.7"}
"#;

/// `bench generate`'s arguments.
#[derive(clap::Args, Debug)]
pub struct GenerateBench {
    #[command(flatten)]
    device: DeviceArgs,
    #[arg(long, default_value = "models/gemma3-270m")]
    model: PathBuf,
    #[arg(long, value_delimiter = ',', default_values_t = vec![1i64, 8, 32])]
    batches: Vec<i64>,
    /// Decode steps timed.
    #[arg(long, default_value_t = 32)]
    steps: i64,
    /// Sample at temperature 1 from the K most likely tokens, as rollouts do (both sides),
    /// instead of decoding greedily.
    #[arg(long)]
    top_k: Option<i64>,
    /// Skip the Tunix side.
    #[arg(long)]
    no_tunix: bool,
    /// Our weights and activations (Tunix's sampler stays f32, the reference to beat).
    #[arg(long, value_enum, default_value_t = DType::F32)]
    dtype: DType,
    /// Also write the rows as JSON (name, ours, tunix, unit, ratio, bound_fraction).
    #[arg(long)]
    json: Option<PathBuf>,
}

impl GenerateBench {
    /// How both sides pick tokens, for the header.
    fn decoding(&self) -> String {
        match self.top_k {
            None => "greedy".to_string(),
            Some(k) => format!("top-{k} sampled (temperature 1)"),
        }
    }

    /// What each row's name adds: our dtype where it is not Tunix's (its sampler runs f32),
    /// and the sampler where it is not greedy.
    fn row_note(&self) -> String {
        let mut note = match self.dtype {
            DType::F32 => String::new(),
            other => format!(" (ours {}, tunix f32)", format!("{other:?}").to_lowercase()),
        };
        if let Some(k) = self.top_k {
            note += &format!(" (top-{k})");
        }
        note
    }

    /// Tunix's sampler on the same weights, prompt (`t`: its bucket) and batches; None when
    /// skipped or when the reference environment is missing (with a warning).
    fn time_tunix(&self, prompt: &str, t: i64) -> Option<serde_json::Value> {
        if self.no_tunix {
            return None;
        }
        eprintln!("running Tunix's sampler on the same weights ...");
        super::bench_train::tunix_or_warn(grpo_xla::reference::run(
            TUNIX_SCRIPT,
            &json!({"model_dir": self.model, "batches": self.batches, "steps": self.steps,
                    "prompt": prompt, "prompt_len": t, "top_k": self.top_k}),
        ))
    }
}

/// Mean and largest |log p| difference per token between greedy decoding with `low` (our bf16)
/// and an f32 forward pass over the same prompt and tokens: what rollouts in that dtype add to
/// the learner's f32 ratio.
fn logp_gap(
    client: &grpo_xla::pjrt::Client,
    model: &Path,
    low: &LoadedModel,
    ids: &[u32],
    steps: usize,
) -> Result<(f64, f64)> {
    use grpo_xla::grpo::programs::{Geometry, LogProbsProgram, Sequences, Trainable};
    use grpo_xla::rollout::{Generator, SamplingParams};
    let on = Placement::single(client.clone());
    let mut generator = Generator::new(
        on.clone(),
        low.config.clone(),
        &low.params,
        low.tokenizer.clone(),
    )?
    .with_stop_tokens(vec![]);
    let sampling = SamplingParams {
        max_new_tokens: steps,
        ..Default::default()
    };
    let completion = generator
        .generate(&[ids.to_vec()], 1, &sampling, steps, |_| {})?
        .remove(0);
    let reference = LoadedModel::from_dir(model, DType::F32)?;
    let (t, n) = (
        grpo_xla::rollout::generator::prompt_bucket(ids.len()),
        completion.tokens.len(),
    );
    let pad = t as usize - ids.len();
    let tokens: Vec<i32> = std::iter::repeat_n(0, pad)
        .chain(ids.iter().chain(&completion.tokens).map(|&i| i as i32))
        .collect();
    let valid: Vec<i32> = std::iter::repeat_n(0, pad)
        .chain(std::iter::repeat_n(1, ids.len() + n))
        .collect();
    let geo = Geometry {
        batch: 1,
        prompt_len: t,
        completion_len: n as i64,
    };
    let program = LogProbsProgram::compile(&on, &reference.config, geo, &Trainable::Full, 1.0)?;
    let weights = on.replicate_all(&reference.params)?;
    let seq = Sequences {
        tokens: on.put(&tokens, &[1, t + n as i64])?,
        valid: on.put(&valid, &[1, t + n as i64])?,
    };
    let f32_logps = program
        .run(&weights.iter().collect::<Vec<_>>(), &seq)?
        .to_vec::<f32>()?;
    let gaps: Vec<f64> = completion
        .logps
        .iter()
        .zip(&f32_logps)
        .map(|(a, b)| (*a as f64 - *b as f64).abs())
        .collect();
    let mean = gaps.iter().sum::<f64>() / gaps.len().max(1) as f64;
    Ok((mean, gaps.iter().copied().fold(0.0, f64::max)))
}

/// Our best-of-3 prefill seconds and decode seconds per step at batch `b` (`steps` decode
/// steps, greedy or top-k at temperature 1, after a prompt of `ids` left-padded to `t`).
fn time_ours(
    client: &grpo_xla::pjrt::Client,
    cfg: &grpo_xla::models::gemma::GemmaConfig,
    params: &[Arc<DeviceArray>],
    (ids, t): (&[u32], i64),
    b: i64,
    steps: i64,
    top_k: Option<i64>,
) -> Result<(f64, f64)> {
    let on = Placement::single(client.clone());
    let bucket = Bucket {
        batch: b,
        samples: 1,
        prompt_len: t,
        slots: t + steps + 1,
        chunk: steps,
        sampler: SamplerShape {
            greedy: top_k.is_none(),
            top_k,
            top_p: false,
        },
    };
    eprintln!("batch {b}: compiling ...");
    let programs = GenerationPrograms::compile(&on, cfg, &bucket, &[])?;
    let mut tokens = vec![0i32; (b * t) as usize];
    let mut valid = vec![0i32; (b * t) as usize];
    for r in 0..b as usize {
        let off = r * t as usize + t as usize - ids.len();
        for (j, &id) in ids.iter().enumerate() {
            tokens[off + j] = id as i32;
            valid[off + j] = 1;
        }
    }
    let inputs = PrefillInputs {
        prompt: on.put(&tokens, &[b, t])?,
        valid: on.put(&valid, &[b, t])?,
        rng: on.put(&[1u64, 2], &[2])?,
    };
    let knobs = Knobs {
        temperature: on.put(&[1f32], &[])?,
        top_p: on.put(&[1f32], &[])?,
    };
    let limit = on.put(&[(steps + 1) as i32], &[])?;
    let mut prefill_s = f64::MAX;
    let mut decode_s = f64::MAX;
    for _ in 0..3 {
        let start = Instant::now();
        let (state, _) = programs.prefill(params, &inputs, &knobs)?;
        state.step.to_scalar::<i32>()?;
        prefill_s = prefill_s.min(start.elapsed().as_secs_f64());
        let start = Instant::now();
        let out = programs.decode(params, state, &knobs, &limit)?;
        let produced = out.state.step.to_scalar::<i32>()? - 1;
        decode_s = decode_s.min(start.elapsed().as_secs_f64() / produced as f64);
    }
    Ok((prefill_s, decode_s))
}

pub fn run(args: &GenerateBench) -> Result<()> {
    let (model, dtype, steps) = (args.model.as_path(), args.dtype, args.steps);
    let loaded = LoadedModel::from_dir(model, dtype)?;
    let cfg = loaded.config.clone();
    let client = args.device.client()?;
    let prompt = "Question: A farmer has 12 cows and buys 30 more. How many cows?";
    let ids = loaded.tokenizer.encode(prompt)?;
    let gap = match dtype {
        DType::F32 => None,
        _ => Some(logp_gap(&client, model, &loaded, &ids, steps as usize)?),
    };
    let on = Placement::single(client.clone());
    let params: Vec<Arc<DeviceArray>> = on
        .replicate_all(&loaded.params)?
        .into_iter()
        .map(Arc::new)
        .collect();
    drop(loaded.params);
    let t = grpo_xla::rollout::generator::prompt_bucket(ids.len());
    let mut ours = vec![];
    for &b in &args.batches {
        let (prefill_s, decode_s) =
            time_ours(&client, &cfg, &params, (&ids, t), b, steps, args.top_k)?;
        ours.push((b, prefill_s, decode_s));
    }
    let tunix = args.time_tunix(prompt, t);
    let bytes_per_step: f64 = cfg.num_params() as f64 * cfg.dtype.size_in_bytes() as f64;
    let bw = super::bench::memory_bandwidth(&client)?;
    // A decode token costs about 2 FLOPs per parameter (every matmul, the LM head included).
    let matmul = super::bench::matmul_peak(&client)?;
    let peak = matmul.gflops * 1e9;
    let compute_bound = peak / (2.0 * cfg.num_params() as f64);
    let bound = |b: i64| (b as f64 * bw / bytes_per_step).min(compute_bound);
    println!(
        "generation, {} ({} params, {}), prompt {} tokens (bucket {t}), {steps} {} decode steps, {}",
        model.display(),
        cfg.num_params(),
        cfg.dtype,
        ids.len(),
        args.decoding(),
        client.platform_name()
    );
    let note = args.row_note();
    let mut json_rows = print_table(&ours, tunix.as_ref(), ids.len(), &note, &bound);
    if let Some((mean, max)) = gap {
        println!(
            "log-prob gap of {:?} decoding to an f32 forward pass over the same {steps} greedy tokens: mean {mean:.2e}, largest {max:.2e} nats per token",
            dtype
        );
        json_rows.push(BenchRow::new(
            &format!("log-prob gap to f32 per token, mean{note}"),
            mean,
            None,
            "nats",
            false,
        ));
    }
    if let Some(path) = &args.json {
        BenchRow::write_json(&json_rows, path)?;
    }
    println!(
        "memory bandwidth measured on the device: {:.1} GB/s; a decode step reads every weight once ({:.2} GB), so the memory bound is batch x bandwidth / weight bytes; \
         matmul peak {matmul}, and a token costs about 2 x {} FLOPs, so the compute bound is {compute_bound:.1} tok/s",
        bw / 1e9,
        bytes_per_step / 1e9,
        cfg.num_params()
    );
    println!("Tunix prefill is timed as a 1-step sampler call (prefill + one sample); decode as (N-step - 1-step) / (N - 1).");
    Ok(())
}

/// The table of our prefill and decode rates beside Tunix's, one line per batch (`ours`:
/// batch, prefill seconds, decode seconds per step); the same numbers as bench rows.
fn print_table(
    ours: &[(i64, f64, f64)],
    tunix: Option<&serde_json::Value>,
    prompt_len: usize,
    note: &str,
    bound: &dyn Fn(i64) -> f64,
) -> Vec<BenchRow> {
    println!("| batch | prefill tok/s ours | prefill tok/s tunix | ratio | decode tok/s ours | decode tok/s tunix | ratio | decode bound min(memory, compute) |");
    println!("|------:|-------------------:|--------------------:|------:|------------------:|-------------------:|------:|----------------------------------:|");
    let mut json_rows = vec![];
    for (i, (b, pre_s, dec_s)) in ours.iter().enumerate() {
        let prompt_tokens = (*b * prompt_len as i64) as f64;
        let prefill_ours = prompt_tokens / pre_s;
        let decode_ours = *b as f64 / dec_s;
        let tr = tunix.map(|t| &t["rows"][i]);
        let prefill_tunix = tr
            .and_then(|r| r["prefill_s"].as_f64())
            .map(|s| prompt_tokens / s);
        let decode_tunix = tr
            .and_then(|r| r["decode_s_per_step"].as_f64())
            .map(|s| *b as f64 / s);
        let f = |v: Option<f64>| v.map_or("-".into(), |x| format!("{x:.1}"));
        let r = |o: f64, t: Option<f64>| t.map_or("-".into(), |t| format!("{:.2}x", o / t));
        println!(
            "| {b:>5} | {prefill_ours:>18.1} | {:>19} | {:>5} | {decode_ours:>17.1} | {:>18} | {:>5} | {:>33.1} |",
            f(prefill_tunix),
            r(prefill_ours, prefill_tunix),
            f(decode_tunix),
            r(decode_ours, decode_tunix),
            bound(*b)
        );
        json_rows.push(BenchRow::new(
            &format!("prefill, batch {b}{note}"),
            prefill_ours,
            prefill_tunix,
            "tok/s",
            false,
        ));
        json_rows.push(
            BenchRow::new(
                &format!("decode, batch {b}{note}"),
                decode_ours,
                decode_tunix,
                "tok/s",
                false,
            )
            .with_bound(decode_ours / bound(*b)),
        );
    }
    json_rows
}
