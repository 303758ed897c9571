//! Golden StableHLO: the text the builder emits for three small programs, kept under `hlo/` so a
//! reviewer sees what runs on the device, and compared here byte for byte. Each golden file is
//! also compiled and executed on the CPU plugin with fixed inputs, and its outputs are checked
//! against an independent computation on the host (f64) and against the same program rebuilt by
//! the builder (with source locations, so different text) and run:
//! - mlp_train_step: loss, parameters and Adam moments after one clipped AdamW step, against a
//!   host forward, hand-written backward and AdamW; tolerance 1e-6 of each array's largest
//!   value, measured worst 8.8e-8 (f32 on the device).
//! - attention_block_shardy: run on 4 devices from its shards, against a host GQA attention
//!   (rope, soft-cap, sliding window); tolerance 1e-6 of the largest output, measured 7.5e-8.
//! - sampling_loop: tokens are the argmax where one logit dominates, stay inside the support,
//!   and follow softmax(logits) in frequency over 128 seeds (each count within 5 sigma; measured
//!   within 1.6 sigma); the RNG state moves and the same state gives the same tokens.
//!
//! After an intended change: `UPDATE_GOLDEN=1 cargo test --test golden`, then review the diff.

mod common;

use std::sync::Arc;

use common::{cpu_client, values};
use grpo_xla::graph::exec::run_executable;
use grpo_xla::graph::{EmitOptions, Graph, HostArray, Mesh, Module, Shape, Sharding};
use grpo_xla::grpo::optimizer::{adamw_step, AdamWConfig};
use grpo_xla::models::layers::{
    attention, gated_mlp, AttentionConfig, AttentionWeights, QkvWeights,
};
use grpo_xla::pjrt::{Client, ElementType, LoadedExecutable};

fn no_locations(shardy: bool) -> EmitOptions {
    EmitOptions {
        shardy,
        locations: false,
    }
}

/// Compares the golden text with `module`, compiles the golden text, and returns it compiled
/// (with a client of the module's device count).
fn check_golden(name: &str, module: &Module) -> (Client, Arc<LoadedExecutable>) {
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
    let exe = client
        .compile(&golden, &module.compile_options())
        .unwrap_or_else(|e| panic!("{name} does not compile: {e}"));
    (client, exe)
}

/// max |a - b| / max |b|.
fn rel_err(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    let scale = b.iter().fold(0f64, |m, v| m.max(v.abs())).max(1e-30);
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0f64, f64::max)
        / scale
}

fn scaled(n: usize, seed: u64, scale: f32) -> Vec<f32> {
    values(n, seed).iter().map(|v| v * scale).collect()
}

/// Row-major [m, k] · [k, n] in f64.
fn matmul(a: &[f64], b: &[f64], m: usize, k: usize, n: usize) -> Vec<f64> {
    let mut c = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            c[i * n + j] = (0..k).map(|l| a[i * k + l] * b[l * n + j]).sum();
        }
    }
    c
}

fn transpose(a: &[f64], m: usize, n: usize) -> Vec<f64> {
    let mut t = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            t[j * m + i] = a[i * n + j];
        }
    }
    t
}

