//! Access tokens (short-lived JWTs) and refresh tokens (opaque, stored only as hashes).

use std::collections::HashMap;
use std::sync::Mutex;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What the database keeps of a refresh token. The token is random and long, so a fast
/// hash is enough (no salt or key stretching needed, unlike passwords).
pub(crate) fn hash_refresh_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Claims {
    /// The user id (a string, as RFC 7519 has it).
    pub sub: String,
    /// The session the token was issued for.
    pub sid: i64,
    pub iat: i64,
    pub exp: i64,
}

impl Claims {
    pub(crate) fn user_id(&self) -> Option<i64> {
        self.sub.parse().ok()
    }
}

/// Signs and checks access tokens with one HS256 key.
pub(crate) struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    /// Tokens already found genuine, by their exact text: a client sends the same token
    /// with every request for its 15 minutes, and checking its signature again was a
    /// tenth of the server's work for a product page (bench/RESULTS.md). Only expiry is
    /// checked again; any other text, a forgery of one of these included, is verified.
    verified: Mutex<HashMap<Box<str>, Claims>>,
}

/// Most genuine tokens remembered; past it the expired ones go, then all.
const MAX_VERIFIED: usize = 10_000;

fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

impl TokenKeys {
    pub(crate) fn new(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        TokenKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            verified: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn issue(&self, claims: &Claims) -> String {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .expect("HS256 signing of plain claims cannot fail")
    }

    /// The claims of a genuine, unexpired token; `None` for anything else (forged,
    /// expired, another algorithm, `alg: none`, garbage).
    pub(crate) fn verify(&self, token: &str) -> Option<Claims> {
        if token.len() > 4096 {
            return None;
        }
        let now = unix_now();
        let verified = self.verified.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(claims) = verified.get(token) {
            // jsonwebtoken's rule, leeway 0: good up to and including `exp`.
            return (claims.exp >= now).then(|| claims.clone());
        }
        drop(verified);
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .ok()?
            .claims;
        let mut verified = self.verified.lock().unwrap_or_else(|e| e.into_inner());
        if verified.len() >= MAX_VERIFIED {
            verified.retain(|_, claims| claims.exp >= now);
            if verified.len() >= MAX_VERIFIED {
                verified.clear();
            }
        }
        verified.insert(token.into(), claims.clone());
        Some(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    #[test]
    fn rejects_forged_and_expired_tokens() {
        let keys = TokenKeys::new(b"0123456789abcdef0123456789abcdef");
        let now = chrono::Utc::now().timestamp();
        let good = keys.issue(&Claims {
            sub: "1".into(),
            sid: 2,
            iat: now,
            exp: now + 60,
        });
        assert_eq!(keys.verify(&good).unwrap().user_id(), Some(1));
        let expired = keys.issue(&Claims {
            sub: "1".into(),
            sid: 2,
            iat: now - 120,
            exp: now - 60,
        });
        assert!(keys.verify(&expired).is_none());
        let other = TokenKeys::new(b"another-secret-another-secret-!!");
        assert!(
            keys.verify(&other.issue(&Claims {
                sub: "1".into(),
                sid: 2,
                iat: now,
                exp: now + 60
            }))
            .is_none()
        );
        // alg: none, same claims, no signature.
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let body = URL_SAFE_NO_PAD.encode(format!(
            r#"{{"sub":1,"sid":2,"iat":{now},"exp":{}}}"#,
            now + 60
        ));
        assert!(keys.verify(&format!("{header}.{body}.")).is_none());
        assert!(keys.verify("garbage").is_none());
    }

    #[test]
    fn a_remembered_token_is_checked_for_expiry_only() {
        let keys = TokenKeys::new(b"0123456789abcdef0123456789abcdef");
        let now = unix_now();
        let good = keys.issue(&Claims {
            sub: "7".into(),
            sid: 2,
            iat: now,
            exp: now + 60,
        });
        assert_eq!(keys.verify(&good).map(|c| c.sid), Some(2));
        assert_eq!(keys.verify(&good).map(|c| c.sid), Some(2), "from memory");
        // What is remembered is trusted as it stands: an entry past its expiry is refused.
        let remember = |text: &str, exp: i64| {
            let claims = Claims {
                sub: "7".into(),
                sid: 3,
                iat: now,
                exp,
            };
            keys.verified.lock().unwrap().insert(text.into(), claims);
        };
        remember("remembered", now + 60);
        assert_eq!(keys.verify("remembered").map(|c| c.sid), Some(3));
        remember("remembered", now - 1);
        assert!(keys.verify("remembered").is_none());
        // Forgeries never enter: a refused text is not remembered.
        assert!(keys.verify(&format!("{good}x")).is_none());
        assert!(
            !keys
                .verified
                .lock()
                .unwrap()
                .contains_key(&*format!("{good}x"))
        );
    }

    proptest::proptest! {
        /// Arbitrary text, and three base64url segments of arbitrary bytes (the shape of a
        /// JWT), are refused without panicking.
        #[test]
        fn verifying_arbitrary_tokens_never_panics_or_accepts(
            text in "\\PC{0,400}",
            parts in proptest::collection::vec(proptest::collection::vec(proptest::num::u8::ANY, 0..80), 3),
        ) {
            let keys = TokenKeys::new(b"0123456789abcdef0123456789abcdef");
            proptest::prop_assert!(keys.verify(&text).is_none());
            let forged: Vec<String> = parts.iter().map(|p| URL_SAFE_NO_PAD.encode(p)).collect();
            proptest::prop_assert!(keys.verify(&forged.join(".")).is_none());
        }
    }
}
