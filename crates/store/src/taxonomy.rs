//! The patrol checklist, kept on the phone so reporting works offline.

use gridpatrol_domain::taxonomy::{CategoryKind, FineAttrs, Level, Node, Taxonomy, TimeLimits};
use rusqlite::{params, OptionalExtension, Row};

use crate::{Store, StoreError};

fn level_str(level: Level) -> &'static str {
    match level {
        Level::Module => "module",
        Level::Major => "major",
        Level::Sub => "sub",
        Level::Fine => "fine",
    }
}

fn parse_level(s: &str) -> Option<Level> {
    match s {
        "module" => Some(Level::Module),
        "major" => Some(Level::Major),
        "sub" => Some(Level::Sub),
        "fine" => Some(Level::Fine),
        _ => None,
    }
}

const NODE_COLUMNS: &str = "code, name, level, parent_code, std_ref, kind, department, \
     a_hours, b_hours, c_hours, limits_default, filing_condition, closing_condition";

/// Row as stored, converted to a domain [`Node`] outside rusqlite's closure
/// so bad values become [`StoreError::BadStoredValue`].
struct RawNode {
    code: String,
    name: String,
    level: String,
    parent: Option<String>,
    std_ref: Option<String>,
    kind: Option<String>,
    department: Option<String>,
    hours: (Option<u32>, Option<u32>, Option<u32>),
    limits_default: Option<bool>,
    filing: Option<String>,
    closing: Option<String>,
}

fn raw_node(r: &Row<'_>) -> rusqlite::Result<RawNode> {
    Ok(RawNode {
        code: r.get(0)?,
        name: r.get(1)?,
        level: r.get(2)?,
        parent: r.get(3)?,
        std_ref: r.get(4)?,
        kind: r.get(5)?,
        department: r.get(6)?,
        hours: (r.get(7)?, r.get(8)?, r.get(9)?),
        limits_default: r.get(10)?,
        filing: r.get(11)?,
        closing: r.get(12)?,
    })
}

impl RawNode {
    fn into_node(self) -> Result<Node, StoreError> {
        let bad =
            |what: &str| StoreError::BadStoredValue(format!("taxonomy {}: {what}", self.code));
        let level = parse_level(&self.level).ok_or_else(|| bad("level"))?;
        let fine = match self.kind.as_deref() {
            None => None,
            Some(k) => {
                let kind = CategoryKind::parse(k).ok_or_else(|| bad("kind"))?;
                let (Some(a), Some(b), Some(c)) = self.hours else {
                    return Err(bad("time limits"));
                };
                Some(FineAttrs {
                    kind,
                    department: self.department.clone().ok_or_else(|| bad("department"))?,
                    limits: TimeLimits {
                        a_hours: a,
                        b_hours: b,
                        c_hours: c,
                        is_default: self.limits_default.ok_or_else(|| bad("limits"))?,
                    },
                    filing_condition: self.filing.clone().ok_or_else(|| bad("filing"))?,
                    closing_condition: self.closing.clone().ok_or_else(|| bad("closing"))?,
                })
            }
        };
        Ok(Node {
            code: self.code,
            name: self.name,
            level,
            parent: self.parent,
            std_ref: self.std_ref,
            fine,
        })
    }
}

impl Store {
    /// Replaces the stored checklist with `taxonomy` in one transaction and
    /// returns the number of nodes stored. Importing the same taxonomy again
    /// leaves the same rows; classes missing from a newer taxonomy are
    /// removed (cases keep their category code: it is not a foreign key).
    pub fn import_taxonomy(&mut self, taxonomy: &Taxonomy) -> Result<usize, StoreError> {
        let tx = self.write_tx()?;
        tx.prepare_cached("DELETE FROM taxonomy_node")?
            .execute([])?;
        {
            // The parent reference is DEFERRABLE INITIALLY DEFERRED, so it is
            // checked at commit and node order does not matter.
            let mut stmt = tx.prepare_cached(&format!(
                "INSERT INTO taxonomy_node ({NODE_COLUMNS})
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
            ))?;
            for n in taxonomy.nodes() {
                let f = n.fine.as_ref();
                stmt.execute(params![
                    n.code,
                    n.name,
                    level_str(n.level),
                    n.parent,
                    n.std_ref,
                    f.map(|f| f.kind.as_str()),
                    f.map(|f| &f.department),
                    f.map(|f| f.limits.a_hours),
                    f.map(|f| f.limits.b_hours),
                    f.map(|f| f.limits.c_hours),
                    f.map(|f| f.limits.is_default),
                    f.map(|f| &f.filing_condition),
                    f.map(|f| &f.closing_condition),
                ])?;
            }
        }
        tx.commit()?;
        Ok(taxonomy.nodes().len())
    }

    /// Number of checklist nodes stored (all levels).
    pub fn taxonomy_count(&self) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn
            .prepare_cached("SELECT count(*) FROM taxonomy_node")?
            .query_row([], |r| r.get(0))?;
        Ok(n as u64)
    }

    /// One checklist node by code.
    pub fn taxonomy_node(&self, code: &str) -> Result<Option<Node>, StoreError> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {NODE_COLUMNS} FROM taxonomy_node WHERE code = ?1"
            ))?
            .query_row([code], raw_node)
            .optional()?
            .map(RawNode::into_node)
            .transpose()
    }

    /// Direct children of `code` in code order; `None` lists the modules.
    pub fn taxonomy_children(&self, code: Option<&str>) -> Result<Vec<Node>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {NODE_COLUMNS} FROM taxonomy_node
             WHERE parent_code IS ?1 ORDER BY code"
        ))?;
        let raw: Vec<RawNode> = stmt
            .query_map([code], raw_node)?
            .collect::<Result<_, _>>()?;
        raw.into_iter().map(RawNode::into_node).collect()
    }
}
