//! Zarr element types (v3 names, and the v2 `<f4`-style strings mapped onto them) and fill
//! values, which arrays hold wherever a chunk was never written.

use serde_json::Value;

use super::decode::{invalid, Fault, Parse};

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Kind {
    Bool,
    Int,
    UInt,
    Float,
    Complex,
}

/// An element type: its zarr v3 name, size in bytes, and the size of the units whose bytes
/// a big-endian encoding reverses (a complex number is two floats).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct DataType {
    pub name: &'static str,
    pub size: usize,
    pub unit: usize,
    pub kind: Kind,
}

const fn dt(name: &'static str, size: usize, unit: usize, kind: Kind) -> DataType {
    DataType {
        name,
        size,
        unit,
        kind,
    }
}

const DATA_TYPES: [DataType; 15] = [
    dt("bool", 1, 1, Kind::Bool),
    dt("int8", 1, 1, Kind::Int),
    dt("int16", 2, 2, Kind::Int),
    dt("int32", 4, 4, Kind::Int),
    dt("int64", 8, 8, Kind::Int),
    dt("uint8", 1, 1, Kind::UInt),
    dt("uint16", 2, 2, Kind::UInt),
    dt("uint32", 4, 4, Kind::UInt),
    dt("uint64", 8, 8, Kind::UInt),
    dt("float16", 2, 2, Kind::Float),
    dt("bfloat16", 2, 2, Kind::Float),
    dt("float32", 4, 4, Kind::Float),
    dt("float64", 8, 8, Kind::Float),
    dt("complex64", 8, 4, Kind::Complex),
    dt("complex128", 16, 8, Kind::Complex),
];

pub(crate) const UINT64: DataType = dt("uint64", 8, 8, Kind::UInt);

/// The type a zarr v3 `data_type` names.
pub(crate) fn v3(name: &str) -> Parse<DataType> {
    DATA_TYPES
        .iter()
        .find(|t| t.name == name)
        .copied()
        .ok_or_else(|| Fault::Unsupported(format!("zarr data type `{name}`")))
}

/// The type and byte order a zarr v2 `dtype` names (`<f4`, `>i8`, `|b1`, or tensorstore's
/// `bfloat16`, which is little-endian).
pub(crate) fn v2(dtype: &str) -> Parse<(DataType, bool)> {
    if dtype == "bfloat16" {
        return Ok((v3("bfloat16")?, false));
    }
    let unsupported = || Fault::Unsupported(format!("zarr v2 dtype `{dtype}`"));
    let mut chars = dtype.chars();
    let big_endian = match chars.next() {
        Some('<' | '|') => false,
        Some('>') => true,
        _ => return Err(unsupported()),
    };
    let kind = chars.next().ok_or_else(unsupported)?;
    let size: usize = chars.as_str().parse().map_err(|_| unsupported())?;
    let name = match (kind, size) {
        ('b', 1) => "bool",
        ('i', 1) => "int8",
        ('i', 2) => "int16",
        ('i', 4) => "int32",
        ('i', 8) => "int64",
        ('u', 1) => "uint8",
        ('u', 2) => "uint16",
        ('u', 4) => "uint32",
        ('u', 8) => "uint64",
        ('f', 2) => "float16",
        ('f', 4) => "float32",
        ('f', 8) => "float64",
        ('c', 8) => "complex64",
        ('c', 16) => "complex128",
        _ => return Err(unsupported()),
    };
    Ok((v3(name)?, big_endian))
}

/// One element holding `value` (a zarr `fill_value`), little-endian. `null` (zarr v2's "no fill
/// value") reads as zero, as tensorstore does.
pub(crate) fn fill_value(t: DataType, value: &Value) -> Parse<Vec<u8>> {
    let bad = || Fault::Invalid(format!("fill_value {value} does not fit type {}", t.name));
    match (t.kind, value) {
        (_, Value::Null) => Ok(vec![0; t.size]),
        (_, Value::String(s)) if s.starts_with("0x") => raw_bits(t, s).ok_or_else(bad),
        (Kind::Bool, Value::Bool(b)) => Ok(vec![u8::from(*b)]),
        (Kind::Int, Value::Number(n)) => {
            let v = n.as_i64().ok_or_else(bad)?;
            let bits = 8 * t.size as u32;
            let fits = bits == 64 || (v >= -(1i64 << (bits - 1)) && v < (1i64 << (bits - 1)));
            fits.then(|| v.to_le_bytes()[..t.size].to_vec())
                .ok_or_else(bad)
        }
        (Kind::UInt, Value::Number(n)) => {
            let v = n.as_u64().ok_or_else(bad)?;
            let fits = t.size == 8 || v < (1u64 << (8 * t.size));
            fits.then(|| v.to_le_bytes()[..t.size].to_vec())
                .ok_or_else(bad)
        }
        (Kind::Float, _) => Ok(float_bytes(t, float_value(value).ok_or_else(bad)?)),
        (Kind::Complex, Value::Array(parts)) if parts.len() == 2 => {
            let half = if t.size == 8 {
                v3("float32")?
            } else {
                v3("float64")?
            };
            let re = float_value(&parts[0]).ok_or_else(bad)?;
            let im = float_value(&parts[1]).ok_or_else(bad)?;
            Ok([float_bytes(half, re), float_bytes(half, im)].concat())
        }
        _ => invalid(format!("fill_value {value} does not fit type {}", t.name)),
    }
}

