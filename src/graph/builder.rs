//! The graph: an arena of nodes built by calling ops on [`Tensor`]s, checked as it is built.
//!
//! Ops never fail at the call site, so model code reads like the math. A shape error poisons the
//! node (and everything computed from it) and is returned by [`Graph::build`], naming the op, the
//! shapes and the Rust line that built it.

use std::cell::RefCell;
use std::collections::HashSet;
use std::panic::Location;
use std::rc::Rc;

use super::ops::Op;
use super::shape::Shape;
use super::sharding::{Mesh, Sharding};
use crate::pjrt::ElementType;

/// One result of one node.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub struct Value {
    pub node: usize,
    pub index: usize,
}

/// Where a node was built: the Rust source line and the name scope (e.g. `layer3/attn`).
#[derive(Clone, Debug)]
pub struct SourceLoc {
    pub file: &'static str,
    pub line: u32,
    pub column: u32,
    pub scope: String,
}

impl std::fmt::Display for SourceLoc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.scope.is_empty() {
            write!(f, "{}:{}:{}", self.file, self.line, self.column)
        } else {
            write!(
                f,
                "{} ({}:{}:{})",
                self.scope, self.file, self.line, self.column
            )
        }
    }
}

#[derive(Clone, Debug)]
pub struct Node {
    pub op: Op,
    pub inputs: Vec<Value>,
    pub outputs: Vec<Shape>,
    /// 0 is the function body; others are the cond/body regions of `while` nodes.
    pub region: usize,
    pub loc: SourceLoc,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GraphError {
    #[error("{op} at {location}: {message}")]
    Shape {
        op: &'static str,
        message: String,
        location: String,
    },
    #[error("cannot differentiate through {op} (built at {location})")]
    NotDifferentiable { op: &'static str, location: String },
    #[error("{0}")]
    Invalid(String),
}

#[derive(Clone, Debug, Default)]
pub struct ParamInfo {
    pub node: usize,
    pub name: String,
    pub sharding: Option<Sharding>,
    /// Donate this parameter's buffer to result `alias_output`.
    pub alias_output: Option<usize>,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct RegionInfo {
    pub args: Vec<usize>,
    pub results: Vec<Value>,
}

pub(crate) struct Inner {
    pub name: String,
    pub nodes: Vec<Node>,
    pub regions: Vec<RegionInfo>,
    pub current_region: usize,
    pub params: Vec<ParamInfo>,
    pub scope: Vec<String>,
    pub errors: Vec<GraphError>,
    pub poisoned: HashSet<usize>,
    /// Node ranges whose activations are recomputed in the backward pass.
    pub checkpoints: Vec<std::ops::Range<usize>>,
    pub mesh: Option<Mesh>,
}

/// A function under construction. Cheap to clone (a shared handle).
#[derive(Clone)]
pub struct Graph(pub(crate) Rc<RefCell<Inner>>);

/// A value in a graph: one result of one node.
#[derive(Clone)]
pub struct Tensor {
    pub(crate) graph: Graph,
    pub(crate) value: Value,
}

impl std::fmt::Debug for Tensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Tensor(%{}#{}: {})",
            self.value.node,
            self.value.index,
            self.shape()
        )
    }
}

impl Graph {
    pub fn new(name: &str) -> Graph {
        Graph(Rc::new(RefCell::new(Inner {
            name: name.to_string(),
            nodes: vec![],
            regions: vec![RegionInfo::default()],
            current_region: 0,
            params: vec![],
            scope: vec![],
            errors: vec![],
            poisoned: HashSet::new(),
            checkpoints: vec![],
            mesh: None,
        })))
    }

    pub fn name(&self) -> String {
        self.0.borrow().name.clone()
    }

    pub(crate) fn same(&self, other: &Graph) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }

    /// The device mesh that sharding annotations refer to.
    pub fn set_mesh(&self, mesh: Mesh) {
        self.0.borrow_mut().mesh = Some(mesh);
    }

    pub fn mesh(&self) -> Option<Mesh> {
        self.0.borrow().mesh.clone()
    }

    /// A function argument, in order of creation.
    #[track_caller]
    pub fn parameter(&self, name: &str, shape: Shape) -> Tensor {
        let index = self.0.borrow().params.len();
        let t = self.push(Op::Parameter { index }, vec![], Ok(vec![shape]), 1);
        self.0.borrow_mut().params.push(ParamInfo {
            node: t.value.node,
            name: name.to_string(),
            ..Default::default()
        });
        t
    }

