//! The LoRA merge W + (α/r)·A·B, in each weight's Tunix layout, against two outside references:
//!
//! 1. The dense formula on the host in f64, written out index by index for every layout:
//!    q_einsum [N, D, H] += s·Σ_r A[d, r]·B[r, n·H + h]; kv_einsum [2, K, D, H] += s·Σ_r A[d, r]·
//!    B[r, (c·K + k)·H + h]; attn_vec_einsum [N, H, D] += s·Σ_r A[n·H + h, r]·B[r, d]; MLP
//!    kernels [in, out] += s·Σ_r A[i, r]·B[r, o]. Checked for `lora::merged` (built into a graph)
//!    and for the compiled `MergeProgram`, which the trainer uses.
//! 2. qwix's LoRA on Tunix's Gemma 3, applied the way Tunix's demo applies it (`LoraProvider`
//!    with module_path targets): qwix creates its own `<w>_lora_a`/`_lora_b` params, which must
//!    have exactly the names and shapes we export (`lora::export`); it is given our adapters, and
//!    W + qwix's delta (qwix's einsum string / dot_general, probed with an identity) must equal our
//!    merged W, and the LoRA model's logits must equal those of Tunix's plain model loaded from
//!    our merged weights, and those of our model with the adapters unmerged (`lora::attach`:
//!    x·W + s·(x·A)·B, what our training programs compute). Run on the tiny config (1 kv head)
//!    and on one with 4 heads over 2 kv heads, where a swapped (N, H) or (2, K, H) order would show.
//! 3. The gradients of a loss with respect to A and B through the unmerged model equal those
//!    through the merged one (the same function, differentiated along two different graphs).
//! 4. With the base weights in bf16 the adapters' gradients stay f32 and point where the f32
//!    model's do.
//!
//! Tolerances (relative to the largest |value| of each array):
//! - merge vs the f64 formula: 1e-6; measured 9.2e-8 (f32 rounding of a rank-3 sum and the add).
//! - merged weights vs W + qwix's delta: 1e-6, i.e. a few f32 ulps; measured 1.4e-16 (the same
//!   f32 values: both sides sum the same three products).
//! - LoRA model's logits vs the merged model's: 2e-5; measured 1.3e-6 (K 1) and 1.8e-6 (K 2):
//!   x·(W + s·A·B) and x·W + s·(x·A)·B round differently. The adapters move the logits by ~1.4
//!   (relative), so a wrong layout cannot pass. Our unmerged model's logits vs qwix's: the same
//!   2e-5; measured 1.7e-6 (K 1) and 1.5e-6 (K 2) (both compute x·W + s·(x·A)·B, summing in
//!   different orders).
//! - gradients, unmerged vs merged: 1e-4 of the largest |gradient| of each array; measured
//!   8.8e-6 at worst across the 48 arrays: f32 rounding along two graphs summing differently. A
//!   layout or scale error moves them by orders of magnitude more.
//! - bf16 base weights (`model.dtype: bf16`, f32 adapters) against f32: each adapter gradient's
//!   cosine with the f32 one ≥ 0.95 and its norm within 25% (see `BF16_MIN_COSINE`).

mod common;

use common::{cpu_client, values};
use grpo_xla::graph::{Graph, HostArray, Shape};
use grpo_xla::grpo::lora::{self, LoraConfig, LoraSpec};
use grpo_xla::grpo::programs::MergeProgram;
use grpo_xla::models::gemma::{forward, random_params, Family, GemmaConfig, GemmaWeights};
use grpo_xla::models::hf::{converted, save_params};
use grpo_xla::pjrt::ElementType;
use grpo_xla::reference;
use serde_json::json;

