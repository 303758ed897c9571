//! The GRPO per-token objective, computed as Tunix computes it (see FACTS: `grpo_loss_fn`).
//!
//! ratio r = exp(logp - logp_old); per-token loss = -min(r·A, clip(r, 1-ε, 1+ε_high)·A)
//! plus β·KL(π‖π_ref) per token, aggregated over the completion mask.

use crate::graph::Tensor;
use crate::pjrt::ElementType;

/// Log-probabilities of `targets` [B, L] under `logits` [B, L, V], in f32.
pub fn token_log_probs(logits: &Tensor, targets: &Tensor) -> Tensor {
    logits
        .convert(ElementType::F32)
        .log_softmax(-1)
        .take_along_last(targets)
}

/// How the KL to the reference policy is estimated per token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KlEstimator {
    /// exp(ref - logp) - (ref - logp) - 1 (Tunix 0.1.5, unbiased and non-negative).
    K3,
    /// logp - ref (Tunix HEAD's default).
    K1,
    /// No KL term.
    Off,
}

/// How per-token losses become one number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Aggregation {
    /// Mean over tokens of each sequence, then over sequences (Tunix's default).
    SequenceMeanTokenMean,
    /// Mean over every unmasked token of the batch (DAPO).
    TokenMean,
    /// Sum over tokens / max length, mean over sequences (Dr. GRPO).
    SequenceMeanTokenScale,
    /// Sum over tokens, mean over sequences.
    SequenceMeanTokenSum,
}

#[derive(Clone, Debug)]
pub struct ObjectiveConfig {
    pub epsilon: f64,
    pub epsilon_high: f64,
    pub beta: f64,
    pub kl: KlEstimator,
    pub aggregation: Aggregation,
}

/// The scalar loss and the per-token pieces worth logging.
pub struct Objective {
    pub loss: Tensor,
    /// Mean KL per unmasked token.
    pub kl: Tensor,
    /// Fraction of unmasked tokens whose ratio was clipped.
    pub clip_fraction: Tensor,
}

/// `logp`, `old_logp`, `ref_logp`, `mask` are [B, L] (mask 1.0 for completion tokens);
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
    let ratio = (logp - old_logp).exp();
    let clipped = ratio.clamp(1.0 - cfg.epsilon, 1.0 + cfg.epsilon_high);
    let unclipped_obj = &ratio * &adv;
    let clipped_obj = &clipped * &adv;
    let mut per_token = -unclipped_obj.minimum(&clipped_obj);
    let kl = match cfg.kl {
        KlEstimator::K3 => {
            let d = ref_logp - logp;
            d.exp() - &d - 1.0
        }
        KlEstimator::K1 => logp - ref_logp,
        KlEstimator::Off => logp.zeros_like(),
    };
    if cfg.kl != KlEstimator::Off && cfg.beta != 0.0 {
        per_token = per_token + &kl * cfg.beta;
    }
    let loss = aggregate(&per_token, mask, cfg.aggregation);
    let tokens = mask.sum_all().maximum(&mask.scalar_like(1.0));
    let clipped_tokens = ratio.ne(&clipped).convert(mask.ty()) * mask;
    Objective {
        loss,
        kl: (&kl * mask).sum_all() / &tokens,
        clip_fraction: clipped_tokens.sum_all() / tokens,
    }
}

/// Reduces per-token losses [B, L] under `mask` to a scalar.
pub fn aggregate(per_token: &Tensor, mask: &Tensor, mode: Aggregation) -> Tensor {
    let masked = per_token * mask;
    let one = mask.scalar_like(1.0);
    match mode {
        Aggregation::TokenMean => masked.sum_all() / mask.sum_all().maximum(&one),
        Aggregation::SequenceMeanTokenMean => {
            (masked.sum(&[1], false) / mask.sum(&[1], false).maximum(&one)).mean(&[0], false)
        }
        Aggregation::SequenceMeanTokenScale => {
            (masked.sum(&[1], false) / per_token.dim(1) as f64).mean(&[0], false)
        }
        Aggregation::SequenceMeanTokenSum => masked.sum(&[1], false).mean(&[0], false),
    }
}
