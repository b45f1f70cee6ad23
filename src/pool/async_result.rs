//! `AsyncResult<T>`: the handle to a task's future result, and the slot behind it.
//!
//! A [`Slot`] is written exactly once, by whoever finishes first: the worker that ran the
//! task, or the pool cancelling it (terminate, interrupt) before it started. Every waiter is
//! woken by that one write, so a result can never be waited for in vain.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::{Error, ErrorKind, Result};

enum State<T> {
    /// Queued, not started.
    Pending,
    /// A worker took it.
    Running,
    /// Finished (or cancelled): the outcome waits to be taken.
    Done(Result<T>),
    /// `into_value` took the outcome; `ok` remembers whether it was a success.
    Taken { ok: bool },
}

/// What `*_async_with` runs when the outcome lands (Python's `callback` /
/// `error_callback`).
pub(crate) type Callback<T> = Box<dyn FnOnce(&Result<T>) + Send>;

thread_local! {
    /// The slot whose callback this thread is running (0: none): a `get` of that same
    /// result from inside its callback would wait for itself.
    static IN_CALLBACK: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Where one task's outcome lands. Shared by the pool (writer) and the [`AsyncResult`] (reader).
pub(crate) struct Slot<T> {
    state: Mutex<State<T>>,
    done: Condvar,
    /// Told the slot's `tag` when the outcome lands (how `imap_unordered` learns the order
    /// of completion).
    notify: Option<(Sender<usize>, usize)>,
    /// The process whose pool fills the slot: a forked child that inherited the slot has
    /// none of that pool's threads, and may have inherited the lock held by one of them.
    owner: u32,
    /// Run with the outcome before it is stored (Python's order: callbacks first, then
    /// the waiters are woken).
    callback: Mutex<Option<Callback<T>>>,
    /// Set once the outcome is stored: what a waiter spins on before sleeping.
    landed: AtomicBool,
}

/// How long a waiter spins for the outcome before sleeping on the condvar: waking a
/// sleeping thread on an idle virtual CPU costs ~15-20 µs, far more than a short task.
const GET_SPIN: Duration = Duration::from_micros(50);

impl<T> Slot<T> {
    pub(crate) fn new() -> Self {
        Slot {
            state: Mutex::new(State::Pending),
            done: Condvar::new(),
            notify: None,
            owner: crate::sys::current_pid(),
            callback: Mutex::new(None),
            landed: AtomicBool::new(false),
        }
    }

    /// A slot that runs `callback` with the outcome when it lands.
    pub(crate) fn with_callback(callback: Callback<T>) -> Self {
        Slot {
            callback: Mutex::new(Some(callback)),
            ..Slot::new()
        }
    }

    fn in_own_callback(&self) -> bool {
        IN_CALLBACK.with(|c| c.get()) == self as *const Self as usize
    }

    /// A slot that sends `tag` on `sender` when its outcome lands.
    pub(crate) fn notifying(sender: Sender<usize>, tag: usize) -> Self {
        Slot {
            notify: Some((sender, tag)),
            ..Slot::new()
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // The state is only ever replaced whole: a poisoned lock still holds a valid value.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// In a forked child: the state as it was copied, without waiting on a lock that a
    /// thread of the parent may have held at the fork (it stays locked here for ever).
    fn inherited(&self) -> Option<Result<MutexGuard<'_, State<T>>>> {
        if crate::sys::current_pid() == self.owner {
            return None;
        }
        Some(match self.state.try_lock() {
            Ok(state) => Ok(state),
            Err(std::sync::TryLockError::Poisoned(p)) => Ok(p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => Err(not_here(
                "a thread of the parent was updating it when this process was forked",
            )),
        })
    }

    /// Claims the task for a worker. False when it was cancelled first: do not run it.
    pub(crate) fn start(&self) -> bool {
        let mut state = self.lock();
        if matches!(*state, State::Pending) {
            *state = State::Running;
            true
        } else {
            false
        }
    }

    /// Stores the outcome of a task that ran.
    pub(crate) fn finish(&self, outcome: Result<T>) {
        self.complete(outcome, |_| true);
    }

    /// Fails a task that has not started. False when it had already started or finished.
    pub(crate) fn cancel(&self, error: Error) -> bool {
        self.complete(Err(error), |state| matches!(state, State::Pending))
    }

    fn complete(&self, outcome: Result<T>, allowed: impl FnOnce(&State<T>) -> bool) -> bool {
        let callback = {
            let mut state = self.lock();
            if !allowed(&state) {
                return false;
            }
            // Landing: no worker may start it now, and the waiters keep waiting.
            *state = State::Running;
            self.callback
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take()
        };
        if let Some(callback) = callback {
            let before = IN_CALLBACK.with(|c| c.replace(self as *const Self as usize));
            // A panicking callback must not leave the result unlanded for ever.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| callback(&outcome)));
            IN_CALLBACK.with(|c| c.set(before));
        }
        *self.lock() = State::Done(outcome);
        self.landed.store(true, Ordering::Release);
        self.done.notify_all();
        if let Some((sender, tag)) = &self.notify {
            // The receiver may be gone (the iterator was dropped): nobody is waiting then.
            let _ = sender.send(*tag);
        }
        true
    }

    /// Waits until the outcome has landed, or until `deadline`. True when it has.
    fn wait_until(&self, deadline: Option<Instant>) -> (MutexGuard<'_, State<T>>, bool) {
        if self.in_own_callback() {
            // It lands when the callback returns: waiting here would be for ever.
            return (self.lock(), false);
        }
        if let Some(Ok(state)) = self.inherited() {
            // Nothing will land here: the pool's threads are the parent's.
            let landed = matches!(*state, State::Done(_) | State::Taken { .. });
            return (state, landed);
        }
        let spin_until = Instant::now() + GET_SPIN;
        let spin_until = deadline.map_or(spin_until, |d| d.min(spin_until));
        while !self.landed.load(Ordering::Acquire) && Instant::now() < spin_until {
            std::hint::spin_loop();
        }
        let mut state = self.lock();
        loop {
            if matches!(*state, State::Done(_) | State::Taken { .. }) {
                return (state, true);
            }
            match deadline {
                None => state = self.done.wait(state).unwrap_or_else(|p| p.into_inner()),
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return (state, false);
                    }
                    state = self
                        .done
                        .wait_timeout(state, deadline - now)
                        .unwrap_or_else(|p| p.into_inner())
                        .0;
                }
            }
        }
    }

    /// The outcome once it has landed by `deadline`: moved out (`keep` false) or copied.
    pub(crate) fn outcome(&self, deadline: Option<Instant>, keep: bool) -> Result<T>
    where
        T: Clone,
    {
        self.outcome_with(deadline, keep.then_some(|v: &T| v.clone()))
    }

    fn outcome_with(&self, deadline: Option<Instant>, copy: Option<fn(&T) -> T>) -> Result<T> {
        if let Some(Err(e)) = self.inherited() {
            return Err(e);
        }
        let (mut state, landed) = self.wait_until(deadline);
        if !landed {
            if self.in_own_callback() {
                return Err(Error::new(
                    ErrorKind::InvalidState,
                    "get() was called from this result's own callback: the callback already \
                     has the value (its argument)",
                ));
            }
            if crate::sys::current_pid() != self.owner {
                return Err(not_here("its task runs in the parent process"));
            }
            return Err(Error::new(
                ErrorKind::Timeout,
                "the result is not ready yet (the task is still queued or running; \
                 call get() again later)",
            ));
        }
        if let (Some(copy), State::Done(outcome)) = (copy, &*state) {
            return match outcome {
                Ok(v) => Ok(copy(v)),
                Err(e) => Err(e.duplicate()),
            };
        }
        match std::mem::replace(&mut *state, State::Taken { ok: false }) {
            State::Done(outcome) => {
                *state = State::Taken {
                    ok: outcome.is_ok(),
                };
                outcome
            }
            taken @ State::Taken { .. } => {
                *state = taken;
                Err(Error::new(
                    ErrorKind::AlreadyTaken,
                    "this result was already taken by into_value()",
                ))
            }
            State::Pending | State::Running => unreachable!("wait_until returned before landing"),
        }
    }

    /// Moves the outcome out once it has landed by `deadline` (for results that are not
    /// `Clone`, and for the pool's own iterators).
    pub(crate) fn take(&self, deadline: Option<Instant>) -> Result<T> {
        self.outcome_with(deadline, None)
    }

    fn outcome_ok(&self) -> Option<bool> {
        let state = match self.inherited() {
            Some(Ok(state)) => state,
            Some(Err(_)) => return None,
            None => self.lock(),
        };
        match &*state {
            State::Done(outcome) => Some(outcome.is_ok()),
            State::Taken { ok } => Some(*ok),
            State::Pending | State::Running => None,
        }
    }
}

fn not_here(why: &str) -> Error {
    Error::new(
        ErrorKind::InvalidState,
        format!(
            "this result belongs to a pool of the parent process and cannot be waited for in \
             a forked child ({why}): get it in the parent, or make a pool in the child"
        ),
    )
}

/// The result of a task submitted with [`Pool::apply_async`](crate::Pool::apply_async) or
/// [`Pool::map_async`](crate::Pool::map_async): Python's `AsyncResult` / `ApplyResult`.
///
/// The task runs in the background; `get` waits for its value. Unlike Python, no wait can
/// last forever on a task that will never run: when the pool is terminated before the
/// task starts, `get` returns an [`ErrorKind::Cancelled`] error at once.
///
/// # Examples
///
/// ```
/// use paralelo::prelude::*;
///
/// let pool = Pool::new(2)?;
/// let v = pool.apply_async(|| 5 * 5)?;
/// assert_eq!(v.get()?, 25);
/// # Ok::<(), paralelo::Error>(())
/// ```
#[must_use = "the task runs anyway, but its value and any panic are only seen through get()"]
pub struct AsyncResult<T> {
    slot: Arc<Slot<T>>,
}

impl<T> AsyncResult<T> {
    pub(crate) fn new(slot: Arc<Slot<T>>) -> Self {
        AsyncResult { slot }
    }

    /// Waits for the task and returns its value (a copy: like Python's `get()`, it may be
    /// called again, and `results.iter().map(|r| r.get())` works). To move a value that
    /// is not `Clone` out instead, use [`into_value`](Self::into_value).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let pool = Pool::new(2)?;
    /// let v = pool.apply_async(|| "valor")?;
    /// assert_eq!(v.get()?, "valor");
    /// assert_eq!(v.get()?, "valor"); // again: the value stays
    /// let results: Vec<_> = (0..3).map(|i| pool.apply_async(move || i * 10)).collect::<Result<_>>()?;
    /// let values: Vec<i32> = results.iter().map(|r| r.get()).collect::<Result<_>>()?;
    /// assert_eq!(values, [0, 10, 20]);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::TaskPanicked`] with the panic's message when the task panicked;
    /// [`ErrorKind::Cancelled`] when its pool was terminated before it ran;
    /// [`ErrorKind::WorkerDied`] when the worker process running it died;
    /// [`ErrorKind::InvalidState`] in a forked child, for a result of its parent's pool that
    /// had not landed at the fork (it never will there). The same error comes again on
    /// every call.
    pub fn get(&self) -> Result<T>
    where
        T: Clone,
    {
        self.slot.outcome(None, true)
    }

    /// Waits at most `timeout` for the value, and returns a copy of it as [`get`](Self::get).
    ///
    /// On a timeout nothing is lost: the task keeps running, and a later `get` or
    /// `get_timeout` obtains its value.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    /// use std::time::Duration;
    ///
    /// let pool = Pool::new(1)?;
    /// let slow = pool.apply_async(|| { std::thread::sleep(Duration::from_millis(200)); 7 })?;
    /// let early = slow.get_timeout(Duration::from_millis(1));
    /// assert!(early.unwrap_err().is_timeout());
    /// assert_eq!(slow.get_timeout(Duration::from_secs(10))?, 7);
    /// assert_eq!(slow.get()?, 7);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Timeout`] when the value is not ready in time, or any error of [`get`](Self::get).
    pub fn get_timeout(&self, timeout: Duration) -> Result<T>
    where
        T: Clone,
    {
        self.slot.outcome(Some(Instant::now() + timeout), true)
    }

    /// Waits for the task and moves its value out: for values that are not `Clone`, or
    /// too big to copy.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// struct NotClone(u32);
    /// let pool = Pool::new(1)?;
    /// let r = pool.apply_async(|| NotClone(3))?;
    /// assert_eq!(r.into_value()?.0, 3);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`get`](Self::get).
    pub fn into_value(self) -> Result<T> {
        self.slot.take(None)
    }

    /// Moves the value out if it lands by `deadline` (a timeout leaves it in place).
    pub(crate) fn take_until(&self, deadline: Option<Instant>) -> Result<T> {
        self.slot.take(deadline)
    }

    /// Waits until the task has finished (successfully or not).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let pool = Pool::new(1)?;
    /// let r = pool.apply_async(|| "hecho")?;
    /// r.wait();
    /// assert!(r.ready());
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    pub fn wait(&self) {
        drop(self.slot.wait_until(None));
    }

    /// Waits at most `timeout` for the task to finish. True when it has.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    /// use std::time::Duration;
    ///
    /// let pool = Pool::new(1)?;
    /// let r = pool.apply_async(|| 1)?;
    /// assert!(r.wait_timeout(Duration::from_secs(10)));
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.slot.wait_until(Some(Instant::now() + timeout)).1
    }

    /// True when the task has finished, successfully or not.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let pool = Pool::new(1)?;
    /// let r = pool.apply_async(|| 1)?;
    /// r.wait();
    /// assert!(r.ready());
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    pub fn ready(&self) -> bool {
        self.slot.outcome_ok().is_some()
    }

    /// Whether the task finished without error.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let pool = Pool::new(1)?;
    /// let r = pool.apply_async(|| -> u8 { panic!("¡ay!") })?;
    /// r.wait();
    /// assert_eq!(r.successful()?, false);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotReady`] while the task has not finished (Python raises `ValueError`).
    pub fn successful(&self) -> Result<bool> {
        self.slot.outcome_ok().ok_or_else(|| {
            Error::new(
                ErrorKind::NotReady,
                "successful() was called before the task finished: wait() first, or check ready()",
            )
        })
    }
}

impl<T> std::fmt::Debug for AsyncResult<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match self.slot.outcome_ok() {
            None => "pending",
            Some(true) => "ready (ok)",
            Some(false) => "ready (error)",
        };
        write!(f, "AsyncResult({state})")
    }
}
