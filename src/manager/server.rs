//! The manager's server: threads of the process that created the [`Manager`](super::Manager),
//! holding the shared lists and dicts.

use std::collections::HashMap;
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::wire::{self, Reply, Request};

enum Object {
    List(Vec<Vec<u8>>),
    /// Insertion order kept, as in Python's dict.
    Dict(Vec<(Vec<u8>, Vec<u8>)>),
}

#[derive(Default)]
pub(crate) struct Store {
    objects: Mutex<HashMap<u64, Object>>,
    next_id: Mutex<u64>,
    /// How many times each list changed (taken after `objects`, never alone).
    versions: Mutex<HashMap<u64, u64>>,
}

/// Serves connections until `stop` is set.
pub(crate) fn serve(
    listener: UnixListener,
    key: Arc<Vec<u8>>,
    store: Arc<Store>,
    stop: Arc<AtomicBool>,
) {
    let _ = listener.set_nonblocking(true);
    let mut open: Vec<UnixStream> = Vec::new();
    while !stop.load(Ordering::Acquire) {
        match listener.accept() {
            Ok((stream, _)) => {
                if let Ok(copy) = stream.try_clone() {
                    open.push(copy);
                }
                let (key, store) = (key.clone(), store.clone());
                let _ = std::thread::Builder::new()
                    .name("paralelo-manager-conn".into())
                    .spawn(move || handle(stream, &key, &store));
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    // Shut down: proxies still connected get end of file, and new ones find no socket.
    for stream in open {
        let _ = stream.shutdown(std::net::Shutdown::Both);
    }
}

fn handle(mut stream: UnixStream, key: &[u8], store: &Store) {
    let _ = stream.set_nonblocking(false);
    // An unauthenticated peer gets a few seconds to answer, then the door closes.
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    if wire::authenticate(&mut stream, key, true).is_err() {
        let _ = stream.shutdown(std::net::Shutdown::Both);
        return;
    }
    let _ = stream.set_read_timeout(None);
    while let Ok(request) = wire::recv::<Request>(&mut stream) {
        let reply = store.apply(request);
        if wire::send(&mut stream, &reply).is_err() {
            break;
        }
    }
    // Refused (bad key, oversized or garbled message) or done: hang up for good, even
    // though `serve` keeps a copy of the socket to close at shutdown.
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

fn index(len: usize, i: i64) -> Option<usize> {
    let i = if i < 0 { len as i64 + i } else { i };
    (0..len as i64).contains(&i).then_some(i as usize)
}

fn out_of_range(i: i64, len: usize) -> Reply {
    Reply::Failed(format!(
        "list index {i} out of range (length {len}; Python raises IndexError)"
    ))
}

impl Store {
    fn apply(&self, request: Request) -> Reply {
        let new = |object| {
            let id = {
                let mut next = self.next_id.lock().unwrap_or_else(|p| p.into_inner());
                *next += 1;
                *next
            };
            self.objects
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(id, object);
            Reply::Id(id)
        };
        match request {
            Request::NewList => return new(Object::List(Vec::new())),
            Request::NewDict => return new(Object::Dict(Vec::new())),
            _ => {}
        }
        let mut objects = self.objects.lock().unwrap_or_else(|p| p.into_inner());
        let id = match &request {
            Request::Append(id, _)
            | Request::Get(id, _)
            | Request::Set(id, _, _)
            | Request::Pop(id)
            | Request::Len(id)
            | Request::Items(id)
            | Request::Insert(id, _, _)
            | Request::Lookup(id, _)
            | Request::Remove(id, _)
            | Request::Extend(id, _)
            | Request::Reverse(id)
            | Request::Snapshot(id)
            | Request::ReplaceIf(id, _, _)
            | Request::InsertMany(id, _) => *id,
            Request::NewList | Request::NewDict => unreachable!("handled above"),
        };
        let Some(object) = objects.get_mut(&id) else {
            return Reply::Failed(format!("the manager has no object {id}"));
        };
        let mut versions = self.versions.lock().unwrap_or_else(|p| p.into_inner());
        let version = versions.entry(id).or_insert(0);
        let changes = !matches!(
            request,
            Request::Get(..)
                | Request::Len(_)
                | Request::Items(_)
                | Request::Lookup(..)
                | Request::Snapshot(_)
        );
        if let Request::ReplaceIf(_, seen, _) = &request {
            if *seen != *version {
                return Reply::Stale;
            }
        }
        if changes {
            *version += 1;
        }
        match (object, request) {
            (Object::List(l), Request::Extend(_, items)) => {
                l.extend(items);
                Reply::Done
            }
            (Object::List(l), Request::Reverse(_)) => {
                l.reverse();
                Reply::Done
            }
            (Object::List(l), Request::Snapshot(_)) => Reply::Snapshot(*version, l.clone()),
            (Object::List(l), Request::ReplaceIf(_, _, items)) => {
                *l = items;
                Reply::Done
            }
            (Object::Dict(d), Request::InsertMany(_, pairs)) => {
                for (k, v) in pairs {
                    match d.iter_mut().find(|(key, _)| *key == k) {
                        Some(entry) => entry.1 = v,
                        None => d.push((k, v)),
                    }
                }
                Reply::Done
            }
            (Object::List(l), Request::Append(_, v)) => {
                l.push(v);
                Reply::Done
            }
            (Object::List(l), Request::Get(_, i)) => match index(l.len(), i) {
                Some(i) => Reply::Value(Some(l[i].clone())),
                None => out_of_range(i, l.len()),
            },
            (Object::List(l), Request::Set(_, i, v)) => match index(l.len(), i) {
                Some(i) => {
                    l[i] = v;
                    Reply::Done
                }
                None => out_of_range(i, l.len()),
            },
            (Object::List(l), Request::Pop(_)) => Reply::Value(l.pop()),
            (Object::List(l), Request::Len(_)) => Reply::Len(l.len() as u64),
            (Object::List(l), Request::Items(_)) => Reply::Items(l.clone()),
            (Object::Dict(d), Request::Insert(_, k, v)) => {
                match d.iter_mut().find(|(key, _)| *key == k) {
                    Some(entry) => entry.1 = v,
                    None => d.push((k, v)),
                }
                Reply::Done
            }
            (Object::Dict(d), Request::Lookup(_, k)) => {
                Reply::Value(d.iter().find(|(key, _)| *key == k).map(|(_, v)| v.clone()))
            }
            (Object::Dict(d), Request::Remove(_, k)) => {
                let at = d.iter().position(|(key, _)| *key == k);
                Reply::Value(at.map(|i| d.remove(i).1))
            }
            (Object::Dict(d), Request::Len(_)) => Reply::Len(d.len() as u64),
            (Object::Dict(d), Request::Items(_)) => Reply::Pairs(d.clone()),
            _ => Reply::Failed(format!("object {id} does not support this operation")),
        }
    }
}
