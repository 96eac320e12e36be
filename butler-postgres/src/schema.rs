//! The schema, applied in order; `butler_schema.version` records the last
//! version applied. The tables are SQLite's (`butler_core::store::SqliteStore`)
//! with PostgreSQL's types: the same JSON bodies, the same indexed columns.

pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: everything SQLite's versions 1 to 5 built.
    "CREATE TABLE requests (
        id BIGINT PRIMARY KEY,
        owner TEXT NOT NULL,
        state TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        version BIGINT NOT NULL,
        body TEXT NOT NULL
     );
     CREATE INDEX requests_state ON requests(state, id);
     CREATE INDEX requests_created ON requests(created_at DESC, id DESC);
     CREATE INDEX requests_owner_created ON requests(owner, created_at DESC, id DESC);
     CREATE TABLE history (
        request_id BIGINT NOT NULL REFERENCES requests(id),
        seq BIGINT NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (request_id, seq)
     );
     CREATE TABLE sequences (name TEXT PRIMARY KEY, value BIGINT NOT NULL);
     INSERT INTO sequences VALUES ('request', 0), ('group', 0), ('run', 0);
     CREATE TABLE step_log (
        id BIGSERIAL PRIMARY KEY,
        request_id BIGINT NOT NULL REFERENCES requests(id),
        body TEXT NOT NULL
     );
     CREATE INDEX step_log_request ON step_log(request_id, id);
     CREATE TABLE leases (
        request_id BIGINT PRIMARY KEY,
        owner TEXT NOT NULL,
        expires_at BIGINT NOT NULL
     );
     CREATE TABLE migration_groups (
        id BIGINT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        name_key TEXT NOT NULL UNIQUE,
        version BIGINT NOT NULL,
        body TEXT NOT NULL
     );
     CREATE TABLE migration_reports (
        id BIGINT PRIMARY KEY,
        group_id BIGINT NOT NULL,
        body TEXT NOT NULL
     );
     CREATE INDEX migration_reports_group ON migration_reports(group_id, id DESC);
     CREATE TABLE migration_report_lines (
        id BIGSERIAL PRIMARY KEY,
        run_id BIGINT NOT NULL,
        body TEXT NOT NULL
     );
     CREATE INDEX migration_report_lines_run ON migration_report_lines(run_id, id);
     CREATE TABLE users (
        name TEXT PRIMARY KEY,
        version BIGINT NOT NULL,
        body TEXT NOT NULL
     );
     CREATE TABLE user_audit (
        id BIGSERIAL PRIMARY KEY,
        body TEXT NOT NULL
     );
     CREATE TABLE secrets (
        purpose TEXT PRIMARY KEY,
        key BYTEA NOT NULL
     );",
    // 2: lease generations (fencing tokens), kept across releases.
    "ALTER TABLE leases ADD COLUMN generation BIGINT NOT NULL DEFAULT 1;",
    // 3: cheaper engine writes. A step's update changes no indexed column,
    // so with room on the page it is a HOT update (no index writes); the
    // step log is keyed by request, its one index; history and log lines are
    // written only by statements that match their request row (requests
    // are never deleted), so the foreign keys' per-row checks go.
    "ALTER TABLE requests SET (fillfactor = 70);
     ALTER TABLE history DROP CONSTRAINT history_request_id_fkey;
     ALTER TABLE step_log DROP CONSTRAINT step_log_request_id_fkey;
     ALTER TABLE step_log DROP CONSTRAINT step_log_pkey;
     DROP INDEX step_log_request;
     ALTER TABLE step_log ADD PRIMARY KEY (request_id, id);",
    // 4: the notification outbox. Every history row inserted queues, in the
    // same transaction (a trigger), one delivery per registered notifier.
    "CREATE TABLE notifiers (
        name TEXT PRIMARY KEY,
        owner TEXT,
        expires_at BIGINT NOT NULL DEFAULT 0
     );
     CREATE TABLE deliveries (
        notifier TEXT NOT NULL,
        request_id BIGINT NOT NULL,
        seq BIGINT NOT NULL,
        attempts BIGINT NOT NULL DEFAULT 0,
        next_at BIGINT NOT NULL DEFAULT 0,
        last_error TEXT,
        gave_up BOOLEAN NOT NULL DEFAULT FALSE,
        PRIMARY KEY (notifier, request_id, seq)
     );
     CREATE INDEX deliveries_due ON deliveries(notifier, gave_up, next_at, request_id, seq);
     CREATE INDEX deliveries_failed ON deliveries(attempts) WHERE attempts > 0;
     CREATE FUNCTION butler_history_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN
        INSERT INTO deliveries (notifier, request_id, seq)
        SELECT name, NEW.request_id, NEW.seq FROM notifiers;
        RETURN NULL;
     END $$;
     CREATE TRIGGER history_outbox AFTER INSERT ON history
        FOR EACH ROW EXECUTE FUNCTION butler_history_outbox();",
    // 5: runs someone asked to stop (from any process sharing the store).
    "CREATE TABLE run_cancels (run_id BIGINT PRIMARY KEY);",
];
