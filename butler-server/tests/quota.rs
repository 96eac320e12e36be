//! Quotas over HTTP: an Admin puts a quota with the rules (TOML), the
//! form and a draft preview what a request would leave, a submit past the
//! quota answers 409 `quota_exceeded` with the scope and figures and
//! changes nothing, the quota page lists usage, a recount is an Admin's.

mod common;

use common::{spec, start};
use reqwest::StatusCode;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quota_is_previewed_enforced_and_listed() {
    let s = start(butler_server::HttpSettings::default()).await;
    let admin = s.script("admin").await;
    let ana = s.script("ana").await;
    let bea = s.script("bea").await;

    let (status, book) = s
        .put_rules(&admin, "[[quota]]\nrequester = \"*\"\nvms = 1\nvcpus = 4\n")
        .await;
    assert_eq!(status, StatusCode::OK, "{book}");
    assert_eq!(book["quotas"][0]["requester"], "*", "{book}");

    // The form's preview: the requester's line, 1 VM of 1 left after.
    let form = s.post(&ana, "/api/requests/quota", spec("q01"), None).await;
    assert_eq!(form.status, StatusCode::OK, "{:?}", form.body);
    let mine = form.body["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["scope"]["kind"] == "requester")
        .cloned()
        .unwrap();
    assert_eq!(mine["scope"]["name"], "ana");
    assert_eq!(mine["limits"]["vms"], 1);
    assert_eq!(mine["used"]["vms"], 0);
    assert_eq!(mine["with_request"]["vms"], 1);

    let submit = |id: u64, etag: String| {
        let (s, ana) = (&s, &ana);
        async move {
            s.post(
                ana,
                &format!("/api/requests/{id}/submit"),
                Value::Null,
                Some(&etag),
            )
            .await
        }
    };
    let first = s.post(&ana, "/api/requests", spec("q01"), None).await;
    let id1 = first.body["id"].as_u64().unwrap();
    let ok = submit(id1, first.etag()).await;
    assert_eq!(ok.status, StatusCode::OK, "{:?}", ok.body);

    // The second is over ana's quota: 409 with the figures; still a draft.
    let second = s.post(&ana, "/api/requests", spec("q02"), None).await;
    let id2 = second.body["id"].as_u64().unwrap();
    let preview = s.get(&ana, &format!("/api/requests/{id2}/quota")).await;
    assert_eq!(preview.status, StatusCode::OK, "{:?}", preview.body);
    let refused = submit(id2, second.etag()).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{:?}", refused.body);
    assert_eq!(refused.body["code"], "quota_exceeded");
    assert_eq!(refused.body["quota"]["scope"]["kind"], "requester");
    assert_eq!(refused.body["quota"]["dimension"], "vms");
    assert_eq!(refused.body["quota"]["limit"], "1");
    assert_eq!(refused.body["quota"]["would_use"], "2");
    let still = s.get(&ana, &format!("/api/requests/{id2}")).await;
    assert_eq!(still.body["state"], "created");

    // The quota page: ana sees her own line, bea (an approver) everyone's.
    let page = s.get(&ana, "/api/quotas").await;
    assert_eq!(page.status, StatusCode::OK, "{:?}", page.body);
    let requesters = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .filter(|l| l["scope"]["kind"] == "requester")
            .map(|l| l["scope"]["name"].as_str().unwrap_or("").to_string())
            .collect()
    };
    assert_eq!(requesters(&page.body), vec!["ana".to_string()]);
    let unit = page
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["scope"]["kind"] == "unit")
        .cloned()
        .unwrap();
    assert_eq!(unit["used"]["vms"], 1);
    assert!(requesters(&s.get(&bea, "/api/quotas").await.body).contains(&"ana".to_string()));

    // The console: the draft's page shows what it would leave, the quota
    // page ana's line with its bars.
    let browser = s.browser("ana").await;
    let draft = s.page(&browser, &format!("/requests/{id2}")).await;
    assert!(draft.contains("id=\"request-quota\""), "{draft}");
    assert!(draft.contains("VMs: 1 / 1"), "{draft}");
    let quotas = s.page(&browser, "/quotas").await;
    assert!(quotas.contains("<meter"), "{quotas}");
    // The new-request form's live estimate says what a VM would leave.
    let fields = common::request_form("q03", &[]);
    let (status, live) = s
        .console_post(&browser, "/requests/estimate", &fields)
        .await;
    assert_eq!(status, StatusCode::OK, "{live}");
    assert!(live.contains("id=\"form-quota\""), "{live}");
    assert!(
        live.contains("class=\"over\""),
        "one VM of one in use: {live}"
    );

    // A recount is an Admin's; it finds the one hold.
    let denied = s.post(&ana, "/api/quotas/recount", Value::Null, None).await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    let counted = s
        .post(&admin, "/api/quotas/recount", Value::Null, None)
        .await;
    assert_eq!(counted.status, StatusCode::OK, "{:?}", counted.body);
    assert_eq!(counted.body["holds"], 1);
}
