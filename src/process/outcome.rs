//! `ExitOutcome`: what a [`Process`](crate::Process)'s closure may return.

use std::fmt::Display;

/// What a [`Process`](crate::Process)'s closure returns: nothing (`()`), or a
/// `Result<(), E>` so that the closure can use `?`.
///
/// An `Err` ends the child with exit code 1 after printing `Process <name>: <error>` on
/// stderr, as an uncaught exception does in Python; `Ok(())` and `()` are exit code 0.
///
/// # Examples
///
/// ```
/// use paralelo::prelude::*;
///
/// let p = Process::new(|| -> Result<()> {
///     let (a, b) = Pipe::<u8>::new()?;
///     a.send(1)?;
///     let _ = b.recv()?;
///     Err(Error::new(ErrorKind::InvalidArgument, "algo salió mal"))
/// });
/// p.start()?;
/// p.join()?;
/// assert_eq!(p.exitcode(), Some(1));
/// # Ok::<(), paralelo::Error>(())
/// ```
pub trait ExitOutcome {
    /// The child's exit code for this outcome (printing the error of an `Err` first);
    /// `name` is the process's name.
    fn exit_code(self, name: &str) -> i32;
}

/// `!`, the type of a closure that never returns (`|| std::process::exit(3)`), named the
/// way stable Rust allows. Edition 2024 infers it for such a closure, where 2021 fell back
/// to `()`: both must be accepted.
type Never = <fn() -> ! as never::Returns>::Output;

mod never {
    /// What a function pointer type returns (how `Never` names `!`).
    pub trait Returns {
        type Output;
    }

    impl<R> Returns for fn() -> R {
        type Output = R;
    }
}

impl ExitOutcome for Never {
    fn exit_code(self, _name: &str) -> i32 {
        self
    }
}

impl ExitOutcome for () {
    fn exit_code(self, _name: &str) -> i32 {
        0
    }
}

impl<E: Display> ExitOutcome for std::result::Result<(), E> {
    fn exit_code(self, name: &str) -> i32 {
        match self {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("Process {name}: {e}");
                1
            }
        }
    }
}
