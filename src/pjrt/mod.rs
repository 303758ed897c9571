//! The PJRT runtime: our own bindings to the PJRT C API and a safe layer over them.
//!
//! `Plugin` (a loaded shared library) → `Client` (its devices) → `Buffer`s and
//! `LoadedExecutable`s. Every object keeps what it depends on alive, so drop order cannot free
//! a client under its buffers, and donation moves the buffer so it cannot be used again.

pub mod buffer;
pub mod cache;
pub mod client;
pub mod compile_options;
pub mod dtype;
pub mod error;
pub mod event;
pub mod executable;
pub(crate) mod ffi;
pub mod platforms;
pub mod plugin;
pub mod topology;

pub use buffer::Buffer;
pub use cache::{CacheStats, ExecutableCache};
pub use client::{Client, DeviceInfo, DeviceMemory, OptionValue};
pub use compile_options::CompileOptions;
pub use dtype::{Element, ElementType};
pub use error::{Error, ErrorCode, Result};
pub use executable::{Arg, LoadedExecutable};
pub use plugin::{AttributeValue, Plugin, StablehloVersion, STABLEHLO_NEEDED};
pub use topology::{CompiledProgram, MemoryStats, Topology};
