use super::*;
use proptest::prelude::*;

const DIVISIONS: [&str; 2] = ["D1", "D2"];
const UNITS: [&str; 3] = ["U1", "U2", "U3"];
const OWNERS: [&str; 3] = ["ana", "bea", "carl"];

fn share(v: u64, ram: u64, vms: u64, cost: i64) -> Share {
    Share {
        vcpus: v,
        ram_gib: ram,
        storage_gib: v * 10,
        vms,
        monthly_cost: Decimal::new(cost, 2),
    }
}

fn change() -> impl Strategy<Value = HoldChange> {
    (
        0u64..6,
        any::<bool>(),
        0usize..2,
        0usize..3,
        0usize..3,
        0u64..9,
        0u64..33,
        0u64..2,
        0i64..50_000,
    )
        .prop_map(|(h, set, d, u, o, v, ram, vms, cost)| {
            let holder = if h < 3 {
                Holder::Request(RequestId(h))
            } else {
                Holder::Vm(VmId(h))
            };
            if set {
                HoldChange::Set(Hold::new(
                    holder,
                    DIVISIONS[d],
                    UNITS[u],
                    OWNERS[o],
                    share(v, ram, vms, cost),
                ))
            } else {
                HoldChange::Release(holder)
            }
        })
}

fn limits() -> impl Strategy<Value = Vec<(Scope, Limits)>> {
    proptest::collection::vec(
        (0usize..8, 0u64..20, 0u64..40, 0u64..3, 0i64..60_000).prop_map(
            |(s, v, ram, vms, cost)| {
                let scope = match s {
                    0 | 1 => Scope::Division(DIVISIONS[s].into()),
                    2..=4 => Scope::Unit(UNITS[s - 2].into()),
                    _ => Scope::Requester(OWNERS[s - 5].into()),
                };
                let l = Limits {
                    vcpus: Some(v),
                    ram_gib: (ram % 2 == 0).then_some(ram),
                    storage_gib: None,
                    vms: Some(vms),
                    monthly_cost: (cost % 3 != 0).then(|| Decimal::new(cost, 2)),
                };
                (scope, l)
            },
        ),
        0..4,
    )
}

/// A store in memory: the holds and the usage `apply` keeps.
#[derive(Default)]
struct Book {
    held: BTreeMap<Holder, Hold>,
    usage: BTreeMap<Scope, Share>,
}

impl Book {
    fn take(&mut self, c: &HoldChange, limits: &[(Scope, Limits)]) -> Result<(), QuotaExceeded> {
        let mut usage = self.usage.clone();
        let held: BTreeMap<Holder, Hold> = self
            .held
            .get(&c.holder())
            .map(|h| (h.holder, h.clone()))
            .into_iter()
            .collect();
        let out = apply(std::slice::from_ref(c), &held, &mut usage, limits)?;
        for (holder, h) in out {
            match h {
                Some(h) => self.held.insert(holder, h),
                None => self.held.remove(&holder),
            };
        }
        self.usage = usage;
        Ok(())
    }

    fn recounted(&self) -> BTreeMap<Scope, Share> {
        let holds: Vec<Hold> = self.held.values().cloned().collect();
        usage_of(&holds)
    }
}

