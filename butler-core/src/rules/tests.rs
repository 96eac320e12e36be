use super::*;
use crate::auth::{Role, RoleSet};
use chrono::TimeZone;
use proptest::prelude::*;
use rust_decimal::Decimal;

fn book(rules: Vec<Rule>) -> RuleBook {
    RuleBook {
        version: 3,
        rules,
        quotas: Vec::new(),
        approvers: Vec::new(),
        changed_by: "ada".into(),
        changed_at: chrono::Utc.with_ymd_and_hms(2026, 12, 7, 8, 0, 0).unwrap(),
    }
}

/// Facts a test owns; [`Owned::facts`] borrows them.
#[derive(Debug, Clone)]
struct Owned {
    kind: &'static str,
    division: String,
    environment: String,
    image: Option<String>,
    vcpus: u32,
    ram_gib: u32,
    storage_gib: u64,
    cost: Decimal,
    lease_days: Option<u32>,
    requester: String,
    roles: Vec<Role>,
}

impl Owned {
    fn facts(&self) -> Facts<'_> {
        Facts {
            kind: self.kind,
            division: &self.division,
            unit: "U1",
            environment: &self.environment,
            cluster: "c1",
            image: self.image.as_deref(),
            vcpus: self.vcpus,
            ram_gib: self.ram_gib,
            storage_gib: self.storage_gib,
            monthly_cost: self.cost,
            lease_days: self.lease_days,
            requester: crate::auth::identity_key(&self.requester),
            roles: RoleSet::from(self.roles.iter().copied()),
        }
    }
}

fn small_dev() -> Owned {
    Owned {
        kind: "new_vm",
        division: "D1".into(),
        environment: "DEV".into(),
        image: None,
        vcpus: 2,
        ram_gib: 4,
        storage_gib: 50,
        cost: Decimal::new(3050, 2),
        lease_days: Some(30),
        requester: "ana".into(),
        roles: vec![Role::Requester],
    }
}

fn rule(name: &str, when: Conditions, then: Outcome) -> Rule {
    Rule {
        name: name.into(),
        when,
        then,
    }
}

fn levels(roles: &[Role]) -> Outcome {
    Outcome::Require {
        levels: roles.iter().map(|&role| Level::role(role)).collect(),
        restart_on_edit: false,
    }
}

#[test]
fn no_rule_means_one_approver_as_before() {
    let d = evaluate(&book(vec![]), &small_dev().facts());
    assert_eq!(d.levels(), default_levels().as_slice());
    assert!(d.rules.is_empty());
    assert_eq!(d.book_version, 3);
    assert_eq!(
        d.note(),
        "needs approval by approver (no rule matched, rules v3)"
    );
}

#[test]
fn a_refusal_wins_then_levels_then_an_approval() {
    let dev = Conditions {
        environments: vec!["DEV".into()],
        ..Conditions::default()
    };
    let approve = rule("small dev", dev.clone(), Outcome::Approve);
    let big = rule(
        "many vcpus",
        Conditions {
            vcpus: Bounds {
                min: Some(2),
                max: None,
            },
            ..Conditions::default()
        },
        levels(&[Role::Approver, Role::Admin]),
    );
    let refuse = rule(
        "no dev in D1",
        Conditions {
            divisions: vec!["D1".into()],
            ..dev
        },
        Outcome::Refuse {
            reason: "D1 has no dev budget".into(),
        },
    );
    let f = small_dev();
    let only_approve = evaluate(&book(vec![approve.clone()]), &f.facts());
    assert_eq!(only_approve.outcome, Outcome::Approve);
    assert_eq!(
        only_approve.note(),
        "approved automatically by rule \"small dev\" (rules v3)"
    );
    let with_levels = evaluate(&book(vec![approve.clone(), big.clone()]), &f.facts());
    assert_eq!(with_levels.outcome, levels(&[Role::Approver, Role::Admin]));
    assert_eq!(with_levels.rules, vec!["many vcpus".to_string()]);
    let refused = evaluate(&book(vec![approve, big, refuse]), &f.facts());
    assert_eq!(
        refused.note(),
        "refused by rule \"no dev in D1\" (rules v3): D1 has no dev budget"
    );
}

