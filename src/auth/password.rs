//! Password hashing with argon2id (the argon2 crate's defaults, OWASP's
//! recommended parameters). Hashing is CPU-heavy by design, so it runs on
//! the blocking pool, never on a runtime thread.

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

/// Hashing failed (the OS gave no randomness, or the blocking task died):
/// an internal error for the caller.
#[derive(Debug)]
pub struct HashFailed(pub String);

/// The PHC string (`$argon2id$...`) of `password`.
pub async fn hash(password: String) -> Result<String, HashFailed> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| HashFailed(format!("password hashing failed: {e}")))
    })
    .await
    .map_err(|e| HashFailed(format!("password hashing task failed: {e}")))?
}

/// Whether `password` matches the stored PHC string.
pub async fn verify(password: String, stored: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&stored)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_differ_per_salt() {
        let a = hash("correct horse battery".into()).await.unwrap();
        let b = hash("correct horse battery".into()).await.unwrap();
        assert!(a.starts_with("$argon2id$"));
        assert_ne!(a, b, "salted");
        assert!(verify("correct horse battery".into(), a.clone()).await);
        assert!(!verify("wrong horse battery".into(), a).await);
        assert!(!verify("x".into(), "not a hash".into()).await);
    }
}
