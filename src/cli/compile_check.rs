//! `grpo-xla compile-check`: compiles every program a training config runs for a TPU topology,
//! with no TPU present (libtpu compiles ahead of time), and reports each program's device memory
//! against the chip's HBM, so a user learns whether a model and batch fit before renting TPU time.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use grpo_xla::models::gemma::GemmaConfig;
use grpo_xla::models::hf::read_config;
use grpo_xla::pjrt::platforms::Platform;
use grpo_xla::pjrt::{Plugin, Topology};
use grpo_xla::train::config::TrainConfig;
use grpo_xla::train::plan::{plan, ProgramPlan};
use serde::Serialize;

#[derive(Args, Debug)]
pub struct CompileCheckArgs {
    /// The training config whose programs are compiled.
    #[arg(long)]
    config: PathBuf,
    /// Platform to compile for (only TPUs compile without a device).
    #[arg(long, value_enum, default_value_t = Platform::Tpu)]
    device: Platform,
    /// The topology, as libtpu names it: v5e:2x4 is a v5e-8 (Kaggle's TPU).
    #[arg(long, default_value = "v5e:2x4")]
    topology: String,
    /// libtpu.so files to compile with, one report each (default: the one discovery finds;
    /// scripts/get-libtpu.sh installs pinned versions).
    #[arg(long)]
    plugin: Vec<PathBuf>,
    /// Check with this preset's shapes instead of the config's model (whose folder may only
    /// exist on Kaggle): gemma3_270m, gemma3_1b, gemma2_2b, ...
    #[arg(long)]
    model_preset: Option<String>,
    /// HBM per chip in GiB (default: from the topology's chip: v5e 16, v4 32, v5p 95, v6e 32).
    #[arg(long)]
    hbm_gib: Option<f64>,
    /// Also write the results as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Also write the results as a Markdown report.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Write each program's StableHLO text into this folder (`<phase>_<program>.mlir`).
    #[arg(long)]
    dump: Option<PathBuf>,
}

/// One program compiled by one plugin.
#[derive(Serialize)]
struct ProgramRow {
    program: String,
    compile_s: f64,
    #[serde(flatten)]
    stats: grpo_xla::pjrt::MemoryStats,
    /// Device bytes live while it runs, the phase's resident weights and state included.
    peak_bytes: u64,
}

/// Everything one plugin said.
#[derive(Serialize)]
struct PluginReport {
    plugin: String,
    pjrt_api: String,
    stablehlo: String,
    platform: String,
    devices: usize,
    rows: Vec<ProgramRow>,
}

#[derive(Serialize)]
struct Report {
    config: String,
    /// sha256 of the config file, so a committed report can be checked against its config.
    config_sha256: String,
    model: String,
    params: i64,
    dtype: String,
    topology: String,
    hbm_bytes: u64,
    /// The chips the programs are partitioned over, and the config's mesh on them.
    chips_used: usize,
    mesh: String,
    resident_sft: Option<u64>,
    resident_grpo: u64,
    plugins: Vec<PluginReport>,
}

impl Report {
    fn largest(&self) -> Option<&ProgramRow> {
        self.plugins
            .iter()
            .flat_map(|p| &p.rows)
            .max_by_key(|r| r.peak_bytes)
    }

    fn fits(&self) -> bool {
        self.largest()
            .is_none_or(|r| r.peak_bytes <= self.hbm_bytes)
    }
}

/// Chips in a topology such as `v5e:2x4` (the product of the sizes after the colon).
fn chips_in(topology: &str) -> Result<usize> {
    let sizes = topology.split(':').nth(1).unwrap_or("1");
    sizes
        .split('x')
        .map(|d| d.trim().parse::<usize>())
        .product::<Result<usize, _>>()
        .with_context(|| format!("topology `{topology}`: expected GENERATION:AxB, e.g. v5e:2x4"))
}

/// HBM per chip of the topology's chip generation.
fn hbm_for(topology: &str) -> Option<f64> {
    let chip = topology.split(':').next()?.to_ascii_lowercase();
    Some(match chip.as_str() {
        "v5e" | "v5litepod" => 16.0,
        "v4" | "v6e" => 32.0,
        "v5p" => 95.0,
        _ => return None,
    })
}

