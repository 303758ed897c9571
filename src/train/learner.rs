//! The learner stage: owns the trainable weights and AdamW state on the device, computes the
//! reference and old policies' log-probs of a packed batch (GRPO), runs μ updates with its loss
//! (GRPO or SFT), hands
//! the current policy's weights to the rollout stage, and snapshots itself for checkpoints.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::{Context, Result};

use super::packing::{GroupedExamples, TrainExample};
use super::sft_packing::{largest_packed, quantum_for, round_up_to_quantum, PackedExamples};
use crate::graph::{DeviceArray, HostArray, Placement};
use crate::grpo::accumulate::{ApplyGradientsProgram, GradientProgram, LossValues};
use crate::grpo::lora;
use crate::grpo::objective::Aggregation;
use crate::grpo::optimizer::AdamWConfig;
use crate::grpo::programs::{
    BatchShape, Geometry, GroupedGeometry, GroupedGrpoBatch, GrpoBatch, LogProbsProgram, Loss,
    MergeProgram, OptState, PackedSftBatch, SftBatch, StepBatch, StepMetrics, TrainStepInputs,
    TrainStepProgram, Trainable,
};
use crate::models::gemma::GemmaConfig;
use crate::models::LoadedModel;
use crate::pjrt::ElementType;
use crate::rollout::programs::CastProgram;

/// What a learner is asked to be.
pub struct LearnerSpec {
    pub trainable: Trainable,
    pub loss: Loss,
    pub optimizer: AdamWConfig,
    pub geo: Geometry,
    /// How batches come packed. Packed shapes vary, each compiling when first met; without
    /// packing `geo`'s programs compile up front.
    pub packing: Packing,
    /// Updates per batch (μ).
    pub iterations: usize,
    /// Gradient accumulation: an update's rows come as several micro-batches of at most
    /// `geo.batch` rows whose gradients are summed on the device before one AdamW update.
    /// Without it each update is one fused program on one batch.
    pub accumulate: bool,
    /// Seeds the LoRA A matrices.
    pub seed: u64,
    /// The dtype rollouts sample in (the weights handed over are converted to it).
    pub rollout_dtype: ElementType,
}

/// How a learner's batches come.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Packing {
    /// Rows of `geo` (trimmed, or as micro-batches).
    None,
    /// Supervised examples packed end to end (`sft_packing`), at most `geo.batch` of them.
    Examples,
    /// GRPO groups of this many completions, each group in one row (`TrainExample::grouped`),
    /// when the groups split evenly over the devices; rows of `geo` otherwise.
    Groups(usize),
}

/// Everything a checkpoint holds of the learner, on the host.
pub struct LearnerSnapshot {
    /// `param.*`, `mu.*`, `nu.*` by trainable name.
    pub training_state: Vec<(String, HostArray)>,
    /// The adapters alone (LoRA).
    pub lora: Option<Vec<(String, HostArray)>>,
    /// The whole model with the adapters merged, in `param_specs` order.
    pub merged: Vec<HostArray>,
}

/// Bytes one device holds for the learner and the rollouts between programs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResidentBytes {
    /// The frozen base weights (LoRA's W and the reference policy).
    pub base: usize,
    /// The trained tensors, both Adam moments, the step, and the gradient sums when
    /// accumulating.
    pub optimizer_state: usize,
    /// The rollouts' own copy of the base weights (0 when they share the learner's).
    pub rollout_base: usize,
}

impl std::fmt::Display for ResidentBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mib = |b: usize| b as f64 / (1 << 20) as f64;
        write!(
            f,
            "base weights {:.1} MiB, trained weights + AdamW {:.1} MiB, rollout copy {:.1} MiB",
            mib(self.base),
            mib(self.optimizer_state),
            mib(self.rollout_base)
        )
    }
}

pub struct Learner {
    placement: Placement,
    model: GemmaConfig,
    spec: LearnerSpec,
    names: Vec<String>,
    /// The frozen base weights: the reference policy, and LoRA's W (split over `fsdp`).
    base: Vec<Arc<DeviceArray>>,
    /// The base weights as rollouts read them: on every device, in the rollout dtype (the
    /// same arrays as `base` when that is already so).
    rollout_base: Vec<Arc<DeviceArray>>,
    /// Always present between calls (moved into each donated update).
    state: Option<OptState<DeviceArray>>,
    /// The programs of each batch shape met so far (the spec's own compiled up front, unless
    /// its batches are packed).
    shapes: HashMap<BatchShape, Arc<ShapePrograms>>,
    /// LoRA: the adapted matrices in the model's dtype (checkpoints) and in the rollout's.
    merge: Option<(MergeProgram, Option<MergeProgram>)>,
    /// The weights into the rollouts' layout and dtype (full fine-tuning; LoRA's base once).
    handover: Option<CastProgram>,
    /// Gradient accumulation's update program and its sums (zero between updates).
    accumulation: Option<(ApplyGradientsProgram, Option<Vec<DeviceArray>>)>,
}

