//! A training run: an optional supervised warm start (`sft.rs`), then the GRPO loop. Each GRPO
//! step: prompts → rollout (current policy) → scoring → advantages → packing → learner
//! (reference/old log-probs, μ updates) → metrics, with checkpoints, exact resume (in the right
//! phase), graceful SIGINT/SIGTERM and a stop on a non-finite loss. The stages live in their own
//! modules; this file wires them up and runs the loop.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{bail, Context, Result};

use super::checkpoint::{self, Checkpoint, NamedArrays, Phase, TrainState};
use super::config::{SftSection, TrainConfig};
use super::learner::{Learner, LearnerSnapshot, LearnerSpec, Packing};
use super::metrics::{Lap, MetricsLog, StageSeconds, StepReport};
use super::packing::TrainExample;
use super::prompts::PromptStream;
use super::rollout::RolloutStage;
use super::scoring::{Judge, Scorer};
use super::sft::sft_phase;
use crate::data::load_jsonl;
use crate::graph::{HostArray, Layout, Placement};
use crate::grpo::advantages::{advantages, informative_groups};
use crate::grpo::lora;
use crate::grpo::objective::{Aggregation, ObjectiveConfig};
use crate::grpo::optimizer::AdamWConfig;
use crate::grpo::programs::{Geometry, Loss, StepMetrics, Trainable};
use crate::models::gemma::GemmaConfig;
use crate::models::hf::{load_params, save_params};
use crate::models::LoadedModel;
use crate::pjrt::platforms;
use crate::pjrt::Client;
use crate::rollout::generator::prompt_bucket;
use crate::rollout::{Completion, Generator, SamplingParams};

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

/// What is trained: LoRA adapters on the config's targets, or every weight.
fn trainable(cfg: &TrainConfig, model: &GemmaConfig) -> Trainable {
    match &cfg.lora {
        Some(lc) => Trainable::Lora(lc.clone(), lora::specs(model, lc)),
        None => Trainable::Full,
    }
}

/// AdamW as the config's `optimizer:` sets it, with this peak rate, warm-up and length.
fn adamw(cfg: &TrainConfig, peak_lr: f64, warmup_ratio: f64, updates: usize) -> AdamWConfig {
    let o = &cfg.optimizer;
    AdamWConfig {
        peak_lr,
        b1: o.b1,
        b2: o.b2,
        eps: o.eps,
        weight_decay: o.weight_decay,
        max_grad_norm: o.max_grad_norm,
        warmup_steps: (warmup_ratio * updates as f64).round() as i64,
        decay_steps: updates as i64,
    }
}

/// The GRPO learner a config asks for.
pub(crate) fn grpo_spec(cfg: &TrainConfig, model: &GemmaConfig) -> LearnerSpec {
    let grpo = cfg.grpo();
    let step_rows = cfg.training.prompts_per_step * cfg.rollout.num_generations;
    let micro_rows = cfg
        .training
        .micro_batch_rows
        .unwrap_or(step_rows)
        .min(step_rows);
    let geo = Geometry {
        batch: micro_rows as i64,
        prompt_len: prompt_bucket(cfg.rollout.max_prompt_length),
        completion_len: cfg.rollout.max_new_tokens as i64,
    };
    let updates = cfg.training.steps * grpo.num_iterations;
    LearnerSpec {
        trainable: trainable(cfg, model),
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
        optimizer: adamw(
            cfg,
            cfg.optimizer.learning_rate,
            cfg.optimizer.warmup_ratio,
            updates,
        ),
        geo,
        // Each group in one row, unless an update comes as micro-batches.
        packing: match micro_rows < step_rows {
            true => Packing::None,
            false => Packing::Groups(cfg.rollout.num_generations),
        },
        iterations: grpo.num_iterations,
        accumulate: micro_rows < step_rows,
        seed: cfg.training.seed,
        rollout_dtype: rollout_model(cfg, model).dtype,
    }
}

