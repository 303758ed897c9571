//! Device buffers: owned, typed, shaped, and copied back to the host on request.

use std::sync::Arc;

use super::client::ClientInner;
use super::dtype::{Element, ElementType};
use super::error::{Error, Result};
use super::event::Event;
use super::ffi::{self, ArgsStruct};
use super::plugin::pjrt_call;

/// An array on one device. Dropping it frees the device memory. A buffer given to
/// [`crate::pjrt::Arg::Donate`] is moved into the call, so it cannot be used after donation.
pub struct Buffer {
    raw: *mut ffi::PJRT_Buffer,
    client: Arc<ClientInner>,
    ty: ElementType,
    dims: Vec<i64>,
}

// SAFETY: PJRT buffers may be used and destroyed from any thread.
unsafe impl Send for Buffer {}
unsafe impl Sync for Buffer {}

impl std::fmt::Debug for Buffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Buffer<{}{:?}>", self.ty, self.dims)
    }
}

impl Buffer {
    pub(crate) fn from_raw(
        client: Arc<ClientInner>,
        raw: *mut ffi::PJRT_Buffer,
        ty: ElementType,
        dims: Vec<i64>,
    ) -> Buffer {
        Buffer {
            raw,
            client,
            ty,
            dims,
        }
    }

    /// Wraps an output buffer of an execution, reading its type and shape from the plugin.
    pub(crate) fn from_output(
        client: Arc<ClientInner>,
        raw: *mut ffi::PJRT_Buffer,
    ) -> Result<Buffer> {
        let plugin = client.plugin.clone();
        // Own it first, so it is freed if a query fails.
        let mut buffer = Buffer::from_raw(client, raw, ElementType::Pred, vec![]);
        let mut ty = ffi::PJRT_Buffer_ElementType_Args::new();
        ty.buffer = raw;
        pjrt_call!(&plugin, PJRT_Buffer_ElementType, &mut ty)?;
        buffer.ty = ElementType::from_pjrt(ty.type_).ok_or_else(|| {
            Error::usage(format!(
                "output has an element type (PJRT code {}) this crate does not handle",
                ty.type_
            ))
        })?;
        let mut dims = ffi::PJRT_Buffer_Dimensions_Args::new();
        dims.buffer = raw;
        pjrt_call!(&plugin, PJRT_Buffer_Dimensions, &mut dims)?;
        // SAFETY: `num_dims` values owned by the buffer.
        buffer.dims = unsafe { std::slice::from_raw_parts(dims.dims, dims.num_dims) }.to_vec();
        Ok(buffer)
    }

    pub(crate) fn raw(&self) -> *mut ffi::PJRT_Buffer {
        self.raw
    }

    pub fn element_type(&self) -> ElementType {
        self.ty
    }

    pub fn dims(&self) -> &[i64] {
        &self.dims
    }

    pub fn element_count(&self) -> usize {
        self.dims.iter().product::<i64>() as usize
    }

    /// Index of the device holding this buffer, in the client's device list.
    pub fn device_index(&self) -> Result<usize> {
        let mut args = ffi::PJRT_Buffer_Device_Args::new();
        args.buffer = self.raw;
        pjrt_call!(&self.client.plugin, PJRT_Buffer_Device, &mut args)?;
        self.client
            .devices
            .iter()
            .position(|&d| d == args.device)
            .ok_or_else(|| Error::usage("buffer is on a device that is not addressable"))
    }

    /// Whether the plugin has released this buffer's memory (it never has for a live `Buffer`).
    pub fn is_deleted(&self) -> Result<bool> {
        let mut args = ffi::PJRT_Buffer_IsDeleted_Args::new();
        args.buffer = self.raw;
        pjrt_call!(&self.client.plugin, PJRT_Buffer_IsDeleted, &mut args)?;
        Ok(args.is_deleted)
    }

    /// The device address of the data (for checking aliasing in tests; never dereferenced).
    pub fn device_address(&self) -> Result<usize> {
        let mut args = ffi::PJRT_Buffer_UnsafePointer_Args::new();
        args.buffer = self.raw;
        pjrt_call!(&self.client.plugin, PJRT_Buffer_UnsafePointer, &mut args)?;
        Ok(args.buffer_pointer)
    }

    /// Copies the buffer to the host as raw bytes (row-major, little-endian).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut out = vec![0u8; self.element_count() * self.ty.size_in_bytes()];
        self.copy_into(&mut out)?;
        Ok(out)
    }

    /// Copies the buffer to the host as `T`, which must be the buffer's element type.
    pub fn to_vec<T: Element>(&self) -> Result<Vec<T>> {
        if T::TYPE != self.ty {
            return Err(Error::usage(format!(
                "buffer holds {}, asked for {}",
                self.ty,
                T::TYPE
            )));
        }
        let bytes = self.to_bytes()?;
        if T::TYPE == ElementType::Pred && bytes.iter().any(|&b| b > 1) {
            return Err(Error::usage("a pred buffer held a byte other than 0 or 1"));
        }
        let n = self.element_count();
        let mut out: Vec<T> = Vec::with_capacity(n);
        // SAFETY: `bytes` holds `n` elements of `T::TYPE`, which `T` represents exactly
        // (`Element`'s contract, bool checked above); the copy handles alignment.
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), out.as_mut_ptr() as *mut u8, bytes.len());
            out.set_len(n);
        }
        Ok(out)
    }

    /// Copies a scalar (or the first element) to the host.
    pub fn to_scalar<T: Element>(&self) -> Result<T> {
        self.to_vec::<T>()?
            .first()
            .copied()
            .ok_or_else(|| Error::usage("empty buffer has no scalar"))
    }

    fn copy_into(&self, dst: &mut [u8]) -> Result<()> {
        let mut args = ffi::PJRT_Buffer_ToHostBuffer_Args::new();
        args.src = self.raw;
        args.dst = dst.as_mut_ptr() as *mut _;
        args.dst_size = dst.len();
        pjrt_call!(&self.client.plugin, PJRT_Buffer_ToHostBuffer, &mut args)?;
        // `dst` stays borrowed until the copy has finished.
        match Event::from_raw(&self.client.plugin, args.event) {
            Some(event) => event.wait(),
            None => Ok(()),
        }
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        let mut args = ffi::PJRT_Buffer_Destroy_Args::new();
        args.buffer = self.raw;
        if let Err(e) = pjrt_call!(&self.client.plugin, PJRT_Buffer_Destroy, &mut args) {
            tracing::warn!("destroying a PJRT buffer: {e}");
        }
    }
}
