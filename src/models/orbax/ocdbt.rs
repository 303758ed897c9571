//! The OCDBT ("optionally-cooperative distributed B+tree") key-value store of tensorstore, as
//! laid out on a local disk: `manifest.ocdbt` names the newest B+tree root, B+tree nodes and
//! large values live in log-structured data files (`d/<hex>`, or `ocdbt.process_<n>/d/<hex>`
//! in an Orbax checkpoint, whose top-level tree points into the per-process folders).
//!
//! Read-only and latest-version-only: we never need older generations, so version tree nodes
//! (which only index older versions; the newest is always inline in the manifest) are not read.
//! The whole B+tree is walked once at open, which for a checkpoint means a handful of nodes,
//! and values are read from their data files on demand.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};

use super::crc32c;
use super::decode::{invalid, zstd_decompress, Cursor, Fault, Parse};
use super::error::OcdbtError;

const MANIFEST_MAGIC: u32 = 0x0cdb_3a2a;
const BTREE_NODE_MAGIC: u32 = 0x0cdb_20de;
/// Manifests and nodes larger than this once decompressed are treated as corrupt; Orbax caps
/// nodes at 100 MB (`max_decoded_node_bytes`) and its trees are far smaller.
const MAX_DECODED_BYTES: usize = 256 << 20;
/// Bound on nodes visited, so that a corrupt tree whose nodes share children cannot make the
/// walk take exponential time.
const MAX_NODES: usize = 1 << 20;
/// Bound on keys indexed, against corrupt trees whose nodes share children.
const MAX_KEYS: usize = 1 << 24;
/// Bound on the bytes of keys one node may expand to (keys are prefix-compressed, so a small
/// node could otherwise describe enormous keys).
const MAX_NODE_KEY_BYTES: usize = 256 << 20;
const MAX_KEY_LENGTH: usize = 65535;
const MAX_PATH_LENGTH: usize = 65535;
/// `offset` and `length` of a reference both equal to this mean "no node" (an empty tree).
const MISSING: u64 = u64::MAX;

/// A data file named by a data-file table: its path relative to the database folder, and the
/// base path that the tables of nodes read from it are relative to (OCDBT's "transitive path",
/// which lets a merged tree point into per-process subfolders).
#[derive(Clone, Debug)]
struct DataFile {
    path: Vec<u8>,
    base: Vec<u8>,
}

/// A byte range of a data file holding an encoded node or a value.
#[derive(Clone, Debug)]
struct Location {
    file: DataFile,
    offset: u64,
    length: u64,
}

/// A value as the leaf node gives it: the bytes themselves, or where they are.
#[derive(Clone, Debug)]
enum StoredValue {
    Inline(Vec<u8>),
    Indirect(Location),
}

/// The newest B+tree root named by a manifest.
struct Root {
    location: Location,
    height: u8,
}

enum ManifestKind {
    /// `manifest.ocdbt` holds the configuration and the version tree.
    Single,
    /// `manifest.ocdbt` holds only the configuration; versions are in `manifest.<16 hex>`.
    Numbered,
}

/// A read-only view of the newest version of an OCDBT database in a local folder.
pub struct OcdbtStore {
    dir: PathBuf,
    entries: BTreeMap<Vec<u8>, StoredValue>,
    root_height: Option<u8>,
}

/// Brief on purpose: the index can hold thousands of keys and their inline values.
impl std::fmt::Debug for OcdbtStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OcdbtStore")
            .field("dir", &self.dir)
            .field("keys", &self.entries.len())
            .field("root_height", &self.root_height)
            .finish()
    }
}

impl OcdbtStore {
    /// Opens the OCDBT database whose `manifest.ocdbt` is in `checkpoint_dir` (for Orbax: the
    /// checkpoint folder, e.g. `<root>/<step>/model_params` for Tunix), checks the manifest and
    /// every B+tree node, and indexes all keys. Values are read later, by [`OcdbtStore::get`].
    pub fn open(checkpoint_dir: &Path) -> Result<OcdbtStore, OcdbtError> {
        let dir = checkpoint_dir.to_path_buf();
        let root = read_latest_root(&dir)?;
        let mut store = OcdbtStore {
            dir,
            entries: BTreeMap::new(),
            root_height: root.as_ref().map(|r| r.height),
        };
        if let Some(root) = root {
            store.index_tree(root)?;
        }
        Ok(store)
    }

