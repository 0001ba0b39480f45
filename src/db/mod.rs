//! One binary, two databases: a `MultiConnection` over SQLite and PostgreSQL, an r2d2 pool that
//! picks the backend from the URL scheme (never by trial), and embedded migrations per backend.

pub mod dialect;
pub mod lease;
pub mod schema;

use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sqlite::SqliteConnection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use time::{OffsetDateTime, PrimitiveDateTime};

use crate::error::{AppError, AppResult};

pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Key of the PostgreSQL advisory lock that serializes migrations across app instances.
const MIGRATION_LOCK_KEY: i64 = 0x4154_454c_4945_5201; // "ATELIER" + 1

#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// `sqlite://PATH` (or `sqlite:PATH`) and `postgres://…` / `postgresql://…`; nothing else.
    pub fn from_url(url: &str) -> Result<Backend, String> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else if let Some(path) = url.strip_prefix("sqlite:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() || path == ":memory:" {
                Err(
                    "sqlite needs a file path (an in-memory database cannot be shared by a pool)"
                        .into(),
                )
            } else {
                Ok(Backend::Sqlite)
            }
        } else {
            Err("must start with sqlite:// or postgres://".into())
        }
    }
}

fn sqlite_path(url: &str) -> &str {
    let path = url.strip_prefix("sqlite:").unwrap_or(url);
    path.strip_prefix("//").unwrap_or(path)
}

#[derive(Debug)]
pub struct ConnManager {
    url: String,
    backend: Backend,
    /// SQLite: pages of WAL after which a committing connection checkpoints it itself (SQLite's
    /// default 1,000; much higher when a background thread checkpoints, see
    /// [`Db::connect_server`]).
    autocheckpoint: u32,
}

impl ConnManager {
    pub fn new(url: &str) -> Result<Self, String> {
        Ok(ConnManager {
            url: url.to_owned(),
            backend: Backend::from_url(url)?,
            autocheckpoint: 1_000,
        })
    }

    fn establish(&self) -> Result<DbConnection, diesel::ConnectionError> {
        match self.backend {
            Backend::Postgres => {
                // libpq uses OpenSSL. Initialized first by openssl-sys, OpenSSL registers no
                // `atexit` cleanup, which otherwise frees its state under threads still using a
                // connection at process exit ("double free or corruption", openssl#3505).
                openssl_sys::init();
                PgConnection::establish(&self.url).map(DbConnection::Postgres)
            }
            Backend::Sqlite => {
                let mut conn = SqliteConnection::establish(sqlite_path(&self.url))?;
                // Per-connection settings: WAL for concurrent readers, a busy timeout instead of
                // immediate SQLITE_BUSY, foreign keys enforced. `synchronous = FULL` fsyncs the
                // log at every commit: a webhook is answered 200 only once it is on disk, so
                // power loss cannot take back a delivery Shopify will not send again (NORMAL
                // survives a killed process but not a lost machine). The inbox commits
                // deliveries in groups, so the fsync is paid once per batch.
                conn.batch_execute(
                    "PRAGMA busy_timeout = 10000;
                     PRAGMA journal_mode = WAL;
                     PRAGMA synchronous = FULL;
                     PRAGMA foreign_keys = ON;
                     PRAGMA temp_store = MEMORY;",
                )
                .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                conn.batch_execute(&format!(
                    "PRAGMA wal_autocheckpoint = {};",
                    self.autocheckpoint
                ))
                .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }
}

impl r2d2::ManageConnection for ConnManager {
    type Connection = DbConnection;
    type Error = diesel::ConnectionError;

    fn connect(&self) -> Result<DbConnection, Self::Error> {
        self.establish()
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), Self::Error> {
        conn.batch_execute("SELECT 1")
            .map_err(diesel::ConnectionError::CouldntSetupConfiguration)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        // A connection given back while still inside a transaction (a panic mid-transaction)
        // is not reused.
        let depth = match conn {
            DbConnection::Postgres(c) => {
                AnsiTransactionManager::transaction_manager_status_mut(c).transaction_depth()
            }
            DbConnection::Sqlite(c) => {
                AnsiTransactionManager::transaction_manager_status_mut(c).transaction_depth()
            }
        };
        !matches!(depth, Ok(None))
    }
}

pub type Pool = r2d2::Pool<ConnManager>;
pub type PooledConn = r2d2::PooledConnection<ConnManager>;

/// Handle to the database shared by HTTP handlers, workers and commands.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
    backend: Backend,
    /// SQLite has one writer at a time, and its busy handler *sleeps* between retries: busy
    /// writers of this process queue on this lock instead, first come first served, so the
    /// inbox intake and the worker alternate (PostgreSQL: none).
    write_lock: Option<std::sync::Arc<parking_lot::FairMutex<()>>>,
    /// SQLite in a server: the background WAL checkpointer (stops with the last handle).
    _checkpoints: Option<std::sync::Arc<WalCheckpoints>>,
}

/// SQLite: WAL pages after which a committing request checkpoints itself when a background
/// thread normally does it (a safety net: ≈ 80 MB).
const SERVER_AUTOCHECKPOINT: u32 = 20_000;
/// How often the background thread checkpoints the WAL.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

impl Db {
    /// Opens the pool and applies pending migrations (serialized across instances).
    pub fn connect(url: &str, pool_size: u32) -> anyhow::Result<Db> {
        Db::open(url, pool_size, false)
    }