/// The model's shapes: the preset asked for, the config's preset, or the config.json of the
/// config's model folder; in the config's dtype.
fn model_shape(cfg: &TrainConfig, config_path: &Path, preset: Option<&str>) -> Result<GemmaConfig> {
    let named = preset.or(cfg.model.preset.as_deref());
    let mut model = match (named, &cfg.model.path) {
        (Some(name), _) => GemmaConfig::preset(name)
            .with_context(|| format!("`{name}` is not a known model preset"))?,
        (None, Some(dir)) if dir.join("config.json").is_file() => read_config(dir)?,
        (None, Some(dir)) => bail!(
            "{}: model.path {} has no config.json here; give --model-preset (gemma3_1b, gemma2_2b, ...) to check with that model's shapes",
            config_path.display(),
            dir.display()
        ),
        (None, None) => unreachable!("checked by TrainConfig::load"),
    };
    model.dtype = cfg.model.dtype.element_type();
    Ok(model)
}

pub fn run(args: &CompileCheckArgs) -> Result<()> {
    anyhow::ensure!(
        args.device == Platform::Tpu,
        "compile-check compiles for a TPU topology without a TPU; --device {} is not supported",
        args.device
    );
    let cfg = TrainConfig::load(&args.config)?;
    let model = model_shape(&cfg, &args.config, args.model_preset.as_deref())?;
    let hbm_gib = match args.hbm_gib.or_else(|| hbm_for(&args.topology)) {
        Some(g) => g,
        None => bail!(
            "the HBM of a `{}` chip is not known; give --hbm-gib",
            args.topology
        ),
    };
    let chips = chips_in(&args.topology)?;
    let layout = cfg
        .mesh
        .layout(chips)
        .with_context(|| format!("{}", args.config.display()))?;
    let planned = plan(&cfg, &model, &layout);
    if let Some(dir) = &args.dump {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        for p in &planned.programs {
            let path = dir.join(format!("{}.mlir", p.name.replace('/', "_")));
            std::fs::write(&path, &p.module.text)
                .with_context(|| format!("writing {}", path.display()))?;
        }
    }
    let plugins: Vec<Option<&Path>> = if args.plugin.is_empty() {
        vec![None]
    } else {
        args.plugin.iter().map(|p| Some(p.as_path())).collect()
    };
    let mut report = Report {
        config: args.config.display().to_string(),
        config_sha256: sha256_hex(&std::fs::read(&args.config)?),
        model: model_name(&cfg, args.model_preset.as_deref()),
        params: model.num_params(),
        dtype: format!("{:?}", cfg.model.dtype).to_lowercase(),
        topology: args.topology.clone(),
        hbm_bytes: (hbm_gib * GIB) as u64,
        chips_used: layout.num_devices(),
        mesh: layout.to_string(),
        resident_sft: planned.sft.map(|r| r.base + r.optimizer_state),
        resident_grpo: planned.grpo.base + planned.grpo.optimizer_state + planned.grpo.rollout_copy,
        plugins: vec![],
    };
    for plugin in plugins {
        let plugin = args.device.load_compiler(plugin)?;
        report
            .plugins
            .push(compile_all(&plugin, &args.topology, &planned)?);
    }
    print!("{}", markdown(&report));
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)? + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &args.report {
        std::fs::write(path, markdown(&report))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if !report.fits() {
        bail!("the run does not fit in {hbm_gib} GiB of HBM per chip (see the table above)");
    }
    Ok(())
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn model_name(cfg: &TrainConfig, preset: Option<&str>) -> String {
    match (preset.or(cfg.model.preset.as_deref()), &cfg.model.path) {
        (Some(p), _) => format!("preset {p}"),
        (None, Some(dir)) => dir.display().to_string(),
        (None, None) => String::new(),
    }
}

/// Compiles every planned program with one plugin for the topology.
fn compile_all(
    plugin: &std::sync::Arc<Plugin>,
    topology_name: &str,
    planned: &ProgramPlan,
) -> Result<PluginReport> {
    let topology = Topology::new(plugin.clone(), topology_name).with_context(|| {
        format!(
            "{}: cannot describe topology `{topology_name}`",
            plugin.path().display()
        )
    })?;
    let (major, minor) = plugin.api_version();
    let stablehlo = plugin
        .stablehlo_window()
        .map_or("unknown".to_string(), |(lo, hi)| format!("{lo} to {hi}"));
    let mut rows = vec![];
    let progress = indicatif::ProgressBar::new(planned.programs.len() as u64).with_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} compiling {msg}")
            .expect("a valid template"),
    );
    for program in &planned.programs {
        progress.set_message(program.name.clone());
        let started = Instant::now();
        let compiled = topology
            .compile(&program.module.text, &program.module.compile_options())
            .with_context(|| {
                format!(
                    "{} did not compile {} (it reads StableHLO {stablehlo})",
                    plugin.path().display(),
                    program.name
                )
            })?;
        let stats = compiled.memory_stats()?;
        rows.push(ProgramRow {
            program: program.name.clone(),
            compile_s: started.elapsed().as_secs_f64(),
            stats,
            peak_bytes: program.peak_bytes(stats.while_running().max(0) as u64),
        });
        progress.inc(1);
    }
    progress.finish_and_clear();
    Ok(PluginReport {
        plugin: plugin.path().display().to_string(),
        pjrt_api: format!("{major}.{minor}"),
        stablehlo,
        platform: format!(
            "{} {}",
            topology.platform_name()?,
            // libtpu's version string goes on with a build line; the first line names the chip.
            topology
                .platform_version()
                .unwrap_or_default()
                .lines()
                .next()
                .unwrap_or_default()
        )
        .trim()
        .to_string(),
        devices: topology.device_count()?,
        rows,
    })
}

