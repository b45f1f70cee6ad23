//! Whether the other end of a socket is closed.

use std::os::fd::{AsRawFd, BorrowedFd};

/// True once the peer of the stream socket `fd` has closed its end (in every process that
/// held it): `poll` reports `POLLRDHUP` or `POLLHUP`. Never waits.
pub(crate) fn peer_closed(fd: BorrowedFd<'_>) -> bool {
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLRDHUP,
        revents: 0,
    };
    // SAFETY: one valid pollfd for a descriptor borrowed for the duration of the call; a
    // zero timeout never blocks. (nix drops the revents bits it has no name for, such as
    // POLLRDHUP, hence libc.)
    let n = unsafe { libc::poll(&mut pfd, 1, 0) };
    n > 0 && pfd.revents & (libc::POLLRDHUP | libc::POLLHUP | libc::POLLERR) != 0
}