    /// Annotates a parameter with how it is laid out over the mesh.
    pub fn shard_parameter(&self, param: &Tensor, sharding: Sharding) {
        let mut inner = self.0.borrow_mut();
        if let Some(p) = inner.params.iter_mut().find(|p| p.node == param.value.node) {
            p.sharding = Some(sharding);
        }
    }

    /// Annotates every parameter not yet laid out as a copy on every device, so the
    /// partitioner cannot choose a split the caller does not know about.
    pub fn replicate_unplaced_parameters(&self) {
        let mut inner = self.0.borrow_mut();
        let Inner { params, nodes, .. } = &mut *inner;
        for p in params.iter_mut().filter(|p| p.sharding.is_none()) {
            p.sharding = Some(Sharding::replicated(nodes[p.node].outputs[0].dims.len()));
        }
    }

    /// Lets result `output` reuse this parameter's buffer (the caller donates it).
    pub fn donate_parameter(&self, param: &Tensor, output: usize) {
        let mut inner = self.0.borrow_mut();
        if let Some(p) = inner.params.iter_mut().find(|p| p.node == param.value.node) {
            p.alias_output = Some(output);
        }
    }

    pub fn params(&self) -> Vec<ParamInfo> {
        self.0.borrow().params.clone()
    }

    pub fn param_shapes(&self) -> Vec<Shape> {
        let inner = self.0.borrow();
        inner
            .params
            .iter()
            .map(|p| inner.nodes[p.node].outputs[0].clone())
            .collect()
    }

    /// Runs `f` with `name` pushed on the name scope, so its ops carry `outer/name` locations.
    pub fn scope<R>(&self, name: &str, f: impl FnOnce() -> R) -> R {
        self.0.borrow_mut().scope.push(name.to_string());
        let out = f();
        self.0.borrow_mut().scope.pop();
        out
    }

    /// Builds a block whose activations are recomputed in the backward pass instead of kept
    /// (gradient checkpointing): memory for one block's intermediates instead of all of them.
    pub fn checkpoint<R>(&self, enabled: bool, f: impl FnOnce() -> R) -> R {
        let start = self.0.borrow().nodes.len();
        let out = f();
        if enabled {
            let end = self.0.borrow().nodes.len();
            self.0.borrow_mut().checkpoints.push(start..end);
        }
        out
    }

    pub fn errors(&self) -> Vec<GraphError> {
        self.0.borrow().errors.clone()
    }

