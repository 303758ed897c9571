//! The compiled learner programs: per-token log-probs of completions (reference and old
//! policies), the LoRA merge (for rollouts with the current policy), and one train step
//! (forward, loss, backward, AdamW) with the trainable parameters and optimizer state donated.
//! Each is built and called through named inputs and outputs; the argument order lives only
//! here, next to the graph that declares it.

use std::sync::Arc;

use crate::graph::{
    DeviceArray, EmitOptions, Graph, In, Layout, Module, Placement, Program, Shape, Sharding,
    Tensor,
};
use crate::models::gemma::{GemmaConfig, GemmaWeights};
use crate::pjrt::{ElementType, Result};

pub use super::batches::{
    BatchShape, Geometry, GroupedGeometry, GroupedGrpoBatch, GrpoBatch, PackedGeometry, PackedRows,
    PackedSftBatch, Sequences, SftBatch, StepBatch,
};
use super::head::HeadGradient;
use super::lora::{self, LoraConfig, LoraSpec};
pub use super::losses::{
    completion_log_probs, grouped_log_probs, packed_cross_entropy, packed_log_probs,
    target_cross_entropy, LossTerms,
};
use super::losses::{declare_completion_log_probs, declare_loss};
use super::objective::ObjectiveConfig;
use super::optimizer::{adamw_step, AdamWConfig};

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

    /// How the LM head's log-probs need differentiating: through the embedding only when it
    /// is trained (index 0 of `param_specs`).
    pub fn head_gradient(&self) -> HeadGradient {
        match self {
            Trainable::Lora(_, specs) if specs.iter().all(|s| s.param != 0) => {
                HeadGradient::HiddenOnly
            }
            _ => HeadGradient::Full,
        }
    }

    /// Element type of the trainable tensors: the model's for full fine-tuning, f32 adapters.
    pub fn element_type(&self, cfg: &GemmaConfig) -> ElementType {
        match self {
            Trainable::Full => cfg.dtype,
            Trainable::Lora(..) => ElementType::F32,
        }
    }

    /// Declares the model weights a program computes with: the frozen base (LoRA) and the
    /// trainable tensors. Returns (frozen, trainable, the model they make).
    pub(crate) fn declare(
        &self,
        g: &Graph,
        cfg: &GemmaConfig,
    ) -> (Vec<Tensor>, Vec<Tensor>, GemmaWeights) {
        let ty = self.element_type(cfg);
        match self {
            Trainable::Full => {
                let params: Vec<Tensor> = cfg
                    .param_specs()
                    .iter()
                    .map(|(n, d)| g.parameter(n, Shape::new(ty, d)))
                    .collect();
                let model = GemmaWeights::from_tensors(cfg, &params);
                (vec![], params, model)
            }
            Trainable::Lora(lc, specs) => {
                let (model, base) = GemmaWeights::parameters(g, cfg);
                let ab = lora::parameters(g, specs);
                (base, ab.clone(), lora::attach(model, &ab, specs, lc))
            }
        }
    }
}

/// Annotates parameters with how `layout` places them (nothing on one device).
pub(crate) fn place(
    g: &Graph,
    layout: &Layout,
    params: &[&Tensor],
    rule: impl Fn(&Tensor) -> Sharding,
) {
    if let Some(mesh) = layout.program_mesh() {
        g.set_mesh(mesh.clone());
        for t in params {
            g.shard_parameter(t, rule(t));
        }
    }
}

/// Batch inputs: rows split over every device.
pub(crate) fn place_batch(g: &Graph, layout: &Layout, batch: &[&Tensor]) {
    place(g, layout, batch, |t| layout.batch(t.rank()));
}

/// Trainable (or frozen) weights and optimizer moments: split over `fsdp`.
pub(crate) fn place_weights(g: &Graph, layout: &Layout, weights: &[Tensor]) {
    let refs: Vec<&Tensor> = weights.iter().collect();
    place(g, layout, &refs, |t| layout.weight(&t.dims()));
}

/// Emits `results`, each laid out as `shardings` says when the layout has several devices.
pub(crate) fn finish(
    g: &Graph,
    results: &[Tensor],
    shardings: Vec<Sharding>,
    layout: &Layout,
) -> Module {
    let module = match layout.program_mesh() {
        None => g.build(results),
        Some(mesh) => {
            g.set_mesh(mesh.clone());
            g.replicate_unplaced_parameters();
            let options = EmitOptions {
                shardy: true,
                ..Default::default()
            };
            let shardings: Vec<Option<Sharding>> = shardings.into_iter().map(Some).collect();
            g.build_sharded(results, &shardings, &options)
        }
    };
    module.unwrap_or_else(|e| panic!("the {} program is ill-formed: {e}", g.name()))
}

