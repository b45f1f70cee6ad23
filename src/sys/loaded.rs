//! Which code is mapped in this process: the executable segments of every loaded object.
//!
//! A persistent pool worker may only be sent a function whose code existed when it was
//! forked. evcxr loads each notebook cell as a new shared library (and never unloads
//! one), so a snapshot taken right before the fork says what the worker can run.

use std::ffi::c_void;

/// The executable address ranges of the objects loaded at one moment, and the loader's
/// count of unloads then (glibc's `dlpi_subs`).
#[derive(Debug, Clone)]
pub(crate) struct LoadedCode {
    ranges: Vec<(usize, usize)>,
    unloads: u64,
}

impl LoadedCode {
    /// What is loaded now.
    pub(crate) fn now() -> Self {
        let mut code = LoadedCode {
            ranges: Vec::new(),
            unloads: 0,
        };
        // SAFETY: the callback only reads the `dl_phdr_info` it is given (valid for the
        // call) and writes into `code`, which outlives `dl_iterate_phdr`.
        unsafe {
            libc::dl_iterate_phdr(Some(collect), (&mut code as *mut LoadedCode).cast());
        }
        code
    }

    /// True when `addr` lies in code that was loaded at the snapshot and nothing was
    /// unloaded since (so the same object is still at that address).
    pub(crate) fn contains(&self, addr: usize) -> bool {
        unloads() == self.unloads && self.ranges.iter().any(|&(lo, hi)| lo <= addr && addr < hi)
    }
}

/// `dl_iterate_phdr` callback: notes each executable `PT_LOAD` segment.
unsafe extern "C" fn collect(info: *mut libc::dl_phdr_info, _: usize, data: *mut c_void) -> i32 {
    // SAFETY: `data` is the `LoadedCode` passed by `LoadedCode::now`, used by nobody else
    // during the call; `info` is valid for the duration of the callback.
    let (code, info) = unsafe { (&mut *data.cast::<LoadedCode>(), &*info) };
    code.unloads = info.dlpi_subs;
    if info.dlpi_phdr.is_null() {
        return 0;
    }
    // SAFETY: the loader gives `dlpi_phnum` program headers at `dlpi_phdr`.
    let headers = unsafe { std::slice::from_raw_parts(info.dlpi_phdr, info.dlpi_phnum as usize) };
    for h in headers {
        if h.p_type == libc::PT_LOAD && h.p_flags & libc::PF_X != 0 {
            let lo = (info.dlpi_addr as usize).wrapping_add(h.p_vaddr as usize);
            code.ranges.push((lo, lo.wrapping_add(h.p_memsz as usize)));
        }
    }
    0
}

/// The loader's count of objects unloaded so far.
fn unloads() -> u64 {
    let mut subs: u64 = 0;
    // SAFETY: the callback writes one `u64` into `subs`, which outlives the call, and
    // stops the iteration at the first object.
    unsafe {
        libc::dl_iterate_phdr(Some(first_subs), (&mut subs as *mut u64).cast());
    }
    subs
}

unsafe extern "C" fn first_subs(info: *mut libc::dl_phdr_info, _: usize, data: *mut c_void) -> i32 {
    // SAFETY: `data` is the `u64` of `unloads`; `info` is valid during the callback.
    unsafe { *data.cast::<u64>() = (*info).dlpi_subs };
    1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn functions_are_in_the_snapshot_and_heap_is_not() {
        let code = LoadedCode::now();
        assert!(code.contains(functions_are_in_the_snapshot_and_heap_is_not as fn() as usize));
        assert!(code.contains(libc::getpid as *const () as usize));
        let heap = Box::new(0u64);
        assert!(!code.contains(&*heap as *const u64 as usize));
    }
}
