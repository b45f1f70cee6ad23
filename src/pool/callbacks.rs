//! `apply_async_with` / `map_async_with`: Python's `callback` and `error_callback`.
//!
//! The callbacks are fixed when the task is queued (so none can be missed), and run on
//! the thread that finishes the task, right before the result becomes ready, as Python's
//! result-handler thread runs them: keep them short.

use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::async_result::{AsyncResult, Callback, Slot};
use super::{Pool, Processes, Threads};
use crate::{Error, MapItems, Result};

/// One callback from Python's pair: `callback` gets the value, `error_callback` the error.
fn pair<T>(
    callback: impl FnOnce(&T) + Send + 'static,
    error_callback: impl FnOnce(&Error) + Send + 'static,
) -> Callback<T> {
    Box::new(move |outcome: &Result<T>| match outcome {
        Ok(value) => callback(value),
        Err(e) => error_callback(e),
    })
}

impl Pool<Threads> {
    /// [`apply_async`](Self::apply_async) with Python's `callback` and `error_callback`:
    /// `callback(&value)` when the task succeeds, `error_callback(&error)` when it fails
    /// (a panic, a cancellation), on the worker that ran it, before `get` returns.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    /// use std::sync::mpsc::channel;
    ///
    /// let pool = Pool::new(2)?;
    /// let (tx, rx) = channel();
    /// let etx = tx.clone();
    /// let r = pool.apply_async_with(
    ///     || 6 * 7,
    ///     move |v: &i32| tx.send(format!("listo: {v}")).unwrap(),
    ///     move |e: &Error| etx.send(format!("falló: {e}")).unwrap(),
    /// )?;
    /// assert_eq!(r.get()?, 42);
    /// assert_eq!(rx.recv().unwrap(), "listo: 42");
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`apply_async`](Self::apply_async).
    pub fn apply_async_with<F, R>(
        &self,
        f: F,
        callback: impl FnOnce(&R) + Send + 'static,
        error_callback: impl FnOnce(&Error) + Send + 'static,
    ) -> Result<AsyncResult<R>>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let slot = Arc::new(Slot::with_callback(pair(callback, error_callback)));
        self.backend
            .spawn(slot.clone(), move || crate::par::catch_panic(f))?;
        Ok(AsyncResult::new(slot))
    }

    /// [`map_async`](Self::map_async) with Python's `callback` (given the whole list of
    /// results) and `error_callback`, as [`apply_async_with`](Self::apply_async_with).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    /// use std::sync::mpsc::channel;
    ///
    /// let pool = Pool::new(2)?;
    /// let (tx, rx) = channel();
    /// let r = pool.map_async_with(|x: u32| x * x, vec![1, 2, 3], move |v: &Vec<u32>| {
    ///     tx.send(v.iter().sum::<u32>()).unwrap()
    /// }, |_e: &Error| {})?;
    /// r.wait();
    /// assert_eq!(rx.recv().unwrap(), 14);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`map_async`](Self::map_async).
    pub fn map_async_with<I, F, R>(
        &self,
        f: F,
        items: I,
        callback: impl FnOnce(&Vec<R>) + Send + 'static,
        error_callback: impl FnOnce(&Error) + Send + 'static,
    ) -> Result<AsyncResult<Vec<R>>>
    where
        I: MapItems + Send + 'static,
        F: Fn(I::Item) -> R + Sync + Send + 'static,
        R: Send + 'static,
    {
        let slot = Arc::new(Slot::with_callback(pair(callback, error_callback)));
        let pool_chunksize = self.chunksize();
        self.backend.spawn(slot.clone(), move || {
            crate::par::catch_panic(|| {
                super::threads::map_chunked(
                    items.into_par_items(),
                    &f,
                    pool_chunksize,
                    crate::interrupt::epoch(),
                )
            })
        })?;
        Ok(AsyncResult::new(slot))
    }
}

impl Pool<Processes> {
    /// [`apply_async`](Self::apply_async) with Python's `callback` and `error_callback`,
    /// run in this process (on the pool's thread that waited for the child) before `get`
    /// returns.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    /// use std::sync::mpsc::channel;
    ///
    /// let pool = Pool::processes(2)?;
    /// let (tx, rx) = channel();
    /// let r = pool.apply_async_with(
    ///     || -> u8 { std::process::abort() },
    ///     |_v: &u8| {},
    ///     move |e: &Error| tx.send(e.kind()).unwrap(),
    /// )?;
    /// assert!(r.get().is_err());
    /// assert_eq!(rx.recv().unwrap(), ErrorKind::WorkerDied);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`apply_async`](Self::apply_async).
    pub fn apply_async_with<F, R>(
        &self,
        f: F,
        callback: impl FnOnce(&R) + Send + 'static,
        error_callback: impl FnOnce(&Error) + Send + 'static,
    ) -> Result<AsyncResult<R>>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        let slot = Slot::with_callback(pair(callback, error_callback));
        self.spawn_job_into(slot, move |engine| engine.apply(f))
    }

    /// [`map_async`](Self::map_async) with Python's `callback` and `error_callback`.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    /// use std::sync::mpsc::channel;
    ///
    /// let pool = Pool::processes(2)?;
    /// let (tx, rx) = channel();
    /// let r = pool.map_async_with(|x: u64| x + 1, 0..4u64, move |v: &Vec<u64>| {
    ///     tx.send(v.clone()).unwrap()
    /// }, |_e: &Error| {})?;
    /// assert_eq!(r.get()?, [1, 2, 3, 4]);
    /// assert_eq!(rx.recv().unwrap(), [1, 2, 3, 4]);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`map_async`](Self::map_async).
    pub fn map_async_with<I, F, R>(
        &self,
        f: F,
        items: I,
        callback: impl FnOnce(&Vec<R>) + Send + 'static,
        error_callback: impl FnOnce(&Error) + Send + 'static,
    ) -> Result<AsyncResult<Vec<R>>>
    where
        I: IntoIterator + Send + 'static,
        F: Fn(I::Item) -> R + Send + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        let slot = Slot::with_callback(pair(callback, error_callback));
        self.spawn_job_into(slot, move |engine| engine.map(&f, items.into_iter()))
    }
}