/// gelu with the tanh approximation, and its derivative.
fn gelu(a: f64) -> (f64, f64) {
    let c = (2.0 / std::f64::consts::PI).sqrt();
    let u = c * (a + 0.044715 * a * a * a);
    let t = u.tanh();
    let du = c * (1.0 + 3.0 * 0.044715 * a * a);
    (
        0.5 * a * (1.0 + t),
        0.5 * (1.0 + t) + 0.5 * a * (1.0 - t * t) * du,
    )
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
    let w = |i: usize| params[i].clone().into();
    let loss = (gated_mlp(&x, &w(0), &w(1), &w(2)) - &y)
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
    let (client, exe) = check_golden(
        "mlp_train_step.mlir",
        &g.build_with(&results, &no_locations(false)).unwrap(),
    );

    // Inputs: gradients large enough that clipping (norm 1) acts; moments from earlier steps;
    // step 3 of a 10-step warmup, so the learning rate is 3e-4.
    let (b, d, f) = (4usize, 8usize, 16usize);
    let x = scaled(b * d, 1, 1.0);
    let y = scaled(b * d, 2, 1.0);
    let p: Vec<Vec<f32>> = vec![
        scaled(d * f, 3, 0.8),
        scaled(d * f, 4, 0.8),
        scaled(f * d, 5, 0.8),
    ];
    let mu: Vec<Vec<f32>> = (0..3).map(|i| scaled(d * f, 6 + i, 0.05)).collect();
    let nu: Vec<Vec<f32>> = (0..3)
        .map(|i| {
            values(d * f, 9 + i)
                .iter()
                .map(|v| v.abs() * 0.01)
                .collect()
        })
        .collect();
    let step = 3;
    let dims = [[d, f], [d, f], [f, d]].map(|[a, b]| [a as i64, b as i64]);
    let mut args = vec![
        HostArray::new(&x, &[b as i64, d as i64]),
        HostArray::new(&y, &[b as i64, d as i64]),
    ];
    for group in [&p, &mu, &nu] {
        for (v, dm) in group.iter().zip(&dims) {
            args.push(HostArray::new(v, dm));
        }
    }
    args.push(HostArray::scalar(step));
    let golden = run_executable(&exe, &client, &args).unwrap();
    let rebuilt = g.build(&results).unwrap().run(&client, &args).unwrap();
    assert_eq!(
        golden, rebuilt,
        "the rebuilt program (with locations) disagrees"
    );

    // The host: forward, loss, backward by hand, global-norm clipping, AdamW.
    let f64s = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<f64>>();
    let (xh, yh) = (f64s(&x), f64s(&y));
    let (gate, up, down) = (f64s(&p[0]), f64s(&p[1]), f64s(&p[2]));
    let a = matmul(&xh, &gate, b, d, f);
    let u = matmul(&xh, &up, b, d, f);
    let h: Vec<f64> = a.iter().zip(&u).map(|(&a, &u)| gelu(a).0 * u).collect();
    let o = matmul(&h, &down, b, f, d);
    let n = (b * d) as f64;
    let loss = o.iter().zip(&yh).map(|(o, y)| (o - y).powi(2)).sum::<f64>() / n;
    let d_o: Vec<f64> = o.iter().zip(&yh).map(|(o, y)| 2.0 * (o - y) / n).collect();
    let g_down = matmul(&transpose(&h, b, f), &d_o, f, b, d);
    let d_h = matmul(&d_o, &transpose(&down, f, d), b, d, f);
    let d_u: Vec<f64> = d_h.iter().zip(&a).map(|(g, &a)| g * gelu(a).0).collect();
    let d_a: Vec<f64> = (0..b * f).map(|i| d_h[i] * u[i] * gelu(a[i]).1).collect();
    let xt = transpose(&xh, b, d);
    let grads = [
        matmul(&xt, &d_a, d, b, f),
        matmul(&xt, &d_u, d, b, f),
        g_down,
    ];
    let norm = grads.iter().flatten().map(|g| g * g).sum::<f64>().sqrt();
    assert!(norm > 1.0, "clipping should act: gradient norm {norm}");
    let clip = 1.0 / norm;
    let lr = 1e-3 * step as f64 / 10.0;
    let t = step as f64 + 1.0;
    let mut want: Vec<Vec<f64>> = vec![vec![loss]];
    let (mut new_mu, mut new_nu) = (vec![], vec![]);
    for i in 0..3 {
        let params = f64s(&p[i]);
        let (m0, v0) = (f64s(&mu[i]), f64s(&nu[i]));
        let m: Vec<f64> = (0..params.len())
            .map(|j| 0.9 * m0[j] + 0.1 * grads[i][j] * clip)
            .collect();
        let v: Vec<f64> = (0..params.len())
            .map(|j| 0.99 * v0[j] + 0.01 * (grads[i][j] * clip).powi(2))
            .collect();
        want.push(
            (0..params.len())
                .map(|j| {
                    let m_hat = m[j] / (1.0 - 0.9f64.powf(t));
                    let v_hat = v[j] / (1.0 - 0.99f64.powf(t));
                    params[j] - lr * (m_hat / (v_hat.sqrt() + 1e-8) + 0.1 * params[j])
                })
                .collect(),
        );
        new_mu.push(m);
        new_nu.push(v);
    }
    want.extend(new_mu);
    want.extend(new_nu);
    let names = [
        "loss", "gate", "up", "down", "mu_gate", "mu_up", "mu_down", "nu_gate", "nu_up", "nu_down",
    ];
    assert_eq!(golden.len(), names.len());
    for ((got, want), name) in golden.iter().zip(&want).zip(names) {
        let err = rel_err(&got.to_f64(), want);
        eprintln!("mlp_train_step {name}: {err:.2e} of its largest value");
        assert!(err <= 1e-6, "mlp_train_step {name}: error {err:.2e}");
    }
    // The step moved the parameters by more than the tolerance.
    assert!(rel_err(&want[1], &f64s(&p[0])) > 1e-5);
}

