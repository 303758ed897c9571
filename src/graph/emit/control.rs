//! Control flow: while loops (whose regions are emitted inline, recursively) and the
//! optimization barrier.

use std::fmt::Write;

use super::{types, At, Emitter};
use crate::graph::builder::Value;
use crate::graph::ops::Op;

impl Emitter<'_> {
    pub(super) fn control(&mut self, at: &At) {
        match &at.node.op {
            Op::While { cond, body } => self.while_loop(at, *cond, *body),
            Op::OptimizationBarrier => self.optimization_barrier(at),
            op => unreachable!("{} is not a control op", op.name()),
        }
    }

    fn while_loop(&mut self, at: &At, cond: usize, body: usize) {
        let (indent, n) = (at.indent, &at.n);
        let k = at.node.outputs.len();
        writeln!(
            self.out,
            "{indent}{n}:{k} = \"stablehlo.while\"({}) ({{",
            at.inputs.join(", ")
        )
        .unwrap();
        let inner = format!("{indent}  ");
        for (i, r) in [cond, body].into_iter().enumerate() {
            if i == 1 {
                writeln!(self.out, "{indent}}}, {{").unwrap();
            }
            let args: Vec<String> = self.regions[r]
                .args
                .iter()
                .map(|&a| {
                    self.names
                        .insert(Value { node: a, index: 0 }, format!("%v{a}"));
                    format!("%v{a}: {}", self.nodes[a].outputs[0].mlir())
                })
                .collect();
            writeln!(self.out, "{indent}^bb0({}):", args.join(", ")).unwrap();
            self.region(r, &inner);
            let results = self.regions[r].results.clone();
            let names: Vec<String> = results.iter().map(|v| self.name(*v)).collect();
            let tys: Vec<String> = results.iter().map(|v| self.shape(*v).mlir()).collect();
            writeln!(
                self.out,
                "{inner}\"stablehlo.return\"({}) : ({}) -> ()",
                names.join(", "),
                tys.join(", ")
            )
            .unwrap();
        }
        writeln!(
            self.out,
            "{indent}}}) : ({}) -> ({}){}",
            at.in_types.join(", "),
            types(&at.node.outputs),
            at.loc
        )
        .unwrap();
        self.bind_results(at, k);
    }

    fn optimization_barrier(&mut self, at: &At) {
        let k = at.node.outputs.len();
        writeln!(
            self.out,
            "{}{}:{k} = \"stablehlo.optimization_barrier\"({}) : ({}) -> ({}){}",
            at.indent,
            at.n,
            at.inputs.join(", "),
            at.in_types.join(", "),
            types(&at.node.outputs),
            at.loc
        )
        .unwrap();
        self.bind_results(at, k);
    }
}
