//! Users and login (SPEC §1): the stored user directory, with Argon2id
//! hashes, roles, a disabled flag and an audit trail of admin changes.
//!
//! [`UserService::authenticate`] is how a host without its own login gets
//! an [`Actor`]; hosts that authenticate users themselves (SSO) use
//! [`Actor::trusted`] instead.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use butler_core::{auth::Role, store::MemoryStore, users::UserService};
//! use std::sync::Arc;
//! let users = UserService::new(Arc::new(MemoryStore::new()));
//! let root = users.bootstrap_admin("root", "a long admin password").await?;
//! users.add(&root, "ana", [Role::Requester], "ana's own long password").await?;
//! let ana = users.authenticate("ana", "ana's own long password").await?;
//! assert!(ana.has(Role::Requester));
//! assert!(users.authenticate("ana", "a wrong password").await.is_err());
//! # Ok::<(), butler_core::ButlerError>(())
//! # }).unwrap();
//! ```

use crate::auth::{
    hash_password, identity_key, normalize_user_name, verify_nothing, verify_password, Actor,
    AuthError, Operation, Policy, Role, RoleSet, User, UserAudit, UserChange,
};
use crate::backend::{Clock, SystemClock};
use crate::error::ButlerError;
use crate::store::{Store, StoreError};
use std::sync::Arc;

mod api_tokens;
pub use api_tokens::{ApiTokenCreated, MAX_API_TOKENS, TOKEN_PREFIX};

/// The stored users of one deployment.
pub struct UserService {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    policy: Policy,
}

impl std::fmt::Debug for UserService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserService").finish_non_exhaustive()
    }
}

