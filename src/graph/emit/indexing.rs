//! Indexed reads and writes: dynamic slice and update, gather, and scatter-add (which carries
//! a combining region).

use std::fmt::Write;

use super::{array, list, At, Emitter};
use crate::graph::ops::{GatherDims, Op, ScatterDims};
use crate::graph::shape::Shape;

impl Emitter<'_> {
    pub(super) fn indexing(&mut self, at: &At) {
        match &at.node.op {
            Op::DynamicSlice { sizes } => self.one_line(
                at,
                "dynamic_slice",
                &format!("slice_sizes = {}", array(sizes)),
            ),
            Op::DynamicUpdateSlice => self.one_line(at, "dynamic_update_slice", ""),
            Op::Gather(g) => self.one_line(at, "gather", &gather_attrs(g)),
            Op::ScatterAdd(s) => self.scatter_add(at, s),
            op => unreachable!("{} is not an indexing op", op.name()),
        }
    }

    /// Scatter whose colliding updates add up.
    fn scatter_add(&mut self, at: &At, s: &ScatterDims) {
        let (indent, n) = (at.indent, &at.n);
        let out = &at.node.outputs[0];
        let scalar = Shape::scalar(out.ty);
        writeln!(
            self.out,
            "{indent}{n} = \"stablehlo.scatter\"({}) ({{",
            at.inputs.join(", ")
        )
        .unwrap();
        self.combiner(&format!("{indent}  "), &format!("{n}_c"), "add", &scalar);
        let mut fields = vec![];
        if !s.update_window_dims.is_empty() {
            fields.push(format!(
                "update_window_dims = {}",
                list(&s.update_window_dims)
            ));
        }
        if !s.inserted_window_dims.is_empty() {
            fields.push(format!(
                "inserted_window_dims = {}",
                list(&s.inserted_window_dims)
            ));
        }
        fields.push(format!(
            "scatter_dims_to_operand_dims = {}",
            list(&s.scatter_dims_to_operand_dims)
        ));
        fields.push(format!("index_vector_dim = {}", s.index_vector_dim));
        writeln!(
            self.out,
            "{indent}}}) {{indices_are_sorted = false, scatter_dimension_numbers = #stablehlo.scatter<{}>, unique_indices = false}} : ({}) -> {}{}",
            fields.join(", "),
            at.in_types.join(", "),
            out.mlir(),
            at.loc
        )
        .unwrap();
        self.bind(at.id, n.clone());
    }
}

fn gather_attrs(g: &GatherDims) -> String {
    let mut fields = vec![];
    if !g.offset_dims.is_empty() {
        fields.push(format!("offset_dims = {}", list(&g.offset_dims)));
    }
    if !g.collapsed_slice_dims.is_empty() {
        fields.push(format!(
            "collapsed_slice_dims = {}",
            list(&g.collapsed_slice_dims)
        ));
    }
    if !g.operand_batching_dims.is_empty() {
        fields.push(format!(
            "operand_batching_dims = {}, start_indices_batching_dims = {}",
            list(&g.operand_batching_dims),
            list(&g.start_indices_batching_dims)
        ));
    }
    fields.push(format!("start_index_map = {}", list(&g.start_index_map)));
    fields.push(format!("index_vector_dim = {}", g.index_vector_dim));
    format!(
        "dimension_numbers = #stablehlo.gather<{}>, indices_are_sorted = false, slice_sizes = {}",
        fields.join(", "),
        array(&g.slice_sizes)
    )
}
