//! The programs the trainer compiles, split data-parallel over 2 and 4 CPU devices (Shardy),
//! equal the 1-device programs: the train step's loss, metrics and updated weights and
//! optimizer state (full fine-tuning and LoRA), and the completion log-probs. Tolerance: every
//! value within 5e-5 of the largest magnitude of its array. The batch sums are split across
//! devices and all-reduced in f32; the worst measured is 1.4e-5, on a zero-initialised norm
//! scale whose values after one AdamW step are one learning-rate step in size, so rounding of
//! its tiny gradients shows at that scale. The log-probs measure ~1e-7.

mod common;

use common::{cpu_client, relative_error, values};
use grpo_xla::graph::{HostArray, Layout, Module};
use grpo_xla::grpo::lora::{self, LoraConfig};
use grpo_xla::grpo::objective::{Aggregation, KlEstimator, ObjectiveConfig};
use grpo_xla::grpo::optimizer::AdamWConfig;
use grpo_xla::grpo::programs::{Geometry, LogProbsProgram, Loss, TrainStepProgram, Trainable};
use grpo_xla::models::gemma::{random_params, Family, GemmaConfig};

const TOLERANCE: f64 = 5e-5;

fn geometry() -> Geometry {
    Geometry {
        batch: 4,
        prompt_len: 6,
        completion_len: 4,
    }
}

/// tokens, valid, completion mask, advantages, old and reference log-probs.
fn batch(geo: Geometry) -> Vec<HostArray> {
    let (b, t, c) = (geo.batch, geo.seq_len(), geo.completion_len);
    let tokens: Vec<i32> = values((b * t) as usize, 11)
        .iter()
        .map(|v| (((v + 1.0) * 120.0) as i32 + 4).min(259))
        .collect();
    // Row r has r padding tokens on the left and its completion cut after 4 - r % 3 tokens.
    let mut valid = vec![1i32; (b * t) as usize];
    let mut mask = vec![0f32; (b * c) as usize];
    for r in 0..b as usize {
        for j in 0..r.min(3) {
            valid[r * t as usize + j] = 0;
        }
        let keep = 4 - r % 3;
        for j in 0..c as usize {
            if j < keep {
                mask[r * c as usize + j] = 1.0;
            } else {
                valid[r * t as usize + geo.prompt_len as usize + j] = 0;
            }
        }
    }
    let logps = |seed| -> Vec<f32> {
        values((b * c) as usize, seed)
            .iter()
            .map(|v| v - 5.5)
            .collect()
    };
    vec![
        HostArray::new(&tokens, &[b, t]),
        HostArray::new(&valid, &[b, t]),
        HostArray::new(&mask, &[b, c]),
        HostArray::new(&[1.0f32, -0.5, 0.25, -0.75], &[b]),
        HostArray::new(&logps(12), &[b, c]),
        HostArray::new(&logps(13), &[b, c]),
    ]
}

/// The rows of `a` (split on its first dimension) that device `d` of `n` holds.
fn rows(a: &HostArray, d: usize, n: usize) -> HostArray {
    let per = a.bytes.len() / n;
    let mut dims = a.dims.clone();
    dims[0] /= n as i64;
    HostArray {
        ty: a.ty,
        dims,
        bytes: a.bytes[d * per..(d + 1) * per].to_vec(),
    }
}

/// Runs `module` over `n` devices: `per_row[i]` arguments are split by rows, the rest copied
/// to every device. Returns each device's results.
fn run_on(module: &Module, n: usize, args: &[HostArray], per_row: &[bool]) -> Vec<Vec<HostArray>> {
    let client = cpu_client(n);
    let exe = module
        .compile(&client)
        .unwrap_or_else(|e| panic!("{e}\n{}", &module.text[..2000.min(module.text.len())]));
    assert_eq!(exe.num_devices(), n);
    let buffers: Vec<Vec<_>> = (0..n)
        .map(|d| {
            args.iter()
                .zip(per_row)
                .map(|(a, &split)| {
                    let part = if split { rows(a, d, n) } else { a.clone() };
                    part.upload(&client, d).unwrap()
                })
                .collect()
        })
        .collect();
    let out = common::execute_on_devices(&exe, &buffers);
    out.iter()
        .map(|list| {
            list.iter()
                .map(|b| HostArray::download(b).unwrap())
                .collect()
        })
        .collect()
}

