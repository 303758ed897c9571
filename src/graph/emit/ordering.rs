//! Ordering: sort (all operands by the first) and top-k.

use std::fmt::Write;

use super::{compare_type, types, At, Emitter};
use crate::graph::ops::Op;
use crate::graph::shape::Shape;
use crate::graph::sharding::Sharding;

impl Emitter<'_> {
    pub(super) fn ordering(&mut self, at: &At) {
        match &at.node.op {
            Op::Sort { dim, descending } => self.sort(at, *dim, *descending),
            Op::TopK { k, rows_over } => self.top_k(at, *k, rows_over),
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

    /// The `k` largest values along the last axis and their indices; with `rows_over` under
    /// Shardy, inside a manual computation over those axes, on each device's rows.
    fn top_k(&mut self, at: &At, k: i64, rows_over: &[String]) {
        let parts: i64 = match (&self.mesh, self.options.shardy) {
            (Some(mesh), true) => rows_over.iter().filter_map(|a| mesh.axis_size(a)).product(),
            _ => 1,
        };
        let whole = self.shape(at.node.inputs[0]).clone();
        if parts <= 1 || whole.dims[0] % parts != 0 {
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
            return;
        }
        let local = |s: &Shape| {
            let mut dims = s.dims.clone();
            dims[0] /= parts;
            s.with_dims(&dims).mlir()
        };
        let (values, ids) = (local(&at.node.outputs[0]), local(&at.node.outputs[1]));
        let mut split = Sharding::replicated(whole.dims.len());
        split.dims[0] = rows_over.to_vec();
        let spec = split.shardy().replacen("#sdy.sharding", "", 1);
        let axes: Vec<String> = rows_over.iter().map(|a| format!("\"{a}\"")).collect();
        let (indent, n, loc) = (at.indent, &at.n, &at.loc);
        let arg = format!("%rows_of_{}", &n[1..]);
        writeln!(
            self.out,
            "{indent}{n}:2 = sdy.manual_computation({}) in_shardings=[{spec}] out_shardings=[{spec}, {spec}] manual_axes={{{}}} ({arg}: {}) {{",
            at.inputs[0],
            axes.join(", "),
            local(&whole),
        )
        .unwrap();
        writeln!(
            self.out,
            "{indent}  {arg}_top:2 = chlo.top_k({arg}, k = {k}) : {} -> ({values}, {ids}){loc}",
            local(&whole)
        )
        .unwrap();
        writeln!(
            self.out,
            "{indent}  sdy.return {arg}_top#0, {arg}_top#1 : {values}, {ids}{loc}"
        )
        .unwrap();
        writeln!(
            self.out,
            "{indent}}} : ({}) -> ({}){loc}",
            at.in_types[0],
            types(&at.node.outputs)
        )
        .unwrap();
        self.bind_results(at, 2);
    }
}
