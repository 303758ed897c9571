//! The ops: what each node computes, its shape rule, and the `Tensor` methods that build it.
//! Their derivatives are in `vjp.rs`, one rule per op.

use super::builder::{list, Graph, Tensor};
use super::shape::Shape;
use super::sharding::Sharding;
use crate::pjrt::ElementType;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnaryOp {
    Neg,
    Exp,
    Log,
    Log1p,
    Sqrt,
    Rsqrt,
    Tanh,
    Abs,
    Sign,
    Logistic,
    Sin,
    Cos,
    Floor,
    Not,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Max,
    Min,
    Pow,
    Rem,
    And,
    Or,
    Xor,
    ShiftLeft,
    ShiftRightLogical,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReduceKind {
    Sum,
    Max,
    Min,
}

/// A constant's value: one repeated scalar, or raw little-endian bytes of the whole array.
#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    Float(f64),
    Int(i64),
    Bool(bool),
    Bytes(Vec<u8>),
}

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct DotDims {
    pub lhs_batch: Vec<i64>,
    pub rhs_batch: Vec<i64>,
    pub lhs_contract: Vec<i64>,
    pub rhs_contract: Vec<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct GatherDims {
    pub offset_dims: Vec<i64>,
    pub collapsed_slice_dims: Vec<i64>,
    /// Operand axes matched one to one with `start_indices_batching_dims` of the indices:
    /// each index row reads only its own batch. Unlike an iota column in the indices, a
    /// partitioner splitting that axis over devices keeps the gather on each device.
    pub operand_batching_dims: Vec<i64>,
    pub start_indices_batching_dims: Vec<i64>,
    pub start_index_map: Vec<i64>,
    pub index_vector_dim: i64,
    pub slice_sizes: Vec<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ScatterDims {
    pub update_window_dims: Vec<i64>,
    pub inserted_window_dims: Vec<i64>,
    pub scatter_dims_to_operand_dims: Vec<i64>,
    pub index_vector_dim: i64,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    Parameter {
        index: usize,
    },
    RegionArg {
        index: usize,
    },
    Constant(Literal),
    Iota {
        dim: i64,
    },
    Unary(UnaryOp),
    Binary(BinaryOp),
    Compare(Cmp),
    Select,
    Clamp,
    Convert,
    BitcastConvert,
    BroadcastInDim {
        dims: Vec<i64>,
    },
    Reshape,
    Transpose {
        perm: Vec<i64>,
    },
    Reverse {
        dims: Vec<i64>,
    },
    Slice {
        start: Vec<i64>,
        limit: Vec<i64>,
        strides: Vec<i64>,
    },
    /// inputs: operand, then one scalar start index per dimension.
    DynamicSlice {
        sizes: Vec<i64>,
    },
    /// inputs: operand, update, then one scalar start index per dimension.
    DynamicUpdateSlice,
    Concatenate {
        dim: i64,
    },
    /// inputs: operand, padding value (scalar).
    Pad {
        low: Vec<i64>,
        high: Vec<i64>,
        interior: Vec<i64>,
    },
    Gather(GatherDims),
    /// inputs: operand, indices, updates; colliding updates add up.
    ScatterAdd(ScatterDims),
    DotGeneral(DotDims),
    Reduce {
        kind: ReduceKind,
        dims: Vec<i64>,
    },
    /// Index of the largest element along `dim` (first one on ties), as i32.
    Argmax {
        dim: i64,
    },
    /// Sorts all operands along `dim` by the first one.
    Sort {
        dim: i64,
        descending: bool,
    },
    /// The k largest values along the last axis and their i32 indices (`chlo.top_k`, which XLA
    /// lowers to a partial sort rather than a full one). With `rows_over` (the mesh axes that
    /// split dimension 0) each device takes the top k of its own rows, in a Shardy manual
    /// computation: XLA's partitioner cannot split TopK by rows, and would otherwise gather
    /// every row onto every device first.
    TopK {
        k: i64,
        rows_over: Vec<String>,
    },
    /// inputs: state ui64[2]; outputs: new state, random bits (threefry).
    RngBitGenerator,
    While {
        cond: usize,
        body: usize,
    },
    StopGradient,
    OptimizationBarrier,
    /// Numerically stable log(softmax(x)) along `dim`, with a fused derivative.
    LogSoftmax {
        dim: i64,
    },
    /// Numerically stable softmax along `dim`, with a fused derivative.
    Softmax {
        dim: i64,
    },
    ShardingConstraint(Sharding),
}

impl Op {
    pub fn name(&self) -> &'static str {
        match self {
            Op::Parameter { .. } => "parameter",
            Op::RegionArg { .. } => "region_arg",
            Op::Constant(_) => "constant",
            Op::Iota { .. } => "iota",
            Op::Unary(u) => match u {
                UnaryOp::Neg => "negate",
                UnaryOp::Exp => "exponential",
                UnaryOp::Log => "log",
                UnaryOp::Log1p => "log_plus_one",
                UnaryOp::Sqrt => "sqrt",
                UnaryOp::Rsqrt => "rsqrt",
                UnaryOp::Tanh => "tanh",
                UnaryOp::Abs => "abs",
                UnaryOp::Sign => "sign",
                UnaryOp::Logistic => "logistic",
                UnaryOp::Sin => "sine",
                UnaryOp::Cos => "cosine",
                UnaryOp::Floor => "floor",
                UnaryOp::Not => "not",
            },
            Op::Binary(b) => match b {
                BinaryOp::Add => "add",
                BinaryOp::Sub => "subtract",
                BinaryOp::Mul => "multiply",
                BinaryOp::Div => "divide",
                BinaryOp::Max => "maximum",
                BinaryOp::Min => "minimum",
                BinaryOp::Pow => "power",
                BinaryOp::Rem => "remainder",
                BinaryOp::And => "and",
                BinaryOp::Or => "or",
                BinaryOp::Xor => "xor",
                BinaryOp::ShiftLeft => "shift_left",
                BinaryOp::ShiftRightLogical => "shift_right_logical",
            },
            Op::Compare(_) => "compare",
            Op::Select => "select",
            Op::Clamp => "clamp",
            Op::Convert => "convert",
            Op::BitcastConvert => "bitcast_convert",
            Op::BroadcastInDim { .. } => "broadcast_in_dim",
            Op::Reshape => "reshape",
            Op::Transpose { .. } => "transpose",
            Op::Reverse { .. } => "reverse",
            Op::Slice { .. } => "slice",
            Op::DynamicSlice { .. } => "dynamic_slice",
            Op::DynamicUpdateSlice => "dynamic_update_slice",
            Op::Concatenate { .. } => "concatenate",
            Op::Pad { .. } => "pad",
            Op::Gather(_) => "gather",
            Op::ScatterAdd(_) => "scatter",
            Op::DotGeneral(_) => "dot_general",
            Op::Reduce { .. } => "reduce",
            Op::Argmax { .. } => "argmax",
            Op::Sort { .. } => "sort",
            Op::TopK { .. } => "top_k",
            Op::RngBitGenerator => "rng_bit_generator",
            Op::While { .. } => "while",
            Op::StopGradient => "stop_gradient",
            Op::OptimizationBarrier => "optimization_barrier",
            Op::LogSoftmax { .. } => "log_softmax",
            Op::Softmax { .. } => "softmax",
            Op::ShardingConstraint(_) => "sharding_constraint",
        }
    }
}

type Shapes = Result<Vec<Shape>, String>;

fn one(shape: Shape) -> Shapes {
    Ok(vec![shape])
}

fn check_axes(dims: &[i64], rank: usize, what: &str) -> Result<(), String> {
    for &d in dims {
        if d < 0 || d as usize >= rank {
            return Err(format!("{what} {d} is out of range for rank {rank}"));
        }
    }
    let mut seen = dims.to_vec();
    seen.sort();
    seen.dedup();
    if seen.len() != dims.len() {
        return Err(format!("{what}s {dims:?} repeat"));
    }
    Ok(())
}

/// Normalizes a possibly negative axis.
pub(crate) fn axis(d: i64, rank: usize) -> i64 {
    if d < 0 {
        d + rank as i64
    } else {
        d
    }
}

// ------------------------------------------------------------------------ graph-level sources
impl Graph {
    /// A constant filled with `value`, in `shape`'s type.
    #[track_caller]
    pub fn full(&self, value: f64, shape: Shape) -> Tensor {
        let literal = if shape.ty.is_float() {
            Literal::Float(value)
        } else if shape.ty == ElementType::Pred {
            Literal::Bool(value != 0.0)
        } else {
            Literal::Int(value as i64)
        };
        self.push(Op::Constant(literal), vec![], one(shape), 1)
    }

    #[track_caller]
    pub fn scalar(&self, value: f64, ty: ElementType) -> Tensor {
        self.full(value, Shape::scalar(ty))
    }

    #[track_caller]
    pub fn zeros(&self, shape: Shape) -> Tensor {
        self.full(0.0, shape)
    }

    /// A constant array from host values (row-major).
    #[track_caller]
    pub fn constant<T: crate::pjrt::Element>(&self, data: &[T], dims: &[i64]) -> Tensor {
        let shape = Shape::new(T::TYPE, dims);
        let result = if data.len() as i64 == shape.element_count() {
            one(shape.clone())
        } else {
            Err(format!("{} values for shape {shape}", data.len()))
        };
        // SAFETY: `Element` types are plain bytes of their element type.
        let bytes = unsafe {
            std::slice::from_raw_parts(data.as_ptr() as *const u8, std::mem::size_of_val(data))
        };
        self.push(
            Op::Constant(Literal::Bytes(bytes.to_vec())),
            vec![],
            result,
            1,
        )
    }

    /// 0, 1, 2, ... along `dim`, broadcast over the other dimensions.
    #[track_caller]
    pub fn iota(&self, shape: Shape, dim: i64) -> Tensor {
        let result = check_axes(&[dim], shape.rank(), "iota dimension").map(|_| vec![shape]);
        self.push(Op::Iota { dim }, vec![], result, 1)
    }
}

// ------------------------------------------------------------------------ elementwise
impl Tensor {
    fn same_graph(&self, other: &Tensor) {
        assert!(
            self.graph.same(&other.graph),
            "tensors from two different graphs were combined"
        );
    }

    #[track_caller]
    pub fn unary(&self, op: UnaryOp) -> Tensor {
        let shape = self.shape();
        let ok = match op {
            UnaryOp::Not => !shape.ty.is_float(),
            UnaryOp::Abs | UnaryOp::Neg | UnaryOp::Sign => true,
            _ => shape.ty.is_float(),
        };
        let result = if ok {
            one(shape.clone())
        } else {
            Err(format!("not defined for {shape}"))
        };
        self.graph.push(Op::Unary(op), vec![self.value], result, 1)
    }

    /// Numpy-style broadcasting of two operands to a common shape.
    #[track_caller]
    pub(crate) fn broadcast_pair(&self, other: &Tensor) -> Result<(Tensor, Tensor), String> {
        self.same_graph(other);
        let (a, b) = (self.shape(), other.shape());
        if a.ty != b.ty {
            return Err(format!("element types differ: {a} and {b}"));
        }
        if a.dims == b.dims {
            return Ok((self.clone(), other.clone()));
        }
        let rank = a.rank().max(b.rank());
        let pad = |d: &[i64]| -> Vec<i64> {
            std::iter::repeat_n(1, rank - d.len())
                .chain(d.iter().copied())
                .collect()
        };
        let (pa, pb) = (pad(&a.dims), pad(&b.dims));
        let mut out = vec![0; rank];
        for i in 0..rank {
            out[i] = match (pa[i], pb[i]) {
                (x, y) if x == y => x,
                (1, y) => y,
                (x, 1) => x,
                _ => return Err(format!("cannot broadcast {a} with {b}")),
            };
        }
        Ok((self.broadcast_to(&out), other.broadcast_to(&out)))
    }

    /// Broadcasts to `dims` by numpy rules (trailing dimensions aligned).
    #[track_caller]
    pub fn broadcast_to(&self, dims: &[i64]) -> Tensor {
        let shape = self.shape();
        if shape.dims == dims {
            return self.clone();
        }
        if dims.len() < shape.rank() {
            let result = Err(format!("cannot broadcast {shape} to {dims:?}"));
            return self.graph.push(
                Op::BroadcastInDim { dims: vec![] },
                vec![self.value],
                result,
                1,
            );
        }
        let offset = dims.len() - shape.rank();
        let mapping: Vec<i64> = (0..shape.rank()).map(|i| (i + offset) as i64).collect();
        self.broadcast_in_dim(dims, &mapping)
    }

    /// Axis 0 read as `groups` equal blocks, each block repeated `times` times in place:
    /// rows [a, b] become [a, a, b, b] for times 2 (with groups 2). A block may span several
    /// entries of axis 0 (a KV cache's rows are batch × heads).
    #[track_caller]
    pub fn repeat_groups(&self, groups: i64, times: i64) -> Tensor {
        if times == 1 {
            return self.clone();
        }
        let mut dims = self.dims();
        let block = self.shape().element_count() / groups;
        dims[0] *= times;
        self.reshape(&[groups, 1, block])
            .broadcast_to(&[groups, times, block])
            .reshape(&dims)
    }

    /// `stablehlo.broadcast_in_dim`: input dimension i becomes output dimension `mapping[i]`.
    #[track_caller]
    pub fn broadcast_in_dim(&self, dims: &[i64], mapping: &[i64]) -> Tensor {
        let shape = self.shape();
        let result = (|| {
            if mapping.len() != shape.rank() {
                return Err(format!("{} dimension mappings for {shape}", mapping.len()));
            }
            check_axes(mapping, dims.len(), "broadcast dimension")?;
            for (i, &m) in mapping.iter().enumerate() {
                if shape.dims[i] != 1 && shape.dims[i] != dims[m as usize] {
                    return Err(format!(
                        "cannot broadcast {shape} to {dims:?} with mapping {mapping:?}"
                    ));
                }
            }
            one(shape.with_dims(dims))
        })();
        self.graph.push(
            Op::BroadcastInDim {
                dims: mapping.to_vec(),
            },
            vec![self.value],
            result,
            1,
        )
    }

    #[track_caller]
    pub fn binary(&self, op: BinaryOp, other: &Tensor) -> Tensor {
        match self.broadcast_pair(other) {
            Ok((a, b)) => {
                let shape = a.shape();
                let result = match op {
                    BinaryOp::And | BinaryOp::Or | BinaryOp::Xor if shape.ty.is_float() => {
                        Err(format!("not defined for {shape}"))
                    }
                    _ => one(shape),
                };
                self.graph
                    .push(Op::Binary(op), vec![a.value, b.value], result, 1)
            }
            Err(e) => self
                .graph
                .push(Op::Binary(op), vec![self.value, other.value], Err(e), 1),
        }
    }

    /// A scalar of this tensor's type.
    #[track_caller]
    pub fn scalar_like(&self, value: f64) -> Tensor {
        self.graph.scalar(value, self.ty())
    }

    #[track_caller]
    pub fn zeros_like(&self) -> Tensor {
        self.graph.zeros(self.shape())
    }

    #[track_caller]
    pub fn compare(&self, dir: Cmp, other: &Tensor) -> Tensor {
        match self.broadcast_pair(other) {
            Ok((a, b)) => {
                let shape = a.shape().with_type(ElementType::Pred);
                self.graph
                    .push(Op::Compare(dir), vec![a.value, b.value], one(shape), 1)
            }
            Err(e) => self
                .graph
                .push(Op::Compare(dir), vec![self.value, other.value], Err(e), 1),
        }
    }

    /// `pred ? on_true : on_false`, elementwise; `self` is the predicate.
    #[track_caller]
    pub fn select(&self, on_true: &Tensor, on_false: &Tensor) -> Tensor {
        let (p, t, f) = (self.shape(), on_true.shape(), on_false.shape());
        let result = if p.ty != ElementType::Pred {
            Err(format!("predicate must be pred, got {p}"))
        } else if t != f || (p.rank() != 0 && p.dims != t.dims) {
            Err(format!(
                "shapes differ: pred {p}, on_true {t}, on_false {f}"
            ))
        } else {
            one(t)
        };
        self.graph.push(
            Op::Select,
            vec![self.value, on_true.value, on_false.value],
            result,
            1,
        )
    }

    /// Limits values to [lo, hi] (scalars of this tensor's type).
    #[track_caller]
    pub fn clamp(&self, lo: f64, hi: f64) -> Tensor {
        let (lo, hi) = (self.scalar_like(lo), self.scalar_like(hi));
        self.graph.push(
            Op::Clamp,
            vec![lo.value, self.value, hi.value],
            one(self.shape()),
            1,
        )
    }

    #[track_caller]
    pub fn convert(&self, ty: ElementType) -> Tensor {
        if self.ty() == ty {
            return self.clone();
        }
        self.graph.push(
            Op::Convert,
            vec![self.value],
            one(self.shape().with_type(ty)),
            1,
        )
    }

    /// Reinterprets the bits as another type of the same width.
    #[track_caller]
    pub fn bitcast(&self, ty: ElementType) -> Tensor {
        let shape = self.shape();
        let result = if shape.ty.size_in_bytes() == ty.size_in_bytes() {
            one(shape.with_type(ty))
        } else {
            Err(format!("{shape} and {ty} have different widths"))
        };
        self.graph
            .push(Op::BitcastConvert, vec![self.value], result, 1)
    }

    #[track_caller]
    pub fn stop_gradient(&self) -> Tensor {
        self.graph
            .push(Op::StopGradient, vec![self.value], one(self.shape()), 1)
    }
}

// ------------------------------------------------------------------------ structure
impl Tensor {
    #[track_caller]
    pub fn reshape(&self, dims: &[i64]) -> Tensor {
        let shape = self.shape();
        let mut dims = dims.to_vec();
        // One -1 takes what is left.
        if let Some(pos) = dims.iter().position(|&d| d == -1) {
            let known: i64 = dims.iter().filter(|&&d| d != -1).product();
            if known > 0 {
                dims[pos] = shape.element_count() / known;
            }
        }
        let target = shape.with_dims(&dims);
        let result =
            if target.element_count() == shape.element_count() && dims.iter().all(|&d| d >= 0) {
                one(target)
            } else {
                Err(format!("cannot reshape {shape} to {dims:?}"))
            };
        if shape.dims == dims {
            return self.clone();
        }
        self.graph.push(Op::Reshape, vec![self.value], result, 1)
    }

    #[track_caller]
    pub fn transpose(&self, perm: &[i64]) -> Tensor {
        let shape = self.shape();
        let result = if perm.len() != shape.rank() {
            Err(format!("permutation {perm:?} for {shape}"))
        } else {
            check_axes(perm, shape.rank(), "permutation entry").map(|_| {
                vec![shape.with_dims(
                    &perm
                        .iter()
                        .map(|&p| shape.dims[p as usize])
                        .collect::<Vec<_>>(),
                )]
            })
        };
        self.graph.push(
            Op::Transpose {
                perm: perm.to_vec(),
            },
            vec![self.value],
            result,
            1,
        )
    }

    /// Swaps the last two dimensions.
    #[track_caller]
    pub fn t(&self) -> Tensor {
        let r = self.rank() as i64;
        let mut perm: Vec<i64> = (0..r).collect();
        perm.swap((r - 1) as usize, (r - 2) as usize);
        self.transpose(&perm)
    }

    #[track_caller]
    pub fn reverse(&self, dims: &[i64]) -> Tensor {
        let shape = self.shape();
        let result = check_axes(dims, shape.rank(), "reverse dimension").map(|_| vec![shape]);
        self.graph.push(
            Op::Reverse {
                dims: dims.to_vec(),
            },
            vec![self.value],
            result,
            1,
        )
    }

    #[track_caller]
    pub fn slice(&self, start: &[i64], limit: &[i64], strides: &[i64]) -> Tensor {
        let shape = self.shape();
        let result = (|| {
            let r = shape.rank();
            if start.len() != r || limit.len() != r || strides.len() != r {
                return Err(format!(
                    "slice {start:?}..{limit:?} step {strides:?} of {shape}"
                ));
            }
            let mut dims = vec![];
            for i in 0..r {
                if start[i] < 0 || limit[i] > shape.dims[i] || start[i] > limit[i] || strides[i] < 1
                {
                    return Err(format!(
                        "slice {start:?}..{limit:?} step {strides:?} is out of bounds of {shape}"
                    ));
                }
                dims.push((limit[i] - start[i] + strides[i] - 1) / strides[i]);
            }
            one(shape.with_dims(&dims))
        })();
        let op = Op::Slice {
            start: start.to_vec(),
            limit: limit.to_vec(),
            strides: strides.to_vec(),
        };
        self.graph.push(op, vec![self.value], result, 1)
    }

    /// `self[.., start..end, ..]` along one axis.
    #[track_caller]
    pub fn narrow(&self, dim: i64, start: i64, len: i64) -> Tensor {
        let dims = self.dims();
        let d = axis(dim, dims.len()) as usize;
        let mut lo = vec![0; dims.len()];
        let mut hi = dims.clone();
        lo[d] = start;
        hi[d] = start + len;
        self.slice(&lo, &hi, &vec![1; dims.len()])
    }

    /// A window of `sizes` starting at run-time indices (scalar integer tensors), clamped in bounds.
    #[track_caller]
    pub fn dynamic_slice(&self, starts: &[Tensor], sizes: &[i64]) -> Tensor {
        let shape = self.shape();
        let result = if starts.len() != shape.rank() || sizes.len() != shape.rank() {
            Err(format!(
                "{} starts and {} sizes for {shape}",
                starts.len(),
                sizes.len()
            ))
        } else if sizes.iter().zip(&shape.dims).any(|(s, d)| s > d || *s < 0) {
            Err(format!("window {sizes:?} does not fit in {shape}"))
        } else if starts.iter().any(|s| s.rank() != 0 || s.ty().is_float()) {
            Err("start indices must be integer scalars".into())
        } else {
            one(shape.with_dims(sizes))
        };
        let mut inputs = vec![self.value];
        inputs.extend(starts.iter().map(|s| s.value));
        self.graph.push(
            Op::DynamicSlice {
                sizes: sizes.to_vec(),
            },
            inputs,
            result,
            1,
        )
    }

    /// A copy of `self` with `update` written at run-time indices (the KV cache write).
    #[track_caller]
    pub fn dynamic_update_slice(&self, update: &Tensor, starts: &[Tensor]) -> Tensor {
        let (shape, u) = (self.shape(), update.shape());
        let result = if starts.len() != shape.rank() || u.rank() != shape.rank() {
            Err(format!(
                "update {u} with {} starts into {shape}",
                starts.len()
            ))
        } else if u.ty != shape.ty || u.dims.iter().zip(&shape.dims).any(|(a, b)| a > b) {
            Err(format!("update {u} does not fit in {shape}"))
        } else if starts.iter().any(|s| s.rank() != 0 || s.ty().is_float()) {
            Err("start indices must be integer scalars".into())
        } else {
            one(shape)
        };
        let mut inputs = vec![self.value, update.value];
        inputs.extend(starts.iter().map(|s| s.value));
        self.graph.push(Op::DynamicUpdateSlice, inputs, result, 1)
    }

    #[track_caller]
    pub fn concatenate(parts: &[Tensor], dim: i64) -> Tensor {
        let first = parts[0].shape();
        let d = axis(dim, first.rank());
        let result = (|| {
            let mut total = 0;
            for p in parts {
                let s = p.shape();
                let mut a = s.dims.clone();
                let mut b = first.dims.clone();
                if s.ty != first.ty
                    || s.rank() != first.rank()
                    || d < 0
                    || d as usize >= first.rank()
                {
                    return Err(format!(
                        "cannot concatenate {} along {dim}",
                        list(&parts.iter().map(|p| p.shape()).collect::<Vec<_>>())
                    ));
                }
                total += a[d as usize];
                a[d as usize] = 0;
                b[d as usize] = 0;
                if a != b {
                    return Err(format!(
                        "cannot concatenate {} along {dim}",
                        list(&parts.iter().map(|p| p.shape()).collect::<Vec<_>>())
                    ));
                }
            }
            let mut dims = first.dims.clone();
            dims[d as usize] = total;
            one(first.with_dims(&dims))
        })();
        parts[0].graph.push(
            Op::Concatenate { dim: d },
            parts.iter().map(|p| p.value).collect(),
            result,
            1,
        )
    }

    #[track_caller]
    pub fn pad(&self, value: f64, low: &[i64], high: &[i64], interior: &[i64]) -> Tensor {
        let shape = self.shape();
        let pad_value = self.scalar_like(value);
        let result = (|| {
            let r = shape.rank();
            if low.len() != r || high.len() != r || interior.len() != r {
                return Err(format!("padding {low:?}/{high:?}/{interior:?} for {shape}"));
            }
            let dims: Vec<i64> = (0..r)
                .map(|i| {
                    low[i] + high[i] + shape.dims[i] + (shape.dims[i] - 1).max(0) * interior[i]
                })
                .collect();
            if dims.iter().any(|&d| d < 0) || interior.iter().any(|&i| i < 0) {
                return Err(format!(
                    "padding {low:?}/{high:?}/{interior:?} of {shape} is negative"
                ));
            }
            one(shape.with_dims(&dims))
        })();
        let op = Op::Pad {
            low: low.to_vec(),
            high: high.to_vec(),
            interior: interior.to_vec(),
        };
        self.graph
            .push(op, vec![self.value, pad_value.value], result, 1)
    }

    /// General `stablehlo.gather` (see the StableHLO spec); `take` and `take_along` cover the usual cases.
    #[track_caller]
    pub fn gather(&self, indices: &Tensor, dims: GatherDims) -> Tensor {
        let (op_shape, idx) = (self.shape(), indices.shape());
        let result = (|| {
            if idx.ty.is_float() {
                return Err(format!("indices must be integers, got {idx}"));
            }
            if dims.slice_sizes.len() != op_shape.rank() {
                return Err(format!("slice_sizes {:?} for {op_shape}", dims.slice_sizes));
            }
            // Batch dims of the result: indices' dims without index_vector_dim.
            let mut batch: Vec<i64> = idx.dims.clone();
            if (dims.index_vector_dim as usize) < batch.len() {
                batch.remove(dims.index_vector_dim as usize);
            }
            if dims.operand_batching_dims.len() != dims.start_indices_batching_dims.len() {
                return Err(format!(
                    "operand batching dims {:?} and indices batching dims {:?} differ in number",
                    dims.operand_batching_dims, dims.start_indices_batching_dims
                ));
            }
            let offsets: Vec<i64> = (0..op_shape.rank() as i64)
                .filter(|d| {
                    !dims.collapsed_slice_dims.contains(d)
                        && !dims.operand_batching_dims.contains(d)
                })
                .map(|d| dims.slice_sizes[d as usize])
                .collect();
            if offsets.len() != dims.offset_dims.len() {
                return Err(format!(
                    "{} offset dims for {} window dims",
                    dims.offset_dims.len(),
                    offsets.len()
                ));
            }
            let rank = batch.len() + offsets.len();
            let mut out = vec![0; rank];
            let (mut bi, mut oi) = (0, 0);
            for (d, slot) in out.iter_mut().enumerate() {
                if dims.offset_dims.contains(&(d as i64)) {
                    *slot = offsets[oi];
                    oi += 1;
                } else {
                    *slot = batch[bi];
                    bi += 1;
                }
            }
            one(op_shape.with_dims(&out))
        })();
        self.graph
            .push(Op::Gather(dims), vec![self.value, indices.value], result, 1)
    }

    /// General `stablehlo.scatter` with addition: `self` with `updates` added at `indices`.
    #[track_caller]
    pub fn scatter_add(&self, indices: &Tensor, updates: &Tensor, dims: ScatterDims) -> Tensor {
        let (s, u) = (self.shape(), updates.shape());
        let result = if s.ty != u.ty {
            Err(format!("operand {s} and updates {u} differ in type"))
        } else if indices.ty().is_float() {
            Err("indices must be integers".into())
        } else {
            one(s)
        };
        self.graph.push(
            Op::ScatterAdd(dims),
            vec![self.value, indices.value, updates.value],
            result,
            1,
        )
    }

    /// `stablehlo.dot_general`: result dims are batch, then lhs free, then rhs free.
    #[track_caller]
    pub fn dot_general(&self, rhs: &Tensor, dims: DotDims) -> Tensor {
        self.same_graph(rhs);
        let (a, b) = (self.shape(), rhs.shape());
        let result = (|| {
            if a.ty != b.ty {
                return Err(format!("element types differ: {a} and {b}"));
            }
            check_axes(
                &[dims.lhs_batch.clone(), dims.lhs_contract.clone()].concat(),
                a.rank(),
                "lhs dimension",
            )?;
            check_axes(
                &[dims.rhs_batch.clone(), dims.rhs_contract.clone()].concat(),
                b.rank(),
                "rhs dimension",
            )?;
            if dims.lhs_batch.len() != dims.rhs_batch.len()
                || dims.lhs_contract.len() != dims.rhs_contract.len()
            {
                return Err(format!("dimension lists do not pair up: {dims:?}"));
            }
            for (l, r) in dims
                .lhs_batch
                .iter()
                .zip(&dims.rhs_batch)
                .chain(dims.lhs_contract.iter().zip(&dims.rhs_contract))
            {
                if a.dims[*l as usize] != b.dims[*r as usize] {
                    return Err(format!("lhs {a} dim {l} does not match rhs {b} dim {r}"));
                }
            }
            let mut out: Vec<i64> = dims.lhs_batch.iter().map(|&d| a.dims[d as usize]).collect();
            for d in 0..a.rank() as i64 {
                if !dims.lhs_batch.contains(&d) && !dims.lhs_contract.contains(&d) {
                    out.push(a.dims[d as usize]);
                }
            }
            for d in 0..b.rank() as i64 {
                if !dims.rhs_batch.contains(&d) && !dims.rhs_contract.contains(&d) {
                    out.push(b.dims[d as usize]);
                }
            }
            one(a.with_dims(&out))
        })();
        self.graph
            .push(Op::DotGeneral(dims), vec![self.value, rhs.value], result, 1)
    }

    #[track_caller]
    pub fn reduce(&self, kind: ReduceKind, dims: &[i64]) -> Tensor {
        let shape = self.shape();
        let dims: Vec<i64> = dims.iter().map(|&d| axis(d, shape.rank())).collect();
        let result = check_axes(&dims, shape.rank(), "reduce dimension").map(|_| {
            let out: Vec<i64> = (0..shape.rank())
                .filter(|d| !dims.contains(&(*d as i64)))
                .map(|d| shape.dims[d])
                .collect();
            vec![shape.with_dims(&out)]
        });
        self.graph
            .push(Op::Reduce { kind, dims }, vec![self.value], result, 1)
    }

    #[track_caller]
    pub fn argmax(&self, dim: i64) -> Tensor {
        let shape = self.shape();
        let d = axis(dim, shape.rank());
        let result = check_axes(&[d], shape.rank(), "argmax dimension").map(|_| {
            let mut out = shape.dims.clone();
            out.remove(d as usize);
            vec![Shape::new(ElementType::S32, &out)]
        });
        self.graph
            .push(Op::Argmax { dim: d }, vec![self.value], result, 1)
    }

    /// Sorts `operands` along `dim` by the values of the first one.
    #[track_caller]
    pub fn sort(operands: &[Tensor], dim: i64, descending: bool) -> Vec<Tensor> {
        let first = operands[0].shape();
        let d = axis(dim, first.rank());
        let shapes: Vec<Shape> = operands.iter().map(|t| t.shape()).collect();
        let result = if shapes.iter().any(|s| s.dims != first.dims) {
            Err(format!("operands differ in shape: {}", list(&shapes)))
        } else {
            check_axes(&[d], first.rank(), "sort dimension").map(|_| shapes.clone())
        };
        operands[0].graph.push_multi(
            Op::Sort { dim: d, descending },
            operands.iter().map(|t| t.value).collect(),
            result,
            operands.len(),
        )
    }

    /// The k largest values along the last axis, descending, and their indices (i32).
    #[track_caller]
    pub fn top_k(&self, k: i64) -> (Tensor, Tensor) {
        self.top_k_of_rows(k, &[])
    }

    /// `top_k` of rows split over the mesh axes `rows_over` (dimension 0's sharding): each
    /// device computes its own rows' (see `Op::TopK`). Empty axes: `top_k`.
    #[track_caller]
    pub fn top_k_of_rows(&self, k: i64, rows_over: &[String]) -> (Tensor, Tensor) {
        let shape = self.shape();
        let result = match shape.dims.last() {
            Some(&n) if k >= 1 && k <= n && shape.ty.is_float() => {
                let mut dims = shape.dims.clone();
                *dims.last_mut().unwrap() = k;
                Ok(vec![
                    shape.with_dims(&dims),
                    Shape::new(ElementType::S32, &dims),
                ])
            }
            _ => Err(format!("top {k} of {shape}")),
        };
        let out = self.graph.push_multi(
            Op::TopK {
                k,
                rows_over: rows_over.to_vec(),
            },
            vec![self.value],
            result,
            2,
        );
        (out[0].clone(), out[1].clone())
    }

    #[track_caller]
    pub fn log_softmax(&self, dim: i64) -> Tensor {
        let d = axis(dim, self.rank());
        let result = check_axes(&[d], self.rank(), "softmax dimension").map(|_| vec![self.shape()]);
        self.graph
            .push(Op::LogSoftmax { dim: d }, vec![self.value], result, 1)
    }

    #[track_caller]
    pub fn softmax(&self, dim: i64) -> Tensor {
        let d = axis(dim, self.rank());
        let result = check_axes(&[d], self.rank(), "softmax dimension").map(|_| vec![self.shape()]);
        self.graph
            .push(Op::Softmax { dim: d }, vec![self.value], result, 1)
    }

    /// Keeps XLA from moving computation across this point (used to make recomputation stick).
    #[track_caller]
    pub fn optimization_barrier(values: &[Tensor]) -> Vec<Tensor> {
        let shapes: Vec<Shape> = values.iter().map(|t| t.shape()).collect();
        values[0].graph.push_multi(
            Op::OptimizationBarrier,
            values.iter().map(|t| t.value).collect(),
            Ok(shapes),
            values.len(),
        )
    }

    /// Constrains how this intermediate is laid out over the graph's mesh.
    #[track_caller]
    pub fn with_sharding(&self, sharding: Sharding) -> Tensor {
        let result = if sharding.dims.len() == self.rank() {
            one(self.shape())
        } else {
            Err(format!(
                "sharding for rank {} on {}",
                sharding.dims.len(),
                self.shape()
            ))
        };
        self.graph.push(
            Op::ShardingConstraint(sharding),
            vec![self.value],
            result,
            1,
        )
    }
}

impl Graph {
    /// Threefry random bits: (new state, bits of `shape`, u32 or u64). `state` is ui64[2].
    #[track_caller]
    pub fn rng_bits(&self, state: &Tensor, shape: Shape) -> (Tensor, Tensor) {
        let s = state.shape();
        let result = if s != Shape::new(ElementType::U64, &[2]) {
            Err(format!("threefry state must be ui64[2], got {s}"))
        } else if !matches!(shape.ty, ElementType::U32 | ElementType::U64) {
            Err(format!(
                "random bits must be ui32 or ui64, asked for {shape}"
            ))
        } else {
            Ok(vec![s.clone(), shape])
        };
        let out = self.push_multi(Op::RngBitGenerator, vec![state.value], result, 2);
        (out[0].clone(), out[1].clone())
    }
}