/// Completion log-probs under some weights: the frozen base (the reference policy), or the
/// current policy (base + adapters with LoRA, or the fully trained weights).
pub struct LogProbsProgram {
    program: Program,
}

impl LogProbsProgram {
    /// weights (`trainable.declare` order), then the token arrays of `shape` (rows: tokens,
    /// valid; grouped: `PackedRows`) → log-probs [B, C].
    pub fn build(
        cfg: &GemmaConfig,
        shape: impl Into<BatchShape>,
        weights: &Trainable,
        temperature: f64,
        layout: &Layout,
    ) -> Module {
        let g = Graph::new("completion_log_probs");
        let (frozen, trained, w) = weights.declare(&g, cfg);
        place_weights(&g, layout, &frozen);
        place_weights(&g, layout, &trained);
        let (logp, _) = declare_completion_log_probs(
            &g,
            cfg,
            &w,
            shape.into(),
            layout,
            temperature,
            HeadGradient::None,
        );
        finish(&g, &[logp], vec![layout.batch(2)], layout)
    }

    pub fn compile(
        on: &Placement,
        cfg: &GemmaConfig,
        shape: impl Into<BatchShape>,
        weights: &Trainable,
        temperature: f64,
    ) -> Result<LogProbsProgram> {
        let module = Self::build(cfg, shape, weights, temperature, on.layout());
        Ok(LogProbsProgram {
            program: on.compile(&module)?,
        })
    }

    /// `weights`: the frozen tensors then the trainable ones, as `Trainable::declare` orders them.
    pub fn run(
        &self,
        weights: &[&DeviceArray],
        seq: &Sequences<DeviceArray>,
    ) -> Result<DeviceArray> {
        self.run_tokens(weights, &[&seq.tokens, &seq.valid])
    }

    /// `run` with the token arrays as the program's shape takes them.
    pub fn run_tokens(
        &self,
        weights: &[&DeviceArray],
        tokens: &[&DeviceArray],
    ) -> Result<DeviceArray> {
        let mut args: Vec<In> = weights.iter().map(|w| In::Borrow(w)).collect();
        args.extend(tokens.iter().map(|t| In::Borrow(t)));
        Ok(self.program.run(args)?.remove(0))
    }
}

/// The adapted weights W + (α/r)·A·B, one output per `LoraSpec`, for rollouts and checkpoints.
pub struct MergeProgram {
    program: Program,
}

impl MergeProgram {
    /// The learner's base weights and adapters (split over `fsdp`) → the adapted weights, one
    /// per `LoraSpec`, in `to` and replicated on every device (for rollouts and checkpoints).
    pub fn build(
        cfg: &GemmaConfig,
        lc: &LoraConfig,
        specs: &[LoraSpec],
        to: ElementType,
        layout: &Layout,
    ) -> Module {
        let g = Graph::new("merge_lora");
        let (_, base) = GemmaWeights::parameters(&g, cfg);
        let ab = lora::parameters(&g, specs);
        place_weights(&g, layout, &base);
        place_weights(&g, layout, &ab);
        let merged = lora::merged(&base, &ab, specs, lc);
        let outputs: Vec<Tensor> = specs.iter().map(|s| merged[s.param].convert(to)).collect();
        let shardings = outputs
            .iter()
            .map(|m| Sharding::replicated(m.rank()))
            .collect();
        finish(&g, &outputs, shardings, layout)
    }

    pub fn compile(
        on: &Placement,
        cfg: &GemmaConfig,
        lc: &LoraConfig,
        specs: &[LoraSpec],
        to: ElementType,
    ) -> Result<MergeProgram> {
        let module = Self::build(cfg, lc, specs, to, on.layout());
        Ok(MergeProgram {
            program: on.compile(&module)?,
        })
    }

    /// base weights, adapters (A, B per spec) → the adapted weights, in `specs` order.
    pub fn run(
        &self,
        base: &[Arc<DeviceArray>],
        adapters: &[DeviceArray],
    ) -> Result<Vec<DeviceArray>> {
        let mut args: Vec<In> = base.iter().map(|b| In::Borrow(b)).collect();
        args.extend(adapters.iter().map(In::Borrow));
        self.program.run(args)
    }
}

