use crate::group_commit::{LeaseAsk, Writer};
use crate::schema::SCHEMA;
use async_trait::async_trait;
use butler_core::auth::{User, UserAudit};
use butler_core::inventory::VmRecord;
use butler_core::migration::{GroupId, MigrationGroup, MigrationReport, RunId, VmReport};
use butler_core::request::{HistoryEntry, Request, RequestId, RequestState};
use butler_core::store::{
    Delivery, DeliveryOutcome, FlowStore, GroupStore, KeyStore, OutboxStore, Page, ReportStore,
    RequestQuery, RequestStore, SecretKey, StepLogEntry, StorageFailure, Store, StoreError,
    UserStore,
};
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use std::time::Duration;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;

/// Pool size and deadlines.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    /// Connections kept at most.
    pub max_connections: usize,
    /// Deadline to open a connection.
    pub connect_timeout: Duration,
    /// Deadline to get a pooled connection when all are busy.
    pub wait_timeout: Duration,
    /// Deadline of each statement (`statement_timeout`).
    pub statement_timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions {
            max_connections: 16,
            connect_timeout: Duration::from_secs(10),
            wait_timeout: Duration::from_secs(30),
            statement_timeout: Duration::from_secs(30),
        }
    }
}

/// A [`Store`] on PostgreSQL, shared by any number of Butler processes.
#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
    writer: Writer,
}

impl std::fmt::Debug for PostgresStore {
    // The connection string holds the password: never shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore").finish_non_exhaustive()
    }
}

