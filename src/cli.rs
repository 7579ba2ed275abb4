//! The commands besides `serve`: `create-admin` and `seed-demo` (`migrate` and
//! `print-schema` are one call each, in main.rs).

use std::io::{BufRead, Write};

use crate::app::App;
use crate::config::Config;
use crate::error::AppError;
use crate::seed::{DEMO_EMAIL, DEMO_PASSWORD, SeedPlan};

/// Reads a missing admin email or password: from the environment, or by asking.
pub fn admin_credentials(
    email: Option<String>,
    password: Option<String>,
) -> std::io::Result<(String, String)> {
    let email = match email {
        Some(email) => email,
        None => {
            print!("Admin email: ");
            std::io::stdout().flush()?;
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            line.trim().to_owned()
        }
    };
    let password = match password {
        Some(password) => password,
        None => rpassword::prompt_password("Admin password: ")?,
    };
    Ok((email, password))
}

/// Creates the admin, or promotes an existing user; prints what happened.
pub async fn create_admin(config: Config, email: &str, password: &str) -> anyhow::Result<()> {
    let app = App::build(config).await?;
    let user = app
        .handles
        .accounts
        .create_admin(email, password)
        .await
        .map_err(|e| anyhow::anyhow!(describe(e)))?;
    println!("{} is now an admin", user.email);
    Ok(())
}

/// Adds demo data; prints what it added and how to sign in.
pub async fn seed_demo(config: Config, plan: SeedPlan) -> anyhow::Result<()> {
    let app = App::build(config).await?;
    let started = std::time::Instant::now();
    let seeded = crate::seed::seed_demo(&app.db, &app.hasher, plan)
        .await
        .map_err(|e| anyhow::anyhow!(describe(e)))?;
    println!(
        "added {} products, {} customers, {} orders, {} reviews, {} cart lines in {:.1} s; \
         sign in as {DEMO_EMAIL} (or customer0@example.com, …) with {DEMO_PASSWORD}",
        seeded.products,
        seeded.customers,
        seeded.orders,
        seeded.reviews,
        seeded.cart_lines,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// A readable line for a request error that ends a command (`AppError` is deliberately
/// not `Display`, see `crate::error`).
pub(crate) fn describe(err: AppError) -> String {
    match err {
        AppError::User(e) => e.message,
        AppError::Database(e) => format!("database error: {e}"),
        AppError::Internal(m) => m,
        other => format!("{other:?}"),
    }
}
