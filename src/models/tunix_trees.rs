//! Our parameters as the PyTrees Tunix checkpoints hold, and back.
//!
//! - `Nnx`: Tunix's own model state (`nnx.state(model)`), what its trainers save and
//!   `StandardCheckpointer().restore(path, target=...)` + `nnx.merge` reads: our names split at
//!   `.` with a trailing `value` (`layers.0.attn.q_einsum.w.value`).
//! - `Upstream`: the tree of Google's released Gemma 3 checkpoints, which
//!   `tunix.models.gemma3.params.create_model_from_checkpoint` maps into its model:
//!   `transformer/layer_0/attn/q_einsum` → `w`, the MLP's gate and up kernels stacked and
//!   transposed into `mlp/gating_einsum` [2, F, D], the down kernel as `mlp/linear`.

use std::collections::HashMap;

use super::gemma::{Family, GemmaConfig};
use super::hf::LoadError;
use super::orbax::Leaf;
use crate::graph::HostArray;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Tree {
    Nnx,
    Upstream,
}

fn upstream_unsupported(cfg: &GemmaConfig) -> Result<(), LoadError> {
    if cfg.family == Family::Gemma3 {
        Ok(())
    } else {
        Err(LoadError::Unsupported(
            "the upstream tree is written and read for Gemma 3 only; use the nnx tree".into(),
        ))
    }
}

/// The leaves of `tree` for parameters in `param_specs` order.
pub fn to_leaves(
    cfg: &GemmaConfig,
    params: &[HostArray],
    tree: Tree,
) -> Result<Vec<Leaf>, LoadError> {
    let specs = cfg.param_specs();
    assert_eq!(specs.len(), params.len(), "one array per parameter");
    match tree {
        Tree::Nnx => Ok(specs
            .iter()
            .zip(params)
            .map(|((name, _), p)| (nnx_keys(name), p.clone()))
            .collect()),
        Tree::Upstream => {
            upstream_unsupported(cfg)?;
            let by_name: HashMap<&str, &HostArray> =
                specs.iter().map(|(n, _)| n.as_str()).zip(params).collect();
            let mut leaves = vec![];
            for (name, _) in &specs {
                match upstream_place(name) {
                    Place::Leaf(keys) => leaves.push((keys, by_name[name.as_str()].clone())),
                    Place::Gating(keys, 0) => {
                        let up = name.replace("gate_proj", "up_proj");
                        leaves.push((keys, gating(by_name[name.as_str()], by_name[up.as_str()])));
                    }
                    Place::Gating(..) => {} // the up kernel: stacked with the gate
                }
            }
            Ok(leaves)
        }
    }
}

/// Where a parameter lives in a tree: a leaf of its own (always, in the nnx tree), or, in the
/// upstream tree, one half (0 gate, 1 up) of its layer's stacked `mlp/gating_einsum`.
enum Place {
    Leaf(Vec<String>),
    Gating(Vec<String>, usize),
}

/// A parameter's place in the upstream tree: the one place the two trees' names are related.
fn upstream_place(name: &str) -> Place {
    let gating = |prefix: &str| upstream_keys(&format!("{prefix}mlp.gating_einsum.w"));
    if let Some(prefix) = name.strip_suffix("mlp.gate_proj.kernel") {
        Place::Gating(gating(prefix), 0)
    } else if let Some(prefix) = name.strip_suffix("mlp.up_proj.kernel") {
        Place::Gating(gating(prefix), 1)
    } else if let Some(prefix) = name.strip_suffix("mlp.down_proj.kernel") {
        Place::Leaf(upstream_keys(&format!("{prefix}mlp.linear.w")))
    } else {
        Place::Leaf(upstream_keys(name))
    }
}

fn nnx_keys(name: &str) -> Vec<String> {
    name.split('.')
        .map(str::to_string)
        .chain(["value".to_string()])
        .collect()
}

/// `layers.3.attn.q_einsum.w` → [`transformer/layer_3/attn/q_einsum`, `w`].
fn upstream_keys(name: &str) -> Vec<String> {
    let parts: Vec<&str> = name.split('.').collect();
    let (leaf, module) = parts.split_last().expect("a parameter name has a leaf");
    let module: Vec<String> = match module {
        ["layers", i, rest @ ..] => std::iter::once(format!("layer_{i}"))
            .chain(rest.iter().map(|s| s.to_string()))
            .collect(),
        other => other.iter().map(|s| s.to_string()).collect(),
    };
    vec![
        format!("transformer/{}", module.join("/")),
        leaf.to_string(),
    ]
}

