//! StableHLO emission: a graph becomes an MLIR module in generic op syntax, which every
//! plugin's parser accepts. Repeated layers are inlined, as Tunix's unrolled layer loop is: XLA
//! inlines calls before optimizing, so emitting functions would only shorten the text.

use std::collections::{HashMap, HashSet};
use std::fmt::Write;

use super::builder::{Graph, GraphError, Node, Value};
use super::ops::{Cmp, Literal, Op, ReduceKind, UnaryOp};
use super::shape::Shape;
use crate::pjrt::ElementType;

/// How to annotate the module.
#[derive(Clone, Debug)]
pub struct EmitOptions {
    /// Sharding as Shardy (`sdy`) rather than GSPMD (`mhlo.sharding`) attributes.
    pub shardy: bool,
    /// Attach `loc(...)` with the Rust source line of each op, so XLA errors point at our code.
    pub locations: bool,
}

impl Default for EmitOptions {
    fn default() -> Self {
        EmitOptions {
            shardy: false,
            locations: true,
        }
    }
}

/// An emitted program: the StableHLO text and what it takes and returns.
#[derive(Clone, Debug)]
pub struct Module {
    pub text: String,
    pub param_shapes: Vec<Shape>,
    pub result_shapes: Vec<Shape>,
    pub num_partitions: usize,
    pub shardy: bool,
}

impl Module {
    /// Compile options that match how the module was annotated.
    pub fn compile_options(&self) -> crate::pjrt::CompileOptions {
        crate::pjrt::CompileOptions::spmd(self.num_partitions)
            .with_shardy(self.shardy && self.num_partitions > 1)
    }
}

impl Graph {
    /// Checks the graph and emits it as a module returning `results`.
    pub fn build(&self, results: &[super::Tensor]) -> Result<Module, GraphError> {
        self.build_with(results, &EmitOptions::default())
    }

    pub fn build_with(
        &self,
        results: &[super::Tensor],
        options: &EmitOptions,
    ) -> Result<Module, GraphError> {
        self.check()?;
        self.emit(results, &[], options)
    }

    /// Emits with sharding annotations on the results (None: let the partitioner choose).
    pub fn build_sharded(
        &self,
        results: &[super::Tensor],
        result_shardings: &[Option<super::Sharding>],
        options: &EmitOptions,
    ) -> Result<Module, GraphError> {
        self.check()?;
        self.emit(results, result_shardings, options)
    }

    fn emit(
        &self,
        results: &[super::Tensor],
        result_shardings: &[Option<super::Sharding>],
        options: &EmitOptions,
    ) -> Result<Module, GraphError> {
        let inner = self.0.borrow();
        let mesh = inner.mesh.clone();
        let num_partitions = mesh.as_ref().map_or(1, |m| m.num_devices() as usize);
        let live = live_nodes(
            &inner.nodes,
            &inner.regions,
            results.iter().map(|t| t.value),
        );
        let mut e = Emitter {
            nodes: &inner.nodes,
            regions: &inner.regions,
            live: &live,
            names: HashMap::new(),
            out: String::new(),
            options,
            mesh: mesh.clone(),
        };
        let mut text = String::new();
        writeln!(
            text,
            "module @{} attributes {{mhlo.num_partitions = {num_partitions} : i32, mhlo.num_replicas = 1 : i32}} {{",
            sanitize(&inner.name)
        )
        .unwrap();
        if let (true, Some(m)) = (options.shardy, &mesh) {
            let axes: Vec<String> = m.axes.iter().map(|(n, s)| format!("\"{n}\"={s}")).collect();
            writeln!(text, "  sdy.mesh @mesh = <[{}]>", axes.join(", ")).unwrap();
        }
        let mut args = vec![];
        for p in &inner.params {
            let shape = &inner.nodes[p.node].outputs[0];
            let name = format!("%v{}", p.node);
            e.names.insert(
                Value {
                    node: p.node,
                    index: 0,
                },
                name.clone(),
            );
            let mut attrs = vec![];
            if let Some(out) = p.alias_output {
                attrs.push(format!("tf.aliasing_output = {out} : i32"));
            }
            if let Some(s) = &p.sharding {
                attrs.push(e.sharding_attr(s));
            }
            let attrs = if attrs.is_empty() {
                String::new()
            } else {
                format!(" {{{}}}", attrs.join(", "))
            };
            args.push(format!("{name}: {}{attrs}", shape.mlir()));
        }
        let result_types: Vec<String> = results
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let shape = inner.nodes[t.value.node].outputs[t.value.index].mlir();
                match result_shardings.get(i).cloned().flatten() {
                    Some(s) => format!("{shape} {{{}}}", e.sharding_attr(&s)),
                    None => shape,
                }
            })
            .collect();
        writeln!(
            text,
            "  func.func public @main({}) -> ({}) {{",
            args.join(", "),
            result_types.join(", ")
        )
        .unwrap();
        e.region(0, "    ");
        text.push_str(&e.out);
        let names: Vec<String> = results.iter().map(|t| e.name(t.value)).collect();
        let types: Vec<String> = results
            .iter()
            .map(|t| inner.nodes[t.value.node].outputs[t.value.index].mlir())
            .collect();
        writeln!(
            text,
            "    return {} : {}",
            names.join(", "),
            types.join(", ")
        )
        .unwrap();
        text.push_str("  }\n}\n");
        Ok(Module {
            text,
            param_shapes: inner
                .params
                .iter()
                .map(|p| inner.nodes[p.node].outputs[0].clone())
                .collect(),
            result_shapes: results.iter().map(|t| t.shape()).collect(),
            num_partitions,
            shardy: options.shardy,
        })
    }
}

fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Nodes needed for `roots`, including everything inside (and used by) the regions of live whiles.
fn live_nodes(
    nodes: &[Node],
    regions: &[super::builder::RegionInfo],
    roots: impl Iterator<Item = Value>,
) -> HashSet<usize> {
    let mut live = HashSet::new();
    let mut stack: Vec<usize> = roots.map(|v| v.node).collect();
    while let Some(n) = stack.pop() {
        if !live.insert(n) {
            continue;
        }
        stack.extend(nodes[n].inputs.iter().map(|v| v.node));
        if let Op::While { cond, body } = nodes[n].op {
            for r in [cond, body] {
                stack.extend(regions[r].args.iter().copied());
                stack.extend(regions[r].results.iter().map(|v| v.node));
            }
        }
    }
    live
}

struct Emitter<'a> {
    nodes: &'a [Node],
    regions: &'a [super::builder::RegionInfo],
    live: &'a HashSet<usize>,
    names: HashMap<Value, String>,
    out: String,
    options: &'a EmitOptions,
    mesh: Option<super::Mesh>,
}

fn array(v: &[i64]) -> String {
    if v.is_empty() {
        "array<i64>".to_string()
    } else {
        let parts: Vec<String> = v.iter().map(|x| x.to_string()).collect();
        format!("array<i64: {}>", parts.join(", "))
    }
}

fn list(v: &[i64]) -> String {
    let parts: Vec<String> = v.iter().map(|x| x.to_string()).collect();
    format!("[{}]", parts.join(", "))
}

/// A float literal MLIR parses exactly: shortest round-trip decimal, or hex bits for inf/nan.
pub(crate) fn float_literal(v: f64, ty: ElementType) -> String {
    if v.is_finite() {
        let s = format!("{v:e}");
        let (mantissa, exponent) = s.split_once('e').unwrap_or((&s, "0"));
        let mantissa = if mantissa.contains('.') {
            mantissa.to_string()
        } else {
            format!("{mantissa}.0")
        };
        return format!("{mantissa}e{exponent}");
    }
    let bits: u64 = match ty {
        ElementType::F64 => v.to_bits(),
        ElementType::F32 => (v as f32).to_bits() as u64,
        ElementType::BF16 => half::bf16::from_f64(v).to_bits() as u64,
        _ => half::f16::from_f64(v).to_bits() as u64,
    };
    format!("0x{bits:0width$X}", width = ty.size_in_bytes() * 2)
}

