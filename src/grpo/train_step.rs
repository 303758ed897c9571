//! The compiled GRPO programs: per-token log-probs of completions (for the reference and old
//! policies), and one train step — forward, objective, backward and AdamW — with the trainable
//! parameters and optimizer state donated.

use crate::graph::{Graph, Module, Shape, Tensor};
use crate::models::gemma::{hidden_states, logits, GemmaConfig, GemmaWeights};
use crate::pjrt::ElementType;

use super::lora::{self, LoraConfig, LoraSpec};
use super::objective::{
    grpo_objective, masked_mean, token_entropy, token_log_probs, ObjectiveConfig,
};
use super::optimizer::{adamw_step, AdamWConfig};

/// Batch geometry: B rows of a left-padded prompt of P tokens and a completion of C tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Geometry {
    pub batch: i64,
    pub prompt_len: i64,
    pub completion_len: i64,
}

/// What is trained.
#[derive(Clone, Debug)]
pub enum Trainable {
    Full,
    Lora(LoraConfig, Vec<LoraSpec>),
}

impl Trainable {
    /// Shapes of the trainable tensors, in program order.
    pub fn shapes(&self, cfg: &GemmaConfig) -> Vec<Vec<i64>> {
        match self {
            Trainable::Full => cfg.param_specs().into_iter().map(|(_, d)| d).collect(),
            Trainable::Lora(_, specs) => specs
                .iter()
                .flat_map(|s| [s.a_dims.clone(), s.b_dims.clone()])
                .collect(),
        }
    }

    pub fn names(&self, cfg: &GemmaConfig) -> Vec<String> {
        match self {
            Trainable::Full => cfg.param_specs().into_iter().map(|(n, _)| n).collect(),
            Trainable::Lora(_, specs) => specs
                .iter()
                .flat_map(|s| [format!("{}_lora_a", s.name), format!("{}_lora_b", s.name)])
                .collect(),
        }
    }
}

/// Log-probs [B, C] of each completion token, and the per-position logits' entropy [B, C].
/// `temperature` divides the logits first (Tunix divides by the rollout temperature).
pub fn completion_log_probs(
    cfg: &GemmaConfig,
    w: &GemmaWeights,
    tokens: &Tensor,
    valid: &Tensor,
    geo: Geometry,
    temperature: f64,
) -> (Tensor, Tensor) {
    let hidden = hidden_states(cfg, w, tokens, valid);
    // Position i predicts token i + 1: the completion's predictions start at P - 1.
    let h = hidden.narrow(1, geo.prompt_len - 1, geo.completion_len);
    let mut l = logits(cfg, w, &h).convert(ElementType::F32);
    if temperature != 1.0 && temperature != 0.0 {
        l = l / temperature;
    }
    let targets = tokens.narrow(1, geo.prompt_len, geo.completion_len);
    (token_log_probs(&l, &targets), token_entropy(&l))
}

/// params (+ LoRA A/B), tokens [B, P+C], valid [B, P+C] → log-probs [B, C].
pub fn log_probs_program(
    cfg: &GemmaConfig,
    geo: Geometry,
    lora: Option<(&LoraConfig, &[LoraSpec])>,
    temperature: f64,
) -> Module {
    let g = Graph::new("completion_log_probs");
    let (_, base) = GemmaWeights::parameters(&g, cfg);
    let weights = match lora {
        Some((lc, specs)) => {
            let ab = lora::parameters(&g, specs);
            lora::merged(&base, &ab, specs, lc)
        }
        None => base,
    };
    let w = GemmaWeights::from_tensors(cfg, &weights);
    let t = geo.prompt_len + geo.completion_len;
    let tokens = g.parameter("tokens", Shape::i32(&[geo.batch, t]));
    let valid = g.parameter("valid", Shape::i32(&[geo.batch, t]));
    let (logp, _) = completion_log_probs(cfg, &w, &tokens, &valid, geo, temperature);
    g.build(&[logp])
        .expect("the log-prob program is well-formed")
}

/// The merged weights (base + LoRA) as one program's outputs, for rollouts with the current policy.
pub fn merge_program(cfg: &GemmaConfig, lc: &LoraConfig, specs: &[LoraSpec]) -> Module {
    let g = Graph::new("merge_lora");
    let (_, base) = GemmaWeights::parameters(&g, cfg);
    let ab = lora::parameters(&g, specs);
    let merged = lora::merged(&base, &ab, specs, lc);
    let outputs: Vec<Tensor> = specs.iter().map(|s| merged[s.param].clone()).collect();
    g.build(&outputs).expect("the merge program is well-formed")
}

