//! The PJRT runtime against the CPU plugin: transfers, programs, SPMD, donation, cache, errors.

mod common;

use common::{cpu_client, max_rel_err, values};
use grpo_xla::pjrt::{Arg, CompileOptions, Element, ElementType, Error, ExecutableCache, Plugin};
use half::{bf16, f16};

fn round_trip<T: Element + PartialEq + std::fmt::Debug>(data: Vec<T>, dims: &[i64]) {
    let client = cpu_client(1);
    let buffer = client.buffer_from_host(&data, dims, 0).unwrap();
    assert_eq!(buffer.element_type(), T::TYPE);
    assert_eq!(buffer.dims(), dims);
    assert_eq!(
        buffer.to_vec::<T>().unwrap(),
        data,
        "{} changed on the way",
        T::TYPE
    );
}

#[test]
fn every_dtype_round_trips_unchanged() {
    let dims = [2, 3];
    round_trip(
        vec![1.5f32, -0.0, f32::MAX, f32::MIN_POSITIVE, 1e-45, -3.25],
        &dims,
    );
    round_trip(vec![1.5f64, -0.0, f64::MAX, 1e-300, 2.0, -3.25], &dims);
    round_trip(
        [1.5f32, -2.0, 65504.0, 6e-5, 0.0, -0.1]
            .map(f16::from_f32)
            .to_vec(),
        &dims,
    );
    round_trip(
        [1.5f32, -2.0, 3.0e38, 1e-38, 0.0, -0.1]
            .map(bf16::from_f32)
            .to_vec(),
        &dims,
    );
    round_trip(vec![i32::MIN, -1, 0, 1, 7, i32::MAX], &dims);
    round_trip(vec![0u32, 1, 2, 1 << 31, 12345, u32::MAX], &dims);
    round_trip(vec![i64::MIN, -1, 0, 1, 1 << 40, i64::MAX], &dims);
    round_trip(vec![0u64, 1, u64::MAX, 1 << 63, 5, 6], &dims);
    round_trip(vec![0u8, 1, 127, 128, 254, 255], &dims);
    round_trip(vec![-128i8, -1, 0, 1, 100, 127], &dims);
    round_trip(vec![true, false, false, true, true, false], &dims);
    // Scalars and empty arrays too.
    round_trip(vec![42.0f32], &[]);
    round_trip(Vec::<f32>::new(), &[0, 4]);
}

#[test]
fn a_buffer_refuses_the_wrong_host_type() {
    let client = cpu_client(1);
    let buffer = client.buffer_from_host(&[1.0f32, 2.0], &[2], 0).unwrap();
    let err = buffer.to_vec::<i32>().unwrap_err().to_string();
    assert!(err.contains("holds f32") && err.contains("i32"), "{err}");
    let err = client
        .buffer_from_host(&[1.0f32, 2.0], &[3], 0)
        .unwrap_err()
        .to_string();
    assert!(err.contains("8 bytes") && err.contains("12"), "{err}");
    assert!(ElementType::ALL.iter().all(|t| t.size_in_bytes() > 0));
}

