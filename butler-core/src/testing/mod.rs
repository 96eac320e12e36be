//! Shared test suites that every implementation of a core trait must pass
//! (enable the `testing` feature).
//!
//! - [`store`]: the store-agnostic [`Store`](crate::store::Store) suite.
//! - [`backend`]: the [`ClusterBackend`](crate::backend::ClusterBackend) conformance suite.
//! - [`FaultyStore`]: any store, failing chosen calls once.

pub mod backend;
mod faulty_store;
pub mod store;

pub use faulty_store::FaultyStore;

/// A monitoring registration for `vm_name` with plausible fields, for
/// tests of [`Monitor`](crate::backend::Monitor) implementations.
pub fn registration(vm_name: &str) -> crate::backend::MonitorRegistration {
    crate::backend::MonitorRegistration {
        vm_name: vm_name.to_string(),
        vm_uuid: "00000000-0000-4000-8000-000000000001".into(),
        cluster: "c1-madrid".into(),
        address: "10.0.0.5".into(),
        display_name: "web01".into(),
        request: 1,
        requester: "ana".into(),
        cost_center: "CC-1001".into(),
    }
}

/// A billing activation for `vm_name` priced with the demo rate book, for
/// tests of [`Billing`](crate::backend::Billing) implementations.
pub fn activation(vm_name: &str) -> crate::backend::BillingActivation {
    let day = chrono::NaiveDate::from_ymd_opt(2026, 3, 1).unwrap_or_default();
    let spec = crate::vm_spec::validate(&crate::demo::spec("web01"), &crate::demo::catalog())
        .expect("the demo spec is valid");
    let estimate = crate::cost::estimate(&spec, &crate::demo::rate_book(), day)
        .expect("the demo rate book prices the demo spec");
    crate::backend::BillingActivation {
        vm_name: vm_name.to_string(),
        vm_uuid: "00000000-0000-4000-8000-000000000001".into(),
        cost_center: spec.derived().cost_center.clone(),
        vcpus: spec.vcpus(),
        ram_gib: spec.ram_gib,
        storage_gib: spec.storage_gib(),
        disk_type: spec.disk_type.clone(),
        request: 1,
        estimate,
        effective_date: day,
        restores: 0,
    }
}
