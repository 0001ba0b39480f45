//! A small in-process cache whose entries expire after a fixed time.
//!
//! Several app instances share one database and none is told when another changes something, so
//! these caches hold only what may be a few seconds stale without harm (the storefront's view of
//! a shop, its templates and blocked words), for a bounded time. An instance that changes the data
//! itself forgets its entry at once.

use std::hash::Hash;
use std::time::{Duration, Instant};

/// Entries live at most `ttl`; past `capacity` entries the least useful ones are evicted
/// (`quick_cache`'s S3-FIFO: one-off entries go first, entries read again stay), never the
/// whole cache at once.
pub struct TtlCache<K, V> {
    ttl: Duration,
    entries: quick_cache::sync::Cache<K, (Instant, V)>,
}

impl<K: Eq + Hash + Clone, V: Clone> TtlCache<K, V> {
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        TtlCache {
            ttl,
            entries: quick_cache::sync::Cache::new(capacity.max(1)),
        }
    }

    /// The value, if stored less than the TTL ago.
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        let (at, v) = self.entries.get(key)?;
        (at.elapsed() < self.ttl).then_some(v)
    }

    pub fn insert(&self, key: K, value: V) {
        self.entries.insert(key, (Instant::now(), value));
    }

    /// Forgets one entry.
    pub fn remove<Q>(&self, key: &Q)
    where
        K: std::borrow::Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        self.entries.remove(key);
    }

    /// Forgets every entry `stale` says is affected.
    pub fn forget(&self, stale: impl Fn(&K) -> bool) {
        self.entries.retain(|k, _| !stale(k));
    }

    /// Forgets every entry `stale` says is affected, judged by key and value.
    pub fn forget_where(&self, stale: impl Fn(&K, &V) -> bool) {
        self.entries.retain(|k, (_, v)| !stale(k, v));
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
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
        for i in 0..1_000 {
            c.insert(format!("k{i}"), i);
        }
        assert!(c.len() <= 10, "bounded: {}", c.len());
        assert_eq!(c.get("k999"), Some(999), "the newest is kept");
    }
}