/// Host attention in f64, written from the definition: q = x·Wq, (k, v) = x·Wkv, rotary
/// embedding on both (halves rotated, timescale base^(2i/H)), q scaled, query head n reads kv
/// head n / (N/K), logits soft-capped, key position in [query - window + 1, query], softmax,
/// then the output projection. Shapes: x [B, T, D], q [N, D, H], kv [2, K, D, H], o [N, H, D].
#[allow(clippy::too_many_arguments)]
fn host_attention(
    x: &[f64],
    pos: &[i32],
    wq: &[f64],
    wkv: &[f64],
    wo: &[f64],
    (b_, t_, d_, n_, k_, h_): (usize, usize, usize, usize, usize, usize),
    (scale, base, cap, window): (f64, f64, f64, i32),
) -> Vec<f64> {
    let half = h_ / 2;
    let rope = |v: &mut [f64], p: i32| {
        for i in 0..half {
            let angle = p as f64 / base.powf(2.0 * i as f64 / h_ as f64);
            let (sin, cos) = angle.sin_cos();
            let (a, b) = (v[i], v[i + half]);
            v[i] = a * cos - b * sin;
            v[i + half] = b * cos + a * sin;
        }
    };
    // project[b][t][head][h] = Σ_d x[b, t, d]·w[head, d, h] for w laid out [heads, D, H].
    let project = |w: &[f64], heads: usize, b: usize, t: usize| -> Vec<Vec<f64>> {
        (0..heads)
            .map(|n| {
                (0..h_)
                    .map(|h| {
                        (0..d_)
                            .map(|d| x[(b * t_ + t) * d_ + d] * w[(n * d_ + d) * h_ + h])
                            .sum()
                    })
                    .collect()
            })
            .collect()
    };
    let (wk, wv) = wkv.split_at(k_ * d_ * h_);
    let mut y = vec![0.0; b_ * t_ * d_];
    for b in 0..b_ {
        let p = |t: usize| pos[b * t_ + t];
        let keys: Vec<Vec<Vec<f64>>> = (0..t_)
            .map(|s| {
                let mut k = project(wk, k_, b, s);
                k.iter_mut().for_each(|v| rope(v, p(s)));
                k
            })
            .collect();
        let vals: Vec<Vec<Vec<f64>>> = (0..t_).map(|s| project(wv, k_, b, s)).collect();
        for t in 0..t_ {
            let mut q = project(wq, n_, b, t);
            for n in 0..n_ {
                rope(&mut q[n], p(t));
                let kh = n / (n_ / k_);
                let seen: Vec<usize> = (0..t_)
                    .filter(|&s| p(s) <= p(t) && p(t) - p(s) < window)
                    .collect();
                let logits: Vec<f64> = seen
                    .iter()
                    .map(|&s| {
                        let l: f64 = (0..h_).map(|h| q[n][h] * scale * keys[s][kh][h]).sum();
                        (l / cap).tanh() * cap
                    })
                    .collect();
                let top = logits.iter().fold(f64::NEG_INFINITY, |m, &l| m.max(l));
                let e: Vec<f64> = logits.iter().map(|l| (l - top).exp()).collect();
                let z: f64 = e.iter().sum();
                for h in 0..h_ {
                    let enc: f64 = seen
                        .iter()
                        .zip(&e)
                        .map(|(&s, w)| w / z * vals[s][kh][h])
                        .sum();
                    for d in 0..d_ {
                        y[(b * t_ + t) * d_ + d] += enc * wo[(n * h_ + h) * d_ + d];
                    }
                }
            }
        }
    }
    y
}

