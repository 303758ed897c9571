//! The losses the train step differentiates, each over the batch it declares: GRPO's objective
//! on rows or grouped rows, and the supervised cross-entropy on rows or packed examples, with
//! the completion log-probs they share.

use crate::graph::{DotDims, Graph, Layout, Shape, Tensor};
use crate::models::gemma::{
    hidden_states, logits, packed_hidden_states, GemmaConfig, GemmaWeights,
};
use crate::pjrt::ElementType;

use super::batches::{
    declare_packed_rows, declare_sequences, BatchShape, Geometry, GroupedGeometry, PackedGeometry,
    PackedRows, PackedSftBatch, Sequences, SftBatch,
};
use super::head::{divides_logits, target_log_probs, HeadGradient, CHUNK_TOKENS};
use super::objective::{
    aggregate, grpo_objective, token_entropy, token_log_probs, Aggregation, ObjectiveConfig,
};
use super::programs::{place_batch, Loss};

/// Log-probs [B, C] of each completion token, and the per-position logits' entropy [B, C].
/// `temperature` divides the logits first (Tunix divides by the rollout temperature).
/// `gradient` says what the log-probs are differentiated with respect to: all but `Full`
/// compute the LM head a chunk at a time (`head.rs`).
pub fn completion_log_probs(
    cfg: &GemmaConfig,
    w: &GemmaWeights,
    seq: &Sequences<Tensor>,
    geo: Geometry,
    temperature: f64,
    gradient: HeadGradient,
) -> (Tensor, Tensor) {
    let hidden = hidden_states(cfg, w, &seq.tokens, &seq.valid);
    // Position i predicts token i + 1: the completion's predictions start at P - 1.
    let h = hidden.narrow(1, geo.prompt_len - 1, geo.completion_len);
    let targets = seq.tokens.narrow(1, geo.prompt_len, geo.completion_len);
    log_probs_of(cfg, w, &h, &targets, temperature, gradient)
}

/// Log-probs [B, C] of `targets` [B, C] after hidden states `h` [B, C, D], and the entropy of
/// each position's distribution, through the head `gradient` asks for.
fn log_probs_of(
    cfg: &GemmaConfig,
    w: &GemmaWeights,
    h: &Tensor,
    targets: &Tensor,
    temperature: f64,
    gradient: HeadGradient,
) -> (Tensor, Tensor) {
    if gradient != HeadGradient::Full {
        return target_log_probs(cfg, w, h, targets, temperature, gradient, CHUNK_TOKENS);
    }
    let mut l = logits(cfg, w, h).convert(ElementType::F32);
    if divides_logits(temperature) {
        l = l / temperature;
    }
    (token_log_probs(&l, targets), token_entropy(&l))
}

/// Declares the token arrays of a batch of completions of `shape` (rows, or grouped rows),
/// placed over the layout's devices, and returns their completions' log-probs and entropy
/// [B, C]: what the GRPO loss and the log-probs programs read first.
pub(crate) fn declare_completion_log_probs(
    g: &Graph,
    cfg: &GemmaConfig,
    w: &GemmaWeights,
    shape: BatchShape,
    layout: &Layout,
    temperature: f64,
    gradient: HeadGradient,
) -> (Tensor, Tensor) {
    match shape {
        BatchShape::Rows(geo) => {
            let seq = declare_sequences(g, geo);
            place_batch(g, layout, &[&seq.tokens, &seq.valid]);
            completion_log_probs(cfg, w, &seq, geo, temperature, gradient)
        }
        BatchShape::Grouped(geo) => {
            let rows = declare_packed_rows(g, geo.packed());
            let slots = g.parameter(
                "completion_slots",
                Shape::i32(&[geo.groups, geo.group_size * geo.completion_len]),
            );
            let mut arrays = rows.arrays().to_vec();
            arrays.push(&slots);
            place_batch(g, layout, &arrays);
            grouped_log_probs(cfg, w, &rows, &slots, geo, temperature, gradient)
        }
        BatchShape::Packed(_) => panic!("packed supervised examples have no completions"),
    }
}

/// Log-probs [R, T] of packed rows' target slots and the entropy there.
pub fn packed_log_probs(
    cfg: &GemmaConfig,
    w: &GemmaWeights,
    rows: &PackedRows<Tensor>,
    temperature: f64,
    gradient: HeadGradient,
) -> (Tensor, Tensor) {
    let hidden = packed_hidden_states(cfg, w, &rows.tokens, &rows.positions, &rows.segments);
    let h = rows_at(&hidden, &rows.target_at);
    log_probs_of(cfg, w, &h, &rows.target_ids, temperature, gradient)
}

