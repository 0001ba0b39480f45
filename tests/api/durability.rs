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
