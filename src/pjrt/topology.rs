//! Ahead-of-time compilation for a described topology (say a TPU v5e-8) with no device present.
//!
//! libtpu compiles for a named topology without a chip: `PJRT_TopologyDescription_Create`
//! then `PJRT_Compile`. The compiled executable is never loaded; what it tells us is whether the
//! plugin accepts our StableHLO and how much device memory each program needs.

use std::sync::Arc;

use super::compile_options::CompileOptions;
use super::error::{Error, Result};
use super::ffi::{self, ArgsStruct};
use super::plugin::{pjrt_call, string_from, Plugin};

/// A topology the plugin can compile for.
pub struct Topology {
    plugin: Arc<Plugin>,
    raw: *mut ffi::PJRT_TopologyDescription,
    name: String,
}

impl Drop for Topology {
    fn drop(&mut self) {
        let mut args = ffi::PJRT_TopologyDescription_Destroy_Args::new();
        args.topology = self.raw;
        if let Err(e) = pjrt_call!(&self.plugin, PJRT_TopologyDescription_Destroy, &mut args) {
            tracing::warn!("destroying the topology description: {e}");
        }
    }
}

impl Topology {
    /// Describes the topology `name` (libtpu: `v5e:2x4`, `v5e:2x2`, `v4:2x2x1`, ...).
    pub fn new(plugin: Arc<Plugin>, name: &str) -> Result<Topology> {
        let mut args = ffi::PJRT_TopologyDescription_Create_Args::new();
        args.topology_name = name.as_ptr() as *const _;
        args.topology_name_size = name.len();
        pjrt_call!(&plugin, PJRT_TopologyDescription_Create, &mut args)?;
        Ok(Topology {
            plugin,
            raw: args.topology,
            name: name.to_string(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn plugin(&self) -> &Arc<Plugin> {
        &self.plugin
    }

    pub fn platform_name(&self) -> Result<String> {
        let mut args = ffi::PJRT_TopologyDescription_PlatformName_Args::new();
        args.topology = self.raw;
        pjrt_call!(
            &self.plugin,
            PJRT_TopologyDescription_PlatformName,
            &mut args
        )?;
        // SAFETY: the string is owned by the topology, which outlives this call.
        Ok(unsafe { string_from(args.platform_name, args.platform_name_size) })
    }

    pub fn platform_version(&self) -> Result<String> {
        let mut args = ffi::PJRT_TopologyDescription_PlatformVersion_Args::new();
        args.topology = self.raw;
        pjrt_call!(
            &self.plugin,
            PJRT_TopologyDescription_PlatformVersion,
            &mut args
        )?;
        // SAFETY: as above.
        Ok(unsafe { string_from(args.platform_version, args.platform_version_size) })
    }

    /// How many devices the topology has.
    pub fn device_count(&self) -> Result<usize> {
        let mut args = ffi::PJRT_TopologyDescription_GetDeviceDescriptions_Args::new();
        args.topology = self.raw;
        pjrt_call!(
            &self.plugin,
            PJRT_TopologyDescription_GetDeviceDescriptions,
            &mut args
        )?;
        Ok(args.num_descriptions)
    }

    /// Compiles StableHLO text for this topology.
    pub fn compile(&self, program: &str, options: &CompileOptions) -> Result<CompiledProgram> {
        // libtpu 0.0.17 parses past `code_size` up to a NUL (seen: "custom op 'ls' is unknown"
        // one line after the end of the text), so the text carries a terminator it is not told of.
        let mut code = Vec::with_capacity(program.len() + 1);
        code.extend_from_slice(program.as_bytes());
        code.push(0);
        let mut prog = ffi::PJRT_Program::mlir(&code);
        prog.code_size = program.len();
        let opts = options.to_bytes();
        let mut args = ffi::PJRT_Compile_Args::new();
        args.topology = self.raw;
        args.program = &prog;
        args.compile_options = opts.as_ptr() as *const _;
        args.compile_options_size = opts.len();
        pjrt_call!(&self.plugin, PJRT_Compile, &mut args)?;
        Ok(CompiledProgram {
            plugin: self.plugin.clone(),
            raw: args.executable,
        })
    }
}

/// A program compiled ahead of time: not loaded on any device.
pub struct CompiledProgram {
    plugin: Arc<Plugin>,
    raw: *mut ffi::PJRT_Executable,
}

impl Drop for CompiledProgram {
    fn drop(&mut self) {
        let mut args = ffi::PJRT_Executable_Destroy_Args::new();
        args.executable = self.raw;
        if let Err(e) = pjrt_call!(&self.plugin, PJRT_Executable_Destroy, &mut args) {
            tracing::warn!("destroying a compiled program: {e}");
        }
    }
}

/// Device memory one program needs, in bytes, as the compiler planned it (per device).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct MemoryStats {
    pub code: i64,
    pub arguments: i64,
    pub outputs: i64,
    /// Output bytes that reuse a donated argument's memory.
    pub aliased: i64,
    /// Scratch space live during the program.
    pub temp: i64,
}

impl MemoryStats {
    /// Everything live while the program runs: its arguments, the outputs that do not reuse
    /// an argument, its scratch space and its code.
    pub fn while_running(&self) -> i64 {
        self.arguments + self.outputs - self.aliased + self.temp + self.code
    }
}

impl CompiledProgram {
    pub fn memory_stats(&self) -> Result<MemoryStats> {
        let mut args = ffi::PJRT_Executable_GetCompiledMemoryStats_Args::new();
        args.executable = self.raw;
        pjrt_call!(
            &self.plugin,
            PJRT_Executable_GetCompiledMemoryStats,
            &mut args
        )?;
        let stats = MemoryStats {
            code: args.generated_code_size_in_bytes,
            arguments: args.argument_size_in_bytes,
            outputs: args.output_size_in_bytes,
            aliased: args.alias_size_in_bytes,
            temp: args.temp_size_in_bytes,
        };
        if [stats.code, stats.arguments, stats.outputs, stats.temp]
            .iter()
            .any(|&b| b < 0)
        {
            return Err(Error::usage(format!(
                "the plugin reported negative memory sizes: {stats:?}"
            )));
        }
        Ok(stats)
    }
}
