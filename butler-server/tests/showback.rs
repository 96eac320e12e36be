//! Showback over HTTP: a VM provisioned through the API is priced in the
//! month it was made (JSON and CSV), seen by an approver and its owner,
//! not by another requester; bad months answer 422; an Admin closes a
//! month that has ended, once; a closed month's lines by page.

mod common;

use common::{spec, start, wait_for_state};
use reqwest::StatusCode;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vm_is_priced_closed_months_are_kept() {
    let s = start(butler_server::HttpSettings::default()).await;
    let (admin, ana, bea) = (
        s.script("admin").await,
        s.script("ana").await,
        s.script("bea").await,
    );
    let made = s.post(&ana, "/api/requests", spec("sb01"), None).await;
    let id = made.body["id"].as_u64().unwrap();
    let sent = s
        .post(
            &ana,
            &format!("/api/requests/{id}/submit"),
            Value::Null,
            Some(&made.etag()),
        )
        .await;
    let ok = s
        .post(
            &bea,
            &format!("/api/requests/{id}/approve"),
            json!(null),
            Some(&sent.etag()),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{:?}", ok.body);
    let done = wait_for_state(&s, &bea, id, "completed").await;
    let vms = s.get(&ana, "/api/vms").await;
    let vm = vms.body["items"][0].clone();
    let month = vm["created_at"].as_str().unwrap()[..7].to_string();
    let name = vm["name"].as_str().unwrap().to_string();

    let r = s.get(&bea, &format!("/api/showback?from={month}")).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let line = r.body["vms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == name.as_str())
        .cloned()
        .unwrap_or_else(|| panic!("{name} in {:?}", r.body));
    assert_eq!(line["owner"], "ana");
    assert_eq!(line["request"], id);
    assert_eq!(line["months"][0]["month"], month.as_str());
    assert_eq!(line["months"][0]["estimate"], done["estimate"]["total"]);
    assert!(line["months"][0]["days"].as_u64().unwrap() >= 1);
    assert_eq!(r.body["currency"], "UF");
    // Ana sees hers; olga (an operator, who owns none) nothing of it.
    let hers = s
        .get(&ana, &format!("/api/showback?from={month}&to={month}"))
        .await;
    assert!(hers.body["vms"]
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v["name"] == name.as_str()));
    let olga = s.script("olga").await;
    let none = s.get(&olga, &format!("/api/showback?from={month}")).await;
    assert_eq!(none.status, StatusCode::OK, "{:?}", none.body);
    assert_eq!(none.body["vms"], json!([]));

    // CSV: a header and the VM's line, its name quoted.
    let csv = s
        .http
        .get(format!("{}/api/showback.csv?from={month}", s.base))
        .bearer_auth(bea.bearer.as_deref().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), StatusCode::OK);
    assert!(csv.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let text = csv.text().await.unwrap();
    assert!(text.starts_with("month,vm,name,owner,"), "{text}");
    assert!(text.contains(&format!(",\"{name}\",\"ana\",")), "{text}");

    // The workbook, headed in Spanish for a Spanish reader.
    let xlsx = s
        .http
        .get(format!("{}/api/showback.xlsx?from={month}", s.base))
        .bearer_auth(bea.bearer.as_deref().unwrap())
        .header("accept-language", "es-CL,es;q=0.9")
        .send()
        .await
        .unwrap();
    assert_eq!(xlsx.status(), StatusCode::OK);
    let bytes = xlsx.bytes().await.unwrap();
    assert_eq!(&bytes[..2], b"PK", "a zip container");
    {
        use calamine::{Reader, Xlsx};
        let mut wb: Xlsx<_> = Xlsx::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
        let sheet = wb.worksheet_range("Costo real").unwrap();
        assert_eq!(sheet.rows().next().unwrap()[0].to_string(), "Mes");
        assert!(sheet.rows().any(|r| r[2].to_string() == name));
    }

    // Bad months.
    for q in [
        "from=2026-13",
        "from=26-01",
        &format!("from={month}&to=2000-01"),
        "to=2026-01",
    ] {
        let bad = s.get(&bea, &format!("/api/showback?{q}")).await;
        assert!(
            matches!(
                bad.status,
                StatusCode::UNPROCESSABLE_ENTITY | StatusCode::BAD_REQUEST
            ),
            "{q}: {:?}",
            bad.body
        );
    }

    // Closing: an Admin's, a month that has ended, once.
    let listed = s.get(&ana, "/api/showback/months").await;
    assert_eq!(listed.status, StatusCode::FORBIDDEN, "{:?}", listed.body);
    let now = s
        .post(
            &admin,
            &format!("/api/showback/months/{month}/close"),
            Value::Null,
            None,
        )
        .await;
    assert_eq!(
        now.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{:?}",
        now.body
    );
    assert!(
        now.body["detail"]
            .as_str()
            .unwrap()
            .contains("has not ended"),
        "{:?}",
        now.body
    );
    let earlier = "2020-01";
    let by_ana = s
        .post(
            &ana,
            &format!("/api/showback/months/{earlier}/close"),
            Value::Null,
            None,
        )
        .await;
    assert_eq!(by_ana.status, StatusCode::FORBIDDEN);
    let closed = s
        .post(
            &admin,
            &format!("/api/showback/months/{earlier}/close"),
            Value::Null,
            None,
        )
        .await;
    assert_eq!(closed.status, StatusCode::OK, "{:?}", closed.body);
    assert_eq!(closed.body["closed_by"], "admin");
    let again = s
        .post(
            &admin,
            &format!("/api/showback/months/{earlier}/close"),
            Value::Null,
            None,
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{:?}", again.body);
    let months = s.get(&bea, "/api/showback/months").await;
    assert_eq!(months.body[0]["month"], earlier, "{:?}", months.body);
    let page = s
        .get(
            &bea,
            &format!("/api/showback/months/{earlier}/lines?limit=10"),
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{:?}", page.body);
    assert_eq!(page.body["closed"]["month"], earlier);
    assert!(page.body["lines"].as_array().unwrap().is_empty());
    let open = s
        .get(&ana, &format!("/api/showback/months/{month}/lines"))
        .await;
    assert!(open.body["closed"].is_null());
    assert!(open.body["lines"]
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v["name"] == name.as_str()));

    // Beside what the simulator's billing ledger charged: the VM's line
    // on both sides; an approver's, not a requester's.
    let billed = s
        .get(&bea, &format!("/api/showback/months/{month}/billed"))
        .await;
    assert_eq!(billed.status, StatusCode::OK, "{:?}", billed.body);
    let mine = billed.body["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["vm_name"] == name.as_str())
        .cloned()
        .unwrap_or_else(|| panic!("{:?}", billed.body));
    assert!(
        mine["butler"].is_string() && mine["billed"].is_string(),
        "{mine:?}"
    );
    assert_eq!(billed.body["tolerance"], "0.01");
    let denied = s
        .get(&ana, &format!("/api/showback/months/{month}/billed"))
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    let bad = s
        .get(
            &bea,
            &format!("/api/showback/months/{month}/billed?tolerance=lots"),
        )
        .await;
    assert_eq!(
        bad.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{:?}",
        bad.body
    );

    // The console: a chart described for screen readers, the figures in
    // the page's language, the close form for an Admin only.
    let bea_web = s.browser("bea").await;
    let html = s.page(&bea_web, &format!("/showback?from={month}")).await;
    assert!(
        html.contains(
            r#"<svg id="showback-chart" role="img" aria-labelledby="chart-title chart-desc""#
        ),
        "{html}"
    );
    assert!(html.contains(&name), "{html}");
    let actual: rust_decimal::Decimal = line["months"][0]["actual"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let spanish = format!("{:.2}", actual.round_dp(2)).replace('.', ",");
    assert!(html.contains(&spanish), "{spanish} in {html}");
    assert!(
        !html.contains(r#"id="showback-close""#),
        "an approver may not close months"
    );
    let admin_web = s.browser("admin").await;
    let html = s.page(&admin_web, "/showback").await;
    assert!(html.contains(r#"id="showback-close""#), "{html}");
    let (status, _) = s
        .console_post(&admin_web, "/showback/close", &[("month", "2020-02")])
        .await;
    assert!(status.is_redirection() || status.is_success(), "{status}");
    let html = s.page(&admin_web, "/showback?from=2020-02").await;
    assert!(
        html.contains(r#"id="showback-closed""#) && html.contains("2020-02"),
        "{html}"
    );
    let (status, html) = s
        .console_post(&admin_web, "/showback/close", &[("month", "2020-13")])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    let ana_web = s.browser("ana").await;
    let (status, _) = s
        .console_post(&ana_web, "/showback/close", &[("month", "2020-03")])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
