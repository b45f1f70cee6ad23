//! A static holding a value that is leaked and never freed, behind an atomic pointer: read
//! from any thread without a lock (a forked child must never wait on a lock another thread
//! of its parent held at the fork, which a `OnceLock` being filled would be), replaceable.

use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};

/// A `&'static T` slot: empty, set once or replaced; what it ever held stays allocated.
pub(crate) struct Leaked<T: 'static>(AtomicPtr<T>);

impl<T: Sync + 'static> Leaked<T> {
    pub(crate) const fn new() -> Self {
        Leaked(AtomicPtr::new(ptr::null_mut()))
    }

    /// The value stored last, if any.
    pub(crate) fn get(&self) -> Option<&'static T> {
        let current = self.0.load(Ordering::Acquire);
        // SAFETY: non-null values stored here come from `Box::into_raw` in `set` or
        // `get_or_init`, and are never freed.
        unsafe { current.as_ref() }
    }

    /// Stores `value`. The value it replaces is leaked: a reader may still hold it.
    pub(crate) fn set(&self, value: T) {
        self.0
            .store(Box::into_raw(Box::new(value)), Ordering::Release);
    }

    /// Empties the slot; the value it held is leaked, never dropped.
    pub(crate) fn forget(&self) {
        self.0.store(ptr::null_mut(), Ordering::Release);
    }

    /// The value stored, or `make`'s, stored now. When threads race, the first to store
    /// wins and the others' values are dropped.
    pub(crate) fn get_or_init(&self, make: impl FnOnce() -> T) -> &'static T {
        if let Some(value) = self.get() {
            return value;
        }
        let fresh = Box::into_raw(Box::new(make()));
        match self
            .0
            .compare_exchange(ptr::null_mut(), fresh, Ordering::AcqRel, Ordering::Acquire)
        {
            // SAFETY: `fresh` is stored now, and stored values are never freed.
            Ok(_) => unsafe { &*fresh },
            Err(winner) => {
                // SAFETY: `fresh` came from `Box::into_raw` above and was never shared.
                drop(unsafe { Box::from_raw(fresh) });
                // SAFETY: non-null stored values are never freed.
                unsafe { &*winner }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_then_set_then_replaced() {
        static SLOT: Leaked<String> = Leaked::new();
        assert_eq!(SLOT.get(), None);
        SLOT.set("uno".to_owned());
        let first = SLOT.get().unwrap();
        SLOT.set("dos".to_owned());
        assert_eq!(
            (first.as_str(), SLOT.get().unwrap().as_str()),
            ("uno", "dos")
        );
    }

    #[test]
    fn racing_initialisers_agree_on_one_value() {
        static SLOT: Leaked<u64> = Leaked::new();
        let seen: Vec<u64> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8u64)
                .map(|i| s.spawn(move || *SLOT.get_or_init(|| i)))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(seen.iter().all(|&v| v == seen[0]), "{seen:?}");
    }
}
