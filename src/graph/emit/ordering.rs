//! Ordering: sort (all operands by the first) and top-k.

use std::fmt::Write;

use super::{compare_type, types, At, Emitter};
use crate::graph::ops::Op;
use crate::graph::shape::Shape;

impl Emitter<'_> {
    pub(super) fn ordering(&mut self, at: &At) {
        match &at.node.op {
            Op::Sort { dim, descending } => self.sort(at, *dim, *descending),
            Op::TopK { k } => self.top_k(at, *k),
            op => unreachable!("{} is not an ordering op", op.name()),
        }
    }

    /// A stable sort of every operand along `dim`, comparing the first operand only.
    fn sort(&mut self, at: &At, dim: i64, descending: bool) {
        let (indent, n) = (at.indent, &at.n);
        let k = at.inputs.len();
        let scalars: Vec<String> = at
            .node
            .inputs
            .iter()
            .map(|v| Shape::scalar(self.shape(*v).ty).mlir())
            .collect();
        writeln!(
            self.out,
            "{indent}{n}:{k} = \"stablehlo.sort\"({}) ({{",
            at.inputs.join(", ")
        )
        .unwrap();
        let args: Vec<String> = (0..k)
            .flat_map(|i| {
                [
                    format!("{n}_{i}a: {}", scalars[i]),
                    format!("{n}_{i}b: {}", scalars[i]),
                ]
            })
            .collect();
        writeln!(self.out, "{indent}  ^bb0({}):", args.join(", ")).unwrap();
        let dir = if descending { "GT" } else { "LT" };
        let kind = compare_type(self.shape(at.node.inputs[0]).ty, "TOTALORDER");
        writeln!(self.out, "{indent}    {n}_c = \"stablehlo.compare\"({n}_0a, {n}_0b) {{comparison_direction = #stablehlo<comparison_direction {dir}>, compare_type = #stablehlo<comparison_type {kind}>}} : ({s}, {s}) -> tensor<i1>", s = scalars[0]).unwrap();
        writeln!(
            self.out,
            "{indent}    \"stablehlo.return\"({n}_c) : (tensor<i1>) -> ()"
        )
        .unwrap();
        writeln!(
            self.out,
            "{indent}}}) {{dimension = {dim} : i64, is_stable = true}} : ({}) -> ({}){}",
            at.in_types.join(", "),
            types(&at.node.outputs),
            at.loc
        )
        .unwrap();
        self.bind_results(at, k);
    }

    /// The `k` largest values along the last axis and their indices.
    fn top_k(&mut self, at: &At, k: i64) {
        writeln!(
            self.out,
            "{}{}:2 = chlo.top_k({}, k = {k}) : {} -> ({}){}",
            at.indent,
            at.n,
            at.inputs[0],
            at.in_types[0],
            types(&at.node.outputs),
            at.loc
        )
        .unwrap();
        self.bind_results(at, 2);
    }
}
