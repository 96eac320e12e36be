//! Directory users (a real OpenLDAP) log in over HTTP; stored users keep
//! their own passwords; the answers for failures do not differ.

mod common;

use butler_ldap::testing::LiveLdap;
use butler_server::Server;
use common::Login;
use reqwest::StatusCode;
use serde_json::json;
use std::sync::Arc;

/// The demo server with the test directory (a real OpenLDAP) beside its
/// stored users; `None` (the test skipped) without the directory.
async fn with_directory() -> Option<common::TestServer> {
    with_directory_at(|d| d.ldaps_url.clone()).await
}

/// As [`with_directory`], the directory looked for at the URL `url` gives.
async fn with_directory_at(url: impl FnOnce(&LiveLdap) -> String) -> Option<common::TestServer> {
    let d = LiveLdap::from_env()?;
    let v: toml::Value = toml::from_str(&d.config_toml(&url(&d), false)).expect("toml");
    let pw = d.bind_password.clone();
    let ldap = butler_ldap::LdapAuthenticator::new(
        butler_ldap::LdapConfig::from_value(v, |_| Some(pw.clone())).expect("config"),
    )
    .expect("authenticator");
    let butler = butler_server::setup::demo_builder(butler::Butler::builder())
        .build()
        .expect("demo");
    Some(
        common::start_server(
            butler,
            |srv: Server| srv.with_directory(Arc::new(ldap)),
            butler_server::HttpSettings::default(),
        )
        .await,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directory_users_log_in_and_act_with_their_group_roles() {
    let Some(s) = with_directory().await else {
        return;
    };
    let alice = s.login("alice", "alice-pw-123").await;
    assert_eq!(alice.status, StatusCode::OK, "{:?}", alice.body);
    assert_eq!(alice.body["roles"], json!(["requester", "approver"]));
    let alice = Login {
        bearer: alice.body["token"].as_str().map(str::to_string),
        ..Login::default()
    };
    let r = s
        .post(&alice, "/api/requests", common::spec("ldap01"), None)
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["owner"], "alice");
    // Stored users still log in with their stored password.
    assert!(s.script("ana").await.bearer.is_some());
    // Wrong password, no Butler group, unknown: one answer.
    let wrong = s.login("alice", "nope").await;
    let carol = s.login("carol", "carol-pw-123").await;
    let nobody = s.login("nobody", "x-pw-123").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.body, carol.body);
    assert_eq!(wrong.body, nobody.body);
}

/// One identity per name: with a stored user `alice` beside the
/// directory's `alice`, the directory's password under any spelling of
/// the name never logs in as the stored user, who keeps her own password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_login_never_becomes_the_stored_user_of_that_name() {
    let Some(s) = with_directory().await else {
        return;
    };
    let ada = butler::auth::Actor::trusted("ada", [butler::auth::Role::Admin]).expect("actor");
    s.state
        .butler()
        .users()
        .add(
            &ada,
            "alice",
            [butler::auth::Role::Requester],
            "stored-alice-pw-9",
        )
        .await
        .expect("stored alice");
    let nobody = s.login("nobody", "x-pw-123").await;
    assert_eq!(nobody.status, StatusCode::UNAUTHORIZED);
    for name in ["Alice", "ALICE", "alice", " alice"] {
        let a = s.login(name, "alice-pw-123").await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{name:?}: {:?}", a.body);
        assert_eq!(a.body, nobody.body, "{name:?}");
    }
    let stored = s.login("alice", "stored-alice-pw-9").await;
    assert_eq!(stored.status, StatusCode::OK, "{:?}", stored.body);
    assert_eq!(stored.body["roles"], json!(["requester"]));
}

/// A directory that cannot be reached: an unknown name gets the answer a
/// stored user's wrong password gets (401, the same document), never the
/// directory's connection error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_directory_answers_like_any_failed_login() {
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let Some(s) = with_directory_at(|_| format!("ldaps://127.0.0.1:{closed}")).await else {
        return;
    };
    let stored_wrong = s.login("ana", "not-her-password").await;
    let unknown = s.login("nobody", "x-pw-123").await;
    assert_eq!(stored_wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        unknown.status,
        StatusCode::UNAUTHORIZED,
        "{:?}",
        unknown.body
    );
    assert_eq!(unknown.body, stored_wrong.body);
}
