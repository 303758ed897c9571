//! AdamW with global-norm clipping and a warmup-cosine schedule, as graphs, matching optax's
//! `chain(clip_by_global_norm(c), adamw(schedule, b1, b2, eps, weight_decay))`.

use crate::graph::Tensor;
use crate::pjrt::ElementType;

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct AdamWConfig {
    pub peak_lr: f64,
    pub b1: f64,
    pub b2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    /// Clip gradients to this global L2 norm (None: no clipping).
    pub max_grad_norm: Option<f64>,
    pub warmup_steps: i64,
    /// Total steps of the schedule (warmup included); the rate reaches 0 at the end.
    pub decay_steps: i64,
}

/// Learning rate at `step` (an i32 scalar tensor, 0 for the first update): linear warmup from 0
/// to the peak, then cosine decay to 0 (optax.warmup_cosine_decay_schedule with end value 0).
pub fn warmup_cosine(step: &Tensor, cfg: &AdamWConfig) -> Tensor {
    let s = step.convert(ElementType::F32);
    let warmup = cfg.warmup_steps.max(0) as f64;
    let warm = if warmup > 0.0 {
        &s * (cfg.peak_lr / warmup)
    } else {
        s.scalar_like(cfg.peak_lr)
    };
    let span = (cfg.decay_steps as f64 - warmup).max(1.0);
    let progress = ((&s - warmup) / span).clamp(0.0, 1.0);
    let cosine = ((progress * std::f64::consts::PI).cos() + 1.0) * (0.5 * cfg.peak_lr);
    s.lt(&s.scalar_like(warmup)).select(&warm, &cosine)
}

/// sqrt(Σ g²) over every gradient, in f32.
pub fn global_norm(grads: &[Tensor]) -> Tensor {
    let mut total = grads[0].graph().scalar(0.0, ElementType::F32);
    for g in grads {
        total = total + g.convert(ElementType::F32).square().sum_all();
    }
    total.sqrt()
}

/// One AdamW step. `step` counts updates done before this one. Returns new params, first and
/// second moments, and the gradient norm before clipping.
pub struct AdamWStep {
    pub params: Vec<Tensor>,
    pub mu: Vec<Tensor>,
    pub nu: Vec<Tensor>,
    pub grad_norm: Tensor,
    pub lr: Tensor,
}

pub fn adamw_step(
    params: &[Tensor],
    grads: &[Tensor],
    mu: &[Tensor],
    nu: &[Tensor],
    step: &Tensor,
    cfg: &AdamWConfig,
) -> AdamWStep {
    let norm = global_norm(grads);
    let scale = match cfg.max_grad_norm {
        // optax: keep g when norm < max, else g / norm · max.
        Some(max) => norm
            .lt(&norm.scalar_like(max))
            .select(&norm.scalar_like(1.0), &(norm.scalar_like(max) / &norm)),
        None => norm.scalar_like(1.0),
    };
    let lr = warmup_cosine(step, cfg);
    let t = step.convert(ElementType::F32) + 1.0;
    let bias1 = -(t.scalar_like(cfg.b1).pow(&t)) + 1.0;
    let bias2 = -(t.scalar_like(cfg.b2).pow(&t)) + 1.0;
    let mut out = AdamWStep {
        params: vec![],
        mu: vec![],
        nu: vec![],
        grad_norm: norm.clone(),
        lr: lr.clone(),
    };
    for i in 0..params.len() {
        let ty = params[i].ty();
        let g = grads[i].convert(ElementType::F32) * &scale;
        let m = &mu[i] * cfg.b1 + &g * (1.0 - cfg.b1);
        let v = &nu[i] * cfg.b2 + g.square() * (1.0 - cfg.b2);
        let m_hat = &m / &bias1;
        let v_hat = &v / &bias2;
        let p = params[i].convert(ElementType::F32);
        let update = m_hat / (v_hat.sqrt() + cfg.eps) + &p * cfg.weight_decay;
        out.params.push((p - update * &lr).convert(ty));
        out.mu.push(m);
        out.nu.push(v);
    }
    out
}
