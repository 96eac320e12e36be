//! Stored users (SPEC §1): name, roles, an Argon2id hash (never the
//! password), a disabled flag and a version; and the audit trail of every
//! change an Admin makes.

use super::RoleSet;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A stored user.
///
/// Stores keep it whole (serde); the hash is readable only inside the
/// library and never printed.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// User name (normalised, see [`normalize_user_name`](super::normalize_user_name)).
    pub name: String,
    /// Roles.
    pub roles: RoleSet,
    /// Argon2id PHC string.
    pub(crate) password_hash: String,
    /// A disabled user cannot log in.
    pub disabled: bool,
    /// Optimistic-concurrency version, bumped by every change.
    pub version: u64,
    /// When the user was added.
    pub created_at: DateTime<Utc>,
    /// When the user last changed.
    pub updated_at: DateTime<Utc>,
    /// Personal API tokens (only their SHA-256 is kept).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) api_tokens: Vec<ApiToken>,
}

/// A personal API token as stored: its id, label and dates, and the
/// SHA-256 of its secret (the secret itself is shown once, at creation).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiToken {
    /// Public id (12 hex digits), used to list and revoke it.
    pub id: String,
    /// What it is for, as its owner named it.
    pub label: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it stops working, if ever.
    pub expires_at: Option<DateTime<Utc>>,
    /// Hex SHA-256 of the secret.
    pub(crate) hash: String,
}

impl fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiToken")
            .field("id", &self.id)
            .field("label", &self.label)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("name", &self.name)
            .field("roles", &self.roles)
            .field("disabled", &self.disabled)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// What an Admin (or the user, for their password) changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "change")]
#[non_exhaustive]
pub enum UserChange {
    /// Added with these roles.
    Added {
        /// Roles given.
        roles: RoleSet,
    },
    /// Roles replaced.
    Roles {
        /// Before.
        before: RoleSet,
        /// After.
        after: RoleSet,
    },
    /// Disabled or enabled.
    Disabled {
        /// The new flag.
        disabled: bool,
    },
    /// Password reset by an Admin.
    PasswordReset,
    /// Password changed by the user.
    PasswordChanged,
    /// A personal API token was made.
    TokenCreated {
        /// Its id.
        id: String,
    },
    /// A personal API token was revoked.
    TokenRevoked {
        /// Its id.
        id: String,
    },
    /// Removed.
    Removed,
}

/// One line of the user audit trail (append-only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserAudit {
    /// When.
    pub at: DateTime<Utc>,
    /// Who made the change.
    pub actor: String,
    /// Whose account.
    pub user: String,
    /// What changed.
    pub change: UserChange,
}

/// Why a login or a user operation failed. Login failures never say whether
/// the user exists.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// Unknown user, wrong password or disabled user (deliberately alike).
    #[error("user name or password is wrong")]
    BadCredentials,
    /// The user name breaks a rule.
    #[error("invalid user name: {0}")]
    InvalidName(String),
    /// The new password is not acceptable.
    #[error("password refused: {0}")]
    WeakPassword(String),
    /// No such user (management operations only, for Admins).
    #[error("no user named {0:?}")]
    UnknownUser(String),
    /// The name is taken.
    #[error("a user named {0:?} exists already")]
    Exists(String),
    /// The change would leave no enabled Admin.
    #[error("{0} is the last enabled admin")]
    LastAdmin(String),
    /// Users exist already: bootstrapping is for an empty store only.
    #[error("users exist already; an admin adds the others")]
    AlreadyBootstrapped,
    /// No such API token (or not the caller's).
    #[error("no API token {0:?}")]
    UnknownToken(String),
    /// The user holds as many API tokens as allowed.
    #[error("at most {0} API tokens per user; revoke one first")]
    TooManyTokens(usize),
    /// A user needs at least one role (a user with none could log in and
    /// do nothing, which is no account but a mistake).
    #[error("user {0:?} needs at least one role")]
    NoRole(String),
}
