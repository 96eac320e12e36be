//! The quickstart story over HTTP with a real client: login, a request
//! with mistakes, the fix, review, approval, provisioning, export, and a
//! migration drill followed over server-sent events (with a reconnect).

mod common;

use common::{spec, start, wait_for_state, Login};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;

/// A console form posted with the session `cookie` (its answer as is).
async fn console_form(
    s: &common::TestServer,
    cookie: &str,
    path: &str,
    body: String,
) -> reqwest::Response {
    s.http
        .post(format!("{}{path}", s.base))
        .header("cookie", cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("the console answers")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quickstart_story_over_http() {
    let s = start(butler_server::HttpSettings::default()).await;

    // 1. Ana logs in from a browser: the cookie is HttpOnly, Secure,
    //    SameSite=Strict, and she gets a CSRF token for writes.
    let login = s
        .post(
            &Login::default(),
            "/api/login",
            json!({"user": "ana", "password": s.password("ana")}),
            None,
        )
        .await;
    let cookie = login
        .headers
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    for attr in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attr), "{attr} missing from {cookie}");
    }
    let ana = s.browser("ana").await;
    let me = s.get(&ana, "/api/me").await;
    assert_eq!(me.body["user"], "ana");
    assert_eq!(me.body["roles"], json!(["requester"]));

    // 2. Her first try has two mistakes: both come back at once.
    let mut bad = spec("web 01");
    bad["nics"] = json!(["vlan-30"]);
    let a = s.post(&ana, "/api/requests", bad, None).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(a.code(), "validation");
    let fields: Vec<&str> = a.body["problems"]
        .as_array()
        .map(|p| p.iter().filter_map(|x| x["field"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        fields.contains(&"name") && fields.iter().any(|f| f.starts_with("nics")),
        "{fields:?}"
    );

    // The estimate of the fixed draft, without storing anything.
    let est = s
        .post(&ana, "/api/requests/estimate", spec("web01"), None)
        .await;
    assert_eq!(est.status, StatusCode::OK, "{:?}", est.body);
    assert!(est.body["estimate"]["total"].is_string() || est.body["estimate"]["total"].is_number());

    // 3. Fixed: created as version 1, then submitted with If-Match.
    let mut leased = spec("web01");
    leased["lease_days"] = json!(365);
    let created = s.post(&ana, "/api/requests", leased, None).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert_eq!(created.etag(), "\"1\"");
    let id = created.body["id"].as_u64().unwrap_or(0);
    assert_eq!(
        created
            .headers
            .get("location")
            .and_then(|v| v.to_str().ok()),
        Some(format!("/api/requests/{id}").as_str())
    );
    let sub = s
        .post(
            &ana,
            &format!("/api/requests/{id}/submit"),
            json!(null),
            Some(&created.etag()),
        )
        .await;
    assert_eq!(sub.status, StatusCode::OK, "{:?}", sub.body);
    assert_eq!(sub.body["state"], "requested");

    // 4. Bea (a script with a bearer token) reviews with more RAM.
    let bea = s.script("bea").await;
    let cur = s.get(&bea, &format!("/api/requests/{id}")).await;
    let mut reviewed = cur.body["spec"].clone();
    reviewed["ram_gib"] = json!(8);
    let rev = s
        .post(
            &bea,
            &format!("/api/requests/{id}/review"),
            reviewed,
            Some(&cur.etag()),
        )
        .await;
    assert_eq!(rev.status, StatusCode::OK, "{:?}", rev.body);

    // 5. Ana may no longer cancel: the library says why.
    let no = s
        .post(
            &ana,
            &format!("/api/requests/{id}/cancel"),
            json!({}),
            Some(&rev.etag()),
        )
        .await;
    assert_eq!(no.status, StatusCode::FORBIDDEN, "{:?}", no.body);
    assert_eq!(no.code(), "denied");

    // 6. Bea approves; the engine provisions on its own.
    let ok = s
        .post(
            &bea,
            &format!("/api/requests/{id}/approve"),
            json!(null),
            Some(&rev.etag()),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{:?}", ok.body);
    let done = wait_for_state(&s, &bea, id, "completed").await;
    assert!(done["vm_uuid"].is_string());
    let history: Vec<&str> = done["history"]
        .as_array()
        .map(|h| h.iter().filter_map(|e| e["to"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(history.first().copied(), Some("created"));
    assert_eq!(history.last().copied(), Some("completed"));

    // 6b. Her VM is in her inventory: she shuts it down, and the second
    //     time nothing is asked of the platform. Bea sees it but may not
    //     power it; a change that does not exist is refused.
    let vms = s.get(&ana, "/api/vms").await;
    assert_eq!(vms.status, StatusCode::OK, "{:?}", vms.body);
    assert_eq!(vms.body["total"], 1, "{:?}", vms.body);
    assert_eq!(vms.body["items"][0]["request"], id);
    let vm_id = vms.body["items"][0]["id"].as_u64().unwrap_or(0);
    let power = format!("/api/vms/{vm_id}/power");
    let off = s
        .post(&ana, &power, json!({"change": "guest_shutdown"}), None)
        .await;
    assert_eq!(off.status, StatusCode::OK, "{:?}", off.body);
    assert_eq!(off.body, json!({"outcome": "done", "power": "off"}));
    let again = s
        .post(&ana, &power, json!({"change": "hard_off"}), None)
        .await;
    assert_eq!(again.body, json!({"outcome": "already", "power": "off"}));
    let denied = s.post(&bea, &power, json!({"change": "on"}), None).await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN, "{:?}", denied.body);
    let odd = s
        .post(&ana, &power, json!({"change": "explode"}), None)
        .await;
    assert!(odd.status.is_client_error(), "{:?}", odd.body);
    let vm = s.get(&bea, &format!("/api/vms/{vm_id}")).await;
    assert_eq!(vm.body["power"], "off");
    assert_eq!(vm.body["history"].as_array().map(Vec::len), Some(3));
    // 6c. The console's "My VMs" page lists it with its power, and its
    //     forms power it (CSRF checked); here off and on again.
    let cookie = format!("butler_session={}", ana.cookie.clone().unwrap_or_default());
    let csrf = ana.csrf.clone().unwrap_or_default();
    let console = |change: &'static str| {
        let (s, cookie, csrf) = (&s, cookie.clone(), csrf.clone());
        async move {
            let path = format!("/vms/{vm_id}/power");
            let res =
                console_form(s, &cookie, &path, format!("_csrf={csrf}&change={change}")).await;
            (res.status(), res.text().await.unwrap_or_default())
        }
    };
    let list = s.page(&ana, "/vms").await;
    assert!(
        list.contains("Mis VMs") && list.contains("web01") && list.contains("Apagada"),
        "{list}"
    );
    let (status, page) = console("guest_shutdown").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Ya estaba así"), "already off: {page}");
    let (status, page) = console("on").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("Hecho") && page.contains("Encendida"),
        "{page}"
    );
    let forged = console_form(
        &s,
        &cookie,
        &format!("/vms/{vm_id}/power"),
        "_csrf=forged&change=guest_shutdown".into(),
    )
    .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let vm = s.get(&bea, &format!("/api/vms/{vm_id}")).await;
    assert_eq!(vm.body["power"], "on", "the forged form changed nothing");
    assert!(history.contains(&"reviewed"), "{history:?}");

    // 7. Bea exports the list as a workbook.
    let xlsx = s
        .http
        .get(format!(
            "{}/api/requests/export.xlsx?state=completed",
            s.base
        ))
        .header(
            "authorization",
            format!("Bearer {}", bea.bearer.clone().unwrap_or_default()),
        )
        .send()
        .await
        .expect("export");
    assert_eq!(xlsx.status(), StatusCode::OK);
    assert!(xlsx
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.contains("spreadsheetml")));
    let bytes = xlsx.bytes().await.expect("workbook");
    assert!(bytes.starts_with(b"PK"), "an xlsx is a zip");

    // 8. Olga drills a migration of the new VM to Santiago.
    let olga = s.script("olga").await;
    let vm = format!("web01-r{id}");
    let g = s
        .post(&olga, "/api/groups", json!({"name": "dr-drill"}), None)
        .await;
    assert_eq!(g.status, StatusCode::CREATED, "{:?}", g.body);
    let gid = g.body["id"].as_u64().unwrap_or(0);
    let g = s
        .raw(
            &olga,
            Method::PATCH,
            &format!("/api/groups/{gid}"),
            Some(json!({"source": "c1-madrid", "destination": "c2-santiago"})),
            Some(&g.etag()),
        )
        .await;
    assert_eq!(g.status, StatusCode::OK, "{:?}", g.body);
    let g = s
        .post(
            &olga,
            &format!("/api/groups/{gid}/vms"),
            json!({"name": vm}),
            Some(&g.etag()),
        )
        .await;
    assert_eq!(g.status, StatusCode::OK, "{:?}", g.body);
    let validate = || {
        let path = format!("/api/groups/{gid}/validate");
        let (s, olga) = (&s, &olga);
        async move { s.post(olga, &path, json!(null), None).await }
    };

    // Powered on: validation finds an error and gives no usable token.
    let facts = s
        .post(
            &olga,
            &format!("/api/groups/{gid}/refresh"),
            json!(null),
            None,
        )
        .await;
    assert_eq!(facts.status, StatusCode::OK, "{:?}", facts.body);
    assert_eq!(facts.body["rows"][0]["vm"], json!(vm));
    assert_eq!(facts.body["rows"][0]["cluster"], "c1-madrid");
    let v = validate().await;
    assert!(v.body["errors"].as_u64().unwrap_or(0) > 0, "{:?}", v.body);
    if let Some(t) = v.body["token"].as_str() {
        let refused = s.post(&olga, "/api/runs", json!({"token": t}), None).await;
        assert_eq!(refused.status, StatusCode::CONFLICT);
        assert_eq!(refused.code(), "validation_required");
    }

    // Had the group Butler power its VMs off, the running VM would be a
    // warning, and the run would wait for her to confirm the power-off.
    let patch = |body: Value, etag: String| {
        let path = format!("/api/groups/{gid}");
        let (s, olga) = (&s, &olga);
        async move {
            s.raw(olga, Method::PATCH, &path, Some(body), Some(&etag))
                .await
        }
    };
    let g = patch(json!({ "power_off": true }), g.etag()).await;
    assert_eq!(g.body["power_off"], json!(true), "{:?}", g.body);
    let v = validate().await;
    assert_eq!(
        (v.body["errors"].as_u64(), v.body["warnings"].as_u64()),
        (Some(0), Some(1)),
        "{:?}",
        v.body
    );
    let t = v.body["token"].as_str().unwrap_or("");
    let unconfirmed = s.post(&olga, "/api/runs", json!({"token": t}), None).await;
    assert_eq!(unconfirmed.status, StatusCode::CONFLICT);
    assert_eq!(unconfirmed.code(), "confirmation_required");
    assert_eq!(
        s.sim().vm(&vm).map(|v| v.power),
        Some(butler::backend::PowerState::On)
    );
    let g = patch(json!({ "power_off": false }), g.etag()).await;
    assert_eq!(g.body.get("power_off"), None, "{:?}", g.body);

    // Live moves are the platform's to make: the demo's moves its
    // protection domains with their VMs running (as a recovery plan's
    // planned failover does), so asked live the running VM is no error.
    let g = patch(json!({ "live": true }), g.etag()).await;
    assert_eq!(g.body["live"], json!(true), "{:?}", g.body);
    let v = validate().await;
    let codes: Vec<&str> = v.body["findings"]
        .as_array()
        .map(|f| f.iter().filter_map(|x| x["code"].as_str()).collect())
        .unwrap_or_default();
    assert!(!codes.contains(&"live_moves_unavailable"), "{:?}", v.body);
    assert!(!codes.contains(&"powered_on"), "{:?}", v.body);
    assert_eq!(v.body["errors"], 0, "{:?}", v.body);
    let g = patch(json!({ "live": false }), g.etag()).await;
    assert_eq!(g.body.get("live"), None, "{:?}", g.body);

    // Olga (Operator) powers it off through the inventory; then it
    // validates clean and migrates.
    let off = s
        .post(
            &olga,
            &format!("/api/vms/{vm_id}/power"),
            json!({"change": "guest_shutdown", "force_after_deadline": true}),
            None,
        )
        .await;
    assert_eq!(off.body, json!({"outcome": "done", "power": "off"}));
    s.post(
        &olga,
        &format!("/api/groups/{gid}/refresh"),
        json!(null),
        None,
    )
    .await;
    let v = validate().await;
    assert_eq!(v.body["errors"], 0, "{:?}", v.body);
    let token = v.body["token"].as_str().unwrap_or("").to_string();
    let started = s
        .post(&olga, "/api/runs", json!({"token": token}), None)
        .await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{:?}", started.body);
    let run = started.body["run"].as_u64().unwrap_or(0);

    // Read two events, drop the stream, resume after the last id seen.
    let first = read_events(&s, &olga, run, None, Some(2)).await;
    assert_eq!(first.iter().filter(|e| e.0 == "progress").count(), 2);
    let last_id = first.last().and_then(|e| e.1).unwrap_or(0);
    let rest = read_events(&s, &olga, run, Some(last_id), None).await;
    assert_eq!(rest.last().map(|e| e.0.as_str()), Some("end"), "{rest:?}");
    let ids: Vec<usize> = first.iter().chain(&rest).filter_map(|e| e.1).collect();
    let expected: Vec<usize> = (1..=ids.len()).collect();
    assert_eq!(
        ids, expected,
        "every event once, in order, across the reconnect"
    );

    // 9. The stored report says the VM moved.
    let rep = s.get(&olga, &format!("/api/runs/{run}")).await;
    assert_eq!(rep.status, StatusCode::OK);
    assert_eq!(rep.body["vms"][0]["vm"], json!(vm), "{:?}", rep.body);
    assert_eq!(
        rep.body["vms"][0]["outcome"]["outcome"], "migrated",
        "{:?}",
        rep.body
    );
    assert_eq!(
        s.sim().vm(&vm).map(|v| v.cluster),
        Some("c2-santiago".to_string())
    );
    // An ended run cannot be cancelled; an unknown one is not found.
    let ended = s
        .post(&olga, &format!("/api/runs/{run}/cancel"), json!(null), None)
        .await;
    assert_eq!(ended.status, StatusCode::CONFLICT, "{:?}", ended.body);
    assert_eq!(ended.code(), "run_not_running");
    let unknown = s
        .post(&olga, "/api/runs/999999/cancel", json!(null), None)
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{:?}", unknown.body);

    // 10a. Ana asks for more RAM for web01 (now in Santiago): every
    //      problem at once first, then the change, approved by Bea.
    let mut bigger = done["spec"].clone();
    bigger["cluster"] = json!("c1-madrid");
    bigger["disks_gib"] = json!([1]);
    let bad = s
        .post(
            &ana,
            &format!("/api/vms/{vm_id}/reconfigure"),
            json!({"spec": bigger}),
            None,
        )
        .await;
    assert_eq!(
        bad.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{:?}",
        bad.body
    );
    // The change itself through the VM's own console page, whose form
    // starts from the VM's spec as approved.
    let vm_page = s.page(&ana, &format!("/vms/{vm_id}")).await;
    assert!(
        vm_page.contains("Cambiar recursos")
            && vm_page.contains("Retirar")
            && vm_page.contains("Extender el arrendamiento")
            && vm_page.contains("migrada de c1-madrid a c2-santiago"),
        "{vm_page}"
    );
    let disks = done["spec"]["disks_gib"][0].as_u64().unwrap_or(0);
    let change = format!("/vms/{vm_id}/reconfigure");
    let not_numbers = console_form(
        &s,
        &cookie,
        &change,
        format!(
            "_csrf={csrf}&cores_per_socket=2&sockets=one&ram_gib=16&disks_gib={disks},big&nics=vlan-10"
        ),
    )
    .await;
    assert_eq!(not_numbers.status(), StatusCode::BAD_REQUEST);
    let why = not_numbers.text().await.unwrap_or_default();
    assert!(
        why.contains("sockets") && why.contains("disks_gib") && why.contains("big"),
        "every field named at once: {why}"
    );
    let asked = console_form(
        &s,
        &cookie,
        &change,
        format!(
            "_csrf={csrf}&cores_per_socket=2&sockets=1&ram_gib=16&disks_gib={disks}&nics=vlan-10"
        ),
    )
    .await;
    assert_eq!(asked.status(), StatusCode::SEE_OTHER);
    let to = asked
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let cid: u64 = to
        .strip_prefix("/requests/")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not sent to the request: {to}"));
    let change = s.get(&ana, &format!("/api/requests/{cid}")).await;
    assert_eq!(
        change.body["kind"]["reconfigure"]["target"]["vm"],
        json!(vm_id)
    );
    assert_eq!(change.body["history"][0]["changes"][0]["field"], "ram_gib");
    s.post(
        &bea,
        &format!("/api/requests/{cid}/approve"),
        json!(null),
        Some(&change.etag()),
    )
    .await;
    wait_for_state(&s, &bea, cid, "completed").await;
    assert_eq!(s.sim().vm(&vm).map(|v| v.ram_gib), Some(16));

    // 10a'. Ana extends web01's lease by 30 days: a date that is not
    //      later is refused naming the field; Bea approves the extension
    //      and the VM's record has the new end.
    let rec = s.get(&ana, &format!("/api/vms/{vm_id}")).await;
    let end: chrono::NaiveDate = rec.body["lease_end"]
        .as_str()
        .and_then(|d| d.parse().ok())
        .expect("web01 has a lease end");
    let same = s
        .post(
            &ana,
            &format!("/api/vms/{vm_id}/extend"),
            json!({"until": end}),
            None,
        )
        .await;
    assert_eq!(
        same.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{:?}",
        same.body
    );
    assert!(same.body.to_string().contains("until"), "{:?}", same.body);
    // The console's form: a date it cannot read is named, nothing asked.
    let not_a_date = console_form(
        &s,
        &cookie,
        &format!("/vms/{vm_id}/extend"),
        format!("_csrf={csrf}&until=next+year"),
    )
    .await;
    assert_eq!(not_a_date.status(), StatusCode::BAD_REQUEST);
    assert!(not_a_date
        .text()
        .await
        .unwrap_or_default()
        .contains("until"));
    let untouched = s.get(&ana, &format!("/api/vms/{vm_id}")).await;
    assert_eq!(
        untouched.body["lease_extension"],
        Value::Null,
        "nothing asked"
    );
    let later = end + chrono::Days::new(30);
    let asked = s
        .post(
            &ana,
            &format!("/api/vms/{vm_id}/extend"),
            json!({"until": later}),
            None,
        )
        .await;
    assert_eq!(asked.status, StatusCode::CREATED, "{:?}", asked.body);
    assert_eq!(asked.body["kind"]["extend_lease"]["until"], json!(later));
    let eid = asked.body["id"].as_u64().unwrap_or(0);
    s.post(
        &bea,
        &format!("/api/requests/{eid}/approve"),
        json!(null),
        Some(&asked.etag()),
    )
    .await;
    wait_for_state(&s, &bea, eid, "completed").await;
    let rec = s.get(&ana, &format!("/api/vms/{vm_id}")).await;
    assert_eq!(rec.body["lease_end"], json!(later), "{:?}", rec.body);

    // 10b. Ana retires web01: a decommission request,
    //     submitted at once; Bea may not ask for someone else's VM, but
    //     approves Ana's; the engine deletes it and the record says retired.
    let theirs = s
        .post(&bea, &format!("/api/vms/{vm_id}/retire"), json!(null), None)
        .await;
    assert_eq!(theirs.status, StatusCode::FORBIDDEN, "{:?}", theirs.body);
    let asked = s
        .post(&ana, &format!("/api/vms/{vm_id}/retire"), json!(null), None)
        .await;
    assert_eq!(asked.status, StatusCode::CREATED, "{:?}", asked.body);
    assert_eq!(asked.body["state"], "requested");
    assert_eq!(asked.body["kind"]["decommission"]["vm"], json!(vm_id));
    let did = asked.body["id"].as_u64().unwrap_or(0);
    let approved = s
        .post(
            &bea,
            &format!("/api/requests/{did}/approve"),
            json!(null),
            Some(&asked.etag()),
        )
        .await;
    assert_eq!(approved.status, StatusCode::OK, "{:?}", approved.body);
    wait_for_state(&s, &bea, did, "completed").await;
    let gone = s.get(&ana, &format!("/api/vms/{vm_id}")).await;
    assert_eq!(gone.body["lifecycle"], "retired", "{:?}", gone.body);
    assert!(s.sim().vm(&vm).is_none(), "deleted on the platform");
    let again = s
        .post(&ana, &format!("/api/vms/{vm_id}/retire"), json!(null), None)
        .await;
    assert_eq!(
        again.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{:?}",
        again.body
    );

    // Logout ends the session.
    let out = s.post(&ana, "/api/logout", json!(null), None).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert_eq!(
        s.get(&ana, "/api/me").await.status,
        StatusCode::UNAUTHORIZED
    );
}

/// (event name, id) of the stream's events, stopping after `max`
/// progress events or at the end.
async fn read_events(
    s: &common::TestServer,
    who: &Login,
    run: u64,
    last: Option<usize>,
    max: Option<usize>,
) -> Vec<(String, Option<usize>)> {
    use futures_util::StreamExt;
    let mut rq = s
        .http
        .get(format!("{}/api/runs/{run}/events", s.base))
        .header(
            "authorization",
            format!("Bearer {}", who.bearer.clone().unwrap_or_default()),
        );
    if let Some(l) = last {
        rq = rq.header("last-event-id", l.to_string());
    }
    let res = rq.send().await.expect("events");
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/event-stream")));
    let mut body = res.bytes_stream();
    let mut buf = String::new();
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while let Ok(Some(Ok(chunk))) = tokio::time::timeout_at(deadline, body.next()).await {
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            let mut name = String::from("message");
            let mut id = None;
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    name = v.trim().to_string();
                } else if let Some(v) = line.strip_prefix("id:") {
                    id = v.trim().parse().ok();
                }
            }
            if block.lines().all(|l| l.starts_with(':') || l.is_empty()) {
                continue; // keep-alive comment
            }
            let is_end = name == "end";
            out.push((name, id));
            if is_end || max.is_some_and(|m| out.len() >= m) {
                return out;
            }
        }
    }
    out
}

