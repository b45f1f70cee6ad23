//! `DictProxy<K, V>`: a dict held by a [`Manager`](super::Manager).

use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::client::{Client, decode, encode, unexpected};
use super::wire::{Reply, Request};
use crate::Result;

/// Ties the proxy to its key and value types (invariant, and `Send`/`Sync` whatever they are).
type Marker<K, V> = PhantomData<fn((K, V)) -> (K, V)>;

/// A dict that lives in a [`Manager`](super::Manager) and that every process holding a
/// proxy sees and changes, like Python's `manager.dict()`. Keys are compared by their
/// encoding; the order of insertion is kept.
///
/// # Examples
///
/// ```
/// use paralelo::prelude::*;
///
/// let manager = Manager::new()?;
/// let d = manager.dict::<String, i64>()?;
/// let in_child = d.clone();
/// let p = Process::new(move || in_child.insert("hijo".to_string(), 1).unwrap());
/// p.start()?;
/// p.join()?;
/// assert_eq!(d.items()?, [("hijo".to_string(), 1)]);
/// # Ok::<(), paralelo::Error>(())
/// ```
#[derive(Debug)]
pub struct DictProxy<K, V> {
    client: Client,
    id: u64,
    _type: Marker<K, V>,
}

impl<K, V> Clone for DictProxy<K, V> {
    fn clone(&self) -> Self {
        DictProxy {
            client: self.client.clone(),
            id: self.id,
            _type: PhantomData,
        }
    }
}

impl<K, V> DictProxy<K, V>
where
    K: Serialize + DeserializeOwned,
    V: Serialize + DeserializeOwned,
{
    pub(crate) fn new(client: Client, id: u64) -> Self {
        DictProxy {
            client,
            id,
            _type: PhantomData,
        }
    }

    /// Sets `key` to `value` (Python's `d[key] = value`).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let manager = Manager::new()?;
    /// let d = manager.dict::<String, u32>()?;
    /// d.insert("a".to_string(), 1)?;
    /// d.insert("a".to_string(), 2)?; // replaces
    /// assert_eq!(d.len()?, 1);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Disconnected`](crate::ErrorKind) when the manager is gone;
    /// [`ErrorKind::Serialization`](crate::ErrorKind) when a value cannot be encoded.
    pub fn insert(&self, key: K, value: V) -> Result<()> {
        match self
            .client
            .call(&Request::Insert(self.id, encode(&key)?, encode(&value)?))?
        {
            Reply::Done => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    /// The value of `key`, if present (Python's `d.get(key)`).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let manager = Manager::new()?;
    /// let d = manager.dict::<String, u32>()?;
    /// d.insert("a".to_string(), 1)?;
    /// assert_eq!(d.get(&"a".to_string())?, Some(1));
    /// assert_eq!(d.get(&"b".to_string())?, None);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`insert`](Self::insert).
    pub fn get(&self, key: &K) -> Result<Option<V>> {
        match self.client.call(&Request::Lookup(self.id, encode(key)?))? {
            Reply::Value(v) => v.map(|bytes| decode(&bytes)).transpose(),
            other => Err(unexpected(other)),
        }
    }

    /// Removes `key` and returns its value, if it was present (Python's `d.pop(key, None)`).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let manager = Manager::new()?;
    /// let d = manager.dict::<String, u32>()?;
    /// d.insert("a".to_string(), 1)?;
    /// assert_eq!(d.remove(&"a".to_string())?, Some(1));
    /// assert!(d.is_empty()?);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`insert`](Self::insert).
    pub fn remove(&self, key: &K) -> Result<Option<V>> {
        match self.client.call(&Request::Remove(self.id, encode(key)?))? {
            Reply::Value(v) => v.map(|bytes| decode(&bytes)).transpose(),
            other => Err(unexpected(other)),
        }
    }

    /// True when `key` is present (Python's `key in d`).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let manager = Manager::new()?;
    /// let d = manager.dict::<String, u32>()?;
    /// d.insert("a".to_string(), 1)?;
    /// assert!(d.contains_key(&"a".to_string())?);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`insert`](Self::insert).
    pub fn contains_key(&self, key: &K) -> Result<bool> {
        match self.client.call(&Request::Lookup(self.id, encode(key)?))? {
            Reply::Value(v) => Ok(v.is_some()),
            other => Err(unexpected(other)),
        }
    }

    /// The number of keys (Python's `len(d)`).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let manager = Manager::new()?;
    /// let d = manager.dict::<String, u32>()?;
    /// assert_eq!(d.len()?, 0);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`insert`](Self::insert).
    pub fn len(&self) -> Result<usize> {
        match self.client.call(&Request::Len(self.id))? {
            Reply::Len(n) => Ok(n as usize),
            other => Err(unexpected(other)),
        }
    }

    /// True when the dict has no key.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let manager = Manager::new()?;
    /// let d = manager.dict::<String, u32>()?;
    /// assert!(d.is_empty()?);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`insert`](Self::insert).
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// Every `(key, value)` pair, in insertion order (Python's `list(d.items())`).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let manager = Manager::new()?;
    /// let d = manager.dict::<String, u32>()?;
    /// d.insert("b".to_string(), 2)?;
    /// d.insert("a".to_string(), 1)?;
    /// assert_eq!(d.items()?, [("b".to_string(), 2), ("a".to_string(), 1)]);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`insert`](Self::insert).
    pub fn items(&self) -> Result<Vec<(K, V)>> {
        match self.client.call(&Request::Items(self.id))? {
            Reply::Pairs(pairs) => pairs
                .iter()
                .map(|(k, v)| Ok((decode(k)?, decode(v)?)))
                .collect(),
            other => Err(unexpected(other)),
        }
    }

    /// Inserts every pair of `pairs`, in one step (Python's `update`): a key already
    /// there gets the new value; another process sees all the changes or none.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let manager = Manager::new()?;
    /// let d = manager.dict::<String, u32>()?;
    /// d.insert("a".to_string(), 1)?;
    /// d.update([("a".to_string(), 10), ("b".to_string(), 2)])?;
    /// assert_eq!(d.items()?, [("a".to_string(), 10), ("b".to_string(), 2)]);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Disconnected`](crate::ErrorKind) when the manager is gone;
    /// [`ErrorKind::Serialization`](crate::ErrorKind) when a key or value cannot be encoded.
    pub fn update(&self, pairs: impl IntoIterator<Item = (K, V)>) -> Result<()> {
        let pairs = pairs
            .into_iter()
            .map(|(k, v)| Ok((encode(&k)?, encode(&v)?)))
            .collect::<Result<_>>()?;
        match self.client.call(&Request::InsertMany(self.id, pairs))? {
            Reply::Done => Ok(()),
            other => Err(unexpected(other)),
        }
    }
}
