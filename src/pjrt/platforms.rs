//! Where each platform's PJRT plugin comes from, and how its client is created.
//!
//! One place for per-platform knowledge: which file to look for, which environment variable
//! overrides it, which options the client takes, and what to tell the user when it is missing.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use super::client::{Client, OptionValue};
use super::plugin::Plugin;
use crate::home;

/// The pinned CPU plugin that `scripts/setup.sh` installs.
pub const CPU_PLUGIN_PACKAGE: &str = "lammps-jax-pjrt-cpu==0.11.2";
pub const CPU_PLUGIN_FILE: &str = "pjrt_c_api_cpu_plugin.so";

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Cpu,
    Gpu,
    Tpu,
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Platform::Cpu => "cpu",
            Platform::Gpu => "gpu",
            Platform::Tpu => "tpu",
        })
    }
}

/// A plugin could not be found; the message says what is missing and how to install it.
#[derive(Debug, thiserror::Error)]
#[error("no {platform} PJRT plugin found (looked in: {looked}).\n  Install it with: {install}\n  or point {env_var} at the plugin's .so file")]
pub struct PluginNotFound {
    pub platform: Platform,
    pub looked: String,
    pub install: &'static str,
    pub env_var: &'static str,
}

impl Platform {
    /// The environment variable that names this platform's plugin file explicitly.
    pub fn env_var(self) -> &'static str {
        match self {
            Platform::Cpu => "GRPO_XLA_CPU_PLUGIN",
            Platform::Gpu => "GRPO_XLA_GPU_PLUGIN",
            Platform::Tpu => "GRPO_XLA_TPU_PLUGIN",
        }
    }

    fn install_hint(self) -> &'static str {
        match self {
            Platform::Cpu => "scripts/setup.sh   (downloads lammps-jax-pjrt-cpu==0.11.2 from PyPI, checks its sha256)",
            Platform::Gpu => "python3 -m pip install jax-cuda13-pjrt   (or jax-cuda12-pjrt for CUDA 12 drivers)",
            Platform::Tpu => "python3 -m pip install libtpu",
        }
    }

    /// Candidate files, most specific first.
    fn candidates(self) -> Vec<PathBuf> {
        let mut out = vec![];
        if let Some(path) = std::env::var_os(self.env_var()) {
            out.push(PathBuf::from(path));
            return out;
        }
        match self {
            Platform::Cpu => out.push(home::plugin_dir().join(CPU_PLUGIN_FILE)),
            Platform::Gpu => {
                for dir in python_package_dirs() {
                    for cuda in ["xla_cuda13", "xla_cuda12"] {
                        out.push(
                            dir.join("jax_plugins")
                                .join(cuda)
                                .join("xla_cuda_plugin.so"),
                        );
                    }
                }
            }
            Platform::Tpu => {
                if let Some(path) = std::env::var_os("TPU_LIBRARY_PATH") {
                    out.push(PathBuf::from(path));
                }
                for dir in python_package_dirs() {
                    out.push(dir.join("libtpu").join("libtpu.so"));
                }
            }
        }
        out
    }

    /// Finds the plugin file, or explains how to install it.
    pub fn find_plugin(self) -> Result<PathBuf, PluginNotFound> {
        let candidates = self.candidates();
        if let Some(found) = candidates.iter().find(|p| p.is_file()) {
            return Ok(found.clone());
        }
        let mut looked: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
        looked.dedup();
        if looked.len() > 4 {
            let more = looked.len() - 4;
            looked.truncate(4);
            looked.push(format!("and {more} more"));
        }
        Err(PluginNotFound {
            platform: self,
            looked: looked.join(", "),
            install: self.install_hint(),
            env_var: self.env_var(),
        })
    }

    /// Finds (unless given), loads and initializes the plugin, after preparing what the
    /// platform needs of the environment, and checks that it reads our StableHLO.
    pub fn load_plugin(self, plugin: Option<&Path>) -> anyhow::Result<Arc<Plugin>> {
        let path = match plugin {
            Some(p) => p.to_path_buf(),
            None => self.find_plugin()?,
        };
        if self == Platform::Tpu {
            prepare_tpu_environment();
        }
        if self == Platform::Cpu && env_switch("GRPO_XLA_KEEP_HOST_MEMORY") != Some(false) {
            keep_freed_host_memory();
        }
        quiet_xla_logging();
        let plugin = match Plugin::load(&path) {
            Ok(p) => p,
            Err(e) if self == Platform::Tpu => {
                let why = tpu_lock_diagnosis(Path::new(TPU_LOCKFILE)).unwrap_or_default();
                anyhow::bail!("{e}\n  {why}");
            }
            Err(e) => return Err(e.into()),
        };
        plugin.check_stablehlo()?;
        Ok(plugin)
    }

    /// Loads the plugin to compile ahead of time only (`Topology`): no device is opened, so
    /// libtpu is told that another process (JAX in the same notebook) may hold the TPU.
    pub fn load_compiler(self, plugin: Option<&Path>) -> anyhow::Result<Arc<Plugin>> {
        if self == Platform::Tpu && std::env::var_os("ALLOW_MULTIPLE_LIBTPU_LOAD").is_none() {
            std::env::set_var("ALLOW_MULTIPLE_LIBTPU_LOAD", "1");
        }
        self.load_plugin(plugin)
    }

    /// Loads the plugin and creates a client. `num_devices` sets the CPU device count; on
    /// GPU/TPU the client sees the hardware it has.
    pub fn client(
        self,
        plugin: Option<&Path>,
        num_devices: Option<usize>,
    ) -> anyhow::Result<Client> {
        let plugin = self.load_plugin(plugin)?;
        let mut options = vec![];
        if self == Platform::Cpu {
            // One device unless asked, as JAX does (the plugin alone would make 4).
            options.push((
                "cpu_device_count",
                OptionValue::Int(num_devices.unwrap_or(1) as i64),
            ));
        }
        if self == Platform::Gpu && env_switch("GRPO_XLA_GPU_PREALLOCATE") == Some(false) {
            // As JAX's XLA_PYTHON_CLIENT_PREALLOCATE=false: take GPU memory as needed instead
            // of 75% up front, so another process (JAX in a benchmark) can share the card.
            options.push(("preallocate", OptionValue::Bool(false)));
        }
        let client = match Client::new(plugin, &options) {
            Ok(c) => c,
            Err(e) if self == Platform::Tpu => {
                let why = tpu_lock_diagnosis(Path::new(TPU_LOCKFILE))
                    .unwrap_or_else(|| "no other process holds the TPU lock file".to_string());
                anyhow::bail!("cannot open the TPU: {e}\n  {why}");
            }
            Err(e) => return Err(e.into()),
        };
        if let Some(n) = num_devices {
            anyhow::ensure!(
                client.devices().len() >= n,
                "asked for {n} {self} devices, the plugin has {}",
                client.devices().len()
            );
        }
        Ok(client.with_cache(super::cache::ExecutableCache::on_disk(
            home::executable_cache_dir(),
        )))
    }
}

