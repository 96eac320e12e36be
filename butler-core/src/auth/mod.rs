//! Actors, roles, user names, passwords and the authorization policy (SPEC §1).
//!
//! Butler never trusts a caller's UI: every operation takes an [`Actor`] and
//! the library decides, from one table ([`policy`]), whether it may act.
//!
//! What is structural (holds whatever the host does with the public API):
//! - an [`Actor`] comes only from a login ([`crate::users::UserService`]) or
//!   from [`Actor::trusted`], whose name says the host vouches for it;
//! - no role carries the engine's powers: starting provisioning, recording
//!   a step and ending in `Completed` or `Error` are crate-private;
//! - an Approver never reviews, approves or rejects their own request unless
//!   the deployment switched four eyes off ([`Policy::without_four_eyes`]).

use serde::{Deserialize, Serialize};
use std::fmt;

/// Checks a user name and password and says who that is, as an [`Actor`]
/// whose roles the library's policy then applies. Butler's stored users
/// ([`UserService`](crate::users::UserService), feature `users`) are one;
/// a directory (LDAP) is another. Every failure to log in is
/// [`AuthError::BadCredentials`], whatever the reason, so a caller cannot
/// learn which names exist.
#[async_trait::async_trait]
pub trait Authenticator: Send + Sync {
    /// The actor for `name` and `password`.
    async fn authenticate(&self, name: &str, password: &str) -> Result<Actor, crate::ButlerError>;
}

/// A role a user may hold. A user may hold several.
///
/// There is no engine role: the provisioning engine's powers are not a role
/// anyone can hold (SPEC §1), they exist only inside the library.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Role {
    /// Creates, edits, submits and cancels their own requests; sees only their own.
    Requester,
    /// A requester for their own requests, plus: sees all, reviews, rejects,
    /// approves (never their own: four eyes).
    Approver,
    /// Reads every request, migration group, facts and report; changes nothing.
    Viewer,
    /// Manages migration groups, refreshes facts, validates and migrates.
    Operator,
    /// Manages the catalog, rate cards and users; retries requests in `Error`.
    /// Not an Operator unless it also holds that role.
    Admin,
}

impl Role {
    /// Every role, in declaration order (used by exhaustive tests and UIs).
    pub const ALL: [Role; 5] = [
        Role::Requester,
        Role::Approver,
        Role::Viewer,
        Role::Operator,
        Role::Admin,
    ];

    fn bit(self) -> u8 {
        1 << (self as u8)
    }

    /// The role's name in `snake_case`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Requester => "requester",
            Role::Approver => "approver",
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }

    /// The role named `name` (`snake_case`, any case).
    pub fn parse(name: &str) -> Option<Role> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(name.trim()))
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of roles (a small bit set, cheap to copy).
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct RoleSet(u8);

impl RoleSet {
    /// The empty set.
    pub const fn empty() -> Self {
        RoleSet(0)
    }
    /// Whether the set holds no role.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    /// Whether `role` is in the set.
    pub fn contains(self, role: Role) -> bool {
        self.0 & role.bit() != 0
    }
    /// The set with `role` added.
    pub fn with(self, role: Role) -> Self {
        RoleSet(self.0 | role.bit())
    }
    /// The roles in the set, in declaration order.
    pub fn iter(self) -> impl Iterator<Item = Role> {
        Role::ALL.into_iter().filter(move |r| self.contains(*r))
    }
}

impl fmt::Debug for RoleSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl<I: IntoIterator<Item = Role>> From<I> for RoleSet {
    fn from(roles: I) -> Self {
        roles.into_iter().fold(RoleSet::empty(), RoleSet::with)
    }
}

impl Serialize for RoleSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for RoleSet {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Vec::<Role>::deserialize(d)?.into())
    }
}

/// Who is acting: an authenticated user name and the roles it holds.
///
/// Fields are private: an `Actor` comes from
/// [`UserService::authenticate`](crate::users::UserService::authenticate)
/// (stored users, Argon2id), or from [`Actor::trusted`] when the host
/// authenticated the user itself (SSO, a reverse proxy) and vouches for the
/// roles. Neither can produce the engine's powers: those are not a role.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Actor {
    name: String,
    roles: RoleSet,
}

impl Actor {
    /// An actor for a user **the host has authenticated itself** (single
    /// sign-on, a reverse proxy, a test): Butler trusts the host for who the
    /// user is and which roles they hold. Hosts without their own login use
    /// [`UserService::authenticate`](crate::users::UserService::authenticate)
    /// instead. The name must pass the user-name rules ([`normalize_user_name`])
    /// and may not be one of Butler's reserved names.
    ///
    /// ```
    /// use butler_core::auth::{Actor, Role};
    /// let ana = Actor::trusted("ana", [Role::Requester])?;
    /// assert!(ana.has(Role::Requester));
    /// assert!(!ana.has(Role::Approver));
    /// assert!(Actor::trusted("butler-engine", [Role::Admin]).is_err());
    /// # Ok::<(), butler_core::auth::AuthError>(())
    /// ```
    pub fn trusted(name: &str, roles: impl Into<RoleSet>) -> Result<Self, AuthError> {
        Ok(Actor {
            name: normalize_user_name(name)?,
            roles: roles.into(),
        })
    }

    /// The actor of a stored user who just logged in.
    #[cfg(feature = "users")]
    pub(crate) fn of_user(user: &User) -> Self {
        Actor {
            name: user.name.clone(),
            roles: user.roles,
        }
    }

    /// The provisioning engine as it appears in history: a reserved name
    /// and no role. Its powers come from being inside the library, not from
    /// this value.
    pub(crate) fn engine() -> Self {
        Actor {
            name: ENGINE_NAME.to_string(),
            roles: RoleSet::empty(),
        }
    }

    /// The user name, as recorded in history.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The roles the user holds.
    pub fn roles(&self) -> RoleSet {
        self.roles
    }

    /// Whether the actor holds `role`.
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(role)
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

pub(crate) mod names;
#[cfg(feature = "users")]
mod password;
pub mod policy;
mod users;

pub use names::{
    identity_key, normalize_user_name, same_user, ENGINE_NAME, MAX_USER_NAME_CHARS, RESERVED_NAMES,
};
#[cfg(feature = "users")]
pub use password::MIN_PASSWORD_CHARS;
#[cfg(feature = "users")]
pub(crate) use password::{hash_password, verify_nothing, verify_password};
pub use policy::{Denied, DenyReason, Operation, Policy};
pub use users::{ApiToken, AuthError, User, UserAudit, UserChange};
