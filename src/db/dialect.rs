//! The few places where one statement is written differently per backend, each in one helper.
//!
//! - **Row locks.** A read-then-write (a version check before an upsert, a read-modify-write of
//!   a settings row) locks the row on PostgreSQL (`FOR UPDATE`), where several workers and
//!   instances write at once. SQLite has no row locks and needs none: a write transaction
//!   (`BEGIN IMMEDIATE`, see [`super::write_tx`]) already excludes every other writer, so the
//!   same query runs as a plain read.
//! - **Batched inserts.** On PostgreSQL a batch of rows is one statement (one round trip per
//!   chunk); on SQLite it is one statement per row: diesel has no multi-row upsert for SQLite,
//!   and an in-process statement costs microseconds.
//!
//! The lock is passed in by the caller (`|q| q.for_update()`) because diesel does not name the
//! type of its lock modes, so a generic function cannot apply one itself; the insert is a macro
//! because one statement is compiled against a slice of rows (PostgreSQL) and a single row
//! (SQLite), like [`crate::per_backend!`].

use diesel::dsl::Limit;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::query_dsl::LoadQuery;
use diesel::query_dsl::methods::LimitDsl;

use super::DbConnection;

/// The first row of `query`, locked until the end of the transaction on PostgreSQL (`lock` is
/// `|q| q.for_update()`); a plain read on SQLite, whose write transaction excludes other writers.
pub fn first_locked<'q, Q, L, U>(
    conn: &mut DbConnection,
    query: Q,
    lock: impl FnOnce(Q) -> L,
) -> QueryResult<U>
where
    Q: RunQueryDsl<DbConnection> + LimitDsl,
    Limit<Q>: LoadQuery<'q, DbConnection, U>,
    L: RunQueryDsl<PgConnection> + LimitDsl,
    Limit<L>: LoadQuery<'q, PgConnection, U>,
{
    match conn {
        DbConnection::Postgres(pg) => lock(query).first(pg),
        DbConnection::Sqlite(_) => query.first(conn),
    }
}

/// Every row of `query`, locked like [`first_locked`].
pub fn load_locked<'q, Q, L, U>(
    conn: &mut DbConnection,
    query: Q,
    lock: impl FnOnce(Q) -> L,
) -> QueryResult<Vec<U>>
where
    Q: RunQueryDsl<DbConnection> + LoadQuery<'q, DbConnection, U>,
    L: RunQueryDsl<PgConnection> + LoadQuery<'q, PgConnection, U>,
{
    match conn {
        DbConnection::Postgres(pg) => lock(query).load(pg),
        DbConnection::Sqlite(_) => query.load(conn),
    }
}

/// The columns a `Selectable` row reads, as a plain tuple: the SQL of `T::as_select()`, which is
/// typed for one backend, so a query selecting them can go to [`first_locked`] (run on either).
pub fn columns<T: Selectable<diesel::pg::Pg>>() -> T::SelectExpression {
    T::construct_selection()
}

/// Runs one insert statement over a slice of rows: on PostgreSQL once per chunk of at most
/// `per_statement` rows (default: all of them), `$values` being that sub-slice; on SQLite once
/// per row, `$values` being `&row`. `$insert` is written once and evaluates to a
/// `QueryResult<T>`; the whole evaluates to `QueryResult<Vec<T>>`, one `T` per statement run, in
/// row order. An empty slice runs no statement.
///
/// ```ignore
/// dialect::insert_batched!(c, &rows, per_statement = 1000, |c, values| {
///     diesel::insert_into(t::table).values(values).on_conflict(t::id).do_nothing().execute(c)
/// })?;
/// ```
macro_rules! insert_batched {
    ($conn:expr, $rows:expr, |$c:ident, $values:ident| $insert:expr) => {
        $crate::db::dialect::insert_batched!(
            $conn,
            $rows,
            per_statement = usize::MAX,
            |$c, $values| $insert
        )
    };
    ($conn:expr, $rows:expr, per_statement = $n:expr, |$c:ident, $values:ident| $insert:expr) => {{
        let rows = $rows;
        match $conn {
            $crate::db::DbConnection::Postgres($c) => rows
                .chunks($n)
                .map(|$values| $insert)
                .collect::<diesel::QueryResult<Vec<_>>>(),
            $crate::db::DbConnection::Sqlite($c) => rows
                .iter()
                .map(|$values| $insert)
                .collect::<diesel::QueryResult<Vec<_>>>(),
        }
    }};
}
pub(crate) use insert_batched;
