//! Approval rules over HTTP: an Admin puts a book (TOML), a refused book
//! names its rule and changes nothing, a requester's dry run says what a
//! draft and a form will need, and a submit is decided by the rules.

mod common;

use common::{spec, start};
use reqwest::StatusCode;
use serde_json::Value;

const RULES: &str = r#"
[[rule]]
name = "small VMs"
when = { vcpus = { max = 2 } }
outcome = "approve"

[[rule]]
name = "big VMs"
when = { vcpus = { min = 8 } }
outcome = "require"
levels = [{ role = "approver" }, { role = "admin" }]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_puts_rules_a_requester_dry_runs_and_a_submit_is_decided() {
    let s = start(butler_server::HttpSettings::default()).await;
    let admin = s.script("admin").await;
    let ana = s.script("ana").await;

    let none = s.get(&ana, "/api/rules").await;
    assert_eq!(none.status, StatusCode::OK);
    assert_eq!(none.body["version"], 0);

    // Only an Admin; a book with a typo names the rule, the rules stay.
    assert_eq!(s.put_rules(&ana, RULES).await.0, StatusCode::FORBIDDEN);
    let typo =
        "[[rule]]\nname = \"dev\"\nwhen = { environments = [\"DEVV\"] }\noutcome = \"approve\"\n";
    let (status, body) = s.put_rules(&admin, typo).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap_or("")
            .contains("rule 1 (\"dev\"): environments: no \"DEVV\" in the catalog"),
        "{body}"
    );
    let (status, body) = s
        .put_rules(&admin, "[[rule]]\nname = \"x\"\noutcome = \"maybe\"\n")
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(s.get(&ana, "/api/rules").await.body["version"], 0);

    let (status, book) = s.put_rules(&admin, RULES).await;
    assert_eq!(status, StatusCode::OK, "{book}");
    assert_eq!(book["version"], 1);
    assert_eq!(book["changed_by"], "admin");
    assert_eq!(book["rules"][1]["levels"][1]["role"], "admin");
    let trail = s.get(&ana, "/api/rules/history").await;
    assert_eq!(trail.body.as_array().map(Vec::len), Some(1));

    // The form's dry run: a big VM needs two levels, by rule.
    let mut big = spec("big01");
    big["sockets"] = 8.into();
    let form = s.post(&ana, "/api/requests/decision", big, None).await;
    assert_eq!(form.status, StatusCode::OK, "{:?}", form.body);
    assert_eq!(form.body["decision"]["rules"][0], "big VMs");
    assert_eq!(form.body["decision"]["outcome"]["outcome"], "require");

    // A draft's dry run, then its submit: approved by rule, no approver.
    let draft = s.post(&ana, "/api/requests", spec("small01"), None).await;
    assert_eq!(draft.status, StatusCode::CREATED, "{:?}", draft.body);
    let id = draft.body["id"].as_u64().unwrap();
    let why = s.get(&ana, &format!("/api/requests/{id}/decision")).await;
    assert_eq!(why.status, StatusCode::OK, "{:?}", why.body);
    assert_eq!(why.body["decision"]["outcome"]["outcome"], "approve");
    assert_eq!(
        why.body["rules"][0]["conditions"][0]["condition"],
        "vcpus ≤ 2"
    );
    let submitted = s
        .post(
            &ana,
            &format!("/api/requests/{id}/submit"),
            Value::Null,
            Some(&draft.etag()),
        )
        .await;
    assert_eq!(submitted.status, StatusCode::OK, "{:?}", submitted.body);
    assert_eq!(submitted.body["state"], "approved");
    let history = submitted.body["history"].as_array().unwrap();
    assert_eq!(
        history.last().unwrap()["note"],
        "approved automatically by rule \"small VMs\" (rules v1)"
    );

    // A big VM waits for two levels: bea's queue holds it until she has
    // approved level 1; the request stays requested.
    let mut big = spec("big02");
    big["sockets"] = 8.into();
    let draft = s.post(&ana, "/api/requests", big, None).await;
    let id = draft.body["id"].as_u64().unwrap();
    let submitted = s
        .post(
            &ana,
            &format!("/api/requests/{id}/submit"),
            Value::Null,
            Some(&draft.etag()),
        )
        .await;
    assert_eq!(submitted.body["approval"]["levels"][1]["role"], "admin");
    let bea = s.script("bea").await;
    let queue = s.get(&bea, "/api/requests/queue").await;
    assert_eq!(queue.status, StatusCode::OK, "{:?}", queue.body);
    let ids: Vec<u64> = queue
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["id"].as_u64())
        .collect();
    assert_eq!(ids, vec![id]);
    assert_eq!(
        s.get(&ana, "/api/requests/queue").await.body,
        serde_json::json!([])
    );
    let level1 = s
        .post(
            &bea,
            &format!("/api/requests/{id}/approve"),
            Value::Null,
            Some(&submitted.etag()),
        )
        .await;
    assert_eq!(level1.status, StatusCode::OK, "{:?}", level1.body);
    assert_eq!(level1.body["state"], "requested");
    assert_eq!(
        level1.body["approval"]["approved_by"],
        serde_json::json!(["bea"])
    );
    assert_eq!(
        s.get(&bea, "/api/requests/queue").await.body,
        serde_json::json!([])
    );
    let again = s
        .post(
            &bea,
            &format!("/api/requests/{id}/approve"),
            Value::Null,
            Some(&level1.etag()),
        )
        .await;
    assert_eq!(again.status, StatusCode::FORBIDDEN, "{:?}", again.body);
    assert_eq!(again.body["reason"], "approved_already", "{:?}", again.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_edits_rules_checked_first_and_shows_each_approver_their_queue() {
    let s = start(butler_server::HttpSettings::default()).await;
    let admin = s.browser("admin").await;
    let page = s.page(&admin, "/admin/rules").await;
    assert!(page.contains("id=\"rules-toml\""), "{page}");
    assert!(page.contains("id=\"rules-version\""), "{page}");

    // A typo: refused with the library's reason, the text kept to fix.
    let typo =
        "[[rule]]\nname = \"dev\"\nwhen = { environments = [\"DEVV\"] }\noutcome = \"approve\"\n";
    let (status, page) = s
        .console_post(&admin, "/admin/rules", &[("toml", typo)])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.contains("environments: no &#34;DEVV&#34; in the catalog"),
        "{page}"
    );
    assert!(
        page.contains("DEVV"),
        "the refused text stays in the editor"
    );
    assert_eq!(
        s.get(&s.script("ana").await, "/api/rules").await.body["version"],
        0
    );

    let (status, page) = s
        .console_post(&admin, "/admin/rules", &[("toml", RULES)])
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.contains("big VMs"),
        "the saved rules are in the editor: {page}"
    );
    assert_eq!(
        s.get(&s.script("ana").await, "/api/rules").await.body["version"],
        1
    );
    // The editor's own text saves again unchanged (it round-trips).
    let start = page.find("id=\"rules-toml\"").unwrap();
    let shown = &page[page[start..].find('>').unwrap() + start + 1..];
    let shown = &shown[..shown.find("</textarea>").unwrap()];
    let shown = shown
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    let (status, _) = s
        .console_post(&admin, "/admin/rules", &[("toml", &shown)])
        .await;
    assert_eq!(status, StatusCode::OK);
    let book = s.get(&s.script("ana").await, "/api/rules").await.body;
    assert_eq!(book["version"], 2);
    assert_eq!(book["rules"][1]["levels"][1]["role"], "admin");

    // Ana sees the rules but no editor and no queue; bea's queue holds
    // what waits for her.
    let ana = s.browser("ana").await;
    let page = s.page(&ana, "/admin/rules").await;
    assert!(page.contains("id=\"rules-text\"") && !page.contains("id=\"rules-toml\""));
    assert!(!page.contains("href=\"/queue\""));
    let api = s.script("ana").await;
    let mut big = spec("big04");
    big["sockets"] = 8.into();
    let draft = s.post(&api, "/api/requests", big, None).await;
    let id = draft.body["id"].as_u64().unwrap();
    s.post(
        &api,
        &format!("/api/requests/{id}/submit"),
        Value::Null,
        Some(&draft.etag()),
    )
    .await;
    let bea = s.browser("bea").await;
    let queue = s.page(&bea, "/queue").await;
    assert!(
        queue.contains(&format!("href=\"/requests/{id}\"")),
        "{queue}"
    );
    assert!(queue.contains("1 / 2 · approver"), "{queue}");
    let (status, page) = s.console_post(&ana, "/admin/rules", &[("toml", "")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
}
