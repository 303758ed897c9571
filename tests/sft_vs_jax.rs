//! The supervised loss and every parameter's gradient against JAX on a tiny Gemma 3 and the
//! batch our SFT packing builds: Tunix's model gives the completion positions' logits, and
//! `optax.softmax_cross_entropy_with_integer_labels` on the target ids, masked and averaged over
//! target tokens, is differentiated with jax.grad. Prompts are left-padded and targets
//! right-padded to different lengths, so the masks matter. Ours is computed twice: one example
//! a row, and packed as the SFT phase trains (two examples in one row, one in the other, each
//! attending only to itself). Tolerance: loss within 1e-5 relative; each gradient within 1e-5
//! of its largest value (measured worst printed).

mod common;

use std::sync::Arc;

use common::cpu_client;
use grpo_xla::data::Example;
use grpo_xla::graph::{Graph, HostArray};
use grpo_xla::grpo::head::HeadGradient;
use grpo_xla::grpo::programs::{
    packed_cross_entropy, target_cross_entropy, Geometry, PackedRows, PackedSftBatch, Sequences,
};
use grpo_xla::models::gemma::{random_params, Family, GemmaConfig, GemmaWeights};
use grpo_xla::models::hf::save_params;
use grpo_xla::models::tokenizer::TextTokenizer;
use grpo_xla::reference;
use grpo_xla::train::sft::{encode_example, pack_examples};
use grpo_xla::train::sft_packing::PackedExamples;
use serde_json::json;

const SCRIPT: &str = concat!(
    include_str!("reference/tunix_gemma.py"),
    include_str!("reference/sft_loss.py"),
    include_str!("reference/jax_sft.py")
);

#[test]
fn sft_loss_and_gradients_equal_optax_cross_entropy_through_tunix() {
    let cfg = GemmaConfig::tiny(Family::Gemma3);
    let params = random_params(&cfg, 21);
    let dir = tempfile::tempdir().unwrap();
    save_params(dir.path(), &cfg, &params).unwrap();
    let geo = Geometry {
        batch: 3,
        prompt_len: 12,
        completion_len: 64,
    };
    let tokenizer = Arc::new(TextTokenizer::Bytes);
    let examples = [
        ("2+2?", "2 plus 2", "4"),
        ("Name it", "it is x", "x"),
        (
            "?",
            "a long reasoning that goes on and on, past the target limit",
            "7",
        ),
    ];
    let examples: Vec<Example> = examples
        .iter()
        .map(|(q, r, a)| Example {
            question: q.to_string(),
            reasoning: Some(r.to_string()),
            answer: a.to_string(),
            domain: "math".into(),
            steps: None,
        })
        .collect();
    let refs: Vec<&Example> = examples.iter().collect();
    let packed = pack_examples(&tokenizer, &refs, geo).unwrap();
    // Targets end with the end-of-turn token unless cut; the long one is cut at 64.
    let target_len = |r: usize| {
        packed.completion_mask[r * 64..(r + 1) * 64]
            .iter()
            .sum::<f32>()
    };
    let last_target = packed.tokens[12 + target_len(0) as usize - 1] as u32;
    assert_eq!(last_target, tokenizer.end_of_turn());
    assert_eq!(target_len(2), 64.0, "the long target is cut");

    let g = Graph::new("sft_loss");
    let (_, tensors) = GemmaWeights::parameters(&g, &cfg);
    let w = GemmaWeights::from_tensors(&cfg, &tensors);
    let t = geo.seq_len();
    let seq = Sequences {
        tokens: g.parameter("tokens", grpo_xla::graph::Shape::i32(&[3, t])),
        valid: g.parameter("valid", grpo_xla::graph::Shape::i32(&[3, t])),
    };
    let mask = g.parameter("mask", grpo_xla::graph::Shape::f32(&[3, 64]));
    let (loss, _) = target_cross_entropy(&cfg, &w, &seq, &mask, geo, HeadGradient::Full);
    let grads = g.grad(&loss, &tensors).unwrap();
    let module = g.build(&[vec![loss], grads].concat()).unwrap();
    let mut args = params.clone();
    args.extend([
        HostArray::new(&packed.tokens, &[3, t]),
        HostArray::new(&packed.valid, &[3, t]),
        HostArray::new(&packed.completion_mask, &[3, 64]),
    ]);
    let ours = module.run(&cpu_client(1), &args).unwrap();
    let encoded: Vec<_> = refs
        .iter()
        .map(|e| encode_example(&tokenizer, e, 12, 64).unwrap())
        .collect();
    let ours_packed =
        packed_loss_and_gradients(&cfg, &params, &PackedExamples::pack(&encoded, 2).unwrap());

    let split = |from: usize, len: usize| -> Vec<i32> {
        packed
            .tokens
            .chunks(t as usize)
            .flat_map(|row| row[from..from + len].to_vec())
            .collect()
    };
    let theirs = reference::run(
        SCRIPT,
        &json!({
            "family": "gemma3", "model_dir": dir.path(),
            "config": {"num_layers": cfg.num_layers, "vocab": cfg.vocab_size, "d": cfg.embed_dim, "f": cfg.hidden_dim,
                       "n": cfg.num_heads, "h": cfg.head_dim, "k": cfg.num_kv_heads, "window": cfg.sliding_window},
            "prompt_ids": reference::array(&[3, 12], "i32", &split(0, 12)),
            "target_ids": reference::array(&[3, 64], "i32", &split(12, 64)),
            "target_mask": reference::array(&[3, 64], "f32", &packed.completion_mask),
        }),
    )
    .unwrap();
    for (form, ours) in [("one example a row", &ours), ("packed", &ours_packed)] {
        eprintln!("{form}:");
        assert_close_to_jax(&cfg, ours, &theirs);
    }
}

