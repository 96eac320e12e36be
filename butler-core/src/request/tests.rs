use super::*;
use crate::auth::{Actor, DenyReason, Policy, Role};
use crate::cost::estimate;
use crate::demo;
use crate::vm_spec::{validate, VmSpec};
use chrono::{TimeZone, Utc};
use proptest::prelude::*;

const P: Policy = Policy::standard();

fn permits(
    actor: &Actor,
    own: bool,
    state: RequestState,
    action: ActionKind,
) -> Result<(), DenyReason> {
    P.request(actor, own, state, action)
}

#[test]
fn denials_name_the_reason() {
    let viewer = Actor::trusted("vic", [Role::Viewer]).unwrap();
    assert_eq!(
        permits(&viewer, false, RequestState::Requested, ActionKind::Approve),
        Err(DenyReason::MissingRole {
            needs: vec![Role::Approver]
        })
    );
    let other = Actor::trusted("otto", [Role::Requester]).unwrap();
    assert_eq!(
        permits(&other, false, RequestState::Created, ActionKind::Submit),
        Err(DenyReason::NotVisible)
    );
    let approver = Actor::trusted("bea", [Role::Approver]).unwrap();
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
    assert_eq!(
        permits(
            &approver,
            true,
            RequestState::Requested,
            ActionKind::Approve
        ),
        Err(DenyReason::OwnRequest)
    );
    assert_eq!(
        Policy::without_four_eyes().request(
            &approver,
            true,
            RequestState::Requested,
            ActionKind::Approve
        ),
        Ok(())
    );
    let admin = Actor::trusted("root", [Role::Admin]).unwrap();
    for kind in ActionKind::ALL.into_iter().filter(|k| k.is_engine_only()) {
        assert_eq!(
            permits(&admin, false, RequestState::Approved, kind),
            Err(DenyReason::EngineOnly)
        );
    }
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
    create(&P, RequestId(7), owner, *priced(demo::spec("web01")), at(0)).unwrap()
}

