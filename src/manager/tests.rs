//! The manager refuses peers without its key and messages over the size cap.

use std::io::Write;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixStream};

use super::Manager;
use super::wire::{self, MAX_MESSAGE};
use crate::ErrorKind;

fn connect(manager: &Manager) -> UnixStream {
    let addr = SocketAddr::from_abstract_name(&manager.address.name).unwrap();
    UnixStream::connect_addr(&addr).unwrap()
}

#[test]
fn a_peer_without_the_key_is_refused() {
    let manager = Manager::new().unwrap();
    let mut stream = connect(&manager);
    let err = wire::authenticate(&mut stream, b"not the key", false).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Disconnected);
    assert!(err.to_string().contains("authentication failed"), "{err}");
    // The real key still works.
    let list = manager.list::<u8>().unwrap();
    list.append(1).unwrap();
    assert_eq!(list.to_vec().unwrap(), [1]);
}

#[test]
fn an_oversized_message_is_refused_before_allocation() {
    let manager = Manager::new().unwrap();
    let mut stream = connect(&manager);
    wire::authenticate(&mut stream, &manager.address.key, false).unwrap();
    // Claim a 1 GiB message: the server must hang up instead of allocating it.
    stream.write_all(&(1u32 << 30).to_le_bytes()).unwrap();
    let reply = wire::recv::<wire::Reply>(&mut stream);
    assert_eq!(reply.unwrap_err().kind(), ErrorKind::Disconnected);
    const { assert!(MAX_MESSAGE < 1 << 30) };
}
