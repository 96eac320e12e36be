//! Passwords: only Argon2id hashes (PHC strings) are ever kept.

use super::AuthError;
use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;

/// Shortest password accepted, in characters.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longest password accepted, in bytes (bounds the hashing work an input can ask for).
pub use crate::limits::MAX_PASSWORD_BYTES;

/// A hash of nothing anyone knows, with the default parameters: checked
/// against when the user does not exist, so a wrong name costs the same
/// time as a wrong password.
const DECOY: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$ZWhqR0FkbHl6V3p2aWhNbWJ1K0xZZw";

/// Hashes an acceptable new password.
pub(crate) fn hash_password(password: &str) -> Result<String, AuthError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AuthError::WeakPassword(format!(
            "a password needs at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(AuthError::WeakPassword(format!(
            "a password may have at most {MAX_PASSWORD_BYTES} bytes"
        )));
    }
    if password.trim().is_empty() {
        return Err(AuthError::WeakPassword(
            "a password of only white space is refused".into(),
        ));
    }
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AuthError::WeakPassword(format!("cannot hash the password: {e}")))
}

/// Whether `password` matches the PHC string `phc`.
pub(crate) fn verify_password(password: &str, phc: &str) -> bool {
    password.len() <= MAX_PASSWORD_BYTES
        && PasswordHash::new(phc).is_ok_and(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
}

/// Spends the work of one verification (for a user that does not exist).
pub(crate) fn verify_nothing(password: &str) {
    let _ = verify_password(password, DECOY);
}
