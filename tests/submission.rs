//! The Kaggle submission: the writeup and the video script keep to their limits, the pictures are
//! regenerated from committed results, the numbers in the writeup, model card and notebook are the
//! evaluation's, and the links between them agree.

mod common;

use common::assert_success;

use std::path::Path;
use std::process::Command;

use serde_json::Value;

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn json(path: &str) -> Value {
    serde_json::from_str(&read(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Words of prose: fenced code blocks and image lines are not read aloud or counted.
fn prose_words(markdown: &str) -> usize {
    let mut in_code = false;
    markdown
        .lines()
        .filter(|l| {
            if l.trim_start().starts_with("```") {
                in_code = !in_code;
                return false;
            }
            !in_code && !l.trim_start().starts_with("![")
        })
        .map(|l| l.split_whitespace().count())
        .sum()
}

#[test]
fn the_writeup_has_at_most_1500_words_and_the_video_at_most_3_minutes() {
    let words = prose_words(&read("writeup/kaggle_writeup.md"));
    assert!(
        (800..=1500).contains(&words),
        "writeup: {words} words (limit 1,500)"
    );
    let script = read("video/video_script.txt");
    let spoken: usize = script
        .lines()
        .map(|l| {
            // Time marks like [1:20] are cues, not speech.
            l.split_whitespace()
                .filter(|w| !(w.starts_with('[') && w.ends_with(']')))
                .count()
        })
        .sum();
    assert!(
        spoken <= 3 * 150,
        "video script: {spoken} words, over 3 minutes at 150 words a minute"
    );
    assert!(
        spoken >= 300,
        "video script: {spoken} words is under 2 minutes"
    );
    assert!(!read("writeup/rubric_description.md").is_empty());
}

/// `grpo-xla media` redraws every picture from the committed results, and the writeup and the
/// storyboard only show pictures that exist.
#[test]
fn the_media_are_drawn_from_committed_results() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_grpo-xla"))
        .args(["media", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_success(&out);
    for name in ["cover", "pipeline", "curves", "samples", "speed"] {
        let path = dir.path().join(format!("{name}.png"));
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            bytes.len() > 10_000 && bytes.starts_with(b"\x89PNG"),
            "{name}.png: {} bytes",
            bytes.len()
        );
        assert!(
            Path::new("writeup/media")
                .join(format!("{name}.png"))
                .is_file(),
            "writeup/media/{name}.png is not committed: run grpo-xla media"
        );
    }
    for (doc, base) in [
        ("writeup/kaggle_writeup.md", "writeup"),
        ("video/storyboard.md", "."),
    ] {
        let text = read(doc);
        for image in text
            .split(['(', ')', '`', ' '])
            .filter(|s| s.ends_with(".png"))
        {
            let path = Path::new(base).join(image);
            assert!(path.is_file(), "{doc} shows {image}, which does not exist");
        }
    }
}

/// The base / SFT / SFT+GRPO table as the evaluation JSON gives it.
fn results_table() -> Vec<String> {
    let results = json("writeup/results/reasoning_270m.json");
    results["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let ci = |k: &str| {
                let c = &r["ci95"][k];
                format!(
                    "[{:.2}, {:.2}]",
                    c[0].as_f64().unwrap(),
                    c[1].as_f64().unwrap()
                )
            };
            format!(
                "| {:.3} {} | {:.3} {} |",
                r["format"].as_f64().unwrap(),
                ci("format"),
                r["accuracy"].as_f64().unwrap(),
                ci("accuracy")
            )
        })
        .collect()
}

#[test]
fn the_writeup_model_card_and_notebook_show_the_evaluations_numbers() {
    let expected = results_table();
    assert_eq!(expected.len(), 3, "base, SFT, SFT+GRPO");
    let notebook = json("notebooks/grpo_xla_train.ipynb");
    let notebook_text: String = notebook["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| match &c["source"] {
            Value::Array(lines) => lines.iter().filter_map(|l| l.as_str()).collect(),
            other => other.as_str().unwrap_or("").to_string(),
        })
        .collect::<Vec<String>>()
        .join("\n");
    for (doc, text) in [
        (
            "writeup/kaggle_writeup.md",
            read("writeup/kaggle_writeup.md"),
        ),
        ("kaggle/model/README.md", read("kaggle/model/README.md")),
        ("notebooks/grpo_xla_train.ipynb", notebook_text),
    ] {
        let rows: Vec<String> = text
            .lines()
            .filter(|l| l.starts_with("| base") || l.starts_with("| after"))
            .map(|l| {
                // Keep the two number cells: "| F [lo, hi] | A [lo, hi] |".
                let cells: Vec<&str> = l.split('|').map(str::trim).collect();
                format!("| {} | {} |", cells[2], cells[3])
            })
            .collect();
        assert_eq!(
            rows, expected,
            "{doc}: its results table differs from writeup/results/reasoning_270m.json"
        );
    }
}