/// x ← tanh(x·w) three times in a `while`, and 16 random words from a threefry state.
const LOOP_AND_RNG: &str = r#"func.func public @main(%x: tensor<4x8xf32>, %w: tensor<8x8xf32>, %state: tensor<2xui64>)
    -> (tensor<4x8xf32>, tensor<2xui64>, tensor<16xui32>) {
  %zero = stablehlo.constant dense<0> : tensor<i32>
  %end = stablehlo.constant dense<3> : tensor<i32>
  %one = stablehlo.constant dense<1> : tensor<i32>
  %r:2 = stablehlo.while(%i = %zero, %acc = %x) : tensor<i32>, tensor<4x8xf32>
    cond {
      %lt = stablehlo.compare LT, %i, %end : (tensor<i32>, tensor<i32>) -> tensor<i1>
      stablehlo.return %lt : tensor<i1>
    } do {
      %mm = stablehlo.dot_general %acc, %w, contracting_dims = [1] x [0] : (tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<4x8xf32>
      %t = stablehlo.tanh %mm : tensor<4x8xf32>
      %next = stablehlo.add %i, %one : tensor<i32>
      stablehlo.return %next, %t : tensor<i32>, tensor<4x8xf32>
    }
  %new_state, %bits = stablehlo.rng_bit_generator %state, algorithm = THREE_FRY : (tensor<2xui64>) -> (tensor<2xui64>, tensor<16xui32>)
  return %r#1, %new_state, %bits : tensor<4x8xf32>, tensor<2xui64>, tensor<16xui32>
}"#;

const LOOP_AND_RNG_REFERENCE: &str = r#"
import jax, jax.numpy as jnp
def main(inputs):
    x, w, key = arr(inputs["x"]), arr(inputs["w"]), arr(inputs["key"])
    for _ in range(3):
        x = jnp.tanh(jnp.dot(x, w, precision="highest"))
    state, bits = jax.lax.rng_bit_generator(jnp.asarray(key), (16,), dtype=jnp.uint32,
                                            algorithm=jax.lax.RandomAlgorithm.RNG_THREE_FRY)
    return {"x": out(np.asarray(x, np.float32)), "bits": out(bits), "state": out(state)}
"#;

#[test]
fn dot_while_and_rng_match_the_jax_reference() {
    let client = cpu_client(1);
    let exe = client
        .compile(LOOP_AND_RNG, &CompileOptions::default())
        .unwrap();
    let x = values(32, 1);
    let w: Vec<f32> = values(64, 2).iter().map(|v| v * 0.5).collect();
    let state = [0x0123_4567_89ab_cdefu64, 42];
    let out = exe
        .execute(vec![
            Arg::Borrow(&client.buffer_from_host(&x, &[4, 8], 0).unwrap()),
            Arg::Borrow(&client.buffer_from_host(&w, &[8, 8], 0).unwrap()),
            Arg::Borrow(&client.buffer_from_host(&state, &[2], 0).unwrap()),
        ])
        .unwrap();
    let ours_x: Vec<f64> = out[0]
        .to_vec::<f32>()
        .unwrap()
        .iter()
        .map(|&v| v as f64)
        .collect();
    let ours_state = out[1].to_vec::<u64>().unwrap();
    let ours_bits = out[2].to_vec::<u32>().unwrap();

    // JAX keys are u32[4]: the little-endian halves of our two u64 words.
    let key: Vec<u32> = state
        .iter()
        .flat_map(|s| [*s as u32, (s >> 32) as u32])
        .collect();
    let reference = grpo_xla::reference::run(
        LOOP_AND_RNG_REFERENCE,
        &serde_json::json!({
            "x": grpo_xla::reference::array(&[4, 8], "f32", &x),
            "w": grpo_xla::reference::array(&[8, 8], "f32", &w),
            "key": grpo_xla::reference::array(&[4], "ui32", &key),
        }),
    )
    .unwrap();
    let ref_x = grpo_xla::reference::f64s(&reference["x"]).unwrap();
    // Tolerance: both sides run XLA's f32 dot and tanh; different XLA versions may order the sum
    // differently. Measured 1.9e-16 (the same f32 values) with the plugin and jaxlib 0.10.2; the
    // bound allows a few f32 ulps (it was 1e-5).
    let err = max_rel_err(&ours_x, &ref_x, 1e-3);
    eprintln!("while/dot_general vs JAX: max rel err {err:.2e}");
    assert!(
        err < 1e-6,
        "while/dot_general result differs from JAX: max rel err {err}"
    );
    let ref_bits: Vec<u32> = grpo_xla::reference::u64s(&reference["bits"])
        .unwrap()
        .iter()
        .map(|&v| v as u32)
        .collect();
    assert_eq!(
        ours_bits, ref_bits,
        "threefry bits differ from jax.lax.rng_bit_generator"
    );
    let ref_state: Vec<u64> = grpo_xla::reference::u64s(&reference["state"])
        .unwrap()
        .chunks(2)
        .map(|c| c[0] | (c[1] << 32))
        .collect();
    assert_eq!(ours_state, ref_state, "threefry state differs");
}

/// sum over rows of (x·w), with x split by rows across the partitions.
fn sharded_program(partitions: usize) -> String {
    let n = partitions;
    format!(
        r#"module @sharded attributes {{mhlo.num_partitions = {n} : i32, mhlo.num_replicas = 1 : i32}} {{
  func.func public @main(%x: tensor<8x16xf32> {{mhlo.sharding = "{{devices=[{n},1]<=[{n}]}}"}},
                         %w: tensor<16x4xf32> {{mhlo.sharding = "{{replicated}}"}})
      -> (tensor<4xf32> {{mhlo.sharding = "{{replicated}}"}}) {{
    %y = stablehlo.dot_general %x, %w, contracting_dims = [1] x [0] : (tensor<8x16xf32>, tensor<16x4xf32>) -> tensor<8x4xf32>
    %zero = stablehlo.constant dense<0.0> : tensor<f32>
    %s = stablehlo.reduce(%y init: %zero) applies stablehlo.add across dimensions = [0] : (tensor<8x4xf32>, tensor<f32>) -> tensor<4xf32>
    return %s : tensor<4xf32>
  }}
}}"#
    )
}

