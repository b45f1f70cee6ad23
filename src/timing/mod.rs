//! Timing the IPython way: `%%time`'s lines, `%timeit`'s rule, the course's `Temporizador`.

mod cpu;
mod format;
mod measure;
mod timeit;
mod timer;

pub use cpu::CpuTimes;
pub use format::{format_seconds, format_time};
pub use measure::{Measurement, measure, time};
pub use timeit::{TimeitOptions, TimeitResult, timeit, timeit_with};
pub use timer::{Temporizador, Timer, TimerReport};