/// Statements prepared once per connection and reused (deadpool's cache):
/// one round trip per call instead of two.
#[async_trait]
pub(crate) trait Cached {
    async fn execute_c(
        &self,
        sql: &str,
        p: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, tokio_postgres::Error>;
    async fn query_c(
        &self,
        sql: &str,
        p: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<tokio_postgres::Row>, tokio_postgres::Error>;
    async fn query_one_c(
        &self,
        sql: &str,
        p: &[&(dyn ToSql + Sync)],
    ) -> Result<tokio_postgres::Row, tokio_postgres::Error>;
    async fn query_opt_c(
        &self,
        sql: &str,
        p: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<tokio_postgres::Row>, tokio_postgres::Error>;
}

#[async_trait]
impl<T: GenericClient + Sync> Cached for T {
    async fn execute_c(
        &self,
        sql: &str,
        p: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, tokio_postgres::Error> {
        let s = self.prepare_cached(sql).await?;
        self.execute(&s, p).await
    }
    async fn query_c(
        &self,
        sql: &str,
        p: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<tokio_postgres::Row>, tokio_postgres::Error> {
        let s = self.prepare_cached(sql).await?;
        self.query(&s, p).await
    }
    async fn query_one_c(
        &self,
        sql: &str,
        p: &[&(dyn ToSql + Sync)],
    ) -> Result<tokio_postgres::Row, tokio_postgres::Error> {
        let s = self.prepare_cached(sql).await?;
        self.query_one(&s, p).await
    }
    async fn query_opt_c(
        &self,
        sql: &str,
        p: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<tokio_postgres::Row>, tokio_postgres::Error> {
        let s = self.prepare_cached(sql).await?;
        self.query_opt(&s, p).await
    }
}

pub(crate) use butler_core::store::sql::codec::{
    big, json, num, parse, split_request as split, storage_error as backend, RawRequest,
};

/// A database error with PostgreSQL's code and message (never the
/// connection string).
pub(crate) fn pg(e: tokio_postgres::Error) -> StoreError {
    match e.as_db_error() {
        Some(db) => {
            let message = format!("PostgreSQL {}: {}", db.code().code(), db.message());
            StoreError::Backend(StorageFailure::caused_by(e).replaced_by(message))
        }
        None => backend(e),
    }
}

pub(crate) fn is(e: &tokio_postgres::Error, state: &SqlState) -> bool {
    e.code() == Some(state)
}

use butler_core::store::outbox::micros;

async fn next_in(c: &impl GenericClient, sequence: &str) -> Result<u64, StoreError> {
    let row = c
        .query_one_c(
            "UPDATE sequences SET value = value + 1 WHERE name = $1 RETURNING value",
            &[&sequence],
        )
        .await
        .map_err(pg)?;
    Ok(num(row.get(0)))
}

/// After an update matched no row: a conflict if the row exists, else not found.
pub(crate) async fn version_error(
    c: &impl GenericClient,
    sql: &str,
    key: &(dyn ToSql + Sync),
    what: String,
    expected: u64,
) -> StoreError {
    match c.query_opt_c(sql, &[key]).await {
        Ok(Some(row)) => StoreError::Conflict {
            what,
            expected,
            found: num(row.get(0)),
        },
        Ok(None) => StoreError::NotFound(what),
        Err(e) => pg(e),
    }
}

async fn insert_log(c: &impl GenericClient, id: RequestId, line: &str) -> Result<(), StoreError> {
    // Only for a request that exists (the store keeps this, not a key).
    let inserted = c
        .execute_c(
            "INSERT INTO step_log (request_id, body) SELECT id, $2 FROM requests WHERE id = $1",
            &[&big(id.0), &line],
        )
        .await
        .map_err(pg)?;
    if inserted == 0 {
        return Err(StoreError::NotFound(format!("request {id}")));
    }
    Ok(())
}

/// A request's history as the two arrays a statement unnests.
fn history_arrays(history: &[HistoryEntry]) -> Result<(Vec<i64>, Vec<String>), StoreError> {
    let seqs = history.iter().map(|h| i64::from(h.seq)).collect();
    let bodies = history.iter().map(json).collect::<Result<_, _>>()?;
    Ok((seqs, bodies))
}

async fn insert_audit(c: &impl GenericClient, line: &str) -> Result<(), StoreError> {
    c.execute_c("INSERT INTO user_audit (body) VALUES ($1)", &[&line])
        .await
        .map_err(pg)?;
    Ok(())
}

impl PostgresStore {
    /// Connects with default [`PoolOptions`] and brings the schema up to
    /// date. `url` is a libpq connection string or URL; its password is
    /// never logged or shown.
    pub async fn connect(url: &str) -> Result<PostgresStore, StoreError> {
        PostgresStore::connect_with(url, PoolOptions::default()).await
    }

    /// Connects with `options`.
    pub async fn connect_with(
        url: &str,
        options: PoolOptions,
    ) -> Result<PostgresStore, StoreError> {
        let link = crate::tls::Link::parse(url)?;
        // The parser's message can quote the string: keep it out.
        let mut config: tokio_postgres::Config = link.rest.parse().map_err(|_| {
            StoreError::Backend("the PostgreSQL connection string does not parse".into())
        })?;
        config
            .ssl_mode(link.mode.wire())
            .connect_timeout(options.connect_timeout)
            .application_name("butler")
            .options(format!(
                "-c statement_timeout={}",
                options.statement_timeout.as_millis()
            ));
        let manager = Manager::from_config(
            config,
            link.connector()?,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.max_connections.max(1))
            .wait_timeout(Some(options.wait_timeout))
            .create_timeout(Some(options.connect_timeout))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(backend)?;
        let writer = Writer::start(pool.clone());
        let store = PostgresStore { pool, writer };
        store.migrate().await?;
        Ok(store)
    }

    pub(crate) async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool.get().await.map_err(|e| {
            StoreError::Backend(StorageFailure::caused_by(e).context("no PostgreSQL connection"))
        })
    }

    /// Applies the schema versions this database lacks, once, whoever
    /// else starts at the same time; refuses a database that holds tables
    /// but no Butler schema, or a newer schema.
    async fn migrate(&self) -> Result<(), StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pg)?;
        tx.execute_c("SELECT pg_advisory_xact_lock(7305114112)", &[])
            .await
            .map_err(pg)?;
        let ours: Option<String> = tx
            .query_one_c("SELECT to_regclass('butler_schema')::text", &[])
            .await
            .map_err(pg)?
            .get(0);
        if ours.is_none() {
            let tables: i64 = tx
                .query_one_c(
                    "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()",
                    &[],
                )
                .await
                .map_err(pg)?
                .get(0);
            if tables > 0 {
                return Err(StoreError::Damaged(
                    "the database holds tables but no Butler schema: not a Butler store".into(),
                ));
            }
            tx.batch_execute(
                "CREATE TABLE butler_schema (version INTEGER NOT NULL); INSERT INTO butler_schema VALUES (0);",
            )
            .await
            .map_err(pg)?;
        }
        let current: i32 = tx
            .query_one_c("SELECT version FROM butler_schema", &[])
            .await
            .map_err(pg)?
            .get(0);
        for (version, sql) in SCHEMA.pending(i64::from(current))? {
            tx.batch_execute(&sql).await.map_err(pg)?;
            let v = i32::try_from(version).unwrap_or(i32::MAX);
            tx.execute_c("UPDATE butler_schema SET version = $1", &[&v])
                .await
                .map_err(pg)?;
        }
        tx.commit().await.map_err(pg)
    }

    /// Whether this store's connections are encrypted (TLS), as the
    /// server sees them (`pg_stat_ssl`): a check for a deployment that
    /// means its link to be private.
    pub async fn encrypted(&self) -> Result<bool, StoreError> {
        let c = self.client().await?;
        let row = c
            .query_one_c(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                &[],
            )
            .await
            .map_err(pg)?;
        Ok(row.get(0))
    }

    /// The schema version in the database.
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        let c = self.client().await?;
        let v: i32 = c
            .query_one_c("SELECT version FROM butler_schema", &[])
            .await
            .map_err(pg)?
            .get(0);
        Ok(i64::from(v))
    }

    /// A running report shows the lines appended so far.
    async fn with_lines(
        c: &impl GenericClient,
        mut r: MigrationReport,
    ) -> Result<MigrationReport, StoreError> {
        if r.ended.is_some() || !r.vms.is_empty() {
            return Ok(r);
        }
        let rows = c
            .query_c(
                "SELECT body FROM migration_report_lines WHERE run_id = $1 ORDER BY id",
                &[&big(r.id.0)],
            )
            .await
            .map_err(pg)?;
        r.vms = rows
            .iter()
            .map(|row| parse(row.get::<_, &str>(0)))
            .collect::<Result<_, _>>()?;
        Ok(r)
    }

    async fn bodies(
        &self,
        sql: &str,
        args: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<String>, StoreError> {
        let c = self.client().await?;
        let rows = c.query_c(sql, args).await.map_err(pg)?;
        Ok(rows.iter().map(|r| r.get::<_, String>(0)).collect())
    }
}

#[async_trait]
impl RequestStore for PostgresStore {
    async fn next_request_id(&self) -> Result<RequestId, StoreError> {
        let c = self.client().await?;
        next_in(&c, "request").await.map(RequestId)
    }

    async fn insert_request(&self, request: &Request) -> Result<(), StoreError> {
        let (r, body, history) = split(request.clone())?;
        let (seqs, bodies) = history_arrays(&history)?;
        let c = self.client().await?;
        // Row, history and the sequence's floor in one statement.
        let inserted: i64 = c
            .query_one_c(
                "WITH i AS (
                    INSERT INTO requests (id, owner, state, created_at, version, body) VALUES ($1, $2, $3, $4, $5, $6)
                    ON CONFLICT (id) DO NOTHING RETURNING id
                 ), h AS (
                    INSERT INTO history (request_id, seq, body)
                    SELECT i.id, x.seq, x.body FROM i, unnest($7::BIGINT[], $8::TEXT[]) AS x(seq, body)
                 ), s AS (
                    UPDATE sequences SET value = GREATEST(value, $1)
                    WHERE name = 'request' AND EXISTS (SELECT 1 FROM i)
                 )
                 SELECT count(*) FROM i",
                &[
                    &big(r.id.0),
                    &r.owner,
                    &r.state.as_str(),
                    &micros(r.created_at),
                    &big(r.version),
                    &body,
                    &seqs,
                    &bodies,
                ],
            )
            .await
            .map_err(pg)?
            .get(0);
        if inserted == 0 {
            return Err(StoreError::AlreadyExists(format!("request {}", r.id)));
        }
        Ok(())
    }

    async fn get_request(&self, id: RequestId) -> Result<Request, StoreError> {
        // With whatever other reads wait: the engine reads each request it
        // takes, and many at once.
        let r = self
            .writer
            .get(big(id.0))
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("request {id}")))?
            .decode()?;
        self.writer.saw(&r);
        Ok(r)
    }