/// The environment variable `name` as a switch: `1`/`true` or `0`/`false`; None otherwise.
fn env_switch(name: &str) -> Option<bool> {
    match std::env::var(name).ok()?.to_ascii_lowercase().as_str() {
        "1" | "true" => Some(true),
        "0" | "false" => Some(false),
        _ => None,
    }
}

/// The file libtpu locks while a process holds the TPU.
pub const TPU_LOCKFILE: &str = "/tmp/libtpu_lockfile";

/// Why the TPU may be busy: another live process has `lockfile` open (JAX in the same
/// notebook, most often), or a crashed one left it behind. None when there is no lock file.
pub fn tpu_lock_diagnosis(lockfile: &Path) -> Option<String> {
    if !lockfile.exists() {
        return None;
    }
    let holders = processes_holding(lockfile);
    Some(if holders.is_empty() {
        format!(
            "{} exists but no running process holds it: a crashed TPU process left it behind; remove it (rm {}) and retry",
            lockfile.display(),
            lockfile.display()
        )
    } else {
        let list: Vec<String> = holders
            .iter()
            .map(|(pid, cmd)| format!("pid {pid} ({cmd})"))
            .collect();
        format!(
            "the TPU is held by {} through {}. Only one process can use the TPU: if that is this notebook's Python (JAX initialised the TPU), restart the kernel and run grpo-xla before anything imports jax, or stop that process",
            list.join(", "),
            lockfile.display()
        )
    })
}

