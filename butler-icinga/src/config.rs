use secrecy::SecretString;
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

/// The environment variable holding the API user's password.
pub const PASSWORD_VAR: &str = "BUTLER_ICINGA_PASSWORD";

/// Where and how to reach the Icinga2 API.
#[derive(Debug, Clone)]
pub struct IcingaConfig {
    /// Base URL, `https://host:5665` (no path, no credentials).
    pub url: String,
    /// API user (an `ApiUser` object with `objects/*` permissions).
    pub username: String,
    /// Its password (from [`PASSWORD_VAR`]; redacted in `Debug`).
    pub password: SecretString,
    /// Icinga's CA certificate (`/var/lib/icinga2/certs/ca.crt`); when
    /// absent the system's roots are used.
    pub ca_cert: Option<PathBuf>,
    /// Deadline of each API call.
    pub timeout: Duration,
    /// `check_command` of the host objects.
    pub check_command: String,
}

/// Why a configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The TOML does not parse or has unknown keys.
    #[error("icinga config: {0}")]
    Syntax(String),
    /// A value is wrong.
    #[error("icinga config: {0}")]
    Invalid(String),
    /// The password variable is not set.
    #[error("icinga config: the password is read from {0}, which is not set")]
    MissingPassword(&'static str),
    /// The CA file cannot be used.
    #[error("icinga config: CA certificate {path}: {reason}")]
    Ca {
        /// The path given.
        path: String,
        /// Why.
        reason: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    url: String,
    username: String,
    ca_cert: Option<PathBuf>,
    timeout_secs: Option<u64>,
    check_command: Option<String>,
}

impl IcingaConfig {
    /// Parses the `[monitoring.icinga]` table (or a file holding only it),
    /// the password taken from `env(PASSWORD_VAR)`.
    pub fn from_toml(
        text: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<IcingaConfig, ConfigError> {
        let value: toml::Value =
            toml::from_str(text).map_err(|e| ConfigError::Syntax(e.to_string()))?;
        IcingaConfig::from_value(value, env)
    }

    /// As [`from_toml`](Self::from_toml), from an already parsed table.
    pub fn from_value(
        value: toml::Value,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<IcingaConfig, ConfigError> {
        let f: File = value
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Syntax(e.to_string()))?;
        let url = f.url.trim_end_matches('/').to_string();
        let parsed =
            reqwest::Url::parse(&url).map_err(|e| ConfigError::Invalid(format!("url: {e}")))?;
        if parsed.scheme() != "https" {
            return Err(ConfigError::Invalid(
                "url must be https:// (the API password travels with every call)".into(),
            ));
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(ConfigError::Invalid(
                "url must not carry credentials; use username and the password variable".into(),
            ));
        }
        if parsed.path() != "/" || parsed.query().is_some() {
            return Err(ConfigError::Invalid(
                "url is the API's base, e.g. https://icinga:5665, without a path".into(),
            ));
        }
        if f.username.trim().is_empty() {
            return Err(ConfigError::Invalid("username is empty".into()));
        }
        let password = env(PASSWORD_VAR).ok_or(ConfigError::MissingPassword(PASSWORD_VAR))?;
        let timeout = Duration::from_secs(f.timeout_secs.unwrap_or(30));
        if timeout.is_zero() || timeout > Duration::from_secs(600) {
            return Err(ConfigError::Invalid("timeout_secs must be 1 to 600".into()));
        }
        let check_command = f.check_command.unwrap_or_else(|| "hostalive".into());
        if check_command.is_empty() || check_command.chars().any(char::is_control) {
            return Err(ConfigError::Invalid(
                "check_command is empty or has control characters".into(),
            ));
        }
        Ok(IcingaConfig {
            url,
            username: f.username,
            password: SecretString::from(password),
            ca_cert: f.ca_cert,
            timeout,
            check_command,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(k: &str) -> Option<String> {
        (k == PASSWORD_VAR).then(|| "pa55-word".to_string())
    }

    #[test]
    fn a_good_section_parses_and_keeps_the_password_out_of_debug() {
        let c = IcingaConfig::from_toml(
            "url = \"https://icinga:5665/\"\nusername = \"butler\"\n",
            env,
        )
        .unwrap();
        assert_eq!(
            (c.url.as_str(), c.check_command.as_str()),
            ("https://icinga:5665", "hostalive")
        );
        assert!(!format!("{c:?}").contains("pa55-word"));
    }

    #[test]
    fn unsafe_or_wrong_sections_are_refused_by_name() {
        let bad = [
            ("url = \"http://icinga:5665\"\nusername = \"b\"", "https"),
            (
                "url = \"https://u:p@icinga:5665\"\nusername = \"b\"",
                "credentials",
            ),
            (
                "url = \"https://icinga:5665/v1\"\nusername = \"b\"",
                "without a path",
            ),
            (
                "url = \"https://icinga:5665\"\nusername = \" \"",
                "username",
            ),
            (
                "url = \"https://icinga:5665\"\nusername = \"b\"\ntimeout_secs = 0",
                "timeout",
            ),
            (
                "url = \"https://icinga:5665\"\nusername = \"b\"\npassword = \"x\"",
                "unknown field",
            ),
        ];
        for (text, says) in bad {
            let e = IcingaConfig::from_toml(text, env).unwrap_err();
            assert!(e.to_string().contains(says), "{text}: {e}");
        }
        let e = IcingaConfig::from_toml("url = \"https://i:5665\"\nusername = \"b\"", |_| None);
        assert_eq!(e.unwrap_err(), ConfigError::MissingPassword(PASSWORD_VAR));
    }
}
