//! The GRPO loss and every parameter's gradient against Tunix's `grpo_loss_fn` (jax.grad through
//! Tunix's Gemma 3) on a tiny model and identical inputs: left-padded prompts, right-padded
//! completions (one of them empty), with and without old log-probs (μ = 1 and μ > 1),
//! temperature scaling on; and LoRA's chunked LM head, differentiated through the hidden states
//! only, against Tunix differentiating through the whole logits (every gradient but the frozen
//! embedding's).
//!
//! Every variant our objective offers is compared with Tunix 0.1.7's own code, which has all of
//! them: KL estimators `kl`, `low_var_kl` and `mse_kl` (`common.compute_kl_divergence`), the
//! aggregations `token-mean`, `sequence-mean-token-mean`, `sequence-mean-token-scale` and
//! `seq-mean-token-sum` (`common.aggregate_loss`), and asymmetric clipping ε_high ≠ ε (read by
//! `grpo_loss_fn` from the config; Tunix's `DAPOConfig` has the field). No variant needs a
//! stand-in implementation. Each variant's case also asks Tunix for the loss with that one
//! setting changed back, and requires the two to differ by far more than the tolerance, so a
//! case cannot pass with the variant inert.
//!
//! Tolerance: |loss| relative error ≤ 1e-5 (`LOSS_TOL`); for each parameter, max|ours - tunix|
//! ≤ 1e-5 · max|tunix| (`GRAD_TOL`): f32 sums in another order. Measured over the seven cases
//! (XLA CPU plugin vs jaxlib 0.10.2 on CPU): loss ≤ 2.9e-6 (the asymmetric case with KL, whose
//! loss is small), gradients ≤ 4.3e-6 (a q/k-norm scale). The neighbour gaps are ≥ 2.3e-2.

mod common;

use common::{cpu_client, values};
use grpo_xla::graph::{Graph, HostArray, Shape, Tensor};
use grpo_xla::grpo::head::HeadGradient;
use grpo_xla::grpo::objective::{grpo_objective, Aggregation, KlEstimator, ObjectiveConfig};
use grpo_xla::grpo::programs::{completion_log_probs, Geometry, Sequences};
use grpo_xla::models::gemma::{Family, GemmaConfig, GemmaWeights};
use grpo_xla::models::hf::save_params;
use grpo_xla::reference;
use serde_json::{json, Value};

const SCRIPT: &str = concat!(
    include_str!("reference/tunix_gemma.py"),
    include_str!("reference/tunix_grpo.py")
);

const LOSS_TOL: f64 = 1e-5;
const GRAD_TOL: f64 = 1e-5;

/// One comparison: our objective settings and Tunix's names for them.
struct Case {
    use_old: bool,
    kl: KlEstimator,
    aggregation: Aggregation,
    epsilon_high: f64,
    beta: f64,
    /// Extra keys for the reference script (e.g. `"algo": "dapo"`).
    tunix: Value,
    /// Tunix configs differing from this case in the one setting under test.
    neighbours: Vec<Value>,
    /// `HiddenOnly` is LoRA's chunked LM head: every gradient but the (frozen) embedding's.
    head: HeadGradient,
}

fn kl_name(kl: KlEstimator) -> &'static str {
    match kl {
        KlEstimator::Kl => "kl",
        KlEstimator::LowVarKl => "low_var_kl",
        KlEstimator::MseKl => "mse_kl",
    }
}

fn aggregation_name(a: Aggregation) -> &'static str {
    match a {
        Aggregation::SequenceMeanTokenMean => "sequence-mean-token-mean",
        Aggregation::TokenMean => "token-mean",
        Aggregation::SequenceMeanTokenScale => "sequence-mean-token-scale",
        Aggregation::SeqMeanTokenSum => "seq-mean-token-sum",
    }
}

