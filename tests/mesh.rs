//! The trainer on 1, 2, 4 and 8 CPU devices computes what it computes on one: sampled tokens,
//! losses, metrics, gradients (through their norm and the updates they make), updated weights
//! and AdamW state, for GRPO and SFT, full fine-tuning and LoRA, with the batch split over
//! `data` (and `fsdp`) and the weights and optimizer state split over `fsdp`.
//!
//! Tolerances. Sampling splits rows only: no sum crosses devices, so tokens are equal exactly
//! and log-probs to 1e-6. The learner all-reduces its batch sums (and all-gathers `fsdp`
//! weights) in f32 in another order than one device's sum, and each later update starts from
//! weights that differ by that rounding: every metric within 1e-4 of its own size (floor 1e-3;
//! measured up to 1.5e-5), and every updated array (weights, both Adam moments, the merged
//! model) within 1e-4 of its largest magnitude (measured worst printed: up to 7.8e-5 with fsdp,
//! on arrays that start at zero, whose largest value is a few learning-rate steps). Adam's eps is
//! 1e-4 here so that a gradient's last-bit rounding is not amplified into a whole ±lr step.
//!
//! A learner also takes batches smaller than its spec's shape (padding trimmed, uniform groups
//! dropped); those tests are here because they compare the same updates.

mod common;

use std::sync::Arc;

use common::{assert_success, cpu_client, metrics_of, relative_error, values};
use grpo_xla::graph::{HostArray, Layout, Placement};
use grpo_xla::grpo::lora::{self, LoraConfig};
use grpo_xla::grpo::objective::{Aggregation, KlEstimator, ObjectiveConfig};
use grpo_xla::grpo::optimizer::AdamWConfig;
use grpo_xla::grpo::programs::{Geometry, Loss, StepMetrics, Trainable};
use grpo_xla::models::gemma::{random_params, Family, GemmaConfig, WeightOrder};
use grpo_xla::models::tokenizer::TextTokenizer;
use grpo_xla::models::LoadedModel;
use grpo_xla::rollout::{Completion, Generator, SamplingParams};
use grpo_xla::train::learner::{Learner, LearnerSnapshot, LearnerSpec, Packing, Share};
use grpo_xla::train::packing::TrainExample;

/// The meshes every test compares with one device: data only, data × fsdp, and eight devices.
const MESHES: [(i64, i64); 3] = [(2, 1), (2, 2), (2, 4)];

fn model() -> LoadedModel {
    let config = GemmaConfig::tiny(Family::Gemma3);
    LoadedModel {
        params: random_params(&config, 9),
        config,
        tokenizer: Arc::new(TextTokenizer::Bytes),
        tokenizer_dir: None,
    }
}

fn placement(data: i64, fsdp: i64) -> Placement {
    let layout = Layout::new(data, fsdp);
    Placement::new(cpu_client(layout.num_devices()), layout).unwrap()
}

fn sampling(top_k: i64) -> SamplingParams {
    SamplingParams {
        temperature: 1.0,
        top_k: Some(top_k),
        top_p: 1.0,
        seed: 7,
        max_new_tokens: 12,
        stop_strings: vec![],
    }
}

fn prompts() -> Vec<Vec<u32>> {
    vec![
        vec![2, 70, 71, 72, 73],
        vec![2, 80, 81],
        vec![2, 90, 91, 92, 93, 94, 95],
    ]
}

fn sample(on: Placement, model: &LoadedModel, top_k: i64) -> Vec<Completion> {
    let mut generator = Generator::new(
        on,
        model.config.clone(),
        &model.params,
        model.tokenizer.clone(),
    )
    .unwrap();
    // Three prompts × two samples: six rows, padded to eight on four and eight devices.
    generator
        .generate(&prompts(), 2, &sampling(top_k), 5, |_| {})
        .unwrap()
}

#[test]
fn sampled_tokens_and_logps_equal_one_devices() {
    let model = model();
    // k = 50 sorts all 260 entries of the tiny vocabulary; k = 5 the 5 blocks of 13 with the
    // largest maxima.
    for top_k in [50, 5] {
        let want = sample(placement(1, 1), &model, top_k);
        assert_eq!(want.len(), 6);
        for (data, fsdp) in MESHES {
            let got = sample(placement(data, fsdp), &model, top_k);
            let mesh = format!("top-{top_k}, mesh {data}×{fsdp}");
            assert_same_tokens_and_logps(&got, &want, &mesh);
            for (a, b) in got.iter().zip(&want) {
                assert_eq!(a.prompt_index, b.prompt_index);
            }
        }
    }
}

