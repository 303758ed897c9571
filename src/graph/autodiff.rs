//! Reverse-mode differentiation: walks the graph backwards from the outputs, applying the VJP
//! rules of `vjp.rs`, and adds the backward computation to the same graph, so forward and
//! backward compile as one program. Checkpointed blocks are recomputed behind an
//! optimization barrier instead of keeping their activations.

use std::collections::{HashMap, HashSet};

use super::builder::{Graph, GraphError, Tensor, Value};
use super::ops::Op;
use super::vjp;

impl Graph {
    /// Gradients of a scalar `loss` with respect to `wrt`.
    pub fn grad(&self, loss: &Tensor, wrt: &[Tensor]) -> Result<Vec<Tensor>, GraphError> {
        if loss.rank() != 0 {
            return Err(GraphError::Invalid(format!(
                "grad needs a scalar loss, got {}",
                loss.shape()
            )));
        }
        let one = loss.scalar_like(1.0);
        self.vjp(std::slice::from_ref(loss), &[one], wrt)
    }

    /// Cotangents of `wrt` given `cotangents` of `outputs` (a vector-Jacobian product).
    pub fn vjp(
        &self,
        outputs: &[Tensor],
        cotangents: &[Tensor],
        wrt: &[Tensor],
    ) -> Result<Vec<Tensor>, GraphError> {
        self.check()?;
        for (o, c) in outputs.iter().zip(cotangents) {
            if o.shape() != c.shape() {
                return Err(GraphError::Invalid(format!(
                    "cotangent {} for output {}",
                    c.shape(),
                    o.shape()
                )));
            }
        }
        let end = self.num_nodes();
        let targets: HashSet<usize> = wrt.iter().map(|t| t.value.node).collect();
        // Nodes that depend on some `wrt` (only those need cotangents).
        let mut depends = vec![false; end];
        for id in 0..end {
            let node = self.node(id);
            depends[id] = targets.contains(&id) || node.inputs.iter().any(|v| depends[v.node]);
        }
        let mut cts: HashMap<Value, Tensor> = HashMap::new();
        for (o, c) in outputs.iter().zip(cotangents) {
            accumulate(&mut cts, o.value, c.clone());
        }
        let checkpoints = self.0.borrow().checkpoints.clone();
        let mut remap: HashMap<Value, Value> = HashMap::new();
        let mut recomputed: HashSet<usize> = HashSet::new();

        for id in (0..end).rev() {
            if !depends[id] || targets.contains(&id) && self.node(id).inputs.is_empty() {
                continue;
            }
            let node = self.node(id);
            let g: Vec<Option<Tensor>> = (0..node.outputs.len())
                .map(|index| cts.get(&Value { node: id, index }).cloned())
                .collect();
            if g.iter().all(|c| c.is_none()) {
                continue;
            }
            if node.region != 0 {
                return Err(GraphError::NotDifferentiable {
                    op: "a value computed inside a while loop",
                    location: node.loc.to_string(),
                });
            }
            if let Some(k) = checkpoints.iter().position(|r| r.contains(&id)) {
                if recomputed.insert(k) {
                    self.recompute(&checkpoints[k], &mut remap);
                }
            }
            let at = |v: Value| self.tensor(*remap.get(&v).unwrap_or(&v));
            let x: Vec<Tensor> = node.inputs.iter().map(|&v| at(v)).collect();
            let y: Vec<Tensor> = (0..node.outputs.len())
                .map(|index| at(Value { node: id, index }))
                .collect();
            let input_cts = vjp::rule(&node, &x, &y, &g)?;
            for (input, ct) in node.inputs.iter().zip(input_cts) {
                if let Some(ct) = ct {
                    if depends[input.node] && vjp::differentiable(self.shape_of(*input).ty) {
                        accumulate(&mut cts, *input, ct);
                    }
                }
            }
        }
        self.check()?;
        Ok(wrt
            .iter()
            .map(|t| cts.get(&t.value).cloned().unwrap_or_else(|| t.zeros_like()))
            .collect())
    }

    /// Re-emits the nodes of a checkpointed block from its inputs, passed through an
    /// optimization barrier so XLA cannot reuse the forward values instead.
    fn recompute(&self, range: &std::ops::Range<usize>, remap: &mut HashMap<Value, Value>) {
        let mut boundary: Vec<Value> = vec![];
        for id in range.clone() {
            for v in self.node(id).inputs {
                if v.node < range.start
                    && !boundary.contains(&v)
                    && !matches!(self.node(v.node).op, Op::Constant(_))
                {
                    boundary.push(v);
                }
            }
        }
        if boundary.is_empty() {
            return;
        }
        let fenced = Tensor::optimization_barrier(
            &boundary.iter().map(|&v| self.tensor(v)).collect::<Vec<_>>(),
        );
        for (v, t) in boundary.iter().zip(&fenced) {
            remap.insert(*v, t.value);
        }
        for id in range.clone() {
            let node = self.node(id);
            if node.region != 0 || matches!(node.op, Op::While { .. } | Op::Parameter { .. }) {
                continue;
            }
            let inputs: Vec<Value> = node
                .inputs
                .iter()
                .map(|v| *remap.get(v).unwrap_or(v))
                .collect();
            let n = node.outputs.len();
            let new = self.push_cloned(
                node.op.clone(),
                inputs,
                node.outputs.clone(),
                node.loc.clone(),
            );
            for index in 0..n {
                remap.insert(Value { node: id, index }, Value { node: new, index });
            }
        }
    }
}

fn accumulate(cts: &mut HashMap<Value, Tensor>, v: Value, ct: Tensor) {
    let sum = match cts.remove(&v) {
        Some(prev) => prev + ct,
        None => ct,
    };
    cts.insert(v, sum);
}
