//! # butler-postgres
//!
//! Butler's shared store (SPEC §11): several Butler processes, on one host
//! or many, on one PostgreSQL database. It keeps what the embedded SQLite
//! store keeps, in the same tables, and passes the same conformance suite
//! (`butler_core::testing::store`).
//!
//! What makes sharing safe:
//! - every update carries the version read and is refused by the
//!   `UPDATE … WHERE version = $n` itself, so two writers can never both win;
//! - a lease is one upsert, `INSERT … ON CONFLICT … WHERE leases.owner =
//!   $owner OR leases.expires_at <= $now`, so two engines never hold the same
//!   request;
//! - ids come from one row per sequence, incremented under its row lock;
//! - schema changes run under a transaction-scoped advisory lock, so two
//!   processes starting together migrate once.
//!
//! Every call has a deadline: connecting (10 s), waiting for a pooled
//! connection (30 s), and each statement (`statement_timeout`, 30 s).
//!
//! ```no_run
//! # async fn demo() -> Result<(), butler_core::store::StoreError> {
//! let store = butler_postgres::PostgresStore::connect(
//!     "postgres://butler:secret@db.example.com/butler?sslmode=verify-full&sslrootcert=/etc/butler/db-ca.pem",
//! )
//! .await?;
//! assert!(store.encrypted().await?);
//! # Ok(()) }
//! ```
//!
//! **TLS** (rustls) follows libpq's `sslmode` and `sslrootcert`, in a URL's
//! query or as `key=value` pairs:
//!
//! | `sslmode` | TLS | the server's certificate |
//! |---|---|---|
//! | `disable` | never | — |
//! | `prefer` (the default) | when the server offers it | verified against `sslrootcert` if given, else not (as libpq) |
//! | `require` | always | the same |
//! | `verify-ca` | always | its chain, against `sslrootcert` or the system's roots |
//! | `verify-full` | always | its chain and the host name |
//!
//! Password hashes, API-token hashes and the key that signs validation
//! tokens cross this link: use `verify-full` wherever the database is not
//! on the same host. A bad mode or an unreadable `sslrootcert` is named
//! without the connection string (which holds the password).

mod group_commit;
mod outbox;
mod quota;
mod schema;
mod showback;
mod store;
#[cfg(feature = "testing")]
pub mod testing;
mod tls;
mod vms;

pub use store::{PoolOptions, PostgresStore};

/// The schema version this build writes (see [`PostgresStore::schema_version`]).
pub const SCHEMA_VERSION: i64 = schema::SCHEMA.versions.len() as i64;
