//! Hostile calls over HTTP: someone else's request, missing or forged
//! CSRF tokens, stale or missing If-Match, forged validation tokens,
//! oversize bodies, wrong content types, forged sessions, password
//! guessing. Each gets a problem document and changes nothing.

mod common;

use common::{spec, start, Login};
use reqwest::{Method, StatusCode};
use serde_json::json;

fn settings() -> butler_server::HttpSettings {
    butler_server::HttpSettings {
        body_limit: 64 * 1024,
        login_failures_per_user: 3,
        // Long, so a slow machine never outlasts a throttle mid-test.
        login_first_delay: chrono::Duration::minutes(10),
        ..butler_server::HttpSettings::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn someone_elses_request_is_not_found_and_not_changed() {
    let s = start(settings()).await;
    let admin = s.script("admin").await;
    let made = s
        .post(
            &admin,
            "/api/users",
            json!({"name": "carl", "roles": ["requester"], "password": "carl's long password"}),
            None,
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{:?}", made.body);
    assert!(made.body.get("password_hash").is_none() && !made.body.to_string().contains("argon2"));
    let ana = s.script("ana").await;
    let r = s.post(&ana, "/api/requests", spec("web01"), None).await;
    let id = r.body["id"].as_u64().unwrap_or(0);
    let carl = s
        .post(
            &Login::default(),
            "/api/login",
            json!({"user": "carl", "password": "carl's long password", "bearer": true}),
            None,
        )
        .await;
    let carl = Login {
        bearer: carl.body["token"].as_str().map(str::to_string),
        ..Login::default()
    };
    let read = s.get(&carl, &format!("/api/requests/{id}")).await;
    assert_eq!(read.status, StatusCode::NOT_FOUND);
    assert_eq!(read.code(), "not_found");
    let missing = s.get(&carl, "/api/requests/999999").await;
    // The same answer as for a request that does not exist (bar the number asked).
    assert_eq!(missing.status, read.status);
    assert_eq!(
        missing.body["detail"]
            .as_str()
            .map(|d| d.replace("999999", &id.to_string())),
        read.body["detail"].as_str().map(str::to_string),
        "existence must not leak"
    );
    let sub = s
        .post(
            &carl,
            &format!("/api/requests/{id}/submit"),
            json!(null),
            Some(&r.etag()),
        )
        .await;
    assert_eq!(sub.status, StatusCode::NOT_FOUND, "{:?}", sub.body);
    let list = s.get(&carl, "/api/requests?owner=ana").await;
    assert_eq!(list.body["total"], 0, "a requester lists only their own");
    let after = s.get(&ana, &format!("/api/requests/{id}")).await;
    assert_eq!(after.etag(), "\"1\"", "nothing changed");
    // A requester may not manage users; the library says which role is needed.
    let users = s.get(&carl, "/api/users").await;
    assert_eq!(users.status, StatusCode::FORBIDDEN);
    assert_eq!(users.body["reason"], "missing_role");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookie_sessions_need_their_csrf_token_on_writes() {
    let s = start(settings()).await;
    let ana = s.browser("ana").await;
    let r = s.post(&ana, "/api/requests", spec("web01"), None).await;
    assert_eq!(r.status, StatusCode::CREATED);
    let id = r.body["id"].as_u64().unwrap_or(0);
    let no_token = Login {
        csrf: None,
        ..ana.clone()
    };
    let forged = Login {
        csrf: Some("forged".into()),
        ..ana.clone()
    };
    for who in [&no_token, &forged] {
        let a = s
            .post(
                who,
                &format!("/api/requests/{id}/submit"),
                json!(null),
                Some(&r.etag()),
            )
            .await;
        assert_eq!(a.status, StatusCode::FORBIDDEN);
        assert_eq!(a.code(), "csrf");
        let c = s.post(who, "/api/requests", spec("web02"), None).await;
        assert_eq!(c.code(), "csrf");
    }
    // Reads need no token.
    assert_eq!(
        s.get(&no_token, &format!("/api/requests/{id}"))
            .await
            .etag(),
        "\"1\""
    );
    // Another session's token does not do either.
    let other = s.browser("ana").await;
    let mixed = Login {
        csrf: other.csrf.clone(),
        ..ana.clone()
    };
    let a = s.post(&mixed, "/api/requests", spec("web03"), None).await;
    assert_eq!(a.code(), "csrf");
    let page = s.get(&ana, "/api/requests").await;
    assert_eq!(page.body["total"], 1, "nothing was created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_need_the_version_read() {
    let s = start(settings()).await;
    let ana = s.script("ana").await;
    let r = s.post(&ana, "/api/requests", spec("web01"), None).await;
    let id = r.body["id"].as_u64().unwrap_or(0);
    let path = format!("/api/requests/{id}");
    let mut edited = spec("web01");
    edited["ram_gib"] = json!(8);
    let none = s
        .raw(&ana, Method::PUT, &path, Some(edited.clone()), None)
        .await;
    assert_eq!(none.status, StatusCode::PRECONDITION_REQUIRED);
    assert_eq!(none.code(), "if_match_required");
    let bad = s
        .raw(&ana, Method::PUT, &path, Some(edited.clone()), Some("*"))
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let ok = s
        .raw(
            &ana,
            Method::PUT,
            &path,
            Some(edited.clone()),
            Some("\"1\""),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{:?}", ok.body);
    assert_eq!(ok.etag(), "\"2\"");
    let stale = s
        .raw(&ana, Method::PUT, &path, Some(edited), Some("\"1\""))
        .await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(stale.code(), "stale_version");
    assert_eq!(stale.body["expected_version"], 1);
    assert_eq!(stale.body["found_version"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_validation_token_moves_nothing() {
    let s = start(settings()).await;
    let olga = s.script("olga").await;
    let vms = butler_server::setup::demo_fleet(s.state.butler());
    let (gid, v) = s.validated_group(&olga, "g", &vms[..1]).await;
    let token = v.body["token"].as_str().unwrap_or("").to_string();
    assert!(!token.is_empty());
    // Flip one character of the token, and try plain garbage.
    let mut forged: Vec<char> = token.chars().collect();
    let i = forged.len() / 2;
    forged[i] = if forged[i] == 'A' { 'B' } else { 'A' };
    let forged: String = forged.into_iter().collect();
    for t in [forged.as_str(), "garbage", ""] {
        let a = s.post(&olga, "/api/runs", json!({"token": t}), None).await;
        assert_eq!(a.status, StatusCode::CONFLICT, "{t:?}: {:?}", a.body);
        assert_eq!(a.code(), "validation_required");
    }
    let reports = s.get(&olga, &format!("/api/groups/{gid}/reports")).await;
    assert_eq!(reports.body, json!([]), "no run was started");
    assert_eq!(
        s.sim().vm(&vms[0]).map(|v| v.cluster),
        Some("c1-madrid".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_of_the_wrong_size_type_or_shape_are_refused() {
    let s = start(settings()).await;
    let ana = s.script("ana").await;
    let form = s
        .http
        .post(format!("{}/api/requests", s.base))
        .header(
            "authorization",
            format!("Bearer {}", ana.bearer.clone().unwrap_or_default()),
        )
        .header("content-type", "application/x-www-form-urlencoded")
        .body("name=web01")
        .send()
        .await
        .expect("answer");
    assert_eq!(form.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let broken = s
        .http
        .post(format!("{}/api/requests", s.base))
        .header(
            "authorization",
            format!("Bearer {}", ana.bearer.clone().unwrap_or_default()),
        )
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .expect("answer");
    assert_eq!(broken.status(), StatusCode::BAD_REQUEST);
    let mut extra = json!({"user": "ana", "password": "x", "admin": true});
    let a = s
        .post(&Login::default(), "/api/login", extra.take(), None)
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(a.code(), "bad_body");
    let q = s.get(&ana, "/api/requests?limit=20000").await;
    assert_eq!(q.code(), "limit");
    // What the OpenAPI document bounds, the server refuses: an empty
    // page, an offset or id past 64 bits, a state list with a blank.
    let q = s.get(&ana, "/api/requests?limit=0").await;
    assert_eq!(q.code(), "limit");
    for path in [
        "/api/requests?offset=9223372036854775808",
        "/api/vms?before=9223372036854775808",
        "/api/requests/9223372036854775808",
        "/api/requests?state=requested,",
    ] {
        let q = s.get(&ana, path).await;
        assert_eq!(q.status, StatusCode::BAD_REQUEST, "{path}: {:?}", q.body);
    }
    let q = s.get(&ana, "/api/requests?state=nonsense").await;
    assert_eq!(q.status, StatusCode::BAD_REQUEST);
    assert_eq!(s.get(&ana, "/api/requests").await.body["total"], 0);
    // Last: the server answers an oversized body before reading it all and
    // closes the connection, which a pooled client may not know yet when
    // it sends its next request (a spurious IncompleteMessage under load).
    let mut big = spec("web01");
    big["special_requirement"] = json!("x".repeat(100 * 1024));
    let a = s.post(&ana, "/api/requests", big, None).await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE, "{:?}", a.body);
    assert_eq!(a.code(), "body_too_large");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_cannot_be_forged_swapped_or_outlive_their_user() {
    let s = start(settings()).await;
    let anon = s.get(&Login::default(), "/api/me").await;
    assert_eq!(anon.status, StatusCode::UNAUTHORIZED);
    assert_eq!(anon.code(), "unauthenticated");
    let forged = Login {
        bearer: Some("A".repeat(43)),
        ..Login::default()
    };
    assert_eq!(
        s.get(&forged, "/api/me").await.status,
        StatusCode::UNAUTHORIZED
    );
    // A bearer token presented as a cookie, and a cookie id as a bearer token.
    let script = s.script("ana").await;
    let as_cookie = Login {
        cookie: script.bearer.clone(),
        ..Login::default()
    };
    assert_eq!(
        s.get(&as_cookie, "/api/me").await.status,
        StatusCode::UNAUTHORIZED
    );
    let browser = s.browser("ana").await;
    let as_bearer = Login {
        bearer: browser.cookie.clone(),
        ..Login::default()
    };
    assert_eq!(
        s.get(&as_bearer, "/api/me").await.status,
        StatusCode::UNAUTHORIZED
    );
    // Disabling a user ends their sessions at once.
    let admin = s.script("admin").await;
    let off = s
        .raw(
            &admin,
            Method::PATCH,
            "/api/users/ana",
            Some(json!({"disabled": true})),
            None,
        )
        .await;
    assert_eq!(off.status, StatusCode::OK, "{:?}", off.body);
    assert_eq!(
        s.get(&script, "/api/me").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        s.get(&browser, "/api/me").await.status,
        StatusCode::UNAUTHORIZED
    );
    // A role change takes effect on the next call of a live session.
    let bea = s.script("bea").await;
    let roles = s
        .raw(
            &admin,
            Method::PATCH,
            "/api/users/bea",
            Some(json!({"roles": ["requester"]})),
            None,
        )
        .await;
    assert_eq!(roles.status, StatusCode::OK);
    assert_eq!(
        s.get(&bea, "/api/me").await.body["roles"],
        json!(["requester"])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_guessing_is_slowed_and_names_do_not_leak() {
    let s = start(settings()).await;
    let try_login = |user: &'static str, pw: &'static str| {
        let s = &s;
        async move {
            s.post(
                &Login::default(),
                "/api/login",
                json!({"user": user, "password": pw}),
                None,
            )
            .await
        }
    };
    let wrong = try_login("ana", "wrong password!").await;
    let unknown = try_login("nobody", "wrong password!").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        wrong.body, unknown.body,
        "unknown users and wrong passwords look alike"
    );
    try_login("ana", "wrong password!").await;
    try_login("ana", "wrong password!").await;
    let limited = try_login("ana", "wrong password!").await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.code(), "too_many_attempts");
    assert!(limited.headers.get("retry-after").is_some());
    // Even the right password waits out this client's delay, so guessing
    // gains nothing (the user from elsewhere is not held back: see the
    // limiter's own test).
    let right = s
        .post(
            &Login::default(),
            "/api/login",
            json!({"user": "ana", "password": s.password("ana")}),
            None,
        )
        .await;
    assert_eq!(right.status, StatusCode::TOO_MANY_REQUESTS);
    // Other users are not locked out by it.
    assert!(s.script("bea").await.bearer.is_some());
    // No answer ever carries the password.
    assert!(!limited.body.to_string().contains("wrong password"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_form_without_the_version_read_is_refused_not_guessed() {
    let s = start(settings()).await;
    let ana = s.browser("ana").await;
    let r = s.post(&ana, "/api/requests", spec("web01"), None).await;
    let id = r.body["id"].as_u64().unwrap_or(0);
    let cookie = format!("butler_session={}", ana.cookie.clone().unwrap_or_default());
    let csrf = ana.csrf.clone().unwrap_or_default();
    for body in [format!("_csrf={csrf}"), format!("_csrf={csrf}&version=x")] {
        let res = s
            .http
            .post(format!("{}/requests/{id}/act/submit", s.base))
            .header("cookie", &cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .expect("answer");
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        assert!(res
            .text()
            .await
            .unwrap_or_default()
            .contains("reload the page"));
    }
    let after = s.get(&ana, &format!("/api/requests/{id}")).await;
    assert_eq!(after.body["state"], "created", "nothing changed");
}

/// Every answer says `nosniff`; answers with personal data (the API's and
/// the console's pages, errors included) are never cached, while the
/// console's static assets keep their own caching. The language switch
/// never redirects off the site.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_are_not_sniffed_not_cached_and_redirect_only_home() {
    let s = start(settings()).await;
    let ana = s.script("ana").await;
    let header = |r: &common::Answer, h: &str| {
        r.headers
            .get(h)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    for r in [
        s.get(&ana, "/api/me").await,
        s.get(&ana, "/api/requests").await,
        s.get(&ana, "/api/requests/999999").await,
        s.get(&Login::default(), "/api/me").await,
    ] {
        assert_eq!(header(&r, "x-content-type-options"), "nosniff");
        assert_eq!(header(&r, "cache-control"), "no-store", "{}", r.status);
    }
    let css = s.get(&Login::default(), "/assets/console.css").await;
    assert_eq!(header(&css, "x-content-type-options"), "nosniff");
    assert!(header(&css, "cache-control").starts_with("public"));
    for (referer, to) in [
        ("http://x/requests/3", "/requests/3"),
        ("http://x/\\evil.example", "/requests"),
        ("http://x//evil.example", "/requests"),
    ] {
        let res = s
            .http
            .get(format!("{}/lang/en", s.base))
            .header("referer", referer)
            .send()
            .await
            .expect("answers");
        let location = res
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        assert_eq!(location, to, "{referer}");
    }
}

/// Behind a trusted proxy the client is the address the proxy appended:
/// failed logins that each claim another address on the left of
/// `X-Forwarded-For` still count against the one client, while another
/// client behind the same proxy is not held back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spoofed_forwarded_addresses_share_the_real_clients_budget() {
    let s = start(butler_server::HttpSettings {
        trust_forwarded_for: true,
        login_failures_per_address: 5,
        login_failures_per_user: 100,
        login_first_delay: chrono::Duration::minutes(10),
        ..butler_server::HttpSettings::default()
    })
    .await;
    let login = |user: String, password: String, xff: String| {
        let s = &s;
        async move {
            s.http
                .post(format!("{}/api/login", s.base))
                .header("x-forwarded-for", xff)
                .json(&json!({"user": user, "password": password}))
                .send()
                .await
                .expect("answers")
                .status()
        }
    };
    let mut statuses = Vec::new();
    for i in 0..8 {
        let xff = format!("10.9.9.{i}, 198.51.100.7");
        statuses.push(login(format!("guess{i}"), "wrong password!".into(), xff).await);
    }
    assert_eq!(
        statuses.last(),
        Some(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    let other = login(
        "ana".into(),
        s.password("ana"),
        "10.9.9.1, 198.51.100.8".into(),
    )
    .await;
    assert_eq!(other, StatusCode::OK);
}

/// Login CSRF: the console's login form carries a token that must match
/// its `SameSite=Strict` cookie; a form posted from another site (no
/// cookie, or no token) signs nobody in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_login_form_refuses_a_post_from_another_site() {
    let s = start(settings()).await;
    let post = |body: String, cookie: Option<String>| {
        let s = &s;
        async move {
            let mut rq = s
                .http
                .post(format!("{}/login", s.base))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body);
            if let Some(c) = cookie {
                rq = rq.header("cookie", c);
            }
            rq.send().await.expect("answers")
        }
    };
    let creds = format!("user=ana&password={}", s.password("ana"));
    let session = |r: &reqwest::Response| {
        r.headers().get_all("set-cookie").iter().any(|v| {
            v.to_str().unwrap_or("").starts_with("butler_session=")
                && !v.to_str().unwrap_or("").starts_with("butler_session=;")
        })
    };
    let forged = post(creds.clone(), None).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert!(!session(&forged), "signed in without the form's token");
    let guessed = post(
        format!("{creds}&_csrf=abc"),
        Some("butler_login_form=abc2".into()),
    )
    .await;
    assert_eq!(guessed.status(), StatusCode::FORBIDDEN);
    // The site's own form: the page's token and its cookie.
    let page = s
        .http
        .get(format!("{}/login", s.base))
        .send()
        .await
        .expect("answers");
    let cookie = page
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert!(
        cookie.contains("SameSite=Strict") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap_or("").to_string();
    let token = pair.split('=').nth(1).unwrap_or("").to_string();
    let html = page.text().await.unwrap_or_default();
    assert!(
        html.contains(&format!("name=\"_csrf\" value=\"{token}\"")),
        "{html}"
    );
    let ok = post(format!("{creds}&_csrf={token}"), Some(pair)).await;
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
    assert!(session(&ok));
}

/// Slow clients: a connection that never finishes its request headers is
/// closed after the header deadline; past the connection cap the server
/// answers 503 at once (a problem document) instead of holding on, and
/// takes calls again as soon as connections close.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_surplus_connections_are_closed_not_kept() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let slow = start(butler_server::HttpSettings {
        header_read_timeout: std::time::Duration::from_secs(1),
        ..settings()
    })
    .await;
    let addr = slow.base.trim_start_matches("http://").to_string();
    let mut c = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connects");
    c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("writes");
    let mut got = Vec::new();
    // The bound only keeps a broken server from hanging the test.
    let read =
        tokio::time::timeout(std::time::Duration::from_secs(20), c.read_to_end(&mut got)).await;
    assert!(read.is_ok(), "a half-sent request was kept open");
    assert!(!String::from_utf8_lossy(&got).contains("200 OK"));

    let capped = start(butler_server::HttpSettings {
        max_connections: 3,
        header_read_timeout: std::time::Duration::from_secs(120),
        ..settings()
    })
    .await;
    let addr = capped.base.trim_start_matches("http://").to_string();
    let mut idle = Vec::new();
    for _ in 0..3 {
        idle.push(
            tokio::net::TcpStream::connect(&addr)
                .await
                .expect("connects"),
        );
    }
    let busy = capped.get(&Login::default(), "/healthz").await;
    assert_eq!(busy.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(busy.code(), "busy");
    drop(idle);
    let mut status = busy.status;
    for _ in 0..200 {
        status = capped.get(&Login::default(), "/healthz").await.status;
        if status == StatusCode::OK {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(status, StatusCode::OK, "calls are taken again");
}
