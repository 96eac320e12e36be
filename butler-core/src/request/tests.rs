use super::*;
use crate::auth::{Actor, Role};
use crate::cost::estimate;
use crate::demo;
use crate::spec::{validate, VmSpec};
use chrono::{TimeZone, Utc};
use proptest::prelude::*;

/// The authorization table, written by hand from SPEC §1 and §3:
/// role, action, states in which it is allowed, and whether only the owner may.
const TABLE: &str = "
requester save               created             own
requester submit             created             own
requester cancel             created,requested   own
approver  save               created             own
approver  submit             created             own
approver  cancel             created,requested   own
approver  review             requested,reviewed  any
approver  reject             requested,reviewed  any
approver  approve            requested,reviewed  any
approver  retry              error               any
admin     retry              error               any
engine    start_provisioning approved            any
engine    step_retry         provisioning        any
engine    step_done          provisioning        any
engine    fail               provisioning        any
";

fn expected(role: Role, action: ActionKind, state: RequestState, own: bool) -> bool {
    TABLE.lines().filter(|l| !l.trim().is_empty()).any(|l| {
        let cols: Vec<&str> = l.split_whitespace().collect();
        cols[0] == role.to_string()
            && cols[1] == action.as_str()
            && cols[2].split(',').any(|s| s == state.as_str())
            && (cols[3] == "any" || own)
    })
}

