//! Group commit of the engine's hot calls: request reads and updates, and
//! lease takes and releases. Every engine step is one update of its request
//! (version check, row, new history, step-log lines), and each statement
//! costs PostgreSQL a whole round trip: executor start, commit, system
//! calls. Calls that wait at the same time are therefore written by one
//! statement per kind over arrays, as many as are queued (up to
//! [`MAX_BATCH`]), while the previous batches run. Each caller still gets
//! its own answer: written, held, or its own conflict.
//!
//! A batch never holds two calls of one kind for one request (the second
//! waits for the next batch), so "which one won" is never ambiguous. Rows
//! are taken in id order, so two processes' batches rarely deadlock; if the
//! database refuses a batch as a whole (such a deadlock, say), its calls
//! are retried one by one, so one bad row never fails the others.

use crate::store::{big, json, num, pg, split, version_error, Cached, RawRequest};
use butler_core::request::Request;
use butler_core::store::{StepLogEntry, StoreError};
use deadpool_postgres::{GenericClient, Pool};
use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, Semaphore};

/// Updates written by one statement at most.
pub(crate) const MAX_BATCH: usize = 256;
/// Batches running at once (each on its own connection).
const BATCHES_IN_FLIGHT: usize = 2;

/// One request update, encoded for the wire.
pub(crate) struct RowWrite {
    id: i64,
    owner: String,
    state: &'static str,
    version: i64,
    body: String,
    expected: i64,
    /// The request's history (sequence number, entry): only entries past
    /// the stored ones are written.
    history: Vec<(i64, String)>,
    log: Vec<String>,
}

impl RowWrite {
    /// `request` as it is to be stored over `expected_version`, with `log`
    /// appended in order; history entries up to `stored` are known to be
    /// stored already and are not sent.
    fn new(
        request: &Request,
        expected_version: u64,
        log: &[StepLogEntry],
        stored: i64,
    ) -> Result<RowWrite, StoreError> {
        let (row, body, history) = split(request.clone())?;
        let history = history
            .iter()
            .filter(|h| i64::from(h.seq) > stored)
            .map(|h| Ok((i64::from(h.seq), json(h)?)))
            .collect::<Result<_, StoreError>>()?;
        Ok(RowWrite {
            id: big(row.id.0),
            owner: row.owner,
            state: row.state.as_str(),
            version: big(row.version),
            body,
            expected: big(expected_version),
            history,
            log: log.iter().map(json).collect::<Result<_, _>>()?,
        })
    }
}

/// Many updates: the rows, their history and their lines as parallel
/// arrays; returns the ids whose version matched (and were written).
const UPDATE_MANY: &str = "WITH i AS (
        SELECT * FROM unnest($1::BIGINT[], $2::TEXT[], $3::TEXT[], $4::BIGINT[], $5::TEXT[], $6::BIGINT[])
          AS t(id, owner, state, version, body, expected)
     ), u AS (
        UPDATE requests r SET owner = i.owner, state = i.state, version = i.version, body = i.body
        FROM i WHERE r.id = i.id AND r.version = i.expected RETURNING r.id
     ), h AS (
        INSERT INTO history (request_id, seq, body)
        SELECT x.id, x.seq, x.body FROM unnest($7::BIGINT[], $8::BIGINT[], $9::TEXT[]) AS x(id, seq, body)
        WHERE x.id IN (SELECT id FROM u)
          AND x.seq > (SELECT COALESCE(MAX(seq), 0) FROM history WHERE request_id = x.id)
     ), l AS (
        INSERT INTO step_log (request_id, body)
        SELECT x.id, x.body FROM unnest($10::BIGINT[], $11::TEXT[]) WITH ORDINALITY AS x(id, body, n)
        WHERE x.id IN (SELECT id FROM u) ORDER BY x.n
     )
     SELECT id FROM u";