/// A run started by another instance sharing the store (a SQLite file
/// here) is followed through the store: one `vm` event per VM, then `end`,
/// and a reconnect resumes after the last id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_started_by_another_instance_is_followed_through_the_store() {
    use butler_server::setup;
    let dir = tempfile::tempdir().expect("a folder");
    let path = dir.path().join("shared.sqlite");
    let instance = || {
        setup::demo_builder(butler::Butler::builder().sqlite(&path))
            .build()
            .expect("the demo builds")
    };
    let settings = butler_server::HttpSettings::default;
    let a = common::start_with(instance(), settings()).await;
    let b = common::serve(instance(), |s| s, settings(), a.passwords.clone()).await;
    let fleet = butler::sim::fleet::generate(
        a.sim(),
        &butler::sim::fleet::FleetSpec {
            vms: 6,
            groups: 3,
            prefix: "far".into(),
            ..Default::default()
        },
    );
    let olga = a.script("olga").await;
    let (_, v) = a.validated_group(&olga, "far", &fleet.vm_names).await;
    assert_eq!(v.body["errors"], 0, "{:?}", v.body);
    let token = v.body["token"].as_str().unwrap_or("").to_string();
    let started = a
        .post(&olga, "/api/runs", json!({"token": token}), None)
        .await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{:?}", started.body);
    let run = started.body["run"].as_u64().unwrap_or(0);
    // A follows its own run step by step; it ends with the report stored.
    let own = read_events(&a, &olga, run, None, None).await;
    assert_eq!(own.last().map(|e| e.0.as_str()), Some("end"), "{own:?}");
    // B never ran it: it follows the stored lines.
    let olga_b = b.script("olga").await;
    let seen = read_events(&b, &olga_b, run, None, None).await;
    let vms: Vec<Option<usize>> = seen.iter().filter(|e| e.0 == "vm").map(|e| e.1).collect();
    assert_eq!(vms, (1..=6).map(Some).collect::<Vec<_>>(), "{seen:?}");
    assert_eq!(seen.last().map(|e| e.0.as_str()), Some("end"), "{seen:?}");
    let rest = read_events(&b, &olga_b, run, Some(4), None).await;
    let names: Vec<&str> = rest.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(names, ["vm", "vm", "end"], "{rest:?}");
    assert_eq!(rest[0].1, Some(5));
}

