//! A catalog as TOML (first byte even) or JSON (odd); a catalog that loads
//! must validate any demo spec without panicking.
#![no_main]

use butler_core::{catalog::Catalog, demo, vm_spec};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let loaded = if selector % 2 == 0 {
        Catalog::from_toml_str(text)
    } else {
        Catalog::from_json_str(text)
    };
    if let Ok(catalog) = loaded {
        let _ = vm_spec::validate(&demo::spec("web01"), &catalog);
    }
});
