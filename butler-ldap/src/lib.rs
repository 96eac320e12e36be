//! # butler-ldap
//!
//! Log in with directory accounts: an [`Authenticator`](butler_core::auth::Authenticator) over LDAP.
//!
//! 1. connect over `ldaps://`, or `ldap://` with StartTLS (required: a
//!    password never crosses the network in the clear), the server's
//!    certificate verified (public roots, or a CA file);
//! 2. bind as the service account and **search** the user (`user_filter`,
//!    the name escaped as RFC 4515 says) — exactly one entry, or no login;
//! 3. **bind as the user** with the password (an empty password is refused
//!    before, as LDAP would take it as an anonymous bind);
//! 4. read the user's groups and map them to Butler roles from the
//!    configuration; a user in no mapped group may not log in.
//!
//! Every failure a person could cause is
//! [`AuthError::BadCredentials`](butler_core::auth::AuthError), so the
//! answer does not say whether a name exists; a directory that cannot be
//! reached is a backend error, logged. Every call has a deadline.
//!
//! ```toml
//! [auth.ldap]
//! url = "ldaps://ldap.example.org"          # or ldap://… with starttls = true
//! ca_file = "/etc/butler/ldap-ca.pem"       # optional
//! bind_dn = "cn=butler,dc=example,dc=org"   # password in BUTLER_LDAP_BIND_PASSWORD
//! user_base = "ou=people,dc=example,dc=org"
//! user_filter = "(uid={user})"
//! group_base = "ou=groups,dc=example,dc=org"
//! group_filter = "(&(objectClass=groupOfNames)(member={dn}))"
//! [auth.ldap.roles]
//! "cn=butler-requesters,ou=groups,dc=example,dc=org" = ["requester"]
//! "cn=butler-approvers,ou=groups,dc=example,dc=org" = ["approver"]
//! ```

mod config;
mod directory;
#[cfg(feature = "testing")]
pub mod testing;

pub use config::{ConfigError, LdapConfig, BIND_PASSWORD_VAR};
pub use directory::{escape_filter_value, LdapAuthenticator};
