//! Helpers shared by the integration tests.
#![allow(dead_code)]

use grpo_xla::pjrt::platforms::Platform;
use grpo_xla::pjrt::{Client, ExecutableCache};

/// A CPU client with `n` devices. Fails with the install command when the plugin is missing.
pub fn cpu_client(n: usize) -> Client {
    match Platform::Cpu.client(None, Some(n)) {
        Ok(client) => client.with_cache(ExecutableCache::in_memory()),
        Err(e) => panic!("the CPU PJRT plugin is needed for this test: {e:#}"),
    }
}

/// Fails with the command's stderr when it did not exit 0.
pub fn assert_success(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A run's metrics.jsonl, one JSON object per step.
pub fn metrics_of(run: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Largest |a - b| / max(|b|, floor) over two slices of equal length.
pub fn max_rel_err(a: &[f64], b: &[f64], floor: f64) -> f64 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs() / y.abs().max(floor))
        .fold(0.0, f64::max)
}

/// Largest |a - b| over the largest |b| of two arrays of the same size.
pub fn relative_error(a: &grpo_xla::graph::HostArray, b: &grpo_xla::graph::HostArray) -> f64 {
    let (a, b) = (a.to_f64(), b.to_f64());
    assert_eq!(a.len(), b.len());
    let scale = b.iter().fold(1e-30f64, |m, v| m.max(v.abs()));
    a.iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
        / scale
}

/// Deterministic pseudo-random values in [-1, 1).
pub fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

/// Runs a partitioned executable with one argument list per device, every buffer borrowed.
pub fn execute_on_devices(
    exe: &grpo_xla::pjrt::LoadedExecutable,
    buffers: &[Vec<grpo_xla::pjrt::Buffer>],
) -> Vec<Vec<grpo_xla::pjrt::Buffer>> {
    exe.execute_sharded(
        buffers
            .iter()
            .map(|list| list.iter().map(grpo_xla::pjrt::Arg::Borrow).collect())
            .collect(),
    )
    .unwrap()
}

/// Our model's logits for `tokens` ([B, T], every position valid), from the forward graph.
pub fn our_logits(
    cfg: &grpo_xla::models::gemma::GemmaConfig,
    params: &[grpo_xla::graph::HostArray],
    tokens: &[i32],
    dims: [i64; 2],
) -> Vec<f64> {
    use grpo_xla::graph::{Graph, HostArray, Shape};
    use grpo_xla::models::gemma::{forward, GemmaWeights};
    let g = Graph::new("forward");
    let (w, _) = GemmaWeights::parameters(&g, cfg);
    let t = g.parameter("tokens", Shape::i32(&dims));
    let valid = g.full(1.0, Shape::i32(&dims));
    let module = g.build(&[forward(cfg, &w, &t, &valid)]).unwrap();
    let mut args = params.to_vec();
    args.push(HostArray::new(tokens, &dims));
    module.run(&cpu_client(1), &args).unwrap()[0].to_f64()
}
