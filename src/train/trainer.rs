//! The GRPO loop. Each step: prompts → rollout (current policy) → scoring → advantages →
//! packing → learner (reference/old log-probs, μ updates) → metrics, with checkpoints, exact
//! resume, graceful SIGINT/SIGTERM and a stop on a non-finite loss. The stages live in their
//! own modules; this file wires them up and runs the loop.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};

use super::checkpoint::{self, Checkpoint, NamedArrays, TrainState};
use super::config::TrainConfig;
use super::learner::{Learner, LearnerSpec};
use super::metrics::{MetricsLog, StepReport};
use super::packing::TrainExample;
use super::prompts::PromptStream;
use super::rollout::RolloutStage;
use super::scoring::{Judge, Scorer};
use crate::data::load_jsonl;
use crate::graph::{HostArray, Placement};
use crate::grpo::advantages::advantages;
use crate::grpo::lora;
use crate::grpo::objective::ObjectiveConfig;
use crate::grpo::optimizer::AdamWConfig;
use crate::grpo::programs::{Geometry, Loss, Trainable};
use crate::models::hf::save_params;
use crate::models::LoadedModel;
use crate::pjrt::{Buffer, Client};
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

/// The model a config names: an HF directory, or a random preset.
pub fn load_model(cfg: &TrainConfig, config_path: &Path) -> Result<LoadedModel> {
    match (&cfg.model.path, &cfg.model.preset) {
        (Some(dir), _) => LoadedModel::from_dir(dir, cfg.model.dtype),
        (None, Some(preset)) => {
            LoadedModel::random(preset, cfg.model.init_seed).with_context(|| {
                format!(
                    "{}: model.preset `{preset}` is not a known preset",
                    config_path.display()
                )
            })
        }
        _ => unreachable!("checked by TrainConfig::load"),
    }
}

/// The learner a config asks for.
fn learner_spec(cfg: &TrainConfig, model: &LoadedModel) -> LearnerSpec {
    let grpo = cfg.grpo();
    let geo = Geometry {
        batch: (cfg.training.prompts_per_step * cfg.rollout.num_generations) as i64,
        prompt_len: prompt_bucket(cfg.rollout.max_prompt_length),
        completion_len: cfg.rollout.max_new_tokens as i64,
    };
    let total_updates = (cfg.training.steps * grpo.num_iterations) as i64;
    LearnerSpec {
        trainable: match &cfg.lora {
            Some(lc) => Trainable::Lora(lc.clone(), lora::specs(&model.config, lc)),
            None => Trainable::Full,
        },
        loss: Loss::Grpo {
            objective: ObjectiveConfig {
                epsilon: grpo.epsilon,
                epsilon_high: grpo.epsilon_high.unwrap_or(grpo.epsilon),
                beta: grpo.beta,
                kl: grpo.kl,
                aggregation: grpo.aggregation,
            },
            temperature: if grpo.scale_logits_by_temperature {
                cfg.rollout.temperature.max(1e-6) as f64
            } else {
                1.0
            },
            use_old_logps: grpo.num_iterations > 1,
        },
        optimizer: AdamWConfig {
            peak_lr: cfg.optimizer.learning_rate,
            b1: cfg.optimizer.b1,
            b2: cfg.optimizer.b2,
            eps: cfg.optimizer.eps,
            weight_decay: cfg.optimizer.weight_decay,
            max_grad_norm: cfg.optimizer.max_grad_norm,
            warmup_steps: (cfg.optimizer.warmup_ratio * total_updates as f64).round() as i64,
            decay_steps: total_updates,
        },
        geo,
        iterations: grpo.num_iterations,
        seed: cfg.training.seed,
    }
}

/// Writes a checkpoint of the learner at `state`; the tokenizer files come along when the
/// model came from a directory.
fn save_checkpoint(
    run: &Path,
    state: &TrainState,
    learner: &Learner,
    model_dir: Option<&Path>,
) -> Result<PathBuf> {
    let snapshot = learner.snapshot()?;
    let model_cfg = learner.model_config().clone();
    let merged = snapshot.merged;
    checkpoint::save(
        run,
        Checkpoint {
            state,
            training_state: snapshot.training_state,
            lora: snapshot.lora,
            write_model: Box::new(move |dir: &Path| {
                let f32_params: Vec<HostArray> = merged
                    .iter()
                    .map(|a| {
                        let v: Vec<f32> = a.to_f64().iter().map(|&v| v as f32).collect();
                        HostArray::new(&v, &a.dims)
                    })
                    .collect();
                save_params(dir, &model_cfg, &f32_params)?;
                if let Some(src) = model_dir {
                    for f in ["tokenizer.json", "tokenizer_config.json"] {
                        let _ = std::fs::copy(src.join(f), dir.join(f));
                    }
                }
                Ok(())
            }),
        },
    )
}

/// The training state and learner arrays to start from: the newest checkpoint with `--resume`.
fn starting_point(run: &Path, resume: bool) -> Result<(TrainState, Option<NamedArrays>)> {
    let fresh = TrainState {
        step: 0,
        epoch: 0,
        cursor: 0,
    };
    if !resume {
        return Ok((fresh, None));
    }
    match checkpoint::latest(run)? {
        Some(dir) => {
            let (state, arrays) = checkpoint::load_state(&dir)?;
            eprintln!("resuming from {} (step {})", dir.display(), state.step);
            Ok((state, Some(arrays)))
        }
        None => {
            eprintln!(
                "--resume: no checkpoint in {}, starting fresh",
                run.display()
            );
            Ok((fresh, None))
        }
    }
}

