//! Byte-level decoding shared by the OCDBT structures: a bounds-checked cursor (every read can
//! fail, none can panic or allocate more than the input could justify) and bounded zstd.

use std::io::Read;
use std::path::Path;

use super::error::OcdbtError;

/// Why a parse stopped, before it is tied to a file name.
#[derive(Debug)]
pub(crate) enum Fault {
    /// The input ended before the structure did.
    Truncated,
    /// The input contradicts the format; the text says how.
    Invalid(String),
    /// The input is well formed but uses something this reader does not support.
    Unsupported(String),
    /// A stored CRC-32C does not match the bytes it covers.
    Checksum { stored: u32, computed: u32 },
}

pub(crate) type Parse<T> = Result<T, Fault>;

pub(crate) fn invalid<T>(message: impl Into<String>) -> Parse<T> {
    Err(Fault::Invalid(message.into()))
}

impl Fault {
    /// Ties the fault to `path` and to `what` was being decoded there.
    pub(crate) fn at(self, path: &Path, what: &str) -> OcdbtError {
        let path = path.to_path_buf();
        match self {
            Fault::Truncated => OcdbtError::Truncated {
                path,
                what: what.to_string(),
            },
            Fault::Invalid(message) => OcdbtError::Corrupt {
                path,
                what: format!("{what}: {message}"),
            },
            Fault::Unsupported(message) => OcdbtError::Unsupported {
                path,
                what: format!("{message} (in {what})"),
            },
            Fault::Checksum { stored, computed } => OcdbtError::Checksum {
                path,
                what: what.to_string(),
                stored,
                computed,
            },
        }
    }
}

/// A read position in a byte slice.
pub(crate) struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Cursor { data, pos: 0 }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    /// The next `n` bytes.
    pub(crate) fn take(&mut self, n: usize) -> Parse<&'a [u8]> {
        if n > self.remaining() {
            return Err(Fault::Truncated);
        }
        let bytes = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(bytes)
    }

    pub(crate) fn u8(&mut self) -> Parse<u8> {
        Ok(self.take(1)?[0])
    }

    fn array<const N: usize>(&mut self) -> Parse<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub(crate) fn u32_be(&mut self) -> Parse<u32> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    pub(crate) fn u32_le(&mut self) -> Parse<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    pub(crate) fn u64_le(&mut self) -> Parse<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// An unsigned LEB128 number of at most 64 bits.
    pub(crate) fn varint(&mut self) -> Parse<u64> {
        let mut value = 0u64;
        for i in 0..10 {
            let byte = self.u8()?;
            let bits = u64::from(byte & 0x7f);
            if i == 9 && bits > 1 {
                return invalid("varint does not fit in 64 bits");
            }
            value |= bits << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        invalid("varint longer than 10 bytes")
    }

    /// A varint used as a length or index into memory.
    pub(crate) fn varint_usize(&mut self) -> Parse<usize> {
        let v = self.varint()?;
        usize::try_from(v).or_else(|_| invalid(format!("length {v} does not fit in memory")))
    }

    /// An element count: every element takes at least one more byte, so a count larger than
    /// what is left is corrupt, and rejecting it keeps a bad count from reserving huge vectors.
    pub(crate) fn count(&mut self) -> Parse<usize> {
        let n = self.varint_usize()?;
        if n > self.remaining() {
            return invalid(format!(
                "count {n} exceeds the {} bytes left",
                self.remaining()
            ));
        }
        Ok(n)
    }

    /// `n` varints (a column of the OCDBT layouts).
    pub(crate) fn varints(&mut self, n: usize) -> Parse<Vec<u64>> {
        (0..n).map(|_| self.varint()).collect()
    }

    /// Fails unless every byte was consumed: trailing bytes mean we misread the layout.
    pub(crate) fn finish(&self) -> Parse<()> {
        match self.remaining() {
            0 => Ok(()),
            n => invalid(format!("{n} unexpected bytes after the end")),
        }
    }
}

/// Decompresses one or more concatenated zstd frames, refusing output beyond `limit` bytes so
/// that a corrupt or hostile frame cannot exhaust memory.
pub(crate) fn zstd_decompress(data: &[u8], limit: usize) -> Parse<Vec<u8>> {
    let mut input = data;
    let mut out = Vec::new();
    while !input.is_empty() {
        let decoder = ruzstd::decoding::StreamingDecoder::new(&mut input)
            .map_err(|e| Fault::Invalid(format!("not a zstd frame: {e}")))?;
        let room = (limit - out.len()) as u64 + 1;
        decoder
            .take(room)
            .read_to_end(&mut out)
            .map_err(|e| Fault::Invalid(format!("corrupt zstd data: {e}")))?;
        if out.len() > limit {
            return invalid(format!("zstd data decompresses to more than {limit} bytes"));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_decode_and_overflow_is_an_error() {
        let mut c = Cursor::new(&[0x00, 0x7f, 0x80, 0x01, 0xe5, 0x8e, 0x26]);
        assert_eq!(c.varint().unwrap(), 0);
        assert_eq!(c.varint().unwrap(), 127);
        assert_eq!(c.varint().unwrap(), 128);
        assert_eq!(c.varint().unwrap(), 624_485);
        assert!(matches!(c.varint(), Err(Fault::Truncated)));
        let max = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        assert_eq!(Cursor::new(&max).varint().unwrap(), u64::MAX);
        let over = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02];
        assert!(matches!(
            Cursor::new(&over).varint(),
            Err(Fault::Invalid(_))
        ));
        assert!(matches!(
            Cursor::new(&[0x80; 11]).varint(),
            Err(Fault::Invalid(_))
        ));
    }

    #[test]
    fn counts_larger_than_the_input_are_refused() {
        assert!(matches!(
            Cursor::new(&[5, 1, 2]).count(),
            Err(Fault::Invalid(_))
        ));
        assert_eq!(Cursor::new(&[2, 1, 2]).count().unwrap(), 2);
    }

    #[test]
    fn zstd_garbage_is_an_error() {
        assert!(zstd_decompress(b"definitely not zstd", 100).is_err());
    }
}
