//! `grpo-xla export` of a trained run (the smoke config, tiny Gemma 3, LoRA, 2 steps):
//!
//! - Round trips, bit-exact and without Python: the Orbax export (nnx and upstream trees, f32 and
//!   bf16) loads back (`model.path` accepts it) into exactly the checkpoint's weights, and the
//!   safetensors export is the checkpoint's model folder, byte for byte.
//! - Against Tunix, on the same exports: restored through `StandardCheckpointer` + `nnx.merge`,
//!   through `tunix.sft.CheckpointManager` (f32; bf16 arrays compared with our weights rounded to
//!   bf16: equal bit for bit), through `gemma3.params.create_model_from_checkpoint` (upstream
//!   tree), and the LoRA export restored onto qwix's LoRA model of the base weights. Each gives
//!   our logits and our greedy continuation. What Tunix then saves with its defaults (Orbax's
//!   OCDBT layout, through its `CheckpointManager` and `StandardCheckpointer`) loads back into
//!   exactly our weights.
//!
//! Tolerance on logits (of order 1-5, f32): 1e-5 absolute. Measured 3.7e-7 for the three full
//! restores and 5.7e-7 for the LoRA model, which computes x·W + s·(x·A)·B where we use the merged
//! W and so rounds differently.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::our_logits;
use grpo_xla::graph::HostArray;
use grpo_xla::models::gemma::GemmaConfig;
use grpo_xla::models::{hf, DType, LoadedModel};
use grpo_xla::reference;
use serde_json::json;

const LOGITS_TOL: f64 = 1e-5;
const SCRIPT: &str = concat!(
    include_str!("reference/tunix_gemma.py"),
    include_str!("reference/tunix_orbax.py")
);

