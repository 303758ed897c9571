//! Zarr codec pipelines and the array plumbing they need. A zarr v3 chunk is encoded by
//! array-to-array codecs (`transpose`), one array-to-bytes codec (`bytes`, or
//! `sharding_indexed`, which packs a grid of inner chunks plus an index into one value), then
//! bytes-to-bytes codecs (`zstd`, `crc32c`); decoding runs them backwards. Zarr v2 metadata
//! (compressor, order, endianness) maps onto the same pipeline.

use serde_json::Value;

use super::crc32c::crc32c;
use super::decode::{invalid, zstd_decompress, Fault, Parse};
use super::dtype::{self, DataType};

/// A decoding pipeline.
#[derive(Clone, Debug)]
pub(crate) struct Chain {
    /// Axis orders of `transpose` codecs, in encoding order.
    pub transposes: Vec<Vec<usize>>,
    pub array_to_bytes: ArrayToBytes,
    /// Bytes-to-bytes codecs, in encoding order.
    pub bytes_codecs: Vec<BytesCodec>,
}

#[derive(Clone, Debug)]
pub(crate) enum ArrayToBytes {
    Bytes { big_endian: bool },
    Sharding(Box<Sharding>),
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum BytesCodec {
    Zstd,
    Crc32c,
}

#[derive(Clone, Debug)]
pub(crate) struct Sharding {
    chunk_shape: Vec<usize>,
    codecs: Chain,
    index_codecs: Chain,
    index_at_end: bool,
}

/// Parses a zarr v3 `codecs` list for arrays of rank `rank`.
pub(crate) fn parse_chain(codecs: &Value, rank: usize) -> Parse<Chain> {
    let list = codecs
        .as_array()
        .ok_or_else(|| Fault::Invalid("`codecs` is not a list".into()))?;
    let mut transposes = vec![];
    let mut array_to_bytes = None;
    let mut bytes_codecs = vec![];
    for codec in list {
        let (name, config) = codec_name_and_config(codec)?;
        let after_bytes = array_to_bytes.is_some();
        match (name, after_bytes) {
            ("transpose", false) => transposes.push(transpose_order(config, rank)?),
            ("bytes", false) => array_to_bytes = Some(bytes_codec(config)?),
            ("sharding_indexed", false) => {
                array_to_bytes = Some(ArrayToBytes::Sharding(Box::new(sharding(config, rank)?)))
            }
            ("zstd", true) => bytes_codecs.push(BytesCodec::Zstd),
            ("crc32c", true) => bytes_codecs.push(BytesCodec::Crc32c),
            ("transpose" | "bytes" | "sharding_indexed" | "zstd" | "crc32c", _) => {
                return invalid(format!("codec `{name}` out of place in the codec list"));
            }
            _ => {
                return Err(Fault::Unsupported(format!(
                    "zarr codec `{name}` (this reader decodes transpose, bytes, \
                     sharding_indexed, zstd and crc32c)"
                )))
            }
        }
    }
    let array_to_bytes = array_to_bytes
        .ok_or_else(|| Fault::Invalid("codec list has no `bytes` or sharding codec".into()))?;
    Ok(Chain {
        transposes,
        array_to_bytes,
        bytes_codecs,
    })
}

/// A codec entry: `{"name": .., "configuration": {..}}`, or just the name as a string.
fn codec_name_and_config(codec: &Value) -> Parse<(&str, &Value)> {
    static EMPTY: Value = Value::Null;
    match codec {
        Value::String(name) => Ok((name, &EMPTY)),
        Value::Object(fields) => {
            let name = fields.get("name").and_then(Value::as_str);
            let name = name.ok_or_else(|| Fault::Invalid(format!("codec {codec} has no name")))?;
            Ok((name, fields.get("configuration").unwrap_or(&EMPTY)))
        }
        _ => invalid(format!("codec {codec} is not an object")),
    }
}

fn transpose_order(config: &Value, rank: usize) -> Parse<Vec<usize>> {
    let order: Vec<usize> = match &config["order"] {
        Value::String(s) if s == "C" => (0..rank).collect(),
        Value::String(s) if s == "F" => (0..rank).rev().collect(),
        other => usize_list(other)
            .ok_or_else(|| Fault::Invalid(format!("transpose order {other} is not a list")))?,
    };
    let mut seen = vec![false; rank];
    for &axis in &order {
        if axis >= rank || std::mem::replace(&mut seen[axis], true) {
            return invalid(format!(
                "transpose order {order:?} is not a permutation of 0..{rank}"
            ));
        }
    }
    if order.len() != rank {
        return invalid(format!(
            "transpose order {order:?} is not a permutation of 0..{rank}"
        ));
    }
    Ok(order)
}

fn bytes_codec(config: &Value) -> Parse<ArrayToBytes> {
    let big_endian = match config.get("endian").and_then(Value::as_str) {
        None | Some("little") => false,
        Some("big") => true,
        Some(other) => return invalid(format!("bytes codec endian `{other}`")),
    };
    Ok(ArrayToBytes::Bytes { big_endian })
}

fn sharding(config: &Value, rank: usize) -> Parse<Sharding> {
    let chunk_shape = usize_list(&config["chunk_shape"])
        .filter(|s| s.len() == rank && s.iter().all(|&n| n > 0))
        .ok_or_else(|| {
            Fault::Invalid(
                "sharding chunk_shape is not a list of positive sizes of the array's rank".into(),
            )
        })?;
    let codecs = parse_chain(&config["codecs"], rank)?;
    let index_codecs = parse_chain(&config["index_codecs"], rank + 1)?;
    let fixed_size = matches!(index_codecs.array_to_bytes, ArrayToBytes::Bytes { .. })
        && index_codecs
            .bytes_codecs
            .iter()
            .all(|c| *c == BytesCodec::Crc32c);
    if !fixed_size {
        return Err(Fault::Unsupported(
            "shard index codecs other than bytes, transpose and crc32c".into(),
        ));
    }
    let index_at_end = match config.get("index_location").and_then(Value::as_str) {
        None | Some("end") => true,
        Some("start") => false,
        Some(other) => return invalid(format!("sharding index_location `{other}`")),
    };
    Ok(Sharding {
        chunk_shape,
        codecs,
        index_codecs,
        index_at_end,
    })
}

pub(crate) fn usize_list(value: &Value) -> Option<Vec<usize>> {
    value
        .as_array()?
        .iter()
        .map(|v| v.as_u64().and_then(|n| usize::try_from(n).ok()))
        .collect()
}

/// Number of elements of an array of `shape`, `None` on overflow.
pub(crate) fn element_count(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d))
}

