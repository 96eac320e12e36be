//! The OpenAPI document and the routes are one list: every documented
//! operation is served (without a session it answers 401, never 404 or
//! 405), and the document is valid enough for generators.

mod common;

use reqwest::{Method, StatusCode};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_operation_is_routed() {
    let s = common::start(butler_server::HttpSettings::default()).await;
    let doc: Value = s
        .http
        .get(format!("{}/openapi.json", s.base))
        .send()
        .await
        .expect("served")
        .json()
        .await
        .expect("JSON");
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    let paths = doc["paths"].as_object().cloned().unwrap_or_default();
    assert!(paths.len() >= 30, "only {} paths documented", paths.len());
    let mut checked = 0;
    for (path, item) in &paths {
        let concrete = path
            .split('/')
            .map(|seg| if seg.starts_with('{') { "1" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        for (method, op) in item.as_object().into_iter().flatten() {
            let Ok(m) = Method::from_bytes(method.to_uppercase().as_bytes()) else {
                continue;
            };
            assert!(
                op["responses"].as_object().is_some_and(|r| !r.is_empty()),
                "{method} {path}"
            );
            // What any operation may answer is documented, errors as
            // problem documents (schemathesis checks the answers).
            for status in ["400", "401", "403", "429", "503"] {
                assert!(
                    op["responses"].get(status).is_some(),
                    "{method} {path} does not document {status}"
                );
            }
            for (status, r) in op["responses"].as_object().into_iter().flatten() {
                if status.starts_with('4') || status.starts_with('5') {
                    assert!(
                        r["content"].get("application/problem+json").is_some(),
                        "{method} {path} {status} is not a problem document"
                    );
                }
            }
            for p in op["parameters"].as_array().into_iter().flatten() {
                if p["name"] == "If-Match" {
                    assert_eq!(
                        p["schema"]["pattern"], "^(W/)?\"[0-9]{1,19}\"$",
                        "{method} {path}"
                    );
                }
                if p["in"] == "path" && p["schema"]["type"] == "integer" {
                    assert_eq!(p["schema"]["maximum"], i64::MAX, "{method} {path}");
                }
                assert!(
                    p["in"] != "path"
                        || path.contains(&format!("{{{}}}", p["name"].as_str().unwrap_or(""))),
                    "{method} {path}: {} is no path parameter",
                    p["name"]
                );
            }
            let res = s
                .http
                .request(m.clone(), format!("{}{concrete}", s.base))
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .await
                .expect("answer");
            let st = res.status();
            assert!(
                st != StatusCode::NOT_FOUND && st != StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path} is documented but answers {st}"
            );
            if path != "/api/login" {
                assert_eq!(
                    st,
                    StatusCode::UNAUTHORIZED,
                    "{method} {path} without a session"
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 40, "{checked} operations");
    let unknown = s
        .http
        .get(format!("{}/api/nothing-here", s.base))
        .send()
        .await
        .expect("answer");
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}
