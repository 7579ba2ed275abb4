//! TestApp: the real server on a random port with its own database, and a GraphQL client.

use std::future::Future;
use std::net::SocketAddr;

use mini_ecommerce::app::App;
use mini_ecommerce::config::{Config, Secret};
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs `test` once per backend: SQLite always; PostgreSQL when TEST_POSTGRES_URL was set
/// when the tests were built (`build.rs`; otherwise the variant is reported ignored), and
/// `.ci/run` always sets it, so there an unreachable server fails the run.
macro_rules! backend_test {
    ($name:ident, $body:expr) => {
        $crate::helpers::backend_test!($name, |_: &mut mini_ecommerce::config::Config| {}, $body);
    };
    ($name:ident, $configure:expr, $body:expr) => {
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $crate::helpers::run($crate::helpers::Backend::Sqlite, $configure, $body).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[cfg_attr(not(postgres_tests), ignore = "TEST_POSTGRES_URL is not set")]
            async fn postgres() {
                $crate::helpers::run($crate::helpers::Backend::Postgres, $configure, $body).await;
            }
        }
    };
}
pub(crate) use backend_test;

pub struct TestApp {
    pub addr: SocketAddr,
    /// The server's own parts, for what HTTP cannot show (the SQL statement count).
    pub state: App,
    pub client: reqwest::Client,
    pub config: Config,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    _dir: tempfile::TempDir,
    pg_schema: Option<String>,
    /// The URL of the PostgreSQL database that holds `pg_schema`.
    pg_database: Option<String>,
}

/// A runtime and a SQLite server for a test that is not async itself (proptest's
/// closures are synchronous and drive the runtime with `block_on`).
pub fn sqlite_app_with_runtime() -> (tokio::runtime::Runtime, TestApp) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let app = runtime
        .block_on(TestApp::spawn(Backend::Sqlite, |_| {}))
        .unwrap();
    (runtime, app)
}

pub async fn run<F, Fut>(backend: Backend, configure: impl FnOnce(&mut Config), test: F)
where
    F: FnOnce(TestApp) -> Fut,
    Fut: Future<Output = ()>,
{
    let app = TestApp::spawn(backend, configure).await.expect(NO_POSTGRES);
    test(app).await;
}

/// The PostgreSQL tests were built to run (TEST_POSTGRES_URL was set) but it is unset now.
pub const NO_POSTGRES: &str = "TEST_POSTGRES_URL was set when the tests were built, not now";

