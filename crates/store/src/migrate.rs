//! Versioned schema migrations, embedded at compile time.
//!
//! `PRAGMA user_version` holds the number of the last applied migration. Each
//! migration runs in its own IMMEDIATE transaction together with the
//! `user_version` bump and a `schema_migrations` row recording the SHA-256 of
//! its text, so a crash mid-migration leaves the previous version intact and
//! an edited released migration is caught at the next open.

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use sha2::{Digest, Sha256};

use crate::StoreError;

/// One numbered SQL file from `migrations/device/`.
pub(crate) struct Migration {
    pub version: u32,
    pub name: &'static str,
    pub sql: &'static str,
}

/// All migrations, in order; `version` equals the position + 1. Append only.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "0001_init",
        sql: include_str!("../../../migrations/device/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "0002_quarantine",
        sql: include_str!("../../../migrations/device/0002_quarantine.sql"),
    },
    Migration {
        version: 3,
        name: "0003_app",
        sql: include_str!("../../../migrations/device/0003_app.sql"),
    },
];

/// The schema version this build creates and understands.
pub const LATEST_SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

pub(crate) fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn user_version(conn: &Connection) -> Result<u32, StoreError> {
    let v: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    u32::try_from(v).map_err(|_| StoreError::BadStoredValue(format!("user_version {v}")))
}

/// Fails with [`StoreError::TooNew`] if the database was written by a newer
/// build; returns the version found otherwise.
pub(crate) fn refuse_newer(conn: &Connection) -> Result<u32, StoreError> {
    let found = user_version(conn)?;
    if found > LATEST_SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            found,
            supported: LATEST_SCHEMA_VERSION,
        });
    }
    Ok(found)
}

/// Brings the schema up to [`LATEST_SCHEMA_VERSION`]; returns it.
pub(crate) fn migrate(conn: &mut Connection) -> Result<u32, StoreError> {
    let found = refuse_newer(conn)?;
    if found > 0 {
        verify_applied(conn)?;
    }
    if found == LATEST_SCHEMA_VERSION {
        // Up to date: no write lock to take (every app start and every
        // engine connection opens the store).
        return Ok(found);
    }
    for m in MIGRATIONS {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Re-read under the write lock: another connection may have migrated
        // since we looked.
        let now = user_version(&tx)?;
        if now >= m.version {
            continue;
        }
        tx.execute_batch(m.sql)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, sha256, applied_at_ms)
             VALUES (?1, ?2, ?3, ?4)",
            params![m.version, m.name, sha256_hex(m.sql), now_ms()],
        )?;
        tx.pragma_update(None, "user_version", m.version)?;
        tx.commit()?;
    }
    user_version(conn)
}

/// Compares the recorded checksum of every applied migration with this
/// build's text.
fn verify_applied(conn: &Connection) -> Result<(), StoreError> {
    for m in MIGRATIONS {
        let recorded: Option<String> = conn
            .query_row(
                "SELECT sha256 FROM schema_migrations WHERE version = ?1",
                [m.version],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(recorded) = recorded {
            if recorded != sha256_hex(m.sql) {
                return Err(StoreError::MigrationEdited {
                    version: m.version,
                    name: m.name.to_owned(),
                });
            }
        }
    }
    Ok(())
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_consecutive_and_names_numbered() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version as usize, i + 1);
            assert!(
                m.name.starts_with(&format!("{:04}_", m.version)),
                "{}",
                m.name
            );
        }
    }

    /// Released migrations are frozen: if this fails you edited one. Add a
    /// new numbered file instead (and append its checksum here).
    #[test]
    fn released_migrations_are_unchanged() {
        let released = [
            "97142c0191fe368bca6b63f2714139baa0e4897b0f9ee06012d5b7b431feaa6c",
            "4ed211b84012f1f8f87c19852d30c02a9eb23bc7e9da0ac4a46addd86c23480f",
        ];
        for (m, want) in MIGRATIONS.iter().zip(released) {
            assert_eq!(sha256_hex(m.sql), want, "migration {} was edited", m.name);
        }
    }
}
