//! Errors of the runtime layer. Every error that came from a plugin carries the plugin's own message.

use std::path::PathBuf;

/// A PJRT status code, as the plugin reported it.
pub use super::ffi::PJRT_Error_Code as ErrorCode;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{function} failed ({code:?}): {message}")]
    Pjrt {
        function: &'static str,
        code: ErrorCode,
        message: String,
    },
    #[error("cannot load PJRT plugin {}: {reason}", path.display())]
    Load { path: PathBuf, reason: String },
    #[error("the PJRT plugin does not provide {0} (its API table predates it)")]
    Unsupported(&'static str),
    #[error("{0}")]
    Usage(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Error::Usage(message.into())
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}
