//! For tests against a real Icinga2 (feature `testing`).

/// A running Icinga2's API, as `scripts/services/icinga2.sh` describes it
/// in `BUTLER_TEST_ICINGA_{URL,USER,PASSWORD,CA}`.
#[derive(Clone)]
pub struct LiveIcinga {
    /// `https://localhost:<port>`.
    pub url: String,
    /// API user.
    pub user: String,
    /// Its password.
    pub password: String,
    /// Icinga's CA certificate (PEM file).
    pub ca: String,
}

impl std::fmt::Debug for LiveIcinga {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveIcinga")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl LiveIcinga {
    /// The running daemon; `None` (with a loud note on stderr) when none is
    /// configured outside CI. Under `CI=true` a missing daemon panics: CI
    /// must run these tests.
    pub fn from_env() -> Option<LiveIcinga> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        match (
            var("BUTLER_TEST_ICINGA_URL"),
            var("BUTLER_TEST_ICINGA_USER"),
            var("BUTLER_TEST_ICINGA_PASSWORD"),
            var("BUTLER_TEST_ICINGA_CA"),
        ) {
            (Some(url), Some(user), Some(password), Some(ca)) => Some(LiveIcinga {
                url,
                user,
                password,
                ca,
            }),
            _ if std::env::var("CI").as_deref() == Ok("true") => {
                panic!("CI=true but no Icinga2 is running: BUTLER_TEST_ICINGA_* unset (scripts/test.sh starts it)")
            }
            _ => {
                eprintln!(
                    "\n*** SKIPPED: no real Icinga2 (BUTLER_TEST_ICINGA_* unset); run scripts/test.sh ***\n"
                );
                None
            }
        }
    }

    /// The host object `name` as the API serves it (`attrs`), read over
    /// the raw API (not the adapter's decoder); `None` on 404.
    pub async fn host(&self, name: &str) -> Option<serde_json::Value> {
        let pem = std::fs::read(&self.ca).unwrap_or_else(|e| panic!("{}: {e}", self.ca));
        let cert = reqwest::Certificate::from_pem(&pem).unwrap_or_else(|e| panic!("{e}"));
        let http = reqwest::Client::builder()
            .add_root_certificate(cert)
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        let r = http
            .get(format!("{}/v1/objects/hosts/{name}", self.url))
            .basic_auth(&self.user, Some(&self.password))
            .header("Accept", "application/json")
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        if r.status().as_u16() == 404 {
            return None;
        }
        assert!(r.status().is_success(), "{}", r.status());
        let v: serde_json::Value = r.json().await.unwrap_or_else(|e| panic!("{e}"));
        Some(v["results"][0]["attrs"].clone())
    }
}
