//! The benchmarks run (on a tiny model, without the Tunix side): `bench train` times the
//! supervised step of a config and writes its rows as JSON.

use std::process::Command;

#[test]
fn bench_train_runs_on_a_tiny_model_and_writes_json_rows() {
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
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("SFT step, full, 4 x (64 + 32) tokens"),
        "{stdout}"
    );
    let rows: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(rows.len(), 2);
    for row in &rows {
        for key in ["name", "ours", "tunix", "unit", "ratio", "bound_fraction"] {
            assert!(row.get(key).is_some(), "{key} missing from {row}");
        }
        assert!(row["ours"].as_f64().unwrap() > 0.0, "{row}");
    }
    let fraction = rows[0]["bound_fraction"].as_f64().unwrap();
    assert!(fraction > 0.0 && fraction < 1.5, "{fraction}");
}
