//! Every Prism answer decoder, on any JSON, and the error classifier on any
//! status and body: never a panic.
#![no_main]

use butler_nutanix::{decode, NutanixError};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some((&status, body)) = data.split_first() {
        let body = String::from_utf8_lossy(body);
        let _ = NutanixError::from_response(300 + u16::from(status), &body).to_string();
    }
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let _ = decode::migrate_refusal(&v);
    let _ = decode::task_uuid(&v);
    let _ = decode::task(&v);
    let _ = decode::protection_domain(&v, "c1");
    for e in decode::entities(&v).iter().chain(std::iter::once(&v)) {
        let _ = decode::is_prism_central(e);
        let _ = decode::cluster(e);
        let _ = decode::subnet(e);
        let _ = decode::image(e);
        let _ = decode::image_is_bootable_disk(e);
        let _ = decode::project_lists_clusters(e);
        let _ = decode::project(e, &|uuid| Some(uuid.chars().rev().collect()));
        let _ = decode::vm(e);
        let kind = decode::s(e, &["type"]);
        let _ = decode::schedule_minutes(&kind, decode::at(e, &["every_nth"]).as_u64().unwrap_or(0));
    }
});