/// Each prompt's samples continue from one prefill of it (`Bucket::samples`): four prompts × two
/// samples give the tokens and log-probs of the eight rows prefilled one by one, on one device and
/// with the prompts split over two and four (three prompts, above, are not split: every row is
/// prefilled there, and those runs match one device's shared prefill).
#[test]
fn one_prefill_per_prompt_samples_what_one_per_row_does() {
    let model = model();
    let four: Vec<Vec<u32>> = [vec![2u32, 40, 41], vec![2, 50, 51, 52, 53]]
        .into_iter()
        .chain(prompts().into_iter().take(2))
        .collect();
    let every_row: Vec<Vec<u32>> = four.iter().flat_map(|p| [p.clone(), p.clone()]).collect();
    for (data, fsdp) in [(1, 1), (2, 1), (2, 2)] {
        let generate = |prompts: &[Vec<u32>], samples: usize| {
            Generator::new(
                placement(data, fsdp),
                model.config.clone(),
                &model.params,
                model.tokenizer.clone(),
            )
            .unwrap()
            .generate(prompts, samples, &sampling(5), 5, |_| {})
            .unwrap()
        };
        let shared = generate(&four, 2);
        let alone = generate(&every_row, 1);
        let mesh = format!("mesh {data}×{fsdp}");
        assert_eq!(shared.len(), 8, "{mesh}");
        for (r, a) in shared.iter().enumerate() {
            assert_eq!(a.prompt_index, r / 2, "{mesh}: row {r}");
        }
        assert_same_tokens_and_logps(&shared, &alone, &mesh);
    }
}

/// The same rows of tokens, and log-probs within 1e-6 (relative past 1).
fn assert_same_tokens_and_logps(got: &[Completion], want: &[Completion], label: &str) {
    assert_eq!(got.len(), want.len(), "{label}: rows");
    for (r, (a, b)) in got.iter().zip(want).enumerate() {
        assert_eq!(a.tokens, b.tokens, "{label}: row {r}'s tokens");
        for (x, y) in a.logps.iter().zip(&b.logps) {
            assert!(
                (x - y).abs() <= 1e-6 * y.abs().max(1.0),
                "{label}: row {r}'s log-probs {x} vs {y}"
            );
        }
    }
}

/// Sampling keeps each device's rows on that device: top-k runs per device in a manual
/// computation, so the prefill has no collective at all and the decode loop only the all-reduce
/// asking whether every row has finished (XLA's partitioner used to gather every row's
/// log-probs onto every device for top-k, on every step).
#[test]
fn sampling_gathers_no_rows_across_devices() {
    use grpo_xla::rollout::programs::{decode, prefill, Bucket};
    use grpo_xla::rollout::sampling::SamplerShape;
    let model = model();
    let layout = Layout::new(2, 2);
    let client = cpu_client(4);
    // Top-k sampling over all 260 entries of the tiny vocabulary (k = 50) and over the 5 blocks
    // of 13 with the largest maxima (k = 5), and greedy: both blocked forms gather each row's
    // blocks, which the partitioner must keep on the row's device.
    for (sampler, top_k) in [("top-50", Some(50)), ("top-5", Some(5)), ("greedy", None)] {
        let bucket = Bucket {
            batch: 8,
            samples: 1,
            prompt_len: 8,
            slots: 20,
            chunk: 4,
            sampler: SamplerShape {
                greedy: top_k.is_none(),
                top_k,
                top_p: false,
            },
        };
        for (name, module, reduces) in [
            (
                "prefill",
                prefill(&model.config, &bucket, &[1], &layout),
                false,
            ),
            (
                "decode",
                decode(
                    &model.config,
                    &bucket,
                    &[1],
                    &layout,
                    WeightOrder::OutputFirst,
                ),
                true,
            ),
        ] {
            let name = format!("{sampler} {name}");
            // XLA has no rule to split TopK by rows: it runs per device, by hand.
            let manual = module.text.contains("sdy.manual_computation");
            assert_eq!(manual, top_k.is_some(), "{name}");
            // The decode loop looks at the other devices' rows once every few steps: an outer
            // loop whose condition asks, around an inner one that never does.
            let loops = module.text.matches("stablehlo.while").count();
            assert_eq!(loops, if reduces { 2 } else { 0 }, "{name}'s loops");
            // The optimized program (a serialized HLO module) names each op it holds.
            let hlo = module
                .compile(&client)
                .unwrap()
                .optimized_program()
                .unwrap();
            assert!(!hlo.contains("all-gather"), "{name} gathers rows");
            assert_eq!(hlo.contains("all-reduce"), reduces, "{name}'s all-reduce");
        }
    }
}

