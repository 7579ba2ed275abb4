//! The ceiling of bench/run: W1 (a keyset page of 20 products) and W2 (one product by
//! id) as little code as an HTTP server over the same database can be: axum, one
//! prepared statement per query, JSON written by hand. No GraphQL, no authentication,
//! no metrics. Measured in the same sitting as the project's server, it turns req/s,
//! which vary with the machine from day to day, into a ratio that does not.
//!
//! Env: DATABASE_URL (postgres://… or sqlite://path, sqlite:path), BIND_ADDR,
//! POOL_SIZE (default 10, as the server's DB_POOL_SIZE), WORKER_THREADS (default: one
//! per core, as the server).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::sync::Semaphore;

const ONE: &str =
    "SELECT id, name, price_cents, stock FROM products WHERE id = $1 AND NOT is_archived";
const PAGE: &str = "SELECT id, name, price_cents, stock FROM products \
     WHERE id > $1 AND NOT is_archived ORDER BY id LIMIT 20";

/// One row as the handlers need it; stock is INTEGER in both databases.
struct Product {
    id: i64,
    name: String,
    price_cents: i64,
    stock: i64,
}

/// A tokio-postgres client with its two statements, prepared once at start.
struct PgClient {
    client: tokio_postgres::Client,
    one: tokio_postgres::Statement,
    page: tokio_postgres::Statement,
}

enum Db {
    /// No pool checkout: a client pipelines concurrent queries on its one
    /// connection, so requests just take the next client round-robin.
    Postgres {
        clients: Vec<PgClient>,
        next: AtomicUsize,
    },
    /// rusqlite is blocking: a connection is taken from the free list (the semaphore
    /// counts them) and used on tokio's blocking threads, as the server's pool does.
    Sqlite {
        free: Arc<Mutex<Vec<rusqlite::Connection>>>,
        permits: Arc<Semaphore>,
    },
}

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

impl Db {
    /// The products of one query: `one` (id = $1) or else `page` (id > $1).
    async fn query(&self, one: bool, id: i64) -> Result<Vec<Product>> {
        match self {
            Db::Postgres { clients, next } => {
                let c = &clients[next.fetch_add(1, Ordering::Relaxed) % clients.len()];
                let rows = c
                    .client
                    .query(if one { &c.one } else { &c.page }, &[&id])
                    .await?;
                Ok(rows
                    .iter()
                    .map(|r| Product {
                        id: r.get(0),
                        name: r.get(1),
                        price_cents: r.get(2),
                        stock: i64::from(r.get::<_, i32>(3)),
                    })
                    .collect())
            }
            Db::Sqlite { free, permits } => {
                let permit = permits.clone().acquire_owned().await?;
                let free = free.clone();
                tokio::task::spawn_blocking(move || {
                    let conn = free
                        .lock()
                        .unwrap()
                        .pop()
                        .expect("a permit per free connection");
                    let result = sqlite_query(&conn, one, id);
                    free.lock().unwrap().push(conn);
                    drop(permit);
                    result
                })
                .await?
            }
        }
    }
}