    /// [`Db::connect`] for a long-running server. On SQLite the write-ahead log is then
    /// checkpointed by a background thread every 100 ms (passive: it blocks neither readers nor
    /// writers), so a committing request does not copy the log into the database file and
    /// fsync it (SQLite's automatic checkpoint every 1,000 pages, ≈ 14 ms on an 800 MB
    /// database, measured in `benches/recommendations_load.rs`).
    pub fn connect_server(url: &str, pool_size: u32) -> anyhow::Result<Db> {
        Db::open(url, pool_size, true)
    }

    fn open(url: &str, pool_size: u32, background_checkpoints: bool) -> anyhow::Result<Db> {
        let mut manager = ConnManager::new(url).map_err(|m| anyhow::anyhow!("DATABASE_URL {m}"))?;
        if background_checkpoints {
            manager.autocheckpoint = SERVER_AUTOCHECKPOINT;
        }
        let backend = manager.backend;
        let mut conn = manager
            .establish()
            .map_err(|e| anyhow::anyhow!("could not open the database: {e}"))?;
        run_migrations(&mut conn)?;
        drop(conn);
        let pool = r2d2::Pool::builder()
            .max_size(pool_size)
            .min_idle(Some(1.min(pool_size)))
            // A PostgreSQL connection may die with its server (checked before use); a SQLite
            // one is a file handle.
            .test_on_check_out(backend == Backend::Postgres)
            // Under Shopify's 5-second webhook timeout: while the database is down, a delivery
            // gets a 503 (retried by Shopify) rather than no answer at all.
            .connection_timeout(Duration::from_secs(4))
            .build(manager)
            .map_err(|e| anyhow::anyhow!("could not open the database pool: {e}"))?;
        let write_lock = (backend == Backend::Sqlite).then(Default::default);
        let checkpoints = if background_checkpoints && backend == Backend::Sqlite {
            Some(std::sync::Arc::new(
                start_wal_checkpoints(pool.clone(), CHECKPOINT_EVERY)
                    .map_err(|e| anyhow::anyhow!("could not start the WAL checkpointer: {e}"))?,
            ))
        } else {
            None
        };
        Ok(Db {
            pool,
            backend,
            write_lock,
            _checkpoints: checkpoints,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A pooled connection for synchronous callers (commands, tests, blocking workers).
    pub fn conn(&self) -> AppResult<PooledConn> {
        Ok(self.pool.get()?)
    }

    /// Runs `f` on a pooled connection on the blocking thread pool.
    pub async fn run<T, F>(&self, f: F) -> AppResult<T>
    where
        F: FnOnce(&mut DbConnection) -> AppResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get()?;
            f(&mut conn)
        })
        .await
        .map_err(|e| AppError::internal(anyhow::anyhow!("database task failed: {e}")))?
    }

    /// Like [`Db::run`] for the busy write paths (inbox, worker): on SQLite they take turns
    /// through an in-process lock rather than through SQLite's sleeping busy handler.
    pub async fn run_write<T, F>(&self, f: F) -> AppResult<T>
    where
        F: FnOnce(&mut DbConnection) -> AppResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.pool.clone();
        let lock = self.write_lock.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get()?;
            let _turn = lock.as_ref().map(|l| l.lock());
            f(&mut conn)
        })
        .await
        .map_err(|e| AppError::internal(anyhow::anyhow!("database task failed: {e}")))?
    }
}

/// Checkpoints the write-ahead log from a background thread every `every` (passive: never
/// blocks readers or writers). Stops when the returned guard is dropped.
fn start_wal_checkpoints(pool: Pool, every: Duration) -> std::io::Result<WalCheckpoints> {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stop.clone();
    let thread = std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || {
            while !flag.load(std::sync::atomic::Ordering::Acquire) {
                std::thread::park_timeout(every);
                if let Ok(mut conn) = pool.get()
                    && let Err(e) = conn.batch_execute("PRAGMA wal_checkpoint(PASSIVE)")
                {
                    tracing::warn!(error = %e, "WAL checkpoint failed");
                }
            }
        })?;
    Ok(WalCheckpoints {
        stop,
        thread: Some(thread),
    })
}

