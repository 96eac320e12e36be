//! Request screens: list, new request, request page, edit/review, actions.

use super::{render, Chrome, Form, Viewer};
use crate::AppState;
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use butler::catalog::Catalog;
use butler::request::{ActionKind, Request, RequestId, RequestState};
use butler::store::RequestQuery;
use butler::vm_spec::VmSpec;
use butler::ButlerError;
use chrono::{NaiveDate, TimeZone, Utc};
use std::collections::{BTreeMap, HashMap};

const PAGE: usize = 25;

#[derive(Template)]
#[template(path = "requests.html")]
struct ListPage {
    c: Chrome,
    rows: Vec<Request>,
    total: usize,
    state: String,
    owner: String,
    from: String,
    to: String,
    states: Vec<&'static str>,
    query: String,
    prev: Option<String>,
    next: Option<String>,
}

fn day(text: &str) -> Option<chrono::DateTime<Utc>> {
    let d = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").ok()?;
    Utc.from_local_datetime(&d.and_hms_opt(0, 0, 0)?).single()
}

fn qs(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs.iter().filter(|(_, v)| !v.is_empty()))
        .finish()
}

pub(super) async fn list(
    State(state): State<AppState>,
    v: Viewer,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    let (st, owner, from, to) = (get("state"), get("owner"), get("from"), get("to"));
    let offset: usize = get("offset").parse().unwrap_or(0);
    let states = RequestState::ALL
        .iter()
        .filter(|s| s.as_str() == st)
        .copied()
        .collect::<Vec<_>>();
    let query = RequestQuery {
        states,
        owner: (!owner.is_empty()).then(|| owner.clone()),
        created_from: day(&from),
        // "to" is a whole day, inclusive.
        created_to: day(&to).map(|d| d + chrono::Duration::days(1)),
        offset,
        limit: Some(PAGE),
    };
    let page = match state.butler().requests().list(&v.actor, &query).await {
        Ok(p) => p,
        Err(e) => return v.butler_error(e),
    };
    let base = [
        ("state", st.as_str()),
        ("owner", owner.as_str()),
        ("from", from.as_str()),
        ("to", to.as_str()),
    ];
    let with_offset = |o: usize| {
        let o = o.to_string();
        let mut p = base.to_vec();
        p.push(("offset", &o));
        format!("/requests?{}", qs(&p))
    };
    let api_query = {
        let mut p: Vec<(&str, &str)> = vec![("owner", owner.as_str())];
        if !st.is_empty() {
            p.push(("state", st.as_str()));
        }
        let f = day(&from).map(|d| d.to_rfc3339()).unwrap_or_default();
        let t = day(&to)
            .map(|d| (d + chrono::Duration::days(1)).to_rfc3339())
            .unwrap_or_default();
        p.push(("created_from", f.as_str()));
        p.push(("created_to", t.as_str()));
        qs(&p)
    };
    render(&ListPage {
        prev: (offset > 0).then(|| with_offset(offset.saturating_sub(PAGE))),
        next: (offset + page.items.len() < page.total).then(|| with_offset(offset + PAGE)),
        c: v.chrome,
        total: page.total,
        rows: page.items,
        state: st,
        owner,
        from,
        to,
        states: RequestState::ALL.iter().map(|s| s.as_str()).collect(),
        query: api_query,
    })
}

/// What the request form shows.
#[derive(Template)]
#[template(path = "request_form.html")]
struct FormPage {
    c: Chrome,
    /// "new", "edit" (owner) or "review" (approver).
    mode: &'static str,
    id: u64,
    version: u64,
    spec: VmSpec,
    disks: String,
    cat: std::sync::Arc<Catalog>,
    errors: BTreeMap<String, Vec<String>>,
}

impl FormPage {
    fn err(&self, field: &str) -> String {
        self.errors
            .get(field)
            .map(|m| m.join("; "))
            .unwrap_or_default()
    }

    fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    fn nic_on(&self, vlan: &str) -> bool {
        self.spec.nics.iter().any(|n| n == vlan)
    }

