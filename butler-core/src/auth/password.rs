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
    if let Some(why) = easy_to_guess(password) {
        return Err(AuthError::WeakPassword(format!(
            "this password is easy to guess ({why}); a few uncommon words make a better one"
        )));
    }
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AuthError::WeakPassword(format!("cannot hash the password: {e}")))
}

/// Why `password` is easy to guess, if it is: zxcvbn's estimate of the
/// guesses it takes (common passwords, keyboard walks, repeats, sequences,
/// dates, dictionary words with digits) under a million. Only its first
/// 100 characters are weighed: past that length none is weak, and the
/// estimate's work grows with the length.
fn easy_to_guess(password: &str) -> Option<String> {
    let head: String = password.chars().take(100).collect();
    let estimate = zxcvbn::zxcvbn(&head, &[]);
    if estimate.score() >= zxcvbn::Score::Two {
        return None;
    }
    Some(
        estimate
            .feedback()
            .and_then(|f| f.warning())
            .map(|w| w.to_string().trim_end_matches('.').to_lowercase())
            .unwrap_or_else(|| "it takes under a million guesses".into()),
    )
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_passwords_and_patterns_are_refused_saying_why() {
        for weak in [
            "password1234",
            "123456789012",
            "aaaaaaaaaaaa",
            "qwertyuiop12",
            "abcdefghijkl",
            "iloveyou1234",
        ] {
            match hash_password(weak) {
                Err(AuthError::WeakPassword(why)) => {
                    assert!(why.contains("easy to guess"), "{weak}: {why}")
                }
                other => panic!("{weak} accepted: {other:?}"),
            }
        }
        for fine in [
            "ana's long password",
            "a long enough password",
            "the first admin's password",
            "correct horse battery staple",
        ] {
            assert!(hash_password(fine).is_ok(), "{fine}");
        }
    }
}
