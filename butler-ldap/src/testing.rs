//! The real test directory started by `scripts/services/ldap.sh`.

/// The running slapd.
#[derive(Debug, Clone)]
pub struct LiveLdap {
    /// `ldap://` (StartTLS).
    pub url: String,
    /// `ldaps://`.
    pub ldaps_url: String,
    /// Its CA (PEM).
    pub ca: String,
    /// The service account.
    pub bind_dn: String,
    /// Its password.
    pub bind_password: String,
}

impl LiveLdap {
    /// From `BUTLER_TEST_LDAP_*`; `None` with a loud note outside CI; a
    /// panic under `CI=true`.
    pub fn from_env() -> Option<LiveLdap> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        match (
            var("BUTLER_TEST_LDAP_URL"),
            var("BUTLER_TEST_LDAPS_URL"),
            var("BUTLER_TEST_LDAP_CA"),
            var("BUTLER_TEST_LDAP_BIND_DN"),
            var("BUTLER_TEST_LDAP_BIND_PASSWORD"),
        ) {
            (Some(url), Some(ldaps_url), Some(ca), Some(bind_dn), Some(bind_password)) => {
                Some(LiveLdap {
                    url,
                    ldaps_url,
                    ca,
                    bind_dn,
                    bind_password,
                })
            }
            _ if std::env::var("CI").as_deref() == Ok("true") => {
                panic!("CI=true but no OpenLDAP is running: BUTLER_TEST_LDAP_* unset (scripts/test.sh starts it)")
            }
            _ => {
                eprintln!("\n*** SKIPPED: no real OpenLDAP (BUTLER_TEST_LDAP_* unset); run scripts/test.sh ***\n");
                None
            }
        }
    }

    /// The `[auth.ldap]` table for this directory over `url`, with the
    /// test directory's groups mapped to roles.
    pub fn config_toml(&self, url: &str, starttls: bool) -> String {
        format!(
            "url = \"{url}\"\nstarttls = {starttls}\nca_file = \"{}\"\nbind_dn = \"{}\"\nuser_base = \"ou=people,dc=example,dc=org\"\ngroup_base = \"ou=groups,dc=example,dc=org\"\ntimeout_secs = 5\n[roles]\n\"cn=butler-requesters,ou=groups,dc=example,dc=org\" = [\"requester\"]\n\"cn=butler-approvers,ou=groups,dc=example,dc=org\" = [\"approver\"]\n\"cn=butler-operators,ou=groups,dc=example,dc=org\" = [\"operator\"]\n",
            self.ca, self.bind_dn
        )
    }
}
