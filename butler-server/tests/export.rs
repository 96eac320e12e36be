//! The `.xlsx` export is headed in the exporter's language: the console's
//! (its cookie), else `Accept-Language`, else English.

mod common;

use calamine::{Reader, Xlsx};

/// The sheet name and header row of the workbook the export answers.
async fn headed(
    s: &common::TestServer,
    login: &common::Login,
    extra: &[(&str, &str)],
) -> (String, Vec<String>) {
    let mut rq = s
        .http
        .get(format!("{}/api/requests/export.xlsx", s.base))
        .header(
            "authorization",
            format!("Bearer {}", login.bearer.as_deref().unwrap_or("")),
        );
    for (k, v) in extra {
        rq = rq.header(*k, *v);
    }
    let res = rq.send().await.expect("the server answers");
    assert_eq!(res.status(), 200);
    let bytes = res.bytes().await.expect("the workbook").to_vec();
    let mut wb: Xlsx<_> = Xlsx::new(std::io::Cursor::new(bytes)).expect("an xlsx");
    let sheet = wb.sheet_names()[0].clone();
    let range = wb.worksheet_range(&sheet).expect("the sheet");
    let header = range
        .rows()
        .next()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .unwrap_or_default();
    (sheet, header)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_is_headed_in_the_exporters_language() {
    let s = common::start(butler_server::HttpSettings::default()).await;
    let ana = s.script("ana").await;
    let (sheet, header) = headed(&s, &ana, &[]).await;
    assert_eq!(
        (sheet.as_str(), header[0].as_str()),
        ("Requests", "Request")
    );
    let (sheet, header) = headed(&s, &ana, &[("accept-language", "es-CL,es;q=0.9,en;q=0.5")]).await;
    assert_eq!(
        (sheet.as_str(), header[0].as_str()),
        ("Solicitudes", "Solicitud")
    );
    assert_eq!(header[6], "Centro de costo");
    // The console's language wins over the browser's.
    let (sheet, _) = headed(
        &s,
        &ana,
        &[("accept-language", "es"), ("cookie", "butler_lang=en")],
    )
    .await;
    assert_eq!(sheet, "Requests");
}
