//! A VM spec as JSON, validated against the demo catalog and, when valid,
//! estimated: no panic, and the totals add up.
#![no_main]

use butler_core::{cost, demo, vm_spec};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(spec) = serde_json::from_slice::<vm_spec::VmSpec>(data) else {
        return;
    };
    let catalog = demo::catalog();
    let Ok(valid) = vm_spec::validate(&spec, &catalog) else {
        return;
    };
    let day = chrono::NaiveDate::from_ymd_opt(2030, 1, 1).unwrap_or_default();
    if let Ok(e) = cost::estimate(&valid, &demo::rate_book(), day) {
        let sum = e
            .lines
            .iter()
            .try_fold(rust_decimal::Decimal::ZERO, |a, l| a.checked_add(l.amount));
        assert_eq!(sum, Some(e.subtotal));
    }
});