/// stack([gate.T, up.T]): two [D, F] kernels → [2, F, D].
fn gating(gate: &HostArray, up: &HostArray) -> HostArray {
    let (d, f) = (gate.dims[0], gate.dims[1]);
    let t = |a: &HostArray| transpose_2d(a);
    let mut bytes = t(gate).bytes;
    bytes.extend(t(up).bytes);
    HostArray {
        ty: gate.ty,
        dims: vec![2, f, d],
        bytes,
    }
}

fn transpose_2d(a: &HostArray) -> HostArray {
    let (r, c) = (a.dims[0] as usize, a.dims[1] as usize);
    let e = a.ty.size_in_bytes();
    let mut out = vec![0u8; a.bytes.len()];
    for i in 0..r {
        for j in 0..c {
            let (src, dst) = ((i * c + j) * e, (j * r + i) * e);
            out[dst..dst + e].copy_from_slice(&a.bytes[src..src + e]);
        }
    }
    HostArray {
        ty: a.ty,
        dims: vec![c as i64, r as i64],
        bytes: out,
    }
}

/// Which tree `leaves` are in: upstream keys start with `transformer/`.
pub fn tree_of(leaves: &[Leaf]) -> Tree {
    if leaves.iter().any(|(k, _)| k[0].starts_with("transformer/")) {
        Tree::Upstream
    } else {
        Tree::Nnx
    }
}

/// Parameters in `param_specs` order from the leaves of either tree (taken, not copied),
/// checked against `cfg`'s shapes; a missing leaf or a wrong shape is an error naming it
/// (`source` is the checkpoint).
pub fn from_leaves(
    cfg: &GemmaConfig,
    leaves: Vec<Leaf>,
    source: &std::path::Path,
) -> Result<Vec<HostArray>, LoadError> {
    let tree = tree_of(&leaves);
    if tree == Tree::Upstream {
        upstream_unsupported(cfg)?;
    }
    let mut by_keys: HashMap<Vec<String>, HostArray> = leaves.into_iter().collect();
    let missing = |keys: Vec<String>| LoadError::Missing {
        name: keys.join("."),
        dir: source.to_path_buf(),
        files: "its _METADATA".into(),
    };
    let mut out = vec![];
    for (name, dims) in cfg.param_specs() {
        let place = match tree {
            Tree::Nnx => Place::Leaf(nnx_keys(&name)),
            Tree::Upstream => upstream_place(&name),
        };
        let array = match place {
            Place::Leaf(keys) => by_keys.remove(&keys).ok_or_else(|| missing(keys))?,
            Place::Gating(keys, which) => match by_keys.get(&keys) {
                Some(g) => gating_half(g, which),
                None => return Err(missing(keys)),
            },
        };
        if array.dims != dims {
            return Err(LoadError::Shape {
                name,
                file: source.to_path_buf(),
                found: array.dims,
                expected: dims,
            });
        }
        out.push(array);
    }
    Ok(out)
}

/// The gate (0) or up (1) kernel [D, F] out of a stacked [2, F, D] `gating_einsum`; an array of
/// another rank comes back as is, for the shape check to name.
fn gating_half(g: &HostArray, which: usize) -> HostArray {
    if g.dims.len() != 3 {
        return g.clone();
    }
    let (f, d) = (g.dims[1], g.dims[2]);
    let size = g.bytes.len() / 2;
    transpose_2d(&HostArray {
        ty: g.ty,
        dims: vec![f, d],
        bytes: g.bytes[which * size..(which + 1) * size].to_vec(),
    })
}