/// Processes with `path` open, from /proc/*/fd (pid and command line).
fn processes_holding(path: &Path) -> Vec<(u32, String)> {
    let Ok(target) = path.canonicalize() else {
        return vec![];
    };
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return vec![];
    };
    let mut out = vec![];
    for entry in procs.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        if fds
            .flatten()
            .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|l| l == target))
        {
            let cmd = std::fs::read(entry.path().join("cmdline"))
                .map(|b| {
                    String::from_utf8_lossy(&b)
                        .replace('\0', " ")
                        .trim()
                        .to_string()
                })
                .unwrap_or_default();
            out.push((pid, cmd));
        }
    }
    out
}

/// XLA logs at INFO to stderr by default ("cpu_device_count set via create_options"); keep
/// warnings and errors unless the user asked for more.
fn quiet_xla_logging() {
    if std::env::var_os("TF_CPP_MIN_LOG_LEVEL").is_none() {
        std::env::set_var("TF_CPP_MIN_LOG_LEVEL", "1");
    }
}

/// The CPU plugin allocates each call's temporaries (gigabytes for a train step of the 270M)
/// with malloc and frees them after; glibc hands blocks that large back to the kernel, so every
/// call page-faults and zeroes them again (an SFT step of the 270M: 3 million page faults in
/// 20 s, 8% of the time in the kernel's `clear_page`). One arena that never shrinks keeps them
/// for the next call. Once the LM head was chunked and batches packed, the temporaries were
/// small enough that this costs little memory (the recipe's SFT + GRPO steps: peak 12.7 →
/// 13.7 GB; the bench config's: 8.63 → 8.69 GB) for steps 7-17% faster, so it is the default
/// on the CPU; `GRPO_XLA_KEEP_HOST_MEMORY=0` turns it off. What it keeps is bounded between
/// training steps by `release_kept_host_memory_above`.
fn keep_freed_host_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::sync::Once;
        static ONCE: Once = Once::new();
        ONCE.call_once(|| {
            // SAFETY: mallopt only changes allocator settings; called before the plugin's
            // threads exist, so every one of them uses the single arena.
            let set = unsafe {
                [
                    libc::mallopt(libc::M_ARENA_MAX, 1),
                    libc::mallopt(libc::M_MMAP_MAX, 0),
                    libc::mallopt(libc::M_TRIM_THRESHOLD, -1),
                ]
            };
            if set.contains(&0) {
                tracing::warn!(
                    "glibc refused an allocator setting ({set:?}); host memory stays as it was"
                );
            }
        });
    }
}

/// What a process may hold of the machine's memory between training steps before the host
/// memory kept free (`keep_freed_host_memory`) goes back to the kernel.
pub const KEPT_HOST_MEMORY_LIMIT: f64 = 0.5;

/// Bounds the memory `keep_freed_host_memory` keeps: when this process holds more than
/// `fraction` of the machine's memory, glibc returns every free page to the kernel
/// (`malloc_trim`), and the next call faults in what it needs again. Kept blocks are reused
/// only by calls of the same sizes, and a GRPO run meets a new batch shape every few steps
/// (each padded to its own longest completion): unbounded, the one arena fragmented until the
/// recipe was killed for memory at step 276 of 288 (24.4 GB resident on a 24 GB machine).
/// Called between steps. Returns the resident bytes before and after when it trimmed.
pub fn release_kept_host_memory_above(fraction: f64) -> Option<(u64, u64)> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let total = machine_memory_bytes()?;
        let before = resident_bytes()?;
        if (before as f64) <= fraction * total as f64 {
            return None;
        }
        // SAFETY: malloc_trim only hands free pages back to the kernel.
        unsafe { libc::malloc_trim(0) };
        Some((before, resident_bytes()?))
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        let _ = fraction;
        None
    }
}

/// This process's resident memory (`/proc/self/statm`, second field, in pages).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf reads a constant of the system.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * u64::try_from(page).ok()?)
}

/// The machine's memory (`MemTotal` of `/proc/meminfo`).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn machine_memory_bytes() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// libtpu polls the GCE metadata server off Google Cloud; JAX skips that when no chips are
/// visible. Stale lock files from a crashed process block it too.
fn prepare_tpu_environment() {
    let on_gce = std::fs::read_to_string("/sys/devices/virtual/dmi/id/product_name")
        .map(|s| s.contains("Google Compute Engine"))
        .unwrap_or(false);
    if !on_gce && std::env::var_os("TPU_SKIP_MDS_QUERY").is_none() {
        std::env::set_var("TPU_SKIP_MDS_QUERY", "1");
    }
}

