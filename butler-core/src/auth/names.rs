//! User names (SPEC §1): at most 64 characters, NFC-normalised, printable,
//! no white space, no invisible or bidirectional-control characters, and no
//! mixing of scripts that lets one name pass for another (`pаypal` with a
//! Cyrillic `а`).

use super::AuthError;
use unicode_normalization::UnicodeNormalization;
use unicode_security::MixedScript;

/// Longest user name, in characters (after NFC normalisation).
pub use crate::limits::MAX_USER_NAME_CHARS;

/// The name the provisioning engine has in history.
pub const ENGINE_NAME: &str = "butler-engine";

/// Names no user may have: they would pass for Butler's own actors in history.
pub const RESERVED_NAMES: [&str; 4] = [ENGINE_NAME, "butler-refresher", "engine", "system"];

/// Invisible characters: Unicode's default-ignorable code points and format
/// characters (zero-width spaces and joiners, bidirectional controls, soft
/// hyphen, variation selectors, tags…), private use and non-characters.
pub(crate) fn is_invisible(c: char) -> bool {
    matches!(c as u32,
        0x00AD | 0x034F | 0x061C | 0x0600..=0x0605 | 0x06DD | 0x070F | 0x08E2
        | 0x115F..=0x1160 | 0x17B4..=0x17B5 | 0x180B..=0x180F
        | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x206F | 0x3164
        | 0xFE00..=0xFE0F | 0xFEFF | 0xFFA0 | 0xFFF0..=0xFFFB
        | 0x110BD | 0x110CD | 0x13430..=0x1343F | 0x1BCA0..=0x1BCA3
        | 0x1D173..=0x1D17A | 0xE0000..=0xE0FFF
        | 0xE000..=0xF8FF | 0xF0000..=0x10FFFF
        | 0xFDD0..=0xFDEF)
        || (c as u32) & 0xFFFE == 0xFFFE
}

/// The canonical form of a user name, or why it is refused.
///
/// Leading and trailing white space is dropped; the rest must pass every
/// rule above. Two names that look alike after normalisation are the same
/// name.
///
/// ```
/// use butler_core::auth::normalize_user_name;
/// assert_eq!(normalize_user_name(" ana ").unwrap(), "ana");
/// // "é" typed as e + combining accent is the same name as the precomposed "é".
/// assert_eq!(normalize_user_name("jose\u{301}").unwrap(), "jos\u{e9}");
/// assert!(normalize_user_name("ana\u{200b}").is_err()); // zero-width space
/// assert!(normalize_user_name("p\u{430}ypal").is_err()); // Cyrillic а among Latin
/// assert!(normalize_user_name("butler-engine").is_err()); // reserved
/// ```
pub fn normalize_user_name(raw: &str) -> Result<String, AuthError> {
    let bad = |why: String| Err(AuthError::InvalidName(why));
    // Count before normalising too, so a huge input costs nothing more.
    if raw.chars().count() > MAX_USER_NAME_CHARS * 4 {
        return bad(format!("longer than {MAX_USER_NAME_CHARS} characters"));
    }
    let name: String = raw.trim().nfc().collect();
    if name.is_empty() {
        return bad("empty".into());
    }
    let chars = name.chars().count();
    if chars > MAX_USER_NAME_CHARS {
        return bad(format!("{chars} characters; at most {MAX_USER_NAME_CHARS}"));
    }
    if let Some(c) = name.chars().find(|c| c.is_control()) {
        return bad(format!("control character U+{:04X}", c as u32));
    }
    if let Some(c) = name.chars().find(|c| c.is_whitespace()) {
        return bad(format!("white space U+{:04X} inside the name", c as u32));
    }
    if let Some(c) = name.chars().find(|c| is_invisible(*c)) {
        return bad(format!(
            "invisible or bidirectional character U+{:04X}",
            c as u32
        ));
    }
    if !name.as_str().is_single_script() {
        return bad("mixes scripts (letters that look alike from different alphabets)".into());
    }
    let key = skeleton(&identity_key(&name));
    if RESERVED_NAMES.iter().any(|r| skeleton(r) == key) {
        return bad(format!(
            "{name:?} is, or looks like, a name reserved for Butler itself"
        ));
    }
    Ok(name)
}

/// Who a user name names: the name in compatibility form (NFKC), in lower
/// case. `ANA`, `Ana` and full-width `ａｎａ` are one user: stored names
/// keep how they were written, and every question of who is who (one
/// user per identity, the owner of a request or a VM, four eyes, a
/// directory login beside a stored user) compares these.
///
/// ```
/// use butler_core::auth::{identity_key, same_user};
/// assert_eq!(identity_key("ANA"), "ana");
/// assert_eq!(identity_key("\u{ff41}\u{ff4e}\u{ff41}"), "ana"); // full width
/// assert!(same_user("Bea", "BEA"));
/// assert!(!same_user("bea", "bea2"));
/// ```
pub fn identity_key(name: &str) -> String {
    let lower: String = name.nfkc().flat_map(char::to_lowercase).collect();
    // Lower-casing can leave a form NFKC changes again (rarely): settle it.
    lower.nfkc().collect()
}

/// Whether two user names name the same user ([`identity_key`]).
pub fn same_user(a: &str, b: &str) -> bool {
    a == b || identity_key(a) == identity_key(b)
}

/// The look-alike form of `s` (Unicode's confusable skeleton): `eng1ne`,
/// `butler‐engine` with a Unicode hyphen and `butler-engine` share one.
fn skeleton(s: &str) -> String {
    unicode_security::skeleton(s).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_names_in_any_single_script() {
        for n in [
            "ana",
            "ana.lopez",
            "j_perez-2",
            "José",
            "Ñandú",
            "иван",
            "山田",
            "ana@corp.example",
        ] {
            assert!(normalize_user_name(n).is_ok(), "{n}");
        }
    }

    #[test]
    fn refuses_every_kind_of_deceptive_name() {
        let long = "a".repeat(65);
        for n in [
            "",
            "   ",
            "a\u{0}b",
            "a\nb",
            "ana lopez",
            "an\u{a0}a",
            "a\u{200d}b",
            "\u{202e}nimda",
            "ad\u{ad}min",
            "ana\u{fe0f}",
            "\u{e000}x",
            &long,
            "аdmin",
            "Engine",
            "SYSTEM",
            "butler\u{2010}engine",
            "\u{ff33}\u{ff39}\u{ff33}\u{ff34}\u{ff25}\u{ff2d}",
        ] {
            assert!(normalize_user_name(n).is_err(), "{n:?} was accepted");
        }
        assert_eq!(
            normalize_user_name(&"a".repeat(64)).map(|s| s.len()),
            Ok(64)
        );
    }
}