fn grpo_xla(args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_grpo-xla"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "grpo-xla {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A 2-step LoRA run of the smoke config, exported every way; returns (dir, run).
fn trained_and_exported() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string("configs/smoke.yaml")
        .unwrap()
        .replace("optimizer:", "lora:\n  rank: 4\n  alpha: 8\noptimizer:")
        .replace("learning_rate: 0.001", "learning_rate: 0.05")
        .replace("  steps: 4", "  steps: 2");
    let cfg = dir.path().join("config.yaml");
    std::fs::write(&cfg, text).unwrap();
    let run = dir.path().join("run");
    grpo_xla(&["train", "--config", s(&cfg), "--output-dir", s(&run)]);
    let export = |name: &str, extra: &[&str]| {
        let out = dir.path().join(name);
        let mut args = vec!["export", "--run", s(&run), "--out", s(&out)];
        args.extend_from_slice(extra);
        grpo_xla(&args);
    };
    export("nnx_f32", &["--format", "orbax"]);
    export("nnx_bf16", &["--format", "orbax", "--dtype", "bf16"]);
    export("upstream", &["--format", "orbax", "--tree", "upstream"]);
    export("lora", &["--format", "lora"]);
    export("hf", &["--format", "safetensors", "--step", "2"]);
    (dir, run)
}

fn checkpoint_model(run: &Path) -> PathBuf {
    run.join("checkpoints/step_000002/model")
}

#[test]
fn exports_load_back_bit_exact() {
    let (dir, run) = trained_and_exported();
    let ours = LoadedModel::from_dir(&checkpoint_model(&run), DType::F32).unwrap();
    for name in ["nnx_f32", "upstream"] {
        // The CheckpointManager root, and the tree folder itself.
        for path in [
            dir.path().join(name),
            dir.path().join(name).join("2/model_params"),
        ] {
            let back = LoadedModel::from_dir(&path, DType::F32).unwrap();
            assert_eq!(back.config.param_specs(), ours.config.param_specs());
            assert!(back.params == ours.params, "{} differs", path.display());
        }
    }
    let bf16_ours = LoadedModel::from_dir(&checkpoint_model(&run), DType::Bf16).unwrap();
    let bf16_back = LoadedModel::from_dir(&dir.path().join("nnx_bf16"), DType::Bf16).unwrap();
    assert!(bf16_back
        .params
        .iter()
        .all(|p| p.ty == grpo_xla::pjrt::ElementType::BF16));
    assert!(bf16_back.params == bf16_ours.params, "bf16 export differs");
    for file in ["model.safetensors", "config.json"] {
        let a = std::fs::read(checkpoint_model(&run).join(file)).unwrap();
        let b = std::fs::read(dir.path().join("hf").join(file)).unwrap();
        assert!(a == b, "safetensors export: {file} differs");
    }
}

/// Greedy continuation by repeated full forwards over a fixed-length row (as the script does).
fn our_greedy(
    cfg: &GemmaConfig,
    params: &[HostArray],
    prompt: &[i32],
    steps: usize,
    length: usize,
) -> Vec<i32> {
    let vocab = cfg.vocab_size as usize;
    let mut row = prompt.to_vec();
    for _ in 0..steps {
        let mut padded = row.clone();
        padded.resize(length, 0);
        let logits = our_logits(cfg, params, &padded, [1, length as i64]);
        let at = &logits[(row.len() - 1) * vocab..row.len() * vocab];
        let best = (0..vocab).max_by(|&a, &b| at[a].total_cmp(&at[b])).unwrap();
        row.push(best as i32);
    }
    row[prompt.len()..].to_vec()
}

#[test]
fn tunix_restores_every_export_with_our_logits_and_greedy_text() {
    let (dir, run) = trained_and_exported();
    let model = LoadedModel::from_dir(&checkpoint_model(&run), DType::F32).unwrap();
    let cfg = &model.config;
    // The LoRA export goes onto the base weights: the smoke preset's.
    let base = LoadedModel::random("tiny_gemma3", 0).unwrap();
    let base_hf = dir.path().join("base");
    hf::save_params(&base_hf, cfg, &base.params).unwrap();
    let tokens: Vec<i32> = (0..16).map(|i| 4 + (i * 29 % 250)).collect();
    let prompt: Vec<i32> = vec![2, 40, 77, 101, 9];
    let (steps, length) = (6, 12);
    let ours = our_logits(cfg, &model.params, &tokens, [2, 8]);
    let greedy = our_greedy(cfg, &model.params, &prompt, steps, length);
    let root = |n: &str| dir.path().join(n);
    let result = reference::run(
        SCRIPT,
        &json!({
            "config": {"num_layers": cfg.num_layers, "vocab": cfg.vocab_size, "d": cfg.embed_dim, "f": cfg.hidden_dim,
                       "n": cfg.num_heads, "h": cfg.head_dim, "k": cfg.num_kv_heads, "window": cfg.sliding_window},
            "step": 2,
            "exports": {
                "nnx_f32_tree": root("nnx_f32/2/model_params"), "nnx_f32_root": root("nnx_f32"),
                "nnx_bf16_root": root("nnx_bf16"), "upstream_tree": root("upstream/2/model_params"),
                "lora_root": root("lora"), "merged_hf": checkpoint_model(&run), "base_hf": base_hf,
            },
            "saves": {"manager_root": root("tunix_saved"), "standard_tree": root("tunix_standard")},
            "tokens": reference::array(&[2, 8], "i32", &tokens),
            "prompt": prompt, "steps": steps, "length": length,
        }),
    )
    .unwrap();
    // What Tunix saved with its defaults (OCDBT) loads as a model folder, bit-exact: ours →
    // our Orbax export → Tunix → Tunix's own save → ours.
    for saved in [root("tunix_saved"), root("tunix_standard")] {
        assert!(
            saved.join("manifest.ocdbt").exists()
                || saved.join("2/model_params/manifest.ocdbt").exists(),
            "{}: Tunix did not save in its OCDBT layout",
            saved.display()
        );
        let back = LoadedModel::from_dir(&saved, DType::F32).unwrap();
        assert!(back.params == model.params, "{} differs", saved.display());
    }
    for path in ["standard", "manager", "upstream", "lora"] {
        let theirs = reference::f64s(&result[path]["logits"]).unwrap();
        let diff = ours
            .iter()
            .zip(&theirs)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        eprintln!("{path}: max |ours - tunix| logits = {diff:.2e}");
        assert!(diff <= LOGITS_TOL, "{path}: logits differ by {diff}");
        let their_greedy: Vec<i32> =
            serde_json::from_value(result[path]["greedy"].clone()).unwrap();
        assert_eq!(their_greedy, greedy, "{path}: greedy text differs");
    }
    assert_eq!(result["bf16_dtypes"], json!(["bfloat16"]));
    assert_eq!(
        result["bf16_max_diff"].as_f64(),
        Some(0.0),
        "bf16 export is not our weights rounded"
    );
}

/// The multi-session flow: a run stopped after 2 of 4 steps is exported (`--format run`), the
/// folder copied elsewhere (as a Kaggle model is, into a new session's working folder) and
/// resumed there: its last checkpoint and metrics equal an uninterrupted run's.
#[test]
fn a_run_exported_and_resumed_elsewhere_continues_identically() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = Path::new("configs/smoke.yaml");
    let whole = dir.path().join("whole");
    grpo_xla(&["train", "--config", s(cfg), "--output-dir", s(&whole)]);
    let first = dir.path().join("session1/run");
    grpo_xla(&[
        "train",
        "--config",
        s(cfg),
        "--output-dir",
        s(&first),
        "--max-steps",
        "2",
    ]);
    let model = dir.path().join("kaggle_model");
    grpo_xla(&[
        "export",
        "--run",
        s(&first),
        "--format",
        "run",
        "--out",
        s(&model),
    ]);
    std::fs::remove_dir_all(dir.path().join("session1")).unwrap();
    let mut names: Vec<String> = std::fs::read_dir(&model)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["checkpoints", "config.yaml", "metrics.jsonl"]);
    let second = dir.path().join("session2/run");
    std::fs::create_dir_all(second.parent().unwrap()).unwrap();
    let copied = Command::new("cp")
        .args(["-r", s(&model), s(&second)])
        .status()
        .unwrap();
    assert!(copied.success());
    grpo_xla(&[
        "train",
        "--config",
        s(&second.join("config.yaml")),
        "--output-dir",
        s(&second),
        "--resume",
    ]);
    for file in ["state.safetensors", "model/model.safetensors", "state.json"] {
        let a = std::fs::read(whole.join("checkpoints/step_000004").join(file)).unwrap();
        let b = std::fs::read(second.join("checkpoints/step_000004").join(file)).unwrap();
        assert!(a == b, "{file} differs after resuming elsewhere");
    }
    assert_eq!(records(&second), records(&whole));
}

