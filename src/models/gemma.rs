//! Gemma 2 and Gemma 3 on the graph builder.
//!
//! x = embed[tokens]·√D; for each block: x += norm(attn(norm(x))); x += norm(mlp(norm(x)));
//! logits = final_norm(x)·embedᵀ (Gemma 2 soft-caps them at 30). Local layers attend within a
//! sliding window; Gemma 3 norms queries and keys and uses a larger RoPE base on global layers.
//! Parameters carry Tunix's names and layouts, so checkpoints map one to one.

use crate::graph::{Graph, Shape, Tensor};
use crate::pjrt::ElementType;

use super::layers::{
    attention_mask, gemma_block, rms_norm, AttentionConfig, AttentionWeights, BlockWeights,
    KeyValues, LayerCache, QkvWeights, Weight,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    Gemma2,
    Gemma3,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayerKind {
    Local,
    Global,
}

#[derive(Clone, Debug)]
pub struct GemmaConfig {
    pub family: Family,
    pub num_layers: usize,
    pub embed_dim: i64,
    pub hidden_dim: i64,
    pub num_heads: i64,
    pub num_kv_heads: i64,
    pub head_dim: i64,
    pub vocab_size: i64,
    pub sliding_window: i64,
    pub layer_kinds: Vec<LayerKind>,
    pub rope_base_local: f64,
    pub rope_base_global: f64,
    pub rope_scale_global: f64,
    pub query_pre_attn_scalar: f64,
    pub attn_softcap: Option<f64>,
    pub final_softcap: Option<f64>,
    pub rms_eps: f64,
    pub dtype: ElementType,
}

/// Gemma 3: five local layers, then one global.
fn gemma3_pattern(n: usize) -> Vec<LayerKind> {
    (0..n)
        .map(|i| {
            if (i + 1) % 6 == 0 {
                LayerKind::Global
            } else {
                LayerKind::Local
            }
        })
        .collect()
}

/// Gemma 2: local and global alternate, starting local.
fn gemma2_pattern(n: usize) -> Vec<LayerKind> {
    (0..n)
        .map(|i| {
            if i % 2 == 0 {
                LayerKind::Local
            } else {
                LayerKind::Global
            }
        })
        .collect()
}

impl GemmaConfig {
    pub fn gemma3_270m() -> Self {
        Self::gemma3(18, 640, 2048, 4, 1, 256, 262_144, 512)
    }

    pub fn gemma3_1b() -> Self {
        Self::gemma3(26, 1152, 6912, 4, 1, 256, 262_144, 512)
    }

    pub fn gemma2_2b() -> Self {
        GemmaConfig {
            family: Family::Gemma2,
            num_layers: 26,
            embed_dim: 2304,
            hidden_dim: 9216,
            num_heads: 8,
            num_kv_heads: 4,
            head_dim: 256,
            vocab_size: 256_128,
            sliding_window: 4096,
            layer_kinds: gemma2_pattern(26),
            rope_base_local: 10_000.0,
            rope_base_global: 10_000.0,
            rope_scale_global: 1.0,
            query_pre_attn_scalar: 256.0,
            attn_softcap: Some(50.0),
            final_softcap: Some(30.0),
            rms_eps: 1e-6,
            dtype: ElementType::F32,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn gemma3(layers: usize, d: i64, f: i64, n: i64, k: i64, h: i64, v: i64, window: i64) -> Self {
        GemmaConfig {
            family: Family::Gemma3,
            num_layers: layers,
            embed_dim: d,
            hidden_dim: f,
            num_heads: n,
            num_kv_heads: k,
            head_dim: h,
            vocab_size: v,
            sliding_window: window,
            layer_kinds: gemma3_pattern(layers),
            rope_base_local: 10_000.0,
            rope_base_global: 1_000_000.0,
            rope_scale_global: 1.0,
            query_pre_attn_scalar: h as f64,
            attn_softcap: None,
            final_softcap: None,
            rms_eps: 1e-6,
            dtype: ElementType::F32,
        }
    }

    /// A tiny model of the family, for tests: 2 heads over 1 kv head, window 4, 6 layers for
    /// Gemma 3 (so one is global) and 2 for Gemma 2.
    pub fn tiny(family: Family) -> Self {
        let mut cfg = match family {
            Family::Gemma3 => Self::gemma3(6, 32, 64, 2, 1, 16, 260, 4),
            Family::Gemma2 => GemmaConfig {
                num_layers: 2,
                embed_dim: 32,
                hidden_dim: 64,
                num_heads: 2,
                num_kv_heads: 1,
                head_dim: 16,
                vocab_size: 260,
                sliding_window: 4,
                layer_kinds: gemma2_pattern(2),
                query_pre_attn_scalar: 16.0,
                ..Self::gemma2_2b()
            },
        };
        cfg.dtype = ElementType::F32;
        cfg
    }

    pub fn preset(name: &str) -> Option<Self> {
        match name {
            "gemma3_270m" | "gemma3-270m" => Some(Self::gemma3_270m()),
            "gemma3_1b" | "gemma3-1b" => Some(Self::gemma3_1b()),
            "gemma2_2b" | "gemma2-2b" => Some(Self::gemma2_2b()),
            "tiny_gemma3" => Some(Self::tiny(Family::Gemma3)),
            "tiny_gemma2" => Some(Self::tiny(Family::Gemma2)),
            _ => None,
        }
    }

    pub fn attention(&self, layer: usize) -> AttentionConfig {
        let global = self.layer_kinds[layer] == LayerKind::Global;
        AttentionConfig {
            num_heads: self.num_heads,
            num_kv_heads: self.num_kv_heads,
            head_dim: self.head_dim,
            query_scale: self.query_pre_attn_scalar.powf(-0.5),
            rope_base: if global {
                self.rope_base_global
            } else {
                self.rope_base_local
            },
            rope_scale: if global { self.rope_scale_global } else { 1.0 },
            softcap: self.attn_softcap,
            window: (!global).then_some(self.sliding_window),
            rms_eps: self.rms_eps,
        }
    }

    /// Every parameter, in Tunix's nnx names and layouts, in the order programs take them.
    pub fn param_specs(&self) -> Vec<(String, Vec<i64>)> {
        let (d, f, n, k, h) = (
            self.embed_dim,
            self.hidden_dim,
            self.num_heads,
            self.num_kv_heads,
            self.head_dim,
        );
        let mut specs = vec![(
            "embedder.input_embedding".to_string(),
            vec![self.vocab_size, d],
        )];
        let post_attn = match self.family {
            Family::Gemma2 => "post_attn_norm",
            Family::Gemma3 => "post_attention_norm",
        };
        for i in 0..self.num_layers {
            let p = |name: &str, dims: Vec<i64>| (format!("layers.{i}.{name}"), dims);
            specs.push(p("pre_attention_norm.scale", vec![d]));
            specs.push(p("attn.q_einsum.w", vec![n, d, h]));
            specs.push(p("attn.kv_einsum.w", vec![2, k, d, h]));
            specs.push(p("attn.attn_vec_einsum.w", vec![n, h, d]));
            if self.family == Family::Gemma3 {
                specs.push(p("attn._query_norm.scale", vec![h]));
                specs.push(p("attn._key_norm.scale", vec![h]));
            }
            specs.push(p(&format!("{post_attn}.scale"), vec![d]));
            specs.push(p("pre_ffw_norm.scale", vec![d]));
            specs.push(p("mlp.gate_proj.kernel", vec![d, f]));
            specs.push(p("mlp.up_proj.kernel", vec![d, f]));
            specs.push(p("mlp.down_proj.kernel", vec![f, d]));
            specs.push(p("post_ffw_norm.scale", vec![d]));
        }
        specs.push(("final_norm.scale".to_string(), vec![d]));
        specs
    }

    pub fn num_params(&self) -> i64 {
        self.param_specs()
            .iter()
            .map(|(_, d)| d.iter().product::<i64>())
            .sum()
    }
}

/// How a decode program stores the layers' projections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WeightOrder {
    /// As trained (q and kv model dimension first).
    AsTrained,
    /// Output first, every projection W·xᵀ: faster decoding on XLA's CPU backend, whose
    /// matmul repacks a weight read the other way on every call. Not measured elsewhere, and
    /// the transposed copy would cost a TPU's decode program the layers' weights again in
    /// memory, so only the CPU uses it.
    OutputFirst,
}

impl WeightOrder {
    /// The order for a plugin's platform (`Client::platform_name`).
    pub fn for_platform(platform: &str) -> WeightOrder {
        match platform.eq_ignore_ascii_case("cpu") {
            true => WeightOrder::OutputFirst,
            false => WeightOrder::AsTrained,
        }
    }
}

/// The model's weights as graph tensors (parameters of a program, or values derived from them,
/// e.g. base + LoRA).
pub struct GemmaWeights {
    pub embed: Tensor,
    pub layers: Vec<BlockWeights>,
    pub final_norm: Tensor,
}

impl GemmaWeights {
    /// The same weights laid out for a decode loop, transposed once here. Each q and kv
    /// projection is stored model dimension first: inside the loop XLA otherwise copies every
    /// layer's q weight, and slices out its key and value weights, on every step. With
    /// `WeightOrder::OutputFirst`, every projection is then stored output first
    /// (`Weight::output_first`).
    pub fn for_decoding(mut self, order: WeightOrder) -> GemmaWeights {
        for layer in &mut self.layers {
            let attention = &mut layer.attention;
            attention.qkv = attention.qkv.model_dim_first();
            if order == WeightOrder::AsTrained {
                continue;
            }
            if let QkvWeights::ModelDimFirst { q, kv } = &mut attention.qkv {
                *q = q.output_first(&[0]);
                *kv = kv.output_first(&[0]);
            }
            attention.out = attention.out.output_first(&[0, 1]);
            for w in [&mut layer.gate, &mut layer.up, &mut layer.down] {
                *w = w.output_first(&[0]);
            }
        }
        self
    }

    /// The projection `param_specs` names `name` (e.g. `layers.3.mlp.up_proj.kernel`), in
    /// Tunix's layout; None for any other parameter.
    pub fn projection_mut(&mut self, name: &str) -> Option<&mut Weight> {
        let (layer, suffix) = name.strip_prefix("layers.")?.split_once('.')?;
        let block = self.layers.get_mut(layer.parse::<usize>().ok()?)?;
        let attention = &mut block.attention;
        match (suffix, &mut attention.qkv) {
            ("attn.q_einsum.w", QkvWeights::Tunix { q, .. }) => Some(q),
            ("attn.kv_einsum.w", QkvWeights::Tunix { kv, .. }) => Some(kv),
            ("attn.attn_vec_einsum.w", _) => Some(&mut attention.out),
            ("mlp.gate_proj.kernel", _) => Some(&mut block.gate),
            ("mlp.up_proj.kernel", _) => Some(&mut block.up),
            ("mlp.down_proj.kernel", _) => Some(&mut block.down),
            _ => None,
        }
    }

    /// Builds from tensors in `param_specs` order.
    pub fn from_tensors(cfg: &GemmaConfig, tensors: &[Tensor]) -> GemmaWeights {
        let mut it = tensors.iter().cloned();
        let mut next = || it.next().expect("fewer tensors than param_specs");
        let embed = next();
        let layers = (0..cfg.num_layers)
            .map(|_| {
                let pre_attention_norm = next();
                let (q, kv, out) = (next(), next(), next());
                let (q_norm, k_norm) = match cfg.family {
                    Family::Gemma3 => (Some(next()), Some(next())),
                    Family::Gemma2 => (None, None),
                };
                BlockWeights {
                    pre_attention_norm,
                    attention: AttentionWeights {
                        qkv: QkvWeights::Tunix {
                            q: q.into(),
                            kv: kv.into(),
                        },
                        out: out.into(),
                        q_norm,
                        k_norm,
                    },
                    post_attention_norm: next(),
                    pre_ffw_norm: next(),
                    gate: next().into(),
                    up: next().into(),
                    down: next().into(),
                    post_ffw_norm: next(),
                }
            })
            .collect();
        GemmaWeights {
            embed,
            layers,
            final_norm: next(),
        }
    }

    /// Declares every weight as a parameter of `g`, in `param_specs` order.
    pub fn parameters(g: &Graph, cfg: &GemmaConfig) -> (GemmaWeights, Vec<Tensor>) {
        let tensors: Vec<Tensor> = cfg
            .param_specs()
            .iter()
            .map(|(name, dims)| g.parameter(name, Shape::new(cfg.dtype, dims)))
            .collect();
        (GemmaWeights::from_tensors(cfg, &tensors), tensors)
    }
}

/// Per-layer key caches [B·K, H, S] and value caches [B·K, S, H], and the position of each slot [B, S]
/// (`EMPTY_SLOT` where nothing may be attended).
#[derive(Clone)]
pub struct KvCache {
    pub layers: Vec<LayerCache>,
    pub positions: Tensor,
}

/// Position given to cache slots that hold nothing: never ≤ a query position, so masked.
pub const EMPTY_SLOT: f64 = 1_073_741_824.0;

impl KvCache {
    /// One layer's values: [B·K, S, H], the batch axes (B, K) merged as the batched matmuls of
    /// attention read them. Kept [B, K, S, H], the matmul's reshape of the cache made XLA
    /// duplicate the cache update into a second fusion, and copy every layer's whole cache three
    /// times per decode step to feed both.
    pub fn value_shape(cfg: &GemmaConfig, batch: i64, slots: i64) -> Shape {
        Shape::new(cfg.dtype, &[batch * cfg.num_kv_heads, slots, cfg.head_dim])
    }

    /// One layer's keys: [B·K, H, S], head dimension before slots, the order the QK matmul
    /// contracts them in (stored [B·K, S, H], XLA's CPU backend transposed each layer's whole key
    /// cache on every decode step).
    pub fn key_shape(cfg: &GemmaConfig, batch: i64, slots: i64) -> Shape {
        Shape::new(cfg.dtype, &[batch * cfg.num_kv_heads, cfg.head_dim, slots])
    }

    pub fn empty(g: &Graph, cfg: &GemmaConfig, batch: i64, slots: i64) -> KvCache {
        let (k, v) = (
            Self::key_shape(cfg, batch, slots),
            Self::value_shape(cfg, batch, slots),
        );
        KvCache {
            layers: (0..cfg.num_layers)
                .map(|_| LayerCache {
                    keys: g.zeros(k.clone()),
                    values: g.zeros(v.clone()),
                })
                .collect(),
            positions: g.full(EMPTY_SLOT, Shape::i32(&[batch, slots])),
        }
    }

    /// Flattened for a while loop's state or a program's outputs: every layer's keys, then every
    /// layer's values, then the slot positions.
    pub fn to_vec(&self) -> Vec<Tensor> {
        let keys = self.layers.iter().map(|l| l.keys.clone());
        let values = self.layers.iter().map(|l| l.values.clone());
        keys.chain(values)
            .chain(std::iter::once(self.positions.clone()))
            .collect()
    }

    /// The inverse of `to_vec`.
    pub fn from_slice(t: &[Tensor], layers: usize) -> KvCache {
        KvCache {
            layers: (0..layers)
                .map(|i| LayerCache {
                    keys: t[i].clone(),
                    values: t[layers + i].clone(),
                })
                .collect(),
            positions: t[2 * layers].clone(),
        }
    }

    /// The cache of `batch` rows with each row copied `times` times in place (row r becomes
    /// rows r·times .. (r + 1)·times): samples of one prompt continue from its one prefill.
    pub fn repeat_rows(&self, batch: i64, times: i64) -> KvCache {
        let layers = self.layers.iter().map(|l| LayerCache {
            keys: l.keys.repeat_groups(batch, times),
            values: l.values.repeat_groups(batch, times),
        });
        KvCache {
            layers: layers.collect(),
            positions: self.positions.repeat_groups(batch, times),
        }
    }

    /// How many tensors `to_vec` gives.
    pub fn tensor_count(cfg: &GemmaConfig) -> usize {
        2 * cfg.num_layers + 1
    }
}

/// Token embeddings scaled by √D in the parameter type, as Gemma does.
pub fn embed(cfg: &GemmaConfig, w: &GemmaWeights, tokens: &Tensor) -> Tensor {
    w.embed.take(tokens) * ((cfg.embed_dim as f64).sqrt() as f32 as f64)
}

/// Runs the blocks on `x` [B, T, D] whose tokens sit at `positions` [B, T] and go to cache slots
/// start..start+T; `key_positions` [B, T] is what later queries see for them (EMPTY_SLOT for
/// padding). Attends over the whole cache. Returns the final-normed hidden states and the cache.
pub fn forward_cached(
    cfg: &GemmaConfig,
    w: &GemmaWeights,
    x: &Tensor,
    positions: &Tensor,
    key_positions: &Tensor,
    cache: &KvCache,
    start: &Tensor,
) -> (Tensor, KvCache) {
    let zero = start.scalar_like(0.0);
    let slot_positions = cache
        .positions
        .dynamic_update_slice(key_positions, &[zero, start.clone()]);
    let masks = Masks {
        local: attention_mask(positions, &slot_positions, Some(cfg.sliding_window)),
        global: attention_mask(positions, &slot_positions, None),
    };
    let (h, written) = run_blocks(cfg, w, x, positions, &masks, |i| KeyValues::Cache {
        cache: &cache.layers[i],
        start,
    });
    let layers = written
        .into_iter()
        .map(|c| c.expect("a cached block returns its cache"))
        .collect();
    let cache = KvCache {
        layers,
        positions: slot_positions,
    };
    (h, cache)
}

/// What the sliding-window layers and the global layers may attend to: pred [B, T, S] each.
struct Masks {
    local: Tensor,
    global: Tensor,
}

/// The blocks on `x` [B, T, D] at `positions`, each layer's keys and values from `kv(layer)`,
/// then the final norm. Returns the hidden states and what each layer wrote to its cache.
fn run_blocks<'a>(
    cfg: &GemmaConfig,
    w: &GemmaWeights,
    x: &Tensor,
    positions: &Tensor,
    masks: &Masks,
    kv: impl Fn(usize) -> KeyValues<'a>,
) -> (Tensor, Vec<Option<LayerCache>>) {
    let g = x.graph();
    let mut x = x.clone();
    let mut written = vec![];
    for (i, lw) in w.layers.iter().enumerate() {
        let acfg = cfg.attention(i);
        let mask = match acfg.window {
            Some(_) => &masks.local,
            None => &masks.global,
        };
        let (out, cache) = g.scope(&format!("layer{i}"), || {
            gemma_block(&x, positions, mask, lw, &acfg, kv(i))
        });
        x = out;
        written.push(cache);
    }
    (rms_norm(&x, &w.final_norm, cfg.rms_eps), written)
}

/// Logits [..., V] from final hidden states, through the tied embedding (soft-capped on Gemma 2).
pub fn logits(cfg: &GemmaConfig, w: &GemmaWeights, hidden: &Tensor) -> Tensor {
    let r = hidden.rank() as i64;
    let l = hidden.dot_general(
        &w.embed,
        crate::graph::DotDims {
            lhs_contract: vec![r - 1],
            rhs_contract: vec![1],
            ..Default::default()
        },
    );
    soft_cap(cfg, l)
}

/// Logits [V, B], vocabulary first, of hidden states [B, D]: the same numbers as `logits`,
/// transposed. For a few rows (decoding) this order is the cheaper matmul on XLA's CPU
/// backend: the embedding [V, D] is read as it lies, where [B, V] makes the kernel repack all
/// of it (decode 17-22% faster at 8 and 32 rows, `bench generate`). One row keeps the [1, V]
/// matmul, relabelled [V, 1] (the same bytes): our interleaved decode runs could not tell the
/// two orders apart at one row.
pub fn logits_vocab_major(cfg: &GemmaConfig, w: &GemmaWeights, hidden: &Tensor) -> Tensor {
    assert_eq!(hidden.rank(), 2, "hidden states [B, D]");
    if hidden.dim(0) == 1 {
        return logits(cfg, w, hidden).reshape(&[cfg.vocab_size, 1]);
    }
    let l = w.embed.dot_general(
        hidden,
        crate::graph::DotDims {
            lhs_contract: vec![1],
            rhs_contract: vec![1],
            ..Default::default()
        },
    );
    soft_cap(cfg, l)
}

fn soft_cap(cfg: &GemmaConfig, l: Tensor) -> Tensor {
    match cfg.final_softcap {
        Some(cap) => (l / cap).tanh() * cap,
        None => l,
    }
}

/// Final-normed hidden states [B, T, D] of a full sequence without a cache: tokens [B, T] with
/// `valid` [B, T] (false for padding). Positions count valid tokens, as Tunix builds them.
pub fn hidden_states(
    cfg: &GemmaConfig,
    w: &GemmaWeights,
    tokens: &Tensor,
    valid: &Tensor,
) -> Tensor {
    let g = tokens.graph();
    let (b, t) = (tokens.dim(0), tokens.dim(1));
    let (positions, key_positions) = positions_from_mask(valid);
    let cache = KvCache::empty(g, cfg, b, t);
    let start = g.scalar(0.0, ElementType::S32);
    forward_cached(
        cfg,
        w,
        &embed(cfg, w, tokens),
        &positions,
        &key_positions,
        &cache,
        &start,
    )
    .0
}

/// Segment of a packed row's prefix that every sequence of the row continues (a GRPO group's
/// shared prompt); sequences are numbered from 1.
pub const SHARED_PREFIX: f64 = 0.0;
/// Segment of a packed row's padding.
pub const PADDING_SEGMENT: f64 = -1.0;

/// Final-normed hidden states [R, L, D] of packed rows: each row holds several sequences one
/// after another, `segments` [R, L] numbering them from 1 (`PADDING_SEGMENT` after the last),
/// and `positions` [R, L] their tokens' positions. A token attends to earlier positions of its
/// own sequence and of the row's `SHARED_PREFIX`, if it has one (positions then continue from
/// the prefix's): every sequence gets the hidden states it would have alone, after the prefix.
pub fn packed_hidden_states(
    cfg: &GemmaConfig,
    w: &GemmaWeights,
    tokens: &Tensor,
    positions: &Tensor,
    segments: &Tensor,
) -> Tensor {
    let (r, l) = (segments.dim(0), segments.dim(1));
    let query = segments.reshape(&[r, l, 1]).broadcast_to(&[r, l, l]);
    let key = segments.reshape(&[r, 1, l]).broadcast_to(&[r, l, l]);
    let visible = query.eq(&key).or(&key.eq(&key.scalar_like(SHARED_PREFIX)));
    let masks = Masks {
        local: attention_mask(positions, positions, Some(cfg.sliding_window)).and(&visible),
        global: attention_mask(positions, positions, None).and(&visible),
    };
    let x = embed(cfg, w, tokens);
    run_blocks(cfg, w, &x, positions, &masks, |_| KeyValues::Own).0
}

/// Full-sequence forward without a cache → logits [B, T, V].
pub fn forward(cfg: &GemmaConfig, w: &GemmaWeights, tokens: &Tensor, valid: &Tensor) -> Tensor {
    logits(cfg, w, &hidden_states(cfg, w, tokens, valid))
}

/// From a validity mask [B, T] (pred or integer): positions = (number of valid tokens before) for
/// RoPE, and key positions with EMPTY_SLOT on padding.
pub fn positions_from_mask(valid: &Tensor) -> (Tensor, Tensor) {
    let v = valid.convert(ElementType::S32);
    let positions = (v.cumsum(1) - 1.0).maximum(&v.scalar_like(0.0));
    let key_positions = v
        .gt(&v.scalar_like(0.0))
        .select(&positions, &positions.scalar_fill(EMPTY_SLOT));
    (positions, key_positions)
}

/// Seeded random weights for a config (tests and smoke runs): norms 0 (scale 1), the rest
/// uniform in ±1/√fan_in.
pub fn random_params(cfg: &GemmaConfig, seed: u64) -> Vec<crate::graph::HostArray> {
    let mut rng = crate::rng::Lcg::from_state(seed.wrapping_add(0x2545_f491_4f6c_dd1d));
    cfg.param_specs()
        .iter()
        .map(|(name, dims)| {
            let n = dims.iter().product::<i64>() as usize;
            let scale = if name.contains("norm") {
                0.0
            } else {
                (1.0 / *dims.iter().rev().nth(1).unwrap_or(&1) as f32).sqrt()
            };
            let v: Vec<f32> = (0..n).map(|_| rng.next_signed_unit() * scale).collect();
            crate::graph::HostArray::new(&v, dims)
        })
        .collect()
}
