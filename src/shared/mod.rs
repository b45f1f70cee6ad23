//! Numbers in shared memory: [`Value`] and [`Array`], each with `get_lock()`.

mod array;
mod scalar;
mod value;

pub use array::Array;
pub use scalar::Scalar;
pub use value::Value;