/// The loss a learner minimises.
#[derive(Clone, Debug)]
pub enum Loss {
    /// Supervised fine-tuning: cross-entropy of the target (completion) tokens, prompt masked,
    /// averaged over target tokens.
    Sft,
    Grpo {
        objective: ObjectiveConfig,
        /// Logits are divided by this (the rollout temperature, as Tunix does), 1 for none.
        temperature: f64,
        /// μ > 1: the ratio is against the rollout policy's log-probs (`old_logps`); with μ = 1
        /// the old policy is the current one, as in Tunix.
        use_old_logps: bool,
    },
}

impl Loss {
    /// Whether the frozen base's log-probs program runs: for the KL term (β ≠ 0), and as full
    /// fine-tuning's old policy (μ > 1).
    pub fn runs_reference(&self, trainable: &Trainable) -> bool {
        match self {
            Loss::Grpo {
                objective,
                use_old_logps,
                ..
            } => objective.beta != 0.0 || (*use_old_logps && matches!(trainable, Trainable::Full)),
            Loss::Sft => false,
        }
    }

    /// Whether the current policy's log-probs program (base + adapters) runs: LoRA with μ > 1.
    pub fn runs_policy(&self, trainable: &Trainable) -> bool {
        matches!(
            (self, trainable),
            (
                Loss::Grpo {
                    use_old_logps: true,
                    ..
                },
                Trainable::Lora(..)
            )
        )
    }

    /// Logits are divided by this before the log-softmax.
    pub fn temperature(&self) -> f64 {
        match self {
            Loss::Grpo { temperature, .. } => *temperature,
            Loss::Sft => 1.0,
        }
    }
}

/// The trainable tensors and AdamW's state, carried (donated) from step to step.
pub struct OptState<T> {
    pub params: Vec<T>,
    pub mu: Vec<T>,
    pub nu: Vec<T>,
    /// Updates done (i32 scalar).
    pub step: T,
}

impl<T> OptState<T> {
    pub(crate) fn into_vec(self) -> Vec<T> {
        let mut v = self.params;
        v.extend(self.mu);
        v.extend(self.nu);
        v.push(self.step);
        v
    }

    /// The inverse of `into_vec` for `n` trainable tensors; takes 3n + 1 items from the front.
    pub(crate) fn from_vec(items: &mut Vec<T>, n: usize) -> OptState<T> {
        let mut rest = items.drain(..3 * n + 1);
        let params = rest.by_ref().take(n).collect();
        let mu = rest.by_ref().take(n).collect();
        let nu = rest.by_ref().take(n).collect();
        OptState {
            params,
            mu,
            nu,
            step: rest.next().expect("optimizer state is complete"),
        }
    }
}

/// What one update reports.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StepMetrics {
    pub loss: f32,
    pub kl: f32,
    pub clip_fraction: f32,
    pub entropy: f32,
    pub grad_norm: f32,
    pub learning_rate: f32,
}

impl StepMetrics {
    pub(crate) const COUNT: usize = 6;