/// Log-probs [B, C] of grouped rows' completions, and the entropy there: the head runs on each
/// row's target slots, and completion i's token j of a row is read from slot
/// `completion_slots[row, i · C + j]`, by a select over the row's slots (exact at any matmul
/// precision; rows split over devices stay where they are).
pub fn grouped_log_probs(
    cfg: &GemmaConfig,
    w: &GemmaWeights,
    rows: &PackedRows<Tensor>,
    completion_slots: &Tensor,
    geo: GroupedGeometry,
    temperature: f64,
    gradient: HeadGradient,
) -> (Tensor, Tensor) {
    let (logp, entropy) = packed_log_probs(cfg, w, rows, temperature, gradient);
    let per_completion = [geo.batch(), geo.completion_len];
    let read = |x: Tensor| {
        let (r, t, n) = (x.dim(0), x.dim(1), completion_slots.dim(1));
        let slot = completion_slots
            .reshape(&[r, n, 1])
            .broadcast_to(&[r, n, t]);
        let hit = x.graph().iota(Shape::i32(&[r, n, t]), 2).eq(&slot);
        let spread = x.reshape(&[r, 1, t]).broadcast_to(&[r, n, t]);
        hit.select(&spread, &spread.zeros_like())
            .sum(&[2], false)
            .reshape(&per_completion)
    };
    (read(logp), read(entropy))
}

/// A loss over a batch and the metrics that come with it (all scalars; kl and clip fraction are
/// 0 where the loss has none).
pub struct LossTerms {
    pub loss: Tensor,
    pub kl: Tensor,
    pub clip_fraction: Tensor,
    pub entropy: Tensor,
}

/// Declares the GRPO batch and returns Tunix's `grpo_loss_fn` on it.
/// The token arrays come first (rows of `Geometry`, or `GroupedGeometry`'s packed rows), then
/// the completion mask, advantages and old and reference log-probs.
#[allow(clippy::too_many_arguments)]
fn grpo_loss(
    g: &Graph,
    cfg: &GemmaConfig,
    w: &GemmaWeights,
    shape: BatchShape,
    objective: &ObjectiveConfig,
    temperature: f64,
    use_old_logps: bool,
    layout: &Layout,
    head_gradient: HeadGradient,
) -> LossTerms {
    let (logp, entropy) =
        declare_completion_log_probs(g, cfg, w, shape, layout, temperature, head_gradient);
    let (b, c) = (logp.dim(0), logp.dim(1));
    let mask = g.parameter("completion_mask", Shape::f32(&[b, c]));
    let advantages = g.parameter("advantages", Shape::f32(&[b]));
    let old_logps = g.parameter("old_logps", Shape::f32(&[b, c]));
    let ref_logps = g.parameter("ref_logps", Shape::f32(&[b, c]));
    place_batch(g, layout, &[&mask, &advantages, &old_logps, &ref_logps]);
    let old = if use_old_logps {
        old_logps
    } else {
        logp.stop_gradient()
    };
    let mask = &mask;
    let obj = grpo_objective(&logp, &old, &ref_logps, &advantages, mask, objective);
    LossTerms {
        loss: obj.loss,
        kl: obj.kl,
        clip_fraction: obj.clip_fraction,
        // Aggregated like the loss, as Tunix's aux["entropy"] is.
        entropy: aggregate(&entropy, mask, objective.aggregation).stop_gradient(),
    }
}

/// Cross-entropy of the target tokens (mask [B, C]), averaged over target tokens: the
/// supervised loss, as `optax.softmax_cross_entropy_with_integer_labels` masked and averaged.
pub fn target_cross_entropy(
    cfg: &GemmaConfig,
    w: &GemmaWeights,
    seq: &Sequences<Tensor>,
    target_mask: &Tensor,
    geo: Geometry,
    head_gradient: HeadGradient,
) -> (Tensor, Tensor) {
    let (logp, entropy) = completion_log_probs(cfg, w, seq, geo, 1.0, head_gradient);
    token_mean_cross_entropy(&logp, &entropy, target_mask)
}

/// −logp and the entropy averaged over the target tokens `mask` marks; the entropy carries no
/// gradient.
fn token_mean_cross_entropy(logp: &Tensor, entropy: &Tensor, mask: &Tensor) -> (Tensor, Tensor) {
    let loss = aggregate(&(-logp), mask, Aggregation::TokenMean);
    let entropy = aggregate(entropy, mask, Aggregation::TokenMean).stop_gradient();
    (loss, entropy)
}