/// A micro-batch's part of an update (`Learner::shares`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Share {
    /// Of the loss (and its gradient).
    pub loss: f32,
    /// Of the completion tokens.
    pub tokens: f32,
}

impl Share {
    /// A batch that is the whole update.
    pub const WHOLE: Share = Share {
        loss: 1.0,
        tokens: 1.0,
    };
}

/// How a batch shape's update runs.
enum StepProgram {
    /// Forward, backward and AdamW in one program.
    Fused(TrainStepProgram),
    /// Forward and backward into the gradient sums; AdamW runs once all micro-batches are in.
    Accumulating(GradientProgram),
}

/// The programs one batch shape runs.
struct ShapePrograms {
    step: StepProgram,
    /// GRPO: the completion log-probs program (the reference policy's, and full fine-tuning's
    /// current policy's); none when nothing calls it (`Loss::runs_reference`).
    reference: Option<LogProbsProgram>,
    /// GRPO with LoRA and μ > 1: the current policy (base + adapters).
    policy: Option<LogProbsProgram>,
}

impl ShapePrograms {
    fn compile(
        on: &Placement,
        cfg: &GemmaConfig,
        spec: &LearnerSpec,
        shape: BatchShape,
    ) -> Result<ShapePrograms> {
        let (trainable, loss) = (&spec.trainable, &spec.loss);
        let step = match spec.accumulate {
            true => StepProgram::Accumulating(GradientProgram::compile(
                on, cfg, shape, trainable, loss,
            )?),
            false => StepProgram::Fused(TrainStepProgram::compile(
                on,
                cfg,
                shape,
                trainable,
                loss,
                &spec.optimizer,
            )?),
        };
        let logps = |weights: &Trainable| {
            LogProbsProgram::compile(on, cfg, shape, weights, spec.loss.temperature())
        };
        let reference = match spec.loss.runs_reference(&spec.trainable) {
            true => Some(logps(&Trainable::Full)?),
            false => None,
        };
        let policy = match spec.loss.runs_policy(&spec.trainable) {
            true => Some(logps(&spec.trainable)?),
            false => None,
        };
        Ok(ShapePrograms {
            step,
            reference,
            policy,
        })
    }
}

/// The trainable tensors' starting values: the base weights, or fresh adapters.
fn initial_params(model: &LoadedModel, spec: &LearnerSpec) -> Vec<HostArray> {
    match &spec.trainable {
        Trainable::Full => model.params.clone(),
        Trainable::Lora(_, specs) => lora::init(specs, spec.seed)
            .iter()
            .zip(spec.trainable.shapes(&model.config))
            .map(|(v, d)| HostArray::new(v, &d))
            .collect(),
    }
}

/// One f32 array of zeros per shape: fresh Adam moments, empty gradient sums.
fn f32_zeros(shapes: &[Vec<i64>]) -> Vec<HostArray> {
    shapes
        .iter()
        .map(|d| HostArray::new(&vec![0f32; d.iter().product::<i64>() as usize], d))
        .collect()
}

/// The trained tensors and both Adam moments to start from, and the updates already done:
/// fresh (zero moments), or a checkpoint's `param.*`, `mu.*`, `nu.*`, checked against the
/// model's names and shapes.
fn starting_state(
    model: &LoadedModel,
    spec: &LearnerSpec,
    resume: Option<(&[(String, HostArray)], usize)>,
) -> Result<OptState<HostArray>> {
    let names = spec.trainable.names(&model.config);
    let shapes = spec.trainable.shapes(&model.config);
    let Some((arrays, updates)) = resume else {
        let zeros = f32_zeros(&shapes);
        return Ok(OptState {
            params: initial_params(model, spec),
            mu: zeros.clone(),
            nu: zeros,
            step: HostArray::scalar(0i32),
        });
    };
    let find = |prefix: &str| -> Result<Vec<HostArray>> {
        names
            .iter()
            .zip(&shapes)
            .map(|(n, dims)| {
                let key = format!("{prefix}.{n}");
                let (_, a) = arrays
                    .iter()
                    .find(|(k, _)| *k == key)
                    .with_context(|| format!("the checkpoint has no {key}: it was written by another kind of run (LoRA or not, other targets)"))?;
                anyhow::ensure!(
                    &a.dims == dims,
                    "the checkpoint is of a different model: its {key} is {:?}, this model's is {dims:?}",
                    a.dims
                );
                Ok(a.clone())
            })
            .collect()
    };
    Ok(OptState {
        params: find("param")?,
        mu: find("mu")?,
        nu: find("nu")?,
        step: HostArray::scalar(updates as i32),
    })
}

