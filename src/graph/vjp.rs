//! The VJP rules: for each op, the cotangents of its inputs given the cotangents of its outputs.
//! One table, beside the ops; `autodiff.rs` walks the graph and applies it.

use super::builder::{GraphError, Node, Tensor};
use super::ops::{BinaryOp, DotDims, GatherDims, Op, ReduceKind, ScatterDims, UnaryOp};
use crate::pjrt::ElementType;

/// Cotangents of `node`'s inputs. `x` are the node's (possibly recomputed) inputs, `y` its
/// outputs, `g` the cotangents of its outputs (None where nothing flows back).
pub(crate) fn rule(
    node: &Node,
    x: &[Tensor],
    y: &[Tensor],
    g: &[Option<Tensor>],
) -> Result<Vec<Option<Tensor>>, GraphError> {
    let none = |n: usize| vec![None; n];
    // The barrier is the identity on each of its values, whichever have a cotangent.
    if matches!(node.op, Op::OptimizationBarrier) {
        return Ok(g.to_vec());
    }
    let Some(g0) = g[0].clone() else {
        return Ok(none(x.len()));
    };
    let g = &g0;
    Ok(match &node.op {
        Op::Parameter { .. } | Op::RegionArg { .. } | Op::Constant(_) | Op::Iota { .. } => vec![],
        Op::Compare(_)
        | Op::Argmax { .. }
        | Op::RngBitGenerator
        | Op::BitcastConvert
        | Op::StopGradient => none(x.len()),
        Op::Unary(u) => vec![match u {
            UnaryOp::Neg => Some(-g),
            UnaryOp::Exp => Some(g * &y[0]),
            UnaryOp::Log => Some(g / &x[0]),
            UnaryOp::Log1p => Some(g / &(&x[0] + 1.0)),
            UnaryOp::Sqrt => Some(g / &(&y[0] * 2.0)),
            UnaryOp::Rsqrt => Some(g * &(&y[0] / &x[0]) * -0.5),
            UnaryOp::Tanh => Some(g * &(-(y[0].square()) + 1.0)),
            UnaryOp::Abs => Some(g * &x[0].sign()),
            UnaryOp::Logistic => Some(g * &(&y[0] * &(-&y[0] + 1.0))),
            UnaryOp::Sin => Some(g * &x[0].cos()),
            UnaryOp::Cos => Some(-(g * &x[0].sin())),
            UnaryOp::Sign | UnaryOp::Floor | UnaryOp::Not => None,
        }],
        Op::Binary(b) => {
            let (a, c) = (&x[0], &x[1]);
            match b {
                BinaryOp::Add => vec![Some(g.clone()), Some(g.clone())],
                BinaryOp::Sub => vec![Some(g.clone()), Some(-g)],
                BinaryOp::Mul => vec![Some(g * c), Some(g * a)],
                BinaryOp::Div => vec![Some(g / c), Some(-(g * &y[0]) / c)],
                BinaryOp::Max | BinaryOp::Min => {
                    // Ties split the gradient in half, as JAX does.
                    let wins = if *b == BinaryOp::Max {
                        a.gt(c)
                    } else {
                        a.lt(c)
                    };
                    let ties = a.eq(c).convert(a.ty()) * 0.5;
                    let share_a = wins.convert(a.ty()) + &ties;
                    let share_c = -&share_a + 1.0;
                    vec![Some(g * &share_a), Some(g * &share_c)]
                }
                BinaryOp::Pow => {
                    let da = g * c * &a.pow(&(c - 1.0));
                    // log(0) is replaced by log(1), so 0^y has no gradient in y (JAX's rule).
                    let safe = a.eq(&a.zeros_like()).select(&(a.zeros_like() + 1.0), a);
                    let dc = g * &safe.log() * &y[0];
                    vec![Some(da), Some(dc)]
                }
                BinaryOp::Rem => {
                    let q = a / c;
                    vec![Some(g.clone()), Some(-(g * &(q.sign() * q.abs().floor())))]
                }
                _ => none(2),
            }
        }
        Op::Select => {
            let zero = g.zeros_like();
            vec![
                None,
                Some(x[0].select(g, &zero)),
                Some(x[0].select(&zero, g)),
            ]
        }
        Op::Clamp => {
            let inside = x[1].gt(&x[0]).and(&x[1].lt(&x[2]));
            vec![None, Some(inside.select(g, &g.zeros_like())), None]
        }
        Op::Convert => vec![x[0].ty().is_float().then(|| g.convert(x[0].ty()))],
        Op::BroadcastInDim { dims } => vec![Some(unbroadcast(g, &x[0], dims)?)],
        Op::Reshape => vec![Some(g.reshape(&x[0].dims()))],
        Op::Transpose { perm } => {
            let mut inverse = vec![0; perm.len()];
            for (i, &p) in perm.iter().enumerate() {
                inverse[p as usize] = i as i64;
            }
            vec![Some(g.transpose(&inverse))]
        }
        Op::Reverse { dims } => vec![Some(g.reverse(dims))],
        Op::Slice {
            start,
            limit: _,
            strides,
        } => {
            let input = x[0].dims();
            let out = g.dims();
            let high: Vec<i64> = (0..input.len())
                .map(|i| input[i] - (start[i] + (out[i] - 1).max(0) * strides[i] + 1).min(input[i]))
                .collect();
            let interior: Vec<i64> = strides.iter().map(|s| s - 1).collect();
            vec![Some(g.pad(0.0, start, &high, &interior))]
        }
        Op::Pad {
            low,
            high,
            interior,
        } => {
            let out = g.dims();
            let limit: Vec<i64> = (0..out.len()).map(|i| out[i] - high[i]).collect();
            let strides: Vec<i64> = interior.iter().map(|i| i + 1).collect();
            if low.iter().chain(high).any(|&p| p < 0) {
                return Err(GraphError::NotDifferentiable {
                    op: "pad with negative padding",
                    location: node.loc.to_string(),
                });
            }
            vec![Some(g.slice(low, &limit, &strides)), None]
        }
        Op::Concatenate { dim } => {
            let mut offset = 0;
            x.iter()
                .map(|part| {
                    let len = part.dims()[*dim as usize];
                    let piece = g.narrow(*dim, offset, len);
                    offset += len;
                    Some(piece)
                })
                .collect()
        }
        Op::DynamicSlice { .. } => {
            let starts = &x[1..];
            let mut out = vec![Some(x[0].zeros_like().dynamic_update_slice(g, starts))];
            out.extend(none(starts.len()));
            out
        }
        Op::DynamicUpdateSlice => {
            let starts = &x[2..];
            let mut out = vec![
                Some(g.dynamic_update_slice(&x[1].zeros_like(), starts)),
                Some(g.dynamic_slice(starts, &x[1].dims())),
            ];
            out.extend(none(starts.len()));
            out
        }
        Op::Gather(d) => {
            assert!(
                d.operand_batching_dims.is_empty(),
                "no gradient rule for a gather with batching dims (sampling-only)"
            );
            let scatter = ScatterDims {
                update_window_dims: d.offset_dims.clone(),
                inserted_window_dims: d.collapsed_slice_dims.clone(),
                scatter_dims_to_operand_dims: d.start_index_map.clone(),
                index_vector_dim: d.index_vector_dim,
            };
            vec![Some(x[0].zeros_like().scatter_add(&x[1], g, scatter)), None]
        }
        Op::ScatterAdd(d) => {
            let operand = x[0].dims();
            let updates = x[2].dims();
            let mut windows = d.update_window_dims.iter();
            let slice_sizes: Vec<i64> = (0..operand.len() as i64)
                .map(|i| {
                    if d.inserted_window_dims.contains(&i) {
                        1
                    } else {
                        windows.next().map_or(1, |&w| updates[w as usize])
                    }
                })
                .collect();
            let gather = GatherDims {
                offset_dims: d.update_window_dims.clone(),
                collapsed_slice_dims: d.inserted_window_dims.clone(),
                start_index_map: d.scatter_dims_to_operand_dims.clone(),
                index_vector_dim: d.index_vector_dim,
                slice_sizes,
                ..Default::default()
            };
            vec![Some(g.clone()), None, Some(g.gather(&x[1], gather))]
        }
        Op::DotGeneral(d) => dot_general_vjp(g, &x[0], &x[1], d),
        Op::Reduce { kind, dims } => {
            let input = x[0].dims();
            let kept: Vec<i64> = (0..input.len() as i64)
                .filter(|i| !dims.contains(i))
                .collect();
            let gb = g.broadcast_in_dim(&input, &kept);
            match kind {
                ReduceKind::Sum => vec![Some(gb)],
                ReduceKind::Max | ReduceKind::Min => {
                    // Ties share the gradient equally, as in JAX.
                    let mask = x[0]
                        .eq(&y[0].broadcast_in_dim(&input, &kept))
                        .convert(x[0].ty());
                    let count = mask
                        .reduce(ReduceKind::Sum, dims)
                        .broadcast_in_dim(&input, &kept);
                    vec![Some(gb * mask / count)]
                }
            }
        }
        Op::LogSoftmax { dim } => vec![Some(g - &(y[0].exp() * g.sum(&[*dim], true)))],
        Op::Softmax { dim } => vec![Some(&y[0] * &(g - &(g * &y[0]).sum(&[*dim], true)))],
        Op::ShardingConstraint(s) => vec![Some(g.with_sharding(s.clone()))],
        Op::OptimizationBarrier => unreachable!("handled above"),
        Op::Sort { .. } | Op::TopK { .. } | Op::While { .. } => {
            return Err(GraphError::NotDifferentiable {
                op: node.op.name(),
                location: node.loc.to_string(),
            })
        }
    })
}