fn literal(lit: &Literal, shape: &Shape) -> String {
    let value = match lit {
        Literal::Float(v) => float_literal(*v, shape.ty),
        Literal::Int(v) => v.to_string(),
        Literal::Bool(b) => b.to_string(),
        Literal::Bytes(bytes) => {
            let hex: String = bytes.iter().map(|b| format!("{b:02X}")).collect();
            format!("\"0x{hex}\"")
        }
    };
    format!("dense<{value}> : {}", shape.mlir())
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

fn types(shapes: &[Shape]) -> String {
    shapes
        .iter()
        .map(|s| s.mlir())
        .collect::<Vec<_>>()
        .join(", ")
}

impl Emitter<'_> {
    fn name(&self, v: Value) -> String {
        self.names
            .get(&v)
            .cloned()
            .unwrap_or_else(|| format!("%undefined_v{}_{}", v.node, v.index))
    }

    fn shape(&self, v: Value) -> &Shape {
        &self.nodes[v.node].outputs[v.index]
    }

    fn sharding_attr(&self, s: &super::Sharding) -> String {
        match (&self.mesh, self.options.shardy) {
            (_, true) => format!("sdy.sharding = {}", s.shardy()),
            (Some(mesh), false) => format!("mhlo.sharding = \"{}\"", s.gspmd(mesh)),
            (None, false) => "mhlo.sharding = \"{replicated}\"".to_string(),
        }
    }

    fn loc(&self, node: &Node) -> String {
        if !self.options.locations {
            return String::new();
        }
        let file = node.loc.file.replace('"', "'");
        let fl = format!("\"{file}\":{}:{}", node.loc.line, node.loc.column);
        if node.loc.scope.is_empty() {
            format!(" loc({fl})")
        } else {
            format!(" loc(\"{}\"({fl}))", node.loc.scope)
        }
    }

    #[allow(clippy::too_many_arguments)]
    /// Emits one line: `%name = "stablehlo.op"(args) {attrs} : (in) -> out loc`.
    fn line(
        &mut self,
        indent: &str,
        result: &str,
        op: &str,
        inputs: &[String],
        in_types: &[String],
        attrs: &str,
        out: &str,
        loc: &str,
    ) {
        let attrs = if attrs.is_empty() {
            String::new()
        } else {
            format!(" {{{attrs}}}")
        };
        writeln!(
            self.out,
            "{indent}{result} = \"stablehlo.{op}\"({}){attrs} : ({}) -> {out}{loc}",
            inputs.join(", "),
            in_types.join(", ")
        )
        .unwrap();
    }

    /// A scalar-combining region body, e.g. `add` for a sum.
    fn combiner(&mut self, indent: &str, prefix: &str, op: &str, ty: &Shape) {
        let t = ty.mlir();
        writeln!(self.out, "{indent}^bb0({prefix}_a: {t}, {prefix}_b: {t}):").unwrap();
        writeln!(
            self.out,
            "{indent}  {prefix}_r = \"stablehlo.{op}\"({prefix}_a, {prefix}_b) : ({t}, {t}) -> {t}"
        )
        .unwrap();
        writeln!(
            self.out,
            "{indent}  \"stablehlo.return\"({prefix}_r) : ({t}) -> ()"
        )
        .unwrap();
    }

    fn constant(&mut self, indent: &str, name: &str, lit: &Literal, shape: &Shape) {
        writeln!(
            self.out,
            "{indent}{name} = \"stablehlo.constant\"() {{value = {}}} : () -> {}",
            literal(lit, shape),
            shape.mlir()
        )
        .unwrap();
    }

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

    fn region(&mut self, region: usize, indent: &str) {
        let ids: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| self.nodes[i].region == region && self.live.contains(&i))
            .collect();
        for id in ids {
            self.node(id, indent);
        }
    }

    fn node(&mut self, id: usize, indent: &str) {
        let node = &self.nodes[id];
        let loc = self.loc(node);
        let n = format!("%v{id}");
        let inputs: Vec<String> = node.inputs.iter().map(|v| self.name(*v)).collect();
        let in_types: Vec<String> = node.inputs.iter().map(|v| self.shape(*v).mlir()).collect();
        let out = &node.outputs;
        let single = |e: &mut Self, name: String| {
            e.names.insert(Value { node: id, index: 0 }, name);
        };
        // Ops of one result and no region: their name and attributes; the rest emit themselves.
        let (op_name, attrs): (&str, String) = match &node.op {
            Op::Parameter { .. } | Op::RegionArg { .. } => {
                single(self, n);
                return;
            }
            Op::StopGradient => {
                let alias = inputs[0].clone();
                single(self, alias);
                return;
            }
            Op::Constant(lit) => {
                self.constant(indent, &n, lit, &out[0]);
                single(self, n);
                return;
            }
            Op::Iota { dim } => ("iota", format!("iota_dimension = {dim} : i64")),
            Op::Unary(u) => {
                let name = Op::Unary(*u).name();
                let name = if *u == UnaryOp::Logistic {
                    "logistic"
                } else {
                    name
                };
                (name, String::new())
            }
            Op::Binary(b) => {
                let name = Op::Binary(*b).name();
                (name, String::new())
            }
            Op::Compare(c) => {
                let ty = self.shape(node.inputs[0]).ty;
                let kind = if ty.is_float() {
                    "FLOAT"
                } else if ty.is_signed_int() {
                    "SIGNED"
                } else {
                    "UNSIGNED"
                };
                let attrs = format!(
                    "comparison_direction = #stablehlo<comparison_direction {}>, compare_type = #stablehlo<comparison_type {kind}>",
                    cmp_name(*c)
                );
                ("compare", attrs)
            }
            Op::Select => ("select", String::new()),
            Op::Clamp => ("clamp", String::new()),
            Op::Convert => ("convert", String::new()),
            Op::BitcastConvert => ("bitcast_convert", String::new()),
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
            } => {
                let attrs = format!(
                    "start_indices = {}, limit_indices = {}, strides = {}",
                    array(start),
                    array(limit),
                    array(strides)
                );
                ("slice", attrs)
            }
            Op::DynamicSlice { sizes } => {
                ("dynamic_slice", format!("slice_sizes = {}", array(sizes)))
            }
            Op::DynamicUpdateSlice => ("dynamic_update_slice", String::new()),
            Op::Concatenate { dim } => ("concatenate", format!("dimension = {dim} : i64")),
            Op::Pad {
                low,
                high,
                interior,
            } => {
                let attrs = format!(
                    "edge_padding_low = {}, edge_padding_high = {}, interior_padding = {}",
                    array(low),
                    array(high),
                    array(interior)
                );
                ("pad", attrs)
            }
            Op::Gather(g) => {
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
                fields.push(format!("start_index_map = {}", list(&g.start_index_map)));
                fields.push(format!("index_vector_dim = {}", g.index_vector_dim));
                let attrs = format!(
                    "dimension_numbers = #stablehlo.gather<{}>, indices_are_sorted = false, slice_sizes = {}",
                    fields.join(", "),
                    array(&g.slice_sizes)
                );
                ("gather", attrs)
            }
            Op::ScatterAdd(s) => {
                let scalar = Shape::scalar(out[0].ty);
                writeln!(
                    self.out,
                    "{indent}{n} = \"stablehlo.scatter\"({}) ({{",
                    inputs.join(", ")
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
                    "{indent}}}) {{indices_are_sorted = false, scatter_dimension_numbers = #stablehlo.scatter<{}>, unique_indices = false}} : ({}) -> {}{loc}",
                    fields.join(", "),
                    in_types.join(", "),
                    out[0].mlir()
                )
                .unwrap();
                single(self, n);
                return;
            }
            Op::DotGeneral(d) => {
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
                ("dot_general", attrs)
            }
            Op::Reduce { kind, dims } => {
                let xs = self.shape(node.inputs[0]).clone();
                self.reduce(indent, &n, &inputs[0], &xs, *kind, dims, &out[0], &loc);
                single(self, n);
                return;
            }
            Op::Argmax { dim } => {
                let xs = self.shape(node.inputs[0]).clone();
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
                let kind = if xs.ty.is_float() {
                    "FLOAT"
                } else if xs.ty.is_signed_int() {
                    "SIGNED"
                } else {
                    "UNSIGNED"
                };
                writeln!(self.out, "{indent}{n}_r:2 = \"stablehlo.reduce\"({}, {n}_iota, {n}_vinit, {n}_iinit) ({{", inputs[0]).unwrap();
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
                let reduced_v = out[0].with_type(xs.ty);
                writeln!(
                    self.out,
                    "{indent}}}) {{dimensions = array<i64: {dim}>}} : ({}, {}, {vt}, {it}) -> ({}, {}){loc}",
                    xs.mlir(),
                    idx_shape.mlir(),
                    reduced_v.mlir(),
                    out[0].mlir()
                )
                .unwrap();
                single(self, format!("{n}_r#1"));
                return;
            }
            Op::Sort { dim, descending } => {
                let k = inputs.len();
                let scalars: Vec<String> = node
                    .inputs
                    .iter()
                    .map(|v| Shape::scalar(self.shape(*v).ty).mlir())
                    .collect();
                writeln!(
                    self.out,
                    "{indent}{n}:{k} = \"stablehlo.sort\"({}) ({{",
                    inputs.join(", ")
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
                let dir = if *descending { "GT" } else { "LT" };
                let ty = self.shape(node.inputs[0]).ty;
                let kind = if ty.is_float() {
                    "TOTALORDER"
                } else if ty.is_signed_int() {
                    "SIGNED"
                } else {
                    "UNSIGNED"
                };
                writeln!(self.out, "{indent}    {n}_c = \"stablehlo.compare\"({n}_0a, {n}_0b) {{comparison_direction = #stablehlo<comparison_direction {dir}>, compare_type = #stablehlo<comparison_type {kind}>}} : ({s}, {s}) -> tensor<i1>", s = scalars[0]).unwrap();
                writeln!(
                    self.out,
                    "{indent}    \"stablehlo.return\"({n}_c) : (tensor<i1>) -> ()"
                )
                .unwrap();
                writeln!(
                    self.out,
                    "{indent}}}) {{dimension = {dim} : i64, is_stable = true}} : ({}) -> ({}){loc}",
                    in_types.join(", "),
                    types(out)
                )
                .unwrap();
                for i in 0..k {
                    self.names
                        .insert(Value { node: id, index: i }, format!("{n}#{i}"));
                }
                return;
            }
            Op::TopK { k } => {
                writeln!(
                    self.out,
                    "{indent}{n}:2 = chlo.top_k({}, k = {k}) : {} -> ({}){loc}",
                    inputs[0],
                    in_types[0],
                    types(out)
                )
                .unwrap();
                for i in 0..2 {
                    self.names
                        .insert(Value { node: id, index: i }, format!("{n}#{i}"));
                }
                return;
            }
            Op::RngBitGenerator => {
                writeln!(
                    self.out,
                    "{indent}{n}:2 = \"stablehlo.rng_bit_generator\"({}) {{rng_algorithm = #stablehlo<rng_algorithm THREE_FRY>}} : ({}) -> ({}){loc}",
                    inputs[0],
                    in_types[0],
                    types(out)
                )
                .unwrap();
                for i in 0..2 {
                    self.names
                        .insert(Value { node: id, index: i }, format!("{n}#{i}"));
                }
                return;
            }
            Op::OptimizationBarrier => {
                let k = out.len();
                writeln!(
                    self.out,
                    "{indent}{n}:{k} = \"stablehlo.optimization_barrier\"({}) : ({}) -> ({}){loc}",
                    inputs.join(", "),
                    in_types.join(", "),
                    types(out)
                )
                .unwrap();
                for i in 0..k {
                    self.names
                        .insert(Value { node: id, index: i }, format!("{n}#{i}"));
                }
                return;
            }
            Op::While { cond, body } => {
                let k = out.len();
                let (cond, body) = (*cond, *body);
                writeln!(
                    self.out,
                    "{indent}{n}:{k} = \"stablehlo.while\"({}) ({{",
                    inputs.join(", ")
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
                    "{indent}}}) : ({}) -> ({}){loc}",
                    in_types.join(", "),
                    types(out)
                )
                .unwrap();
                for i in 0..k {
                    self.names
                        .insert(Value { node: id, index: i }, format!("{n}#{i}"));
                }
                return;
            }
            Op::LogSoftmax { dim } | Op::Softmax { dim } => {
                let xs = out[0].clone();
                let mut reduced = xs.dims.clone();
                reduced.remove(*dim as usize);
                let red = xs.with_dims(&reduced);
                let keep: Vec<i64> = (0..xs.rank() as i64).filter(|d| d != dim).collect();
                let t = xs.mlir();
                self.reduce(
                    indent,
                    &format!("{n}_max"),
                    &inputs[0],
                    &xs,
                    ReduceKind::Max,
                    &[*dim],
                    &red,
                    "",
                );
                self.line(
                    indent,
                    &format!("{n}_maxb"),
                    "broadcast_in_dim",
                    &[format!("{n}_max")],
                    &[red.mlir()],
                    &format!("broadcast_dimensions = {}", array(&keep)),
                    &t,
                    "",
                );
                self.line(
                    indent,
                    &format!("{n}_shift"),
                    "subtract",
                    &[inputs[0].clone(), format!("{n}_maxb")],
                    &[t.clone(), t.clone()],
                    "",
                    &t,
                    "",
                );
                self.line(
                    indent,
                    &format!("{n}_exp"),
                    "exponential",
                    &[format!("{n}_shift")],
                    std::slice::from_ref(&t),
                    "",
                    &t,
                    "",
                );
                self.reduce(
                    indent,
                    &format!("{n}_sum"),
                    &format!("{n}_exp"),
                    &xs,
                    ReduceKind::Sum,
                    &[*dim],
                    &red,
                    "",
                );
                if matches!(node.op, Op::LogSoftmax { .. }) {
                    self.line(
                        indent,
                        &format!("{n}_log"),
                        "log",
                        &[format!("{n}_sum")],
                        &[red.mlir()],
                        "",
                        &red.mlir(),
                        "",
                    );
                    self.line(
                        indent,
                        &format!("{n}_logb"),
                        "broadcast_in_dim",
                        &[format!("{n}_log")],
                        &[red.mlir()],
                        &format!("broadcast_dimensions = {}", array(&keep)),
                        &t,
                        "",
                    );
                    self.line(
                        indent,
                        &n,
                        "subtract",
                        &[format!("{n}_shift"), format!("{n}_logb")],
                        &[t.clone(), t.clone()],
                        "",
                        &t,
                        &loc,
                    );
                } else {
                    self.line(
                        indent,
                        &format!("{n}_sumb"),
                        "broadcast_in_dim",
                        &[format!("{n}_sum")],
                        &[red.mlir()],
                        &format!("broadcast_dimensions = {}", array(&keep)),
                        &t,
                        "",
                    );
                    self.line(
                        indent,
                        &n,
                        "divide",
                        &[format!("{n}_exp"), format!("{n}_sumb")],
                        &[t.clone(), t.clone()],
                        "",
                        &t,
                        &loc,
                    );
                }
                single(self, n);
                return;
            }
            Op::ShardingConstraint(s) => {
                let t = out[0].mlir();
                match (&self.mesh, self.options.shardy) {
                    (_, true) => {
                        let spec = s.shardy().replacen("#sdy.sharding", "", 1);
                        writeln!(
                            self.out,
                            "{indent}{n} = sdy.sharding_constraint {} {spec} : {t}{loc}",
                            inputs[0]
                        )
                        .unwrap();
                    }
                    (mesh, false) => {
                        let spec = mesh
                            .as_ref()
                            .map_or("{replicated}".to_string(), |m| s.gspmd(m));
                        writeln!(
                            self.out,
                            "{indent}{n} = \"stablehlo.custom_call\"({}) {{call_target_name = \"Sharding\", mhlo.sharding = \"{spec}\"}} : ({t}) -> {t}{loc}",
                            inputs[0]
                        )
                        .unwrap();
                    }
                }
                single(self, n);
                return;
            }
        };
        self.line(
            indent,
            &n,
            op_name,
            &inputs,
            &in_types,
            &attrs,
            &out[0].mlir(),
            &loc,
        );
        single(self, n);
    }
}