#[test]
fn levels_of_several_rules_follow_one_another_and_a_shared_start_is_asked_once() {
    let all = Conditions::default();
    let merged = |rules: &[&[Role]]| {
        let rules = rules
            .iter()
            .enumerate()
            .map(|(i, r)| rule(&format!("r{i}"), all.clone(), levels(r)))
            .collect();
        evaluate(&book(rules), &small_dev().facts()).outcome
    };
    use Role::{Admin as F, Approver as A};
    assert_eq!(merged(&[&[A], &[A, F]]), levels(&[A, F]));
    assert_eq!(merged(&[&[A, F], &[A]]), levels(&[A, F]));
    assert_eq!(merged(&[&[F], &[A]]), levels(&[F, A]));
    assert_eq!(merged(&[&[A], &[A]]), levels(&[A]));
}

#[test]
fn bounds_are_inclusive_and_no_lease_is_longer_than_any() {
    let b = Bounds {
        min: Some(2),
        max: Some(4),
    };
    assert!(!b.holds(1) && b.holds(2) && b.holds(4) && !b.holds(5));
    let short_lease = rule(
        "short lease",
        Conditions {
            lease_days: Bounds {
                min: None,
                max: Some(90),
            },
            ..Conditions::default()
        },
        Outcome::Approve,
    );
    let mut f = small_dev();
    assert_eq!(
        evaluate(&book(vec![short_lease.clone()]), &f.facts()).outcome,
        Outcome::Approve
    );
    f.lease_days = None;
    assert_eq!(
        evaluate(&book(vec![short_lease]), &f.facts()).levels(),
        default_levels().as_slice()
    );
}

#[test]
fn requesters_are_compared_by_identity_and_roles_by_any_held() {
    let by_name = rule(
        "ana's",
        Conditions {
            requesters: vec!["ANA".into()],
            ..Conditions::default()
        },
        Outcome::Approve,
    );
    let by_role = rule(
        "operators",
        Conditions {
            requester_roles: vec![Role::Operator, Role::Admin],
            ..Conditions::default()
        },
        Outcome::Approve,
    );
    let f = small_dev();
    assert_eq!(
        evaluate(&book(vec![by_name]), &f.facts()).outcome,
        Outcome::Approve
    );
    assert_ne!(
        evaluate(&book(vec![by_role.clone()]), &f.facts()).outcome,
        Outcome::Approve
    );
    let mut op = f.clone();
    op.roles.push(Role::Operator);
    assert_eq!(
        evaluate(&book(vec![by_role]), &op.facts()).outcome,
        Outcome::Approve
    );
}

#[test]
fn an_explanation_names_each_condition_with_the_request_value() {
    let r = rule(
        "small dev",
        Conditions {
            environments: vec!["DEV".into(), "TEST".into()],
            vcpus: Bounds {
                min: None,
                max: Some(1),
            },
            ..Conditions::default()
        },
        Outcome::Approve,
    );
    let e = explain(&book(vec![r]), &small_dev().facts());
    assert!(!e.rules[0].matched);
    assert_eq!(
        e.rules[0].conditions,
        vec![
            ConditionCheck {
                condition: "environment in [DEV, TEST]".into(),
                value: "DEV".into(),
                holds: true
            },
            ConditionCheck {
                condition: "vcpus ≤ 1".into(),
                value: "2".into(),
                holds: false
            },
        ]
    );
    assert_eq!(e.decision.levels(), default_levels().as_slice());
}

