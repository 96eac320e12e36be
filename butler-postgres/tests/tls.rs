//! TLS to a real PostgreSQL (`scripts/services/postgres.sh`: TLS on, a
//! certificate for `localhost` only, signed by a CA of the script's own):
//! each `sslmode` does what libpq's does, a certificate that does not
//! prove what the mode asks is refused, and no error shows the password.

use butler_postgres::testing::{fresh_database, CA_VAR};
use butler_postgres::PostgresStore;

/// A fresh database's URL and the test CA's path, or `None` (skipped
/// loudly by `fresh_database`) without a server.
async fn server(prefix: &str) -> Option<(String, String)> {
    let url = fresh_database(prefix).await?;
    let ca = std::env::var(CA_VAR).unwrap_or_else(|_| panic!("{CA_VAR} unset"));
    Some((url, ca))
}

/// `url` with its host changed to `host` and `query` added.
fn at(url: &str, host: &str, query: &str) -> String {
    let url = url.replacen("@127.0.0.1:", &format!("@{host}:"), 1);
    format!("{url}?{query}")
}

/// The error and every cause under it, as an operator reads them.
fn chain(e: &dyn std::error::Error) -> String {
    std::iter::successors(Some(e), |e| e.source())
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ")
}

fn password_of(url: &str) -> String {
    let after = url.split_once("://").map_or("", |(_, r)| r);
    let creds = after.split_once('@').map_or("", |(c, _)| c);
    creds.split_once(':').map_or("", |(_, p)| p).to_string()
}

#[tokio::test]
async fn each_sslmode_encrypts_and_verifies_as_libpq_does() {
    let Some((url, ca)) = server("tls_modes").await else {
        return;
    };
    let root = format!("sslrootcert={ca}");
    for (host, query, encrypted) in [
        ("localhost", format!("sslmode=verify-full&{root}"), true),
        ("127.0.0.1", format!("sslmode=verify-ca&{root}"), true),
        ("127.0.0.1", "sslmode=require".to_string(), true),
        ("127.0.0.1", format!("sslmode=require&{root}"), true),
        ("127.0.0.1", "sslmode=prefer".to_string(), true),
        ("127.0.0.1", "sslmode=disable".to_string(), false),
    ] {
        let s = PostgresStore::connect(&at(&url, host, &query))
            .await
            .unwrap_or_else(|e| panic!("{host} {query}: {e}"));
        assert_eq!(s.encrypted().await.unwrap(), encrypted, "{host} {query}");
    }
    // The connection string without any sslmode: prefer, so encrypted.
    let s = PostgresStore::connect(&url).await.unwrap();
    assert!(s.encrypted().await.unwrap());
}

#[tokio::test]
async fn a_certificate_that_does_not_prove_what_the_mode_asks_is_refused() {
    let Some((url, ca)) = server("tls_refused").await else {
        return;
    };
    let pw = password_of(&url);
    for (host, query, why) in [
        // The certificate names localhost, not the address.
        (
            "127.0.0.1",
            format!("sslmode=verify-full&sslrootcert={ca}"),
            "NotValidForName",
        ),
        // The test CA is not among the system's roots.
        (
            "localhost",
            "sslmode=verify-full".to_string(),
            "UnknownIssuer",
        ),
        (
            "127.0.0.1",
            "sslmode=verify-ca".to_string(),
            "UnknownIssuer",
        ),
    ] {
        let e = PostgresStore::connect(&at(&url, host, &query))
            .await
            .expect_err(&format!("{host} {query} connected"));
        let shown = format!("{e} {e:?}");
        let chain = chain(&e);
        assert!(
            chain.contains(why) || shown.contains(why),
            "{host} {query}: {chain}"
        );
        assert!(!shown.contains(&pw) && !chain.contains(&pw), "{chain}");
    }
}

#[tokio::test]
async fn a_wrong_password_says_so_without_the_password() {
    let Some((url, ca)) = server("tls_password").await else {
        return;
    };
    let pw = password_of(&url);
    let wrong = url.replacen(&format!(":{pw}@"), ":not-the-Password-42@", 1);
    let e = PostgresStore::connect(&at(
        &wrong,
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    ))
    .await
    .expect_err("a wrong password connected");
    let chain = chain(&e);
    let shown = format!("{chain} {e:?}");
    assert!(shown.contains("password authentication failed"), "{shown}");
    assert!(!shown.contains("not-the-Password-42"), "{shown}");
    assert!(!shown.contains(&pw), "{shown}");
}