/// Sums a cotangent over the dimensions `broadcast_in_dim` created or stretched.
fn unbroadcast(g: &Tensor, x: &Tensor, mapping: &[i64]) -> Result<Tensor, GraphError> {
    let (input, out) = (x.dims(), g.dims());
    if mapping.windows(2).any(|w| w[0] > w[1]) {
        return Err(GraphError::Invalid(format!(
            "broadcast_in_dim with unordered mapping {mapping:?} is not differentiable"
        )));
    }
    let mut reduce: Vec<i64> = (0..out.len() as i64)
        .filter(|d| !mapping.contains(d))
        .collect();
    for (i, &m) in mapping.iter().enumerate() {
        if input[i] == 1 && out[m as usize] != 1 {
            reduce.push(m);
        }
    }
    reduce.sort();
    let summed = if reduce.is_empty() {
        g.clone()
    } else {
        g.reduce(ReduceKind::Sum, &reduce)
    };
    Ok(summed.reshape(&input))
}

fn free_dims(rank: usize, batch: &[i64], contract: &[i64]) -> Vec<i64> {
    (0..rank as i64)
        .filter(|d| !batch.contains(d) && !contract.contains(d))
        .collect()
}

/// Rank of `v` among the sorted `all`.
fn rank_in(all: &[i64], v: i64) -> i64 {
    all.iter().filter(|&&a| a < v).count() as i64
}

