//! Actors and roles (SPEC §1).
//!
//! Butler never trusts a caller's UI: every operation takes an [`Actor`] and the
//! library decides, from the actor's roles, whether it may act.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A role a user may hold. A user may hold several.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Role {
    /// Creates, edits, submits and cancels their own requests; sees only their own.
    Requester,
    /// A requester for their own requests, plus: sees all, reviews, rejects, approves.
    Approver,
    /// Reads every request and migration group; changes nothing.
    Viewer,
    /// Manages migration groups, validates and migrates.
    Operator,
    /// Manages the catalog, rate cards and users; retries requests in `Error`.
    Admin,
    /// The provisioning engine itself: the only actor allowed the automatic transitions.
    Engine,
}

impl Role {
    /// Every role, in declaration order (used by exhaustive tests and UIs).
    pub const ALL: [Role; 6] = [
        Role::Requester,
        Role::Approver,
        Role::Viewer,
        Role::Operator,
        Role::Admin,
        Role::Engine,
    ];

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Role::Requester => "requester",
            Role::Approver => "approver",
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
            Role::Engine => "engine",
        };
        f.write_str(s)
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
/// Authentication (password, LDAP, SSO) happens before Butler is called; the
/// embedding service builds an `Actor` for the authenticated user.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Actor {
    /// The user name, as recorded in history.
    pub name: String,
    /// The roles the user holds.
    pub roles: RoleSet,
}

impl Actor {
    /// An actor with the given name and roles.
    ///
    /// ```
    /// use butler_core::auth::{Actor, Role};
    /// let ana = Actor::new("ana", [Role::Requester]);
    /// assert!(ana.has(Role::Requester));
    /// assert!(!ana.has(Role::Approver));
    /// ```
    pub fn new(name: impl Into<String>, roles: impl Into<RoleSet>) -> Self {
        Actor {
            name: name.into(),
            roles: roles.into(),
        }
    }

    /// The provisioning engine's actor (role [`Role::Engine`]).
    pub fn engine() -> Self {
        Actor::new("butler-engine", [Role::Engine])
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

mod users;

pub use users::{AuthError, User, UserDirectory};
