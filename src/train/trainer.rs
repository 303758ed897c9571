//! The GRPO loop: rollouts → rewards → advantages → reference log-probs → train step(s),
//! with metrics, samples, checkpoints, exact resume, graceful SIGINT/SIGTERM and a NaN stop.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};

use super::checkpoint::{self, Checkpoint, TrainState};
use super::config::TrainConfig;
use crate::data::{load_jsonl, prompt_text, Example};
use crate::graph::HostArray;
use crate::grpo::advantages::advantages;
use crate::grpo::lora::{self, LoraSpec};
use crate::grpo::objective::ObjectiveConfig;
use crate::grpo::optimizer::AdamWConfig;
use crate::grpo::train_step::{
    log_probs_program, merge_program, train_step_program, Geometry, Trainable, STEP_METRICS,
};
use crate::models::gemma::GemmaConfig;
use crate::models::hf::{load_params, read_config, save_params};
use crate::models::tokenizer::{GemmaTokenizer, TextTokenizer};
use crate::pjrt::{Arg, Buffer, Client, ElementType, LoadedExecutable};
use crate::rewards::score_all;
use crate::rollout::generator::prompt_bucket;
use crate::rollout::{Generator, SamplingParams};

/// Set by SIGINT/SIGTERM: finish the step, save, exit 0.
static STOP: AtomicBool = AtomicBool::new(false);

pub struct RunOptions {
    pub output_dir: Option<PathBuf>,
    pub resume: bool,
    /// End this session (with a checkpoint) after this many steps; a later `resume` goes on.
    pub max_steps: Option<usize>,
}

/// Prints above the progress bar, also when stderr is not a terminal (where indicatif's own
/// `println` prints nothing).
fn say(bar: &indicatif::ProgressBar, line: String) {
    bar.suspend(|| eprintln!("{line}"));
}