    /// The value stored under `key`, or `None` if there is no such key.
    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>, OcdbtError> {
        match self.entries.get(key.as_bytes()) {
            None => Ok(None),
            Some(StoredValue::Inline(bytes)) => Ok(Some(bytes.clone())),
            Some(StoredValue::Indirect(location)) => {
                let what = format!("value of key `{key}`");
                read_location(&self.dir, location, &what).map(Some)
            }
        }
    }

    /// Whether `key` is present, without reading its value.
    pub fn contains(&self, key: &str) -> bool {
        self.entries.contains_key(key.as_bytes())
    }

    /// Every key, in byte order (keys that are not UTF-8 are shown lossily).
    pub fn keys(&self) -> Vec<String> {
        self.entries
            .keys()
            .map(|k| String::from_utf8_lossy(k).into_owned())
            .collect()
    }

    /// The folder the store was opened from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Height of the newest B+tree's root (0: a single leaf), `None` for an empty database.
    pub fn root_height(&self) -> Option<u8> {
        self.root_height
    }

    /// Walks the B+tree from `root`, recording every leaf entry under its full key.
    fn index_tree(&mut self, root: Root) -> Result<(), OcdbtError> {
        let mut pending = vec![(root.location, root.height, Vec::new())];
        let mut visited = 0usize;
        while let Some((location, height, prefix)) = pending.pop() {
            visited += 1;
            if visited > MAX_NODES {
                return Err(OcdbtError::Corrupt {
                    path: self.dir.clone(),
                    what: format!("B+tree: more than {MAX_NODES} nodes (cyclic or corrupt)"),
                });
            }
            let (path, node) = read_btree_node(&self.dir, &location)?;
            if node.height != height {
                let what = format!(
                    "B+tree node at offset {}: height {} where its parent says {height}",
                    location.offset, node.height
                );
                return Err(OcdbtError::Corrupt { path, what });
            }
            match node.body {
                NodeBody::Leaf(values) => {
                    if self.entries.len() + values.len() > MAX_KEYS {
                        let what = format!("B+tree: more than {MAX_KEYS} keys (corrupt)");
                        return Err(OcdbtError::Corrupt { path, what });
                    }
                    for (key, value) in node.keys.into_iter().zip(values) {
                        self.entries
                            .insert([prefix.as_slice(), &key].concat(), value);
                    }
                }
                NodeBody::Interior(children) => {
                    for (key, child) in node.keys.into_iter().zip(children) {
                        let child_prefix = [prefix.as_slice(), &key[..child.prefix_len]].concat();
                        pending.push((child.location, height - 1, child_prefix));
                    }
                }
            }
        }
        Ok(())
    }
}

/// Reads the manifest(s) and returns the newest version's B+tree root (`None`: empty tree).
fn read_latest_root(dir: &Path) -> Result<Option<Root>, OcdbtError> {
    let path = dir.join("manifest.ocdbt");
    let bytes = read_file(&path)?;
    match decode_manifest(&bytes, &path)? {
        (ManifestKind::Single, root) => Ok(root),
        (ManifestKind::Numbered, _) => {
            let path = latest_numbered_manifest(dir)?;
            let bytes = read_file(&path)?;
            match decode_manifest(&bytes, &path)? {
                (ManifestKind::Single, root) => Ok(root),
                (ManifestKind::Numbered, _) => Err(OcdbtError::Corrupt {
                    path,
                    what: "manifest: a numbered manifest must hold the version tree".into(),
                }),
            }
        }
    }
}

/// The `manifest.<16 hex digits>` file with the highest generation number.
fn latest_numbered_manifest(dir: &Path) -> Result<PathBuf, OcdbtError> {
    let io = |error| OcdbtError::Io {
        path: dir.to_path_buf(),
        error,
    };
    let mut best: Option<(u64, PathBuf)> = None;
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name();
        let Some(hex) = name.to_str().and_then(|n| n.strip_prefix("manifest.")) else {
            continue;
        };
        if hex.len() != 16 {
            continue;
        }
        if let Ok(generation) = u64::from_str_radix(hex, 16) {
            if best.as_ref().is_none_or(|(g, _)| generation > *g) {
                best = Some((generation, entry.path()));
            }
        }
    }
    best.map(|(_, path)| path)
        .ok_or_else(|| OcdbtError::Corrupt {
            path: dir.join("manifest.ocdbt"),
            what: "manifest: says versions are in numbered manifests, but there is no \
               manifest.<16 hex digits> file beside it"
                .into(),
        })
}

