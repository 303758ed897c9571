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

    pub fn axis_size(&self, name: &str) -> Option<i64> {
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

/// For each tensor dimension, the mesh axes it is split over, major first (empty: whole on
/// every device). A dimension split over `["data", "fsdp"]` has data × fsdp parts.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Sharding {
    pub dims: Vec<Vec<String>>,
}

impl Sharding {
    pub fn replicated(rank: usize) -> Sharding {
        Sharding {
            dims: vec![vec![]; rank],
        }
    }

    /// Split dimension `dim` over mesh axis `axis`, everything else replicated.
    pub fn split(rank: usize, dim: usize, axis: &str) -> Sharding {
        Sharding::split_over(rank, dim, &[axis])
    }

    /// Split dimension `dim` over several mesh axes (major first), everything else replicated.
    pub fn split_over(rank: usize, dim: usize, axes: &[&str]) -> Sharding {
        let mut dims = vec![vec![]; rank];
        dims[dim] = axes.iter().map(|a| a.to_string()).collect();
        Sharding { dims }
    }

    pub fn is_replicated(&self) -> bool {
        self.dims.iter().all(|d| d.is_empty())
    }

    /// `#sdy.sharding<@mesh, [{"x"}, {}]>`
    pub fn shardy(&self) -> String {
        let dims: Vec<String> = self
            .dims
            .iter()
            .map(|axes| {
                let quoted: Vec<String> = axes.iter().map(|a| format!("\"{a}\"")).collect();
                format!("{{{}}}", quoted.join(", "))
            })
            .collect();
        format!("#sdy.sharding<@mesh, [{}]>", dims.join(", "))
    }

