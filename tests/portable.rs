//! The portable build (`scripts/build-portable.sh`, which `scripts/test.sh` runs before the
//! tests): the shipped binary needs no glibc newer than 2.31, and its wheel, installed into a
//! fresh venv, puts a working `grpo-xla` on PATH.

mod common;

use common::assert_success;

use std::path::{Path, PathBuf};
use std::process::Command;

fn wheel() -> PathBuf {
    let found = std::fs::read_dir("dist").ok().and_then(|entries| {
        entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "whl"))
    });
    found.expect("no wheel in dist/: run scripts/build-portable.sh (scripts/test.sh does)")
}

/// The binary inside the wheel, unpacked into `dir`.
fn binary_from_wheel(dir: &Path) -> PathBuf {
    let script = "import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\nname = next(n for n in z.namelist() if n.endswith('/scripts/grpo-xla'))\nprint(z.extract(name, sys.argv[2]))";
    let out = Command::new("python3")
        .args([
            "-c",
            script,
            wheel().to_str().unwrap(),
            dir.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_success(&out);
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

#[test]
fn the_shipped_binary_needs_glibc_2_31_at_most() {
    let dir = tempfile::tempdir().unwrap();
    let binary = binary_from_wheel(dir.path());
    let out = Command::new("readelf")
        .args(["-V", "--wide", binary.to_str().unwrap()])
        .output()
        .expect("readelf (binutils) is needed");
    let text = String::from_utf8_lossy(&out.stdout);
    let versions: Vec<(u32, u32)> = text
        .split("GLIBC_")
        .skip(1)
        .filter_map(|rest| {
            let v: String = rest
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            let mut parts = v.split('.').map(|p| p.parse::<u32>().ok());
            Some((parts.next()??, parts.next().flatten().unwrap_or(0)))
        })
        .collect();
    assert!(
        !versions.is_empty(),
        "no GLIBC_ versions in {}",
        binary.display()
    );
    let newest = versions.iter().max().unwrap();
    assert!(
        *newest <= (2, 31),
        "the binary needs GLIBC_{}.{}",
        newest.0,
        newest.1
    );
}

#[test]
fn the_wheel_puts_a_working_grpo_xla_on_path_in_a_fresh_venv() {
    let dir = tempfile::tempdir().unwrap();
    let venv = dir.path().join("venv");
    let ok = Command::new("python3")
        .args(["-m", "venv", venv.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(ok.success());
    let out = Command::new(venv.join("bin/pip"))
        .args(["install", "-q", "--no-index", wheel().to_str().unwrap()])
        .output()
        .unwrap();
    assert_success(&out);
    let out = Command::new(venv.join("bin/grpo-xla"))
        .arg("devices")
        .output()
        .unwrap();
    assert_success(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.to_lowercase().contains("cpu"), "{stdout}");
}

/// `scripts/kaggle-stage.sh` lays out what is pushed to Kaggle: the wheel with its dataset
/// metadata, the training notebook with kernel metadata naming it and the wheel's dataset, and
/// the model card with model and instance metadata naming the same model.
#[test]
fn kaggle_stage_writes_a_dataset_folder_and_a_kernel_folder() {
    wheel();
    let out = Command::new("scripts/kaggle-stage.sh")
        .env("KAGGLE_USER", "someone")
        .output()
        .unwrap();
    assert_success(&out);
    let read = |p: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
    };
    let kernel = read("target/kaggle/notebook/kernel-metadata.json");
    assert_eq!(kernel["id"], "someone/grpo-xla-train");
    let code = Path::new("target/kaggle/notebook").join(kernel["code_file"].as_str().unwrap());
    assert!(code.is_file(), "{} is missing", code.display());
    let dataset = read("target/kaggle/wheel/dataset-metadata.json");
    assert_eq!(kernel["dataset_sources"][0], dataset["id"]);
    let staged_wheel = Path::new("target/kaggle/wheel").join(wheel().file_name().unwrap());
    assert!(staged_wheel.is_file());
    let model = read("target/kaggle/model/model-metadata.json");
    let instance = read("target/kaggle/model/instance/model-instance-metadata.json");
    assert_eq!(model["ownerSlug"], "someone");
    assert_eq!(instance["ownerSlug"], "someone");
    assert_eq!(instance["modelSlug"], model["slug"]);
    let card = std::fs::read_to_string("target/kaggle/model/instance/README.md").unwrap();
    assert!(
        !card.contains("YOUR_KAGGLE_USER") && card.contains("Load it in Tunix"),
        "the staged model card"
    );
}
