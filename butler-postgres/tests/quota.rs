//! Quotas on one PostgreSQL database shared by two processes (this test
//! binary runs a second copy of itself): 1,000 requests submitted at once,
//! half by each process, against a unit with room for 100 VMs admit
//! exactly 100. Against the server `scripts/services/postgres.sh` starts;
//! without it the test says so and passes outside CI, and fails under
//! `CI=true`.

use butler_core::auth::{Actor, Role};
use butler_core::backend::SystemClock;
use butler_core::quota::Scope;
use butler_core::request::{RequestId, RequestState};
use butler_core::rules::Rules;
use butler_core::service::RequestService;
use butler_core::store::Store;
use butler_core::ButlerError;
use butler_postgres::PostgresStore;
use std::io::{BufRead, Write};
use std::sync::Arc;

/// Set in the second process: the database's URL, then the requests it
/// submits, space-separated.
const SECOND: &str = "BUTLER_QUOTA_SECOND_PROCESS";

const ROOM_FOR_100: &str = "[[quota]]\nunit = \"IT\"\nvms = 100\n";

/// A process's request service on `url`, with the quota from the
/// deployment (each process writes it, or finds it written).
async fn service(url: &str) -> Arc<RequestService> {
    let store: Arc<dyn Store> = Arc::new(PostgresStore::connect(url).await.unwrap());
    Arc::new(
        RequestService::with_clock(
            store,
            butler_core::demo::catalog(),
            butler_core::demo::rate_book(),
            Arc::new(SystemClock),
        )
        .with_rules(Rules::from_toml(ROOM_FOR_100).unwrap())
        .unwrap(),
    )
}

/// Submits each of `ids` as its owner, all at once; how many were
/// admitted (every other one must be refused for the unit's quota).
async fn submit_all(svc: &Arc<RequestService>, ids: &[RequestId]) -> usize {
    // Each task reads its request and submits it, so both processes meet
    // on their first submits (each process's first use of the quotas).
    let tasks: Vec<_> = ids
        .iter()
        .map(|id| {
            let (svc, id) = (svc.clone(), *id);
            tokio::spawn(async move {
                let r = svc.store().get_request(id).await.unwrap();
                let who = Actor::trusted(&r.owner, [Role::Requester]).unwrap();
                svc.submit(&who, r.id, r.version).await
            })
        })
        .collect();
    let mut admitted = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(r) => {
                assert_eq!(r.state, RequestState::Requested);
                admitted += 1;
            }
            Err(ButlerError::Quota(q)) => assert_eq!(q.scope, Scope::Unit("IT".into())),
            Err(other) => panic!("neither admitted nor refused for the quota: {other}"),
        }
    }
    admitted
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_submitting_1000_at_once_admit_exactly_100() {
    let Some(url) = butler_postgres::testing::fresh_database("butler_q").await else {
        return;
    };
    let svc = service(&url).await;
    let mut ids = Vec::new();
    for i in 0..1000 {
        let who = Actor::trusted(&format!("u{i}"), [Role::Requester]).unwrap();
        let spec = butler_core::demo::spec(&format!("q{i}"));
        ids.push(svc.create(&who, spec).await.unwrap().id);
    }
    let (mine, theirs) = ids.split_at(500);
    let arg = std::iter::once(url.clone())
        .chain(theirs.iter().map(|id| id.0.to_string()))
        .collect::<Vec<_>>()
        .join(" ");
    let exe = std::env::current_exe().unwrap();
    let mut second = std::process::Command::new(exe)
        .args([
            "--exact",
            "second_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(SECOND, arg)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Both start submitting once the second process is ready.
    let mut out = std::io::BufReader::new(second.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("ready") {
        line.clear();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "the second process ended early"
        );
    }
    writeln!(second.stdin.take().unwrap(), "go").unwrap();
    let admitted_here = submit_all(&svc, mine).await;
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    let status = second.wait().unwrap();
    assert!(status.success(), "the second process failed:\n{rest}");
    let admitted_there: usize = rest
        .lines()
        .find_map(|l| l.split("admitted ").nth(1))
        .and_then(|n| n.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no count from the second process:\n{rest}"));
    assert_eq!(admitted_here + admitted_there, 100);
    let waiting = svc
        .store()
        .request_ids_in_states(&[RequestState::Requested])
        .await
        .unwrap();
    assert_eq!(waiting.len(), 100);
    let usage = svc
        .store()
        .usage(&[Scope::Unit("IT".into())])
        .await
        .unwrap();
    assert_eq!(usage[0].used.vms, 100);
}

/// The second process of the test above (does nothing when run alone).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_process() {
    let Ok(arg) = std::env::var(SECOND) else {
        return;
    };
    let mut words = arg.split(' ');
    let url = words.next().unwrap().to_string();
    let ids: Vec<RequestId> = words.map(|w| RequestId(w.parse().unwrap())).collect();
    let svc = service(&url).await;
    svc.rules().await.unwrap();
    println!("ready");
    let mut go = String::new();
    std::io::stdin().lock().read_line(&mut go).unwrap();
    let admitted = submit_all(&svc, &ids).await;
    println!("admitted {admitted}");
}
