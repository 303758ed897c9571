//! A run that dies does not lose what it had written (the smoke config, tiny Gemma 3):
//!
//! - `kill -9` at seeded random moments (writes of checkpoints and metrics included), then
//!   `--resume`, over and over until the run finishes: the final weights, optimizer state and
//!   sampled text equal an uninterrupted run's bit for bit, and `metrics.jsonl` holds one line
//!   per step.
//! - An output folder that cannot be written, or a disk without room for one checkpoint, is
//!   reported before training starts; a disk that fills up later fails the save with a message
//!   and leaves no partial checkpoint, the previous one still the newest.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use grpo_xla::train::checkpoint::{latest, read_arrays};

const STEPS: usize = 10;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_grpo-xla"));
    c.env("RUST_BACKTRACE", "0");
    c
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The smoke config with a checkpoint after every step, `STEPS` steps.
fn config(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string("configs/smoke.yaml")
        .unwrap()
        .replace("  steps: 4", &format!("  steps: {STEPS}"))
        .replace("checkpoint_every: 2", "checkpoint_every: 1");
    let path = dir.join("config.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

fn train(cfg: &Path, run: &Path, resume: bool) -> Command {
    let mut c = bin();
    c.args(["train", "--config", s(cfg), "--output-dir", s(run)]);
    if resume {
        c.arg("--resume");
    }
    c
}

fn final_files(run: &Path) -> Vec<(String, Vec<u8>)> {
    let ckpt = run.join(format!("checkpoints/step_{STEPS:06}"));
    ["state.safetensors", "model/model.safetensors", "state.json"]
        .iter()
        .map(|f| (f.to_string(), std::fs::read(ckpt.join(f)).unwrap()))
        .collect()
}

fn metric_steps(run: &Path) -> Vec<u64> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["step"]
                .as_u64()
                .unwrap()
        })
        .collect()
}

/// Whether a checkpoint is being written (or replaced): a `.partial` or `.old` folder exists.
fn saving(run: &Path) -> bool {
    std::fs::read_dir(run.join("checkpoints")).is_ok_and(|entries| {
        entries.filter_map(Result::ok).any(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.ends_with(".partial") || name.ends_with(".old")
        })
    })
}

#[test]
fn kill_9_at_random_moments_then_resume_is_bit_exact_with_one_metrics_line_per_step() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let reference = dir.path().join("reference");
    assert!(train(&cfg, &reference, false).status().unwrap().success());

    let run = dir.path().join("killed");
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut random = move |n: u64| {
        rng = rng
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (rng >> 33) % n
    };
    let lines = |run: &Path| {
        std::fs::read_to_string(run.join("metrics.jsonl")).map_or(0, |t| t.lines().count())
    };
    let (mut kills, mut partials_seen) = (0, 0);
    // Each attempt is killed at a random moment: while starting up (loading, resuming,
    // compiling), while a checkpoint is being written, or a few milliseconds after a step's
    // metrics line. Then one attempt runs on.
    for attempt in 0.. {
        let finishing = attempt >= 14 || lines(&run) >= STEPS - 1;
        let mut child = train(&cfg, &run, true)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        if finishing {
            assert!(
                child.wait().unwrap().success(),
                "the last resumed run failed"
            );
            break;
        }
        // 0: while starting up; 1: the moment a checkpoint's partial folder appears (a save
        // under way); 2: a few milliseconds after a step's metrics line.
        let mode = random(3);
        let target = lines(&run) + 1;
        let delay = Duration::from_millis(random([400, 1, 60][mode as usize]));
        let started = Instant::now();
        let mut reached: Option<Instant> = None;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                // Finished before the moment came (a save too quick to see, say).
                assert!(status.success(), "a resumed run failed: {status}");
                break;
            }
            let due = match mode {
                0 => true,
                1 => saving(&run),
                _ => lines(&run) >= target,
            };
            if reached.is_none() && due {
                reached = Some(Instant::now());
            }
            if reached.is_some_and(|t| t.elapsed() >= delay) {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "an attempt hangs"
            );
            std::thread::sleep(Duration::from_micros(200));
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        kills += 1;
        partials_seen += saving(&run) as usize;
    }
    eprintln!("{kills} kills, {partials_seen} of them during a checkpoint write");
    assert!(
        partials_seen >= 1,
        "no kill landed during a checkpoint write"
    );
    assert!(
        kills >= 5,
        "only {kills} kills: the test did not interrupt the run"
    );
    assert!(
        final_files(&run) == final_files(&reference),
        "the continuation differs"
    );
    assert_eq!(metric_steps(&run), (1..=STEPS as u64).collect::<Vec<_>>());
    // Everything but the timings is the same in both logs.
    let strip = |run: &Path| -> Vec<serde_json::Value> {
        std::fs::read_to_string(run.join("metrics.jsonl"))
            .unwrap()
            .lines()
            .map(|l| {
                let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
                let o = v.as_object_mut().unwrap();
                o.retain(|k, _| !k.contains("time") && !k.contains("per_s"));
                v
            })
            .collect()
    };
    assert_eq!(strip(&run), strip(&reference));
}