    /// The metrics with the names `metrics.jsonl` gives them.
    pub fn named(&self) -> [(&'static str, f32); 6] {
        [
            ("loss", self.loss),
            ("kl", self.kl),
            ("clip_fraction", self.clip_fraction),
            ("entropy", self.entropy),
            ("grad_norm", self.grad_norm),
            ("learning_rate", self.learning_rate),
        ]
    }

    pub(crate) fn from_values(v: &[f32]) -> StepMetrics {
        StepMetrics {
            loss: v[0],
            kl: v[1],
            clip_fraction: v[2],
            entropy: v[3],
            grad_norm: v[4],
            learning_rate: v[5],
        }
    }
}

/// Declares the optimizer state of trainable `params` (named `names`): both Adam moments and
/// the step, placed like the weights and donated to the program's first 3n + 1 outputs.
pub(crate) fn declare_state(
    g: &Graph,
    layout: &Layout,
    params: Vec<Tensor>,
    names: &[String],
) -> OptState<Tensor> {
    let moments = |prefix: &str| -> Vec<Tensor> {
        params
            .iter()
            .zip(names)
            .map(|(p, n)| g.parameter(&format!("{prefix}.{n}"), Shape::f32(&p.dims())))
            .collect()
    };
    let state = OptState {
        mu: moments("mu"),
        nu: moments("nu"),
        step: g.parameter("step", Shape::i32(&[])),
        params,
    };
    let n = state.params.len();
    let tensors = state.into_vec();
    place_weights(g, layout, &tensors[..3 * n]);
    for (k, p) in tensors.iter().enumerate() {
        g.donate_parameter(p, k);
    }
    OptState::from_vec(&mut tensors.clone(), n)
}

/// One AdamW update of `state` with `grads`: the next state, then the gradient's global norm
/// and the learning rate used.
pub(crate) fn adamw_update(
    state: &OptState<Tensor>,
    grads: &[Tensor],
    optimizer: &AdamWConfig,
) -> (OptState<Tensor>, [Tensor; 2]) {
    let update = adamw_step(
        &state.params,
        grads,
        &state.mu,
        &state.nu,
        &state.step,
        optimizer,
    );
    let next = OptState {
        params: update.params,
        mu: update.mu,
        nu: update.nu,
        step: &state.step + 1.0,
    };
    (next, [update.grad_norm, update.lr])
}

/// Shardings for results whose first `weights` are laid out like the weights and the rest
/// (metrics) replicated.
pub(crate) fn state_then_scalars(
    results: &[Tensor],
    weights: usize,
    layout: &Layout,
) -> Vec<Sharding> {
    results
        .iter()
        .enumerate()
        .map(|(i, r)| match i < weights {
            true => layout.weight(&r.dims()),
            false => Sharding::replicated(r.rank()),
        })
        .collect()
}

/// One train step's inputs: the frozen weights (LoRA's base; none for full fine-tuning), the
/// state it updates (donated) and the batch.
pub struct TrainStepInputs<'a> {
    pub frozen: &'a [Arc<DeviceArray>],
    pub state: OptState<DeviceArray>,
    /// A `GrpoBatch` or `GroupedGrpoBatch` for `Loss::Grpo`, an `SftBatch` or `PackedSftBatch`
    /// for `Loss::Sft`.
    pub batch: &'a dyn StepBatch,
}

pub struct TrainStepOutputs {
    pub state: OptState<DeviceArray>,
    pub metrics: StepMetrics,
}

/// Forward, loss, backward and AdamW (warmup-cosine, global-norm clipping) in one program.
pub struct TrainStepProgram {
    program: Program,
    trainable_count: usize,
}

impl TrainStepProgram {
    pub fn build(
        cfg: &GemmaConfig,
        shape: impl Into<BatchShape>,
        trainable: &Trainable,
        loss: &Loss,
        optimizer: &AdamWConfig,
        layout: &Layout,
    ) -> Module {
        let name = match loss {
            Loss::Grpo { .. } => "grpo_train_step",
            Loss::Sft => "sft_train_step",
        };
        let g = Graph::new(name);
        let (frozen, params, w) = trainable.declare(&g, cfg);
        place_weights(&g, layout, &frozen);
        let state = declare_state(&g, layout, params, &trainable.names(cfg));
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
            .grad(&obj.loss, &state.params)
            .expect("the loss is differentiable");
        let (next, [grad_norm, lr]) = adamw_update(&state, &grads, optimizer);
        let n = next.params.len();
        let mut results = next.into_vec();
        results.extend([
            obj.loss,
            obj.kl,
            obj.clip_fraction,
            obj.entropy,
            grad_norm,
            lr,
        ]);
        finish(
            &g,
            &results,
            state_then_scalars(&results, 3 * n, layout),
            layout,
        )
    }

    pub fn compile(
        on: &Placement,
        cfg: &GemmaConfig,
        shape: impl Into<BatchShape>,
        trainable: &Trainable,
        loss: &Loss,
        optimizer: &AdamWConfig,
    ) -> Result<TrainStepProgram> {
        let module = Self::build(cfg, shape, trainable, loss, optimizer, on.layout());
        Ok(TrainStepProgram {
            program: on.compile(&module)?,
            trainable_count: trainable.shapes(cfg).len(),
        })
    }

    pub fn run(&self, inputs: TrainStepInputs) -> Result<TrainStepOutputs> {
        let TrainStepInputs {
            frozen,
            state,
            batch,
        } = inputs;
        let mut args: Vec<In> = frozen.iter().map(|b| In::Borrow(b)).collect();
        args.extend(state.into_vec().into_iter().map(In::Donate));
        args.extend(batch.buffers().into_iter().map(In::Borrow));
        let mut out = self.program.run(args)?;
        let state = OptState::from_vec(&mut out, self.trainable_count);
        let values: Vec<f32> = out
            .iter()
            .map(|t| t.to_scalar::<f32>())
            .collect::<Result<_>>()?;
        debug_assert_eq!(values.len(), StepMetrics::COUNT);
        Ok(TrainStepOutputs {
            state,
            metrics: StepMetrics::from_values(&values),
        })
    }
}
