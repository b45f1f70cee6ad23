//! `ListProxy<T>`: a list held by a [`Manager`](super::Manager).

use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::client::{Client, decode, encode, unexpected};
use super::wire::{Reply, Request};
use crate::Result;

/// A list that lives in a [`Manager`](super::Manager) and that every process holding a
/// proxy sees and changes, like Python's `manager.list()`.
///
/// Each method is one request to the manager. Clone the proxy to give it to a thread or a
/// process: clones refer to the same list.
///
/// # Examples
///
/// ```
/// use paralelo::prelude::*;
///
/// let manager = Manager::new()?;
/// let l = manager.list::<String>()?;
/// l.append("a".to_string())?;
/// l.append("b".to_string())?;
/// assert_eq!(l.len()?, 2);
/// assert_eq!(l.get(1)?, "b");
/// # Ok::<(), paralelo::Error>(())
/// ```
#[derive(Debug)]
pub struct ListProxy<T> {
    client: Client,
    id: u64,
    _type: PhantomData<fn(T) -> T>,
}

impl<T> Clone for ListProxy<T> {
    fn clone(&self) -> Self {
        ListProxy {
            client: self.client.clone(),
            id: self.id,
            _type: PhantomData,
        }
    }
}

impl<T: Serialize + DeserializeOwned> ListProxy<T> {
    pub(crate) fn new(client: Client, id: u64) -> Self {
        ListProxy {
            client,
            id,
            _type: PhantomData,
        }
    }

