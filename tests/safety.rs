//! SPEC §1 and §8 guarantees, tried through the public API the way a
//! hostile or careless host would: the authorization matrix equals the
//! SPEC's table, no public path reaches `Completed` without the engine,
//! four eyes hold, validation tokens cannot be forged or reused, and users
//! are stored and logged in.

mod common;

use butler::auth::{Actor, DenyReason, Operation, Policy, Role};
use butler::backend::PowerState;
use butler::migration::{MigrationConfig, MigrationGroup, MigrationService};
use butler::request::{ActionKind, RequestState};
use butler::service::RequestService;
use butler::sim::{fleet, SimClock, SimPlatform};
use butler::store::{MemoryStore, SqliteStore, Store};
use butler::users::UserService;
use butler::{demo, ButlerError};
use common::{ana, bea, World};
use std::sync::Arc;

// ---------------------------------------------------------------------
// The matrix, against SPEC §1 written out by hand (not read from the policy).

/// SPEC §1/§3 for requests: role, action, states, whose ("own", "other", "any").
const REQUEST_TABLE: &str = "
requester save    created            own
requester submit  created            own
requester cancel  created,requested  own
approver  save    created            own
approver  submit  created            own
approver  cancel  created,requested  own
approver  review  requested,reviewed other
approver  reject  requested,reviewed other
approver  approve requested,reviewed other
approver  retry   error              any
admin     retry   error              any
";

fn spec_allows_request(role: Role, action: ActionKind, state: RequestState, own: bool) -> bool {
    REQUEST_TABLE
        .lines()
        .filter(|l| !l.trim().is_empty())
        .any(|l| {
            let c: Vec<&str> = l.split_whitespace().collect();
            c[0] == role.as_str()
                && c[1] == action.as_str()
                && c[2].split(',').any(|s| s == state.as_str())
                && match c[3] {
                    "own" => own,
                    "other" => !own,
                    _ => true,
                }
        })
}

/// SPEC §1 for everything else: operation, roles.
fn spec_allows_operation(role: Role, op: Operation) -> bool {
    use Operation as O;
    let roles: &[Role] = match op {
        O::ReadGroups => &[Role::Viewer, Role::Operator, Role::Admin],
        O::EditGroups | O::ValidateGroups | O::Migrate => &[Role::Operator],
        O::RefreshFacts => &[Role::Operator, Role::Admin],
        // SPEC §12: power (besides the owner) and reconcile; adopting, and
        // asking to change or retire a VM one does not own, are an Admin's.
        O::PowerVms | O::ReconcileVms => &[Role::Operator, Role::Admin],
        O::AdoptVms | O::ChangeVms => &[Role::Admin],
        // SPEC §14: an Admin closes a month; those who see every request
        // see every VM's closed figures.
        O::ReadShowbackTotals => &[Role::Approver, Role::Viewer, Role::Admin],
        O::CloseMonths => &[Role::Admin],
        // SPEC §13: rules are versioned and audited; an Admin's.
        O::ReadUsers
        | O::ManageUsers
        | O::EditCatalog
        | O::EditRates
        | O::EditRules
        | O::ReadNotifications => &[Role::Admin],
        other => panic!("{other:?} is not in SPEC §1's table"),
    };
    roles.contains(&role)
}

