//! Transformer layers as Gemma defines them, written to read like the math.

use crate::graph::{DotDims, Shape, Tensor};
use crate::pjrt::ElementType;

/// RMSNorm with Gemma's (1 + scale): x / sqrt(mean(x²) + eps) · (1 + scale), in the input type.
pub fn rms_norm(x: &Tensor, scale: &Tensor, eps: f64) -> Tensor {
    let variance = x.square().mean(&[-1], true);
    let normed = x * &(variance + eps).rsqrt();
    normed * (scale + 1.0)
}

/// Rotary position embedding on [B, T, N, H] with positions [B, T]: the first and second
/// halves of each head rotate as (cos, sin) pairs at timescales base^(2i/H).
pub fn rope(x: &Tensor, positions: &Tensor, base: f64, scale_factor: f64) -> Tensor {
    let dims = x.dims();
    let head_dim = dims[3];
    let half = head_dim / 2;
    let g = x.graph();
    let fraction: Vec<f32> = (0..half)
        .map(|i| (2 * i) as f32 / head_dim as f32)
        .collect();
    let timescale: Vec<f32> = fraction.iter().map(|f| (base as f32).powf(*f)).collect();
    let timescale = g.constant(&timescale, &[half]).convert(ElementType::F32);
    let pos = positions.convert(ElementType::F32);
    // [B, T, 1, half]
    let angle = (pos.reshape(&[dims[0], dims[1], 1, 1]) / timescale.reshape(&[1, 1, 1, half]))
        / scale_factor;
    let (sin, cos) = (angle.sin().convert(x.ty()), angle.cos().convert(x.ty()));
    let first = x.narrow(3, 0, half);
    let second = x.narrow(3, half, half);
    let a = &first * &cos - &second * &sin;
    let b = &second * &cos + &first * &sin;
    Tensor::concatenate(&[a, b], 3)
}

/// Which key positions each query may attend to: causal, within `window` if set.
/// `q_pos` [B, T], `k_pos` [B, S] → pred [B, T, S].
pub fn attention_mask(q_pos: &Tensor, k_pos: &Tensor, window: Option<i64>) -> Tensor {
    let (b, t, s) = (q_pos.dim(0), q_pos.dim(1), k_pos.dim(1));
    let q = q_pos.reshape(&[b, t, 1]).broadcast_to(&[b, t, s]);
    let k = k_pos.reshape(&[b, 1, s]).broadcast_to(&[b, t, s]);
    let causal = k.le(&q);
    match window {
        Some(w) => causal.and(&(&q - &k).lt(&q.scalar_like(w as f64))),
        None => causal,
    }
}

/// Attention settings of one layer.
#[derive(Clone, Debug)]
pub struct AttentionConfig {
    pub num_heads: i64,
    pub num_kv_heads: i64,
    pub head_dim: i64,
    /// Multiplies queries (Gemma: query_pre_attn_scalar^-1/2).
    pub query_scale: f64,
    pub rope_base: f64,
    pub rope_scale: f64,
    /// Gemma 2 caps logits as cap · tanh(logits / cap).
    pub softcap: Option<f64>,
    pub window: Option<i64>,
    pub rms_eps: f64,
}

/// A projection's weight, and the trainable low-rank update LoRA adds to it: none when the
/// weight trains itself, stays frozen, or has its update merged in (rollouts).
#[derive(Clone)]
pub struct Weight {
    pub base: Tensor,
    pub lora: Option<LowRank>,
    pub order: AxisOrder,
}

/// The order a weight's axes are stored in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AxisOrder {
    /// As trained and checkpointed: `project` contracts the axes its caller names.
    AsTrained,
    /// The axes `project` keeps, then the `contracted` axes it contracts (see
    /// `Weight::output_first`).
    OutputFirst { contracted: usize },
}

/// LoRA's update of a weight W: scale · A·B, with A [in, r] and B [r, out], `in` and `out` being
/// W's contracted and remaining axes flattened in W's own axis order.
#[derive(Clone)]
pub struct LowRank {
    pub a: Tensor,
    pub b: Tensor,
    pub scale: f64,
}