    /// Adds `item` at the end (Python's `append`).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let manager = Manager::new()?;
    /// let l = manager.list::<i32>()?;
    /// l.append(1)?;
    /// l.append(2)?;
    /// assert_eq!(l.to_vec()?, [1, 2]);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Disconnected`](crate::ErrorKind) when the manager is gone;
    /// [`ErrorKind::Serialization`](crate::ErrorKind) when `item` cannot be encoded.
    pub fn append(&self, item: T) -> Result<()> {
        match self
            .client
            .call(&Request::Append(self.id, encode(&item)?))?
        {
            Reply::Done => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    /// The item at `index` (Python's `l[index]`).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let manager = Manager::new()?;
    /// let l = manager.list::<i32>()?;
    /// l.append(5)?;
    /// assert_eq!(l.get(0)?, 5);
    /// assert!(l.get(1).is_err());
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`](crate::ErrorKind) when `index` is out of range;
    /// [`ErrorKind::Disconnected`](crate::ErrorKind) when the manager is gone.
    pub fn get(&self, index: usize) -> Result<T> {
        match self.client.call(&Request::Get(self.id, index as i64))? {
            Reply::Value(Some(bytes)) => decode(&bytes),
            other => Err(unexpected(other)),
        }
    }

    /// Replaces the item at `index` (Python's `l[index] = item`).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let manager = Manager::new()?;
    /// let l = manager.list::<i32>()?;
    /// l.append(5)?;
    /// l.set(0, 6)?;
    /// assert_eq!(l.get(0)?, 6);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`get`](Self::get).
    pub fn set(&self, index: usize, item: T) -> Result<()> {
        match self
            .client
            .call(&Request::Set(self.id, index as i64, encode(&item)?))?
        {
            Reply::Done => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    /// Removes and returns the last item, if any (Python's `pop()`).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let manager = Manager::new()?;
    /// let l = manager.list::<i32>()?;
    /// l.append(5)?;
    /// assert_eq!(l.pop()?, Some(5));
    /// assert_eq!(l.pop()?, None);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Disconnected`](crate::ErrorKind) when the manager is gone.
    pub fn pop(&self) -> Result<Option<T>> {
        match self.client.call(&Request::Pop(self.id))? {
            Reply::Value(v) => v.map(|bytes| decode(&bytes)).transpose(),
            other => Err(unexpected(other)),
        }
    }

    /// The number of items (Python's `len(l)`).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let manager = Manager::new()?;
    /// let l = manager.list::<i32>()?;
    /// assert_eq!(l.len()?, 0);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Disconnected`](crate::ErrorKind) when the manager is gone.
    pub fn len(&self) -> Result<usize> {
        match self.client.call(&Request::Len(self.id))? {
            Reply::Len(n) => Ok(n as usize),
            other => Err(unexpected(other)),
        }
    }

    /// True when the list has no item.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let manager = Manager::new()?;
    /// let l = manager.list::<i32>()?;
    /// assert!(l.is_empty()?);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`len`](Self::len).
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// A copy of every item, in order (Python's `list(l)` or `l[:]`).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let manager = Manager::new()?;
    /// let l = manager.list::<i32>()?;
    /// let in_child = l.clone();
    /// let p = Process::new(move || in_child.append(1).unwrap());
    /// p.start()?;
    /// p.join()?;
    /// assert_eq!(l.to_vec()?, [1]);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`len`](Self::len).
    pub fn to_vec(&self) -> Result<Vec<T>> {
        match self.client.call(&Request::Items(self.id))? {
            Reply::Items(items) => items.iter().map(|b| decode(b)).collect(),
            other => Err(unexpected(other)),
        }
    }

    /// Appends every item of `items`, in one step (Python's `extend`): another process
    /// sees all of them or none.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let manager = Manager::new()?;
    /// let l = manager.list::<i32>()?;
    /// l.extend(1..=3)?;
    /// l.extend([10, 20])?;
    /// assert_eq!(l.to_vec()?, [1, 2, 3, 10, 20]);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`append`](Self::append).
    pub fn extend(&self, items: impl IntoIterator<Item = T>) -> Result<()> {
        let items = items
            .into_iter()
            .map(|v| encode(&v))
            .collect::<Result<_>>()?;
        match self.client.call(&Request::Extend(self.id, items))? {
            Reply::Done => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    /// Reverses the list in place (Python's `reverse`).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let manager = Manager::new()?;
    /// let l = manager.list_from([1, 2, 3])?;
    /// l.reverse()?;
    /// assert_eq!(l.to_vec()?, [3, 2, 1]);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`len`](Self::len).
    pub fn reverse(&self) -> Result<()> {
        match self.client.call(&Request::Reverse(self.id))? {
            Reply::Done => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    /// Sorts the list in place (Python's `sort()`), as one step: a change made meanwhile
    /// by another process is never lost (the sort starts again on the new items).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let manager = Manager::new()?;
    /// let l = manager.list_from(["pera", "ananá", "manzana"].map(String::from))?;
    /// l.sort()?;
    /// assert_eq!(l.to_vec()?, ["ananá", "manzana", "pera"]);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`len`](Self::len); [`ErrorKind::Serialization`](crate::ErrorKind) when an item
    /// does not decode as a `T`.
    pub fn sort(&self) -> Result<()>
    where
        T: Ord,
    {
        self.sort_by(T::cmp)
    }

    /// Sorts the list in place with `compare`, as [`sort`](Self::sort) (Python's
    /// `sort(key=…)`: `l.sort_by(|a, b| key(a).cmp(&key(b)))`).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let manager = Manager::new()?;
    /// let l = manager.list_from([3, 1, 2])?;
    /// l.sort_by(|a, b| b.cmp(a)) ?; // reverse=True
    /// assert_eq!(l.to_vec()?, [3, 2, 1]);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`sort`](Self::sort).
    pub fn sort_by(&self, mut compare: impl FnMut(&T, &T) -> std::cmp::Ordering) -> Result<()> {
        loop {
            let (version, items) = match self.client.call(&Request::Snapshot(self.id))? {
                Reply::Snapshot(version, items) => (version, items),
                other => return Err(unexpected(other)),
            };
            let mut values = items
                .iter()
                .map(|b| decode::<T>(b))
                .collect::<Result<Vec<T>>>()?;
            values.sort_by(&mut compare);
            let sorted = values.iter().map(encode).collect::<Result<_>>()?;
            match self
                .client
                .call(&Request::ReplaceIf(self.id, version, sorted))?
            {
                Reply::Done => return Ok(()),
                Reply::Stale => continue, // changed meanwhile: sort the new items
                other => return Err(unexpected(other)),
            }
        }
    }
}
