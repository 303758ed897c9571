//! Compiled programs and their execution on one or many devices.

use std::sync::Arc;

use super::buffer::Buffer;
use super::client::ClientInner;
use super::error::{Error, Result};
use super::event::{wait_all, Event};
use super::ffi::{self, ArgsStruct};
use super::plugin::{pjrt_call, string_from};

/// An argument of one execution.
///
/// A donated buffer is moved into the call, so the compiler refuses any later use:
/// ```compile_fail
/// # fn step(exe: &grpo_xla::pjrt::LoadedExecutable, state: grpo_xla::pjrt::Buffer) {
/// use grpo_xla::pjrt::Arg;
/// let _ = exe.execute(vec![Arg::Donate(state)]);
/// let _ = state.to_vec::<f32>(); // error[E0382]: use of moved value: `state`
/// # }
/// ```
pub enum Arg<'a> {
    /// The buffer stays the caller's; the plugin is told not to donate it.
    Borrow(&'a Buffer),
    /// The buffer is given to the call: if the program aliases this input to an output, the
    /// output reuses its memory. Either way the caller can no longer use it.
    Donate(Buffer),
}

impl<'a> From<&'a Buffer> for Arg<'a> {
    fn from(buffer: &'a Buffer) -> Self {
        Arg::Borrow(buffer)
    }
}

impl Arg<'_> {
    fn buffer(&self) -> &Buffer {
        match self {
            Arg::Borrow(b) => b,
            Arg::Donate(b) => b,
        }
    }
}

/// A program compiled and loaded onto its devices.
pub struct LoadedExecutable {
    raw: *mut ffi::PJRT_LoadedExecutable,
    client: Arc<ClientInner>,
    devices: Vec<*mut ffi::PJRT_Device>,
    num_outputs: usize,
    num_partitions: usize,
    num_replicas: usize,
}

impl std::fmt::Debug for LoadedExecutable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "LoadedExecutable({} devices, {} outputs)",
            self.devices.len(),
            self.num_outputs
        )
    }
}

// SAFETY: PJRT executables are thread-safe.
unsafe impl Send for LoadedExecutable {}
unsafe impl Sync for LoadedExecutable {}

/// The `PJRT_Executable` view of a loaded executable, destroyed on drop.
struct ExecutableView<'a> {
    raw: *mut ffi::PJRT_Executable,
    owner: &'a LoadedExecutable,
}

impl Drop for ExecutableView<'_> {
    fn drop(&mut self) {
        let mut args = ffi::PJRT_Executable_Destroy_Args::new();
        args.executable = self.raw;
        let _ = pjrt_call!(
            &self.owner.client.plugin,
            PJRT_Executable_Destroy,
            &mut args
        );
    }
}

impl LoadedExecutable {
    pub(crate) fn from_raw(
        client: Arc<ClientInner>,
        raw: *mut ffi::PJRT_LoadedExecutable,
    ) -> Result<Self> {
        let plugin = client.plugin.clone();
        let mut exe = LoadedExecutable {
            raw,
            client,
            devices: vec![],
            num_outputs: 0,
            num_partitions: 1,
            num_replicas: 1,
        };
        let mut dev = ffi::PJRT_LoadedExecutable_AddressableDevices_Args::new();
        dev.executable = raw;
        pjrt_call!(&plugin, PJRT_LoadedExecutable_AddressableDevices, &mut dev)?;
        // SAFETY: array owned by the executable.
        exe.devices = (0..dev.num_addressable_devices)
            .map(|i| unsafe { *dev.addressable_devices.add(i) })
            .collect();
        let view = exe.view()?;
        let mut outputs = ffi::PJRT_Executable_NumOutputs_Args::new();
        outputs.executable = view.raw;
        pjrt_call!(&plugin, PJRT_Executable_NumOutputs, &mut outputs)?;
        let mut partitions = ffi::PJRT_Executable_NumPartitions_Args::new();
        partitions.executable = view.raw;
        pjrt_call!(&plugin, PJRT_Executable_NumPartitions, &mut partitions)?;
        let mut replicas = ffi::PJRT_Executable_NumReplicas_Args::new();
        replicas.executable = view.raw;
        pjrt_call!(&plugin, PJRT_Executable_NumReplicas, &mut replicas)?;
        drop(view);
        exe.num_outputs = outputs.num_outputs;
        exe.num_partitions = partitions.num_partitions;
        exe.num_replicas = replicas.num_replicas;
        Ok(exe)
    }

