//! Where a run's arrays live. A `Layout` says how a program's inputs and outputs are split
//! over a mesh of devices (`data` × `fsdp`); a `Placement` is a layout on a client's devices.
//! Every upload of the trainer and the generator goes through one `Placement`, and every
//! program runs on `DeviceArray`s, so one device and eight differ only in the layout.

use std::sync::Arc;

use super::emit::Module;
use super::exec::HostArray;
use super::sharding::{Mesh, Sharding};
use crate::pjrt::{Arg, Buffer, Client, Element, ElementType, Error, LoadedExecutable, Result};

/// The mesh a run uses and the rules that place its arrays on it: batches are split along
/// their first dimension over every device (`data` then `fsdp`); trainable weights and their
/// optimizer state are split over `fsdp` along their first dimension that divides evenly
/// (replicated over `data`); everything else is replicated.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Layout {
    mesh: Mesh,
}

impl Layout {
    /// One device.
    pub fn single() -> Layout {
        Layout::new(1, 1)
    }

    /// `data` × `fsdp` devices.
    pub fn new(data: i64, fsdp: i64) -> Layout {
        Layout {
            mesh: Mesh::new(&[("data", data), ("fsdp", fsdp)]),
        }
    }

    pub fn mesh(&self) -> &Mesh {
        &self.mesh
    }

    pub fn num_devices(&self) -> usize {
        self.mesh.num_devices() as usize
    }

    pub fn data(&self) -> i64 {
        self.mesh.axis_size("data").unwrap_or(1)
    }

    pub fn fsdp(&self) -> i64 {
        self.mesh.axis_size("fsdp").unwrap_or(1)
    }

    /// The mesh to annotate programs with: none on one device, so its programs are exactly
    /// the unannotated ones.
    pub fn program_mesh(&self) -> Option<&Mesh> {
        (self.num_devices() > 1).then_some(&self.mesh)
    }

    /// The mesh axes a batch's rows are split over (every axis of more than one device).
    pub fn batch_axes(&self) -> Vec<String> {
        self.mesh
            .axes
            .iter()
            .filter(|(_, s)| *s > 1)
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// A batch input or per-row output of rank `rank`: rows split over every device.
    pub fn batch(&self, rank: usize) -> Sharding {
        let axes = self.batch_axes();
        if axes.is_empty() || rank == 0 {
            return Sharding::replicated(rank);
        }
        let mut sharding = Sharding::replicated(rank);
        sharding.dims[0] = axes;
        sharding
    }

    /// A trainable weight (or its optimizer moments) of shape `dims`: split over `fsdp` along
    /// the first dimension it divides, else replicated.
    pub fn weight(&self, dims: &[i64]) -> Sharding {
        let fsdp = self.fsdp();
        match dims.iter().position(|&d| fsdp > 1 && d % fsdp == 0) {
            Some(dim) => Sharding::split(dims.len(), dim, "fsdp"),
            None => Sharding::replicated(dims.len()),
        }
    }

    /// How many rows a batch must be a multiple of.
    pub fn batch_multiple(&self) -> usize {
        self.num_devices()
    }
}

/// `data=4 × fsdp=2`, as configs spell the mesh.
impl std::fmt::Display for Layout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "data={} × fsdp={}", self.data(), self.fsdp())
    }
}

/// One array of a program's inputs or outputs: one buffer per device of the layout, each
/// holding the part `sharding` gives that device.
pub struct DeviceArray {
    shards: Vec<Buffer>,
    sharding: Sharding,
    dims: Vec<i64>,
}

impl DeviceArray {
    pub fn dims(&self) -> &[i64] {
        &self.dims
    }

    pub fn element_type(&self) -> ElementType {
        self.shards[0].element_type()
    }

    /// Bytes of the whole array.
    pub fn byte_size(&self) -> usize {
        self.dims.iter().product::<i64>() as usize * self.element_type().size_in_bytes()
    }

    /// Bytes each device holds.
    pub fn bytes_per_device(&self) -> usize {
        self.shards[0].element_count() * self.element_type().size_in_bytes()
    }

