//! Contractions: `dot_general`.

use super::{list, At, Emitter};
use crate::graph::ops::DotDims;

impl Emitter<'_> {
    pub(super) fn dot_general(&mut self, at: &At, d: &DotDims) {
        let mut fields = vec![];
        if !d.lhs_batch.is_empty() {
            fields.push(format!("lhs_batching_dimensions = {}", list(&d.lhs_batch)));
            fields.push(format!("rhs_batching_dimensions = {}", list(&d.rhs_batch)));
        }
        fields.push(format!(
            "lhs_contracting_dimensions = {}",
            list(&d.lhs_contract)
        ));
        fields.push(format!(
            "rhs_contracting_dimensions = {}",
            list(&d.rhs_contract)
        ));
        let attrs = format!(
            "dot_dimension_numbers = #stablehlo.dot<{}>",
            fields.join(", ")
        );
        self.one_line(at, "dot_general", &attrs);
    }
}
