//! A PJRT client: the devices of one plugin, and the entry point for buffers and compilation.

use std::ffi::CString;
use std::sync::Arc;

use super::buffer::Buffer;
use super::cache::{CacheStats, ExecutableCache};
use super::compile_options::CompileOptions;
use super::dtype::{Element, ElementType};
use super::error::{Error, Result};
use super::event::Event;
use super::executable::LoadedExecutable;
use super::ffi::{self, ArgsStruct};
use super::plugin::{pjrt_call, string_from, Plugin};

/// A value for a named client-creation option (`cpu_device_count`, ...).
#[derive(Clone, Debug, PartialEq)]
pub enum OptionValue {
    Int(i64),
    Str(String),
    Bool(bool),
    Float(f32),
}

/// One addressable device.
#[derive(Clone, Debug)]
pub struct DeviceInfo {
    /// Position in the client's list of addressable devices.
    pub index: usize,
    /// Global device id (what device assignments name).
    pub id: i32,
    pub kind: String,
    pub description: String,
}

/// What a device's allocator reports (PJRT_Device_MemoryStats), in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceMemory {
    pub in_use: i64,
    pub peak_in_use: Option<i64>,
    pub limit: Option<i64>,
}

pub(crate) struct ClientInner {
    pub(crate) plugin: Arc<Plugin>,
    pub(crate) raw: *mut ffi::PJRT_Client,
    pub(crate) devices: Vec<*mut ffi::PJRT_Device>,
}

// SAFETY: PJRT clients are thread-safe; device pointers are owned by the client and immutable.
unsafe impl Send for ClientInner {}
unsafe impl Sync for ClientInner {}

impl Drop for ClientInner {
    fn drop(&mut self) {
        let mut args = ffi::PJRT_Client_Destroy_Args::new();
        args.client = self.raw;
        if let Err(e) = pjrt_call!(&self.plugin, PJRT_Client_Destroy, &mut args) {
            tracing::warn!("destroying the PJRT client: {e}");
        }
    }
}

/// A PJRT client. Buffers and executables hold a reference to it, so it lives until the last
/// of them is dropped: a buffer can never outlive the client that owns its memory.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<ClientInner>,
    devices: Arc<Vec<DeviceInfo>>,
    platform_name: String,
    platform_version: String,
    cache: Arc<ExecutableCache>,
}

/// Client-creation options as the C API reads them. The entries point into `names` and
/// `strings`, which live as long as this does (a `CString`'s bytes stay put when it moves).
struct NamedValues {
    _names: Vec<CString>,
    _strings: Vec<Option<CString>>,
    values: Vec<ffi::PJRT_NamedValue>,
}

impl NamedValues {
    fn new(options: &[(&str, OptionValue)]) -> Result<NamedValues> {
        let names: Vec<CString> = options
            .iter()
            .map(|(n, _)| CString::new(*n).map_err(|_| Error::usage("option name has a NUL")))
            .collect::<Result<_>>()?;
        let strings: Vec<Option<CString>> = options
            .iter()
            .map(|(_, v)| match v {
                OptionValue::Str(s) => CString::new(s.as_str()).ok(),
                _ => None,
            })
            .collect();
        let values: Vec<ffi::PJRT_NamedValue> = options
            .iter()
            .enumerate()
            .map(|(i, (name, value))| {
                let (type_, value, value_size) = match value {
                    OptionValue::Int(x) => (
                        ffi::PJRT_NamedValue_Type::Int64,
                        ffi::PJRT_NamedValue_Value { int64_value: *x },
                        1,
                    ),
                    OptionValue::Bool(b) => (
                        ffi::PJRT_NamedValue_Type::Bool,
                        ffi::PJRT_NamedValue_Value { bool_value: *b },
                        1,
                    ),
                    OptionValue::Float(f) => (
                        ffi::PJRT_NamedValue_Type::Float,
                        ffi::PJRT_NamedValue_Value { float_value: *f },
                        1,
                    ),
                    OptionValue::Str(s) => (
                        ffi::PJRT_NamedValue_Type::String,
                        ffi::PJRT_NamedValue_Value {
                            string_value: strings[i]
                                .as_ref()
                                .map_or(std::ptr::null(), |c| c.as_ptr()),
                        },
                        s.len(),
                    ),
                };
                ffi::PJRT_NamedValue {
                    struct_size: std::mem::size_of::<ffi::PJRT_NamedValue>(),
                    extension_start: std::ptr::null_mut(),
                    name: names[i].as_ptr(),
                    name_size: name.len(),
                    type_,
                    value,
                    value_size,
                }
            })
            .collect();
        Ok(NamedValues {
            _names: names,
            _strings: strings,
            values,
        })
    }
}