#[test]
fn four_device_spmd_equals_one_device() {
    let x = values(8 * 16, 3);
    let w = values(16 * 4, 4);

    let single = cpu_client(1);
    let exe = single
        .compile(&sharded_program(1), &CompileOptions::default())
        .unwrap();
    let expected = exe
        .execute(vec![
            Arg::Borrow(&single.buffer_from_host(&x, &[8, 16], 0).unwrap()),
            Arg::Borrow(&single.buffer_from_host(&w, &[16, 4], 0).unwrap()),
        ])
        .unwrap()[0]
        .to_vec::<f32>()
        .unwrap();

    let client = cpu_client(4);
    let exe = client
        .compile(&sharded_program(4), &CompileOptions::spmd(4))
        .unwrap();
    assert_eq!(exe.num_devices(), 4);
    assert_eq!(exe.num_partitions(), 4);
    let shards: Vec<_> = (0..4)
        .map(|d| {
            client
                .buffer_from_host(&x[d * 32..(d + 1) * 32], &[2, 16], d)
                .unwrap()
        })
        .collect();
    let ws: Vec<_> = (0..4)
        .map(|d| client.buffer_from_host(&w, &[16, 4], d).unwrap())
        .collect();
    let args = (0..4)
        .map(|d| vec![Arg::Borrow(&shards[d]), Arg::Borrow(&ws[d])])
        .collect();
    let outputs = exe.execute_sharded(args).unwrap();
    assert!(
        exe.optimized_program().unwrap().contains("all-reduce"),
        "SPMD program has no all-reduce"
    );
    for (d, out) in outputs.iter().enumerate() {
        assert_eq!(out[0].device_index().unwrap(), d);
        let got = out[0].to_vec::<f32>().unwrap();
        let err = max_rel_err(
            &got.iter().map(|&v| v as f64).collect::<Vec<_>>(),
            &expected.iter().map(|&v| v as f64).collect::<Vec<_>>(),
            1e-3,
        );
        // The sharded sum adds partial sums in another order: f32 rounding only. Measured 4.3e-7
        // on every device; the bound is ~23x.
        eprintln!("device {d}: max rel err {err:.2e}");
        assert!(err < 1e-5, "device {d}: {got:?} vs {expected:?}");
    }
}

const ACCUMULATE: &str = r#"func.func public @main(%acc: tensor<1024xf32> {tf.aliasing_output = 0 : i32}, %x: tensor<1024xf32>) -> tensor<1024xf32> {
  %y = stablehlo.add %acc, %x : tensor<1024xf32>
  return %y : tensor<1024xf32>
}"#;

#[test]
fn a_donated_input_is_consumed_and_aliased_by_the_output() {
    let client = cpu_client(1);
    let exe = client
        .compile(ACCUMULATE, &CompileOptions::default())
        .unwrap();
    let ones = vec![1.0f32; 1024];
    let acc = client.buffer_from_host(&ones, &[1024], 0).unwrap();
    let x = client.buffer_from_host(&ones, &[1024], 0).unwrap();
    let address = acc.device_address().unwrap();
    // `Arg::Donate` moves `acc` into the call: using it afterwards does not compile.
    let out = exe
        .execute(vec![Arg::Donate(acc), Arg::Borrow(&x)])
        .unwrap();
    assert_eq!(
        out[0].device_address().unwrap(),
        address,
        "the output does not reuse the donated memory"
    );
    assert!(out[0].to_vec::<f32>().unwrap().iter().all(|&v| v == 2.0));

    // Borrowed, the same argument is protected: the call copies and the input survives.
    let acc = client.buffer_from_host(&ones, &[1024], 0).unwrap();
    let out = exe
        .execute(vec![Arg::Borrow(&acc), Arg::Borrow(&x)])
        .unwrap();
    assert!(!acc.is_deleted().unwrap());
    assert_ne!(
        out[0].device_address().unwrap(),
        acc.device_address().unwrap()
    );
    assert_eq!(acc.to_vec::<f32>().unwrap(), ones);
    // Chained donation, as a train step uses it: state flows from output to next input.
    let mut state = out.into_iter().next().unwrap();
    for _ in 0..3 {
        state = exe
            .execute(vec![Arg::Donate(state), Arg::Borrow(&x)])
            .unwrap()
            .remove(0);
    }
    assert!(state.to_vec::<f32>().unwrap().iter().all(|&v| v == 5.0));
}