#[test]
fn review_records_field_changes_and_cost_before_after() {
    let ana = Actor::trusted("ana", [Role::Requester]).unwrap();
    let bea = Actor::trusted("bea", [Role::Approver]).unwrap();
    let r = new_request(&ana);
    let (r, _) = transition(&P, &r, &ana, Action::Submit, at(1)).unwrap();
    let bigger = VmSpec {
        ram_gib: 8,
        disks_gib: vec![50, 100],
        ..demo::spec("web01")
    };
    let (r2, entry) = transition(&P, &r, &bea, Action::Review(priced(bigger)), at(2)).unwrap();
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
    let ana = Actor::trusted("ana", [Role::Requester]).unwrap();
    let bea = Actor::trusted("bea", [Role::Approver]).unwrap();
    let adm = Actor::trusted("root", [Role::Admin]).unwrap();
    let r = new_request(&ana);
    let (r, _) = transition(&P, &r, &ana, Action::Submit, at(1)).unwrap();
    let (r, _) = transition(&P, &r, &bea, Action::Approve, at(2)).unwrap();
    let (r, _) = advance(&r, EngineAction::StartProvisioning, at(3)).unwrap();
    assert_eq!(
        r.progress,
        Some(StepProgress {
            step: ProvisioningStep::CreateVm,
            attempt: 1
        })
    );
    let wrong = advance(
        &r,
        EngineAction::StepDone {
            step: ProvisioningStep::Bill,
            vm_uuid: None,
            note: None,
            said: None,
        },
        at(4),
    );
    assert_eq!(wrong.unwrap_err().reason, DenyReason::WrongStep);
    let (r, done) = advance(
        &r,
        EngineAction::StepDone {
            step: ProvisioningStep::CreateVm,
            vm_uuid: Some("u-1".into()),
            note: Some("VM u-1".into()),
            said: Some(crate::said::Said::text("VM u-1")),
        },
        at(4),
    )
    .unwrap();
    // The step's own line inside the history's code, worded as the note.
    let said = done.said.clone().unwrap();
    assert_eq!(said.code, crate::said::SaidCode::StepSucceeded);
    assert_eq!(said.parts, vec![crate::said::Said::text("VM u-1")]);
    assert_eq!(Some(said.to_string()), done.note);
    let (r, _) = advance(
        &r,
        EngineAction::StepRetry {
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
    let (r, e) = advance(
        &r,
        EngineAction::Fail {
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
    assert!(transition(&P, &r, &ana, Action::Retry, at(7)).is_err());
    let (r, _) = transition(&P, &r, &adm, Action::Retry, at(7)).unwrap();
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
        ProvisioningStep::Inventory,
    ] {
        r = advance(
            &r,
            EngineAction::StepDone {
                step,
                vm_uuid: None,
                note: None,
                said: None,
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
        Actor::trusted("ana", [Role::Requester]).unwrap(),
        Actor::trusted("otto", [Role::Requester]).unwrap(),
        Actor::trusted("bea", [Role::Approver]).unwrap(),
        Actor::trusted("vic", [Role::Viewer]).unwrap(),
        Actor::trusted("ops", [Role::Operator]).unwrap(),
        Actor::trusted("root", [Role::Admin]).unwrap(),
    ]
}

/// A user action (by actor index) or an engine action.
enum Move {
    User(usize, Action),
    Engine(EngineAction),
}

fn move_for(who: usize, i: usize, step: Option<ProvisioningStep>, ram: u32) -> Move {
    let step = step.unwrap_or(ProvisioningStep::CreateVm);
    let user = |a| Move::User(who, a);
    match i {
        0 => user(Action::Save(priced(VmSpec {
            ram_gib: ram,
            ..demo::spec("web01")
        }))),
        1 => user(Action::Submit),
        2 => user(Action::Cancel { reason: None }),
        3 => user(Action::Review(priced(VmSpec {
            ram_gib: ram,
            ..demo::spec("web01")
        }))),
        4 => user(Action::Reject {
            reason: "no".into(),
        }),
        5 => user(Action::Approve),
        6 => Move::Engine(EngineAction::StartProvisioning),
        7 => Move::Engine(EngineAction::StepRetry {
            step,
            reason: "flaky".into(),
        }),
        8 => Move::Engine(EngineAction::StepDone {
            step,
            vm_uuid: Some("u".into()),
            note: None,
            said: None,
        }),
        9 => Move::Engine(EngineAction::Fail {
            step,
            reason: "down".into(),
        }),
        _ => user(Action::Retry),
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
        steps in proptest::collection::vec((0usize..6, 0usize..11, 1u32..16), 1..40)
    ) {
        let actors = actors();
        let mut r = new_request(&actors[0]);
        let mut engine_steps_done = 0;
        for (n, (who, what, ram)) in steps.into_iter().enumerate() {
            let before = r.clone();
            let mv = move_for(who, what, r.progress.map(|p| p.step), ram);
            let (result, actor) = match mv {
                Move::User(w, action) => {
                    let kind = action.kind();
                    let actor = &actors[w];
                    let out = transition(&P, &r, actor, action, at(n as i64 + 1));
                    if out.is_ok() {
                        if matches!(kind, ActionKind::Approve | ActionKind::Reject | ActionKind::Review) {
                            prop_assert!(actor.has(Role::Approver));
                            prop_assert_ne!(actor.name(), r.owner.as_str(), "four eyes");
                        }
                        if matches!(kind, ActionKind::Save | ActionKind::Submit | ActionKind::Cancel) {
                            prop_assert_eq!(actor.name(), r.owner.as_str());
                        }
                    }
                    if let Err(e) = &out {
                        prop_assert_eq!(e.action, crate::auth::Operation::Request(kind));
                        prop_assert_eq!(e.actor.as_str(), actor.name());
                    }
                    (out, Some(actor))
                }
                Move::Engine(a) => (advance(&r, a, at(n as i64 + 1)), None),
            };
            match result {
                Ok((next, entry)) => {
                    prop_assert!(!before.state.is_final(), "left final state {}", before.state);
                    prop_assert!(legal_edge(before.state, next.state), "{} -> {}", before.state, next.state);
                    prop_assert_eq!(entry.from, Some(before.state));
                    prop_assert_eq!(entry.to, next.state);
                    prop_assert_eq!(next.version, before.version + 1);
                    prop_assert_eq!(&next.history[..before.history.len()], &before.history[..]);
                    prop_assert_eq!(next.history.len(), before.history.len() + 1);
                    prop_assert_eq!(next.progress.is_some(), next.state == RequestState::Provisioning);
                    prop_assert_eq!(next.failure.is_some(), next.state == RequestState::Error);
                    if actor.is_none() && entry.action == ActionKind::StepDone {
                        engine_steps_done += 1;
                    }
                    // A step's note is kept as a code too, worded the same.
                    if matches!(entry.action, ActionKind::StepDone | ActionKind::StepRetry) {
                        prop_assert_eq!(entry.said.as_ref().map(ToString::to_string), entry.note.clone());
                        prop_assert_eq!(&next.history.last().and_then(|h| h.said.clone()), &entry.said);
                    }
                    if next.state == RequestState::Completed {
                        // Completed only through the engine's last step.
                        prop_assert!(actor.is_none());
                        prop_assert_eq!(entry.action, ActionKind::StepDone);
                        prop_assert!(engine_steps_done >= ProvisioningStep::PROVISIONING.len());
                    }
                    r = next;
                }
                Err(e) => prop_assert_eq!(e.state, Some(before.state)),
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

/// Approvers for the level tests: some approve, some hold admin too, one
/// owns the request and approves as well.
fn level_actors() -> Vec<Actor> {
    vec![
        Actor::trusted("owen", [Role::Approver]).unwrap(),
        Actor::trusted("bea", [Role::Approver]).unwrap(),
        Actor::trusted("carl", [Role::Approver]).unwrap(),
        Actor::trusted("ada", [Role::Approver, Role::Admin]).unwrap(),
        Actor::trusted("root", [Role::Admin]).unwrap(),
        Actor::trusted("ana", [Role::Requester]).unwrap(),
    ]
}

fn arb_level() -> impl Strategy<Value = crate::rules::Level> {
    use crate::rules::Level;
    prop_oneof![
        Just(Level::role(Role::Approver)),
        Just(Level::role(Role::Admin)),
        Just(Level {
            role: Role::Approver,
            users: vec!["carl".into(), "ada".into()],
            scope: None,
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    /// A request with levels is approved only once every level is passed,
    /// each by a different person, never its owner, each admitted by the
    /// level; an approval short of the last keeps the state; a refused
    /// one changes nothing; an edit sends it back to level 1 exactly when
    /// the rule says.
    #[test]
    fn levels_are_passed_in_order_by_distinct_admitted_approvers(
        levels in proptest::collection::vec(arb_level(), 1..4),
        restart_on_edit in any::<bool>(),
        moves in proptest::collection::vec((0usize..6, any::<bool>()), 1..30),
    ) {
        let actors = level_actors();
        let owner = &actors[0];
        let mut r = new_request(owner);
        r = transition(&P, &r, owner, Action::Submit, at(1)).unwrap().0;
        r.approval = Some(super::Approval { levels: levels.clone(), approved_by: vec![], restart_on_edit });
        for (n, (who, approve)) in moves.into_iter().enumerate() {
            if r.state.is_final() || r.state == RequestState::Approved {
                break;
            }
            let actor = &actors[who];
            let before = r.clone();
            let action = if approve {
                Action::Approve
            } else {
                let mut spec = before.spec.spec().clone();
                spec.ram_gib = 4 + (n as u32 % 3);
                Action::Review(priced(spec))
            };
            match transition(&P, &r, actor, action, at(n as i64 + 2)) {
                Err(_) => {}
                Ok((next, _)) => {
                    let (b, a) = (before.approval.as_ref().unwrap(), next.approval.as_ref().unwrap());
                    if approve {
                        let (i, level) = b.next_level().unwrap();
                        prop_assert!(level.admits(actor));
                        prop_assert!(!b.approved_by(actor.name()), "approved twice");
                        prop_assert_ne!(actor.name(), r.owner.as_str(), "four eyes");
                        prop_assert_eq!(a.approved_by.len(), i + 1);
                        if i + 1 == levels.len() {
                            prop_assert_eq!(next.state, RequestState::Approved);
                        } else {
                            prop_assert_eq!(next.state, before.state);
                        }
                    } else if restart_on_edit {
                        prop_assert!(a.approved_by.is_empty());
                    } else {
                        prop_assert_eq!(&a.approved_by, &b.approved_by);
                    }
                    r = next;
                }
            }
        }
        let a = r.approval.as_ref().unwrap();
        prop_assert_eq!(r.state == RequestState::Approved, a.approved_by.len() == levels.len());
        let mut seen = std::collections::BTreeSet::new();
        for name in &a.approved_by {
            prop_assert!(seen.insert(name.clone()), "{} approved twice", name);
        }
    }
}