fn postgres_base_url() -> Option<String> {
    std::env::var("TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

impl TestApp {
    /// Starts a server with a fresh database; `configure` may change settings first.
    /// `None` only for PostgreSQL when TEST_POSTGRES_URL is unset.
    pub async fn spawn(backend: Backend, configure: impl FnOnce(&mut Config)) -> Option<TestApp> {
        Self::spawn_on(backend, "", configure).await
    }

    /// Starts a server on a database that `sql` has written first: a database as an
    /// older release left it, which the server must migrate at start.
    pub async fn spawn_on(
        backend: Backend,
        sql: &str,
        configure: impl FnOnce(&mut Config),
    ) -> Option<TestApp> {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut pg_database = None;
        let (database_url, pg_schema) = match backend {
            Backend::Sqlite => (
                format!("sqlite://{}", dir.path().join("shop.db").display()),
                None,
            ),
            Backend::Postgres => {
                let base = postgres_base_url()?;
                pg_database = Some(base.clone());
                let schema = format!("test_{}", random_suffix());
                let client = pg_client(&base).await;
                ensure_trigram_extension(&client).await;
                client
                    .batch_execute(&format!("CREATE SCHEMA {schema}"))
                    .await
                    .expect("create test schema");
                let sep = if base.contains('?') { '&' } else { '?' };
                (
                    // application_name lets a test find its own connections in pg_stat_activity.
                    format!(
                        "{base}{sep}options=-c%20search_path%3D{schema}&application_name={schema}"
                    ),
                    Some(schema),
                )
            }
        };
        if !sql.is_empty() {
            run_sql(
                &database_url,
                pg_schema.as_deref(),
                pg_database.as_deref(),
                sql,
            )
            .await;
        }
        let mut config = Config::from_env();
        config.database.database_url = database_url;
        config.auth.bcrypt_cost = 4;
        config.auth.jwt_secret = Some(Secret::new("test-secret-test-secret-test-secret!"));
        config.server.data_dir = dir.path().join("data");
        config.media.media_dir = dir.path().join("media");
        config.database.db_pool_size = 5;
        configure(&mut config);
        let (addr, tx, server, state) = start_server(config.clone()).await;
        Some(TestApp {
            addr,
            state,
            client: reqwest::Client::new(),
            config,
            shutdown: Some(tx),
            server: Some(server),
            _dir: dir,
            pg_schema,
            pg_database,
        })
    }

    /// Another server process-alike on the same database and media folder (a restart,
    /// or a second instance). Stops when the returned guard drops.
    pub async fn another_server(&self) -> Server {
        let (addr, shutdown, handle, _) = start_server(self.config.clone()).await;
        Server {
            addr,
            _shutdown: shutdown,
            handle,
        }
    }

    /// Runs SQL on the test's own database, beside the server (to break things on
    /// purpose).
    pub async fn execute_sql(&self, sql: &str) {
        match &self.pg_schema {
            Some(schema) => {
                let client = pg_client(self.pg_database.as_ref().expect("postgres url")).await;
                client
                    .batch_execute(&format!(
                        "SET search_path TO {schema}; SET application_name TO {schema}; {sql}"
                    ))
                    .await
                    .expect("SQL runs");
            }
            None => {
                use diesel::Connection;
                let path = self
                    .config
                    .database
                    .database_url
                    .trim_start_matches("sqlite://");
                let mut conn = diesel::SqliteConnection::establish(path).expect("sqlite opens");
                // The server's background work (the mail worker) may hold the write lock
                // for a moment: wait for it, as the server's own connections do.
                let sql = format!("PRAGMA busy_timeout = 5000; {sql}");
                diesel::connection::SimpleConnection::batch_execute(&mut conn, &sql)
                    .expect("SQL runs");
            }
        }
    }

    /// The number a `SELECT COUNT(*) …` on the test's own database answers (for what the
    /// API does not show: the rows behind the mail outbox, for one).
    pub async fn count(&self, sql: &str) -> i64 {
        if self.pg_schema.is_some() {
            return self.query_postgres(sql).await[0].get::<_, i64>(0);
        }
        use diesel::{Connection, RunQueryDsl};
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let path = self
            .config
            .database
            .database_url
            .trim_start_matches("sqlite://");
        let mut conn = diesel::SqliteConnection::establish(path).expect("sqlite opens");
        let sql = format!("SELECT ({sql}) AS n");
        let rows: Vec<Count> = diesel::sql_query(sql).load(&mut conn).expect("query runs");
        rows[0].n
    }

    /// The server still answers /healthz. A fresh client: a refused request may have had
    /// its connection closed by the server, and a pooled one could be that connection.
    pub async fn assert_healthy(&self) {
        let response = reqwest::Client::new()
            .get(self.url("/healthz"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// POSTs one operation; returns the whole JSON response.
    pub async fn gql(&self, query: &str, variables: Value, token: Option<&str>) -> Value {
        self.gql_at(self.addr, query, variables, token).await
    }

    /// The same, against another server on the same database.
    pub async fn gql_at(
        &self,
        addr: SocketAddr,
        query: &str,
        variables: Value,
        token: Option<&str>,
    ) -> Value {
        let mut request = self
            .client
            .post(format!("http://{addr}/graphql"))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("request sent");
        response.json().await.expect("JSON response")
    }

    /// Starts the real `mini-ecommerce` binary as a separate process on this test's
    /// database; killed when the returned guard drops.
    pub async fn server_process(&self) -> Process {
        self.server_process_with(&[], None).await
    }

    /// The same with extra environment variables (over the test's defaults) and, when
    /// given, a limit of open files (soft and hard) for the process.
    pub async fn server_process_with(
        &self,
        env: &[(&str, &str)],
        open_files: Option<u64>,
    ) -> Process {
        self.server_process_logging(env, open_files, None).await
    }

    /// The same, writing what the process logs (its standard output) to `log`.
    pub async fn server_process_logging(
        &self,
        env: &[(&str, &str)],
        open_files: Option<u64>,
        log: Option<std::fs::File>,
    ) -> Process {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_mini-ecommerce"));
        if let Some(files) = open_files {
            use std::os::unix::process::CommandExt;
            // SAFETY: setrlimit is async-signal-safe and touches nothing of the parent's.
            unsafe {
                command.pre_exec(move || {
                    let limit = libc::rlimit {
                        rlim_cur: files,
                        rlim_max: files,
                    };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 {
                        Ok(())
                    } else {
                        Err(std::io::Error::last_os_error())
                    }
                });
            }
        }
        let child = command
            .arg("serve")
            .env("DATABASE_URL", &self.config.database.database_url)
            .env("BIND_ADDR", addr.to_string())
            .env(
                "JWT_SECRET",
                self.config
                    .auth
                    .jwt_secret
                    .as_ref()
                    .map_or("", Secret::expose),
            )
            .env("BCRYPT_COST", "4")
            .env("DATA_DIR", &self.config.server.data_dir)
            .env("MEDIA_DIR", &self.config.media.media_dir)
            .env("DB_POOL_SIZE", "5")
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(log.map_or_else(std::process::Stdio::null, std::process::Stdio::from))
            .spawn()
            .expect("server binary starts");
        let mut process = Process { addr, child };
        let client = &self.client;
        let what = format!("the server process on {addr} is ready");
        wait_until(&what, std::time::Duration::from_secs(10), async || {
            assert!(process.is_running(), "the server process on {addr} exited");
            let ready = client.get(format!("http://{addr}/readyz")).send().await;
            ready.is_ok_and(|r| r.status() == 200)
        })
        .await;
        process
    }

    /// Registers a customer; returns (access token, refresh token, user id).
    pub async fn register(&self, email: &str) -> (String, String, String) {
        let body = self
            .gql(
                REGISTER,
                json!({ "input": {
                    "email": email, "password": PASSWORD, "passwordConfirmation": PASSWORD,
                    "firstName": "Test", "lastName": "User"
                }}),
                None,
            )
            .await;
        let payload = &body["data"]["register"];
        assert_eq!(payload["userErrors"], json!([]), "{body}");
        (
            payload["accessToken"].as_str().unwrap().to_owned(),
            payload["refreshToken"].as_str().unwrap().to_owned(),
            payload["user"]["id"].as_str().unwrap().to_owned(),
        )
    }

    /// Makes an admin through the same code path as the `create-admin` command; returns
    /// its access token.
    pub async fn admin(&self, email: &str) -> String {
        self.state
            .handles
            .accounts
            .create_admin(email, PASSWORD)
            .await
            .expect("admin created");
        self.login(email, PASSWORD).await
    }

    pub async fn login(&self, email: &str, password: &str) -> String {
        let body = self
            .gql(
                LOGIN,
                json!({ "input": { "email": email, "password": password } }),
                None,
            )
            .await;
        body["data"]["login"]["accessToken"]
            .as_str()
            .unwrap_or_else(|| panic!("login failed: {body}"))
            .to_owned()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.abort();
        }
        if let (Some(schema), Some(base)) = (self.pg_schema.take(), self.pg_database.take()) {
            // Drop runs outside async; a short thread with its own runtime removes the schema.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    let client = pg_client(&base).await;
                    let _ = client
                        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
                        .await;
                });
            })
            .join();
        }
    }
}

