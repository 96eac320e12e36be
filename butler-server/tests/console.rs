//! The console in a real headless Chromium: the quickstart story with a
//! requester, an approver and an operator, and hostile cases. Screenshots
//! of each screen go to target/console-screenshots/.

mod browser;
mod common;

use browser::Browser;
use butler::backend::PowerState;
use butler::said::{Said, SaidCode};
use butler_server::console::i18n::{said, term, word, Lang};
use std::time::Duration;

/// A request state as the English console shows it.
fn en(state: &str) -> String {
    term(Lang::En, "state", state)
}

fn settings() -> butler_server::HttpSettings {
    // Plain HTTP on loopback: a Secure cookie would not be sent back.
    butler_server::HttpSettings {
        cookie_secure: false,
        ..butler_server::HttpSettings::default()
    }
}

/// A requester asks for a VM and an approver approves it with the
/// keyboard alone: every field and button is reached with Tab, filled by
/// typing (a choice by its first letters), pressed with Enter or Space.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_is_asked_and_approved_with_the_keyboard_alone() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let s = common::start(settings()).await;
    let base = s.base.clone();
    let (tab, enter, space) = ("\u{E004}", "\u{E007}", "\u{E00D}");
    let login = |user: &'static str| {
        let (b, base, pw) = (&b, base.clone(), s.password(user));
        async move {
            b.go(&format!("{base}/login")).await;
            b.tab_to("user").await;
            b.keys(user).await;
            b.keys(tab).await;
            b.keys(&pw).await;
            b.keys(enter).await;
            b.wait_text("header nav", user).await;
        }
    };
    b.go(&format!("{base}/lang/en")).await;
    login("ana").await;
    b.go(&format!("{base}/requests/new")).await;
    for (id, typed) in [
        ("name", "kbd01"),
        ("division", "CORP"),
        ("unit", "IT"),
        ("environment", "PRD"),
        ("disk_type", "SSD"),
        ("disks_gib", "50"),
    ] {
        b.tab_to(id).await;
        b.keys(typed).await;
    }
    // The environment's first VLAN box (the others are hidden), ticked
    // with Space.
    let nic =
        b.c.execute(
            "const box = [...document.querySelectorAll('input[name=nics]')]
               .find(i => i.offsetParent !== null);
             return box ? box.id : ''",
            vec![],
        )
        .await
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    assert!(!nic.is_empty(), "the NIC boxes need ids to be reached");
    b.tab_to(&nic).await;
    b.keys(space).await;
    b.tab_to("submit").await;
    b.keys(enter).await;
    assert_eq!(
        b.wait_text("#state", &en("requested")).await,
        en("requested")
    );
    let url = b.url().await;
    b.tab_to("logout").await;
    b.keys(enter).await;
    login("bea").await;
    b.go(&url).await;
    b.tab_to("act-approve").await;
    b.keys(enter).await;
    let mut state = String::new();
    for _ in 0..100 {
        state = b.text("#state").await;
        if !state.is_empty() && state != en("requested") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        ["approved", "provisioning", "completed"]
            .map(en)
            .contains(&state),
        "{state}"
    );
    b.close().await;
}

/// The accessibility check can fail: a page given an unlabelled field and
/// an image without a text alternative is reported, naming both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axe_core_reports_a_page_that_is_not_accessible() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let s = common::start(settings()).await;
    b.go(&format!("{}/login", s.base)).await;
    assert_eq!(b.violations("login").await.as_deref().unwrap_or("[]"), "[]");
    b.c.execute(
        "const f = document.querySelector('form');
         f.insertAdjacentHTML('beforeend', '<input id=\"bare\"><img id=\"pic\" src=\"/x.png\">');",
        vec![],
    )
    .await
    .unwrap();
    if let Some(found) = b.violations("login-broken").await {
        assert!(found.contains("#bare") && found.contains("#pic"), "{found}");
    }
    b.close().await;
}

/// The quickstart story in English: screenshots `en-*.png`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quickstart_story_in_the_browser_in_english() {
    quickstart_story(Lang::En).await;
}

/// The quickstart story in Spanish: screenshots `es-*.png`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quickstart_story_in_the_browser_in_spanish() {
    quickstart_story(Lang::Es).await;
}