/// The supervised learner of a config's `sft:` section.
pub(crate) fn sft_spec(cfg: &TrainConfig, sft: &SftSection, model: &GemmaConfig) -> LearnerSpec {
    LearnerSpec {
        trainable: trainable(cfg, model),
        loss: Loss::Sft,
        optimizer: adamw(cfg, sft.learning_rate, sft.warmup_ratio, sft.steps),
        geo: Geometry {
            batch: sft.batch_size as i64,
            prompt_len: prompt_bucket(sft.max_prompt_length),
            completion_len: sft.max_target_length as i64,
        },
        packing: Packing::Examples,
        iterations: 1,
        accumulate: false,
        seed: cfg.training.seed,
        rollout_dtype: model.dtype,
    }
}

/// How rollouts sample, as the config's `rollout:` says (the seed is the run's).
pub(crate) fn rollout_sampling(cfg: &TrainConfig) -> SamplingParams {
    let r = &cfg.rollout;
    SamplingParams {
        temperature: r.temperature,
        top_k: r.top_k,
        top_p: r.top_p,
        seed: cfg.training.seed,
        max_new_tokens: r.max_new_tokens,
        stop_strings: if r.fixed_length {
            vec![]
        } else {
            r.stop_strings.clone()
        },
    }
}

/// Writes `merged` (the whole model, any dtype) as an HF model folder (f32), with the
/// tokenizer files of `tokenizer_src` when the model came from a directory.
fn write_model_dir(
    dir: &Path,
    cfg: &GemmaConfig,
    merged: &[HostArray],
    tokenizer_src: Option<&Path>,
) -> Result<()> {
    save_params(dir, cfg, merged)?;
    if let Some(src) = tokenizer_src {
        for f in ["tokenizer.json", "tokenizer_config.json"] {
            let _ = std::fs::copy(src.join(f), dir.join(f));
        }
    }
    Ok(())
}

/// A run in progress: where it writes, how it checkpoints and when this session stops.
pub(super) struct Session<'a> {
    pub run: PathBuf,
    pub cfg: &'a TrainConfig,
    pub opts: &'a RunOptions,
    /// The step this session started from.
    pub start: usize,
    /// The model's own folder (tokenizer files are copied from it into checkpoints).
    pub model_dir: Option<PathBuf>,
}

impl Session<'_> {
    /// Writes a checkpoint of the learner's `snapshot` at `state`.
    fn save(
        &self,
        state: &TrainState,
        snapshot: LearnerSnapshot,
        model_cfg: &GemmaConfig,
    ) -> Result<PathBuf> {
        let model_cfg = model_cfg.clone();
        let merged = snapshot.merged;
        let tokenizer_src = self.model_dir.clone();
        checkpoint::save(
            &self.run,
            Checkpoint {
                state,
                training_state: snapshot.training_state,
                lora: snapshot.lora,
                write_model: Box::new(move |dir: &Path| {
                    write_model_dir(dir, &model_cfg, &merged, tokenizer_src.as_deref())
                }),
            },
        )
    }

    /// After a step: a checkpoint when one is due, at the end of a phase, or when this session
    /// stops (SIGINT/SIGTERM or `--max-steps`). At the end of the SFT phase the merged model is
    /// also written to `sft_model/` (before the checkpoint that says SFT is done), from the same
    /// download. Returns whether to stop.
    pub fn end_of_step(
        &self,
        state: &TrainState,
        learner: &Learner,
        log: &MetricsLog,
        phase_end: bool,
    ) -> Result<bool> {
        let stop = STOP.load(Ordering::SeqCst)
            || self
                .opts
                .max_steps
                .is_some_and(|m| state.step - self.start >= m);
        if state.step % self.cfg.training.checkpoint_every == 0 || phase_end || stop {
            let snapshot = learner.snapshot()?;
            let model_cfg = learner.model_config();
            if phase_end && state.phase == Phase::Sft {
                let tokenizer_src = self.model_dir.as_deref();
                write_model_dir(
                    &self.sft_model_dir(),
                    model_cfg,
                    &snapshot.merged,
                    tokenizer_src,
                )?;
            }
            let dir = self.save(state, snapshot, model_cfg)?;
            log.say(format!("checkpoint: {}", dir.display()));
        }
        if let Some((before, after)) =
            platforms::release_kept_host_memory_above(platforms::KEPT_HOST_MEMORY_LIMIT)
        {
            tracing::debug!(
                "host memory kept free given back: {} → {} MiB resident",
                before >> 20,
                after >> 20
            );
        }
        if stop {
            log.bar.abandon_with_message(format!(
                "stopped after step {}: checkpoint saved; --resume continues",
                state.step
            ));
        }
        Ok(stop)
    }

    /// The supervised phase's result, which GRPO starts from.
    fn sft_model_dir(&self) -> PathBuf {
        self.run.join("sft_model")
    }
}