/// A run's metrics without its timings (which differ between any two runs).
fn records(run: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            v.as_object_mut()
                .unwrap()
                .retain(|k, _| !k.contains("time") && !k.contains("per_s"));
            v
        })
        .collect()
}

/// A run whose `model.path` is an Orbax checkpoint (a `CheckpointManager` root, as Tunix
/// saves one) trains from those weights, and stopped and resumed (`--resume`, which reloads the
/// base model from that path) continues exactly as a run that was not stopped.
#[test]
fn a_run_from_an_orbax_checkpoint_stops_and_resumes_identically() {
    let (dir, _) = trained_and_exported();
    let text = std::fs::read_to_string("configs/smoke.yaml")
        .unwrap()
        .replace(
        "  preset: tiny_gemma3          # random weights; byte-level tokenizer\n  init_seed: 0\n",
        &format!("  path: {}\n", s(&dir.path().join("nnx_f32"))),
    );
    assert!(
        text.contains("nnx_f32"),
        "the smoke config's model section changed"
    );
    let cfg = dir.path().join("from_orbax.yaml");
    std::fs::write(&cfg, text).unwrap();
    let (whole, split) = (dir.path().join("whole"), dir.path().join("split"));
    grpo_xla(&["train", "--config", s(&cfg), "--output-dir", s(&whole)]);
    let args = ["train", "--config", s(&cfg), "--output-dir", s(&split)];
    grpo_xla(&[&args[..], &["--max-steps", "2"]].concat());
    grpo_xla(&[&args[..], &["--resume"]].concat());
    for file in ["state.safetensors", "model/model.safetensors"] {
        let a = std::fs::read(whole.join("checkpoints/step_000004").join(file)).unwrap();
        let b = std::fs::read(split.join("checkpoints/step_000004").join(file)).unwrap();
        assert!(a == b, "{file} differs after resuming");
    }
    assert_eq!(records(&split), records(&whole));
    // It trained from the checkpoint's weights, not the preset's: its first loss and samples
    // differ from the smoke run's own.
    let smoke = dir.path().join("smoke");
    grpo_xla(&[
        "train",
        "--config",
        "configs/smoke.yaml",
        "--output-dir",
        s(&smoke),
        "--max-steps",
        "1",
    ]);
    assert_ne!(records(&whole)[0], records(&smoke)[0]);
}
