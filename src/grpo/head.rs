//! Log-probabilities of target tokens through the tied LM head, a chunk of positions at a time.
//!
//! Gemma's head is 262k words wide: at 16 rows × 128 completion tokens one f32 copy of the
//! logits is 2.1 GB, and differentiating through them keeps several copies alive until the
//! backward pass. When only the hidden states need a gradient (the embedding is frozen, as
//! with LoRA), that gradient is known in the forward pass: for a target t under temperature τ,
//!
//!   ∂ log p(t | h) / ∂h = Σ_v (1[v = t] − p_v) · (∂ℓ_v/∂z_v) / τ · E_v,
//!
//! with z = h·Eᵀ the raw logits, ℓ = z or Gemma 2's soft cap c·tanh(z/c) (whose derivative is
//! 1 − (ℓ/c)²). So each chunk computes its logits, its log-probs and entropy and that [tokens, D]
//! Jacobian, and drops the logits. The backward pass is then one multiply by the Jacobian: the
//! same FLOPs as differentiating through the logits, and no [tokens, vocab] array outlives its
//! chunk (the liger-kernel idea of a fused linear cross-entropy).

use crate::graph::{DotDims, Tensor};
use crate::models::gemma::{logits, GemmaConfig, GemmaWeights};
use crate::pjrt::ElementType;

/// About this many tokens (rows × positions) per chunk: 0.5 GB of f32 logits for Gemma 3.
pub const CHUNK_TOKENS: i64 = 512;

/// How the head's log-probs are differentiated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeadGradient {
    /// Through the logits, the embedding included (full fine-tuning): every logit is kept for
    /// the backward pass.
    Full,
    /// Through the hidden states only (a frozen embedding, as with LoRA): chunked, the
    /// Jacobian computed in the forward pass.
    HiddenOnly,
    /// No gradient (scoring with the reference or old policy): chunked.
    None,
}

/// Log-probs [B, C] of `targets` [B, C] and the entropy [B, C] of each position's distribution,
/// from final hidden states `h` [B, C, D], with the logits divided by `temperature` (0 and 1
/// leave them as they are). The entropy carries no gradient.
/// Each chunk holds about `chunk_tokens` tokens on each device (`CHUNK_TOKENS` in the
/// programs): the rows are split over every device of the graph's mesh, when it has one.
pub fn target_log_probs(
    cfg: &GemmaConfig,
    w: &GemmaWeights,
    h: &Tensor,
    targets: &Tensor,
    temperature: f64,
    gradient: HeadGradient,
    chunk_tokens: i64,
) -> (Tensor, Tensor) {
    let (b, c) = (h.dim(0), h.dim(1));
    assert!(c > 0, "log-probs of an empty completion");
    let devices = h.graph().mesh().map_or(1, |m| m.num_devices());
    let positions = chunk_positions(chunk_tokens, b, devices, c);
    let with_jacobian = gradient == HeadGradient::HiddenOnly;
    let mut parts: Vec<Chunk> = vec![];
    let mut start = 0;
    while start < c {
        let len = positions.min(c - start);
        let mut chunk_h = h.narrow(1, start, len).stop_gradient();
        // Each chunk starts once the one before has its results: independent chunks would
        // otherwise be scheduled side by side, each with its logits live (13 at once, measured).
        if let Some(before) = parts.last() {
            let mut fence = vec![chunk_h, before.logp.clone(), before.entropy.clone()];
            fence.extend(before.jacobian.clone());
            chunk_h = Tensor::optimization_barrier(&fence).swap_remove(0);
        }
        let chunk = chunk_log_probs(
            cfg,
            w,
            &chunk_h,
            &targets.narrow(1, start, len),
            temperature,
            with_jacobian,
        );
        parts.push(chunk);
        start += len;
    }
    let join = |pick: fn(&Chunk) -> &Tensor| {
        let all: Vec<Tensor> = parts.iter().map(|p| pick(p).clone()).collect();
        Tensor::concatenate(&all, 1).stop_gradient()
    };
    let logp = join(|p| &p.logp);
    let entropy = join(|p| &p.entropy);
    if !with_jacobian {
        return (logp, entropy);
    }
    let jacobian = join(|p| p.jacobian.as_ref().expect("asked for"));
    // Equal to `logp`; its gradient with respect to `h` is the Jacobian.
    let through_h = ((h - &h.stop_gradient()) * jacobian).sum(&[2], false);
    (logp + through_h.convert(ElementType::F32), entropy)
}