/// The training state and learner arrays to start from: the newest checkpoint with `--resume`.
fn starting_point(run: &Path, resume: bool) -> Result<(TrainState, Option<NamedArrays>)> {
    let fresh = TrainState::default();
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

/// The model as rollouts run it: in `rollout.dtype` when the config sets one.
pub(crate) fn rollout_model(cfg: &TrainConfig, model: &GemmaConfig) -> GemmaConfig {
    let mut rollout = model.clone();
    if let Some(dtype) = cfg.rollout.dtype {
        rollout.dtype = dtype.element_type();
    }
    rollout
}

/// The rollout stage (sampling from the base weights until the learner hands over its own) and
/// the scorer (rewards, and the judge when configured) of a config.
fn sampling_stages(
    cfg: &TrainConfig,
    placement: &Placement,
    model: &LoadedModel,
    learner: &Learner,
) -> Result<(RolloutStage, Scorer)> {
    let rollout_config = rollout_model(cfg, &model.config);
    let mut generator = Generator::with_params(
        placement.clone(),
        rollout_config.clone(),
        learner.rollout_base(),
        model.tokenizer.clone(),
    );
    if cfg.rollout.fixed_length {
        generator = generator.with_stop_tokens(vec![]);
    }
    let r = &cfg.rollout;
    let sampling = rollout_sampling(cfg);
    let prompt_tokens = prompt_bucket(r.max_prompt_length) as usize;
    let rollout = RolloutStage::new(generator, sampling, r.num_generations, prompt_tokens);
    let judge = match cfg.judge() {
        Some(j) => Some(Judge::new(
            j,
            placement,
            model,
            &rollout_config,
            learner.rollout_base(),
        )?),
        None => None,
    };
    Ok((rollout, Scorer::new(cfg.rewards().to_vec(), judge)))
}

pub fn train(config_path: &Path, opts: RunOptions, client: Client) -> Result<PathBuf> {
    let cfg = TrainConfig::load(config_path)?;
    let layout = cfg
        .mesh
        .layout(client.devices().len())
        .with_context(|| format!("{}", config_path.display()))?;
    let run = opts
        .output_dir
        .clone()
        .unwrap_or_else(|| cfg.training.output_dir.clone());
    std::fs::create_dir_all(&run).with_context(|| format!("creating {}", run.display()))?;
    std::fs::copy(config_path, run.join("config.yaml")).ok();
    STOP.store(false, Ordering::SeqCst);
    let _ = ctrlc::set_handler(|| STOP.store(true, Ordering::SeqCst));

    if layout.num_devices() > 1 {
        eprintln!("{} devices: mesh {layout}", layout.num_devices());
    }
    let placement = Placement::new(client, layout)?;
    let mut model = load_model(&cfg, config_path)?;
    // A checkpoint holds the merged model in f32, and, fine-tuning it all, the weights and
    // two Adam moments again (LoRA's adapters are small beside it).
    let model_bytes = 4 * model.config.num_params() as u64;
    let copies = if cfg.lora.is_some() { 1 } else { 4 };
    checkpoint::check_writable(&run, copies * model_bytes)?;
    let (mut state, mut resumed) = starting_point(&run, opts.resume)?;
    let session = Session {
        run: run.clone(),
        cfg: &cfg,
        opts: &opts,
        start: state.step,
        model_dir: model.tokenizer_dir.clone(),
    };
    if let Some(sft) = &cfg.sft {
        if state.step < sft.steps {
            let finished = sft_phase(&session, sft, &placement, &model, &mut state, resumed)?;
            if !finished {
                return Ok(run);
            }
            resumed = None;
        }
        // GRPO starts from (and is anchored to) the supervised result.
        let dir = session.sft_model_dir();
        model.params = load_params(&dir, &model.config)
            .with_context(|| format!("loading the SFT result {}", dir.display()))?;
        if state.phase == Phase::Sft {
            state.phase = Phase::Grpo;
            (state.epoch, state.cursor) = (0, 0);
            resumed = None;
        }
    }
    grpo_phase(&session, &placement, &model, state, resumed)?;
    Ok(run)
}

/// The GRPO prompts: the `data.train` file, cut by the curriculum of the `data` section.
fn grpo_prompts(cfg: &TrainConfig) -> Result<Vec<crate::data::Example>> {
    let (data, skipped) = load_jsonl(&cfg.data.train, cfg.data.bad_lines)?;
    if skipped > 0 {
        eprintln!("{}: skipped {skipped} bad lines", cfg.data.train.display());
    }
    let kept = curriculum(data, cfg.data.max_steps, cfg.data.domains.as_deref());
    kept.map_err(|e| anyhow::anyhow!("{}: {e}", cfg.data.train.display()))
}

/// The problems a curriculum keeps: at most `max_steps` reasoning steps (rows without `steps`
/// are kept) and, when `domains` is set, one of those domains. Refuses an empty result, and a
/// domain that no problem has (a typo would otherwise train on nothing of it, silently).
fn curriculum(
    mut data: Vec<crate::data::Example>,
    max_steps: Option<usize>,
    domains: Option<&[String]>,
) -> Result<Vec<crate::data::Example>> {
    if let Some(domains) = domains {
        for d in domains {
            anyhow::ensure!(
                data.iter().any(|e| &e.domain == d),
                "no problem has domain {d:?} (data.domains)"
            );
        }
        data.retain(|e| domains.contains(&e.domain));
    }
    if let Some(max) = max_steps {
        data.retain(|e| e.steps.is_none_or(|s| s as usize <= max));
    }
    anyhow::ensure!(
        !data.is_empty(),
        "no problem is left by the curriculum (data.max_steps {max_steps:?}, data.domains {domains:?})"
    );
    Ok(data)
}

/// GRPO from `state` to the config's last step: rollout → scoring → advantages → packing →
/// learner → metrics, with checkpoints. Steps are numbered after the SFT phase's, if any.
fn grpo_phase(
    session: &Session,
    placement: &Placement,
    model: &LoadedModel,
    mut state: TrainState,
    resumed: Option<NamedArrays>,
) -> Result<()> {
    let cfg = session.cfg;
    let first_step = cfg.sft.as_ref().map_or(0, |s| s.steps);
    let last_step = first_step + cfg.training.steps;
    let data = grpo_prompts(cfg)?;
    let mut learner = grpo_learner(cfg, placement, model, state.step - first_step, resumed)?;
    let (geo, iterations) = (learner.spec().geo, learner.spec().iterations);
    let g = cfg.rollout.num_generations;
    let (mut rollout, mut scorer) = sampling_stages(cfg, placement, model, &learner)?;
    let mut prompts = PromptStream::new(&data, cfg.training.seed, cfg.data.shuffle, &state);
    let mut log = MetricsLog::open(&session.run, last_step, state.step)?;
    let grpo = cfg.grpo();

    while state.step < last_step {
        let started = Instant::now();
        let examples = prompts.next_batch(&mut state, cfg.training.prompts_per_step);
        let prompt_ids = rollout.encode(&examples)?;
        let (mut stages, mut clock) = (StageSeconds::default(), Lap::start());
        if let Some(weights) = learner.policy_weights(state.step > first_step)? {
            rollout.sync_weights(weights);
        }
        let samples = rollout.run(&prompt_ids, state.step)?;
        stages.rollout = clock.lap();

        let texts = rollout.texts(&samples.completions);
        let sampled: Vec<_> = samples
            .completions
            .iter()
            .map(|c| examples[c.prompt_index])
            .collect();
        let scores = scorer.score(&sampled, &texts)?;
        let adv = advantages(&scores.totals, g, grpo.advantage, grpo.advantage_epsilon);
        stages.scoring = clock.lap();

        let micro = pack_for_update(
            &prompt_ids,
            &samples.completions,
            &scores.totals,
            &adv,
            geo,
            placement.layout(),
            cfg,
        )?;
        let (update, trained_tokens) =
            prepare_and_update(&mut learner, placement, &micro, &mut stages, &mut clock)?;
        stop_unless_finite(&session.run, &state, &update)?;
        state.step += 1;
        state.phase = Phase::Grpo;

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
            stages,
            rollout_tokens_per_s: lengths.iter().sum::<f64>() / samples.seconds,
            train_tokens_per_s: (trained_tokens * iterations as i64) as f64 / stages.update,
            kl_measured: grpo.beta != 0.0,
        };
        let first_sample = (examples[0].answer.as_str(), texts[0].as_str());
        log_step(&mut log, cfg, &report, first_sample)?;
        if session.end_of_step(&state, &learner, &log, state.step == last_step)? {
            return Ok(());
        }
    }
    log.bar.finish_with_message("done");
    Ok(())
}

