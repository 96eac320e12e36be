use super::ddl::{render, Change, Dialect};
use super::tables as t;
use super::Schema;

#[test]
fn a_table_renders_for_each_dialect() {
    assert_eq!(
        t::DELIVERIES.create(Dialect::Sqlite),
        "CREATE TABLE deliveries (
    notifier TEXT NOT NULL,
    request_id INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    gave_up INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (notifier, request_id, seq)
) WITHOUT ROWID;"
    );
    assert_eq!(
        t::DELIVERIES.create(Dialect::Postgres),
        "CREATE TABLE deliveries (
    notifier TEXT NOT NULL,
    request_id BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_at BIGINT NOT NULL DEFAULT 0,
    last_error TEXT,
    gave_up BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (notifier, request_id, seq)
);"
    );
    assert_eq!(
        t::STEP_LOG.create(Dialect::Postgres),
        "CREATE TABLE step_log (
    id BIGSERIAL PRIMARY KEY,
    request_id BIGINT NOT NULL REFERENCES requests(id),
    body TEXT NOT NULL
);"
    );
    assert_eq!(
        t::REQUESTS.create(Dialect::Sqlite).lines().nth(1),
        Some("    id INTEGER PRIMARY KEY,"),
        "an INTEGER key inline, so SQLite makes it the row id"
    );
}

#[test]
fn changes_for_one_dialect_are_skipped_by_the_other() {
    let v: &[Change] = &[
        Change::Only(
            Dialect::Postgres,
            "ALTER TABLE requests SET (fillfactor = 70);",
        ),
        Change::Table(t::RUN_CANCELS),
        Change::Group(t::OUTBOX),
    ];
    let sqlite = render(v, Dialect::Sqlite);
    let pg = render(v, Dialect::Postgres);
    assert!(!sqlite.contains("fillfactor") && pg.contains("fillfactor"));
    assert!(sqlite.contains("CREATE TRIGGER history_outbox AFTER INSERT ON history BEGIN"));
    assert!(pg.contains("LANGUAGE plpgsql") && !sqlite.contains("plpgsql"));
    assert!(
        sqlite.contains("run_id INTEGER PRIMARY KEY") && pg.contains("run_id BIGINT PRIMARY KEY")
    );
}

#[test]
fn the_runner_plans_what_a_database_lacks_and_refuses_a_newer_one() {
    const S: Schema = Schema {
        dialect: Dialect::Sqlite,
        versions: &[
            &[Change::Table(t::REQUESTS)],
            &[Change::Table(t::RUN_CANCELS)],
        ],
    };
    let all = S.pending(0).unwrap();
    assert_eq!(all.iter().map(|(v, _)| *v).collect::<Vec<_>>(), [1, 2]);
    let rest = S.pending(1).unwrap();
    assert_eq!(rest.len(), 1);
    assert!(rest[0].1.starts_with("CREATE TABLE run_cancels"));
    assert!(S.pending(2).unwrap().is_empty());
    let newer = S.pending(3).unwrap_err().to_string();
    assert!(
        newer.contains("version 3 is newer than this Butler (2)"),
        "{newer}"
    );
}
