//! The SQL layer every SQL store shares: tables declared once and rendered
//! per dialect ([`ddl`], [`tables`]), the schema runner's plan
//! ([`Schema`]) and the row codec ([`codec`]). `SqliteStore` (rusqlite)
//! and `butler_postgres::PostgresStore` (tokio-postgres) run what this
//! module writes on their own connections.

pub mod codec;
pub mod ddl;
pub mod quota;
pub mod showback;
pub mod tables;
pub mod vms;

use crate::store::StoreError;
pub use ddl::{Dialect, Version};

/// A store's schema: its versions, in order, in its dialect. A database
/// records the number of versions applied; opening applies the rest, each
/// in one transaction.
#[derive(Debug, Clone, Copy)]
pub struct Schema {
    /// The dialect the versions are rendered in.
    pub dialect: Dialect,
    /// The versions, in order (version `n` is `versions[n - 1]`).
    pub versions: &'static [Version],
}

impl Schema {
    /// The version a database reaches once up to date.
    pub fn target(&self) -> i64 {
        i64::try_from(self.versions.len()).unwrap_or(i64::MAX)
    }

    /// What a database at version `current` still needs: each version's
    /// number and SQL, in order. A database newer than this Butler is
    /// refused, naming both versions.
    pub fn pending(&self, current: i64) -> Result<Vec<(i64, String)>, StoreError> {
        let target = self.target();
        if current > target {
            return Err(StoreError::Backend(
                format!(
                    "database schema version {current} is newer than this Butler ({target}); upgrade Butler"
                )
                .into(),
            ));
        }
        Ok(self
            .versions
            .iter()
            .enumerate()
            .skip(usize::try_from(current).unwrap_or(0))
            .map(|(i, v)| {
                let n = i64::try_from(i + 1).unwrap_or(i64::MAX);
                (n, ddl::render(v, self.dialect))
            })
            .collect())
    }
}

#[cfg(test)]
mod tests;