const SCRIPT: &str = concat!(
    include_str!("reference/tunix_gemma.py"),
    include_str!("reference/qwix_lora.py")
);
const MERGE_TOL: f64 = 1e-6;
const QWIX_WEIGHT_TOL: f64 = 1e-6;
const LOGITS_TOL: f64 = 2e-5;
const GRAD_TOL: f64 = 1e-4;
/// bf16 base weights against f32, per adapter gradient: its cosine with the f32 one and its
/// norm. bf16 keeps 8 bits of mantissa (3.9e-3 relative per rounding), and the backward pass
/// rounds at every matmul of six layers, so single entries move by up to a fifth of the largest
/// (measured 0.21), but the direction holds: measured lowest cosine 0.986, norms within 8.7%. A
/// wrong cast or layout gives cosines near 0.
const BF16_MIN_COSINE: f64 = 0.95;
const BF16_NORM_TOL: f64 = 0.25;
/// Tunix's demo notebook's targets.
const MODULE_PATH: &str =
    ".*q_einsum|.*kv_einsum|.*gate_proj|.*down_proj|.*up_proj|.*attn_vec_einsum";

fn lora_config() -> LoraConfig {
    LoraConfig {
        rank: 3,
        alpha: 6.0,
        targets: lora::default_targets(),
    }
}

/// A and B for every spec, both non-zero, so A·B is of the order of W.
fn adapters(specs: &[LoraSpec]) -> Vec<HostArray> {
    specs
        .iter()
        .enumerate()
        .flat_map(|(i, s)| {
            [(&s.a_dims, 2 * i), (&s.b_dims, 2 * i + 1)].map(|(dims, k)| {
                let n = dims.iter().product::<i64>() as usize;
                let v: Vec<f32> = values(n, 900 + k as u64).iter().map(|x| x * 0.3).collect();
                HostArray::new(&v, dims)
            })
        })
        .collect()
}

/// W + s·A·B in W's Tunix layout, in f64, by explicit indexing (independent of the builder's
/// reshape and transpose).
fn dense_merge(name: &str, w: &HostArray, a: &HostArray, b: &HostArray, s: f64) -> Vec<f64> {
    let d: Vec<usize> = w.dims.iter().map(|&x| x as usize).collect();
    let (wv, av, bv) = (w.to_f64(), a.to_f64(), b.to_f64());
    let r = a.dims[1] as usize;
    let bw = b.dims[1] as usize;
    // Σ_k A[i, k]·B[k, j] for A's row i and B's column j.
    let ab = |i: usize, j: usize| (0..r).map(|k| av[i * r + k] * bv[k * bw + j]).sum::<f64>();
    let mut out = wv.clone();
    if name.ends_with("q_einsum.w") {
        let (n_, d_, h_) = (d[0], d[1], d[2]);
        for n in 0..n_ {
            for dd in 0..d_ {
                for h in 0..h_ {
                    out[(n * d_ + dd) * h_ + h] += s * ab(dd, n * h_ + h);
                }
            }
        }
    } else if name.ends_with("kv_einsum.w") {
        let (c_, k_, d_, h_) = (d[0], d[1], d[2], d[3]);
        for c in 0..c_ {
            for k in 0..k_ {
                for dd in 0..d_ {
                    for h in 0..h_ {
                        out[((c * k_ + k) * d_ + dd) * h_ + h] += s * ab(dd, (c * k_ + k) * h_ + h);
                    }
                }
            }
        }
    } else if name.ends_with("attn_vec_einsum.w") {
        let (n_, h_, d_) = (d[0], d[1], d[2]);
        for n in 0..n_ {
            for h in 0..h_ {
                for dd in 0..d_ {
                    out[(n * h_ + h) * d_ + dd] += s * ab(n * h_ + h, dd);
                }
            }
        }
    } else {
        assert!(
            name.ends_with("_proj.kernel"),
            "unexpected LoRA target {name}"
        );
        let (i_, o_) = (d[0], d[1]);
        for i in 0..i_ {
            for o in 0..o_ {
                out[i * o_ + o] += s * ab(i, o);
            }
        }
    }
    out
}