impl LearnerSpec {
    /// Whether batches of `rows` rows go in grouped (`Packing::Groups`): their groups split
    /// evenly over `row_multiple` devices, and one update is one batch.
    pub fn groups_rows(&self, rows: usize, row_multiple: usize) -> Option<usize> {
        match self.packing {
            Packing::Groups(g) if rows % g == 0 && (rows / g) % row_multiple == 0 => Some(g),
            _ => None,
        }
    }

    /// The largest batch the learner can meet with rows split over `row_multiple` devices:
    /// `geo`, or packed, every example or completion as long as `geo` allows.
    pub fn largest_shape(&self, row_multiple: usize) -> BatchShape {
        let geo = self.geo;
        match (
            self.packing,
            self.groups_rows(geo.batch as usize, row_multiple),
        ) {
            (Packing::Examples, _) => largest_packed(geo, row_multiple).into(),
            (_, Some(g)) => {
                let g = g as i64;
                let tokens = geo.prompt_len + g * geo.completion_len;
                GroupedGeometry {
                    groups: geo.batch / g,
                    group_size: g,
                    row_len: round_up_to_quantum(tokens as usize) as i64,
                    completion_len: geo.completion_len,
                    targets: round_up_to_quantum((g * geo.completion_len) as usize) as i64,
                }
                .into()
            }
            _ => geo.into(),
        }
    }
}

impl Learner {
    /// Compiles the learner's programs and uploads the model and its state: fresh, or
    /// `resume`'s arrays (`param.*`, `mu.*`, `nu.*`) after `updates` updates.
    pub fn new(
        placement: Placement,
        model: &LoadedModel,
        spec: LearnerSpec,
        resume: Option<(&[(String, HostArray)], usize)>,
    ) -> Result<Learner> {
        let cfg = &model.config;
        let on = &placement;
        let layout = placement.layout();
        if spec.geo.batch as usize % layout.batch_multiple() != 0 {
            anyhow::bail!(
                "a batch of {} rows does not split over {} devices (mesh {layout}): make it a multiple",
                spec.geo.batch,
                layout.num_devices(),
            );
        }
        let geo_shape = BatchShape::Rows(spec.geo);
        let first = match spec.packing {
            Packing::None => Some((
                geo_shape,
                Arc::new(ShapePrograms::compile(on, cfg, &spec, geo_shape)?),
            )),
            _ => None,
        };
        let merge = match &spec.trainable {
            Trainable::Lora(lc, specs) => {
                let merge = |to| MergeProgram::compile(on, cfg, lc, specs, to);
                let for_rollout = match spec.rollout_dtype == cfg.dtype {
                    true => None,
                    false => Some(merge(spec.rollout_dtype)?),
                };
                Some((merge(cfg.dtype)?, for_rollout))
            }
            Trainable::Full => None,
        };
        let base: Vec<Arc<DeviceArray>> = placement
            .upload_weights(&model.params)?
            .into_iter()
            .map(Arc::new)
            .collect();
        // Rollouts read every weight on every device in their dtype: the base arrays serve
        // as they are when the learner keeps them whole and in that dtype.
        let shared = layout.fsdp() == 1 && spec.rollout_dtype == cfg.dtype;
        let handover = match (&spec.trainable, shared) {
            (Trainable::Lora(..), true) => None,
            _ => Some(CastProgram::compile(on, cfg, spec.rollout_dtype)?),
        };
        let rollout_base = match (&handover, shared) {
            (Some(cast), false) => cast.run(&base)?,
            _ => base.clone(),
        };
        let names = spec.trainable.names(cfg);
        let accumulation = match spec.accumulate {
            true => {
                let apply =
                    ApplyGradientsProgram::compile(on, cfg, &spec.trainable, &spec.optimizer)?;
                let zeros = f32_zeros(&spec.trainable.shapes(cfg));
                Some((apply, Some(placement.upload_weights(&zeros)?)))
            }
            false => None,
        };
        let start = starting_state(model, &spec, resume)?;
        let state = OptState {
            params: placement.upload_weights(&start.params)?,
            mu: placement.upload_weights(&start.mu)?,
            nu: placement.upload_weights(&start.nu)?,
            step: placement.replicate(&start.step)?,
        };
        Ok(Learner {
            placement,
            model: cfg.clone(),
            spec,
            names,
            base,
            rollout_base,
            state: Some(state),
            shapes: first.into_iter().collect(),
            merge,
            handover,
            accumulation,
        })
    }

