//! StableHLO emission: a graph becomes an MLIR module in generic op syntax, which every
//! plugin's parser accepts. Repeated layers are inlined, as Tunix's unrolled layer loop is: XLA
//! inlines calls before optimizing, so emitting functions would only shorten the text.

use std::collections::{HashMap, HashSet};
use std::fmt::Write;

use super::builder::{Graph, GraphError, Node, Value};
use super::ops::{Literal, Op};
use super::shape::Shape;
use crate::pjrt::ElementType;

mod control;
mod dot;
mod elementwise;
mod indexing;
mod layout;
mod ordering;
mod reduction;
mod sharding;
mod sources;

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
    /// How each parameter is laid out over the mesh (None: replicated, or one device).
    pub param_shardings: Vec<Option<super::Sharding>>,
    /// How each result is laid out (None: replicated, or one device).
    pub result_shardings: Vec<Option<super::Sharding>>,
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
            param_shardings: inner.params.iter().map(|p| p.sharding.clone()).collect(),
            result_shardings: (0..results.len())
                .map(|i| result_shardings.get(i).cloned().flatten())
                .collect(),
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

    fn region(&mut self, region: usize, indent: &str) {
        let ids: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| self.nodes[i].region == region && self.live.contains(&i))
            .collect();
        for id in ids {
            self.node(id, indent);
        }
    }

    /// Emits one node. Each family of ops is emitted by a method in its own submodule of this
    /// one; this only gathers what every family needs and picks the family.
    fn node(&mut self, id: usize, indent: &str) {
        let nodes = self.nodes;
        let node = &nodes[id];
        let at = At {
            id,
            node,
            indent,
            n: format!("%v{id}"),
            loc: self.loc(node),
            inputs: node.inputs.iter().map(|v| self.name(*v)).collect(),
            in_types: node.inputs.iter().map(|v| self.shape(*v).mlir()).collect(),
        };
        match &node.op {
            // Already named (arguments), or a new name for an existing value.
            Op::Parameter { .. } | Op::RegionArg { .. } => self.bind(id, at.n.clone()),
            Op::StopGradient => self.bind(id, at.inputs[0].clone()),
            Op::Constant(_) | Op::Iota { .. } | Op::RngBitGenerator => self.source(&at),
            Op::Unary(_)
            | Op::Binary(_)
            | Op::Compare(_)
            | Op::Select
            | Op::Clamp
            | Op::Convert
            | Op::BitcastConvert => self.elementwise(&at),
            Op::BroadcastInDim { .. }
            | Op::Reshape
            | Op::Transpose { .. }
            | Op::Reverse { .. }
            | Op::Slice { .. }
            | Op::Concatenate { .. }
            | Op::Pad { .. } => self.layout(&at),
            Op::DynamicSlice { .. }
            | Op::DynamicUpdateSlice
            | Op::Gather(_)
            | Op::ScatterAdd(_) => self.indexing(&at),
            Op::DotGeneral(d) => self.dot_general(&at, d),
            Op::Reduce { .. } | Op::Argmax { .. } | Op::LogSoftmax { .. } | Op::Softmax { .. } => {
                self.reduction(&at)
            }
            Op::Sort { .. } | Op::TopK { .. } => self.ordering(&at),
            Op::While { .. } | Op::OptimizationBarrier => self.control(&at),
            Op::ShardingConstraint(s) => self.sharding_constraint(&at, s),
        }
    }

    /// Names the single result of node `id`.
    fn bind(&mut self, id: usize, name: String) {
        self.names.insert(Value { node: id, index: 0 }, name);
    }

    /// Names the `k` results of a multi-result op, emitted as `%vN:k = ...`: `%vN#0`, `%vN#1`, ...
    fn bind_results(&mut self, at: &At, k: usize) {
        for i in 0..k {
            self.names.insert(
                Value {
                    node: at.id,
                    index: i,
                },
                format!("{}#{i}", at.n),
            );
        }
    }

    /// Emits an op of one result and no region as one line, and names its result.
    fn one_line(&mut self, at: &At, op: &str, attrs: &str) {
        self.line(
            at.indent,
            &at.n,
            op,
            &at.inputs,
            &at.in_types,
            attrs,
            &at.node.outputs[0].mlir(),
            &at.loc,
        );
        self.bind(at.id, at.n.clone());
    }
}

/// The node being emitted and what every family needs of it, computed once.
struct At<'n> {
    id: usize,
    node: &'n Node,
    indent: &'n str,
    /// The result's name, `%v{id}` (multi-result ops append `#i` when naming their results).
    n: String,
    /// ` loc(...)`, or empty when locations are off.
    loc: String,
    /// The operands' names and types.
    inputs: Vec<String>,
    in_types: Vec<String>,
}

/// `compare_type` of a comparison of `ty` values; floats compare as `float`
/// (`FLOAT`, or `TOTALORDER` where NaNs must sort).
fn compare_type(ty: ElementType, float: &'static str) -> &'static str {
    if ty.is_float() {
        float
    } else if ty.is_signed_int() {
        "SIGNED"
    } else {
        "UNSIGNED"
    }
}
