//! Subcommands. Each lives in its own module; this file only parses and dispatches.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use grpo_xla::pjrt::platforms::Platform;

mod bench;
mod bench_generate;
mod bench_graph;
mod bench_mesh;
mod bench_train;
mod compile_check;
mod devices;
mod doctor;
mod eval;
mod export;
mod generate;
mod media;
mod plot;
mod train;

#[derive(Parser, Debug)]
#[command(
    name = "grpo-xla",
    version,
    about = "GRPO training for Gemma on XLA, driven from Rust through PJRT"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Which plugin to run on; shared by every subcommand that touches a device.
#[derive(Args, Debug, Clone)]
pub struct DeviceArgs {
    /// Platform to run on.
    #[arg(long, value_enum, default_value_t = Platform::Cpu)]
    pub device: Platform,
    /// Number of devices (CPU: how many to create; GPU/TPU: how many must be present).
    #[arg(long)]
    pub num_devices: Option<usize>,
    /// Path of the PJRT plugin .so, overriding discovery.
    #[arg(long)]
    pub plugin: Option<PathBuf>,
}

impl DeviceArgs {
    pub fn client(&self) -> Result<grpo_xla::pjrt::Client> {
        self.device.client(self.plugin.as_deref(), self.num_devices)
    }
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print the platform, PJRT API version and devices of a plugin.
    Devices(DeviceArgs),
    /// Check plugins, assets and the reference environment, and say what to fix.
    Doctor,
    /// Train with GRPO.
    Train(train::TrainArgs),
    /// Write seeded reasoning problems with exact answers and worked reasoning (JSONL).
    GenData(train::GenDataArgs),
    /// Format compliance, accuracy, reward and length of greedy answers (a model, or a run before/after).
    Eval(eval::EvalArgs),
    /// Draw a run's curves (reward, loss, KL, length) as a PNG.
    Plot {
        /// The run folder (holds metrics.jsonl).
        run: std::path::PathBuf,
        /// Where to write the PNG (default RUN/curves.png).
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
    /// Write a run's checkpoint as an Orbax checkpoint for Tunix, LoRA adapters, or safetensors.
    Export(export::ExportArgs),
    /// Generate text from a model directory, streaming tokens as they are decoded.
    Generate(generate::GenerateArgs),
    /// Draw the submission's pictures (cover, pipeline, curves, samples, speed) from committed results.
    Media(media::MediaArgs),
    /// Compile every program of a training config for a TPU topology, without a TPU, and
    /// report each program's memory per chip against its HBM.
    CompileCheck(compile_check::CompileCheckArgs),
    /// Benchmarks that print a table, side by side with JAX on this machine.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Devices(args) => devices::run(&args),
        Command::Doctor => doctor::run(),
        Command::Bench(cmd) => bench::run(cmd),
        Command::Generate(args) => generate::run(&args),
        Command::Train(args) => train::run(&args),
        Command::Eval(args) => eval::run(&args),
        Command::Export(args) => export::run(&args),
        Command::CompileCheck(args) => compile_check::run(&args),
        Command::Media(args) => {
            for path in media::run(&args)? {
                println!("wrote {}", path.display());
            }
            Ok(())
        }
        Command::Plot { run, out } => {
            let path = plot::run(&run, out)?;
            println!("wrote {}", path.display());
            Ok(())
        }
        Command::GenData(args) => train::gen_data(&args),
    }
}
