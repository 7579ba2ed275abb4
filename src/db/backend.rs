//! The two backends: which one a database URL selects, and what every SQLite connection
//! is set up with.

/// Every pooled SQLite connection gets these: WAL lets readers run beside the one
/// writer, the busy timeout makes writers queue instead of failing, and SQLite leaves
/// foreign keys off unless asked.
pub(crate) const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
     PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;";

/// Which database a URL selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub(crate) fn from_url(url: &str) -> Self {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }
}

/// The file path of a SQLite URL: `sqlite://data/shop.db`, `sqlite:data/shop.db` or a
/// bare path.
pub(crate) fn sqlite_path(url: &str) -> &str {
    url.strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url)
}