    fn view(&self) -> Result<ExecutableView<'_>> {
        let mut args = ffi::PJRT_LoadedExecutable_GetExecutable_Args::new();
        args.loaded_executable = self.raw;
        pjrt_call!(
            &self.client.plugin,
            PJRT_LoadedExecutable_GetExecutable,
            &mut args
        )?;
        Ok(ExecutableView {
            raw: args.executable,
            owner: self,
        })
    }

    pub fn num_outputs(&self) -> usize {
        self.num_outputs
    }

    pub fn num_partitions(&self) -> usize {
        self.num_partitions
    }

    pub fn num_replicas(&self) -> usize {
        self.num_replicas
    }

    /// How many devices one execution runs on (one argument list each).
    pub fn num_devices(&self) -> usize {
        self.devices.len()
    }

    /// Serialized form, loadable by [`crate::pjrt::Client::deserialize_executable`] with the same plugin.
    pub fn serialize(&self) -> Result<Vec<u8>> {
        let view = self.view()?;
        let mut args = ffi::PJRT_Executable_Serialize_Args::new();
        args.executable = view.raw;
        pjrt_call!(&self.client.plugin, PJRT_Executable_Serialize, &mut args)?;
        // SAFETY: bytes backed by `serialized_executable` until its deleter runs.
        let bytes = unsafe {
            std::slice::from_raw_parts(
                args.serialized_bytes as *const u8,
                args.serialized_bytes_size,
            )
        }
        .to_vec();
        if let Some(deleter) = args.serialized_executable_deleter {
            unsafe { deleter(args.serialized_executable) };
        }
        Ok(bytes)
    }

    /// The program after XLA's optimizations, as HLO text (shows inserted collectives etc.).
    pub fn optimized_program(&self) -> Result<String> {
        let view = self.view()?;
        let mut program = ffi::PJRT_Program::new();
        let mut args = ffi::PJRT_Executable_OptimizedProgram_Args::new();
        args.executable = view.raw;
        args.program = &mut program;
        // First call reports the size, second fills our buffer.
        pjrt_call!(
            &self.client.plugin,
            PJRT_Executable_OptimizedProgram,
            &mut args
        )?;
        let mut code = vec![0u8; program.code_size];
        program.code = code.as_mut_ptr() as *mut _;
        pjrt_call!(
            &self.client.plugin,
            PJRT_Executable_OptimizedProgram,
            &mut args
        )?;
        // SAFETY: format string owned by the plugin.
        let format = unsafe { string_from(program.format, program.format_size) };
        if format != "hlo" && format != "hlo_with_config" && !format.is_empty() {
            tracing::debug!("optimized program format {format}");
        }
        Ok(String::from_utf8_lossy(&code).into_owned())
    }

    /// Runs on one device with one argument list; returns the outputs.
    pub fn execute(&self, args: Vec<Arg<'_>>) -> Result<Vec<Buffer>> {
        Ok(self.execute_sharded(vec![args])?.pop().unwrap_or_default())
    }

    /// Runs on every device of the executable, `args[d]` being device d's argument list.
    /// Waits for the devices to finish and returns `outputs[d]`.
    pub fn execute_sharded(&self, args: Vec<Vec<Arg<'_>>>) -> Result<Vec<Vec<Buffer>>> {
        let num_devices = self.devices.len();
        if args.len() != num_devices {
            return Err(Error::usage(format!(
                "the program runs on {num_devices} devices, but {} argument lists were given",
                args.len()
            )));
        }
        let num_args = args.first().map_or(0, |a| a.len());
        if let Some(bad) = args.iter().position(|a| a.len() != num_args) {
            return Err(Error::usage(format!(
                "argument list {bad} has {} arguments, list 0 has {num_args}",
                args[bad].len()
            )));
        }
        // Borrowed arguments must survive the call: tell the plugin not to donate them.
        let non_donatable: Vec<i64> = (0..num_args)
            .filter(|&i| args.iter().any(|list| matches!(list[i], Arg::Borrow(_))))
            .map(|i| i as i64)
            .collect();
        let raw_args: Vec<Vec<*mut ffi::PJRT_Buffer>> = args
            .iter()
            .map(|list| list.iter().map(|a| a.buffer().raw()).collect())
            .collect();
        let arg_ptrs: Vec<*const *mut ffi::PJRT_Buffer> =
            raw_args.iter().map(|l| l.as_ptr()).collect();
        let mut outputs: Vec<Vec<*mut ffi::PJRT_Buffer>> =
            vec![vec![std::ptr::null_mut(); self.num_outputs]; num_devices];
        let out_ptrs: Vec<*mut *mut ffi::PJRT_Buffer> =
            outputs.iter_mut().map(|l| l.as_mut_ptr()).collect();
        let mut events: Vec<*mut ffi::PJRT_Event> = vec![std::ptr::null_mut(); num_devices];

        let mut options = ffi::PJRT_ExecuteOptions::new();
        options.non_donatable_input_indices = non_donatable.as_ptr();
        options.num_non_donatable_input_indices = non_donatable.len();
        let mut exec = ffi::PJRT_LoadedExecutable_Execute_Args::new();
        exec.executable = self.raw;
        exec.options = &mut options;
        exec.argument_lists = arg_ptrs.as_ptr();
        exec.num_devices = num_devices;
        exec.num_args = num_args;
        exec.output_lists = out_ptrs.as_ptr();
        exec.device_complete_events = events.as_mut_ptr();
        pjrt_call!(
            &self.client.plugin,
            PJRT_LoadedExecutable_Execute,
            &mut exec
        )?;

        // Take ownership of everything the plugin handed back before looking at any error.
        let events: Vec<Event> = events
            .into_iter()
            .filter_map(|e| Event::from_raw(&self.client.plugin, e))
            .collect();
        let outputs: Vec<Vec<Result<Buffer>>> = outputs
            .into_iter()
            .map(|list| {
                list.into_iter()
                    .map(|raw| Buffer::from_output(self.client.clone(), raw))
                    .collect()
            })
            .collect();
        wait_all(events)?;
        // Donated inputs were consumed by the call; dropping them releases our handles.
        drop(args);
        outputs
            .into_iter()
            .map(|list| list.into_iter().collect::<Result<Vec<_>>>())
            .collect()
    }
}

impl Drop for LoadedExecutable {
    fn drop(&mut self) {
        let mut args = ffi::PJRT_LoadedExecutable_Destroy_Args::new();
        args.executable = self.raw;
        if let Err(e) = pjrt_call!(
            &self.client.plugin,
            PJRT_LoadedExecutable_Destroy,
            &mut args
        ) {
            tracing::warn!("destroying a PJRT executable: {e}");
        }
    }
}