    async fn update_request(
        &self,
        request: &Request,
        expected_version: u64,
    ) -> Result<(), StoreError> {
        self.writer.update(request, expected_version, &[]).await
    }

    async fn list_requests(&self, query: &RequestQuery) -> Result<Page<Request>, StoreError> {
        let mut clauses = Vec::new();
        let states: Vec<String> = query
            .states
            .iter()
            .map(|s| s.as_str().to_string())
            .collect();
        let owner = query.owner.clone();
        let from = query.created_from.map(micros);
        let to = query.created_to.map(micros);
        let mut args: Vec<&(dyn ToSql + Sync)> = Vec::new();
        if !states.is_empty() {
            args.push(&states);
            clauses.push(format!("state = ANY(${})", args.len()));
        }
        if let Some(o) = &owner {
            args.push(o);
            clauses.push(format!("owner = ${}", args.len()));
        }
        if let Some(t) = &from {
            args.push(t);
            clauses.push(format!("created_at >= ${}", args.len()));
        }
        if let Some(t) = &to {
            args.push(t);
            clauses.push(format!("created_at < ${}", args.len()));
        }
        let filter = if clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", clauses.join(" AND "))
        };
        let c = self.client().await?;
        let total: i64 = c
            .query_one_c(&format!("SELECT COUNT(*) FROM requests {filter}"), &args)
            .await
            .map_err(pg)?
            .get(0);
        // Past i64 is "everything" / "beyond the end".
        let limit = query.limit.map(|l| i64::try_from(l).unwrap_or(i64::MAX));
        let offset = i64::try_from(query.offset).unwrap_or(i64::MAX);
        args.push(&limit);
        let limit_at = args.len();
        args.push(&offset);
        let offset_at = args.len();
        let rows = c
            .query_c(
                &format!(
                    "SELECT id, body FROM requests {filter} ORDER BY created_at DESC, id DESC LIMIT ${limit_at} OFFSET ${offset_at}"
                ),
                &args,
            )
            .await
            .map_err(pg)?;
        // The page's history in one query, not one per row.
        let ids: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
        let mut history: std::collections::HashMap<i64, Vec<String>> =
            std::collections::HashMap::with_capacity(ids.len());
        for h in c
            .query_c(
                "SELECT request_id, body FROM history WHERE request_id = ANY($1) ORDER BY request_id, seq",
                &[&ids],
            )
            .await
            .map_err(pg)?
        {
            history.entry(h.get(0)).or_default().push(h.get(1));
        }
        let mut items = Vec::with_capacity(rows.len());
        let mut skipped = 0;
        for row in rows {
            let id: i64 = row.get(0);
            let raw = RawRequest {
                id,
                body: row.get(1),
                history: history.remove(&id).unwrap_or_default(),
            };
            match raw.decode() {
                Ok(r) => items.push(r),
                Err(e) => {
                    skipped += 1;
                    tracing::error!(
                        request = raw.id,
                        "a stored request cannot be read; left out of the list: {e}"
                    );
                }
            }
        }
        Ok(Page {
            items,
            total: usize::try_from(total).unwrap_or(0),
            skipped,
        })
    }

    async fn request_ids_in_states(
        &self,
        states: &[RequestState],
    ) -> Result<Vec<RequestId>, StoreError> {
        if states.is_empty() {
            return Ok(Vec::new());
        }
        let states: Vec<String> = states.iter().map(|s| s.as_str().to_string()).collect();
        let c = self.client().await?;
        let rows = c
            .query_c(
                "SELECT id FROM requests WHERE state = ANY($1) ORDER BY id",
                &[&states],
            )
            .await
            .map_err(pg)?;
        Ok(rows.iter().map(|r| RequestId(num(r.get(0)))).collect())
    }
}