/// Why `row` matched nothing: a conflict if the request exists, else not found.
async fn refusal(c: &impl GenericClient, row: &RowWrite) -> StoreError {
    version_error(
        c,
        "SELECT version FROM requests WHERE id = $1",
        &row.id,
        format!("request {}", row.id),
        num(row.expected),
    )
    .await
}

/// Writes `rows` (distinct requests) in one statement; the ids written.
async fn write_many(
    c: &impl GenericClient,
    rows: &[&RowWrite],
) -> Result<HashSet<i64>, tokio_postgres::Error> {
    let col = |f: fn(&RowWrite) -> i64| rows.iter().map(|r| f(r)).collect::<Vec<i64>>();
    let text = |f: fn(&RowWrite) -> &str| rows.iter().map(|r| f(r)).collect::<Vec<&str>>();
    let (ids, versions, expected) = (col(|r| r.id), col(|r| r.version), col(|r| r.expected));
    let (owners, states, bodies) = (text(|r| &r.owner), text(|r| r.state), text(|r| &r.body));
    let (mut h_ids, mut h_seqs, mut h_bodies) = (Vec::new(), Vec::new(), Vec::new());
    let (mut l_ids, mut l_bodies) = (Vec::new(), Vec::new());
    for r in rows {
        for (seq, body) in &r.history {
            h_ids.push(r.id);
            h_seqs.push(*seq);
            h_bodies.push(body.as_str());
        }
        for line in &r.log {
            l_ids.push(r.id);
            l_bodies.push(line.as_str());
        }
    }
    let written = c
        .query_c(
            UPDATE_MANY,
            &[
                &ids, &owners, &states, &versions, &bodies, &expected, &h_ids, &h_seqs, &h_bodies,
                &l_ids, &l_bodies,
            ],
        )
        .await?;
    Ok(written.iter().map(|r| r.get::<_, i64>(0)).collect())
}

/// Lease statements over arrays. A takeover needs the lease expired at
/// the batch's earliest `now`: a lease that ran out between two callers'
/// clocks stays with its owner for this round (never two owners).
const ACQUIRE_MANY: &str = "INSERT INTO leases (request_id, owner, expires_at, generation)
        SELECT x.id, x.owner, x.until, 1 FROM unnest($1::BIGINT[], $2::TEXT[], $3::BIGINT[]) AS x(id, owner, until)
     ON CONFLICT (request_id) DO UPDATE SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at,
        generation = CASE WHEN leases.owner = EXCLUDED.owner THEN leases.generation ELSE leases.generation + 1 END
     WHERE leases.owner = EXCLUDED.owner OR leases.expires_at <= $4
     RETURNING request_id, generation";
/// Expired at once; the row (and its generation) stays.
const RELEASE_MANY: &str = "UPDATE leases l SET expires_at = $3
     FROM unnest($1::BIGINT[], $2::TEXT[]) AS x(id, owner)
     WHERE l.request_id = x.id AND l.owner = x.owner";

/// Requests and their history, in one statement.
const GET_MANY: &str = "SELECT r.id, r.body,
        ARRAY(SELECT h.body FROM history h WHERE h.request_id = r.id ORDER BY h.seq)
     FROM requests r WHERE r.id = ANY($1)";

/// A lease asked for: request, owner, until, now (microseconds).
pub(crate) struct LeaseAsk {
    pub(crate) id: i64,
    pub(crate) owner: String,
    pub(crate) until: i64,
    pub(crate) now: i64,
}

type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// What waits in the queue, each with its caller's answer.
enum Job {
    Get(i64, Reply<Option<RawRequest>>),
    Update(RowWrite, Reply<()>),
    Acquire(LeaseAsk, Reply<Option<u64>>),
    Release(i64, String, Reply<()>),
}

impl Job {
    /// One of each per request and kind in a batch.
    fn key(&self) -> (u8, i64) {
        match self {
            Job::Update(r, _) => (0, r.id),
            Job::Acquire(a, _) => (1, a.id),
            Job::Release(id, ..) => (2, *id),
            Job::Get(id, _) => (3, *id),
        }
    }

