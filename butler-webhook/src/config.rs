use secrecy::SecretString;
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

/// The environment variable holding the shared signing secret.
pub const SECRET_VAR: &str = "BUTLER_BILLING_WEBHOOK_SECRET";

/// Where deliveries go and how they are signed.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// The receiver's URL (`https://`; `http://` only with
    /// `allow_plain_http`, e.g. on loopback in tests).
    pub url: String,
    /// The shared secret (from [`SECRET_VAR`]; redacted in `Debug`).
    pub secret: SecretString,
    /// Deadline of one delivery.
    pub timeout: Duration,
    /// Extra CA certificate for the receiver (PEM).
    pub ca_cert: Option<PathBuf>,
    /// Where the billing side answers what it charged for a month (a
    /// signed `GET <charges_url>?month=YYYY-MM`, same scheme rules as
    /// `url`); `None`: it does not report charges.
    pub charges_url: Option<String>,
}

/// Why a configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The TOML does not parse or has unknown keys.
    #[error("billing webhook config: {0}")]
    Syntax(String),
    /// A value is wrong.
    #[error("billing webhook config: {0}")]
    Invalid(String),
    /// The secret variable is not set, or too short.
    #[error("billing webhook config: the signing secret is read from {0}, which is unset or shorter than 32 bytes")]
    MissingSecret(&'static str),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    url: String,
    timeout_secs: Option<u64>,
    ca_cert: Option<PathBuf>,
    charges_url: Option<String>,
    #[serde(default)]
    allow_plain_http: bool,
}

impl WebhookConfig {
    /// Parses the `[billing.webhook]` table (or a file holding only it),
    /// the secret taken from `env(SECRET_VAR)`.
    pub fn from_toml(
        text: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<WebhookConfig, ConfigError> {
        let value: toml::Value =
            toml::from_str(text).map_err(|e| ConfigError::Syntax(e.to_string()))?;
        WebhookConfig::from_value(value, env)
    }

    /// As [`from_toml`](Self::from_toml), from an already parsed table.
    pub fn from_value(
        value: toml::Value,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<WebhookConfig, ConfigError> {
        WebhookConfig::from_value_with_secret(value, env, SECRET_VAR)
    }

    /// As [`from_value`](Self::from_value), the secret read from
    /// `secret_var` (each webhook has a secret of its own, e.g.
    /// [`NOTIFY_SECRET_VAR`](crate::NOTIFY_SECRET_VAR) for notifications).
    pub fn from_value_with_secret(
        value: toml::Value,
        env: impl Fn(&str) -> Option<String>,
        secret_var: &'static str,
    ) -> Result<WebhookConfig, ConfigError> {
        let f: File = value
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Syntax(e.to_string()))?;
        check_url("url", &f.url, f.allow_plain_http)?;
        if let Some(c) = &f.charges_url {
            check_url("charges_url", c, f.allow_plain_http)?;
        }
        let secret = env(secret_var)
            .filter(|s| s.len() >= 32)
            .ok_or(ConfigError::MissingSecret(secret_var))?;
        let timeout = Duration::from_secs(f.timeout_secs.unwrap_or(30));
        if timeout.is_zero() || timeout > Duration::from_secs(600) {
            return Err(ConfigError::Invalid("timeout_secs must be 1 to 600".into()));
        }
        Ok(WebhookConfig {
            url: f.url,
            secret: SecretString::from(secret),
            timeout,
            ca_cert: f.ca_cert,
            charges_url: f.charges_url,
        })
    }
}

/// `https://` without credentials (`http://` only when allowed).
fn check_url(what: &str, text: &str, allow_plain_http: bool) -> Result<(), ConfigError> {
    let url =
        reqwest::Url::parse(text).map_err(|e| ConfigError::Invalid(format!("{what}: {e}")))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_plain_http => {
            tracing::warn!("billing webhook {what} over plain http: it can be read on the way")
        }
        "http" => {
            return Err(ConfigError::Invalid(format!(
                "{what} must be https:// (allow_plain_http = true for a local receiver)"
            )))
        }
        other => return Err(ConfigError::Invalid(format!("{what} scheme {other:?}"))),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ConfigError::Invalid(format!(
            "{what} must not carry credentials"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn sections_parse_and_refuse_by_name() {
        let env = |k: &str| (k == SECRET_VAR).then(|| SECRET.to_string());
        let c = WebhookConfig::from_toml("url = \"https://bill.example.com/hook\"", env).unwrap();
        assert!(!format!("{c:?}").contains(SECRET));
        for (text, says) in [
            ("url = \"http://bill/hook\"", "https"),
            ("url = \"https://u:p@bill/hook\"", "credentials"),
            ("url = \"https://bill/hook\"\ntimeout_secs = 0", "timeout"),
            (
                "url = \"https://bill/hook\"\nsecret = \"x\"",
                "unknown field",
            ),
        ] {
            let e = WebhookConfig::from_toml(text, env).unwrap_err();
            assert!(e.to_string().contains(says), "{text}: {e}");
        }
        assert!(WebhookConfig::from_toml(
            "url = \"http://127.0.0.1:9/h\"\nallow_plain_http = true",
            env
        )
        .is_ok());
        let short = |_: &str| Some("short".to_string());
        assert_eq!(
            WebhookConfig::from_toml("url = \"https://bill/hook\"", short).unwrap_err(),
            ConfigError::MissingSecret(SECRET_VAR)
        );
    }
}
