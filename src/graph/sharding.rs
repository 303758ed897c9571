//! Device meshes and sharding annotations, emitted as Shardy (`sdy`) or GSPMD (`mhlo.sharding`).

use crate::pjrt::{Element, Error as PjrtError};

/// A named, row-major grid of devices, e.g. `[("data", 2), ("model", 4)]` over 8 devices.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Mesh {
    pub axes: Vec<(String, i64)>,
}

impl Mesh {
    pub fn new(axes: &[(&str, i64)]) -> Mesh {
        Mesh {
            axes: axes.iter().map(|(n, s)| (n.to_string(), *s)).collect(),
        }
    }

    pub fn num_devices(&self) -> i64 {
        self.axes.iter().map(|(_, s)| s).product()
    }

    fn axis_size(&self, name: &str) -> Option<i64> {
        self.axes.iter().find(|(n, _)| n == name).map(|(_, s)| *s)
    }

    /// Device `d`'s coordinate along each axis (row-major: the last axis varies fastest).
    pub fn coordinates(&self, device: i64) -> Vec<i64> {
        let mut rest = device;
        let mut coords = vec![0; self.axes.len()];
        for (i, (_, size)) in self.axes.iter().enumerate().rev() {
            coords[i] = rest % size;
            rest /= size;
        }
        coords
    }
}

/// For each tensor dimension, the mesh axis it is split over (None: whole on every device).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Sharding {
    pub dims: Vec<Option<String>>,
}

impl Sharding {
    pub fn replicated(rank: usize) -> Sharding {
        Sharding {
            dims: vec![None; rank],
        }
    }

    /// Split dimension `dim` over mesh axis `axis`, everything else replicated.
    pub fn split(rank: usize, dim: usize, axis: &str) -> Sharding {
        let mut dims = vec![None; rank];
        dims[dim] = Some(axis.to_string());
        Sharding { dims }
    }

    /// `#sdy.sharding<@mesh, [{"x"}, {}]>`
    pub fn shardy(&self) -> String {
        let dims: Vec<String> = self
            .dims
            .iter()
            .map(|d| match d {
                Some(axis) => format!("{{\"{axis}\"}}"),
                None => "{}".to_string(),
            })
            .collect();
        format!("#sdy.sharding<@mesh, [{}]>", dims.join(", "))
    }

    /// The GSPMD string, e.g. `{devices=[4,1]<=[4]}`, with unused mesh axes replicated.
    pub fn gspmd(&self, mesh: &Mesh) -> String {
        if self.dims.iter().all(|d| d.is_none()) {
            return "{replicated}".to_string();
        }
        let tiles: Vec<i64> = self
            .dims
            .iter()
            .map(|d| d.as_ref().and_then(|a| mesh.axis_size(a)).unwrap_or(1))
            .collect();
        let used: i64 = tiles.iter().product();
        let total = mesh.num_devices();
        // Device order: mesh axes in the order the tensor dims use them, then the unused ones.
        let mut order: Vec<usize> = self
            .dims
            .iter()
            .flatten()
            .filter_map(|a| mesh.axes.iter().position(|(n, _)| n == a))
            .collect();
        let unused: Vec<usize> = (0..mesh.axes.len())
            .filter(|i| !order.contains(i))
            .collect();
        order.extend(&unused);
        let sizes: Vec<String> = mesh.axes.iter().map(|(_, s)| s.to_string()).collect();
        let identity: Vec<usize> = (0..mesh.axes.len()).collect();
        let device_list = if order == identity {
            format!("<=[{total}]")
        } else {
            let perm: Vec<String> = order.iter().map(|i| i.to_string()).collect();
            format!("<=[{}]T({})", sizes.join(","), perm.join(","))
        };
        let mut tile_str: Vec<String> = tiles.iter().map(|t| t.to_string()).collect();
        if used < total {
            tile_str.push((total / used).to_string());
            format!(
                "{{devices=[{}]{device_list} last_tile_dim_replicate}}",
                tile_str.join(",")
            )
        } else {
            format!("{{devices=[{}]{device_list}}}", tile_str.join(","))
        }
    }

    /// The part of a host array (row-major, `dims`) that device `device` holds.
    pub fn shard<T: Element>(
        &self,
        mesh: &Mesh,
        data: &[T],
        dims: &[i64],
        device: i64,
    ) -> Result<(Vec<T>, Vec<i64>), PjrtError> {
        let coords = mesh.coordinates(device);
        let mut ranges = vec![];
        for (d, axis) in self.dims.iter().enumerate() {
            match axis {
                None => ranges.push((0, dims[d])),
                Some(a) => {
                    let i = mesh
                        .axes
                        .iter()
                        .position(|(n, _)| n == a)
                        .ok_or_else(|| PjrtError::Usage(format!("no mesh axis {a}")))?;
                    let parts = mesh.axes[i].1;
                    if dims[d] % parts != 0 {
                        return Err(PjrtError::Usage(format!(
                            "dimension {d} of size {} does not split {parts} ways",
                            dims[d]
                        )));
                    }
                    let len = dims[d] / parts;
                    ranges.push((coords[i] * len, len));
                }
            }
        }
        let shard_dims: Vec<i64> = ranges.iter().map(|r| r.1).collect();
        let mut out = Vec::with_capacity(shard_dims.iter().product::<i64>() as usize);
        let strides: Vec<i64> = (0..dims.len())
            .map(|d| dims[d + 1..].iter().product())
            .collect();
        let count: i64 = shard_dims.iter().product();
        for flat in 0..count {
            let mut rest = flat;
            let mut offset = 0;
            for d in (0..dims.len()).rev() {
                let i = rest % shard_dims[d];
                rest /= shard_dims[d];
                offset += (ranges[d].0 + i) * strides[d];
            }
            out.push(data[offset as usize]);
        }
        Ok((out, shard_dims))
    }
}
