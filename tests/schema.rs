//! The SQLite and PostgreSQL migrations describe the same schema: both sets are applied through
//! the app's own `migrate`, then every table, column (type class, nullability, default), primary
//! key, unique constraint, foreign key and index is read back from each database's catalogue and
//! compared. A migration written for one backend only fails here.

mod common;

use std::collections::BTreeSet;

use coffee_rounds::store::Store;
use rand::Rng;
use sqlx::{Connection, Executor, PgConnection, Row};

/// One fact about the schema, written the same way for both backends.
type Facts = BTreeSet<String>;

/// `INTEGER`/`BIGINT` are one class, as are `TEXT`/`VARCHAR` and `REAL`/`DOUBLE PRECISION`.
fn type_class(declared: &str) -> String {
    let t = declared.to_ascii_lowercase();
    let class = if t.contains("int") {
        "integer"
    } else if t.contains("char") || t.contains("text") || t.contains("clob") {
        "text"
    } else if t.contains("real") || t.contains("double") || t.contains("float") || t.contains("numeric") {
        "real"
    } else if t.contains("blob") || t.contains("bytea") {
        "blob"
    } else {
        return t;
    };
    class.to_owned()
}

/// An expression as both catalogues would agree on it: casts, brackets, quotes of identifiers,
/// schema names and spacing removed, lower case.
fn expression(sql: &str) -> String {
    let mut s = sql.to_ascii_lowercase().replace("public.", "").replace("using btree", "");
    for cast in ["::text", "::bigint", "::integer", "::character varying"] {
        s = s.replace(cast, "");
    }
    s.chars().filter(|c| !c.is_whitespace() && !matches!(c, '(' | ')' | '"')).collect()
}

/// `CREATE [UNIQUE] INDEX name ON table (...) [WHERE ...]` as one fact.
fn index_fact(name: &str, definition: &str) -> String {
    let lower = definition.to_ascii_lowercase();
    let unique = if lower.starts_with("create unique") { "unique " } else { "" };
    let on = lower.find(" on ").map_or("", |i| &definition[i + 4..]).replace("public.", "");
    let (table, columns) = on.trim().split_once(' ').unwrap_or((on.trim(), ""));
    format!("index {name}: {unique}on {table} {}", expression(columns))
}

async fn sqlite_facts(path: &std::path::Path) -> Facts {
    let url = format!("sqlite://{}", path.display());
    Store::connect(&url).await.unwrap().migrate().await.unwrap();
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let mut facts = Facts::new();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx%'",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    for table in tables {
        facts.insert(format!("table {table}"));
        let mut pk: Vec<(i64, String)> = Vec::new();
        for row in sqlx::query(&format!("PRAGMA table_info({table})")).fetch_all(&mut conn).await.unwrap() {
            let (name, declared, notnull, default, in_pk): (String, String, i64, Option<String>, i64) =
                (row.get(1), row.get(2), row.get(3), row.get(4), row.get(5));
            let null = if notnull == 1 || in_pk > 0 { "not null" } else { "null" };
            let default = default.map(|d| format!(" default {}", expression(&d))).unwrap_or_default();
            facts.insert(format!("column {table}.{name}: {} {null}{default}", type_class(&declared)));
            if in_pk > 0 {
                pk.push((in_pk, name));
            }
        }
        pk.sort();
        facts.insert(format!(
            "primary key {table} ({})",
            pk.into_iter().map(|(_, n)| n).collect::<Vec<_>>().join(", ")
        ));
        for row in
            sqlx::query(&format!("PRAGMA foreign_key_list({table})")).fetch_all(&mut conn).await.unwrap()
        {
            let (to_table, from, to, on_delete): (String, String, String, String) =
                (row.get(2), row.get(3), row.get(4), row.get(6));
            facts.insert(format!(
                "foreign key {table}.{from} -> {to_table}.{to} on delete {}",
                on_delete.to_ascii_lowercase()
            ));
        }
        for row in sqlx::query(&format!("PRAGMA index_list({table})")).fetch_all(&mut conn).await.unwrap() {
            let (name, origin): (String, String) = (row.get(1), row.get(3));
            match origin.as_str() {
                "u" => {
                    let columns: Vec<String> = sqlx::query(&format!("PRAGMA index_info({name})"))
                        .fetch_all(&mut conn)
                        .await
                        .unwrap()
                        .iter()
                        .map(|r| r.get::<String, _>(2))
                        .collect();
                    facts.insert(format!("unique {table} ({})", columns.join(", ")));
                }
                "c" => {
                    let sql: String = sqlx::query_scalar(
                        "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = $1",
                    )
                    .bind(&name)
                    .fetch_one(&mut conn)
                    .await
                    .unwrap();
                    facts.insert(index_fact(&name, &sql));
                }
                _ => {}
            }
        }
    }
    facts
}