/// Prepares an update's batches (reference and old log-probs) and runs it; returns its metrics
/// and the tokens its programs ran over. A batch the learner takes grouped
/// (`LearnerSpec::groups_rows`) goes in with each group in one row (`TrainExample::grouped`:
/// the prompt once, no padding between completions); otherwise as its micro-batches of rows.
fn prepare_and_update(
    learner: &mut Learner,
    placement: &Placement,
    micro: &[TrainExample],
    stages: &mut StageSeconds,
    clock: &mut Lap,
) -> Result<(StepMetrics, i64)> {
    let row_multiple = placement.layout().batch_multiple();
    if let [whole] = micro {
        let rows = whole.geo.batch as usize;
        if let Some(group_size) = learner.spec().groups_rows(rows, row_multiple) {
            let grouped = whole.grouped(group_size)?;
            let batch = learner.prepare_grouped(&grouped)?;
            stages.prepare = clock.lap();
            let update = learner.update(&batch)?;
            stages.update = clock.lap();
            return Ok((update, grouped.geo.groups * grouped.geo.row_len));
        }
    }
    let batches = learner.prepare_micro(micro)?;
    stages.prepare = clock.lap();
    let update = learner.update_micro(&batches)?;
    stages.update = clock.lap();
    let tokens = micro.iter().map(|m| m.geo.batch * m.geo.seq_len()).sum();
    Ok((update, tokens))
}