/// max |x - y| / max |y|.
/// Logits of our model computing x·W + s·(x·A)·B in every adapted projection.
fn unmerged_logits(
    cfg: &GemmaConfig,
    specs: &[LoraSpec],
    params: &[HostArray],
    ab: &[HostArray],
    tokens: &[i32],
    dims: [i64; 2],
) -> Vec<f64> {
    let g = Graph::new("unmerged_forward");
    let (w, _) = GemmaWeights::parameters(&g, cfg);
    let ab_t = lora::parameters(&g, specs);
    let w = lora::attach(w, &ab_t, specs, &lora_config());
    let t = g.parameter("tokens", Shape::i32(&dims));
    let valid = g.full(1.0, Shape::i32(&dims));
    let module = g.build(&[forward(cfg, &w, &t, &valid)]).unwrap();
    let args = [
        params.to_vec(),
        ab.to_vec(),
        vec![HostArray::new(tokens, &dims)],
    ]
    .concat();
    module.run(&cpu_client(1), &args).unwrap()[0].to_f64()
}

/// d/d(A, B) of a cross-entropy of the logits through the model with the adapters merged or not.
fn adapter_gradients(
    cfg: &GemmaConfig,
    specs: &[LoraSpec],
    params: &[HostArray],
    ab: &[HostArray],
    unmerged: bool,
) -> Vec<HostArray> {
    let dims = [2i64, 6];
    let g = Graph::new("adapter_gradients");
    let (w, base) = GemmaWeights::parameters(&g, cfg);
    let ab_t = lora::parameters(&g, specs);
    let w = match unmerged {
        true => lora::attach(w, &ab_t, specs, &lora_config()),
        false => {
            GemmaWeights::from_tensors(cfg, &lora::merged(&base, &ab_t, specs, &lora_config()))
        }
    };
    let tokens: Vec<i32> = (0..12)
        .map(|i| ((i * 29 + 3) % cfg.vocab_size) as i32)
        .collect();
    let t = g.constant(&tokens, &dims);
    let valid = g.full(1.0, Shape::i32(&dims));
    let logits = forward(cfg, &w, &t, &valid).convert(ElementType::F32);
    let n = logits.dims().iter().product::<i64>() as usize;
    // Cross-entropy against fixed targets (position k's target is word 7k mod V): the loss the
    // trainer's heads take, with bounded gradients (softmax − one-hot) at every position.
    let v = cfg.vocab_size as usize;
    let one_hot: Vec<f32> = (0..n)
        .map(|k| if k % v == (k / v * 7) % v { 1.0 } else { 0.0 })
        .collect();
    let c = g.constant(&one_hot, &logits.dims());
    let loss = logits.logsumexp(-1, false).sum_all() - (logits * c).sum_all();
    let grads = g.grad(&loss, &ab_t).unwrap();
    let module = g.build(&grads).unwrap();
    module
        .run(&cpu_client(1), &[params.to_vec(), ab.to_vec()].concat())
        .unwrap()
}

/// A tiny Gemma 3 with 4 heads over 2 kv heads, its LoRA specs, random weights and adapters.
fn two_kv_heads_with_adapters() -> (GemmaConfig, Vec<LoraSpec>, Vec<HostArray>, Vec<HostArray>) {
    let cfg = GemmaConfig {
        num_heads: 4,
        num_kv_heads: 2,
        ..GemmaConfig::tiny(Family::Gemma3)
    };
    let specs = lora::specs(&cfg, &lora_config());
    let params = random_params(&cfg, 5);
    let ab = adapters(&specs);
    (cfg, specs, params, ab)
}

