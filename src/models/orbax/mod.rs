//! Orbax PyTree checkpoints. We write the layout a non-Python program can write and Orbax and
//! Tunix restore by default: `_METADATA` (the tree: each leaf's key path) and one folder per
//! array, named by its keys joined with `.`, holding a zarr v2 array (`.zarray` and one chunk of
//! raw little-endian C-order bytes). We read that layout and Orbax's default one (what Tunix's
//! `CheckpointManager` and `StandardCheckpointer` save): the same tree whose arrays live in an
//! OCDBT database (`manifest.ocdbt`, `ocdbt.process_N/d/...`; [`ocdbt`]), as zarr v2 or v3
//! ([`zarr`]), zstd-compressed, in any chunking.

mod codecs;
mod crc32c;
mod decode;
mod dtype;
mod error;
pub mod ocdbt;
pub mod zarr;

pub use crc32c::crc32c;
pub use error::OcdbtError;

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::graph::HostArray;
use crate::pjrt::ElementType;

#[derive(Debug, thiserror::Error)]
pub enum OrbaxError {
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
    #[error(transparent)]
    Store(#[from] OcdbtError),
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

/// Our element type for a zarr v3 data type name (what the store reader reports).
fn element_type(name: &str) -> Option<ElementType> {
    Some(match name {
        "float32" => ElementType::F32,
        "bfloat16" => ElementType::BF16,
        "float16" => ElementType::F16,
        "float64" => ElementType::F64,
        "int32" => ElementType::S32,
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
    let store: Box<dyn zarr::KeyValueStore> =
        if metadata["use_ocdbt"].as_bool() == Some(true) || dir.join("manifest.ocdbt").exists() {
            Box::new(ocdbt::OcdbtStore::open(dir)?)
        } else {
            Box::new(zarr::FolderStore(dir.to_path_buf()))
        };
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
        let array = read_array(store.as_ref(), &keys.join("."))?;
        leaves.push((keys, array));
    }
    Ok(leaves)
}

/// Reads the zarr array at `key` of the store into a host array.
fn read_array(store: &dyn zarr::KeyValueStore, key: &str) -> Result<HostArray, OrbaxError> {
    let path = store.dir().join(key);
    if !store.contains(&format!("{key}/.zarray")) && !store.contains(&format!("{key}/zarr.json")) {
        return Err(err(&path, "the array is missing from the checkpoint"));
    }
    let (shape, dtype, bytes) = zarr::read_zarr_array(store, key)?;
    let ty = element_type(&dtype).ok_or_else(|| {
        err(
            &path,
            format!("dtype `{dtype}` is not one of float32, bfloat16, float16, float64, int32"),
        )
    })?;
    let dims = shape.iter().map(|&d| d as i64).collect();
    Ok(HostArray { ty, dims, bytes })
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
        let a = read_array(&zarr::FolderStore(dir.path().to_path_buf()), "a").unwrap();
        assert_eq!(a.dims, [3, 5]);
        assert_eq!(a.to_vec::<i32>(), whole);
    }

    #[test]
    fn a_missing_array_or_a_broken_ocdbt_manifest_is_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let ck = dir.path().join("ck");
        let leaves: Vec<Leaf> = vec![(vec!["a".into()], HostArray::new(&[1f32], &[1]))];
        write(&ck, &leaves).unwrap();
        std::fs::remove_dir_all(ck.join("a")).unwrap();
        let e = read(&ck).unwrap_err().to_string();
        assert!(e.contains("ck/a") && e.contains("missing"), "{e}");
        std::fs::write(ck.join("manifest.ocdbt"), b"").unwrap();
        let e = read(&ck).unwrap_err().to_string();
        assert!(
            e.contains("ck/manifest.ocdbt") && e.contains("truncated"),
            "{e}"
        );
    }
}
