//! Personal API tokens over HTTP: made once, usable by scripts without a
//! session or CSRF token, listed without secrets, revocable at once.

mod common;

use common::{spec, start, Login};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_works_for_scripts_until_revoked() {
    let s = start(butler_server::HttpSettings::default()).await;
    let ana = s.browser("ana").await;
    let made = s
        .post(
            &ana,
            "/api/me/tokens",
            json!({"label": "nightly export", "expires_in_days": 30}),
            None,
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{:?}", made.body);
    assert_eq!(
        made.headers
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let secret = made.body["token"].as_str().unwrap_or("").to_string();
    assert!(secret.starts_with("bt_"));
    let id = made.body["id"].as_str().unwrap_or("").to_string();

    let script = Login {
        bearer: Some(secret.clone()),
        ..Login::default()
    };
    assert_eq!(s.get(&script, "/api/me").await.body["user"], "ana");
    let r = s.post(&script, "/api/requests", spec("tok01"), None).await;
    assert_eq!(
        r.status,
        StatusCode::CREATED,
        "a token needs no CSRF token: {:?}",
        r.body
    );

    let listed = s.get(&ana, "/api/me/tokens").await;
    assert_eq!(listed.body[0]["label"], "nightly export");
    assert!(
        !listed.body.to_string().contains(&secret[20..60]),
        "no secret in the list"
    );
    assert!(listed.body[0].get("hash").is_none());

    // Someone else cannot revoke it; its owner can.
    let bea = s.script("bea").await;
    let theirs = s
        .raw(
            &bea,
            Method::DELETE,
            &format!("/api/me/tokens/{id}"),
            None,
            None,
        )
        .await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
    assert_eq!(s.get(&script, "/api/me").await.status, StatusCode::OK);
    let gone = s
        .raw(
            &ana,
            Method::DELETE,
            &format!("/api/me/tokens/{id}"),
            None,
            None,
        )
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    let after = s.get(&script, "/api/me").await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
    assert_eq!(after.code(), "unauthenticated");

    // A forged token of the right shape is refused the same way.
    let forged = Login {
        bearer: Some(format!("bt_{}_{}_616e61", "0".repeat(12), "f".repeat(64))),
        ..Login::default()
    };
    assert_eq!(
        s.get(&forged, "/api/me").await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_users_tokens_stop_working() {
    let s = start(butler_server::HttpSettings::default()).await;
    let olga = s.script("olga").await;
    let made = s
        .post(&olga, "/api/me/tokens", json!({"label": "drills"}), None)
        .await;
    let script = Login {
        bearer: made.body["token"].as_str().map(str::to_string),
        ..Login::default()
    };
    assert_eq!(s.get(&script, "/api/groups").await.status, StatusCode::OK);
    let admin = s.script("admin").await;
    s.raw(
        &admin,
        Method::PATCH,
        "/api/users/olga",
        Some(json!({"disabled": true})),
        None,
    )
    .await;
    assert_eq!(
        s.get(&script, "/api/groups").await.status,
        StatusCode::UNAUTHORIZED
    );
    let bad = s
        .post(
            &admin,
            "/api/me/tokens",
            json!({"label": "x", "expires_in_days": 0}),
            None,
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
}
