//! Approval rules (SPEC §13) through the request service on the
//! simulator: a submitted request approved or refused by a rule in the
//! same write, or left for its approvers with what it needs; every
//! decision in the history naming its rule and the rules' version; an
//! Admin's change versioned, checked before use, and kept in the trail; a
//! requester's dry run.

mod common;

use butler::auth::{Actor, Role};
use butler::request::{ActionKind, RequestState};
use butler::rules::{Outcome, Rules};
use butler::sim::SimPlatform;
use butler::store::MemoryStore;
use butler::ButlerError;
use common::{ana, bea, World};
use std::sync::Arc;

fn world() -> World {
    World::new(SimPlatform::demo(7), Arc::new(MemoryStore::new()))
}

fn ada() -> Actor {
    Actor::trusted("ada", [Role::Admin]).unwrap()
}

fn rules(text: &str) -> Rules {
    Rules::from_toml(text).unwrap()
}

const SMALL_PRD_AUTO: &str = r#"
    [[rule]]
    name = "small VMs"
    when = { vcpus = { max = 2 }, ram_gib = { max = 8 } }
    outcome = "approve"

    [[rule]]
    name = "no VMs for FIN"
    when = { divisions = ["RET"], units = ["FIN"] }
    outcome = "refuse"
    reason = "FIN asks through the platform team"

    [[rule]]
    name = "big VMs"
    when = { vcpus = { min = 8 } }
    outcome = "require"
    levels = [{ role = "approver" }, { role = "admin" }]
"#;

#[tokio::test]
async fn a_small_vm_is_approved_by_its_rule_and_provisioned_without_an_approver() {
    let w = world();
    let book = w
        .svc
        .set_rules(&ada(), rules(SMALL_PRD_AUTO))
        .await
        .unwrap();
    assert_eq!(book.version, 1);
    let r = w
        .svc
        .create(&ana(), butler::demo::spec("small01"))
        .await
        .unwrap();
    let r = w.svc.submit(&ana(), r.id, r.version).await.unwrap();
    assert_eq!(r.state, RequestState::Approved);
    assert_eq!(r.approver.as_deref(), Some("butler-engine"));
    let last = r.history.last().unwrap();
    assert_eq!(
        (last.actor.as_str(), last.action, last.from, last.to),
        (
            "butler-engine",
            ActionKind::Approve,
            Some(RequestState::Requested),
            RequestState::Approved
        )
    );
    assert_eq!(
        last.note.as_deref(),
        Some("approved automatically by rule \"small VMs\" (rules v1)")
    );
    // One write: what is stored is what was returned.
    assert_eq!(w.get(r.id).await, r);
    let e = w.engine(World::engine_config("e1"));
    assert_eq!(e.run_until_idle().await.unwrap().completed, 1);
    assert_eq!(w.get(r.id).await.state, RequestState::Completed);
}

#[tokio::test]
async fn a_refused_request_is_rejected_with_the_rule_and_its_reason() {
    let w = world();
    w.svc
        .set_rules(&ada(), rules(SMALL_PRD_AUTO))
        .await
        .unwrap();
    let mut spec = butler::demo::spec("fin01");
    spec.unit = "FIN".into();
    spec.division = "RET".into();
    let vms = w.sim.vm_count();
    let r = w.svc.create(&ana(), spec).await.unwrap();
    let r = w.svc.submit(&ana(), r.id, r.version).await.unwrap();
    assert_eq!(r.state, RequestState::Rejected);
    assert_eq!(
        r.history.last().unwrap().note.as_deref(),
        Some("refused by rule \"no VMs for FIN\" (rules v1): FIN asks through the platform team")
    );
    let e = w.engine(World::engine_config("e1"));
    assert_eq!(e.run_until_idle().await.unwrap().completed, 0);
    assert_eq!(w.sim.vm_count(), vms, "nothing was made");
}