fn objective() -> ObjectiveConfig {
    ObjectiveConfig {
        epsilon: 0.2,
        epsilon_high: 0.28,
        beta: 0.04,
        kl: KlEstimator::LowVarKl,
        aggregation: Aggregation::SequenceMeanTokenMean,
    }
}

fn spec(trainable: Trainable, loss: Loss, iterations: usize, geo: Geometry) -> LearnerSpec {
    LearnerSpec {
        trainable,
        loss,
        optimizer: AdamWConfig {
            peak_lr: 1e-2,
            b1: 0.9,
            b2: 0.99,
            // Well-conditioned: with eps far below the gradients' rounding, Adam turns a 1e-9
            // gradient into a full ±lr step and one ulp of a near-zero sum into a visible one.
            eps: 1e-4,
            weight_decay: 0.1,
            max_grad_norm: Some(1.0),
            warmup_steps: 0,
            decay_steps: 10,
        },
        geo,
        packing: Packing::None,
        iterations,
        accumulate: false,
        seed: 3,
        rollout_dtype: grpo_xla::pjrt::ElementType::F32,
    }
}

fn lora(model: &LoadedModel) -> Trainable {
    let lc: LoraConfig = serde_yaml::from_str("rank: 4\nalpha: 8").unwrap();
    Trainable::Lora(lc.clone(), lora::specs(&model.config, &lc))
}

/// Eight rows of varied completions with non-zero advantages.
fn batch(geo: Geometry) -> TrainExample {
    let prompts = prompts();
    let tokens: Vec<Vec<u32>> = (0..8)
        .map(|r| {
            values(3 + r % 4, r as u64 + 20)
                .iter()
                .map(|v| ((v + 1.0) * 100.0) as u32 + 10)
                .collect()
        })
        .collect();
    let rows: Vec<(usize, &[u32])> = tokens
        .iter()
        .enumerate()
        .map(|(r, t)| (r % prompts.len(), t.as_slice()))
        .collect();
    let advantages = [1.0, -0.5, 0.3, -0.8, 1.3, -1.2, 0.4, -0.1];
    TrainExample::pack_rows(&prompts, &rows, &advantages, geo).unwrap()
}

/// Two batches' updates (μ updates each); each update's metrics and the final state.
fn train(
    on: Placement,
    model: &LoadedModel,
    spec: LearnerSpec,
) -> (Vec<StepMetrics>, LearnerSnapshot) {
    let packed = batch(spec.geo);
    train_on(on, model, spec, &packed)
}

/// Two updates (μ each) on `packed`, which may be smaller than the spec's shape.
fn train_on(
    on: Placement,
    model: &LoadedModel,
    spec: LearnerSpec,
    packed: &TrainExample,
) -> (Vec<StepMetrics>, LearnerSnapshot) {
    let grpo = matches!(spec.loss, Loss::Grpo { .. });
    let mut learner = Learner::new(on, model, spec, None).unwrap();
    let mut metrics = vec![];
    for _ in 0..2 {
        let m = if grpo {
            let batch = learner.prepare(packed).unwrap();
            learner.update(&batch).unwrap()
        } else {
            let batch = learner.prepare_sft(packed).unwrap();
            learner.update(&batch).unwrap()
        };
        metrics.push(m);
        // The next batch starts from the updated policy (its reference and old log-probs too).
        let _ = learner.policy_weights(true).unwrap();
    }
    (metrics, learner.snapshot().unwrap())
}

