//! Request lists and their Excel export, read back with calamine.

use butler_core::auth::{Actor, Role};
use butler_core::request::RequestState;
use butler_core::service::RequestService;
use butler_core::store::{MemoryStore, RequestQuery, SqliteStore, Store};
use butler_core::{demo, export};
use calamine::{Data, Reader, Xlsx};
use std::io::Cursor;
use std::sync::Arc;

async fn seeded(store: Arc<dyn Store>) -> RequestService {
    let s = RequestService::new(store, demo::catalog(), demo::rate_book());
    let evil = Actor::trusted("=HYPERLINK(\"http://x\",\"y\")", [Role::Requester]).unwrap();
    let plus = Actor::trusted("+ana", [Role::Requester]).unwrap();
    let minus = Actor::trusted("-bob", [Role::Requester]).unwrap();
    let at = Actor::trusted("@boss", [Role::Approver]).unwrap();
    for (i, who) in [&evil, &plus, &minus, &evil, &plus].iter().enumerate() {
        let r = s.create(who, demo::spec(&format!("vm{i}"))).await.unwrap();
        if i % 2 == 0 {
            let r = s.submit(who, r.id, r.version).await.unwrap();
            s.approve(&at, r.id, r.version).await.unwrap();
        }
    }
    s
}

fn read(bytes: Vec<u8>) -> (Vec<Vec<Data>>, usize) {
    let mut wb: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes)).unwrap();
    let range = wb.worksheet_range("Requests").unwrap();
    let formulas = wb.worksheet_formula("Requests").unwrap();
    let n_formulas = formulas
        .used_cells()
        .filter(|(_, _, f)| !f.is_empty())
        .count();
    (range.rows().map(|r| r.to_vec()).collect(), n_formulas)
}

fn text(d: &Data) -> String {
    match d {
        Data::String(s) => s.clone(),
        other => panic!("expected a text cell, got {other:?}"),
    }
}

async fn check_export(store: Arc<dyn Store>) {
    let s = seeded(store).await;
    let approver = Actor::trusted("@boss", [Role::Approver]).unwrap();
    let q = RequestQuery {
        states: vec![RequestState::Approved],
        limit: Some(1),
        ..Default::default()
    };
    let mut buf = Vec::new();
    let n = s.export_xlsx(&approver, &q, &mut buf).await.unwrap();
    let expected = s.export_rows(&approver, &q).await.unwrap();
    assert_eq!(n, 3, "an approver's export holds every page of the filter");
    let (rows, formulas) = read(buf);
    assert_eq!(formulas, 0, "no cell may become a formula");
    assert_eq!(
        rows[0].iter().map(text).collect::<Vec<_>>(),
        export::COLUMNS.to_vec()
    );
    assert_eq!(rows.len(), expected.len() + 1);
    for (row, r) in rows[1..].iter().zip(&expected) {
        assert_eq!(row[0], Data::Float(r.id.0 as f64));
        assert_eq!(text(&row[1]), r.state.as_str());
        assert_eq!(text(&row[3]), r.spec.name);
        assert_eq!(
            text(&row[4]),
            r.owner,
            "text starting with = + - @ stays text"
        );
        assert_eq!(text(&row[5]), r.approver.clone().unwrap_or_default());
        assert_eq!(text(&row[6]), r.spec.derived().cost_center);
        let Data::Float(est) = row[7] else {
            panic!("estimate is a number")
        };
        assert!((est - r.estimate.total.to_string().parse::<f64>().unwrap()).abs() < 1e-9);
        assert_eq!(text(&row[8]), r.estimate.currency);
    }

    // A requester's export: all of their own, whatever the filter says.
    let plus = Actor::trusted("+ana", [Role::Requester]).unwrap();
    let mut buf = Vec::new();
    let n = s.export_xlsx(&plus, &q, &mut buf).await.unwrap();
    assert_eq!(n, 2);
    let (rows, _) = read(buf);
    assert!(rows[1..].iter().all(|r| text(&r[4]) == "+ana"));
}

#[tokio::test]
async fn export_reads_back_equal_to_the_list_memory() {
    check_export(Arc::new(MemoryStore::new())).await;
}

#[tokio::test]
async fn export_reads_back_equal_to_the_list_sqlite() {
    check_export(Arc::new(SqliteStore::open_in_memory().unwrap())).await;
}

#[tokio::test]
async fn export_to_a_path_leaves_only_the_file() {
    let s = seeded(Arc::new(MemoryStore::new())).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("requests.xlsx");
    let viewer = Actor::trusted("vic", [Role::Viewer]).unwrap();
    let n = s
        .export_xlsx_to_path(&viewer, &RequestQuery::default(), &path)
        .await
        .unwrap();
    assert_eq!(n, 5);
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("requests.xlsx")]);
    let (rows, _) = read(std::fs::read(&path).unwrap());
    assert_eq!(rows.len(), 6);
    let bad = dir.path().join("no-such-dir").join("x.xlsx");
    assert!(s
        .export_xlsx_to_path(&viewer, &RequestQuery::default(), &bad)
        .await
        .is_err());
}

#[tokio::test]
async fn lists_page_filter_and_hide_others_requests() {
    let s = seeded(Arc::new(SqliteStore::open_in_memory().unwrap())).await;
    let viewer = Actor::trusted("vic", [Role::Viewer]).unwrap();
    let page = s
        .list(
            &viewer,
            &RequestQuery {
                limit: Some(2),
                offset: 0,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!((page.total, page.items.len()), (5, 2));
    assert!(page.items[0].id > page.items[1].id, "newest first");
    let created = s
        .list(
            &viewer,
            &RequestQuery {
                states: vec![RequestState::Created],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(created.total, 2);
    let minus = Actor::trusted("-bob", [Role::Requester]).unwrap();
    let mine = s.list(&minus, &RequestQuery::default()).await.unwrap();
    assert_eq!(mine.total, 1);
    assert!(mine.items.iter().all(|r| r.owner == "-bob"));
}
