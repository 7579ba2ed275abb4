//! The `mini-ecommerce` binary: parse the command line, dispatch.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use mini_ecommerce::app::{App, shutdown_signal};
use mini_ecommerce::cli;
use mini_ecommerce::config::Config;

/// mimalloc rather than the system allocator: GraphQL execution allocates many small,
/// short-lived values per request, and glibc's malloc/free took about a tenth of the
/// server's CPU under load (bench/RESULTS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "mini-ecommerce",
    version,
    about = "A GraphQL commerce API server"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    config: Config,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Create an admin, or promote an existing user to admin.
    CreateAdmin {
        #[arg(long, env = "ADMIN_EMAIL")]
        email: Option<String>,
        #[arg(long, env = "ADMIN_PASSWORD", hide_env_values = true)]
        password: Option<String>,
    },
    /// Print the GraphQL schema (SDL); schema.graphql is its output.
    PrintSchema,
    /// Fill the database with a demo catalog and a demo customer.
    SeedDemo {
        /// How many products to add.
        #[arg(long, default_value_t = 200)]
        products: usize,
        /// Customers customer{i}@example.com to add, with the demo password.
        #[arg(long, default_value_t = 0)]
        customers: usize,
        /// Delivered orders of five lines for each added customer.
        #[arg(long, default_value_t = 0)]
        orders_per_customer: usize,
        /// Cart lines for each added customer.
        #[arg(long, default_value_t = 0)]
        cart_lines: usize,
    },
}

fn main() -> ExitCode {
    // A missing .env is normal; settings then come from the environment alone.
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime
        .enable_all()
        .max_blocking_threads(mini_ecommerce::runtime::max_blocking_threads(&cli.config));
    if let Some(threads) = cli.config.server.worker_threads {
        runtime.worker_threads(threads.into());
    }
    let runtime = match runtime.build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The trace exporter sends on the runtime, so the subscriber is set up inside it;
    // the guard is dropped after `run`, while the runtime's workers still run, so that
    // the last spans are sent.
    let telemetry = match runtime
        .block_on(async { mini_ecommerce::telemetry::logging::init(&cli.config.telemetry) })
    {
        Ok(guard) => guard,
        Err(error) => {
            eprintln!("error: {error:#}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(cli));
    drop(telemetry);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // `{:#}`: the error and its causes on one line.
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = cli.config;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let bind_addr = config.server.bind_addr;
            let app = App::build(config).await?;
            let listener = tokio::net::TcpListener::bind(bind_addr)
                .await
                .with_context(|| format!("BIND_ADDR: cannot listen on {bind_addr}"))?;
            tracing::info!("GraphQL at http://{bind_addr}/graphql");
            app.serve(listener, shutdown_signal())
                .await
                .context("serving")
        }
        Command::Migrate => {
            mini_ecommerce::db::run_migrations(&config.database.database_url).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::CreateAdmin { email, password } => {
            let (email, password) =
                cli::admin_credentials(email, password).context("reading the credentials")?;
            cli::create_admin(config, &email, &password).await
        }
        Command::SeedDemo {
            products,
            customers,
            orders_per_customer,
            cart_lines,
        } => {
            let plan = mini_ecommerce::seed::SeedPlan {
                products,
                customers,
                orders_per_customer,
                cart_lines,
            };
            cli::seed_demo(config, plan).await
        }
        Command::PrintSchema => {
            print!("{}", mini_ecommerce::graphql::schema::sdl());
            Ok(())
        }
    }
}