fn learner_matches_one_device(
    trainable: impl Fn(&LoadedModel) -> Trainable,
    loss: Loss,
    iterations: usize,
) {
    let model = model();
    let geo = Geometry {
        batch: 8,
        prompt_len: 8,
        completion_len: 6,
    };
    let make = || spec(trainable(&model), loss.clone(), iterations, geo);
    let (want_metrics, want) = train(placement(1, 1), &model, make());
    assert!(
        want_metrics
            .iter()
            .all(|m| m.loss.abs() > 1e-6 && m.grad_norm > 1e-6),
        "a loss and gradient that test something: {want_metrics:?}"
    );
    let want = (want_metrics, want);
    for (data, fsdp) in MESHES {
        let got = train(placement(data, fsdp), &model, make());
        let (err, at) = worst_difference(&got, &want);
        eprintln!("mesh {data}×{fsdp}: worst relative error {err:.2e} ({at})");
        assert!(err <= 1e-4, "mesh {data}×{fsdp}: {at} differs by {err:.2e}");
    }
}

fn grpo_loss() -> Loss {
    Loss::Grpo {
        objective: objective(),
        temperature: 0.9,
        use_old_logps: true,
    }
}

#[test]
fn grpo_full_fine_tuning_on_a_mesh_equals_one_device() {
    learner_matches_one_device(|_| Trainable::Full, grpo_loss(), 2);
}

#[test]
fn grpo_lora_on_a_mesh_equals_one_device() {
    learner_matches_one_device(lora, grpo_loss(), 2);
}

#[test]
fn sft_full_fine_tuning_on_a_mesh_equals_one_device() {
    learner_matches_one_device(|_| Trainable::Full, Loss::Sft, 1);
}

#[test]
fn sft_lora_on_a_mesh_equals_one_device() {
    learner_matches_one_device(lora, Loss::Sft, 1);
}

/// The largest difference between two runs, and where: each update's metrics relative to their
/// own size (floor 1e-3), and each final array (weights, both Adam moments, the merged model)
/// relative to its largest value. `MESH_DEBUG=1` prints every array above 1e-5.
fn worst_difference(
    (m1, s1): &(Vec<StepMetrics>, LearnerSnapshot),
    (m2, s2): &(Vec<StepMetrics>, LearnerSnapshot),
) -> (f64, String) {
    let mut worst = (0f64, String::new());
    for (step, (a, b)) in m1.iter().zip(m2).enumerate() {
        for ((name, x), (_, y)) in a.named().iter().zip(b.named()) {
            let err = ((x - y).abs() / y.abs().max(1e-3)) as f64;
            if err > worst.0 {
                worst = (err, format!("update {step}'s {name}: {x} vs {y}"));
            }
        }
    }
    let mut arrays: Vec<(String, &HostArray, &HostArray)> = s1
        .training_state
        .iter()
        .zip(&s2.training_state)
        .map(|((name, a), (_, b))| (name.clone(), a, b))
        .collect();
    arrays.extend(
        s1.merged
            .iter()
            .zip(&s2.merged)
            .enumerate()
            .map(|(i, (a, b))| (format!("merged weight {i}"), a, b)),
    );
    for (name, a, b) in arrays {
        let err = relative_error(a, b);
        if std::env::var("MESH_DEBUG").is_ok() && err > 1e-5 {
            eprintln!("  {name}: {err:.2e}");
        }
        if err > worst.0 {
            worst = (err, name);
        }
    }
    worst
}

/// Two updates (μ each) on `packed` given as micro-batches of at most `rows` rows, each cut to
/// its own padding, their gradients summed before each update (`accumulate`). `shares`
/// replaces the learner's own shares of the update.
fn train_accumulated(
    on: Placement,
    model: &LoadedModel,
    mut spec: LearnerSpec,
    packed: &TrainExample,
    rows: usize,
    shares: Option<&[Share]>,
) -> (Vec<StepMetrics>, LearnerSnapshot) {
    spec.geo.batch = rows as i64;
    spec.accumulate = true;
    let grpo = matches!(spec.loss, Loss::Grpo { .. });
    let micro: Vec<TrainExample> = packed
        .split_rows(rows)
        .iter()
        .map(|m| m.trimmed(2))
        .collect();
    let mut learner = Learner::new(on, model, spec, None).unwrap();
    let shares = shares.map_or_else(|| learner.shares(&micro), |s| s.to_vec());
    let mut metrics = vec![];
    for _ in 0..2 {
        let m = if grpo {
            let mut batches = learner.prepare_micro(&micro).unwrap();
            for (b, s) in batches.iter_mut().zip(&shares) {
                b.1 = *s;
            }
            learner.update_micro(&batches).unwrap()
        } else {
            let batches: Vec<_> = micro
                .iter()
                .map(|m| learner.prepare_sft(m).unwrap())
                .zip(shares.iter().copied())
                .collect();
            learner.update_micro(&batches).unwrap()
        };
        metrics.push(m);
        let _ = learner.policy_weights(true).unwrap();
    }
    (metrics, learner.snapshot().unwrap())
}