    /// The whole array on the host, gathered from the devices' parts.
    pub fn download(&self, layout: &Layout) -> Result<HostArray> {
        if self.sharding.is_replicated() {
            return HostArray::download(&self.shards[0]);
        }
        let elem = self.element_type().size_in_bytes();
        let mut bytes = vec![0u8; self.byte_size()];
        for (d, shard) in self.shards.iter().enumerate() {
            let part = shard.to_bytes()?;
            self.sharding.place_bytes(
                layout.mesh(),
                &mut bytes,
                &self.dims,
                &part,
                elem,
                d as i64,
            )?;
        }
        Ok(HostArray {
            ty: self.element_type(),
            dims: self.dims.clone(),
            bytes,
        })
    }

    /// A replicated array's values (any device's copy).
    pub fn to_vec<T: Element>(&self) -> Result<Vec<T>> {
        self.replicated_copy()?.to_vec()
    }

    pub fn to_scalar<T: Element>(&self) -> Result<T> {
        self.replicated_copy()?.to_scalar()
    }

    fn replicated_copy(&self) -> Result<&Buffer> {
        if !self.sharding.is_replicated() {
            return Err(Error::usage(format!(
                "reading a split array ({:?}) without its layout: download it instead",
                self.sharding
            )));
        }
        Ok(&self.shards[0])
    }
}

/// An argument of one program call over every device of a layout.
pub enum In<'a> {
    /// The array stays the caller's.
    Borrow(&'a DeviceArray),
    /// The array is given to the call (its buffers may be reused for an output).
    Donate(DeviceArray),
}

impl<'a> From<&'a DeviceArray> for In<'a> {
    fn from(a: &'a DeviceArray) -> Self {
        In::Borrow(a)
    }
}

impl In<'_> {
    fn array(&self) -> &DeviceArray {
        match self {
            In::Borrow(a) => a,
            In::Donate(a) => a,
        }
    }
}

/// A layout on a client's devices: uploads and downloads split and gather arrays.
#[derive(Clone)]
pub struct Placement {
    client: Client,
    layout: Layout,
}

impl Placement {
    /// Everything on the client's first device.
    pub fn single(client: Client) -> Placement {
        Placement {
            client,
            layout: Layout::single(),
        }
    }

    /// Every device of the client on `data` (generation and evaluation: rows split, weights
    /// copied).
    pub fn data_parallel(client: Client) -> Placement {
        let layout = Layout::new(client.devices().len().max(1) as i64, 1);
        Placement { client, layout }
    }

