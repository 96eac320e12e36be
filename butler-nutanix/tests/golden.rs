//! The decoders on real Prism Central traffic (recordings from
//! prism-go-client, Apache-2.0: see `fixtures/prism-go-client/README.md`),
//! and the fake Prism held to the same shapes.

use butler_core::backend::{PowerState, VmState};
use butler_nutanix::decode;
use serde_json::Value;
use std::collections::BTreeSet;

fn recording(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/prism-go-client/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn response(name: &str) -> Value {
    recording(name)["response"].clone()
}

#[test]
fn a_real_vm_list_decodes_every_field_butler_uses() {
    let list = response("vms_list.json");
    let entities = decode::entities(&list);
    assert_eq!(entities.len(), 1);
    let vm = decode::vm(&entities[0]).unwrap();
    assert_eq!(vm.name, "test-vm");
    assert_eq!(vm.uuid, "bdbbad7a-a401-4f9a-a789-2b8406905b56");
    assert_eq!(vm.cluster, "ncn-dev-sandbox");
    assert_eq!(vm.project.as_deref(), Some("_internal"));
    assert_eq!((vm.power, vm.state), (PowerState::Off, VmState::Ready));
    assert_eq!((vm.vcpus, vm.ram_gib), (1, 1));
    assert_eq!(vm.disks_gib, vec![8]);
    assert_eq!(vm.nics, vec!["vlan173".to_string()]);
    assert_eq!(vm.ip_addresses, vec!["10.23.129.96".to_string()]);
    assert!(vm.categories.is_empty());
    assert_eq!(
        decode::vm(&response("vm_get.json")).unwrap(),
        vm,
        "GET and list agree"
    );
    assert_eq!(
        decode::vm_brief(&entities[0]).unwrap(),
        butler_core::backend::VmBrief::from(vm),
        "the brief a refresh reads says what the full record says"
    );
}

#[test]
fn real_create_and_update_answers_give_their_task() {
    // POST /vms and PUT /vms/{uuid} answer 202 with the task in
    // status.execution_context.task_uuid (a string here, a list in GETs).
    for name in ["vm_create.json", "vm_update_1.json"] {
        let r = recording(name);
        assert_eq!(r["status"], 202, "{name}");
        let task = decode::task_uuid(&r["response"]);
        assert!(
            task.as_deref().is_some_and(|t| t.len() == 36),
            "{name}: {task:?}"
        );
    }
    assert!(decode::task_uuid(&response("vm_get.json")).is_some());
}

#[test]
fn real_cluster_lists_hold_prism_central_which_is_not_a_cluster() {
    let list = response("clusters_list.json");
    let names: Vec<(String, bool)> = decode::entities(&list)
        .iter()
        .map(|e| (decode::cluster(e).name, decode::is_prism_central(e)))
        .collect();
    assert_eq!(
        names,
        vec![
            ("ganon".to_string(), false),
            ("ncn-dev-pc".to_string(), true)
        ]
    );
    let one = decode::cluster(&response("cluster_get.json"));
    assert_eq!((one.name.as_str(), one.uuid.len()), ("ganon", 36));
}

#[test]
fn real_subnets_include_overlay_ones_without_a_vlan() {
    let list = response("subnets_list.json");
    let subnets: Vec<(String, u32)> = decode::entities(&list)
        .iter()
        .map(|e| {
            let s = decode::subnet(e);
            (s.name, s.vlan_id)
        })
        .collect();
    assert_eq!(
        subnets,
        vec![
            ("sherlock_net".to_string(), 508),
            ("vpc_ext_net".to_string(), 1409),
            ("airgap".to_string(), 0),
        ]
    );
}

/// Every key path of a JSON value (`a.b[].c`).
fn paths(v: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                out.insert(p.clone());
                paths(x, &p, out);
            }
        }
        Value::Array(items) => {
            for x in items {
                paths(x, &format!("{prefix}[]"), out);
            }
        }
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fake_serves_no_vm_field_real_prism_does_not() {
    use butler_nutanix::fake::{FakePrism, PASSWORD, USER};
    let sim = butler_sim::SimPlatform::demo(71);
    let f = butler_sim::fleet::generate(
        &sim,
        &butler_sim::fleet::FleetSpec {
            vms: 1,
            groups: 1,
            ..Default::default()
        },
    );
    let uuid = sim.vm(&f.vm_names[0]).unwrap().uuid;
    let fake = FakePrism::start(sim).await.unwrap();
    let served: Value = reqwest::Client::new()
        .get(format!("http://{}/api/nutanix/v3/vms/{uuid}", fake.addr()))
        .basic_auth(USER, Some(PASSWORD))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut real = BTreeSet::new();
    paths(&response("vm_get.json"), "", &mut real);
    let mut fake_paths = BTreeSet::new();
    paths(&served, "", &mut fake_paths);
    // The fake's own categories (real Prism's are empty in this recording).
    let invented: Vec<&String> = fake_paths
        .iter()
        .filter(|p| !real.contains(*p) && !p.starts_with("metadata.categories."))
        .collect();
    assert!(invented.is_empty(), "the fake invents {invented:?}");
}