/// Gradient accumulation: an update over micro-batches (of uneven sizes, each trimmed to its
/// own shape) is the update on the whole batch at once, metrics included, when each
/// micro-batch's gradient counts by its share of the rows (GRPO's sequence mean) or of the
/// tokens (SFT's token mean). Only the order of f32 sums differs: 2e-4 relative, twice the
/// mesh tests' (measured up to 8.5e-5, SFT on one device, on a norm scale whose gradient is
/// small). The same micro-batches counted equally (a plain mean of their losses, which is
/// not the whole batch's loss when they differ in rows or tokens) must miss by more.
#[test]
fn an_update_accumulated_over_micro_batches_is_the_whole_batch_update() {
    let model = model();
    let geo = Geometry {
        batch: 8,
        prompt_len: 8,
        completion_len: 6,
    };
    let packed = batch(geo);
    for (what, trainable, loss, iterations) in [
        ("GRPO LoRA μ=2", lora(&model), grpo_loss(), 2),
        ("GRPO full μ=1", Trainable::Full, grpo_loss(), 1),
        ("SFT full", Trainable::Full, Loss::Sft, 1),
    ] {
        // Three micro-batches of 3, 3 and 2 rows on one device; two of 4 on four.
        for ((data, fsdp), rows) in [((1, 1), 3), ((2, 2), 4)] {
            let make = || spec(trainable.clone(), loss.clone(), iterations, geo);
            let want = train_on(placement(data, fsdp), &model, make(), &packed);
            let got = train_accumulated(placement(data, fsdp), &model, make(), &packed, rows, None);
            let (err, at) = worst_difference(&got, &want);
            eprintln!("{what} on {data}×{fsdp}, {rows} rows at a time: worst relative difference {err:.2e} ({at})");
            assert!(
                err <= 2e-4,
                "{what} on {data}×{fsdp}, {rows} rows at a time: {at} differs by {err:.2e}"
            );
        }
        let equal = [Share {
            loss: 1.0 / 3.0,
            tokens: 1.0 / 3.0,
        }; 3];
        let make = || spec(trainable.clone(), loss.clone(), iterations, geo);
        let want = train_on(placement(1, 1), &model, make(), &packed);
        let naive = train_accumulated(placement(1, 1), &model, make(), &packed, 3, Some(&equal));
        let (err, at) = worst_difference(&naive, &want);
        eprintln!("{what}, equal shares: worst relative difference {err:.2e} ({at})");
        assert!(
            err > 1e-3,
            "{what}: equal shares should miss the whole batch's update, but differ by only {err:.2e}"
        );
    }
}

/// A batch cut to the padding its rows use (`TrainExample::trimmed`) runs programs of its own
/// shape and must train as the padded one: padding is masked and positions count real tokens.
/// Only the order of f32 sums differs, so the tolerance is the mesh tests' 1e-4 relative
/// (measured: 3.0e-5, on a LoRA B matrix that starts at zero).
#[test]
fn a_batch_trimmed_of_padding_trains_as_the_padded_one() {
    let model = model();
    let geo = Geometry {
        batch: 8,
        prompt_len: 16,
        completion_len: 12,
    };
    let padded = batch(geo);
    let trimmed = padded.trimmed(4);
    assert_eq!((trimmed.geo.prompt_len, trimmed.geo.completion_len), (8, 8));
    for (what, trainable, loss, iterations) in [
        ("GRPO LoRA μ=2", lora(&model), grpo_loss(), 2),
        ("SFT full", Trainable::Full, Loss::Sft, 1),
    ] {
        for (data, fsdp) in [(1, 1), (2, 2)] {
            let make = || spec(trainable.clone(), loss.clone(), iterations, geo);
            let want = train_on(placement(data, fsdp), &model, make(), &padded);
            let got = train_on(placement(data, fsdp), &model, make(), &trimmed);
            let (err, at) = worst_difference(&got, &want);
            eprintln!("{what} on {data}×{fsdp}: worst relative difference {err:.2e} ({at})");
            assert!(
                err <= 1e-4,
                "{what} on {data}×{fsdp}: {at} differs by {err:.2e}"
            );
        }
    }
}