    /// What one device holds between programs (every device holds the same).
    pub fn resident_per_device(&self) -> ResidentBytes {
        let bytes = |arrays: &[Arc<DeviceArray>]| -> usize {
            arrays.iter().map(|a| a.bytes_per_device()).sum()
        };
        let state = self.state();
        let optimizer_state = [&state.params, &state.mu, &state.nu]
            .iter()
            .flat_map(|list| list.iter())
            .map(|a| a.bytes_per_device())
            .sum::<usize>()
            + state.step.bytes_per_device()
            + self
                .accumulation
                .iter()
                .flat_map(|(_, sums)| sums.iter().flatten())
                .map(|a| a.bytes_per_device())
                .sum::<usize>();
        // Full fine-tuning hands rollouts a copy of every weight from its first update on;
        // LoRA copies its base once, unless rollouts can read the learner's own arrays.
        let whole_copy = self.model.num_params() as usize * self.spec.rollout_dtype.size_in_bytes();
        let shared = Arc::ptr_eq(&self.base[0], &self.rollout_base[0]);
        let rollout_base = match (&self.spec.trainable, shared) {
            (Trainable::Full, _) => whole_copy,
            (Trainable::Lora(..), true) => 0,
            (Trainable::Lora(..), false) => bytes(&self.rollout_base),
        };
        ResidentBytes {
            base: bytes(&self.base),
            optimizer_state,
            rollout_base,
        }
    }

    /// The base model as rollouts read it (every weight on every device, rollout dtype).
    pub fn rollout_base(&self) -> Vec<Arc<DeviceArray>> {
        self.rollout_base.clone()
    }

    fn state(&self) -> &OptState<DeviceArray> {
        self.state
            .as_ref()
            .expect("the learner's state is present between calls")
    }

    fn is_lora(&self) -> bool {
        matches!(self.spec.trainable, Trainable::Lora(..))
    }

    /// The programs for batches of `shape`, compiled the first time it is met. A shape may
    /// be smaller than the spec's (a trimmed batch, fewer groups), never larger; packed rows
    /// hold at most the spec's tokens and targets.
    fn programs(&mut self, shape: impl Into<BatchShape>) -> Result<Arc<ShapePrograms>> {
        let shape = shape.into();
        if let Some(p) = self.shapes.get(&shape) {
            return Ok(p.clone());
        }
        let max = self.spec.geo;
        let multiple = self.placement.layout().batch_multiple() as i64;
        let fits = match shape {
            BatchShape::Rows(geo) => {
                geo.prompt_len <= max.prompt_len && geo.completion_len <= max.completion_len
            }
            BatchShape::Grouped(g) => {
                matches!(self.spec.loss, Loss::Grpo { .. })
                    && g.batch() <= max.batch
                    && g.completion_len <= max.completion_len
                    && g.targets
                        <= round_up_to_quantum((g.group_size * max.completion_len) as usize) as i64
                    && g.row_len
                        <= round_up_to_quantum(
                            (max.prompt_len + g.group_size * max.completion_len) as usize,
                        ) as i64
            }
            BatchShape::Packed(p) => {
                // Each row's length and slots are rounded up to the packing quantum.
                let slack = p.rows * quantum_for(p.row_len as usize) as i64;
                matches!(self.spec.loss, Loss::Sft)
                    && p.rows * p.row_len <= max.batch * max.seq_len() + slack
                    && p.rows * p.targets <= max.batch * max.completion_len + slack
            }
        };
        anyhow::ensure!(
            fits && shape.rows() <= max.batch && shape.rows() % multiple == 0,
            "a batch of shape {shape:?} does not fit the learner's {max:?} over {multiple} devices"
        );
        tracing::info!("compiling the learner for {shape}");
        let compiled = ShapePrograms::compile(&self.placement, &self.model, &self.spec, shape)?;
        Ok(self
            .shapes
            .entry(shape)
            .or_insert(Arc::new(compiled))
            .clone())
    }