#[test]
fn links_agree_between_writeup_model_card_notebook_and_kaggle_metadata() {
    let links = json("kaggle/links.json");
    let url = |k: &str| links[k].as_str().unwrap().to_string();
    let writeup = read("writeup/kaggle_writeup.md");
    let notebook = read("notebooks/grpo_xla_train.ipynb");
    for key in ["repository", "notebook", "model", "wheel"] {
        assert!(
            writeup.contains(&url(key)),
            "the writeup lacks the {key} link"
        );
        assert!(
            notebook.contains(&url(key)),
            "the notebook lacks the {key} link"
        );
    }
    assert!(read("kaggle/model/README.md").contains(&url("repository")));

    // Each Kaggle link names what the metadata files create.
    let kernel = json("kaggle/notebook/kernel-metadata.json");
    let dataset = json("kaggle/wheel/dataset-metadata.json");
    let model = json("kaggle/model/model-metadata.json");
    let instance = json("kaggle/model/model-instance-metadata.json");
    assert!(url("notebook").ends_with(&format!("/code/{}", kernel["id"].as_str().unwrap())));
    assert!(url("wheel").ends_with(&format!("/datasets/{}", dataset["id"].as_str().unwrap())));
    let model_id = format!(
        "{}/{}",
        model["ownerSlug"].as_str().unwrap(),
        model["slug"].as_str().unwrap()
    );
    assert!(url("model").ends_with(&format!("/models/{model_id}")));
    assert_eq!(instance["modelSlug"], model["slug"]);
    assert_eq!(kernel["dataset_sources"][0], dataset["id"]);
}

/// Every repository path the writeup names exists.
#[test]
fn the_writeup_names_only_files_that_exist() {
    let writeup = read("writeup/kaggle_writeup.md");
    let mut named = 0;
    for quoted in writeup.split('`').skip(1).step_by(2) {
        let first = quoted.split_whitespace().next().unwrap_or("");
        let looks_like_path = [
            "scripts/", "configs/", "writeup/", "data/", "src/", "tests/",
        ]
        .iter()
        .any(|p| first.starts_with(p));
        if looks_like_path {
            named += 1;
            assert!(
                Path::new(first).exists(),
                "the writeup names {first}, which does not exist"
            );
        }
    }
    assert!(named >= 3, "expected the writeup to name its sources");
}

/// Every speed ratio the writeup quotes ("1.14x") is a ratio a committed benchmark file holds.
#[test]
fn the_writeups_speed_ratios_come_from_committed_benchmarks() {
    let mut ratios: Vec<String> = vec![];
    for entry in std::fs::read_dir("writeup/bench").unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|x| x == "json") {
            for row in json(path.to_str().unwrap()).as_array().unwrap() {
                if let Some(r) = row["ratio"].as_f64() {
                    ratios.push(format!("{r:.2}x"));
                    ratios.push(format!("{r:.1}x"));
                }
            }
        }
    }
    let writeup = read("writeup/kaggle_writeup.md");
    let quoted: Vec<&str> = writeup
        .split(|c: char| c.is_whitespace() || c == '(' || c == ',' || c == ';')
        .filter(|w| {
            w.ends_with('x')
                && w.len() > 2
                && w[..w.len() - 1].contains('.')
                && w[..w.len() - 1]
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == '.')
        })
        .collect();
    assert!(quoted.len() >= 3, "the writeup quotes no speed ratios");
    for q in quoted {
        assert!(
            ratios.iter().any(|r| r == q),
            "the writeup quotes {q}, which no file in writeup/bench holds (it has {ratios:?})"
        );
    }
}