#[test]
fn an_output_folder_that_cannot_be_written_is_reported_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    // A folder under a regular file can never be created.
    let blocker = dir.path().join("a_file");
    std::fs::write(&blocker, "not a folder").unwrap();
    let out = train(&cfg, &blocker.join("run"), false).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("a_file/run"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// A small tmpfs, unmounted when dropped.
struct SmallDisk(tempfile::TempDir);

impl SmallDisk {
    fn new(bytes: u64) -> SmallDisk {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={bytes}"),
                "tmpfs",
                s(dir.path()),
            ])
            .output()
            .expect("`mount` is needed for the full-disk tests");
        assert!(
            out.status.success(),
            "the full-disk tests mount a small tmpfs, which needs root (CI runs as root): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        SmallDisk(dir)
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.0.path()).status();
    }
}

/// Bytes of one checkpoint of the smoke config (from a run on a normal disk).
fn checkpoint_bytes(cfg: &Path, dir: &Path) -> u64 {
    let run = dir.join("measure");
    assert!(bin()
        .args([
            "train",
            "--config",
            s(cfg),
            "--output-dir",
            s(&run),
            "--max-steps",
            "1"
        ])
        .output()
        .unwrap()
        .status
        .success());
    fn size(p: &Path) -> u64 {
        if p.is_dir() {
            std::fs::read_dir(p)
                .unwrap()
                .map(|e| size(&e.unwrap().path()))
                .sum()
        } else {
            p.metadata().unwrap().len()
        }
    }
    size(&run.join("checkpoints/step_000001"))
}

#[test]
fn a_disk_too_small_is_reported_before_training_and_a_disk_that_fills_fails_the_save_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let one = checkpoint_bytes(&cfg, dir.path());

    // Smaller than one checkpoint: refused up front.
    let disk = SmallDisk::new(one / 2);
    let out = train(&cfg, &disk.0.path().join("run"), false)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("MB free") && err.contains("one checkpoint"),
        "{err}"
    );
    drop(disk);

    // Room for one and a half: the second save runs out of space.
    let disk = SmallDisk::new(one * 3 / 2 + 64 * 1024);
    let run = disk.0.path().join("run");
    let out = train(&cfg, &run, false).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("saving the checkpoint of step 2") && err.contains("No space left"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(
        latest(&run).unwrap(),
        Some(run.join("checkpoints/step_000001"))
    );
    let names: Vec<String> = std::fs::read_dir(run.join("checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !names.iter().any(|n| n.contains("partial")),
        "a partial checkpoint was left: {names:?}"
    );
    // What is there still loads.
    read_arrays(&run.join("checkpoints/step_000001/state.safetensors")).unwrap();
}