/// Loss then every parameter's gradient, for `packed` examples.
fn packed_loss_and_gradients(
    cfg: &GemmaConfig,
    params: &[HostArray],
    packed: &PackedExamples,
) -> Vec<HostArray> {
    use grpo_xla::graph::Shape;
    assert_eq!(packed.geo.rows, 2, "two examples share a row");
    let g = Graph::new("packed_sft_loss");
    let (_, tensors) = GemmaWeights::parameters(&g, cfg);
    let w = GemmaWeights::from_tensors(cfg, &tensors);
    let (r, l, t) = (packed.geo.rows, packed.geo.row_len, packed.geo.targets);
    let batch = PackedSftBatch {
        rows: PackedRows {
            tokens: g.parameter("tokens", Shape::i32(&[r, l])),
            positions: g.parameter("positions", Shape::i32(&[r, l])),
            segments: g.parameter("segments", Shape::i32(&[r, l])),
            target_at: g.parameter("target_at", Shape::i32(&[r, t])),
            target_ids: g.parameter("target_ids", Shape::i32(&[r, t])),
        },
        target_mask: g.parameter("target_mask", Shape::f32(&[r, t])),
    };
    let (loss, _) = packed_cross_entropy(cfg, &w, &batch, HeadGradient::Full);
    let grads = g.grad(&loss, &tensors).unwrap();
    let module = g.build(&[vec![loss], grads].concat()).unwrap();
    let mut args = params.to_vec();
    args.extend([
        HostArray::new(&packed.tokens, &[r, l]),
        HostArray::new(&packed.positions, &[r, l]),
        HostArray::new(&packed.segments, &[r, l]),
        HostArray::new(&packed.target_at, &[r, t]),
        HostArray::new(&packed.target_ids, &[r, t]),
        HostArray::new(&packed.target_mask, &[r, t]),
    ]);
    module.run(&cpu_client(1), &args).unwrap()
}

fn assert_close_to_jax(cfg: &GemmaConfig, ours: &[HostArray], theirs: &serde_json::Value) {
    let (our_loss, their_loss) = (ours[0].to_f64()[0], theirs["loss"].as_f64().unwrap());
    eprintln!("loss: ours {our_loss}, jax {their_loss}");
    assert!(
        (our_loss - their_loss).abs() <= 1e-5 * their_loss.abs(),
        "loss: ours {our_loss}, jax {their_loss}"
    );
    let mut worst = 0f64;
    for (i, (name, _)) in cfg.param_specs().iter().enumerate() {
        let jax = reference::f64s(&theirs["grads"][name])
            .unwrap_or_else(|_| panic!("jax has no gradient named {name}"));
        let scale = jax.iter().fold(1e-12f64, |m, x| m.max(x.abs()));
        let err = ours[i + 1]
            .to_f64()
            .iter()
            .zip(&jax)
            .map(|(a, b)| (a - b).abs())
            .fold(0f64, f64::max)
            / scale;
        worst = worst.max(err);
        assert!(
            err <= 1e-5,
            "d loss / d {name}: error {err:.2e} of the largest value"
        );
    }
    eprintln!("gradients: worst relative error {worst:.2e}");
}
