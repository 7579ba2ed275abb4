//! The commands besides `serve`: `create-admin` and `seed-demo` (`migrate` and
//! `print-schema` are one call each, in main.rs).

use std::io::{BufRead, Write};

use crate::app::App;
use crate::config::Config;
use crate::error::AppError;

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
pub async fn create_admin(config: Config, email: &str, password: &str) -> Result<(), String> {
    let app = App::build(config).await.map_err(describe)?;
    let user = crate::accounts::service::create_admin(&app.state, email, password)
        .await
        .map_err(describe)?;
    println!("{} is now an admin", user.email);
    Ok(())
}

/// Adds a demo catalog and customer; prints how to sign in.
pub async fn seed_demo(config: Config, products: usize) -> Result<(), String> {
    use crate::catalog::seed::{DEMO_EMAIL, DEMO_PASSWORD, seed_demo};
    let app = App::build(config).await.map_err(describe)?;
    let started = std::time::Instant::now();
    let inserted = seed_demo(&app.state, products).await.map_err(describe)?;
    println!(
        "added {inserted} products in {:.1} s; sign in as {DEMO_EMAIL} / {DEMO_PASSWORD}",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// A readable line for an error that ends a command.
pub fn describe(err: AppError) -> String {
    match err {
        AppError::User(e) => e.message,
        AppError::Database(e) => format!("database error: {e}"),
        AppError::Internal(m) => m,
        other => format!("{other:?}"),
    }
}
