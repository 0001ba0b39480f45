//! A small in-process cache whose entries expire after a fixed time.
//!
//! Several app instances share one database and none is told when another changes something, so
//! these caches hold only what may be a few seconds stale without harm (the storefront's view of
//! a shop, its templates and blocked words), for a bounded time. An instance that changes the data
//! itself forgets its entry at once.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

pub struct TtlCache<K, V> {
    ttl: Duration,
    capacity: usize,
    entries: Mutex<HashMap<K, (Instant, V)>>,
}

impl<K: Eq + Hash, V: Clone> TtlCache<K, V> {
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        TtlCache {
            ttl,
            capacity,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The value, if stored less than the TTL ago.
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        let entries = self.entries.lock();
        let (at, v) = entries.get(key)?;
        (at.elapsed() < self.ttl).then(|| v.clone())
    }

    pub fn insert(&self, key: K, value: V) {
        let mut entries = self.entries.lock();
        if entries.len() >= self.capacity {
            let ttl = self.ttl;
            entries.retain(|_, (at, _)| at.elapsed() < ttl);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(key, (Instant::now(), value));
    }

    /// Forgets every entry `stale` says is affected.
    pub fn forget(&self, stale: impl Fn(&K) -> bool) {
        self.entries.lock().retain(|k, _| !stale(k));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_can_be_forgotten() {
        let c: TtlCache<String, u32> = TtlCache::new(Duration::from_millis(30), 2);
        c.insert("a".into(), 1);
        assert_eq!(c.get("a"), Some(1));
        c.forget(|k| k == "a");
        assert_eq!(c.get("a"), None);
        c.insert("b".into(), 2);
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(c.get("b"), None, "expired");
        c.insert("c".into(), 3);
        c.insert("d".into(), 4);
        c.insert("e".into(), 5);
        assert_eq!(c.get("e"), Some(5), "bounded, newest kept");
    }
}