/// Checks the framing shared by manifests and nodes (magic, length, CRC-32C, format version)
/// and returns the body, decompressed if it is zstd.
fn unwrap_envelope(
    bytes: &[u8],
    magic: u32,
    path: &Path,
    what: &str,
) -> Result<Vec<u8>, OcdbtError> {
    let fault = |f: Fault| f.at(path, what);
    // magic (4) + length (8) + checksum (4)
    if bytes.len() < 16 {
        return Err(fault(Fault::Truncated));
    }
    let mut c = Cursor::new(&bytes[..bytes.len() - 4]);
    let found = c.u32_be().map_err(fault)?;
    if found != magic {
        return Err(OcdbtError::BadMagic {
            path: path.to_path_buf(),
            what: what.to_string(),
            expected: magic,
            found,
        });
    }
    let length = c.u64_le().map_err(fault)?;
    if length != bytes.len() as u64 {
        let message = format!("header says {length} bytes, but {} are there", bytes.len());
        return Err(fault(if length > bytes.len() as u64 {
            Fault::Truncated
        } else {
            Fault::Invalid(message)
        }));
    }
    let stored = u32::from_le_bytes(bytes[bytes.len() - 4..].try_into().unwrap_or([0; 4]));
    let computed = crc32c::crc32c(&bytes[..bytes.len() - 4]);
    if stored != computed {
        return Err(OcdbtError::Checksum {
            path: path.to_path_buf(),
            what: what.to_string(),
            stored,
            computed,
        });
    }
    let version = c.varint().map_err(fault)?;
    if version != 0 {
        let message = format!("format version {version} (only version 0 exists)");
        return Err(fault(Fault::Unsupported(message)));
    }
    let compression = c.varint().map_err(fault)?;
    let body = c.take(c.remaining()).map_err(fault)?;
    match compression {
        0 => Ok(body.to_vec()),
        1 => zstd_decompress(body, MAX_DECODED_BYTES).map_err(fault),
        other => Err(fault(Fault::Unsupported(format!(
            "compression format {other} (0: none, 1: zstd)"
        )))),
    }
}

/// Decodes a manifest file: its kind and, for a manifest holding versions, the newest root.
fn decode_manifest(bytes: &[u8], path: &Path) -> Result<(ManifestKind, Option<Root>), OcdbtError> {
    let body = unwrap_envelope(bytes, MANIFEST_MAGIC, path, "manifest")?;
    parse_manifest_body(&body).map_err(|f| f.at(path, "manifest"))
}

fn parse_manifest_body(body: &[u8]) -> Parse<(ManifestKind, Option<Root>)> {
    let mut c = Cursor::new(body);
    let kind = parse_config(&mut c)?;
    if let ManifestKind::Numbered = kind {
        c.finish()?;
        return Ok((kind, None));
    }
    let files = parse_data_file_table(&mut c, b"")?;
    let root = parse_inline_versions(&mut c, &files)?;
    skip_version_node_refs(&mut c)?;
    c.finish()?;
    Ok((kind, root))
}

/// The database configuration. Only the manifest kind matters for reading; the rest (uuid,
/// size limits, compression used when writing) is checked for well-formedness and skipped.
fn parse_config(c: &mut Cursor) -> Parse<ManifestKind> {
    c.take(16)?; // uuid
    let kind = match c.varint()? {
        0 => ManifestKind::Single,
        1 => ManifestKind::Numbered,
        other => return Err(Fault::Unsupported(format!("manifest kind {other}"))),
    };
    c.varint()?; // max_inline_value_bytes
    c.varint()?; // max_decoded_node_bytes
    let arity_log2 = c.u8()?;
    if arity_log2 == 0 || arity_log2 > 16 {
        return invalid(format!(
            "version_tree_arity_log2 {arity_log2} outside [1, 16]"
        ));
    }
    match c.varint()? {
        0 => {}
        1 => {
            c.u32_le()?; // zstd level
        }
        other => return Err(Fault::Unsupported(format!("compression method {other}"))),
    }
    Ok(kind)
}