#[test]
fn unmerged_adapter_gradients_equal_the_merged_ones() {
    let (cfg, specs, params, ab) = two_kv_heads_with_adapters();
    let merged = adapter_gradients(&cfg, &specs, &params, &ab, false);
    let unmerged = adapter_gradients(&cfg, &specs, &params, &ab, true);
    assert_eq!(merged.len(), 2 * specs.len());
    let mut worst = 0f64;
    for (i, (m, u)) in merged.iter().zip(&unmerged).enumerate() {
        let (m, u) = (m.to_f64(), u.to_f64());
        assert!(m.iter().any(|v| v.abs() > 1e-3), "gradient {i} is zero");
        let err = rel_err(&u, &m);
        worst = worst.max(err);
        assert!(
            err <= GRAD_TOL,
            "{} {}: unmerged vs merged gradient differs by {err:.2e}",
            specs[i / 2].name,
            ["A", "B"][i % 2]
        );
    }
    eprintln!("unmerged vs merged adapter gradients: worst {worst:.2e}");
}

/// `model.dtype: bf16` trains bf16 base weights and activations with f32 adapters: the adapters'
/// gradients come back in f32 and point where the f32 model's do, within bf16 rounding.
#[test]
fn bf16_base_weights_give_the_f32_adapter_gradients_within_bf16_rounding() {
    let (cfg, specs, params, ab) = two_kv_heads_with_adapters();
    let f32_grads = adapter_gradients(&cfg, &specs, &params, &ab, true);
    let bf16_cfg = GemmaConfig {
        dtype: ElementType::BF16,
        ..cfg.clone()
    };
    let bf16_params: Vec<HostArray> = params
        .iter()
        .map(|p| converted(p.clone(), ElementType::BF16))
        .collect();
    let bf16_grads = adapter_gradients(&bf16_cfg, &specs, &bf16_params, &ab, true);
    let (mut lowest_cos, mut worst_norm) = (1f64, 0f64);
    for (i, (b, f)) in bf16_grads.iter().zip(&f32_grads).enumerate() {
        let name = format!("{} {}", specs[i / 2].name, ["A", "B"][i % 2]);
        assert_eq!(
            b.ty,
            ElementType::F32,
            "{name}: the adapter gradient is not f32"
        );
        let (b, f) = (b.to_f64(), f.to_f64());
        let norm = |x: &[f64]| x.iter().map(|v| v * v).sum::<f64>().sqrt();
        let cos = b.iter().zip(&f).map(|(x, y)| x * y).sum::<f64>() / norm(&b) / norm(&f);
        let norm_ratio = norm(&b) / norm(&f);
        lowest_cos = lowest_cos.min(cos);
        worst_norm = worst_norm.max((norm_ratio - 1.0).abs());
        assert!(
            cos >= BF16_MIN_COSINE && (norm_ratio - 1.0).abs() <= BF16_NORM_TOL,
            "{name}: bf16 vs f32 gradient: cosine {cos:.4}, norm ratio {norm_ratio:.3}"
        );
    }
    eprintln!(
        "bf16 vs f32 adapter gradients: lowest cosine {lowest_cos:.4}, norms within {worst_norm:.3}"
    );
}

fn rel_err(x: &[f64], y: &[f64]) -> f64 {
    assert_eq!(x.len(), y.len());
    let scale = y.iter().fold(0f64, |m, v| m.max(v.abs())).max(1e-30);
    x.iter()
        .zip(y)
        .map(|(a, b)| (a - b).abs())
        .fold(0f64, f64::max)
        / scale
}

/// The adapted weights from `lora::merged` built into a graph, in `specs` order, and every
/// weight it returns for the parameters it does not adapt.
fn merged_by_graph(
    cfg: &GemmaConfig,
    specs: &[LoraSpec],
    params: &[HostArray],
    ab: &[HostArray],
) -> Vec<HostArray> {
    let g = Graph::new("merge");
    let (_, base) = GemmaWeights::parameters(&g, cfg);
    let ab_t = lora::parameters(&g, specs);
    let merged = lora::merged(&base, &ab_t, specs, &lora_config());
    let module = g.build(&merged).unwrap();
    let args = [params.to_vec(), ab.to_vec()].concat();
    module.run(&cpu_client(1), &args).unwrap()
}