impl From<Tensor> for Weight {
    fn from(base: Tensor) -> Weight {
        Weight {
            base,
            lora: None,
            order: AxisOrder::AsTrained,
        }
    }
}

impl Weight {
    /// x's trailing axes contracted with the weight's axes `contract`, in order: the result is
    /// [x's other axes..., the weight's other axes...]. With LoRA, plus scale·(x·A)·B taken in
    /// that order, as qwix does: the update's gradients are then matmuls of rank r, where
    /// differentiating a merged W + scale·A·B costs a whole weight gradient xᵀ·dy per projection.
    ///
    /// `contract` names the axes in the as-trained order; an output-first weight was laid out
    /// from them already.
    pub fn project(&self, x: &Tensor, contract: &[i64]) -> Tensor {
        if let AxisOrder::OutputFirst { contracted } = self.order {
            assert_eq!(
                contracted,
                contract.len(),
                "axes contracted by {:?}",
                self.base.dims()
            );
            return self.project_output_first(x, contracted);
        }
        let rank = x.rank() as i64;
        let first = rank - contract.len() as i64;
        let y = x.dot_general(
            &self.base,
            DotDims {
                lhs_contract: (first..rank).collect(),
                rhs_contract: contract.to_vec(),
                ..Default::default()
            },
        );
        let Some(l) = &self.lora else { return y };
        let dims = x.dims();
        let (lead, inner) = dims.split_at(first as usize);
        let flat = x.reshape(&[lead, &[inner.iter().product::<i64>()]].concat());
        let update = flat.convert(l.a.ty()).matmul(&l.a).matmul(&l.b) * l.scale;
        &y + &update.convert(y.ty()).reshape(&y.dims())
    }

    /// The same weight stored with the axes `project` keeps first (in order), then the axes it
    /// contracts (in `contract`'s order), transposed here once. For a few rows (decoding on
    /// the CPU) W·xᵀ reads such a weight as it lies, where x·W makes XLA's CPU backend repack
    /// it on every call: the same reason the LM head is computed vocabulary first.
    pub fn output_first(&self, contract: &[i64]) -> Weight {
        let base = self.plain();
        let kept = (0..base.rank() as i64).filter(|a| !contract.contains(a));
        let perm: Vec<i64> = kept.chain(contract.iter().copied()).collect();
        Weight {
            base: base.transpose(&perm),
            lora: None,
            order: AxisOrder::OutputFirst {
                contracted: contract.len(),
            },
        }
    }

    /// x [lead..., in...] by an output-first weight [out..., in...]: W·xᵀ [out, rows] over
    /// both flattened to matrices, then turned to [lead..., out...]. As matrices XLA keeps the
    /// product in the form that reads x as it lies (a higher-rank dot was canonicalized to one
    /// that copies x transposed and ran no faster); the barrier keeps it from folding the small
    /// transpose back into the matmul, which brings back the repacking form.
    fn project_output_first(&self, x: &Tensor, contracted: usize) -> Tensor {
        let (w_dims, x_dims) = (self.base.dims(), x.dims());
        let (out, inner) = w_dims.split_at(w_dims.len() - contracted);
        let lead = &x_dims[..x_dims.len() - contracted];
        let (n_in, n_out, rows) = (
            inner.iter().product::<i64>(),
            out.iter().product::<i64>(),
            lead.iter().product::<i64>(),
        );
        let y = self.base.reshape(&[n_out, n_in]).dot_general(
            &x.reshape(&[rows, n_in]),
            DotDims {
                lhs_contract: vec![1],
                rhs_contract: vec![1],
                ..Default::default()
            },
        );
        let y = Tensor::optimization_barrier(&[y]).swap_remove(0);
        y.transpose(&[1, 0]).reshape(&[lead, out].concat())
    }

    /// The weight itself, for layouts that hold no update (decoding reads merged weights).
    fn plain(&self) -> &Tensor {
        assert!(
            self.lora.is_none(),
            "a LoRA update must be merged before re-laying a weight out"
        );
        &self.base
    }
}

