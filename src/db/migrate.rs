//! Migrations, embedded in the binary: one folder per backend with the same version
//! names, applied at start (and by the `migrate` command).

use anyhow::Context;
use diesel::SqliteConnection;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::backend::{Backend, SQLITE_PRAGMAS, sqlite_path};
use super::sqlite_memory;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Applies pending migrations of the backend that `url` selects.
pub async fn run_migrations(url: &str) -> anyhow::Result<()> {
    let url = url.to_owned();
    // diesel's migration harness is synchronous; on SQLite it runs on a plain connection
    // in a blocking task, on PostgreSQL through diesel-async's harness. Its errors are
    // boxed without Send, so they become text here.
    match Backend::from_url(&url) {
        Backend::Sqlite => tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
            use diesel::Connection;
            sqlite_memory::install();
            let path = sqlite_path(&url);
            if let Some(dir) = std::path::Path::new(path).parent()
                && !dir.as_os_str().is_empty()
            {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
            }
            let mut conn = SqliteConnection::establish(path)
                .with_context(|| format!("opening the SQLite database {path}"))?;
            diesel::connection::SimpleConnection::batch_execute(&mut conn, SQLITE_PRAGMAS)
                .context("setting SQLite's pragmas")?;
            conn.run_pending_migrations(SQLITE_MIGRATIONS)
                .map_err(|e| anyhow::anyhow!("SQLite migrations: {e}"))?;
            Ok(())
        })
        .await
        .context("the migration task")?,
        Backend::Postgres => {
            let conn = AsyncPgConnection::establish(&url)
                .await
                .context("connecting to PostgreSQL for migrations")?;
            let mut harness = diesel_async::AsyncMigrationHarness::new(conn);
            harness
                .run_pending_migrations(POSTGRES_MIGRATIONS)
                .map_err(|e| anyhow::anyhow!("PostgreSQL migrations: {e}"))?;
            Ok(())
        }
    }
}