#[async_trait]
impl FlowStore for PostgresStore {
    async fn update_request_with_log(
        &self,
        request: &Request,
        expected_version: u64,
        log: &[StepLogEntry],
    ) -> Result<(), StoreError> {
        self.writer.update(request, expected_version, log).await
    }

    async fn append_step_log(&self, id: RequestId, entry: &StepLogEntry) -> Result<(), StoreError> {
        let line = json(entry)?;
        let c = self.client().await?;
        insert_log(&c, id, &line).await
    }

    async fn step_log(&self, id: RequestId) -> Result<Vec<StepLogEntry>, StoreError> {
        let bodies = self
            .bodies(
                "SELECT body FROM step_log WHERE request_id = $1 ORDER BY id",
                &[&big(id.0)],
            )
            .await?;
        bodies.iter().map(|b| parse(b)).collect()
    }

    async fn acquire_lease(
        &self,
        id: RequestId,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Option<u64>, StoreError> {
        self.writer
            .acquire(LeaseAsk {
                id: big(id.0),
                owner: owner.to_string(),
                until: micros(until),
                now: micros(now),
            })
            .await
    }

    async fn release_lease(&self, id: RequestId, owner: &str) -> Result<(), StoreError> {
        self.writer.release(big(id.0), owner.to_string()).await
    }
}

#[async_trait]
impl GroupStore for PostgresStore {
    async fn next_group_id(&self) -> Result<GroupId, StoreError> {
        let c = self.client().await?;
        next_in(&c, "group").await.map(GroupId)
    }

