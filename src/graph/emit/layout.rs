//! Ops that move elements without computing: broadcast, reshape, transpose, reverse, slice,
//! concatenate and pad. Each is one line.

use super::{array, At, Emitter};
use crate::graph::ops::Op;

impl Emitter<'_> {
    pub(super) fn layout(&mut self, at: &At) {
        let (name, attrs) = match &at.node.op {
            Op::BroadcastInDim { dims } => (
                "broadcast_in_dim",
                format!("broadcast_dimensions = {}", array(dims)),
            ),
            Op::Reshape => ("reshape", String::new()),
            Op::Transpose { perm } => ("transpose", format!("permutation = {}", array(perm))),
            Op::Reverse { dims } => ("reverse", format!("dimensions = {}", array(dims))),
            Op::Slice {
                start,
                limit,
                strides,
            } => (
                "slice",
                format!(
                    "start_indices = {}, limit_indices = {}, strides = {}",
                    array(start),
                    array(limit),
                    array(strides)
                ),
            ),
            Op::Concatenate { dim } => ("concatenate", format!("dimension = {dim} : i64")),
            Op::Pad {
                low,
                high,
                interior,
            } => (
                "pad",
                format!(
                    "edge_padding_low = {}, edge_padding_high = {}, interior_padding = {}",
                    array(low),
                    array(high),
                    array(interior)
                ),
            ),
            op => unreachable!("{} is not a layout op", op.name()),
        };
        self.one_line(at, name, &attrs);
    }
}