#[test]
fn every_role_state_action_and_ownership_matches_the_spec_table() {
    let mut checked = 0;
    for role in Role::ALL {
        let actor = Actor::new("someone", [role]);
        for state in RequestState::ALL {
            for action in ActionKind::ALL
                .into_iter()
                .filter(|a| *a != ActionKind::Create)
            {
                for own in [true, false] {
                    let got = permits(&actor, own, state, action);
                    assert_eq!(
                        got.is_ok(),
                        expected(role, action, state, own),
                        "{role} {action} in {state} (own: {own}) gave {got:?}"
                    );
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, 6 * 9 * 11 * 2);
    for role in Role::ALL {
        let may_create = matches!(role, Role::Requester | Role::Approver);
        let got = permits(
            &Actor::new("x", [role]),
            true,
            RequestState::Created,
            ActionKind::Create,
        );
        assert_eq!(got.is_ok(), may_create, "{role} create");
    }
}

#[test]
fn denials_name_the_reason() {
    let viewer = Actor::new("vic", [Role::Viewer]);
    assert_eq!(
        permits(&viewer, false, RequestState::Requested, ActionKind::Approve),
        Err(DenyReason::MissingRole {
            needs: vec![Role::Approver]
        })
    );
    let other = Actor::new("otto", [Role::Requester]);
    assert_eq!(
        permits(&other, false, RequestState::Created, ActionKind::Submit),
        Err(DenyReason::NotVisible)
    );
    let approver = Actor::new("bea", [Role::Approver]);
    assert_eq!(
        permits(&approver, false, RequestState::Created, ActionKind::Submit),
        Err(DenyReason::NotOwner)
    );
    assert_eq!(
        permits(
            &approver,
            false,
            RequestState::Rejected,
            ActionKind::Approve
        ),
        Err(DenyReason::Final)
    );
    assert_eq!(
        permits(
            &approver,
            false,
            RequestState::Approved,
            ActionKind::Approve
        ),
        Err(DenyReason::WrongState)
    );
}

fn at(min: i64) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).single().unwrap() + chrono::Duration::minutes(min)
}

fn priced(spec: VmSpec) -> Box<Priced> {
    let v = validate(&spec, &demo::catalog()).unwrap();
    let e = estimate(&v, &demo::rate_book(), at(0).date_naive()).unwrap();
    Box::new(Priced {
        spec: v,
        estimate: e,
    })
}

fn new_request(owner: &Actor) -> Request {
    create(RequestId(7), owner, *priced(demo::spec("web01")), at(0)).unwrap()
}

#[test]
fn review_records_field_changes_and_cost_before_after() {
    let ana = Actor::new("ana", [Role::Requester]);
    let bea = Actor::new("bea", [Role::Approver]);
    let r = new_request(&ana);
    let (r, _) = transition(&r, &ana, Action::Submit, at(1)).unwrap();
    let bigger = VmSpec {
        ram_gib: 8,
        disks_gib: vec![50, 100],
        ..demo::spec("web01")
    };
    let (r2, entry) = transition(&r, &bea, Action::Review(priced(bigger)), at(2)).unwrap();
    assert_eq!(r2.state, RequestState::Reviewed);
    assert_eq!(r2.approver.as_deref(), Some("bea"));
    assert_eq!(r2.version, r.version + 1);
    assert_eq!(
        entry.changes,
        vec![
            FieldChange {
                field: "ram_gib".into(),
                old: Some("4".into()),
                new: Some("8".into())
            },
            FieldChange {
                field: "disks_gib[1]".into(),
                old: None,
                new: Some("100".into())
            },
        ]
    );
    let cost = entry.cost.clone().unwrap();
    assert_eq!(cost.before, r.estimate.total);
    assert_eq!(cost.after, r2.estimate.total);
    assert!(cost.after > cost.before);
    assert_eq!(r2.history.last(), Some(&entry));
    assert!(entry.to_string().contains("ram_gib: 4 → 8"));
}

#[test]
fn provisioning_walks_the_steps_fails_and_retries_at_the_failed_step() {
    let ana = Actor::new("ana", [Role::Requester]);
    let bea = Actor::new("bea", [Role::Approver]);
    let eng = Actor::engine();
    let adm = Actor::new("root", [Role::Admin]);
    let r = new_request(&ana);
    let (r, _) = transition(&r, &ana, Action::Submit, at(1)).unwrap();
    let (r, _) = transition(&r, &bea, Action::Approve, at(2)).unwrap();
    let (r, _) = transition(&r, &eng, Action::StartProvisioning, at(3)).unwrap();
    assert_eq!(
        r.progress,
        Some(StepProgress {
            step: ProvisioningStep::CreateVm,
            attempt: 1
        })
    );
    let wrong = transition(
        &r,
        &eng,
        Action::StepDone {
            step: ProvisioningStep::Bill,
            vm_uuid: None,
            note: None,
        },
        at(4),
    );
    assert_eq!(wrong.unwrap_err().reason, DenyReason::WrongStep);
    let (r, _) = transition(
        &r,
        &eng,
        Action::StepDone {
            step: ProvisioningStep::CreateVm,
            vm_uuid: Some("u-1".into()),
            note: None,
        },
        at(4),
    )
    .unwrap();
    let (r, _) = transition(
        &r,
        &eng,
        Action::StepRetry {
            step: ProvisioningStep::Protect,
            reason: "503".into(),
        },
        at(5),
    )
    .unwrap();
    assert_eq!(
        r.progress,
        Some(StepProgress {
            step: ProvisioningStep::Protect,
            attempt: 2
        })
    );
    let (r, e) = transition(
        &r,
        &eng,
        Action::Fail {
            step: ProvisioningStep::Protect,
            reason: "still 503".into(),
        },
        at(6),
    )
    .unwrap();
    assert_eq!(r.state, RequestState::Error);
    assert_eq!(
        r.failure,
        Some(StepFailure {
            step: ProvisioningStep::Protect,
            attempts: 2,
            reason: "still 503".into()
        })
    );
    assert!(e
        .note
        .unwrap()
        .contains("protect failed after 2 attempt(s)"));
    assert!(transition(&r, &ana, Action::Retry, at(7)).is_err());
    let (r, _) = transition(&r, &adm, Action::Retry, at(7)).unwrap();
    assert_eq!(
        r.progress,
        Some(StepProgress {
            step: ProvisioningStep::Protect,
            attempt: 1
        })
    );
    let mut r = r;
    for step in [
        ProvisioningStep::Protect,
        ProvisioningStep::Monitor,
        ProvisioningStep::Bill,
    ] {
        r = transition(
            &r,
            &eng,
            Action::StepDone {
                step,
                vm_uuid: None,
                note: None,
            },
            at(8),
        )
        .unwrap()
        .0;
    }
    assert_eq!(r.state, RequestState::Completed);
    assert_eq!(r.vm_uuid.as_deref(), Some("u-1"));
    assert_eq!(r.platform_vm_name(), "web01-r7");
}

fn actors() -> Vec<Actor> {
    vec![
        Actor::new("ana", [Role::Requester]),
        Actor::new("otto", [Role::Requester]),
        Actor::new("bea", [Role::Approver]),
        Actor::new("vic", [Role::Viewer]),
        Actor::new("ops", [Role::Operator]),
        Actor::new("root", [Role::Admin]),
        Actor::engine(),
    ]
}

fn action_for(i: usize, step: Option<ProvisioningStep>, ram: u32) -> Action {
    let step = step.unwrap_or(ProvisioningStep::CreateVm);
    match i {
        0 => Action::Save(priced(VmSpec {
            ram_gib: ram,
            ..demo::spec("web01")
        })),
        1 => Action::Submit,
        2 => Action::Cancel { reason: None },
        3 => Action::Review(priced(VmSpec {
            ram_gib: ram,
            ..demo::spec("web01")
        })),
        4 => Action::Reject {
            reason: "no".into(),
        },
        5 => Action::Approve,
        6 => Action::StartProvisioning,
        7 => Action::StepRetry {
            step,
            reason: "flaky".into(),
        },
        8 => Action::StepDone {
            step,
            vm_uuid: Some("u".into()),
            note: None,
        },
        9 => Action::Fail {
            step,
            reason: "down".into(),
        },
        _ => Action::Retry,
    }
}

/// Every edge of the SPEC §3 diagram (plus the engine's internal ones).
fn legal_edge(from: RequestState, to: RequestState) -> bool {
    use RequestState as S;
    matches!(
        (from, to),
        (S::Created, S::Created | S::Requested | S::Cancelled)
            | (
                S::Requested,
                S::Cancelled | S::Reviewed | S::Rejected | S::Approved
            )
            | (S::Reviewed, S::Reviewed | S::Rejected | S::Approved)
            | (S::Approved, S::Provisioning)
            | (S::Provisioning, S::Provisioning | S::Completed | S::Error)
            | (S::Error, S::Provisioning)
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn random_sequences_keep_every_invariant(
        steps in proptest::collection::vec((0usize..7, 0usize..11, 1u32..16), 1..40)
    ) {
        let actors = actors();
        let mut r = new_request(&actors[0]);
        for (n, (who, what, ram)) in steps.into_iter().enumerate() {
            let actor = &actors[who];
            let before = r.clone();
            let action = action_for(what, r.progress.map(|p| p.step), ram);
            let kind = action.kind();
            match transition(&r, actor, action, at(n as i64 + 1)) {
                Ok((next, entry)) => {
                    prop_assert!(!before.state.is_final(), "left final state {}", before.state);
                    prop_assert!(legal_edge(before.state, next.state), "{} -> {}", before.state, next.state);
                    prop_assert_eq!(entry.from, Some(before.state));
                    prop_assert_eq!(entry.to, next.state);
                    prop_assert_eq!(next.version, before.version + 1);
                    prop_assert_eq!(&next.history[..before.history.len()], &before.history[..]);
                    prop_assert_eq!(next.history.len(), before.history.len() + 1);
                    if matches!(kind, ActionKind::Approve | ActionKind::Reject | ActionKind::Review) {
                        prop_assert!(actor.has(Role::Approver));
                    }
                    if matches!(kind, ActionKind::Save | ActionKind::Submit | ActionKind::Cancel) {
                        prop_assert_eq!(&actor.name, &r.owner);
                    }
                    prop_assert_eq!(next.progress.is_some(), next.state == RequestState::Provisioning);
                    prop_assert_eq!(next.failure.is_some(), next.state == RequestState::Error);
                    r = next;
                }
                Err(e) => {
                    prop_assert_eq!(e.action, kind);
                    prop_assert_eq!(e.state, Some(before.state));
                    prop_assert_eq!(&e.actor, &actor.name);
                }
            }
        }
        // The history is one path from creation to the current state.
        let mut state = None;
        for (i, h) in r.history.iter().enumerate() {
            prop_assert_eq!(h.seq as usize, i + 1);
            prop_assert_eq!(h.from, state);
            state = Some(h.to);
        }
        prop_assert_eq!(state, Some(r.state));
    }
}