fn byte_count(shape: &[usize], t: DataType) -> Parse<usize> {
    element_count(shape)
        .and_then(|n| n.checked_mul(t.size))
        .ok_or_else(|| Fault::Invalid(format!("shape {shape:?} is too large")))
}

/// Decodes one encoded chunk of `shape` into little-endian C-order bytes. `fill` is one
/// element of the fill value, for the empty inner chunks of a shard.
pub(crate) fn decode_chunk(
    chain: &Chain,
    t: DataType,
    shape: &[usize],
    encoded: Vec<u8>,
    fill: &[u8],
) -> Parse<Vec<u8>> {
    let raw_size = byte_count(shape, t)?;
    let mut data = encoded;
    for codec in chain.bytes_codecs.iter().rev() {
        data = match codec {
            BytesCodec::Crc32c => strip_crc32c(data)?,
            // A shard holds its index besides the elements, and inner chunks may be
            // incompressible; anything more than twice the raw size plus 1 MiB is corrupt.
            BytesCodec::Zstd => {
                zstd_decompress(&data, raw_size.saturating_mul(2).saturating_add(1 << 20))?
            }
        };
    }
    let mut encoded_shape = shape.to_vec();
    for order in &chain.transposes {
        encoded_shape = order.iter().map(|&axis| encoded_shape[axis]).collect();
    }
    let mut array = match &chain.array_to_bytes {
        ArrayToBytes::Bytes { big_endian } => {
            if data.len() != raw_size {
                return invalid(format!(
                    "chunk holds {} bytes, expected {raw_size} for shape {encoded_shape:?} of {}",
                    data.len(),
                    t.name
                ));
            }
            if *big_endian {
                data.chunks_exact_mut(t.unit).for_each(<[u8]>::reverse);
            }
            data
        }
        ArrayToBytes::Sharding(s) => decode_shard(s, t, &encoded_shape, &data, fill)?,
    };
    for order in chain.transposes.iter().rev() {
        let inverse = invert(order);
        array = permute(&array, &encoded_shape, &inverse, t.size);
        encoded_shape = inverse.iter().map(|&axis| encoded_shape[axis]).collect();
    }
    Ok(array)
}