fn merged_by_program(
    cfg: &GemmaConfig,
    specs: &[LoraSpec],
    params: &[HostArray],
    ab: &[HostArray],
) -> Vec<HostArray> {
    let on = grpo_xla::graph::Placement::single(cpu_client(1));
    let program = MergeProgram::compile(&on, cfg, &lora_config(), specs, cfg.dtype).unwrap();
    let base: Vec<std::sync::Arc<_>> = on
        .replicate_all(params)
        .unwrap()
        .into_iter()
        .map(std::sync::Arc::new)
        .collect();
    let adapters = on.replicate_all(ab).unwrap();
    let merged = program.run(&base, &adapters).unwrap();
    on.download_all(&merged).unwrap()
}

#[test]
fn merge_equals_the_dense_formula_in_each_tunix_layout() {
    let cfg = GemmaConfig::tiny(Family::Gemma3);
    let lc = lora_config();
    let specs = lora::specs(&cfg, &lc);
    assert_eq!(specs.len(), 6 * cfg.num_layers, "six targets per layer");
    let params = random_params(&cfg, 7);
    let ab = adapters(&specs);
    let s = lc.alpha / lc.rank as f64;
    let by_graph = merged_by_graph(&cfg, &specs, &params, &ab);
    let by_program = merged_by_program(&cfg, &specs, &params, &ab);
    assert_eq!(by_program.len(), specs.len());
    let mut worst = (0f64, String::new());
    for (k, spec) in specs.iter().enumerate() {
        let w = &params[spec.param];
        let want = dense_merge(&spec.name, w, &ab[2 * k], &ab[2 * k + 1], s);
        let delta: Vec<f64> = want.iter().zip(w.to_f64()).map(|(m, w)| m - w).collect();
        // The update is of the order of W itself, so a layout slip cannot hide in rounding.
        assert!(
            rel_err(&delta, &w.to_f64()) > 0.5,
            "{}: A·B too small to test",
            spec.name
        );
        for (what, got) in [
            ("lora::merged", &by_graph[spec.param]),
            ("MergeProgram", &by_program[k]),
        ] {
            assert_eq!(got.dims, w.dims, "{what}: {} changed shape", spec.name);
            let err = rel_err(&got.to_f64(), &want);
            assert!(
                err <= MERGE_TOL,
                "{what}: {} differs from W + (α/r)·A·B by {err:.2e} of its largest value",
                spec.name
            );
            if err > worst.0 {
                worst = (err, format!("{what} {}", spec.name));
            }
        }
    }
    eprintln!("merge vs f64 formula: worst {:.2e} ({})", worst.0, worst.1);
    // Weights that are not adapted come back untouched.
    let adapted: Vec<usize> = specs.iter().map(|s| s.param).collect();
    for (i, (name, _)) in cfg.param_specs().iter().enumerate() {
        if !adapted.contains(&i) {
            assert_eq!(by_graph[i], params[i], "{name} is not a LoRA target");
        }
    }
}

