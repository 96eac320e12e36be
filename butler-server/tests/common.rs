//! A real server on a loopback port and a plain HTTP client that handles
//! cookies, CSRF tokens and ETags by hand, so the tests see the wire.

#![allow(dead_code)]

use butler_server::{setup, HttpSettings, Server};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::sync::Arc;

pub struct TestServer {
    pub base: String,
    pub http: reqwest::Client,
    pub state: butler_server::AppState,
    pub passwords: std::collections::HashMap<String, String>,
    _task: tokio::task::JoinHandle<()>,
}

/// How a test client is logged in.
#[derive(Clone, Default)]
pub struct Login {
    pub cookie: Option<String>,
    pub csrf: Option<String>,
    pub bearer: Option<String>,
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn etag(&self) -> String {
        self.headers
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    }

    pub fn content_type(&self) -> String {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    }

    /// The problem code, asserting the answer is a problem document.
    pub fn code(&self) -> String {
        assert_eq!(
            self.content_type(),
            "application/problem+json",
            "{:?}",
            self.body
        );
        self.body["code"].as_str().unwrap_or("").to_string()
    }
}

pub async fn start(settings: HttpSettings) -> TestServer {
    let butler = setup::demo_builder(butler::Butler::builder())
        .build()
        .expect("the demo builds");
    start_with(butler, settings).await
}

/// A server around `butler` (a demo build), with the demo users.
pub async fn start_with(butler: butler::Butler, settings: HttpSettings) -> TestServer {
    start_server(butler, |s| s, settings).await
}

/// As [`start_with`], the server changed by `adjust` before it serves.
pub async fn start_server(
    butler: butler::Butler,
    adjust: impl FnOnce(Server) -> Server,
    settings: HttpSettings,
) -> TestServer {
    let logins = setup::demo_users(&butler).await.expect("demo users");
    let passwords = logins.into_iter().map(|l| (l.user, l.password)).collect();
    serve(butler, adjust, settings, passwords).await
}

/// A server around `butler` whose users exist already (`passwords`).
pub async fn serve(
    butler: butler::Butler,
    adjust: impl FnOnce(Server) -> Server,
    settings: HttpSettings,
    passwords: std::collections::HashMap<String, String>,
) -> TestServer {
    let server = adjust(Server::new(butler, settings));
    let state = server.state().clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let task = tokio::spawn(async move {
        let _ = server.serve(listener, std::future::pending()).await;
    });
    TestServer {
        base,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        state,
        passwords,
        _task: task,
    }
}

impl TestServer {
    /// Makes a group `name` moving `vms` from Madrid to Santiago through
    /// the API as `who`, refreshes its facts and validates it; returns the
    /// group id and the validation's answer.
    pub async fn validated_group(&self, who: &Login, name: &str, vms: &[String]) -> (u64, Answer) {
        let g = self
            .post(who, "/api/groups", serde_json::json!({"name": name}), None)
            .await;
        assert_eq!(g.status, reqwest::StatusCode::CREATED, "{:?}", g.body);
        let gid = g.body["id"].as_u64().unwrap_or(0);
        let mut g = self
            .raw(
                who,
                reqwest::Method::PATCH,
                &format!("/api/groups/{gid}"),
                Some(serde_json::json!({"source": "c1-madrid", "destination": "c2-santiago"})),
                Some(&g.etag()),
            )
            .await;
        for vm in vms {
            g = self
                .post(
                    who,
                    &format!("/api/groups/{gid}/vms"),
                    serde_json::json!({"name": vm}),
                    Some(&g.etag()),
                )
                .await;
            assert_eq!(g.status, reqwest::StatusCode::OK, "{:?}", g.body);
        }
        let refresh = format!("/api/groups/{gid}/refresh");
        self.post(who, &refresh, serde_json::Value::Null, None)
            .await;
        let validate = format!("/api/groups/{gid}/validate");
        let v = self
            .post(who, &validate, serde_json::Value::Null, None)
            .await;
        (gid, v)
    }

    pub fn password(&self, user: &str) -> String {
        self.passwords.get(user).cloned().unwrap_or_default()
    }

    pub async fn raw(
        &self,
        login: &Login,
        method: Method,
        path: &str,
        body: Option<Value>,
        if_match: Option<&str>,
    ) -> Answer {
        let mut rq = self.http.request(method, format!("{}{path}", self.base));
        if let Some(c) = &login.cookie {
            rq = rq.header("cookie", format!("butler_session={c}"));
        }
        if let Some(t) = &login.csrf {
            rq = rq.header("x-csrf-token", t);
        }
        if let Some(b) = &login.bearer {
            rq = rq.header("authorization", format!("Bearer {b}"));
        }
        if let Some(v) = if_match {
            rq = rq.header("if-match", v);
        }
        if let Some(b) = body {
            rq = rq.json(&b);
        }
        let res = rq.send().await.expect("the server answers");
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.bytes().await.expect("a body");
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, login: &Login, path: &str) -> Answer {
        self.raw(login, Method::GET, path, None, None).await
    }

