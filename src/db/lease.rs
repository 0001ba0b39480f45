//! Claiming work from a durable queue table under a lease, the same way on every queue that
//! sends something outside (follow-up events, writes back to the store).
//!
//! A queue table has `id`, `state` (`pending` → `sending` → a final state), `attempts`,
//! `next_attempt_at`, `locked_by` and `locked_until`. A worker on any instance claims due rows
//! (pending and due, or sending with an expired lease: their instance died mid-send) by setting
//! them `sending` under its name until the lease ends. On PostgreSQL the claim skips rows another
//! instance is claiming (`FOR UPDATE SKIP LOCKED`), so instances share the queue without
//! waiting on each other; SQLite has one writer, and an immediate transaction makes the claim
//! atomic.

use std::time::Duration;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamp};

use super::{DbConnection, now};

/// Claims up to `limit` due rows of `table`, returning `columns` of each.
pub fn claim<T>(
    conn: &mut DbConnection,
    table: &'static str,
    columns: &'static str,
    worker: &str,
    limit: i64,
    lease: Duration,
) -> QueryResult<Vec<T>>
where
    T: QueryableByName<diesel::pg::Pg> + QueryableByName<diesel::sqlite::Sqlite> + 'static,
{
    let at = now();
    let until = at + lease;
    match conn {
        DbConnection::Postgres(c) => diesel::sql_query(format!(
            "UPDATE {table} SET state = 'sending', locked_by = $1, locked_until = $2, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM {table} \
                 WHERE (state = 'pending' AND next_attempt_at <= $3) OR (state = 'sending' AND locked_until < $3) \
                 ORDER BY next_attempt_at LIMIT $4 FOR UPDATE SKIP LOCKED) \
             RETURNING {columns}"
        ))
        .bind::<Text, _>(worker)
        .bind::<Timestamp, _>(until)
        .bind::<Timestamp, _>(at)
        .bind::<BigInt, _>(limit)
        .load(c),
        DbConnection::Sqlite(c) => c.immediate_transaction(|c| {
            diesel::sql_query(format!(
                "UPDATE {table} SET state = 'sending', locked_by = ?, locked_until = ?, attempts = attempts + 1 \
                 WHERE id IN (SELECT id FROM {table} \
                     WHERE (state = 'pending' AND next_attempt_at <= ?) OR (state = 'sending' AND locked_until < ?) \
                     ORDER BY next_attempt_at LIMIT ?) \
                 RETURNING {columns}"
            ))
            .bind::<Text, _>(worker)
            .bind::<Timestamp, _>(until)
            .bind::<Timestamp, _>(at)
            .bind::<Timestamp, _>(at)
            .bind::<BigInt, _>(limit)
            .load(c)
        }),
    }
}

/// Delay before attempt `attempts + 1`: `base × 2^(attempts − 1)`, at most 6 hours.
pub fn backoff(base: Duration, attempts: i64) -> Duration {
    let factor = 2u32.saturating_pow(attempts.clamp(1, 31) as u32 - 1);
    base.saturating_mul(factor)
        .min(Duration::from_secs(6 * 3600))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let b = Duration::from_secs(30);
        assert_eq!(backoff(b, 1), Duration::from_secs(30));
        assert_eq!(backoff(b, 2), Duration::from_secs(60));
        assert_eq!(backoff(b, 4), Duration::from_secs(240));
        assert_eq!(backoff(b, 60), Duration::from_secs(6 * 3600));
        assert_eq!(backoff(b, 0), Duration::from_secs(30));
    }
}
