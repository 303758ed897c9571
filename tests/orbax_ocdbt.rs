//! Orbax's default checkpoint layout (an OCDBT database of zarr arrays): checkpoints that Orbax
//! 0.12.8, Tunix and tensorstore write in the reference environment
//! (`tests/reference/orbax_fixtures.py`), read back and checked bit for bit against what Python
//! saved; then corrupted in many ways, and reading must fail cleanly, never panic.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use grpo_xla::models::orbax::ocdbt::OcdbtStore;
use grpo_xla::models::orbax::zarr::{read_zarr2_array, read_zarr3_array, read_zarr_array};
use grpo_xla::models::orbax::{crc32c, OcdbtError};
use serde_json::Value;

/// The fixtures, written once per test run into a temporary folder by the reference environment.
fn fixture(name: &str) -> PathBuf {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        grpo_xla::reference::run(
            include_str!("reference/orbax_fixtures.py"),
            &serde_json::json!({"out": dir.path()}),
        )
        .unwrap_or_else(|e| panic!("writing the Orbax fixtures: {e:#}"));
        dir
    });
    dir.path().join(name)
}

fn expected(dir: &Path) -> Value {
    let text = std::fs::read_to_string(dir.join("expected.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The error of a result that must be one (without printing an array-sized `Ok` value).
fn failure<T>(result: Result<T, OcdbtError>, why: &str) -> OcdbtError {
    match result {
        Ok(_) => panic!("expected an error: {why}"),
        Err(e) => e,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks every array `expected.json` lists: shape, dtype, length, CRC-32C, and the bytes
/// themselves where small enough to be listed.
fn check_arrays(dir: &Path) -> usize {
    let store = OcdbtStore::open(dir).unwrap_or_else(|e| panic!("{e}"));
    let arrays = expected(dir)["arrays"].as_array().unwrap().clone();
    for want in &arrays {
        let key = want["key"].as_str().unwrap();
        let (shape, dtype, bytes) = read_zarr_array(&store, key).unwrap_or_else(|e| panic!("{e}"));
        let want_shape: Vec<usize> = want["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        assert_eq!(shape, want_shape, "{key}");
        assert_eq!(dtype, want["dtype"].as_str().unwrap(), "{key}");
        assert_eq!(
            bytes.len() as u64,
            want["nbytes"].as_u64().unwrap(),
            "{key}"
        );
        if let Some(h) = want["hex"].as_str() {
            assert_eq!(hex(&bytes), h, "{key}");
        }
        assert_eq!(
            u64::from(crc32c(&bytes)),
            want["crc32c"].as_u64().unwrap(),
            "{key}"
        );
    }
    arrays.len()
}

#[test]
fn standard_checkpointer_defaults_read_back_bit_exact() {
    let dir = fixture("standard");
    assert_eq!(check_arrays(&dir), 5);
    let store = OcdbtStore::open(&dir).unwrap();
    assert_eq!(store.keys().len(), 10);
    assert!(store.keys().contains(&"params.b.c/.zarray".to_string()));
}

#[test]
fn pytree_checkpointer_with_several_chunks_per_array_reads_back_bit_exact() {
    let dir = fixture("pytree");
    assert_eq!(check_arrays(&dir), 7);
    let store = OcdbtStore::open(&dir).unwrap();
    assert!(store.contains("params.chunked/3.1"));
}

#[test]
fn zarr3_sharded_arrays_read_back_bit_exact() {
    let dir = fixture("zarr3");
    assert_eq!(check_arrays(&dir), 6);
    let store = OcdbtStore::open(&dir).unwrap();
    assert!(store.contains("params.chunked/c/3/1"));
    let (shape, dtype, _) = read_zarr3_array(&store, "params.b.c").unwrap();
    assert_eq!((shape, dtype.as_str()), (vec![5], "bfloat16"));
    let e = failure(
        read_zarr2_array(&store, "params.b.c"),
        "not a zarr v2 array",
    );
    assert!(matches!(e, OcdbtError::NotFound { .. }), "{e}");
}

#[test]
fn arrays_sharded_over_four_devices_read_back_bit_exact() {
    assert_eq!(check_arrays(&fixture("sharded")), 3);
    assert_eq!(check_arrays(&fixture("sharded_zarr3")), 3);
    let store = OcdbtStore::open(&fixture("sharded_zarr3")).unwrap();
    assert!(store.contains("big/c/3/0") && store.contains("w/c/1/1"));
}

#[test]
fn three_hundred_arrays_read_back() {
    let dir = fixture("many");
    assert_eq!(check_arrays(&dir), 300);
}

#[test]
fn a_tunix_checkpoint_manager_step_reads_back() {
    assert_eq!(check_arrays(&fixture("tunix/1/model_params")), 2);
}

#[test]
fn tensorstore_written_zarr_features_read_back() {
    // Transpose + big endian + crc32c, index at the start with inner chunks, F order, "/"
    // separators, and fill values where chunks were never written.
    let dir = fixture("raw_zarr");
    assert_eq!(check_arrays(&dir), 4);
    let store = OcdbtStore::open(&dir).unwrap();
    for (key, codec) in expected(&dir)["unsupported"].as_object().unwrap() {
        let e = failure(read_zarr_array(&store, key), "unsupported codec");
        assert!(matches!(e, OcdbtError::Unsupported { .. }), "{e}");
        assert!(e.to_string().contains(codec.as_str().unwrap()), "{e}");
    }
}

/// Checks every key's value against the CRC-32C Python recorded, and that no others exist.
fn check_raw_keys(dir: &Path) -> OcdbtStore {
    let store = OcdbtStore::open(dir).unwrap_or_else(|e| panic!("{e}"));
    let want = expected(dir)["keys"].as_array().unwrap().clone();
    let want_keys: Vec<&str> = want.iter().map(|k| k["key"].as_str().unwrap()).collect();
    assert_eq!(store.keys(), want_keys);
    for k in &want {
        let value = store.get(k["key"].as_str().unwrap()).unwrap().unwrap();
        assert_eq!(value.len() as u64, k["nbytes"].as_u64().unwrap());
        assert_eq!(u64::from(crc32c(&value)), k["crc32c"].as_u64().unwrap());
    }
    store
}

#[test]
fn a_btree_with_interior_nodes_and_a_version_tree_reads_back() {
    let store = check_raw_keys(&fixture("raw_btree"));
    assert!(
        store.root_height().unwrap() >= 1,
        "the fixture should have interior nodes"
    );
}

#[test]
fn a_numbered_manifest_store_reads_back() {
    check_raw_keys(&fixture("raw_numbered"));
}

#[test]
fn missing_keys_and_arrays() {
    let store = OcdbtStore::open(&fixture("standard")).unwrap();
    assert_eq!(store.get("params.nope/.zarray").unwrap(), None);
    assert_eq!(store.get("").unwrap(), None);
    assert_eq!(
        store.get("params.a").unwrap(),
        None,
        "a prefix is not a key"
    );
    let e = failure(read_zarr_array(&store, "params.nope"), "no such array");
    assert!(
        matches!(e, OcdbtError::NotFound { .. }) && e.to_string().contains("params.nope"),
        "{e}"
    );
    let e = OcdbtStore::open(&fixture("does-not-exist")).unwrap_err();
    assert!(
        matches!(e, OcdbtError::Io { .. }) && e.to_string().contains("manifest.ocdbt"),
        "{e}"
    );
}

/// A scratch copy of a fixture, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn of(name: &str, tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("ocdbt-reader-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        copy_dir(&fixture(name), &dir);
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The files under `dir` the store reads: manifests and data files.
fn store_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        if path.is_dir() {
            out.extend(store_files(&path));
        } else if name.starts_with("manifest.") || path.parent().unwrap().ends_with("d") {
            out.push(path);
        }
    }
    out.sort();
    out
}

fn flip(path: &Path, at: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[at] ^= 0x5a;
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn a_flipped_byte_in_the_manifest_is_a_checksum_error() {
    let s = Scratch::of("standard", "manifest");
    flip(&s.0.join("manifest.ocdbt"), 20);
    let e = OcdbtStore::open(&s.0).unwrap_err();
    assert!(matches!(e, OcdbtError::Checksum { .. }), "{e}");
    assert!(e.to_string().contains("manifest.ocdbt"), "{e}");
}

#[test]
fn a_flipped_byte_in_a_btree_node_is_a_checksum_error() {
    let s = Scratch::of("standard", "node");
    // The top-level d/ file holds the merged tree's root node.
    let root_file = store_files(&s.0)
        .into_iter()
        .find(|p| p.parent().unwrap() == s.0.join("d"))
        .unwrap();
    flip(&root_file, 30);
    let e = OcdbtStore::open(&s.0).unwrap_err();
    assert!(matches!(e, OcdbtError::Checksum { .. }), "{e}");
    assert!(e.to_string().contains("B+tree node"), "{e}");
}

#[test]
fn a_bad_magic_number_is_named() {
    let s = Scratch::of("standard", "magic");
    let path = s.0.join("manifest.ocdbt");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[..4].copy_from_slice(b"PK\x03\x04");
    std::fs::write(&path, bytes).unwrap();
    let e = OcdbtStore::open(&s.0).unwrap_err();
    assert!(
        matches!(
            e,
            OcdbtError::BadMagic {
                found: 0x504b_0304,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn a_truncated_data_file_is_an_error_when_its_value_is_read() {
    let s = Scratch::of("standard", "truncated");
    let store = OcdbtStore::open(&s.0).unwrap();
    for file in store_files(&s.0)
        .iter()
        .filter(|p| p.to_str().unwrap().contains("ocdbt.process_0/d/"))
    {
        let bytes = std::fs::read(file).unwrap();
        std::fs::write(file, &bytes[..bytes.len() / 2]).unwrap();
    }
    let e = failure(read_zarr_array(&store, "params.big"), "truncated");
    assert!(matches!(e, OcdbtError::Truncated { .. }), "{e}");
    assert!(e.to_string().contains("ocdbt.process_0/d/"), "{e}");
}

/// Where in the data files a value is stored (it is stored verbatim, so search for it).
fn find_value(dir: &Path, value: &[u8]) -> (PathBuf, usize) {
    store_files(dir)
        .into_iter()
        .find_map(|file| {
            let bytes = std::fs::read(&file).unwrap();
            let at = bytes.windows(value.len()).position(|w| w == value)?;
            Some((file, at))
        })
        .expect("value is in some data file")
}

#[test]
fn a_corrupt_shard_index_is_a_checksum_error() {
    // A zarr3 shard ends with its index and the index's CRC-32C; flip the byte before the CRC.
    let s = Scratch::of("zarr3", "shard");
    let store = OcdbtStore::open(&s.0).unwrap();
    let shard = store.get("params.big/c/0/0").unwrap().unwrap();
    let (file, at) = find_value(&s.0, &shard);
    flip(&file, at + shard.len() - 5);
    let e = failure(
        read_zarr_array(&store, "params.big"),
        "a corrupt index fails",
    );
    assert!(matches!(e, OcdbtError::Checksum { .. }), "{e}");
    assert!(e.to_string().contains("params.big/c/0/0"), "{e}");
}

/// Opens the store and reads every key and array, ignoring errors: corrupt input may fail
/// anywhere, but must not panic.
fn exercise(dir: &Path, arrays: &[String]) {
    let Ok(store) = OcdbtStore::open(dir) else {
        return;
    };
    for key in store.keys() {
        let _ = store.get(&key);
    }
    for key in arrays {
        let _ = read_zarr_array(&store, key);
    }
}

/// The byte ranges of `bytes` that are whole OCDBT manifests or nodes with valid checksums
/// (data files also hold raw values, and several nodes each).
fn envelopes(bytes: &[u8]) -> Vec<std::ops::Range<usize>> {
    let magics: [[u8; 4]; 3] = [
        [0x0c, 0xdb, 0x3a, 0x2a],
        [0x0c, 0xdb, 0x20, 0xde],
        [0x0c, 0xdb, 0x12, 0x34],
    ];
    let mut out = vec![];
    for start in 0..bytes.len().saturating_sub(16) {
        if !magics.iter().any(|m| bytes[start..start + 4] == *m) {
            continue;
        }
        let len = u64::from_le_bytes(bytes[start + 4..start + 12].try_into().unwrap()) as usize;
        let Some(end) = start
            .checked_add(len)
            .filter(|&e| len >= 16 && e <= bytes.len())
        else {
            continue;
        };
        if crc32c(&bytes[start..end - 4]).to_le_bytes() == bytes[end - 4..end] {
            out.push(start..end);
        }
    }
    out
}

/// Rewrites the checksum of the envelope holding byte `at`, so that a flipped byte gets past
/// the CRC-32C and reaches the decoders. Returns whether there was one.
fn fix_checksum(bytes: &mut [u8], ranges: &[std::ops::Range<usize>], at: usize) -> bool {
    let Some(r) = ranges.iter().find(|r| r.contains(&at) && at < r.end - 4) else {
        return false;
    };
    let crc = crc32c(&bytes[r.start..r.end - 4]);
    bytes[r.end - 4..r.end].copy_from_slice(&crc.to_le_bytes());
    true
}

/// Flips bits at ~100 places of every manifest and data file (with and without repairing the
/// checksum) and truncates each at ~30 lengths, reading everything after each change.
fn corrupt_everywhere(name: &str) {
    let s = Scratch::of(name, &format!("fuzz-{name}"));
    let arrays: Vec<String> = match expected(&s.0)["arrays"].as_array() {
        Some(a) => a
            .iter()
            .map(|a| a["key"].as_str().unwrap().to_string())
            .collect(),
        None => vec![],
    };
    for file in store_files(&s.0) {
        let original = std::fs::read(&file).unwrap();
        let ranges = envelopes(&original);
        for at in (0..original.len()).step_by((original.len() / 100).max(1)) {
            for mask in [0x01u8, 0xff] {
                let mut bytes = original.clone();
                bytes[at] ^= mask;
                std::fs::write(&file, &bytes).unwrap();
                exercise(&s.0, &arrays);
                if fix_checksum(&mut bytes, &ranges, at) {
                    std::fs::write(&file, &bytes).unwrap();
                    exercise(&s.0, &arrays);
                }
            }
        }
        for len in (0..original.len()).step_by((original.len() / 30).max(1)) {
            std::fs::write(&file, &original[..len]).unwrap();
            exercise(&s.0, &arrays);
        }
        std::fs::write(&file, &original).unwrap();
    }
}

#[test]
fn corrupting_any_byte_of_an_orbax_checkpoint_never_panics() {
    corrupt_everywhere("standard");
}

#[test]
fn corrupting_any_byte_of_a_zarr3_checkpoint_never_panics() {
    corrupt_everywhere("zarr3");
}

#[test]
fn corrupting_any_byte_of_an_uncompressed_multi_level_btree_never_panics() {
    corrupt_everywhere("raw_btree");
}

#[test]
fn corrupting_any_byte_of_a_numbered_manifest_store_never_panics() {
    corrupt_everywhere("raw_numbered");
}
