//! Element types shared by the runtime and the graph builder.

use super::ffi::PJRT_Buffer_Type;

/// The element types this project moves between host and device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ElementType {
    Pred,
    S8,
    S32,
    S64,
    U8,
    U32,
    U64,
    F16,
    BF16,
    F32,
    F64,
}

impl ElementType {
    pub const ALL: [ElementType; 11] = [
        ElementType::Pred,
        ElementType::S8,
        ElementType::S32,
        ElementType::S64,
        ElementType::U8,
        ElementType::U32,
        ElementType::U64,
        ElementType::F16,
        ElementType::BF16,
        ElementType::F32,
        ElementType::F64,
    ];

    pub fn size_in_bytes(self) -> usize {
        match self {
            ElementType::Pred | ElementType::S8 | ElementType::U8 => 1,
            ElementType::F16 | ElementType::BF16 => 2,
            ElementType::S32 | ElementType::U32 | ElementType::F32 => 4,
            ElementType::S64 | ElementType::U64 | ElementType::F64 => 8,
        }
    }

    /// The type's spelling in MLIR (`tensor<4xf32>`, `tensor<i1>` ...).
    pub fn mlir_name(self) -> &'static str {
        match self {
            ElementType::Pred => "i1",
            ElementType::S8 => "i8",
            ElementType::S32 => "i32",
            ElementType::S64 => "i64",
            ElementType::U8 => "ui8",
            ElementType::U32 => "ui32",
            ElementType::U64 => "ui64",
            ElementType::F16 => "f16",
            ElementType::BF16 => "bf16",
            ElementType::F32 => "f32",
            ElementType::F64 => "f64",
        }
    }

    pub fn is_float(self) -> bool {
        matches!(
            self,
            ElementType::F16 | ElementType::BF16 | ElementType::F32 | ElementType::F64
        )
    }

    pub fn is_signed_int(self) -> bool {
        matches!(self, ElementType::S8 | ElementType::S32 | ElementType::S64)
    }

    pub fn is_unsigned_int(self) -> bool {
        matches!(self, ElementType::U8 | ElementType::U32 | ElementType::U64)
    }

    pub(crate) fn to_pjrt(self) -> PJRT_Buffer_Type {
        match self {
            ElementType::Pred => PJRT_Buffer_Type::Pred,
            ElementType::S8 => PJRT_Buffer_Type::S8,
            ElementType::S32 => PJRT_Buffer_Type::S32,
            ElementType::S64 => PJRT_Buffer_Type::S64,
            ElementType::U8 => PJRT_Buffer_Type::U8,
            ElementType::U32 => PJRT_Buffer_Type::U32,
            ElementType::U64 => PJRT_Buffer_Type::U64,
            ElementType::F16 => PJRT_Buffer_Type::F16,
            ElementType::BF16 => PJRT_Buffer_Type::BF16,
            ElementType::F32 => PJRT_Buffer_Type::F32,
            ElementType::F64 => PJRT_Buffer_Type::F64,
        }
    }

    pub(crate) fn from_pjrt(raw: i32) -> Option<Self> {
        ElementType::ALL
            .into_iter()
            .find(|t| t.to_pjrt() as i32 == raw)
    }
}

impl std::fmt::Display for ElementType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.mlir_name())
    }
}

/// A Rust type whose values can be copied to and from device buffers byte for byte.
///
/// # Safety
/// `Self` must have the size of `TYPE`'s element and no padding, and every byte pattern the
/// device can produce for `TYPE` must be a valid `Self` (checked at run time for `bool`).
pub unsafe trait Element: Copy + Send + Sync + 'static {
    const TYPE: ElementType;
}

macro_rules! element {
    ($($t:ty => $e:ident),* $(,)?) => {
        $(unsafe impl Element for $t { const TYPE: ElementType = ElementType::$e; })*
    };
}
element!(
    bool => Pred, i8 => S8, i32 => S32, i64 => S64, u8 => U8, u32 => U32, u64 => U64,
    half::f16 => F16, half::bf16 => BF16, f32 => F32, f64 => F64,
);
