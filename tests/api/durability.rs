//! A webhook is answered `200` only once it would survive power loss: the server's database
//! connections commit durably on both backends.

use diesel::RunQueryDsl;

use crate::helpers::*;

#[derive(diesel::QueryableByName)]
struct Setting {
    #[diesel(sql_type = diesel::sql_types::Text)]
    value: String,
}

#[tokio::test]
async fn the_servers_commits_reach_the_disk_before_they_are_acknowledged() {
    use atelier::db::DbConnection;
    let app = spawn_app().await;
    let mut conn = app.state.db.conn().unwrap();
    match &mut *conn {
        // 2 = FULL: the write-ahead log is synced at every commit (NORMAL, 1, only at
        // checkpoints: a lost machine could lose the last acknowledged deliveries).
        DbConnection::Sqlite(c) => {
            let v: Vec<Setting> = diesel::sql_query(
                "SELECT CAST(synchronous AS TEXT) AS value FROM pragma_synchronous",
            )
            .load(c)
            .unwrap();
            assert_eq!(v[0].value, "2");
        }
        DbConnection::Postgres(c) => {
            let v: Vec<Setting> = diesel::sql_query(
                "SELECT setting AS value FROM pg_settings WHERE name = 'synchronous_commit'",
            )
            .load(c)
            .unwrap();
            assert_eq!(v[0].value, "on");
        }
    }
}

/// The connection's commit durability as the database reports it: `2` (SQLite FULL) or `on`
/// (PostgreSQL) when durable.
fn durability(conn: &mut atelier::db::DbConnection) -> String {
    use atelier::db::DbConnection;
    let sql = match conn {
        DbConnection::Sqlite(_) => {
            "SELECT CAST(synchronous AS TEXT) AS value FROM pragma_synchronous"
        }
        DbConnection::Postgres(_) => "SELECT current_setting('synchronous_commit') AS value",
    };
    let v: Vec<Setting> = atelier::per_backend!(conn, |c| diesel::sql_query(sql).load(c)).unwrap();
    v[0].value.clone()
}

#[tokio::test]
async fn commits_that_skip_the_disk_are_scoped_to_the_work_that_is_redone() {
    let app = spawn_app().await;
    let mut conn = app.state.db.conn().unwrap();
    let durable = durability(&mut conn);
    assert!(durable == "2" || durable == "on", "{durable}");
    // Inside: the worker's claims and applied batches (redone from the durable inbox if lost).
    let inside: Result<String, diesel::result::Error> =
        atelier::db::relaxed_commits(&mut conn, |c| Ok(durability(c)));
    assert!(
        matches!(inside.as_deref(), Ok("1") | Ok("off")),
        "{inside:?}"
    );
    assert_eq!(durability(&mut conn), durable, "restored afterwards");
    // Also when the work fails, the pooled connection goes back durable.
    let failed: Result<(), diesel::result::Error> = atelier::db::relaxed_commits(&mut conn, |_| {
        Err(diesel::result::Error::RollbackTransaction)
    });
    assert!(failed.is_err());
    assert_eq!(durability(&mut conn), durable);
}
