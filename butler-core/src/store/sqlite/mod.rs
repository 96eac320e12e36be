//! The embedded SQLite store: a file (WAL) or in memory, schema migrations,
//! transactions, and the version check done by the `UPDATE … WHERE version = ?`
//! itself, so two writers can never both win. Its tables, schema runner
//! plan and row codec are the shared SQL layer's ([`crate::store::sql`]).

use super::{
    Delivery, DeliveryOutcome, FlowStore, GroupStore, KeyStore, OutboxStore, Page, ReportStore,
    RequestQuery, RequestStore, SecretKey, StepLogEntry, StorageFailure, Store, StoreError,
    UserStore,
};
use crate::auth::{User, UserAudit};
use crate::inventory::VmRecord;
use crate::migration::{
    GroupError, GroupId, GroupVmsEdit, GroupVmsEdited, MigrationGroup, MigrationReport, RunId,
    VmReport,
};
use crate::request::{Request, RequestId, RequestState};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{params, params_from_iter, Connection, OptionalExtension};
use std::path::Path;
use std::sync::Arc;

mod groups;
mod outbox;
mod quota;
mod rows;
mod schema;
mod showback;
mod vms;
mod writer;

use rows::*;
use schema::SCHEMA;
use writer::{writer, Done, Job};

/// A [`Store`] on SQLite.
#[derive(Clone)]
pub struct SqliteStore {
    jobs: Arc<std::sync::mpsc::Sender<Job>>,
    /// The clock a caller's wait for the store thread is reported to.
    clock: Arc<std::sync::OnceLock<Arc<dyn crate::backend::Clock>>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

use super::sql::codec::{json, parse, storage_error as backend};

use super::outbox::micros;

/// One column (`body` or `version`) of a migration group, or not found.
fn group_column<T: rusqlite::types::FromSql>(
    c: &Connection,
    column: &'static str,
    id: GroupId,
) -> Result<T, StoreError> {
    c.query_row(
        &format!("SELECT {column} FROM migration_groups WHERE id = ?1"),
        [id.0 as i64],
        |r| r.get(0),
    )
    .optional()
    .map_err(backend)?
    .ok_or_else(|| StoreError::NotFound(format!("migration group {id}")))
}

/// Gives older groups their case-insensitive name key, then makes it
/// unique; two existing names that differ only by case are reported.
fn fill_group_name_keys(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn.transaction().map_err(backend)?;
    let rows: Vec<(i64, String)> = {
        let mut stmt = tx
            .prepare("SELECT id, name FROM migration_groups WHERE name_key IS NULL")
            .map_err(backend)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(backend)?;
        rows.collect::<Result<_, _>>().map_err(backend)?
    };
    for (id, name) in rows {
        tx.execute(
            "UPDATE migration_groups SET name_key = ?1 WHERE id = ?2",
            params![crate::migration::name_key(&name), id],
        )
        .map_err(backend)?;
    }
    tx.execute_batch(
        "CREATE UNIQUE INDEX IF NOT EXISTS migration_groups_name_key ON migration_groups(name_key)",
    )
    .map_err(|e| {
        StoreError::Damaged(format!(
            "two migration groups have names that differ only by case; rename one first ({e})"
        ))
    })?;
    tx.commit().map_err(backend)
}

/// An existing file must read as SQLite, pass the quick integrity check and
/// hold Butler's schema (or be an empty database).
fn check_sound(c: &Connection) -> Result<(), String> {
    let verdict: String = c
        .query_row("PRAGMA quick_check(1)", [], |r| r.get(0))
        .map_err(|e| e.to_string())?;
    if verdict != "ok" {
        return Err(format!("integrity check failed: {verdict}"));
    }
    let version: i64 = c
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(|e| e.to_string())?;
    let tables: i64 = c
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
            [],
            |r| r.get(0),
        )
        .map_err(|e| e.to_string())?;
    if version == 0 && tables > 0 {
        return Err("a database, but not a Butler store (no Butler schema)".into());
    }
    if version == 0 {
        // Butler writes its schema the moment it creates a file, so a file
        // without it lost its write-ahead log (or was never a Butler store).
        return Err(
            "no Butler schema in an existing file: its write-ahead log (-wal) may be missing"
                .into(),
        );
    }
    if version > 0 && tables == 0 {
        return Err(format!(
            "schema version {version} but no tables: the data is gone"
        ));
    }
    Ok(())
}