    fn image_is(&self, name: &str) -> bool {
        self.spec.image.as_deref() == Some(name)
    }
}

/// The form's spec, and the fields that are not even numbers.
fn spec_from(form: &Form) -> (VmSpec, BTreeMap<String, Vec<String>>) {
    let mut errors: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let (cores, sockets, ram, disks) = resources_from(form, &mut errors);
    let image = Some(form.one("image").to_string()).filter(|i| !i.is_empty());
    let spec = VmSpec {
        name: form.one("name").trim().to_string(),
        cores_per_socket: cores,
        sockets,
        ram_gib: ram,
        division: form.one("division").to_string(),
        unit: form.one("unit").to_string(),
        environment: form.one("environment").to_string(),
        disk_type: form.one("disk_type").to_string(),
        cluster: form.one("cluster").to_string(),
        disks_gib: disks,
        nics: form.all("nics"),
        image,
        backup_local: form.checked("backup_local"),
        backup_remote: form.checked("backup_remote"),
        cdrom: form.checked("cdrom"),
        special_requirement: form.one("special_requirement").to_string(),
        lease_days: lease_from(form, &mut errors),
    };
    (spec, errors)
}

/// The form's lease in days: empty is none (or the environment's cap);
/// anything else must be a whole number.
fn lease_from(form: &Form, errors: &mut BTreeMap<String, Vec<String>>) -> Option<u32> {
    let text = form.one("lease_days").trim();
    if text.is_empty() {
        return None;
    }
    match text.parse::<u32>() {
        Ok(n) => Some(n),
        Err(_) => {
            errors
                .entry("lease_days".to_string())
                .or_default()
                .push("a whole number".into());
            None
        }
    }
}

/// The form's cores per socket, sockets, RAM and disks (comma-separated
/// GiB), each field that is not a number noted in `errors`.
pub(super) fn resources_from(
    form: &Form,
    errors: &mut BTreeMap<String, Vec<String>>,
) -> (u32, u32, u32, Vec<u32>) {
    let mut number = |key: &str| -> u32 {
        match form.one(key).trim().parse::<u32>() {
            Ok(n) => n,
            Err(_) => {
                errors
                    .entry(key.to_string())
                    .or_default()
                    .push("a whole number".into());
                0
            }
        }
    };
    let sockets = number("sockets");
    let cores = number("cores_per_socket");
    let ram = number("ram_gib");
    let mut disks = Vec::new();
    for part in form
        .one("disks_gib")
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        match part.parse::<u32>() {
            Ok(n) => disks.push(n),
            Err(_) => errors
                .entry("disks_gib".into())
                .or_default()
                .push(format!("{part:?} is not a size in GiB")),
        }
    }
    (cores, sockets, ram, disks)
}

/// Library problems by form field (`disks_gib[1]` → `disks_gib`).
fn field_errors(lang: super::i18n::Lang, e: &ButlerError) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    match e {
        ButlerError::Validation(errs) => {
            for p in &errs.0 {
                let root = p.field.split(['[', '.']).next().unwrap_or("").to_string();
                out.entry(root)
                    .or_default()
                    .push(super::i18n::spec_problem(lang, p));
            }
        }
        other => out.entry("_".into()).or_default().push(other.to_string()),
    }
    out
}

/// `errors` (the fields that are not even numbers) and every problem
/// validation finds in the other fields, so one typo hides nothing.
fn with_spec_problems(
    state: &AppState,
    lang: super::i18n::Lang,
    spec: &VmSpec,
    mut errors: BTreeMap<String, Vec<String>>,
) -> BTreeMap<String, Vec<String>> {
    let catalog = state.butler().requests().catalog();
    if let Err(e) = butler::vm_spec::validate(spec, &catalog) {
        for (field, problems) in field_errors(lang, &ButlerError::Validation(e)) {
            errors.entry(field).or_insert(problems);
        }
    }
    errors
}

