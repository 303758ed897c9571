//! Every benchmark runs on a tiny model (without the Tunix side) and writes its rows as JSON
//! (`--json`: name, ours, tunix, unit, ratio, bound_fraction, reference).

mod common;

use common::assert_success;

use std::process::Command;

#[test]
fn bench_train_times_sft_and_grpo_steps_on_a_tiny_model_and_writes_json_rows() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tiny_sft.yaml");
    let smoke = std::fs::read_to_string("configs/smoke.yaml").unwrap();
    let text = smoke.replace(
        "rollout:",
        "sft:\n  data: data/synthetic_reasoning_set.jsonl\n  steps: 2\n  batch_size: 4\n  max_prompt_length: 40\n  max_target_length: 32\n  learning_rate: 1.0e-3\nrollout:",
    );
    std::fs::write(&config, text).unwrap();
    let json = dir.path().join("rows.json");
    let out = Command::new(env!("CARGO_BIN_EXE_grpo-xla"))
        .args([
            "bench",
            "train",
            "--config",
            config.to_str().unwrap(),
            "--steps",
            "1",
            "--no-tunix",
            "--json",
            json.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_success(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    // Our SFT step runs the examples packed (two a row); Tunix's takes them one a row.
    assert!(
        stdout.contains("SFT step, full, 4 examples (ours packed: 2 rows x ")
            && stdout.contains("tunix: 4 x (64 + 32) tokens)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("GRPO step, full, 2 prompts x 4 (prompt 64 + 16 new tokens)"),
        "{stdout}"
    );
    let rows: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(rows.len(), 3, "SFT step, start-up, GRPO step: {rows:?}");
    for row in &rows {
        for key in ["name", "ours", "tunix", "unit", "ratio", "bound_fraction"] {
            assert!(row.get(key).is_some(), "{key} missing from {row}");
        }
        assert!(row["ours"].as_f64().unwrap() > 0.0, "{row}");
    }
    let fraction = rows[0]["bound_fraction"].as_f64().unwrap();
    assert!(fraction > 0.0 && fraction < 1.5, "{fraction}");
}

fn rows_of(args: &[&str], json: &std::path::Path) -> Vec<serde_json::Value> {
    rows_and_table_of(args, json).0
}

/// The bench's JSON rows and what it printed.
fn rows_and_table_of(args: &[&str], json: &std::path::Path) -> (Vec<serde_json::Value>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_grpo-xla"))
        .args(args)
        .args(["--json", json.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    (rows, String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `bench generate` on a tiny model folder (byte tokenizer): a prefill and a decode row per batch,
/// the decode rows with the fraction of min(memory, compute) bound reached; `bench graph` and
/// `bench runtime` against jax.jit.
#[test]
fn bench_generate_and_graph_and_runtime_write_their_rows() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = grpo_xla::models::gemma::GemmaConfig::tiny(grpo_xla::models::gemma::Family::Gemma3);
    let model = dir.path().join("tiny");
    grpo_xla::models::hf::save_params(
        &model,
        &cfg,
        &grpo_xla::models::gemma::random_params(&cfg, 1),
    )
    .unwrap();
    let json = dir.path().join("rows.json");
    // `bench generate` on the tiny model, 4 decode steps, without the Tunix side.
    let generate = |batches: &str, extra: &[&str]| {
        let mut args = vec![
            "bench",
            "generate",
            "--model",
            model.to_str().unwrap(),
            "--batches",
            batches,
            "--steps",
            "4",
            "--no-tunix",
        ];
        args.extend(extra);
        rows_of(&args, &json)
    };
    let rows = generate("1,2", &[]);
    let names: Vec<&str> = rows.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "prefill, batch 1",
            "decode, batch 1",
            "prefill, batch 2",
            "decode, batch 2"
        ]
    );
    // The same in bf16 (our weights and activations; the reference stays f32).
    let bf16 = generate("2", &["--dtype", "bf16"]);
    // Prefill, decode, and the log-prob gap of bf16 decoding to an f32 pass over its tokens:
    // rounding makes it non-zero, and on a tiny random model it stays far below a nat.
    assert_eq!(bf16.len(), 3, "{bf16:?}");
    assert!(bf16.iter().all(|r| r["ours"].as_f64().unwrap() > 0.0));
    let gap = bf16[2]["ours"].as_f64().unwrap();
    assert!(
        bf16[2]["name"]
            .as_str()
            .unwrap()
            .starts_with("log-prob gap")
            && gap < 0.5,
        "{bf16:?}"
    );
    // Sampled from the top 5, as rollouts decode (the tiny vocabulary's blocks of 13).
    let top_k = generate("2", &["--top-k", "5"]);
    let names: Vec<&str> = top_k.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["prefill, batch 2 (top-5)", "decode, batch 2 (top-5)"]
    );
    for r in rows
        .iter()
        .filter(|r| r["name"].as_str().unwrap().starts_with("decode"))
    {
        let f = r["bound_fraction"].as_f64().unwrap();
        assert!(f > 0.0 && f < 1.5, "{r}");
        assert_eq!(r["unit"], "tok/s");
    }
    let rows = rows_of(
        &[
            "bench",
            "graph",
            "--layers",
            "1",
            "--seq",
            "16",
            "--no-compile",
            "--no-jax",
        ],
        &json,
    );
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["reference"], "jax.jit");
    assert!(rows[0]["ours"].as_f64().unwrap() > 0.0);
    // The runtime bench always runs its jax.jit side (the reference environment).
    let rows = rows_of(
        &[
            "bench",
            "runtime",
            "--dispatch-iters",
            "10",
            "--matmul-iters",
            "2",
        ],
        &json,
    );
    assert_eq!(rows.len(), 2);
    for r in &rows {
        assert!(r["ratio"].as_f64().unwrap() > 0.0, "{r}");
    }
}

/// `bench mesh` on the smoke config: one row per device count, timed against one device; with
/// `--repeats` the median row and each repeat's ratio.
#[test]
fn bench_mesh_compares_device_counts_with_one_device() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("rows.json");
    let (rows, stdout) = rows_and_table_of(
        &[
            "bench",
            "mesh",
            "--config",
            "configs/smoke.yaml",
            "--devices",
            "2",
            "--steps",
            "2",
            "--repeats",
            "2",
        ],
        &json,
    );
    assert_eq!(rows.len(), 1, "{rows:?}");
    let row = &rows[0];
    assert_eq!(row["name"], "GRPO step per example, 2 devices (8 rows)");
    assert_eq!(row["reference"], "ours on 1 device");
    assert!(row["ours"].as_f64().unwrap() > 0.0 && row["tunix"].as_f64().unwrap() > 0.0);
    assert!(row["ratio"].as_f64().unwrap() > 0.0, "{row}");
    assert!(
        stdout.contains("median of 2 interleaved repeats"),
        "{stdout}"
    );
    let each = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("2 devices: "))
        .unwrap_or_else(|| panic!("no per-repeat line:\n{stdout}"));
    assert_eq!(each.matches('x').count(), 2, "one ratio per repeat: {each}");
}
