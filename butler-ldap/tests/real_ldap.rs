//! The directory login against a real OpenLDAP (slapd) over LDAPS and
//! StartTLS, started by scripts/test.sh with a test directory.

use butler_core::auth::{AuthError, Authenticator, Role};
use butler_core::ButlerError;
use butler_ldap::testing::LiveLdap;
use butler_ldap::{LdapAuthenticator, LdapConfig};

fn authenticator(d: &LiveLdap, url: &str, starttls: bool) -> LdapAuthenticator {
    let v: toml::Value = toml::from_str(&d.config_toml(url, starttls)).expect("toml");
    let pw = d.bind_password.clone();
    let c = LdapConfig::from_value(v, |_| Some(pw.clone())).expect("config");
    LdapAuthenticator::new(c).expect("authenticator")
}

fn refused(r: Result<butler_core::auth::Actor, ButlerError>) -> bool {
    matches!(r, Err(ButlerError::Auth(AuthError::BadCredentials)))
}

#[tokio::test]
async fn directory_users_log_in_with_the_roles_of_their_groups() {
    let Some(d) = LiveLdap::from_env() else {
        return;
    };
    for (url, starttls) in [(d.ldaps_url.clone(), false), (d.url.clone(), true)] {
        let a = authenticator(&d, &url, starttls);
        let alice = a
            .authenticate("alice", "alice-pw-123")
            .await
            .expect("alice");
        assert_eq!(alice.name(), "alice");
        assert!(
            alice.has(Role::Requester) && alice.has(Role::Approver),
            "{url}"
        );
        assert!(!alice.has(Role::Admin));
        let dave = a.authenticate("Dave", "dave-pw-123").await.expect("dave");
        assert_eq!(dave.name(), "dave", "names are normalised");
        assert!(dave.has(Role::Operator) && !dave.has(Role::Requester));
    }
}

#[tokio::test]
async fn every_failure_a_person_can_cause_looks_the_same() {
    let Some(d) = LiveLdap::from_env() else {
        return;
    };
    let a = authenticator(&d, &d.ldaps_url, false);
    assert!(
        refused(a.authenticate("alice", "wrong").await),
        "wrong password"
    );
    assert!(
        refused(a.authenticate("nobody", "nobody-pw-123").await),
        "unknown user"
    );
    assert!(
        refused(a.authenticate("alice", "").await),
        "empty password (anonymous bind)"
    );
    assert!(
        refused(a.authenticate("carol", "carol-pw-123").await),
        "in no Butler group"
    );
    // Filter injection: the name cannot widen the search.
    assert!(refused(a.authenticate("*", "alice-pw-123").await));
    assert!(refused(a.authenticate("al*", "alice-pw-123").await));
    assert!(refused(
        a.authenticate("x)(uid=alice", "alice-pw-123").await
    ));
}

#[tokio::test]
async fn an_unverified_server_is_an_error_not_a_login() {
    let Some(d) = LiveLdap::from_env() else {
        return;
    };
    // Without the test CA the server's certificate is unknown: refused,
    // and reported as the directory failing, not as a wrong password.
    let text = d
        .config_toml(&d.ldaps_url, false)
        .replace(&format!("ca_file = \"{}\"\n", d.ca), "");
    let v: toml::Value = toml::from_str(&text).expect("toml");
    let pw = d.bind_password.clone();
    let a =
        LdapAuthenticator::new(LdapConfig::from_value(v, |_| Some(pw.clone())).expect("config"))
            .expect("authenticator");
    match a.authenticate("alice", "alice-pw-123").await {
        Err(ButlerError::Backend(e)) => assert!(!e.to_string().contains("alice-pw-123")),
        other => panic!("expected a backend error, got {other:?}"),
    }
}