#[test]
fn a_book_is_checked_against_the_catalog_and_names_the_rule_at_fault() {
    let catalog = crate::demo::catalog();
    let ok: Rules = toml::from_str(
        r#"
        [[rule]]
        name = "any"
        outcome = "approve"
        "#,
    )
    .unwrap();
    assert_eq!(ok.check(&catalog), Ok(()));
    let cases = [
        (
            r#"when = { environments = ["NOPE"] }
            outcome = "approve""#,
            "environments: no \"NOPE\" in the catalog",
        ),
        (
            r#"when = { kinds = ["restore"] }
            outcome = "approve""#,
            "kinds: no \"restore\" (one of new_vm, reconfigure, decommission, extend_lease)",
        ),
        (
            r#"when = { vcpus = { min = 8, max = 4 } }
            outcome = "approve""#,
            "vcpus: min 8 is above max 4",
        ),
        (
            r#"outcome = "require"
            levels = []"#,
            "require: at least one level",
        ),
        (
            r#"outcome = "require"
            levels = [{ role = "viewer" }]"#,
            "require: a level by Viewer: only approver or admin may approve",
        ),
        (
            r#"outcome = "refuse"
            reason = " ""#,
            "refuse: a reason for the requester",
        ),
    ];
    for (body, problem) in cases {
        let text = format!(
            "[[rule]]\nname = \"any\"\noutcome = \"approve\"\n[[rule]]\nname = \"bad\"\n{body}\n"
        );
        let rules: Rules = toml::from_str(&text).unwrap();
        assert_eq!(
            rules.check(&catalog),
            Err(RuleError {
                what: "rule",
                position: 2,
                name: "bad".into(),
                problem: problem.into()
            }),
            "{body}"
        );
    }
    let twice: Rules =
        toml::from_str("[[rule]]\nname = \"a\"\noutcome = \"approve\"\n[[rule]]\nname = \"A\"\noutcome = \"approve\"\n").unwrap();
    assert_eq!(
        twice.check(&catalog).unwrap_err().problem,
        "another rule has this name"
    );
    assert!(toml::from_str::<Rules>("[[rule]]\nname = \"a\"\noutcome = \"maybe\"\n").is_err());
    assert!(
        toml::from_str::<Rules>("[[rule]]\nname = \"a\"\noutcome = \"approve\"\nlevel = 2\n")
            .is_err()
    );
    assert!(toml::from_str::<Rules>(
        "[[rule]]\nname = \"a\"\noutcome = \"approve\"\nwhen = { vcpu = { max = 2 } }\n"
    )
    .is_err());
}

// ---- properties ----

fn arb_roles() -> impl Strategy<Value = Vec<Role>> {
    proptest::sample::subsequence(Role::ALL.to_vec(), 0..=3)
}

fn arb_bounds(hi: u32) -> impl Strategy<Value = Bounds<u32>> {
    (proptest::option::of(0..hi), proptest::option::of(0..hi))
        .prop_map(|(min, max)| Bounds { min, max })
}

fn arb_conditions() -> impl Strategy<Value = Conditions> {
    (
        proptest::sample::subsequence(vec!["new_vm".to_string(), "reconfigure".into()], 0..=2),
        proptest::sample::subsequence(vec!["D1".to_string(), "D2".into()], 0..=2),
        proptest::sample::subsequence(vec!["DEV".to_string(), "PROD".into()], 0..=2),
        proptest::sample::subsequence(vec!["img".to_string()], 0..=1),
        arb_bounds(16),
        arb_bounds(200),
        proptest::option::of(0i64..200),
        arb_roles(),
    )
        .prop_map(
            |(kinds, divisions, environments, images, vcpus, lease_days, cost, requester_roles)| {
                Conditions {
                    kinds,
                    divisions,
                    environments,
                    images,
                    vcpus,
                    lease_days,
                    monthly_cost: Bounds {
                        min: None,
                        max: cost.map(Decimal::from),
                    },
                    requester_roles,
                    ..Conditions::default()
                }
            },
        )
}