#[test]
fn every_role_state_action_and_ownership_equals_spec_section_1() {
    let policy = Policy::standard();
    let mut checked = 0;
    for role in Role::ALL {
        let actor = Actor::trusted("someone", [role]).unwrap();
        assert_eq!(
            policy.sees_all_requests(&actor),
            matches!(role, Role::Approver | Role::Viewer | Role::Admin),
            "{role} sees all"
        );
        for state in RequestState::ALL {
            for action in ActionKind::ALL {
                for own in [true, false] {
                    let got = policy.request(&actor, own, state, action);
                    let want = if action == ActionKind::Create {
                        matches!(role, Role::Requester | Role::Approver)
                    } else {
                        spec_allows_request(role, action, state, own)
                    };
                    assert_eq!(
                        got.is_ok(),
                        want,
                        "{role} {action} in {state} (own: {own}): {got:?}"
                    );
                    if action.is_engine_only() {
                        assert_eq!(got, Err(DenyReason::EngineOnly));
                    }
                    checked += 1;
                }
            }
        }
        for op in Operation::OTHERS {
            let got = policy.check(&actor, op);
            assert_eq!(
                got.is_ok(),
                spec_allows_operation(role, op),
                "{role} {op}: {got:?}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 5 * (9 * 12 * 2 + Operation::OTHERS.len()));
}

#[test]
fn holding_several_roles_gives_exactly_their_union() {
    let policy = Policy::standard();
    let both = Actor::trusted("ada", [Role::Admin, Role::Operator]).unwrap();
    for op in Operation::OTHERS {
        assert_eq!(
            policy.check(&both, op).is_ok(),
            spec_allows_operation(Role::Admin, op) || spec_allows_operation(Role::Operator, op),
            "{op}"
        );
    }
}

// ---------------------------------------------------------------------
// Every non-request operation, through the services, for every role.

fn sim(seed: u64) -> SimPlatform {
    SimPlatform::demo_builder(seed)
        .clock(Arc::new(SimClock::tokio_default()))
        .build()
}

fn migrations(s: &SimPlatform, store: Arc<dyn Store>) -> Arc<MigrationService> {
    Arc::new(MigrationService::new(
        store,
        Arc::new(s.clone()),
        s.clock(),
        MigrationConfig::default(),
    ))
}

fn olga() -> Actor {
    Actor::trusted("olga", [Role::Operator]).unwrap()
}

async fn clean_group(
    s: &SimPlatform,
    svc: &MigrationService,
    vms: usize,
) -> (fleet::Fleet, MigrationGroup) {
    let f = fleet::generate(
        s,
        &fleet::FleetSpec {
            vms,
            groups: vms.div_ceil(5),
            ..Default::default()
        },
    );
    let g = svc.create_group(&olga(), "drill").await.unwrap();
    let edit = g.with_members(&f.source, &f.destination, f.vm_names.iter().cloned());
    let g = svc.save(&olga(), &edit).await.unwrap();
    svc.refresh(&olga(), g.id).await.unwrap();
    (f, g)
}

fn denied_for(r: Result<impl std::fmt::Debug, ButlerError>, op: Operation) -> bool {
    match r {
        Err(ButlerError::Denied(d)) => {
            assert_eq!(d.action, op);
            true
        }
        Ok(_) => false,
        Err(other) => panic!("{op}: {other}"),
    }
}

#[tokio::test(start_paused = true)]
async fn every_operation_through_the_services_follows_the_table() {
    for role in Role::ALL {
        let s = sim(11);
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let svc = migrations(&s, store.clone());
        let (_, g) = clean_group(&s, &svc, 10).await;
        let requests = RequestService::with_clock(
            store.clone(),
            demo::catalog(),
            demo::rate_book(),
            s.clock(),
        );
        let users = UserService::with_clock(store.clone(), s.clock());
        users
            .bootstrap_admin("root", "the first admin's password")
            .await
            .unwrap();
        let who = Actor::trusted("who", [role]).unwrap();
        let allowed = |op| spec_allows_operation(role, op);

        assert_eq!(
            !denied_for(svc.find_groups(&who, "").await, Operation::ReadGroups),
            allowed(Operation::ReadGroups),
            "{role}"
        );
        assert_eq!(
            !denied_for(svc.reports(&who, g.id).await, Operation::ReadGroups),
            allowed(Operation::ReadGroups),
            "{role}"
        );
        assert_eq!(
            !denied_for(svc.refresh(&who, g.id).await, Operation::RefreshFacts),
            allowed(Operation::RefreshFacts),
            "{role}"
        );
        assert_eq!(
            !denied_for(svc.validate(&who, g.id).await, Operation::ValidateGroups),
            allowed(Operation::ValidateGroups),
            "{role}"
        );
        assert_eq!(
            !denied_for(svc.create_group(&who, "mine").await, Operation::EditGroups),
            allowed(Operation::EditGroups),
            "{role}"
        );
        let g = svc.group(&olga(), g.id).await.unwrap();
        let (_, _, v) = svc.validate(&olga(), g.id).await.unwrap();
        let token = v.token().unwrap().clone();
        let moved = svc.migrate(&who, &token).await;
        let migrated = !denied_for(
            moved.as_ref().map(|_| ()).map_err(Clone::clone),
            Operation::Migrate,
        );
        assert_eq!(migrated, allowed(Operation::Migrate), "{role}");
        if let Ok(h) = moved {
            h.wait().await.unwrap();
        }
        let g = svc.group(&olga(), g.id).await.unwrap();
        assert_eq!(
            !denied_for(
                svc.switch(&who, g.id, g.version).await,
                Operation::EditGroups
            ),
            allowed(Operation::EditGroups),
            "{role}"
        );
        assert_eq!(
            !denied_for(users.list(&who).await, Operation::ReadUsers),
            allowed(Operation::ReadUsers),
            "{role}"
        );
        assert_eq!(
            !denied_for(
                users
                    .add(
                        &who,
                        &format!("new-{role}"),
                        [Role::Viewer],
                        "a long enough password"
                    )
                    .await,
                Operation::ManageUsers
            ),
            allowed(Operation::ManageUsers),
            "{role}"
        );
        assert_eq!(
            !denied_for(
                requests.set_catalog(&who, demo::catalog()),
                Operation::EditCatalog
            ),
            allowed(Operation::EditCatalog),
            "{role}"
        );
        assert_eq!(
            !denied_for(
                requests.set_rate_book(&who, demo::rate_book()),
                Operation::EditRates
            ),
            allowed(Operation::EditRates),
            "{role}"
        );
        assert_eq!(
            !denied_for(
                requests
                    .set_rules(&who, butler_core::rules::Rules::default())
                    .await,
                Operation::EditRules
            ),
            allowed(Operation::EditRules),
            "{role}"
        );
    }
}

// ---------------------------------------------------------------------
// Engine-only powers.

#[tokio::test(start_paused = true)]
async fn no_user_or_host_call_takes_an_approved_request_further_only_the_engine() {
    let w = World::new(sim(12), Arc::new(MemoryStore::new()));
    let r = w.approved("web01").await;
    let mighty = Actor::trusted("mighty", Role::ALL).unwrap();
    for actor in [ana(), bea(), mighty.clone()] {
        let attempts = [
            w.svc.submit(&actor, r.id, r.version).await,
            w.svc.approve(&actor, r.id, r.version).await,
            w.svc.retry(&actor, r.id, r.version).await,
            w.svc.cancel(&actor, r.id, r.version, None).await,
            w.svc.reject(&actor, r.id, r.version, "no").await,
        ];
        for a in attempts {
            assert!(matches!(a, Err(ButlerError::Denied(_))), "{actor}: {a:?}");
        }
    }
    assert_eq!(w.get(r.id).await, r, "nothing changed");
    assert_eq!(w.sim.vms_named(&r.platform_vm_name()), 0);
    // The engine's names and role are out of reach of hosts and users.
    assert!(Actor::trusted("butler-engine", [Role::Admin]).is_err());
    assert!(Role::parse("engine").is_none());
    let users = UserService::new(Arc::new(MemoryStore::new()));
    assert!(users
        .bootstrap_admin("butler-engine", "the first admin's password")
        .await
        .is_err());

    let engine = w.engine(World::engine_config("e1"));
    engine.run_until_idle().await.unwrap();
    let done = w.get(r.id).await;
    assert_eq!(done.state, RequestState::Completed);
    w.assert_exactly_once(r.id).await;
    let engine_steps = done
        .history
        .iter()
        .filter(|h| h.action == ActionKind::StepDone && h.actor == butler::auth::ENGINE_NAME)
        .count();
    assert_eq!(
        engine_steps,
        butler::request::ProvisioningStep::PROVISIONING.len(),
        "Completed only after every step of the engine's flow"
    );
}

// ---------------------------------------------------------------------
// Four eyes.

#[tokio::test(start_paused = true)]
async fn an_approver_never_handles_their_own_request_unless_switched_off() {
    let w = World::new(sim(13), Arc::new(MemoryStore::new()));
    let r = w.svc.create(&bea(), demo::spec("mine")).await.unwrap();
    let r = w.svc.submit(&bea(), r.id, r.version).await.unwrap();
    for attempt in [
        w.svc.approve(&bea(), r.id, r.version).await,
        w.svc.reject(&bea(), r.id, r.version, "meh").await,
        w.svc
            .review(&bea(), r.id, r.version, demo::spec("bigger"))
            .await,
    ] {
        match attempt {
            Err(ButlerError::Denied(d)) => {
                assert_eq!(d.reason, DenyReason::OwnRequest);
                assert!(d.to_string().contains("four eyes"), "{d}");
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(w.get(r.id).await, r);
    // The same approver under another case or width is the same person.
    for alias in ["BEA", "Bea", "\u{ff42}\u{ff45}\u{ff41}"] {
        let same = Actor::trusted(alias, [Role::Approver]).unwrap();
        match w.svc.approve(&same, r.id, r.version).await {
            Err(ButlerError::Denied(d)) => assert_eq!(d.reason, DenyReason::OwnRequest, "{alias}"),
            other => panic!("{alias} approved bea's request: {other:?}"),
        }
    }
    assert_eq!(w.get(r.id).await, r);
    let other = Actor::trusted("boss", [Role::Approver]).unwrap();
    assert_eq!(
        w.svc.approve(&other, r.id, r.version).await.unwrap().state,
        RequestState::Approved
    );

    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let lax = RequestService::new(store, demo::catalog(), demo::rate_book())
        .with_policy(Policy::without_four_eyes());
    let r = lax.create(&bea(), demo::spec("mine")).await.unwrap();
    let r = lax.submit(&bea(), r.id, r.version).await.unwrap();
    assert_eq!(
        lax.approve(&bea(), r.id, r.version).await.unwrap().state,
        RequestState::Approved
    );
}

// ---------------------------------------------------------------------
// Validation tokens.

#[tokio::test(start_paused = true)]
async fn tampered_forged_foreign_and_stale_tokens_are_refused_and_move_nothing() {
    let s = sim(14);
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let svc = migrations(&s, store.clone());
    let (f, g) = clean_group(&s, &svc, 10).await;
    let on_source = |s: &SimPlatform| {
        f.vm_names
            .iter()
            .filter(|n| s.vm(n).is_some_and(|v| v.cluster == f.source))
            .count()
    };
    let (_, _, v) = svc.validate(&olga(), g.id).await.unwrap();
    assert!(v.can_migrate(), "{:?}", v.findings);
    let token = v.token().unwrap().clone();
    let text = token.encode();
    assert_eq!(svc.parse_token(&text).await.unwrap(), token);

    // Any byte changed, dropped or added: refused.
    let bytes = text.as_bytes();
    for i in 0..bytes.len() {
        for replacement in [b'A', b'0', b'_', b'.'] {
            let mut b = bytes.to_vec();
            if b[i] == replacement {
                continue;
            }
            b[i] = replacement;
            let t = String::from_utf8(b).unwrap();
            assert!(
                svc.parse_token(&t).await.is_err(),
                "byte {i} → {}",
                replacement as char
            );
        }
    }
    assert!(svc.parse_token(&text[..text.len() - 1]).await.is_err());
    assert!(svc.parse_token(&format!("{text}A")).await.is_err());
    assert!(svc.parse_token("").await.is_err());

    // A token issued by another deployment (another store's key), for the
    // same group id and version, is refused.
    let s2 = sim(14);
    let other = migrations(&s2, Arc::new(MemoryStore::new()));
    let (_, g2) = clean_group(&s2, &other, 10).await;
    assert_eq!((g2.id, g2.version), (g.id, g.version));
    let (_, _, foreign) = other.validate(&olga(), g2.id).await.unwrap();
    let refused = svc
        .migrate(&olga(), foreign.token().unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(refused, ButlerError::ValidationRequired(_)),
        "{refused}"
    );
    assert!(svc
        .parse_token(&foreign.token().unwrap().encode())
        .await
        .is_err());

    // Stale: the group changed.
    let edited = svc
        .select(&olga(), g.id, g.version, &f.vm_names[0], false)
        .await
        .unwrap();
    assert!(svc.migrate(&olga(), &token).await.is_err());
    let g = svc
        .select(&olga(), edited.id, edited.version, &f.vm_names[0], true)
        .await
        .unwrap();

    // With errors: a powered-on VM.
    s.set_vm_power(&f.vm_names[1], PowerState::On);
    svc.refresh(&olga(), g.id).await.unwrap();
    let (_, _, bad) = svc.validate(&olga(), g.id).await.unwrap();
    assert!(bad.errors > 0);
    let refused = svc
        .migrate(&olga(), bad.token().unwrap())
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("error"), "{refused}");

    assert_eq!(on_source(&s), 10, "nothing moved");
    assert!(
        svc.reports(&olga(), g.id).await.unwrap().is_empty(),
        "no run was started"
    );

    // A refresh that finds the same facts keeps a token valid.
    s.set_vm_power(&f.vm_names[1], PowerState::Off);
    svc.refresh(&olga(), g.id).await.unwrap();
    let (_, _, ok) = svc.validate(&olga(), g.id).await.unwrap();
    let good = ok.token().unwrap().clone();
    svc.refresh(&olga(), g.id).await.unwrap();
    let report = svc
        .migrate(&olga(), &good)
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    assert_eq!(report.vms.len(), 10);
    assert_eq!(on_source(&s), 0, "the whole group moved");
}

// ---------------------------------------------------------------------
// Stored users and login.

#[tokio::test]
async fn users_are_stored_logged_in_audited_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("users.sqlite");
    {
        let users = UserService::new(Arc::new(SqliteStore::open(&path).unwrap()));
        let root = users
            .bootstrap_admin("root", "the first admin's password")
            .await
            .unwrap();
        assert!(matches!(
            users.bootstrap_admin("eve", "another admin password").await,
            Err(ButlerError::Auth(
                butler::auth::AuthError::AlreadyBootstrapped
            ))
        ));
        users
            .add(&root, "ana", [Role::Requester], "ana's long password")
            .await
            .unwrap();
        users
            .add(&root, "olga", [Role::Operator], "olga's long password")
            .await
            .unwrap();
        users.set_disabled(&root, "olga", true).await.unwrap();
        assert!(matches!(
            users
                .add(&root, "ANA\u{200b}", [Role::Admin], "whatever long pw")
                .await,
            Err(ButlerError::Auth(butler::auth::AuthError::InvalidName(_)))
        ));
        assert!(users
            .add(&root, "bob", [Role::Viewer], "            ")
            .await
            .is_err());
        assert!(users
            .add(&root, "ana", [Role::Viewer], "another long password")
            .await
            .is_err());
        // One user per identity: another case or width of a stored name,
        // or a look-alike of a reserved one, is refused.
        for alias in ["ANA", "Ana", "\u{ff41}\u{ff4e}\u{ff41}"] {
            match users
                .add(&root, alias, [Role::Admin], "another long password")
                .await
            {
                Err(ButlerError::Auth(butler::auth::AuthError::Exists(n))) => assert_eq!(n, "ana"),
                other => panic!("{alias:?} added beside ana: {other:?}"),
            }
        }
        assert!(matches!(
            users
                .add(
                    &root,
                    "butler\u{2010}engine",
                    [Role::Admin],
                    "another long password"
                )
                .await,
            Err(ButlerError::Auth(butler::auth::AuthError::InvalidName(_)))
        ));
        // A user needs a role: none is refused, on adding and on changing.
        let no_role: [Role; 0] = [];
        assert!(matches!(
            users
                .add(&root, "nemo", no_role, "nemo's long password")
                .await,
            Err(ButlerError::Auth(butler::auth::AuthError::NoRole(_)))
        ));
        assert!(matches!(
            users.set_roles(&root, "ana", no_role).await,
            Err(ButlerError::Auth(butler::auth::AuthError::NoRole(_)))
        ));
    }
    let users = UserService::new(Arc::new(SqliteStore::open(&path).unwrap()));
    let ana = users
        .authenticate("ana", "ana's long password")
        .await
        .unwrap();
    assert_eq!(ana.roles(), [Role::Requester].into());
    // Her name in another case logs her in as herself.
    let again = users
        .authenticate("ANA", "ana's long password")
        .await
        .unwrap();
    assert_eq!(again.name(), "ana");
    // Unknown user, wrong password, disabled user: one error, alike.
    let errors: Vec<String> = [
        users.authenticate("nobody", "ana's long password").await,
        users.authenticate("ana", "not her password").await,
        users.authenticate("olga", "olga's long password").await,
    ]
    .into_iter()
    .map(|r| r.unwrap_err().to_string())
    .collect();
    assert!(errors.iter().all(|e| e == &errors[0]), "{errors:?}");
    let root = users
        .authenticate("root", "the first admin's password")
        .await
        .unwrap();
    assert!(matches!(
        users.remove(&root, "root").await,
        Err(ButlerError::Auth(butler::auth::AuthError::LastAdmin(_)))
    ));
    let audit = users.audit(&root).await.unwrap();
    let lines: Vec<(String, String)> = audit
        .iter()
        .map(|a| (a.actor.clone(), a.user.clone()))
        .collect();
    assert_eq!(
        lines,
        [
            ("root", "root"),
            ("root", "ana"),
            ("root", "olga"),
            ("root", "olga")
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    users
        .change_password("ana", "ana's long password", "ana's new long password")
        .await
        .unwrap();
    assert!(users
        .authenticate("ana", "ana's long password")
        .await
        .is_err());
    assert!(users
        .authenticate(" ana ", "ana's new long password")
        .await
        .is_ok());
}