/// The GRPO learner, compiled, with the state of `resumed` after `steps_done` GRPO steps.
fn grpo_learner(
    cfg: &TrainConfig,
    placement: &Placement,
    model: &LoadedModel,
    steps_done: usize,
    resumed: Option<NamedArrays>,
) -> Result<Learner> {
    let spec = grpo_spec(cfg, &model.config);
    let geo = spec.geo;
    eprintln!(
        "GRPO learner: {} params, batches of at most {geo}{} ...",
        model.config.num_params(),
        match spec.packing {
            Packing::None => " (compiling)",
            _ => ", each group in one row (each new shape compiles once)",
        }
    );
    let updates = steps_done * spec.iterations;
    let learner = Learner::new(
        placement.clone(),
        model,
        spec,
        resumed.as_deref().map(|a| (a, updates)),
    )?;
    eprintln!("per device: {}", learner.resident_per_device());
    Ok(learner)
}

/// The step's metrics line; the log line and a sample when their intervals say so.
fn log_step(
    log: &mut MetricsLog,
    cfg: &TrainConfig,
    report: &StepReport,
    (answer, text): (&str, &str),
) -> Result<()> {
    log.append(report)?;
    if report.step % cfg.training.log_every == 0 {
        log.say(report.log_line());
    }
    if report.step % cfg.training.sample_every == 0 {
        log.say(format!(
            "--- sample at step {} (answer {answer}):\n{}\n--- reward {:.2}",
            report.step,
            text.trim(),
            report.scores.totals[0]
        ));
    }
    Ok(())
}

