//! Timing the IPython way: `%%time`'s lines, `%timeit`'s rule, the course's `Temporizador`.

mod busy;
mod cpu;
mod format;
mod measure;
mod timeit;
mod timer;

pub use busy::{BUSY_MIN_WALL, BUSY_THRESHOLD, MachineLoad};
pub(crate) use busy::{MachineCpu, load_between};
pub use cpu::CpuTimes;
#[cfg(feature = "mpi")]
pub(crate) use cpu::count_also;
pub use format::{format_seconds, format_time};
pub use measure::{Measurement, measure, time};
pub use timeit::{TimeitOptions, TimeitResult, timeit, timeit_with};
pub use timer::{Temporizador, Timer, TimerReport};
