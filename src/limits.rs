//! Per-client allowances for what one storefront visitor may send (events, uploads), in a fixed
//! amount of memory whatever the number of visitors.
//!
//! A [`RateSketch`] is a count-min sketch of fixed windows: each client key is hashed (with a
//! per-process random seed, so a visitor cannot choose keys that collide with someone else's) to
//! one slot in each of a few rows, and a request is allowed while the smallest of its counters is
//! within the limit. Memory is `rows × slots × 8` bytes from the start; two clients that share a
//! slot in every row share an allowance, which only makes the limit stricter for them. Counters
//! are atomics: no lock is taken, so a flood from one client does not serialize everyone else.
//!
//! A sketch counts for one instance only. An [`Allowance`] makes the limit hold across every
//! instance on one database: the local sketch is the first filter (a flood beyond the allowance
//! is refused in memory and never reaches the database), and what it admits is counted in a
//! shared window in the database, one upsert per request, which has the last word. Behind N
//! instances a visitor then gets the allowance once in total, not N times.

use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use crate::db::{Db, DbConnection};

const ROWS: usize = 3;

pub struct RateSketch {
    slots: Box<[AtomicU64]>,
    per_row: usize,
    window: Duration,
    started: Instant,
    seeds: [std::collections::hash_map::RandomState; ROWS],
}

impl RateSketch {
    /// `slots_per_row` is rounded up to a power of two.
    pub fn new(slots_per_row: usize, window: Duration) -> Self {
        let per_row = slots_per_row.max(64).next_power_of_two();
        Self {
            slots: (0..per_row * ROWS).map(|_| AtomicU64::new(0)).collect(),
            per_row,
            window,
            started: Instant::now(),
            seeds: Default::default(),
        }
    }

    /// Bytes held, fixed at construction.
    pub fn memory_bytes(&self) -> usize {
        self.slots.len() * std::mem::size_of::<AtomicU64>()
    }

    /// Counts one request of `key`; false once the key sent more than `limit` in the current
    /// window (and the refused request is not counted, so a client that keeps trying is let in
    /// again when the window turns).
    pub fn allow(&self, key: &impl Hash, limit: u32) -> bool {
        let window = (self.started.elapsed().as_millis() / self.window.as_millis().max(1)) as u64;
        let window = (window & 0xffff_ffff) as u32;
        let indexes: [usize; ROWS] = std::array::from_fn(|row| {
            let h = self.seeds[row].hash_one(key);
            row * self.per_row + (h as usize & (self.per_row - 1))
        });
        let current = |i: usize| {
            let v = self.slots[i].load(Ordering::Relaxed);
            if (v >> 32) as u32 == window {
                v as u32
            } else {
                0
            }
        };
        let least = indexes.iter().map(|&i| current(i)).min().unwrap_or(0);
        if least >= limit {
            return false;
        }
        // Conservative update: only the counters at the minimum grow, so clients sharing a slot
        // in one row inflate each other's estimate less.
        for &i in &indexes {
            let _ = self.slots[i].fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                let count = if (v >> 32) as u32 == window {
                    v as u32
                } else {
                    0
                };
                (count <= least).then(|| (u64::from(window) << 32) | u64::from(count + 1))
            });
        }
        true
    }
}

/// A per-visitor allowance shared by every instance on one database: a [`RateSketch`] in front
/// of a windowed counter in the `visitor_allowances` table.
pub struct Allowance {
    /// Names the limit in the stored key, so two allowances never share a counter.
    scope: &'static str,
    local: RateSketch,
    window: Duration,
    /// Key of the stored visitor hashes: the table holds no address or customer id, and a
    /// visitor cannot pick keys that collide with someone else's.
    key: [u8; 32],
}

impl Allowance {
    pub fn new(scope: &'static str, slots_per_row: usize, window: Duration, key: [u8; 32]) -> Self {
        Allowance {
            scope,
            local: RateSketch::new(slots_per_row, window),
            window,
            key,
        }
    }

    /// Bytes held in memory, fixed at construction.
    pub fn memory_bytes(&self) -> usize {
        self.local.memory_bytes()
    }

