//! The compiled learner programs: per-token log-probs of completions (reference and old
//! policies), the LoRA merge (for rollouts with the current policy), and one train step
//! (forward, loss, backward, AdamW) with the trainable parameters and optimizer state donated.
//! Each is built and called through named inputs and outputs; the argument order lives only
//! here, next to the graph that declares it.

use std::sync::Arc;

use crate::graph::{
    DeviceArray, DotDims, EmitOptions, Graph, In, Layout, Module, Placement, Program, Shape,
    Sharding, Tensor,
};
use crate::models::gemma::{
    hidden_states, logits, packed_hidden_states, GemmaConfig, GemmaWeights,
};
use crate::pjrt::{ElementType, Result};

use super::head::{divides_logits, target_log_probs, HeadGradient, CHUNK_TOKENS};
use super::lora::{self, LoraConfig, LoraSpec};
use super::objective::{
    aggregate, grpo_objective, token_entropy, token_log_probs, Aggregation, ObjectiveConfig,
};
use super::optimizer::{adamw_step, AdamWConfig};

/// Batch geometry: B rows of a left-padded prompt of P tokens and a completion of C tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Geometry {
    pub batch: i64,
    pub prompt_len: i64,
    pub completion_len: i64,
}

impl Geometry {
    pub fn seq_len(&self) -> i64 {
        self.prompt_len + self.completion_len
    }
}

/// "B x (P + C) tokens", as progress lines and bench rows name a batch.
impl std::fmt::Display for Geometry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} x ({} + {}) tokens",
            self.batch, self.prompt_len, self.completion_len
        )
    }
}

/// Packed supervised rows: `rows` rows of `row_len` tokens, each holding several examples one
/// after another, and `targets` target slots per row (the positions whose next token is a
/// target; unused slots are masked).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PackedGeometry {
    pub rows: i64,
    pub row_len: i64,
    pub targets: i64,
}

/// "R rows x L tokens, T targets each".
impl std::fmt::Display for PackedGeometry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} rows x {} tokens, {} targets each",
            self.rows, self.row_len, self.targets
        )
    }
}

/// GRPO's groups packed one to a row: the group's prompt once, then its `group_size`
/// completions, each attending to the prompt and to itself; `completion_len` target slots a
/// completion, so the log-probs come out [groups · G, C] as from `Geometry`'s rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GroupedGeometry {
    pub groups: i64,
    pub group_size: i64,
    pub row_len: i64,
    pub completion_len: i64,
}

impl GroupedGeometry {
    /// Completions in the batch (B).
    pub fn batch(&self) -> i64 {
        self.groups * self.group_size
    }

    pub fn packed(&self) -> PackedGeometry {
        PackedGeometry {
            rows: self.groups,
            row_len: self.row_len,
            targets: self.group_size * self.completion_len,
        }
    }
}

/// The shape of a batch a train step reads: prompt + completion rows (GRPO, and SFT with
/// gradient accumulation), packed supervised rows, or GRPO groups one to a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BatchShape {
    Rows(Geometry),
    Packed(PackedGeometry),
    Grouped(GroupedGeometry),
}

impl From<Geometry> for BatchShape {
    fn from(geo: Geometry) -> BatchShape {
        BatchShape::Rows(geo)
    }
}

impl From<GroupedGeometry> for BatchShape {
    fn from(geo: GroupedGeometry) -> BatchShape {
        BatchShape::Grouped(geo)
    }
}

impl From<PackedGeometry> for BatchShape {
    fn from(geo: PackedGeometry) -> BatchShape {
        BatchShape::Packed(geo)
    }
}

impl BatchShape {
    /// Rows of the batch (what is split over devices).
    pub fn rows(&self) -> i64 {
        match self {
            BatchShape::Rows(g) => g.batch,
            BatchShape::Packed(p) => p.rows,
            BatchShape::Grouped(g) => g.groups,
        }
    }
}