impl SqliteStore {
    /// Opens (creating if needed) a database file, in WAL mode, and brings
    /// its schema up to date.
    ///
    /// A file that exists must be a sound Butler store: an empty (0-byte)
    /// file, a file SQLite cannot read, a failed integrity check or a
    /// database with tables but no Butler schema is refused with
    /// [`StoreError::Damaged`], never taken for a new store (request numbers
    /// name VMs; restarting them at #1 could adopt old VMs).
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStore, StoreError> {
        let path = path.as_ref();
        let damaged = |why: String| StoreError::Damaged(format!("{}: {why}", path.display()));
        let existed = match std::fs::metadata(path) {
            Ok(m) if m.len() == 0 => {
                return Err(damaged(
                    "the file is empty (0 bytes); restore it from a backup or remove it to start a new store".into(),
                ))
            }
            Ok(_) => true,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            Err(e) => return Err(damaged(format!("cannot read it: {e}"))),
        };
        let conn = Connection::open(path).map_err(|e| damaged(e.to_string()))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| damaged(e.to_string()))?;
        if existed {
            check_sound(&conn).map_err(damaged)?;
        }
        Self::init(conn)
    }

    /// An in-memory database (gone when the store is dropped).
    pub fn open_in_memory() -> Result<SqliteStore, StoreError> {
        Self::init(Connection::open_in_memory().map_err(backend)?)
    }

    fn init(mut conn: Connection) -> Result<SqliteStore, StoreError> {
        // NORMAL is durable across process crashes in WAL mode; only an OS
        // crash may lose the last transactions.
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(backend)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(backend)?;
        // Checkpoint (and fsync) every ~32 MiB of WAL rather than every 4 MiB:
        // fewer fsyncs under sustained provisioning load; after a checkpoint
        // the WAL file is truncated to at most 64 MiB, so it stays bounded.
        conn.pragma_update(None, "wal_autocheckpoint", 8192)
            .map_err(backend)?;
        conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)
            .map_err(backend)?;
        // 64 MiB of page cache (the default is 2 MiB): the VM-name index of
        // a million-VM group is about 40 MiB, and a bulk edit of it should
        // not read pages back from the file.
        conn.pragma_update(None, "cache_size", -64 * 1024)
            .map_err(backend)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(backend)?;
        let current: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(backend)?;
        for (version, sql) in SCHEMA.pending(current)? {
            let tx = conn.transaction().map_err(backend)?;
            tx.execute_batch(&sql).map_err(backend)?;
            tx.pragma_update(None, "user_version", version)
                .map_err(backend)?;
            tx.commit().map_err(backend)?;
        }
        fill_group_name_keys(&mut conn)?;
        groups::move_members_to_rows(&mut conn)?;
        let (jobs, rx) = std::sync::mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("butler-sqlite".into())
            .spawn(move || writer(conn, rx))
            .map_err(|e| {
                StoreError::Backend(
                    StorageFailure::caused_by(e).context("cannot start the store thread"),
                )
            })?;
        Ok(SqliteStore {
            jobs: Arc::new(jobs),
            clock: Arc::default(),
        })
    }

    /// A running report shows the lines appended so far.
    async fn with_lines(&self, mut r: MigrationReport) -> Result<MigrationReport, StoreError> {
        if r.ended.is_some() || !r.vms.is_empty() {
            return Ok(r);
        }
        let run = r.id.0 as i64;
        let bodies = self
            .with(move |c| {
                column_for(
                    c,
                    "SELECT body FROM migration_report_lines WHERE run_id = ?1 ORDER BY id",
                    run,
                )
            })
            .await?;
        r.vms = bodies.iter().map(|b| parse(b)).collect::<Result<_, _>>()?;
        Ok(r)
    }

    /// Runs SQLite's integrity check on the whole file (slow on large
    /// stores; `open` runs the quick one).
    pub async fn integrity_check(&self) -> Result<(), StoreError> {
        self.with(|c| {
            let verdict: String = c
                .query_row("PRAGMA integrity_check(1)", [], |r| r.get(0))
                .map_err(backend)?;
            if verdict == "ok" {
                Ok(())
            } else {
                Err(StoreError::Damaged(verdict))
            }
        })
        .await
    }

    /// The schema version in the database.
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        self.with(|c| {
            c.pragma_query_value(None, "user_version", |r| r.get(0))
                .map_err(backend)
        })
        .await
    }

    /// Runs `f` on the store's connection, inside the current group-commit
    /// transaction, and answers once that transaction has committed.
    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.run(f, |_| true).await
    }

    /// Like `with` for an edit that may be refused: its writes are kept
    /// only when it is not.
    async fn with_edit<T: Send + 'static, E: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<Result<T, E>, StoreError> + Send + 'static,
    ) -> Result<Result<T, E>, StoreError> {
        self.run(f, |r| r.is_ok()).await
    }

    /// Runs `f` on the store thread in its own savepoint; its writes are
    /// committed when it succeeds and `keep` accepts what it returned.
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
        keep: fn(&T) -> bool,
    ) -> Result<T, StoreError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |c| {
            let out = f(c);
            let ok = out.as_ref().is_ok_and(keep);
            let done: Done = Box::new(move |commit: Result<(), StoreError>| {
                let _ = tx.send(commit.and(out));
            });
            (ok, done)
        });
        let stopped = || StoreError::Backend("the store thread has stopped".into());
        self.jobs.send(job).map_err(|_| stopped())?;
        // The store thread answers without any clock moving: an outside wait.
        let answer = match self.clock.get() {
            Some(clock) => crate::backend::outside(clock.clone(), rx).await,
            None => rx.await,
        };
        answer.map_err(|_| stopped())?
    }
}

#[async_trait]
impl RequestStore for SqliteStore {
    async fn next_request_id(&self) -> Result<RequestId, StoreError> {
        self.with(|c| Ok(RequestId(next_in(c, "request")?))).await
    }

