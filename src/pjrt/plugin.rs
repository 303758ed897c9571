//! Loading a PJRT plugin (a shared library exporting `GetPjrtApi`) and calling into its table.

use std::collections::HashMap;
use std::ffi::{c_char, CStr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use super::error::{Error, ErrorCode, Result};
use super::ffi::{self, ArgsStruct, PJRT_Api};

/// A loaded, initialized plugin. Plugins are never unloaded: XLA's global state does not survive
/// `dlclose`, so each library stays mapped for the life of the process and is loaded once.
pub struct Plugin {
    api: &'static PJRT_Api,
    path: PathBuf,
}

// SAFETY: the function table is immutable after `GetPjrtApi`, and PJRT functions are thread-safe.
unsafe impl Send for Plugin {}
unsafe impl Sync for Plugin {}

/// A plugin attribute (`PJRT_Plugin_Attributes`), e.g. its StableHLO version.
#[derive(Clone, Debug, PartialEq)]
pub enum AttributeValue {
    String(String),
    Int(i64),
    Ints(Vec<i64>),
    Float(f32),
    Bool(bool),
}

impl std::fmt::Display for AttributeValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AttributeValue::String(s) => write!(f, "{s}"),
            AttributeValue::Int(i) => write!(f, "{i}"),
            AttributeValue::Ints(v) => write!(
                f,
                "{}",
                v.iter()
                    .map(|x| x.to_string())
                    .collect::<Vec<_>>()
                    .join(".")
            ),
            AttributeValue::Float(x) => write!(f, "{x}"),
            AttributeValue::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// A StableHLO version, `major.minor.patch`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct StablehloVersion(pub [i64; 3]);

impl std::fmt::Display for StablehloVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let [a, b, c] = self.0;
        write!(f, "{a}.{b}.{c}")
    }
}

/// The oldest StableHLO parser every program we emit has compiled on (libtpu 0.0.17's, the
/// version Kaggle's TPU image pins; `tests/tpu_compile.rs`). Our text uses the generic op
/// syntax, so older parsers may work too, but none is tested.
pub const STABLEHLO_NEEDED: StablehloVersion = StablehloVersion([1, 10, 10]);

/// Calls a function of the plugin's table, checking that the plugin's table is long enough to
/// hold it, and turns a returned `PJRT_Error` into [`Error::Pjrt`].
macro_rules! pjrt_call {
    ($plugin:expr, $name:ident, $args:expr) => {{
        let plugin: &$crate::pjrt::plugin::Plugin = $plugin;
        let offset = std::mem::offset_of!($crate::pjrt::ffi::PJRT_Api, $name);
        match plugin.api().$name {
            Some(f) if offset < plugin.api().struct_size => {
                #[allow(unused_unsafe)]
                let err = unsafe { f($args) };
                plugin.check(stringify!($name), err)
            }
            _ => Err($crate::pjrt::error::Error::Unsupported(stringify!($name))),
        }
    }};
}
pub(crate) use pjrt_call;

fn registry() -> &'static Mutex<HashMap<PathBuf, Arc<Plugin>>> {
    static REGISTRY: OnceLock<Mutex<HashMap<PathBuf, Arc<Plugin>>>> = OnceLock::new();
    REGISTRY.get_or_init(|| Mutex::new(HashMap::new()))
}

