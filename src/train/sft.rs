//! The supervised warm start: worked examples rendered in the target format after the chat
//! prompt, cross-entropy on the target tokens only (the prompt is masked), through the same
//! learner, optimizer, checkpoints and metrics as GRPO. Its result is written to
//! `<run>/sft_model/`, where the GRPO phase starts from.

use std::time::Instant;

use anyhow::{Context, Result};

use super::checkpoint::{NamedArrays, Phase, TrainState};
use super::config::SftSection;
use super::learner::Learner;
use super::metrics::{MetricsLog, SftReport};
use super::packing::TrainExample;
use super::prompts::PromptStream;
use super::rollout::truncate_keeping_bos;
use super::sft_packing::{examples_per_row, PackedExamples};
use super::trainer::{sft_spec, stop_unless_finite, Session};
use crate::data::{load_jsonl, prompt_text, target_text, Example};
use crate::graph::Placement;
use crate::grpo::programs::Geometry;
use crate::models::tokenizer::TextTokenizer;
use crate::models::LoadedModel;

/// One example as (prompt ids, target ids): the target is the worked answer in the target
/// format followed by the end-of-turn token, cut to `max_target` tokens.
pub fn encode_example(
    tokenizer: &TextTokenizer,
    e: &Example,
    max_prompt: usize,
    max_target: usize,
) -> Result<(Vec<u32>, Vec<u32>)> {
    let target = target_text(e)
        .with_context(|| format!("the SFT example {:?} has no reasoning", e.question))?;
    let prompt = truncate_keeping_bos(tokenizer.encode(&prompt_text(&e.question))?, max_prompt);
    let mut target = tokenizer.encode_continuation(&target)?;
    target.push(tokenizer.end_of_turn());
    target.truncate(max_target);
    Ok((prompt, target))
}

/// Every example encoded (`encode_example`) within `geo`'s prompt and target lengths.
fn encode_all(
    tokenizer: &TextTokenizer,
    examples: &[&Example],
    geo: Geometry,
) -> Result<Vec<(Vec<u32>, Vec<u32>)>> {
    let (max_prompt, max_target) = (geo.prompt_len as usize, geo.completion_len as usize);
    examples
        .iter()
        .map(|e| encode_example(tokenizer, e, max_prompt, max_target))
        .collect()
}

/// A supervised batch: each example's prompt, then its target as the completion (the target
/// tokens are the loss mask).
pub fn pack_examples(
    tokenizer: &TextTokenizer,
    examples: &[&Example],
    geo: Geometry,
) -> Result<TrainExample> {
    let encoded = encode_all(tokenizer, examples, geo)?;
    let prompts: Vec<Vec<u32>> = encoded.iter().map(|(p, _)| p.clone()).collect();
    let rows: Vec<(usize, &[u32])> = encoded
        .iter()
        .enumerate()
        .map(|(i, (_, t))| (i, t.as_slice()))
        .collect();
    TrainExample::pack_rows(&prompts, &rows, &vec![0.0; rows.len()], geo)
}

/// A supervised batch as the SFT phase trains on it: the examples packed
/// (`sft_packing`), two a row when `geo.batch` rows split over `row_multiple` devices that way.
pub fn pack_sft_batch(
    tokenizer: &TextTokenizer,
    examples: &[&Example],
    geo: Geometry,
    row_multiple: usize,
) -> Result<PackedExamples> {
    let encoded = encode_all(tokenizer, examples, geo)?;
    let rows = geo.batch as usize / examples_per_row(geo.batch as usize, row_multiple);
    PackedExamples::pack(&encoded, rows)
}

/// Runs the SFT phase from `state` to its last step. Returns false when this session stopped
/// early (SIGINT or `--max-steps`; a checkpoint was saved).
pub(super) fn sft_phase(
    session: &Session,
    sft: &SftSection,
    placement: &Placement,
    model: &LoadedModel,
    state: &mut TrainState,
    resumed: Option<NamedArrays>,
) -> Result<bool> {
    let cfg = session.cfg;
    let (data, skipped) = load_jsonl(&sft.data, cfg.data.bad_lines)?;
    if skipped > 0 {
        eprintln!("{}: skipped {skipped} bad lines", sft.data.display());
    }
    if let Some(e) = data.iter().find(|e| e.reasoning.is_none()) {
        anyhow::bail!(
            "{}: every SFT example needs a `reasoning`; {:?} has none",
            sft.data.display(),
            e.question
        );
    }
    let spec = sft_spec(cfg, sft, &model.config);
    let geo = spec.geo;
    eprintln!(
        "SFT: {} params, {} examples a step, packed (each new packed shape compiles once) ...",
        model.config.num_params(),
        geo.batch
    );
    let mut learner = Learner::new(
        placement.clone(),
        model,
        spec,
        resumed.as_deref().map(|a| (a, state.step)),
    )?;
    eprintln!("per device: {}", learner.resident_per_device());
    let mut prompts = PromptStream::new(&data, cfg.training.seed, cfg.data.shuffle, state);
    let mut log = MetricsLog::open(&session.run, sft.steps + cfg.training.steps, state.step)?;
    let tokenizer = &model.tokenizer;
    let row_multiple = placement.layout().batch_multiple();
    let mut compiled = std::collections::HashSet::new();
    while state.step < sft.steps {
        let started = Instant::now();
        let examples = prompts.next_batch(state, sft.batch_size);
        let packed = pack_sft_batch(tokenizer, &examples, geo, row_multiple)?;
        if compiled.insert(packed.geo) {
            log.say(format!(
                "SFT step for {}: compiling, or reading the executable cache",
                packed.geo
            ));
        }
        let batch = learner.prepare_packed_sft(&packed)?;
        let train_started = Instant::now();
        let update = learner.update(&batch)?;
        let train_seconds = train_started.elapsed().as_secs_f64();
        stop_unless_finite(&session.run, state, &update)?;
        state.step += 1;
        state.phase = Phase::Sft;
        let target_tokens = packed.target_tokens() as f64;
        let report = SftReport {
            step: state.step,
            update,
            target_tokens: target_tokens / examples.len() as f64,
            step_seconds: started.elapsed().as_secs_f64(),
            train_tokens_per_s: (packed.geo.rows * packed.geo.row_len) as f64 / train_seconds,
        };
        log.write(
            state.step,
            &report.record(),
            format!("sft loss {:.4}", update.loss),
        )?;
        if state.step % cfg.training.log_every == 0 {
            log.say(report.log_line());
        }
        if session.end_of_step(state, &learner, &log, state.step == sft.steps)? {
            return Ok(false);
        }
    }
    log.bar.finish_with_message("SFT done");
    Ok(true)
}