/// A supervised loss and entropy as the train step's loss terms (no KL, no clipping).
fn supervised_terms(g: &Graph, (loss, entropy): (Tensor, Tensor)) -> LossTerms {
    let zero = g.scalar(0.0, ElementType::F32);
    LossTerms {
        loss,
        kl: zero.clone(),
        clip_fraction: zero,
        entropy,
    }
}

/// Declares the supervised batch and returns its cross-entropy.
fn sft_loss(
    g: &Graph,
    cfg: &GemmaConfig,
    w: &GemmaWeights,
    geo: Geometry,
    layout: &Layout,
    head_gradient: HeadGradient,
) -> LossTerms {
    let batch = SftBatch {
        seq: declare_sequences(g, geo),
        target_mask: g.parameter("target_mask", Shape::f32(&[geo.batch, geo.completion_len])),
    };
    place_batch(
        g,
        layout,
        &[&batch.seq.tokens, &batch.seq.valid, &batch.target_mask],
    );
    supervised_terms(
        g,
        target_cross_entropy(cfg, w, &batch.seq, &batch.target_mask, geo, head_gradient),
    )
}

/// Declares a packed supervised batch and returns its cross-entropy, averaged over the used
/// target slots: the same loss as `sft_loss` on the examples one per row.
fn packed_sft_loss(
    g: &Graph,
    cfg: &GemmaConfig,
    w: &GemmaWeights,
    geo: PackedGeometry,
    layout: &Layout,
    head_gradient: HeadGradient,
) -> LossTerms {
    let batch = PackedSftBatch {
        rows: declare_packed_rows(g, geo),
        target_mask: g.parameter("target_mask", Shape::f32(&[geo.rows, geo.targets])),
    };
    let mut arrays = batch.rows.arrays().to_vec();
    arrays.push(&batch.target_mask);
    place_batch(g, layout, &arrays);
    supervised_terms(g, packed_cross_entropy(cfg, w, &batch, head_gradient))
}

/// Cross-entropy of a packed batch's targets averaged over its used target slots, and the mean
/// entropy there: `target_cross_entropy` of the same examples one per row.
pub fn packed_cross_entropy(
    cfg: &GemmaConfig,
    w: &GemmaWeights,
    batch: &PackedSftBatch<Tensor>,
    head_gradient: HeadGradient,
) -> (Tensor, Tensor) {
    let (logp, entropy) = packed_log_probs(cfg, w, &batch.rows, 1.0, head_gradient);
    token_mean_cross_entropy(&logp, &entropy, &batch.target_mask)
}

/// `x[r, at[r, j]]` for x [R, L, D] and `at` [R, T] → [R, T, D], as a one-hot matmul: exact,
/// differentiable through the matmul's rule, and batched over rows so rows split over devices
/// stay on their device (its FLOPs, 2·T·L·D a row, are a rounding error beside the head's).
fn rows_at(x: &Tensor, at: &Tensor) -> Tensor {
    let (r, l, t) = (x.dim(0), x.dim(1), at.dim(1));
    let at = at.reshape(&[r, t, 1]).broadcast_to(&[r, t, l]);
    let one_hot = x
        .graph()
        .iota(Shape::i32(&[r, t, l]), 2)
        .eq(&at)
        .convert(x.ty());
    one_hot.dot_general(
        x,
        DotDims {
            lhs_batch: vec![0],
            rhs_batch: vec![0],
            lhs_contract: vec![2],
            rhs_contract: vec![1],
        },
    )
}

/// Declares the batch `loss` reads, of shape `shape`, and returns the loss over it.
pub(crate) fn declare_loss(
    g: &Graph,
    cfg: &GemmaConfig,
    w: &GemmaWeights,
    shape: BatchShape,
    loss: &Loss,
    layout: &Layout,
    head_gradient: HeadGradient,
) -> LossTerms {
    match loss {
        Loss::Grpo {
            objective,
            temperature,
            use_old_logps,
        } => grpo_loss(
            g,
            cfg,
            w,
            shape,
            objective,
            *temperature,
            *use_old_logps,
            layout,
            head_gradient,
        ),
        Loss::Sft => match shape {
            BatchShape::Rows(geo) => sft_loss(g, cfg, w, geo, layout, head_gradient),
            BatchShape::Packed(geo) => packed_sft_loss(g, cfg, w, geo, layout, head_gradient),
            BatchShape::Grouped(_) => panic!("supervised batches are never grouped"),
        },
    }
}
