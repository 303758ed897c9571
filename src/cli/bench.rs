//! `grpo-xla bench ...`: speed, measured side by side with JAX in the same run.

use std::time::Instant;

use anyhow::Result;
use clap::Subcommand;
use grpo_xla::pjrt::{Arg, CompileOptions};
use serde_json::json;

use super::DeviceArgs;

#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Dispatch overhead of a tiny program and a 1024x1024 f32 matmul, vs jax.jit.
    Runtime {
        #[command(flatten)]
        device: DeviceArgs,
        /// Calls of the tiny program to time.
        #[arg(long, default_value_t = 2000)]
        dispatch_iters: usize,
        /// Calls of the matmul to time.
        #[arg(long, default_value_t = 30)]
        matmul_iters: usize,
        /// Also write the rows as JSON (name, ours, tunix, unit, ratio, bound_fraction).
        #[arg(long)]
        json: Option<std::path::PathBuf>,
    },
    /// Build+emit and compile time of N Gemma blocks with their backward pass, vs jax.jit.
    Graph {
        #[command(flatten)]
        device: DeviceArgs,
        /// Layer counts to measure.
        #[arg(long, value_delimiter = ',', default_values_t = vec![2usize, 8, 26])]
        layers: Vec<usize>,
        #[arg(long, default_value_t = 1)]
        batch: i64,
        #[arg(long, default_value_t = 128)]
        seq: i64,
        /// Only build and emit (no XLA compile).
        #[arg(long)]
        no_compile: bool,
        /// Skip the JAX side.
        #[arg(long)]
        no_jax: bool,
        /// Also write the rows as JSON (name, ours, tunix, unit, ratio, bound_fraction).
        #[arg(long)]
        json: Option<std::path::PathBuf>,
    },
    /// A config's training steps (its model, LoRA or full, batch): the supervised step vs Tunix's
    /// PeftTrainer step on the same tokens, the GRPO step vs GRPOLearner's on the same prompts,
    /// and the FLOP rate against the matmul peak.
    Train {
        #[command(flatten)]
        device: DeviceArgs,
        #[arg(long, default_value = "configs/reasoning_270m.yaml")]
        config: std::path::PathBuf,
        /// Steps timed after a warm-up step (the median is reported).
        #[arg(long, default_value_t = 3)]
        steps: usize,
        /// Which steps: the supervised step, the GRPO step, or both.
        #[arg(long, value_enum, default_value_t = super::bench_train::Phases::Both)]
        phases: super::bench_train::Phases,
        /// Skip the Tunix side.
        #[arg(long)]
        no_tunix: bool,
        /// Also write the rows as JSON (name, ours, tunix, unit, ratio, bound_fraction).
        #[arg(long)]
        json: Option<std::path::PathBuf>,
    },
    /// GRPO steps of a config on several device counts, seconds per example against the same
    /// run on one device (each count trains in its own process; the SFT phase is skipped).
    Mesh {
        #[command(flatten)]
        device: DeviceArgs,
        #[arg(long, default_value = "configs/smoke.yaml")]
        config: std::path::PathBuf,
        /// Device counts compared with one device.
        #[arg(long, value_delimiter = ',', default_values_t = vec![2usize, 4, 8])]
        devices: Vec<usize>,
        /// GRPO steps per run; the first (compiling) is not timed.
        #[arg(long, default_value_t = 4)]
        steps: usize,
        /// Prompts per step instead of the config's (rows = prompts × num_generations).
        #[arg(long)]
        prompts: Option<usize>,
        /// Runs of the whole sequence of device counts, interleaved; each row is the median.
        #[arg(long, default_value_t = 1)]
        repeats: usize,
        /// Also write the rows as JSON (name, ours, tunix, unit, ratio, bound_fraction).
        #[arg(long)]
        json: Option<std::path::PathBuf>,
    },
    /// Prefill and decode tokens/s at batch 1, 8, 32, vs Tunix's sampler, and the memory bound.
    Generate(super::bench_generate::GenerateBench),
}

