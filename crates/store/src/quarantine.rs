//! Documents from the server that this build cannot read, kept as bytes.

use rusqlite::params;

use crate::{DocKind, Store, StoreError};

/// One quarantined document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quarantined {
    /// Document id.
    pub doc_id: String,
    /// Case or verification, as the server said.
    pub kind: DocKind,
    /// The saved Automerge bytes as received.
    pub bytes: Vec<u8>,
    /// Why it could not be read.
    pub reason: String,
    /// When it was last received, Unix ms.
    pub received_at_ms: i64,
}

impl Store {
    /// Keeps (or replaces) a document that could not be read.
    pub fn quarantine(&mut self, q: &Quarantined) -> Result<(), StoreError> {
        let tx = self.write_tx()?;
        tx.prepare_cached(
            "INSERT INTO quarantine (doc_id, kind, bytes, reason, received_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (doc_id) DO UPDATE SET kind = excluded.kind, bytes = excluded.bytes,
                 reason = excluded.reason, received_at_ms = excluded.received_at_ms",
        )?
        .execute(params![
            q.doc_id,
            q.kind.as_str(),
            q.bytes,
            q.reason,
            q.received_at_ms
        ])?;
        tx.commit()?;
        Ok(())
    }

    /// Forgets a quarantined document (a readable version arrived).
    pub fn release_quarantine(&mut self, doc_id: &str) -> Result<bool, StoreError> {
        let tx = self.write_tx()?;
        let n = tx
            .prepare_cached("DELETE FROM quarantine WHERE doc_id = ?1")?
            .execute([doc_id])?;
        tx.commit()?;
        Ok(n > 0)
    }

    /// Why a document is quarantined, if it is.
    pub fn quarantine_reason(&self, doc_id: &str) -> Result<Option<String>, StoreError> {
        use rusqlite::OptionalExtension;
        Ok(self
            .conn
            .prepare_cached("SELECT reason FROM quarantine WHERE doc_id = ?1")?
            .query_row([doc_id], |r| r.get(0))
            .optional()?)
    }

    /// Every quarantined document, newest first.
    pub fn quarantined(&self) -> Result<Vec<Quarantined>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT doc_id, kind, bytes, reason, received_at_ms FROM quarantine
             ORDER BY received_at_ms DESC, doc_id",
        )?;
        let rows = st.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Vec<u8>>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (doc_id, kind, bytes, reason, received_at_ms) = row?;
            out.push(Quarantined {
                doc_id,
                kind: DocKind::parse(&kind)?,
                bytes,
                reason,
                received_at_ms,
            });
        }
        Ok(out)
    }

    /// How many documents are quarantined.
    pub fn quarantined_count(&self) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn
            .prepare_cached("SELECT count(*) FROM quarantine")?
            .query_row([], |r| r.get(0))?;
        Ok(n as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quarantine_keeps_replaces_and_releases() {
        let mut s = Store::open_in_memory().unwrap();
        let mut q = Quarantined {
            doc_id: "case-x".into(),
            kind: DocKind::Case,
            bytes: vec![1, 2, 3],
            reason: "field `lon` is missing".into(),
            received_at_ms: 5,
        };
        s.quarantine(&q).unwrap();
        q.bytes = vec![4];
        q.received_at_ms = 6;
        s.quarantine(&q).unwrap();
        assert_eq!(s.quarantined().unwrap(), vec![q]);
        assert_eq!(s.quarantined_count().unwrap(), 1);
        assert!(s.release_quarantine("case-x").unwrap());
        assert_eq!(s.quarantined_count().unwrap(), 0);
        // Nothing else was created on the way.
        assert_eq!(s.case_count().unwrap(), 0);
    }
}