/// The background checkpointer of [`Db::connect_server`]; stops when dropped.
pub struct WalCheckpoints {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for WalCheckpoints {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Release);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

fn run_migrations(conn: &mut DbConnection) -> anyhow::Result<()> {
    let applied = match conn {
        DbConnection::Postgres(c) => {
            // Several instances may start at once on one database: one migrates, the others wait.
            diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))
                .execute(c)?;
            let result = c
                .run_pending_migrations(POSTGRES_MIGRATIONS)
                .map(|v| v.len());
            diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"))
                .execute(c)?;
            result
        }
        DbConnection::Sqlite(c) => {
            // An exclusive transaction makes a second process wait (busy_timeout) and then find
            // the migrations applied.
            c.exclusive_transaction(|c| {
                c.run_pending_migrations(SQLITE_MIGRATIONS)
                    .map(|v| v.len())
                    .map_err(diesel::result::Error::QueryBuilderError)
            })
            .map_err(|e| e.into())
        }
    }
    .map_err(|e| anyhow::anyhow!("database migration failed: {e}"))?;
    if applied > 0 {
        tracing::info!(applied, "database migrations applied");
    }
    Ok(())
}

/// A write transaction. On SQLite it starts with `BEGIN IMMEDIATE`, so two writers queue on the
/// busy timeout instead of failing when a read lock cannot be upgraded; on PostgreSQL it is a
/// plain transaction.
pub fn write_tx<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    let DbConnection::Sqlite(sqlite) = conn else {
        return conn.transaction(f);
    };
    if AnsiTransactionManager::transaction_manager_status_mut(sqlite)
        .transaction_depth()?
        .is_some()
    {
        // Already inside a transaction: a savepoint keeps the outer lock.
        return conn.transaction(f);
    }
    AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")?;
    match f(conn) {
        Ok(value) => {
            let DbConnection::Sqlite(sqlite) = conn else {
                unreachable!()
            };
            match AnsiTransactionManager::commit_transaction(sqlite) {
                Ok(()) => Ok(value),
                Err(e) => {
                    let _ = AnsiTransactionManager::rollback_transaction(sqlite);
                    Err(e.into())
                }
            }
        }
        Err(e) => {
            let DbConnection::Sqlite(sqlite) = conn else {
                unreachable!()
            };
            let _ = AnsiTransactionManager::rollback_transaction(sqlite);
            Err(e)
        }
    }
}

/// Runs `f` with commits that return before they reach the disk: SQLite's `synchronous =
/// NORMAL` (the log is synced at the next durable commit or checkpoint) and PostgreSQL's
/// `synchronous_commit = off`. Only for writes that are redone from durable state if lost: a
/// power cut may take back the last of them, never corrupt or reorder anything, and the next
/// durable commit makes them durable too. The connection's durability is restored afterwards,
/// also when `f` fails.
pub fn relaxed_commits<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    conn.batch_execute(match conn {
        DbConnection::Sqlite(_) => "PRAGMA synchronous = NORMAL",
        DbConnection::Postgres(_) => "SET synchronous_commit = off",
    })?;
    let result = f(conn);
    durable_commits(conn)?;
    result
}

/// Makes the connection's commits durable again (fsync before the commit returns): the default,
/// restated by the writes whose durability is promised to someone (a webhook's `200`), so no
/// earlier [`relaxed_commits`] on the same pooled connection can weaken them.
pub fn durable_commits(conn: &mut DbConnection) -> QueryResult<()> {
    conn.batch_execute(match conn {
        DbConnection::Sqlite(_) => "PRAGMA synchronous = FULL",
        DbConnection::Postgres(_) => "SET synchronous_commit = on",
    })
}

/// Now, in UTC, cut to microseconds so a value reads back equal on both backends.
pub fn now() -> PrimitiveDateTime {
    let now = OffsetDateTime::now_utc();
    let now = now
        .replace_nanosecond(now.nanosecond() / 1000 * 1000)
        .expect("valid nanosecond");
    PrimitiveDateTime::new(now.date(), now.time())
}

/// RFC 3339 (UTC, `Z`) for JSON responses.
pub fn rfc3339(t: PrimitiveDateTime) -> String {
    t.assume_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .expect("a UTC timestamp always formats")
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Runs the same diesel code against the concrete connection, for what the multi-backend
/// connection cannot express (`ON CONFLICT`, `FOR UPDATE SKIP LOCKED`). The body is compiled
/// once per backend.
#[macro_export]
macro_rules! per_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConnection::Postgres($c) => $body,
            $crate::db::DbConnection::Sqlite($c) => $body,
        }
    };
}