/// The rollout as the learner's micro-batches of at most `geo.batch` rows (one unless it
/// accumulates): every row, or with `drop_uniform_groups` those of the groups that teach
/// something, each micro-batch padded to the shortest shape that holds it.
fn pack_for_update(
    prompt_ids: &[Vec<u32>],
    completions: &[Completion],
    totals: &[f64],
    advantages: &[f64],
    geo: Geometry,
    layout: &Layout,
    cfg: &TrainConfig,
) -> Result<Vec<TrainExample>> {
    let grpo = cfg.grpo();
    let g = cfg.rollout.num_generations;
    let groups = match grpo.drop_uniform_groups {
        true => informative_groups(totals, g, layout.batch_multiple()),
        false => (0..totals.len() / g).collect(),
    };
    let rows: Vec<usize> = groups.iter().flat_map(|&i| i * g..(i + 1) * g).collect();
    let kept: Vec<(usize, &[u32])> = rows
        .iter()
        .map(|&r| {
            (
                completions[r].prompt_index,
                completions[r].tokens.as_slice(),
            )
        })
        .collect();
    let kept_adv: Vec<f64> = rows.iter().map(|&r| advantages[r]).collect();
    let all = Geometry {
        batch: rows.len() as i64,
        ..geo
    };
    // Dr. GRPO's aggregation divides by the completion length: it keeps the configured one.
    let multiple = match grpo.aggregation {
        Aggregation::SequenceMeanTokenScale => 0,
        _ => cfg.training.pad_to_multiple_of,
    };
    let packed = TrainExample::pack_rows(prompt_ids, &kept, &kept_adv, all)?;
    Ok(packed
        .split_rows(geo.batch as usize)
        .iter()
        .map(|m| m.trimmed(multiple))
        .collect())
}

/// A non-finite loss or gradient ends the run, naming the last good checkpoint.
pub(super) fn stop_unless_finite(
    run: &Path,
    state: &TrainState,
    update: &StepMetrics,
) -> Result<()> {
    if update.loss.is_finite() && update.grad_norm.is_finite() {
        return Ok(());
    }
    let last = checkpoint::latest(run)?.map_or("none".to_string(), |d| d.display().to_string());
    bail!(
        "step {}: the loss ({}) or the gradient norm ({}) is not finite; stopping. The last good checkpoint is {last}",
        state.step + 1,
        update.loss,
        update.grad_norm
    )
}

#[cfg(test)]
mod tests {
    use super::curriculum;
    use crate::data::Example;

    fn problem(domain: &str, steps: Option<u32>) -> Example {
        Example {
            question: format!("{domain} {steps:?}"),
            reasoning: None,
            answer: "1".into(),
            domain: domain.into(),
            steps,
        }
    }

    fn set() -> Vec<Example> {
        vec![
            problem("math", Some(3)),
            problem("logic", Some(2)),
            problem("logic", Some(4)),
            problem("general", None),
        ]
    }

    #[test]
    fn curriculum_keeps_the_named_domains_within_the_step_bound() {
        let logic: Vec<String> = vec!["logic".into(), "general".into()];
        let kept = curriculum(set(), Some(2), Some(&logic)).unwrap();
        let names: Vec<_> = kept.iter().map(|e| e.question.as_str()).collect();
        assert_eq!(names, ["logic Some(2)", "general None"]);
        assert_eq!(curriculum(set(), None, None).unwrap().len(), 4);
    }

    #[test]
    fn curriculum_refuses_an_unknown_domain_and_an_empty_result() {
        let typo: Vec<String> = vec!["logics".into()];
        let err = curriculum(set(), None, Some(&typo))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("\"logics\"") && err.contains("data.domains"),
            "{err}"
        );
        let math: Vec<String> = vec!["math".into()];
        let err = curriculum(set(), Some(2), Some(&math))
            .unwrap_err()
            .to_string();
        assert!(err.contains("no problem is left"), "{err}");
    }
}
