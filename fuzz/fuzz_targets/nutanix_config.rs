//! The Nutanix adapter's TOML config: parse and check, never panic; no
//! password ever shows in an error or in `Debug`.
#![no_main]

use butler_nutanix::NutanixConfig;
use libfuzzer_sys::fuzz_target;

const PASSWORD: &str = "s3cret-fuzz-password";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match NutanixConfig::from_toml(text, |_| Some(PASSWORD.to_string())) {
        Ok(config) => {
            assert!(!format!("{config:?}").contains(PASSWORD));
            if let Err(e) = config.check_endpoints() {
                assert!(!e.to_string().contains(PASSWORD));
            }
        }
        Err(e) => assert!(!e.to_string().contains(PASSWORD)),
    }
});
