//! Orbax PyTree checkpoints in the layout a non-Python program can write and read: Orbax's
//! non-OCDBT layout, which Orbax and Tunix restore by default. A checkpoint folder holds
//! `_METADATA` (the tree: each leaf's key path) and one folder per array, named by its keys
//! joined with `.`, holding a zarr v2 array (`.zarray` and chunk files of raw little-endian
//! C-order bytes). We write one uncompressed chunk per array; we read any chunking, uncompressed
//! or zstd (what Orbax itself writes in this layout). OCDBT checkpoints (Orbax's other layout, a
//! B-tree database) are refused with a message saying how to re-save them.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::graph::HostArray;
use crate::pjrt::ElementType;

#[derive(Debug, thiserror::Error)]
pub enum OrbaxError {
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
}

fn err(path: &Path, message: impl std::fmt::Display) -> OrbaxError {
    OrbaxError::File {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

/// One leaf of a PyTree: its key path (dict keys; list indices as decimal strings) and array.
pub type Leaf = (Vec<String>, HostArray);

/// Whether `dir` is an Orbax PyTree checkpoint (it has `_METADATA`).
pub fn is_checkpoint(dir: &Path) -> bool {
    dir.join("_METADATA").is_file()
}

fn zarr_dtype(ty: ElementType) -> Option<&'static str> {
    Some(match ty {
        ElementType::F32 => "<f4",
        ElementType::BF16 => "bfloat16",
        ElementType::F16 => "<f2",
        ElementType::F64 => "<f8",
        ElementType::S32 => "<i4",
        _ => return None,
    })
}

fn element_type(zarr: &str) -> Option<ElementType> {
    Some(match zarr {
        "<f4" => ElementType::F32,
        "bfloat16" | "<V2" => ElementType::BF16,
        "<f2" => ElementType::F16,
        "<f8" => ElementType::F64,
        "<i4" => ElementType::S32,
        _ => return None,
    })
}

/// Python's repr of a tuple of strings, the form `_METADATA` keys its tree by.
fn tuple_repr(keys: &[String]) -> String {
    let quoted: Vec<String> = keys.iter().map(|k| format!("'{k}'")).collect();
    if quoted.len() == 1 {
        format!("({},)", quoted[0])
    } else {
        format!("({})", quoted.join(", "))
    }
}

fn array_folder(dir: &Path, keys: &[String]) -> PathBuf {
    dir.join(keys.join("."))
}

/// Writes `leaves` as a checkpoint at `dir`: into `<dir>.partial`, renamed into place when whole
/// (an existing `dir` is replaced only then).
pub fn write(dir: &Path, leaves: &[Leaf]) -> Result<(), OrbaxError> {
    let tmp = dir.with_extension("partial");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| err(&tmp, e))?;
    let mut tree = serde_json::Map::new();
    for (keys, array) in leaves {
        let dtype = zarr_dtype(array.ty).ok_or_else(|| {
            err(
                dir,
                format!(
                    "{}: element type {:?} has no zarr name",
                    keys.join("."),
                    array.ty
                ),
            )
        })?;
        let folder = array_folder(&tmp, keys);
        std::fs::create_dir_all(&folder).map_err(|e| err(&folder, e))?;
        let zarray = json!({
            "chunks": array.dims, "compressor": null, "dimension_separator": ".", "dtype": dtype,
            "fill_value": null, "filters": null, "order": "C", "shape": array.dims, "zarr_format": 2,
        });
        let path = folder.join(".zarray");
        std::fs::write(&path, zarray.to_string()).map_err(|e| err(&path, e))?;
        let chunk = folder.join(chunk_name(&vec![0; array.dims.len()]));
        std::fs::write(&chunk, &array.bytes).map_err(|e| err(&chunk, e))?;
        let key_metadata: Vec<Value> = keys
            .iter()
            .map(|k| json!({"key": k, "key_type": 2}))
            .collect();
        tree.insert(
            tuple_repr(keys),
            json!({
                "key_metadata": key_metadata,
                "value_metadata": {"value_type": "jax.Array", "skip_deserialize": false,
                                   "write_shape": array.dims},
            }),
        );
    }
    let metadata = json!({"tree_metadata": tree, "use_ocdbt": false, "use_zarr3": false});
    let path = tmp.join("_METADATA");
    std::fs::write(&path, metadata.to_string()).map_err(|e| err(&path, e))?;
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|e| err(dir, e))?;
    }
    std::fs::rename(&tmp, dir).map_err(|e| err(dir, e))
}

/// A chunk's file name from its grid index (zarr v2, `.` separator; a scalar's chunk is `0`).
fn chunk_name(index: &[i64]) -> String {
    if index.is_empty() {
        return "0".into();
    }
    let parts: Vec<String> = index.iter().map(|i| i.to_string()).collect();
    parts.join(".")
}