fn random_params(cfg: &GemmaConfig, seed: u64) -> Vec<HostArray> {
    let mut state = seed.wrapping_add(0x2545_f491_4f6c_dd1d);
    cfg.param_specs()
        .iter()
        .map(|(name, dims)| {
            let n = dims.iter().product::<i64>() as usize;
            let scale = if name.contains("norm") {
                0.0
            } else {
                (1.0 / *dims.iter().rev().nth(1).unwrap_or(&1) as f32).sqrt()
            };
            let v: Vec<f32> = (0..n)
                .map(|_| {
                    state = state
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    (((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0) * scale
                })
                .collect();
            HostArray::new(&v, dims)
        })
        .collect()
}

/// A permutation of 0..n for an epoch, the same for the same seed.
fn epoch_order(n: usize, seed: u64, epoch: usize, shuffle: bool) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    if shuffle {
        let mut s =
            seed ^ (epoch as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0xd1b5_4a32_d192_ed03;
        for i in (1..n).rev() {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            order.swap(i, (s >> 33) as usize % (i + 1));
        }
    }
    order
}

fn upload_all(client: &Client, arrays: &[HostArray]) -> Result<Vec<Buffer>> {
    Ok(arrays
        .iter()
        .map(|a| a.upload(client, 0))
        .collect::<Result<_, _>>()?)
}

fn download_all(buffers: &[Buffer]) -> Result<Vec<HostArray>> {
    Ok(buffers
        .iter()
        .map(HostArray::download)
        .collect::<Result<_, _>>()?)
}

/// Cuts a completion at the end of its first stop string; returns the kept token count.
fn cut_at_stop_string(tok: &TextTokenizer, tokens: &[u32], stops: &[String]) -> usize {
    let text = tok.decode(tokens);
    if !stops.iter().any(|s| text.contains(s.as_str())) {
        return tokens.len();
    }
    (1..=tokens.len())
        .find(|&k| {
            let t = tok.decode(&tokens[..k]);
            stops.iter().any(|s| t.contains(s.as_str()))
        })
        .unwrap_or(tokens.len())
}

pub fn train(config_path: &Path, opts: RunOptions, client: Client) -> Result<PathBuf> {
    let cfg = TrainConfig::load(config_path)?;
    let run = opts
        .output_dir
        .clone()
        .unwrap_or_else(|| cfg.training.output_dir.clone());
    std::fs::create_dir_all(&run).with_context(|| format!("creating {}", run.display()))?;
    std::fs::copy(config_path, run.join("config.yaml")).ok();
    STOP.store(false, Ordering::SeqCst);
    let _ = ctrlc::set_handler(|| STOP.store(true, Ordering::SeqCst));

    // ---------------------------------------------------------------- model, data
    let dtype = if cfg.model.dtype == "bf16" {
        ElementType::BF16
    } else {
        ElementType::F32
    };
    let (mut model_cfg, base_host, tokenizer, model_dir) =
        match (&cfg.model.path, &cfg.model.preset) {
            (Some(dir), _) => {
                let mut mc = read_config(dir)?;
                mc.dtype = dtype;
                let params = load_params(dir, &mc)?;
                (
                    mc,
                    params,
                    TextTokenizer::Gemma(Box::new(GemmaTokenizer::load(dir)?)),
                    Some(dir.clone()),
                )
            }
            (None, Some(preset)) => {
                let mut mc = GemmaConfig::preset(preset).with_context(|| {
                    format!(
                        "{}: model.preset `{preset}` is not a known preset",
                        config_path.display()
                    )
                })?;
                mc.dtype = ElementType::F32;
                let params = random_params(&mc, cfg.model.init_seed);
                (mc, params, TextTokenizer::Bytes, None)
            }
            _ => unreachable!("checked by TrainConfig::load"),
        };
    model_cfg.dtype = if cfg.model.preset.is_some() {
        ElementType::F32
    } else {
        dtype
    };
    let (data, skipped) = load_jsonl(&cfg.data.train, cfg.data.bad_lines)?;
    if skipped > 0 {
        eprintln!("{}: skipped {skipped} bad lines", cfg.data.train.display());
    }
    let grpo = cfg.grpo().clone();
    let rewards = cfg.rewards().to_vec();
    let g = cfg.rollout.num_generations;
    let geo = Geometry {
        batch: (cfg.training.prompts_per_step * g) as i64,
        prompt_len: prompt_bucket(cfg.rollout.max_prompt_length),
        completion_len: cfg.rollout.max_new_tokens as i64,
    };
    let temperature = if grpo.scale_logits_by_temperature {
        cfg.rollout.temperature.max(1e-6) as f64
    } else {
        1.0
    };
    let trainable = match &cfg.lora {
        Some(lc) => Trainable::Lora(lc.clone(), lora::specs(&model_cfg, lc)),
        None => Trainable::Full,
    };
    let specs: Vec<LoraSpec> = match &trainable {
        Trainable::Lora(_, s) => s.clone(),
        Trainable::Full => vec![],
    };
    let objective = ObjectiveConfig {
        epsilon: grpo.epsilon,
        epsilon_high: grpo.epsilon_high.unwrap_or(grpo.epsilon),
        beta: grpo.beta,
        kl: grpo.kl,
        aggregation: grpo.aggregation,
    };
    let total_updates = (cfg.training.steps * grpo.num_iterations) as i64;
    let optimizer = AdamWConfig {
        peak_lr: cfg.optimizer.learning_rate,
        b1: cfg.optimizer.b1,
        b2: cfg.optimizer.b2,
        eps: cfg.optimizer.eps,
        weight_decay: cfg.optimizer.weight_decay,
        max_grad_norm: cfg.optimizer.max_grad_norm,
        warmup_steps: (cfg.optimizer.warmup_ratio * total_updates as f64).round() as i64,
        decay_steps: total_updates,
    };

    // ---------------------------------------------------------------- programs
    eprintln!(
        "compiling the GRPO programs ({} params, batch {} x ({} + {}) tokens) ...",
        model_cfg.num_params(),
        geo.batch,
        geo.prompt_len,
        geo.completion_len
    );
    let use_old = grpo.num_iterations > 1;
    let step_exe = train_step_program(
        &model_cfg,
        geo,
        &trainable,
        &objective,
        &optimizer,
        temperature,
        use_old,
    )
    .compile(&client)?;
    let ref_exe = log_probs_program(&model_cfg, geo, None, temperature).compile(&client)?;
    let lora_cfg = cfg.lora.clone();
    let policy_logp_exe: Option<Arc<LoadedExecutable>> = match (&lora_cfg, use_old) {
        (Some(lc), true) => Some(
            log_probs_program(&model_cfg, geo, Some((lc, &specs)), temperature).compile(&client)?,
        ),
        (None, true) => Some(ref_exe.clone()),
        _ => None,
    };
    let merge_exe = match &lora_cfg {
        Some(lc) => Some(merge_program(&model_cfg, lc, &specs).compile(&client)?),
        None => None,
    };

    // ---------------------------------------------------------------- state
    let base: Vec<Arc<Buffer>> = upload_all(&client, &base_host)?
        .into_iter()
        .map(Arc::new)
        .collect();
    let names = trainable.names(&model_cfg);
    let shapes = trainable.shapes(&model_cfg);
    let mut state = TrainState {
        step: 0,
        epoch: 0,
        cursor: 0,
    };
    let (mut params_h, mut mu_h, mut nu_h): (Vec<HostArray>, Vec<HostArray>, Vec<HostArray>) =
        match &trainable {
            Trainable::Full => (base_host.clone(), vec![], vec![]),
            Trainable::Lora(..) => (
                lora::init(&specs, cfg.training.seed)
                    .iter()
                    .zip(&shapes)
                    .map(|(v, d)| HostArray::new(v, d))
                    .collect(),
                vec![],
                vec![],
            ),
        };
    let zeros = |d: &Vec<i64>| HostArray::new(&vec![0f32; d.iter().product::<i64>() as usize], d);
    mu_h.extend(shapes.iter().map(zeros));
    nu_h.extend(shapes.iter().map(zeros));
    if opts.resume {
        match checkpoint::latest(&run)? {
            Some(dir) => {
                let (s, arrays) = checkpoint::load_state(&dir)?;
                let find = |prefix: &str, name: &str| -> Result<HostArray> {
                    arrays
                        .iter()
                        .find(|(n, _)| n == &format!("{prefix}{name}"))
                        .map(|(_, a)| a.clone())
                        .with_context(|| format!("{}: no {prefix}{name}", dir.display()))
                };
                params_h = names
                    .iter()
                    .map(|n| find("param.", n))
                    .collect::<Result<_>>()?;
                mu_h = names
                    .iter()
                    .map(|n| find("mu.", n))
                    .collect::<Result<_>>()?;
                nu_h = names
                    .iter()
                    .map(|n| find("nu.", n))
                    .collect::<Result<_>>()?;
                eprintln!("resuming from {} (step {})", dir.display(), s.step);
                state = s;
            }
            None => eprintln!(
                "--resume: no checkpoint in {}, starting fresh",
                run.display()
            ),
        }
    }
    let mut params = upload_all(&client, &params_h)?;
    let mut mu = upload_all(&client, &mu_h)?;
    let mut nu = upload_all(&client, &nu_h)?;
    let mut step_buf =
        client.buffer_from_host(&[(state.step * grpo.num_iterations) as i32], &[], 0)?;
    drop((params_h, mu_h, nu_h));
    let mut generator = Generator::with_params(
        client.clone(),
        model_cfg.clone(),
        base.clone(),
        tokenizer.stop_tokens(),
    );

    // The judge: its own model, or the frozen reference weights (shared buffers).
    let judge = match cfg.judge() {
        Some(j) => {
            let template = std::fs::read_to_string(&j.template)
                .with_context(|| format!("reading the judge template {}", j.template.display()))?;
            let judge_generator = match &j.model {
                Some(dir) => {
                    let mc = read_config(dir)?;
                    Generator::new(
                        client.clone(),
                        mc.clone(),
                        &load_params(dir, &mc)?,
                        tokenizer.stop_tokens(),
                    )?
                }
                None => Generator::with_params(
                    client.clone(),
                    model_cfg.clone(),
                    base.clone(),
                    tokenizer.stop_tokens(),
                ),
            };
            Some((j.clone(), template, judge_generator))
        }
        None => None,
    };
    let mut judge = judge;
    let mut judge_failures = 0usize;

    let metrics_path = run.join("metrics.jsonl");
    let mut metrics_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&metrics_path)?;
    let bar = indicatif::ProgressBar::new(cfg.training.steps as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:30} {pos}/{len} steps [{elapsed_precise} < {eta_precise}] {msg}",
        )
        .unwrap(),
    );
    bar.set_position(state.step as u64);
    let order_for = |epoch| epoch_order(data.len(), cfg.training.seed, epoch, cfg.data.shuffle);
    let mut order = order_for(state.epoch);

    let save =
        |state: &TrainState, params: &[Buffer], mu: &[Buffer], nu: &[Buffer]| -> Result<PathBuf> {
            let p = download_all(params)?;
            let mut training_state: Vec<(String, HostArray)> = vec![];
            for (prefix, arrays) in [
                ("param.", &p),
                ("mu.", &download_all(mu)?),
                ("nu.", &download_all(nu)?),
            ] {
                training_state.extend(
                    names
                        .iter()
                        .zip(arrays.iter())
                        .map(|(n, a)| (format!("{prefix}{n}"), a.clone())),
                );
            }
            let lora_arrays = lora_cfg.as_ref().map(|_| {
                names
                    .iter()
                    .cloned()
                    .zip(p.iter().cloned())
                    .collect::<Vec<_>>()
            });
            let merged: Vec<HostArray> = match &merge_exe {
                Some(exe) => {
                    let mut args: Vec<Arg> = base.iter().map(|b| Arg::Borrow(b)).collect();
                    args.extend(params.iter().map(Arg::Borrow));
                    let targets = download_all(&exe.execute(args)?)?;
                    let mut all = base_host.clone();
                    for (s, t) in specs.iter().zip(targets) {
                        all[s.param] = t;
                    }
                    all
                }
                None => p,
            };
            let model_cfg = model_cfg.clone();
            let model_dir = model_dir.clone();
            checkpoint::save(
                &run,
                Checkpoint {
                    state,
                    training_state,
                    lora: lora_arrays,
                    write_model: Box::new(move |dir: &Path| {
                        save_params(
                            dir,
                            &model_cfg,
                            &merged
                                .iter()
                                .map(|a| {
                                    HostArray::new(
                                        &a.to_f64().iter().map(|&v| v as f32).collect::<Vec<_>>(),
                                        &a.dims,
                                    )
                                })
                                .collect::<Vec<_>>(),
                        )?;
                        if let Some(src) = &model_dir {
                            for f in ["tokenizer.json", "tokenizer_config.json"] {
                                let _ = std::fs::copy(src.join(f), dir.join(f));
                            }
                        }
                        Ok(())
                    }),
                },
            )
        };

    // ---------------------------------------------------------------- loop
    let session_start = state.step;
    while state.step < cfg.training.steps {
        let started = Instant::now();
        // Prompts for this step.
        let mut batch: Vec<&Example> = vec![];
        while batch.len() < cfg.training.prompts_per_step {
            if state.cursor >= order.len() {
                state.epoch += 1;
                state.cursor = 0;
                order = order_for(state.epoch);
            }
            batch.push(&data[order[state.cursor]]);
            state.cursor += 1;
        }
        let mut prompts: Vec<Vec<u32>> = vec![];
        for e in &batch {
            let mut ids = tokenizer.encode(&prompt_text(&e.question))?;
            if ids.len() as i64 > geo.prompt_len {
                // Keep the end, where the question and the turn marker are.
                ids = [
                    vec![ids[0]],
                    ids[ids.len() - geo.prompt_len as usize + 1..].to_vec(),
                ]
                .concat();
            }
            prompts.push(ids);
        }

        // Rollouts with the current policy.
        if let Some(exe) = &merge_exe {
            let mut args: Vec<Arg> = base.iter().map(|b| Arg::Borrow(b)).collect();
            args.extend(params.iter().map(Arg::Borrow));
            let merged = exe.execute(args)?;
            let mut weights = base.clone();
            for (s, m) in specs.iter().zip(merged) {
                weights[s.param] = Arc::new(m);
            }
            generator.set_params(weights);
        } else if lora_cfg.is_none() && state.step > 0 {
            generator.set_params(
                download_all(&params)
                    .and_then(|h| upload_all(&client, &h))?
                    .into_iter()
                    .map(Arc::new)
                    .collect(),
            );
        }
        let sampling = SamplingParams {
            temperature: cfg.rollout.temperature,
            top_k: cfg.rollout.top_k,
            top_p: cfg.rollout.top_p,
            seed: cfg
                .training
                .seed
                .wrapping_mul(1_000_003)
                .wrapping_add(state.step as u64),
            max_new_tokens: cfg.rollout.max_new_tokens,
            stop_strings: cfg.rollout.stop_strings.clone(),
        };
        let rollout_started = Instant::now();
        let completions =
            generator.generate(&prompts, g, &sampling, cfg.rollout.max_new_tokens, |rows| {
                vec![false; rows.len()]
            })?;
        let rollout_s = rollout_started.elapsed().as_secs_f64();

        // Rewards and advantages.
        let mut texts = vec![];
        let mut per_fn = vec![vec![]; rewards.len()];
        let mut totals = vec![];
        let mut lengths = vec![];
        let mut kept_tokens: Vec<Vec<u32>> = vec![];
        for c in &completions {
            let keep = cut_at_stop_string(&tokenizer, &c.tokens, &cfg.rollout.stop_strings);
            let toks = c.tokens[..keep].to_vec();
            let text = tokenizer.decode(&toks);
            let e = batch[c.prompt_index];
            let (each, total) = score_all(&rewards, &e.question, &text, &e.answer);
            for (k, v) in each.into_iter().enumerate() {
                per_fn[k].push(v);
            }
            totals.push(total);
            lengths.push(toks.len());
            texts.push(text);
            kept_tokens.push(toks);
        }
        let mut judge_scores: Vec<f64> = vec![];
        if let Some((jc, template, judge_gen)) = judge.as_mut() {
            let prompts: Vec<Vec<u32>> = completions
                .iter()
                .zip(&texts)
                .map(|(c, text)| {
                    let e = batch[c.prompt_index];
                    let mut ids = tokenizer.encode(&crate::rewards::judge::fill(
                        template,
                        &e.question,
                        &e.answer,
                        text,
                    ))?;
                    let limit = 1024;
                    if ids.len() > limit {
                        ids = [vec![ids[0]], ids[ids.len() - limit + 1..].to_vec()].concat();
                    }
                    Ok(ids)
                })
                .collect::<Result<_>>()?;
            let sp = SamplingParams {
                max_new_tokens: jc.max_new_tokens,
                ..Default::default()
            };
            let verdicts = judge_gen.generate(&prompts, 1, &sp, jc.max_new_tokens, |r| {
                vec![false; r.len()]
            })?;
            for (k, v) in verdicts.iter().enumerate() {
                let score = crate::rewards::judge::parse_score(&tokenizer.decode(&v.tokens));
                judge_failures += usize::from(score.is_none());
                let s = score.unwrap_or(0.0);
                totals[k] += jc.weight * s;
                judge_scores.push(s);
            }
        }
        let adv = advantages(&totals, g, grpo.advantage, grpo.advantage_epsilon);
        let zero_spread = totals
            .chunks(g)
            .filter(|grp| grp.iter().all(|&r| r == grp[0]))
            .count() as f64
            / cfg.training.prompts_per_step as f64;

        // The batch as arrays: prompt left-padded to P, completion right-padded to C.
        let (b, p, c) = (
            geo.batch as usize,
            geo.prompt_len as usize,
            geo.completion_len as usize,
        );
        let mut tokens = vec![0i32; b * (p + c)];
        let mut valid = vec![0i32; b * (p + c)];
        let mut mask = vec![0f32; b * c];
        for (r, comp) in completions.iter().enumerate() {
            let prompt = &prompts[comp.prompt_index];
            let row = r * (p + c);
            for (j, &t) in prompt.iter().enumerate() {
                tokens[row + p - prompt.len() + j] = t as i32;
                valid[row + p - prompt.len() + j] = 1;
            }
            for (j, &t) in kept_tokens[r].iter().enumerate() {
                tokens[row + p + j] = t as i32;
                valid[row + p + j] = 1;
                mask[r * c + j] = 1.0;
            }
        }
        let dims = [b as i64, (p + c) as i64];
        let tokens_b = client.buffer_from_host(&tokens, &dims, 0)?;
        let valid_b = client.buffer_from_host(&valid, &dims, 0)?;
        let mask_b = client.buffer_from_host(&mask, &[b as i64, c as i64], 0)?;
        let adv_b = client.buffer_from_host(
            &adv.iter().map(|&a| a as f32).collect::<Vec<_>>(),
            &[b as i64],
            0,
        )?;
        let ref_logps = {
            let mut args: Vec<Arg> = base.iter().map(|x| Arg::Borrow(x)).collect();
            args.extend([Arg::Borrow(&tokens_b), Arg::Borrow(&valid_b)]);
            ref_exe.execute(args)?.remove(0)
        };
        let old_logps = match &policy_logp_exe {
            Some(exe) => {
                let mut args: Vec<Arg> = if lora_cfg.is_some() {
                    base.iter().map(|x| Arg::Borrow(x)).collect()
                } else {
                    vec![]
                };
                args.extend(params.iter().map(Arg::Borrow));
                args.extend([Arg::Borrow(&tokens_b), Arg::Borrow(&valid_b)]);
                exe.execute(args)?.remove(0)
            }
            None => client.buffer_from_host(&vec![0f32; b * c], &[b as i64, c as i64], 0)?,
        };

        // μ updates on this batch.
        let train_started = Instant::now();
        let mut metrics = vec![0f32; STEP_METRICS.len()];
        for _ in 0..grpo.num_iterations {
            let mut args: Vec<Arg> = if lora_cfg.is_some() {
                base.iter().map(|x| Arg::Borrow(x)).collect()
            } else {
                vec![]
            };
            let n = params.len();
            args.extend(params.drain(..).map(Arg::Donate));
            args.extend(mu.drain(..).map(Arg::Donate));
            args.extend(nu.drain(..).map(Arg::Donate));
            args.push(Arg::Donate(step_buf));
            args.extend(
                [&tokens_b, &valid_b, &mask_b, &adv_b, &old_logps, &ref_logps].map(Arg::Borrow),
            );
            let mut out = step_exe.execute(args)?;
            let tail = out.split_off(3 * n + 1);
            step_buf = out.pop().expect("step");
            nu = out.split_off(2 * n);
            mu = out.split_off(n);
            params = out;
            metrics = tail
                .iter()
                .map(|t| t.to_scalar::<f32>())
                .collect::<Result<_, _>>()?;
        }
        let train_s = train_started.elapsed().as_secs_f64();
        let (loss, grad_norm) = (metrics[0], metrics[4]);
        if !loss.is_finite() || !grad_norm.is_finite() {
            let last =
                checkpoint::latest(&run)?.map_or("none".to_string(), |d| d.display().to_string());
            bail!("step {}: the loss ({loss}) or the gradient norm ({grad_norm}) is not finite; stopping. The last good checkpoint is {last}", state.step + 1);
        }
        state.step += 1;

        // Metrics.
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
        let std = |v: &[f64]| {
            let m = mean(v);
            (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len().max(1) as f64).sqrt()
        };
        let lens: Vec<f64> = lengths.iter().map(|&l| l as f64).collect();
        let generated: usize = completions.iter().map(|c| c.tokens.len()).sum();
        let mut record = serde_json::json!({
            "step": state.step,
            "reward_mean": mean(&totals), "reward_std": std(&totals),
            "completion_length_mean": mean(&lens),
            "zero_spread_groups": zero_spread,
            "step_time_s": started.elapsed().as_secs_f64(),
            "rollout_tokens_per_s": generated as f64 / rollout_s,
            "train_tokens_per_s": (b * (p + c) * grpo.num_iterations) as f64 / train_s,
        });
        for (k, name) in STEP_METRICS.iter().enumerate() {
            record[*name] = serde_json::json!(metrics[k]);
        }
        if judge.is_some() {
            record["reward/judge"] = serde_json::json!(mean(&judge_scores));
            record["judge_parse_failures"] = serde_json::json!(judge_failures);
        }
        for (r, scores) in rewards.iter().zip(&per_fn) {
            record[format!("reward/{}", r.name.name())] = serde_json::json!(mean(scores));
        }
        writeln!(metrics_file, "{record}")?;
        metrics_file.flush()?;
        bar.set_position(state.step as u64);
        bar.set_message(format!(
            "reward {:.3} loss {:.4} kl {:.4}",
            mean(&totals),
            loss,
            metrics[1]
        ));
        if state.step % cfg.training.log_every == 0 {
            say(&bar, format!(
                "step {:>4}  reward {:>7.3} ± {:.3}  loss {:>8.4}  kl {:.4}  clip {:.3}  len {:.1}  {:.1}s",
                state.step,
                mean(&totals),
                std(&totals),
                loss,
                metrics[1],
                metrics[2],
                mean(&lens),
                started.elapsed().as_secs_f64()
            ));
        }
        if state.step % cfg.training.sample_every == 0 {
            let e = batch[0];
            say(
                &bar,
                format!(
                    "--- sample at step {} (answer {}):\n{}\n--- reward {:.2}",
                    state.step,
                    e.answer,
                    texts[0].trim(),
                    totals[0]
                ),
            );
        }
        let stop = STOP.load(Ordering::SeqCst)
            || opts
                .max_steps
                .is_some_and(|m| state.step - session_start >= m);
        if state.step % cfg.training.checkpoint_every == 0
            || state.step == cfg.training.steps
            || stop
        {
            let dir = save(&state, &params, &mu, &nu)?;
            say(&bar, format!("checkpoint: {}", dir.display()));
        }
        if stop {
            bar.abandon_with_message(format!(
                "stopped after step {}: checkpoint saved; --resume continues",
                state.step
            ));
            return Ok(run);
        }
    }
    bar.finish_with_message("done");
    Ok(run)
}
