//! Every program a training run compiles is accepted by libtpu for a TPU v5e-8 (`v5e:2x4`),
//! partitioned over its 8 chips on a data × fsdp mesh (4 × 2, so weights are split too),
//! compiled ahead of time with no TPU present: by the libtpu Kaggle's TPU image pins (0.0.17)
//! and by the newest one pinned here (0.0.52). `scripts/get-libtpu.sh 0.0.17 0.0.52` installs
//! them (scripts/test.sh does); GRPO_XLA_SKIP_TPU_COMPILE=1 tells the suite to skip these tests.

use std::path::PathBuf;
use std::process::Command;

use grpo_xla::models::gemma::{GemmaConfig, WeightOrder};
use grpo_xla::pjrt::platforms::Platform;
use grpo_xla::pjrt::{CompileOptions, Topology};
use grpo_xla::rollout::programs::{decode, Bucket};
use grpo_xla::rollout::sampling::SamplerShape;
use grpo_xla::train::config::TrainConfig;
use grpo_xla::train::plan::{plan, PlannedProgram};

const VERSIONS: [&str; 2] = ["0.0.17", "0.0.52"];

/// The installed libtpu of `version`, or None when the suite was told to skip.
fn libtpu(version: &str) -> Option<PathBuf> {
    if std::env::var_os("GRPO_XLA_SKIP_TPU_COMPILE").is_some_and(|v| v == "1") {
        eprintln!("skipped: GRPO_XLA_SKIP_TPU_COMPILE=1");
        return None;
    }
    let home = std::env::var_os("GRPO_XLA_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/grpo-xla"));
    let path = home
        .join("plugins")
        .join(format!("libtpu-{version}"))
        .join("libtpu.so");
    assert!(
        path.is_file(),
        "libtpu {version} is needed: run scripts/get-libtpu.sh {version} (or set GRPO_XLA_SKIP_TPU_COMPILE=1 to skip)"
    );
    Some(path)
}

/// The smoke config with an SFT phase, LoRA, μ = 2 and bf16 rollouts, so every kind of program
/// is planned.
fn every_program_config(dir: &std::path::Path) -> TrainConfig {
    let smoke = std::fs::read_to_string("configs/smoke.yaml").unwrap();
    let extra = "sft:\n  data: data/reasoning_train.jsonl\n  steps: 2\n  batch_size: 8\n  max_prompt_length: 32\n  max_target_length: 16\n  learning_rate: 1.0e-3\nlora:\n  rank: 4\n  alpha: 8\n";
    let text = smoke
        .replace("grpo:\n", "grpo:\n  num_iterations: 2\n")
        .replace("rollout:\n", "rollout:\n  dtype: bf16\n")
        + extra;
    let path = dir.join("every_program.yaml");
    std::fs::write(&path, text).unwrap();
    TrainConfig::load(&path).unwrap()
}