/// A data-file table: paths are prefix-compressed against the previous path, and each path's
/// first `base_path_length` bytes are the base path its nodes' own tables are relative to.
fn parse_data_file_table(c: &mut Cursor, transitive: &[u8]) -> Parse<Vec<DataFile>> {
    let n = c.count()?;
    let mut prefix_lengths = vec![0u64];
    prefix_lengths.extend(c.varints(n.saturating_sub(1))?);
    let suffix_lengths = c.varints(n)?;
    let base_lengths = c.varints(n)?;
    let mut files: Vec<DataFile> = Vec::with_capacity(n);
    let mut previous: Vec<u8> = Vec::new();
    for i in 0..n {
        let prefix = usize::try_from(prefix_lengths[i]).unwrap_or(usize::MAX);
        if prefix > previous.len() {
            return invalid(format!(
                "data file {i}: shares {prefix} bytes with a {}-byte previous path",
                previous.len()
            ));
        }
        let suffix = c.take(usize::try_from(suffix_lengths[i]).unwrap_or(usize::MAX))?;
        let path = [&previous[..prefix], suffix].concat();
        if transitive.len() + path.len() > MAX_PATH_LENGTH {
            return invalid(format!(
                "data file {i}: path longer than {MAX_PATH_LENGTH} bytes"
            ));
        }
        let base_length = usize::try_from(base_lengths[i]).unwrap_or(usize::MAX);
        if base_length > path.len() {
            return invalid(format!(
                "data file {i}: base path of {base_length} bytes in a {}-byte path",
                path.len()
            ));
        }
        files.push(DataFile {
            path: [transitive, &path].concat(),
            base: [transitive, &path[..base_length]].concat(),
        });
        previous = path;
    }
    Ok(files)
}

/// Looks up a data file index read from a node or manifest.
fn data_file(files: &[DataFile], id: u64) -> Parse<DataFile> {
    usize::try_from(id)
        .ok()
        .and_then(|i| files.get(i))
        .cloned()
        .ok_or_else(|| {
            Fault::Invalid(format!(
                "data file index {id} outside a table of {}",
                files.len()
            ))
        })
}

/// The manifest's inline versions (version tree leaf entries), of which the last is newest.
fn parse_inline_versions(c: &mut Cursor, files: &[DataFile]) -> Parse<Option<Root>> {
    let n = c.count()?;
    if n == 0 {
        return invalid("lists no versions");
    }
    let generations = c.varints(n)?;
    if generations[0] == 0 || generations.windows(2).any(|w| w[0] >= w[1]) {
        return invalid("generation numbers are not positive and increasing");
    }
    let heights = c.take(n)?.to_vec();
    let file_ids = c.varints(n)?;
    let offsets = c.varints(n)?;
    let lengths = c.varints(n)?;
    c.varints(3 * n)?; // statistics: num_keys, num_tree_bytes, num_indirect_value_bytes
    for _ in 0..n {
        c.u64_le()?; // commit time
    }
    let last = n - 1;
    if offsets[last] == MISSING && lengths[last] == MISSING {
        return Ok(None);
    }
    let location = Location {
        file: data_file(files, file_ids[last])?,
        offset: offsets[last],
        length: lengths[last],
    };
    Ok(Some(Root {
        location,
        height: heights[last],
    }))
}

/// The manifest's references to version tree nodes (older versions only): checked for shape
/// and skipped.
fn skip_version_node_refs(c: &mut Cursor) -> Parse<()> {
    let n = c.count()?;
    c.varints(5 * n)?; // generation, file id, offset, length, num_generations
    for _ in 0..n {
        c.u64_le()?; // commit time
    }
    c.take(n)?; // entry heights
    Ok(())
}

/// A decoded B+tree node. Keys are relative to the prefix the path from the root implies.
struct Node {
    height: u8,
    keys: Vec<Vec<u8>>,
    body: NodeBody,
}

enum NodeBody {
    Leaf(Vec<StoredValue>),
    Interior(Vec<Child>),
}

struct Child {
    /// How many leading bytes of this child's key are implied for every key beneath it (and
    /// so left out of the child's own keys).
    prefix_len: usize,
    location: Location,
}

/// Reads, checks and decodes the B+tree node at `location`; returns its file for messages.
fn read_btree_node(dir: &Path, location: &Location) -> Result<(PathBuf, Node), OcdbtError> {
    let what = format!("B+tree node at offset {}", location.offset);
    let bytes = read_location(dir, location, &what)?;
    let path = resolve(dir, &location.file.path).map_err(|f| f.at(dir, &what))?;
    let body = unwrap_envelope(&bytes, BTREE_NODE_MAGIC, &path, &what)?;
    let node = parse_btree_node(&body, &location.file.base).map_err(|f| f.at(&path, &what))?;
    Ok((path, node))
}

