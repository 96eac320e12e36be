//! Migration screens: groups, VMs, facts, validation, migration progress
//! and reports.

use super::{render, Chrome, Form, Viewer};
use crate::AppState;
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use butler::auth::Operation;
use butler::migration::{GroupId, MigrationGroup, MigrationReport, RunId, Severity, VmOutcome};
use butler::ButlerError;
use std::collections::HashMap;

#[derive(Template)]
#[template(path = "groups.html")]
struct ListPage {
    c: Chrome,
    groups: Vec<MigrationGroup>,
    q: String,
    error: String,
}

pub(super) async fn list(
    State(state): State<AppState>,
    v: Viewer,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let find = q.get("q").cloned().unwrap_or_default();
    match state
        .butler()
        .migrations()
        .find_groups(&v.actor, &find)
        .await
    {
        Ok(groups) => render(&ListPage {
            c: v.chrome,
            groups,
            q: find,
            error: String::new(),
        }),
        Err(e) => v.butler_error(e),
    }
}

pub(super) async fn create(State(state): State<AppState>, v: Viewer, body: Bytes) -> Response {
    let form = Form::parse(&body);
    if let Err(r) = v.check_csrf(&form) {
        return r;
    }
    match state
        .butler()
        .migrations()
        .create_group(&v.actor, form.one("name"))
        .await
    {
        Ok(g) => Redirect::to(&format!("/groups/{}", g.id.0)).into_response(),
        Err(e) => {
            let groups = state
                .butler()
                .migrations()
                .find_groups(&v.actor, "")
                .await
                .unwrap_or_default();
            let error = v.chrome.error(&e);
            let page = ListPage {
                c: v.chrome,
                groups,
                q: String::new(),
                error,
            };
            (StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response()
        }
    }
}

/// A VM of the group with its facts.
struct VmRow {
    name: String,
    selected: bool,
    cluster: String,
    project: String,
    powered_on: String,
    protection_domain: String,
    last_replica: String,
}

/// Findings of one severity and code.
struct FindingGroup {
    severity: &'static str,
    code: String,
    messages: Vec<String>,
}

#[derive(Template)]
#[template(path = "group.html")]
struct GroupPage {
    c: Chrome,
    g: MigrationGroup,
    clusters: Vec<String>,
    rows: Vec<VmRow>,
    facts_age: Option<String>,
    facts_error: String,
    search: String,
    found: Vec<String>,
    findings: Vec<FindingGroup>,
    counts: Option<(u32, u32, u32)>,
    token: Option<String>,
    /// VMs the run would power off (the Operator confirms it).
    power_offs: usize,
    /// The platform moves running VMs live, or the group asks it already:
    /// the live-move choice is shown.
    live_offered: bool,
    reports: Vec<MigrationReport>,
    message: String,
}

async fn group_page(
    state: &AppState,
    v: Viewer,
    id: u64,
    search: String,
    validation: Option<butler::migration::ValidationReport>,
    message: String,
) -> Response {
    let m = state.butler().migrations();
    let g = match m.group(&v.actor, GroupId(id)).await {
        Ok(g) => g,
        Err(e) => return v.butler_error(e),
    };
    let facts = m.facts(&v.actor, g.id).ok();
    let rows = g
        .vms
        .iter()
        .enumerate()
        .map(|(i, vm)| {
            // The facts row of this VM, found by its name: a VM added since
            // the last refresh has none yet, never another VM's.
            let fx = facts.as_ref().and_then(|f| {
                let s = &f.snapshot;
                let j = match s.names.get(i) {
                    Some(n) if *n == vm.name => i,
                    _ => s.names.iter().position(|n| n == &vm.name)?,
                };
                s.row(j)
            });
            let (cluster, project, power, pd, replica) = match fx {
                Some(r) if r.found => (
                    r.cluster.unwrap_or_default(),
                    r.project.unwrap_or_default(),
                    if r.powered_on { "✔" } else { "—" }.to_string(),
                    r.protection_domain.unwrap_or_default(),
                    r.last_replica
                        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                        .unwrap_or_default(),
                ),
                Some(_) => (
                    "?".into(),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                ),
                None if facts.is_some() => (
                    v.chrome.t("not_refreshed").to_string(),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                ),
                None => Default::default(),
            };
            VmRow {
                name: vm.name.clone(),
                selected: vm.selected,
                cluster,
                project,
                powered_on: power,
                protection_domain: pd,
                last_replica: replica,
            }
        })
        .collect();
    // VMs of the source cluster matching the search, to add.
    let mut found = Vec::new();
    if let (false, Some(src)) = (search.trim().is_empty(), &g.source) {
        if let Ok(vms) = m.platform_vms(&v.actor, src, &search, 50).await {
            found = vms
                .into_iter()
                .map(|vm| vm.name)
                .filter(|n| !g.vms.iter().any(|x| &x.name == n))
                .collect();
        }
    }
    let (findings, counts, token) = match (&validation, &facts) {
        (Some(rep), Some(f)) => {
            let mut by: Vec<FindingGroup> = Vec::new();
            for finding in &rep.findings {
                let sev = match finding.severity() {
                    Severity::Error => "error",
                    Severity::Warning => "warning",
                    _ => "info",
                };
                let code = finding.code.to_string();
                let msg = super::i18n::finding(v.chrome.lang, finding, &g, &f.snapshot);
                match by.iter_mut().find(|b| b.severity == sev && b.code == code) {
                    Some(b) => b.messages.push(msg),
                    None => by.push(FindingGroup {
                        severity: sev,
                        code,
                        messages: vec![msg],
                    }),
                }
            }
            let rank = |s: &str| match s {
                "error" => 0,
                "warning" => 1,
                _ => 2,
            };
            by.sort_by_key(|b| rank(b.severity));
            (
                by,
                Some((rep.errors, rep.warnings, rep.infos)),
                rep.token().filter(|_| rep.errors == 0).map(|t| t.encode()),
            )
        }
        _ => (Vec::new(), None, None),
    };
    let power_offs = validation.as_ref().map_or(0, |rep| {
        rep.findings
            .iter()
            .filter(|f| f.code == butler::migration::FindingCode::PowerOffPlanned)
            .count()
    });
    let reports = m.reports(&v.actor, g.id).await.unwrap_or_default();
    let live_offered = g.live || facts.as_ref().is_some_and(|f| f.snapshot.live_moves);
    let page = GroupPage {
        power_offs,
        live_offered,
        clusters: state
            .butler()
            .requests()
            .catalog()
            .clusters
            .iter()
            .map(|c| c.name.clone())
            .collect(),
        rows,
        facts_age: facts.as_ref().map(|f| format!("{} s", f.age.num_seconds())),
        facts_error: facts
            .as_ref()
            .and_then(|f| f.last_error.clone())
            .map(|(_, why)| why)
            .unwrap_or_default(),
        search,
        found,
        findings,
        counts,
        token,
        reports,
        message,
        c: v.chrome,
        g,
    };
    render(&page)
}

pub(super) async fn show(
    State(state): State<AppState>,
    v: Viewer,
    Path(id): Path<u64>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let search = q.get("q").cloned().unwrap_or_default();
    group_page(&state, v, id, search, None, String::new()).await
}

pub(super) async fn act(
    State(state): State<AppState>,
    v: Viewer,
    Path((id, what)): Path<(u64, String)>,
    body: Bytes,
) -> Response {
    let form = Form::parse(&body);
    if let Err(r) = v.check_csrf(&form) {
        return r;
    }
    let m = state.butler().migrations();
    let (a, gid) = (&v.actor, GroupId(id));
    // Edits carry the version read; the other actions need none.
    let edits = [
        "clusters",
        "switch",
        "power_off",
        "live",
        "rename",
        "add_vm",
        "remove_vm",
        "select",
        "deselect",
        "delete",
    ];
    let version = if edits.contains(&what.as_str()) {
        match v.version(&form) {
            Ok(n) => n,
            Err(r) => return r,
        }
    } else {
        0
    };
    let vm = form.one("vm");
    let back = || Redirect::to(&format!("/groups/{id}")).into_response();
    let edited: Result<Option<MigrationGroup>, ButlerError> = match what.as_str() {
        "clusters" => {
            async {
                let mut g = m.group(a, gid).await?;
                if g.version != version {
                    return Err(ButlerError::Conflict(butler::store::StoreError::Conflict {
                        what: format!("migration group {id}"),
                        expected: version,
                        found: g.version,
                    }));
                }
                if g.source.as_deref() != Some(form.one("source")) {
                    g = m.set_source(a, gid, g.version, form.one("source")).await?;
                }
                if g.destination.as_deref() != Some(form.one("destination")) {
                    g = m
                        .set_destination(a, gid, g.version, form.one("destination"))
                        .await?;
                }
                Ok(Some(g))
            }
            .await
        }
        "switch" => m.switch(a, gid, version).await.map(Some),
        "power_off" => {
            let on = form.one("power_off") == "on";
            m.set_power_off(a, gid, version, on).await.map(Some)
        }
        "live" => {
            let on = form.one("live") == "on";
            m.set_live(a, gid, version, on).await.map(Some)
        }
        "rename" => m.rename(a, gid, version, form.one("name")).await.map(Some),
        "add_vm" => then_group(m, a, m.add_vm(a, gid, version, vm).await).await,
        "remove_vm" => then_group(m, a, m.remove_vm(a, gid, version, vm).await).await,
        "select" => then_group(m, a, m.select(a, gid, version, vm, true).await).await,
        "deselect" => then_group(m, a, m.select(a, gid, version, vm, false).await).await,
        "refresh" => m.refresh(a, gid).await.map(|_| None),
        "clone" => {
            let name = Some(form.one("name")).filter(|n| !n.trim().is_empty());
            return match m.clone_group(a, gid, name).await {
                Ok(g) => Redirect::to(&format!("/groups/{}", g.id.0)).into_response(),
                Err(e) => v.butler_error(e),
            };
        }
        "delete" => {
            return match m.delete_group(a, gid, version).await {
                Ok(()) => Redirect::to("/groups").into_response(),
                Err(e) => v.butler_error(e),
            };
        }
        "validate" => {
            return match m.validate(a, gid).await {
                Ok((_, _, report)) => {
                    group_page(&state, v, id, String::new(), Some(report), String::new()).await
                }
                Err(e) => v.butler_error(e),
            };
        }
        "migrate" => {
            let started = async {
                let token = m.parse_token(form.one("token")).await?;
                let confirmed = butler::migration::Confirmations {
                    power_off: form.one("confirm_power_off") == "on",
                };
                m.migrate_with(a, &token, confirmed).await
            }
            .await;
            return match started {
                Ok(handle) => {
                    let run = handle.run().0;
                    state.runs().follow(handle);
                    Redirect::to(&format!("/groups/{id}/run/{run}")).into_response()
                }
                Err(e) => v.butler_error(e),
            };
        }
        "retry_failed" => {
            let run: u64 = form.one("run").parse().unwrap_or(0);
            return match m.validate_failed(a, RunId(run)).await {
                Ok((_, _, report)) => {
                    group_page(&state, v, id, String::new(), Some(report), String::new()).await
                }
                Err(e) => v.butler_error(e),
            };
        }
        "cancel_run" => {
            let run: u64 = form.one("run").parse().unwrap_or(0);
            if let Err(e) = m.authorize(a, Operation::Migrate) {
                return v.butler_error(e);
            }
            if let Some(l) = state.runs().get(RunId(run)) {
                l.cancel();
            }
            return Redirect::to(&format!("/groups/{id}/run/{run}")).into_response();
        }
        _ => return v.error_page(StatusCode::NOT_FOUND, "not_found", &what),
    };
    match edited {
        Ok(_) => back(),
        Err(ButlerError::Conflict(_)) => {
            let msg = v.chrome.t("stale").to_string();
            let res = group_page(&state, v, id, String::new(), None, msg).await;
            (StatusCode::CONFLICT, res).into_response()
        }
        Err(
            e @ (ButlerError::Group(_)
            | ButlerError::NotFound(_)
            | ButlerError::Invalid(_)
            | ButlerError::Refused(_)),
        ) => {
            let msg = v.chrome.error(&e);
            let res = group_page(&state, v, id, String::new(), None, msg).await;
            (StatusCode::UNPROCESSABLE_ENTITY, res).into_response()
        }
        Err(e) => v.butler_error(e),
    }
}

/// One VM line of a report.
struct ReportRow {
    vm: String,
    outcome: String,
    detail: String,
}

#[derive(Template)]
#[template(path = "run.html")]
struct RunPage {
    c: Chrome,
    group: u64,
    run: u64,
    ended: bool,
    rows: Vec<ReportRow>,
    failed: usize,
    /// The outcome shown (`None`: every line).
    only: Option<String>,
    /// Each outcome present and how many lines have it, for the filter.
    outcomes: Vec<(String, usize)>,
}

/// The outcomes a report line can have, in the order the filter lists them.
pub(super) const OUTCOMES: [&str; 5] = [
    "migrated",
    "failed",
    "skipped",
    "post_move_pending",
    "still_running",
];

/// Which lines of a report to show.
#[derive(serde::Deserialize)]
pub(super) struct ReportFilter {
    outcome: Option<String>,
}

pub(super) async fn run_page(
    State(state): State<AppState>,
    v: Viewer,
    Path((group, run)): Path<(u64, u64)>,
    Query(filter): Query<ReportFilter>,
) -> Response {
    let (rep, rows) = match report_rows(&state, &v, run).await {
        Ok(r) => r,
        Err(e) => return v.butler_error(e),
    };
    let only = filter.outcome.filter(|o| OUTCOMES.contains(&o.as_str()));
    let outcomes = OUTCOMES
        .iter()
        .map(|o| {
            (
                o.to_string(),
                rows.iter().filter(|r| r.outcome == *o).count(),
            )
        })
        .filter(|(_, n)| *n > 0)
        .collect();
    let failed = rows.iter().filter(|r| r.outcome == "failed").count();
    let rows = rows
        .into_iter()
        .filter(|r| only.as_ref().is_none_or(|o| *o == r.outcome))
        .collect();
    render(&RunPage {
        c: v.chrome,
        group,
        run,
        ended: rep.ended.is_some(),
        failed,
        rows,
        only,
        outcomes,
    })
}

/// The report as CSV (one line per VM: vm, outcome, detail), for a
/// spreadsheet; cells that a spreadsheet would read as a formula are
/// written as text.
pub(super) async fn run_csv(
    State(state): State<AppState>,
    v: Viewer,
    Path((_group, run)): Path<(u64, u64)>,
) -> Response {
    let (_, rows) = match report_rows(&state, &v, run).await {
        Ok(r) => r,
        Err(e) => return v.butler_error(e),
    };
    let mut out = String::from("vm,outcome,detail\r\n");
    for r in &rows {
        out.push_str(&format!(
            "{},{},{}\r\n",
            butler::csv::cell(&r.vm),
            butler::csv::cell(&r.outcome),
            butler::csv::cell(&r.detail)
        ));
    }
    (
        [
            (
                axum::http::header::CONTENT_TYPE,
                "text/csv; charset=utf-8".to_string(),
            ),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"run-{run}.csv\""),
            ),
        ],
        out,
    )
        .into_response()
}