#[tokio::test]
async fn a_request_that_needs_approval_says_what_and_why_and_waits() {
    let w = world();
    w.svc
        .set_rules(&ada(), rules(SMALL_PRD_AUTO))
        .await
        .unwrap();
    let mut spec = butler::demo::spec("big01");
    spec.cores_per_socket = 4;
    spec.sockets = 2;
    let r = w.svc.create(&ana(), spec).await.unwrap();
    let r = w.svc.submit(&ana(), r.id, r.version).await.unwrap();
    assert_eq!(r.state, RequestState::Requested);
    let submit = r.history.last().unwrap();
    assert_eq!(
        (submit.actor.as_str(), submit.action),
        ("ana", ActionKind::Submit)
    );
    assert_eq!(
        submit.note.as_deref(),
        Some("needs approval by approver, then admin (rule \"big VMs\", rules v1)")
    );
    // Without rules, a request needs its one approver, as always.
    let w = world();
    let r = w
        .svc
        .create(&ana(), butler::demo::spec("plain01"))
        .await
        .unwrap();
    let r = w.svc.submit(&ana(), r.id, r.version).await.unwrap();
    assert_eq!(r.state, RequestState::Requested);
    assert_eq!(
        r.history.last().unwrap().note.as_deref(),
        Some("needs approval by approver (no rule matched, rules v0)")
    );
    w.svc.approve(&bea(), r.id, r.version).await.unwrap();
}

#[tokio::test]
async fn a_day_2_request_is_decided_by_the_rules_too() {
    let w = world();
    let rec = w.provisioned("old01").await;
    w.svc
        .set_rules(
            &ada(),
            rules(
                r#"
                [[rule]]
                name = "retire freely"
                when = { kinds = ["decommission"] }
                outcome = "approve"
                "#,
            ),
        )
        .await
        .unwrap();
    let r = w.svc.decommission(&ana(), rec.id).await.unwrap();
    assert_eq!(r.state, RequestState::Approved);
    assert_eq!(w.get(r.id).await.state, RequestState::Approved);
    let e = w.engine(World::engine_config("e1"));
    assert_eq!(e.run_until_idle().await.unwrap().completed, 1);
    assert_eq!(w.get(r.id).await.state, RequestState::Completed);
}

