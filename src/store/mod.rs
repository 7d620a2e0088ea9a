//! The only place with SQL. One module per aggregate; every query binds its parameters.
//!
//! SQLite and PostgreSQL sit behind sqlx's `Any` driver, chosen from the URL scheme. The queries
//! use the dialect both share (`$1` parameters, `RETURNING`, `ON CONFLICT`); where they differ
//! (row locking), the backend-specific SQL stays inside the module that needs it. Times are Unix
//! seconds in `BIGINT` columns so that both backends decode them the same way.

pub mod coordinators;
pub mod dashboard;
pub mod identities;
pub mod lists;
pub mod outbox;
pub mod outcomes;
pub mod rounds;
pub mod secrets;
pub mod sessions;
pub mod settings;
pub mod tokens;
pub mod users;
pub mod values;

use std::{str::FromStr, time::Duration};

use anyhow::Context;
use sqlx::{
    AnyPool, Executor,
    any::{AnyConnectOptions, AnyPoolOptions},
    migrate::Migrator,
};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// Which database the store talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A handle on the database: cheap to clone, shared by the web app and the jobs.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    lists_cache: lists::Cached<lists::Lists>,
    settings_cache: lists::Cached<settings::Stored>,
}

impl Store {
    /// Connects to `url` (`sqlite://…` or `postgres://…`), creating a SQLite file if needed.
    #[tracing::instrument(skip(url))]
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            anyhow::bail!("DATABASE_URL must start with sqlite: or postgres:");
        };
        let url = match backend {
            Backend::Sqlite if !url.contains("mode=") => {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}mode=rwc")
            }
            _ => url.to_owned(),
        };
        let options = AnyConnectOptions::from_str(&url).context("parsing DATABASE_URL")?;
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 8 } else { 16 })
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets pages read while a round or the outbox writes.
                        conn.execute(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                             PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .with_context(|| format!("connecting to {}", crate::config::redact_url(&url)))?;
        if backend == Backend::Postgres {
            require_utf8(&pool).await?;
        }
        Ok(Self { pool, backend, lists_cache: Default::default(), settings_cache: Default::default() })
    }

    /// Applies the migrations of this backend that have not run yet.
    #[tracing::instrument(skip(self))]
    pub async fn migrate(&self) -> anyhow::Result<()> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&self.pool).await.context("applying migrations")?;
        if self.backend == Backend::Sqlite {
            sqlite_rounds_unique_per_kind(&self.pool)
                .await
                .context("making rounds unique per month and kind")?;
        }
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Whether the database answers a trivial query.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }

    /// Closes every connection (used at shutdown and by tests before dropping a database).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Migration 0009 on SQLite: drops the `UNIQUE` of `rounds.month` (a month now has a monthly
/// and a mid-month round; `rounds_month_kind` keeps them unique). SQLite drops a column
/// constraint only by rebuilding the table, with foreign keys off so that dropping the old table
/// deletes none of its groups, and foreign keys turn off only outside a transaction, which sqlx
/// opens around every SQLite migration. So it is done here, once: a database whose table no
/// longer has the constraint is left as it is.
async fn sqlite_rounds_unique_per_kind(pool: &AnyPool) -> anyhow::Result<()> {
    const UNIQUE_MONTH: &str = "month           TEXT NOT NULL UNIQUE";
    let (sql,): (String,) =
        sqlx::query_as("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'rounds'")
            .fetch_one(pool)
            .await?;
    if !sql.contains(UNIQUE_MONTH) {
        return Ok(());
    }
    let rebuilt = sql.replacen("CREATE TABLE rounds", "CREATE TABLE rounds_rebuilt", 1).replacen(
        UNIQUE_MONTH,
        "month           TEXT NOT NULL",
        1,
    );
    let indexes: Vec<(String,)> = sqlx::query_as(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'rounds' AND sql IS NOT NULL",
    )
    .fetch_all(pool)
    .await?;
    let mut conn = pool.acquire().await?;
    conn.execute("PRAGMA foreign_keys = OFF").await?;
    let mut steps = vec![
        "BEGIN".to_owned(),
        rebuilt,
        "INSERT INTO rounds_rebuilt SELECT * FROM rounds".to_owned(),
        "DROP TABLE rounds".to_owned(),
        "ALTER TABLE rounds_rebuilt RENAME TO rounds".to_owned(),
    ];
    steps.extend(indexes.into_iter().map(|(index,)| index));
    steps.push("COMMIT".to_owned());
    let mut result = Ok(());
    for step in &steps {
        if let Err(err) = conn.execute(step.as_str()).await {
            let _ = conn.execute("ROLLBACK").await;
            result = Err(anyhow::Error::new(err).context(format!("rebuilding rounds: {step}")));
            break;
        }
    }
    // The pool's connections all enforce foreign keys; this one must too before it goes back.
    conn.execute("PRAGMA foreign_keys = ON").await?;
    result
}