/// The rollout stage (sampling from the base weights until the learner hands over its own) and
/// the scorer (rewards, and the judge when configured) of a config.
fn sampling_stages(
    cfg: &TrainConfig,
    placement: &Placement,
    model: &LoadedModel,
    base: &[Arc<Buffer>],
) -> Result<(RolloutStage, Scorer)> {
    let generator = Generator::with_params(
        placement.clone(),
        model.config.clone(),
        base.to_vec(),
        model.tokenizer.clone(),
    );
    let r = &cfg.rollout;
    let sampling = SamplingParams {
        temperature: r.temperature,
        top_k: r.top_k,
        top_p: r.top_p,
        seed: cfg.training.seed,
        max_new_tokens: r.max_new_tokens,
        stop_strings: r.stop_strings.clone(),
    };
    let prompt_tokens = prompt_bucket(r.max_prompt_length) as usize;
    let rollout = RolloutStage::new(generator, sampling, r.num_generations, prompt_tokens);
    let judge = match cfg.judge() {
        Some(j) => Some(Judge::new(j, placement, model, base.to_vec())?),
        None => None,
    };
    Ok((rollout, Scorer::new(cfg.rewards().to_vec(), judge)))
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

    // ---------------------------------------------------------------- stages
    let placement = Placement::single(client);
    let model = load_model(&cfg, config_path)?;
    let (data, skipped) = load_jsonl(&cfg.data.train, cfg.data.bad_lines)?;
    if skipped > 0 {
        eprintln!("{}: skipped {skipped} bad lines", cfg.data.train.display());
    }
    let spec = learner_spec(&cfg, &model);
    let (geo, iterations) = (spec.geo, spec.iterations);
    eprintln!(
        "compiling the GRPO programs ({} params, batch {} x ({} + {}) tokens) ...",
        model.config.num_params(),
        geo.batch,
        geo.prompt_len,
        geo.completion_len
    );
    let base: Vec<Arc<Buffer>> = placement
        .upload_all(&model.params)?
        .into_iter()
        .map(Arc::new)
        .collect();
    let g = cfg.rollout.num_generations;
    let (mut state, resumed) = starting_point(&run, opts.resume)?;
    let updates = state.step * iterations;
    let mut learner = Learner::new(
        placement.clone(),
        &model,
        base.clone(),
        spec,
        resumed.as_deref().map(|a| (a, updates)),
    )?;
    let (mut rollout, mut scorer) = sampling_stages(&cfg, &placement, &model, &base)?;
    let mut prompts = PromptStream::new(&data, cfg.training.seed, cfg.data.shuffle, &state);
    let mut log = MetricsLog::open(&run, cfg.training.steps, state.step)?;
    let grpo = cfg.grpo();

    // ---------------------------------------------------------------- loop
    let session_start = state.step;
    while state.step < cfg.training.steps {
        let started = Instant::now();
        let examples = prompts.next_batch(&mut state, cfg.training.prompts_per_step);
        let prompt_ids = rollout.encode(&examples)?;
        if let Some(weights) = learner.policy_weights(state.step > 0)? {
            rollout.sync_weights(weights);
        }
        let samples = rollout.run(&prompt_ids, state.step)?;

        let texts = rollout.texts(&samples.completions);
        let sampled: Vec<_> = samples
            .completions
            .iter()
            .map(|c| examples[c.prompt_index])
            .collect();
        let scores = scorer.score(&sampled, &texts)?;
        let adv = advantages(&scores.totals, g, grpo.advantage, grpo.advantage_epsilon);

        let packed = TrainExample::pack(&prompt_ids, &samples.completions, &adv, geo)?;
        let batch = learner.prepare(&packed)?;
        let train_started = Instant::now();
        let update = learner.update(&batch)?;
        let train_seconds = train_started.elapsed().as_secs_f64();
        if !update.loss.is_finite() || !update.grad_norm.is_finite() {
            let last =
                checkpoint::latest(&run)?.map_or("none".to_string(), |d| d.display().to_string());
            bail!("step {}: the loss ({}) or the gradient norm ({}) is not finite; stopping. The last good checkpoint is {last}", state.step + 1, update.loss, update.grad_norm);
        }
        state.step += 1;

        let lengths: Vec<f64> = samples
            .completions
            .iter()
            .map(|c| c.tokens.len() as f64)
            .collect();
        let report = StepReport {
            step: state.step,
            scores: &scores,
            lengths: &lengths,
            group_size: g,
            update,
            judge_failures: scorer.judge.as_ref().map(|j| j.failures),
            step_seconds: started.elapsed().as_secs_f64(),
            rollout_tokens_per_s: lengths.iter().sum::<f64>() / samples.seconds,
            train_tokens_per_s: (geo.batch * geo.seq_len()) as f64 * iterations as f64
                / train_seconds,
        };
        log.append(&report)?;
        if state.step % cfg.training.log_every == 0 {
            log.say(report.log_line());
        }
        if state.step % cfg.training.sample_every == 0 {
            log.say(format!(
                "--- sample at step {} (answer {}):\n{}\n--- reward {:.2}",
                state.step,
                examples[0].answer,
                texts[0].trim(),
                scores.totals[0]
            ));
        }
        let stop = STOP.load(Ordering::SeqCst)
            || opts
                .max_steps
                .is_some_and(|m| state.step - session_start >= m);
        if state.step % cfg.training.checkpoint_every == 0
            || state.step == cfg.training.steps
            || stop
        {
            let dir = save_checkpoint(&run, &state, &learner, model.dir.as_deref())?;
            log.say(format!("checkpoint: {}", dir.display()));
        }
        if stop {
            log.bar.abandon_with_message(format!(
                "stopped after step {}: checkpoint saved; --resume continues",
                state.step
            ));
            return Ok(run);
        }
    }
    log.bar.finish_with_message("done");
    Ok(run)
}