    /// Compiles the programs for batches of `shape` now, if not yet (the first update of a
    /// new shape does it otherwise).
    pub fn compile_for(&mut self, shape: impl Into<BatchShape>) -> Result<()> {
        self.programs(shape).map(|_| ())
    }

    /// Log-probs [B, C] the loss ignores.
    fn zeros(&self, b: i64, c: i64) -> Result<DeviceArray> {
        Ok(self
            .placement
            .put_rows(&vec![0f32; (b * c) as usize], &[b, c])?)
    }

    /// Completion log-probs [B, C] under the frozen base model (the KL anchor), of a batch of
    /// `shape` given by its token arrays (`LogProbsProgram::run_tokens`).
    pub fn reference_logps(
        &mut self,
        shape: impl Into<BatchShape>,
        tokens: &[&DeviceArray],
    ) -> Result<DeviceArray> {
        let programs = self.programs(shape)?;
        let reference = programs
            .reference
            .as_ref()
            .context("no reference log-probs: a GRPO learner with beta 0 skips them")?;
        let base: Vec<&DeviceArray> = self.base.iter().map(|b| b.as_ref()).collect();
        Ok(reference.run_tokens(&base, tokens)?)
    }

    /// Completion log-probs under the current policy before this batch's updates (needed when
    /// μ > 1; zeros [b, c] otherwise, which the loss then ignores).
    pub fn old_logps(
        &mut self,
        shape: impl Into<BatchShape>,
        tokens: &[&DeviceArray],
        (b, c): (i64, i64),
    ) -> Result<DeviceArray> {
        let use_old_logps = matches!(
            self.spec.loss,
            Loss::Grpo {
                use_old_logps: true,
                ..
            }
        );
        let programs = self.programs(shape)?;
        let params = self.state().params.iter();
        match (use_old_logps, &programs.policy, &programs.reference) {
            (false, _, _) => self.zeros(b, c),
            (true, Some(policy), _) => {
                let weights: Vec<&DeviceArray> =
                    self.base.iter().map(|b| b.as_ref()).chain(params).collect();
                Ok(policy.run_tokens(&weights, tokens)?)
            }
            (true, None, Some(reference)) => {
                Ok(reference.run_tokens(&params.collect::<Vec<_>>(), tokens)?)
            }
            (true, None, None) => anyhow::bail!("log-probs are computed only by a GRPO learner"),
        }
    }

    /// The reference and old log-probs [b, c] of a batch of `shape` (zeros where the loss
    /// does not read them).
    fn policy_logps(
        &mut self,
        shape: BatchShape,
        tokens: &[&DeviceArray],
        (b, c): (i64, i64),
    ) -> Result<(DeviceArray, DeviceArray)> {
        // β = 0 leaves the KL term out of the loss: no reference forward pass (as Tunix).
        let ref_logps = match &self.spec.loss {
            Loss::Grpo { objective, .. } if objective.beta == 0.0 => self.zeros(b, c)?,
            _ => self.reference_logps(shape, tokens)?,
        };
        let old_logps = self.old_logps(shape, tokens, (b, c))?;
        Ok((ref_logps, old_logps))
    }

    /// The packed batch with its reference and old log-probs, on the device (GRPO).
    pub fn prepare(&mut self, packed: &TrainExample) -> Result<GrpoBatch<DeviceArray>> {
        let (seq, completion_mask, advantages) = packed.upload(&self.placement)?;
        let geo = packed.geo;
        let (ref_logps, old_logps) = self.policy_logps(
            geo.into(),
            &[&seq.tokens, &seq.valid],
            (geo.batch, geo.completion_len),
        )?;
        Ok(GrpoBatch {
            seq,
            completion_mask,
            advantages,
            old_logps,
            ref_logps,
        })
    }