/// Reads every leaf of the checkpoint at `dir`, in `_METADATA` order.
pub fn read(dir: &Path) -> Result<Vec<Leaf>, OrbaxError> {
    let path = dir.join("_METADATA");
    if !path.is_file() {
        return Err(err(
            dir,
            "not an Orbax checkpoint: no _METADATA file (expected the folder Orbax saved a PyTree in)",
        ));
    }
    let text = std::fs::read_to_string(&path).map_err(|e| err(&path, e))?;
    let metadata: Value =
        serde_json::from_str(&text).map_err(|e| err(&path, format!("not JSON: {e}")))?;
    if metadata["use_ocdbt"].as_bool() == Some(true) || dir.join("manifest.ocdbt").exists() {
        return Err(err(
            dir,
            "written in Orbax's OCDBT layout, which only Orbax reads; re-save it with \
             `orbax.checkpoint.PyTreeCheckpointHandler(use_ocdbt=False)`",
        ));
    }
    let tree = metadata["tree_metadata"]
        .as_object()
        .ok_or_else(|| err(&path, "field `tree_metadata` is missing or not an object"))?;
    let mut leaves = vec![];
    for (name, entry) in tree {
        let keys: Option<Vec<String>> = entry["key_metadata"].as_array().map(|ks| {
            ks.iter()
                .map(|k| match &k["key"] {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect()
        });
        let keys = keys.ok_or_else(|| err(&path, format!("{name}: no `key_metadata` list")))?;
        let array = read_array(&array_folder(dir, &keys))?;
        leaves.push((keys, array));
    }
    Ok(leaves)
}

/// Reads one zarr v2 array folder into a host array (chunks placed into the C-order whole).
fn read_array(folder: &Path) -> Result<HostArray, OrbaxError> {
    let path = folder.join(".zarray");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        err(
            folder,
            format!("the array is missing from the checkpoint ({e})"),
        )
    })?;
    let z: Value = serde_json::from_str(&text).map_err(|e| err(&path, format!("not JSON: {e}")))?;
    let dims = int_list(&z["shape"]).ok_or_else(|| err(&path, "no `shape` list"))?;
    let chunks = int_list(&z["chunks"]).ok_or_else(|| err(&path, "no `chunks` list"))?;
    let dtype = z["dtype"].as_str().unwrap_or_default();
    let ty = element_type(dtype).ok_or_else(|| {
        err(
            &path,
            format!("dtype `{dtype}` is not one of <f4, bfloat16, <f2, <f8, <i4"),
        )
    })?;
    if z["order"].as_str().unwrap_or("C") != "C" || chunks.len() != dims.len() {
        return Err(err(
            &path,
            "only C order with one chunk size per dimension is read",
        ));
    }
    if !z["filters"].is_null() {
        return Err(err(&path, "zarr filters are not supported"));
    }
    let compressor = z["compressor"]["id"].as_str().map(str::to_string);
    let elem = ty.size_in_bytes();
    let total: i64 = dims.iter().product();
    let mut bytes = vec![0u8; total as usize * elem];
    let grid: Vec<i64> = dims
        .iter()
        .zip(&chunks)
        .map(|(&d, &c)| if c == 0 { 0 } else { (d + c - 1) / c })
        .collect();
    for index in grid_indices(&grid) {
        let file = folder.join(chunk_name(&index));
        let raw = std::fs::read(&file).map_err(|e| err(&file, format!("chunk missing ({e})")))?;
        let data = match compressor.as_deref() {
            None => raw,
            Some("zstd") => unzstd(&raw).map_err(|e| err(&file, e))?,
            Some(other) => {
                return Err(err(
                    &path,
                    format!("compressor `{other}` is not read (none or zstd)"),
                ))
            }
        };
        let expected = chunks.iter().product::<i64>() as usize * elem;
        if data.len() != expected {
            return Err(err(
                &file,
                format!(
                    "holds {} bytes, expected {expected} for chunk {chunks:?}",
                    data.len()
                ),
            ));
        }
        place_chunk(&mut bytes, &data, &dims, &chunks, &index, elem);
    }
    Ok(HostArray { ty, dims, bytes })
}

fn int_list(v: &Value) -> Option<Vec<i64>> {
    v.as_array()?.iter().map(Value::as_i64).collect()
}

/// Every index of a grid, in C order (one empty index for a 0-d grid).
fn grid_indices(grid: &[i64]) -> Vec<Vec<i64>> {
    let mut out = vec![vec![]];
    for &n in grid {
        out = out
            .into_iter()
            .flat_map(|prefix| {
                (0..n).map(move |i| {
                    let mut p = prefix.clone();
                    p.push(i);
                    p
                })
            })
            .collect();
    }
    out
}