impl std::fmt::Display for BatchShape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BatchShape::Rows(g) => g.fmt(f),
            BatchShape::Packed(p) => p.fmt(f),
            BatchShape::Grouped(g) => write!(
                f,
                "{} groups of {} x {} tokens a row",
                g.groups, g.group_size, g.row_len
            ),
        }
    }
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
fn place_batch(g: &Graph, layout: &Layout, batch: &[&Tensor]) {
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

/// Log-probs [B, C] of grouped rows' completions (each row's G · C slots are its G
/// completions' C each), and the entropy there.
pub fn grouped_log_probs(
    cfg: &GemmaConfig,
    w: &GemmaWeights,
    rows: &PackedRows<Tensor>,
    geo: GroupedGeometry,
    temperature: f64,
    gradient: HeadGradient,
) -> (Tensor, Tensor) {
    let (logp, entropy) = packed_log_probs(cfg, w, rows, temperature, gradient);
    let per_completion = [geo.batch(), geo.completion_len];
    (
        logp.reshape(&per_completion),
        entropy.reshape(&per_completion),
    )
}

/// Prompt + completion rows: ids [B, P+C] i32 (prompt left-padded, completion right-padded)
/// and which of them are real tokens [B, P+C] i32.
pub struct Sequences<T> {
    pub tokens: T,
    pub valid: T,
}

fn declare_sequences(g: &Graph, geo: Geometry) -> Sequences<Tensor> {
    Sequences {
        tokens: g.parameter("tokens", Shape::i32(&[geo.batch, geo.seq_len()])),
        valid: g.parameter("valid", Shape::i32(&[geo.batch, geo.seq_len()])),
    }
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
        let none = HeadGradient::None;
        let (logp, _) = match shape.into() {
            BatchShape::Rows(geo) => {
                let seq = declare_sequences(&g, geo);
                place_batch(&g, layout, &[&seq.tokens, &seq.valid]);
                completion_log_probs(cfg, &w, &seq, geo, temperature, none)
            }
            BatchShape::Grouped(geo) => {
                let rows = declare_packed_rows(&g, geo.packed());
                place_batch(&g, layout, &rows.arrays());
                grouped_log_probs(cfg, &w, &rows, geo, temperature, none)
            }
            BatchShape::Packed(_) => panic!("packed supervised rows have no completions"),
        };
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

/// A packed GRPO batch: sequences, which completion tokens count [B, C] f32, one advantage per
/// row [B] f32, and the log-probs the objective compares with [B, C] f32.
pub struct GrpoBatch<T> {
    pub seq: Sequences<T>,
    pub completion_mask: T,
    pub advantages: T,
    pub old_logps: T,
    pub ref_logps: T,
}

/// A packed supervised batch: prompt + target sequences and which tokens are targets [B, C] f32.
pub struct SftBatch<T> {
    pub seq: Sequences<T>,
    pub target_mask: T,
}

/// Sequences packed several to a row (`PackedGeometry`; `models::gemma::packed_hidden_states`):
/// tokens [R, L] i32, their positions [R, L] i32 and segments [R, L] i32, and per target slot
/// [R, T] the row position whose hidden state predicts the target (i32) and the target (i32).
pub struct PackedRows<T> {
    pub tokens: T,
    pub positions: T,
    pub segments: T,
    pub target_at: T,
    pub target_ids: T,
}

impl<T> PackedRows<T> {
    /// Every array, in the order programs take them.
    pub fn arrays(&self) -> [&T; 5] {
        [
            &self.tokens,
            &self.positions,
            &self.segments,
            &self.target_at,
            &self.target_ids,
        ]
    }
}

fn declare_packed_rows(g: &Graph, geo: PackedGeometry) -> PackedRows<Tensor> {
    let (r, l, t) = (geo.rows, geo.row_len, geo.targets);
    PackedRows {
        tokens: g.parameter("tokens", Shape::i32(&[r, l])),
        positions: g.parameter("positions", Shape::i32(&[r, l])),
        segments: g.parameter("segments", Shape::i32(&[r, l])),
        target_at: g.parameter("target_at", Shape::i32(&[r, t])),
        target_ids: g.parameter("target_ids", Shape::i32(&[r, t])),
    }
}

fn packed_geometry_of(rows: &PackedRows<DeviceArray>) -> PackedGeometry {
    let (tokens, targets) = (rows.tokens.dims(), rows.target_ids.dims());
    PackedGeometry {
        rows: tokens[0],
        row_len: tokens[1],
        targets: targets[1],
    }
}

/// Packed supervised examples: the rows, and which target slots are used [R, T] f32.
pub struct PackedSftBatch<T> {
    pub rows: PackedRows<T>,
    pub target_mask: T,
}

/// A GRPO batch with each group packed into one row (`GroupedGeometry`): the rows, then as
/// `GrpoBatch` the completion mask [B, C], advantages [B] and log-probs [B, C], B = groups · G.
pub struct GroupedGrpoBatch<T> {
    pub rows: PackedRows<T>,
    pub completion_mask: T,
    pub advantages: T,
    pub old_logps: T,
    pub ref_logps: T,
}

/// A batch the train step reads: its arrays in program order.
pub trait StepBatch {
    fn buffers(&self) -> Vec<&DeviceArray>;
    /// The batch's shape, read from its arrays.
    fn shape(&self) -> BatchShape;
}

/// The geometry of sequences [B, P + C] whose completions are `completion_len` tokens.
fn geometry_of(seq: &Sequences<DeviceArray>, completion_len: i64) -> Geometry {
    let dims = seq.tokens.dims();
    Geometry {
        batch: dims[0],
        prompt_len: dims[1] - completion_len,
        completion_len,
    }
}

impl<B: StepBatch + ?Sized> StepBatch for &B {
    fn buffers(&self) -> Vec<&DeviceArray> {
        (**self).buffers()
    }
    fn shape(&self) -> BatchShape {
        (**self).shape()
    }
}

impl StepBatch for GrpoBatch<DeviceArray> {
    fn buffers(&self) -> Vec<&DeviceArray> {
        self.arrays().to_vec()
    }
    fn shape(&self) -> BatchShape {
        geometry_of(&self.seq, self.completion_mask.dims()[1]).into()
    }
}

impl StepBatch for SftBatch<DeviceArray> {
    fn buffers(&self) -> Vec<&DeviceArray> {
        vec![&self.seq.tokens, &self.seq.valid, &self.target_mask]
    }
    fn shape(&self) -> BatchShape {
        geometry_of(&self.seq, self.target_mask.dims()[1]).into()
    }
}

impl StepBatch for PackedSftBatch<DeviceArray> {
    fn buffers(&self) -> Vec<&DeviceArray> {
        let mut all = self.rows.arrays().to_vec();
        all.push(&self.target_mask);
        all
    }
    fn shape(&self) -> BatchShape {
        BatchShape::Packed(packed_geometry_of(&self.rows))
    }
}

impl StepBatch for GroupedGrpoBatch<DeviceArray> {
    fn buffers(&self) -> Vec<&DeviceArray> {
        let mut all = self.rows.arrays().to_vec();
        all.extend([
            &self.completion_mask,
            &self.advantages,
            &self.old_logps,
            &self.ref_logps,
        ]);
        all
    }
    fn shape(&self) -> BatchShape {
        let packed = packed_geometry_of(&self.rows);
        let completion_len = self.completion_mask.dims()[1];
        BatchShape::Grouped(GroupedGeometry {
            groups: packed.rows,
            group_size: packed.targets / completion_len,
            row_len: packed.row_len,
            completion_len,
        })
    }
}

impl<T> GrpoBatch<T> {
    /// Every array, in the order the train step takes them.
    fn arrays(&self) -> [&T; 6] {
        [
            &self.seq.tokens,
            &self.seq.valid,
            &self.completion_mask,
            &self.advantages,
            &self.old_logps,
            &self.ref_logps,
        ]
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
    let (logp, entropy) = match shape {
        BatchShape::Rows(geo) => {
            let seq = declare_sequences(g, geo);
            place_batch(g, layout, &[&seq.tokens, &seq.valid]);
            completion_log_probs(cfg, w, &seq, geo, temperature, head_gradient)
        }
        BatchShape::Grouped(geo) => {
            let rows = declare_packed_rows(g, geo.packed());
            place_batch(g, layout, &rows.arrays());
            grouped_log_probs(cfg, w, &rows, geo, temperature, head_gradient)
        }
        BatchShape::Packed(_) => panic!("GRPO batches are rows or groups, never packed examples"),
    };
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
    let loss = aggregate(&(-logp), target_mask, Aggregation::TokenMean);
    let entropy = aggregate(&entropy, target_mask, Aggregation::TokenMean).stop_gradient();
    (loss, entropy)
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
    let (loss, entropy) =
        target_cross_entropy(cfg, w, &batch.seq, &batch.target_mask, geo, head_gradient);
    let zero = g.scalar(0.0, ElementType::F32);
    LossTerms {
        loss,
        kl: zero.clone(),
        clip_fraction: zero,
        entropy,
    }
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
    let (loss, entropy) = packed_cross_entropy(cfg, w, &batch, head_gradient);
    let zero = g.scalar(0.0, ElementType::F32);
    LossTerms {
        loss,
        kl: zero.clone(),
        clip_fraction: zero,
        entropy,
    }
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
    let mask = &batch.target_mask;
    let loss = aggregate(&(-logp), mask, Aggregation::TokenMean);
    let entropy = aggregate(&entropy, mask, Aggregation::TokenMean).stop_gradient();
    (loss, entropy)
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