async fn report_rows(
    state: &AppState,
    v: &Viewer,
    run: u64,
) -> Result<(MigrationReport, Vec<ReportRow>), ButlerError> {
    let rep = state
        .butler()
        .migrations()
        .report(&v.actor, RunId(run))
        .await?;
    let rows: Vec<ReportRow> = rep
        .vms
        .iter()
        .map(|l| {
            // The reason first, then the notes (power changes among them),
            // in the viewer's language.
            let notes = v.chrome.said_all(&l.said_notes(), "; ");
            let why = |reason: &str| {
                std::iter::once(reason)
                    .chain((!notes.is_empty()).then_some(notes.as_str()))
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            let (outcome, detail) = match &l.outcome {
                VmOutcome::Migrated => ("migrated", notes.clone()),
                VmOutcome::Failed { reason } => ("failed", why(reason)),
                VmOutcome::Skipped { reason } => ("skipped", why(reason)),
                VmOutcome::PostMovePending { reason } => ("post_move_pending", why(reason)),
                _ => ("still_running", notes.clone()),
            };
            ReportRow {
                vm: l.vm.clone(),
                outcome: outcome.into(),
                detail,
            }
        })
        .collect();
    Ok((rep, rows))
}

/// The group after a one-VM edit (the page shows it whole).
async fn then_group(
    m: &butler::migration::MigrationService,
    a: &butler::auth::Actor,
    edited: Result<butler::migration::GroupVmsEdited, ButlerError>,
) -> Result<Option<butler::migration::MigrationGroup>, ButlerError> {
    let e = edited?;
    m.group(a, e.id).await.map(Some)
}