fn train_step_matches_one_device(trainable: Trainable, n: usize) {
    let cfg = GemmaConfig::tiny(Family::Gemma3);
    let geo = geometry();
    let loss = Loss::Grpo {
        objective: ObjectiveConfig {
            epsilon: 0.2,
            epsilon_high: 0.28,
            beta: 0.04,
            kl: KlEstimator::LowVarKl,
            aggregation: Aggregation::SequenceMeanTokenMean,
        },
        temperature: 0.9,
        use_old_logps: true,
    };
    let optimizer = AdamWConfig {
        peak_lr: 1e-2,
        b1: 0.9,
        b2: 0.99,
        eps: 1e-8,
        weight_decay: 0.1,
        max_grad_norm: Some(1.0),
        warmup_steps: 0,
        decay_steps: 10,
    };
    let base = random_params(&cfg, 3);
    let trained: Vec<HostArray> = match &trainable {
        Trainable::Full => base.clone(),
        Trainable::Lora(_, specs) => lora::init(specs, 1)
            .iter()
            .zip(trainable.shapes(&cfg))
            .map(|(v, d)| {
                // Non-zero B so the adapters matter in the forward pass too.
                let v: Vec<f32> = if v.iter().all(|&x| x == 0.0) {
                    values(v.len(), 5).iter().map(|x| x * 0.1).collect()
                } else {
                    v.clone()
                };
                HostArray::new(&v, &d)
            })
            .collect(),
    };
    let zeros: Vec<HostArray> = trained
        .iter()
        .map(|a| HostArray::new(&vec![0f32; a.bytes.len() / 4], &a.dims))
        .collect();
    let mut args: Vec<HostArray> = match &trainable {
        Trainable::Lora(..) => base.clone(),
        Trainable::Full => vec![],
    };
    args.extend(trained.iter().cloned());
    args.extend(zeros.iter().cloned());
    args.extend(zeros.iter().cloned());
    args.push(HostArray::scalar(2i32));
    let state_args = args.len();
    args.extend(batch(geo));
    let per_row: Vec<bool> = (0..args.len()).map(|i| i >= state_args).collect();

    let single =
        TrainStepProgram::build(&cfg, geo, &trainable, &loss, &optimizer, &Layout::single());
    let want = run_on(&single, 1, &args, &per_row).remove(0);
    let layout = Layout::new(n as i64, 1);
    let split = TrainStepProgram::build(&cfg, geo, &trainable, &loss, &optimizer, &layout);
    assert!(
        split.text.contains("sdy.sharding"),
        "the batch is annotated"
    );
    let got = run_on(&split, n, &args, &per_row);
    let loss_value = want[want.len() - 6].to_f64()[0];
    assert!(
        loss_value.abs() > 1e-6,
        "a loss that tests something: {loss_value}"
    );
    for (d, outputs) in got.iter().enumerate() {
        assert_eq!(outputs.len(), want.len());
        let errors: Vec<f64> = outputs
            .iter()
            .zip(&want)
            .map(|(a, b)| relative_error(a, b))
            .collect();
        let worst = errors.iter().copied().fold(0.0, f64::max);
        let at = errors.iter().position(|&e| e == worst).unwrap();
        eprintln!("{n} devices, device {d}: worst relative error {worst:.2e} (output {at})");
        assert!(worst <= TOLERANCE, "device {d}, output {at}: {worst:.2e}");
    }
}

#[test]
fn the_full_fine_tuning_train_step_splits_over_two_devices() {
    train_step_matches_one_device(Trainable::Full, 2);
}

#[test]
fn the_lora_train_step_splits_over_two_and_four_devices() {
    let cfg = GemmaConfig::tiny(Family::Gemma3);
    let lc = LoraConfig {
        rank: 2,
        alpha: 4.0,
        targets: lora::default_targets(),
    };
    let specs = lora::specs(&cfg, &lc);
    for n in [2, 4] {
        train_step_matches_one_device(Trainable::Lora(lc.clone(), specs.clone()), n);
    }
}

#[test]
fn completion_log_probs_split_by_rows() {
    let cfg = GemmaConfig::tiny(Family::Gemma3);
    let geo = geometry();
    let mut args = random_params(&cfg, 4);
    let n_params = args.len();
    args.extend(batch(geo).into_iter().take(2));
    let per_row: Vec<bool> = (0..args.len()).map(|i| i >= n_params).collect();
    let single = LogProbsProgram::build(&cfg, geo, &Trainable::Full, 1.0, &Layout::single());
    let want = run_on(&single, 1, &args, &per_row).remove(0).remove(0);
    let split = LogProbsProgram::build(&cfg, geo, &Trainable::Full, 1.0, &Layout::new(2, 1));
    let got = run_on(&split, 2, &args, &per_row);
    for (d, outputs) in got.iter().enumerate() {
        let err = relative_error(&outputs[0], &rows(&want, d, 2));
        eprintln!("log-probs, device {d}: relative error {err:.2e}");
        assert!(err <= TOLERANCE, "device {d}: {err:.2e}");
    }
}
