//! Tokens the outbox must not hold. A password reset mail carries a token that signs
//! in as its user; the outbox row keeps only a random salt, and the token is derived
//! from it with a key only the server has (HMAC-SHA256), when the mail is written and
//! again when it is sent. Reading the database (a backup, a replica) yields no token.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Where the token goes in a mail's bodies until the worker fills it in.
pub(crate) const TOKEN_PLACEHOLDER: &str = "{{token}}";

/// The key that derives tokens from salts.
#[derive(Clone)]
pub(crate) struct TokenSeal {
    key: [u8; 32],
}

impl TokenSeal {
    /// A key of its own, derived from the server's secret (so that rotating the secret
    /// also voids the links of mails not yet sent).
    pub(crate) fn from_secret(secret: &[u8]) -> Self {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes any key");
        mac.update(b"mini-ecommerce mail token seal v1");
        TokenSeal {
            key: mac.finalize().into_bytes().into(),
        }
    }

    /// A new salt (256 random bits) and the token it stands for.
    pub(crate) fn new_token(&self) -> (String, String) {
        let salt = crate::random::random_token();
        let token = self.open(&salt);
        (salt, token)
    }

    /// The token a salt stands for.
    pub(crate) fn open(&self, salt: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("HMAC takes any key");
        mac.update(salt.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }
}

impl std::fmt::Debug for TokenSeal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenSeal(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::TokenSeal;

    #[test]
    fn a_salt_opens_to_its_token_under_one_key_only() {
        let seal = TokenSeal::from_secret(b"one secret of thirty-two bytes!!");
        let (salt, token) = seal.new_token();
        assert_eq!(seal.open(&salt), token);
        assert_ne!(salt, token);
        assert_eq!(token.len(), 43, "256 bits, URL-safe base64");
        let other = TokenSeal::from_secret(b"another secret of thirty-two b!!");
        assert_ne!(other.open(&salt), token);
    }
}