pub fn run(cmd: BenchCommand) -> Result<()> {
    match cmd {
        BenchCommand::Runtime {
            device,
            dispatch_iters,
            matmul_iters,
            json,
        } => runtime(&device, dispatch_iters, matmul_iters, json.as_ref()),
        BenchCommand::Train {
            device,
            config,
            steps,
            phases,
            no_tunix,
            json,
        } => super::bench_train::run(&device, &config, steps, phases, !no_tunix, json.as_ref()),
        BenchCommand::Mesh {
            device,
            config,
            devices,
            steps,
            prompts,
            json,
            repeats,
        } => super::bench_mesh::run(
            &device,
            &super::bench_mesh::MeshBench {
                config: &config,
                devices: &devices,
                steps,
                prompts,
                repeats,
            },
            json.as_ref(),
        ),
        BenchCommand::Generate(args) => super::bench_generate::run(&args),
        BenchCommand::Graph {
            device,
            layers,
            batch,
            seq,
            no_compile,
            no_jax,
            json,
        } => super::bench_graph::run(
            &device,
            &layers,
            batch,
            seq,
            !no_compile,
            !no_jax,
            json.as_ref(),
        ),
    }
}

const TINY: &str = r#"func.func public @main(%x: tensor<f32>) -> tensor<f32> {
  %one = stablehlo.constant dense<1.0> : tensor<f32>
  %y = stablehlo.add %x, %one : tensor<f32>
  return %y : tensor<f32>
}"#;

/// An n x n f32 matmul.
fn matmul_program(n: usize) -> String {
    let t = format!("tensor<{n}x{n}xf32>");
    format!(
        "func.func public @main(%a: {t}, %b: {t}) -> {t} {{\n  %c = stablehlo.dot_general %a, %b, contracting_dims = [1] x [0] : ({t}, {t}) -> {t}\n  return %c : {t}\n}}"
    )
}

/// The read probe's array: 4096 rows of 256 KiB, 1 GiB in all (the 270M's f32 weights), 32
/// times the L3 cache of the CPUs here.
const READ_DIMS: [i64; 2] = [4096, 65536];

/// The maximum of each row of READ_DIMS f32: reads every byte once, writes 16 KiB.
const READ_ROWS: &str = r#"func.func public @main(%x: tensor<4096x65536xf32>) -> tensor<4096xf32> {
  %init = stablehlo.constant dense<0xFF800000> : tensor<f32>
  %m = stablehlo.reduce(%x init: %init) applies stablehlo.maximum across dimensions = [1] : (tensor<4096x65536xf32>, tensor<f32>) -> tensor<4096xf32>
  return %m : tensor<4096xf32>
}"#;

/// y = x + x over a 1 GiB f32 array: reads and writes every byte once.
const STREAM: &str = r#"func.func public @main(%x: tensor<268435456xf32>) -> tensor<268435456xf32> {
  %y = stablehlo.add %x, %x : tensor<268435456xf32>
  return %y : tensor<268435456xf32>
}"#;

const JAX_SCRIPT: &str = r#"
import time, jax, jax.numpy as jnp

def main(inputs):
    def timed(f, args, iters):
        f(*args).block_until_ready()
        f(*args).block_until_ready()
        t = time.perf_counter()
        for _ in range(iters):
            f(*args).block_until_ready()
        return (time.perf_counter() - t) / iters
    tiny = jax.jit(lambda x: x + 1.0)
    x = jnp.float32(0.0)
    a = jnp.asarray(np.random.default_rng(0).standard_normal((1024, 1024)), jnp.float32)
    mm = jax.jit(lambda a, b: a @ b)
    return {"dispatch_s": timed(tiny, (x,), inputs["dispatch_iters"]),
            "matmul_s": timed(mm, (a, a), inputs["matmul_iters"]),
            "jax": jax.__version__}
"#;

/// One measurement, ours beside Tunix's: printed as a table row and written as a JSON row.
pub struct BenchRow {
    pub name: String,
    pub ours: f64,
    pub tunix: Option<f64>,
    pub unit: String,
    /// Whether the unit is a time (smaller is faster) rather than a rate.
    pub is_time: bool,
    /// The fraction of a physical bound reached, where one applies.
    pub bound_fraction: Option<f64>,
    /// What the `tunix` column measured (Tunix itself, or plain jax.jit).
    pub reference: String,
}

