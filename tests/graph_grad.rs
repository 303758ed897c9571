//! Every differentiable op: our reverse-mode gradient against central finite differences, in f64.
//!
//! Each check builds loss = sum(f(inputs) · W) for a fixed random W, so every output element
//! matters, and compares d loss / d input against (loss(x + h) - loss(x - h)) / 2h with
//! h = 1e-6. Tolerance: |analytic - numeric| <= 2e-8 · max(1, |analytic|) (central differences
//! are exact to O(h²) ≈ 1e-12; f64 rounding of the loss over 2h contributes about 1e-10;
//! measured worst 1.05e-9).

mod common;

use common::{cpu_client, values};
use grpo_xla::graph::{DotDims, Graph, HostArray, Mesh, ScatterDims, Shape, Sharding, Tensor};
use grpo_xla::pjrt::Client;

struct Input {
    data: Vec<f64>,
    dims: Vec<i64>,
}

fn input(dims: &[i64], seed: u64) -> Input {
    let n: i64 = dims.iter().product();
    Input {
        data: values(n as usize, seed)
            .into_iter()
            .map(f64::from)
            .collect(),
        dims: dims.to_vec(),
    }
}

/// Values in [0.5, 1.5): for log, sqrt, pow, division.
fn positive(dims: &[i64], seed: u64) -> Input {
    let mut i = input(dims, seed);
    i.data.iter_mut().for_each(|v| *v = 1.0 + *v * 0.5);
    i
}

/// Finite-difference step and tolerance for f64 ops. Measured worst |analytic - numeric| /
/// max(1, |analytic|) over every check: 1.05e-9 (dot_general "general"), most near 1e-10; the
/// bound is ~19x that. (It was 1e-6, a thousand times the error actually seen.)
const H: f64 = 1e-6;
const TOLERANCE: f64 = 2e-8;

fn check(name: &str, inputs: &[Input], f: impl Fn(&Graph, &[Tensor]) -> Tensor) {
    check_on(&cpu_client(1), name, inputs, H, TOLERANCE, f)
}

fn check_on(
    client: &Client,
    name: &str,
    inputs: &[Input],
    h: f64,
    tolerance: f64,
    f: impl Fn(&Graph, &[Tensor]) -> Tensor,
) {
    let g = Graph::new(name);
    let params: Vec<Tensor> = inputs
        .iter()
        .enumerate()
        .map(|(i, x)| g.parameter(&format!("x{i}"), Shape::f64(&x.dims)))
        .collect();
    let out = f(&g, &params);
    let n = out.shape().element_count() as usize;
    let weights: Vec<f64> = values(n, 99).into_iter().map(f64::from).collect();
    let w = g.constant(&weights, &out.dims());
    let loss = (&out * &w).sum_all();
    let grads = g
        .grad(&loss, &params)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut results = vec![loss];
    results.extend(grads);
    let module = g.build(&results).unwrap_or_else(|e| panic!("{name}: {e}"));
    let exe = module
        .compile(client)
        .unwrap_or_else(|e| panic!("{name}: {e}\n{}", module.text));
    let run = |xs: &[Vec<f64>]| -> Vec<Vec<f64>> {
        let args: Vec<HostArray> = xs
            .iter()
            .zip(inputs)
            .map(|(x, i)| HostArray::new(x, &i.dims))
            .collect();
        grpo_xla::graph::exec::run_executable(&exe, client, &args)
            .unwrap()
            .iter()
            .map(|a| a.to_f64())
            .collect()
    };
    let base: Vec<Vec<f64>> = inputs.iter().map(|i| i.data.clone()).collect();
    let analytic = run(&base);
    let mut worst = 0f64;
    for (k, x) in inputs.iter().enumerate() {
        for j in 0..x.data.len() {
            let mut plus = base.clone();
            plus[k][j] += h;
            let mut minus = base.clone();
            minus[k][j] -= h;
            let numeric = (run(&plus)[0][0] - run(&minus)[0][0]) / (2.0 * h);
            let got = analytic[k + 1][j];
            let err = (got - numeric).abs() / got.abs().max(1.0);
            worst = worst.max(err);
            assert!(
                err <= tolerance,
                "{name}: d loss / d x{k}[{j}] = {got}, finite differences give {numeric}"
            );
        }
    }
    eprintln!("{name}: worst |analytic - numeric| / max(1, |analytic|) = {worst:.2e}");
}

