//! Database access: the connection pool, migrations, and (in `schema`) the
//! diesel table definitions generated from the migrations.

pub mod schema;

use std::time::Duration;

use anyhow::{Context, Result};
use diesel_async::pooled_connection::AsyncDieselConnectionManager;
use diesel_async::pooled_connection::deadpool::Pool;
use diesel_async::{AsyncConnection, AsyncMigrationHarness, AsyncPgConnection, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

/// The migrations compiled into the binary, so `stride migrate` and
/// `stride serve` need no files next to them.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// Advisory lock key held while migrating, so that replicas starting together
/// apply migrations once ("stride-migrate" as bytes, truncated to i64).
const MIGRATION_LOCK_KEY: i64 = 0x7374_7269_6465_6d69;

/// Errors from borrowing a pooled connection.
pub type PoolError = diesel_async::pooled_connection::deadpool::PoolError;

/// The pool every request borrows its connection from.
pub type PgPool = Pool<AsyncPgConnection>;

/// Builds the pool. Connections are opened lazily; `wait` bounds how long a
/// request queues for one before failing with UNAVAILABLE.
pub fn build_pool(url: &str, size: usize, wait: Duration) -> Result<PgPool> {
    let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new(url);
    Pool::builder(manager)
        .max_size(size)
        .wait_timeout(Some(wait))
        .create_timeout(Some(wait))
        .runtime(deadpool::Runtime::Tokio1)
        .build()
        .context("cannot build the database pool")
}

/// Applies pending migrations under an advisory lock; returns the versions
/// applied. Must run on tokio's multi-thread runtime (the harness blocks).
pub async fn migrate(url: &str) -> Result<Vec<String>> {
    let mut conn = AsyncPgConnection::establish(url)
        .await
        .context("cannot connect to the database to migrate it")?;
    diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))
        .execute(&mut conn)
        .await?;
    let mut harness = AsyncMigrationHarness::new(conn);
    let applied = tokio::task::block_in_place(|| {
        harness
            .run_pending_migrations(MIGRATIONS)
            .map(|versions| versions.iter().map(|v| v.to_string()).collect::<Vec<_>>())
            .map_err(|err| anyhow::anyhow!("migration failed: {err}"))
    });
    let mut conn = harness.into_inner();
    diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"))
        .execute(&mut conn)
        .await?;
    applied
}

/// Reverts every applied migration (newest first). Used by the migration
/// round-trip test and by operators rolling back a release.
pub async fn revert_all(url: &str) -> Result<Vec<String>> {
    let conn = AsyncPgConnection::establish(url).await?;
    let mut harness = AsyncMigrationHarness::new(conn);
    tokio::task::block_in_place(|| {
        harness
            .revert_all_migrations(MIGRATIONS)
            .map(|versions| versions.iter().map(|v| v.to_string()).collect())
            .map_err(|err| anyhow::anyhow!("migration revert failed: {err}"))
    })
}

/// True when the database answers a trivial query; used by health checks.
pub async fn ping(pool: &PgPool) -> bool {
    let Ok(mut conn) = pool.get().await else {
        return false;
    };
    diesel::sql_query("SELECT 1").execute(&mut *conn).await.is_ok()
}
