//! Zarr arrays stored as keys of a store (an OCDBT database, or a plain folder in Orbax's
//! non-OCDBT layout): `<array>/zarr.json` plus `<array>/c/0/0`... (zarr v3, what Orbax writes
//! with `use_zarr3=True`) or `<array>/.zarray` plus `<array>/0.0`... (zarr v2, what Orbax 0.12
//! writes by default, OCDBT or not).
//! Chunks are decoded and placed into one little-endian C-order buffer; chunks that were never
//! written read as the fill value.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::codecs::{self, usize_list, ArrayToBytes, BytesCodec, Chain};
use super::decode::{invalid, Fault, Parse};
use super::dtype::{self, DataType};
use super::error::OcdbtError;
use super::ocdbt::OcdbtStore;

/// Where an array's keys are read from.
pub trait KeyValueStore {
    /// The value at `key`, None when there is none.
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, OcdbtError>;
    fn contains(&self, key: &str) -> bool;
    /// The checkpoint folder (errors name `dir/key`).
    fn dir(&self) -> &Path;
}

impl KeyValueStore for OcdbtStore {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, OcdbtError> {
        OcdbtStore::get(self, key)
    }

    fn contains(&self, key: &str) -> bool {
        OcdbtStore::contains(self, key)
    }

    fn dir(&self) -> &Path {
        OcdbtStore::dir(self)
    }
}

/// Orbax's non-OCDBT layout: each key is a file under the checkpoint folder.
pub struct FolderStore(pub PathBuf);

impl KeyValueStore for FolderStore {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, OcdbtError> {
        let path = self.0.join(key);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(OcdbtError::Io { path, error }),
        }
    }

    fn contains(&self, key: &str) -> bool {
        self.0.join(key).is_file()
    }

    fn dir(&self) -> &Path {
        &self.0
    }
}

/// A whole array: shape, element type (zarr v3 name: `"float32"`, `"bfloat16"`, `"int32"`,
/// ...) and its elements as little-endian bytes in C order.
pub type ArrayData = (Vec<usize>, String, Vec<u8>);

/// How chunk grid positions become keys.
#[derive(Debug)]
enum KeyEncoding {
    /// zarr v3 `default`: `c/1/2` (rank 0: `c`).
    Default(String),
    /// zarr v2 and v3 `v2`: `1.2` (rank 0: `0`).
    V2(String),
}

impl KeyEncoding {
    fn chunk_key(&self, array_key: &str, position: &[usize]) -> String {
        let join = |sep: &str| {
            let parts: Vec<String> = position.iter().map(usize::to_string).collect();
            parts.join(sep)
        };
        let name = match self {
            KeyEncoding::Default(_) if position.is_empty() => "c".to_string(),
            KeyEncoding::Default(sep) => format!("c{sep}{}", join(sep)),
            KeyEncoding::V2(_) if position.is_empty() => "0".to_string(),
            KeyEncoding::V2(sep) => join(sep),
        };
        child_key(array_key, &name)
    }
}

/// What an array's metadata says, in the form both zarr versions reduce to.
#[derive(Debug)]
struct ArrayMeta {
    shape: Vec<usize>,
    data_type: DataType,
    chunk_shape: Vec<usize>,
    key_encoding: KeyEncoding,
    chain: Chain,
    fill: Vec<u8>,
}

/// Reads the zarr array at `array_key` (the key prefix holding `zarr.json` or `.zarray`;
/// Orbax names arrays by their tree path joined with `.`, e.g. `params.layer_0.w`).
pub fn read_zarr_array(
    store: &dyn KeyValueStore,
    array_key: &str,
) -> Result<ArrayData, OcdbtError> {
    let key = array_key.trim_end_matches('/');
    if store.contains(&child_key(key, "zarr.json")) {
        read_zarr3_array(store, key)
    } else if store.contains(&child_key(key, ".zarray")) {
        read_zarr2_array(store, key)
    } else {
        Err(OcdbtError::NotFound {
            path: store.dir().join(key),
            what: "zarr array (neither zarr.json nor .zarray)".into(),
        })
    }
}

/// Reads the zarr v3 array at `array_key` (its `zarr.json` and chunks).
pub fn read_zarr3_array(
    store: &dyn KeyValueStore,
    array_key: &str,
) -> Result<ArrayData, OcdbtError> {
    let key = array_key.trim_end_matches('/');
    let (path, json) = read_metadata(store, &child_key(key, "zarr.json"))?;
    let meta = parse_v3(&json).map_err(|f| f.at(&path, "zarr v3 metadata"))?;
    read_chunks(store, key, &meta)
}