/// out = dot_general(a, b): out's dims are batch, a's free dims, b's free dims.
fn dot_general_vjp(g: &Tensor, a: &Tensor, b: &Tensor, d: &DotDims) -> Vec<Option<Tensor>> {
    let (ra, rb) = (a.rank(), b.rank());
    let nb = d.lhs_batch.len() as i64;
    let a_free = free_dims(ra, &d.lhs_batch, &d.lhs_contract);
    let b_free = free_dims(rb, &d.rhs_batch, &d.rhs_contract);
    let (naf, nbf) = (a_free.len() as i64, b_free.len() as i64);
    let g_batch: Vec<i64> = (0..nb).collect();
    let g_a_free: Vec<i64> = (nb..nb + naf).collect();
    let g_b_free: Vec<i64> = (nb + naf..nb + naf + nbf).collect();

    // da = g · b over b's free dims → [batch, a_free, b's contracted dims in ascending order].
    let da = g.dot_general(
        b,
        DotDims {
            lhs_batch: g_batch.clone(),
            rhs_batch: d.rhs_batch.clone(),
            lhs_contract: g_b_free,
            rhs_contract: b_free.clone(),
        },
    );
    let mut b_contract_sorted = d.rhs_contract.clone();
    b_contract_sorted.sort();
    let mut perm_a = vec![0; ra];
    for (i, &dim) in d.lhs_batch.iter().enumerate() {
        perm_a[dim as usize] = i as i64;
    }
    for (j, &dim) in a_free.iter().enumerate() {
        perm_a[dim as usize] = nb + j as i64;
    }
    for (k, &dim) in d.lhs_contract.iter().enumerate() {
        perm_a[dim as usize] = nb + naf + rank_in(&b_contract_sorted, d.rhs_contract[k]);
    }

    // db = g · a over a's free dims → [batch, b_free, a's contracted dims in ascending order].
    let db = g.dot_general(
        a,
        DotDims {
            lhs_batch: g_batch,
            rhs_batch: d.lhs_batch.clone(),
            lhs_contract: g_a_free,
            rhs_contract: a_free,
        },
    );
    let mut a_contract_sorted = d.lhs_contract.clone();
    a_contract_sorted.sort();
    let mut perm_b = vec![0; rb];
    for (i, &dim) in d.rhs_batch.iter().enumerate() {
        perm_b[dim as usize] = i as i64;
    }
    for (j, &dim) in b_free.iter().enumerate() {
        perm_b[dim as usize] = nb + j as i64;
    }
    for (k, &dim) in d.rhs_contract.iter().enumerate() {
        perm_b[dim as usize] = nb + nbf + rank_in(&a_contract_sorted, d.lhs_contract[k]);
    }
    let identity = |p: &[i64]| p.iter().enumerate().all(|(i, &v)| v == i as i64);
    let da = if identity(&perm_a) {
        da
    } else {
        da.transpose(&perm_a)
    };
    let db = if identity(&perm_b) {
        db
    } else {
        db.transpose(&perm_b)
    };
    vec![Some(da), Some(db)]
}

/// Whether values of this type carry gradients.
pub(crate) fn differentiable(ty: ElementType) -> bool {
    ty.is_float()
}
