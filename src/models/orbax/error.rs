//! The one error type of this crate. Every variant names the file it is about (for values
//! inside an OCDBT store: the store folder joined with the key) so that a message read in a log
//! says where to look without a backtrace.

use std::path::PathBuf;

/// Why a checkpoint could not be read.
#[derive(Debug, thiserror::Error)]
pub enum OcdbtError {
    /// The file could not be opened or read.
    #[error("{}: {error}", path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    /// The bytes where a manifest or node should start are something else.
    #[error(
        "{}: {what}: magic number is {found:#010x}, expected {expected:#010x} (not an OCDBT file, or a wrong offset)",
        path.display()
    )]
    BadMagic {
        path: PathBuf,
        what: String,
        expected: u32,
        found: u32,
    },
    /// A manifest or node does not match the CRC-32C stored with it (or a zarr shard index).
    #[error(
        "{}: {what}: CRC-32C checksum mismatch (stored {stored:#010x}, computed {computed:#010x}); the file is corrupt",
        path.display()
    )]
    Checksum {
        path: PathBuf,
        what: String,
        stored: u32,
        computed: u32,
    },
    /// Fewer bytes than the format says are there.
    #[error("{}: truncated {what}", path.display())]
    Truncated { path: PathBuf, what: String },
    /// A valid file using a format version, compression or codec this reader does not handle.
    #[error("{}: unsupported {what}", path.display())]
    Unsupported { path: PathBuf, what: String },
    /// A key or array the caller asked for is not in the store.
    #[error("{}: {what} not found", path.display())]
    NotFound { path: PathBuf, what: String },
    /// Bytes that contradict the format (bad lengths, keys out of order, bad JSON, ...).
    #[error("{}: corrupt {what}", path.display())]
    Corrupt { path: PathBuf, what: String },
}