/// Reads the zarr v2 array at `array_key` (its `.zarray` and chunks).
pub fn read_zarr2_array(
    store: &dyn KeyValueStore,
    array_key: &str,
) -> Result<ArrayData, OcdbtError> {
    let key = array_key.trim_end_matches('/');
    let (path, json) = read_metadata(store, &child_key(key, ".zarray"))?;
    let meta = parse_v2(&json).map_err(|f| f.at(&path, "zarr v2 metadata"))?;
    read_chunks(store, key, &meta)
}

fn child_key(parent: &str, name: &str) -> String {
    match parent {
        "" => name.to_string(),
        _ => format!("{parent}/{name}"),
    }
}

fn read_metadata(store: &dyn KeyValueStore, key: &str) -> Result<(PathBuf, Value), OcdbtError> {
    let path = store.dir().join(key);
    let bytes = store.get(key)?.ok_or_else(|| OcdbtError::NotFound {
        path: path.clone(),
        what: "zarr array metadata".into(),
    })?;
    let json = serde_json::from_slice(&bytes).map_err(|e| OcdbtError::Corrupt {
        path: path.clone(),
        what: format!("zarr metadata: not JSON: {e}"),
    })?;
    Ok((path, json))
}

/// Decodes every chunk present and places it; absent chunks keep the fill value.
fn read_chunks(
    store: &dyn KeyValueStore,
    key: &str,
    meta: &ArrayMeta,
) -> Result<ArrayData, OcdbtError> {
    let t = meta.data_type;
    let decode = |chunk_key: &str, encoded| {
        codecs::decode_chunk(&meta.chain, t, &meta.chunk_shape, encoded, &meta.fill)
            .map_err(|f| f.at(&store.dir().join(chunk_key), "zarr chunk"))
    };
    let done = |bytes| Ok((meta.shape.clone(), t.name.to_string(), bytes));
    // What Orbax writes for an unsharded array: one chunk exactly covering it, taken as is
    // (no second array-sized buffer).
    if meta.chunk_shape == meta.shape {
        let chunk_key = meta.key_encoding.chunk_key(key, &vec![0; meta.shape.len()]);
        if let Some(encoded) = store.get(&chunk_key)? {
            return done(decode(&chunk_key, encoded)?);
        }
    }
    let mut out = codecs::filled(&meta.fill, &meta.shape)
        .map_err(|f| f.at(&store.dir().join(key), "zarr array"))?;
    let grid: Vec<usize> = meta
        .shape
        .iter()
        .zip(&meta.chunk_shape)
        .map(|(n, c)| n.div_ceil(*c))
        .collect();
    for position in codecs::grid_positions(&grid) {
        let chunk_key = meta.key_encoding.chunk_key(key, &position);
        let Some(encoded) = store.get(&chunk_key)? else {
            continue;
        };
        let chunk = decode(&chunk_key, encoded)?;
        let origin: Vec<usize> = position
            .iter()
            .zip(&meta.chunk_shape)
            .map(|(p, c)| p * c)
            .collect();
        codecs::copy_block(
            &mut out,
            &meta.shape,
            &chunk,
            &meta.chunk_shape,
            &origin,
            t.size,
        );
    }
    done(out)
}

/// Shape and chunk shape: equal ranks, chunk sizes positive.
fn shapes(shape: &Value, chunks: &Value) -> Parse<(Vec<usize>, Vec<usize>)> {
    let shape =
        usize_list(shape).ok_or_else(|| Fault::Invalid("`shape` is not a list of sizes".into()))?;
    let chunks = usize_list(chunks)
        .ok_or_else(|| Fault::Invalid("chunk shape is not a list of sizes".into()))?;
    if chunks.len() != shape.len() || chunks.contains(&0) {
        return invalid(format!(
            "chunk shape {chunks:?} does not fit array shape {shape:?}"
        ));
    }
    Ok((shape, chunks))
}

