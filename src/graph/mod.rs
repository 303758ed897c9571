//! The graph builder: typed tensors and ops in Rust, checked as they are built, emitted as
//! StableHLO text, differentiated in reverse mode, and annotated for sharding over a mesh.

pub mod autodiff;
pub mod builder;
pub mod emit;
pub mod exec;
pub mod math;
pub mod ops;
pub mod placement;
pub mod shape;
pub mod sharding;
mod vjp;

pub use builder::{Graph, GraphError, Tensor, Value};
pub use emit::{EmitOptions, Module};
pub use exec::HostArray;
pub use ops::{BinaryOp, Cmp, DotDims, GatherDims, Literal, Op, ReduceKind, ScatterDims, UnaryOp};
pub use placement::{DeviceArray, In, Layout, Placement, Program};
pub use shape::Shape;
pub use sharding::{Mesh, Sharding};