    /// A batch with each group in one row (`TrainExample::grouped`), with its reference and
    /// old log-probs, on the device (GRPO).
    pub fn prepare_grouped(
        &mut self,
        grouped: &GroupedExamples,
    ) -> Result<GroupedGrpoBatch<DeviceArray>> {
        let up = grouped.upload(&self.placement)?;
        let geo = grouped.geo;
        let mut tokens = up.rows.arrays().to_vec();
        tokens.push(&up.completion_slots);
        let (ref_logps, old_logps) =
            self.policy_logps(geo.into(), &tokens, (geo.batch(), geo.completion_len))?;
        Ok(GroupedGrpoBatch {
            rows: up.rows,
            completion_slots: up.completion_slots,
            completion_mask: up.completion_mask,
            advantages: up.advantages,
            old_logps,
            ref_logps,
        })
    }

    /// An update's micro-batches (`TrainExample::split_rows`) on the device with their
    /// reference and old log-probs and their shares of the update (GRPO).
    pub fn prepare_micro(
        &mut self,
        micro: &[TrainExample],
    ) -> Result<Vec<(GrpoBatch<DeviceArray>, Share)>> {
        let shares = self.shares(micro);
        micro
            .iter()
            .zip(shares)
            .map(|(m, share)| Ok((self.prepare(m)?, share)))
            .collect()
    }

    /// The packed batch on the device, its completions as the targets (SFT).
    pub fn prepare_sft(&self, packed: &TrainExample) -> Result<SftBatch<DeviceArray>> {
        let (seq, target_mask, _) = packed.upload(&self.placement)?;
        Ok(SftBatch { seq, target_mask })
    }

    /// Packed supervised examples on the device (SFT).
    pub fn prepare_packed_sft(
        &self,
        packed: &PackedExamples,
    ) -> Result<PackedSftBatch<DeviceArray>> {
        packed.upload(&self.placement)
    }

    /// μ updates on one batch; the metrics of the last.
    pub fn update(&mut self, batch: &dyn StepBatch) -> Result<StepMetrics> {
        self.update_micro(&[(batch, Share::WHOLE)])
    }

    /// Each micro-batch's share of the update: its part of what the loss averages over the
    /// whole batch (rows, or tokens for a token mean), and its part of the completion tokens
    /// (what the token-mean metrics, kl and clip fraction, average over).
    pub fn shares(&self, micro: &[TrainExample]) -> Vec<Share> {
        let aggregation = match &self.spec.loss {
            Loss::Grpo { objective, .. } => objective.aggregation,
            Loss::Sft => Aggregation::TokenMean,
        };
        let fractions = |units: Vec<f64>| -> Vec<f32> {
            let total: f64 = units.iter().sum();
            units
                .iter()
                .map(|u| match total > 0.0 {
                    true => (u / total) as f32,
                    false => 1.0 / units.len() as f32,
                })
                .collect()
        };
        let units = |a| micro.iter().map(|m| m.loss_units(a)).collect();
        fractions(units(aggregation))
            .into_iter()
            .zip(fractions(units(Aggregation::TokenMean)))
            .map(|(loss, tokens)| Share { loss, tokens })
            .collect()
    }

    /// μ updates on one batch given as micro-batches with their shares of the loss (`shares`);
    /// the metrics of the last. Without accumulation there must be one, of share 1.
    pub fn update_micro<B: StepBatch>(&mut self, micro: &[(B, Share)]) -> Result<StepMetrics> {
        anyhow::ensure!(!micro.is_empty(), "an update needs at least one batch");
        let programs: Vec<Arc<ShapePrograms>> = micro
            .iter()
            .map(|(b, _)| self.programs(b.shape()))
            .collect::<Result<_>>()?;
        let mut metrics = StepMetrics::default();
        for _ in 0..self.spec.iterations {
            metrics = match &programs[0].step {
                StepProgram::Fused(train_step) => {
                    anyhow::ensure!(
                        micro.len() == 1 && micro[0].1 == Share::WHOLE,
                        "a learner without gradient accumulation updates on one whole batch"
                    );
                    let frozen: &[Arc<DeviceArray>] = if self.is_lora() { &self.base } else { &[] };
                    let out = train_step.run(TrainStepInputs {
                        frozen,
                        state: self.state.take().expect("state present"),
                        batch: &micro[0].0,
                    })?;
                    self.state = Some(out.state);
                    out.metrics
                }
                StepProgram::Accumulating(_) => self.accumulated_update(&programs, micro)?,
            };
        }
        Ok(metrics)
    }

