//! `grpo-xla doctor`: checks each thing the project needs and says how to fix what is missing.

use anyhow::Result;
use grpo_xla::home;
use grpo_xla::pjrt::platforms::Platform;

struct Check {
    name: &'static str,
    ok: bool,
    detail: String,
}

impl Check {
    /// Passed with `detail`, or failed with the error's message.
    fn from_result(name: &'static str, result: Result<String>) -> Check {
        match result {
            Ok(detail) => Check {
                name,
                ok: true,
                detail,
            },
            Err(e) => Check {
                name,
                ok: false,
                detail: e.to_string(),
            },
        }
    }

    /// Passed with `detail`: something optional, reported either way.
    fn optional(name: &'static str, detail: String) -> Check {
        Check {
            name,
            ok: true,
            detail,
        }
    }
}

pub fn run() -> Result<()> {
    let mut checks = vec![Check::from_result("CPU plugin", cpu_plugin())];
    for (name, platform) in [("GPU plugin", Platform::Gpu), ("TPU plugin", Platform::Tpu)] {
        let detail = match platform.find_plugin() {
            Ok(path) => format!("found {}", path.display()),
            Err(e) => format!("not installed (optional): {}", e.install),
        };
        checks.push(Check::optional(name, detail));
    }
    checks.push(Check::optional("libtpu (AOT)", libtpu_builds()));
    checks.push(Check::from_result("reference env", reference_env()));
    checks.push(Check::from_result("default model", default_model()));
    checks.push(Check::from_result("compile cache", compile_cache()));

    let mut failed = 0;
    for check in &checks {
        println!(
            "[{}] {:<14} {}",
            if check.ok { " ok " } else { "FAIL" },
            check.name,
            check.detail
        );
        failed += usize::from(!check.ok);
    }
    anyhow::ensure!(
        failed == 0,
        "{failed} check(s) failed; scripts/setup.sh installs what is missing"
    );
    Ok(())
}

fn cpu_plugin() -> Result<String> {
    let client = Platform::Cpu.client(None, Some(1))?;
    Ok(format!(
        "{} ({} device)",
        client.plugin().path().display(),
        client.devices().len()
    ))
}

/// The pinned libtpu builds that `compile-check` compiles TPU programs with (optional).
fn libtpu_builds() -> String {
    let plugins = home::root().join("plugins");
    let mut versions: Vec<String> = std::fs::read_dir(&plugins)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().join("libtpu.so").is_file())
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .map(|n| n.trim_start_matches("libtpu-").to_string())
        })
        .collect();
    versions.sort();
    match versions.is_empty() {
        true => "not installed (optional): scripts/get-libtpu.sh 0.0.17 0.0.52".to_string(),
        false => format!("versions {} in {}", versions.join(", "), plugins.display()),
    }
}

/// The pinned JAX environment the tests compare with.
fn reference_env() -> Result<String> {
    let python = home::reference_python()?;
    let out = std::process::Command::new(&python)
        .args(["-c", "import jax, jaxlib; print(jax.__version__)"])
        .env("JAX_PLATFORMS", "cpu")
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(format!(
        "{} (jax {})",
        python.display(),
        String::from_utf8_lossy(&out.stdout).trim()
    ))
}

fn default_model() -> Result<String> {
    let model = std::path::Path::new("models/gemma3-270m");
    anyhow::ensure!(
        model.join("model.safetensors").is_file() && model.join("tokenizer.json").is_file(),
        "{} is missing or incomplete; scripts/setup.sh builds it",
        model.display()
    );
    Ok(format!("{} (Gemma 3 270M, HF layout)", model.display()))
}

fn compile_cache() -> Result<String> {
    let cache = home::executable_cache_dir();
    std::fs::create_dir_all(&cache).map_err(|_| {
        anyhow::anyhow!(
            "cannot create {}; set GRPO_XLA_HOME to a writable folder",
            cache.display()
        )
    })?;
    Ok(cache.display().to_string())
}