impl Client {
    /// Creates a client with named options (for the CPU plugin: `cpu_device_count`).
    pub fn new(plugin: Arc<Plugin>, options: &[(&str, OptionValue)]) -> Result<Client> {
        let options = NamedValues::new(options)?;
        let mut args = ffi::PJRT_Client_Create_Args::new();
        args.create_options = options.values.as_ptr();
        args.num_options = options.values.len();
        pjrt_call!(&plugin, PJRT_Client_Create, &mut args)?;
        let raw = args.client;

        let mut name_args = ffi::PJRT_Client_PlatformName_Args::new();
        name_args.client = raw;
        let mut version_args = ffi::PJRT_Client_PlatformVersion_Args::new();
        version_args.client = raw;
        let mut dev_args = ffi::PJRT_Client_AddressableDevices_Args::new();
        dev_args.client = raw;
        // Own the raw client before anything else can fail, so it is destroyed on error.
        let mut inner = ClientInner {
            plugin: plugin.clone(),
            raw,
            devices: vec![],
        };
        pjrt_call!(&plugin, PJRT_Client_PlatformName, &mut name_args)?;
        pjrt_call!(&plugin, PJRT_Client_PlatformVersion, &mut version_args)?;
        pjrt_call!(&plugin, PJRT_Client_AddressableDevices, &mut dev_args)?;
        // SAFETY: strings and the device array are owned by the client, which is alive.
        let platform_name =
            unsafe { string_from(name_args.platform_name, name_args.platform_name_size) };
        let platform_version = unsafe {
            string_from(
                version_args.platform_version,
                version_args.platform_version_size,
            )
        };
        inner.devices = (0..dev_args.num_addressable_devices)
            .map(|i| unsafe { *dev_args.addressable_devices.add(i) })
            .collect();
        let devices = inner
            .devices
            .iter()
            .enumerate()
            .map(|(index, &device)| describe_device(&plugin, index, device))
            .collect::<Result<Vec<_>>>()?;
        Ok(Client {
            inner: Arc::new(inner),
            devices: Arc::new(devices),
            platform_name,
            platform_version,
            cache: Arc::new(ExecutableCache::in_memory()),
        })
    }

    /// Uses `cache` for every later [`Client::compile`]: compiled executables are kept in memory
    /// and, if the cache has a folder, serialized to disk for later processes.
    pub fn with_cache(mut self, cache: ExecutableCache) -> Client {
        self.cache = Arc::new(cache);
        self
    }

    pub fn plugin(&self) -> &Arc<Plugin> {
        &self.inner.plugin
    }

    pub fn platform_name(&self) -> &str {
        &self.platform_name
    }

    pub fn platform_version(&self) -> &str {
        &self.platform_version
    }

    /// The PJRT device at `index` of [`Client::devices`], or an error naming the range.
    fn device_ptr(&self, index: usize) -> Result<*mut ffi::PJRT_Device> {
        self.inner.devices.get(index).copied().ok_or_else(|| {
            Error::usage(format!(
                "device index {index} out of range: the client has {} devices",
                self.inner.devices.len()
            ))
        })
    }

    /// Device `index`'s memory as its allocator counts it; an error where the plugin does not
    /// report it (the CPU plugin does not).
    pub fn device_memory(&self, index: usize) -> Result<DeviceMemory> {
        let device = self.device_ptr(index)?;
        let mut args = ffi::PJRT_Device_MemoryStats_Args::new();
        args.device = device;
        pjrt_call!(&self.inner.plugin, PJRT_Device_MemoryStats, &mut args)?;
        let set = |value: i64, is_set: bool| is_set.then_some(value);
        Ok(DeviceMemory {
            in_use: args.bytes_in_use,
            peak_in_use: set(args.peak_bytes_in_use, args.peak_bytes_in_use_is_set),
            limit: set(args.bytes_limit, args.bytes_limit_is_set),
        })
    }

    pub fn devices(&self) -> &[DeviceInfo] {
        &self.devices
    }

    pub fn cache_stats(&self) -> CacheStats {
        self.cache.stats()
    }

    /// Copies `data` (row-major, `dims`) to device `device` (an index into [`Client::devices`]).
    pub fn buffer_from_host<T: Element>(
        &self,
        data: &[T],
        dims: &[i64],
        device: usize,
    ) -> Result<Buffer> {
        // SAFETY: `T: Element` guarantees the byte layout of `T::TYPE`.
        let bytes = unsafe {
            std::slice::from_raw_parts(data.as_ptr() as *const u8, std::mem::size_of_val(data))
        };
        self.buffer_from_bytes(bytes, T::TYPE, dims, device)
    }

