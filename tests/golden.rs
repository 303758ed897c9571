//! Golden StableHLO: the text the builder emits for three small programs, kept under `hlo/` so a
//! reviewer sees what runs on the device, and compared here byte for byte. Each golden file is
//! also compiled and run, so a golden that XLA rejects cannot be committed.
//!
//! After an intended change: `UPDATE_GOLDEN=1 cargo test --test golden`, then review the diff.

mod common;

use common::cpu_client;
use grpo_xla::graph::{EmitOptions, Graph, Mesh, Module, Shape, Sharding};
use grpo_xla::grpo::optimizer::{adamw_step, AdamWConfig};
use grpo_xla::models::layers::{attention, gated_mlp, AttentionConfig, AttentionWeights};
use grpo_xla::pjrt::ElementType;

fn no_locations(shardy: bool) -> EmitOptions {
    EmitOptions {
        shardy,
        locations: false,
    }
}

fn check_golden(name: &str, module: &Module) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("hlo")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &module.text).unwrap();
    }
    let golden = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; create it with UPDATE_GOLDEN=1 cargo test --test golden",
            path.display()
        )
    });
    assert!(
        golden == module.text,
        "{} differs from what the builder emits now; if the change is intended run\n  UPDATE_GOLDEN=1 cargo test --test golden\nand review the diff. First differing line:\n{}",
        path.display(),
        golden.lines().zip(module.text.lines()).find(|(a, b)| a != b).map(|(a, b)| format!("golden: {a}\nnow:    {b}")).unwrap_or_default()
    );
    let client = cpu_client(module.num_partitions);
    client
        .compile(&golden, &module.compile_options())
        .unwrap_or_else(|e| panic!("{name} does not compile: {e}"));
}

/// A one-layer MLP regression step: forward, backward and AdamW update with donated state.
#[test]
fn mlp_train_step() {
    let g = Graph::new("mlp_train_step");
    let x = g.parameter("x", Shape::f32(&[4, 8]));
    let y = g.parameter("y", Shape::f32(&[4, 8]));
    let names = ["gate", "up", "down"];
    let shapes = [
        Shape::f32(&[8, 16]),
        Shape::f32(&[8, 16]),
        Shape::f32(&[16, 8]),
    ];
    let params: Vec<_> = names
        .iter()
        .zip(&shapes)
        .map(|(n, s)| g.parameter(n, s.clone()))
        .collect();
    let mu: Vec<_> = names
        .iter()
        .zip(&shapes)
        .map(|(n, s)| g.parameter(&format!("mu_{n}"), s.clone()))
        .collect();
    let nu: Vec<_> = names
        .iter()
        .zip(&shapes)
        .map(|(n, s)| g.parameter(&format!("nu_{n}"), s.clone()))
        .collect();
    let step = g.parameter("step", Shape::i32(&[]));
    let loss = (gated_mlp(&x, &params[0], &params[1], &params[2]) - &y)
        .square()
        .mean(&[0, 1], false);
    let grads = g.grad(&loss, &params).unwrap();
    let cfg = AdamWConfig {
        peak_lr: 1e-3,
        b1: 0.9,
        b2: 0.99,
        eps: 1e-8,
        weight_decay: 0.1,
        max_grad_norm: Some(1.0),
        warmup_steps: 10,
        decay_steps: 100,
    };
    let update = adamw_step(&params, &grads, &mu, &nu, &step, &cfg);
    for (i, p) in params.iter().chain(&mu).chain(&nu).enumerate() {
        g.donate_parameter(p, i + 1);
    }
    let results = [vec![loss], update.params, update.mu, update.nu].concat();
    check_golden(
        "mlp_train_step.mlir",
        &g.build_with(&results, &no_locations(false)).unwrap(),
    );
}

/// A windowed, soft-capped GQA attention block on a 2x2 mesh (batch x heads), Shardy annotations.
#[test]
fn attention_block_sharded() {
    let g = Graph::new("attention_block");
    g.set_mesh(Mesh::new(&[("data", 2), ("model", 2)]));
    let x = g.parameter("x", Shape::f32(&[2, 4, 16]));
    let pos = g.parameter("positions", Shape::i32(&[2, 4]));
    let q = g.parameter("q", Shape::f32(&[2, 16, 8]));
    let kv = g.parameter("kv", Shape::f32(&[2, 2, 16, 8]));
    let o = g.parameter("o", Shape::f32(&[2, 8, 16]));
    g.shard_parameter(&x, Sharding::split(3, 0, "data"));
    g.shard_parameter(&pos, Sharding::split(2, 0, "data"));
    g.shard_parameter(&q, Sharding::split(3, 0, "model"));
    g.shard_parameter(&kv, Sharding::split(4, 1, "model"));
    g.shard_parameter(&o, Sharding::split(3, 0, "model"));
    let cfg = AttentionConfig {
        num_heads: 2,
        num_kv_heads: 2,
        head_dim: 8,
        query_scale: 8f64.powf(-0.5),
        rope_base: 10000.0,
        rope_scale: 1.0,
        softcap: Some(50.0),
        window: Some(2),
        rms_eps: 1e-6,
    };
    let y = attention(
        &x,
        &pos,
        &AttentionWeights {
            q,
            kv,
            out: o,
            q_norm: None,
            k_norm: None,
        },
        &cfg,
    );
    let module = g
        .build_sharded(
            &[y],
            &[Some(Sharding::split(3, 0, "data"))],
            &no_locations(true),
        )
        .unwrap();
    check_golden("attention_block_shardy.mlir", &module);
}

/// Gumbel-max sampling of 4 tokens in an on-device while loop, threading the RNG state.
#[test]
fn sampling_loop() {
    let g = Graph::new("sampling_loop");
    let logits = g.parameter("logits", Shape::f32(&[2, 16]));
    let state = g.parameter("rng", Shape::new(ElementType::U64, &[2]));
    let tokens = g.zeros(Shape::i32(&[2, 4]));
    let i0 = g.scalar(0.0, ElementType::S32);
    let out = g.while_loop(
        &[i0, state, tokens],
        |s| s[0].lt(&s[0].scalar_like(4.0)),
        |s| {
            let (next, noise) = g.gumbel(&s[1], Shape::f32(&[2, 16]));
            let token = (&logits + &noise).argmax(-1).reshape(&[2, 1]);
            let zero = s[0].scalar_like(0.0);
            vec![
                &s[0] + 1.0,
                next,
                s[2].dynamic_update_slice(&token, &[zero, s[0].clone()]),
            ]
        },
    );
    check_golden(
        "sampling_loop.mlir",
        &g.build_with(&[out[2].clone(), out[1].clone()], &no_locations(false))
            .unwrap(),
    );
}