#[test]
fn every_program_of_a_run_compiles_for_a_v5e_8_with_no_tpu() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = every_program_config(dir.path());
    let model = GemmaConfig::preset(cfg.model.preset.as_deref().unwrap()).unwrap();
    let layout = grpo_xla::graph::Layout::new(4, 2);
    let mut planned = plan(&cfg, &model, &layout);
    let names: Vec<&str> = planned.programs.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "sft/train_step",
            "sft/merge_lora",
            "grpo/train_step",
            "grpo/reference_log_probs",
            "grpo/policy_log_probs",
            "grpo/merge_lora",
            "rollout/cast_weights",
            "rollout/prefill",
            "rollout/decode"
        ]
    );
    // With gradient accumulation two programs take the GRPO train step's place.
    let micro_path = dir.path().join("micro.yaml");
    let every = std::fs::read_to_string(dir.path().join("every_program.yaml")).unwrap();
    std::fs::write(
        &micro_path,
        every.replace(
            "  prompts_per_step: 2",
            "  prompts_per_step: 2\n  micro_batch_rows: 4",
        ),
    )
    .unwrap();
    let micro = plan(&TrainConfig::load(&micro_path).unwrap(), &model, &layout);
    let accumulation: Vec<_> = micro
        .programs
        .into_iter()
        .filter(|p| {
            p.name.starts_with("grpo/") && !planned.programs.iter().any(|q| q.name == p.name)
        })
        .collect();
    let names: Vec<&str> = accumulation.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["grpo/gradient", "grpo/apply_gradients"]);
    assert!(
        micro.grpo.optimizer_state > planned.grpo.optimizer_state,
        "the gradient sums are resident"
    );
    planned.programs.extend(accumulation);
    // Evaluation decodes greedily, whose argmax over the vocabulary gathers with batching dims.
    let greedy = Bucket {
        batch: 8,
        samples: 1,
        prompt_len: 32,
        slots: 48,
        chunk: 16,
        sampler: SamplerShape {
            greedy: true,
            top_k: None,
            top_p: false,
        },
    };
    planned.programs.push(PlannedProgram {
        name: "eval/decode".to_string(),
        module: decode(&model, &greedy, &[1, 106], &layout, WeightOrder::AsTrained),
        resident_args: 0,
        phase_resident: 0,
    });
    for version in VERSIONS {
        let Some(path) = libtpu(version) else { return };
        let plugin = Platform::Tpu.load_compiler(Some(&path)).unwrap();
        let topology = Topology::new(plugin, "v5e:2x4").unwrap();
        assert_eq!(topology.device_count().unwrap(), 8, "libtpu {version}");
        assert!(
            topology.platform_version().unwrap().contains("v5 lite"),
            "libtpu {version} should describe a v5e: {}",
            topology.platform_version().unwrap()
        );
        for program in &planned.programs {
            let compiled = topology
                .compile(&program.module.text, &program.module.compile_options())
                .unwrap_or_else(|e| panic!("libtpu {version}, {}: {e}", program.name));
            let stats = compiled.memory_stats().unwrap();
            assert_eq!(program.module.num_partitions, 8, "{}", program.name);
            // Each chip's arguments hold at least its eighth of the program's parameters
            // (TPU layouts pad small arrays to tiles, so they may hold more).
            let logical: i64 = program
                .module
                .param_shapes
                .iter()
                .map(|s| s.element_count() * s.ty.size_in_bytes() as i64)
                .sum();
            assert!(
                stats.arguments >= logical / 8 && logical > 0,
                "libtpu {version}, {}: {} argument bytes planned for {logical} bytes of parameters",
                program.name,
                stats.arguments
            );
            assert!(stats.code > 0, "{}: no code", program.name);
        }
    }
}

#[test]
fn libtpu_rejects_what_its_stablehlo_cannot_parse_and_says_which_version_it_reads() {
    let Some(path) = libtpu("0.0.17") else { return };
    let plugin = Platform::Tpu.load_compiler(Some(&path)).unwrap();
    let (minimum, current) = plugin
        .stablehlo_window()
        .expect("libtpu reports its versions");
    assert_eq!(current.to_string(), "1.10.10");
    assert!(minimum < current);
    let topology = Topology::new(plugin, "v5e:2x4").unwrap();
    let bogus = "module @m {\n  func.func public @main(%a: tensor<2xf32>) -> tensor<2xf32> {\n    %0 = \"stablehlo.not_an_op\"(%a) : (tensor<2xf32>) -> tensor<2xf32>\n    return %0 : tensor<2xf32>\n  }\n}\n";
    let err = match topology.compile(bogus, &CompileOptions::default()) {
        Ok(_) => panic!("an unknown op compiled"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("1.10.10"), "{err}");
}

/// The command: reports every program, says whether the run fits, and exits non-zero when it
/// does not.
#[test]
fn compile_check_reports_memory_and_fails_when_the_run_does_not_fit() {
    let Some(path) = libtpu("0.0.17") else { return };
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let run = |hbm_gib: &str| {
        Command::new(env!("CARGO_BIN_EXE_grpo-xla"))
            .args([
                "compile-check",
                "--config",
                "configs/smoke.yaml",
                "--plugin",
            ])
            .arg(&path)
            .args(["--hbm-gib", hbm_gib, "--json"])
            .arg(&json)
            .output()
            .unwrap()
    };
    let fits = run("16");
    let stdout = String::from_utf8_lossy(&fits.stdout);
    assert!(
        fits.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&fits.stderr)
    );
    assert!(stdout.contains("**Fits**"), "{stdout}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let rows = report["plugins"][0]["rows"].as_array().unwrap();
    assert_eq!(
        rows.len(),
        4,
        "train step, reference log-probs, prefill, decode"
    );
    let resident = report["resident_grpo"].as_u64().unwrap();
    for row in rows {
        assert!(
            row["peak_bytes"].as_u64().unwrap() >= resident,
            "a program's peak includes what stays resident: {row}"
        );
    }

    let too_small = run("0.00001");
    assert!(!too_small.status.success());
    let stderr = String::from_utf8_lossy(&too_small.stderr);
    assert!(stderr.contains("does not fit"), "{stderr}");
}