/// A float fill value: a JSON number or one of zarr's names for the non-finite values.
fn float_value(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => match s.as_str() {
            "NaN" => Some(f64::NAN),
            "Infinity" => Some(f64::INFINITY),
            "-Infinity" => Some(f64::NEG_INFINITY),
            _ => None,
        },
        _ => None,
    }
}

/// A `"0x..."` fill value: the element's bits as a big-endian hex number.
fn raw_bits(t: DataType, hex: &str) -> Option<Vec<u8>> {
    let digits = &hex[2..];
    if digits.is_empty() || digits.len() > 2 * t.size {
        return None;
    }
    let v = u128::from_str_radix(digits, 16).ok()?;
    Some(v.to_le_bytes()[..t.size].to_vec())
}

fn float_bytes(t: DataType, v: f64) -> Vec<u8> {
    match t.name {
        "float64" => v.to_le_bytes().to_vec(),
        "float32" => (v as f32).to_le_bytes().to_vec(),
        "bfloat16" => f32_to_bf16(v as f32).to_le_bytes().to_vec(),
        _ => f32_to_f16(v as f32).to_le_bytes().to_vec(),
    }
}

/// Round-to-nearest-even conversion to bfloat16 (the top half of an f32).
pub(crate) fn f32_to_bf16(x: f32) -> u16 {
    let bits = x.to_bits();
    if x.is_nan() {
        return ((bits >> 16) | 0x40) as u16;
    }
    let round = 0x7fff + ((bits >> 16) & 1);
    ((bits + round) >> 16) as u16
}

/// Round-to-nearest-even conversion to IEEE half precision, subnormals included.
pub(crate) fn f32_to_f16(x: f32) -> u16 {
    let bits = x.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let exp = ((bits >> 23) & 0xff) as i32;
    let man = bits & 0x7f_ffff;
    if exp == 0xff {
        return sign | 0x7c00 | if man != 0 { 0x200 } else { 0 };
    }
    let e = exp - 127 + 15;
    if e >= 0x1f {
        return sign | 0x7c00;
    }
    if e <= 0 {
        if e < -10 {
            return sign;
        }
        // A half subnormal counts units of 2^-24; shift the 24-bit significand down to them.
        let m = man | 0x80_0000;
        let shift = (14 - e) as u32;
        let half = m >> shift;
        let rem = m & ((1 << shift) - 1);
        let halfway = 1 << (shift - 1);
        let up = rem > halfway || (rem == halfway && half & 1 == 1);
        return sign | (half + u32::from(up)) as u16;
    }
    let half = sign as u32 | ((e as u32) << 10) | (man >> 13);
    let rem = man & 0x1fff;
    let up = rem > 0x1000 || (rem == 0x1000 && half & 1 == 1);
    // A carry out of the significand correctly bumps the exponent (up to infinity).
    (half + u32::from(up)) as u16
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn half_precision_rounds_to_nearest_even() {
        assert_eq!(f32_to_f16(1.0), 0x3c00);
        assert_eq!(f32_to_f16(-2.0), 0xc000);
        assert_eq!(f32_to_f16(65504.0), 0x7bff);
        assert_eq!(f32_to_f16(65520.0), 0x7c00);
        assert_eq!(f32_to_f16(0.1), 0x2e66);
        assert_eq!(f32_to_f16(2f32.powi(-24)), 0x0001);
        assert_eq!(f32_to_f16(2f32.powi(-14)), 0x0400);
        assert_eq!(f32_to_f16(-0.0), 0x8000);
        assert_eq!(f32_to_f16(f32::NAN) & 0x7e00, 0x7e00);
        assert_eq!(f32_to_bf16(1.0), 0x3f80);
        assert_eq!(f32_to_bf16(-2.0), 0xc000);
        assert_eq!(f32_to_bf16(f32::from_bits(0x3f80_8000)), 0x3f80); // a tie, to even
        assert_eq!(f32_to_bf16(f32::from_bits(0x3f81_8000)), 0x3f82); // a tie, to even (up)
    }

    #[test]
    fn fill_values_in_every_json_form() {
        let f32t = v3("float32").unwrap();
        assert_eq!(fill_value(f32t, &json!(1.5)).unwrap(), 1.5f32.to_le_bytes());
        assert_eq!(
            fill_value(f32t, &json!("-Infinity")).unwrap(),
            f32::NEG_INFINITY.to_le_bytes()
        );
        assert_eq!(
            fill_value(f32t, &json!("0x7fc00001")).unwrap(),
            [1, 0, 0xc0, 0x7f]
        );
        assert_eq!(fill_value(f32t, &json!(null)).unwrap(), [0; 4]);
        let i16t = v3("int16").unwrap();
        assert_eq!(fill_value(i16t, &json!(-2)).unwrap(), (-2i16).to_le_bytes());
        assert!(fill_value(i16t, &json!(40000)).is_err());
        assert!(fill_value(i16t, &json!("NaN")).is_err());
        let c64 = v3("complex64").unwrap();
        let expected = [1f32.to_le_bytes(), (-1f32).to_le_bytes()].concat();
        assert_eq!(fill_value(c64, &json!([1.0, -1.0])).unwrap(), expected);
    }

    #[test]
    fn v2_dtypes_map_to_v3_names() {
        assert_eq!(v2("<f4").unwrap(), (v3("float32").unwrap(), false));
        assert_eq!(v2(">i8").unwrap(), (v3("int64").unwrap(), true));
        assert_eq!(v2("|b1").unwrap().0.name, "bool");
        assert_eq!(v2("bfloat16").unwrap().0.name, "bfloat16");
        assert!(v2("<M8[ns]").is_err());
        assert!(v2("").is_err());
    }
}
