//! The migrations of each backend build exactly the tables and columns `src/db/schema.rs`
//! declares, with the backend's type for each diesel type and the same nullability. Migrations
//! are append-only once landed: a change to the schema is a new migration in both folders, and
//! this test says when the two have drifted apart or from `schema.rs`.

use std::collections::BTreeMap;

use diesel::RunQueryDsl;

use crate::helpers::*;

/// `column → (diesel type, nullable)` of one table.
type Columns = BTreeMap<String, (String, bool)>;

/// `table → column → (diesel type, nullable)` as `schema.rs` declares them.
fn declared() -> BTreeMap<String, Columns> {
    let schema =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/db/schema.rs")).unwrap();
    let mut tables = BTreeMap::new();
    let mut current: Option<(String, Columns)> = None;
    for line in schema.lines().map(str::trim) {
        if let Some((name, _)) = line.split_once(" (")
            && line.ends_with('{')
            && current.is_none()
            && !name.contains(' ')
        {
            current = Some((name.to_owned(), BTreeMap::new()));
            continue;
        }
        let Some((_, columns)) = current.as_mut() else {
            continue;
        };
        if line == "}" {
            let (name, columns) = current.take().unwrap();
            tables.insert(name, columns);
            continue;
        }
        if let Some((column, kind)) = line.trim_end_matches(',').split_once(" -> ") {
            let (kind, nullable) = match kind.strip_prefix("Nullable<") {
                Some(inner) => (inner.trim_end_matches('>'), true),
                None => (kind, false),
            };
            columns.insert(column.trim().to_owned(), (kind.to_owned(), nullable));
        }
    }
    tables
}

/// The type each backend's migrations use for a diesel type.
fn backend_type(diesel: &str, postgres: bool) -> &'static str {
    match (diesel, postgres) {
        ("Text", false) => "TEXT",
        ("Text", true) => "text",
        ("BigInt", false) => "BIGINT",
        ("BigInt", true) => "bigint",
        ("Integer", false) => "INTEGER",
        ("Integer", true) => "integer",
        ("Bool", false) => "BOOLEAN",
        ("Bool", true) => "boolean",
        ("Timestamp", false) => "TIMESTAMP",
        ("Timestamp", true) => "timestamp without time zone",
        ("Binary", false) => "BLOB",
        ("Binary", true) => "bytea",
        ("Double", false) => "REAL",
        ("Double", true) => "double precision",
        (other, _) => panic!("schema.rs uses {other}: add its backend types to this test"),
    }
}

#[derive(diesel::QueryableByName, Debug)]
struct Column {
    #[diesel(sql_type = diesel::sql_types::Text)]
    table_name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    column_name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    kind: String,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    nullable: bool,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    primary_key: bool,
}

/// `table → column → (type, nullable)` as the migrations built them.
fn built(db: &TestDb) -> BTreeMap<String, BTreeMap<String, (String, bool)>> {
    use atelier::db::DbConnection;
    let pool = atelier::db::Db::connect(&db.url, 1).expect("migrations apply");
    let mut conn = pool.conn().unwrap();
    let rows: Vec<Column> = match &mut *conn {
        DbConnection::Sqlite(c) => diesel::sql_query(
            "SELECT m.name AS table_name, p.name AS column_name, p.type AS kind, \
                    p.\"notnull\" = 0 AS nullable, p.pk > 0 AS primary_key \
             FROM sqlite_master m JOIN pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' \
               AND m.name <> '__diesel_schema_migrations'",
        )
        .load(c)
        .unwrap(),
        DbConnection::Postgres(c) => diesel::sql_query(
            "SELECT c.table_name::text AS table_name, c.column_name::text AS column_name, \
                    c.data_type::text AS kind, c.is_nullable = 'YES' AS nullable, false AS primary_key \
             FROM information_schema.columns c JOIN information_schema.tables t \
               ON t.table_schema = c.table_schema AND t.table_name = c.table_name \
             WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE' \
               AND c.table_name <> '__diesel_schema_migrations'",
        )
        .load(c)
        .unwrap(),
    };
    let mut tables: BTreeMap<String, BTreeMap<String, (String, bool)>> = BTreeMap::new();
    for r in rows {
        // SQLite lets a primary-key column hold NULL unless it says NOT NULL; diesel's
        // schema declares keys non-null, and Atelier never writes a NULL key.
        let nullable = r.nullable && !r.primary_key;
        tables
            .entry(r.table_name)
            .or_default()
            .insert(r.column_name, (r.kind, nullable));
    }
    tables
}

