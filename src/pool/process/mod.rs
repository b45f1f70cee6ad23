//! The process pool's engine: which route a call takes (`route`), the children forked
//! per task or per call, the persistent crew, and what crosses back from them. The
//! public face is [`Processes`](super::Processes); `README.md` here says which call takes
//! which route and why.

mod children;
mod chunk_workers;
mod crew;
mod engine;
mod frame;
mod imap;
mod jobs;
mod route;

pub(super) use children::{ChildTask, Children, Runner};
pub(super) use crew::Crew;
pub(super) use engine::{Engine, encode_results_into};
pub use imap::ProcessImap;
pub(super) use jobs::{Job, Jobs, start_runners};
