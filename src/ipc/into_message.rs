//! `IntoMessage<T>`: what `Queue::put` and `Connection::send` accept for a `T`.

/// A value that a [`Queue<T>`](crate::Queue) or a [`Connection<T>`](crate::Connection)
/// can send as a `T`: a `T` itself, a reference to one, a `&str` for a `String`, a slice
/// for a `Vec`. So `Queue::<String>::put("hola")` works as Python's `q.put("hola")`.
///
/// # Examples
///
/// ```
/// use paralelo::prelude::*;
///
/// let q = Queue::<String>::new()?;
/// q.put("hola")?;                 // a &str
/// q.put(String::from("adiós"))?;  // a String
/// let s = String::from("otra");
/// q.put(&s)?;                     // a &String: `s` stays yours
/// assert_eq!(q.get()?, "hola");
/// let v = Queue::<Vec<u8>>::new()?;
/// v.put(&[1, 2, 3][..])?;         // a slice
/// assert_eq!(v.get()?, [1, 2, 3]);
/// # Ok::<(), paralelo::Error>(())
/// ```
pub trait IntoMessage<T> {
    /// Calls `f` with the value as a `&T` (converting it first if it is not one).
    fn with_message<R>(self, f: impl FnOnce(&T) -> R) -> R;
}

impl<T> IntoMessage<T> for T {
    fn with_message<R>(self, f: impl FnOnce(&T) -> R) -> R {
        f(&self)
    }
}

impl<T> IntoMessage<T> for &T {
    fn with_message<R>(self, f: impl FnOnce(&T) -> R) -> R {
        f(self)
    }
}

impl<T> IntoMessage<T> for &mut T {
    fn with_message<R>(self, f: impl FnOnce(&T) -> R) -> R {
        f(self)
    }
}

impl IntoMessage<String> for &str {
    fn with_message<R>(self, f: impl FnOnce(&String) -> R) -> R {
        f(&self.to_owned())
    }
}

impl<T: Clone> IntoMessage<Vec<T>> for &[T] {
    fn with_message<R>(self, f: impl FnOnce(&Vec<T>) -> R) -> R {
        f(&self.to_vec())
    }
}
