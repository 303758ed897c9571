//! Ops without gradients, loops, random numbers, and the errors the builder reports.

mod common;

use common::{cpu_client, values};
use grpo_xla::graph::{Graph, GraphError, HostArray, Shape, Tensor};
use grpo_xla::pjrt::ElementType;

#[test]
fn a_shape_mismatch_names_the_op_both_shapes_and_the_line() {
    let g = Graph::new("bad");
    let a = g.parameter("a", Shape::f32(&[2, 3]));
    let b = g.parameter("b", Shape::f32(&[3, 2]));
    let line = line!() + 1;
    let c = &a + &b;
    // Everything computed from the poisoned value builds without a second error.
    let d = c.exp().sum_all();
    let err = g.build(&[d]).unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(err, GraphError::Shape { op: "add", .. }),
        "{message}"
    );
    assert!(
        message.contains("f32[2,3]") && message.contains("f32[3,2]"),
        "{message}"
    );
    assert!(
        message.contains(&format!("tests/graph_ops.rs:{line}")),
        "{message}"
    );
    assert_eq!(g.errors().len(), 1);

    let g = Graph::new("bad_matmul");
    let x = g.parameter("x", Shape::f32(&[4, 5]));
    let w = g.parameter("w", Shape::f32(&[4, 5]));
    let err = g.build(&[x.matmul(&w)]).unwrap_err().to_string();
    assert!(
        err.starts_with("dot_general") && err.contains("f32[4,5]"),
        "{err}"
    );

    let g = Graph::new("bad_type");
    let x = g.parameter("x", Shape::f32(&[4]));
    let y = g.parameter("y", Shape::bf16(&[4]));
    let err = g.build(&[&x * &y]).unwrap_err().to_string();
    assert!(
        err.contains("element types differ") && err.contains("bf16[4]"),
        "{err}"
    );

    let g = Graph::new("bad_reshape");
    let x = g.parameter("x", Shape::f32(&[4, 3]));
    let err = g.build(&[x.reshape(&[5, 2])]).unwrap_err().to_string();
    assert!(
        err.starts_with("reshape") && err.contains("f32[4,3]") && err.contains("[5, 2]"),
        "{err}"
    );
}

#[test]
fn while_loop_carries_state_and_captures_outer_values() {
    // Fibonacci-like recurrence with a captured scale: (a, b) <- (b, a + b·s), 10 times.
    let g = Graph::new("loop");
    let scale = g.parameter("scale", Shape::f32(&[]));
    let i0 = g.scalar(0.0, ElementType::S32);
    let a0 = g.scalar(0.0, ElementType::F32);
    let b0 = g.scalar(1.0, ElementType::F32);
    let out = g.while_loop(
        &[i0, a0, b0],
        |s| s[0].lt(&s[0].scalar_like(10.0)),
        |s| vec![&s[0] + 1.0, s[2].clone(), &s[1] + &(&s[2] * &scale)],
    );
    let module = g.build(&[out[1].clone(), out[2].clone()]).unwrap();
    let got = module
        .run(&cpu_client(1), &[HostArray::scalar(2.0f32)])
        .unwrap();
    let (mut a, mut b) = (0f32, 1f32);
    for _ in 0..10 {
        (a, b) = (b, a + b * 2.0);
    }
    assert_eq!(
        (got[0].to_vec::<f32>()[0], got[1].to_vec::<f32>()[0]),
        (a, b)
    );

    let g = Graph::new("bad_loop");
    let x = g.parameter("x", Shape::f32(&[3]));
    let out = g.while_loop(
        std::slice::from_ref(&x),
        |s| s[0].sum_all().lt(&x.sum_all()),
        |s| vec![s[0].sum_all()],
    );
    let err = g.build(&out).unwrap_err().to_string();
    assert!(
        err.starts_with("while") && err.contains("f32[]") && err.contains("f32[3]"),
        "{err}"
    );
}

#[test]
fn sort_top_k_argmax_cumsum_and_iota() {
    let data = values(2 * 9, 5);
    let g = Graph::new("select");
    let x = g.parameter("x", Shape::f32(&[2, 9]));
    let (top, idx) = x.top_k(3);
    let am = x.argmax(-1);
    let cs = x.cumsum(1);
    let sorted = Tensor::sort(std::slice::from_ref(&x), 1, false);
    let iota = g.iota(Shape::i32(&[2, 3]), 1);
    let module = g
        .build(&[top, idx, am, cs, sorted[0].clone(), iota])
        .unwrap();
    let out = module
        .run(&cpu_client(1), &[HostArray::new(&data, &[2, 9])])
        .unwrap();
    for row in 0..2 {
        let r = &data[row * 9..(row + 1) * 9];
        let mut order: Vec<usize> = (0..9).collect();
        order.sort_by(|&a, &b| r[b].total_cmp(&r[a]));
        let top = &out[0].to_vec::<f32>()[row * 3..row * 3 + 3];
        let idx = &out[1].to_vec::<i32>()[row * 3..row * 3 + 3];
        assert_eq!(top, &[r[order[0]], r[order[1]], r[order[2]]]);
        assert_eq!(idx, &[order[0] as i32, order[1] as i32, order[2] as i32]);
        assert_eq!(out[2].to_vec::<i32>()[row], order[0] as i32);
        let mut running = 0f32;
        for (j, v) in r.iter().enumerate() {
            running += v;
            let got = out[3].to_vec::<f32>()[row * 9 + j];
            assert!((got - running).abs() < 1e-6, "cumsum {got} vs {running}");
        }
        let mut asc = r.to_vec();
        asc.sort_by(f32::total_cmp);
        assert_eq!(
            &out[4].to_vec::<f32>()[row * 9..row * 9 + 9],
            asc.as_slice()
        );
    }
    assert_eq!(out[5].to_vec::<i32>(), vec![0, 1, 2, 0, 1, 2]);
}