    async fn insert_request(&self, request: &Request) -> Result<(), StoreError> {
        let (r, body, history) = split(request.clone())?;
        self.with(move |c| {
            let id = r.id.0 as i64;
            let inserted = c
                .prepare_cached(
                    "INSERT INTO requests (id, owner, state, created_at, version, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT(id) DO NOTHING",
                )
                .and_then(|mut s| {
                    s.execute(params![id, r.owner, r.state.as_str(), micros(r.created_at), r.version as i64, body])
                })
                .map_err(backend)?;
            if inserted == 0 {
                return Err(StoreError::AlreadyExists(format!("request {}", r.id)));
            }
            insert_history(c, r.id, 0, &history)?;
            c.prepare_cached("UPDATE sequences SET value = max(value, ?1) WHERE name = 'request'")
                .and_then(|mut s| s.execute([id]))
                .map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn get_request(&self, id: RequestId) -> Result<Request, StoreError> {
        let raw = self
            .with(move |c| {
                let body: Option<String> = c
                    .prepare_cached("SELECT body FROM requests WHERE id = ?1")
                    .and_then(|mut s| s.query_row([id.0 as i64], |r| r.get(0)).optional())
                    .map_err(backend)?;
                let body = body.ok_or_else(|| StoreError::NotFound(format!("request {id}")))?;
                load_raw(c, id.0 as i64, body)
            })
            .await?;
        raw.decode()
    }

    async fn update_request(
        &self,
        request: &Request,
        expected_version: u64,
    ) -> Result<(), StoreError> {
        let (r, body, history) = split(request.clone())?;
        self.with(move |c| update_row(c, &r, &body, &history, expected_version))
            .await
    }

    async fn list_requests(&self, query: &RequestQuery) -> Result<Page<Request>, StoreError> {
        let q = query.clone();
        self.with(move |c| {
            let mut clauses = Vec::new();
            let mut args: Vec<rusqlite::types::Value> = Vec::new();
            if !q.states.is_empty() {
                let marks = vec!["?"; q.states.len()].join(",");
                clauses.push(format!("state IN ({marks})"));
                args.extend(q.states.iter().map(|s| rusqlite::types::Value::Text(s.as_str().to_string())));
            }
            if let Some(o) = &q.owner {
                clauses.push("owner = ?".to_string());
                args.push(rusqlite::types::Value::Text(o.clone()));
            }
            if let Some(t) = q.created_from {
                clauses.push("created_at >= ?".to_string());
                args.push(rusqlite::types::Value::Integer(micros(t)));
            }
            if let Some(t) = q.created_to {
                clauses.push("created_at < ?".to_string());
                args.push(rusqlite::types::Value::Integer(micros(t)));
            }
            let filter = if clauses.is_empty() { String::new() } else { format!("WHERE {}", clauses.join(" AND ")) };
            let total: i64 = c
                .query_row(&format!("SELECT COUNT(*) FROM requests {filter}"), params_from_iter(args.iter()), |r| r.get(0))
                .map_err(backend)?;
            // Past i64 is "everything" / "beyond the end", never a negative
            // number SQLite would read as "no limit" / "from the start".
            let limit = q.limit.map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX));
            let offset = i64::try_from(q.offset).unwrap_or(i64::MAX);
            let sql = format!("SELECT id, body FROM requests {filter} ORDER BY created_at DESC, id DESC LIMIT {limit} OFFSET {offset}");
            let mut stmt = c.prepare(&sql).map_err(backend)?;
            let rows: Vec<(i64, String)> = stmt
                .query_map(params_from_iter(args.iter()), |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(backend)?
                .collect::<Result<_, _>>()
                .map_err(backend)?;
            let raws = rows.into_iter().map(|(id, body)| load_raw(c, id, body)).collect::<Result<Vec<_>, _>>()?;
            Ok((raws, total as usize))
        })
        .await
        .map(|(raws, total)| {
            let mut items = Vec::with_capacity(raws.len());
            let mut skipped = 0;
            for raw in &raws {
                match raw.decode() {
                    Ok(r) => items.push(r),
                    Err(e) => {
                        skipped += 1;
                        tracing::error!(request = raw.id, error = ?e, "a stored request cannot be read; left out of the list");
                    }
                }
            }
            Page { items, total, skipped }
        })
    }

    async fn request_ids_in_states(
        &self,
        states: &[RequestState],
    ) -> Result<Vec<RequestId>, StoreError> {
        let states: Vec<String> = states.iter().map(|s| s.as_str().to_string()).collect();
        self.with(move |c| {
            if states.is_empty() {
                return Ok(Vec::new());
            }
            let marks = vec!["?"; states.len()].join(",");
            let mut stmt = c
                .prepare(&format!(
                    "SELECT id FROM requests WHERE state IN ({marks}) ORDER BY id"
                ))
                .map_err(backend)?;
            let ids = stmt
                .query_map(params_from_iter(states.iter()), |r| r.get::<_, i64>(0))
                .map_err(backend)?
                .map(|id| id.map(|id| RequestId(id as u64)))
                .collect::<Result<_, _>>()
                .map_err(backend)?;
            Ok(ids)
        })
        .await
    }
}

#[async_trait]
impl FlowStore for SqliteStore {
    async fn update_request_with_log(
        &self,
        request: &Request,
        expected_version: u64,
        log: &[StepLogEntry],
    ) -> Result<(), StoreError> {
        let (r, body, history) = split(request.clone())?;
        let lines = log.iter().map(json).collect::<Result<Vec<_>, _>>()?;
        self.with(move |c| {
            for line in &lines {
                insert_log(c, r.id, line)?;
            }
            update_row(c, &r, &body, &history, expected_version)
        })
        .await
    }

    async fn append_step_log(&self, id: RequestId, entry: &StepLogEntry) -> Result<(), StoreError> {
        let body = json(entry)?;
        self.with(move |c| insert_log(c, id, &body)).await
    }

    async fn step_log(&self, id: RequestId) -> Result<Vec<StepLogEntry>, StoreError> {
        self.with(move |c| {
            let mut stmt = c
                .prepare_cached("SELECT body FROM step_log WHERE request_id = ?1 ORDER BY id")
                .map_err(backend)?;
            let rows = stmt
                .query_map([id.0 as i64], |r| r.get::<_, String>(0))
                .map_err(backend)?;
            rows.map(|b| parse(&b.map_err(backend)?)).collect()
        })
        .await
    }

    async fn acquire_lease(
        &self,
        id: RequestId,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Option<u64>, StoreError> {
        let owner = owner.to_string();
        self.with(move |c| {
            let generation: Option<i64> = c
                .prepare_cached(
                    "INSERT INTO leases (request_id, owner, expires_at, generation) VALUES (?1, ?2, ?3, 1)
                     ON CONFLICT(request_id) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at,
                        generation = CASE WHEN leases.owner = excluded.owner THEN leases.generation ELSE leases.generation + 1 END
                     WHERE leases.owner = excluded.owner OR leases.expires_at <= ?4
                     RETURNING generation",
                )
                .and_then(|mut s| {
                    s.query_row(params![id.0 as i64, owner, micros(until), micros(now)], |r| r.get(0))
                        .optional()
                })
                .map_err(backend)?;
            Ok(generation.map(|g| u64::try_from(g).unwrap_or(0)))
        })
        .await
    }

    async fn release_lease(&self, id: RequestId, owner: &str) -> Result<(), StoreError> {
        let owner = owner.to_string();
        self.with(move |c| {
            // Expired at once; the row (and its generation) stays.
            c.prepare_cached(
                "UPDATE leases SET expires_at = ?3 WHERE request_id = ?1 AND owner = ?2",
            )
            .and_then(|mut s| s.execute(params![id.0 as i64, owner, i64::MIN]))
            .map_err(backend)?;
            Ok(())
        })
        .await
    }
}

#[async_trait]
impl GroupStore for SqliteStore {
    async fn next_group_id(&self) -> Result<GroupId, StoreError> {
        self.with(|c| next_in(c, "group").map(GroupId)).await
    }

    async fn insert_group(&self, group: &MigrationGroup) -> Result<(), StoreError> {
        let group = group.clone();
        self.with(move |c| {
            groups::insert(c, &group)?;
            c.execute(
                "UPDATE sequences SET value = max(value, ?1) WHERE name = 'group'",
                [group.id.0 as i64],
            )
            .map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn get_group(&self, id: GroupId) -> Result<MigrationGroup, StoreError> {
        self.with(move |c| {
            let body: String = group_column(c, "body", id)?;
            let mut g: MigrationGroup = parse(&body)?;
            g.vms = groups::read_members(c, id)?;
            Ok(g)
        })
        .await
    }

    async fn group_version(&self, id: GroupId) -> Result<u64, StoreError> {
        let v: i64 = self.with(move |c| group_column(c, "version", id)).await?;
        Ok(v as u64)
    }

    async fn update_group(
        &self,
        group: &MigrationGroup,
        expected_version: u64,
    ) -> Result<(), StoreError> {
        let group = group.clone();
        self.with(move |c| {
            groups::update_header(c, &group, expected_version, Some(group.vms.len()))?;
            groups::replace_members(c, group.id, &group.vms)
        })
        .await
    }

    async fn update_group_header(
        &self,
        group: &MigrationGroup,
        expected_version: u64,
    ) -> Result<(), StoreError> {
        let header = group.header();
        self.with(move |c| groups::update_header(c, &header, expected_version, None))
            .await
    }

    async fn change_group_vms(
        &self,
        id: GroupId,
        expected_version: u64,
        edit: &GroupVmsEdit,
        by: &str,
        at: DateTime<Utc>,
    ) -> Result<Result<GroupVmsEdited, GroupError>, StoreError> {
        if let Err(e) = edit.check() {
            return Ok(Err(e));
        }
        let (edit, by) = (edit.clone(), by.to_string());
        self.with_edit(move |c| groups::change(c, id, expected_version, &edit, &by, at))
            .await
    }

    async fn delete_group(&self, id: GroupId, expected_version: u64) -> Result<(), StoreError> {
        self.with(move |c| {
            let n = c
                .execute(
                    "DELETE FROM migration_groups WHERE id = ?1 AND version = ?2",
                    params![id.0 as i64, expected_version as i64],
                )
                .map_err(backend)?;
            if n == 0 {
                return Err(version_error(
                    c,
                    "migration_groups",
                    id.0,
                    &format!("migration group {id}"),
                    expected_version,
                ));
            }
            c.execute("DELETE FROM group_vms WHERE group_id = ?1", [id.0 as i64])
                .map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn find_groups(&self, name_part: &str) -> Result<Vec<MigrationGroup>, StoreError> {
        let pattern = format!(
            "%{}%",
            name_part
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        self.with(move |c| {
            let mut stmt = c
                .prepare("SELECT body FROM migration_groups WHERE name LIKE ?1 ESCAPE '\\' ORDER BY name")
                .map_err(backend)?;
            let rows = stmt.query_map([pattern], |r| r.get(0)).map_err(backend)?;
            let bodies = rows.collect::<Result<Vec<String>, _>>().map_err(backend)?;
            bodies
                .iter()
                .map(|b| {
                    let mut g: MigrationGroup = parse(b)?;
                    g.vms = groups::read_members(c, g.id)?;
                    Ok(g)
                })
                .collect()
        })
        .await
    }
}

#[async_trait]
impl ReportStore for SqliteStore {
    async fn next_run_id(&self) -> Result<RunId, StoreError> {
        self.with(|c| next_in(c, "run").map(RunId)).await
    }

    async fn save_report(&self, report: &MigrationReport) -> Result<(), StoreError> {
        let (id, group, body, done) = (
            report.id,
            report.group,
            json(report)?,
            report.ended.is_some(),
        );
        self.with(move |c| {
            c.execute(
                "INSERT INTO migration_reports (id, group_id, body) VALUES (?1, ?2, ?3)
                 ON CONFLICT(id) DO UPDATE SET body = excluded.body, group_id = excluded.group_id",
                params![id.0 as i64, group.0 as i64, body],
            )
            .map_err(backend)?;
            if done {
                // The final report holds every line; the appended ones go.
                c.execute(
                    "DELETE FROM migration_report_lines WHERE run_id = ?1",
                    [id.0 as i64],
                )
                .map_err(backend)?;
            }
            Ok(())
        })
        .await
    }

    async fn append_report_lines(&self, run: RunId, lines: &[VmReport]) -> Result<(), StoreError> {
        let bodies = lines.iter().map(json).collect::<Result<Vec<String>, _>>()?;
        self.with(move |c| {
            let mut stmt = c
                .prepare_cached("INSERT INTO migration_report_lines (run_id, body) VALUES (?1, ?2)")
                .map_err(backend)?;
            for b in &bodies {
                stmt.execute(params![run.0 as i64, b]).map_err(backend)?;
            }
            Ok(())
        })
        .await
    }

    async fn unfinished_reports(&self) -> Result<Vec<MigrationReport>, StoreError> {
        let bodies = self
            .with(|c| column(c, "SELECT body FROM migration_reports ORDER BY id"))
            .await?;
        let mut out = Vec::new();
        for b in &bodies {
            let r: MigrationReport = parse(b)?;
            if r.ended.is_none() {
                out.push(self.with_lines(r).await?);
            }
        }
        Ok(out)
    }

    async fn get_report(&self, id: RunId) -> Result<MigrationReport, StoreError> {
        let body: String = self
            .with(move |c| {
                c.query_row(
                    "SELECT body FROM migration_reports WHERE id = ?1",
                    [id.0 as i64],
                    |r| r.get(0),
                )
                .optional()
                .map_err(backend)?
                .ok_or_else(|| StoreError::NotFound(format!("migration report {id}")))
            })
            .await?;
        self.with_lines(parse(&body)?).await
    }

    async fn request_cancel(&self, run: RunId) -> Result<(), StoreError> {
        let id = run.0 as i64;
        self.with(move |c| {
            let known: Option<i64> = c
                .query_row("SELECT 1 FROM migration_reports WHERE id = ?1", [id], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(backend)?;
            if known.is_none() {
                return Err(StoreError::NotFound(format!("migration run {run}")));
            }
            c.execute(
                "INSERT INTO run_cancels (run_id) VALUES (?1) ON CONFLICT DO NOTHING",
                [id],
            )
            .map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn cancel_requested(&self, run: RunId) -> Result<bool, StoreError> {
        let id = run.0 as i64;
        self.with(move |c| {
            c.query_row("SELECT 1 FROM run_cancels WHERE run_id = ?1", [id], |r| {
                r.get::<_, i64>(0)
            })
            .optional()
            .map(|x| x.is_some())
            .map_err(backend)
        })
        .await
    }

    async fn list_reports(&self, group: GroupId) -> Result<Vec<MigrationReport>, StoreError> {
        let group = group.0 as i64;
        let bodies = self
            .with(move |c| {
                column_for(
                    c,
                    "SELECT body FROM migration_reports WHERE group_id = ?1 ORDER BY id DESC",
                    group,
                )
            })
            .await?;
        let mut out = Vec::with_capacity(bodies.len());
        for b in &bodies {
            out.push(self.with_lines(parse(b)?).await?);
        }
        Ok(out)
    }
}

#[async_trait]
impl UserStore for SqliteStore {
    async fn insert_user(&self, user: &User, audit: &UserAudit) -> Result<(), StoreError> {
        let (name, version, body, line) =
            (user.name.clone(), user.version, json(user)?, json(audit)?);
        self.with(move |c| {
            c.execute(
                "INSERT INTO users (name, version, body) VALUES (?1, ?2, ?3)",
                params![name, version as i64, body],
            )
            .map_err(|e| unique_violation(e, &format!("user {name:?}")))?;
            insert_audit(c, &line)
        })
        .await
    }

    async fn get_user(&self, name: &str) -> Result<User, StoreError> {
        let name = name.to_string();
        let body: String = self
            .with(move |c| {
                c.query_row("SELECT body FROM users WHERE name = ?1", [&name], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(backend)?
                .ok_or_else(|| StoreError::NotFound(format!("user {name:?}")))
            })
            .await?;
        parse(&body)
    }

    async fn update_user(
        &self,
        user: &User,
        expected_version: u64,
        audit: &UserAudit,
    ) -> Result<(), StoreError> {
        let (name, version, body, line) =
            (user.name.clone(), user.version, json(user)?, json(audit)?);
        self.with(move |c| {
            let n = c
                .execute(
                    "UPDATE users SET version = ?1, body = ?2 WHERE name = ?3 AND version = ?4",
                    params![version as i64, body, name, expected_version as i64],
                )
                .map_err(backend)?;
            if n == 0 {
                return Err(user_version_error(c, &name, expected_version));
            }
            insert_audit(c, &line)
        })
        .await
    }

    async fn delete_user(
        &self,
        name: &str,
        expected_version: u64,
        audit: &UserAudit,
    ) -> Result<(), StoreError> {
        let (name, line) = (name.to_string(), json(audit)?);
        self.with(move |c| {
            let n = c
                .execute(
                    "DELETE FROM users WHERE name = ?1 AND version = ?2",
                    params![name, expected_version as i64],
                )
                .map_err(backend)?;
            if n == 0 {
                return Err(user_version_error(c, &name, expected_version));
            }
            insert_audit(c, &line)
        })
        .await
    }

    async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        let bodies = self
            .with(|c| column(c, "SELECT body FROM users ORDER BY name"))
            .await?;
        bodies.iter().map(|b| parse(b)).collect()
    }

    async fn user_audit(&self) -> Result<Vec<UserAudit>, StoreError> {
        let bodies = self
            .with(|c| column(c, "SELECT body FROM user_audit ORDER BY id"))
            .await?;
        bodies.iter().map(|b| parse(b)).collect()
    }
}

#[async_trait]
impl KeyStore for SqliteStore {
    async fn secret_key(&self, purpose: &str) -> Result<SecretKey, StoreError> {
        let purpose = purpose.to_string();
        let fresh = SecretKey::random()?;
        let key: Vec<u8> = self
            .with(move |c| {
                // First writer wins; every later reader gets the same key.
                c.execute(
                    "INSERT OR IGNORE INTO secrets (purpose, key) VALUES (?1, ?2)",
                    params![purpose, fresh.expose_bytes().as_slice()],
                )
                .map_err(backend)?;
                c.query_row(
                    "SELECT key FROM secrets WHERE purpose = ?1",
                    [&purpose],
                    |r| r.get(0),
                )
                .map_err(backend)
            })
            .await?;
        let bytes: [u8; 32] = key
            .try_into()
            .map_err(|_| StoreError::Backend("a stored secret key is not 32 bytes".into()))?;
        Ok(SecretKey::from_bytes(bytes))
    }
}

#[async_trait]
impl super::RuleStore for SqliteStore {
    async fn add_rule_book(&self, book: &crate::rules::RuleBook) -> Result<(), StoreError> {
        let version = book.version;
        let body = json(book)?;
        self.with(move |c| {
            let newest: i64 = c
                .query_row(
                    "SELECT COALESCE(MAX(version), 0) FROM rule_books",
                    [],
                    |r| r.get(0),
                )
                .map_err(backend)?;
            if i64::from(version) != newest + 1 {
                return Err(super::rule_book_conflict(
                    version,
                    u32::try_from(newest).unwrap_or(u32::MAX),
                ));
            }
            c.execute(
                "INSERT INTO rule_books (version, body) VALUES (?1, ?2)",
                params![version, body],
            )
            .map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn rule_books(&self) -> Result<Vec<crate::rules::RuleBook>, StoreError> {
        let bodies: Vec<String> = self
            .with(|c| {
                let mut st = c
                    .prepare_cached("SELECT body FROM rule_books ORDER BY version")
                    .map_err(backend)?;
                let rows = st.query_map([], |r| r.get(0)).map_err(backend)?;
                rows.collect::<Result<_, _>>().map_err(backend)
            })
            .await?;
        bodies.iter().map(|b| parse(b)).collect()
    }

    async fn newer_rule_book(
        &self,
        than: u32,
    ) -> Result<Option<crate::rules::RuleBook>, StoreError> {
        let body: Option<String> = self
            .with(move |c| {
                c.prepare_cached(
                    "SELECT body FROM rule_books WHERE version > ?1 ORDER BY version DESC LIMIT 1",
                )
                .and_then(|mut st| st.query_row([than], |r| r.get(0)).optional())
                .map_err(backend)
            })
            .await?;
        body.map(|b| parse(&b)).transpose()
    }
}

#[async_trait]
impl OutboxStore for SqliteStore {
    async fn register_notifier(&self, name: &str) -> Result<(), StoreError> {
        let name = name.to_string();
        self.with(move |c| outbox::register(c, &name)).await
    }

    async fn claim_notifier(
        &self,
        name: &str,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let (name, owner) = (name.to_string(), owner.to_string());
        self.with(move |c| outbox::claim(c, &name, &owner, now, until))
            .await
    }

    async fn due_deliveries(
        &self,
        name: &str,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        let name = name.to_string();
        let raw = self
            .with(move |c| outbox::due(c, &name, now, limit))
            .await?;
        raw.into_iter().map(outbox::RawDelivery::decode).collect()
    }

    async fn record_deliveries(
        &self,
        name: &str,
        outcomes: &[DeliveryOutcome],
    ) -> Result<(), StoreError> {
        let (name, outcomes) = (name.to_string(), outcomes.to_vec());
        self.with(move |c| outbox::record(c, &name, &outcomes))
            .await
    }

    async fn failed_deliveries(&self, limit: usize) -> Result<Vec<Delivery>, StoreError> {
        let raw = self.with(move |c| outbox::failed(c, limit)).await?;
        raw.into_iter().map(outbox::RawDelivery::decode).collect()
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn update_request_with_vm(
        &self,
        request: &Request,
        expected_version: u64,
        log: &[StepLogEntry],
        vm: &VmRecord,
        before: &VmRecord,
    ) -> Result<(), StoreError> {
        let write = vms::VmWrite::over(vm, before)?;
        let (r, body, history) = split(request.clone())?;
        let lines = log.iter().map(json).collect::<Result<Vec<_>, _>>()?;
        let freed = crate::quota::freed_by(vm, before);
        // One job, one savepoint: a refusal of either rolls both back.
        self.with(move |c| {
            write.run(c)?;
            for line in &lines {
                insert_log(c, r.id, line)?;
            }
            update_row(c, &r, &body, &history, expected_version)?;
            if let Some(freed) = &freed {
                // A release is never refused.
                let _ = quota::hold_on(c, std::slice::from_ref(freed), &[])?;
            }
            Ok(())
        })
        .await
    }

    fn report_waits_to(&self, clock: Arc<dyn crate::backend::Clock>) {
        // Real clocks ignore outside waits: only a virtual one is kept.
        if clock.is_virtual() {
            let _ = self.clock.set(clock);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The schema of `c` as SQLite reports it, one line per table, column,
    /// foreign key, index key and trigger, in name order: what a fresh
    /// store must have, whatever the text that made it.
    fn schema_of(c: &Connection) -> String {
        use rusqlite::types::Value;
        // Every row of `sql`, its columns as text.
        let rows = |sql: &str| -> Vec<Vec<String>> {
            let mut st = c.prepare(sql).unwrap();
            let n = st.column_count();
            st.query_map([], |r| {
                (0..n)
                    .map(|i| {
                        Ok(match r.get::<_, Value>(i)? {
                            Value::Null => "-".to_string(),
                            Value::Integer(v) => v.to_string(),
                            Value::Text(t) => t,
                            other => format!("{other:?}"),
                        })
                    })
                    .collect()
            })
            .unwrap()
            .map(|r| r.unwrap())
            .collect()
        };
        let mut out = String::new();
        for t in rows(
            "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
        ) {
            let (table, sql) = (&t[0], &t[1]);
            let clustered = sql.contains("WITHOUT ROWID");
            let autoinc = sql.contains("AUTOINCREMENT");
            out += &format!("table {table} clustered={clustered} autoincrement={autoinc}\n");
            // cid, name, type, notnull, default, pk
            for col in rows(&format!("PRAGMA table_info({table})")) {
                out += &format!(
                    "  column {} {} notnull={} default={} pk={}\n",
                    col[1], col[2], col[3], col[4], col[5]
                );
            }
            // id, seq, table, from, to, ...
            for fk in rows(&format!("PRAGMA foreign_key_list({table})")) {
                out += &format!("  fk {} -> {}({})\n", fk[3], fk[2], fk[4]);
            }
        }
        for ix in rows(
            "SELECT name, tbl_name, coalesce(sql, 'CREATE UNIQUE') FROM sqlite_master WHERE type = 'index' ORDER BY name",
        ) {
            // A constraint's own index has no SQL, and is unique.
            let (index, table, sql) = (&ix[0], &ix[1], &ix[2]);
            let unique = sql.starts_with("CREATE UNIQUE");
            let filter = sql.split(" WHERE ").nth(1).map(str::trim);
            // seqno, cid, name, desc, coll, key
            let keys: Vec<String> = rows(&format!("PRAGMA index_xinfo({index})"))
                .into_iter()
                .filter(|k| k[5] == "1")
                .map(|k| format!("{}{}", k[2], if k[3] == "1" { " desc" } else { "" }))
                .collect();
            out += &format!(
                "index {index} on {table}({}) unique={unique} filter={filter:?}\n",
                keys.join(", ")
            );
        }
        for tr in
            rows("SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger' ORDER BY name")
        {
            out += &format!("trigger {} on {}\n", tr[0], tr[1]);
        }
        out
    }

    /// The schema a new store file gets, as SQLite reports it, is the one
    /// recorded in `schema.txt` (checked once against the schema text the
    /// tables were written in before the shared SQL layer). A change to a
    /// table shows here; record it with `BUTLER_RECORD_SCHEMA=1`, and add
    /// a schema version for stores that exist.
    #[tokio::test]
    async fn a_new_store_has_the_recorded_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("butler.sqlite");
        drop(SqliteStore::open(&path).unwrap());
        let got = schema_of(&Connection::open(&path).unwrap());
        let record = concat!(env!("CARGO_MANIFEST_DIR"), "/src/store/sqlite/schema.txt");
        if std::env::var_os("BUTLER_RECORD_SCHEMA").is_some() {
            std::fs::write(record, &got).unwrap();
        }
        assert_eq!(got, std::fs::read_to_string(record).unwrap());
    }

    #[tokio::test]
    async fn sqlite_in_memory_passes_the_store_suite() {
        crate::testing::store::run_all(&SqliteStore::open_in_memory().unwrap()).await;
    }

    #[tokio::test]
    async fn sqlite_file_passes_the_store_suite_and_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("butler.sqlite");
        let (id, key) = {
            let s = SqliteStore::open(&path).unwrap();
            crate::testing::store::run_all(&s).await;
            let id = s.next_request_id().await.unwrap();
            let r = crate::testing::store::sample_request(id, "zoe", chrono::Utc::now());
            s.insert_request(&r).await.unwrap();
            (id, s.secret_key("validation-token").await.unwrap())
        };
        let s = SqliteStore::open(&path).unwrap();
        assert_eq!(
            s.secret_key("validation-token").await.unwrap(),
            key,
            "tokens signed before a restart stay verifiable"
        );
        assert_eq!(s.schema_version().await.unwrap(), SCHEMA.target());
        let r = s.get_request(id).await.unwrap();
        assert_eq!((r.owner.as_str(), r.history.len()), ("zoe", 1));
        assert!(
            s.next_request_id().await.unwrap() > id,
            "ids are never reused"
        );
    }

    #[tokio::test]
    async fn empty_damaged_and_foreign_files_are_refused_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let damaged = |p: &std::path::Path| {
            let err = SqliteStore::open(p).map(|_| ()).unwrap_err();
            assert!(matches!(err, StoreError::Damaged(_)), "{err}");
            err.to_string()
        };
        // A 0-byte file (a failed copy, a truncated volume).
        let empty = dir.path().join("empty.sqlite");
        std::fs::write(&empty, b"").unwrap();
        assert!(damaged(&empty).contains("empty"));
        assert_eq!(
            std::fs::metadata(&empty).unwrap().len(),
            0,
            "left as it was"
        );
        // Not SQLite at all.
        let junk = dir.path().join("junk.sqlite");
        std::fs::write(&junk, vec![0x42u8; 8192]).unwrap();
        damaged(&junk);
        // A sound store whose pages were overwritten in the middle.
        let torn = dir.path().join("torn.sqlite");
        {
            let s = SqliteStore::open(&torn).unwrap();
            for i in 0..200 {
                let id = s.next_request_id().await.unwrap();
                let r =
                    crate::testing::store::sample_request(id, &format!("u{i}"), chrono::Utc::now());
                s.insert_request(&r).await.unwrap();
            }
        }
        // Wait for the store thread to close the file (its last checkpoint).
        let wal = torn.with_extension("sqlite-wal");
        for _ in 0..200 {
            if !wal.exists() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert!(!wal.exists(), "checkpointed on close");
        let mut bytes = std::fs::read(&torn).unwrap();
        let len = bytes.len();
        assert!(len > 8 * 4096, "{len}");
        for b in &mut bytes[4096..len - 4096] {
            *b = 0x5a;
        }
        std::fs::write(&torn, bytes).unwrap();
        damaged(&torn);
        // Somebody else's database.
        let foreign = dir.path().join("foreign.sqlite");
        rusqlite::Connection::open(&foreign)
            .unwrap()
            .execute_batch("CREATE TABLE t (x INTEGER)")
            .unwrap();
        assert!(damaged(&foreign).contains("not a Butler store"));
        // A store whose write-ahead log was lost before any checkpoint.
        let walless = dir.path().join("walless.sqlite");
        {
            let c = rusqlite::Connection::open(&walless).unwrap();
            c.pragma_update(None, "journal_mode", "WAL").unwrap();
        }
        assert!(damaged(&walless).contains("write-ahead log"));
        // A missing file is a new store, as always.
        let fresh = dir.path().join("fresh.sqlite");
        let s = SqliteStore::open(&fresh).unwrap();
        s.integrity_check().await.unwrap();
    }

    #[tokio::test]
    async fn a_history_clustered_by_request_is_rebuilt_in_order_on_open() {
        use crate::store::sql::ddl::{Dialect, Table};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.sqlite");
        let at = chrono::Utc::now();
        let mut stored = Vec::new();
        {
            let s = SqliteStore::open(&path).unwrap();
            for id in 1..=3 {
                let r = crate::testing::store::sample_request(RequestId(id), "ana", at);
                s.insert_request(&r).await.unwrap();
                stored.push(s.get_request(RequestId(id)).await.unwrap());
            }
        }
        {
            // As schema 15 left it: clustered by request, WITHOUT ROWID.
            let c = rusqlite::Connection::open(&path).unwrap();
            let clustered = Table {
                name: "history_clustered",
                clustered: true,
                ..crate::store::sql::tables::HISTORY
            };
            c.execute_batch(&format!(
                "BEGIN; {}
                 INSERT INTO history_clustered SELECT request_id, seq, body FROM history;
                 DROP TABLE history;
                 ALTER TABLE history_clustered RENAME TO history;
                 {}
                 PRAGMA user_version = 15; COMMIT;",
                clustered.create(Dialect::Sqlite),
                crate::store::sql::tables::HISTORY_OUTBOX_SQLITE,
            ))
            .unwrap();
            let sql: String = c
                .query_row(
                    "SELECT sql FROM sqlite_schema WHERE name = 'history'",
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            assert!(sql.contains("WITHOUT ROWID"), "{sql}");
        }
        let s = SqliteStore::open(&path).unwrap();
        assert_eq!(s.schema_version().await.unwrap(), 16);
        for r in &stored {
            assert_eq!(&s.get_request(r.id).await.unwrap(), r);
        }
        let (sql, trigger_on): (String, String) = s
            .with(|c| {
                let sql = c
                    .query_row("SELECT sql FROM sqlite_schema WHERE name = 'history'", [], |r| r.get(0))
                    .map_err(backend)?;
                let on = c
                    .query_row(
                        "SELECT tbl_name FROM sqlite_schema WHERE type = 'trigger' AND name = 'history_outbox'",
                        [],
                        |r| r.get(0),
                    )
                    .map_err(backend)?;
                Ok((sql, on))
            })
            .await
            .unwrap();
        assert!(
            !sql.contains("WITHOUT ROWID") && sql.contains("PRIMARY KEY (request_id, seq)"),
            "{sql}"
        );
        assert_eq!(trigger_on, "history");
        s.integrity_check().await.unwrap();
    }

    #[tokio::test]
    async fn older_stores_get_case_insensitive_group_names_on_open() {
        use crate::migration::{GroupId, MigrationGroup};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.sqlite");
        {
            let s = SqliteStore::open(&path).unwrap();
            for (id, name) in [(1, "Alpha"), (2, "Beta")] {
                let g = MigrationGroup::new(GroupId(id), name, "ops", chrono::Utc::now()).unwrap();
                s.insert_group(&g).await.unwrap();
            }
        }
        // As a store written before name keys existed.
        let wait_closed = || async {
            for _ in 0..200 {
                if !path.with_extension("sqlite-wal").exists() {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        };
        wait_closed().await;
        {
            let c = rusqlite::Connection::open(&path).unwrap();
            c.execute_batch(
                "DROP INDEX migration_groups_name_key; UPDATE migration_groups SET name_key = NULL;",
            )
            .unwrap();
        }
        let s = SqliteStore::open(&path).unwrap();
        let dup = MigrationGroup::new(GroupId(3), "ALPHA", "ops", chrono::Utc::now()).unwrap();
        assert!(matches!(
            s.insert_group(&dup).await,
            Err(StoreError::AlreadyExists(_))
        ));
        drop(s);
        wait_closed().await;
        {
            let c = rusqlite::Connection::open(&path).unwrap();
            c.execute_batch(
                "DROP INDEX migration_groups_name_key; UPDATE migration_groups SET name_key = NULL, name = 'beta' WHERE id = 1;",
            )
            .unwrap();
        }
        let err = SqliteStore::open(&path).map(|_| ()).unwrap_err();
        assert!(err.to_string().contains("differ only by case"), "{err}");
    }

    #[tokio::test]
    async fn groups_stored_with_their_vms_in_the_body_move_to_rows_on_open() {
        use crate::migration::{GroupId, GroupVmsEdit, MigrationGroup};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.sqlite");
        let mut g = MigrationGroup::new(GroupId(1), "old", "ops", chrono::Utc::now()).unwrap();
        for n in ["x", "y", "z"] {
            g.add_vm(n).unwrap();
        }
        g.select("y", false).unwrap();
        drop(SqliteStore::open(&path).unwrap());
        for _ in 0..200 {
            if !path.with_extension("sqlite-wal").exists() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        {
            // As schema 6 wrote it: the whole group in the body.
            let c = rusqlite::Connection::open(&path).unwrap();
            c.execute(
                "INSERT INTO migration_groups (id, name, version, body, name_key) VALUES (1, 'old', 1, ?1, 'old')",
                [serde_json::to_string(&g).unwrap()],
            )
            .unwrap();
        }
        let s = SqliteStore::open(&path).unwrap();
        assert_eq!(s.get_group(GroupId(1)).await.unwrap(), g);
        let done = s
            .change_group_vms(
                GroupId(1),
                1,
                &GroupVmsEdit::Add(vec!["w".into()]),
                "olga",
                chrono::Utc::now(),
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(done.vms, 4, "the count came along");
        assert_eq!(
            s.change_group_vms(
                GroupId(1),
                2,
                &GroupVmsEdit::Add(vec!["x".into()]),
                "olga",
                chrono::Utc::now()
            )
            .await,
            Ok(Err(crate::migration::GroupError::DuplicateVm("x".into()))),
            "moved VMs are known to the row index"
        );
    }

    #[tokio::test]
    async fn extreme_offsets_page_right_and_one_damaged_row_hides_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rows.sqlite");
        let s = SqliteStore::open(&path).unwrap();
        let mut ids = Vec::new();
        for i in 0..3 {
            let id = s.next_request_id().await.unwrap();
            let r = crate::testing::store::sample_request(id, &format!("u{i}"), chrono::Utc::now());
            s.insert_request(&r).await.unwrap();
            ids.push(id);
        }
        let all = |offset, limit| RequestQuery {
            offset,
            limit,
            ..RequestQuery::default()
        };
        let far = s.list_requests(&all(usize::MAX, Some(10))).await.unwrap();
        assert_eq!(
            (far.items.len(), far.total),
            (0, 3),
            "beyond the end is empty"
        );
        let every = s.list_requests(&all(0, Some(usize::MAX))).await.unwrap();
        assert_eq!(every.items.len(), 3);
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute(
                "UPDATE requests SET body = '{\"damaged\": tru' WHERE id = ?1",
                [ids[1].0 as i64],
            )
            .unwrap();
        let page = s.list_requests(&all(0, None)).await.unwrap();
        assert_eq!((page.items.len(), page.skipped, page.total), (2, 1, 3));
        assert!(page.items.iter().all(|r| r.id != ids[1]));
    }

    #[tokio::test]
    async fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.sqlite");
        drop(SqliteStore::open(&path).unwrap());
        let c = Connection::open(&path).unwrap();
        c.pragma_update(None, "user_version", 99).unwrap();
        drop(c);
        assert!(
            matches!(SqliteStore::open(&path), Err(StoreError::Backend(m)) if m.message().contains("newer"))
        );
    }

    #[test]
    fn a_database_failure_keeps_sqlites_error_as_its_source() {
        use std::error::Error as _;
        // Every SQLite call's error goes through `backend`.
        let c = Connection::open_in_memory().unwrap();
        let e = backend(c.execute("NOT SQL", []).unwrap_err());
        assert!(e.is_retryable(), "{e}");
        let cause = e.source().and_then(|f| f.source());
        assert!(
            cause.is_some_and(|c| c.downcast_ref::<rusqlite::Error>().is_some()),
            "{e:?}"
        );
        assert!(e.to_string().contains("syntax error"), "{e}");
    }
}