#[test]
fn elementwise_unary_ops() {
    let x = || vec![input(&[2, 3], 1)];
    check("neg", &x(), |_, p| -&p[0]);
    check("exp", &x(), |_, p| p[0].exp());
    check("tanh", &x(), |_, p| p[0].tanh());
    check("abs", &x(), |_, p| p[0].abs());
    check("sigmoid", &x(), |_, p| p[0].sigmoid());
    check("sin", &x(), |_, p| p[0].sin());
    check("cos", &x(), |_, p| p[0].cos());
    check("log", &[positive(&[2, 3], 2)], |_, p| p[0].log());
    check("log1p", &[positive(&[2, 3], 3)], |_, p| p[0].log1p());
    check("sqrt", &[positive(&[2, 3], 4)], |_, p| p[0].sqrt());
    check("rsqrt", &[positive(&[2, 3], 5)], |_, p| p[0].rsqrt());
    check("gelu_tanh", &x(), |_, p| p[0].gelu_tanh());
    check("clamp", &x(), |_, p| p[0].clamp(-0.3, 0.4));
}

#[test]
fn elementwise_binary_ops_with_broadcasting() {
    let xy = || vec![input(&[2, 3], 1), input(&[3], 2)];
    check("add", &xy(), |_, p| &p[0] + &p[1]);
    check("sub", &xy(), |_, p| &p[0] - &p[1]);
    check("mul", &xy(), |_, p| &p[0] * &p[1]);
    check("div", &[input(&[2, 3], 1), positive(&[3], 2)], |_, p| {
        &p[0] / &p[1]
    });
    check("max", &[input(&[2, 3], 3), input(&[2, 3], 4)], |_, p| {
        p[0].maximum(&p[1])
    });
    check("min", &[input(&[2, 3], 3), input(&[2, 3], 4)], |_, p| {
        p[0].minimum(&p[1])
    });
    check("pow", &[positive(&[2, 3], 5), input(&[2, 3], 6)], |_, p| {
        p[0].pow(&p[1])
    });
    check("select", &[input(&[2, 3], 7), input(&[2, 3], 8)], |_, p| {
        p[0].gt(&p[1]).select(&(&p[0] * 2.0), &p[1].exp())
    });
    check("scalar ops", &[input(&[4], 9)], |_, p| {
        (&p[0] * 3.0 + 1.0) / 2.0 - 0.5
    });
}

#[test]
fn structural_ops() {
    check("broadcast_in_dim", &[input(&[3, 1], 1)], |_, p| {
        p[0].broadcast_in_dim(&[2, 3, 4], &[1, 2])
    });
    check("reshape", &[input(&[2, 6], 2)], |_, p| {
        p[0].reshape(&[3, 4]).exp()
    });
    check("transpose", &[input(&[2, 3, 4], 3)], |_, p| {
        p[0].transpose(&[2, 0, 1]).tanh()
    });
    check("reverse", &[input(&[3, 4], 4)], |_, p| {
        p[0].reverse(&[1]) * &p[0]
    });
    check("slice", &[input(&[5, 6], 5)], |_, p| {
        p[0].slice(&[1, 0], &[5, 6], &[2, 3]).exp()
    });
    check(
        "concatenate",
        &[input(&[2, 3], 6), input(&[2, 2], 7)],
        |_, p| Tensor::concatenate(&[p[0].clone(), p[1].clone()], 1).tanh(),
    );
    check("pad", &[input(&[2, 3], 8)], |_, p| {
        p[0].pad(0.5, &[1, 0], &[0, 2], &[1, 1]).exp()
    });
}