fn parse_v3(json: &Value) -> Parse<ArrayMeta> {
    if json["zarr_format"] != 3 || json["node_type"] != "array" {
        return invalid("not a zarr v3 array (zarr_format 3, node_type \"array\")");
    }
    if json["chunk_grid"]["name"] != "regular" {
        return Err(Fault::Unsupported(format!(
            "zarr chunk grid {}",
            json["chunk_grid"]["name"]
        )));
    }
    if json["storage_transformers"]
        .as_array()
        .is_some_and(|t| !t.is_empty())
    {
        return Err(Fault::Unsupported("zarr storage transformers".into()));
    }
    let chunks = &json["chunk_grid"]["configuration"]["chunk_shape"];
    let (shape, chunk_shape) = shapes(&json["shape"], chunks)?;
    let name = json["data_type"].as_str();
    let data_type = dtype::v3(
        name.ok_or_else(|| Fault::Unsupported(format!("zarr data type {}", json["data_type"])))?,
    )?;
    let encoding = &json["chunk_key_encoding"];
    let separator = |default: &str| {
        encoding["configuration"]["separator"]
            .as_str()
            .unwrap_or(default)
            .to_string()
    };
    let key_encoding = match encoding["name"].as_str() {
        None | Some("default") => KeyEncoding::Default(separator("/")),
        Some("v2") => KeyEncoding::V2(separator(".")),
        Some(other) => {
            return Err(Fault::Unsupported(format!(
                "zarr chunk key encoding `{other}`"
            )))
        }
    };
    Ok(ArrayMeta {
        chain: codecs::parse_chain(&json["codecs"], shape.len())?,
        fill: dtype::fill_value(data_type, &json["fill_value"])?,
        shape,
        data_type,
        chunk_shape,
        key_encoding,
    })
}

/// Zarr v2 metadata as a v3 pipeline: F order is a transpose reversing the axes, `>` a
/// big-endian `bytes` codec, the compressor (none or zstd) a bytes-to-bytes codec.
fn parse_v2(json: &Value) -> Parse<ArrayMeta> {
    if json["zarr_format"] != 2 {
        return invalid("not a zarr v2 array (zarr_format 2)");
    }
    let (shape, chunk_shape) = shapes(&json["shape"], &json["chunks"])?;
    let dtype_name = json["dtype"].as_str();
    let (data_type, big_endian) = dtype::v2(
        dtype_name.ok_or_else(|| Fault::Unsupported(format!("zarr v2 dtype {}", json["dtype"])))?,
    )?;
    if json["filters"].as_array().is_some_and(|f| !f.is_empty()) || json["filters"].is_object() {
        return Err(Fault::Unsupported(format!(
            "zarr v2 filters {}",
            json["filters"]
        )));
    }
    let bytes_codecs = match &json["compressor"] {
        Value::Null => vec![],
        c if c["id"] == "zstd" => vec![BytesCodec::Zstd],
        c => {
            return Err(Fault::Unsupported(format!(
                "zarr compressor {} (this reader decodes none and zstd)",
                c["id"]
            )))
        }
    };
    let transposes = match json["order"].as_str() {
        None | Some("C") => vec![],
        Some("F") => vec![(0..shape.len()).rev().collect()],
        Some(other) => return invalid(format!("order `{other}` (C or F)")),
    };
    let separator = match json["dimension_separator"].as_str() {
        None | Some(".") => ".",
        Some("/") => "/",
        Some(other) => return invalid(format!("dimension_separator `{other}`")),
    };
    Ok(ArrayMeta {
        chain: Chain {
            transposes,
            array_to_bytes: ArrayToBytes::Bytes { big_endian },
            bytes_codecs,
        },
        fill: dtype::fill_value(data_type, &json["fill_value"])?,
        shape,
        data_type,
        chunk_shape,
        key_encoding: KeyEncoding::V2(separator.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_keys_follow_each_encoding() {
        let default = KeyEncoding::Default("/".into());
        assert_eq!(default.chunk_key("params.a", &[1, 2]), "params.a/c/1/2");
        assert_eq!(default.chunk_key("params.s", &[]), "params.s/c");
        let v2 = KeyEncoding::V2(".".into());
        assert_eq!(v2.chunk_key("params.a", &[1, 2]), "params.a/1.2");
        assert_eq!(v2.chunk_key("params.s", &[]), "params.s/0");
        assert_eq!(v2.chunk_key("", &[3]), "3");
    }

    #[test]
    fn v2_metadata_with_unknown_compressor_is_unsupported() {
        let json = serde_json::json!({"zarr_format": 2, "shape": [2], "chunks": [2], "dtype": "<f4",
            "compressor": {"id": "blosc"}, "fill_value": null, "filters": null, "order": "C"});
        assert!(matches!(parse_v2(&json), Err(Fault::Unsupported(m)) if m.contains("blosc")));
    }
}
