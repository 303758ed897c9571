//! The shipped configs: every training config loads, and each TPU recipe has a compile-check
//! report (`writeup/tpu/<name>.json`) made from the config as it is now, by both pinned libtpu
//! versions, covering every program the run compiles, and saying the run fits.

use std::path::{Path, PathBuf};

use grpo_xla::models::gemma::GemmaConfig;
use grpo_xla::train::config::TrainConfig;
use grpo_xla::train::plan::plan;
use sha2::{Digest, Sha256};

/// Training configs: every YAML under configs/ but the section files a config includes.
fn training_configs() -> Vec<PathBuf> {
    let mut out = vec![];
    for dir in ["configs", "configs/experiments"] {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap().to_string();
            if name.ends_with(".yaml") && name != "grpo_config.yaml" && name != "reward_config.yaml"
            {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn every_shipped_training_config_loads() {
    let configs = training_configs();
    assert!(configs.len() >= 10, "found only {configs:?}");
    for path in configs {
        if let Err(e) = TrainConfig::load(&path) {
            panic!("{}: {e}", path.display());
        }
    }
}

#[test]
fn each_tpu_recipe_has_a_current_compile_check_report_that_fits() {
    let recipes: Vec<PathBuf> = training_configs()
        .into_iter()
        .filter(|p| p.to_str().unwrap().ends_with("_tpu.yaml"))
        .collect();
    assert_eq!(recipes.len(), 2, "{recipes:?}");
    for config in recipes {
        let stem = config.file_stem().unwrap().to_str().unwrap();
        let report_path = Path::new("writeup/tpu").join(format!("{stem}.json"));
        let regenerate = format!(
            "regenerate it: grpo-xla compile-check --config {} --model-preset PRESET --plugin .../libtpu-0.0.17/libtpu.so --plugin .../libtpu-0.0.52/libtpu.so --json {} --report {}",
            config.display(),
            report_path.display(),
            report_path.with_extension("md").display()
        );
        let text = std::fs::read_to_string(&report_path)
            .unwrap_or_else(|e| panic!("{}: {e}; {regenerate}", report_path.display()));
        let report: serde_json::Value = serde_json::from_str(&text).unwrap();
        let sha: String = Sha256::digest(std::fs::read(&config).unwrap())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            report["config_sha256"].as_str(),
            Some(sha.as_str()),
            "{} changed since its report; {regenerate}",
            config.display()
        );

        let preset = report["model"]
            .as_str()
            .unwrap()
            .strip_prefix("preset ")
            .expect("the report names the preset it checked");
        let cfg = TrainConfig::load(&config).unwrap();
        let mut model = GemmaConfig::preset(preset).unwrap();
        model.dtype = cfg.model.dtype.element_type();
        let planned: Vec<String> = plan(&cfg, &model, &cfg.mesh.layout(8).unwrap())
            .programs
            .iter()
            .map(|p| p.name.clone())
            .collect();

        let plugins = report["plugins"].as_array().unwrap();
        let versions: Vec<&str> = plugins
            .iter()
            .map(|p| p["pjrt_api"].as_str().unwrap())
            .collect();
        assert_eq!(versions, ["0.69", "0.117"], "libtpu 0.0.17 and 0.0.52");
        let hbm = report["hbm_bytes"].as_u64().unwrap();
        assert_eq!(hbm, 16 << 30, "a v5e chip's HBM");
        for plugin in plugins {
            let rows = plugin["rows"].as_array().unwrap();
            let names: Vec<&str> = rows
                .iter()
                .map(|r| r["program"].as_str().unwrap())
                .collect();
            assert_eq!(names, planned, "{}", report_path.display());
            for row in rows {
                let peak = row["peak_bytes"].as_u64().unwrap();
                assert!(peak <= hbm, "{}: {row} does not fit", report_path.display());
            }
        }
    }
}