    fn fail(self, e: StoreError) {
        // A caller that stopped waiting needs no answer.
        match self {
            Job::Update(_, t) | Job::Release(_, _, t) => drop(t.send(Err(e))),
            Job::Acquire(_, t) => drop(t.send(Err(e))),
            Job::Get(_, t) => drop(t.send(Err(e))),
        }
    }
}

/// The queue the engine's hot calls wait in; cloning shares it.
#[derive(Clone)]
pub(crate) struct Writer {
    queue: mpsc::UnboundedSender<Job>,
    seen: Arc<HistorySeen>,
}

/// The last history entry seen stored, per request, from this process's
/// own reads and writes. History is append-only, so entries up to it need
/// not be sent again (the statement still skips whatever is stored, so a
/// forgotten or missing entry only means sending more).
#[derive(Default)]
struct HistorySeen(std::sync::Mutex<std::collections::HashMap<i64, i64>>);

impl HistorySeen {
    /// Requests remembered at most; past it the memory starts over.
    const MAX: usize = 1 << 16;

    fn get(&self, id: i64) -> i64 {
        let seen = self.0.lock().unwrap_or_else(|e| e.into_inner());
        seen.get(&id).copied().unwrap_or(0)
    }

    fn saw(&self, id: i64, seq: i64) {
        let mut seen = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if seen.len() >= Self::MAX {
            seen.clear();
        }
        let at = seen.entry(id).or_insert(seq);
        *at = (*at).max(seq);
    }
}

fn stopped() -> StoreError {
    StoreError::Backend("the PostgreSQL writer has stopped".into())
}

impl Writer {
    /// Starts the writer task on the current tokio runtime; it ends when
    /// the last clone of the writer is dropped.
    pub(crate) fn start(pool: Pool) -> Writer {
        let (queue, jobs) = mpsc::unbounded_channel();
        tokio::spawn(dispatch(pool, jobs));
        Writer {
            queue,
            seen: Arc::default(),
        }
    }

    async fn ask<T>(&self, job: impl FnOnce(Reply<T>) -> Job) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.queue.send(job(reply)).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// Reads a request (`None` if there is none) with whatever else waits.
    pub(crate) async fn get(&self, id: i64) -> Result<Option<RawRequest>, StoreError> {
        self.ask(|r| Job::Get(id, r)).await
    }

    /// Remembers that `request`'s history is stored (it was just read).
    pub(crate) fn saw(&self, request: &Request) {
        if let Some(seq) = request.history.iter().map(|h| h.seq).max() {
            self.seen.saw(big(request.id.0), i64::from(seq));
        }
    }

    /// `request`'s write, without the history entries this process saw
    /// stored.
    fn row(
        &self,
        request: &Request,
        expected_version: u64,
        log: &[StepLogEntry],
    ) -> Result<RowWrite, StoreError> {
        let stored = self.seen.get(big(request.id.0));
        RowWrite::new(request, expected_version, log, stored)
    }

    /// Writes `request` over `expected_version` with `log`, with whatever
    /// else is waiting; its own answer.
    pub(crate) async fn update(
        &self,
        request: &Request,
        expected_version: u64,
        log: &[StepLogEntry],
    ) -> Result<(), StoreError> {
        let row = self.row(request, expected_version, log)?;
        self.ask(|r| Job::Update(row, r)).await?;
        self.saw(request);
        Ok(())
    }

    /// Writes `request` over `expected_version` with `log` on `c` (an open
    /// transaction that writes more), outside the batches; its own answer.
    /// The caller tells [`saw`](Self::saw) once the transaction commits.
    pub(crate) async fn update_on(
        &self,
        c: &impl GenericClient,
        request: &Request,
        expected_version: u64,
        log: &[StepLogEntry],
    ) -> Result<(), StoreError> {
        let row = self.row(request, expected_version, log)?;
        let written = write_many(c, &[&row]).await.map_err(pg)?;
        if written.contains(&row.id) {
            Ok(())
        } else {
            Err(refusal(c, &row).await)
        }
    }

