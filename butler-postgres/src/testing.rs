//! For tests and benches against a real server (feature `testing`).

/// The variable naming the test server: a role that may create databases
/// (`scripts/services/postgres.sh` writes it).
pub const URL_VAR: &str = "BUTLER_TEST_POSTGRES_URL";

/// The variable naming the CA that signed the test server's certificate
/// (for `localhost` only; `scripts/services/postgres.sh` makes both).
pub const CA_VAR: &str = "BUTLER_TEST_POSTGRES_CA";

/// A new, empty database on the test server and its URL; `None` (with a
/// loud note on stderr) when no server is configured outside CI. Under
/// `CI=true` a missing server panics: CI must run these tests.
pub async fn fresh_database(prefix: &str) -> Option<String> {
    let Some(url) = std::env::var(URL_VAR).ok().filter(|u| !u.is_empty()) else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!(
                "CI=true but no PostgreSQL is running ({URL_VAR} unset; scripts/test.sh starts it)"
            );
        }
        eprintln!("\n*** SKIPPED: no PostgreSQL ({URL_VAR} unset); run scripts/test.sh ***\n");
        return None;
    };
    let (admin, conn) = match tokio_postgres::connect(&url, tokio_postgres::NoTls).await {
        Ok(c) => c,
        Err(e) => panic!("the test PostgreSQL does not answer: {e}"),
    };
    tokio::spawn(conn);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let name = format!("{prefix}_{nanos}");
    if let Err(e) = admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
    {
        panic!("cannot create test database {name}: {e}");
    }
    let base = url.rsplit_once('/').map_or(url.as_str(), |(b, _)| b);
    Some(format!("{base}/{name}"))
}