/// Every leaf's keys and dims that `tree` holds for `cfg`, sorted.
fn leaf_shapes(cfg: &GemmaConfig, tree: Tree) -> Vec<(Vec<String>, Vec<i64>)> {
    let mut shapes: Vec<_> = cfg
        .param_specs()
        .into_iter()
        .filter_map(|(name, dims)| match tree {
            Tree::Nnx => Some((nnx_keys(&name), dims)),
            Tree::Upstream => match upstream_place(&name) {
                Place::Leaf(keys) => Some((keys, dims)),
                Place::Gating(keys, 0) => Some((keys, vec![2, dims[1], dims[0]])),
                Place::Gating(..) => None,
            },
        })
        .collect();
    shapes.sort();
    shapes
}

/// The preset whose leaves (keys and shapes, no more, no fewer) `leaves` are, for a checkpoint
/// without a config.json beside it.
pub fn preset_for(leaves: &[Leaf]) -> Option<GemmaConfig> {
    let tree = tree_of(leaves);
    let mut have: Vec<(Vec<String>, Vec<i64>)> = leaves
        .iter()
        .map(|(k, a)| (k.clone(), a.dims.clone()))
        .collect();
    have.sort();
    [
        "gemma3_270m",
        "gemma3_1b",
        "gemma2_2b",
        "tiny_gemma3",
        "tiny_gemma2",
    ]
    .into_iter()
    .filter_map(GemmaConfig::preset)
    .filter(|cfg| tree == Tree::Nnx || cfg.family == Family::Gemma3)
    .find(|cfg| leaf_shapes(cfg, tree) == have)
}

#[cfg(test)]
mod tests {
    use super::super::hf::permute;
    use super::*;

    fn random(cfg: &GemmaConfig) -> Vec<HostArray> {
        super::super::gemma::random_params(cfg, 7)
    }

    #[test]
    fn both_trees_round_trip_bit_exact_and_the_preset_is_recognised() {
        let cfg = GemmaConfig::tiny(Family::Gemma3);
        let params = random(&cfg);
        for tree in [Tree::Nnx, Tree::Upstream] {
            let leaves = to_leaves(&cfg, &params, tree).unwrap();
            assert_eq!(tree_of(&leaves), tree);
            assert_eq!(
                from_leaves(&cfg, leaves.clone(), "x".as_ref()).unwrap(),
                params
            );
            let found = preset_for(&leaves).expect("the tiny preset");
            assert_eq!(found.param_specs(), cfg.param_specs());
        }
    }

    #[test]
    fn the_upstream_tree_stacks_the_transposed_gate_and_up_kernels() {
        let cfg = GemmaConfig::tiny(Family::Gemma3);
        let params = random(&cfg);
        let leaves = to_leaves(&cfg, &params, Tree::Upstream).unwrap();
        let (keys, gating) = leaves
            .iter()
            .find(|(k, _)| k[0] == "transformer/layer_1/mlp/gating_einsum")
            .unwrap();
        assert_eq!(keys[1], "w");
        let specs = cfg.param_specs();
        let at = |n: &str| specs.iter().position(|(name, _)| name == n).unwrap();
        let (d, f) = (cfg.embed_dim, cfg.hidden_dim);
        let gate = params[at("layers.1.mlp.gate_proj.kernel")].to_vec::<f32>();
        let up = params[at("layers.1.mlp.up_proj.kernel")].to_vec::<f32>();
        let expected = [
            permute(&gate, &[d, f], &[1, 0]),
            permute(&up, &[d, f], &[1, 0]),
        ]
        .concat();
        assert_eq!(gating.dims, [2, f, d]);
        assert_eq!(gating.to_vec::<f32>(), expected);
    }

    #[test]
    fn a_missing_leaf_and_a_wrong_shape_are_named() {
        let cfg = GemmaConfig::tiny(Family::Gemma3);
        let mut leaves = to_leaves(&cfg, &random(&cfg), Tree::Nnx).unwrap();
        leaves.retain(|(k, _)| k.join(".") != "layers.1.attn.kv_einsum.w.value");
        let e = from_leaves(&cfg, leaves, "ck".as_ref())
            .unwrap_err()
            .to_string();
        assert!(e.contains("layers.1.attn.kv_einsum.w.value"), "{e}");
        let mut leaves = to_leaves(&cfg, &random(&cfg), Tree::Nnx).unwrap();
        leaves[0].1.dims = vec![1, 1];
        let e = from_leaves(&cfg, leaves, "ck".as_ref())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("embedder.input_embedding") && e.contains("shape"),
            "{e}"
        );
    }
}