#[test]
fn a_second_compile_is_served_by_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let client = cpu_client(1).with_cache(ExecutableCache::on_disk(dir.path()));
    let options = CompileOptions::default();
    client.compile(ACCUMULATE, &options).unwrap();
    assert_eq!(client.cache_stats().compiles, 1);
    client.compile(ACCUMULATE, &options).unwrap();
    let stats = client.cache_stats();
    assert_eq!((stats.compiles, stats.memory_hits), (1, 1), "{stats:?}");

    // A fresh cache over the same folder (a later process) loads the serialized executable.
    let fresh = cpu_client(1).with_cache(ExecutableCache::on_disk(dir.path()));
    let exe = fresh.compile(ACCUMULATE, &options).unwrap();
    let stats = fresh.cache_stats();
    assert_eq!((stats.compiles, stats.disk_hits), (0, 1), "{stats:?}");
    let x = fresh.buffer_from_host(&[1.0f32; 1024], &[1024], 0).unwrap();
    let out = exe.execute(vec![Arg::Borrow(&x), Arg::Borrow(&x)]).unwrap();
    assert!(out[0].to_vec::<f32>().unwrap().iter().all(|&v| v == 2.0));

    // Other options are another program.
    fresh
        .compile(
            ACCUMULATE,
            &CompileOptions {
                num_replicas: 1,
                ..options.clone().with_shardy(true)
            },
        )
        .unwrap();
    assert_eq!(fresh.cache_stats().compiles, 1);
}

#[test]
fn malformed_stablehlo_fails_with_the_parser_message() {
    let client = cpu_client(1);
    let bad = "func.func public @main(%x: tensor<4xf32>) -> tensor<4xf32> {\n  %y = stablehlo.frobnicate %x : tensor<4xf32>\n  return %y : tensor<4xf32>\n}";
    let err = client.compile(bad, &CompileOptions::default()).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, Error::Pjrt { .. }), "{message}");
    assert!(
        message.contains("stablehlo.frobnicate"),
        "the parser's message is lost: {message}"
    );
    assert_eq!(
        client.cache_stats().compiles,
        0,
        "a failed compile must not be cached"
    );
}

#[test]
fn a_missing_plugin_says_how_to_install_it() {
    let err = Plugin::load(std::path::Path::new("/nonexistent/plugin.so"))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("/nonexistent/plugin.so"), "{err}");

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_grpo-xla"))
        .args(["devices", "--device", "cpu"])
        .env(
            "GRPO_XLA_CPU_PLUGIN",
            "/nonexistent/pjrt_c_api_cpu_plugin.so",
        )
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no cpu PJRT plugin found"), "{stderr}");
    assert!(
        stderr.contains("scripts/setup.sh"),
        "no install command in: {stderr}"
    );
    assert!(stderr.contains("GRPO_XLA_CPU_PLUGIN"), "{stderr}");

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_grpo-xla"))
        .args(["devices", "--device", "tpu"])
        .env("GRPO_XLA_TPU_PLUGIN", "/nonexistent/libtpu.so")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("pip install libtpu"), "{stderr}");
}

#[test]
fn devices_lists_four_cpu_devices() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_grpo-xla"))
        .args(["devices", "--device", "cpu", "--num-devices", "4"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("devices:          4"), "{stdout}");
    assert!(stdout.contains("[3] id=3 kind=cpu"), "{stdout}");
    // Each device's memory as its allocator reports it (PJRT_Device_MemoryStats); the CPU
    // plugin does not implement the call, and the line says so instead of failing.
    assert_eq!(stdout.matches("      memory: ").count(), 4, "{stdout}");
    assert!(
        stdout.contains("memory: not reported by this plugin") || stdout.contains(" in use, peak "),
        "{stdout}"
    );
}
