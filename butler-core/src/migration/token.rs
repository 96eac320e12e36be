//! The validation token (SPEC §8): an opaque value only the library issues
//! and checks. It binds a validation to the group (id and version), to the
//! content hash of the facts it was computed on, to its error count, to
//! the subset of VMs it covered and to the VMs already on the destination
//! whose post-move steps a retry redoes, all under an HMAC-SHA256 with a key the
//! store keeps. Its fields are private, it has no public constructor and no
//! `Deserialize`; as text it is `bvt1.<payload>.<mac>` (URL-safe base64),
//! accepted back only through [`MigrationService::parse_token`](super::MigrationService::parse_token).

use super::GroupId;
use crate::secret::SecretKey;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;

type HmacSha256 = Hmac<Sha256>;

const PREFIX: &str = "bvt1.";
/// Longest token text accepted (a retry subset can name many VMs, not millions).
pub use crate::limits::MAX_TOKEN_CHARS;

/// Proof that a group, as it stood, was validated on certain facts.
#[derive(Clone, PartialEq, Eq)]
pub struct ValidationToken {
    group: GroupId,
    group_version: u64,
    facts: [u8; 32],
    errors: u32,
    only: Option<Vec<String>>,
    after_move: Vec<String>,
    mac: [u8; 32],
}

impl fmt::Debug for ValidationToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ValidationToken")
            .field("group", &self.group)
            .field("group_version", &self.group_version)
            .field("errors", &self.errors)
            .field("only", &self.only.as_ref().map(Vec::len))
            .field("after_move", &self.after_move.len())
            .finish_non_exhaustive()
    }
}

/// Why a token text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Not a token of this format (or cut short, or too long).
    #[error("not a validation token")]
    Malformed,
    /// The signature does not match: forged, tampered with, or issued by
    /// another deployment.
    #[error("the validation token was not issued here or was altered")]
    BadSignature,
}

/// The payload format; tokens of another version are refused.
const VERSION: u8 = 2;

fn push_names(p: &mut Vec<u8>, names: &[String]) {
    p.extend_from_slice(&(names.len() as u64).to_be_bytes());
    for n in names {
        p.extend_from_slice(&(n.len() as u64).to_be_bytes());
        p.extend_from_slice(n.as_bytes());
    }
}

fn payload(
    group: GroupId,
    group_version: u64,
    facts: &[u8; 32],
    errors: u32,
    only: Option<&[String]>,
    after_move: &[String],
) -> Vec<u8> {
    let mut p = Vec::with_capacity(64);
    p.push(VERSION);
    p.extend_from_slice(&group.0.to_be_bytes());
    p.extend_from_slice(&group_version.to_be_bytes());
    p.extend_from_slice(facts);
    p.extend_from_slice(&errors.to_be_bytes());
    match only {
        None => p.push(0),
        Some(names) => {
            p.push(1);
            push_names(&mut p, names);
        }
    }
    push_names(&mut p, after_move);
    p
}

