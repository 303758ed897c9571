//! Running an emitted module on host arrays: compile (through the client's cache), upload,
//! execute, download. What tests, benchmarks and small tools need; the trainer keeps its state
//! on the device instead.

use std::sync::Arc;

use super::emit::Module;
use crate::pjrt::{Arg, Buffer, Client, Element, ElementType, LoadedExecutable, Result};

/// An array on the host: element type, dimensions and raw little-endian bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct HostArray {
    pub ty: ElementType,
    pub dims: Vec<i64>,
    pub bytes: Vec<u8>,
}

impl HostArray {
    pub fn new<T: Element>(data: &[T], dims: &[i64]) -> HostArray {
        // SAFETY: `Element` types are plain bytes of their element type.
        let bytes = unsafe {
            std::slice::from_raw_parts(data.as_ptr() as *const u8, std::mem::size_of_val(data))
        };
        HostArray {
            ty: T::TYPE,
            dims: dims.to_vec(),
            bytes: bytes.to_vec(),
        }
    }

    pub fn scalar<T: Element>(value: T) -> HostArray {
        HostArray::new(&[value], &[])
    }

    pub fn to_vec<T: Element>(&self) -> Vec<T> {
        assert_eq!(
            self.ty,
            T::TYPE,
            "host array holds {}, asked for {}",
            self.ty,
            T::TYPE
        );
        let n = self.bytes.len() / std::mem::size_of::<T>();
        let mut out: Vec<T> = Vec::with_capacity(n);
        // SAFETY: the bytes are `n` elements of `T::TYPE`; the copy handles alignment.
        unsafe {
            std::ptr::copy_nonoverlapping(
                self.bytes.as_ptr(),
                out.as_mut_ptr() as *mut u8,
                self.bytes.len(),
            );
            out.set_len(n);
        }
        out
    }

    /// Values as f64, whatever the float or integer type.
    pub fn to_f64(&self) -> Vec<f64> {
        match self.ty {
            ElementType::F64 => self.to_vec::<f64>(),
            ElementType::F32 => self.to_vec::<f32>().into_iter().map(f64::from).collect(),
            ElementType::BF16 => self
                .to_vec::<half::bf16>()
                .into_iter()
                .map(f64::from)
                .collect(),
            ElementType::F16 => self
                .to_vec::<half::f16>()
                .into_iter()
                .map(f64::from)
                .collect(),
            ElementType::S32 => self.to_vec::<i32>().into_iter().map(f64::from).collect(),
            ElementType::S64 => self.to_vec::<i64>().into_iter().map(|v| v as f64).collect(),
            ElementType::U32 => self.to_vec::<u32>().into_iter().map(f64::from).collect(),
            ElementType::U64 => self.to_vec::<u64>().into_iter().map(|v| v as f64).collect(),
            ElementType::U8 => self.to_vec::<u8>().into_iter().map(f64::from).collect(),
            ElementType::S8 => self.to_vec::<i8>().into_iter().map(f64::from).collect(),
            ElementType::Pred => self
                .to_vec::<bool>()
                .into_iter()
                .map(|b| b as u8 as f64)
                .collect(),
        }
    }

    pub fn upload(&self, client: &Client, device: usize) -> Result<Buffer> {
        client.buffer_from_bytes(&self.bytes, self.ty, &self.dims, device)
    }

    pub fn download(buffer: &Buffer) -> Result<HostArray> {
        Ok(HostArray {
            ty: buffer.element_type(),
            dims: buffer.dims().to_vec(),
            bytes: buffer.to_bytes()?,
        })
    }
}

impl Module {
    pub fn compile(&self, client: &Client) -> Result<Arc<LoadedExecutable>> {
        client.compile(&self.text, &self.compile_options())
    }

    /// Runs on device 0 with host arguments; returns the results on the host.
    pub fn run(&self, client: &Client, args: &[HostArray]) -> Result<Vec<HostArray>> {
        let exe = self.compile(client)?;
        run_executable(&exe, client, args)
    }
}

/// Uploads `args` to device 0, runs, downloads every result.
pub fn run_executable(
    exe: &LoadedExecutable,
    client: &Client,
    args: &[HostArray],
) -> Result<Vec<HostArray>> {
    let buffers = args
        .iter()
        .map(|a| a.upload(client, 0))
        .collect::<Result<Vec<_>>>()?;
    let outputs = exe.execute(buffers.iter().map(Arg::Borrow).collect())?;
    outputs.iter().map(HostArray::download).collect()
}
