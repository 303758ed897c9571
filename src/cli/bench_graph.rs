//! `grpo-xla bench graph`: what a train step's program costs before the model exists — host
//! time to build and emit N Gemma blocks with their backward pass, and XLA's compile time, side
//! by side with jax.jit's trace+lower and compile of the same math.

use std::time::Instant;

use anyhow::Result;
use grpo_xla::graph::{EmitOptions, Graph, Shape, Tensor};
use grpo_xla::models::layers::{
    attention_mask, gemma_block, AttentionConfig, AttentionWeights, BlockWeights, KeyValues,
    QkvWeights,
};
use serde_json::json;

use super::bench::BenchRow;
use super::DeviceArgs;

/// Gemma 3 270M's block: D 640, F 2048, 4 query heads, 1 kv head, head dim 256.
const D: i64 = 640;
const F: i64 = 2048;
const N: i64 = 4;
const K: i64 = 1;
const H: i64 = 256;

fn config() -> AttentionConfig {
    AttentionConfig {
        num_heads: N,
        num_kv_heads: K,
        head_dim: H,
        query_scale: (H as f64).powf(-0.5),
        rope_base: 10000.0,
        rope_scale: 1.0,
        softcap: None,
        window: Some(512),
        rms_eps: 1e-6,
    }
}

/// loss = mean(blocks(x)²), gradients for every weight.
fn build(layers: usize, batch: i64, seq: i64) -> Result<String> {
    let g = Graph::new("blocks");
    let x = g.parameter("x", Shape::f32(&[batch, seq, D]));
    let positions = g.parameter("positions", Shape::i32(&[batch, seq]));
    let mut weights: Vec<Tensor> = vec![];
    let mut h = x;
    let mask = attention_mask(&positions, &positions, config().window);
    for l in 0..layers {
        let mut p = |name: &str, dims: &[i64]| {
            let t = g.parameter(&format!("layers.{l}.{name}"), Shape::f32(dims));
            weights.push(t.clone());
            t
        };
        // Created in `param_specs` order, the order of `weights` and so of the gradients.
        let w = BlockWeights {
            pre_attention_norm: p("pre_attention_norm", &[D]),
            attention: AttentionWeights {
                qkv: QkvWeights::Tunix {
                    q: p("attn.q_einsum.w", &[N, D, H]).into(),
                    kv: p("attn.kv_einsum.w", &[2, K, D, H]).into(),
                },
                out: p("attn.attn_vec_einsum.w", &[N, H, D]).into(),
                q_norm: Some(p("attn._query_norm.scale", &[H])),
                k_norm: Some(p("attn._key_norm.scale", &[H])),
            },
            post_attention_norm: p("post_attention_norm", &[D]),
            pre_ffw_norm: p("pre_ffw_norm", &[D]),
            gate: p("mlp.gate_proj.kernel", &[D, F]).into(),
            up: p("mlp.up_proj.kernel", &[D, F]).into(),
            down: p("mlp.down_proj.kernel", &[F, D]).into(),
            post_ffw_norm: p("post_ffw_norm", &[D]),
        };
        h = g.scope(&format!("layer{l}"), || {
            gemma_block(&h, &positions, &mask, &w, &config(), KeyValues::Own).0
        });
    }
    let loss = h.square().mean(&[0, 1, 2], false);
    let grads = g.grad(&loss, &weights)?;
    let module = g.build_with(&[vec![loss], grads].concat(), &EmitOptions::default())?;
    Ok(module.text)
}

const JAX_SCRIPT: &str = r#"
import time, jax, jax.numpy as jnp

D, F, N, K, H = 640, 2048, 4, 1, 256

def rms(x, s):
    return x * jax.lax.rsqrt(jnp.mean(x * x, -1, keepdims=True) + 1e-6) * (1 + s)

