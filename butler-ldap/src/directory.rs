//! The login against the directory.

use crate::config::LdapConfig;
use async_trait::async_trait;
use butler_core::auth::{Actor, AuthError, Authenticator, RoleSet};
use butler_core::backend::{BackendError, ErrorKind};
use butler_core::ButlerError;
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, Scope, SearchEntry};
use secrecy::ExposeSecret;
use std::sync::Arc;

/// Escapes a value for an LDAP filter (RFC 4515): `*`, `(`, `)`, `\` and
/// NUL become `\2a`, `\28`, `\29`, `\5c`, `\00`, so a name can never
/// change the filter's meaning.
///
/// ```
/// assert_eq!(butler_ldap::escape_filter_value("a*)(uid=*"), "a\\2a\\29\\28uid=\\2a");
/// ```
pub fn escape_filter_value(value: &str) -> String {
    ldap3::ldap_escape(value).into_owned()
}

/// Directory users as Butler actors.
pub struct LdapAuthenticator {
    config: LdapConfig,
    tls: Arc<rustls::ClientConfig>,
}

impl std::fmt::Debug for LdapAuthenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LdapAuthenticator")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn unreachable(op: &'static str, e: impl std::fmt::Display) -> ButlerError {
    BackendError::new(ErrorKind::Transient, op, format!("directory: {e}")).into()
}

fn bad() -> ButlerError {
    AuthError::BadCredentials.into()
}

impl LdapAuthenticator {
    /// An authenticator for `config` (reads the CA file now).
    pub fn new(config: LdapConfig) -> Result<LdapAuthenticator, crate::ConfigError> {
        let invalid = |m: String| crate::ConfigError::Invalid(m);
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if let Some(path) = &config.ca_file {
            let pem = std::fs::read(path)
                .map_err(|e| invalid(format!("ca_file {}: {e}", path.display())))?;
            for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
                let cert = cert.map_err(|e| invalid(format!("ca_file {}: {e}", path.display())))?;
                roots
                    .add(cert)
                    .map_err(|e| invalid(format!("ca_file {}: {e}", path.display())))?;
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| invalid(format!("TLS: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(LdapAuthenticator {
            config,
            tls: Arc::new(tls),
        })
    }

    async fn connect(&self) -> Result<Ldap, ButlerError> {
        let settings = LdapConnSettings::new()
            .set_conn_timeout(self.config.timeout)
            .set_starttls(self.config.starttls)
            .set_config(self.tls.clone());
        let (conn, ldap) = LdapConnAsync::with_settings(settings, &self.config.url)
            .await
            .map_err(|e| unreachable("ldap_connect", e))?;
        tokio::spawn(async move {
            if let Err(e) = conn.drive().await {
                tracing::debug!(error = ?e.to_string(), "directory connection ended");
            }
        });
        Ok(ldap)
    }

    /// The DN of `name`, found by the service account.
    async fn find(&self, ldap: &mut Ldap, name: &str) -> Result<String, ButlerError> {
        let t = self.config.timeout;
        ldap.with_timeout(t)
            .simple_bind(
                &self.config.bind_dn,
                self.config.bind_password.expose_secret(),
            )
            .await
            .and_then(|r| r.success())
            .map_err(|e| unreachable("ldap_service_bind", e))?;
        let filter = self
            .config
            .user_filter
            .replace("{user}", &escape_filter_value(name));
        let (entries, _) = ldap
            .with_timeout(t)
            .search(&self.config.user_base, Scope::Subtree, &filter, vec!["1.1"])
            .await
            .and_then(|r| r.success())
            .map_err(|e| unreachable("ldap_search_user", e))?;
        match entries.len() {
            1 => Ok(entries
                .into_iter()
                .map(|e| SearchEntry::construct(e).dn)
                .next()
                .unwrap_or_default()),
            0 => Err(bad()),
            n => {
                tracing::warn!(user = ?name, entries = n, "the user filter matches several directory entries; login refused");
                Err(bad())
            }
        }
    }

    async fn roles_of(&self, ldap: &mut Ldap, dn: &str) -> Result<RoleSet, ButlerError> {
        let filter = self
            .config
            .group_filter
            .replace("{dn}", &escape_filter_value(dn));
        let (entries, _) = ldap
            .with_timeout(self.config.timeout)
            .search(
                &self.config.group_base,
                Scope::Subtree,
                &filter,
                vec!["1.1"],
            )
            .await
            .and_then(|r| r.success())
            .map_err(|e| unreachable("ldap_search_groups", e))?;
        let mut roles = RoleSet::default();
        for e in entries {
            let group = SearchEntry::construct(e).dn.to_lowercase();
            if let Some(r) = self.config.roles.get(&group) {
                for role in r.iter() {
                    roles = roles.with(role);
                }
            }
        }
        Ok(roles)
    }
}

#[async_trait]
impl Authenticator for LdapAuthenticator {
    async fn authenticate(&self, name: &str, password: &str) -> Result<Actor, ButlerError> {
        // LDAP takes a bind with an empty password as anonymous: success
        // that proves nothing.
        if password.is_empty() {
            return Err(bad());
        }
        // Directories match names without regard to case; Butler compares
        // owners exactly, so "Alice" and "alice" must be one person.
        let name = butler_core::auth::normalize_user_name(name)
            .map_err(|_| bad())?
            .to_lowercase();
        let mut ldap = self.connect().await?;
        let dn = self.find(&mut ldap, &name).await?;
        let user_bind = ldap
            .with_timeout(self.config.timeout)
            .simple_bind(&dn, password)
            .await
            .map_err(|e| unreachable("ldap_user_bind", e))?;
        if user_bind.rc != 0 {
            let _ = ldap.unbind().await;
            return Err(bad());
        }
        // Groups are read with the user's own rights, as a directory
        // grants them to people.
        let roles = self.roles_of(&mut ldap, &dn).await;
        let _ = ldap.unbind().await;
        let roles = roles?;
        if roles.iter().next().is_none() {
            tracing::info!(user = ?name, "directory user in no Butler group; login refused");
            return Err(bad());
        }
        Ok(Actor::trusted(&name, roles)?)
    }
}