#[test]
fn each_backends_migrations_build_what_schema_rs_declares() {
    init();
    let db = TestDb::new();
    let postgres = db.is_postgres();
    let declared = declared();
    assert!(declared.len() > 10, "schema.rs was read: {declared:?}");
    let built = built(&db);
    let mut problems = Vec::new();
    for (table, columns) in &declared {
        let Some(found) = built.get(table) else {
            problems.push(format!("table {table} is declared but not built"));
            continue;
        };
        for (column, (kind, nullable)) in columns {
            let want = backend_type(kind, postgres);
            match found.get(column) {
                None => problems.push(format!("{table}.{column} is declared but not built")),
                Some((got, got_null)) => {
                    if !got.eq_ignore_ascii_case(want) {
                        problems.push(format!(
                            "{table}.{column}: built {got}, declared {kind} ({want})"
                        ));
                    }
                    if got_null != nullable {
                        problems.push(format!(
                            "{table}.{column}: built {}, declared {}",
                            if *got_null { "nullable" } else { "NOT NULL" },
                            if *nullable { "Nullable" } else { "not null" }
                        ));
                    }
                }
            }
        }
        for column in found.keys().filter(|c| !columns.contains_key(*c)) {
            problems.push(format!("{table}.{column} is built but not declared"));
        }
    }
    for table in built.keys().filter(|t| !declared.contains_key(*t)) {
        problems.push(format!("table {table} is built but not declared"));
    }
    assert!(
        problems.is_empty(),
        "{} migrations and src/db/schema.rs differ:\n{}",
        if postgres { "PostgreSQL" } else { "SQLite" },
        problems.join("\n")
    );
}