    async fn insert_group(&self, group: &MigrationGroup) -> Result<(), StoreError> {
        let body = json(group)?;
        let key = butler_core::migration::name_key(&group.name);
        let id = big(group.id.0);
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pg)?;
        tx.execute_c(
            "INSERT INTO migration_groups (id, name, name_key, version, body) VALUES ($1, $2, $3, $4, $5)",
            &[&id, &group.name, &key, &big(group.version), &body],
        )
        .await
        .map_err(|e| {
            if is(&e, &SqlState::UNIQUE_VIOLATION) {
                StoreError::AlreadyExists(format!(
                    "migration group named {:?} or id {}",
                    group.name, group.id
                ))
            } else {
                pg(e)
            }
        })?;
        tx.execute_c(
            "UPDATE sequences SET value = GREATEST(value, $1) WHERE name = 'group'",
            &[&id],
        )
        .await
        .map_err(pg)?;
        tx.commit().await.map_err(pg)
    }

    async fn get_group(&self, id: GroupId) -> Result<MigrationGroup, StoreError> {
        let c = self.client().await?;
        let row = c
            .query_opt_c(
                "SELECT body FROM migration_groups WHERE id = $1",
                &[&big(id.0)],
            )
            .await
            .map_err(pg)?
            .ok_or_else(|| StoreError::NotFound(format!("migration group {id}")))?;
        parse(row.get::<_, &str>(0))
    }

    async fn group_version(&self, id: GroupId) -> Result<u64, StoreError> {
        let c = self.client().await?;
        let row = c
            .query_opt_c(
                "SELECT version FROM migration_groups WHERE id = $1",
                &[&big(id.0)],
            )
            .await
            .map_err(pg)?
            .ok_or_else(|| StoreError::NotFound(format!("migration group {id}")))?;
        Ok(num(row.get(0)))
    }

    async fn update_group(
        &self,
        group: &MigrationGroup,
        expected_version: u64,
    ) -> Result<(), StoreError> {
        let body = json(group)?;
        let key = butler_core::migration::name_key(&group.name);
        let id = big(group.id.0);
        let c = self.client().await?;
        let n = c
            .execute_c(
                "UPDATE migration_groups SET name = $1, name_key = $2, version = $3, body = $4 WHERE id = $5 AND version = $6",
                &[&group.name, &key, &big(group.version), &body, &id, &big(expected_version)],
            )
            .await
            .map_err(|e| {
                if is(&e, &SqlState::UNIQUE_VIOLATION) {
                    StoreError::AlreadyExists(format!("migration group named {:?}", group.name))
                } else {
                    pg(e)
                }
            })?;
        if n == 0 {
            return Err(version_error(
                &c,
                "SELECT version FROM migration_groups WHERE id = $1",
                &id,
                format!("migration group {}", group.id),
                expected_version,
            )
            .await);
        }
        Ok(())
    }

    async fn delete_group(&self, id: GroupId, expected_version: u64) -> Result<(), StoreError> {
        let c = self.client().await?;
        let key = big(id.0);
        let n = c
            .execute_c(
                "DELETE FROM migration_groups WHERE id = $1 AND version = $2",
                &[&key, &big(expected_version)],
            )
            .await
            .map_err(pg)?;
        if n == 0 {
            return Err(version_error(
                &c,
                "SELECT version FROM migration_groups WHERE id = $1",
                &key,
                format!("migration group {id}"),
                expected_version,
            )
            .await);
        }
        Ok(())
    }

