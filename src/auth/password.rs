//! Password hashing: argon2id (m = 19 MiB, t = 2, p = 1), run off the async
//! threads. Unknown emails are verified against a dummy hash so that they cost
//! the same time as a wrong password.

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::OnceLock;

fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("valid argon2 params");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password (blocking: call through `hash_async` from async code).
pub fn hash(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing password: {e}"))
}

/// Verifies a password against a PHC string; a malformed hash is a mismatch.
pub fn verify(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash("dxdesk-dummy-password-for-timing").expect("dummy hash"))
}

pub async fn hash_async(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || hash(&password)).await?
}

/// Verifies against `phc`, or against the dummy hash when there is no user, so
/// both paths take the same time.
pub async fn verify_async(password: String, phc: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || match phc {
        Some(phc) => verify(&password, &phc),
        None => {
            let _ = verify(&password, dummy_hash());
            false
        }
    })
    .await
    .unwrap_or(false)
}

/// Computes the dummy hash ahead of the first login.
pub fn warm_up() {
    let _ = dummy_hash();
}

/// A password a new account may have.
pub fn check_strength(password: &str) -> Result<(), crate::error::AppError> {
    if password.chars().count() < 10 {
        return Err(crate::error::AppError::bad_input(
            Some("password"),
            "パスワードは10文字以上にしてください。",
            "The password must be at least 10 characters long.",
        ));
    }
    if password.len() > 256 {
        return Err(crate::error::AppError::bad_input(
            Some("password"),
            "パスワードが長すぎます（256バイトまで）。",
            "The password is too long (256 bytes at most).",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_verifies_and_uses_argon2id_with_our_params() {
        let h = hash("demo-pass-2024").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify("demo-pass-2024", &h));
        assert!(!verify("demo-pass-2025", &h));
        assert!(!verify("demo-pass-2024", "not a hash"));
    }
}
