//! Messages between processes (and threads): [`Pipe`] / [`Connection`], [`Queue`],
//! [`JoinableQueue`]. Typed, encoded with serde.

pub(crate) mod codec;
mod connection;
pub(crate) mod end_holders;
mod frame_socket;
pub(crate) mod holders;
mod into_message;
mod joinable_queue;
mod parts;
mod pipe;
mod queue;
mod ring;

pub use connection::Connection;
pub use into_message::IntoMessage;
pub use joinable_queue::JoinableQueue;
pub use pipe::Pipe;
pub use queue::Queue;