    /// The layout on the client's first `layout.num_devices()` devices.
    pub fn new(client: Client, layout: Layout) -> Result<Placement> {
        let have = client.devices().len();
        if layout.num_devices() > have {
            return Err(Error::usage(format!(
                "the mesh {layout} needs {} devices, the {} client has {have}",
                layout.num_devices(),
                client.platform_name()
            )));
        }
        Ok(Placement { client, layout })
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// `array` split as `sharding` says, one part per device.
    pub fn upload(&self, array: &HostArray, sharding: &Sharding) -> Result<DeviceArray> {
        let mesh = self.layout.mesh();
        let elem = array.ty.size_in_bytes();
        let shards = (0..self.layout.num_devices())
            .map(|d| {
                if sharding.is_replicated() {
                    return array.upload(&self.client, d);
                }
                let (bytes, dims) =
                    sharding.shard_bytes(mesh, &array.bytes, &array.dims, elem, d as i64)?;
                self.client.buffer_from_bytes(&bytes, array.ty, &dims, d)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(DeviceArray {
            shards,
            sharding: sharding.clone(),
            dims: array.dims.clone(),
        })
    }

    /// A copy of `array` on every device.
    pub fn replicate(&self, array: &HostArray) -> Result<DeviceArray> {
        self.upload(array, &Sharding::replicated(array.dims.len()))
    }

    pub fn replicate_all(&self, arrays: &[HostArray]) -> Result<Vec<DeviceArray>> {
        arrays.iter().map(|a| self.replicate(a)).collect()
    }

    /// Trainable (or frozen) weights, split over `fsdp` as the layout says.
    pub fn upload_weights(&self, arrays: &[HostArray]) -> Result<Vec<DeviceArray>> {
        arrays
            .iter()
            .map(|a| self.upload(a, &self.layout.weight(&a.dims)))
            .collect()
    }

    /// Host values copied to every device.
    pub fn put<T: Element>(&self, data: &[T], dims: &[i64]) -> Result<DeviceArray> {
        self.replicate(&HostArray::new(data, dims))
    }

    /// Rows of a batch split over the devices.
    pub fn put_rows<T: Element>(&self, data: &[T], dims: &[i64]) -> Result<DeviceArray> {
        self.upload(&HostArray::new(data, dims), &self.layout.batch(dims.len()))
    }

    pub fn download(&self, array: &DeviceArray) -> Result<HostArray> {
        array.download(&self.layout)
    }

    pub fn download_all<A: AsRef<DeviceArray>>(&self, arrays: &[A]) -> Result<Vec<HostArray>> {
        arrays.iter().map(|a| self.download(a.as_ref())).collect()
    }

    /// Compiles `module`, which must be annotated for this placement's layout.
    pub fn compile(&self, module: &Module) -> Result<Program> {
        let devices = self.layout.num_devices();
        if module.num_partitions != devices {
            return Err(Error::usage(format!(
                "a program built for {} devices placed on {devices}",
                module.num_partitions
            )));
        }
        let exe = module.compile(&self.client)?;
        let shardings = |list: &[Option<Sharding>], ranks: Vec<usize>| -> Vec<Sharding> {
            list.iter()
                .zip(ranks)
                .map(|(s, rank)| s.clone().unwrap_or_else(|| Sharding::replicated(rank)))
                .collect()
        };
        Ok(Program {
            exe,
            inputs: shardings(
                &module.param_shardings,
                module.param_shapes.iter().map(|s| s.dims.len()).collect(),
            ),
            outputs: shardings(
                &module.result_shardings,
                module.result_shapes.iter().map(|s| s.dims.len()).collect(),
            ),
            output_dims: module
                .result_shapes
                .iter()
                .map(|s| s.dims.clone())
                .collect(),
        })
    }
}

impl AsRef<DeviceArray> for DeviceArray {
    fn as_ref(&self) -> &DeviceArray {
        self
    }
}

/// A compiled program with the layout of its inputs and outputs.
pub struct Program {
    exe: Arc<LoadedExecutable>,
    inputs: Vec<Sharding>,
    outputs: Vec<Sharding>,
    output_dims: Vec<Vec<i64>>,
}

impl Program {
    /// Runs on every device; each argument must be laid out as the program declares.
    pub fn run(&self, args: Vec<In<'_>>) -> Result<Vec<DeviceArray>> {
        if args.len() != self.inputs.len() {
            return Err(Error::usage(format!(
                "the program takes {} arguments, {} were given",
                self.inputs.len(),
                args.len()
            )));
        }
        for (i, (arg, want)) in args.iter().zip(&self.inputs).enumerate() {
            let got = &arg.array().sharding;
            if got != want {
                return Err(Error::usage(format!(
                    "argument {i} is laid out as {got:?}, the program expects {want:?}"
                )));
            }
        }
        let devices = self.exe.num_devices();
        let mut lists: Vec<Vec<Arg>> = (0..devices).map(|_| vec![]).collect();
        for arg in args {
            match arg {
                In::Borrow(a) => {
                    for (list, shard) in lists.iter_mut().zip(&a.shards) {
                        list.push(Arg::Borrow(shard));
                    }
                }
                In::Donate(a) => {
                    for (list, shard) in lists.iter_mut().zip(a.shards) {
                        list.push(Arg::Donate(shard));
                    }
                }
            }
        }
        let per_device = self.exe.execute_sharded(lists)?;
        // Outputs arrive per device; regroup them per output.
        let mut outputs: Vec<Vec<Buffer>> = self.outputs.iter().map(|_| vec![]).collect();
        for list in per_device {
            for (out, buffer) in outputs.iter_mut().zip(list) {
                out.push(buffer);
            }
        }
        Ok(outputs
            .into_iter()
            .zip(&self.outputs)
            .zip(&self.output_dims)
            .map(|((shards, sharding), dims)| DeviceArray {
                shards,
                sharding: sharding.clone(),
                dims: dims.clone(),
            })
            .collect())
    }
}