/// Checks and removes the 4-byte little-endian CRC-32C the `crc32c` codec appends.
fn strip_crc32c(mut data: Vec<u8>) -> Parse<Vec<u8>> {
    if data.len() < 4 {
        return Err(Fault::Truncated);
    }
    let body = data.len() - 4;
    let stored = u32::from_le_bytes([data[body], data[body + 1], data[body + 2], data[body + 3]]);
    let computed = crc32c(&data[..body]);
    if stored != computed {
        return Err(Fault::Checksum { stored, computed });
    }
    data.truncate(body);
    Ok(data)
}

/// Decodes a shard of `shape`: reads its index (offset and length of each inner chunk, in C
/// order; all-ones for a chunk never written) and places every inner chunk.
fn decode_shard(
    s: &Sharding,
    t: DataType,
    shape: &[usize],
    data: &[u8],
    fill: &[u8],
) -> Parse<Vec<u8>> {
    if s.chunk_shape.len() != shape.len()
        || shape.iter().zip(&s.chunk_shape).any(|(&n, &c)| n % c != 0)
    {
        return invalid(format!(
            "shard of shape {shape:?} is not a whole number of {:?} chunks",
            s.chunk_shape
        ));
    }
    let grid: Vec<usize> = shape
        .iter()
        .zip(&s.chunk_shape)
        .map(|(n, c)| n / c)
        .collect();
    let chunks = element_count(&grid).ok_or(Fault::Truncated)?;
    let checksums = s.index_codecs.bytes_codecs.len();
    let index_size = chunks
        .checked_mul(16)
        .and_then(|n| n.checked_add(4 * checksums))
        .ok_or(Fault::Truncated)?;
    if data.len() < index_size {
        return Err(Fault::Truncated);
    }
    let index_bytes = match s.index_at_end {
        true => &data[data.len() - index_size..],
        false => &data[..index_size],
    };
    let index_shape: Vec<usize> = grid.iter().copied().chain([2]).collect();
    let index = decode_chunk(
        &s.index_codecs,
        dtype::UINT64,
        &index_shape,
        index_bytes.to_vec(),
        &[0; 8],
    )?;
    let mut out = filled(fill, shape)?;
    for (i, position) in grid_positions(&grid).enumerate() {
        let entry = |k: usize| {
            let at = (2 * i + k) * 8;
            u64::from_le_bytes(index[at..at + 8].try_into().unwrap_or([0xff; 8]))
        };
        let (offset, length) = (entry(0), entry(1));
        if offset == u64::MAX && length == u64::MAX {
            continue;
        }
        let end = offset
            .checked_add(length)
            .filter(|&end| end <= data.len() as u64);
        let Some(end) = end else {
            return invalid(format!(
                "shard index points at bytes {offset}..+{length} of a {}-byte shard",
                data.len()
            ));
        };
        let inner = data[offset as usize..end as usize].to_vec();
        let chunk = decode_chunk(&s.codecs, t, &s.chunk_shape, inner, fill)?;
        let origin: Vec<usize> = position
            .iter()
            .zip(&s.chunk_shape)
            .map(|(p, c)| p * c)
            .collect();
        copy_block(&mut out, shape, &chunk, &s.chunk_shape, &origin, t.size);
    }
    Ok(out)
}

/// An array of `shape` holding `fill` (one element) everywhere. The size comes from metadata,
/// so allocation failure is reported rather than aborting the process.
pub(crate) fn filled(fill: &[u8], shape: &[usize]) -> Parse<Vec<u8>> {
    let too_large = || {
        Fault::Invalid(format!(
            "an array of shape {shape:?} does not fit in memory"
        ))
    };
    let n = element_count(shape).ok_or_else(too_large)?;
    let bytes = n.checked_mul(fill.len()).ok_or_else(too_large)?;
    let mut out = Vec::new();
    out.try_reserve_exact(bytes).map_err(|_| too_large())?;
    if fill.iter().all(|&b| b == 0) {
        out.resize(bytes, 0);
    } else {
        (0..n).for_each(|_| out.extend_from_slice(fill));
    }
    Ok(out)
}

fn invert(order: &[usize]) -> Vec<usize> {
    let mut inverse = vec![0; order.len()];
    for (i, &axis) in order.iter().enumerate() {
        inverse[axis] = i;
    }
    inverse
}