def rope(x, pos, base=10000.0):
    frac = 2 * jnp.arange(H // 2) / H
    ang = (pos[..., None] / base ** frac)[..., None, :]
    a, b = jnp.split(x, 2, -1)
    return jnp.concatenate([a * jnp.cos(ang) - b * jnp.sin(ang), b * jnp.cos(ang) + a * jnp.sin(ang)], -1)

def block(x, pos, w):
    h = rms(x, w["pre_attn"])
    q = rms(jnp.einsum("BTD,NDH->BTNH", h, w["q"]), w["qn"])
    k, v = jnp.einsum("BSD,CKDH->CBSKH", h, w["kv"])
    k = rms(k, w["kn"])
    q, k = rope(q, pos) * H ** -0.5, rope(k, pos)
    b, t = x.shape[:2]
    logits = jnp.einsum("BTKGH,BSKH->BTKGS", q.reshape(b, t, K, N // K, H), k)
    i = jnp.arange(t)
    mask = (i[None, :] <= i[:, None]) & (i[:, None] - i[None, :] < 512)
    logits = jnp.where(mask[None, :, None, None, :], logits, -2.3819763e38)
    enc = jnp.einsum("BTKGS,BSKH->BTKGH", jax.nn.softmax(logits, -1), v).reshape(b, t, N, H)
    x = x + rms(jnp.einsum("BTNH,NHD->BTD", enc, w["o"]), w["post_attn"])
    h = rms(x, w["pre_ffw"])
    m = (jax.nn.gelu(h @ w["gate"], approximate=True) * (h @ w["up"])) @ w["down"]
    return x + rms(m, w["post_ffw"])

def main(inputs):
    rows = []
    for layers in inputs["layers"]:
        shapes = {"pre_attn": (D,), "q": (N, D, H), "kv": (2, K, D, H), "o": (N, H, D), "qn": (H,), "kn": (H,),
                  "post_attn": (D,), "pre_ffw": (D,), "gate": (D, F), "up": (D, F), "down": (F, D), "post_ffw": (D,)}
        ws = [{k: jax.ShapeDtypeStruct(s, jnp.float32) for k, s in shapes.items()} for _ in range(layers)]
        x = jax.ShapeDtypeStruct((inputs["batch"], inputs["seq"], D), jnp.float32)
        pos = jax.ShapeDtypeStruct((inputs["batch"], inputs["seq"]), jnp.float32)
        def loss(ws, x, pos):
            for w in ws:
                x = block(x, pos, w)
            return jnp.mean(x * x)
        f = jax.jit(jax.value_and_grad(loss))
        t0 = time.perf_counter()
        lowered = f.lower(ws, x, pos)
        t1 = time.perf_counter()
        compile_s = None
        if inputs["compile"]:
            lowered.compile()
            compile_s = time.perf_counter() - t1
        rows.append({"layers": layers, "lower_s": t1 - t0, "compile_s": compile_s})
    return {"rows": rows, "jax": jax.__version__}
"#;

pub fn run(
    device: &DeviceArgs,
    layers: &[usize],
    batch: i64,
    seq: i64,
    compile: bool,
    with_jax: bool,
    json_out: Option<&std::path::PathBuf>,
) -> Result<()> {
    let client = if compile {
        Some(device.client()?)
    } else {
        None
    };
    let mut rows = vec![];
    for &n in layers {
        let start = Instant::now();
        let text = build(n, batch, seq)?;
        let build_s = start.elapsed().as_secs_f64();
        let compile_s = match &client {
            Some(client) => {
                let start = Instant::now();
                client.compile_uncached(
                    text.as_bytes(),
                    &grpo_xla::pjrt::CompileOptions::default(),
                )?;
                Some(start.elapsed().as_secs_f64())
            }
            None => None,
        };
        eprintln!(
            "{n} layers: built and emitted {:.1} MB in {build_s:.3} s",
            text.len() as f64 / 1e6
        );
        rows.push((n, build_s, text.len(), compile_s));
    }
    let jax = if with_jax {
        eprintln!("tracing and lowering the same blocks with jax.jit ...");
        Some(grpo_xla::reference::run(
            JAX_SCRIPT,
            &json!({"layers": layers, "batch": batch, "seq": seq, "compile": compile}),
        )?)
    } else {
        None
    };
    println!("N Gemma 3 270M blocks (D {D}, F {F}, {N} heads, {K} kv head) + backward, batch {batch} x {seq} tokens, f32");
    println!("| layers | grpo-xla build+emit | StableHLO | jax trace+lower | ratio | grpo-xla XLA compile | jax XLA compile |");
    println!("|-------:|--------------------:|----------:|----------------:|------:|---------------------:|----------------:|");
    let mut json_rows = vec![];
    for (i, (n, build_s, bytes, compile_s)) in rows.iter().enumerate() {
        let jr = jax.as_ref().map(|j| &j["rows"][i]);
        let lower = jr.and_then(|r| r["lower_s"].as_f64());
        let jcompile = jr.and_then(|r| r["compile_s"].as_f64());
        let fmt = |v: Option<f64>| v.map_or("-".to_string(), |s| format!("{s:.3} s"));
        let ratio = lower.map_or("-".to_string(), |l| format!("{:.1}x", l / build_s));
        println!(
            "| {n:>6} | {:>17.3} s | {:>6.1} MB | {:>15} | {ratio:>5} | {:>20} | {:>15} |",
            build_s,
            *bytes as f64 / 1e6,
            fmt(lower),
            fmt(*compile_s),
            fmt(jcompile)
        );
        json_rows.push(
            BenchRow::new(
                &format!("{n} blocks: build+emit vs trace+lower"),
                *build_s,
                lower,
                "s",
                true,
            )
            .against("jax.jit"),
        );
        if let Some(c) = compile_s {
            json_rows.push(
                BenchRow::new(&format!("{n} blocks: XLA compile"), *c, jcompile, "s", true)
                    .against("jax.jit"),
            );
        }
    }
    if let Some(path) = json_out {
        BenchRow::write_json(&json_rows, path)?;
    }
    Ok(())
}
