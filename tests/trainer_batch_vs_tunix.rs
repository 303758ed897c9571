//! The trainer's own batch through Tunix: a real rollout of a tiny random Gemma 3 (byte
//! tokenizer, any lower-case letter a stop string, so rows end at different lengths, some cut by the stop string),
//! packed by `TrainExample::pack`, run through the trainer's `Learner`. Tunix gets the same
//! prompt ids, completion ids and completion mask and computes (1) the reference policy's
//! per-token log-probs with `compute_per_token_logps` on the base weights, and (2)
//! `grpo_loss_fn` with its aux metrics for the policy after one update of ours (its weights
//! exported through our checkpoint writer), with the batch's old log-probs (μ > 1), so KL,
//! ratios and clipping are not trivially zero or one. Our second update reports the same loss,
//! KL, clip fraction and entropy (aggregated like the loss, as Tunix does). Tolerances: log-probs
//! within 1e-4 absolute (f32, different op order; measured 9.5e-7), metrics within 1e-5
//! relative (floor 1e-2); measured at most 2e-6 (the loss). The entropy used to be a plain token
//! mean, 1.9e-5 away from Tunix's on this batch: this tolerance catches that.
//!
//! The same batch with each group in one row (`TrainExample::grouped`, as the trainer runs it:
//! the prompt once, then its completions) gives the same reference log-probs against Tunix's,
//! and its first update the same loss, KL, clip fraction, entropy and gradient norm as the
//! rows' first update (same tolerances).

mod common;

use std::sync::Arc;

use common::cpu_client;
use grpo_xla::data::Example;
use grpo_xla::graph::Placement;
use grpo_xla::grpo::objective::{Aggregation, KlEstimator, ObjectiveConfig};
use grpo_xla::grpo::optimizer::AdamWConfig;
use grpo_xla::grpo::programs::{Geometry, Loss, Trainable};
use grpo_xla::models::gemma::{random_params, Family, GemmaConfig};
use grpo_xla::models::hf::save_params;
use grpo_xla::models::tokenizer::TextTokenizer;
use grpo_xla::models::LoadedModel;
use grpo_xla::reference;
use grpo_xla::rollout::{Generator, SamplingParams};
use grpo_xla::train::learner::{Learner, LearnerSpec, Packing};
use grpo_xla::train::packing::TrainExample;
use grpo_xla::train::rollout::RolloutStage;
use serde_json::json;

const SCRIPT: &str = concat!(
    include_str!("reference/tunix_gemma.py"),
    include_str!("reference/tunix_trainer_batch.py")
);

fn close(ours: f64, theirs: f64, what: &str) {
    assert!(
        (ours - theirs).abs() <= 1e-5 * theirs.abs().max(1e-2),
        "{what}: ours {ours}, tunix {theirs}"
    );
}