    /// The GSPMD string, e.g. `{devices=[4,1]<=[4]}`, with unused mesh axes replicated.
    pub fn gspmd(&self, mesh: &Mesh) -> String {
        if self.is_replicated() {
            return "{replicated}".to_string();
        }
        let tiles: Vec<i64> = self
            .dims
            .iter()
            .map(|axes| axes.iter().filter_map(|a| mesh.axis_size(a)).product())
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

    /// Where device `device`'s part starts and how long it is, per dimension of `dims`.
    fn ranges(&self, mesh: &Mesh, dims: &[i64], device: i64) -> Result<Vec<(i64, i64)>, PjrtError> {
        if self.dims.len() != dims.len() {
            return Err(PjrtError::Usage(format!(
                "a sharding of rank {} for an array of rank {}",
                self.dims.len(),
                dims.len()
            )));
        }
        let coords = mesh.coordinates(device);
        let mut ranges = vec![];
        for (d, axes) in self.dims.iter().enumerate() {
            // The part's index along this dimension: the axes' coordinates, major first.
            let (mut parts, mut index) = (1, 0);
            for a in axes {
                let i = mesh
                    .axes
                    .iter()
                    .position(|(n, _)| n == a)
                    .ok_or_else(|| PjrtError::Usage(format!("no mesh axis {a}")))?;
                parts *= mesh.axes[i].1;
                index = index * mesh.axes[i].1 + coords[i];
            }
            if dims[d] % parts != 0 {
                return Err(PjrtError::Usage(format!(
                    "dimension {d} of size {} does not split {parts} ways",
                    dims[d]
                )));
            }
            let len = dims[d] / parts;
            ranges.push((index * len, len));
        }
        Ok(ranges)
    }

    /// The dims of each device's part of an array of `dims`.
    pub fn shard_dims(&self, mesh: &Mesh, dims: &[i64]) -> Result<Vec<i64>, PjrtError> {
        Ok(self.ranges(mesh, dims, 0)?.iter().map(|r| r.1).collect())
    }

    /// The part of a host array (row-major, `dims`) that device `device` holds.
    pub fn shard<T: Element>(
        &self,
        mesh: &Mesh,
        data: &[T],
        dims: &[i64],
        device: i64,
    ) -> Result<(Vec<T>, Vec<i64>), PjrtError> {
        let ranges = self.ranges(mesh, dims, device)?;
        let mut out = Vec::with_capacity(ranges.iter().map(|r| r.1).product::<i64>() as usize);
        for (start, len) in runs(dims, &ranges) {
            out.extend_from_slice(&data[start..start + len]);
        }
        Ok((out, ranges.iter().map(|r| r.1).collect()))
    }

    /// `shard` on raw bytes, `elem` bytes per element.
    pub fn shard_bytes(
        &self,
        mesh: &Mesh,
        whole: &[u8],
        dims: &[i64],
        elem: usize,
        device: i64,
    ) -> Result<(Vec<u8>, Vec<i64>), PjrtError> {
        let ranges = self.ranges(mesh, dims, device)?;
        let mut out = vec![];
        for (start, len) in runs(dims, &ranges) {
            out.extend_from_slice(&whole[start * elem..(start + len) * elem]);
        }
        Ok((out, ranges.iter().map(|r| r.1).collect()))
    }

    /// The inverse of `shard_bytes`: writes device `device`'s part into the whole array.
    pub fn place_bytes(
        &self,
        mesh: &Mesh,
        whole: &mut [u8],
        dims: &[i64],
        part: &[u8],
        elem: usize,
        device: i64,
    ) -> Result<(), PjrtError> {
        let ranges = self.ranges(mesh, dims, device)?;
        let mut at = 0;
        for (start, len) in runs(dims, &ranges) {
            whole[start * elem..(start + len) * elem]
                .copy_from_slice(&part[at * elem..(at + len) * elem]);
            at += len;
        }
        Ok(())
    }
}

/// The block of an array of `dims` given by (start, len) per dimension, as contiguous runs
/// (start element, length) in row-major order.
fn runs(dims: &[i64], ranges: &[(i64, i64)]) -> Vec<(usize, usize)> {
    // Trailing dimensions taken whole are contiguous with the last partial one.
    let mut inner = dims.len();
    let mut run = 1;
    while inner > 0 {
        let d = inner - 1;
        run *= ranges[d].1;
        inner = d;
        if ranges[d] != (0, dims[d]) {
            break;
        }
    }
    let strides: Vec<i64> = (0..dims.len())
        .map(|d| dims[d + 1..].iter().product())
        .collect();
    let base: i64 = (inner..dims.len()).map(|d| ranges[d].0 * strides[d]).sum();
    let outer: i64 = ranges[..inner].iter().map(|r| r.1).product();
    (0..outer)
        .map(|flat| {
            let mut rest = flat;
            let mut offset = base;
            for d in (0..inner).rev() {
                offset += (ranges[d].0 + rest % ranges[d].1) * strides[d];
                rest /= ranges[d].1;
            }
            (offset as usize, run as usize)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every device's part of a [4, 6, 2] array, put back together, is the array; and the parts
    /// are the blocks the sharding names.
    #[test]
    fn parts_put_back_together_are_the_array() {
        let mesh = Mesh::new(&[("data", 2), ("fsdp", 2)]);
        let dims = [4i64, 6, 2];
        let whole: Vec<u8> = (0..48u8).collect();
        for sharding in [
            Sharding::split_over(3, 0, &["data", "fsdp"]),
            Sharding::split(3, 1, "fsdp"),
            Sharding {
                dims: vec![vec!["data".into()], vec![], vec!["fsdp".into()]],
            },
            Sharding::replicated(3),
        ] {
            let mut back = vec![0u8; whole.len()];
            for device in 0..4 {
                let (part, part_dims) = sharding
                    .shard_bytes(&mesh, &whole, &dims, 1, device)
                    .unwrap();
                assert_eq!(part.len() as i64, part_dims.iter().product::<i64>());
                sharding
                    .place_bytes(&mesh, &mut back, &dims, &part, 1, device)
                    .unwrap();
            }
            assert_eq!(back, whole, "{sharding:?}");
        }
        // Rows over data × fsdp: device 3 (data 1, fsdp 1) holds the last row.
        let rows = Sharding::split_over(3, 0, &["data", "fsdp"]);
        let (part, part_dims) = rows.shard_bytes(&mesh, &whole, &dims, 1, 3).unwrap();
        assert_eq!(part_dims, [1, 6, 2]);
        assert_eq!(part, (36..48u8).collect::<Vec<_>>());
        // The last dimension over fsdp: device 1 (data 0, fsdp 1) holds every odd element of
        // the first two rows.
        let last = Sharding {
            dims: vec![vec!["data".into()], vec![], vec!["fsdp".into()]],
        };
        let (part, _) = last.shard_bytes(&mesh, &whole, &dims, 1, 1).unwrap();
        assert_eq!(part, (0..24u8).filter(|x| x % 2 == 1).collect::<Vec<_>>());
        assert!(Sharding::split(3, 1, "data")
            .shard_bytes(&mesh, &whole, &[4, 5, 2], 1, 0)
            .is_err());
    }
}