/// Weights of one attention layer.
pub struct AttentionWeights {
    pub qkv: QkvWeights,
    /// [N, H, D]
    pub out: Weight,
    /// Gemma 3 QK-norm scales, [H] each.
    pub q_norm: Option<Tensor>,
    pub k_norm: Option<Tensor>,
}

/// The query, key and value projections.
pub enum QkvWeights {
    /// Tunix's layout: q [N, D, H], kv [2, K, D, H] (keys, values).
    Tunix { q: Weight, kv: Weight },
    /// Model dimension first: q [D, N, H], kv [D, 2, K, H]. The projections contract their
    /// leading axis, so a loop that reads them every step (decoding) needs no copy of them (see
    /// `GemmaWeights::for_decoding`). One [D, N + 2K, H] matrix, tried, ran no faster on the CPU
    /// and made a TPU decode program hold a concatenated copy of the weights.
    ModelDimFirst { q: Weight, kv: Weight },
}

impl QkvWeights {
    /// The same projections laid out model dimension first.
    pub fn model_dim_first(&self) -> QkvWeights {
        match self {
            QkvWeights::Tunix { q, kv } => QkvWeights::ModelDimFirst {
                q: q.plain().transpose(&[1, 0, 2]).into(),
                kv: kv.plain().transpose(&[2, 0, 1, 3]).into(),
            },
            QkvWeights::ModelDimFirst { q, kv } => QkvWeights::ModelDimFirst {
                q: q.clone(),
                kv: kv.clone(),
            },
        }
    }
}

/// The mask value for disallowed logits (Tunix's K_MASK).
pub const MASK_VALUE: f64 = -2.381_976_3e38;

/// Projects x [B, T, D] to rotated, normed q [B, T, N, H] and k, v [B, T, K, H].
pub fn project_qkv(
    x: &Tensor,
    positions: &Tensor,
    w: &AttentionWeights,
    cfg: &AttentionConfig,
) -> (Tensor, Tensor, Tensor) {
    // BTD,NDH->BTNH and BTD,CKDH->BTCKH (or BTD,DNH and BTD,DCKH): keys and values in one
    // matmul, split from its small result.
    let (q, kv) = match &w.qkv {
        QkvWeights::Tunix { q, kv } => (q.project(x, &[1]), kv.project(x, &[2])),
        QkvWeights::ModelDimFirst { q, kv } => (q.project(x, &[0]), kv.project(x, &[0])),
    };
    let (b, t, k, h) = (kv.dim(0), kv.dim(1), kv.dim(3), kv.dim(4));
    let half = |i| kv.narrow(2, i, 1).reshape(&[b, t, k, h]);
    let (k, v) = (half(0), half(1));
    let q = match &w.q_norm {
        Some(s) => rms_norm(&q, s, cfg.rms_eps),
        None => q,
    };
    let k = match &w.k_norm {
        Some(s) => rms_norm(&k, s, cfg.rms_eps),
        None => k,
    };
    let q = rope(&q, positions, cfg.rope_base, cfg.rope_scale) * cfg.query_scale;
    let k = rope(&k, positions, cfg.rope_base, cfg.rope_scale);
    (q, k, v)
}

/// Grouped-query attention of q [B, T, N, H] over k, v [B, K, S, H] with mask [B, T, S];
/// softmax in f32. Returns [B, T, N, H]. Keys and values are laid out with their batch axes
/// (B, K) leading, as the batched matmuls read them: with [B, S, K, H], XLA copied every layer's
/// whole key cache into that order on every decode step.
pub fn attend(q: &Tensor, k: &Tensor, v: &Tensor, mask: &Tensor, cfg: &AttentionConfig) -> Tensor {
    attend_keys(q, &Keys::SlotsFirst(k.clone()), v, mask, cfg)
}

/// Keys for attention, in one of two orders.
pub enum Keys {
    /// [B, K, S, H]
    SlotsFirst(Tensor),
    /// [B, K, H, S] (a decode cache's keys: see `KvCache::key_shape`)
    HeadDimFirst(Tensor),
}

