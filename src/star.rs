//! `StarFn`: calling a function of N arguments with one tuple, for `starmap`.

/// A function that can be called with its arguments packed in a tuple.
///
/// Implemented for every `Fn` of 1 to 8 arguments, so `starmap` takes plain functions and
/// closures: `multiply` with `(1, 2)` is `multiply(1, 2)`. A one-argument function takes a
/// one-element tuple, `(x,)`.
///
/// # Examples
///
/// ```
/// use paralelo::StarFn;
///
/// fn multiply(a: i32, b: i32) -> i32 {
///     a * b
/// }
/// assert_eq!(multiply.call((6, 7)), 42);
/// assert_eq!((|s: &str| s.len()).call(("hola",)), 4);
/// ```
pub trait StarFn<Args> {
    /// What the function returns.
    type Output;

    /// Calls the function with the tuple's elements as its arguments.
    fn call(&self, args: Args) -> Self::Output;
}

macro_rules! impl_star_fn {
    ($($arg:ident),+) => {
        impl<Func, Out, $($arg),+> StarFn<($($arg,)+)> for Func
        where
            Func: Fn($($arg),+) -> Out,
        {
            type Output = Out;

            #[allow(non_snake_case)]
            fn call(&self, ($($arg,)+): ($($arg,)+)) -> Out {
                self($($arg),+)
            }
        }
    };
}

impl_star_fn!(A);
impl_star_fn!(A, B);
impl_star_fn!(A, B, C);
impl_star_fn!(A, B, C, D);
impl_star_fn!(A, B, C, D, E);
impl_star_fn!(A, B, C, D, E, F);
impl_star_fn!(A, B, C, D, E, F, G);
impl_star_fn!(A, B, C, D, E, F, G, H);