const GIB: f64 = (1u64 << 30) as f64;

/// Bytes in the largest binary unit that keeps a number of at least 1.
fn human(bytes: i64) -> String {
    let b = bytes as f64;
    match b.abs() {
        x if x >= GIB => format!("{:.2} GiB", b / GIB),
        x if x >= (1 << 20) as f64 => format!("{:.1} MiB", b / (1 << 20) as f64),
        x if x >= 1024.0 => format!("{:.1} KiB", b / 1024.0),
        _ => format!("{bytes} B"),
    }
}

/// The report as Markdown: what was compiled, by which plugin, and the memory table.
fn markdown(r: &Report) -> String {
    let mut s = format!(
        "# compile-check: {}\n\nModel {} ({} parameters, {}), topology `{}`, {} HBM per chip. Programs are partitioned over {} chips (mesh {}); bytes are per chip.\n\nResident between programs: SFT phase {}, GRPO phase {} (weights, optimizer state, the rollout's copy of the policy).\n",
        r.config,
        r.model,
        r.params,
        r.dtype,
        r.topology,
        human(r.hbm_bytes as i64),
        r.chips_used,
        r.mesh,
        r.resident_sft.map_or("-".to_string(), |b| human(b as i64)),
        human(r.resident_grpo as i64),
    );
    for p in &r.plugins {
        s += &format!(
            "\n## {}\n\nPJRT C API {}, StableHLO {}, platform {}, {} devices.\n\n| program | compile s | arguments | outputs | aliased | temp | code | peak per chip | of HBM |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
            p.plugin, p.pjrt_api, p.stablehlo, p.platform, p.devices
        );
        for row in &p.rows {
            let st = &row.stats;
            s += &format!(
                "| {} | {:.1} | {} | {} | {} | {} | {} | {} | {:.0}% |\n",
                row.program,
                row.compile_s,
                human(st.arguments),
                human(st.outputs),
                human(st.aliased),
                human(st.temp),
                human(st.code),
                human(row.peak_bytes as i64),
                100.0 * row.peak_bytes as f64 / r.hbm_bytes as f64,
            );
        }
    }
    if let Some(top) = r.largest() {
        s += &format!(
            "\n**{}**: the largest peak is {} ({}, {:.0}% of {}).\n",
            if r.fits() { "Fits" } else { "Does not fit" },
            top.program,
            human(top.peak_bytes as i64),
            100.0 * top.peak_bytes as f64 / r.hbm_bytes as f64,
            human(r.hbm_bytes as i64)
        );
    }
    s
}
