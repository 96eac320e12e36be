//! The store thread: one connection, group commit.

use super::backend;
use crate::store::StoreError;
use rusqlite::Connection;

/// Called with the outcome of the commit that held the job.
pub(super) type Done = Box<dyn FnOnce(Result<(), StoreError>) + Send>;
/// Runs on the connection; says whether it succeeded (else its writes are
/// rolled back) and how to answer.
pub(super) type Job = Box<dyn FnOnce(&Connection) -> (bool, Done) + Send>;

/// Most jobs per transaction.
const GROUP_MAX: usize = 512;

/// The store thread: group commit. It takes every job waiting, runs each in
/// its own savepoint inside one transaction (a failed job rolls back alone),
/// commits once, then answers them all. Under load one commit serves many
/// requests; alone, a job still commits at once.
pub(super) fn writer(conn: Connection, rx: std::sync::mpsc::Receiver<Job>) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < GROUP_MAX {
            match rx.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            let err = backend(e);
            for job in batch {
                let (_, done) = job(&conn);
                done(Err(err.clone()));
            }
            continue;
        }
        let mut answers = Vec::with_capacity(batch.len());
        for job in batch {
            let run = |sql: &str| {
                conn.prepare_cached(sql)
                    .and_then(|mut s| s.execute([]))
                    .map(|_| ())
            };
            let saved = run("SAVEPOINT job");
            let (ok, done) = job(&conn);
            let closed = if ok && saved.is_ok() {
                run("RELEASE job")
            } else {
                run("ROLLBACK TO job").and_then(|_| run("RELEASE job"))
            };
            answers.push((done, saved.and(closed).map_err(backend)));
        }
        let commit = conn.execute_batch("COMMIT").map_err(backend);
        if commit.is_err() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        for (done, own) in answers {
            done(commit.clone().and(own));
        }
    }
}