/// Copies one chunk (full chunk shape, edge chunks padded) into its place in the whole array.
fn place_chunk(
    out: &mut [u8],
    chunk: &[u8],
    dims: &[i64],
    chunks: &[i64],
    index: &[i64],
    elem: usize,
) {
    if dims.is_empty() {
        out.copy_from_slice(&chunk[..elem]);
        return;
    }
    let rank = dims.len();
    let start: Vec<i64> = index.iter().zip(chunks).map(|(i, c)| i * c).collect();
    let extent: Vec<i64> = (0..rank)
        .map(|d| chunks[d].min(dims[d] - start[d]))
        .collect();
    // Rows along the last dimension are contiguous in both.
    let row = extent[rank - 1] as usize * elem;
    for outer in grid_indices(&extent[..rank - 1]) {
        let (mut src, mut dst) = (0i64, 0i64);
        for d in 0..rank - 1 {
            src = src * chunks[d] + outer[d];
            dst = dst * dims[d] + start[d] + outer[d];
        }
        let src = (src * chunks[rank - 1]) as usize * elem;
        let dst = (dst * dims[rank - 1] + start[rank - 1]) as usize * elem;
        out[dst..dst + row].copy_from_slice(&chunk[src..src + row]);
    }
}

fn unzstd(raw: &[u8]) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let mut input = raw;
    let mut out = vec![];
    while !input.is_empty() {
        let mut decoder = ruzstd::decoding::StreamingDecoder::new(&mut input)
            .map_err(|e| format!("not a zstd frame: {e}"))?;
        decoder
            .read_to_end(&mut out)
            .map_err(|e| format!("corrupt zstd data: {e}"))?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tree_written_reads_back_bit_exact() {
        let dir = tempfile::tempdir().unwrap();
        let ck = dir.path().join("ck");
        let leaves: Vec<Leaf> = vec![
            (
                vec!["layers".into(), "0".into(), "w".into(), "value".into()],
                HostArray::new(&[1.5f32, -2.0, 3.25, f32::MIN_POSITIVE, 7.0, 8.0], &[2, 3]),
            ),
            (
                vec!["transformer/embedder".into(), "input_embedding".into()],
                HostArray::new(
                    &[half::bf16::from_f32(0.3), half::bf16::from_f32(-1.0)],
                    &[2],
                ),
            ),
        ];
        write(&ck, &leaves).unwrap();
        assert!(ck.join("transformer/embedder.input_embedding/0").is_file());
        assert_eq!(read(&ck).unwrap(), {
            let mut sorted = leaves.clone();
            sorted.sort_by_key(|a| tuple_repr(&a.0));
            sorted
        });
    }

    #[test]
    fn chunks_smaller_than_the_array_are_placed_where_they_belong() {
        // A 3 x 5 array in 2 x 2 chunks (edge chunks padded), as zarr writes it.
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("a");
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(
            folder.join(".zarray"),
            r#"{"chunks":[2,2],"compressor":null,"dtype":"<i4","fill_value":null,"filters":null,"order":"C","shape":[3,5],"zarr_format":2,"dimension_separator":"."}"#,
        )
        .unwrap();
        let whole: Vec<i32> = (0..15).collect();
        for ci in 0..2 {
            for cj in 0..3 {
                let mut chunk = [-1i32; 4];
                for a in 0..2 {
                    for b in 0..2 {
                        let (i, j) = (ci * 2 + a, cj * 2 + b);
                        if i < 3 && j < 5 {
                            chunk[a * 2 + b] = whole[i * 5 + j];
                        }
                    }
                }
                let bytes: Vec<u8> = chunk.iter().flat_map(|v| v.to_le_bytes()).collect();
                std::fs::write(folder.join(format!("{ci}.{cj}")), bytes).unwrap();
            }
        }
        let a = read_array(&folder).unwrap();
        assert_eq!(a.dims, [3, 5]);
        assert_eq!(a.to_vec::<i32>(), whole);
    }

    #[test]
    fn a_missing_array_or_an_ocdbt_checkpoint_is_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let ck = dir.path().join("ck");
        let leaves: Vec<Leaf> = vec![(vec!["a".into()], HostArray::new(&[1f32], &[1]))];
        write(&ck, &leaves).unwrap();
        std::fs::remove_dir_all(ck.join("a")).unwrap();
        let e = read(&ck).unwrap_err().to_string();
        assert!(e.contains("ck/a") && e.contains("missing"), "{e}");
        std::fs::write(ck.join("manifest.ocdbt"), b"").unwrap();
        let e = read(&ck).unwrap_err().to_string();
        assert!(e.contains("OCDBT") && e.contains("use_ocdbt=False"), "{e}");
    }
}
