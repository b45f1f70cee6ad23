//! Anonymous shared memory, mapped before `fork` so parent and children see the same bytes.

use std::num::NonZeroUsize;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU64};

use nix::sys::mman::{MapFlags, ProtFlags, mmap_anonymous, munmap};

use crate::{Error, Result};

/// A zero-filled `MAP_SHARED | MAP_ANONYMOUS` mapping. Nothing is left behind in `/dev/shm`
/// or on disk: the memory goes away with the last process that maps it.
#[derive(Debug)]
pub(crate) struct SharedRegion {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the region is plain memory; every access goes through atomics, the process-shared
// mutexes of this module, or byte copies made while holding such a mutex.
unsafe impl Send for SharedRegion {}
// SAFETY: as above.
unsafe impl Sync for SharedRegion {}

impl SharedRegion {
    /// Maps `len` bytes (rounded up to whole pages), all zero.
    pub(crate) fn new(len: usize) -> Result<Self> {
        let size = NonZeroUsize::new(len.max(1))
            .ok_or_else(|| Error::invalid_argument("empty shared region"))?;
        // SAFETY: a fresh anonymous mapping aliases no existing memory.
        let ptr = unsafe {
            mmap_anonymous(
                None,
                size,
                ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                MapFlags::MAP_SHARED,
            )
        }
        .map_err(|errno| Error::os(&format!("mmap of {len} shared bytes"), errno))?;
        Ok(SharedRegion {
            ptr: ptr.cast(),
            len: size.get(),
        })
    }

    /// A pointer to `size` bytes at `offset`, checked to lie inside the region and aligned
    /// to `align`.
    pub(crate) fn ptr_at(&self, offset: usize, size: usize, align: usize) -> *mut u8 {
        assert!(
            offset.checked_add(size).is_some_and(|end| end <= self.len),
            "out of region"
        );
        // SAFETY: `offset + size <= len`, checked above, so the pointer stays in the mapping.
        let p = unsafe { self.ptr.as_ptr().add(offset) };
        assert_eq!(p as usize % align, 0, "misaligned shared field");
        p
    }

    /// The 64-bit atomic at `offset` (a multiple of 8).
    pub(crate) fn u64_at(&self, offset: usize) -> &AtomicU64 {
        let p = self.ptr_at(offset, 8, 8);
        // SAFETY: in bounds and aligned (checked); zeroed memory is a valid AtomicU64, and
        // the reference lives no longer than `self`, which keeps the mapping.
        unsafe { &*(p as *const AtomicU64) }
    }

    /// The 32-bit atomic at `offset` (a multiple of 4).
    pub(crate) fn u32_at(&self, offset: usize) -> &AtomicU32 {
        let p = self.ptr_at(offset, 4, 4);
        // SAFETY: in bounds and aligned (checked); zeroed memory is a valid AtomicU32, and
        // the reference lives no longer than `self`, which keeps the mapping.
        unsafe { &*(p as *const AtomicU32) }
    }

    /// Copies `bytes` into the region at `offset`. Callers hold the mutex guarding those
    /// bytes, or their protocol keeps every other reader and writer away from them.
    pub(crate) fn write_bytes(&self, offset: usize, bytes: &[u8]) {
        let p = self.ptr_at(offset, bytes.len(), 1);
        // SAFETY: the destination is in bounds (checked) and cannot overlap `bytes`, a Rust
        // slice outside the mapping; plain bytes have no invalid values.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len()) }
    }

    /// The `len` bytes at `offset`, read in place. Callers guarantee, by their protocol,
    /// that no process writes those bytes while the view lives.
    pub(crate) fn bytes(&self, offset: usize, len: usize) -> &[u8] {
        let p = self.ptr_at(offset, len, 1);
        // SAFETY: in bounds (checked); the mapping lives as long as `self`; the caller's
        // protocol keeps every writer away from these bytes while the view lives.
        unsafe { std::slice::from_raw_parts(p, len) }
    }

    /// Copies bytes at `offset` out into `out`. Callers hold the mutex guarding those bytes.
    pub(crate) fn read_bytes(&self, offset: usize, out: &mut [u8]) {
        let p = self.ptr_at(offset, out.len(), 1);
        // SAFETY: the source is in bounds (checked) and does not overlap `out`.
        unsafe { std::ptr::copy_nonoverlapping(p, out.as_mut_ptr(), out.len()) }
    }
}

impl Drop for SharedRegion {
    fn drop(&mut self) {
        // SAFETY: the mapping was made by `new` with this length and is unmapped only here;
        // no reference into it outlives `self`.
        let _ = unsafe { munmap(self.ptr.cast(), self.len) };
    }
}