    /// One update from the micro-batches' summed gradients.
    fn accumulated_update<B: StepBatch>(
        &mut self,
        programs: &[Arc<ShapePrograms>],
        micro: &[(B, Share)],
    ) -> Result<StepMetrics> {
        let (_, slot) = self.accumulation.as_mut().expect("an accumulating learner");
        let mut sums = slot
            .take()
            .expect("the gradient sums are present between updates");
        let frozen: &[Arc<DeviceArray>] = if self.is_lora() { &self.base } else { &[] };
        let params = &self.state.as_ref().expect("state present").params;
        let mut loss: LossValues = [0.0; 4];
        for (p, (batch, share)) in programs.iter().zip(micro) {
            let StepProgram::Accumulating(gradient) = &p.step else {
                unreachable!("every shape of an accumulating learner accumulates")
            };
            let share_on_device = self.placement.replicate(&HostArray::scalar(share.loss))?;
            let (next, [l, kl, clip, entropy]) =
                gradient.run(frozen, params, sums, &share_on_device, batch)?;
            sums = next;
            // Loss and entropy are aggregated alike; kl and clip fraction are token means.
            for (total, (t, w)) in loss.iter_mut().zip([
                (l, share.loss),
                (kl, share.tokens),
                (clip, share.tokens),
                (entropy, share.loss),
            ]) {
                *total += w * t;
            }
        }
        let (apply, slot) = self.accumulation.as_mut().expect("an accumulating learner");
        let state = self.state.take().expect("state present");
        let (state, zeroed, metrics) = apply.run(state, sums, loss)?;
        *slot = Some(zeroed);
        self.state = Some(state);
        Ok(metrics)
    }

    /// LoRA: the weights with each adapted one replaced by W + (α/r)·A·B, on the devices:
    /// `base` with the adapted matrices in the model's dtype, or `rollout_base` with them as
    /// rollouts read them.
    fn merged_weights(&self, for_rollout: bool) -> Result<Option<Vec<Arc<DeviceArray>>>> {
        let (Some((merge, merge_rollout)), Trainable::Lora(_, specs)) =
            (&self.merge, &self.spec.trainable)
        else {
            return Ok(None);
        };
        let (program, base) = match (for_rollout, merge_rollout) {
            (false, _) => (merge, &self.base),
            (true, Some(m)) => (m, &self.rollout_base),
            (true, None) => (merge, &self.rollout_base),
        };
        let adapted = program.run(&self.base, &self.state().params)?;
        let mut weights = base.clone();
        for (s, w) in specs.iter().zip(adapted) {
            weights[s.param] = Arc::new(w);
        }
        Ok(Some(weights))
    }

    /// The current policy's weights for the rollout stage, on the device in the rollouts'
    /// layout and dtype, or None while they are still `rollout_base` (full fine-tuning before
    /// its first update).
    pub fn policy_weights(&self, updated: bool) -> Result<Option<Vec<Arc<DeviceArray>>>> {
        if let Some(merged) = self.merged_weights(true)? {
            return Ok(Some(merged));
        }
        if !updated {
            return Ok(None);
        }
        // The train step donates its parameters, so rollouts get their own copy.
        let handover = self.handover.as_ref().expect("full fine-tuning hands over");
        Ok(Some(handover.run(&self.state().params)?))
    }

    /// Everything a checkpoint needs, downloaded.
    pub fn snapshot(&self) -> Result<LearnerSnapshot> {
        let state = self.state();
        let on = &self.placement;
        let params = on.download_all(&state.params)?;
        let mut training_state = vec![];
        for (prefix, arrays) in [
            ("param.", params.clone()),
            ("mu.", on.download_all(&state.mu)?),
            ("nu.", on.download_all(&state.nu)?),
        ] {
            training_state.extend(
                self.names
                    .iter()
                    .zip(arrays)
                    .map(|(n, a)| (format!("{prefix}{n}"), a)),
            );
        }
        // The adapters under qwix's names and shapes, so Tunix's LoRA model takes them as is.
        let lora = match &self.spec.trainable {
            Trainable::Lora(_, specs) => Some(lora::export(specs, &params)),
            Trainable::Full => None,
        };
        let merged = match self.merged_weights(false)? {
            Some(weights) => on.download_all(&weights)?,
            None => params,
        };
        Ok(LearnerSnapshot {
            training_state,
            lora,
            merged,
        })
    }

    pub fn spec(&self) -> &LearnerSpec {
        &self.spec
    }

    pub fn model_config(&self) -> &GemmaConfig {
        &self.model
    }
}
