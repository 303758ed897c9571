//! The GRPO loss and every parameter's gradient against Tunix's `grpo_loss_fn` (jax.grad through
//! Tunix's Gemma 3) on a tiny model and identical inputs: left-padded prompts, right-padded
//! completions, with and without old log-probs (μ = 1 and μ > 1), temperature scaling on.
//! Tolerance: |loss| relative error ≤ 1e-5; for each parameter,
//! max|ours - tunix| ≤ 1e-5 · max|tunix| (f32 sums in another order).

mod common;

use common::{cpu_client, values};
use grpo_xla::graph::{Graph, HostArray, Shape, Tensor};
use grpo_xla::grpo::objective::{grpo_objective, Aggregation, KlEstimator, ObjectiveConfig};
use grpo_xla::grpo::programs::{completion_log_probs, Geometry};
use grpo_xla::models::gemma::{Family, GemmaConfig, GemmaWeights};
use grpo_xla::models::hf::save_params;
use grpo_xla::reference;
use serde_json::json;

const SCRIPT: &str = concat!(
    include_str!("reference/tunix_gemma.py"),
    include_str!("reference/tunix_grpo.py")
);

fn check(use_old: bool, kl: KlEstimator, kl_name: &str, aggregation: Aggregation, agg_name: &str) {
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
        epsilon_high: 0.2,
        beta: 0.08,
        kl,
        aggregation,
    };

    let g = Graph::new("grpo_loss");
    let (w, tensors) = GemmaWeights::parameters(&g, &cfg);
    let t = g.parameter("tokens", Shape::i32(&[4, 11]));
    let v = g.parameter("valid", Shape::i32(&[4, 11]));
    let m = g.parameter("mask", Shape::f32(&[4, 5]));
    let adv = g.parameter("advantages", Shape::f32(&[4]));
    let old = g.parameter("old", Shape::f32(&[4, 5]));
    let reference_logps = g.parameter("ref", Shape::f32(&[4, 5]));
    let (logp, _) = completion_log_probs(&cfg, &w, &t, &v, geo, temperature);
    let old_used: Tensor = if use_old { old } else { logp.stop_gradient() };
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

    let theirs = reference::run(
        SCRIPT,
        &json!({
            "family": "gemma3", "model_dir": model_dir,
            "config": {"num_layers": cfg.num_layers, "vocab": cfg.vocab_size, "d": cfg.embed_dim, "f": cfg.hidden_dim,
                       "n": cfg.num_heads, "h": cfg.head_dim, "k": cfg.num_kv_heads, "window": cfg.sliding_window},
            "prompt_ids": reference::array(&[4, 6], "i32", &prompt),
            "completion_ids": reference::array(&[4, 5], "i32", &completion),
            "completion_mask": reference::array(&[4, 5], "f32", &mask),
            "advantages": reference::array(&[4], "f32", &advantages),
            "ref": reference::array(&[4, 5], "f32", &ref_logps),
            "old": reference::array(&[4, 5], "f32", &old_logps),
            "use_old": use_old, "g": 2, "beta": 0.08, "epsilon": 0.2, "kl": kl_name, "aggregation": agg_name,
            "temperature": temperature,
        }),
    )
    .unwrap();
    let (our_loss, their_loss) = (ours[0].to_f64()[0], theirs["loss"].as_f64().unwrap());
    assert!(
        (our_loss - their_loss).abs() <= 1e-5 * their_loss.abs().max(1e-3),
        "loss: ours {our_loss}, tunix {their_loss}"
    );
    let mut compared = 0;
    for (i, (name, _)) in cfg.param_specs().iter().enumerate() {
        let tunix = reference::f64s(&theirs["grads"][name]).unwrap_or_else(|_| {
            panic!(
                "tunix has no gradient named {name}: {:?}",
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
            .fold(0f64, f64::max);
        assert!(
            err <= 1e-5 * scale.max(1e-12),
            "d loss / d {name}: max error {err:.3e} vs largest {scale:.3e}"
        );
        compared += 1;
    }
    assert_eq!(compared, cfg.param_specs().len());
}

#[test]
fn loss_and_gradients_equal_tunix_on_policy() {
    check(
        false,
        KlEstimator::Kl,
        "kl",
        Aggregation::SequenceMeanTokenMean,
        "sequence-mean-token-mean",
    );
}

#[test]
fn loss_and_gradients_equal_tunix_with_old_logps_k3_and_token_mean() {
    check(
        true,
        KlEstimator::LowVarKl,
        "low_var_kl",
        Aggregation::TokenMean,
        "token-mean",
    );
}
