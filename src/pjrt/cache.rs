//! The executable cache: compiled programs kept in memory and, optionally, serialized on disk,
//! keyed by a hash of the program, the compile options, the plugin's identity and the
//! environment variables that change what the compiler emits.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use sha2::{Digest, Sha256};

use super::client::Client;
use super::compile_options::CompileOptions;
use super::error::{Error, Result};
use super::executable::LoadedExecutable;

/// Counters of what the cache served. A "compile" is a real XLA compilation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    pub memory_hits: u64,
    pub disk_hits: u64,
    pub compiles: u64,
}

#[derive(Default)]
pub struct ExecutableCache {
    dir: Option<PathBuf>,
    memory: Mutex<HashMap<[u8; 32], Arc<LoadedExecutable>>>,
    memory_hits: AtomicU64,
    disk_hits: AtomicU64,
    compiles: AtomicU64,
}

impl ExecutableCache {
    /// A cache that lives as long as the client.
    pub fn in_memory() -> Self {
        Self::default()
    }

    /// A cache that also writes serialized executables under `dir` for later processes.
    pub fn on_disk(dir: impl Into<PathBuf>) -> Self {
        ExecutableCache {
            dir: Some(dir.into()),
            ..Self::default()
        }
    }

    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    pub fn stats(&self) -> CacheStats {
        CacheStats {
            memory_hits: self.memory_hits.load(Ordering::Relaxed),
            disk_hits: self.disk_hits.load(Ordering::Relaxed),
            compiles: self.compiles.load(Ordering::Relaxed),
        }
    }

    fn key(client: &Client, program: &[u8], options: &CompileOptions) -> [u8; 32] {
        key_of(&client.identity(), compiler_environment(), program, options)
    }

    pub(crate) fn get_or_compile(
        &self,
        client: &Client,
        program: &[u8],
        options: &CompileOptions,
    ) -> Result<Arc<LoadedExecutable>> {
        let key = Self::key(client, program, options);
        if let Some(exe) = self.memory.lock().expect("cache poisoned").get(&key) {
            self.memory_hits.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(key = %hex(&key[..8]), "executable cache: memory hit");
            return Ok(exe.clone());
        }
        let exe = match self.load_from_disk(client, &key) {
            Some(exe) => {
                self.disk_hits.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(key = %hex(&key[..8]), "executable cache: disk hit");
                exe
            }
            None => {
                let exe = client.compile_uncached(program, options)?;
                self.compiles.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(key = %hex(&key[..8]), "executable cache: compiled");
                self.store_on_disk(&exe, &key);
                exe
            }
        };
        let exe = Arc::new(exe);
        self.memory
            .lock()
            .expect("cache poisoned")
            .insert(key, exe.clone());
        Ok(exe)
    }

    fn path_for(&self, key: &[u8; 32]) -> Option<PathBuf> {
        self.dir
            .as_ref()
            .map(|d| d.join(format!("{}.pjrt-exe", hex(key))))
    }

    fn load_from_disk(&self, client: &Client, key: &[u8; 32]) -> Option<LoadedExecutable> {
        let path = self.path_for(key)?;
        let bytes = std::fs::read(&path).ok()?;
        match client.deserialize_executable(&bytes) {
            Ok(exe) => Some(exe),
            Err(e) => {
                tracing::warn!("ignoring cached executable {}: {e}", path.display());
                None
            }
        }
    }

    /// Best effort: a plugin that cannot serialize, or a full disk, only costs a recompile later.
    fn store_on_disk(&self, exe: &LoadedExecutable, key: &[u8; 32]) {
        let Some(path) = self.path_for(key) else {
            return;
        };
        let result = exe
            .serialize()
            .and_then(|bytes| write_atomically(&path, &bytes));
        if let Err(e) = result {
            tracing::warn!("not caching executable at {}: {e}", path.display());
        }
    }
}

/// Variables the plugins read when they compile: `XLA_FLAGS` (every XLA backend) and
/// `LIBTPU_INIT_ARGS` (libtpu). An executable compiled under other flags is another program
/// (TF32 off on a GPU, a dump, a different fusion setting), so they are part of the key.
const COMPILER_VARIABLES: [&str; 2] = ["XLA_FLAGS", "LIBTPU_INIT_ARGS"];

/// The compiler variables as this process sees them; read once, as XLA reads them once.
fn compiler_environment() -> &'static str {
    static ENVIRONMENT: OnceLock<String> = OnceLock::new();
    ENVIRONMENT.get_or_init(|| {
        COMPILER_VARIABLES
            .iter()
            .map(|name| format!("{name}={}", std::env::var(name).unwrap_or_default()))
            .collect::<Vec<_>>()
            .join("\n")
    })
}

fn key_of(identity: &str, environment: &str, program: &[u8], options: &CompileOptions) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for part in [
        identity.as_bytes(),
        environment.as_bytes(),
        &options.to_bytes(),
    ] {
        hasher.update(part);
        hasher.update([0]);
    }
    hasher.update(program);
    hasher.finalize().into()
}

/// Writes to a temporary file beside `path`, then renames: readers never see a partial file.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(|e| Error::io(format!("writing {}", tmp.display()), e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(format!("renaming to {}", path.display()), e))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiler_flags_are_part_of_the_key() {
        let options = CompileOptions::default();
        let plain = key_of("cpu", "XLA_FLAGS=", b"program", &options);
        assert_eq!(plain, key_of("cpu", "XLA_FLAGS=", b"program", &options));
        let flagged = key_of("cpu", "XLA_FLAGS=--xla_cpu_fast_math", b"program", &options);
        assert_ne!(
            plain, flagged,
            "another XLA_FLAGS must not reuse the executable"
        );
        assert_ne!(plain, key_of("gpu", "XLA_FLAGS=", b"program", &options));
        assert_ne!(plain, key_of("cpu", "XLA_FLAGS=", b"other", &options));
    }
}