/// site-packages folders of the Python on PATH (and the user site), where pip puts plugins.
fn python_package_dirs() -> Vec<PathBuf> {
    let script = "import site,sys\nfor p in site.getsitepackages()+[site.getusersitepackages()]+sys.path: print(p)";
    let mut dirs: Vec<PathBuf> = vec![];
    for python in ["python3", "python"] {
        if let Ok(out) = Command::new(python).args(["-c", script]).output() {
            if out.status.success() {
                dirs.extend(
                    String::from_utf8_lossy(&out.stdout)
                        .lines()
                        .filter(|l| !l.is_empty())
                        .map(PathBuf::from),
                );
                break;
            }
        }
    }
    if let Some(venv) = std::env::var_os("VIRTUAL_ENV") {
        if let Ok(entries) = std::fs::read_dir(Path::new(&venv).join("lib")) {
            dirs.extend(entries.flatten().map(|e| e.path().join("site-packages")));
        }
    }
    dirs.dedup();
    dirs
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Minor page faults of the calling thread so far.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn page_faults() -> i64 {
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: getrusage writes into the struct it is given.
        assert_eq!(
            unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut usage) },
            0
        );
        usage.ru_minflt
    }

    /// Faults taken writing a fresh `bytes`-sized malloc block, freed after.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn faults_filling_a_block(bytes: usize) -> i64 {
        let before = page_faults();
        // SAFETY: the block is written within its size and freed once.
        unsafe {
            // black_box: the compiler may drop a block nobody reads.
            let block = std::hint::black_box(libc::malloc(bytes) as *mut u8);
            assert!(!block.is_null());
            std::ptr::write_bytes(block, 1, bytes);
            libc::free(std::hint::black_box(block) as *mut libc::c_void);
        }
        page_faults() - before
    }

    /// glibc gives a thread its arena once, so the setting is checked as the trainer meets it:
    /// in a fresh process (this test run again), on a thread started after the setting, as the
    /// plugin's threads are.
    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn kept_host_memory_serves_the_next_call_without_page_faults() {
        const CHILD: &str = "GRPO_XLA_TEST_KEPT_MEMORY_CHILD";
        let bytes = 256 << 20;
        let pages = (bytes / 4096) as i64;
        if std::env::var_os(CHILD).is_none() {
            let name =
                "pjrt::platforms::tests::kept_host_memory_serves_the_next_call_without_page_faults";
            let out = Command::new(std::env::current_exe().unwrap())
                .args(["--exact", name, "--test-threads=1", "--nocapture"])
                .env(CHILD, "1")
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success() && text.contains("1 passed"), "{text}");
            return;
        }
        // glibc's default: a block this large is mapped fresh, every page faulted in again.
        let fresh = faults_filling_a_block(bytes);
        assert!(fresh > pages / 2, "{fresh} page faults for {pages} pages");
        keep_freed_host_memory();
        let again = std::thread::spawn(move || {
            faults_filling_a_block(bytes);
            faults_filling_a_block(bytes)
        })
        .join()
        .unwrap();
        assert!(
            again < pages / 100,
            "the freed block was given back: {again} page faults for {pages} pages"
        );
        // Bounded: below the limit nothing is trimmed; above it the kept block goes back.
        assert_eq!(
            release_kept_host_memory_above(1.0),
            None,
            "under all of memory"
        );
        let (before, after) = release_kept_host_memory_above(0.0).expect("above none of it");
        assert!(
            before - after > bytes as u64 / 2,
            "trimming freed {} MiB of a kept {} MiB block",
            (before - after) >> 20,
            bytes >> 20
        );
        assert!(
            faults_filling_a_block(bytes) > pages / 2,
            "after the trim the block is faulted in afresh"
        );
    }

    #[test]
    fn a_held_tpu_lock_names_its_holder() {
        let dir = tempfile::tempdir().unwrap();
        let lock = dir.path().join("libtpu_lockfile");
        assert_eq!(
            tpu_lock_diagnosis(&lock),
            None,
            "no lock file, no diagnosis"
        );
        let held = std::fs::File::create(&lock).unwrap();
        let why = tpu_lock_diagnosis(&lock).unwrap();
        assert!(
            why.contains(&format!("pid {}", std::process::id())),
            "this test process holds the lock: {why}"
        );
        drop(held);
        let why = tpu_lock_diagnosis(&lock).unwrap();
        assert!(why.contains("no running process holds it"), "{why}");
    }
}