#[test]
fn argmax_picks_the_first_of_ties() {
    let g = Graph::new("ties");
    let x = g.constant(&[1.0f32, 3.0, 3.0, 0.0], &[4]);
    let out = g
        .build(&[x.argmax(0)])
        .unwrap()
        .run(&cpu_client(1), &[])
        .unwrap();
    assert_eq!(out[0].to_vec::<i32>(), vec![1]);
}

/// The blocked `max_and_argmax` against the host's first-maximum, along either axis, with ties
/// inside a block and across blocks, on a length with blocks (260 = 20 x 13) and a prime one
/// (the one-pass fallback).
#[test]
fn max_and_argmax_finds_the_first_maximum_along_either_axis() {
    for (n, cols) in [(260usize, 3usize), (257, 2)] {
        let mut data = values(n * cols, 11);
        // Column 0: a tie within one block of 13 (rows 40 and 41); column 1: ties in
        // different blocks (rows 5 and 200), the first of which must win.
        for (row, col) in [(40, 0), (41, 0), (5, 1), (200, 1)] {
            data[row * cols + col] = 2.0;
        }
        let first_max = |col: usize| {
            let column: Vec<f32> = (0..n).map(|r| data[r * cols + col]).collect();
            let top = column.iter().copied().fold(f32::MIN, f32::max);
            (top, column.iter().position(|&v| v == top).unwrap() as i32)
        };
        let expected: Vec<(f32, i32)> = (0..cols).map(first_max).collect();
        let g = Graph::new("max_and_argmax");
        let x = g.parameter("x", Shape::f32(&[n as i64, cols as i64]));
        let (max0, arg0) = x.max_and_argmax(0);
        let (max1, arg1) = x.transpose(&[1, 0]).max_and_argmax(1);
        let out = g
            .build(&[max0, arg0, max1, arg1])
            .unwrap()
            .run(
                &cpu_client(1),
                &[HostArray::new(&data, &[n as i64, cols as i64])],
            )
            .unwrap();
        for (k, axis) in [(0, "leading"), (2, "last")] {
            let got: Vec<(f32, i32)> = out[k]
                .to_vec::<f32>()
                .into_iter()
                .zip(out[k + 1].to_vec::<i32>())
                .collect();
            assert_eq!(got, expected, "n = {n}, along the {axis} axis");
        }
        assert_eq!(expected[0].1, 40);
        assert_eq!(expected[1].1, 5);
    }
}

#[test]
fn random_numbers_are_seeded_uniform_and_gumbel() {
    let g = Graph::new("rng");
    let state = g.parameter("state", Shape::new(ElementType::U64, &[2]));
    let (s1, u) = g.uniform(&state, Shape::f32(&[4096]));
    let (_, gum) = g.gumbel(&s1, Shape::f32(&[4096]));
    let module = g.build(&[u, gum]).unwrap();
    let client = cpu_client(1);
    let run = |seed: u64| {
        module
            .run(&client, &[HostArray::new(&[seed, 0u64], &[2])])
            .unwrap()
    };
    let (a, b, c) = (run(7), run(7), run(8));
    assert_eq!(a, b, "same seed, same numbers");
    assert_ne!(a[0], c[0], "another seed, other numbers");
    let u = a[0].to_vec::<f32>();
    assert!(u.iter().all(|&v| (0.0..1.0).contains(&v)));
    let mean = u.iter().sum::<f32>() / u.len() as f32;
    // Mean of 4096 uniforms: standard error 0.0045; 5 sigma.
    assert!((mean - 0.5).abs() < 0.023, "uniform mean {mean}");
    let gum = a[1].to_vec::<f32>();
    let gmean = gum.iter().sum::<f32>() / gum.len() as f32;
    // Gumbel mean is the Euler–Mascheroni constant 0.5772, std 1.28: standard error 0.02; 5 sigma.
    assert!((gmean - 0.5772).abs() < 0.1, "gumbel mean {gmean}");
}

#[test]
fn a_donated_parameter_aliases_its_output() {
    let g = Graph::new("donate");
    let acc = g.parameter("acc", Shape::f32(&[8]));
    let x = g.parameter("x", Shape::f32(&[8]));
    g.donate_parameter(&acc, 0);
    let module = g.build(&[&acc + &x]).unwrap();
    assert!(module.text.contains("tf.aliasing_output = 0 : i32"));
    let client = cpu_client(1);
    let exe = module.compile(&client).unwrap();
    let a = client.buffer_from_host(&[1f32; 8], &[8], 0).unwrap();
    let b = client.buffer_from_host(&[2f32; 8], &[8], 0).unwrap();
    let address = a.device_address().unwrap();
    let out = exe
        .execute(vec![
            grpo_xla::pjrt::Arg::Donate(a),
            grpo_xla::pjrt::Arg::Borrow(&b),
        ])
        .unwrap();
    assert_eq!(out[0].device_address().unwrap(), address);
    assert_eq!(out[0].to_vec::<f32>().unwrap(), vec![3f32; 8]);
}

#[test]
fn an_xla_error_points_at_the_rust_line() {
    let g = Graph::new("located");
    let x = g.parameter("x", Shape::f32(&[4]));
    let y = g.scope("block0", || x.exp());
    let text = g.build(&[y]).unwrap().text;
    assert!(
        text.contains("loc(\"block0\"(\"tests/graph_ops.rs\":"),
        "{text}"
    );
}