/// Dropping the groups whose advantages are all 0 (`drop_uniform_groups`) leaves the policy
/// gradient's direction as it was and averages over the rows kept: with β = 0 and μ = 1 the
/// gradient of the kept rows alone is the whole batch's times rows / rows kept.
/// Tolerance: 1e-4 relative on the gradient norm.
#[test]
fn dropping_zero_advantage_groups_rescales_the_gradient_by_the_rows_kept() {
    let model = model();
    let geo = Geometry {
        batch: 8,
        prompt_len: 8,
        completion_len: 6,
    };
    let prompts = prompts();
    let tokens: Vec<Vec<u32>> = (0..8).map(|r| vec![30 + r, 40 + r, 50 + r]).collect();
    let rows: Vec<(usize, &[u32])> = tokens.iter().map(|t| (0, t.as_slice())).collect();
    // Groups of two: the 2nd and 4th are uniform (advantage 0).
    let rewards = [1.0, 0.0, 2.0, 2.0, 0.0, 3.0, 1.0, 1.0];
    let adv = grpo_xla::grpo::advantages::advantages(
        &rewards,
        2,
        grpo_xla::grpo::advantages::Estimator::Grpo,
        1e-6,
    );
    let kept = grpo_xla::grpo::advantages::informative_groups(&rewards, 2, 1);
    assert_eq!(kept, [0, 2]);
    let kept_rows: Vec<usize> = kept.iter().flat_map(|&g| [2 * g, 2 * g + 1]).collect();
    let full = TrainExample::pack_rows(&prompts, &rows, &adv, geo).unwrap();
    let some = TrainExample::pack_rows(
        &prompts,
        &kept_rows.iter().map(|&r| rows[r]).collect::<Vec<_>>(),
        &kept_rows.iter().map(|&r| adv[r]).collect::<Vec<_>>(),
        Geometry { batch: 4, ..geo },
    )
    .unwrap();
    let loss = Loss::Grpo {
        objective: ObjectiveConfig {
            beta: 0.0,
            ..objective()
        },
        temperature: 1.0,
        use_old_logps: false,
    };
    let norm = |packed: &TrainExample| {
        let (metrics, _) = train_on(
            placement(1, 1),
            &model,
            spec(lora(&model), loss.clone(), 1, geo),
            packed,
        );
        metrics[0].grad_norm as f64
    };
    let (all, dropped) = (norm(&full), norm(&some));
    assert!(all > 1e-6, "a gradient that tests something: {all}");
    let err = (dropped / all - 2.0).abs() / 2.0;
    assert!(
        err <= 1e-4,
        "kept rows' gradient norm {dropped} is not twice the whole batch's {all}"
    );
}

fn grpo_xla(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_grpo-xla"))
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap()
}

/// The smoke config as an SFT-then-GRPO LoRA run of 2 + 2 steps on `mesh`.
fn recipe(dir: &std::path::Path, mesh: &str) -> std::path::PathBuf {
    let text = std::fs::read_to_string("configs/smoke.yaml")
        .unwrap()
        .replace("  steps: 4\n", "  steps: 2\n")
        // Adam's eps well above a gradient's rounding, as in the learner tests above.
        .replace("optimizer:\n", "optimizer:\n  eps: 1.0e-4\n")
        .replace(
            "rollout:",
            "sft:\n  data: data/reasoning_train.jsonl\n  steps: 2\n  batch_size: 8\n  max_prompt_length: 40\n  max_target_length: 24\n  learning_rate: 0.01\nlora:\n  rank: 4\n  alpha: 8\nrollout:",
        );
    let path = dir.join("config.yaml");
    std::fs::write(&path, format!("{text}{mesh}")).unwrap();
    path
}