/// A requester's request with mistakes, then submitted; an approver's
/// review with the cost difference, and approval; provisioning to the
/// end; the list and its export; a migration group from creation through
/// validation, the fix (Butler powers the VM off), migration with live
/// progress, to the report; the VM's own page and forms; each page checked
/// by axe-core and kept as a screenshot named with the language. Every
/// word checked is the catalogue's for `lang`.
async fn quickstart_story(lang: Lang) {
    let Some(b) = Browser::start().await else {
        return;
    };
    let st = |state: &str| term(lang, "state", state);
    let shot = |name: &str| format!("{}-{name}", lang.code());
    let s = common::start(settings()).await;
    let base = s.base.clone();

    // Ana asks for a VM with three mistakes; all show at once.
    b.go(&format!("{base}/lang/{}", lang.code())).await;
    b.login(&base, "ana", &s.password("ana")).await;
    b.shot(&shot("01-requests-empty")).await;
    b.go(&format!("{base}/requests/new")).await;
    b.fill("#name", "web 01").await;
    b.fill("#ram_gib", "100000").await;
    b.choose("#division", "CORP").await;
    b.choose("#unit", "IT").await;
    b.choose("#environment", "PRD").await;
    b.choose("#disk_type", "SSD").await;
    b.click("input[name=nics][value=vlan-10]").await;
    b.fill("#disks_gib", "50").await;
    b.fill("#lease_days", "a year").await;
    b.wait_text("#estimate-body", "").await;
    b.shot(&shot("02-new-request")).await;
    b.click("#submit").await;
    b.wait_text("#form-problems", "").await;
    let name_err = b.text("#name-err").await;
    let ram_err = b.text("#ram-err").await;
    let lease_err = b.text("#lease-err").await;
    assert!(
        !name_err.is_empty() && !ram_err.is_empty() && !lease_err.is_empty(),
        "name: {name_err:?}, ram: {ram_err:?}, lease: {lease_err:?}"
    );
    b.shot(&shot("03-three-mistakes")).await;

    // Fixed (a lease of 365 days), with a live estimate, and submitted.
    b.fill("#name", "web01").await;
    b.fill("#ram_gib", "4").await;
    b.fill("#lease_days", "365").await;
    let est = b.wait_text("#estimate-body", "UF").await;
    assert!(est.contains("UF"), "{est}");
    b.click("#submit").await;
    let state = b.wait_text("#state", &st("requested")).await;
    assert_eq!(state, st("requested"));
    let url = b.url().await;
    let id: u64 = url
        .rsplit('/')
        .next()
        .and_then(|x| x.parse().ok())
        .unwrap_or(0);
    assert!(id > 0, "{url}");
    // A requester sees no approver action.
    assert!(!b.exists("#act-approve").await && !b.exists("#act-review").await);
    b.shot(&shot("04-request-submitted")).await;
    b.logout().await;

    // Bea reviews (more RAM: the history shows the cost before and after)
    // and approves; Butler provisions it.
    b.login(&base, "bea", &s.password("bea")).await;
    b.go(&format!("{base}/requests/{id}")).await;
    b.click("#act-review").await;
    b.fill("#ram_gib", "8").await;
    b.click("#save").await;
    let state = b.wait_text("#state", &st("reviewed")).await;
    assert_eq!(state, st("reviewed"));
    let history = b.text("#history").await;
    assert!(
        history.contains("→") && history.contains(&format!("{}: 4 → 8", word(lang, "ram_gib"))),
        "{history}"
    );
    assert!(
        b.text("#history .cost").await.contains("UF"),
        "cost delta shown"
    );
    // Why it waits for an approver, as the rule book decided, in words.
    let no_rule = said(lang, &Said::just(SaidCode::NoRuleMatched));
    assert!(history.contains(&no_rule), "{no_rule:?} in {history}");
    b.shot(&shot("05-reviewed-with-cost-delta")).await;
    b.click("#act-approve").await;
    for _ in 0..100 {
        if b.text("#state").await == st("completed") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        b.go(&format!("{base}/requests/{id}")).await;
    }
    assert_eq!(b.text("#state").await, st("completed"));
    // The step log in the page's language: the step's name, not the
    // library's identifier.
    let steps = b.text("#steps").await;
    let create = term(lang, "step", "create_vm");
    assert!(
        steps.contains(&create) && !steps.contains("create_vm"),
        "{steps}"
    );
    // And what each step did, in the page's language.
    let billed = said(
        lang,
        &Said::new(SaidCode::Billed, [("cost_center", "CC-1001".into())]),
    );
    assert!(steps.contains(&billed), "{billed:?} in {steps}");
    let history = b.text("#history").await;
    assert!(history.contains(&billed), "{billed:?} in {history}");
    b.shot(&shot("06-provisioned")).await;

    // The export link downloads what the list selects (read with the
    // browser's own session cookie).
    b.go(&format!("{base}/requests?state=completed")).await;
    assert!(b.text("#request-list").await.contains("web01"));
    b.shot(&shot("07-list")).await;
    let href =
        b.c.find(fantoccini::Locator::Css("#export"))
            .await
            .expect("export link")
            .attr("href")
            .await
            .ok()
            .flatten()
            .unwrap_or_default();
    let cookie = b.cookie("butler_session").await.unwrap_or_default();
    let xlsx = s
        .http
        .get(format!("{base}{href}"))
        .header("cookie", format!("butler_session={cookie}"))
        .send()
        .await
        .expect("export");
    assert_eq!(xlsx.status(), 200);
    assert!(xlsx.bytes().await.expect("bytes").starts_with(b"PK"));
    b.logout().await;

    // Olga drills the migration of the new VM and watches it reach 100 %.
    let vm = format!("web01-r{id}");
    b.login(&base, "olga", &s.password("olga")).await;
    b.go(&format!("{base}/groups")).await;
    b.accessible(&shot("groups")).await;
    b.fill("#new-group", "dr-drill").await;
    b.click("#create-group").await;
    b.wait_text("h1", "dr-drill").await;
    b.choose("#source", "c1-madrid").await;
    b.choose("#destination", "c2-santiago").await;
    b.click("#set-clusters").await;
    b.wait_text("#source", "").await;
    b.fill("#vm-search", "web01").await;
    b.click("#search").await;
    b.click(&format!("button.add-vm[data-vm='{vm}']")).await;
    b.wait_text("#vms", &vm).await;
    b.click("#refresh").await;
    b.wait_text("#vms", "c1-madrid").await;
    b.click("#validate").await;
    let counts = b.wait_text("#counts", "").await;
    assert!(
        !b.exists("#migrate").await,
        "powered on: no migrate button ({counts})"
    );
    assert!(
        b.text("#findings").await.contains("powered_on"),
        "findings grouped by code"
    );
    b.shot(&shot("08-validation-errors")).await;
    // She has Butler power the group's running VMs off (and on again at
    // the destination): the finding becomes a warning, and the migrate
    // button asks her to confirm the power-off. The journey needs
    // nothing but the console.
    let here = b.c.current_url().await.expect("url");
    let gid: String = here
        .path()
        .trim_start_matches("/groups/")
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    b.click("#power-off").await;
    b.click("#save-power").await;
    // Saved: the page comes back without the validation.
    for _ in 0..300 {
        if !b.exists("#counts").await {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    b.click("#validate").await;
    let counts = b.wait_text("#counts", "").await;
    assert!(counts.contains("1"), "one warning: {counts}");
    assert!(
        b.text("#findings").await.contains("power_off_planned"),
        "the running VM is a warning now: {}",
        b.text("#findings").await
    );
    b.shot(&shot("09-validation-power-off")).await;
    // The browser will not submit without the confirmation.
    b.click("#migrate").await;
    assert!(
        b.exists("#confirm-power-off").await,
        "still on the group page"
    );
    assert_eq!(s.sim().vm(&vm).map(|v| v.power), Some(PowerState::On));
    b.click("#confirm-power-off").await;
    b.click("#migrate").await;
    let pct = b.wait_text("#percent", "100").await;
    assert!(pct.starts_with("100"), "{pct}");
    let report = b
        .wait_text("#report", &term(lang, "outcome", "migrated"))
        .await;
    assert!(report.contains(&vm), "{report}");
    // Butler's notes in the page's language.
    let on_again = said(
        lang,
        &Said::new(
            SaidCode::PoweredOnAgain,
            [("cluster", "c2-santiago".into())],
        ),
    );
    assert!(report.contains(&on_again), "{on_again:?} in {report}");
    b.shot(&shot("10-migration-done")).await;
    // The report filtered to one outcome, and as CSV.
    let run_url = b.url().await;
    let run_path = run_url
        .trim_start_matches(&base)
        .split('?')
        .next()
        .unwrap_or("")
        .to_string();
    b.go(&format!("{base}{run_path}?outcome=failed")).await;
    assert!(
        !b.text("#report").await.contains(&vm),
        "a migrated VM among the failed"
    );
    b.click("#report-filter a[href$='outcome=migrated']").await;
    b.wait_text("#report", &vm).await;
    let cookie = b.cookie("butler_session").await.unwrap_or_default();
    let csv = s
        .http
        .get(format!("{base}{run_path}/report.csv"))
        .header("cookie", format!("butler_session={cookie}"))
        .send()
        .await
        .expect("the report as CSV");
    assert_eq!(csv.status(), 200);
    let csv = csv.text().await.unwrap_or_default();
    assert!(csv.starts_with("vm,outcome,detail"), "{csv}");
    assert!(csv.contains(&format!("\"{vm}\",\"migrated\"")), "{csv}");
    assert_eq!(
        s.sim().vm(&vm).map(|v| (v.cluster, v.power)),
        Some(("c2-santiago".into(), PowerState::On))
    );
    // Back where it runs, she shuts it down from "My VMs" (Operators see
    // every VM).
    b.go(&format!("{base}/vms")).await;
    b.accessible(&shot("vms-operator")).await;
    b.click(&format!(
        "button[aria-label='{} {}']",
        word(lang, "power_off"),
        "web01"
    ))
    .await;
    b.wait_text("[role=status]", &word(lang, "power_done"))
        .await;
    assert_eq!(s.sim().vm(&vm).map(|v| v.power), Some(PowerState::Off));
    let _ = gid;

    b.logout().await;

    // Ana opens her VM's own page from "My VMs": its history shows the
    // move; she asks for more RAM, then to retire it, from its forms.
    b.login(&base, "ana", &s.password("ana")).await;
    b.go(&format!("{base}/vms")).await;
    b.click("#vms a").await;
    let run: u64 = run_path
        .rsplit('/')
        .next()
        .and_then(|x| x.parse().ok())
        .unwrap_or(0);
    let migrated = said(
        lang,
        &Said::new(
            SaidCode::Migrated,
            [
                ("from", "c1-madrid".into()),
                ("to", "c2-santiago".into()),
                ("run", butler::migration::RunId(run).to_string()),
            ],
        ),
    );
    let history = b.wait_text("#history", &migrated).await;
    b.accessible(&shot("vm-page")).await;
    assert!(history.contains(&migrated), "{history}");
    let lease_end = b.text("#lease-end").await;
    assert!(
        lease_end.parse::<chrono::NaiveDate>().is_ok(),
        "the lease asked shows as its end: {lease_end:?}"
    );
    b.fill("#ram_gib", "16").await;
    b.click("#accept_downtime").await;
    b.click("#reconfigure button").await;
    b.wait_text("#state", &st("requested")).await;
    b.shot(&shot("11-reconfigure-asked")).await;
    let change: u64 = b
        .url()
        .await
        .rsplit('/')
        .next()
        .and_then(|x| x.parse().ok())
        .unwrap_or(0);
    // One change at a time: retiring it now is refused, naming the
    // reconfigure that waits.
    b.go(&format!("{base}/vms")).await;
    b.click("#vms a").await;
    let vm_page = b.url().await;
    b.click("#retire button").await;
    let open = said(
        lang,
        &Said::new(
            SaidCode::ChangeOpen,
            [
                ("vm", vm.clone()),
                ("request", butler::request::RequestId(change).to_string()),
                ("kind", "reconfigure".into()),
                ("state", "requested".into()),
            ],
        ),
    );
    let refused = b.wait_text("main", &open).await;
    assert!(refused.contains(&open), "{refused}");
    b.go(&vm_page).await;

    // The other language is a click away.
    b.click("a.lang").await;
    b.wait_text("header nav", &word(lang.other(), "requests"))
        .await;
    b.accessible(&shot("vm-page-other-language")).await;

    // On a phone's width the pages fit (tables scroll inside themselves).
    b.c.set_window_size(390, 844).await.expect("phone width");
    for path in [
        format!("/requests/{id}"),
        "/requests/new".into(),
        "/groups".into(),
    ] {
        b.go(&format!("{base}{path}")).await;
        let fits =
            b.c.execute(
                "return document.documentElement.scrollWidth <= window.innerWidth + 1",
                vec![],
            )
            .await
            .expect("script");
        assert_eq!(
            fits,
            serde_json::json!(true),
            "{path} is wider than a phone"
        );
    }
    b.shot(&shot("13-phone-request-form")).await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_cases_in_the_browser() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let s = common::start(settings()).await;
    let base = s.base.clone();
    let butler = s.state.butler();
    let users = butler.users();
    let admin = users
        .authenticate("admin", &s.password("admin"))
        .await
        .expect("admin");
    users
        .add(
            &admin,
            "carl",
            [butler::auth::Role::Requester],
            "carl's long password",
        )
        .await
        .expect("carl");
    let carl = users
        .authenticate("carl", "carl's long password")
        .await
        .expect("carl");
    let theirs = butler
        .requests()
        .create(&carl, butler::demo::spec("carl01"))
        .await
        .expect("carl's request");

    // Another requester's request URL: not found, nothing shown.
    b.login(&base, "ana", &s.password("ana")).await;
    b.go(&format!("{base}/requests/{}", theirs.id.0)).await;
    assert!(!b.text("main").await.contains("carl01"));
    assert!(
        b.text("h1").await.contains("No encontrado"),
        "{}",
        b.text("h1").await
    );
    b.shot("11-someone-elses-request").await;

    // A form posted without its CSRF token is refused and changes nothing.
    b.go(&format!("{base}/requests/new")).await;
    b.fill("#name", "nocsrf").await;
    b.choose("#division", "CORP").await;
    b.choose("#unit", "IT").await;
    b.choose("#environment", "PRD").await;
    b.choose("#disk_type", "SSD").await;
    b.click("input[name=nics][value=vlan-10]").await;
    b.c.execute(
        "document.querySelector('#request-form input[name=_csrf]').remove()",
        vec![],
    )
    .await
    .expect("script");
    b.click("#save-draft").await;
    b.wait_text("h1", "No permitido").await;
    let ana = users
        .authenticate("ana", &s.password("ana"))
        .await
        .expect("ana");
    let mine = butler
        .requests()
        .list(&ana, &butler::store::RequestQuery::default())
        .await
        .expect("list");
    assert_eq!(mine.total, 0, "nothing was created");

    // A stale edit: someone saves first; the page says so and shows the
    // current version.
    let r = butler
        .requests()
        .create(&ana, butler::demo::spec("stale01"))
        .await
        .expect("request");
    b.go(&format!("{base}/requests/{}/edit", r.id.0)).await;
    let mut newer = butler::demo::spec("stale01");
    newer.ram_gib = 16;
    butler
        .requests()
        .save(&ana, r.id, r.version, newer)
        .await
        .expect("saved elsewhere");
    b.fill("#ram_gib", "2").await;
    b.click("#save").await;
    b.wait_text("#stale", "").await;
    assert!(
        b.text("main").await.contains("16 GiB"),
        "the current version is shown"
    );
    b.shot("12-stale-edit").await;

    // Rate cards with their effective dates are readable; only an Admin
    // gets the forms to replace them.
    b.go(&format!("{base}/admin/catalog")).await;
    let cards = b.wait_text("#rate-cards", "2026-07-01").await;
    assert!(
        cards.contains("2026-01-01") && cards.contains("UF"),
        "{cards}"
    );
    assert!(!b.exists("#rates-toml").await);
    b.logout().await;
    b.login(&base, "admin", &s.password("admin")).await;
    b.go(&format!("{base}/admin/catalog")).await;
    assert!(b.exists("#rates-toml").await);
    b.fill("#rates-toml", "not = [valid").await;
    b.c.find(fantoccini::Locator::Css("#rates-toml ~ button"))
        .await
        .expect("apply")
        .click()
        .await
        .expect("click");
    let msg = b.wait_text("#catalog-message", "").await;
    assert!(!msg.is_empty());
    assert_eq!(
        butler.requests().rate_book().cards().len(),
        2,
        "a faulty file changes nothing"
    );
    b.shot("14-catalog").await;
    // The rules editor: a faulty book is refused and shown why; the
    // approver's queue page.
    b.go(&format!("{base}/admin/rules")).await;
    b.fill(
        "#rules-toml",
        "[[rule]]\nname = \"x\"\noutcome = \"maybe\"\n",
    )
    .await;
    b.c.find(fantoccini::Locator::Css("#rules-toml ~ button"))
        .await
        .expect("apply")
        .click()
        .await
        .expect("click");
    let msg = b.wait_text("#rules-message", "").await;
    assert!(msg.contains("one of approve, require, refuse"), "{msg}");
    b.shot("15-rules").await;
    b.logout().await;
    b.login(&base, "bea", &s.password("bea")).await;
    b.go(&format!("{base}/queue")).await;
    b.shot("16-queue").await;
    // The quota page: a bar per limit; a unit holding VMs given room for
    // none shows its bar as over.
    let admin = butler::auth::Actor::trusted("root", [butler::auth::Role::Admin]).unwrap();
    let ana = butler::auth::Actor::trusted("ana", [butler::auth::Role::Requester]).unwrap();
    let asked = butler
        .requests()
        .create(&ana, butler::demo::spec("held01"))
        .await
        .unwrap();
    butler
        .requests()
        .submit(&ana, asked.id, asked.version)
        .await
        .unwrap();
    // A VM made this month, for the showback page below.
    let approver = butler::auth::Actor::trusted("bea", [butler::auth::Role::Approver]).unwrap();
    let made = butler
        .requests()
        .create(&ana, butler::demo::spec("sb01"))
        .await
        .unwrap();
    let made = butler
        .requests()
        .submit(&ana, made.id, made.version)
        .await
        .unwrap();
    butler
        .requests()
        .approve(&approver, made.id, made.version)
        .await
        .unwrap();
    // The server's engine provisions it in milliseconds; the bound only
    // keeps a broken engine from hanging the test.
    for _ in 0..500 {
        let r = butler.requests().get(&approver, made.id).await.unwrap();
        if r.state == butler::request::RequestState::Completed {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let full = asked.spec.spec().unit.clone();
    butler
        .requests()
        .set_rules(
            &admin,
            butler::rules::Rules::from_toml(&format!(
                "[[quota]]\nunit = \"{full}\"\nvms = 0\nvcpus = 1000\n\n[[quota]]\nrequester = \"*\"\nmonthly_cost = \"100000\"\n"
            ))
            .unwrap(),
        )
        .await
        .unwrap();
    b.go(&format!("{base}/quotas")).await;
    let page = b.wait_text("#quotas", &full).await;
    assert!(
        page.contains("0 / 1000") || page.contains("/ 1000"),
        "{page}"
    );
    assert!(
        b.c.find(fantoccini::Locator::Css("#quotas li.over meter"))
            .await
            .is_ok(),
        "the unit over its one VM shows its bar as over"
    );
    b.shot("17-quotas").await;
    // Showback: the month's chart and tables under axe-core, in both
    // languages (the journey's VM was made this month).
    for (lang, total) in [("es", "Total del período"), ("en", "Period total")] {
        b.go(&format!("{base}/lang/{lang}")).await;
        b.go(&format!("{base}/showback")).await;
        b.wait_text("#showback-total", total).await;
        assert!(
            b.c.find(fantoccini::Locator::Css("#showback-chart rect.bar-actual"))
                .await
                .is_ok(),
            "the chart has a bar for the month"
        );
        b.shot(&format!("18-showback-{lang}")).await;
    }
    b.close().await;
}