fn matches_qwix(cfg: GemmaConfig) {
    let lc = lora_config();
    let specs = lora::specs(&cfg, &lc);
    let params = random_params(&cfg, 11);
    let ab = adapters(&specs);
    let merged = merged_by_program(&cfg, &specs, &params, &ab);
    let mut merged_params = params.clone();
    for (spec, w) in specs.iter().zip(&merged) {
        merged_params[spec.param] = w.clone();
    }
    let dir = tempfile::tempdir().unwrap();
    let (base_dir, merged_dir) = (dir.path().join("base"), dir.path().join("merged"));
    save_params(&base_dir, &cfg, &params).unwrap();
    save_params(&merged_dir, &cfg, &merged_params).unwrap();
    let exported = lora::export(&specs, &ab);
    let mut adapters = serde_json::Map::new();
    for (name, a) in &exported {
        adapters.insert(
            name.clone(),
            reference::array(&a.dims, "f32", &a.to_vec::<f32>()),
        );
    }
    let dims = [2i64, 10];
    let tokens: Vec<i32> = (0..20)
        .map(|i| ((i * 53 + 7) % cfg.vocab_size) as i32)
        .collect();
    let theirs = reference::run(
        SCRIPT,
        &json!({
            "family": "gemma3", "model_dir": base_dir, "merged_dir": merged_dir,
            "config": {"num_layers": cfg.num_layers, "vocab": cfg.vocab_size, "d": cfg.embed_dim, "f": cfg.hidden_dim,
                       "n": cfg.num_heads, "h": cfg.head_dim, "k": cfg.num_kv_heads, "window": cfg.sliding_window},
            "rank": lc.rank, "alpha": lc.alpha, "module_path": MODULE_PATH,
            "adapters": adapters, "tokens": reference::array(&dims, "i32", &tokens),
        }),
    )
    .unwrap();
    let tag = format!("N={} K={}", cfg.num_heads, cfg.num_kv_heads);
    // Same names and shapes as the params qwix creates, none left over on either side.
    assert_eq!(
        theirs["missing"],
        json!([]),
        "{tag}: qwix LoRA params we do not export"
    );
    assert_eq!(
        theirs["misshaped"],
        json!([]),
        "{tag}: [name, our shape, qwix's shape]"
    );
    assert_eq!(
        theirs["unused"],
        json!([]),
        "{tag}: adapters qwix has no param for"
    );
    assert_eq!(theirs["created"].as_object().unwrap().len(), exported.len());
    let strings: std::collections::BTreeSet<&str> = theirs["einsum_strings"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_str().unwrap())
        .collect();
    eprintln!("{tag}: qwix's LoRA einsums {strings:?}");

    let mut worst = (0f64, String::new());
    for (spec, ours) in specs.iter().zip(&merged) {
        let qwix = reference::f64s(&theirs["effective"][&spec.name])
            .unwrap_or_else(|_| panic!("{tag}: qwix adapted no weight named {}", spec.name));
        let err = rel_err(&ours.to_f64(), &qwix);
        assert!(
            err <= QWIX_WEIGHT_TOL,
            "{tag}: {}: our merged weight differs from W + qwix's LoRA delta by {err:.2e}",
            spec.name
        );
        if err > worst.0 {
            worst = (err, spec.name.clone());
        }
    }
    let lora_logits = reference::f64s(&theirs["lora_logits"]).unwrap();
    let merged_logits = reference::f64s(&theirs["merged_logits"]).unwrap();
    let base_logits = reference::f64s(&theirs["base_logits"]).unwrap();
    let logits_err = rel_err(&merged_logits, &lora_logits);
    let unmerged = unmerged_logits(&cfg, &specs, &params, &ab, &tokens, dims);
    let unmerged_err = rel_err(&unmerged, &lora_logits);
    eprintln!("{tag}: our unmerged LoRA model vs qwix's: {unmerged_err:.2e}");
    assert!(
        unmerged_err <= LOGITS_TOL,
        "{tag}: our model with unmerged adapters vs Tunix + qwix LoRA: {unmerged_err:.2e}"
    );
    let moved = rel_err(&base_logits, &lora_logits);
    eprintln!(
        "{tag}: merged weights vs qwix: worst {:.2e} ({}); logits, merged model vs qwix LoRA model: \
         {logits_err:.2e}; LoRA moved the logits by {moved:.2e}",
        worst.0, worst.1
    );
    assert!(moved > 0.1, "{tag}: the adapters barely change the model");
    assert!(
        logits_err <= LOGITS_TOL,
        "{tag}: Tunix on our merged weights vs Tunix + qwix LoRA: {logits_err:.2e}"
    );
}

#[test]
fn merge_equals_qwix_lora_on_tunix_gemma3_tiny() {
    matches_qwix(GemmaConfig::tiny(Family::Gemma3));
}

#[test]
fn merge_equals_qwix_lora_with_two_kv_heads() {
    matches_qwix(GemmaConfig {
        num_heads: 4,
        num_kv_heads: 2,
        ..GemmaConfig::tiny(Family::Gemma3)
    });
}
