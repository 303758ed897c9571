//! Bad input, one case per row of the README's reliability table: `grpo-xla train` exits
//! non-zero with one error that names the file (and line or key) and what is wrong, and never
//! panics. The cases are built on the smoke config (tiny Gemma 3) and tiny model folders.

use std::path::{Path, PathBuf};
use std::process::Command;

use grpo_xla::models::gemma::{random_params, Family, GemmaConfig};
use grpo_xla::models::hf::save_params;

fn grpo_xla(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_grpo-xla"))
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

struct Case<'a> {
    name: &'a str,
    /// Edits the smoke config's text.
    config: Box<dyn Fn(String) -> String + 'a>,
    /// Whether to resume in the shared run folder (which holds a smoke run's checkpoints).
    resume: bool,
    /// What the error must say.
    expect: Vec<String>,
}

/// A tiny Gemma 3 model folder (HF layout) with `edit` applied to its config.
fn tiny_model(dir: &Path, name: &str, edit: impl Fn(&mut GemmaConfig)) -> PathBuf {
    let mut cfg = GemmaConfig::tiny(Family::Gemma3);
    edit(&mut cfg);
    let path = dir.join(name);
    save_params(&path, &cfg, &random_params(&cfg, 1)).unwrap();
    path
}

fn with_model(path: &Path) -> impl Fn(String) -> String + '_ {
    move |t: String| t.replace("  preset: tiny_gemma3", &format!("  path: {}", s(path)))
}

fn with_data(path: &Path) -> impl Fn(String) -> String + '_ {
    move |t: String| {
        t.replace("data/synthetic_reasoning_set.jsonl", s(path))
            .replace("bad_lines: skip", "bad_lines: abort")
    }
}