pub struct Process {
    pub addr: SocketAddr,
    child: std::process::Child,
}

impl Process {
    /// Whether the process is still running (a crash ends it).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Server {
    pub addr: SocketAddr,
    _shutdown: tokio::sync::oneshot::Sender<()>,
    handle: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

type Started = (
    SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
    App,
);

async fn start_server(config: Config) -> Started {
    let app = App::build(config).await.expect("app starts");
    let state = app.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        app.serve(listener, async {
            let _ = rx.await;
        })
        .await
        .expect("server runs");
    });
    (addr, tx, server, state)
}

/// The migration creates pg_trgm if missing; tests running at once would race to create
/// it, so the harness makes sure it exists first.
async fn ensure_trigram_extension(client: &tokio_postgres::Client) {
    wait_until(
        "pg_trgm exists",
        std::time::Duration::from_secs(5),
        async || {
            // Of several tests at once, all but one may fail to create it: they ask again.
            let _ = client
                .batch_execute("CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public")
                .await;
            let present = client
                .query_opt("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'", &[])
                .await
                .expect("query pg_extension");
            present.is_some()
        },
    )
    .await;
}

async fn pg_client(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at TEST_POSTGRES_URL is unreachable: {e}"));
    tokio::spawn(connection);
    client
}

/// Runs `sql` on a test's database, before its server exists.
async fn run_sql(url: &str, schema: Option<&str>, base: Option<&str>, sql: &str) {
    match (schema, base) {
        (Some(schema), Some(base)) => {
            let client = pg_client(base).await;
            client
                .batch_execute(&format!("SET search_path TO {schema}; {sql}"))
                .await
                .expect("SQL runs");
        }
        _ => {
            use diesel::Connection;
            use diesel::connection::SimpleConnection;
            let path = url.trim_start_matches("sqlite://");
            let mut conn = diesel::SqliteConnection::establish(path).expect("SQLite opens");
            conn.batch_execute(sql).expect("SQL runs");
        }
    }
}

fn random_suffix() -> String {
    format!("{:016x}", rand::random::<u64>())
}

pub const PASSWORD: &str = "correct horse battery";

pub const REGISTER: &str = "mutation($input: RegisterInput!) { register(input: $input) {
    accessToken refreshToken accessTokenExpiresAt refreshTokenExpiresAt
    user { id email firstName lastName phone role isActive createdAt }
    userErrors { field message code } } }";