    /// Counts one request of `client`; false once it sent more than `limit` in its current
    /// window, on this instance or on all of them together. If the shared count cannot be
    /// reached (the database is down), this instance's own count decides: the request would fail
    /// on its own write anyway, and a visitor still gets no more than the limit per instance.
    pub async fn allow(&self, db: &Db, client: &impl Hash, limit: u32) -> bool {
        if !self.local.allow(client, limit) {
            return false;
        }
        let key = self.stored_key(client);
        let window_ms = self.window.as_millis() as i64;
        match db
            .run_write(move |c| Ok(count_shared(c, &key, window_ms, unix_ms())?))
            .await
        {
            Ok(admitted) => admitted <= i64::from(limit),
            Err(e) => {
                tracing::warn!(error = ?e, scope = self.scope, "shared visitor allowance unavailable; this instance's count decides");
                true
            }
        }
    }

    /// The visitor's key in the table: a keyed hash of the scope and of what `client` hashes.
    fn stored_key(&self, client: &impl Hash) -> String {
        /// Collects what a value feeds its hasher: the same bytes on every instance (unlike the
        /// sketch's randomly seeded hashers).
        struct Bytes(Vec<u8>);
        impl Hasher for Bytes {
            fn finish(&self) -> u64 {
                0
            }
            fn write(&mut self, bytes: &[u8]) {
                self.0.extend_from_slice(bytes);
            }
        }
        let mut bytes = Bytes(self.scope.as_bytes().to_vec());
        bytes.0.push(0);
        client.hash(&mut bytes);
        hex::encode(&crate::crypto::hmac_sha256(&self.key, &bytes.0)[..16])
    }
}

fn unix_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// Counts one admitted request of `key` in its shared window and returns the count so far, in one
/// atomic statement: a window that has ended starts again at 1, ending `window_ms` later.
fn count_shared(c: &mut DbConnection, key: &str, window_ms: i64, now_ms: i64) -> QueryResult<i64> {
    #[derive(QueryableByName)]
    struct Admitted {
        #[diesel(sql_type = BigInt)]
        admitted: i64,
    }
    const UPSERT: &str = "INSERT INTO visitor_allowances (client_key, admitted, window_ends_at) VALUES ($1, 1, $2) \
        ON CONFLICT (client_key) DO UPDATE SET \
          admitted = CASE WHEN visitor_allowances.window_ends_at <= $3 THEN 1 ELSE visitor_allowances.admitted + 1 END, \
          window_ends_at = CASE WHEN visitor_allowances.window_ends_at <= $3 THEN excluded.window_ends_at ELSE visitor_allowances.window_ends_at END \
        RETURNING admitted";
    macro_rules! run {
        ($c:expr, $sql:expr) => {
            diesel::sql_query($sql)
                .bind::<Text, _>(key)
                .bind::<BigInt, _>(now_ms + window_ms)
                .bind::<BigInt, _>(now_ms)
                .get_result::<Admitted>($c)
                .map(|row| row.admitted)
        };
    }
    // A counter need not survive power loss (a lost count only lets a visitor in again), so its
    // commit skips the fsync a delivery's commit pays.
    crate::db::relaxed_commits(c, |c| match c {
        DbConnection::Postgres(pg) => run!(pg, UPSERT),
        DbConnection::Sqlite(lite) => run!(lite, UPSERT.replace('$', "?")),
    })
}

/// Deletes shared windows that have ended. Idempotent, safe on several instances.
pub fn purge_allowances(c: &mut DbConnection) -> QueryResult<usize> {
    use crate::db::schema::visitor_allowances as v;
    diesel::delete(v::table.filter(v::window_ends_at.le(unix_ms()))).execute(c)
}

/// Who a storefront request comes from, for allowances: the logged-in customer Shopify signed,
/// else the visitor's address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Client {
    Customer(i64),
    Address(std::net::IpAddr),
    Unknown,
}

/// The visitor's address: Shopify's app proxy appends the address it saw to `X-Forwarded-For`,
/// so the trustworthy entry is the last one, after skipping the `trusted_hops` entries that load
/// balancers in front of Atelier appended. Entries further left are whatever the visitor sent.
pub fn client_address(
    forwarded_for: Option<&str>,
    peer: Option<std::net::IpAddr>,
    trusted_hops: usize,
) -> Option<std::net::IpAddr> {
    match forwarded_for {
        Some(list) => list
            .rsplit(',')
            .nth(trusted_hops)
            .and_then(|entry| entry.trim().parse().ok())
            .or(peer),
        None => peer,
    }
}

