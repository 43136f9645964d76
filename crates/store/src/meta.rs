//! The inspector's assignment and the key/value table.

use gridpatrol_domain::roles::Role;
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};

use crate::{Store, StoreError};

/// Key under which [`Store::device_actor_id`] keeps the Automerge actor id.
pub const META_DEVICE_ACTOR_ID: &str = "device_actor_id";

/// Who is signed in on this phone and where they patrol. Replaced wholesale
/// when the inspector rotates to another grid or squad.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    /// Inspector's staff id.
    pub inspector_id: String,
    /// Display name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Squad id (none for the centre).
    pub squad: Option<String>,
    /// Supervision grid the inspector currently patrols (none for the centre).
    pub supervision_grid: Option<String>,
}

impl Store {
    /// Replaces the current assignment.
    pub fn set_assignment(&mut self, a: &Assignment) -> Result<(), StoreError> {
        let tx = self.write_tx()?;
        tx.prepare_cached(
            "INSERT INTO assignment (id, inspector_id, name, role, squad, supervision_grid)
             VALUES (1, ?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (id) DO UPDATE SET
                inspector_id = excluded.inspector_id, name = excluded.name,
                role = excluded.role, squad = excluded.squad,
                supervision_grid = excluded.supervision_grid",
        )?
        .execute(params![
            a.inspector_id,
            a.name,
            a.role.as_str(),
            a.squad,
            a.supervision_grid
        ])?;
        tx.commit()?;
        Ok(())
    }

    /// The current assignment, if one was set.
    pub fn assignment(&self) -> Result<Option<Assignment>, StoreError> {
        let raw = self
            .conn
            .prepare_cached(
                "SELECT inspector_id, name, role, squad, supervision_grid
                 FROM assignment WHERE id = 1",
            )?
            .query_row([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, Option<String>>(4)?,
                ))
            })
            .optional()?;
        raw.map(|(inspector_id, name, role, squad, supervision_grid)| {
            let role = Role::parse(&role)
                .ok_or_else(|| StoreError::BadStoredValue(format!("role {role:?}")))?;
            Ok(Assignment {
                inspector_id,
                name,
                role,
                squad,
                supervision_grid,
            })
        })
        .transpose()
    }

    /// Reads a value from the key/value table.
    pub fn get_meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
            .query_row([key], |r| r.get(0))
            .optional()?)
    }

    /// Writes (inserts or replaces) a value in the key/value table.
    pub fn set_meta(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        let tx = self.write_tx()?;
        tx.prepare_cached(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )?
        .execute(params![key, value])?;
        tx.commit()?;
        Ok(())
    }

    /// Every key/value pair whose key starts with `prefix`, by key.
    pub fn meta_with_prefix(&self, prefix: &str) -> Result<Vec<(String, String)>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT key, value FROM meta WHERE substr(key, 1, length(?1)) = ?1 ORDER BY key",
        )?;
        let rows = stmt
            .query_map([prefix], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// Removes a key from the key/value table (no error if it is absent).
    pub fn delete_meta(&mut self, key: &str) -> Result<(), StoreError> {
        let tx = self.write_tx()?;
        tx.prepare_cached("DELETE FROM meta WHERE key = ?1")?
            .execute([key])?;
        tx.commit()?;
        Ok(())
    }

    /// This device's Automerge actor id (32 lowercase hex digits), created
    /// from SQLite's OS-seeded random source on first use and then fixed for
    /// the life of the database.
    pub fn device_actor_id(&mut self) -> Result<String, StoreError> {
        let tx = self.write_tx()?;
        tx.prepare_cached(
            "INSERT INTO meta (key, value) VALUES (?1, lower(hex(randomblob(16))))
             ON CONFLICT (key) DO NOTHING",
        )?
        .execute([META_DEVICE_ACTOR_ID])?;
        let id: String = tx
            .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
            .query_row([META_DEVICE_ACTOR_ID], |r| r.get(0))?;
        tx.commit()?;
        Ok(id)
    }
}