/// `attend` with keys in either order.
pub fn attend_keys(
    q: &Tensor,
    k: &Keys,
    v: &Tensor,
    mask: &Tensor,
    cfg: &AttentionConfig,
) -> Tensor {
    let (b, t, n, h) = (q.dim(0), q.dim(1), q.dim(2), q.dim(3));
    let (k, contract, s) = match k {
        Keys::SlotsFirst(k) => (k, 3, k.dim(2)),
        Keys::HeadDimFirst(k) => (k, 2, k.dim(3)),
    };
    let kh = k.dim(1);
    let groups = n / kh;
    let q = q.reshape(&[b, t, kh, groups, h]);
    // BTKGH,BKSH->BKTGS (batch B,K; then T,G; then S)
    let logits = q.dot_general(
        k,
        DotDims {
            lhs_batch: vec![0, 2],
            rhs_batch: vec![0, 1],
            lhs_contract: vec![4],
            rhs_contract: vec![contract],
        },
    );
    let logits = match cfg.softcap {
        Some(cap) => (logits / cap).tanh() * cap,
        None => logits,
    };
    // mask [B,T,S] → [B,K,T,G,S]
    let mask = mask.broadcast_in_dim(&[b, kh, t, groups, s], &[0, 2, 4]);
    let logits = mask.select(&logits, &logits.scalar_fill(MASK_VALUE));
    let probs = logits.convert(ElementType::F32).softmax(-1).convert(q.ty());
    // BKTGS,BKSH->BKTGH
    let encoded = probs.dot_general(
        v,
        DotDims {
            lhs_batch: vec![0, 1],
            rhs_batch: vec![0, 1],
            lhs_contract: vec![4],
            rhs_contract: vec![2],
        },
    );
    // → B,T,K,G,H → B,T,N,H
    encoded.transpose(&[0, 2, 1, 3, 4]).reshape(&[b, t, n, h])
}

/// Where a layer's keys and values come from.
pub enum KeyValues<'a> {
    /// Only this call's own tokens (a full sequence, no cache).
    Own,
    /// A cache of S slots (keys [B·K, H, S], values [B·K, S, H]) that this call's keys and
    /// values are written into at slot `start`; attention then reads the whole cache.
    Cache {
        cache: &'a LayerCache,
        start: &'a Tensor,
    },
}

/// One layer's key cache [B·K, H, S] and value cache [B·K, S, H].
#[derive(Clone)]
pub struct LayerCache {
    pub keys: Tensor,
    pub values: Tensor,
}

/// Attention on x [B, T, D] at `positions` [B, T], over the keys `kv` gives, masked by `mask`
/// [B, T, S]. Returns the output [B, T, D] and, with a cache, the cache written.
pub fn attention_over(
    x: &Tensor,
    positions: &Tensor,
    mask: &Tensor,
    w: &AttentionWeights,
    cfg: &AttentionConfig,
    kv: KeyValues,
) -> (Tensor, Option<LayerCache>) {
    let (q, k, v) = project_qkv(x, positions, w, cfg);
    // BTKH -> BKTH: only this call's tokens move, never the cache.
    let (k, v) = (k.transpose(&[0, 2, 1, 3]), v.transpose(&[0, 2, 1, 3]));
    let (keys, values, cache) = match kv {
        KeyValues::Own => (Keys::SlotsFirst(k), v, None),
        KeyValues::Cache { cache, start } => {
            // Keys [B·K, H, S] and values [B·K, S, H] (see `KvCache::key_shape`).
            let (b, kh, t, h) = (k.dim(0), k.dim(1), k.dim(2), k.dim(3));
            let zero = start.scalar_like(0.0);
            let k = k.transpose(&[0, 1, 3, 2]).reshape(&[b * kh, h, t]);
            let v = v.reshape(&[b * kh, t, h]);
            let keys = cache
                .keys
                .dynamic_update_slice(&k, &[zero.clone(), zero.clone(), start.clone()]);
            let values = cache
                .values
                .dynamic_update_slice(&v, &[zero.clone(), start.clone(), zero]);
            // One written cache feeds both the matmuls and a decode loop's carry. Without the
            // barrier, at B·K = 1 XLA drops the unit axis for the matmul and fuses the update
            // twice, once per consumer, copying the layer's whole cache four times a step. A
            // call that fills the whole cache (a forward without one) carries nothing on.
            let (keys, values) = if t < values.dim(1) {
                let [keys, values]: [Tensor; 2] = Tensor::optimization_barrier(&[keys, values])
                    .try_into()
                    .expect("two results");
                (keys, values)
            } else {
                (keys, values)
            };
            let written = LayerCache { keys, values };
            let s = written.values.dim(1);
            let keys = Keys::HeadDimFirst(written.keys.reshape(&[b, kh, h, s]));
            let values = written.values.reshape(&[b, kh, s, h]);
            (keys, values, Some(written))
        }
    };
    let encoded = attend_keys(&q, &keys, &values, mask, cfg);
    // BTNH,NHD->BTD
    let out = w.out.project(&encoded, &[0, 1]);
    (out, cache)
}

