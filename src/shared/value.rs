//! `Value<T>`: one number in shared memory.

use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use super::Scalar;
use crate::sys::SharedRegion;
use crate::{Lock, Result};

/// One number in shared memory, with a lock to update it safely, like Python's
/// `multiprocessing.Value('i', 0)`.
///
/// Made before `fork`, it is the same memory in the parent and every child: what a child
/// [`set`](Self::set)s, the parent [`get`](Self::get)s. A read or a write alone is whole,
/// but `v.set(v.get() + 1)` is two steps, and two processes doing it at once can lose an
/// update (the race of the course's S2-16). Hold [`get_lock`](Self::get_lock) around the
/// two steps, or call [`update`](Self::update), which does.
///
/// # Examples
///
/// ```
/// use paralelo::prelude::*;
///
/// let counter = Value::new(0i32)?;
/// let procs: Vec<Process> = (0..5)
///     .map(|_| {
///         let c = counter.clone();
///         Process::new(move || {
///             let _guard = c.get_lock().acquire().unwrap();
///             c.set(c.get() + 1);
///         })
///     })
///     .collect();
/// for p in &procs {
///     p.start()?;
/// }
/// for p in &procs {
///     p.join()?;
/// }
/// assert_eq!(counter.get(), 5); // 最終的な値: 5
/// # Ok::<(), paralelo::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Value<T> {
    region: Arc<SharedRegion>,
    lock: Lock,
    _type: PhantomData<T>,
}

impl<T: Scalar> Value<T> {
    /// A shared value starting at `initial`.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let v = Value::new(0i32)?;
    /// assert_eq!(v.get(), 0);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Os`](crate::ErrorKind) when shared memory could not be mapped.
    pub fn new(initial: T) -> Result<Self> {
        let region = Arc::new(SharedRegion::new(8)?);
        region.u64_at(0).store(initial.to_bits(), Relaxed);
        Ok(Value {
            region,
            lock: Lock::new()?,
            _type: PhantomData,
        })
    }

    /// The current value (Python's `v.value`).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let v = Value::new(1u8)?;
    /// let child = v.clone();
    /// let p = Process::new(move || child.set(2));
    /// p.start()?;
    /// p.join()?;
    /// assert_eq!(v.get(), 2); // the child's write, seen by the parent
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    pub fn get(&self) -> T {
        T::from_bits(self.region.u64_at(0).load(Relaxed))
    }

    /// Replaces the value (Python's `v.value = x`).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let v = Value::new(1.5f64)?;
    /// v.set(2.5);
    /// assert_eq!(v.get(), 2.5);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    pub fn set(&self, value: T) {
        self.region.u64_at(0).store(value.to_bits(), Relaxed);
    }

    /// The lock that goes with this value (Python's `get_lock()`): hold it for a
    /// read-modify-write that no other process may interleave.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let v = Value::new(0i64)?;
    /// {
    ///     let _guard = v.get_lock().acquire()?;
    ///     v.set(v.get() + 1);
    /// }
    /// assert_eq!(v.get(), 1);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    pub fn get_lock(&self) -> &Lock {
        &self.lock
    }

    /// Replaces the value with `f(value)` while holding [`get_lock`](Self::get_lock), and
    /// returns the new value.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let v = Value::new(41u64)?;
    /// assert_eq!(v.update(|x| x + 1)?, 42);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidState`](crate::ErrorKind) when this thread already holds the lock.
    pub fn update(&self, f: impl FnOnce(T) -> T) -> Result<T> {
        let _guard = self.lock.acquire()?;
        let new = f(self.get());
        self.set(new);
        Ok(new)
    }

    /// Adds `delta` under the lock (Python's `with v.get_lock(): v.value += delta`) and
    /// returns the new value.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let counter = Value::new(0u64)?;
    /// let children: Vec<Process> = (0..4)
    ///     .map(|_| {
    ///         let counter = counter.clone();
    ///         Process::new(move || for _ in 0..100 { counter.add(1).unwrap(); })
    ///     })
    ///     .collect();
    /// for p in &children { p.start()?; }
    /// for p in &children { p.join()?; }
    /// assert_eq!(counter.get(), 400);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`update`](Self::update).
    pub fn add(&self, delta: T) -> Result<T>
    where
        T: std::ops::Add<Output = T>,
    {
        self.update(|x| x + delta)
    }

    /// Subtracts `delta` under the lock (`v.value -= delta`) and returns the new value.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let v = Value::new(10i64)?;
    /// assert_eq!(v.sub(4)?, 6);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`update`](Self::update).
    pub fn sub(&self, delta: T) -> Result<T>
    where
        T: std::ops::Sub<Output = T>,
    {
        self.update(|x| x - delta)
    }
}