/// Usage with zero rows left out (a store keeps rows a scope once used).
fn nonzero(u: &BTreeMap<Scope, Share>) -> BTreeMap<Scope, Share> {
    u.iter()
        .filter(|(_, s)| !s.is_zero())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

proptest! {
    /// The usage every write keeps equals a recount of the holds, after
    /// any sequence of sets and releases.
    #[test]
    fn kept_usage_equals_a_recount(changes in proptest::collection::vec(change(), 0..60)) {
        let mut b = Book::default();
        for c in &changes {
            b.take(c, &[]).unwrap();
            prop_assert_eq!(nonzero(&b.usage), nonzero(&b.recounted()));
        }
    }

    /// Starting within its limits, no scope ever goes over one through
    /// checked changes; a refused change changes nothing.
    #[test]
    fn checked_changes_never_pass_a_limit(
        changes in proptest::collection::vec(change(), 0..60),
        limits in limits(),
    ) {
        let mut b = Book::default();
        for c in &changes {
            let before = (b.held.clone(), b.usage.clone());
            match b.take(c, &limits) {
                Ok(()) => {}
                Err(e) => {
                    prop_assert_eq!(&before.0, &b.held);
                    prop_assert_eq!(&before.1, &b.usage);
                    prop_assert!(e.would_use > e.limit, "{e}");
                }
            }
            for (scope, l) in &limits {
                let used = b.usage.get(scope).cloned().unwrap_or_default();
                for d in DIMENSIONS {
                    if let Some(limit) = l.get(d) {
                        prop_assert!(used.get(d) <= limit, "{scope} {d}: {} over {limit}", used.get(d));
                    }
                }
            }
        }
    }

    /// A release, or a hold made smaller everywhere, is never refused, even
    /// over limits lowered below what is held.
    #[test]
    fn freeing_is_never_refused(changes in proptest::collection::vec(change(), 1..40)) {
        let mut b = Book::default();
        for c in &changes {
            b.take(c, &[]).unwrap();
        }
        let tight: Vec<(Scope, Limits)> = b
            .usage
            .keys()
            .map(|s| (s.clone(), Limits { vcpus: Some(0), ram_gib: Some(0), storage_gib: Some(0), vms: Some(0), monthly_cost: Some(Decimal::ZERO) }))
            .collect();
        let holds: Vec<Hold> = b.held.values().cloned().collect();
        for h in holds {
            let smaller = Hold { share: Share { vcpus: h.share.vcpus / 2, ram_gib: 0, storage_gib: 0, vms: 0, monthly_cost: Decimal::ZERO }, ..h.clone() };
            prop_assert!(b.take(&HoldChange::Set(smaller), &tight).is_ok());
            prop_assert!(b.take(&HoldChange::Release(h.holder), &tight).is_ok());
        }
        prop_assert!(nonzero(&b.usage).is_empty());
    }
}

#[test]
fn a_quota_that_fits_100_admits_exactly_100_of_1000() {
    let mut b = Book::default();
    let limits = vec![(
        Scope::Unit("U1".into()),
        Limits {
            vms: Some(100),
            ..Limits::default()
        },
    )];
    let admitted = (0..1000)
        .filter(|i| {
            let h = Hold::new(
                Holder::Request(RequestId(*i)),
                "D1",
                "U1",
                OWNERS[*i as usize % 3],
                share(2, 4, 1, 100),
            );
            b.take(&HoldChange::Set(h), &limits).is_ok()
        })
        .count();
    assert_eq!(admitted, 100);
    // An approval of one admitted (its hold unchanged) passes; once an
    // Admin lowers the quota below what is held it is refused, naming it.
    let first = b.held[&Holder::Request(RequestId(0))].clone();
    assert!(b.take(&HoldChange::Set(first.clone()), &limits).is_ok());
    let lowered = vec![(
        Scope::Unit("U1".into()),
        Limits {
            vms: Some(50),
            ..Limits::default()
        },
    )];
    let e = b.take(&HoldChange::Set(first), &lowered).unwrap_err();
    assert_eq!(
        e.to_string(),
        "quota exceeded: unit U1 may use 50 vms; this would bring it to 100 (100 in use)"
    );
}

#[test]
fn scope_keys_round_trip() {
    for s in [
        Scope::Division("D1".into()),
        Scope::Unit("U:2".into()),
        Scope::Requester("ana".into()),
    ] {
        assert_eq!(Scope::from_key(&s.key()), Some(s));
    }
    assert_eq!(Scope::from_key("~counted"), None);
}

#[test]
fn quotas_parse_and_are_checked_against_the_catalog() {
    use crate::rules::Rules;
    let catalog = crate::demo::catalog();
    let d = &catalog.divisions[0].code;
    let u = &catalog.units[0].code;
    let ok = format!(
        "[[quota]]\ndivision = \"{d}\"\nvcpus = 40\n\n[[quota]]\nunit = \"{u}\"\nmonthly_cost = \"99.5\"\n\n[[quota]]\nrequester = \"*\"\nvms = 3\n\n[[quota]]\nrequester = \"Ana\"\nvms = 5\n"
    );
    let rules = Rules::from_toml(&ok).unwrap();
    rules.check(&catalog).unwrap();
    let book = crate::rules::RuleBook {
        quotas: rules.quotas.clone(),
        ..crate::rules::RuleBook::empty(chrono::DateTime::UNIX_EPOCH)
    };
    // Own quota by identity, else the one for every requester.
    assert_eq!(
        book.limits_for(&Scope::Requester("ana".into()))
            .and_then(|l| l.vms),
        Some(5)
    );
    assert_eq!(
        book.limits_for(&Scope::Requester("bea".into()))
            .and_then(|l| l.vms),
        Some(3)
    );
    // Written back as it was read.
    let again = Rules::from_toml(&toml::to_string(&rules).unwrap()).unwrap();
    assert_eq!(again, rules);

    let refused = |text: &str| -> String {
        match Rules::from_toml(text) {
            Err(e) => e.message().to_string(),
            Ok(r) => r.check(&catalog).unwrap_err().to_string(),
        }
    };
    assert!(refused("[[quota]]\ndivision = \"NOPE\"\nvms = 1\n")
        .contains("quota 1 (\"division NOPE\"): no division \"NOPE\" in the catalog"));
    assert!(refused(&format!("[[quota]]\ndivision = \"{d}\"\n")).contains("no limit set"));
    assert!(refused(&format!(
        "[[quota]]\ndivision = \"{d}\"\nunit = \"{u}\"\nvms = 1\n"
    ))
    .contains("one of division, unit, requester"));
    assert!(refused(&format!(
        "[[quota]]\nunit = \"{u}\"\nvms = 1\n[[quota]]\nunit = \"{u}\"\nvcpus = 1\n"
    ))
    .contains("quota 2"));
    assert!(refused(
        "[[quota]]\nrequester = \"Ana\"\nvms = 1\n[[quota]]\nrequester = \"ANA\"\nvms = 2\n"
    )
    .contains("another quota names this scope"));
    assert!(refused(&format!(
        "[[quota]]\nunit = \"{u}\"\nmonthly_cost = \"-1\"\n"
    ))
    .contains("below zero"));
    assert!(refused(&format!("[[quota]]\nunit = \"{u}\"\ncpus = 1\n")).contains("unknown field"));
}