fn sqlite_query(conn: &rusqlite::Connection, one: bool, id: i64) -> Result<Vec<Product>> {
    // The statement cache keeps both prepared per connection after their first use.
    let mut stmt = conn.prepare_cached(if one { ONE } else { PAGE })?;
    let rows = stmt.query_map([id], |r| {
        Ok(Product {
            id: r.get(0)?,
            name: r.get(1)?,
            price_cents: r.get(2)?,
            stock: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// `{"id":42,"name":"…","price":"12.34","stock":7}`; prices are positive (a CHECK).
fn write_product(out: &mut Vec<u8>, p: &Product) {
    use std::io::Write;
    write!(out, r#"{{"id":{},"name":"#, p.id).unwrap();
    serde_json::to_writer(&mut *out, &p.name).unwrap();
    let (units, cents) = (p.price_cents / 100, p.price_cents % 100);
    write!(
        out,
        r#","price":"{units}.{cents:02}","stock":{}}}"#,
        p.stock
    )
    .unwrap();
}

fn json(body: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn failed(e: impl std::fmt::Display) -> Response {
    eprintln!("query failed: {e}");
    (StatusCode::INTERNAL_SERVER_ERROR, "query failed").into_response()
}

async fn product(State(db): State<Arc<Db>>, Path(id): Path<i64>) -> Response {
    match db.query(true, id).await {
        Ok(rows) => match rows.first() {
            Some(p) => {
                let mut out = Vec::with_capacity(128);
                write_product(&mut out, p);
                json(out)
            }
            None => StatusCode::NOT_FOUND.into_response(),
        },
        Err(e) => failed(e),
    }
}

/// `?after=ID` (absent: from the start), parsed by hand: the one parameter there is.
async fn page(State(db): State<Arc<Db>>, RawQuery(query): RawQuery) -> Response {
    let after = query
        .as_deref()
        .unwrap_or("")
        .split('&')
        .find_map(|kv| kv.strip_prefix("after="))
        .map(str::parse::<i64>);
    let after = match after {
        None => 0,
        Some(Ok(after)) => after,
        Some(Err(_)) => return (StatusCode::BAD_REQUEST, "after: not an integer").into_response(),
    };
    match db.query(false, after).await {
        Ok(rows) => {
            let mut out = Vec::with_capacity(2 + rows.len() * 96);
            out.push(b'[');
            for (i, p) in rows.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_product(&mut out, p);
            }
            out.push(b']');
            json(out)
        }
        Err(e) => failed(e),
    }
}

async fn connect(url: &str, size: usize) -> Result<Db> {
    let sqlite = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"));
    if let Some(path) = sqlite {
        // Read-write and without create: a wrong path fails here, not as empty answers.
        // The project's migrations already put the file in WAL mode.
        let flags =
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conns = Vec::with_capacity(size);
        for _ in 0..size {
            let conn = rusqlite::Connection::open_with_flags(path, flags)?;
            conn.busy_timeout(std::time::Duration::from_secs(10))?;
            conns.push(conn);
        }
        return Ok(Db::Sqlite {
            free: Arc::new(Mutex::new(conns)),
            permits: Arc::new(Semaphore::new(size)),
        });
    }
    let mut clients = Vec::with_capacity(size);
    for _ in 0..size {
        let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                eprintln!("postgres connection: {e}");
            }
        });
        let one = client.prepare(ONE).await?;
        let page = client.prepare(PAGE).await?;
        clients.push(PgClient { client, one, page });
    }
    Ok(Db::Postgres {
        clients,
        next: AtomicUsize::new(0),
    })
}

fn env_number(name: &str, default: usize) -> Result<usize> {
    match std::env::var(name) {
        Ok(v) => Ok(v
            .parse()
            .map_err(|_| format!("{name}: not a number: {v}"))?),
        Err(_) => Ok(default),
    }
}

async fn serve() -> Result<()> {
    let url = std::env::var("DATABASE_URL").map_err(|_| "DATABASE_URL is not set")?;
    let bind = std::env::var("BIND_ADDR").unwrap_or_else(|_| "127.0.0.1:8090".into());
    let size = env_number("POOL_SIZE", 10)?.max(1);
    let db = Arc::new(connect(&url, size).await?);
    let app = Router::new()
        .route("/products", get(page))
        .route("/products/{id}", get(product))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(db);
    let listener = tokio::net::TcpListener::bind(&bind).await?;
    eprintln!("ceiling listening on {bind} (pool of {size})");
    axum::serve(listener, app).await?;
    Ok(())
}

fn main() -> Result<()> {
    // Built by hand rather than with #[tokio::main], to take WORKER_THREADS as the
    // server does (tokio's default, one worker per core, otherwise).
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = std::env::var("WORKER_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        runtime.worker_threads(n);
    }
    runtime.enable_all().build()?.block_on(serve())
}
