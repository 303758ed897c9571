//! Where grpo-xla keeps what setup installs: plugins, the reference environment, caches.
//!
//! Everything lives under `$GRPO_XLA_HOME` (default `~/.cache/grpo-xla`), so a clean clone on a
//! machine that ran setup before reuses it, and deleting that folder resets the machine.

use std::path::PathBuf;

pub fn root() -> PathBuf {
    if let Some(dir) = std::env::var_os("GRPO_XLA_HOME") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".cache").join("grpo-xla")
}

pub fn plugin_dir() -> PathBuf {
    root().join("plugins").join("cpu")
}

pub fn executable_cache_dir() -> PathBuf {
    root().join("executables")
}

pub fn reference_venv() -> PathBuf {
    root().join("venv-ref")
}

/// The Python of the pinned reference environment (JAX), used by tests and benchmarks.
pub fn reference_python() -> anyhow::Result<PathBuf> {
    if let Some(python) = std::env::var_os("GRPO_XLA_REF_PYTHON") {
        return Ok(PathBuf::from(python));
    }
    let python = reference_venv().join("bin").join("python");
    anyhow::ensure!(
        python.is_file(),
        "the reference environment (JAX) is missing: {} does not exist.\n  Create it with: scripts/setup.sh",
        python.display()
    );
    Ok(python)
}