    /// The first error recorded while building, if any.
    pub fn check(&self) -> Result<(), GraphError> {
        match self.0.borrow().errors.first() {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    pub fn node(&self, id: usize) -> Node {
        self.0.borrow().nodes[id].clone()
    }

    pub fn num_nodes(&self) -> usize {
        self.0.borrow().nodes.len()
    }

    pub(crate) fn tensor(&self, value: Value) -> Tensor {
        Tensor {
            graph: self.clone(),
            value,
        }
    }

    pub(crate) fn shape_of(&self, v: Value) -> Shape {
        self.0.borrow().nodes[v.node].outputs[v.index].clone()
    }

    /// Adds a node. `shapes` is the result of shape inference; on error the node is poisoned
    /// and the error recorded (once: a node computed from a poisoned one adds no new error).
    #[track_caller]
    pub(crate) fn push_node(
        &self,
        op: Op,
        inputs: Vec<Value>,
        shapes: Result<Vec<Shape>, String>,
        num_outputs: usize,
    ) -> usize {
        let caller = Location::caller();
        let mut inner = self.0.borrow_mut();
        let loc = SourceLoc {
            file: caller.file(),
            line: caller.line(),
            column: caller.column(),
            scope: inner.scope.join("/"),
        };
        let id = inner.nodes.len();
        let inherited = inputs.iter().any(|v| inner.poisoned.contains(&v.node));
        let outputs = match shapes {
            Ok(shapes) if !inherited => shapes,
            result => {
                if let Err(message) = result {
                    if !inherited {
                        let error = GraphError::Shape {
                            op: op.name(),
                            message,
                            location: loc.to_string(),
                        };
                        inner.errors.push(error);
                    }
                }
                inner.poisoned.insert(id);
                let fallback = inputs
                    .first()
                    .map(|v| inner.nodes[v.node].outputs[v.index].clone())
                    .unwrap_or(Shape::scalar(ElementType::F32));
                vec![fallback; num_outputs]
            }
        };
        drop(inner);
        self.push_cloned(op, inputs, outputs, loc)
    }

    /// Appends a node of known shapes and source location to the current region: a node
    /// `push_node` has inferred, or a copy of one (for recomputation). Returns its id.
    pub(crate) fn push_cloned(
        &self,
        op: Op,
        inputs: Vec<Value>,
        outputs: Vec<Shape>,
        loc: SourceLoc,
    ) -> usize {
        let mut inner = self.0.borrow_mut();
        let region = inner.current_region;
        inner.nodes.push(Node {
            op,
            inputs,
            outputs,
            region,
            loc,
        });
        inner.nodes.len() - 1
    }

    #[track_caller]
    pub(crate) fn push(
        &self,
        op: Op,
        inputs: Vec<Value>,
        shapes: Result<Vec<Shape>, String>,
        num_outputs: usize,
    ) -> Tensor {
        let node = self.push_node(op, inputs, shapes, num_outputs);
        self.tensor(Value { node, index: 0 })
    }

    #[track_caller]
    pub(crate) fn push_multi(
        &self,
        op: Op,
        inputs: Vec<Value>,
        shapes: Result<Vec<Shape>, String>,
        num_outputs: usize,
    ) -> Vec<Tensor> {
        let node = self.push_node(op, inputs, shapes, num_outputs);
        (0..num_outputs)
            .map(|index| self.tensor(Value { node, index }))
            .collect()
    }

    /// `while cond(state) { state = body(state) }` on the device. The closures build the
    /// condition (a scalar pred) and the body (new state, same shapes) as nested regions; they
    /// may use tensors from the enclosing function.
    #[track_caller]
    pub fn while_loop(
        &self,
        init: &[Tensor],
        cond: impl FnOnce(&[Tensor]) -> Tensor,
        body: impl FnOnce(&[Tensor]) -> Vec<Tensor>,
    ) -> Vec<Tensor> {
        let shapes: Vec<Shape> = init.iter().map(|t| t.shape()).collect();
        let cond_region = self.build_region(&shapes, |args| vec![cond(args)]);
        let body_region = self.build_region(&shapes, body);
        let (cond_results, body_results) = {
            let inner = self.0.borrow();
            (
                inner.regions[cond_region].results.clone(),
                inner.regions[body_region].results.clone(),
            )
        };
        let check = || -> Result<Vec<Shape>, String> {
            let pred = self.shape_of(cond_results[0]);
            if pred != Shape::scalar(ElementType::Pred) {
                return Err(format!("the condition must be a scalar pred, got {pred}"));
            }
            let got: Vec<Shape> = body_results.iter().map(|v| self.shape_of(*v)).collect();
            if got != shapes {
                return Err(format!(
                    "the body returns {} but the loop state is {}",
                    list(&got),
                    list(&shapes)
                ));
            }
            Ok(shapes.clone())
        };
        let result = check();
        self.push_multi(
            Op::While {
                cond: cond_region,
                body: body_region,
            },
            init.iter().map(|t| t.value).collect(),
            result,
            shapes.len(),
        )
    }

    #[track_caller]
    fn build_region(&self, shapes: &[Shape], f: impl FnOnce(&[Tensor]) -> Vec<Tensor>) -> usize {
        let (region, outer) = {
            let mut inner = self.0.borrow_mut();
            inner.regions.push(RegionInfo::default());
            let region = inner.regions.len() - 1;
            let outer = inner.current_region;
            inner.current_region = region;
            (region, outer)
        };
        let args: Vec<Tensor> = shapes
            .iter()
            .enumerate()
            .map(|(index, s)| self.push(Op::RegionArg { index }, vec![], Ok(vec![s.clone()]), 1))
            .collect();
        let results = f(&args);
        let mut inner = self.0.borrow_mut();
        inner.regions[region].args = args.iter().map(|t| t.value.node).collect();
        inner.regions[region].results = results.iter().map(|t| t.value).collect();
        inner.current_region = outer;
        region
    }
}

pub(crate) fn list(shapes: &[Shape]) -> String {
    let parts: Vec<String> = shapes.iter().map(|s| s.to_string()).collect();
    format!("({})", parts.join(", "))
}

impl Tensor {
    pub fn shape(&self) -> Shape {
        self.graph.shape_of(self.value)
    }

    pub fn dims(&self) -> Vec<i64> {
        self.shape().dims
    }

    pub fn ty(&self) -> ElementType {
        self.shape().ty
    }

    pub fn rank(&self) -> usize {
        self.shape().rank()
    }

    /// Size of dimension `d` (negative counts from the end).
    pub fn dim(&self, d: i64) -> i64 {
        let dims = self.dims();
        let i = if d < 0 { dims.len() as i64 + d } else { d };
        dims[i as usize]
    }

    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    pub fn value(&self) -> Value {
        self.value
    }
}
