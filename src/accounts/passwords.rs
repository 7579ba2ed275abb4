//! Password rules and bcrypt hashing, off the async runtime.

use std::collections::HashSet;
use std::sync::{Arc, LazyLock};

use tokio::sync::Semaphore;

use crate::error::{AppError, UserErrorCode};

/// bcrypt only reads the first 72 bytes; longer passwords are refused rather than
/// silently truncated.
pub(crate) const MAX_PASSWORD_BYTES: usize = 72;
pub(crate) const MIN_PASSWORD_CHARS: usize = 8;

/// The 1,000 most common passwords (zxcvbn's frequency list, MIT).
static COMMON_PASSWORDS: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| include_str!("common_passwords.txt").lines().collect());

/// Checks the password rules; `field` names the input field in the user error.
pub(crate) fn check_password_rules(
    password: &str,
    email: &str,
    field: &str,
) -> Result<(), AppError> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(AppError::input(
            UserErrorCode::InvalidInput,
            field,
            format!("password must be at most {MAX_PASSWORD_BYTES} bytes"),
        ));
    }
    let weak = |why: &str| Err(AppError::input(UserErrorCode::PasswordTooWeak, field, why));
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return weak("password must be at least 8 characters");
    }
    if password.chars().all(|c| c.is_ascii_digit()) {
        return weak("password must not be all digits");
    }
    if password.trim().eq_ignore_ascii_case(email.trim()) {
        return weak("password must not be the email address");
    }
    if COMMON_PASSWORDS.contains(password.to_lowercase().as_str()) {
        return weak("password is too common");
    }
    Ok(())
}

/// bcrypt work runs on the blocking pool, and at most `permits` hashes run at once, so a
/// burst of logins queues on itself instead of taking every core from other requests.
#[derive(Clone)]
pub struct Hasher {
    cost: u32,
    permits: Arc<Semaphore>,
    /// A hash of a random password, verified against when the email is unknown so the
    /// answer takes as long as for a wrong password.
    dummy_hash: Arc<String>,
}

impl Hasher {
    pub(crate) fn new(cost: u32) -> Self {
        let dummy = crate::random::random_token();
        Hasher {
            cost,
            permits: Arc::new(Semaphore::new(crate::runtime::hash_lanes())),
            dummy_hash: Arc::new(bcrypt::hash(dummy, cost).expect("bcrypt of 43 bytes")),
        }
    }

    pub(crate) async fn hash(&self, password: &str) -> Result<String, AppError> {
        let password = password.to_owned();
        let cost = self.cost;
        self.run(move || {
            bcrypt::hash(password, cost).map_err(|e| AppError::internal(e.to_string()))
        })
        .await
    }

    /// Whether `password` matches `hash`; with no hash (unknown user) it spends the same
    /// time on a dummy hash and answers false.
    pub(crate) async fn verify(
        &self,
        password: &str,
        hash: Option<&str>,
    ) -> Result<bool, AppError> {
        let known = hash.is_some();
        let hash = hash.map_or_else(|| self.dummy_hash.as_str().to_owned(), str::to_owned);
        // Truncation would let a >72-byte password match its prefix: never accept one.
        let too_long = password.len() > MAX_PASSWORD_BYTES;
        let password: Vec<u8> = password.bytes().take(MAX_PASSWORD_BYTES).collect();
        let matches = self
            .run(move || Ok(bcrypt::verify(&password, &hash).unwrap_or(false)))
            .await?;
        Ok(matches && known && !too_long)
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, AppError> + Send + 'static,
    ) -> Result<T, AppError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| AppError::internal("hasher closed"))?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| AppError::internal(format!("hash task: {e}")))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_rules() {
        let email = "ann@example.com";
        assert!(check_password_rules("correct horse", email, "password").is_ok());
        for weak in [
            "short1",
            "12345678901",
            "password",
            "Password",
            "ann@example.com",
        ] {
            assert!(
                check_password_rules(weak, email, "password").is_err(),
                "{weak}"
            );
        }
        assert!(check_password_rules(&"a".repeat(73), email, "password").is_err());
    }
}