    /// Takes or renews a lease; its generation when held.
    pub(crate) async fn acquire(&self, ask: LeaseAsk) -> Result<Option<u64>, StoreError> {
        self.ask(|r| Job::Acquire(ask, r)).await
    }

    /// Lets a lease go (if `owner` holds it).
    pub(crate) async fn release(&self, id: i64, owner: String) -> Result<(), StoreError> {
        self.ask(|r| Job::Release(id, owner, r)).await
    }
}

async fn dispatch(pool: Pool, mut jobs: mpsc::UnboundedReceiver<Job>) {
    let permits = Arc::new(Semaphore::new(BATCHES_IN_FLIGHT));
    let mut waiting: VecDeque<Job> = VecDeque::new();
    loop {
        // While batches run, calls queue up: the next batch takes them all.
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        if waiting.is_empty() {
            match jobs.recv().await {
                Some(j) => waiting.push_back(j),
                None => return,
            }
        }
        while waiting.len() < 2 * MAX_BATCH {
            match jobs.try_recv() {
                Ok(j) => waiting.push_back(j),
                Err(_) => break,
            }
        }
        let mut keys = HashSet::new();
        let mut batch = Vec::new();
        let mut later = VecDeque::new();
        for j in waiting.drain(..) {
            if batch.len() < MAX_BATCH && keys.insert(j.key()) {
                batch.push(j);
            } else {
                later.push_back(j);
            }
        }
        waiting = later;
        let pool = pool.clone();
        tokio::spawn(async move {
            run(&pool, batch).await;
            drop(permit);
        });
    }
}

async fn run(pool: &Pool, batch: Vec<Job>) {
    let c = match pool.get().await {
        Ok(c) => c,
        Err(e) => {
            let err = StoreError::Backend(
                butler_core::store::StorageFailure::caused_by(e)
                    .context("no PostgreSQL connection"),
            );
            for j in batch {
                j.fail(err.clone());
            }
            return;
        }
    };
    let (mut updates, mut acquires, mut releases) = (Vec::new(), Vec::new(), Vec::new());
    let mut gets = Vec::new();
    for j in batch {
        match j {
            Job::Get(id, t) => gets.push((id, t)),
            Job::Update(row, t) => updates.push((row, t)),
            Job::Acquire(ask, t) => acquires.push((ask, t)),
            Job::Release(id, owner, t) => releases.push((id, owner, t)),
        }
    }
    if !gets.is_empty() {
        run_gets(&c, gets).await;
    }
    if !updates.is_empty() {
        run_updates(&c, updates).await;
    }
    if !acquires.is_empty() {
        run_acquires(&c, acquires).await;
    }
    if !releases.is_empty() {
        run_releases(&c, releases).await;
    }
}

/// Runs `statement` on the whole batch; if the database refuses it as a
/// whole (a deadlock with another process's batch, say), on each job alone,
/// so one bad row never fails the others.
async fn each_or_all<J, F, Fut>(jobs: Vec<J>, statement: F)
where
    F: Fn(Vec<J>) -> Fut,
    Fut: std::future::Future<Output = Result<(), (Vec<J>, tokio_postgres::Error)>>,
{
    // `statement` hands the jobs back only for a refused batch of several;
    // a lone job's failure it answers itself.
    if let Err((jobs, e)) = statement(jobs).await {
        tracing::debug!(error = %e, jobs = jobs.len(), "batch refused; running its jobs one by one");
        for j in jobs {
            let _ = statement(vec![j]).await;
        }
    }
}

/// Gives every caller the same failure (those that stopped waiting need none).
fn tell_all<T>(callers: impl Iterator<Item = Reply<T>>, err: &StoreError) {
    for t in callers {
        let _ = t.send(Err(err.clone()));
    }
}

