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

/// `scripts/gpu/decode_profile.py` on the committed Nsight Compute kernel list of the H200
/// decode step (batch 8): the figures the README's "Where a GPU decode step goes" quotes
/// (305 kernels a step, 1,186 us of device time, the LM head its largest kernel), and a
/// refusal naming the kernel it could not find.
#[test]
fn decode_profile_reproduces_the_readmes_gpu_decode_breakdown() {
    let csv = "writeup/gpu_check/logs/decode_b8_ncu_kernels_h200.csv.gz";
    let run = |args: &[&str]| {
        Command::new("python3")
            .arg("scripts/gpu/decode_profile.py")
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&[csv]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("14 whole decode steps of 305 kernels"),
        "{stdout}"
    );
    assert!(
        stdout.contains("device time per step: median 1186.3 us"),
        "{stdout}"
    );
    let head = stdout
        .lines()
        .find(|l| l.starts_with("| LM head ("))
        .unwrap_or_else(|| panic!("no LM head row:\n{stdout}"));
    assert!(head.contains("| 1 | 159.8 | 13% |"), "{head}");
    let refused = run(&[csv, "no_such_kernel"]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("no_such_kernel launched 0 times"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}
