//! Where a run's arrays live. Every upload of the trainer and the generator goes through one
//! `Placement`, so widening from one device to a mesh of devices changes this type, not its
//! callers.

use super::exec::HostArray;
use crate::pjrt::{Buffer, Client, Element, Result};

#[derive(Clone)]
pub struct Placement {
    client: Client,
    device: usize,
}

impl Placement {
    /// Everything on the client's first device.
    pub fn single(client: Client) -> Placement {
        Placement { client, device: 0 }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn upload(&self, array: &HostArray) -> Result<Buffer> {
        array.upload(&self.client, self.device)
    }

    pub fn upload_all(&self, arrays: &[HostArray]) -> Result<Vec<Buffer>> {
        arrays.iter().map(|a| self.upload(a)).collect()
    }

    /// A new array on the device from host values.
    pub fn put<T: Element>(&self, data: &[T], dims: &[i64]) -> Result<Buffer> {
        self.client.buffer_from_host(data, dims, self.device)
    }

    pub fn download_all(buffers: &[Buffer]) -> Result<Vec<HostArray>> {
        buffers.iter().map(HostArray::download).collect()
    }
}
