//! The process pool's engine: which route a call takes (`route`), the children forked
//! per task or per call, the persistent crews, and what crosses back from them. The
//! public face is [`Processes`](super::Processes); `README.md` here says which call takes
//! which route and why.

mod apply_crew;
mod children;
mod chunk_workers;
mod engine;
mod frame;
mod imap;
mod jobs;
mod map_crew;
mod result_slots;
mod route;

pub(super) use apply_crew::Crew;
pub(super) use children::{ChildTask, Children, Runner};
pub(super) use engine::{Engine, encode_results_into};
pub use imap::ProcessImap;
pub(super) use jobs::{Job, Jobs, start_runners};
pub(super) use map_crew::MapCrew;