/// `convert` to f32 and back: its gradient is converted back to the input's type. The inputs are
/// multiples of 2^-23 in [-1, 1) and the step is h = 2^-10, so x ± h is exactly representable in
/// f32: the round trip loses nothing, the function is linear, and central differences are exact
/// up to f64 rounding. The cotangent crossing the f32 value is rounded to f32 on the way back (as
/// in JAX), so it is kept exact too: 2·w, with w a multiple of 2^-23. A dropped or mis-scaled
/// convert gradient fails at the f64 tolerance.
#[test]
fn convert_through_f32_passes_the_gradient() {
    use grpo_xla::pjrt::ElementType::{F32, F64};
    let x = input(&[2, 3], 9);
    assert!(x
        .data
        .iter()
        .all(|v| (v * 2f64.powi(23)).fract() == 0.0 && v.abs() < 1.0));
    check_on(
        &cpu_client(1),
        "convert f64 -> f32 -> f64",
        &[x],
        2f64.powi(-10),
        TOLERANCE,
        |_, p| p[0].convert(F32).convert(F64) * 2.0 - &p[0] * 0.25,
    );
}

#[test]
fn dynamic_slices() {
    check("dynamic_slice", &[input(&[4, 5], 1)], |g, p| {
        let (i, j) = (
            g.scalar(1.0, grpo_xla::pjrt::ElementType::S32),
            g.scalar(2.0, grpo_xla::pjrt::ElementType::S32),
        );
        p[0].dynamic_slice(&[i, j], &[2, 3]).exp()
    });
    check(
        "dynamic_update_slice",
        &[input(&[4, 5], 2), input(&[2, 2], 3)],
        |g, p| {
            let (i, j) = (
                g.scalar(2.0, grpo_xla::pjrt::ElementType::S32),
                g.scalar(1.0, grpo_xla::pjrt::ElementType::S32),
            );
            p[0].tanh().dynamic_update_slice(&p[1].exp(), &[i, j])
        },
    );
}

#[test]
fn gather_and_scatter() {
    check("take (embedding lookup)", &[input(&[5, 3], 1)], |g, p| {
        p[0].take(&g.constant(&[4i32, 0, 4, 2, 1, 4], &[2, 3]))
    });
    check(
        "take_along_last (token log-probs)",
        &[input(&[2, 3, 5], 2)],
        |g, p| p[0].take_along_last(&g.constant(&[4i32, 0, 2, 2, 1, 3], &[2, 3])),
    );
    check(
        "scatter_add",
        &[input(&[5, 3], 3), input(&[4, 3], 4)],
        |g, p| {
            let ids = g.constant(&[1i32, 3, 1, 0], &[4]);
            p[0].tanh().scatter_add(
                &ids,
                &p[1].exp(),
                ScatterDims {
                    update_window_dims: vec![1],
                    inserted_window_dims: vec![0],
                    scatter_dims_to_operand_dims: vec![0],
                    index_vector_dim: 1,
                },
            )
        },
    );
}

#[test]
fn dot_general_in_every_layout() {
    check("matmul", &[input(&[3, 4], 1), input(&[4, 2], 2)], |_, p| {
        p[0].matmul(&p[1])
    });
    check(
        "batched matmul",
        &[input(&[2, 3, 4], 3), input(&[2, 4, 5], 4)],
        |_, p| p[0].matmul(&p[1]),
    );
    // Batch dims not leading, two contracting dims in crossed order, free dims on both sides.
    check(
        "general",
        &[input(&[3, 2, 4, 5], 5), input(&[5, 4, 2, 6], 6)],
        |_, p| {
            p[0].dot_general(
                &p[1],
                DotDims {
                    lhs_batch: vec![1],
                    rhs_batch: vec![2],
                    lhs_contract: vec![3, 2],
                    rhs_contract: vec![0, 1],
                },
            )
        },
    );
    check(
        "einsum btnh,snh->btns",
        &[input(&[2, 3, 2, 4], 7), input(&[5, 2, 4], 8)],
        |_, p| {
            p[0].dot_general(
                &p[1],
                DotDims {
                    lhs_batch: vec![2],
                    rhs_batch: vec![1],
                    lhs_contract: vec![3],
                    rhs_contract: vec![2],
                },
            )
        },
    );
}