async fn run_gets(c: &impl GenericClient, gets: Vec<(i64, Reply<Option<RawRequest>>)>) {
    let ids: Vec<i64> = gets.iter().map(|(id, _)| *id).collect();
    match c.query_c(GET_MANY, &[&ids]).await {
        Ok(rows) => {
            let mut found: std::collections::HashMap<i64, RawRequest> = rows
                .into_iter()
                .map(|r| {
                    let id = r.get(0);
                    (
                        id,
                        RawRequest {
                            id,
                            body: r.get(1),
                            history: r.get(2),
                        },
                    )
                })
                .collect();
            for (id, t) in gets {
                let _ = t.send(Ok(found.remove(&id)));
            }
        }
        Err(e) => tell_all(gets.into_iter().map(|(_, t)| t), &pg(e)),
    }
}

async fn run_acquires(c: &impl GenericClient, mut acquires: Vec<(LeaseAsk, Reply<Option<u64>>)>) {
    // Rows locked in one order by every process: fewer deadlocks.
    acquires.sort_by_key(|(a, _)| a.id);
    each_or_all(acquires, |acquires| async move {
        let ids: Vec<i64> = acquires.iter().map(|(a, _)| a.id).collect();
        let owners: Vec<&str> = acquires.iter().map(|(a, _)| a.owner.as_str()).collect();
        let until: Vec<i64> = acquires.iter().map(|(a, _)| a.until).collect();
        let now = acquires
            .iter()
            .map(|(a, _)| a.now)
            .min()
            .unwrap_or(i64::MIN);
        let out = c
            .query_c(ACQUIRE_MANY, &[&ids, &owners, &until, &now])
            .await;
        drop((ids, owners, until));
        match out {
            Ok(rows) => {
                let held: std::collections::HashMap<i64, i64> =
                    rows.iter().map(|r| (r.get(0), r.get(1))).collect();
                for (a, t) in acquires {
                    let _ = t.send(Ok(held.get(&a.id).map(|g| num(*g))));
                }
                Ok(())
            }
            Err(e) if acquires.len() > 1 && e.as_db_error().is_some() => Err((acquires, e)),
            Err(e) => {
                tell_all(acquires.into_iter().map(|(_, t)| t), &pg(e));
                Ok(())
            }
        }
    })
    .await;
}

async fn run_releases(c: &impl GenericClient, mut releases: Vec<(i64, String, Reply<()>)>) {
    releases.sort_by_key(|(id, ..)| *id);
    each_or_all(releases, |releases| async move {
        let ids: Vec<i64> = releases.iter().map(|(id, ..)| *id).collect();
        let owners: Vec<&str> = releases.iter().map(|(_, o, _)| o.as_str()).collect();
        let out = c.execute_c(RELEASE_MANY, &[&ids, &owners, &i64::MIN]).await;
        drop((ids, owners));
        match out {
            Err(e) if releases.len() > 1 && e.as_db_error().is_some() => Err((releases, e)),
            out => {
                let out = out.map(|_| ()).map_err(pg);
                for (.., t) in releases {
                    let _ = t.send(out.clone());
                }
                Ok(())
            }
        }
    })
    .await;
}

async fn run_updates(c: &impl GenericClient, mut updates: Vec<(RowWrite, Reply<()>)>) {
    updates.sort_by_key(|(r, _)| r.id);
    each_or_all(updates, |updates| async move {
        let rows: Vec<&RowWrite> = updates.iter().map(|(r, _)| r).collect();
        let out = write_many(c, &rows).await;
        drop(rows);
        match out {
            Ok(written) => {
                for (row, t) in updates {
                    let out = if written.contains(&row.id) {
                        Ok(())
                    } else {
                        Err(refusal(c, &row).await)
                    };
                    let _ = t.send(out);
                }
                Ok(())
            }
            Err(e) if updates.len() > 1 && e.as_db_error().is_some() => Err((updates, e)),
            // A lone update refused, or the connection failed (whether the
            // batch was written is then unknown): every caller is told.
            Err(e) => {
                tell_all(updates.into_iter().map(|(_, t)| t), &pg(e));
                Ok(())
            }
        }
    })
    .await;
}
