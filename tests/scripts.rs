//! The diagnostic scripts users run beside the binary.

use std::process::Command;

/// `scripts/probe_arithmetic.sh` on a tiny random model: one line per operation and a total,
/// each a count out of the problems asked; a folder without a model is refused by name.
#[test]
fn probe_arithmetic_reports_each_operation_and_refuses_a_folder_without_a_model() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = grpo_xla::models::gemma::GemmaConfig::tiny(grpo_xla::models::gemma::Family::Gemma3);
    let model = dir.path().join("tiny");
    let params = grpo_xla::models::gemma::random_params(&cfg, 1);
    grpo_xla::models::hf::save_params(&model, &cfg, &params).unwrap();
    let probe = |model: &std::path::Path| {
        Command::new("scripts/probe_arithmetic.sh")
            .arg(model)
            .arg("2")
            .env("GRPO_XLA_BIN", env!("CARGO_BIN_EXE_grpo-xla"))
            .output()
            .unwrap()
    };
    let out = probe(&model);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for op in ["+", "-", "x", "*"] {
        let line = stdout
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("a {op} b: ")))
            .unwrap_or_else(|| panic!("no line for {op}:\n{stdout}"));
        assert!(line.ends_with(" / 2 right"), "{line}");
    }
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("all: ") && l.ends_with(" / 8 right")),
        "{stdout}"
    );

    let out = probe(dir.path());
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not a model folder"), "{stderr}");
}
