//! The batches the learner's programs read, by shape: prompt + completion rows (`Geometry`),
//! supervised examples packed several to a row (`PackedGeometry`), and GRPO groups one to a
//! row (`GroupedGeometry`); each batch's arrays in the order the programs take them.

use crate::graph::{DeviceArray, Graph, Shape, Tensor};

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
/// completions, each attending to the prompt and to itself. The LM head runs on `targets` slots
/// a row, the group's completion tokens end to end (not G · C: one long completion would pad
/// every other to its length), and the log-probs come out [groups · G, C] as from `Geometry`'s
/// rows, read from those slots (`GroupedGrpoBatch::completion_slots`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GroupedGeometry {
    pub groups: i64,
    pub group_size: i64,
    pub row_len: i64,
    pub completion_len: i64,
    pub targets: i64,
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
            targets: self.targets,
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
                "{} groups of {} x {} tokens a row, {} targets",
                g.groups, g.group_size, g.row_len, g.targets
            ),
        }
    }
}

/// Prompt + completion rows: ids [B, P+C] i32 (prompt left-padded, completion right-padded)
/// and which of them are real tokens [B, P+C] i32.
pub struct Sequences<T> {
    pub tokens: T,
    pub valid: T,
}

pub(crate) fn declare_sequences(g: &Graph, geo: Geometry) -> Sequences<Tensor> {
    Sequences {
        tokens: g.parameter("tokens", Shape::i32(&[geo.batch, geo.seq_len()])),
        valid: g.parameter("valid", Shape::i32(&[geo.batch, geo.seq_len()])),
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

pub(crate) fn declare_packed_rows(g: &Graph, geo: PackedGeometry) -> PackedRows<Tensor> {
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

/// A GRPO batch with each group packed into one row (`GroupedGeometry`): the rows, the target
/// slot of each completion token [groups, G · C] i32 (completion i's token j at i · C + j; 0
/// past its end), then as `GrpoBatch` the completion mask [B, C], advantages [B] and log-probs
/// [B, C], B = groups · G.
pub struct GroupedGrpoBatch<T> {
    pub rows: PackedRows<T>,
    pub completion_slots: T,
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
            &self.completion_slots,
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
            group_size: self.completion_slots.dims()[1] / completion_len,
            row_len: packed.row_len,
            completion_len,
            targets: packed.targets,
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