/// What a run reports: its metrics, the samples it printed, and its final training state.
type RunResult = (
    Vec<serde_json::Value>,
    Vec<String>,
    Vec<(String, HostArray)>,
);

/// What a run reports (its metrics, the samples it printed, its final training state) when it
/// is trained in sessions of (devices, mesh section, steps to stop after), each resuming the
/// last.
fn run_in_sessions(sessions: &[(usize, &str, Option<usize>)]) -> RunResult {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let mut samples = vec![];
    for (i, &(devices, mesh, max_steps)) in sessions.iter().enumerate() {
        let config = recipe(dir.path(), mesh);
        let (n, max) = (devices.to_string(), max_steps.map(|m| m.to_string()));
        let mut args = vec![
            "train",
            "--config",
            config.to_str().unwrap(),
            "--output-dir",
            run.to_str().unwrap(),
            "--num-devices",
            &n,
        ];
        if i > 0 {
            args.push("--resume");
        }
        if let Some(m) = &max {
            args.extend(["--max-steps", m]);
        }
        let out = grpo_xla(&args);
        assert_success(&out);
        let stderr = String::from_utf8_lossy(&out.stderr);
        samples.extend(
            stderr
                .split("--- sample at step")
                .skip(1)
                .map(|s| s.split("--- reward").next().unwrap().to_string()),
        );
    }
    let state = grpo_xla::train::checkpoint::read_arrays(
        &run.join("checkpoints/step_000004/state.safetensors"),
    )
    .unwrap();
    (metrics_of(&run), samples, state)
}

fn run(devices: usize, mesh: &str) -> RunResult {
    run_in_sessions(&[(devices, mesh, None)])
}

/// Each metric of each step, and each array of the final state, as one device's.
fn assert_same_run(what: &str, (got, samples, state): &RunResult, want: &RunResult) {
    let (want, want_samples, want_state) = want;
    assert_eq!(samples, want_samples, "{what}: the sampled completions");
    assert_eq!(got.len(), want.len(), "{what}: steps");
    for (g, w) in got.iter().zip(want) {
        for key in [
            "loss",
            "grad_norm",
            "entropy",
            "reward_mean",
            "completion_length_mean",
        ] {
            let (Some(x), Some(y)) = (g[key].as_f64(), w[key].as_f64()) else {
                continue;
            };
            assert!(
                (x - y).abs() <= 1e-4 * y.abs().max(1e-3),
                "{what}, step {}: {key} {x} vs one device's {y}",
                w["step"]
            );
        }
    }
    for ((name, a), (_, b)) in state.iter().zip(want_state) {
        let err = relative_error(a, b);
        assert!(err <= 1e-4, "{what}: {name} differs by {err:.2e}");
    }
}

#[test]
fn an_sft_then_grpo_run_on_eight_devices_equals_one_device() {
    let want = run(1, "");
    assert_eq!(want.0.len(), 4, "2 SFT + 2 GRPO steps");
    assert_eq!(want.1.len(), 1, "the run prints its sample at step 4");
    for (devices, mesh) in [
        (8, "mesh:\n  data: 4\n  fsdp: 2\n"),
        (4, "mesh:\n  fsdp: 4\n"),
    ] {
        assert_same_run(&format!("{devices} devices"), &run(devices, mesh), &want);
    }
    // Checkpoints hold whole arrays: a run stopped on 8 devices (a TPU v5e-8) resumes on one
    // (a CPU) and goes on as if it had stayed there.
    let moved = run_in_sessions(&[(8, "mesh:\n  fsdp: 2\n", Some(3)), (1, "", None)]);
    assert_same_run("8 devices, then resumed on 1", &moved, &want);
}

#[test]
fn a_mesh_that_does_not_match_the_devices_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let config = recipe(dir.path(), "mesh:\n  data: 3\n");
    let out = grpo_xla(&[
        "train",
        "--config",
        config.to_str().unwrap(),
        "--num-devices",
        "4",
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("config.yaml")
            && stderr.contains("mesh: data=3")
            && stderr.contains("4 devices"),
        "{stderr}"
    );
}