    async fn find_groups(&self, name_part: &str) -> Result<Vec<MigrationGroup>, StoreError> {
        // As SQLite's LIKE: case-insensitive, wildcards in the input literal.
        let pattern = format!(
            "%{}%",
            name_part
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        let bodies = self
            .bodies(
                "SELECT body FROM migration_groups WHERE name ILIKE $1 ESCAPE '\\' ORDER BY name",
                &[&pattern],
            )
            .await?;
        bodies.iter().map(|b| parse(b)).collect()
    }
}

#[async_trait]
impl ReportStore for PostgresStore {
    async fn next_run_id(&self) -> Result<RunId, StoreError> {
        let c = self.client().await?;
        next_in(&c, "run").await.map(RunId)
    }

    async fn save_report(&self, report: &MigrationReport) -> Result<(), StoreError> {
        let body = json(report)?;
        let id = big(report.id.0);
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pg)?;
        tx.execute_c(
            "INSERT INTO migration_reports (id, group_id, body) VALUES ($1, $2, $3)
             ON CONFLICT (id) DO UPDATE SET body = EXCLUDED.body, group_id = EXCLUDED.group_id",
            &[&id, &big(report.group.0), &body],
        )
        .await
        .map_err(pg)?;
        if report.ended.is_some() {
            // The final report holds every line; the appended ones go.
            tx.execute_c(
                "DELETE FROM migration_report_lines WHERE run_id = $1",
                &[&id],
            )
            .await
            .map_err(pg)?;
        }
        tx.commit().await.map_err(pg)
    }

    async fn get_report(&self, id: RunId) -> Result<MigrationReport, StoreError> {
        let c = self.client().await?;
        let row = c
            .query_opt_c(
                "SELECT body FROM migration_reports WHERE id = $1",
                &[&big(id.0)],
            )
            .await
            .map_err(pg)?
            .ok_or_else(|| StoreError::NotFound(format!("migration report {id}")))?;
        Self::with_lines(&c, parse(row.get::<_, &str>(0))?).await
    }

    async fn list_reports(&self, group: GroupId) -> Result<Vec<MigrationReport>, StoreError> {
        let c = self.client().await?;
        let rows = c
            .query_c(
                "SELECT body FROM migration_reports WHERE group_id = $1 ORDER BY id DESC",
                &[&big(group.0)],
            )
            .await
            .map_err(pg)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            out.push(Self::with_lines(&c, parse(row.get::<_, &str>(0))?).await?);
        }
        Ok(out)
    }

    async fn append_report_lines(&self, run: RunId, lines: &[VmReport]) -> Result<(), StoreError> {
        let bodies = lines.iter().map(json).collect::<Result<Vec<String>, _>>()?;
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pg)?;
        for b in &bodies {
            tx.execute_c(
                "INSERT INTO migration_report_lines (run_id, body) VALUES ($1, $2)",
                &[&big(run.0), b],
            )
            .await
            .map_err(pg)?;
        }
        tx.commit().await.map_err(pg)
    }

    async fn request_cancel(&self, run: RunId) -> Result<(), StoreError> {
        let c = self.client().await?;
        let inserted = c
            .execute_c(
                "INSERT INTO run_cancels (run_id) SELECT id FROM migration_reports WHERE id = $1
                 ON CONFLICT DO NOTHING",
                &[&big(run.0)],
            )
            .await
            .map_err(pg)?;
        if inserted == 0 {
            let known = c
                .query_opt_c(
                    "SELECT 1 FROM migration_reports WHERE id = $1",
                    &[&big(run.0)],
                )
                .await
                .map_err(pg)?;
            if known.is_none() {
                return Err(StoreError::NotFound(format!("migration run {run}")));
            }
        }
        Ok(())
    }

    async fn cancel_requested(&self, run: RunId) -> Result<bool, StoreError> {
        let c = self.client().await?;
        Ok(c.query_opt_c(
            "SELECT 1 FROM run_cancels WHERE run_id = $1",
            &[&big(run.0)],
        )
        .await
        .map_err(pg)?
        .is_some())
    }

    async fn unfinished_reports(&self) -> Result<Vec<MigrationReport>, StoreError> {
        let c = self.client().await?;
        let rows = c
            .query_c("SELECT body FROM migration_reports ORDER BY id", &[])
            .await
            .map_err(pg)?;
        let mut out = Vec::new();
        for row in rows {
            let r: MigrationReport = parse(row.get::<_, &str>(0))?;
            if r.ended.is_none() {
                out.push(Self::with_lines(&c, r).await?);
            }
        }
        Ok(out)
    }
}