fn parse_btree_node(body: &[u8], transitive: &[u8]) -> Parse<Node> {
    let mut c = Cursor::new(body);
    let height = c.u8()?;
    let files = parse_data_file_table(&mut c, transitive)?;
    let n = c.count()?;
    if n == 0 {
        return invalid("node has no entries");
    }
    let prefix_lengths = c.varints(n - 1)?;
    let suffix_lengths = c.varints(n)?;
    let subtree_prefix_lengths = if height > 0 { c.varints(n)? } else { vec![] };
    let keys = read_keys(&mut c, &prefix_lengths, &suffix_lengths)?;
    let body = if height == 0 {
        NodeBody::Leaf(parse_leaf_values(&mut c, n, &files)?)
    } else {
        NodeBody::Interior(parse_children(
            &mut c,
            &keys,
            &subtree_prefix_lengths,
            &files,
        )?)
    };
    c.finish()?;
    Ok(Node { height, keys, body })
}

/// The key columns: key `i` is the first `prefix_lengths[i-1]` bytes of key `i-1` followed by
/// its own suffix; keys must be strictly increasing.
fn read_keys(
    c: &mut Cursor,
    prefix_lengths: &[u64],
    suffix_lengths: &[u64],
) -> Parse<Vec<Vec<u8>>> {
    let mut keys: Vec<Vec<u8>> = Vec::with_capacity(suffix_lengths.len());
    let mut total = 0usize;
    for (i, &suffix_length) in suffix_lengths.iter().enumerate() {
        let prefix = match i {
            0 => 0,
            _ => usize::try_from(prefix_lengths[i - 1]).unwrap_or(usize::MAX),
        };
        let previous = keys.last().map(Vec::as_slice).unwrap_or_default();
        if prefix > previous.len() {
            return invalid(format!(
                "key {i} shares {prefix} bytes with a {}-byte previous key",
                previous.len()
            ));
        }
        let suffix = c.take(usize::try_from(suffix_length).unwrap_or(usize::MAX))?;
        let key = [&previous[..prefix], suffix].concat();
        if key.len() > MAX_KEY_LENGTH {
            return invalid(format!("key {i} is longer than {MAX_KEY_LENGTH} bytes"));
        }
        if i > 0 && key.as_slice() <= previous {
            return invalid(format!("key {i} is not after key {}", i - 1));
        }
        total += key.len();
        if total > MAX_NODE_KEY_BYTES {
            return invalid(format!(
                "keys add up to more than {MAX_NODE_KEY_BYTES} bytes"
            ));
        }
        keys.push(key);
    }
    Ok(keys)
}

/// Leaf columns: value lengths, kinds (0 inline, 1 in a data file), file ids and offsets of
/// the out-of-line values, then the inline values back to back.
fn parse_leaf_values(c: &mut Cursor, n: usize, files: &[DataFile]) -> Parse<Vec<StoredValue>> {
    let lengths = c.varints(n)?;
    let kinds = c.take(n)?.to_vec();
    if let Some(bad) = kinds.iter().find(|&&k| k > 1) {
        return invalid(format!("value kind {bad} (0: inline, 1: out of line)"));
    }
    let indirect = kinds.iter().filter(|&&k| k == 1).count();
    let file_ids = c.varints(indirect)?;
    let offsets = c.varints(indirect)?;
    let mut out_of_line = file_ids.into_iter().zip(offsets);
    let mut values = Vec::with_capacity(n);
    for (&kind, &length) in kinds.iter().zip(&lengths) {
        let value = if kind == 0 {
            StoredValue::Inline(
                c.take(usize::try_from(length).unwrap_or(usize::MAX))?
                    .to_vec(),
            )
        } else {
            let (id, offset) = out_of_line.next().ok_or(Fault::Truncated)?;
            StoredValue::Indirect(Location {
                file: data_file(files, id)?,
                offset,
                length,
            })
        };
        values.push(value);
    }
    Ok(values)
}