/// Refuses a PostgreSQL database whose encoding is not UTF8: in one created as `LATIN1` or
/// `SQL_ASCII`, a name such as "Zoë Nakamura-李" fails to store or comes back altered, so every
/// page that writes it would answer 500. Text is then storable exactly when it holds no NUL
/// ([`crate::domain::storable`]).
async fn require_utf8(pool: &AnyPool) -> anyhow::Result<()> {
    let (encoding,): (String,) = sqlx::query_as(
        "SELECT pg_encoding_to_char(encoding)::text FROM pg_database WHERE datname = current_database()",
    )
    .fetch_one(pool)
    .await
    .context("reading the database's encoding")?;
    if encoding != "UTF8" {
        anyhow::bail!(
            "the PostgreSQL database uses the {encoding} encoding; Coffee Rounds needs UTF8 \
             (create it with: CREATE DATABASE … ENCODING 'UTF8' TEMPLATE template0)"
        );
    }
    Ok(())
}

/// Bound parameters per multi-row statement, for every bulk writer. Small on purpose: through
/// sqlx-sqlite the cost of binding grows faster than the parameter count (measured on a
/// 20,000-person round: 30,000 per statement took 16.6 s to write, 2,000 took 4.0 s, 500
/// took 2.7 s), and it stays far below both backends' limits (32,766 in SQLite, 65,535 in
/// PostgreSQL).
pub const PARAMS_PER_STATEMENT: usize = 500;

/// A query on the `Any` driver, as the bulk writers' bind functions take it.
pub type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;
/// A query whose rows become `O`, as the bulk writers' bind functions take it.
pub type AnyQueryAs<'q, O> = sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments<'q>>;

/// A multi-row INSERT: `INSERT INTO … (columns)` + `VALUES (…), (…)` + an ending such as
/// `ON CONFLICT DO NOTHING` or `RETURNING id`.
pub struct BulkInsert<'a> {
    pub head: &'a str,
    /// Parameters per row.
    pub columns: usize,
    pub tail: &'a str,
}

impl BulkInsert<'_> {
    /// Rows per statement, so that a statement binds at most [`PARAMS_PER_STATEMENT`].
    fn rows_per_statement(&self) -> usize {
        (PARAMS_PER_STATEMENT / self.columns.max(1)).max(1)
    }

    fn sql(&self, rows: usize) -> String {
        format!("{} VALUES {} {}", self.head, values_list(rows, self.columns), self.tail)
    }

    /// Writes `rows`, binding each with `bind`; returns the rows written.
    pub async fn execute<T>(
        &self,
        conn: &mut sqlx::AnyConnection,
        rows: &[T],
        bind: impl for<'q> Fn(AnyQuery<'q>, &'q T) -> AnyQuery<'q>,
    ) -> sqlx::Result<u64> {
        let mut written = 0;
        for chunk in rows.chunks(self.rows_per_statement()) {
            let sql = self.sql(chunk.len());
            let query = chunk.iter().fold(sqlx::query(&sql), &bind);
            written += query.execute(&mut *conn).await?.rows_affected();
        }
        Ok(written)
    }

    /// Writes `rows`, binding each with `bind`, and returns what the statements' `RETURNING`
    /// gives, statement after statement.
    pub async fn fetch<T, O>(
        &self,
        conn: &mut sqlx::AnyConnection,
        rows: &[T],
        bind: impl for<'q> Fn(AnyQueryAs<'q, O>, &'q T) -> AnyQueryAs<'q, O>,
    ) -> sqlx::Result<Vec<O>>
    where
        O: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
    {
        let mut out = Vec::with_capacity(rows.len());
        for chunk in rows.chunks(self.rows_per_statement()) {
            let sql = self.sql(chunk.len());
            let query = chunk.iter().fold(sqlx::query_as::<_, O>(&sql), &bind);
            out.extend(query.fetch_all(&mut *conn).await?);
        }
        Ok(out)
    }
}

/// `($1, $2), ($3, $4)` for a multi-row `VALUES` of `rows` rows of `columns` parameters. sqlx's
/// query builder writes `?` placeholders for the `Any` driver, which PostgreSQL refuses.
fn values_list(rows: usize, columns: usize) -> String {
    let mut sql = String::with_capacity(rows * columns * 5);
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for column in 0..columns {
            if column > 0 {
                sql.push_str(", ");
            }
            sql.push('$');
            sql.push_str(&(row * columns + column + 1).to_string());
        }
        sql.push(')');
    }
    sql
}

/// The current time as Unix seconds.
pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
