//! A rate book as TOML; a book that loads must estimate the demo spec on
//! each card's first day without panicking, and its totals must add up.
#![no_main]

use butler_core::{cost, demo, vm_spec};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(book) = cost::RateBook::from_toml_str(text) else {
        return;
    };
    let Ok(spec) = vm_spec::validate(&demo::spec("web01"), &demo::catalog()) else {
        return;
    };
    for card in book.cards() {
        if let Ok(e) = cost::estimate(&spec, &book, card.effective_from) {
            let sum = e
                .lines
                .iter()
                .try_fold(rust_decimal::Decimal::ZERO, |a, l| a.checked_add(l.amount));
            assert_eq!(sum, Some(e.subtotal));
            assert_eq!(e.subtotal.checked_add(e.margin_amount), Some(e.total));
        }
    }
});