    pub async fn post(
        &self,
        login: &Login,
        path: &str,
        body: Value,
        if_match: Option<&str>,
    ) -> Answer {
        self.raw(login, Method::POST, path, Some(body), if_match)
            .await
    }

    /// A console form posted by the browser session `login` (its CSRF token
    /// added): the status and the page.
    pub async fn console_post(
        &self,
        login: &Login,
        path: &str,
        fields: &[(&str, &str)],
    ) -> (reqwest::StatusCode, String) {
        self.console_post_in(login, None, path, fields).await
    }

    /// [`console_post`](Self::console_post) with the console's language
    /// cookie set to `lang` (`es`, `en`), as the language switch sets it.
    pub async fn console_post_in(
        &self,
        login: &Login,
        lang: Option<&str>,
        path: &str,
        fields: &[(&str, &str)],
    ) -> (reqwest::StatusCode, String) {
        let mut all = vec![("_csrf", login.csrf.as_deref().unwrap_or(""))];
        all.extend_from_slice(fields);
        let mut cookie = format!("butler_session={}", login.cookie.as_deref().unwrap_or(""));
        if let Some(l) = lang {
            cookie.push_str(&format!("; butler_lang={l}"));
        }
        let res = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", cookie)
            .form(&all)
            .send()
            .await
            .expect("the console answers");
        (res.status(), res.text().await.unwrap_or_default())
    }

    /// PUTs approval rules (TOML) as `who`: the status and the JSON body.
    pub async fn put_rules(&self, who: &Login, text: &str) -> (reqwest::StatusCode, Value) {
        let res = self
            .http
            .put(format!("{}/api/rules", self.base))
            .header(
                "authorization",
                format!("Bearer {}", who.bearer.as_deref().unwrap_or("")),
            )
            .header("content-type", "application/toml")
            .body(text.to_string())
            .send()
            .await
            .expect("the server answers");
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// The answer to a bearer login as `user` with `password`.
    pub async fn login(&self, user: &str, password: &str) -> Answer {
        let body = json!({"user": user, "password": password, "bearer": true});
        self.post(&Login::default(), "/api/login", body, None).await
    }

    /// A console page as the browser session `login` sees it (its HTML).
    pub async fn page(&self, login: &Login, path: &str) -> String {
        let cookie = format!("butler_session={}", login.cookie.as_deref().unwrap_or(""));
        self.http
            .get(format!("{}{path}", self.base))
            .header("cookie", cookie)
            .send()
            .await
            .expect("the console answers")
            .text()
            .await
            .unwrap_or_default()
    }

    /// Logs in with a cookie session (as a browser does).
    pub async fn browser(&self, user: &str) -> Login {
        let a = self
            .raw(
                &Login::default(),
                Method::POST,
                "/api/login",
                Some(json!({"user": user, "password": self.password(user)})),
                None,
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
        let set = a
            .headers
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let cookie = set
            .split(';')
            .next()
            .and_then(|kv| kv.strip_prefix("butler_session="))
            .map(str::to_string);
        Login {
            cookie,
            csrf: a.body["csrf_token"].as_str().map(str::to_string),
            bearer: None,
        }
    }

    /// Logs in with a bearer token (as a script does).
    pub async fn script(&self, user: &str) -> Login {
        let a = self
            .post(
                &Login::default(),
                "/api/login",
                json!({"user": user, "password": self.password(user), "bearer": true}),
                None,
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
        Login {
            bearer: a.body["token"].as_str().map(str::to_string),
            ..Login::default()
        }
    }

    pub fn sim(&self) -> &butler::sim::SimPlatform {
        self.state
            .butler()
            .simulator()
            .expect("the demo runs on the simulator")
    }
}

pub fn spec(name: &str) -> Value {
    serde_json::to_value(butler::demo::spec(name)).expect("a spec serialises")
}

pub type Shared = Arc<TestServer>;

/// The request once it is in `state` (read as `who`).
pub async fn wait_for_state(s: &TestServer, who: &Login, id: u64, state: &str) -> Value {
    // Provisioning on the real-time simulator takes milliseconds; the
    // bound only keeps a broken engine from hanging the test.
    for _ in 0..500 {
        let r = s.get(who, &format!("/api/requests/{id}")).await;
        if r.body["state"] == state {
            return r.body;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("request {id} never reached {state}");
}

/// The new-request form's fields for the demo catalog's VM `name`, with
/// `changes` in place of the defaults.
pub fn request_form<'a>(name: &'a str, changes: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut fields = vec![
        ("name", name),
        ("cores_per_socket", "2"),
        ("sockets", "1"),
        ("ram_gib", "4"),
        ("division", "CORP"),
        ("unit", "IT"),
        ("environment", "PRD"),
        ("disk_type", "SSD"),
        ("cluster", "c1-madrid"),
        ("disks_gib", "50"),
        ("nics", "vlan-10"),
    ];
    for (k, v) in changes {
        if let Some(f) = fields.iter_mut().find(|f| f.0 == *k) {
            f.1 = v;
        }
    }
    fields
}
