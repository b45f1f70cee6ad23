//! `Array<T>`: a fixed-length array of numbers in shared memory.

use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use super::Scalar;
use crate::sys::SharedRegion;
use crate::{Error, Lock, Result};

/// A fixed-length array of numbers in shared memory, with a lock, like Python's
/// `multiprocessing.Array('d', 10)`.
///
/// Like [`Value`](crate::Value): made before `fork`, it is the same memory in every
/// process; each element is read and written whole; hold [`get_lock`](Self::get_lock) for
/// updates that span several steps.
///
/// # Examples
///
/// ```
/// use paralelo::prelude::*;
///
/// let arr = Array::from_slice(&[1.0f64, 2.0, 3.0])?;
/// let child_arr = arr.clone();
/// let p = Process::new(move || {
///     for i in 0..child_arr.len() {
///         let x = child_arr.get(i).unwrap();
///         child_arr.set(i, -x).unwrap();
///     }
/// });
/// p.start()?;
/// p.join()?;
/// assert_eq!(arr.to_vec(), [-1.0, -2.0, -3.0]);
/// # Ok::<(), paralelo::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Array<T> {
    region: Arc<SharedRegion>,
    len: usize,
    lock: Lock,
    _type: PhantomData<T>,
}

impl<T: Scalar> Array<T> {
    /// An array of `len` elements, all zero (`false` for `bool`), like `Array('i', len)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let a = Array::<i32>::zeroed(3)?;
    /// assert_eq!(a.to_vec(), [0, 0, 0]);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Os`](crate::ErrorKind) when shared memory could not be mapped.
    pub fn zeroed(len: usize) -> Result<Self> {
        let bytes = len.checked_mul(8).ok_or_else(|| {
            Error::invalid_argument(format!("an array of {len} elements is too large"))
        })?;
        Ok(Array {
            region: Arc::new(SharedRegion::new(bytes.max(8))?),
            len,
            lock: Lock::new()?,
            _type: PhantomData,
        })
    }

    /// An array holding the items of any iterable, like Python's `Array('i', range(10))`.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let a = Array::new(0..10i32)?;
    /// assert_eq!(a.len(), 10);
    /// let squares = Array::new((1..=3u64).map(|x| x * x))?;
    /// assert_eq!(squares.to_vec(), [1, 4, 9]);
    /// let v = vec![1.5f64, 2.5];
    /// let b = Array::<f64>::new(&v)?; // a slice's items, copied
    /// assert_eq!(b.get(1)?, 2.5);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`zeroed`](Self::zeroed).
    pub fn new<I>(values: I) -> Result<Self>
    where
        I: IntoIterator,
        I::Item: std::borrow::Borrow<T>,
    {
        use std::borrow::Borrow;
        let values: Vec<T> = values.into_iter().map(|v| *v.borrow()).collect();
        Self::from_slice(&values)
    }

    /// An array holding a copy of `values`, like `Array('d', [1.0, 2.0])`.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let a = Array::from_slice(&[1.5f64, 2.5])?;
    /// assert_eq!(a.get(1)?, 2.5);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`zeroed`](Self::zeroed).
    pub fn from_slice(values: &[T]) -> Result<Self> {
        let array = Self::zeroed(values.len())?;
        for (i, v) in values.iter().enumerate() {
            array.region.u64_at(8 * i).store(v.to_bits(), Relaxed);
        }
        Ok(array)
    }

    /// The number of elements.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// assert_eq!(Array::<u8>::zeroed(4)?.len(), 4);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the array has no element.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// assert!(Array::<u8>::zeroed(0)?.is_empty());
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn check(&self, index: usize) -> Result<usize> {
        if index < self.len {
            Ok(8 * index)
        } else {
            Err(Error::invalid_argument(format!(
                "index {index} is out of range for an Array of length {} (Python raises \
                 IndexError)",
                self.len
            )))
        }
    }

    /// The element at `index`.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let a = Array::from_slice(&[10i32, 20])?;
    /// assert_eq!(a.get(1)?, 20);
    /// assert_eq!(a.get(2).unwrap_err().kind(), ErrorKind::InvalidArgument);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`](crate::ErrorKind) when `index` is out of range.
    pub fn get(&self, index: usize) -> Result<T> {
        Ok(T::from_bits(
            self.region.u64_at(self.check(index)?).load(Relaxed),
        ))
    }

    /// Replaces the element at `index`.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let a = Array::<i64>::zeroed(2)?;
    /// a.set(1, -7)?;
    /// assert_eq!(a.to_vec(), [0, -7]);
    /// assert!(a.set(2, 1).is_err());
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`](crate::ErrorKind) when `index` is out of range.
    pub fn set(&self, index: usize, value: T) -> Result<()> {
        self.region
            .u64_at(self.check(index)?)
            .store(value.to_bits(), Relaxed);
        Ok(())
    }

    /// A copy of every element (Python's `arr[:]`).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let a = Array::from_slice(&[true, false])?;
    /// assert_eq!(a.to_vec(), [true, false]);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    pub fn to_vec(&self) -> Vec<T> {
        (0..self.len)
            .map(|i| T::from_bits(self.region.u64_at(8 * i).load(Relaxed)))
            .collect()
    }

    /// The lock that goes with this array (Python's `get_lock()`).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let a = Array::<u32>::zeroed(1)?;
    /// let _guard = a.get_lock().acquire()?;
    /// a.set(0, a.get(0)? + 1)?;
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    pub fn get_lock(&self) -> &Lock {
        &self.lock
    }

    /// Replaces element `index` with `f(element)` while holding
    /// [`get_lock`](Self::get_lock), and returns the new value: Python's
    /// `with a.get_lock(): a[i] = f(a[i])` in one call.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let a = Array::new([1u32, 2, 3])?;
    /// assert_eq!(a.update(1, |x| x * 10)?, 20);
    /// assert_eq!(a.to_vec(), [1, 20, 3]);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`](crate::ErrorKind) when `index` is out of bounds;
    /// [`ErrorKind::InvalidState`](crate::ErrorKind) when this thread already holds the lock.
    pub fn update(&self, index: usize, f: impl FnOnce(T) -> T) -> Result<T> {
        let offset = self.check(index)?;
        let _guard = self.lock.acquire()?;
        let cell = self.region.u64_at(offset);
        let new = f(T::from_bits(cell.load(Relaxed)));
        cell.store(new.to_bits(), Relaxed);
        Ok(new)
    }

    /// Adds `delta` to element `index` under the lock (`a[i] += delta`) and returns the
    /// new value.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let counts = Array::<u64>::zeroed(2)?;
    /// let p = {
    ///     let counts = counts.clone();
    ///     Process::new(move || { counts.add(0, 5).unwrap(); })
    /// };
    /// p.start()?;
    /// p.join()?;
    /// assert_eq!(counts.add(0, 1)?, 6);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`update`](Self::update).
    pub fn add(&self, index: usize, delta: T) -> Result<T>
    where
        T: std::ops::Add<Output = T>,
    {
        self.update(index, |x| x + delta)
    }

    /// Subtracts `delta` from element `index` under the lock (`a[i] -= delta`) and returns
    /// the new value.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let a = Array::new([10i32])?;
    /// assert_eq!(a.sub(0, 3)?, 7);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`update`](Self::update).
    pub fn sub(&self, index: usize, delta: T) -> Result<T>
    where
        T: std::ops::Sub<Output = T>,
    {
        self.update(index, |x| x - delta)
    }
}
