//! The reference environment: a pinned Python venv with JAX that computes the same thing as our
//! code, for tests and side-by-side benchmarks. Scripts are embedded in the binary and talk
//! JSON over stdin/stdout; arrays travel as `{"shape": [...], "dtype": "f32", "data": [...]}`.

use std::io::Write;
use std::process::{Command, Stdio};

use anyhow::{Context, Result};
use serde_json::Value;

const COMMON: &str = include_str!("../scripts/reference/common.py");

/// Runs `script` (Python source that defines `main(inputs) -> outputs`) in the reference venv.
pub fn run(script: &str, inputs: &Value) -> Result<Value> {
    let python = crate::home::reference_python()?;
    let source = format!("{COMMON}\n{script}\n\nrun(main)\n");
    let mut child = Command::new(&python)
        .args(["-c", &source])
        // CPU unless told otherwise (GRPO_XLA_REF_PLATFORMS=cuda runs the JAX side of a GPU
        // benchmark on the GPU; JAX then must not take the memory our own client holds).
        .env(
            "JAX_PLATFORMS",
            std::env::var("GRPO_XLA_REF_PLATFORMS").unwrap_or_else(|_| "cpu".into()),
        )
        .env("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
        .env("TF_CPP_MIN_LOG_LEVEL", "3")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", python.display()))?;
    child
        .stdin
        .take()
        .expect("stdin piped")
        .write_all(serde_json::to_string(inputs)?.as_bytes())?;
    let out = child.wait_with_output()?;
    anyhow::ensure!(
        out.status.success(),
        "the reference script failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).with_context(|| format!("reading the reference output: {stdout}"))
}

/// A host array as the reference scripts read it.
pub fn array<T: serde::Serialize>(shape: &[i64], dtype: &str, data: &[T]) -> Value {
    serde_json::json!({"shape": shape, "dtype": dtype, "data": data})
}

/// The f64 values of an array the reference returned.
pub fn f64s(value: &Value) -> Result<Vec<f64>> {
    value["data"]
        .as_array()
        .context("reference output is not an array")?
        .iter()
        .map(|v| v.as_f64().context("reference output has a non-number"))
        .collect()
}

/// The integer values of an array the reference returned.
pub fn u64s(value: &Value) -> Result<Vec<u64>> {
    value["data"]
        .as_array()
        .context("reference output is not an array")?
        .iter()
        .map(|v| v.as_u64().context("reference output has a non-integer"))
        .collect()
}
