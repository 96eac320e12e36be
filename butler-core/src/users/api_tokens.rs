//! Personal API tokens: a script logs in with one instead of a password.
//!
//! A token is `bt_<id>_<secret>_<hex of the user name>`: 12 hex digits of
//! id, 64 hex digits (256 bits) of secret. Only the secret's SHA-256 is
//! stored (with the user), so a copy of the store holds no usable token;
//! a token is shown once, when made, and works until it expires, is
//! revoked, or its user is disabled or removed.

use super::UserService;
use crate::auth::{Actor, ApiToken, AuthError, UserChange};
use crate::error::ButlerError;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

/// What every token starts with (so log scanners and people recognise one).
pub const TOKEN_PREFIX: &str = "bt_";
/// Tokens one user may hold.
pub const MAX_API_TOKENS: usize = 20;
/// Longest label.
const MAX_LABEL_CHARS: usize = 100;

/// A token just made: the secret text is here and nowhere else.
pub struct ApiTokenCreated {
    /// The stored record (id, label, dates).
    pub token: ApiToken,
    /// The token to give the script; never shown again.
    pub secret: String,
}

impl std::fmt::Debug for ApiTokenCreated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiTokenCreated")
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

fn digest(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

/// Constant-time comparison of two hex digests.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// (id, secret, user name) of a token's text.
fn parse(text: &str) -> Option<(&str, &str, String)> {
    let rest = text.strip_prefix(TOKEN_PREFIX)?;
    let mut parts = rest.splitn(3, '_');
    let (id, secret, name) = (parts.next()?, parts.next()?, parts.next()?);
    if id.len() != 12 || secret.len() != 64 || name.len() > 1024 {
        return None;
    }
    let name = String::from_utf8(unhex(name)?).ok()?;
    Some((id, secret, name))
}

impl UserService {
    /// Makes a personal API token for the actor's own stored user.
    pub async fn create_api_token(
        &self,
        actor: &Actor,
        label: &str,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<ApiTokenCreated, ButlerError> {
        let label = label.trim();
        if label.is_empty()
            || label.chars().count() > MAX_LABEL_CHARS
            || label.chars().any(char::is_control)
        {
            return Err(ButlerError::Invalid(format!(
                "a token label is 1 to {MAX_LABEL_CHARS} visible characters"
            )));
        }
        let now = self.clock.now();
        if expires_at.is_some_and(|t| t <= now) {
            return Err(ButlerError::Invalid(
                "the expiry must be in the future".into(),
            ));
        }
        let user = self.load(actor.name()).await?;
        if user.api_tokens.len() >= MAX_API_TOKENS {
            return Err(AuthError::TooManyTokens(MAX_API_TOKENS).into());
        }
        let id = hex(&crate::secret::SecretKey::random()?.expose_bytes()[..6]);
        let secret = hex(crate::secret::SecretKey::random()?.expose_bytes());
        let token = ApiToken {
            id: id.clone(),
            label: label.to_string(),
            created_at: now,
            expires_at,
            hash: digest(&secret),
        };
        let kept = token.clone();
        self.change(
            actor.name(),
            user,
            UserChange::TokenCreated { id: id.clone() },
            |u| u.api_tokens.push(kept),
        )
        .await?;
        Ok(ApiTokenCreated {
            secret: format!(
                "{TOKEN_PREFIX}{id}_{secret}_{}",
                hex(actor.name().as_bytes())
            ),
            token,
        })
    }

    /// The actor's own tokens (ids, labels, dates; never secrets).
    pub async fn api_tokens(&self, actor: &Actor) -> Result<Vec<ApiToken>, ButlerError> {
        Ok(self.load(actor.name()).await?.api_tokens)
    }

    /// Revokes one of the actor's own tokens.
    pub async fn revoke_api_token(&self, actor: &Actor, id: &str) -> Result<(), ButlerError> {
        let user = self.load(actor.name()).await?;
        if !user.api_tokens.iter().any(|t| t.id == id) {
            return Err(AuthError::UnknownToken(id.to_string()).into());
        }
        let gone = id.to_string();
        self.change(
            actor.name(),
            user,
            UserChange::TokenRevoked { id: id.to_string() },
            |u| u.api_tokens.retain(|t| t.id != gone),
        )
        .await?;
        Ok(())
    }

    /// The actor a token stands for. Malformed, unknown, revoked or
    /// expired tokens and disabled users all get
    /// [`AuthError::BadCredentials`].
    pub async fn authenticate_api_token(&self, text: &str) -> Result<Actor, ButlerError> {
        let bad = || ButlerError::Auth(AuthError::BadCredentials);
        let (id, secret, name) = parse(text).ok_or_else(bad)?;
        let user = match self.store.get_user(&name).await {
            Ok(u) => u,
            Err(crate::store::StoreError::NotFound(_)) => return Err(bad()),
            Err(e) => return Err(e.into()),
        };
        let now = self.clock.now();
        let hash = digest(secret);
        let ok = user
            .api_tokens
            .iter()
            .any(|t| t.id == id && same(&t.hash, &hash) && t.expires_at.is_none_or(|e| now < e));
        if !ok || user.disabled {
            return Err(bad());
        }
        Ok(Actor::of_user(&user))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Role;
    use crate::store::MemoryStore;
    use std::sync::Arc;

    async fn service() -> (UserService, Actor) {
        let s = UserService::new(Arc::new(MemoryStore::new()));
        let root = s
            .bootstrap_admin("root", "root's long password")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        s.add(&root, "ana", [Role::Requester], "ana's long password")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let ana = s
            .authenticate("ana", "ana's long password")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        (s, ana)
    }

    #[tokio::test]
    async fn a_token_logs_in_as_its_user_until_revoked() {
        let (s, ana) = service().await;
        let made = s
            .create_api_token(&ana, "nightly report", None)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(made.secret.starts_with(TOKEN_PREFIX));
        assert!(
            !format!("{made:?}").contains(&made.secret[20..40]),
            "Debug hides the secret"
        );
        let who = s
            .authenticate_api_token(&made.secret)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(who.name(), "ana");
        assert!(who.has(Role::Requester));
        let listed = s.api_tokens(&ana).await.unwrap_or_default();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].label, "nightly report");
        s.revoke_api_token(&ana, &made.token.id)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            s.authenticate_api_token(&made.secret).await,
            Err(ButlerError::Auth(AuthError::BadCredentials))
        ));
    }

    #[tokio::test]
    async fn a_password_reset_or_a_disable_revokes_the_users_tokens() {
        let (s, ana) = service().await;
        let root = s
            .authenticate("root", "root's long password")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let bad = |r: Result<Actor, ButlerError>| {
            matches!(r, Err(ButlerError::Auth(AuthError::BadCredentials)))
        };
        let made = s.create_api_token(&ana, "ci", None).await;
        let made = made.unwrap_or_else(|e| panic!("{e}"));
        s.reset_password(&root, "ana", "ana's new long password")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(bad(s.authenticate_api_token(&made.secret).await), "reset");
        let made = s.create_api_token(&ana, "ci", None).await;
        let made = made.unwrap_or_else(|e| panic!("{e}"));
        s.set_disabled(&root, "ana", true)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        s.set_disabled(&root, "ana", false)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(bad(s.authenticate_api_token(&made.secret).await), "disable");
    }

    #[tokio::test]
    async fn forged_altered_and_foreign_tokens_are_bad_credentials() {
        let (s, ana) = service().await;
        let made = s
            .create_api_token(&ana, "ci", None)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let mut altered = made.secret.clone().into_bytes();
        let i = TOKEN_PREFIX.len() + 13 + 5;
        altered[i] = if altered[i] == b'0' { b'1' } else { b'0' };
        let altered = String::from_utf8(altered).unwrap_or_default();
        // The same id and secret claimed for another user.
        let as_root = format!(
            "{}{}",
            &made.secret[..TOKEN_PREFIX.len() + 13 + 65],
            hex(b"root")
        );
        for t in [
            altered.as_str(),
            as_root.as_str(),
            "bt_",
            "",
            "bt_zz_zz_zz",
            &"x".repeat(5000),
        ] {
            assert!(
                matches!(
                    s.authenticate_api_token(t).await,
                    Err(ButlerError::Auth(AuthError::BadCredentials))
                ),
                "{t:?}"
            );
        }
    }

    #[tokio::test]
    async fn tokens_expire_are_bounded_and_die_with_a_disabled_user() {
        let (s, ana) = service().await;
        let root = s
            .authenticate("root", "root's long password")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let past = s.clock.now() - chrono::Duration::seconds(1);
        assert!(matches!(
            s.create_api_token(&ana, "x", Some(past)).await,
            Err(ButlerError::Invalid(_))
        ));
        assert!(matches!(
            s.create_api_token(&ana, "  ", None).await,
            Err(ButlerError::Invalid(_))
        ));
        let made = s
            .create_api_token(&ana, "x", None)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        for i in 1..MAX_API_TOKENS {
            s.create_api_token(&ana, &format!("t{i}"), None)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
        assert!(matches!(
            s.create_api_token(&ana, "one too many", None).await,
            Err(ButlerError::Auth(AuthError::TooManyTokens(_)))
        ));
        s.set_disabled(&root, "ana", true)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(s.authenticate_api_token(&made.secret).await.is_err());
        assert!(matches!(
            s.revoke_api_token(&root, "000000000000").await,
            Err(ButlerError::Auth(AuthError::UnknownToken(_)))
        ));
    }
}
