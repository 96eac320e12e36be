//! A small, complete demo catalog, rate card and spec, used by the
//! quickstart, the doctests and the tests. Not meant for production data.

use crate::catalog::{
    Catalog, Cluster, CostCenterEntry, DiskType, Division, Environment, Image, Limits, Unit,
};
use crate::cost::{Period, Rate, RateBook, RateCard, Rates, UnpricedPolicy};
use crate::vm_spec::VmSpec;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use std::collections::BTreeMap;

fn s(v: &str) -> String {
    v.to_string()
}

/// Two divisions, three units, two environments, two disk types (on the
/// storage containers `ctr-ssd` and `ctr-hdd`), two clusters (`c1-madrid`,
/// `c2-santiago`), two images and five cost centers.
/// (CORP, IT, DEV, HDD) deliberately has no cost center.
pub fn catalog() -> Catalog {
    let cc = |d: &str, u: &str, e: &str, t: &str, c: &str| CostCenterEntry {
        division: s(d),
        unit: s(u),
        environment: s(e),
        disk_type: s(t),
        cost_center: s(c),
    };
    let c = Catalog {
        divisions: vec![
            Division {
                code: s("CORP"),
                name: s("Corporate"),
            },
            Division {
                code: s("RET"),
                name: s("Retail"),
            },
        ],
        units: vec![
            Unit {
                code: s("IT"),
                name: s("Information Technology"),
                division: s("CORP"),
            },
            Unit {
                code: s("OPS"),
                name: s("Operations"),
                division: s("CORP"),
            },
            Unit {
                code: s("FIN"),
                name: s("Finance"),
                division: s("RET"),
            },
        ],
        environments: vec![
            Environment {
                code: s("PRD"),
                name: s("Production"),
                project: s("prod-project"),
                category: s("Environment:Production"),
                vlans: vec![s("vlan-10"), s("vlan-11")],
                clusters: Vec::new(),
                max_lease_days: None,
            },
            Environment {
                code: s("DEV"),
                name: s("Development"),
                project: s("dev-project"),
                category: s("Environment:Development"),
                vlans: vec![s("vlan-30")],
                clusters: Vec::new(),
                max_lease_days: None,
            },
        ],
        disk_types: vec![
            DiskType {
                code: s("SSD"),
                name: s("Solid state"),
                storage_container: Some(s("ctr-ssd")),
            },
            DiskType {
                code: s("HDD"),
                name: s("Hard disk"),
                storage_container: Some(s("ctr-hdd")),
            },
        ],
        clusters: vec![Cluster::named("c1-madrid"), Cluster::named("c2-santiago")],
        images: vec![
            Image {
                name: s("rhel9"),
                size_gib: 40,
            },
            Image {
                name: s("win2022"),
                size_gib: 64,
            },
        ],
        cost_centers: vec![
            cc("CORP", "IT", "PRD", "SSD", "CC-1001"),
            cc("CORP", "IT", "PRD", "HDD", "CC-1002"),
            cc("CORP", "IT", "DEV", "SSD", "CC-1003"),
            cc("CORP", "OPS", "PRD", "SSD", "CC-2001"),
            cc("RET", "FIN", "PRD", "SSD", "CC-3001"),
        ],
        limits: Limits::default(),
        platform_categories: None,
    };
    // The demo data is fixed and checked by tests; a failure here is a bug in this file.
    Catalog::new(c).unwrap_or_else(|e| panic!("demo catalog is inconsistent: {e}"))
}

/// A valid spec on the demo catalog: 2 × 1 vCPU, 4 GiB, one 50 GiB SSD disk,
/// one NIC on `vlan-10`, production, cost center `CC-1001`.
pub fn spec(name: &str) -> VmSpec {
    VmSpec {
        name: s(name),
        cores_per_socket: 2,
        sockets: 1,
        ram_gib: 4,
        division: s("CORP"),
        unit: s("IT"),
        environment: s("PRD"),
        disk_type: s("SSD"),
        cluster: s("c1-madrid"),
        disks_gib: vec![50],
        nics: vec![s("vlan-10")],
        ..VmSpec::default()
    }
}

fn rate(amount: i64, scale: u32, per: Period) -> Rate {
    Rate {
        amount: Decimal::new(amount, scale),
        per,
    }
}

/// Two rate cards in UF: `2026-01` (from 2026-01-01) and `2026-07` (from
/// 2026-07-01, dearer vCPU, a 10 % margin and a cheaper vCPU for `CC-2001`).
pub fn rate_book() -> RateBook {
    let base = Rates {
        vcpu: Some(rate(15, 4, Period::Hour)),  // 0.0015 UF/h
        ram_gib: Some(rate(2, 2, Period::Day)), // 0.02 UF/day
        disk_gib: BTreeMap::from([
            (s("SSD"), rate(3, 3, Period::Month)), // 0.003 UF/month
            (s("HDD"), rate(1, 3, Period::Month)),
        ]),
        backup_local_gib: Some(rate(5, 4, Period::Month)),
        backup_remote_gib: Some(rate(1, 3, Period::Month)),
        cdrom: Some(rate(0, 0, Period::Month)),
        nic: Some(rate(5, 2, Period::Month)),
        image: Some(rate(2, 1, Period::Month)),
    };
    let jan = RateCard {
        version: s("2026-01"),
        effective_from: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default(),
        currency: s("UF"),
        margin: None,
        unpriced: UnpricedPolicy::Error,
        default: base.clone(),
        cost_centers: BTreeMap::new(),
        powered_off: None,
    };
    let jul = RateCard {
        version: s("2026-07"),
        effective_from: NaiveDate::from_ymd_opt(2026, 7, 1).unwrap_or_default(),
        margin: Some(Decimal::new(10, 2)),
        default: Rates {
            vcpu: Some(rate(2, 3, Period::Hour)),
            ..base
        },
        cost_centers: BTreeMap::from([(
            s("CC-2001"),
            Rates {
                vcpu: Some(rate(1, 3, Period::Hour)),
                ..Rates::default()
            },
        )]),
        ..jan.clone()
    };
    RateBook::new(vec![jan, jul]).unwrap_or_else(|e| panic!("demo rate book is inconsistent: {e}"))
}