#[async_trait]
impl UserStore for PostgresStore {
    async fn insert_user(&self, user: &User, audit: &UserAudit) -> Result<(), StoreError> {
        let (body, line) = (json(user)?, json(audit)?);
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pg)?;
        tx.execute_c(
            "INSERT INTO users (name, version, body) VALUES ($1, $2, $3)",
            &[&user.name, &big(user.version), &body],
        )
        .await
        .map_err(|e| {
            if is(&e, &SqlState::UNIQUE_VIOLATION) {
                StoreError::AlreadyExists(format!("user {:?}", user.name))
            } else {
                pg(e)
            }
        })?;
        insert_audit(&tx, &line).await?;
        tx.commit().await.map_err(pg)
    }

    async fn get_user(&self, name: &str) -> Result<User, StoreError> {
        let c = self.client().await?;
        let row = c
            .query_opt_c("SELECT body FROM users WHERE name = $1", &[&name])
            .await
            .map_err(pg)?
            .ok_or_else(|| StoreError::NotFound(format!("user {name:?}")))?;
        parse(row.get::<_, &str>(0))
    }

    async fn update_user(
        &self,
        user: &User,
        expected_version: u64,
        audit: &UserAudit,
    ) -> Result<(), StoreError> {
        let (body, line) = (json(user)?, json(audit)?);
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pg)?;
        let n = tx
            .execute_c(
                "UPDATE users SET version = $1, body = $2 WHERE name = $3 AND version = $4",
                &[
                    &big(user.version),
                    &body,
                    &user.name,
                    &big(expected_version),
                ],
            )
            .await
            .map_err(pg)?;
        if n == 0 {
            return Err(version_error(
                &tx,
                "SELECT version FROM users WHERE name = $1",
                &user.name,
                format!("user {:?}", user.name),
                expected_version,
            )
            .await);
        }
        insert_audit(&tx, &line).await?;
        tx.commit().await.map_err(pg)
    }

    async fn delete_user(
        &self,
        name: &str,
        expected_version: u64,
        audit: &UserAudit,
    ) -> Result<(), StoreError> {
        let line = json(audit)?;
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pg)?;
        let n = tx
            .execute_c(
                "DELETE FROM users WHERE name = $1 AND version = $2",
                &[&name, &big(expected_version)],
            )
            .await
            .map_err(pg)?;
        if n == 0 {
            return Err(version_error(
                &tx,
                "SELECT version FROM users WHERE name = $1",
                &name,
                format!("user {name:?}"),
                expected_version,
            )
            .await);
        }
        insert_audit(&tx, &line).await?;
        tx.commit().await.map_err(pg)
    }

    async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        let bodies = self
            .bodies("SELECT body FROM users ORDER BY name", &[])
            .await?;
        bodies.iter().map(|b| parse(b)).collect()
    }

    async fn user_audit(&self) -> Result<Vec<UserAudit>, StoreError> {
        let bodies = self
            .bodies("SELECT body FROM user_audit ORDER BY id", &[])
            .await?;
        bodies.iter().map(|b| parse(b)).collect()
    }
}

#[async_trait]
impl KeyStore for PostgresStore {
    async fn secret_key(&self, purpose: &str) -> Result<SecretKey, StoreError> {
        let fresh = SecretKey::random()?;
        let c = self.client().await?;
        // First writer wins; every later reader gets the same key.
        c.execute_c(
            "INSERT INTO secrets (purpose, key) VALUES ($1, $2) ON CONFLICT (purpose) DO NOTHING",
            &[&purpose, &fresh.expose_bytes().as_slice()],
        )
        .await
        .map_err(pg)?;
        let key: Vec<u8> = c
            .query_one_c("SELECT key FROM secrets WHERE purpose = $1", &[&purpose])
            .await
            .map_err(pg)?
            .get(0);
        let bytes: [u8; 32] = key
            .try_into()
            .map_err(|_| StoreError::Backend("a stored secret key is not 32 bytes".into()))?;
        Ok(SecretKey::from_bytes(bytes))
    }
}

