//! `grpo-xla doctor`: checks each thing the project needs and says how to fix what is missing.

use anyhow::Result;
use grpo_xla::home;
use grpo_xla::pjrt::platforms::Platform;

struct Check {
    name: &'static str,
    ok: bool,
    detail: String,
}

pub fn run() -> Result<()> {
    let mut checks = vec![];
    match Platform::Cpu.client(None, Some(1)) {
        Ok(client) => checks.push(Check {
            name: "CPU plugin",
            ok: true,
            detail: format!(
                "{} ({} device)",
                client.plugin().path().display(),
                client.devices().len()
            ),
        }),
        Err(e) => checks.push(Check {
            name: "CPU plugin",
            ok: false,
            detail: e.to_string(),
        }),
    }
    for platform in [Platform::Gpu, Platform::Tpu] {
        // Optional: report where it is, or how to get it, without failing the check-up.
        let detail = match platform.find_plugin() {
            Ok(path) => format!("found {}", path.display()),
            Err(e) => format!("not installed (optional): {}", e.install),
        };
        checks.push(Check {
            name: if platform == Platform::Gpu {
                "GPU plugin"
            } else {
                "TPU plugin"
            },
            ok: true,
            detail,
        });
    }
    // Optional too: the pinned libtpu builds that `compile-check` compiles TPU programs with.
    let mut libtpu: Vec<String> = std::fs::read_dir(home::root().join("plugins"))
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
    libtpu.sort();
    checks.push(Check {
        name: "libtpu (AOT)",
        ok: true,
        detail: if libtpu.is_empty() {
            "not installed (optional): scripts/get-libtpu.sh 0.0.17 0.0.52".to_string()
        } else {
            format!(
                "versions {} in {}",
                libtpu.join(", "),
                home::root().join("plugins").display()
            )
        },
    });
    match home::reference_python().and_then(|python| {
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
    }) {
        Ok(detail) => checks.push(Check {
            name: "reference env",
            ok: true,
            detail,
        }),
        Err(e) => checks.push(Check {
            name: "reference env",
            ok: false,
            detail: e.to_string(),
        }),
    }
    let model = std::path::Path::new("models/gemma3-270m");
    let model_ok =
        model.join("model.safetensors").is_file() && model.join("tokenizer.json").is_file();
    checks.push(Check {
        name: "default model",
        ok: model_ok,
        detail: if model_ok {
            format!("{} (Gemma 3 270M, HF layout)", model.display())
        } else {
            format!(
                "{} is missing or incomplete; scripts/setup.sh builds it",
                model.display()
            )
        },
    });
    let cache = home::executable_cache_dir();
    let writable = std::fs::create_dir_all(&cache).is_ok();
    checks.push(Check {
        name: "compile cache",
        ok: writable,
        detail: if writable {
            cache.display().to_string()
        } else {
            format!(
                "cannot create {}; set GRPO_XLA_HOME to a writable folder",
                cache.display()
            )
        },
    });

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