#[tokio::test]
async fn rules_are_versioned_checked_before_use_and_kept_in_a_trail() {
    let w = world();
    let before = w.svc.rules().await.unwrap();
    assert_eq!((before.version, before.rules.len()), (0, 0));
    // A typo is refused, naming the rule and what is wrong; nothing changes.
    let typo = rules(
        r#"
        [[rule]]
        name = "dev"
        when = { environments = ["DEVV"] }
        outcome = "approve"
        "#,
    );
    match w.svc.set_rules(&ada(), typo).await {
        Err(ButlerError::Invalid(m)) => assert_eq!(
            m,
            "approval rules: rule 1 (\"dev\"): environments: no \"DEVV\" in the catalog"
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(w.svc.rules().await.unwrap().version, 0);
    // Only an Admin changes them.
    assert!(matches!(
        w.svc.set_rules(&bea(), Rules::default()).await,
        Err(ButlerError::Denied(_))
    ));
    w.svc
        .set_rules(&ada(), rules(SMALL_PRD_AUTO))
        .await
        .unwrap();
    let v2 = w.svc.set_rules(&ada(), Rules::default()).await.unwrap();
    assert_eq!(v2.version, 2);
    let trail: Vec<(u32, usize, String)> = w
        .svc
        .rule_history()
        .await
        .unwrap()
        .iter()
        .map(|b| (b.version, b.rules.len(), b.changed_by.clone()))
        .collect();
    assert_eq!(trail, vec![(1, 3, "ada".into()), (2, 0, "ada".into())]);
    // A decision names the version in force when it was taken.
    let r = w
        .svc
        .create(&ana(), butler::demo::spec("v2"))
        .await
        .unwrap();
    let r = w.svc.submit(&ana(), r.id, r.version).await.unwrap();
    assert!(r
        .history
        .last()
        .unwrap()
        .note
        .as_deref()
        .unwrap()
        .ends_with("rules v2)"));
}

#[tokio::test]
async fn a_requester_dry_runs_a_draft_and_a_form_and_changes_nothing() {
    let w = world();
    w.svc
        .set_rules(&ada(), rules(SMALL_PRD_AUTO))
        .await
        .unwrap();
    let draft = w
        .svc
        .create(&ana(), butler::demo::spec("draft01"))
        .await
        .unwrap();
    let why = w.svc.dry_run(&ana(), draft.id).await.unwrap();
    assert_eq!(why.decision.outcome, Outcome::Approve);
    assert_eq!(why.decision.rules, vec!["small VMs".to_string()]);
    let first = &why.rules[0];
    assert!(first.matched);
    assert_eq!(
        first
            .conditions
            .iter()
            .map(|c| (c.condition.as_str(), c.value.as_str(), c.holds))
            .collect::<Vec<_>>(),
        vec![("vcpus ≤ 2", "2", true), ("ram_gib ≤ 8", "4", true)]
    );
    assert!(!why.rules[2].matched, "big VMs: vcpus ≥ 8 does not hold");
    assert_eq!(w.get(draft.id).await, draft, "a dry run writes nothing");
    // Another user's request: not theirs to dry-run (their roles decide).
    assert!(matches!(
        w.svc.dry_run(&bea(), draft.id).await,
        Err(ButlerError::Invalid(_))
    ));
    let mut big = butler::demo::spec("big02");
    big.sockets = 8;
    let form = w.svc.dry_run_spec(&ana(), &big).await.unwrap();
    assert_eq!(form.decision.rules, vec!["big VMs".to_string()]);
    assert_eq!(form.decision.levels().len(), 2);
}

#[tokio::test]
async fn the_builder_puts_a_deployment_s_rules_in_force_or_refuses_the_rule_at_fault() {
    let b = butler::Butler::builder()
        .simulator(SimPlatform::demo(3))
        .rules(rules(SMALL_PRD_AUTO))
        .build()
        .unwrap();
    let book = b.requests().rules().await.unwrap();
    assert_eq!(
        (book.version, book.rules.len(), book.changed_by.as_str()),
        (1, 3, "deployment")
    );
    let bad = butler::Butler::builder()
        .simulator(SimPlatform::demo(3))
        .rules(rules(
            "[[rule]]\nname = \"c\"\nwhen = { clusters = [\"nowhere\"] }\noutcome = \"approve\"\n",
        ))
        .build();
    match bad {
        Err(ButlerError::Invalid(m)) => assert!(m.contains("clusters: no \"nowhere\""), "{m}"),
        other => panic!("{:?}", other.map(|_| ())),
    }
}

fn ada_approver() -> Actor {
    Actor::trusted("ada", [Role::Approver, Role::Admin]).unwrap()
}

fn carl() -> Actor {
    Actor::trusted("carl", [Role::Approver]).unwrap()
}

const TWO_LEVELS: &str = r#"
    [[rule]]
    name = "big VMs"
    when = { vcpus = { min = 8 } }
    outcome = "require"
    levels = [{ role = "approver" }, { role = "admin", users = ["ada"] }]
"#;

fn big(name: &str) -> butler::vm_spec::VmSpec {
    let mut spec = butler::demo::spec(name);
    spec.sockets = 4;
    spec.cores_per_socket = 2;
    spec
}

fn reason(e: ButlerError) -> butler::auth::DenyReason {
    match e {
        ButlerError::Denied(d) => d.reason,
        other => panic!("expected a denial, got {other}"),
    }
}

#[tokio::test]
async fn a_request_is_approved_level_by_level_with_four_eyes_at_each() {
    use butler::auth::DenyReason;
    let w = world();
    w.svc.set_rules(&ada(), rules(TWO_LEVELS)).await.unwrap();
    let r = w.svc.create(&ana(), big("big10")).await.unwrap();
    let r = w.svc.submit(&ana(), r.id, r.version).await.unwrap();
    let levels = r.approval.clone().expect("levels from the rule");
    assert_eq!(levels.levels.len(), 2);
    assert_eq!(w.get(r.id).await.approval, r.approval, "stored");

    // Level 1 waits for any approver but its owner.
    let queue = |who: Actor| {
        let svc = w.svc.clone();
        async move {
            svc.approval_queue(&who, 100)
                .await
                .unwrap()
                .iter()
                .map(|r| r.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(queue(bea()).await, vec![r.id]);
    assert_eq!(queue(ana()).await, vec![], "not an approver");
    let own = w.svc.approve(&ana(), r.id, r.version).await.unwrap_err();
    assert!(matches!(
        reason(own),
        DenyReason::OwnRequest | DenyReason::MissingRole { .. }
    ));

    let r = w.svc.approve(&bea(), r.id, r.version).await.unwrap();
    assert_eq!(r.state, RequestState::Requested, "one level of two");
    let entry = r.history.last().unwrap();
    assert_eq!(
        (entry.actor.as_str(), entry.action, entry.note.as_deref()),
        ("bea", ActionKind::Approve, Some("level 1 of 2 (approver)"))
    );
    let e = w.engine(World::engine_config("e1"));
    assert_eq!(
        e.run_until_idle().await.unwrap().completed,
        0,
        "not approved yet"
    );

    // Level 2: only ada; bea may not approve twice, carl is not at it.
    assert_eq!(queue(bea()).await, vec![]);
    assert_eq!(queue(carl()).await, vec![]);
    assert_eq!(queue(ada_approver()).await, vec![r.id]);
    let twice = w.svc.approve(&bea(), r.id, r.version).await.unwrap_err();
    assert_eq!(reason(twice), DenyReason::ApprovedAlready);
    let carl_at_2 = w.svc.approve(&carl(), r.id, r.version).await.unwrap_err();
    assert_eq!(reason(carl_at_2), DenyReason::NotAtLevel);
    assert_eq!(w.get(r.id).await, r, "refusals change nothing");

    let r = w
        .svc
        .approve(&ada_approver(), r.id, r.version)
        .await
        .unwrap();
    assert_eq!(r.state, RequestState::Approved);
    assert_eq!(
        r.history.last().unwrap().note.as_deref(),
        Some("level 2 of 2 (admin (ada))")
    );
    assert_eq!(e.run_until_idle().await.unwrap().completed, 1);
}

#[tokio::test]
async fn an_edit_after_a_level_sends_the_request_back_to_level_1_when_the_rule_says() {
    let w = world();
    let restart = TWO_LEVELS.replace(
        "outcome = \"require\"",
        "outcome = \"require\"\n    restart_on_edit = true",
    );
    w.svc.set_rules(&ada(), rules(&restart)).await.unwrap();
    let r = w.svc.create(&ana(), big("big11")).await.unwrap();
    let r = w.svc.submit(&ana(), r.id, r.version).await.unwrap();
    let r = w.svc.approve(&bea(), r.id, r.version).await.unwrap();
    let mut smaller = big("big11");
    smaller.ram_gib = 8;
    let r = w
        .svc
        .review(&ada_approver(), r.id, r.version, smaller)
        .await
        .unwrap();
    assert_eq!(r.state, RequestState::Reviewed);
    assert_eq!(
        r.approval.as_ref().unwrap().approved_by,
        Vec::<String>::new()
    );
    assert_eq!(
        r.history.last().unwrap().note.as_deref(),
        Some("edited after 1 of 2 levels: back to level 1")
    );
    // Without the flag, an edit keeps the levels passed.
    let w = world();
    w.svc.set_rules(&ada(), rules(TWO_LEVELS)).await.unwrap();
    let r = w.svc.create(&ana(), big("big12")).await.unwrap();
    let r = w.svc.submit(&ana(), r.id, r.version).await.unwrap();
    let r = w.svc.approve(&bea(), r.id, r.version).await.unwrap();
    let r = w
        .svc
        .review(&ada_approver(), r.id, r.version, big("big12b"))
        .await
        .unwrap();
    assert_eq!(r.approval.unwrap().approved_by, vec!["bea".to_string()]);
}

#[tokio::test]
async fn rules_live_in_the_store_shared_by_processes_and_kept_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("butler.sqlite");
    let start = |deployment: Option<&str>| {
        let mut b = butler::Butler::builder()
            .simulator(SimPlatform::demo(3))
            .sqlite(&path);
        if let Some(text) = deployment {
            b = b.rules(rules(text));
        }
        b.build().unwrap()
    };
    let history = |b: &butler::Butler| {
        let svc = b.requests().clone();
        async move {
            svc.rule_history()
                .await
                .unwrap()
                .iter()
                .map(|v| (v.version, v.rules.len(), v.changed_by.clone()))
                .collect::<Vec<_>>()
        }
    };
    {
        let one = start(Some(SMALL_PRD_AUTO));
        assert_eq!(history(&one).await, vec![(1, 3, "deployment".into())]);
    }
    // A restart with the same file adds no version.
    let one = start(Some(SMALL_PRD_AUTO));
    assert_eq!(history(&one).await.len(), 1);
    // An Admin's change on one process is in force on another at once.
    let two = start(None);
    one.requests()
        .set_rules(&ada(), rules(TWO_LEVELS))
        .await
        .unwrap();
    assert_eq!(two.requests().rules().await.unwrap().version, 2);
    let r = two.requests().create(&ana(), big("shared")).await.unwrap();
    let r = two
        .requests()
        .submit(&ana(), r.id, r.version)
        .await
        .unwrap();
    assert!(r
        .history
        .last()
        .unwrap()
        .note
        .as_deref()
        .unwrap()
        .ends_with("rules v2)"));
    // Two Admins writing the next version at once: one wins.
    let stale = two.requests().rules().await.unwrap().version;
    one.requests()
        .set_rules(&ada(), Rules::default())
        .await
        .unwrap();
    let book = butler::rules::RuleBook {
        version: stale + 1,
        rules: vec![],
        quotas: Vec::new(),
        approvers: Vec::new(),
        changed_by: "ada".into(),
        changed_at: chrono::Utc::now(),
    };
    assert!(matches!(
        two.requests().store().add_rule_book(&book).await,
        Err(butler::store::StoreError::Conflict { .. })
    ));
    drop((one, two));
    // The Admin's rules stay over a restart with the unchanged file; a
    // changed file is the next version.
    let again = start(Some(SMALL_PRD_AUTO));
    assert_eq!(again.requests().rules().await.unwrap().version, 3);
    drop(again);
    let changed = start(Some(TWO_LEVELS));
    assert_eq!(
        history(&changed).await.last().unwrap(),
        &(4, 1, "deployment".to_string())
    );
}

/// A level scoped to the request's unit is for the approvers the book
/// lists for that unit, named when the request is submitted: bea, an
/// approver not listed for IT, is not at it; carl, listed, approves. A
/// unit with none listed falls back to its division's.
#[tokio::test]
async fn a_unit_scoped_level_is_for_the_units_approvers() {
    let w = world();
    w.svc
        .set_rules(
            &ada(),
            rules(
                r#"
    [[rule]]
    name = "unit approval"
    outcome = "require"
    levels = [{ role = "approver", scope = "unit" }]

    [[approvers]]
    unit = "IT"
    users = ["carl"]

    [[approvers]]
    division = "CORP"
    users = ["ada"]
"#,
            ),
        )
        .await
        .unwrap();
    let r = w
        .svc
        .create(&ana(), butler::demo::spec("unit1"))
        .await
        .unwrap();
    let r = w.svc.submit(&ana(), r.id, r.version).await.unwrap();
    let level = &r.approval.as_ref().unwrap().levels[0];
    assert_eq!(level.users, vec!["carl".to_string()]);
    assert_eq!(
        r.history.last().unwrap().note.as_deref(),
        Some("needs approval by approver (carl) (rule \"unit approval\", rules v1)")
    );
    let not_listed = w.svc.approve(&bea(), r.id, r.version).await.unwrap_err();
    assert_eq!(reason(not_listed), butler::auth::DenyReason::NotAtLevel);
    let r = w.svc.approve(&carl(), r.id, r.version).await.unwrap();
    assert_eq!(r.state, RequestState::Approved);

    // Another unit of CORP with no approvers of its own: the division's.
    let mut spec = butler::demo::spec("unit2");
    spec.unit = w
        .svc
        .catalog()
        .units
        .iter()
        .map(|u| u.code.clone())
        .find(|u| u != "IT")
        .unwrap();
    let r = w.svc.create(&ana(), spec).await.unwrap();
    let r = w.svc.submit(&ana(), r.id, r.version).await.unwrap();
    assert_eq!(
        r.approval.as_ref().unwrap().levels[0].users,
        vec!["ada".to_string()]
    );

    // Approvers for a unit the catalog does not know: refused, naming it.
    let e = w
        .svc
        .set_rules(
            &ada(),
            rules("[[approvers]]\nunit = \"NOPE\"\nusers = [\"carl\"]\n"),
        )
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("approvers 1 (\"unit NOPE\"): not in the catalog"),
        "{e}"
    );
}