/// Interior columns: child locations (file ids, offsets, lengths), then statistics we skip.
fn parse_children(
    c: &mut Cursor,
    keys: &[Vec<u8>],
    subtree_prefix_lengths: &[u64],
    files: &[DataFile],
) -> Parse<Vec<Child>> {
    let n = keys.len();
    let file_ids = c.varints(n)?;
    let offsets = c.varints(n)?;
    let lengths = c.varints(n)?;
    c.varints(3 * n)?; // num_keys, num_tree_bytes, num_indirect_value_bytes
    let mut children = Vec::with_capacity(n);
    for i in 0..n {
        let prefix_len = usize::try_from(subtree_prefix_lengths[i]).unwrap_or(usize::MAX);
        if prefix_len > keys[i].len() {
            return invalid(format!(
                "child {i}: subtree prefix of {prefix_len} bytes in a {}-byte key",
                keys[i].len()
            ));
        }
        let location = Location {
            file: data_file(files, file_ids[i])?,
            offset: offsets[i],
            length: lengths[i],
        };
        children.push(Child {
            prefix_len,
            location,
        });
    }
    Ok(children)
}

/// The local path of a data file named relative to the database folder. Paths that could
/// leave the folder (absolute, `..`) are corrupt: OCDBT only writes paths below it.
fn resolve(dir: &Path, relative: &[u8]) -> Parse<PathBuf> {
    let text = std::str::from_utf8(relative).or_else(|_| invalid("data file path is not UTF-8"))?;
    let path = Path::new(text);
    let below = !text.is_empty()
        && path
            .components()
            .all(|part| matches!(part, Component::Normal(_) | Component::CurDir));
    if !below {
        return invalid(format!(
            "data file path `{text}` is not inside the database folder"
        ));
    }
    Ok(dir.join(path))
}

/// Reads the byte range `location` names, checking that the file really has it.
fn read_location(dir: &Path, location: &Location, what: &str) -> Result<Vec<u8>, OcdbtError> {
    let path = resolve(dir, &location.file.path).map_err(|f| f.at(dir, what))?;
    let io = |error| OcdbtError::Io {
        path: path.clone(),
        error,
    };
    let mut file = File::open(&path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    let end = location.offset.checked_add(location.length);
    if end.is_none_or(|end| end > size) {
        return Err(OcdbtError::Truncated {
            path: path.clone(),
            what: format!(
                "data file: {what} needs bytes {}..+{} but the file has {size}",
                location.offset, location.length
            ),
        });
    }
    file.seek(SeekFrom::Start(location.offset)).map_err(io)?;
    // The length is bounded by the file's size, checked above.
    let mut bytes = vec![0u8; location.length as usize];
    file.read_exact(&mut bytes).map_err(io)?;
    Ok(bytes)
}

fn read_file(path: &Path) -> Result<Vec<u8>, OcdbtError> {
    std::fs::read(path).map_err(|error| OcdbtError::Io {
        path: path.to_path_buf(),
        error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_file_tables_expand_prefixes_and_base_paths() {
        // Two files: "ocdbt.process_0/d/ab" (base "ocdbt.process_0/") and
        // "ocdbt.process_0/d/cd" sharing 18 bytes with it, same base.
        let mut bytes = vec![2, 18, 20, 2, 16, 16];
        bytes.extend_from_slice(b"ocdbt.process_0/d/abcd");
        let files = parse_data_file_table(&mut Cursor::new(&bytes), b"x/").unwrap();
        assert_eq!(files[0].path, b"x/ocdbt.process_0/d/ab");
        assert_eq!(files[1].path, b"x/ocdbt.process_0/d/cd");
        assert_eq!(files[1].base, b"x/ocdbt.process_0/");
    }

    #[test]
    fn paths_leaving_the_folder_are_refused() {
        let dir = Path::new("/ck");
        assert!(resolve(dir, b"d/ab").is_ok());
        assert!(resolve(dir, b"../etc/passwd").is_err());
        assert!(resolve(dir, b"/etc/passwd").is_err());
        assert!(resolve(dir, b"").is_err());
    }

    #[test]
    fn keys_out_of_order_are_corrupt() {
        // Keys "b" then "a".
        let mut c = Cursor::new(b"ba");
        assert!(read_keys(&mut c, &[0], &[1, 1]).is_err());
        let mut c = Cursor::new(b"abc");
        let keys = read_keys(&mut c, &[1], &[2, 1]).unwrap();
        assert_eq!(keys, [b"ab".to_vec(), b"ac".to_vec()]);
    }
}
