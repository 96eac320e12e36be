use secrecy::SecretString;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// The environment variable holding the SMTP password.
pub const PASSWORD_VAR: &str = "BUTLER_SMTP_PASSWORD";

/// How the connection is encrypted. There is no plain-text mode: mail
/// holds names, costs and request details.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain connect, then STARTTLS (required).
    StartTls,
    /// TLS from the first byte (port 465).
    Implicit,
}

/// Where mail goes and to whom.
#[derive(Clone)]
pub struct MailConfig {
    /// SMTP server.
    pub host: String,
    /// Port (587 for STARTTLS, 465 for implicit TLS).
    pub port: u16,
    /// Encryption.
    pub tls: TlsMode,
    /// The name the server's certificate must carry (defaults to `host`).
    pub tls_name: String,
    /// Extra CA certificate (PEM) for a private server.
    pub ca_file: Option<PathBuf>,
    /// Login, if the server wants one.
    pub username: Option<String>,
    /// The password (from [`PASSWORD_VAR`]; never printed).
    pub password: Option<SecretString>,
    /// The sender, e.g. `Butler <butler@example.org>`.
    pub from: String,
    /// `user@domain` for users not in `addresses`.
    pub domain: Option<String>,
    /// Explicit addresses by user name.
    pub addresses: BTreeMap<String, String>,
    /// The support list.
    pub support: Vec<String>,
    /// Deadline of one delivery.
    pub timeout: Duration,
    /// Tries per delivery, a few seconds apart (default 1): the
    /// notification hub retries a failed delivery later on its own
    /// schedule, for hours.
    pub attempts: u32,
    /// Subject prefix.
    pub subject_prefix: String,
}

impl std::fmt::Debug for MailConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("from", &self.from)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// Why a configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The TOML does not parse or has unknown keys.
    #[error("e-mail config: {0}")]
    Syntax(String),
    /// A value is wrong.
    #[error("e-mail config: {0}")]
    Invalid(String),
    /// A username without the password variable.
    #[error("e-mail config: username is set but {0} is not")]
    MissingPassword(&'static str),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    host: String,
    port: Option<u16>,
    implicit_tls: Option<bool>,
    tls_name: Option<String>,
    ca_file: Option<PathBuf>,
    username: Option<String>,
    from: String,
    domain: Option<String>,
    #[serde(default)]
    addresses: BTreeMap<String, String>,
    #[serde(default)]
    support: Vec<String>,
    timeout_secs: Option<u64>,
    attempts: Option<u32>,
    subject_prefix: Option<String>,
}

fn check_address(what: &str, a: &str) -> Result<(), ConfigError> {
    a.parse::<lettre::message::Mailbox>()
        .map(|_| ())
        .map_err(|e| ConfigError::Invalid(format!("{what} {a:?}: {e}")))
}

impl MailConfig {
    /// Parses the `[notifications.email]` table, the password from
    /// `env(PASSWORD_VAR)`.
    pub fn from_value(
        value: toml::Value,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<MailConfig, ConfigError> {
        let f: File = value
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Syntax(e.to_string()))?;
        if f.host.trim().is_empty() {
            return Err(ConfigError::Invalid("host is empty".into()));
        }
        let implicit = f.implicit_tls.unwrap_or(false);
        check_address("from", &f.from)?;
        for (user, a) in &f.addresses {
            check_address(&format!("addresses.{user}"), a)?;
        }
        for a in &f.support {
            check_address("support", a)?;
        }
        if let Some(d) = &f.domain {
            check_address("domain", &format!("user@{d}"))?;
        }
        let password = match &f.username {
            Some(_) => Some(SecretString::from(
                env(PASSWORD_VAR).ok_or(ConfigError::MissingPassword(PASSWORD_VAR))?,
            )),
            None => None,
        };
        let timeout = Duration::from_secs(f.timeout_secs.unwrap_or(20));
        if timeout.is_zero() || timeout > Duration::from_secs(300) {
            return Err(ConfigError::Invalid("timeout_secs must be 1 to 300".into()));
        }
        Ok(MailConfig {
            tls_name: f.tls_name.unwrap_or_else(|| f.host.clone()),
            host: f.host,
            port: f.port.unwrap_or(if implicit { 465 } else { 587 }),
            tls: if implicit {
                TlsMode::Implicit
            } else {
                TlsMode::StartTls
            },
            ca_file: f.ca_file,
            username: f.username,
            password,
            from: f.from,
            domain: f.domain,
            addresses: f.addresses,
            support: f.support,
            timeout,
            attempts: f.attempts.unwrap_or(1).clamp(1, 10),
            subject_prefix: f.subject_prefix.unwrap_or_else(|| "[Butler]".into()),
        })
    }

    /// The address of `user`, if there is one.
    pub fn address_of(&self, user: &str) -> Option<String> {
        if let Some(a) = self.addresses.get(user) {
            return Some(a.clone());
        }
        self.domain.as_ref().map(|d| format!("{user}@{d}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, pw: Option<&str>) -> Result<MailConfig, ConfigError> {
        let v: toml::Value =
            toml::from_str(text).map_err(|e| ConfigError::Syntax(e.to_string()))?;
        MailConfig::from_value(v, |_| pw.map(str::to_string))
    }

    #[test]
    fn defaults_are_starttls_on_587_and_addresses_come_from_map_or_domain() {
        let c = parse(
            "host = \"smtp.example.org\"\nfrom = \"Butler <b@example.org>\"\ndomain = \"example.org\"\naddresses = { olga = \"o@ops.example.org\" }",
            None,
        );
        let c = c.as_ref();
        assert_eq!(
            c.map(|c| (c.port, c.tls)).ok(),
            Some((587, TlsMode::StartTls))
        );
        assert_eq!(
            c.ok().and_then(|c| c.address_of("ana")),
            Some("ana@example.org".into())
        );
        assert_eq!(
            c.ok().and_then(|c| c.address_of("olga")),
            Some("o@ops.example.org".into())
        );
    }

    #[test]
    fn mistakes_are_named_and_the_password_is_never_printed() {
        let base = "host = \"h\"\nfrom = \"b@example.org\"\n";
        assert!(
            matches!(parse(&format!("{base}support = [\"not an address\"]"), None), Err(ConfigError::Invalid(m)) if m.contains("support"))
        );
        assert!(matches!(
            parse(&format!("{base}username = \"u\""), None),
            Err(ConfigError::MissingPassword(_))
        ));
        assert!(matches!(
            parse(&format!("{base}colour = 1"), None),
            Err(ConfigError::Syntax(_))
        ));
        let c = parse(&format!("{base}username = \"u\""), Some("hunter2-secret"));
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