fn mac_of(key: &SecretKey, payload: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length; 32 bytes never fails.
    let mut m = <HmacSha256 as Mac>::new_from_slice(key.expose_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    m.update(payload);
    m
}

/// Reads big-endian fields off a byte slice, refusing to run past its end.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], TokenError> {
        if n > self.0.len() {
            return Err(TokenError::Malformed);
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, TokenError> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, TokenError> {
        let mut b = [0u8; 4];
        b.copy_from_slice(self.take(4)?);
        Ok(u32::from_be_bytes(b))
    }
    fn u64(&mut self) -> Result<u64, TokenError> {
        let mut b = [0u8; 8];
        b.copy_from_slice(self.take(8)?);
        Ok(u64::from_be_bytes(b))
    }
    fn len(&mut self) -> Result<usize, TokenError> {
        let n = usize::try_from(self.u64()?).map_err(|_| TokenError::Malformed)?;
        // A length can never exceed what is left: no allocation on a lie.
        if n > self.0.len() {
            return Err(TokenError::Malformed);
        }
        Ok(n)
    }
    fn names(&mut self) -> Result<Vec<String>, TokenError> {
        let count = self.len()?;
        let mut names = Vec::with_capacity(count.min(self.0.len() / 8));
        for _ in 0..count {
            let n = self.len()?;
            let s = std::str::from_utf8(self.take(n)?).map_err(|_| TokenError::Malformed)?;
            names.push(s.to_string());
        }
        Ok(names)
    }
}

impl ValidationToken {
    /// Signs the claims of a validation with the store's key.
    pub(crate) fn sign(
        key: &SecretKey,
        group: GroupId,
        group_version: u64,
        facts: [u8; 32],
        errors: u32,
        only: Option<Vec<String>>,
        after_move: Vec<String>,
    ) -> Self {
        let p = payload(
            group,
            group_version,
            &facts,
            errors,
            only.as_deref(),
            &after_move,
        );
        let mac = mac_of(key, &p).finalize().into_bytes().into();
        ValidationToken {
            group,
            group_version,
            facts,
            errors,
            only,
            after_move,
            mac,
        }
    }

    /// The signed bytes of these claims.
    fn claims(&self) -> Vec<u8> {
        payload(
            self.group,
            self.group_version,
            &self.facts,
            self.errors,
            self.only.as_deref(),
            &self.after_move,
        )
    }

    /// Whether `key` signed exactly these claims (constant-time compare).
    pub(crate) fn verify(&self, key: &SecretKey) -> Result<(), TokenError> {
        mac_of(key, &self.claims())
            .verify_slice(&self.mac)
            .map_err(|_| TokenError::BadSignature)
    }

    /// Reads a token's text and checks its signature with `key`.
    pub(crate) fn decode(key: &SecretKey, text: &str) -> Result<Self, TokenError> {
        if text.len() > MAX_TOKEN_CHARS {
            return Err(TokenError::Malformed);
        }
        let rest = text
            .trim()
            .strip_prefix(PREFIX)
            .ok_or(TokenError::Malformed)?;
        let (body, mac) = rest.split_once('.').ok_or(TokenError::Malformed)?;
        let body = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| TokenError::Malformed)?;
        let mac: [u8; 32] = URL_SAFE_NO_PAD
            .decode(mac)
            .map_err(|_| TokenError::Malformed)?
            .try_into()
            .map_err(|_| TokenError::Malformed)?;
        // The signature first: nothing of an unsigned payload is trusted.
        mac_of(key, &body)
            .verify_slice(&mac)
            .map_err(|_| TokenError::BadSignature)?;
        let mut r = Reader(&body);
        if r.u8()? != VERSION {
            return Err(TokenError::Malformed);
        }
        let group = GroupId(r.u64()?);
        let group_version = r.u64()?;
        let mut facts = [0u8; 32];
        facts.copy_from_slice(r.take(32)?);
        let errors = r.u32()?;
        let only = match r.u8()? {
            0 => None,
            1 => Some(r.names()?),
            _ => return Err(TokenError::Malformed),
        };
        let after_move = r.names()?;
        if !r.0.is_empty() {
            return Err(TokenError::Malformed);
        }
        Ok(ValidationToken {
            group,
            group_version,
            facts,
            errors,
            only,
            after_move,
            mac,
        })
    }

    /// The token as text, to travel through a web page or a script.
    pub fn encode(&self) -> String {
        format!(
            "{PREFIX}{}.{}",
            URL_SAFE_NO_PAD.encode(self.claims()),
            URL_SAFE_NO_PAD.encode(self.mac)
        )
    }

    /// The group validated.
    pub fn group(&self) -> GroupId {
        self.group
    }

    /// The group's version when validated.
    pub fn group_version(&self) -> u64 {
        self.group_version
    }

    /// Error findings of the validation (a token with errors never allows a migration).
    pub fn errors(&self) -> u32 {
        self.errors
    }

    /// The VMs validated when only a subset was (a retry of failed VMs), sorted.
    pub fn only(&self) -> Option<&[String]> {
        self.only.as_deref()
    }

    /// The VMs found on the destination already whose post-move steps
    /// (project remap, schedules) the migration redoes (a retry), sorted.
    pub fn after_move(&self) -> &[String] {
        &self.after_move
    }

    pub(crate) fn facts_hash(&self) -> &[u8; 32] {
        &self.facts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trips_and_any_altered_byte_is_refused() {
        let key = SecretKey::random().unwrap();
        let t = ValidationToken::sign(
            &key,
            GroupId(7),
            3,
            [9; 32],
            0,
            Some(vec!["a".into(), "b".into()]),
            vec!["c".into()],
        );
        let text = t.encode();
        assert_eq!(ValidationToken::decode(&key, &text), Ok(t.clone()));
        assert_eq!(
            ValidationToken::decode(&SecretKey::random().unwrap(), &text),
            Err(TokenError::BadSignature)
        );
        let bytes = text.as_bytes();
        for i in PREFIX.len()..bytes.len() {
            let mut b = bytes.to_vec();
            b[i] = if b[i] == b'A' { b'B' } else { b'A' };
            let altered = String::from_utf8(b).unwrap();
            if altered != text {
                assert!(ValidationToken::decode(&key, &altered).is_err(), "byte {i}");
            }
        }
        assert_eq!(
            ValidationToken::decode(&key, "bvt1."),
            Err(TokenError::Malformed)
        );
    }

    #[test]
    fn a_signed_payload_with_lying_lengths_is_refused_without_allocating() {
        let key = SecretKey::random().unwrap();
        let mut p = payload(GroupId(1), 1, &[0; 32], 0, None, &[]);
        p.truncate(p.len() - 9);
        p.push(1);
        p.extend_from_slice(&u64::MAX.to_be_bytes());
        let mac: [u8; 32] = mac_of(&key, &p).finalize().into_bytes().into();
        let text = format!(
            "{PREFIX}{}.{}",
            URL_SAFE_NO_PAD.encode(&p),
            URL_SAFE_NO_PAD.encode(mac)
        );
        assert_eq!(
            ValidationToken::decode(&key, &text),
            Err(TokenError::Malformed)
        );
    }
}
