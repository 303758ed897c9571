//! Reductions: reduce (sum, max, min), argmax, and the fused softmax and log-softmax, each of
//! which reduces twice.

use std::fmt::Write;

use super::{array, compare_type, At, Emitter};
use crate::graph::ops::{Literal, Op, ReduceKind};
use crate::graph::shape::Shape;
use crate::pjrt::ElementType;

impl Emitter<'_> {
    pub(super) fn reduction(&mut self, at: &At) {
        match &at.node.op {
            Op::Reduce { kind, dims } => {
                let xs = self.shape(at.node.inputs[0]).clone();
                let out = &at.node.outputs[0];
                self.reduce(
                    at.indent,
                    &at.n,
                    &at.inputs[0],
                    &xs,
                    *kind,
                    dims,
                    out,
                    &at.loc,
                );
                self.bind(at.id, at.n.clone());
            }
            Op::Argmax { dim } => self.argmax(at, *dim),
            Op::LogSoftmax { dim } => self.softmax(at, *dim, true),
            Op::Softmax { dim } => self.softmax(at, *dim, false),
            op => unreachable!("{} is not a reduction", op.name()),
        }
    }

    /// `result` = `x` (of shape `xs`) reduced over `dims` by `kind`, with its init constant.
    #[allow(clippy::too_many_arguments)]
    fn reduce(
        &mut self,
        indent: &str,
        result: &str,
        x: &str,
        xs: &Shape,
        kind: ReduceKind,
        dims: &[i64],
        out: &Shape,
        loc: &str,
    ) {
        let scalar = Shape::scalar(xs.ty);
        let init = format!("{result}_init");
        self.constant(indent, &init, &reduce_init(kind, xs.ty), &scalar);
        writeln!(
            self.out,
            "{indent}{result} = \"stablehlo.reduce\"({x}, {init}) ({{"
        )
        .unwrap();
        self.combiner(
            &format!("{indent}  "),
            &format!("{result}_c"),
            reduce_op(kind),
            &scalar,
        );
        writeln!(
            self.out,
            "{indent}}}) {{dimensions = {}}} : ({}, {}) -> {}{loc}",
            array(dims),
            xs.mlir(),
            scalar.mlir(),
            out.mlir()
        )
        .unwrap();
    }

    /// One reduce over (value, iota index) pairs keeping the larger value, the lower index on
    /// ties; the op's result is the index half.
    fn argmax(&mut self, at: &At, dim: i64) {
        let (indent, n) = (at.indent, &at.n);
        let xs = self.shape(at.node.inputs[0]).clone();
        let idx_shape = xs.with_type(ElementType::S32);
        let (vt, it) = (
            Shape::scalar(xs.ty).mlir(),
            Shape::scalar(ElementType::S32).mlir(),
        );
        self.line(
            indent,
            &format!("{n}_iota"),
            "iota",
            &[],
            &[],
            &format!("iota_dimension = {dim} : i64"),
            &idx_shape.mlir(),
            "",
        );
        self.constant(
            indent,
            &format!("{n}_vinit"),
            &reduce_init(ReduceKind::Max, xs.ty),
            &Shape::scalar(xs.ty),
        );
        self.constant(
            indent,
            &format!("{n}_iinit"),
            &Literal::Int(0),
            &Shape::scalar(ElementType::S32),
        );
        let kind = compare_type(xs.ty, "FLOAT");
        writeln!(
            self.out,
            "{indent}{n}_r:2 = \"stablehlo.reduce\"({}, {n}_iota, {n}_vinit, {n}_iinit) ({{",
            at.inputs[0]
        )
        .unwrap();
        let i2 = format!("{indent}  ");
        writeln!(
            self.out,
            "{i2}^bb0({n}_av: {vt}, {n}_ai: {it}, {n}_bv: {vt}, {n}_bi: {it}):"
        )
        .unwrap();
        writeln!(self.out, "{i2}  {n}_gt = \"stablehlo.compare\"({n}_av, {n}_bv) {{comparison_direction = #stablehlo<comparison_direction GT>, compare_type = #stablehlo<comparison_type {kind}>}} : ({vt}, {vt}) -> tensor<i1>").unwrap();
        writeln!(self.out, "{i2}  {n}_eq = \"stablehlo.compare\"({n}_av, {n}_bv) {{comparison_direction = #stablehlo<comparison_direction EQ>, compare_type = #stablehlo<comparison_type {kind}>}} : ({vt}, {vt}) -> tensor<i1>").unwrap();
        writeln!(self.out, "{i2}  {n}_lt = \"stablehlo.compare\"({n}_ai, {n}_bi) {{comparison_direction = #stablehlo<comparison_direction LT>, compare_type = #stablehlo<comparison_type SIGNED>}} : ({it}, {it}) -> tensor<i1>").unwrap();
        writeln!(self.out, "{i2}  {n}_tie = \"stablehlo.and\"({n}_eq, {n}_lt) : (tensor<i1>, tensor<i1>) -> tensor<i1>").unwrap();
        writeln!(self.out, "{i2}  {n}_pick = \"stablehlo.or\"({n}_gt, {n}_tie) : (tensor<i1>, tensor<i1>) -> tensor<i1>").unwrap();
        writeln!(self.out, "{i2}  {n}_v = \"stablehlo.select\"({n}_pick, {n}_av, {n}_bv) : (tensor<i1>, {vt}, {vt}) -> {vt}").unwrap();
        writeln!(self.out, "{i2}  {n}_i = \"stablehlo.select\"({n}_pick, {n}_ai, {n}_bi) : (tensor<i1>, {it}, {it}) -> {it}").unwrap();
        writeln!(
            self.out,
            "{i2}  \"stablehlo.return\"({n}_v, {n}_i) : ({vt}, {it}) -> ()"
        )
        .unwrap();
        let out = &at.node.outputs[0];
        let reduced_v = out.with_type(xs.ty);
        writeln!(
            self.out,
            "{indent}}}) {{dimensions = array<i64: {dim}>}} : ({}, {}, {vt}, {it}) -> ({}, {}){}",
            xs.mlir(),
            idx_shape.mlir(),
            reduced_v.mlir(),
            out.mlir(),
            at.loc
        )
        .unwrap();
        self.bind(at.id, format!("{n}_r#1"));
    }

    /// Numerically stable softmax (or its log) along `dim`: shift by the max, exponentiate,
    /// then divide by the sum (or subtract its log).
    fn softmax(&mut self, at: &At, dim: i64, log: bool) {
        let (indent, n, x) = (at.indent, &at.n, &at.inputs[0]);
        let xs = at.node.outputs[0].clone();
        let mut reduced = xs.dims.clone();
        reduced.remove(dim as usize);
        let red = xs.with_dims(&reduced);
        let keep: Vec<i64> = (0..xs.rank() as i64).filter(|&d| d != dim).collect();
        let t = xs.mlir();
        let tt = [t.clone(), t.clone()];
        let (max, shift, exp, sum) = (
            format!("{n}_max"),
            format!("{n}_shift"),
            format!("{n}_exp"),
            format!("{n}_sum"),
        );
        self.reduce(indent, &max, x, &xs, ReduceKind::Max, &[dim], &red, "");
        let maxb = self.broadcast_back(indent, &max, &red, &keep, &t);
        self.line(
            indent,
            &shift,
            "subtract",
            &[x.clone(), maxb],
            &tt,
            "",
            &t,
            "",
        );
        self.line(
            indent,
            &exp,
            "exponential",
            std::slice::from_ref(&shift),
            std::slice::from_ref(&t),
            "",
            &t,
            "",
        );
        self.reduce(indent, &sum, &exp, &xs, ReduceKind::Sum, &[dim], &red, "");
        if log {
            let (log, rt) = (format!("{n}_log"), red.mlir());
            self.line(
                indent,
                &log,
                "log",
                &[sum],
                std::slice::from_ref(&rt),
                "",
                &rt,
                "",
            );
            let logb = self.broadcast_back(indent, &log, &red, &keep, &t);
            self.line(indent, n, "subtract", &[shift, logb], &tt, "", &t, &at.loc);
        } else {
            let sumb = self.broadcast_back(indent, &sum, &red, &keep, &t);
            self.line(indent, n, "divide", &[exp, sumb], &tt, "", &t, &at.loc);
        }
        self.bind(at.id, n.clone());
    }

    /// Broadcasts `name` (of shape `red`, the reduced one) back to type `t` along `keep`;
    /// returns the result's name, `name` + `b`.
    fn broadcast_back(
        &mut self,
        indent: &str,
        name: &str,
        red: &Shape,
        keep: &[i64],
        t: &str,
    ) -> String {
        let result = format!("{name}b");
        self.line(
            indent,
            &result,
            "broadcast_in_dim",
            &[name.to_string()],
            &[red.mlir()],
            &format!("broadcast_dimensions = {}", array(keep)),
            t,
            "",
        );
        result
    }
}