#[test]
fn reductions_and_fused_ops() {
    check("sum", &[input(&[2, 3, 4], 1)], |_, p| {
        p[0].sum(&[0, 2], false)
    });
    check("sum keepdims", &[input(&[2, 3], 2)], |_, p| {
        p[0].sum(&[1], true) * &p[0]
    });
    check("mean", &[input(&[2, 3], 3)], |_, p| p[0].mean(&[0], false));
    check("max", &[input(&[3, 4], 4)], |_, p| p[0].max(&[1], false));
    check("min", &[input(&[3, 4], 5)], |_, p| p[0].min(&[0], false));
    check("cumsum", &[input(&[2, 7], 6)], |_, p| p[0].cumsum(1).tanh());
    check("log_softmax", &[input(&[2, 5], 7)], |_, p| {
        p[0].log_softmax(-1)
    });
    check("softmax", &[input(&[3, 4], 8)], |_, p| p[0].softmax(0));
    check("logsumexp", &[input(&[3, 4], 9)], |_, p| {
        p[0].logsumexp(1, false)
    });
}

#[test]
fn stop_gradient_blocks_the_gradient() {
    // d/dx sum(exp(x) · sg(x)) = exp(x) · x: the stopped factor is a constant.
    let g = Graph::new("stop_gradient");
    let x = g.parameter("x", Shape::f64(&[3]));
    let loss = (&x.exp() * &x.stop_gradient()).sum_all();
    let grad = g.grad(&loss, &[x]).unwrap();
    let xs = [0.3f64, -1.2, 2.0];
    let out = g
        .build(&grad)
        .unwrap()
        .run(&cpu_client(1), &[HostArray::new(&xs, &[3])])
        .unwrap();
    for (got, x) in out[0].to_f64().iter().zip(xs) {
        assert!(
            (got - x.exp() * x).abs() < 1e-12,
            "{got} vs {}",
            x.exp() * x
        );
    }
}

#[test]
fn rematerialized_block_gives_the_same_gradient() {
    check(
        "checkpointed MLP",
        &[input(&[2, 4], 1), input(&[4, 4], 2)],
        |g, p| {
            let h = g.checkpoint(true, || p[0].matmul(&p[1]).tanh().matmul(&p[1]).gelu_tanh());
            h.exp()
        },
    );
    // The recomputation really happens: the backward holds a second copy behind a barrier.
    let g = Graph::new("remat");
    let x = g.parameter("x", Shape::f64(&[2, 4]));
    let y = g.checkpoint(true, || x.tanh().exp());
    let loss = y.sum_all();
    let grads = g.grad(&loss, &[x]).unwrap();
    let text = g.build(&[loss, grads[0].clone()]).unwrap().text;
    assert!(
        text.contains("optimization_barrier"),
        "no recomputation in:\n{text}"
    );
    assert_eq!(
        text.matches("stablehlo.tanh").count(),
        2,
        "tanh should be recomputed once:\n{text}"
    );
}

#[test]
fn an_optimization_barrier_passes_every_gradient_through() {
    // Both of the barrier's results carry a cotangent: its rule used to handle only a first
    // result without one.
    check(
        "optimization barrier",
        &[input(&[2, 3], 1), input(&[2, 3], 2)],
        |_, p| {
            let [a, b]: [Tensor; 2] = Tensor::optimization_barrier(&[p[0].tanh(), p[1].exp()])
                .try_into()
                .unwrap();
            &a * &b
        },
    );
}

#[test]
fn sharding_constraints_pass_gradients_through() {
    let client = cpu_client(1);
    check_on(
        &client,
        "sharding constraint",
        &[input(&[4, 2], 1)],
        H,
        TOLERANCE,
        |g, p| {
            g.set_mesh(Mesh::new(&[("x", 1)]));
            p[0].with_sharding(Sharding::split(2, 0, "x")).exp()
        },
    );
}
