//! The user directory (SPEC §1): predefined users identified by name and
//! password, with their roles. Passwords are stored only as Argon2id hashes;
//! Admins manage users; anyone may change their own password.

use super::{Actor, Role, RoleSet};
use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// A user: name, roles and a password hash (never the password).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// User name.
    pub name: String,
    /// Roles.
    pub roles: RoleSet,
    /// Argon2id PHC string.
    password_hash: String,
    /// A disabled user cannot log in.
    #[serde(default)]
    pub disabled: bool,
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("name", &self.name)
            .field("roles", &self.roles)
            .field("disabled", &self.disabled)
            .finish_non_exhaustive()
    }
}

/// Why a directory operation failed. Login failures never say whether the
/// user exists.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// Unknown user, wrong password or disabled user (deliberately alike).
    #[error("user name or password is wrong")]
    BadCredentials,
    /// The acting user is not an Admin.
    #[error("{0} may not manage users: needs the role admin")]
    NotAdmin(String),
    /// No such user (management operations only).
    #[error("no user named {0:?}")]
    UnknownUser(String),
    /// The name is taken.
    #[error("a user named {0:?} exists already")]
    Exists(String),
    /// The new password or name is not acceptable.
    #[error("{0}")]
    Rejected(String),
}

/// Users by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserDirectory {
    users: BTreeMap<String, User>,
}

