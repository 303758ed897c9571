//! Gradient accumulation: one AdamW update over more rows than fit one program. Each
//! micro-batch's program adds `share · ∇loss` to gradient sums kept on the device; a second
//! program applies AdamW to the sums and zeroes them. With each share the micro-batch's part of
//! the whole batch's loss (its rows or tokens over the batch's, as the aggregation counts them),
//! the sums are exactly the whole batch's gradient, so the update is the one the fused train step
//! would make on all rows at once (tests/mesh.rs checks it).

use std::sync::Arc;

use crate::graph::{DeviceArray, Graph, In, Layout, Module, Placement, Program, Shape};
use crate::models::gemma::GemmaConfig;
use crate::pjrt::Result;

use super::batches::{BatchShape, StepBatch};
use super::losses::declare_loss;
use super::optimizer::AdamWConfig;
use super::programs::{
    adamw_update, declare_state, finish, place_weights, state_then_scalars, Loss, OptState,
    StepMetrics, Trainable,
};

/// Adds one micro-batch's weighted gradient to the sums (donated) and reports its loss terms.
pub struct GradientProgram {
    program: Program,
}

/// A micro-batch's loss terms, unweighted: loss, kl, clip fraction, entropy.
pub type LossValues = [f32; 4];

impl GradientProgram {
    /// frozen, trainable, gradient sums (f32, donated), share (f32 scalar), batch →
    /// sums + share · ∇loss, then the loss terms.
    pub fn build(
        cfg: &GemmaConfig,
        shape: impl Into<BatchShape>,
        trainable: &Trainable,
        loss: &Loss,
        layout: &Layout,
    ) -> Module {
        let name = match loss {
            Loss::Grpo { .. } => "grpo_gradient",
            Loss::Sft => "sft_gradient",
        };
        let g = Graph::new(name);
        let (frozen, params, w) = trainable.declare(&g, cfg);
        place_weights(&g, layout, &frozen);
        place_weights(&g, layout, &params);
        let sums = declare_gradient_sums(&g, layout, trainable, cfg, 0);
        let share = g.parameter("share", Shape::f32(&[]));
        let obj = declare_loss(
            &g,
            cfg,
            &w,
            shape.into(),
            loss,
            layout,
            trainable.head_gradient(),
        );
        let grads = g
            .grad(&obj.loss, &params)
            .expect("the loss is differentiable");
        let mut results: Vec<_> = sums
            .iter()
            .zip(grads)
            .map(|(sum, d)| sum + &(d.convert(sum.ty()) * &share))
            .collect();
        let n = results.len();
        results.extend([obj.loss, obj.kl, obj.clip_fraction, obj.entropy]);
        finish(
            &g,
            &results,
            state_then_scalars(&results, n, layout),
            layout,
        )
    }

    pub fn compile(
        on: &Placement,
        cfg: &GemmaConfig,
        shape: impl Into<BatchShape>,
        trainable: &Trainable,
        loss: &Loss,
    ) -> Result<GradientProgram> {
        let module = Self::build(cfg, shape, trainable, loss, on.layout());
        Ok(GradientProgram {
            program: on.compile(&module)?,
        })
    }

    /// Adds `share` · ∇loss(batch) to `sums` and returns the new sums and the loss terms.
    pub fn run(
        &self,
        frozen: &[Arc<DeviceArray>],
        params: &[DeviceArray],
        sums: Vec<DeviceArray>,
        share: &DeviceArray,
        batch: &dyn StepBatch,
    ) -> Result<(Vec<DeviceArray>, LossValues)> {
        let n = sums.len();
        let mut args: Vec<In> = frozen.iter().map(|b| In::Borrow(b)).collect();
        args.extend(params.iter().map(In::Borrow));
        args.extend(sums.into_iter().map(In::Donate));
        args.push(In::Borrow(share));
        args.extend(batch.buffers().into_iter().map(In::Borrow));
        let mut out = self.program.run(args)?;
        let terms = out.split_off(n);
        let mut values = [0f32; 4];
        for (v, t) in values.iter_mut().zip(&terms) {
            *v = t.to_scalar::<f32>()?;
        }
        Ok((out, values))
    }
}

/// The gradient sums, one f32 array per trainable tensor named `grad.*`, placed like the
/// weights and donated to outputs `first..first + n`.
fn declare_gradient_sums(
    g: &Graph,
    layout: &Layout,
    trainable: &Trainable,
    cfg: &GemmaConfig,
    first: usize,
) -> Vec<crate::graph::Tensor> {
    let sums: Vec<_> = trainable
        .names(cfg)
        .iter()
        .zip(trainable.shapes(cfg))
        .map(|(n, d)| g.parameter(&format!("grad.{n}"), Shape::f32(&d)))
        .collect();
    place_weights(g, layout, &sums);
    for (k, s) in sums.iter().enumerate() {
        g.donate_parameter(s, first + k);
    }
    sums
}

/// AdamW (warmup-cosine, global-norm clipping) on the gradient sums; the sums come back zeroed
/// for the next update.
pub struct ApplyGradientsProgram {
    program: Program,
    trainable_count: usize,
}

impl ApplyGradientsProgram {
    /// trainable, mu, nu, step (donated), gradient sums (donated) → the next state, zeroed
    /// sums, gradient norm, learning rate.
    pub fn build(
        cfg: &GemmaConfig,
        trainable: &Trainable,
        optimizer: &AdamWConfig,
        layout: &Layout,
    ) -> Module {
        let g = Graph::new("apply_gradients");
        let names = trainable.names(cfg);
        let params = names
            .iter()
            .zip(trainable.shapes(cfg))
            .map(|(n, d)| g.parameter(n, Shape::new(trainable.element_type(cfg), &d)))
            .collect();
        let state = declare_state(&g, layout, params, &names);
        let n = names.len();
        let sums = declare_gradient_sums(&g, layout, trainable, cfg, 3 * n + 1);
        let (next, [grad_norm, lr]) = adamw_update(&state, &sums, optimizer);
        let mut results = next.into_vec();
        results.extend(sums.iter().map(|s| s.zeros_like()));
        results.extend([grad_norm, lr]);
        let shardings = state_then_scalars(&results, 4 * n + 1, layout);
        finish(&g, &results, shardings, layout)
    }

    pub fn compile(
        on: &Placement,
        cfg: &GemmaConfig,
        trainable: &Trainable,
        optimizer: &AdamWConfig,
    ) -> Result<ApplyGradientsProgram> {
        let module = Self::build(cfg, trainable, optimizer, on.layout());
        Ok(ApplyGradientsProgram {
            program: on.compile(&module)?,
            trainable_count: trainable.shapes(cfg).len(),
        })
    }

    /// One update: the next state, the zeroed sums, and the metrics with `loss` (the
    /// micro-batches' weighted loss terms) filled in.
    pub fn run(
        &self,
        state: OptState<DeviceArray>,
        sums: Vec<DeviceArray>,
        loss: LossValues,
    ) -> Result<(OptState<DeviceArray>, Vec<DeviceArray>, StepMetrics)> {
        let n = self.trainable_count;
        let mut args: Vec<In> = state.into_vec().into_iter().map(In::Donate).collect();
        args.extend(sums.into_iter().map(In::Donate));
        let mut out = self.program.run(args)?;
        let state = OptState::from_vec(&mut out, n);
        let metrics = out.split_off(n);
        let mut values = loss.to_vec();
        for t in &metrics {
            values.push(t.to_scalar::<f32>()?);
        }
        debug_assert_eq!(values.len(), StepMetrics::COUNT);
        Ok((state, out, StepMetrics::from_values(&values)))
    }
}