fn check(name: &str, case: Case) {
    let cfg = GemmaConfig::tiny(Family::Gemma3);
    let params: Vec<HostArray> = cfg
        .param_specs()
        .iter()
        .enumerate()
        .map(|(i, (name, dims))| {
            let n = dims.iter().product::<i64>() as usize;
            let scale = if name.contains("norm") { 0.1 } else { 0.3 };
            HostArray::new(
                &values(n, 500 + i as u64)
                    .iter()
                    .map(|v| v * scale)
                    .collect::<Vec<f32>>(),
                dims,
            )
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let model_dir = dir.path().join("model");
    save_params(&model_dir, &cfg, &params).unwrap();

    let geo = Geometry {
        batch: 4,
        prompt_len: 6,
        completion_len: 5,
    };
    let (b, p, c) = (4usize, 6usize, 5usize);
    let id = |k: usize| 4 + (k * 37 % 250) as i32;
    let prompt_lens = [6, 4, 5, 3];
    let completion_lens = [5, 2, 4, 0];
    let mut prompt = vec![0i32; b * p];
    let mut completion = vec![0i32; b * c];
    let mut mask = vec![0f32; b * c];
    for r in 0..b {
        for j in 0..prompt_lens[r] {
            prompt[r * p + p - prompt_lens[r] + j] = id(r * 11 + j);
        }
        for j in 0..completion_lens[r] {
            completion[r * c + j] = id(r * 7 + j + 3);
            mask[r * c + j] = 1.0;
        }
    }
    let tokens: Vec<i32> = (0..b)
        .flat_map(|r| {
            prompt[r * p..(r + 1) * p]
                .iter()
                .chain(&completion[r * c..(r + 1) * c])
                .copied()
                .collect::<Vec<_>>()
        })
        .collect();
    let valid: Vec<i32> = tokens.iter().map(|&t| (t != 0) as i32).collect();
    let advantages = [1.2f32, -0.7, 0.4, -1.1];
    let ref_logps: Vec<f32> = values(b * c, 7).iter().map(|v| v - 5.0).collect();
    let old_logps: Vec<f32> = values(b * c, 8).iter().map(|v| v * 0.5 - 5.5).collect();
    let temperature = 0.9;
    let objective = ObjectiveConfig {
        epsilon: 0.2,
        epsilon_high: case.epsilon_high,
        beta: case.beta,
        kl: case.kl,
        aggregation: case.aggregation,
    };

    let g = Graph::new("grpo_loss");
    let (w, tensors) = GemmaWeights::parameters(&g, &cfg);
    let seq = Sequences {
        tokens: g.parameter("tokens", Shape::i32(&[4, 11])),
        valid: g.parameter("valid", Shape::i32(&[4, 11])),
    };
    let m = g.parameter("mask", Shape::f32(&[4, 5]));
    let adv = g.parameter("advantages", Shape::f32(&[4]));
    let old = g.parameter("old", Shape::f32(&[4, 5]));
    let reference_logps = g.parameter("ref", Shape::f32(&[4, 5]));
    let (logp, _) = completion_log_probs(&cfg, &w, &seq, geo, temperature, case.head);
    let old_used: Tensor = if case.use_old {
        old
    } else {
        logp.stop_gradient()
    };
    let loss = grpo_objective(&logp, &old_used, &reference_logps, &adv, &m, &objective).loss;
    let grads = g.grad(&loss, &tensors).unwrap();
    let module = g.build(&[vec![loss], grads].concat()).unwrap();
    let mut args = params.clone();
    args.extend([
        HostArray::new(&tokens, &[4, 11]),
        HostArray::new(&valid, &[4, 11]),
        HostArray::new(&mask, &[4, 5]),
        HostArray::new(&advantages, &[4]),
        HostArray::new(&old_logps, &[4, 5]),
        HostArray::new(&ref_logps, &[4, 5]),
    ]);
    let ours = module.run(&cpu_client(1), &args).unwrap();

    let mut inputs = json!({
        "family": "gemma3", "model_dir": model_dir,
        "config": {"num_layers": cfg.num_layers, "vocab": cfg.vocab_size, "d": cfg.embed_dim, "f": cfg.hidden_dim,
                   "n": cfg.num_heads, "h": cfg.head_dim, "k": cfg.num_kv_heads, "window": cfg.sliding_window},
        "prompt_ids": reference::array(&[4, 6], "i32", &prompt),
        "completion_ids": reference::array(&[4, 5], "i32", &completion),
        "completion_mask": reference::array(&[4, 5], "f32", &mask),
        "advantages": reference::array(&[4], "f32", &advantages),
        "ref": reference::array(&[4, 5], "f32", &ref_logps),
        "old": reference::array(&[4, 5], "f32", &old_logps),
        "use_old": case.use_old, "g": 2, "beta": case.beta, "epsilon": 0.2,
        "epsilon_high": case.epsilon_high, "kl": kl_name(case.kl),
        "aggregation": aggregation_name(case.aggregation),
        "temperature": temperature, "neighbours": case.neighbours,
    });
    for (k, v) in case.tunix.as_object().unwrap() {
        inputs[k] = v.clone();
    }
    let theirs = reference::run(SCRIPT, &inputs).unwrap();
    eprintln!("{name}: tunix config {}", theirs["config"]);
    let (our_loss, their_loss) = (ours[0].to_f64()[0], theirs["loss"].as_f64().unwrap());
    let loss_err = (our_loss - their_loss).abs() / their_loss.abs().max(1e-3);
    let mut worst_grad = (0f64, String::new());
    let mut compared = 0;
    let embedding_frozen = case.head == HeadGradient::HiddenOnly;
    for (i, (param, _)) in cfg.param_specs().iter().enumerate() {
        if embedding_frozen && param == "embedder.input_embedding" {
            continue;
        }
        let tunix = reference::f64s(&theirs["grads"][param]).unwrap_or_else(|_| {
            panic!(
                "tunix has no gradient named {param}: {:?}",
                theirs["grads"]
                    .as_object()
                    .map(|o| o.keys().take(5).collect::<Vec<_>>())
            )
        });
        let ours = ours[i + 1].to_f64();
        let scale = tunix.iter().fold(0f64, |m, x| m.max(x.abs()));
        let err = ours
            .iter()
            .zip(&tunix)
            .map(|(a, b)| (a - b).abs())
            .fold(0f64, f64::max)
            / scale.max(1e-12);
        assert!(
            err <= GRAD_TOL,
            "{name}: d loss / d {param}: max error {err:.3e} of the largest |gradient| {scale:.3e}"
        );
        if err > worst_grad.0 {
            worst_grad = (err, param.clone());
        }
        compared += 1;
    }
    assert_eq!(
        compared,
        cfg.param_specs().len() - usize::from(embedding_frozen)
    );
    eprintln!(
        "{name}: loss ours {our_loss:.8} tunix {their_loss:.8} (relative error {loss_err:.2e}); \
         worst gradient error {:.2e} of its largest value ({})",
        worst_grad.0, worst_grad.1
    );
    assert!(
        loss_err <= LOSS_TOL,
        "{name}: loss ours {our_loss}, tunix {their_loss}"
    );
    for (neighbour, other) in case.neighbours.iter().zip(
        theirs["neighbour_losses"]
            .as_array()
            .expect("neighbour losses"),
    ) {
        let other = other.as_f64().unwrap();
        let gap = (other - their_loss).abs() / their_loss.abs().max(1e-3);
        eprintln!("{name}: with {neighbour} tunix's loss is {other:.8} (relative gap {gap:.2e})");
        assert!(
            gap > 100.0 * LOSS_TOL,
            "{name}: the setting under test barely changes Tunix's loss ({neighbour}: {other} vs {their_loss}); \
             the case would not notice it being ignored"
        );
    }
}

#[test]
fn loss_and_gradients_equal_tunix_on_policy() {
    check(
        "on-policy, kl, sequence-mean-token-mean",
        Case {
            use_old: false,
            kl: KlEstimator::Kl,
            aggregation: Aggregation::SequenceMeanTokenMean,
            epsilon_high: 0.2,
            beta: 0.08,
            tunix: json!({}),
            neighbours: vec![],
            head: HeadGradient::Full,
        },
    );
}

#[test]
fn loss_and_gradients_equal_tunix_with_old_logps_k3_and_token_mean() {
    check(
        "old log-probs, low_var_kl, token-mean",
        Case {
            use_old: true,
            kl: KlEstimator::LowVarKl,
            aggregation: Aggregation::TokenMean,
            epsilon_high: 0.2,
            beta: 0.08,
            tunix: json!({}),
            neighbours: vec![json!({"aggregation": "sequence-mean-token-mean"})],
            head: HeadGradient::Full,
        },
    );
}

/// LoRA's path: the LM head in chunks, differentiated through the hidden states only (the
/// embedding is frozen under LoRA), against Tunix differentiating through the whole logits.
#[test]
fn chunked_head_loss_and_gradients_equal_tunix() {
    check(
        "chunked head, old log-probs, kl, sequence-mean-token-mean",
        Case {
            use_old: true,
            kl: KlEstimator::Kl,
            aggregation: Aggregation::SequenceMeanTokenMean,
            epsilon_high: 0.2,
            beta: 0.08,
            tunix: json!({}),
            neighbours: vec![],
            head: HeadGradient::HiddenOnly,
        },
    );
}

#[test]
fn mse_kl_equals_tunix() {
    check(
        "mse_kl",
        Case {
            use_old: true,
            kl: KlEstimator::MseKl,
            aggregation: Aggregation::SequenceMeanTokenMean,
            epsilon_high: 0.2,
            beta: 0.08,
            tunix: json!({}),
            neighbours: vec![json!({"kl": "kl"}), json!({"kl": "low_var_kl"})],
            head: HeadGradient::Full,
        },
    );
}

#[test]
fn sequence_mean_token_scale_equals_tunix() {
    check(
        "sequence-mean-token-scale (Dr. GRPO)",
        Case {
            use_old: true,
            kl: KlEstimator::LowVarKl,
            aggregation: Aggregation::SequenceMeanTokenScale,
            epsilon_high: 0.2,
            beta: 0.08,
            tunix: json!({}),
            neighbours: vec![
                json!({"aggregation": "sequence-mean-token-mean"}),
                json!({"aggregation": "token-mean"}),
            ],
            head: HeadGradient::Full,
        },
    );
}

#[test]
fn seq_mean_token_sum_equals_tunix() {
    check(
        "seq-mean-token-sum",
        Case {
            use_old: true,
            kl: KlEstimator::Kl,
            aggregation: Aggregation::SeqMeanTokenSum,
            epsilon_high: 0.2,
            beta: 0.08,
            tunix: json!({}),
            neighbours: vec![json!({"aggregation": "sequence-mean-token-scale"})],
            head: HeadGradient::Full,
        },
    );
}

/// DAPO's clip-higher through Tunix's own `DAPOConfig` (ε 0.2, ε_high 0.28, no KL term).
#[test]
fn asymmetric_clipping_equals_tunix_dapo_config() {
    check(
        "asymmetric clipping (DAPOConfig)",
        Case {
            use_old: true,
            kl: KlEstimator::Kl,
            aggregation: Aggregation::TokenMean,
            epsilon_high: 0.28,
            beta: 0.0,
            tunix: json!({"algo": "dapo"}),
            neighbours: vec![json!({"epsilon_high": 0.2})],
            head: HeadGradient::Full,
        },
    );
}

/// ε_high on a GRPOConfig (the attribute `grpo_loss_fn` looks for), with the KL term on.
#[test]
fn asymmetric_clipping_with_kl_equals_tunix() {
    check(
        "asymmetric clipping with low_var_kl",
        Case {
            use_old: true,
            kl: KlEstimator::LowVarKl,
            aggregation: Aggregation::SequenceMeanTokenMean,
            epsilon_high: 0.28,
            beta: 0.08,
            tunix: json!({}),
            neighbours: vec![json!({"epsilon_high": 0.2})],
            head: HeadGradient::Full,
        },
    );
}