impl BenchRow {
    pub fn new(name: &str, ours: f64, tunix: Option<f64>, unit: &str, is_time: bool) -> BenchRow {
        BenchRow {
            name: name.into(),
            ours,
            tunix,
            unit: unit.into(),
            is_time,
            bound_fraction: None,
            reference: "tunix".into(),
        }
    }

    /// Names what the reference column measured when it is not Tunix.
    pub fn against(mut self, reference: &str) -> BenchRow {
        self.reference = reference.into();
        self
    }

    pub fn with_bound(mut self, fraction: f64) -> BenchRow {
        self.bound_fraction = Some(fraction);
        self
    }

    /// Ours over Tunix in throughput terms: above 1, we are faster.
    pub fn ratio(&self) -> Option<f64> {
        self.tunix.map(|t| {
            if self.is_time {
                t / self.ours
            } else {
                self.ours / t
            }
        })
    }

    pub fn print_table(rows: &[BenchRow]) {
        println!(
            "| measurement | unit | ours | tunix | ratio (>1: ours faster) | bound fraction |"
        );
        println!("|---|---|---:|---:|---:|---:|");
        let opt = |v: Option<f64>, f: &dyn Fn(f64) -> String| v.map_or("-".to_string(), f);
        // Three decimals, or three significant digits for values below 0.1.
        let value = |v: f64| match v.abs() {
            x if x > 0.0 && x < 0.1 => format!("{v:.2e}"),
            _ => format!("{v:.3}"),
        };
        for r in rows {
            println!(
                "| {} | {} | {} | {} | {} | {} |",
                r.name,
                r.unit,
                value(r.ours),
                opt(r.tunix, &value),
                opt(r.ratio(), &|x| format!("{x:.2}x")),
                opt(r.bound_fraction, &|b| format!("{:.0}%", 100.0 * b)),
            );
        }
    }

    pub fn write_json(rows: &[BenchRow], path: &std::path::Path) -> Result<()> {
        let values: Vec<serde_json::Value> = rows
            .iter()
            .map(|r| {
                json!({"name": r.name, "ours": r.ours, "tunix": r.tunix, "unit": r.unit,
                       "ratio": r.ratio(), "bound_fraction": r.bound_fraction,
                       "reference": r.reference})
            })
            .collect();
        std::fs::write(path, serde_json::to_string_pretty(&values)?)
            .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))
    }
}

/// The matmul peak a step is compared with: an f32 matmul large enough to keep the device busy
/// (1024 on a CPU, 8192 on an accelerator, where XLA's default precision may use TF32).
pub struct MatmulPeak {
    pub gflops: f64,
    pub size: usize,
}

impl std::fmt::Display for MatmulPeak {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.size;
        write!(f, "{:.1} GFLOP/s (a {n}x{n} f32 matmul here)", self.gflops)
    }
}

/// The matmul peak of `client`'s device, measured now.
pub fn matmul_peak(client: &grpo_xla::pjrt::Client) -> Result<MatmulPeak> {
    let size = if client.platform_name() == "cpu" {
        1024
    } else {
        8192
    };
    let seconds = matmul_seconds(client, size, 20)?;
    Ok(MatmulPeak {
        gflops: 2.0 * (size as f64).powi(3) / seconds / 1e9,
        size,
    })
}

/// Bytes per second the device moves, the best of a few calls. On a CPU what a decode step
/// does: read (the maximum of each row of 1 GiB, on every core XLA uses);
/// a copy on one thread, measured here before, came to about two thirds of that, and decoding
/// ran above the bound it gave. Elsewhere an elementwise program over 1 GiB, reads and writes
/// counted.
pub fn memory_bandwidth(client: &grpo_xla::pjrt::Client) -> Result<f64> {
    let (program, dims, bytes_per_element) = match client.platform_name() {
        "cpu" => (READ_ROWS, READ_DIMS.to_vec(), 4),
        _ => (STREAM, vec![1 << 28], 8),
    };
    let n: i64 = dims.iter().product();
    let program = client.compile(program, &CompileOptions::default())?;
    let x = client.buffer_from_host(&vec![1.0f32; n as usize], &dims, 0)?;
    let mut best = f64::MAX;
    for _ in 0..6 {
        let t = Instant::now();
        program.execute(vec![Arg::Borrow(&x)])?;
        best = best.min(t.elapsed().as_secs_f64());
    }
    Ok((n * bytes_per_element) as f64 / best)
}