    /// Copies raw little-endian bytes of `ty` elements, row-major, to a device.
    pub fn buffer_from_bytes(
        &self,
        bytes: &[u8],
        ty: ElementType,
        dims: &[i64],
        device: usize,
    ) -> Result<Buffer> {
        if dims.iter().any(|&d| d < 0) {
            return Err(Error::usage(format!("negative dimension in {dims:?}")));
        }
        let count: i64 = dims.iter().product();
        if bytes.len() != count as usize * ty.size_in_bytes() {
            return Err(Error::usage(format!(
                "host data has {} bytes, but a {ty} array of shape {dims:?} needs {}",
                bytes.len(),
                count as usize * ty.size_in_bytes()
            )));
        }
        let device_ptr = self.device_ptr(device)?;
        let mut args = ffi::PJRT_Client_BufferFromHostBuffer_Args::new();
        args.client = self.inner.raw;
        args.data = bytes.as_ptr() as *const _;
        args.type_ = ty.to_pjrt() as i32;
        args.dims = dims.as_ptr();
        args.num_dims = dims.len();
        args.host_buffer_semantics =
            ffi::PJRT_HostBufferSemantics::ImmutableUntilTransferCompletes as i32;
        args.device = device_ptr;
        pjrt_call!(
            &self.inner.plugin,
            PJRT_Client_BufferFromHostBuffer,
            &mut args
        )?;
        let buffer = Buffer::from_raw(self.inner.clone(), args.buffer, ty, dims.to_vec());
        // The host slice must stay untouched until the transfer is done: wait for it here,
        // while `bytes` is still borrowed.
        if let Some(done) = Event::from_raw(&self.inner.plugin, args.done_with_host_buffer) {
            done.wait()?;
        }
        Ok(buffer)
    }

    /// Compiles StableHLO (MLIR text or bytecode), served from the executable cache when it holds
    /// the same program compiled with the same options by the same plugin.
    pub fn compile(
        &self,
        program: &str,
        options: &CompileOptions,
    ) -> Result<Arc<LoadedExecutable>> {
        let cache = self.cache.clone();
        cache.get_or_compile(self, program.as_bytes(), options)
    }

    /// Compiles without consulting the cache.
    pub fn compile_uncached(
        &self,
        program: &[u8],
        options: &CompileOptions,
    ) -> Result<LoadedExecutable> {
        let prog = ffi::PJRT_Program::mlir(program);
        let opts = options.to_bytes();
        let mut args = ffi::PJRT_Client_Compile_Args::new();
        args.client = self.inner.raw;
        args.program = &prog;
        args.compile_options = opts.as_ptr() as *const _;
        args.compile_options_size = opts.len();
        pjrt_call!(&self.inner.plugin, PJRT_Client_Compile, &mut args)?;
        LoadedExecutable::from_raw(self.inner.clone(), args.executable)
    }

    /// Loads an executable that [`LoadedExecutable::serialize`] produced with this plugin.
    pub fn deserialize_executable(&self, bytes: &[u8]) -> Result<LoadedExecutable> {
        let mut args = ffi::PJRT_Executable_DeserializeAndLoad_Args::new();
        args.client = self.inner.raw;
        args.serialized_executable = bytes.as_ptr() as *const _;
        args.serialized_executable_size = bytes.len();
        pjrt_call!(
            &self.inner.plugin,
            PJRT_Executable_DeserializeAndLoad,
            &mut args
        )?;
        LoadedExecutable::from_raw(self.inner.clone(), args.loaded_executable)
    }

    /// A string that changes whenever a compiled program from this client would not be
    /// reusable: plugin file, API version, platform version and device count.
    pub fn identity(&self) -> String {
        let plugin = self.plugin();
        let (major, minor) = plugin.api_version();
        let size = std::fs::metadata(plugin.path())
            .map(|m| m.len())
            .unwrap_or(0);
        format!(
            "{}|{size}|{major}.{minor}|{}|{}|{}",
            plugin.path().display(),
            self.platform_name,
            self.platform_version,
            self.devices.len()
        )
    }
}

fn describe_device(
    plugin: &Arc<Plugin>,
    index: usize,
    device: *mut ffi::PJRT_Device,
) -> Result<DeviceInfo> {
    let mut desc = ffi::PJRT_Device_GetDescription_Args::new();
    desc.device = device;
    pjrt_call!(plugin, PJRT_Device_GetDescription, &mut desc)?;
    let mut id = ffi::PJRT_DeviceDescription_Id_Args::new();
    id.device_description = desc.device_description;
    pjrt_call!(plugin, PJRT_DeviceDescription_Id, &mut id)?;
    let mut kind = ffi::PJRT_DeviceDescription_Kind_Args::new();
    kind.device_description = desc.device_description;
    pjrt_call!(plugin, PJRT_DeviceDescription_Kind, &mut kind)?;
    let mut debug = ffi::PJRT_DeviceDescription_DebugString_Args::new();
    debug.device_description = desc.device_description;
    pjrt_call!(plugin, PJRT_DeviceDescription_DebugString, &mut debug)?;
    // SAFETY: strings owned by the device description, which lives as long as the client.
    Ok(DeviceInfo {
        index,
        id: id.id,
        kind: unsafe { string_from(kind.device_kind, kind.device_kind_size) },
        description: unsafe { string_from(debug.debug_string, debug.debug_string_size) },
    })
}