/// Metrics the train step returns after the new state, in this order.
pub const STEP_METRICS: [&str; 6] = [
    "loss",
    "kl",
    "clip_fraction",
    "entropy",
    "grad_norm",
    "learning_rate",
];

/// One GRPO step. Program arguments, in order:
/// frozen base params (LoRA only), trainable, mu, nu (f32, like trainable), step (i32),
/// tokens [B, P+C], valid [B, P+C], completion_mask [B, C] f32, advantages [B], old_logps [B, C],
/// ref_logps [B, C]. Results: trainable', mu', nu', step', then `STEP_METRICS` (f32 scalars).
/// With `use_old_logps` false (μ = 1) the old policy is the current one, as in Tunix.
pub fn train_step_program(
    cfg: &GemmaConfig,
    geo: Geometry,
    trainable: &Trainable,
    objective: &ObjectiveConfig,
    optimizer: &AdamWConfig,
    temperature: f64,
    use_old_logps: bool,
) -> Module {
    let g = Graph::new("grpo_train_step");
    let shapes = trainable.shapes(cfg);
    let names = trainable.names(cfg);
    let base: Vec<Tensor> = match trainable {
        Trainable::Lora(..) => GemmaWeights::parameters(&g, cfg).1,
        Trainable::Full => vec![],
    };
    let param_ty = |i: usize| {
        if matches!(trainable, Trainable::Full) {
            cfg.dtype
        } else {
            let _ = i;
            ElementType::F32
        }
    };
    let params: Vec<Tensor> = shapes
        .iter()
        .enumerate()
        .map(|(i, d)| g.parameter(&names[i], Shape::new(param_ty(i), d)))
        .collect();
    let mu: Vec<Tensor> = shapes
        .iter()
        .enumerate()
        .map(|(i, d)| g.parameter(&format!("mu.{}", names[i]), Shape::f32(d)))
        .collect();
    let nu: Vec<Tensor> = shapes
        .iter()
        .enumerate()
        .map(|(i, d)| g.parameter(&format!("nu.{}", names[i]), Shape::f32(d)))
        .collect();
    let step = g.parameter("step", Shape::i32(&[]));
    let n = params.len();
    for (k, p) in params
        .iter()
        .chain(&mu)
        .chain(&nu)
        .chain(std::iter::once(&step))
        .enumerate()
    {
        g.donate_parameter(p, k);
    }
    let (b, c, t) = (
        geo.batch,
        geo.completion_len,
        geo.prompt_len + geo.completion_len,
    );
    let tokens = g.parameter("tokens", Shape::i32(&[b, t]));
    let valid = g.parameter("valid", Shape::i32(&[b, t]));
    let mask = g.parameter("completion_mask", Shape::f32(&[b, c]));
    let adv = g.parameter("advantages", Shape::f32(&[b]));
    let old = g.parameter("old_logps", Shape::f32(&[b, c]));
    let reference = g.parameter("ref_logps", Shape::f32(&[b, c]));

    let weights = match trainable {
        Trainable::Full => params.clone(),
        Trainable::Lora(lc, specs) => lora::merged(&base, &params, specs, lc),
    };
    let w = GemmaWeights::from_tensors(cfg, &weights);
    let (logp, entropy) = completion_log_probs(cfg, &w, &tokens, &valid, geo, temperature);
    let old = if use_old_logps {
        old
    } else {
        logp.stop_gradient()
    };
    let obj = grpo_objective(&logp, &old, &reference, &adv, &mask, objective);
    let grads = g
        .grad(&obj.loss, &params)
        .expect("the GRPO loss is differentiable");
    let update = adamw_step(&params, &grads, &mu, &nu, &step, optimizer);
    let mut results = [update.params, update.mu, update.nu, vec![step + 1.0]].concat();
    results.extend([
        obj.loss,
        obj.kl,
        obj.clip_fraction,
        masked_mean(&entropy, &mask).stop_gradient(),
        update.grad_norm,
        update.lr,
    ]);
    debug_assert_eq!(results.len(), 3 * n + 1 + STEP_METRICS.len());
    g.build(&results).expect("the train step is well-formed")
}
