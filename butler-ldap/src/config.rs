use butler_core::auth::{Role, RoleSet};
use secrecy::SecretString;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// The environment variable holding the service account's password.
pub const BIND_PASSWORD_VAR: &str = "BUTLER_LDAP_BIND_PASSWORD";

/// How to reach the directory and read people and groups from it.
#[derive(Clone)]
pub struct LdapConfig {
    /// `ldaps://host:port` or `ldap://host:port` (then `starttls`).
    pub url: String,
    /// StartTLS on an `ldap://` URL (required for `ldap://`).
    pub starttls: bool,
    /// Extra CA (PEM).
    pub ca_file: Option<PathBuf>,
    /// The service account that searches.
    pub bind_dn: String,
    /// Its password (from [`BIND_PASSWORD_VAR`]).
    pub bind_password: SecretString,
    /// Where people are.
    pub user_base: String,
    /// `{user}` is replaced by the escaped name.
    pub user_filter: String,
    /// Where groups are.
    pub group_base: String,
    /// `{dn}` is replaced by the user's escaped DN.
    pub group_filter: String,
    /// Group DN (lower case) → roles.
    pub roles: BTreeMap<String, RoleSet>,
    /// Deadline of each directory operation.
    pub timeout: Duration,
}

impl std::fmt::Debug for LdapConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LdapConfig")
            .field("url", &self.url)
            .field("starttls", &self.starttls)
            .field("bind_dn", &self.bind_dn)
            .field("user_base", &self.user_base)
            .finish_non_exhaustive()
    }
}

/// Why a configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Unknown keys or a TOML error.
    #[error("ldap config: {0}")]
    Syntax(String),
    /// A value is wrong.
    #[error("ldap config: {0}")]
    Invalid(String),
    /// The bind password variable is unset.
    #[error("ldap config: the service account's password is read from {0}, which is unset")]
    MissingPassword(&'static str),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    url: String,
    #[serde(default)]
    starttls: bool,
    ca_file: Option<PathBuf>,
    bind_dn: String,
    user_base: String,
    user_filter: Option<String>,
    group_base: String,
    group_filter: Option<String>,
    roles: BTreeMap<String, Vec<String>>,
    timeout_secs: Option<u64>,
}

impl LdapConfig {
    /// Parses the `[auth.ldap]` table, the password from `env`.
    pub fn from_value(
        value: toml::Value,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<LdapConfig, ConfigError> {
        let f: File = value
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Syntax(e.to_string()))?;
        let invalid = |m: String| ConfigError::Invalid(m);
        match (f.url.split_once("://").map(|x| x.0), f.starttls) {
            (Some("ldaps"), false) => {}
            (Some("ldaps"), true) => return Err(invalid("starttls is for ldap:// URLs".into())),
            (Some("ldap"), true) => {}
            (Some("ldap"), false) => {
                return Err(invalid(
                    "ldap:// without starttls would send passwords in the clear: use ldaps:// or starttls = true".into(),
                ))
            }
            _ => return Err(invalid(format!("url {:?} must be ldaps:// or ldap://", f.url))),
        }
        let user_filter = f.user_filter.unwrap_or_else(|| "(uid={user})".into());
        if !user_filter.contains("{user}") {
            return Err(invalid("user_filter must contain {user}".into()));
        }
        let group_filter = f
            .group_filter
            .unwrap_or_else(|| "(&(objectClass=groupOfNames)(member={dn}))".into());
        if !group_filter.contains("{dn}") {
            return Err(invalid("group_filter must contain {dn}".into()));
        }
        let mut roles = BTreeMap::new();
        for (group, names) in f.roles {
            let mut set = RoleSet::default();
            for n in &names {
                set = set.with(
                    Role::parse(n)
                        .ok_or_else(|| invalid(format!("roles.{group:?}: unknown role {n:?}")))?,
                );
            }
            roles.insert(group.to_lowercase(), set);
        }
        if roles.is_empty() {
            return Err(invalid("roles maps no group: nobody could log in".into()));
        }
        let timeout = Duration::from_secs(f.timeout_secs.unwrap_or(10));
        if timeout.is_zero() || timeout > Duration::from_secs(120) {
            return Err(invalid("timeout_secs must be 1 to 120".into()));
        }
        Ok(LdapConfig {
            url: f.url,
            starttls: f.starttls,
            ca_file: f.ca_file,
            bind_dn: f.bind_dn,
            bind_password: SecretString::from(
                env(BIND_PASSWORD_VAR).ok_or(ConfigError::MissingPassword(BIND_PASSWORD_VAR))?,
            ),
            user_base: f.user_base,
            user_filter,
            group_base: f.group_base,
            group_filter,
            roles,
            timeout,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(extra: &str) -> Result<LdapConfig, ConfigError> {
        let text =
            format!("bind_dn = \"cn=b\"\nuser_base = \"ou=p\"\ngroup_base = \"ou=g\"\n{extra}\n");
        let v: toml::Value =
            toml::from_str(&text).map_err(|e| ConfigError::Syntax(e.to_string()))?;
        LdapConfig::from_value(v, |_| Some("service password".into()))
    }

    #[test]
    fn passwords_never_travel_in_the_clear() {
        let roles = "[roles]\n\"cn=a\" = [\"approver\"]";
        assert!(parse(&format!("url = \"ldaps://h\"\n{roles}")).is_ok());
        assert!(parse(&format!("url = \"ldap://h\"\nstarttls = true\n{roles}")).is_ok());
        assert!(
            matches!(parse(&format!("url = \"ldap://h\"\n{roles}")), Err(ConfigError::Invalid(m)) if m.contains("clear"))
        );
        assert!(matches!(
            parse(&format!("url = \"http://h\"\n{roles}")),
            Err(ConfigError::Invalid(_))
        ));
    }

    #[test]
    fn roles_must_be_known_and_the_password_is_not_printed() {
        assert!(
            matches!(parse("url = \"ldaps://h\"\n[roles]\n\"cn=a\" = [\"boss\"]"), Err(ConfigError::Invalid(m)) if m.contains("boss"))
        );
        assert!(matches!(
            parse("url = \"ldaps://h\"\n[roles]"),
            Err(ConfigError::Invalid(_))
        ));
        let c = parse("url = \"ldaps://h\"\n[roles]\n\"CN=A\" = [\"approver\"]");
        assert!(!format!("{c:?}").contains("service password"));
        assert!(
            c.map(|c| c.roles.contains_key("cn=a")).unwrap_or(false),
            "group DNs compare in lower case"
        );
    }
}