fn hash(password: &str) -> Result<String, AuthError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AuthError::Rejected(format!(
            "a password needs at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AuthError::Rejected(format!("cannot hash the password: {e}")))
}

fn verify(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

impl UserDirectory {
    /// A directory with one Admin, to bootstrap.
    pub fn with_admin(name: &str, password: &str) -> Result<UserDirectory, AuthError> {
        let mut d = UserDirectory::default();
        d.insert(name, [Role::Admin].into(), password)?;
        Ok(d)
    }

    fn insert(&mut self, name: &str, roles: RoleSet, password: &str) -> Result<(), AuthError> {
        let name = name.trim();
        if name.is_empty() || name.chars().any(char::is_control) {
            return Err(AuthError::Rejected("a user name must not be empty".into()));
        }
        if self.users.contains_key(name) {
            return Err(AuthError::Exists(name.to_string()));
        }
        let user = User {
            name: name.to_string(),
            roles,
            password_hash: hash(password)?,
            disabled: false,
        };
        self.users.insert(user.name.clone(), user);
        Ok(())
    }

    fn admin(actor: &Actor) -> Result<(), AuthError> {
        if actor.has(Role::Admin) {
            Ok(())
        } else {
            Err(AuthError::NotAdmin(actor.name.clone()))
        }
    }

    fn user_mut(&mut self, name: &str) -> Result<&mut User, AuthError> {
        self.users
            .get_mut(name)
            .ok_or_else(|| AuthError::UnknownUser(name.to_string()))
    }

    /// Checks a name and password; the actor to pass to every operation.
    pub fn authenticate(&self, name: &str, password: &str) -> Result<Actor, AuthError> {
        match self.users.get(name) {
            Some(u) if verify(password, &u.password_hash) && !u.disabled => Ok(Actor {
                name: u.name.clone(),
                roles: u.roles,
            }),
            Some(_) => Err(AuthError::BadCredentials),
            None => {
                // Spend the same work as a real check, so timing does not tell who exists.
                let _ = verify(password, "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$ZWhqR0FkbHl6V3p2aWhNbWJ1K0xZZw");
                Err(AuthError::BadCredentials)
            }
        }
    }

    /// Adds a user (Admin).
    pub fn add(
        &mut self,
        actor: &Actor,
        name: &str,
        roles: impl Into<RoleSet>,
        password: &str,
    ) -> Result<(), AuthError> {
        Self::admin(actor)?;
        self.insert(name, roles.into(), password)
    }

    /// Replaces a user's roles (Admin). The last enabled Admin keeps the role.
    pub fn set_roles(
        &mut self,
        actor: &Actor,
        name: &str,
        roles: impl Into<RoleSet>,
    ) -> Result<(), AuthError> {
        Self::admin(actor)?;
        let roles = roles.into();
        if !roles.contains(Role::Admin) && self.is_last_admin(name) {
            return Err(AuthError::Rejected(format!("{name} is the last admin")));
        }
        self.user_mut(name)?.roles = roles;
        Ok(())
    }

    fn is_last_admin(&self, name: &str) -> bool {
        let admins: Vec<&User> = self
            .users
            .values()
            .filter(|u| u.roles.contains(Role::Admin) && !u.disabled)
            .collect();
        admins.len() == 1 && admins[0].name == name
    }

    /// Sets a new password for a user (Admin).
    pub fn reset_password(
        &mut self,
        actor: &Actor,
        name: &str,
        password: &str,
    ) -> Result<(), AuthError> {
        Self::admin(actor)?;
        let h = hash(password)?;
        self.user_mut(name)?.password_hash = h;
        Ok(())
    }

    /// Changes one's own password, given the current one.
    pub fn change_password(&mut self, name: &str, old: &str, new: &str) -> Result<(), AuthError> {
        self.authenticate(name, old)?;
        let h = hash(new)?;
        self.user_mut(name)?.password_hash = h;
        Ok(())
    }

    /// Enables or disables a user (Admin); the last Admin stays enabled.
    pub fn set_disabled(
        &mut self,
        actor: &Actor,
        name: &str,
        disabled: bool,
    ) -> Result<(), AuthError> {
        Self::admin(actor)?;
        if disabled && self.is_last_admin(name) {
            return Err(AuthError::Rejected(format!("{name} is the last admin")));
        }
        self.user_mut(name)?.disabled = disabled;
        Ok(())
    }

    /// Removes a user (Admin); the last Admin stays.
    pub fn remove(&mut self, actor: &Actor, name: &str) -> Result<(), AuthError> {
        Self::admin(actor)?;
        if self.is_last_admin(name) {
            return Err(AuthError::Rejected(format!("{name} is the last admin")));
        }
        self.users
            .remove(name)
            .map(|_| ())
            .ok_or_else(|| AuthError::UnknownUser(name.to_string()))
    }

    /// Users, by name.
    pub fn users(&self) -> impl Iterator<Item = &User> {
        self.users.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PW: &str = "correct horse battery";

    #[test]
    fn login_and_management() {
        let mut d = UserDirectory::with_admin("root", PW).unwrap();
        let root = d.authenticate("root", PW).unwrap();
        assert!(root.has(Role::Admin));
        d.add(&root, "ana", [Role::Requester], "ana's long password")
            .unwrap();
        let ana = d.authenticate("ana", "ana's long password").unwrap();
        assert_eq!(ana.roles, [Role::Requester].into());
        assert_eq!(
            d.authenticate("ana", "wrong password!!"),
            Err(AuthError::BadCredentials)
        );
        assert_eq!(
            d.authenticate("nobody", PW),
            Err(AuthError::BadCredentials),
            "same answer: no user enumeration"
        );
        assert_eq!(
            d.add(&ana, "eve", [Role::Admin], PW),
            Err(AuthError::NotAdmin("ana".into()))
        );
        assert!(matches!(
            d.add(&root, "bob", [Role::Approver], "short"),
            Err(AuthError::Rejected(_))
        ));
        assert_eq!(
            d.add(&root, "ana", [Role::Approver], PW),
            Err(AuthError::Exists("ana".into()))
        );
        d.set_roles(&root, "ana", [Role::Requester, Role::Approver])
            .unwrap();
        assert!(d
            .authenticate("ana", "ana's long password")
            .unwrap()
            .has(Role::Approver));
        d.change_password("ana", "ana's long password", "a brand new password")
            .unwrap();
        assert!(d.authenticate("ana", "ana's long password").is_err());
        d.reset_password(&root, "ana", "reset by the admin")
            .unwrap();
        assert!(d.authenticate("ana", "reset by the admin").is_ok());
        d.set_disabled(&root, "ana", true).unwrap();
        assert_eq!(
            d.authenticate("ana", "reset by the admin"),
            Err(AuthError::BadCredentials)
        );
        assert!(d.remove(&root, "root").is_err(), "the last admin stays");
        assert!(d.set_roles(&root, "root", [Role::Viewer]).is_err());
        d.remove(&root, "ana").unwrap();
        assert_eq!(d.users().count(), 1);
    }

    #[test]
    fn hashes_round_trip_and_never_print() {
        let d = UserDirectory::with_admin("root", PW).unwrap();
        let json = serde_json::to_string(&d).unwrap();
        assert!(!json.contains(PW) && json.contains("$argon2id$"));
        let back: UserDirectory = serde_json::from_str(&json).unwrap();
        assert!(back.authenticate("root", PW).is_ok());
        let shown = format!("{d:?}");
        assert!(!shown.contains("argon2"), "{shown}");
    }
}