#[async_trait]
impl butler_core::store::RuleStore for PostgresStore {
    async fn add_rule_book(&self, book: &butler_core::rules::RuleBook) -> Result<(), StoreError> {
        let version = i64::from(book.version);
        let body = json(book)?;
        let c = self.client().await?;
        // Only the next version goes in; two writers of it: the key keeps one.
        let added = c
            .execute_c(
                "INSERT INTO rule_books (version, body)
                 SELECT $1::BIGINT, $2 WHERE (SELECT COALESCE(MAX(version), 0) FROM rule_books) = $1::BIGINT - 1",
                &[&version, &body],
            )
            .await;
        match added {
            Ok(1) => Ok(()),
            Ok(_) => Err(self.rule_book_refused(book.version).await),
            Err(e) if is(&e, &SqlState::UNIQUE_VIOLATION) => {
                Err(self.rule_book_refused(book.version).await)
            }
            Err(e) => Err(pg(e)),
        }
    }

    async fn rule_books(&self) -> Result<Vec<butler_core::rules::RuleBook>, StoreError> {
        let bodies = self
            .bodies("SELECT body FROM rule_books ORDER BY version", &[])
            .await?;
        bodies.iter().map(|b| parse(b)).collect()
    }

    async fn newer_rule_book(
        &self,
        than: u32,
    ) -> Result<Option<butler_core::rules::RuleBook>, StoreError> {
        let c = self.client().await?;
        let row = c
            .query_opt_c(
                "SELECT body FROM rule_books WHERE version > $1 ORDER BY version DESC LIMIT 1",
                &[&i64::from(than)],
            )
            .await
            .map_err(pg)?;
        row.map(|r| parse(&r.get::<_, String>(0))).transpose()
    }
}

impl PostgresStore {
    /// Why rule book `version` was refused: the newest stored, read back.
    async fn rule_book_refused(&self, version: u32) -> StoreError {
        let newest = match self.client().await {
            Ok(c) => c
                .query_one_c("SELECT COALESCE(MAX(version), 0) FROM rule_books", &[])
                .await
                .map(|r| r.get::<_, i64>(0))
                .unwrap_or(0),
            Err(e) => return e,
        };
        butler_core::store::rule_book_conflict(version, u32::try_from(newest).unwrap_or(u32::MAX))
    }
}

#[async_trait]
impl OutboxStore for PostgresStore {
    async fn register_notifier(&self, name: &str) -> Result<(), StoreError> {
        crate::outbox::register(&self.client().await?, name).await
    }

    async fn claim_notifier(
        &self,
        name: &str,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        crate::outbox::claim(&self.client().await?, name, owner, now, until).await
    }

    async fn due_deliveries(
        &self,
        name: &str,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        crate::outbox::due(&self.client().await?, name, now, limit).await
    }

    async fn record_deliveries(
        &self,
        name: &str,
        outcomes: &[DeliveryOutcome],
    ) -> Result<(), StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pg)?;
        crate::outbox::record(&tx, name, outcomes).await?;
        tx.commit().await.map_err(pg)
    }

    async fn failed_deliveries(&self, limit: usize) -> Result<Vec<Delivery>, StoreError> {
        crate::outbox::failed(&self.client().await?, limit).await
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn update_request_with_vm(
        &self,
        request: &Request,
        expected_version: u64,
        log: &[StepLogEntry],
        vm: &VmRecord,
        before: &VmRecord,
    ) -> Result<(), StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pg)?;
        // The record first: its row is locked before the request's, as a
        // lone record update would lock it.
        crate::vms::update_on(&tx, vm, before.version).await?;
        self.writer
            .update_on(&tx, request, expected_version, log)
            .await?;
        if let Some(freed) = butler_core::quota::freed_by(vm, before) {
            // A release is never refused.
            let _ = crate::quota::hold_on(&tx, std::slice::from_ref(&freed), &[]).await?;
        }
        tx.commit().await.map_err(pg)?;
        self.writer.saw(request);
        Ok(())
    }
}