/// Runs Argon2 off the async threads (it is deliberately slow), as an
/// outside wait on `clock`: virtual time does not pass while it hashes.
async fn blocking<T: Send + 'static>(
    clock: &Arc<dyn Clock>,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    match crate::backend::outside(clock.clone(), tokio::task::spawn_blocking(f)).await {
        Ok(v) => v,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

async fn hash(clock: &Arc<dyn Clock>, password: &str) -> Result<String, AuthError> {
    let p = password.to_string();
    blocking(clock, move || hash_password(&p)).await
}

/// The user of `stored` that `name` names: the one of that very name,
/// else the only one with its identity ([`identity_key`]).
fn named(stored: Vec<User>, name: &str) -> Option<User> {
    let key = identity_key(name);
    let mut alike = Vec::new();
    for u in stored {
        if u.name == name {
            return Some(u);
        }
        if identity_key(&u.name) == key {
            alike.push(u);
        }
    }
    match <[User; 1]>::try_from(alike) {
        Ok([u]) => Some(u),
        Err(_) => None,
    }
}

impl UserService {
    /// Users kept by `store`, with the system clock.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self::with_clock(store, Arc::new(SystemClock))
    }

    /// Users kept by `store`, stamped with `clock`.
    pub fn with_clock(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        store.report_waits_to(clock.clone());
        UserService {
            store,
            clock,
            policy: Policy::standard(),
        }
    }

    /// Checks a name and password and returns the user's [`Actor`].
    ///
    /// Unknown users, wrong passwords and disabled users all get
    /// [`AuthError::BadCredentials`] after the same hashing work, so neither
    /// the answer nor its timing tells whether a user exists.
    pub async fn authenticate(&self, name: &str, password: &str) -> Result<Actor, ButlerError> {
        // Every login reads the stored users once, whatever the name: an
        // unknown name costs what a stored one does.
        let stored = self.store.list_users().await?;
        let user = match normalize_user_name(name) {
            Ok(n) => named(stored, &n),
            Err(_) => None,
        };
        let password = password.to_string();
        let actor = blocking(&self.clock, move || match user {
            Some(u) if verify_password(&password, &u.password_hash) && !u.disabled => {
                Some(Actor::of_user(&u))
            }
            Some(_) => None,
            None => {
                verify_nothing(&password);
                None
            }
        })
        .await;
        actor.ok_or(ButlerError::Auth(AuthError::BadCredentials))
    }

    /// The stored user `name` names ([`identity_key`]): the one stored
    /// under that very name, else the one whose name has the same
    /// identity (`ANA` finds `ana`). `None` when there is none, or when
    /// several stored before this rule share it (then only their exact
    /// names find them).
    pub async fn same_user(&self, name: &str) -> Result<Option<User>, ButlerError> {
        match self.store.get_user(name).await {
            Ok(u) => Ok(Some(u)),
            Err(StoreError::NotFound(_)) => Ok(named(self.store.list_users().await?, name)),
            Err(e) => Err(e.into()),
        }
    }

    /// Refuses a new user whose name names a stored user.
    async fn check_new_identity(&self, name: &str) -> Result<(), ButlerError> {
        let key = identity_key(name);
        match self
            .store
            .list_users()
            .await?
            .into_iter()
            .find(|u| identity_key(&u.name) == key)
        {
            Some(u) => Err(AuthError::Exists(u.name).into()),
            None => Ok(()),
        }
    }

    /// Adds the first Admin of an empty deployment and returns its actor.
    /// Refused once any user exists.
    pub async fn bootstrap_admin(&self, name: &str, password: &str) -> Result<Actor, ButlerError> {
        if !self.store.list_users().await?.is_empty() {
            return Err(AuthError::AlreadyBootstrapped.into());
        }
        let user = self.new_user(name, [Role::Admin].into(), password).await?;
        let audit = self.audit_line(
            user.name.as_str(),
            &user.name,
            UserChange::Added { roles: user.roles },
        );
        self.store.insert_user(&user, &audit).await?;
        tracing::info!(user = %user.name, "first admin added");
        Ok(Actor::of_user(&user))
    }

    async fn new_user(
        &self,
        name: &str,
        roles: RoleSet,
        password: &str,
    ) -> Result<User, ButlerError> {
        let name = normalize_user_name(name)?;
        if roles.is_empty() {
            return Err(AuthError::NoRole(name).into());
        }
        let now = self.clock.now();
        Ok(User {
            name,
            roles,
            password_hash: hash(&self.clock, password).await?,
            disabled: false,
            version: 1,
            created_at: now,
            updated_at: now,
            api_tokens: Vec::new(),
        })
    }

    fn audit_line(&self, actor: &str, user: &str, change: UserChange) -> UserAudit {
        UserAudit {
            at: self.clock.now(),
            actor: actor.to_string(),
            user: user.to_string(),
            change,
        }
    }

    /// Adds a user (Admin).
    pub async fn add(
        &self,
        actor: &Actor,
        name: &str,
        roles: impl Into<RoleSet>,
        password: &str,
    ) -> Result<User, ButlerError> {
        self.policy.check(actor, Operation::ManageUsers)?;
        let user = self.new_user(name, roles.into(), password).await?;
        self.check_new_identity(&user.name).await?;
        let audit = self.audit_line(
            actor.name(),
            &user.name,
            UserChange::Added { roles: user.roles },
        );
        self.store
            .insert_user(&user, &audit)
            .await
            .map_err(|e| match e {
                StoreError::AlreadyExists(_) => AuthError::Exists(user.name.clone()).into(),
                other => ButlerError::from(other),
            })?;
        tracing::info!(actor = %actor.name(), user = %user.name, roles = ?user.roles, "user added");
        Ok(user)
    }

    pub(crate) async fn load(&self, name: &str) -> Result<User, ButlerError> {
        let n = normalize_user_name(name)?;
        self.same_user(&n)
            .await?
            .ok_or_else(|| AuthError::UnknownUser(n).into())
    }

    async fn is_last_admin(&self, name: &str) -> Result<bool, ButlerError> {
        let admins: Vec<String> = self
            .store
            .list_users()
            .await?
            .into_iter()
            .filter(|u| u.roles.contains(Role::Admin) && !u.disabled)
            .map(|u| u.name)
            .collect();
        Ok(admins.len() == 1 && admins[0] == name)
    }

    pub(crate) async fn change(
        &self,
        actor: &str,
        mut user: User,
        change: UserChange,
        edit: impl FnOnce(&mut User),
    ) -> Result<User, ButlerError> {
        let expected = user.version;
        edit(&mut user);
        user.version += 1;
        user.updated_at = self.clock.now();
        let audit = self.audit_line(actor, &user.name, change);
        self.store.update_user(&user, expected, &audit).await?;
        tracing::info!(actor = %actor, user = %user.name, change = ?audit.change, "user changed");
        Ok(user)
    }

    /// Replaces a user's roles (Admin). The last enabled Admin keeps the role.
    pub async fn set_roles(
        &self,
        actor: &Actor,
        name: &str,
        roles: impl Into<RoleSet>,
    ) -> Result<User, ButlerError> {
        self.policy.check(actor, Operation::ManageUsers)?;
        let roles = roles.into();
        let user = self.load(name).await?;
        if roles.is_empty() {
            return Err(AuthError::NoRole(user.name).into());
        }
        if !roles.contains(Role::Admin) && self.is_last_admin(&user.name).await? {
            return Err(AuthError::LastAdmin(user.name).into());
        }
        let change = UserChange::Roles {
            before: user.roles,
            after: roles,
        };
        self.change(actor.name(), user, change, |u| u.roles = roles)
            .await
    }

    /// Enables or disables a user (Admin); the last enabled Admin stays
    /// enabled. Disabling revokes the user's API tokens: enabled again,
    /// they start with none (the host closes their sessions).
    pub async fn set_disabled(
        &self,
        actor: &Actor,
        name: &str,
        disabled: bool,
    ) -> Result<User, ButlerError> {
        self.policy.check(actor, Operation::ManageUsers)?;
        let user = self.load(name).await?;
        if disabled && self.is_last_admin(&user.name).await? {
            return Err(AuthError::LastAdmin(user.name).into());
        }
        self.change(actor.name(), user, UserChange::Disabled { disabled }, |u| {
            u.disabled = disabled;
            if disabled {
                u.api_tokens.clear();
            }
        })
        .await
    }

    /// Sets a new password for a user (Admin), and revokes the user's API
    /// tokens: a reset is what an Admin does when an account may be in
    /// other hands (the host closes its sessions too).
    pub async fn reset_password(
        &self,
        actor: &Actor,
        name: &str,
        password: &str,
    ) -> Result<User, ButlerError> {
        self.policy.check(actor, Operation::ManageUsers)?;
        let user = self.load(name).await?;
        let h = hash(&self.clock, password).await?;
        self.change(actor.name(), user, UserChange::PasswordReset, |u| {
            u.password_hash = h;
            u.api_tokens.clear();
        })
        .await
    }

    /// Changes one's own password, given the current one.
    pub async fn change_password(
        &self,
        name: &str,
        old: &str,
        new: &str,
    ) -> Result<(), ButlerError> {
        let me = self.authenticate(name, old).await?;
        let h = hash(&self.clock, new).await?;
        let user = self.load(me.name()).await?;
        self.change(me.name(), user, UserChange::PasswordChanged, |u| {
            u.password_hash = h
        })
        .await?;
        Ok(())
    }

    /// Removes a user (Admin); the last enabled Admin stays. History keeps
    /// their name wherever they acted.
    pub async fn remove(&self, actor: &Actor, name: &str) -> Result<(), ButlerError> {
        self.policy.check(actor, Operation::ManageUsers)?;
        let user = self.load(name).await?;
        if self.is_last_admin(&user.name).await? {
            return Err(AuthError::LastAdmin(user.name).into());
        }
        let audit = self.audit_line(actor.name(), &user.name, UserChange::Removed);
        self.store
            .delete_user(&user.name, user.version, &audit)
            .await?;
        tracing::info!(actor = %actor.name(), user = %user.name, "user removed");
        Ok(())
    }

    /// Every user, by name (Admin).
    pub async fn list(&self, actor: &Actor) -> Result<Vec<User>, ButlerError> {
        self.policy.check(actor, Operation::ReadUsers)?;
        Ok(self.store.list_users().await?)
    }

    /// The audit trail of user changes, oldest first (Admin).
    pub async fn audit(&self, actor: &Actor) -> Result<Vec<UserAudit>, ButlerError> {
        self.policy.check(actor, Operation::ReadUsers)?;
        Ok(self.store.user_audit().await?)
    }
}

#[async_trait::async_trait]
impl crate::auth::Authenticator for UserService {
    async fn authenticate(&self, name: &str, password: &str) -> Result<Actor, ButlerError> {
        UserService::authenticate(self, name, password).await
    }
}