pub(super) fn disks_text(spec: &VmSpec) -> String {
    spec.disks_gib
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn form_page(
    state: &AppState,
    v: Viewer,
    mode: &'static str,
    r: Option<&Request>,
    spec: VmSpec,
    errors: BTreeMap<String, Vec<String>>,
) -> FormPage {
    FormPage {
        c: v.chrome,
        mode,
        id: r.map(|r| r.id.0).unwrap_or(0),
        version: r.map(|r| r.version).unwrap_or(0),
        disks: disks_text(&spec),
        spec,
        cat: state.butler().requests().catalog(),
        errors,
    }
}

pub(super) async fn new_form(State(state): State<AppState>, v: Viewer) -> Response {
    let cat = state.butler().requests().catalog();
    let spec = VmSpec {
        sockets: 1,
        cores_per_socket: 2,
        ram_gib: 4,
        disks_gib: vec![50],
        cluster: cat
            .clusters
            .first()
            .map(|c| c.name.clone())
            .unwrap_or_default(),
        ..VmSpec::default()
    };
    render(&form_page(&state, v, "new", None, spec, BTreeMap::new()))
}

pub(super) async fn create(State(state): State<AppState>, v: Viewer, body: Bytes) -> Response {
    let form = Form::parse(&body);
    if let Err(r) = v.check_csrf(&form) {
        return r;
    }
    let (spec, errors) = spec_from(&form);
    if !errors.is_empty() {
        let errors = with_spec_problems(&state, v.chrome.lang, &spec, errors);
        let page = form_page(&state, v, "new", None, spec, errors);
        return (StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response();
    }
    let service = state.butler().requests();
    let r = match service.create(&v.actor, spec.clone()).await {
        Ok(r) => r,
        Err(e) => {
            let errors = field_errors(v.chrome.lang, &e);
            let page = form_page(&state, v, "new", None, spec, errors);
            return (StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response();
        }
    };
    if form.one("then") == "submit" {
        if let Err(e) = service.submit(&v.actor, r.id, r.version).await {
            return v.butler_error(e);
        }
    }
    Redirect::to(&format!("/requests/{}", r.id.0)).into_response()
}

#[derive(Template)]
#[template(path = "estimate.html")]
struct EstimateFragment {
    c: Chrome,
    estimate: Option<butler::cost::Estimate>,
    cost_center: String,
    problems: Vec<String>,
    /// What the VM would leave of each quota it counts against.
    quota: Vec<super::quota::QuotaRow>,
}

/// The live estimate of the form as it stands (an HTML fragment).
pub(super) async fn estimate(State(state): State<AppState>, v: Viewer, body: Bytes) -> Response {
    let form = Form::parse(&body);
    if let Err(r) = v.check_csrf(&form) {
        return r;
    }
    let (spec, errors) = spec_from(&form);
    let mut frag = EstimateFragment {
        c: v.chrome,
        estimate: None,
        cost_center: String::new(),
        problems: errors.values().flatten().cloned().collect(),
        quota: Vec::new(),
    };
    if frag.problems.is_empty() {
        match state.butler().requests().price(&spec) {
            Ok(p) => {
                frag.cost_center = p.spec.derived().cost_center.clone();
                frag.estimate = Some(p.estimate);
                let requests = state.butler().requests();
                if let Ok(q) = requests.quota_preview_spec(&v.actor, spec).await {
                    frag.quota = super::quota::rows(&frag.c, &q.lines, true);
                }
            }
            Err(ButlerError::Validation(errs)) => {
                frag.problems = errs
                    .0
                    .iter()
                    .map(|p| {
                        // The form's label of the field, its index kept
                        // (`disks_gib[1]` → `Discos (GiB…)[1]`).
                        let base = p.field.split('[').next().unwrap_or_default();
                        let index = &p.field[base.len()..];
                        let problem = super::i18n::spec_problem(frag.c.lang, p);
                        format!("{}{index}: {problem}", frag.c.field(base))
                    })
                    .collect()
            }
            Err(e) => frag.problems = vec![e.to_string()],
        }
    }
    render(&frag)
}

/// A step-log line in the page's language: when, the step, the attempt,
/// and what happened (the platform's or library's own detail after it).
fn step_line(c: &Chrome, s: &butler::store::StepLogEntry) -> String {
    use butler::store::StepPhase;
    let what = match &s.phase {
        StepPhase::Started => c.term("phase", "started"),
        StepPhase::Succeeded { detail, said, .. } => {
            let detail = said.as_ref().map_or_else(|| detail.clone(), |s| c.said(s));
            format!("{}: {detail}", c.term("phase", "succeeded"))
        }
        StepPhase::Failed { reason, .. } => format!("{}: {reason}", c.term("phase", "failed")),
    };
    format!(
        "{}  {} #{} {what}",
        c.date(&s.at),
        c.term("step", s.step.as_str()),
        s.attempt
    )
}

/// One history line as shown.
struct HistoryRow {
    at: String,
    actor: String,
    action: String,
    from: String,
    to: String,
    changes: Vec<(String, String, String)>,
    cost: Option<String>,
    note: String,
}

#[derive(Template)]
#[template(path = "request.html")]
struct RequestPage {
    c: Chrome,
    r: Request,
    /// What it holds and would leave of each quota it counts against
    /// (while it waits; empty without quotas).
    quota: Vec<super::quota::QuotaRow>,
    actions: Vec<&'static str>,
    history: Vec<HistoryRow>,
    steps: Vec<String>,
    stale: bool,
}

impl RequestPage {
    fn can(&self, action: &str) -> bool {
        self.actions.contains(&action)
    }
}

/// The actions the library allows `v` on `r` now.
fn allowed(state: &AppState, v: &Viewer, r: &Request) -> Vec<&'static str> {
    let policy = state.butler().requests().policy();
    [
        (ActionKind::Save, "edit"),
        (ActionKind::Submit, "submit"),
        (ActionKind::Cancel, "cancel"),
        (ActionKind::Review, "review"),
        (ActionKind::Approve, "approve"),
        (ActionKind::Reject, "reject"),
        (ActionKind::Retry, "retry"),
    ]
    .into_iter()
    .filter(|(kind, _)| {
        policy
            .check_request(&v.actor, Some((r.id, r.owner.as_str(), r.state)), *kind)
            .is_ok()
    })
    .map(|(_, name)| name)
    .collect()
}

async fn request_page(state: &AppState, v: Viewer, id: u64, stale: bool) -> Response {
    let r = match state.butler().requests().get(&v.actor, RequestId(id)).await {
        Ok(r) => r,
        Err(e) => return v.butler_error(e),
    };
    let log = state
        .butler()
        .store()
        .step_log(r.id)
        .await
        .unwrap_or_default();
    let steps = log.iter().map(|s| step_line(&v.chrome, s)).collect();
    let history = r
        .history
        .iter()
        .map(|h| HistoryRow {
            at: v.chrome.date(&h.at),
            actor: h.actor.clone(),
            action: v.chrome.term("action", h.action.as_str()),
            from: h
                .from
                .map_or_else(|| "-".to_string(), |s| v.chrome.term("state", s.as_str())),
            to: v.chrome.term("state", h.to.as_str()),
            changes: h
                .changes
                .iter()
                .map(|c| {
                    (
                        v.chrome.field(&c.field),
                        c.old.clone().unwrap_or_default(),
                        c.new.clone().unwrap_or_default(),
                    )
                })
                .collect(),
            cost: h.cost.as_ref().map(|c| {
                format!(
                    "{} → {} {}",
                    v.chrome.money(&c.before),
                    v.chrome.money(&c.after),
                    c.currency
                )
            }),
            note: match (&h.said, h.note.as_deref()) {
                (Some(said), _) => v.chrome.said(said),
                (None, n) => n.unwrap_or_default().to_string(),
            },
        })
        .collect();
    let actions = allowed(state, &v, &r);
    let waits = matches!(
        r.state,
        RequestState::Created | RequestState::Requested | RequestState::Reviewed
    );
    let quota = if waits {
        match state
            .butler()
            .requests()
            .quota_preview(&v.actor, r.id)
            .await
        {
            Ok(p) => super::quota::rows(&v.chrome, &p.lines, true),
            Err(e) => return v.butler_error(e),
        }
    } else {
        Vec::new()
    };
    let status = if stale {
        StatusCode::CONFLICT
    } else {
        StatusCode::OK
    };
    (
        status,
        render(&RequestPage {
            c: v.chrome,
            r,
            quota,
            actions,
            history,
            steps,
            stale,
        }),
    )
        .into_response()
}

pub(super) async fn show(
    State(state): State<AppState>,
    v: Viewer,
    Path(id): Path<u64>,
) -> Response {
    request_page(&state, v, id, false).await
}

pub(super) async fn edit_form(
    State(state): State<AppState>,
    v: Viewer,
    Path(id): Path<u64>,
) -> Response {
    let r = match state.butler().requests().get(&v.actor, RequestId(id)).await {
        Ok(r) => r,
        Err(e) => return v.butler_error(e),
    };
    let mode =
        if butler::auth::same_user(&r.owner, v.actor.name()) && r.state == RequestState::Created {
            "edit"
        } else {
            "review"
        };
    let spec = r.spec.spec().clone();
    render(&form_page(&state, v, mode, Some(&r), spec, BTreeMap::new()))
}

pub(super) async fn edit(
    State(state): State<AppState>,
    v: Viewer,
    Path(id): Path<u64>,
    body: Bytes,
) -> Response {
    let form = Form::parse(&body);
    if let Err(r) = v.check_csrf(&form) {
        return r;
    }
    let version = match v.version(&form) {
        Ok(n) => n,
        Err(r) => return r,
    };
    let (spec, errors) = spec_from(&form);
    let service = state.butler().requests();
    let current = match service.get(&v.actor, RequestId(id)).await {
        Ok(r) => r,
        Err(e) => return v.butler_error(e),
    };
    let mode = if form.one("mode") == "review" {
        "review"
    } else {
        "edit"
    };
    if !errors.is_empty() {
        let errors = with_spec_problems(&state, v.chrome.lang, &spec, errors);
        let page = form_page(&state, v, mode, Some(&current), spec, errors);
        return (StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response();
    }
    let result = if mode == "review" {
        service
            .review(&v.actor, RequestId(id), version, spec.clone())
            .await
    } else {
        service
            .save(&v.actor, RequestId(id), version, spec.clone())
            .await
    };
    match result {
        Ok(r) => Redirect::to(&format!("/requests/{}", r.id.0)).into_response(),
        Err(ButlerError::Conflict(_)) => request_page(&state, v, id, true).await,
        Err(e @ ButlerError::Validation(_)) => {
            let errors = field_errors(v.chrome.lang, &e);
            let page = form_page(&state, v, mode, Some(&current), spec, errors);
            (StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response()
        }
        Err(e) => v.butler_error(e),
    }
}

pub(super) async fn act(
    State(state): State<AppState>,
    v: Viewer,
    Path((id, action)): Path<(u64, String)>,
    body: Bytes,
) -> Response {
    let form = Form::parse(&body);
    if let Err(r) = v.check_csrf(&form) {
        return r;
    }
    let version = match v.version(&form) {
        Ok(n) => n,
        Err(r) => return r,
    };
    let reason = form.one("reason").to_string();
    let s = state.butler().requests();
    let (a, id) = (&v.actor, RequestId(id));
    let result = match action.as_str() {
        "submit" => s.submit(a, id, version).await,
        "approve" => s.approve(a, id, version).await,
        "reject" => s.reject(a, id, version, &reason).await,
        "cancel" => {
            s.cancel(a, id, version, Some(reason).filter(|r| !r.is_empty()))
                .await
        }
        "retry" => s.retry(a, id, version).await,
        _ => return v.error_page(StatusCode::NOT_FOUND, "not_found", &action),
    };
    match result {
        Ok(r) => {
            if matches!(action.as_str(), "approve" | "retry") {
                state.wake_engine();
            }
            Redirect::to(&format!("/requests/{}", r.id.0)).into_response()
        }
        Err(ButlerError::Conflict(_)) => request_page(&state, v, id.0, true).await,
        Err(e) => v.butler_error(e),
    }
}