/// A windowed, soft-capped GQA attention block on a 2x2 mesh (batch x heads), Shardy annotations.
#[test]
fn attention_block_sharded() {
    let mesh = Mesh::new(&[("data", 2), ("model", 2)]);
    let shardings = [
        Sharding::split(3, 0, "data"),
        Sharding::split(2, 0, "data"),
        Sharding::split(3, 0, "model"),
        Sharding::split(4, 1, "model"),
        Sharding::split(3, 0, "model"),
    ];
    let result_sharding = Sharding::split(3, 0, "data");
    let g = Graph::new("attention_block");
    g.set_mesh(mesh.clone());
    let x = g.parameter("x", Shape::f32(&[2, 4, 16]));
    let pos = g.parameter("positions", Shape::i32(&[2, 4]));
    let q = g.parameter("q", Shape::f32(&[2, 16, 8]));
    let kv = g.parameter("kv", Shape::f32(&[2, 2, 16, 8]));
    let o = g.parameter("o", Shape::f32(&[2, 8, 16]));
    for (p, sh) in [&x, &pos, &q, &kv, &o].into_iter().zip(&shardings) {
        g.shard_parameter(p, sh.clone());
    }
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
            qkv: QkvWeights::Tunix {
                q: q.into(),
                kv: kv.into(),
            },
            out: o.into(),
            q_norm: None,
            k_norm: None,
        },
        &cfg,
    );
    let module = g
        .build_sharded(
            std::slice::from_ref(&y),
            &[Some(result_sharding.clone())],
            &no_locations(true),
        )
        .unwrap();
    let (client, exe) = check_golden("attention_block_shardy.mlir", &module);

    // Inputs, sharded by hand over the four devices; positions with a gap and an offset row.
    let xs = scaled(2 * 4 * 16, 21, 1.0);
    let positions: Vec<i32> = vec![0, 1, 2, 5, 7, 8, 9, 10];
    let qs = scaled(2 * 16 * 8, 22, 0.5);
    let kvs = scaled(2 * 2 * 16 * 8, 23, 0.5);
    let os = scaled(2 * 8 * 16, 24, 0.5);
    let arrays: [(&[f32], &[i64]); 4] = [
        (&xs, &[2, 4, 16]),
        (&qs, &[2, 16, 8]),
        (&kvs, &[2, 2, 16, 8]),
        (&os, &[2, 8, 16]),
    ];
    let run_sharded = |exe: &LoadedExecutable| -> Vec<Vec<f32>> {
        let buffers: Vec<Vec<_>> = (0..4)
            .map(|dev| {
                let up = |(data, dims): (&[f32], &[i64]), sh: &Sharding| {
                    let (part, part_dims) = sh.shard(&mesh, data, dims, dev).unwrap();
                    client
                        .buffer_from_host(&part, &part_dims, dev as usize)
                        .unwrap()
                };
                let (pp, pd) = shardings[1].shard(&mesh, &positions, &[2, 4], dev).unwrap();
                vec![
                    up(arrays[0], &shardings[0]),
                    client.buffer_from_host(&pp, &pd, dev as usize).unwrap(),
                    up(arrays[1], &shardings[2]),
                    up(arrays[2], &shardings[3]),
                    up(arrays[3], &shardings[4]),
                ]
            })
            .collect();
        let outputs = common::execute_on_devices(exe, &buffers);
        outputs
            .iter()
            .map(|o| o[0].to_vec::<f32>().unwrap())
            .collect()
    };
    let golden = run_sharded(&exe);
    let rebuilt = g
        .build_sharded(
            &[y],
            &[Some(result_sharding.clone())],
            &EmitOptions {
                shardy: true,
                locations: true,
            },
        )
        .unwrap()
        .compile(&client)
        .unwrap();
    assert_eq!(
        golden,
        run_sharded(&rebuilt),
        "the rebuilt program (with locations) disagrees"
    );

    let f64s = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<f64>>();
    let want = host_attention(
        &f64s(&xs),
        &positions,
        &f64s(&qs),
        &f64s(&kvs),
        &f64s(&os),
        (2, 4, 16, 2, 2, 8),
        (8f64.powf(-0.5), 10000.0, 50.0, 2),
    );
    let scale = want.iter().fold(0f64, |m, v| m.max(v.abs()));
    let mut worst = 0f64;
    for dev in 0..4 {
        let (part, dims) = result_sharding
            .shard(&mesh, &want, &[2, 4, 16], dev)
            .unwrap();
        assert_eq!(dims, vec![1, 4, 16], "device {dev}");
        let got = f64s(&golden[dev as usize]);
        let err = got
            .iter()
            .zip(&part)
            .map(|(a, b)| (a - b).abs())
            .fold(0f64, f64::max)
            / scale;
        worst = worst.max(err);
    }
    eprintln!("attention_block_shardy: worst {worst:.2e} of the largest output ({scale:.3})");
    assert!(worst <= 1e-6, "attention_block_shardy: error {worst:.2e}");
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
    let results = [out[2].clone(), out[1].clone()];
    let (client, exe) = check_golden(
        "sampling_loop.mlir",
        &g.build_with(&results, &no_locations(false)).unwrap(),
    );
    let rebuilt = g.build(&results).unwrap().compile(&client).unwrap();
    let sample = |exe: &LoadedExecutable, logits: &[f32], seed: u64| -> (Vec<i32>, Vec<u64>) {
        let args = [
            HostArray::new(logits, &[2, 16]),
            HostArray::new(&[seed, seed.wrapping_mul(0x9e37_79b9_7f4a_7c15)], &[2]),
        ];
        let out = run_executable(exe, &client, &args).unwrap();
        (out[0].to_vec::<i32>(), out[1].to_vec::<u64>())
    };

    // One logit 30 above the rest (Gumbel noise of f32 uniforms lies in [-4.5, 16.7]): every
    // draw is that token. Row 0 peaks at 5, row 1 at 11.
    let mut peaked = vec![0f32; 32];
    peaked[5] = 30.0;
    peaked[16 + 11] = 30.0;
    for seed in 0..8 {
        let (tokens, state) = sample(&exe, &peaked, seed);
        assert_eq!(tokens, [5, 5, 5, 5, 11, 11, 11, 11], "seed {seed}");
        assert_ne!(
            state,
            [seed, seed.wrapping_mul(0x9e37_79b9_7f4a_7c15)],
            "the RNG state did not move"
        );
        assert_eq!(
            sample(&rebuilt, &peaked, seed),
            (tokens, state),
            "rebuilt program"
        );
    }

    // Frequencies follow softmax(logits): row 0 over {0, 1, 2, 3} with p = .4 .3 .2 .1, row 1 two
    // equal logits at 3 and 9; the rest -1e30. 128 seeds x 4 draws = 512 draws per row.
    let mut logits = vec![-1e30f32; 32];
    for (i, p) in [0.4f32, 0.3, 0.2, 0.1].iter().enumerate() {
        logits[i] = p.ln();
    }
    logits[16 + 3] = 0.0;
    logits[16 + 9] = 0.0;
    let mut counts = [[0usize; 16]; 2];
    for seed in 100..228 {
        let (tokens, _) = sample(&exe, &logits, seed);
        assert_eq!(
            sample(&exe, &logits, seed).0,
            tokens,
            "same state, other tokens"
        );
        for (i, &t) in tokens.iter().enumerate() {
            counts[i / 4][t as usize] += 1;
        }
    }
    let expected: [(usize, usize, f64); 6] = [
        (0, 0, 0.4),
        (0, 1, 0.3),
        (0, 2, 0.2),
        (0, 3, 0.1),
        (1, 3, 0.5),
        (1, 9, 0.5),
    ];
    for (row, token, p) in expected {
        let n = 512.0;
        let sigma = (n * p * (1.0 - p)).sqrt();
        let c = counts[row][token] as f64;
        eprintln!(
            "sampling_loop row {row} token {token}: {c} draws, expected {:.0} ± {sigma:.1}",
            n * p
        );
        assert!(
            (c - n * p).abs() <= 5.0 * sigma,
            "row {row} token {token}: {c} of 512, expected {}",
            n * p
        );
    }
    let inside: usize = expected.iter().map(|&(r, t, _)| counts[r][t]).sum();
    assert_eq!(
        inside, 1024,
        "a token outside the support was drawn: {counts:?}"
    );
}
