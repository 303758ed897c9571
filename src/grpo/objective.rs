//! The GRPO per-token objective, computed as Tunix 0.1.7's `grpo_loss_fn` computes it.
//!
//! log-ratio = clip(logp - logp_old, -20, 20); r = exp(log-ratio);
//! per-token loss = max(-A·r, -A·clip(r, 1-ε, 1+ε_high)); loss = agg(per-token loss) + β·agg(KL),
//! with `agg` one of Tunix's aggregation modes over the completion mask.

use crate::graph::Tensor;
use crate::pjrt::ElementType;

/// Log-probabilities of `targets` [B, L] under `logits` [B, L, V] / temperature, in f32.
/// Picked by a one-hot sum rather than a gather: on a batch split over devices XLA gathers a
/// gather's indices (and its gradient's scatter) onto every device; a sum stays on each.
pub fn token_log_probs(logits: &Tensor, targets: &Tensor) -> Tensor {
    logits
        .convert(ElementType::F32)
        .log_softmax(-1)
        .pick_along_last(targets)
}

/// Mean entropy per position of the distributions in `logits` [B, L, V] → [B, L].
pub fn token_entropy(logits: &Tensor) -> Tensor {
    let logp = logits.convert(ElementType::F32).log_softmax(-1);
    -(logp.exp() * &logp).sum(&[-1], false)
}

/// How the KL to the reference policy is estimated per token (Tunix's `kl_loss_mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KlEstimator {
    /// "kl": logp - ref (Tunix 0.1.7's default).
    Kl,
    /// "low_var_kl" (k3): exp(ref - logp) - (ref - logp) - 1 (Tunix 0.1.5's estimator).
    LowVarKl,
    /// "mse_kl": ½ (logp - ref)².
    MseKl,
}

/// How per-token values become one number (Tunix's `loss_agg_mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Aggregation {
    /// Mean over tokens of each sequence, then over non-empty sequences (Tunix's default).
    SequenceMeanTokenMean,
    /// Mean over every unmasked token of the batch (DAPO).
    TokenMean,
    /// Sum over tokens / max length, mean over non-empty sequences (Dr. GRPO).
    SequenceMeanTokenScale,
    /// Sum over tokens, mean over non-empty sequences.
    SeqMeanTokenSum,
}

#[derive(Clone, Debug)]
pub struct ObjectiveConfig {
    pub epsilon: f64,
    pub epsilon_high: f64,
    pub beta: f64,
    pub kl: KlEstimator,
    pub aggregation: Aggregation,
}

/// The scalar loss and the pieces worth logging.
pub struct Objective {
    pub loss: Tensor,
    /// Mean KL per unmasked token (0 when β = 0: the reference is not computed then).
    pub kl: Tensor,
    /// Fraction of unmasked tokens where the clipped term is the larger loss (Tunix's pg_clipfrac).
    pub clip_fraction: Tensor,
}

/// `logp`, `old_logp`, `ref_logp`, `mask` are [B, L] (mask 1.0 on completion tokens);
/// `advantages` is [B].
pub fn grpo_objective(
    logp: &Tensor,
    old_logp: &Tensor,
    ref_logp: &Tensor,
    advantages: &Tensor,
    mask: &Tensor,
    cfg: &ObjectiveConfig,
) -> Objective {
    let (b, l) = (logp.dim(0), logp.dim(1));
    let adv = advantages.reshape(&[b, 1]).broadcast_to(&[b, l]);
    let ratio = (logp - old_logp).clamp(-20.0, 20.0).exp();
    let unclipped = -(&adv * &ratio);
    let clipped = -(&adv * &ratio.clamp(1.0 - cfg.epsilon, 1.0 + cfg.epsilon_high));
    let per_token = unclipped.maximum(&clipped);
    let mut loss = aggregate(&per_token, mask, cfg.aggregation);
    let kl = match cfg.kl {
        KlEstimator::Kl => logp - ref_logp,
        KlEstimator::LowVarKl => {
            let d = ref_logp - logp;
            d.exp() - &d - 1.0
        }
        KlEstimator::MseKl => (logp - ref_logp).square() * 0.5,
    };
    // β = 0: no reference log-probs are computed (zeros come in), so there is no KL to report.
    let kl = if cfg.beta != 0.0 {
        loss = loss + aggregate(&kl, mask, cfg.aggregation) * cfg.beta;
        masked_mean(&kl, mask)
    } else {
        mask.scalar_like(0.0)
    };
    Objective {
        loss,
        kl,
        clip_fraction: masked_mean(&clipped.gt(&unclipped).convert(mask.ty()), mask),
    }
}

/// Σ x·mask / max(Σ mask, 1).
pub fn masked_mean(x: &Tensor, mask: &Tensor) -> Tensor {
    (x * mask).sum_all() / mask.sum_all().maximum(&mask.scalar_like(1.0))
}

/// Reduces per-token values [B, L] under `mask` to a scalar, as Tunix's `aggregate_loss`.
pub fn aggregate(per_token: &Tensor, mask: &Tensor, mode: Aggregation) -> Tensor {
    let masked = per_token * mask;
    let one = mask.scalar_like(1.0);
    let tokens_per_row = mask.sum(&[1], false);
    let rows = tokens_per_row
        .gt(&tokens_per_row.zeros_like())
        .convert(mask.ty())
        .sum_all()
        .maximum(&one);
    match mode {
        Aggregation::TokenMean => masked.sum_all() / mask.sum_all().maximum(&one),
        Aggregation::SequenceMeanTokenMean => {
            (masked.sum(&[1], false) / tokens_per_row.maximum(&one)).sum_all() / rows
        }
        Aggregation::SequenceMeanTokenScale => {
            (masked.sum(&[1], false) / per_token.dim(1) as f64).sum_all() / rows
        }
        Aggregation::SeqMeanTokenSum => masked.sum(&[1], false).sum_all() / rows,
    }
}
