//! The request service as a host application uses it.

use butler_core::auth::{Actor, Role};
use butler_core::auth::{DenyReason, Operation};
use butler_core::request::{ActionKind, RequestState};
use butler_core::service::RequestService;
use butler_core::store::{MemoryStore, RequestQuery};
use butler_core::vm_spec::{SpecErrorCode, VmSpec};
use butler_core::{demo, ButlerError};
use std::sync::Arc;

fn svc() -> RequestService {
    RequestService::new(
        Arc::new(MemoryStore::new()),
        demo::catalog(),
        demo::rate_book(),
    )
}
fn ana() -> Actor {
    Actor::trusted("ana", [Role::Requester]).unwrap()
}
fn otto() -> Actor {
    Actor::trusted("otto", [Role::Requester]).unwrap()
}
fn bea() -> Actor {
    Actor::trusted("bea", [Role::Approver]).unwrap()
}

#[tokio::test]
async fn invalid_spec_is_refused_with_every_problem_and_stores_nothing() {
    let s = svc();
    let bad = VmSpec {
        name: "web 01".into(),
        nics: vec!["vlan-30".into()],
        ..demo::spec("x")
    };
    match s.create(&ana(), bad).await {
        Err(ButlerError::Validation(e)) => {
            assert_eq!(
                e.codes(),
                vec![SpecErrorCode::NameInvalid, SpecErrorCode::NicVlanNotAllowed]
            )
        }
        other => panic!("expected validation error, got {other:?}"),
    }
    let page = s.list(&bea(), &RequestQuery::default()).await.unwrap();
    assert_eq!(page.total, 0);
}

#[tokio::test]
async fn requesters_see_and_touch_only_their_own() {
    let s = svc();
    let mine = s.create(&ana(), demo::spec("a1")).await.unwrap();
    let theirs = s.create(&otto(), demo::spec("o1")).await.unwrap();
    let page = s
        .list(
            &ana(),
            &RequestQuery {
                owner: Some("otto".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        page.items.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![mine.id]
    );
    assert!(matches!(
        s.get(&ana(), theirs.id).await,
        Err(ButlerError::NotFound(_))
    ));
    assert!(matches!(
        s.submit(&ana(), theirs.id, theirs.version).await,
        Err(ButlerError::NotFound(_))
    ));
    assert_eq!(
        s.list(&bea(), &RequestQuery::default())
            .await
            .unwrap()
            .total,
        2
    );
    let viewer = Actor::trusted("vic", [Role::Viewer]).unwrap();
    assert_eq!(s.get(&viewer, theirs.id).await.unwrap().id, theirs.id);
    match s.cancel(&viewer, theirs.id, theirs.version, None).await {
        Err(ButlerError::Denied(e)) => {
            assert_eq!(
                (e.action, e.reason.clone()),
                (
                    Operation::Request(ActionKind::Cancel),
                    DenyReason::MissingRole {
                        needs: vec![Role::Requester, Role::Approver]
                    }
                )
            );
            assert!(
                e.to_string()
                    .starts_with("vic may not cancel request #2 in state created"),
                "{e}"
            );
        }
        other => panic!("{other:?}"),
    }
    let unchanged = s.get(&bea(), theirs.id).await.unwrap();
    assert_eq!(unchanged, theirs);
}

#[tokio::test]
async fn full_approval_story_with_history_and_cost_diff() {
    let s = svc();
    let r = s.create(&ana(), demo::spec("web01")).await.unwrap();
    let r = s
        .save(
            &ana(),
            r.id,
            r.version,
            VmSpec {
                ram_gib: 6,
                ..demo::spec("web01")
            },
        )
        .await
        .unwrap();
    let r = s.submit(&ana(), r.id, r.version).await.unwrap();
    // Once submitted the requester may still cancel but no longer edit.
    assert!(matches!(
        s.save(&ana(), r.id, r.version, demo::spec("web01")).await,
        Err(ButlerError::Denied(_))
    ));
    let r = s
        .review(
            &bea(),
            r.id,
            r.version,
            VmSpec {
                ram_gib: 8,
                ..demo::spec("web01")
            },
        )
        .await
        .unwrap();
    // Reviewed: the requester can no longer cancel.
    let denied = s.cancel(&ana(), r.id, r.version, None).await.unwrap_err();
    assert!(
        matches!(denied, ButlerError::Denied(ref e) if e.reason == DenyReason::WrongState),
        "{denied:?}"
    );
    let r = s.approve(&bea(), r.id, r.version).await.unwrap();
    assert_eq!(r.state, RequestState::Approved);
    assert_eq!(r.approver.as_deref(), Some("bea"));
    let actions: Vec<ActionKind> = r.history.iter().map(|h| h.action).collect();
    assert_eq!(
        actions,
        vec![
            ActionKind::Create,
            ActionKind::Save,
            ActionKind::Submit,
            ActionKind::Review,
            ActionKind::Approve
        ]
    );
    let review = &r.history[3];
    assert_eq!(review.changes.len(), 1);
    assert_eq!(review.changes[0].field, "ram_gib");
    let cost = review.cost.as_ref().unwrap();
    assert!(cost.after > cost.before);
}

#[tokio::test]
async fn stale_version_is_a_conflict_and_racing_approvers_get_one_decision() {
    let s = Arc::new(svc());
    let r = s.create(&ana(), demo::spec("web01")).await.unwrap();
    let r = s.submit(&ana(), r.id, r.version).await.unwrap();
    let b2 = Actor::trusted("bob", [Role::Approver]).unwrap();
    let b1 = bea();
    let (x, y) = tokio::join!(
        s.approve(&b1, r.id, r.version),
        s.reject(&b2, r.id, r.version, "too big")
    );
    let oks = [x.is_ok(), y.is_ok()].iter().filter(|b| **b).count();
    assert_eq!(oks, 1, "{x:?} {y:?}");
    let loser = if x.is_ok() { y } else { x };
    assert!(matches!(loser, Err(ButlerError::Conflict(_))), "{loser:?}");
    let final_r = s.get(&bea(), r.id).await.unwrap();
    assert_eq!(final_r.history.len(), 3);
}

#[tokio::test]
async fn reject_needs_a_reason_and_final_states_stay_final() {
    let s = svc();
    let r = s.create(&ana(), demo::spec("web01")).await.unwrap();
    let r = s.submit(&ana(), r.id, r.version).await.unwrap();
    assert!(matches!(
        s.reject(&bea(), r.id, r.version, "  ").await,
        Err(ButlerError::Invalid(_))
    ));
    let r = s
        .reject(&bea(), r.id, r.version, "use a smaller VM")
        .await
        .unwrap();
    assert_eq!(r.state, RequestState::Rejected);
    assert_eq!(
        r.history.last().unwrap().note.as_deref(),
        Some("use a smaller VM")
    );
    assert!(
        matches!(s.approve(&bea(), r.id, r.version).await, Err(ButlerError::Denied(e)) if e.reason == DenyReason::Final)
    );
}

#[tokio::test]
async fn only_admins_replace_catalog_and_rates() {
    let s = svc();
    assert!(matches!(
        s.set_catalog(&bea(), demo::catalog()),
        Err(ButlerError::Denied(e)) if e.action == Operation::EditCatalog
    ));
    s.set_catalog(
        &Actor::trusted("root", [Role::Admin]).unwrap(),
        demo::catalog(),
    )
    .unwrap();
}