async fn postgres_facts(url: &str) -> Facts {
    Store::connect(url).await.unwrap().migrate().await.unwrap();
    let mut conn = PgConnection::connect(url).await.unwrap();
    let mut facts = Facts::new();
    let rows = sqlx::query(
        "SELECT table_name::text, column_name::text, data_type::text, is_nullable::text, column_default::text \
         FROM information_schema.columns WHERE table_schema = 'public' AND table_name NOT LIKE '\\_sqlx%'",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    for row in rows {
        let (table, name, declared, nullable, default): (String, String, String, String, Option<String>) =
            (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
        facts.insert(format!("table {table}"));
        let null = if nullable == "NO" { "not null" } else { "null" };
        let default = default.map(|d| format!(" default {}", expression(&d))).unwrap_or_default();
        facts.insert(format!("column {table}.{name}: {} {null}{default}", type_class(&declared)));
    }
    let keys = sqlx::query(
        "SELECT c.contype::text, t.relname::text, \
                array_to_string(ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(n, i) \
                    JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.i), ', '), \
                COALESCE(f.relname::text, ''), \
                array_to_string(ARRAY(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY k(n, i) \
                    JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.i), ', '), \
                c.confdeltype::text \
         FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace LEFT JOIN pg_class f ON f.oid = c.confrelid \
         WHERE n.nspname = 'public' AND t.relname NOT LIKE '\\_sqlx%' AND c.contype IN ('p', 'u', 'f')",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    for row in keys {
        let (kind, table, columns, to_table, to_columns, on_delete): (
            String,
            String,
            String,
            String,
            String,
            String,
        ) = (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4), row.get(5));
        facts.insert(match kind.as_str() {
            "p" => format!("primary key {table} ({columns})"),
            "u" => format!("unique {table} ({columns})"),
            _ => {
                let action = match on_delete.as_str() {
                    "c" => "cascade",
                    "n" => "set null",
                    "d" => "set default",
                    "r" => "restrict",
                    _ => "no action",
                };
                format!("foreign key {table}.{columns} -> {to_table}.{to_columns} on delete {action}")
            }
        });
    }
    let indexes = sqlx::query(
        "SELECT indexname::text, indexdef::text FROM pg_indexes WHERE schemaname = 'public' \
         AND tablename NOT LIKE '\\_sqlx%' AND indexname NOT IN (SELECT conname FROM pg_constraint)",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    for row in indexes {
        let (name, definition): (String, String) = (row.get(0), row.get(1));
        facts.insert(index_fact(&name, &definition));
    }
    facts
}

#[tokio::test]
async fn the_sqlite_and_postgresql_migrations_describe_the_same_schema() {
    if !common::postgres_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sqlite = sqlite_facts(&dir.path().join("schema.db")).await;

    let admin = std::env::var("TEST_DATABASE_URL").unwrap();
    let name = format!("coffee_test_{:016x}", rand::rng().random::<u64>());
    let mut conn = PgConnection::connect(&admin).await.unwrap();
    conn.execute(format!("CREATE DATABASE \"{name}\"").as_str()).await.unwrap();
    let url = format!("{}/{name}", &admin[..admin.rfind('/').unwrap()]);
    let postgres = postgres_facts(&url).await;
    conn.execute(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)").as_str()).await.unwrap();

    let only_sqlite: Vec<&String> = sqlite.difference(&postgres).collect();
    let only_postgres: Vec<&String> = postgres.difference(&sqlite).collect();
    assert!(
        only_sqlite.is_empty() && only_postgres.is_empty(),
        "the migrations differ\nonly in SQLite:\n  {}\nonly in PostgreSQL:\n  {}",
        only_sqlite.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n  "),
        only_postgres.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n  "),
    );
    assert!(sqlite.len() > 100, "the catalogue was read: {} facts", sqlite.len());
}

/// The comparison itself notices a difference: the same table declared two ways.
#[test]
fn facts_differ_when_a_column_differs() {
    assert_ne!(type_class("TEXT"), type_class("BIGINT"));
    assert_eq!(type_class("BIGINT"), type_class("INTEGER"));
    assert_eq!(expression("'pending'::text"), expression("'pending'"));
    assert_eq!(
        index_fact("x", "CREATE UNIQUE INDEX x ON public.departments USING btree (lower(name))"),
        index_fact("x", "CREATE UNIQUE INDEX x ON departments (lower(name))"),
    );
    assert_ne!(index_fact("x", "CREATE INDEX x ON t (a, b)"), index_fact("x", "CREATE INDEX x ON t (a)"),);
}

/// Migration 0009 rebuilds SQLite's `rounds` table (a month now has two kinds of round): a
/// database from before it keeps every round, group, member and sit-out, and takes a mid-month
/// round beside a month's monthly one.
#[tokio::test]
async fn a_sqlite_database_from_before_round_kinds_keeps_its_rounds_and_groups() {
    let dir = tempfile::tempdir().unwrap();
    let earlier = dir.path().join("migrations");
    std::fs::create_dir(&earlier).unwrap();
    for entry in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if name.as_str() < "0009" {
            std::fs::copy(&path, earlier.join(&name)).unwrap();
        }
    }
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("old.db").display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::migrate::Migrator::new(earlier.as_path()).await.unwrap().run(&pool).await.unwrap();
    sqlx::query("PRAGMA foreign_keys = ON").execute(&pool).await.unwrap();
    for sql in [
        "INSERT INTO users (email, name, password_hash, role, level, department, created_at, updated_at) VALUES ('a@x.org', 'A', 'x', 'Nurse', 1, 'Cardiology', 1, 1)",
        "INSERT INTO users (email, name, password_hash, role, level, department, created_at, updated_at) VALUES ('b@x.org', 'B', 'x', 'Nurse', 1, 'Cardiology', 1, 1)",
        "INSERT INTO rounds (month, seed, participants, group_count, sit_out_count, total_score, weights, created_at) VALUES ('2027-01', 1, 2, 1, 0, 10, '', 1)",
        "INSERT INTO round_groups (round_id, position, score, reason) VALUES (1, 0, 10, 'r')",
        "INSERT INTO group_members (group_id, user_id) VALUES (1, 1), (1, 2)",
        "INSERT INTO round_sit_outs (round_id, user_id, reason) VALUES (1, 2, 'r')",
    ] {
        sqlx::query(sql).execute(&pool).await.unwrap();
    }
    pool.close().await;

    let store = Store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let counts: (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM rounds), (SELECT COUNT(*) FROM round_groups), \
         (SELECT COUNT(*) FROM group_members), (SELECT COUNT(*) FROM round_sit_outs)",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!(counts, (1, 1, 2, 1), "nothing was lost in the rebuild");
    let (kind,): (String,) = sqlx::query_as("SELECT kind FROM rounds").fetch_one(store.pool()).await.unwrap();
    assert_eq!(kind, "main");
    sqlx::query("INSERT INTO rounds (month, kind, seed, participants, group_count, sit_out_count, total_score, weights, created_at) VALUES ('2027-01', 'mid-month', 1, 0, 0, 0, 0, '', 1)")
        .execute(store.pool())
        .await
        .expect("a mid-month round beside the monthly one");
    let again = sqlx::query("INSERT INTO rounds (month, kind, seed, participants, group_count, sit_out_count, total_score, weights, created_at) VALUES ('2027-01', 'main', 1, 0, 0, 0, 0, '', 1)")
        .execute(store.pool())
        .await;
    assert!(again.is_err(), "still one monthly round per month");
    // Foreign keys still hold, and the rebuild runs only once.
    assert!(
        sqlx::query("INSERT INTO round_groups (round_id, position, score, reason) VALUES (99, 0, 0, 'r')")
            .execute(store.pool())
            .await
            .is_err()
    );
    store.migrate().await.unwrap();
    let (n,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM group_members").fetch_one(store.pool()).await.unwrap();
    assert_eq!(n, 2);
}