pub const LOGIN: &str = "mutation($input: LoginInput!) { login(input: $input) {
    accessToken refreshToken user { id email role } userErrors { field message code } } }";

pub const CREATE_PRODUCT: &str = "mutation($input: CreateProductInput!) { createProduct(input: $input) {
    product { id name description price stock inStock isArchived imageUrl } userErrors { field message code } } }";

impl TestApp {
    /// Creates a product as `admin`; returns its ID.
    pub async fn product(&self, admin: &str, name: &str, price: &str, stock: i32) -> String {
        let body = self
            .gql(
                CREATE_PRODUCT,
                json!({ "input": { "name": name, "price": price, "stock": stock,
                    "description": format!("About {name}") } }),
                Some(admin),
            )
            .await;
        body["data"]["createProduct"]["product"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("product not created: {body}"))
            .to_owned()
    }
}

/// A global ID, as the server makes them.
pub fn global_id(kind: &str, id: i64) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("{kind}:{id}"))
}

/// The `code` of the first user error of payload `field`.
pub fn user_error_code(body: &Value, field: &str) -> Value {
    body["data"][field]["userErrors"][0]["code"].clone()
}

/// The `extensions.code` of the first request error.
pub fn error_code(body: &Value) -> Value {
    body["errors"][0]["extensions"]["code"].clone()
}

/// Polls `condition` every 20 ms until it holds; fails naming `what` once `timeout` has
/// passed. For a state that no event announces (a process ready, a connection back).
pub async fn wait_until(
    what: &str,
    timeout: std::time::Duration,
    mut condition: impl AsyncFnMut() -> bool,
) {
    let deadline = tokio::time::Instant::now() + timeout;
    while !condition().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting until {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

impl TestApp {
    /// Runs a query on the test's PostgreSQL database, as `execute_sql` runs SQL (same
    /// search path and application name); the rows it returns.
    pub async fn query_postgres(&self, sql: &str) -> Vec<tokio_postgres::Row> {
        let schema = self.pg_schema.as_ref().expect("a PostgreSQL test");
        let client = pg_client(self.pg_database.as_ref().expect("postgres url")).await;
        client
            .batch_execute(&format!(
                "SET search_path TO {schema}; SET application_name TO {schema}"
            ))
            .await
            .expect("SQL runs");
        client.query(sql, &[]).await.expect("query runs")
    }
}

/// Builders of the shop a test starts from: customers, carts and orders, made through
/// the API as a client would. Each fails the test at once when its step is refused, so
/// that a broken setup is not mistaken for what the test checks.
impl TestApp {
    /// Registers a customer; returns its access token.
    pub async fn customer(&self, email: &str) -> String {
        self.register(email).await.0
    }

    /// Registers `count` customers `{prefix}{i}@example.com`, each with `quantity` of
    /// `product` in the cart; returns their access tokens.
    pub async fn customers_with_carts(
        &self,
        prefix: &str,
        count: usize,
        product: &str,
        quantity: i32,
    ) -> Vec<String> {
        let mut tokens = Vec::new();
        for i in 0..count {
            let token = self.customer(&format!("{prefix}{i}@example.com")).await;
            self.add_to_cart(&token, product, quantity).await;
            tokens.push(token);
        }
        tokens
    }

    /// Puts `quantity` of `product` in the cart of `token`.
    pub async fn add_to_cart(&self, token: &str, product: &str, quantity: i32) {
        let add = "mutation($p: ID!, $q: Int) { addToCart(input: {productId: $p, quantity: $q}) {
            cartItem { id } userErrors { code } } }";
        let body = self
            .gql(add, json!({ "p": product, "q": quantity }), Some(token))
            .await;
        assert_eq!(
            body["data"]["addToCart"]["userErrors"],
            json!([]),
            "added to the cart: {body}"
        );
    }

    /// An order of `quantity` of `product`, put in the cart of `token` and placed with
    /// `input` (a PlaceOrderInput); returns its ID. The order takes the whole cart.
    pub async fn order(&self, token: &str, product: &str, quantity: i32, input: Value) -> String {
        self.add_to_cart(token, product, quantity).await;
        self.place_order(token, input).await
    }

    /// Places an order of the cart of `token` (`input` is the PlaceOrderInput); returns
    /// its ID.
    pub async fn place_order(&self, token: &str, input: Value) -> String {
        let place = "mutation($input: PlaceOrderInput!) { placeOrder(input: $input) {
            order { id } userErrors { code } } }";
        let body = self
            .gql(place, json!({ "input": input }), Some(token))
            .await;
        body["data"]["placeOrder"]["order"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("order not placed: {body}"))
            .to_owned()
    }
}