fn reduce_init(kind: ReduceKind, ty: ElementType) -> Literal {
    match (kind, ty.is_float()) {
        (ReduceKind::Sum, true) => Literal::Float(0.0),
        (ReduceKind::Sum, false) => Literal::Int(0),
        (ReduceKind::Max, true) => Literal::Float(f64::NEG_INFINITY),
        (ReduceKind::Min, true) => Literal::Float(f64::INFINITY),
        (ReduceKind::Max, false) => Literal::Int(if ty.is_signed_int() { int_min(ty) } else { 0 }),
        (ReduceKind::Min, false) => Literal::Int(int_max(ty)),
    }
}

fn int_min(ty: ElementType) -> i64 {
    match ty {
        ElementType::S8 => i8::MIN as i64,
        ElementType::S32 => i32::MIN as i64,
        _ => i64::MIN,
    }
}

fn int_max(ty: ElementType) -> i64 {
    match ty {
        ElementType::S8 => i8::MAX as i64,
        ElementType::S32 => i32::MAX as i64,
        ElementType::U8 => u8::MAX as i64,
        ElementType::U32 => u32::MAX as i64,
        _ => i64::MAX,
    }
}

fn reduce_op(kind: ReduceKind) -> &'static str {
    match kind {
        ReduceKind::Sum => "add",
        ReduceKind::Max => "maximum",
        ReduceKind::Min => "minimum",
    }
}