/// The address of a visitor whose browser calls Atelier directly (the web pixel), not through
/// Shopify's proxy: with no load balancer in front, the peer itself; behind `trusted_hops` of
/// them, the entry the outermost one appended (the `trusted_hops`-th from the right). Entries
/// further left are whatever the visitor sent.
pub fn direct_client_address(
    forwarded_for: Option<&str>,
    peer: Option<std::net::IpAddr>,
    trusted_hops: usize,
) -> Option<std::net::IpAddr> {
    match (trusted_hops, forwarded_for) {
        (0, _) | (_, None) => peer,
        (hops, Some(list)) => list
            .rsplit(',')
            .nth(hops - 1)
            .and_then(|entry| entry.trim().parse().ok())
            .or(peer),
    }
}

impl Client {
    /// The key a sketch counts under, scoped to one shop (visitors of two shops never share).
    pub fn keyed<'a>(&'a self, shop_id: &'a str) -> impl Hash + 'a {
        struct Keyed<'a>(&'a str, &'a Client);
        impl Hash for Keyed<'_> {
            fn hash<H: Hasher>(&self, state: &mut H) {
                self.0.hash(state);
                match self.1 {
                    // A /64 is what one IPv6 subscriber usually holds: counting per address would
                    // let one visitor rotate through 2^64 of them.
                    Client::Address(std::net::IpAddr::V6(a)) => {
                        (6u8, u64::from_be_bytes(a.octets()[..8].try_into().unwrap())).hash(state)
                    }
                    other => other.hash(state),
                }
            }
        }
        Keyed(shop_id, self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_key_has_its_own_allowance_in_fixed_memory() {
        let s = RateSketch::new(65_536, Duration::from_secs(60));
        let before = s.memory_bytes();
        for _ in 0..5 {
            assert!(s.allow(&"a", 5));
        }
        assert!(!s.allow(&"a", 5), "the sixth in the window");
        assert!(s.allow(&"b", 5), "another client is not affected");
        // A flood of distinct keys neither grows the sketch nor locks out a quiet client
        // beyond its own limit.
        for i in 0..20_000u32 {
            s.allow(&i, 5);
        }
        assert_eq!(s.memory_bytes(), before);
        let mut quiet = 0;
        for _ in 0..5 {
            quiet += s.allow(&"quiet", 5) as u32;
        }
        // Collisions in all three rows are what could eat into it: rare at this load.
        assert!(
            quiet >= 3,
            "a new client keeps (most of) its allowance: {quiet}"
        );
    }

    #[test]
    fn the_window_turns() {
        let s = RateSketch::new(64, Duration::from_millis(50));
        assert!(s.allow(&1, 1));
        assert!(!s.allow(&1, 1));
        std::thread::sleep(Duration::from_millis(60));
        assert!(s.allow(&1, 1));
    }

    #[test]
    fn the_address_is_the_one_shopify_appended() {
        let peer = Some("10.0.0.9".parse().unwrap());
        let ip = |s: &str| Some(s.parse().unwrap());
        assert_eq!(client_address(None, peer, 0), peer);
        assert_eq!(
            client_address(Some("6.6.6.6, 203.0.113.5"), peer, 0),
            ip("203.0.113.5"),
            "the visitor's own entry on the left is ignored"
        );
        assert_eq!(
            client_address(Some("203.0.113.5, 10.1.1.1"), peer, 1),
            ip("203.0.113.5"),
            "one load balancer's entry skipped"
        );
        assert_eq!(client_address(Some("garbage"), peer, 0), peer);
    }

    #[test]
    fn a_direct_visitor_is_the_peer_or_what_the_outermost_balancer_saw() {
        let peer = Some("10.0.0.9".parse().unwrap());
        let ip = |s: &str| Some(s.parse().unwrap());
        assert_eq!(
            direct_client_address(Some("6.6.6.6"), peer, 0),
            peer,
            "no balancer: the header is the visitor's own"
        );
        assert_eq!(
            direct_client_address(Some("6.6.6.6, 203.0.113.5"), peer, 1),
            ip("203.0.113.5")
        );
        assert_eq!(
            direct_client_address(Some("6.6.6.6, 203.0.113.5, 10.1.1.1"), peer, 2),
            ip("203.0.113.5")
        );
        assert_eq!(direct_client_address(None, peer, 1), peer);
    }

    #[test]
    fn ipv6_addresses_of_one_subscriber_share_an_allowance() {
        let s = RateSketch::new(4096, Duration::from_secs(60));
        let a = Client::Address("2001:db8:1:2::1".parse().unwrap());
        let b = Client::Address("2001:db8:1:2:ffff::7".parse().unwrap());
        assert!(s.allow(&a.keyed("shop"), 1));
        assert!(!s.allow(&b.keyed("shop"), 1), "same /64");
        assert!(s.allow(&b.keyed("other-shop"), 1), "another shop");
    }
}