#[test]
fn each_bad_input_gets_one_clear_error_naming_the_file_and_no_panic() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let smoke = std::fs::read_to_string("configs/smoke.yaml").unwrap();
    let write = |name: &str, text: &str| {
        let p = d.join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    // A run whose checkpoints the resume cases use, exported to Orbax for the last case.
    let run = d.join("run");
    let cfg = write("smoke.yaml", &smoke.replace("  steps: 4", "  steps: 2"));
    let (ok, err) = grpo_xla(&["train", "--config", s(&cfg), "--output-dir", s(&run)]);
    assert!(ok, "{err}");
    let orbax = d.join("orbax");
    let (ok, err) = grpo_xla(&[
        "export",
        "--run",
        s(&run),
        "--format",
        "orbax",
        "--out",
        s(&orbax),
    ]);
    assert!(ok, "{err}");
    std::fs::remove_dir_all(orbax.join("2/model_params/layers.3.mlp.up_proj.kernel.value"))
        .unwrap();

    let not_json = write(
        "not_json.jsonl",
        "{\"question\": \"1+1?\", \"answer\": \"2\"}\n{oops\n",
    );
    let no_field = write(
        "no_field.jsonl",
        "{\"question\": \"1+1?\", \"answer\": \"2\"}\n{\"question\": \"q\"}\n",
    );
    let empty = write("empty.jsonl", "\n");
    let truncated = tiny_model(d, "truncated", |_| {});
    let st = truncated.join("model.safetensors");
    let bytes = std::fs::read(&st).unwrap();
    std::fs::write(&st, &bytes[..bytes.len() / 2]).unwrap();
    let corrupted = tiny_model(d, "corrupted", |_| {});
    let st = corrupted.join("model.safetensors");
    let mut bytes = std::fs::read(&st).unwrap();
    bytes[..16].fill(0xff);
    std::fs::write(&st, &bytes).unwrap();
    // config.json promises a wider MLP than the weights have.
    let misshaped = tiny_model(d, "misshaped", |_| {});
    let config_json = misshaped.join("config.json");
    let text = std::fs::read_to_string(&config_json).unwrap();
    std::fs::write(
        &config_json,
        text.replace("\"intermediate_size\": 64", "\"intermediate_size\": 96"),
    )
    .unwrap();
    // A vocabulary too big for bytes needs a tokenizer.json; the 270M's is not this model's.
    let no_tokenizer = tiny_model(d, "no_tokenizer", |c| c.vocab_size = 1000);
    let wrong_tokenizer = tiny_model(d, "wrong_tokenizer", |c| c.vocab_size = 1000);
    let real = Path::new("models/gemma3-270m/tokenizer.json");
    assert!(
        real.is_file(),
        "{} is missing: run scripts/setup.sh",
        real.display()
    );
    std::fs::copy(real, wrong_tokenizer.join("tokenizer.json")).unwrap();
    // The same names as the run's model, another MLP width.
    let other_model = tiny_model(d, "other_model", |c| c.hidden_dim = 48);

    let strings = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let cases = vec![
        Case {
            name: "malformed YAML",
            config: Box::new(|t| t.replace("  temperature: 1.0", "\ttemperature: 1.0")),
            resume: false,
            expect: strings(&["case.yaml", "line"]),
        },
        Case {
            name: "unknown config key",
            config: Box::new(|t| {
                t.replace(
                    "  temperature: 1.0",
                    "  temperature: 1.0\n  temprature: 0.5",
                )
            }),
            resume: false,
            expect: strings(&["case.yaml", "temprature"]),
        },
        Case {
            name: "mistyped config value",
            config: Box::new(|t| t.replace("num_generations: 4", "num_generations: four")),
            resume: false,
            expect: strings(&["case.yaml", "rollout.num_generations"]),
        },
        Case {
            name: "empty micro-batch",
            config: Box::new(|t| {
                t.replace(
                    "  prompts_per_step: 2",
                    "  prompts_per_step: 2\n  micro_batch_rows: 0",
                )
            }),
            resume: false,
            expect: strings(&["case.yaml", "training.micro_batch_rows", "at least 1 row"]),
        },
        Case {
            name: "JSONL line that is not JSON",
            config: Box::new(with_data(&not_json)),
            resume: false,
            expect: strings(&["not_json.jsonl:2"]),
        },
        Case {
            name: "JSONL line without a field",
            config: Box::new(with_data(&no_field)),
            resume: false,
            expect: strings(&["no_field.jsonl:2", "answer"]),
        },
        Case {
            name: "empty dataset",
            config: Box::new(with_data(&empty)),
            resume: false,
            expect: strings(&["empty.jsonl", "no usable records"]),
        },
        Case {
            name: "truncated safetensors",
            config: Box::new(with_model(&truncated)),
            resume: false,
            expect: strings(&["truncated/model.safetensors"]),
        },
        Case {
            name: "corrupted safetensors",
            config: Box::new(with_model(&corrupted)),
            resume: false,
            expect: strings(&["corrupted/model.safetensors"]),
        },
        Case {
            name: "tensor of the wrong shape",
            config: Box::new(with_model(&misshaped)),
            resume: false,
            expect: strings(&[
                "model.layers.0.mlp.gate_proj.weight",
                "[64, 32]",
                "[96, 32]",
            ]),
        },
        Case {
            name: "missing tokenizer",
            config: Box::new(with_model(&no_tokenizer)),
            resume: false,
            expect: strings(&["no tokenizer.json", "no_tokenizer"]),
        },
        Case {
            name: "mismatched tokenizer",
            config: Box::new(with_model(&wrong_tokenizer)),
            resume: false,
            expect: strings(&[
                "wrong_tokenizer/tokenizer.json",
                "not this model's tokenizer",
            ]),
        },
        Case {
            name: "checkpoint from a different model",
            config: Box::new(with_model(&other_model)),
            resume: true,
            expect: strings(&["resuming from", "different model", "[32, 64]", "[32, 48]"]),
        },
        Case {
            name: "Orbax folder with a missing array",
            config: Box::new(with_model(&orbax)),
            resume: false,
            expect: strings(&["layers.3.mlp.up_proj.kernel.value", "missing"]),
        },
    ];
    let mut failures = vec![];
    for case in &cases {
        let cfg = write("case.yaml", &(case.config)(smoke.clone()));
        let out_dir = if case.resume {
            run.clone()
        } else {
            d.join("case_run")
        };
        let mut args = vec!["train", "--config", s(&cfg), "--output-dir", s(&out_dir)];
        if case.resume {
            args.push("--resume");
        }
        let (ok, err) = grpo_xla(&args);
        eprintln!(
            "{}: {}",
            case.name,
            err.trim().replace(d.to_str().unwrap(), "…")
        );
        let missing: Vec<&String> = case
            .expect
            .iter()
            .filter(|e| !err.contains(e.as_str()))
            .collect();
        if ok || !missing.is_empty() || err.contains("panicked") {
            failures.push(format!(
                "{}: success {ok}, missing {missing:?}:\n{err}",
                case.name
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
