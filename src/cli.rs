//! The commands besides `serve`: `migrate`, `create-admin`, `print-schema`.

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

/// A readable line for an error that ends a command.
pub fn describe(err: AppError) -> String {
    match err {
        AppError::User(e) => e.message,
        AppError::Database(e) => format!("database error: {e}"),
        AppError::Internal(m) => m,
        other => format!("{other:?}"),
    }
}