/// Full attention layer on x [B, T, D] with positions [B, T]; causal, windowed if configured.
pub fn attention(
    x: &Tensor,
    positions: &Tensor,
    w: &AttentionWeights,
    cfg: &AttentionConfig,
) -> Tensor {
    let mask = attention_mask(positions, positions, cfg.window);
    attention_over(x, positions, &mask, w, cfg, KeyValues::Own).0
}

/// Gemma's gated feed-forward: (gelu(x·W_gate) ⊙ x·W_up)·W_down.
pub fn gated_mlp(x: &Tensor, gate: &Weight, up: &Weight, down: &Weight) -> Tensor {
    let gated = gate.project(x, &[0]).gelu_tanh();
    down.project(&(gated * up.project(x, &[0])), &[0])
}

impl Tensor {
    /// A tensor of this shape filled with `value` (ignores the contents).
    pub fn scalar_fill(&self, value: f64) -> Tensor {
        self.graph()
            .full(value, Shape::new(self.ty(), &self.dims()))
    }
}

/// Weights of one Gemma decoder block (Gemma 2 and 3 share the layout), Tunix's names in comments.
pub struct BlockWeights {
    /// `pre_attention_norm.scale` [D]
    pub pre_attention_norm: Tensor,
    pub attention: AttentionWeights,
    /// `post_attention_norm.scale` [D] (`post_attn_norm` in Gemma 2)
    pub post_attention_norm: Tensor,
    /// `pre_ffw_norm.scale` [D]
    pub pre_ffw_norm: Tensor,
    /// `mlp.gate_proj.kernel` [D, F]
    pub gate: Weight,
    /// `mlp.up_proj.kernel` [D, F]
    pub up: Weight,
    /// `mlp.down_proj.kernel` [F, D]
    pub down: Weight,
    /// `post_ffw_norm.scale` [D]
    pub post_ffw_norm: Tensor,
}

/// One decoder block: normed attention and normed MLP, each around a residual connection.
/// The model runs every layer through this one function, with or without a cache.
pub fn gemma_block(
    x: &Tensor,
    positions: &Tensor,
    mask: &Tensor,
    w: &BlockWeights,
    cfg: &AttentionConfig,
    kv: KeyValues,
) -> (Tensor, Option<LayerCache>) {
    let h = rms_norm(x, &w.pre_attention_norm, cfg.rms_eps);
    let (a, cache) = attention_over(&h, positions, mask, &w.attention, cfg, kv);
    let x = x + &rms_norm(&a, &w.post_attention_norm, cfg.rms_eps);
    let h = rms_norm(&x, &w.pre_ffw_norm, cfg.rms_eps);
    let m = rms_norm(
        &gated_mlp(&h, &w.gate, &w.up, &w.down),
        &w.post_ffw_norm,
        cfg.rms_eps,
    );
    (x + m, cache)
}
