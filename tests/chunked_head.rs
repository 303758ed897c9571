//! The LM head a chunk at a time, differentiated through the hidden states (LoRA's path, see
//! `grpo::head`), against differentiating through the whole logits (the path Tunix's gradients
//! are checked on in `grpo_vs_tunix.rs`), with several chunks of unequal size, temperature
//! scaling, and Gemma 2's soft cap.
//!
//! Tolerance: log-probs and entropies within 1e-5 absolute (f32, sums in another order; the
//! values are around −6 and 6); each parameter's gradient within 1e-5 of its largest value.

mod common;

use common::{cpu_client, values};
use grpo_xla::graph::{Graph, HostArray, Shape};
use grpo_xla::grpo::head::{target_log_probs, HeadGradient};
use grpo_xla::grpo::objective::{token_entropy, token_log_probs};
use grpo_xla::models::gemma::{hidden_states, logits, Family, GemmaConfig, GemmaWeights};
use grpo_xla::pjrt::ElementType;

const TOL: f64 = 1e-5;

/// (log-probs, entropies, gradients of Σ logp · weights for every parameter but the embedding).
fn run(family: Family, temperature: f64, chunked: Option<HeadGradient>) -> Vec<Vec<f64>> {
    run_in(ElementType::F32, family, temperature, chunked)
}

fn run_in(
    dtype: ElementType,
    family: Family,
    temperature: f64,
    chunked: Option<HeadGradient>,
) -> Vec<Vec<f64>> {
    let mut cfg = GemmaConfig::tiny(family);
    cfg.dtype = dtype;
    let (b, t, c) = (3i64, 9i64, 7i64);
    let g = Graph::new("head");
    let (w, params) = GemmaWeights::parameters(&g, &cfg);
    let tokens = g.parameter("tokens", Shape::i32(&[b, t]));
    let valid = g.parameter("valid", Shape::i32(&[b, t]));
    let weights = g.parameter("weights", Shape::f32(&[b, c]));
    let h = hidden_states(&cfg, &w, &tokens, &valid).narrow(1, t - c - 1, c);
    let targets = tokens.narrow(1, t - c, c);
    let (logp, entropy) = match chunked {
        // 8 tokens a chunk: 2 positions of 3 rows, so chunks of 2, 2, 2 and 1 positions.
        Some(gradient) => target_log_probs(&cfg, &w, &h, &targets, temperature, gradient, 8),
        None => {
            let l = logits(&cfg, &w, &h).convert(ElementType::F32) / temperature;
            (token_log_probs(&l, &targets), token_entropy(&l))
        }
    };
    let loss = (&logp * &weights).sum_all();
    let trained = &params[1..];
    let grads = if chunked == Some(HeadGradient::None) {
        vec![]
    } else {
        g.grad(&loss, trained).unwrap()
    };
    let module = g.build(&[vec![logp, entropy], grads].concat()).unwrap();
    let mut args: Vec<HostArray> = cfg
        .param_specs()
        .iter()
        .enumerate()
        .map(|(i, (_, dims))| {
            let n = dims.iter().product::<i64>() as usize;
            let v: Vec<f32> = values(n, 40 + i as u64).iter().map(|x| x * 0.3).collect();
            match dtype {
                ElementType::BF16 => {
                    let v: Vec<half::bf16> = v.iter().map(|&x| half::bf16::from_f32(x)).collect();
                    HostArray::new(&v, dims)
                }
                _ => HostArray::new(&v, dims),
            }
        })
        .collect();
    let ids: Vec<i32> = (0..b * t).map(|k| 3 + (k as i32 * 29) % 200).collect();
    let mut mask = vec![1i32; (b * t) as usize];
    mask[0] = 0; // one left-padded prompt
    args.push(HostArray::new(&ids, &[b, t]));
    args.push(HostArray::new(&mask, &[b, t]));
    args.push(HostArray::new(&values((b * c) as usize, 9), &[b, c]));
    let out = module.run(&cpu_client(1), &args).unwrap();
    out.iter().map(|a| a.to_f64()).collect()
}

fn worst(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

fn check(family: Family, temperature: f64) {
    let whole = run(family, temperature, None);
    let chunked = run(family, temperature, Some(HeadGradient::HiddenOnly));
    let scoring = run(family, temperature, Some(HeadGradient::None));
    for (name, k) in [("log-probs", 0), ("entropy", 1)] {
        for (path, got) in [("hidden-only", &chunked), ("no gradient", &scoring)] {
            let err = worst(&got[k], &whole[k]);
            eprintln!("{family:?} τ {temperature}: {name} ({path}) differ by {err:.2e}");
            assert!(err <= TOL, "{name} ({path}): {err:.3e}");
        }
    }
    assert!(
        whole[0].iter().all(|&v| v < -1.0),
        "log-probs of a 256-word vocabulary"
    );
    let mut compared = 0;
    let mut largest = 0f64;
    for (i, (ours, reference)) in chunked[2..].iter().zip(&whole[2..]).enumerate() {
        let scale = reference.iter().fold(0f64, |m, x| m.max(x.abs()));
        let err = worst(ours, reference) / scale.max(1e-12);
        assert!(scale > 0.0, "parameter {i} gets no gradient");
        assert!(err <= TOL, "parameter {i}: {err:.3e} of {scale:.3e}");
        largest = largest.max(err);
        compared += 1;
    }
    eprintln!("{family:?} τ {temperature}: gradients differ by at most {largest:.2e} of their largest value");
    assert_eq!(compared, GemmaConfig::tiny(family).param_specs().len() - 1);
}

#[test]
fn chunked_head_equals_the_whole_head_on_gemma3_with_temperature() {
    check(Family::Gemma3, 0.7);
}

#[test]
fn chunked_head_equals_the_whole_head_on_gemma2_soft_capped() {
    check(Family::Gemma2, 1.0);
}

/// A bf16 model: the scoring programs (reference and old log-probs) must score tokens exactly as
/// full fine-tuning's train step does, or its first ratio is not 1 and its KL not 0.
#[test]
fn bf16_scoring_equals_the_whole_heads_log_probs() {
    let whole = run_in(ElementType::BF16, Family::Gemma2, 0.9, None);
    let scoring = run_in(
        ElementType::BF16,
        Family::Gemma2,
        0.9,
        Some(HeadGradient::None),
    );
    let err = worst(&scoring[0], &whole[0]);
    eprintln!("bf16: log-probs differ by {err:.2e}");
    assert!(err <= TOL, "bf16 log-probs: {err:.3e}");
}
