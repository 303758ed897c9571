//! Static shapes: an element type and a list of dimensions.

use crate::pjrt::ElementType;

#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Shape {
    pub ty: ElementType,
    pub dims: Vec<i64>,
}

impl Shape {
    pub fn new(ty: ElementType, dims: &[i64]) -> Shape {
        Shape {
            ty,
            dims: dims.to_vec(),
        }
    }

    pub fn f32(dims: &[i64]) -> Shape {
        Shape::new(ElementType::F32, dims)
    }

    pub fn f64(dims: &[i64]) -> Shape {
        Shape::new(ElementType::F64, dims)
    }

    pub fn bf16(dims: &[i64]) -> Shape {
        Shape::new(ElementType::BF16, dims)
    }

    pub fn i32(dims: &[i64]) -> Shape {
        Shape::new(ElementType::S32, dims)
    }

    pub fn scalar(ty: ElementType) -> Shape {
        Shape { ty, dims: vec![] }
    }

    pub fn rank(&self) -> usize {
        self.dims.len()
    }

    pub fn element_count(&self) -> i64 {
        self.dims.iter().product()
    }

    pub fn with_type(&self, ty: ElementType) -> Shape {
        Shape {
            ty,
            dims: self.dims.clone(),
        }
    }

    pub fn with_dims(&self, dims: &[i64]) -> Shape {
        Shape {
            ty: self.ty,
            dims: dims.to_vec(),
        }
    }

    /// MLIR tensor type, e.g. `tensor<2x3xf32>`.
    pub fn mlir(&self) -> String {
        let mut s = String::from("tensor<");
        for d in &self.dims {
            s.push_str(&d.to_string());
            s.push('x');
        }
        s.push_str(self.ty.mlir_name());
        s.push('>');
        s
    }
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let dims: Vec<String> = self.dims.iter().map(|d| d.to_string()).collect();
        write!(f, "{}[{}]", self.ty, dims.join(","))
    }
}
