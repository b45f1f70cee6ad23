//! `Manager`: a server process… thread, holding lists and dicts that forked children share.

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::client::{Address, Client, unexpected};
use super::server::{Store, serve};
use super::wire::{self, KEY_LEN, Reply, Request};
use super::{DictProxy, ListProxy};
use crate::{Error, ErrorKind, Result};

/// Serves shared lists and dicts to forked children, like Python's
/// `multiprocessing.Manager()`.
///
/// The objects live in the process that created the manager (a server thread there
/// answers requests); children get proxies ([`ListProxy`], [`DictProxy`]) whose every
/// method is a request over a local socket. The socket is abstract (nothing is created on
/// disk) and every connection must prove it holds the manager's random key with an HMAC
/// challenge, both ways, as Python's `multiprocessing.connection` does; messages are
/// capped at 64 MiB. When the manager is gone, proxy calls fail with
/// [`ErrorKind::Disconnected`] instead of waiting.
///
/// # Examples
///
/// ```
/// use paralelo::prelude::*;
///
/// let manager = Manager::new()?;
/// let shared = manager.list::<i32>()?;
/// let in_child = shared.clone();
/// let p = Process::new(move || in_child.append(1).unwrap());
/// p.start()?;
/// p.join()?;
/// assert_eq!(shared.to_vec()?, [1]); // S2-13
/// # Ok::<(), paralelo::Error>(())
/// ```
#[derive(Debug)]
pub struct Manager {
    pub(super) address: Arc<Address>,
    client: Client,
    stop: Arc<AtomicBool>,
    server: Mutex<Option<JoinHandle<()>>>,
    owner_pid: u32,
}

impl Manager {
    /// Starts a manager (its server thread and socket).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let manager = Manager::new()?;
    /// let l = manager.list::<u8>()?;
    /// l.append(1)?;
    /// assert_eq!(l.len()?, 1);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Os`] when the socket or the thread could not be created.
    pub fn new() -> Result<Self> {
        let key = wire::random_bytes(KEY_LEN)?;
        let tag: String = wire::random_bytes(8)?
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let name = format!("paralelo-manager-{}-{tag}", std::process::id()).into_bytes();
        let listener = UnixListener::bind_addr(&SocketAddr::from_abstract_name(&name)?)?;
        let address = Arc::new(Address { name, key });
        let stop = Arc::new(AtomicBool::new(false));
        let (key, flag) = (Arc::new(address.key.clone()), stop.clone());
        let server = std::thread::Builder::new()
            .name("paralelo-manager".into())
            .spawn(move || serve(listener, key, Arc::new(Store::default()), flag))
            .map_err(|e| {
                Error::new(
                    ErrorKind::Os,
                    format!("could not start the manager thread: {e}"),
                )
            })?;
        Ok(Manager {
            client: Client::new(address.clone()),
            address,
            stop,
            server: Mutex::new(Some(server)),
            owner_pid: std::process::id(),
        })
    }

    fn create(&self, request: Request) -> Result<(Client, u64)> {
        match self.client.call(&request)? {
            Reply::Id(id) => Ok((Client::new(self.address.clone()), id)),
            other => Err(unexpected(other)),
        }
    }

    /// A new, empty shared list (Python's `manager.list()`).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let manager = Manager::new()?;
    /// let l = manager.list::<i32>()?;
    /// l.append(1)?;
    /// assert_eq!(l.to_vec()?, [1]);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Disconnected`] when the manager is gone.
    pub fn list<T: Serialize + DeserializeOwned>(&self) -> Result<ListProxy<T>> {
        let (client, id) = self.create(Request::NewList)?;
        Ok(ListProxy::new(client, id))
    }

    /// A new shared list holding the items of `items` (Python's `manager.list(iterable)`).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let manager = Manager::new()?;
    /// let l = manager.list_from(0..5)?;
    /// assert_eq!(l.to_vec()?, [0, 1, 2, 3, 4]);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Disconnected`] when the manager is gone;
    /// [`ErrorKind::Serialization`] when an item cannot be encoded.
    pub fn list_from<T, I>(&self, items: I) -> Result<ListProxy<T>>
    where
        T: Serialize + DeserializeOwned,
        I: IntoIterator<Item = T>,
    {
        let list = self.list()?;
        list.extend(items)?;
        Ok(list)
    }

    /// A new shared dict holding the pairs of `pairs` (Python's `manager.dict(iterable)`).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let manager = Manager::new()?;
    /// let d = manager.dict_from([("a".to_string(), 1), ("b".to_string(), 2)])?;
    /// assert_eq!(d.get(&"b".to_string())?, Some(2));
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`list_from`](Self::list_from).
    pub fn dict_from<K, V, I>(&self, pairs: I) -> Result<DictProxy<K, V>>
    where
        K: Serialize + DeserializeOwned,
        V: Serialize + DeserializeOwned,
        I: IntoIterator<Item = (K, V)>,
    {
        let dict = self.dict()?;
        dict.update(pairs)?;
        Ok(dict)
    }

    /// A new, empty shared dict (Python's `manager.dict()`).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let manager = Manager::new()?;
    /// let d = manager.dict::<String, u32>()?;
    /// d.insert("uno".to_string(), 1)?;
    /// assert_eq!(d.get(&"uno".to_string())?, Some(1));
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Disconnected`] when the manager is gone.
    pub fn dict<K, V>(&self) -> Result<DictProxy<K, V>>
    where
        K: Serialize + DeserializeOwned,
        V: Serialize + DeserializeOwned,
    {
        let (client, id) = self.create(Request::NewDict)?;
        Ok(DictProxy::new(client, id))
    }

    /// Stops the server (Python's `shutdown()`): proxies fail with
    /// [`ErrorKind::Disconnected`] from then on. Dropping the manager does the same.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let manager = Manager::new()?;
    /// let l = manager.list::<u8>()?;
    /// manager.shutdown();
    /// assert_eq!(l.len().unwrap_err().kind(), ErrorKind::Disconnected);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    pub fn shutdown(&self) {
        if std::process::id() != self.owner_pid {
            return; // a forked child's copy: the server is not here
        }
        self.stop.store(true, Ordering::Release);
        let server = self.server.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(server) = server {
            let _ = server.join();
        }
    }
}

impl Drop for Manager {
    fn drop(&mut self) {
        self.shutdown();
    }
}
