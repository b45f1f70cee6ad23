//! `Scalar`: the plain types a `Value` or `Array` can hold.

/// A plain number (or `bool`) that can live in shared memory: what Python's
/// `Value('i', 0)` / `Array('d', …)` type codes stand for.
///
/// Implemented for every integer type up to 64 bits, `f32`, `f64` and `bool`. Each value
/// is stored in one 64-bit cell, read and written whole (never torn).
///
/// # Examples
///
/// ```
/// use paralelo::prelude::*;
/// use paralelo::Scalar;
///
/// fn shared<T: Scalar>(x: T) -> paralelo::Result<Value<T>> {
///     Value::new(x)
/// }
/// assert_eq!(shared(2.5f32)?.get(), 2.5);
/// assert!(shared(true)?.get());
/// # Ok::<(), paralelo::Error>(())
/// ```
pub trait Scalar: Copy + Send + Sync + 'static + private::Sealed {
    /// The 64 bits stored for `self`.
    #[doc(hidden)]
    fn to_bits(self) -> u64;
    /// The value stored as `bits`.
    #[doc(hidden)]
    fn from_bits(bits: u64) -> Self;
}

mod private {
    pub trait Sealed {}
}

macro_rules! int_scalar {
    ($($t:ty),*) => {$(
        impl private::Sealed for $t {}
        impl Scalar for $t {
            fn to_bits(self) -> u64 {
                self as u64
            }
            fn from_bits(bits: u64) -> Self {
                bits as $t
            }
        }
    )*};
}

int_scalar!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize);

impl private::Sealed for f64 {}
impl Scalar for f64 {
    fn to_bits(self) -> u64 {
        f64::to_bits(self)
    }
    fn from_bits(bits: u64) -> Self {
        f64::from_bits(bits)
    }
}

impl private::Sealed for f32 {}
impl Scalar for f32 {
    fn to_bits(self) -> u64 {
        u64::from(f32::to_bits(self))
    }
    fn from_bits(bits: u64) -> Self {
        f32::from_bits(bits as u32)
    }
}

impl private::Sealed for bool {}
impl Scalar for bool {
    fn to_bits(self) -> u64 {
        u64::from(self)
    }
    fn from_bits(bits: u64) -> Self {
        bits != 0
    }
}
