//! Elementwise ops: unary and binary arithmetic, comparisons, select, clamp and conversions.
//! Each is one line; only a comparison has attributes.

use super::{compare_type, At, Emitter};
use crate::graph::ops::{Cmp, Op, UnaryOp};

impl Emitter<'_> {
    pub(super) fn elementwise(&mut self, at: &At) {
        let op = &at.node.op;
        let name = match op {
            Op::Unary(UnaryOp::Logistic) => "logistic",
            Op::Unary(_) | Op::Binary(_) => op.name(),
            Op::Select => "select",
            Op::Clamp => "clamp",
            Op::Convert => "convert",
            Op::BitcastConvert => "bitcast_convert",
            Op::Compare(c) => {
                let ty = self.shape(at.node.inputs[0]).ty;
                let attrs = format!(
                    "comparison_direction = #stablehlo<comparison_direction {}>, compare_type = #stablehlo<comparison_type {}>",
                    cmp_name(*c),
                    compare_type(ty, "FLOAT")
                );
                return self.one_line(at, "compare", &attrs);
            }
            op => unreachable!("{} is not an elementwise op", op.name()),
        };
        self.one_line(at, name, "");
    }
}

fn cmp_name(c: Cmp) -> &'static str {
    match c {
        Cmp::Eq => "EQ",
        Cmp::Ne => "NE",
        Cmp::Lt => "LT",
        Cmp::Le => "LE",
        Cmp::Gt => "GT",
        Cmp::Ge => "GE",
    }
}