/// With a grace period, a retired VM is kept powered off; its owner
/// restores it from its console page (no approval), and the REST API
/// refuses a second restore.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retired_vm_is_restored_from_its_console_page_within_the_grace_period() {
    let engine = butler::engine::EngineConfig {
        retirement_grace: Duration::from_secs(7 * 86_400),
        ..butler::engine::EngineConfig::default()
    };
    let b = butler_server::setup::demo_builder(butler::Butler::builder())
        .engine_config(engine)
        .build()
        .expect("the demo builds");
    let s = common::start_with(b, butler_server::HttpSettings::default()).await;
    let (ana, bea) = (s.browser("ana").await, s.script("bea").await);
    let asked = s.post(&ana, "/api/requests", spec("keep01"), None).await;
    let id = asked.body["id"].as_u64().unwrap_or(0);
    let path = format!("/api/requests/{id}/submit");
    let sub = s.post(&ana, &path, json!(null), Some(&asked.etag())).await;
    let path = format!("/api/requests/{id}/approve");
    let ok = s.post(&bea, &path, json!(null), Some(&sub.etag())).await;
    assert_eq!(ok.status, StatusCode::OK, "{:?}", ok.body);
    wait_for_state(&s, &bea, id, "completed").await;
    let vms = s.get(&ana, "/api/vms").await;
    let vm_id = vms.body["items"][0]["id"].as_u64().unwrap_or(0);
    let vm = vms.body["items"][0]["name"]
        .as_str()
        .unwrap_or("")
        .to_string();

    let retire = format!("/api/vms/{vm_id}/retire");
    let asked = s.post(&ana, &retire, json!(null), None).await;
    let did = asked.body["id"].as_u64().unwrap_or(0);
    let path = format!("/api/requests/{did}/approve");
    s.post(&bea, &path, json!(null), Some(&asked.etag())).await;
    wait_for_state(&s, &bea, did, "completed").await;
    let kept = s.get(&ana, &format!("/api/vms/{vm_id}")).await;
    assert_eq!(kept.body["lifecycle"], "retiring", "{:?}", kept.body);
    assert!(kept.body["kept_until"].is_string(), "{:?}", kept.body);
    assert!(s.sim().vm(&vm).is_some(), "kept on the platform");

    // Her VM's page offers the restore; the form brings it back.
    let cookie = format!("butler_session={}", ana.cookie.clone().unwrap_or_default());
    let page = s.page(&ana, &format!("/vms/{vm_id}")).await;
    assert!(page.contains("id=\"kept-until\""), "{page}");
    let csrf = ana.csrf.clone().unwrap_or_default();
    let path = format!("/vms/{vm_id}/restore");
    let res = console_form(&s, &cookie, &path, format!("_csrf={csrf}")).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let to = res
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let rid: u64 = to.trim_start_matches("/requests/").parse().unwrap_or(0);
    let restored = wait_for_state(&s, &bea, rid, "completed").await;
    assert!(restored["kind"]["restore"].is_object(), "{restored:?}");
    let back = s.get(&ana, &format!("/api/vms/{vm_id}")).await;
    assert_eq!(
        (&back.body["lifecycle"], &back.body["power"]),
        (&json!("active"), &json!("on")),
        "{:?}",
        back.body
    );
    let again = s
        .post(
            &ana,
            &format!("/api/vms/{vm_id}/restore"),
            json!(null),
            None,
        )
        .await;
    assert_eq!(
        again.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{:?}",
        again.body
    );
}
