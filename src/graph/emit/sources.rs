//! Values made from no operand but a state: constants, iota and threefry random bits.

use super::{types, At, Emitter};
use crate::graph::ops::Op;

impl Emitter<'_> {
    pub(super) fn source(&mut self, at: &At) {
        match &at.node.op {
            Op::Constant(lit) => {
                self.constant(at.indent, &at.n, lit, &at.node.outputs[0]);
                self.bind(at.id, at.n.clone());
            }
            Op::Iota { dim } => self.one_line(at, "iota", &format!("iota_dimension = {dim} : i64")),
            Op::RngBitGenerator => self.rng_bit_generator(at),
            op => unreachable!("{} is not a source op", op.name()),
        }
    }

    /// State ui64[2] in; new state and random bits out.
    fn rng_bit_generator(&mut self, at: &At) {
        self.line(
            at.indent,
            &format!("{}:2", at.n),
            "rng_bit_generator",
            &at.inputs,
            &at.in_types,
            "rng_algorithm = #stablehlo<rng_algorithm THREE_FRY>",
            &format!("({})", types(&at.node.outputs)),
            &at.loc,
        );
        self.bind_results(at, 2);
    }
}
