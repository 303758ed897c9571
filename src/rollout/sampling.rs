//! Choosing the next token on the device: greedy, or temperature with top-k / top-p, by
//! Gumbel-max over the kept candidates (as Tunix's sampler draws from the same distribution).

use crate::graph::math::block_size;
use crate::graph::{Graph, Shape, Tensor};
use crate::pjrt::ElementType;

/// The compile-time part of sampling (changes the program's shapes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SamplerShape {
    pub greedy: bool,
    pub top_k: Option<i64>,
    /// Whether top-p filtering runs (its threshold is a run-time value).
    pub top_p: bool,
}

/// Samples from `logits` [V, B] (f32, vocabulary first: `logits_vocab_major`), whose rows
/// (columns here) are split over the mesh axes `rows_over`. `temperature` and `top_p` are f32
/// scalars, `rng` the threefry state. Returns (new rng, tokens [B] i32, log-probs of the tokens
/// [B] under the temperature-scaled distribution).
///
/// The reductions over the vocabulary (softmax, argmax) read the logits in the order the head
/// wrote them; only the log-probs are turned to [B, V] for top-k, so no transpose sits right
/// after the head's matmul (XLA would fold it back into the slower [B, V] matmul).
pub fn sample(
    g: &Graph,
    logits: &Tensor,
    rng: &Tensor,
    temperature: &Tensor,
    top_p: &Tensor,
    shape: SamplerShape,
    rows_over: &[String],
) -> (Tensor, Tensor, Tensor) {
    let (v, b) = (logits.dim(0), logits.dim(1));
    if shape.greedy {
        let (top, token) = logits.max_and_argmax(0);
        // The chosen token's log-prob is log_softmax at the maximum, -log Σ exp(l - max):
        // reductions, which a batch split over devices computes where the rows are.
        let logp = -(logits - &top.reshape(&[1, b]))
            .exp()
            .sum(&[0], false)
            .log();
        return (rng.clone(), token, logp);
    }
    let scaled = logits / temperature;
    let log_probs = || scaled.log_softmax(0).transpose(&[1, 0]);
    // Candidates: the top k (or the whole vocabulary, sorted only when top-p needs it).
    let (cand_logp, cand_ids) = match (shape.top_k, shape.top_p) {
        (Some(k), _) => top_k_log_probs(&scaled, k.min(v), rows_over),
        (None, true) => log_probs().top_k_of_rows(v, rows_over),
        (None, false) => (log_probs(), g.iota(Shape::i32(&[b, v]), 1)),
    };
    let mut keep_logp = cand_logp.clone();
    if shape.top_p {
        // Keep the smallest prefix whose mass reaches top_p: drop a candidate when the mass
        // before it already exceeds top_p.
        let p = cand_logp.exp();
        let before = p.cumsum(1) - &p;
        let drop = before.gt(&top_p.broadcast_to(&before.dims()));
        keep_logp = drop.select(&keep_logp.scalar_fill(f32::MIN as f64), &keep_logp);
    }
    // The state moves on by a fixed stride (2^40 counters, more than any draw uses) instead of
    // by the draw's size, so the stream does not depend on the batch: rows added to fill a
    // batch split over more devices leave the real rows' samples as they were.
    let (_, noise) = g.gumbel(rng, Shape::f32(&keep_logp.dims()));
    let stride = g.iota(Shape::new(ElementType::U64, &[2]), 0) * (1u64 << 40) as f64;
    let rng = rng + &stride;
    let choice = (&keep_logp + &noise).argmax(-1);
    let token = cand_ids.pick_along_last(&choice).convert(ElementType::S32);
    // The candidates' log-probs are the full distribution's (top-p's mask is on a copy).
    let logp = cand_logp.pick_along_last(&choice);
    (rng, token, logp)
}

/// The `k` largest of `scaled` [V, B] (vocabulary first) in each column, as log-probs under the
/// softmax over all V and token ids, [B, k] each, in `top_k`'s order (ties to the lower id).
/// The k largest lie in the k blocks (of about √V entries) with the largest maxima; those
/// blocks, in vocabulary order, are gathered and only their entries sorted: the same answer
/// as `top_k` over the whole vocabulary, which is the dearest op of a sampled decode step on a
/// CPU (XLA's TopK over 262k entries) and sort-based on a TPU. Where V has no such blocks, or
/// k blocks would cover it, `top_k` over all of it.
pub fn top_k_log_probs(scaled: &Tensor, k: i64, rows_over: &[String]) -> (Tensor, Tensor) {
    let (v, b) = (scaled.dim(0), scaled.dim(1));
    let block = block_size(v);
    if block == 1 || k * block >= v {
        return scaled
            .log_softmax(0)
            .transpose(&[1, 0])
            .top_k_of_rows(k, rows_over);
    }
    let log_norm = scaled.logsumexp(0, false).reshape(&[b, 1]);
    let blocks = scaled.reshape(&[v / block, block, b]);
    let block_max = blocks.max(&[1], false).transpose(&[1, 0]);
    let (_, best_blocks) = block_max.top_k_of_rows(k, rows_over);
    let best_blocks = Tensor::sort(&[best_blocks], 1, false).swap_remove(0);
    // [B, k, block]: each row's chosen blocks, gathered on the row's own device.
    let window = blocks.blocks_at(0, &best_blocks);
    let within = scaled.graph().iota(Shape::i32(&[b, k, block]), 2);
    let ids = (best_blocks.reshape(&[b, k, 1]).broadcast_to(&[b, k, block]) * block as f64
        + within)
        .reshape(&[b, k * block]);
    let (values, at) = window.reshape(&[b, k * block]).top_k_of_rows(k, rows_over);
    (values - log_norm, ids.pick_per_row(&at))
}
