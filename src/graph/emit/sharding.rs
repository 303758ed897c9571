//! Sharding constraints: `sdy.sharding_constraint` with Shardy, else a `Sharding` custom call
//! carrying the GSPMD attribute.

use std::fmt::Write;

use super::{At, Emitter};
use crate::graph::Sharding;

impl Emitter<'_> {
    pub(super) fn sharding_constraint(&mut self, at: &At, s: &Sharding) {
        let (indent, n, x, loc) = (at.indent, &at.n, &at.inputs[0], &at.loc);
        let t = at.node.outputs[0].mlir();
        match (&self.mesh, self.options.shardy) {
            (_, true) => {
                let spec = s.shardy().replacen("#sdy.sharding", "", 1);
                writeln!(
                    self.out,
                    "{indent}{n} = sdy.sharding_constraint {x} {spec} : {t}{loc}"
                )
                .unwrap();
            }
            (mesh, false) => {
                let spec = mesh
                    .as_ref()
                    .map_or("{replicated}".to_string(), |m| s.gspmd(m));
                writeln!(
                    self.out,
                    "{indent}{n} = \"stablehlo.custom_call\"({x}) {{call_target_name = \"Sharding\", mhlo.sharding = \"{spec}\"}} : ({t}) -> {t}{loc}"
                )
                .unwrap();
            }
        }
        self.bind(at.id, n.clone());
    }
}