/// Positions per chunk so that each device's part of a chunk holds about `chunk_tokens`
/// tokens: its rows (`rows / devices`) times the positions, at least one, at most `c`.
fn chunk_positions(chunk_tokens: i64, rows: i64, devices: i64, c: i64) -> i64 {
    (chunk_tokens * devices.max(1) / rows.max(1)).clamp(1, c)
}

struct Chunk {
    logp: Tensor,
    entropy: Tensor,
    jacobian: Option<Tensor>,
}

/// Whether the log-probs divide the logits by the rollout temperature: 1 changes nothing, and
/// 0 (greedy rollouts) has no distribution to match, so both leave the logits as they are.
pub fn divides_logits(temperature: f64) -> bool {
    temperature != 1.0 && temperature != 0.0
}

/// One chunk [B, n, D] of hidden states → log-probs [B, n], entropy [B, n] and, if asked,
/// ∂ logp / ∂h [B, n, D]. The logits are computed as `models::gemma::logits` computes them (in
/// the model's dtype, soft cap included, then f32), so every program scores a token alike.
fn chunk_log_probs(
    cfg: &GemmaConfig,
    w: &GemmaWeights,
    h: &Tensor,
    targets: &Tensor,
    temperature: f64,
    with_jacobian: bool,
) -> Chunk {
    let embed = w.embed.stop_gradient();
    let capped = logits(cfg, w, h).convert(ElementType::F32);
    let scaled = divides_logits(temperature);
    let logits = if scaled {
        &capped / temperature
    } else {
        capped.clone()
    };
    // Every [B, n, V] array costs a pass over 0.5 GB and fresh pages for it: the softmax p is
    // the only one made besides the logits. The target's logit is gathered, not selected from a
    // row; the entropy is lse − Σ p·l; the Jacobian's one-hot part is the target's embedding row.
    let (b, n, v) = (logits.dim(0), logits.dim(1), logits.dim(2));
    let lse = logits.logsumexp(-1, true);
    let p = (&logits - &lse).exp();
    let lse = lse.reshape(&[b, n]);
    let at_target = |t: &Tensor| {
        t.reshape(&[b * n, v])
            .pick_per_row(&targets.convert(ElementType::S32).reshape(&[b * n, 1]))
            .reshape(&[b, n])
    };
    let logp = at_target(&logits) - &lse;
    let entropy = &lse - &(&p * &logits).sum(&[-1], false);
    let jacobian = with_jacobian.then(|| {
        // Σ_v (1[v = t] − p_v)·c'_v·E_v / τ, c' the soft cap's derivative (1 without one).
        let cap_slope = cfg.final_softcap.map(|cap| {
            let t = &capped / cap;
            t.scalar_like(1.0) - &t * &t
        });
        let (weights, target_slope) = match &cap_slope {
            Some(c) => (&p * c, Some(at_target(c))),
            None => (p.clone(), None),
        };
        let mixed = weights.convert(embed.ty()).dot_general(
            &embed,
            DotDims {
                lhs_contract: vec![2],
                rhs_contract: vec![0],
                ..Default::default()
            },
        );
        let mut target_rows = embed.take(targets);
        if let Some(c) = target_slope {
            let d = target_rows.dim(2);
            target_rows = target_rows * c.convert(embed.ty()).broadcast_in_dim(&[b, n, d], &[0, 1]);
        }
        let jacobian = target_rows - mixed;
        if scaled {
            jacobian / temperature
        } else {
            jacobian
        }
    });
    Chunk {
        logp,
        entropy,
        jacobian,
    }
}

#[cfg(test)]
mod tests {
    use super::chunk_positions;

    #[test]
    fn chunks_are_sized_per_device() {
        // 16 rows on one device: 512 tokens are 32 positions of 16 rows.
        assert_eq!(chunk_positions(512, 16, 1, 128), 32);
        // The same batch over 8 devices holds 2 rows each: 256 positions, cut to the 128 there are.
        assert_eq!(chunk_positions(512, 16, 8, 128), 128);
        assert_eq!(chunk_positions(512, 64, 8, 128), 64);
        // Never fewer than one position.
        assert_eq!(chunk_positions(8, 64, 1, 128), 1);
    }
}
