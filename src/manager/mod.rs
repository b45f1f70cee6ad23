//! [`Manager`]: shared lists and dicts served to forked children over an authenticated
//! local socket.

mod client;
mod dict;
mod list;
#[allow(clippy::module_inception)] // the file is named after its one public type
mod manager;
mod server;
mod wire;

pub use dict::DictProxy;
pub use list::ListProxy;
pub use manager::Manager;

#[cfg(test)]
mod tests;