/// Seconds per call of an n x n f32 matmul (after two untimed calls).
fn matmul_seconds(client: &grpo_xla::pjrt::Client, n: usize, iters: usize) -> Result<f64> {
    let matmul = client.compile(&matmul_program(n), &CompileOptions::default())?;
    let data: Vec<f32> = (0..(n * n) as u64)
        .map(|i| ((i * 7919 % 1000) as f32) / 1000.0 - 0.5)
        .collect();
    let a = client.buffer_from_host(&data, &[n as i64, n as i64], 0)?;
    time_calls(iters, || {
        matmul.execute(vec![Arg::Borrow(&a), Arg::Borrow(&a)])?;
        Ok(())
    })
}

fn time_calls(iters: usize, mut call: impl FnMut() -> Result<()>) -> Result<f64> {
    call()?;
    call()?;
    let start = Instant::now();
    for _ in 0..iters {
        call()?;
    }
    Ok(start.elapsed().as_secs_f64() / iters as f64)
}

fn runtime(
    device: &DeviceArgs,
    dispatch_iters: usize,
    matmul_iters: usize,
    json_out: Option<&std::path::PathBuf>,
) -> Result<()> {
    let client = device.client()?;
    let options = CompileOptions::default();
    let tiny = client.compile(TINY, &options)?;
    let x = client.buffer_from_host(&[0.0f32], &[], 0)?;
    let ours_dispatch = time_calls(dispatch_iters, || {
        tiny.execute(vec![Arg::Borrow(&x)])?;
        Ok(())
    })?;
    let ours_matmul = matmul_seconds(&client, 1024, matmul_iters)?;

    eprintln!("running the same programs under jax.jit ...");
    let theirs = grpo_xla::reference::run(
        JAX_SCRIPT,
        &json!({"dispatch_iters": dispatch_iters, "matmul_iters": matmul_iters}),
    )?;
    let jax_dispatch = theirs["dispatch_s"].as_f64().unwrap_or(f64::NAN);
    let jax_matmul = theirs["matmul_s"].as_f64().unwrap_or(f64::NAN);

    println!(
        "grpo-xla runtime vs jax.jit {} on {} ({} device(s)), same machine, same run",
        theirs["jax"].as_str().unwrap_or("?"),
        client.platform_name(),
        client.devices().len()
    );
    println!(
        "| benchmark                         | grpo-xla     | jax.jit      | jax / grpo-xla |"
    );
    println!(
        "|-----------------------------------|--------------|--------------|----------------|"
    );
    let row = |name: &str, ours: f64, jax: f64| {
        println!(
            "| {name:<33} | {:>9.1} us | {:>9.1} us | {:>13.2}x |",
            ours * 1e6,
            jax * 1e6,
            jax / ours
        );
    };
    row(
        "dispatch, tiny program (per call)",
        ours_dispatch,
        jax_dispatch,
    );
    row("matmul 1024x1024 f32 (per call)", ours_matmul, jax_matmul);
    let gflops = |s: f64| 2.0 * 1024f64.powi(3) / s / 1e9;
    println!(
        "matmul throughput: grpo-xla {:.1} GFLOP/s, jax {:.1} GFLOP/s",
        gflops(ours_matmul),
        gflops(jax_matmul)
    );
    if let Some(path) = json_out {
        let rows = [
            BenchRow::new(
                "dispatch, tiny program",
                ours_dispatch,
                Some(jax_dispatch),
                "s/call",
                true,
            ),
            BenchRow::new(
                "matmul 1024x1024 f32",
                ours_matmul,
                Some(jax_matmul),
                "s/call",
                true,
            ),
        ];
        let rows: Vec<BenchRow> = rows.into_iter().map(|r| r.against("jax.jit")).collect();
        BenchRow::write_json(&rows, path)?;
    }
    Ok(())
}