impl Plugin {
    /// Loads and initializes the plugin at `path`, or returns the one already loaded from it.
    pub fn load(path: &Path) -> Result<Arc<Plugin>> {
        let canonical = path.canonicalize().map_err(|e| Error::Load {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let mut loaded = registry().lock().expect("plugin registry poisoned");
        if let Some(plugin) = loaded.get(&canonical) {
            return Ok(plugin.clone());
        }
        let load_error = |reason: String| Error::Load {
            path: canonical.clone(),
            reason,
        };
        // SAFETY: loading a shared library runs its initializers; PJRT plugins are built to be
        // loaded this way (it is what JAX does).
        let library = unsafe { libloading::Library::new(&canonical) }
            .map_err(|e| load_error(e.to_string()))?;
        // SAFETY: `GetPjrtApi` has this signature in every PJRT plugin.
        let get_api: libloading::Symbol<unsafe extern "C" fn() -> *const PJRT_Api> =
            unsafe { library.get(b"GetPjrtApi\0") }
                .map_err(|e| load_error(format!("no GetPjrtApi symbol: {e}")))?;
        let api = unsafe { get_api() };
        if api.is_null() {
            return Err(load_error("GetPjrtApi returned null".into()));
        }
        // The library is never unloaded, so the table lives for the rest of the process.
        std::mem::forget(library);
        // SAFETY: non-null, and valid for the life of the process (library leaked above).
        let api: &'static PJRT_Api = unsafe { &*api };
        let major = api.pjrt_api_version.major_version;
        if major != ffi::PJRT_API_MAJOR {
            return Err(load_error(format!(
                "PJRT API major version {major}, this build speaks {}",
                ffi::PJRT_API_MAJOR
            )));
        }
        let plugin = Arc::new(Plugin {
            api,
            path: canonical.clone(),
        });
        let mut args = ffi::PJRT_Plugin_Initialize_Args::new();
        pjrt_call!(&plugin, PJRT_Plugin_Initialize, &mut args)?;
        tracing::debug!(path = %canonical.display(), version = ?plugin.api_version(), "loaded PJRT plugin");
        loaded.insert(canonical, plugin.clone());
        Ok(plugin)
    }

    pub(crate) fn api(&self) -> &'static PJRT_Api {
        self.api
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The PJRT C API version the plugin was built with, `(major, minor)`.
    pub fn api_version(&self) -> (i32, i32) {
        let v = &self.api.pjrt_api_version;
        (v.major_version, v.minor_version)
    }

    /// Key/value attributes the plugin reports (StableHLO versions, XLA version, ...).
    pub fn attributes(&self) -> Result<Vec<(String, AttributeValue)>> {
        let mut args = ffi::PJRT_Plugin_Attributes_Args::new();
        pjrt_call!(self, PJRT_Plugin_Attributes, &mut args)?;
        let mut out = Vec::with_capacity(args.num_attributes);
        for i in 0..args.num_attributes {
            // SAFETY: the plugin returned `num_attributes` values that live as long as the process.
            let nv = unsafe { &*args.attributes.add(i) };
            let name = unsafe { string_from(nv.name, nv.name_size) };
            let value = unsafe {
                match nv.type_ {
                    ffi::PJRT_NamedValue_Type::String => {
                        AttributeValue::String(string_from(nv.value.string_value, nv.value_size))
                    }
                    ffi::PJRT_NamedValue_Type::Int64 => AttributeValue::Int(nv.value.int64_value),
                    ffi::PJRT_NamedValue_Type::Int64List => AttributeValue::Ints(
                        std::slice::from_raw_parts(nv.value.int64_array_value, nv.value_size)
                            .to_vec(),
                    ),
                    ffi::PJRT_NamedValue_Type::Float => AttributeValue::Float(nv.value.float_value),
                    ffi::PJRT_NamedValue_Type::Bool => AttributeValue::Bool(nv.value.bool_value),
                }
            };
            out.push((name, value));
        }
        Ok(out)
    }

    /// The StableHLO versions the plugin's parser reads, `(minimum, current)`, when it says.
    pub fn stablehlo_window(&self) -> Option<(StablehloVersion, StablehloVersion)> {
        let attributes = self.attributes().ok()?;
        let find = |key: &str| {
            attributes.iter().find_map(|(k, v)| match v {
                AttributeValue::Ints(v) if k == key && v.len() == 3 => {
                    Some(StablehloVersion([v[0], v[1], v[2]]))
                }
                _ => None,
            })
        };
        Some((
            find("stablehlo_minimum_version")?,
            find("stablehlo_current_version")?,
        ))
    }

    /// Fails when the plugin's StableHLO parser predates what our programs are written in.
    pub fn check_stablehlo(&self) -> Result<()> {
        match self.stablehlo_window() {
            Some((_, current)) if current < STABLEHLO_NEEDED => Err(Error::Load {
                path: self.path.clone(),
                reason: format!(
                    "the plugin reads StableHLO up to v{current}; grpo-xla's programs need v{STABLEHLO_NEEDED} or newer (libtpu 0.0.17 and later, jax plugins 0.6 and later)"
                ),
            }),
            _ => Ok(()),
        }
    }

    /// Converts a `PJRT_Error*` returned by `function` into a Result, freeing the error.
    pub(crate) fn check(&self, function: &'static str, err: *mut ffi::PJRT_Error) -> Result<()> {
        if err.is_null() {
            return Ok(());
        }
        let mut msg = ffi::PJRT_Error_Message_Args::new();
        msg.error = err;
        let message = match self.api.PJRT_Error_Message {
            // SAFETY: `err` is a live error returned by this plugin.
            Some(f) => unsafe {
                f(&mut msg);
                string_from(msg.message, msg.message_size)
            },
            None => "(plugin gave no message)".to_string(),
        };
        let mut code_args = ffi::PJRT_Error_GetCode_Args::new();
        code_args.error = err;
        let code = match self.api.PJRT_Error_GetCode {
            Some(f) if unsafe { f(&mut code_args) }.is_null() => code_from_int(code_args.code),
            _ => ErrorCode::Unknown,
        };
        self.destroy_error(err);
        Err(Error::Pjrt {
            function,
            code,
            message,
        })
    }

    fn destroy_error(&self, err: *mut ffi::PJRT_Error) {
        if let Some(f) = self.api.PJRT_Error_Destroy {
            let mut args = ffi::PJRT_Error_Destroy_Args::new();
            args.error = err;
            // SAFETY: `err` came from this plugin and is destroyed exactly once.
            unsafe { f(&mut args) };
        }
    }
}

fn code_from_int(code: i32) -> ErrorCode {
    use ErrorCode::*;
    [
        Ok,
        Cancelled,
        Unknown,
        InvalidArgument,
        DeadlineExceeded,
        NotFound,
        AlreadyExists,
        PermissionDenied,
        ResourceExhausted,
        FailedPrecondition,
        Aborted,
        OutOfRange,
        Unimplemented,
        Internal,
        Unavailable,
        DataLoss,
        Unauthenticated,
    ]
    .get(code as usize)
    .copied()
    .unwrap_or(Unknown)
}

/// Copies a (pointer, length) string owned by the plugin.
///
/// # Safety
/// `ptr` must point at `len` readable bytes, or be null.
pub(crate) unsafe fn string_from(ptr: *const c_char, len: usize) -> String {
    if ptr.is_null() {
        return String::new();
    }
    let bytes = std::slice::from_raw_parts(ptr as *const u8, len);
    String::from_utf8_lossy(bytes).into_owned()
}

/// Copies a NUL-terminated string owned by the plugin.
///
/// # Safety
/// `ptr` must be null or point at a NUL-terminated string.
#[allow(dead_code)]
pub(crate) unsafe fn cstr(ptr: *const c_char) -> String {
    if ptr.is_null() {
        return String::new();
    }
    CStr::from_ptr(ptr).to_string_lossy().into_owned()
}