/// Reorders the axes of a C-order array: axis `i` of the result is axis `order[i]` of `data`.
fn permute(data: &[u8], shape: &[usize], order: &[usize], elem: usize) -> Vec<u8> {
    let rank = shape.len();
    let mut strides = vec![elem; rank];
    for d in (0..rank.saturating_sub(1)).rev() {
        strides[d] = strides[d + 1] * shape[d + 1];
    }
    let out_shape: Vec<usize> = order.iter().map(|&axis| shape[axis]).collect();
    let out_strides: Vec<usize> = order.iter().map(|&axis| strides[axis]).collect();
    let mut out = Vec::with_capacity(data.len());
    for position in grid_positions(&out_shape) {
        let at: usize = position.iter().zip(&out_strides).map(|(p, s)| p * s).sum();
        out.extend_from_slice(&data[at..at + elem]);
    }
    out
}

/// Every position of a grid of `shape`, in C order (one empty position for rank 0, none if
/// any extent is 0).
pub(crate) fn grid_positions(shape: &[usize]) -> impl Iterator<Item = Vec<usize>> + '_ {
    let total = element_count(shape).unwrap_or(0);
    let mut position = vec![0usize; shape.len()];
    (0..total).map(move |i| {
        if i > 0 {
            for d in (0..shape.len()).rev() {
                position[d] += 1;
                if position[d] < shape[d] {
                    break;
                }
                position[d] = 0;
            }
        }
        position.clone()
    })
}

/// Copies a C-order block of `src_shape` into the C-order array `dst` of `dst_shape` at
/// `origin`, dropping what falls outside `dst` (edge chunks are stored padded).
pub(crate) fn copy_block(
    dst: &mut [u8],
    dst_shape: &[usize],
    src: &[u8],
    src_shape: &[usize],
    origin: &[usize],
    elem: usize,
) {
    let rank = dst_shape.len();
    if rank == 0 {
        dst[..elem].copy_from_slice(&src[..elem]);
        return;
    }
    let extent: Vec<usize> = (0..rank)
        .map(|d| src_shape[d].min(dst_shape[d].saturating_sub(origin[d])))
        .collect();
    let row = extent[rank - 1] * elem;
    if row == 0 {
        return;
    }
    for outer in grid_positions(&extent[..rank - 1]) {
        let (mut from, mut to) = (0usize, 0usize);
        for d in 0..rank - 1 {
            from = from * src_shape[d] + outer[d];
            to = to * dst_shape[d] + origin[d] + outer[d];
        }
        let from = from * src_shape[rank - 1] * elem;
        let to = (to * dst_shape[rank - 1] + origin[rank - 1]) * elem;
        dst[to..to + row].copy_from_slice(&src[from..from + row]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permute_transposes_a_matrix() {
        // [[0, 1, 2], [3, 4, 5]] -> [[0, 3], [1, 4], [2, 5]]
        let data: Vec<u8> = (0..6).collect();
        assert_eq!(permute(&data, &[2, 3], &[1, 0], 1), [0, 3, 1, 4, 2, 5]);
        assert_eq!(invert(&[2, 0, 1]), [1, 2, 0]);
    }

    #[test]
    fn edge_blocks_are_clipped() {
        // A 2x2 block at (2, 2) of a 3x3 array keeps only its top-left element.
        let mut dst = vec![0u8; 9];
        copy_block(&mut dst, &[3, 3], &[1, 2, 3, 4], &[2, 2], &[2, 2], 1);
        assert_eq!(dst, [0, 0, 0, 0, 0, 0, 0, 0, 1]);
        let mut scalar = vec![0u8; 2];
        copy_block(&mut scalar, &[], &[7, 8], &[], &[], 2);
        assert_eq!(scalar, [7, 8]);
    }

    #[test]
    fn a_crc32c_mismatch_is_reported() {
        let mut data = b"abc".to_vec();
        data.extend(crc32c(b"abc").to_le_bytes());
        assert_eq!(strip_crc32c(data.clone()).unwrap(), b"abc");
        data[0] ^= 1;
        assert!(matches!(strip_crc32c(data), Err(Fault::Checksum { .. })));
    }

    #[test]
    fn unknown_codecs_are_unsupported_and_misplaced_ones_invalid() {
        let gzip = serde_json::json!([{"name": "bytes"}, {"name": "gzip"}]);
        assert!(matches!(parse_chain(&gzip, 1), Err(Fault::Unsupported(m)) if m.contains("gzip")));
        let backwards = serde_json::json!([{"name": "zstd"}, {"name": "bytes"}]);
        assert!(matches!(parse_chain(&backwards, 1), Err(Fault::Invalid(_))));
        let bad_order =
            serde_json::json!([{"name": "transpose", "configuration": {"order": [0, 0]}}, "bytes"]);
        assert!(matches!(parse_chain(&bad_order, 2), Err(Fault::Invalid(_))));
    }
}
