//! Approval rule evaluation (SPEC §13): one request against a book of
//! 1,000 rules. `varied`: rules over divisions, units, environments,
//! sizes and cost, as an organisation writes them (a request matches a
//! few); `every_condition`: each rule sets every condition and all but
//! the last hold, so every condition of every rule is checked.

use butler::auth::{Role, RoleSet};
use butler::rules::{evaluate, Bounds, Conditions, Facts, Level, Outcome, Rule, RuleBook};
use criterion::{criterion_group, criterion_main, Criterion};
use rust_decimal::Decimal;
use std::hint::black_box;

fn book(rules: Vec<Rule>) -> RuleBook {
    RuleBook {
        version: 1,
        rules,
        quotas: Vec::new(),
        approvers: Vec::new(),
        changed_by: "bench".into(),
        changed_at: chrono::DateTime::UNIX_EPOCH,
    }
}

fn outcome(i: usize) -> Outcome {
    match i % 3 {
        0 => Outcome::Approve,
        1 => Outcome::Require {
            levels: vec![Level::role(Role::Approver)],
            restart_on_edit: false,
        },
        _ => Outcome::Refuse {
            reason: format!("refused by rule {i}"),
        },
    }
}

fn varied(n: usize) -> RuleBook {
    let rules = (0..n)
        .map(|i| Rule {
            name: format!("rule {i}"),
            when: Conditions {
                divisions: vec![format!("D{}", i % 40)],
                units: if i % 2 == 0 {
                    vec![format!("U{}", i % 7), format!("U{}", i % 11)]
                } else {
                    vec![]
                },
                environments: vec![["DEV", "PRD", "TST"][i % 3].to_string()],
                vcpus: Bounds {
                    min: None,
                    max: Some((i % 32) as u32 + 1),
                },
                monthly_cost: Bounds {
                    min: Some(Decimal::from(i % 50)),
                    max: None,
                },
                ..Conditions::default()
            },
            then: outcome(i),
        })
        .collect();
    book(rules)
}

fn every_condition(n: usize) -> RuleBook {
    let rules = (0..n)
        .map(|i| Rule {
            name: format!("rule {i}"),
            when: Conditions {
                kinds: vec!["reconfigure".into(), "new_vm".into()],
                divisions: vec!["D1".into(), "D2".into()],
                units: vec!["U1".into(), "U2".into()],
                environments: vec!["DEV".into(), "PRD".into()],
                clusters: vec!["c1".into(), "c2".into()],
                images: vec!["img".into()],
                requester_roles: vec![Role::Approver, Role::Requester],
                vcpus: Bounds {
                    min: Some(1),
                    max: Some(64),
                },
                ram_gib: Bounds {
                    min: Some(1),
                    max: Some(512),
                },
                storage_gib: Bounds {
                    min: Some(1),
                    max: Some(10_000),
                },
                monthly_cost: Bounds {
                    min: Some(Decimal::ZERO),
                    max: Some(Decimal::from(1_000)),
                },
                // The last condition checked, and the one that fails.
                requesters: vec!["someone-else".into()],
                ..Conditions::default()
            },
            then: outcome(i),
        })
        .collect();
    book(rules)
}

fn rules(c: &mut Criterion) {
    let facts = Facts {
        kind: "new_vm",
        division: "D1",
        unit: "U1",
        environment: "PRD",
        cluster: "c1",
        image: Some("img"),
        vcpus: 8,
        ram_gib: 32,
        storage_gib: 500,
        monthly_cost: Decimal::new(12_550, 2),
        lease_days: Some(90),
        requester: "ana".into(),
        roles: RoleSet::from([Role::Requester]),
    };
    let mut g = c.benchmark_group("rules");
    for (name, b) in [
        ("varied/1000", varied(1000)),
        ("every_condition/1000", every_condition(1000)),
    ] {
        g.bench_function(name, |bench| {
            bench.iter(|| evaluate(black_box(&b), black_box(&facts)))
        });
    }
    g.finish();
}

criterion_group!(benches, rules);
criterion_main!(benches);