#[test]
fn the_trainers_packed_batch_gives_tunixs_reference_logps_loss_and_metrics() {
    let cfg = GemmaConfig::tiny(Family::Gemma3);
    let model = LoadedModel {
        params: random_params(&cfg, 9),
        config: cfg.clone(),
        tokenizer: Arc::new(TextTokenizer::Bytes),
        tokenizer_dir: None,
    };
    let placement = Placement::single(cpu_client(1));
    let base: Vec<_> = placement
        .replicate_all(&model.params)
        .unwrap()
        .into_iter()
        .map(Arc::new)
        .collect();
    let (g, temperature) = (3usize, 0.9f32);
    let generator = Generator::with_params(
        placement.clone(),
        cfg.clone(),
        base.clone(),
        model.tokenizer.clone(),
    );
    let sampling = SamplingParams {
        temperature,
        top_k: None,
        top_p: 1.0,
        seed: 5,
        max_new_tokens: 10,
        // Any lower-case letter ends a completion: about one sampled token in ten.
        stop_strings: ('a'..='z').map(String::from).collect(),
    };
    let mut rollout = RolloutStage::new(generator, sampling, g, 16);
    let examples: Vec<Example> = ["What is 3 + 4?", "Name a prime number."]
        .iter()
        .map(|q| Example {
            question: q.to_string(),
            reasoning: None,
            answer: "7".into(),
            domain: "math".into(),
            steps: None,
        })
        .collect();
    let refs: Vec<&Example> = examples.iter().collect();
    // The byte tokenizer's prompts are long: keep the last 15 tokens and BOS.
    let prompts = rollout.encode(&refs).unwrap();
    let samples = rollout.run(&prompts, 0).unwrap();
    let geo = Geometry {
        batch: (examples.len() * g) as i64,
        prompt_len: 16,
        completion_len: 10,
    };
    let lengths: Vec<usize> = samples.completions.iter().map(|c| c.tokens.len()).collect();
    assert!(
        lengths.iter().any(|&l| l < 10) && lengths.iter().any(|&l| l != lengths[0]),
        "the batch should hold completions of different lengths: {lengths:?}"
    );
    // Tunix's convention: a completion ends before its stop token, which is never trained on.
    let stops = model.tokenizer.stop_tokens();
    assert!(
        samples
            .completions
            .iter()
            .all(|c| !c.tokens.iter().any(|t| stops.contains(t))),
        "a stop token inside a completion"
    );
    let advantages = [1.0, -0.5, 0.3, -0.8, 1.3, -1.2];
    let packed = TrainExample::pack(&prompts, &samples.completions, &advantages, geo).unwrap();

    let objective = ObjectiveConfig {
        epsilon: 0.2,
        epsilon_high: 0.2,
        beta: 0.08,
        kl: KlEstimator::LowVarKl,
        aggregation: Aggregation::SequenceMeanTokenMean,
    };
    let spec = |packing| LearnerSpec {
        trainable: Trainable::Full,
        loss: Loss::Grpo {
            objective: objective.clone(),
            temperature: temperature as f64,
            // μ > 1: both updates compare with the log-probs the batch was sampled with, so the
            // second one sees ratios away from 1 (and clipping).
            use_old_logps: true,
        },
        optimizer: AdamWConfig {
            peak_lr: 3e-2,
            b1: 0.9,
            b2: 0.99,
            eps: 1e-8,
            weight_decay: 0.0,
            max_grad_norm: None,
            warmup_steps: 0,
            decay_steps: 10,
        },
        geo,
        packing,
        iterations: 1,
        accumulate: false,
        seed: 0,
        rollout_dtype: cfg.dtype,
    };
    let mut learner = Learner::new(placement.clone(), &model, spec(Packing::None), None).unwrap();
    let batch = learner.prepare(&packed).unwrap();
    let ref_logps = placement.download(&batch.ref_logps).unwrap().to_f64();
    let first = learner.update(&batch).unwrap();
    let mut grouped_learner =
        Learner::new(placement.clone(), &model, spec(Packing::Groups(g)), None).unwrap();
    let grouped_batch = grouped_learner
        .prepare_grouped(&packed.grouped(g).unwrap())
        .unwrap();
    let grouped_ref = placement
        .download(&grouped_batch.ref_logps)
        .unwrap()
        .to_f64();
    let grouped_first = grouped_learner.update(&grouped_batch).unwrap();
    for (what, a, b) in [
        ("loss", first.loss, grouped_first.loss),
        ("kl", first.kl, grouped_first.kl),
        (
            "clip fraction",
            first.clip_fraction,
            grouped_first.clip_fraction,
        ),
        ("entropy", first.entropy, grouped_first.entropy),
        ("grad norm", first.grad_norm, grouped_first.grad_norm),
    ] {
        close(
            b as f64,
            a as f64,
            &format!("grouped rows' first update: {what}"),
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let (base_dir, policy_dir) = (dir.path().join("base"), dir.path().join("policy"));
    save_params(&base_dir, &cfg, &model.params).unwrap();
    save_params(&policy_dir, &cfg, &learner.snapshot().unwrap().merged).unwrap();
    let ours = learner.update(&batch).unwrap();

    let (b, p, c) = (
        geo.batch,
        geo.prompt_len as usize,
        geo.completion_len as usize,
    );
    let t = p + c;
    let split = |from: usize, len: usize| -> Vec<i32> {
        packed
            .tokens
            .chunks(t)
            .flat_map(|row| row[from..from + len].to_vec())
            .collect()
    };
    let theirs = reference::run(
        SCRIPT,
        &json!({
            "family": "gemma3", "base_dir": base_dir, "policy_dir": policy_dir,
            "config": {"num_layers": cfg.num_layers, "vocab": cfg.vocab_size, "d": cfg.embed_dim, "f": cfg.hidden_dim,
                       "n": cfg.num_heads, "h": cfg.head_dim, "k": cfg.num_kv_heads, "window": cfg.sliding_window},
            "prompt_ids": reference::array(&[b, p as i64], "i32", &split(0, p)),
            "completion_ids": reference::array(&[b, c as i64], "i32", &split(p, c)),
            "completion_mask": reference::array(&[b, c as i64], "f32", &packed.completion_mask),
            "advantages": reference::array(&[b], "f32", &packed.advantages),
            "g": g, "beta": 0.08, "epsilon": 0.2, "kl": "low_var_kl",
            "aggregation": "sequence-mean-token-mean", "temperature": temperature, "use_old": true,
        }),
    )
    .unwrap();
    let tunix_ref = reference::f64s(&theirs["ref"]).unwrap();
    for (form, ours) in [("rows", &ref_logps), ("grouped", &grouped_ref)] {
        let worst = ours
            .iter()
            .zip(&tunix_ref)
            .zip(&packed.completion_mask)
            .filter(|(_, &m)| m > 0.0)
            .map(|((a, b), _)| (a - b).abs())
            .fold(0.0, f64::max);
        eprintln!("reference log-probs, {form}: worst difference {worst:.2e}");
        assert!(
            worst <= 1e-4,
            "{form}: reference log-probs differ by {worst}"
        );
    }
    eprintln!(
        "ours: loss {} kl {} clip {} entropy {}; tunix: {theirs}",
        ours.loss, ours.kl, ours.clip_fraction, ours.entropy
    );
    close(ours.loss as f64, theirs["loss"].as_f64().unwrap(), "loss");
    close(ours.kl as f64, theirs["kl"].as_f64().unwrap(), "kl");
    close(
        ours.clip_fraction as f64,
        theirs["clip_fraction"].as_f64().unwrap(),
        "clip fraction",
    );
    close(
        ours.entropy as f64,
        theirs["entropy"].as_f64().unwrap(),
        "entropy",
    );
    assert!(
        ours.kl > 1e-6,
        "one update must move the policy off the reference"
    );
}
