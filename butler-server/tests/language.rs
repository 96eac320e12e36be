//! The console speaks the user's language: the language cookie (their
//! choice), else the browser's `Accept-Language`, else Spanish; request
//! states, history actions and steps come from the catalogue, never as the
//! library's identifiers, and dates are written as the language writes them.

mod common;

use butler::auth::{Actor, Role};
use butler_server::console::i18n::Lang;
use common::start;

/// The demo catalog's VM `name`, asked for and submitted by the requester
/// ana.
async fn submitted_by_ana(s: &common::TestServer, name: &str) -> butler::request::Request {
    let ana = Actor::trusted("ana", [Role::Requester]).unwrap();
    let reqs = s.state.butler().requests();
    let r = reqs.create(&ana, butler::demo::spec(name)).await.unwrap();
    reqs.submit(&ana, r.id, r.version).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn states_and_history_follow_the_users_language() {
    let s = start(butler_server::HttpSettings::default()).await;
    let r = submitted_by_ana(&s, "lang01").await;
    let login = s.browser("ana").await;
    let session = format!("butler_session={}", login.cookie.as_deref().unwrap_or(""));
    let page = |cookie: String, accept: Option<&'static str>| {
        let mut req = s
            .http
            .get(format!("{}/requests/{}", s.base, r.id.0))
            .header("cookie", cookie);
        if let Some(a) = accept {
            req = req.header("accept-language", a);
        }
        async move { req.send().await.unwrap().text().await.unwrap() }
    };
    let english = page(session.clone(), Some("fr-FR, en-US;q=0.9, es;q=0.5")).await;
    assert!(english.contains(r#"id="state">Requested<"#), "{english}");
    assert!(english.contains("Submitted"), "the history's action");
    let spanish_cookie = format!("{session}; butler_lang=es");
    let chosen = page(spanish_cookie, Some("en-US")).await;
    assert!(
        chosen.contains(r#"id="state">Solicitada<"#),
        "the cookie wins"
    );
    assert!(chosen.contains("Envío"), "the history's action in Spanish");
    let default = page(session, None).await;
    assert!(
        default.contains(r#"id="state">Solicitada<"#),
        "Spanish by default"
    );
    // Dates: day first in Spanish.
    let at = r.history[0].at;
    assert!(chosen.contains(&at.format("%d/%m/%Y %H:%M").to_string()));
    assert!(english.contains(&at.format("%Y-%m-%d %H:%M").to_string()));
    // Money as each language writes it (the monthly estimate).
    let total = r.estimate.total;
    let es_total = butler_server::console::i18n::money(Lang::Es, total);
    let en_total = butler_server::console::i18n::money(Lang::En, total);
    assert_ne!(es_total, en_total, "a total with decimals and thousands");
    assert!(
        chosen.contains(&format!(">{es_total} {}<", r.estimate.currency)),
        "{chosen}"
    );
    assert!(
        english.contains(&format!(">{en_total} {}<", r.estimate.currency)),
        "{english}"
    );
    // A refusal says why in the user's language: a requester approving.
    let version = r.version.to_string();
    let (status, refused) = s
        .console_post(
            &login,
            &format!("/requests/{}/act/approve", r.id.0),
            &[("version", version.as_str())],
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::FORBIDDEN, "{refused}");
    assert!(
        refused.contains("ana no puede hacerlo: necesita el rol Aprobador"),
        "{refused}"
    );
    // The list's state filter offers the states by their words.
    let list = s.page(&login, "/requests").await;
    assert!(list.contains(">Solicitada</option>"), "{list}");
}

/// The request form's problems are worded by the user's language, each
/// naming what is wrong, all at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_forms_problems_are_in_the_users_language() {
    let s = start(butler_server::HttpSettings::default()).await;
    let login = s.browser("ana").await;
    let fields = common::request_form("lang02", &[("ram_gib", "100000"), ("division", "NOPE")]);
    let (_, spanish) = s.console_post(&login, "/requests/new", &fields).await;
    assert!(spanish.contains("División desconocida «NOPE»"), "{spanish}");
    assert!(spanish.contains("Debe estar entre 1 y"), "{spanish}");
    assert!(!spanish.contains("unknown division"), "{spanish}");
    // The live estimate names each field by the form's label.
    let (_, live) = s.console_post(&login, "/requests/estimate", &fields).await;
    assert!(
        live.contains("División: División desconocida «NOPE»"),
        "{live}"
    );
    assert!(!live.contains("division:"), "{live}");
    // The same form in English (the language switch sets the cookie).
    let (_, english) = s
        .console_post_in(&login, Some("en"), "/requests/new", &fields)
        .await;
    assert!(
        english.contains("Unknown division &quot;NOPE&quot;")
            || english.contains("Unknown division &#34;NOPE&#34;"),
        "{english}"
    );
    assert!(english.contains("Must be 1 to"), "{english}");
}

/// A step the platform failed once reads, in the request's history, in the
/// user's language around the platform's own words.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_step_reads_in_the_users_language() {
    use butler::sim::{FaultKind, Op, ScriptedFault};
    let s = start(butler_server::HttpSettings::default()).await;
    s.sim().script_fault(ScriptedFault::nth_call(
        Op::MonitorRegister,
        1,
        None,
        FaultKind::Transient,
    ));
    let bea = Actor::trusted("bea", [Role::Approver]).unwrap();
    let r = submitted_by_ana(&s, "lang03").await;
    let reqs = s.state.butler().requests();
    reqs.approve(&bea, r.id, r.version).await.unwrap();
    let login = s.browser("ana").await;
    let done = common::wait_for_state(&s, &login, r.id.0, "completed").await;
    let history = done["history"].to_string();
    assert!(history.contains("monitor attempt 1 failed"), "{history}");
    let page = s.page(&login, &format!("/requests/{}", r.id.0)).await;
    assert!(page.contains("Monitorizar #1 fallido: "), "{page}");
    assert!(!page.contains("attempt 1 failed"), "{page}");
}

/// A migration group's refused edit reads in the user's language.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_group_edit_reads_in_the_users_language() {
    let s = start(butler_server::HttpSettings::default()).await;
    let olga = s.browser("olga").await;
    let (status, page) = s.console_post(&olga, "/groups", &[("name", "   ")]).await;
    assert!(
        page.contains("El nombre de grupo «   » no es válido"),
        "{status}: {page}"
    );
    assert!(!page.contains("is invalid"), "{page}");
}