fn arb_outcome() -> impl Strategy<Value = Outcome> {
    prop_oneof![
        Just(Outcome::Approve),
        proptest::collection::vec(prop_oneof![Just(Role::Approver), Just(Role::Admin)], 1..=3)
            .prop_map(|r| levels(&r)),
        "[a-z]{1,8}".prop_map(|reason| Outcome::Refuse { reason }),
    ]
}

fn arb_book() -> impl Strategy<Value = RuleBook> {
    proptest::collection::vec((arb_conditions(), arb_outcome()), 0..12).prop_map(|rules| {
        book(
            rules
                .into_iter()
                .enumerate()
                .map(|(i, (when, then))| rule(&format!("r{i}"), when, then))
                .collect(),
        )
    })
}

fn arb_facts() -> impl Strategy<Value = Owned> {
    (
        prop_oneof![Just("new_vm"), Just("reconfigure"), Just("decommission")],
        prop_oneof![Just("D1"), Just("D2")],
        prop_oneof![Just("DEV"), Just("PROD")],
        proptest::option::of(Just("img".to_string())),
        1u32..20,
        proptest::option::of(1u32..250),
        0i64..300,
        arb_roles(),
    )
        .prop_map(
            |(kind, division, environment, image, vcpus, lease_days, cost, roles)| Owned {
                kind,
                division: division.into(),
                environment: environment.into(),
                image,
                vcpus,
                lease_days,
                cost: Decimal::from(cost),
                roles,
                ..small_dev()
            },
        )
}

/// A rule's levels appear, in order, within `merged`.
fn within(levels: &[Level], merged: &[Level]) -> bool {
    let mut rest = merged.iter();
    levels.iter().all(|l| rest.any(|m| m == l))
}

proptest! {
    /// Exactly one outcome, the same every time, from rules that match.
    #[test]
    fn evaluation_is_total_and_deterministic(b in arb_book(), f in arb_facts()) {
        let d = evaluate(&b, &f.facts());
        prop_assert_eq!(&d, &evaluate(&b, &f.facts()));
        prop_assert_eq!(d.book_version, b.version);
        let e = explain(&b, &f.facts());
        prop_assert_eq!(&e.decision, &d);
        // The explanation's verdict on each rule is the fast path's.
        for (rule, check) in b.rules.iter().zip(&e.rules) {
            prop_assert_eq!(check.matched, super::evaluate::matches(&rule.when, &f.facts()), "{}", rule.name);
        }
        let matched: Vec<&str> = e.rules.iter().filter(|r| r.matched).map(|r| r.rule.as_str()).collect();
        for name in &d.rules {
            prop_assert!(matched.contains(&name.as_str()), "{} decided but did not match", name);
        }
        match &d.outcome {
            Outcome::Require { levels, .. } => prop_assert!(!levels.is_empty()),
            Outcome::Refuse { reason } => prop_assert!(!reason.is_empty()),
            Outcome::Approve => prop_assert_eq!(d.rules.len(), 1),
        }
    }

    /// An automatic approval never skips a level a matching rule demands,
    /// a refusal by any matching rule always wins, and the levels asked
    /// hold every matching rule's levels in order.
    #[test]
    fn no_matching_demand_is_skipped(b in arb_book(), f in arb_facts()) {
        let d = evaluate(&b, &f.facts());
        let e = explain(&b, &f.facts());
        for (rule, check) in b.rules.iter().zip(&e.rules) {
            if !check.matched {
                continue;
            }
            match &rule.then {
                Outcome::Refuse { .. } => {
                    let refused = matches!(d.outcome, Outcome::Refuse { .. });
                    prop_assert!(refused, "{} refuses, yet {:?}", rule.name, d.outcome);
                }
                Outcome::Require { levels, .. } => match &d.outcome {
                    Outcome::Require { levels: merged, .. } => prop_assert!(within(levels, merged)),
                    Outcome::Approve => prop_assert!(false, "approved past {}", rule.name),
                    Outcome::Refuse { .. } => {}
                },
                Outcome::Approve => prop_assert!(!d.rules.is_empty()),
            }
        }
    }
}