/// Landed migrations, by the start of their SHA-256: a database migrated with one of them never
/// runs it again, so editing it would leave that database different from a fresh one. Change
/// the schema with a new migration (in both folders) and add it here.
const LANDED: &[(&str, &str)] = &[
    (
        "postgres/2026-11-21-000001_create_shops/up.sql",
        "b98018dc2c309b07",
    ),
    (
        "postgres/2026-11-21-000001_create_shops/down.sql",
        "37d81e8dfb44bfc6",
    ),
    (
        "postgres/2026-11-21-000002_webhooks_and_sync/up.sql",
        "d8c9d7e69feb9825",
    ),
    (
        "postgres/2026-11-21-000002_webhooks_and_sync/down.sql",
        "96caa47204ac6f2e",
    ),
    (
        "postgres/2026-11-21-000003_templates/up.sql",
        "93edc94ef375c22c",
    ),
    (
        "postgres/2026-11-21-000003_templates/down.sql",
        "5b79bdf880ea5c99",
    ),
    (
        "postgres/2026-11-21-000004_production/up.sql",
        "1cec8cf4c50700b0",
    ),
    (
        "postgres/2026-11-21-000004_production/down.sql",
        "de73c386885d2497",
    ),
    (
        "postgres/2026-11-21-000005_preferences/up.sql",
        "a897d7c1a8e25968",
    ),
    (
        "postgres/2026-11-21-000005_preferences/down.sql",
        "840e4067daf8bd95",
    ),
    (
        "postgres/2026-11-21-000006_recommendations/up.sql",
        "28291f73b5718873",
    ),
    (
        "postgres/2026-11-21-000006_recommendations/down.sql",
        "df626fa4a7cec369",
    ),
    (
        "postgres/2026-11-21-000007_rec_touched/up.sql",
        "393f287624f44bfe",
    ),
    (
        "postgres/2026-11-21-000007_rec_touched/down.sql",
        "20c2be5003a5545f",
    ),
    (
        "postgres/2026-11-21-000008_oauth_nonces/up.sql",
        "6610c6bb567d4313",
    ),
    (
        "postgres/2026-11-21-000008_oauth_nonces/down.sql",
        "7b48fd6b8be99e6c",
    ),
    (
        "postgres/2026-11-21-000009_retention_and_keys/up.sql",
        "8a500a434c83b377",
    ),
    (
        "postgres/2026-11-21-000009_retention_and_keys/down.sql",
        "f1dd6508869c1ff3",
    ),
    (
        "postgres/2026-11-21-000011_wishlists/up.sql",
        "a38d448c37d84a92",
    ),
    (
        "postgres/2026-11-21-000011_wishlists/down.sql",
        "847d005f6d834e4e",
    ),
    (
        "postgres/2026-11-21-000013_followups/up.sql",
        "4b2cfa557aa36f85",
    ),
    (
        "postgres/2026-11-21-000013_followups/down.sql",
        "6979dcfbf8e8797e",
    ),
    (
        "postgres/2026-11-21-000014_pixel/up.sql",
        "1462ad6bc8955dcc",
    ),
    (
        "postgres/2026-11-21-000014_pixel/down.sql",
        "382e508f47b473ff",
    ),
    (
        "postgres/2026-11-21-000016_zero_party_questions/up.sql",
        "7145e9260bad2120",
    ),
    (
        "postgres/2026-11-21-000016_zero_party_questions/down.sql",
        "5a34f81f0a6c599c",
    ),
    (
        "postgres/2026-11-21-000010_rec_buyers/up.sql",
        "5ad8b712e08017c3",
    ),
    (
        "postgres/2026-11-21-000010_rec_buyers/down.sql",
        "391b9a6f69c5e5a8",
    ),
    (
        "sqlite/2026-11-21-000001_create_shops/up.sql",
        "2caff82236351caa",
    ),
    (
        "sqlite/2026-11-21-000001_create_shops/down.sql",
        "37d81e8dfb44bfc6",
    ),
    (
        "sqlite/2026-11-21-000002_webhooks_and_sync/up.sql",
        "f0464827ca40f6d0",
    ),
    (
        "sqlite/2026-11-21-000002_webhooks_and_sync/down.sql",
        "96caa47204ac6f2e",
    ),
    (
        "sqlite/2026-11-21-000003_templates/up.sql",
        "93edc94ef375c22c",
    ),
    (
        "sqlite/2026-11-21-000003_templates/down.sql",
        "5b79bdf880ea5c99",
    ),
    (
        "sqlite/2026-11-21-000004_production/up.sql",
        "1bac9e6a0e90b41a",
    ),
    (
        "sqlite/2026-11-21-000004_production/down.sql",
        "de73c386885d2497",
    ),
    (
        "sqlite/2026-11-21-000005_preferences/up.sql",
        "a897d7c1a8e25968",
    ),
    (
        "sqlite/2026-11-21-000005_preferences/down.sql",
        "840e4067daf8bd95",
    ),
    (
        "sqlite/2026-11-21-000006_recommendations/up.sql",
        "980ff8e259a0784c",
    ),
    (
        "sqlite/2026-11-21-000006_recommendations/down.sql",
        "df626fa4a7cec369",
    ),
    (
        "sqlite/2026-11-21-000007_rec_touched/up.sql",
        "393f287624f44bfe",
    ),
    (
        "sqlite/2026-11-21-000007_rec_touched/down.sql",
        "254472ba45706a6f",
    ),
    (
        "sqlite/2026-11-21-000008_oauth_nonces/up.sql",
        "6610c6bb567d4313",
    ),
    (
        "sqlite/2026-11-21-000008_oauth_nonces/down.sql",
        "7b48fd6b8be99e6c",
    ),
    (
        "sqlite/2026-11-21-000009_retention_and_keys/up.sql",
        "8a500a434c83b377",
    ),
    (
        "sqlite/2026-11-21-000009_retention_and_keys/down.sql",
        "f1dd6508869c1ff3",
    ),
    (
        "sqlite/2026-11-21-000011_wishlists/up.sql",
        "a38d448c37d84a92",
    ),
    (
        "sqlite/2026-11-21-000011_wishlists/down.sql",
        "847d005f6d834e4e",
    ),
    (
        "sqlite/2026-11-21-000013_followups/up.sql",
        "4b2cfa557aa36f85",
    ),
    (
        "sqlite/2026-11-21-000013_followups/down.sql",
        "6979dcfbf8e8797e",
    ),
    ("sqlite/2026-11-21-000014_pixel/up.sql", "1462ad6bc8955dcc"),
    (
        "sqlite/2026-11-21-000014_pixel/down.sql",
        "382e508f47b473ff",
    ),
    (
        "sqlite/2026-11-21-000016_zero_party_questions/up.sql",
        "7145e9260bad2120",
    ),
    (
        "sqlite/2026-11-21-000016_zero_party_questions/down.sql",
        "5a34f81f0a6c599c",
    ),
    (
        "sqlite/2026-11-21-000010_rec_buyers/up.sql",
        "5ad8b712e08017c3",
    ),
    (
        "sqlite/2026-11-21-000010_rec_buyers/down.sql",
        "391b9a6f69c5e5a8",
    ),
    (
        "postgres/2026-11-21-000017_store_writes/up.sql",
        "d4a01dea157794d7",
    ),
    (
        "postgres/2026-11-21-000017_store_writes/down.sql",
        "65b0393f83fd8b31",
    ),
    (
        "sqlite/2026-11-21-000017_store_writes/up.sql",
        "d4a01dea157794d7",
    ),
    (
        "sqlite/2026-11-21-000017_store_writes/down.sql",
        "65b0393f83fd8b31",
    ),
    (
        "postgres/2026-11-21-000015_cart_transform/up.sql",
        "595b41085a59196c",
    ),
    (
        "postgres/2026-11-21-000015_cart_transform/down.sql",
        "50d6186a68d3f4dd",
    ),
    (
        "sqlite/2026-11-21-000015_cart_transform/up.sql",
        "595b41085a59196c",
    ),
    (
        "sqlite/2026-11-21-000015_cart_transform/down.sql",
        "50d6186a68d3f4dd",
    ),
    (
        "postgres/2026-11-21-000019_experiments/up.sql",
        "3494dc7f8ad5fe74",
    ),
    (
        "postgres/2026-11-21-000019_experiments/down.sql",
        "199ea0abcd0abd21",
    ),
    (
        "sqlite/2026-11-21-000019_experiments/up.sql",
        "3494dc7f8ad5fe74",
    ),
    (
        "sqlite/2026-11-21-000019_experiments/down.sql",
        "199ea0abcd0abd21",
    ),
    (
        "postgres/2026-11-21-000018_collections/up.sql",
        "a59dda7d425696ec",
    ),
    (
        "postgres/2026-11-21-000018_collections/down.sql",
        "9207b553fc05dc05",
    ),
    (
        "sqlite/2026-11-21-000018_collections/up.sql",
        "a59dda7d425696ec",
    ),
    (
        "sqlite/2026-11-21-000018_collections/down.sql",
        "9207b553fc05dc05",
    ),
    (
        "postgres/2026-11-21-000020_visitor_allowances/up.sql",
        "4ef0dbf38421e75f",
    ),
    (
        "postgres/2026-11-21-000020_visitor_allowances/down.sql",
        "e6edadad43d0264a",
    ),
    (
        "sqlite/2026-11-21-000020_visitor_allowances/up.sql",
        "4ef0dbf38421e75f",
    ),
    (
        "sqlite/2026-11-21-000020_visitor_allowances/down.sql",
        "e6edadad43d0264a",
    ),
];

#[test]
fn landed_migrations_are_never_edited() {
    use sha2::Digest;
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");
    let mut on_disk = Vec::new();
    for backend in ["postgres", "sqlite"] {
        for dir in std::fs::read_dir(format!("{root}/{backend}")).unwrap() {
            let dir = dir.unwrap().path();
            for file in ["up.sql", "down.sql"] {
                let path = dir.join(file);
                if let Ok(bytes) = std::fs::read(&path) {
                    let name = format!(
                        "{backend}/{}/{file}",
                        dir.file_name().unwrap().to_string_lossy()
                    );
                    on_disk.push((
                        name,
                        hex::encode(sha2::Sha256::digest(&bytes))[..16].to_owned(),
                    ));
                }
            }
        }
    }
    for (name, digest) in LANDED {
        let found = on_disk.iter().find(|(n, _)| n == name);
        assert!(found.is_some(), "landed migration {name} was removed");
        assert_eq!(
            found.unwrap().1,
            *digest,
            "landed migration {name} was edited; add a new migration instead"
        );
    }
    for (name, _) in &on_disk {
        assert!(
            LANDED.iter().any(|(n, _)| n == name),
            "{name} is new: add it to LANDED in tests/api/schema.rs once it lands"
        );
    }
}
