//! Which parts of a document a set of changes alters.

use std::collections::{BTreeSet, HashMap};

use automerge::legacy::{Key, ObjectId, OpType};
use automerge::{Automerge, PatchAction, Prop, ReadDoc, Value, ROOT};

use crate::read::str_opt;
use crate::{DocError, DocKind, Part};

/// The parts of the document that the changes in `after` but not in `before`
/// alter. `after` must contain every change of `before` (the server applies an
/// incoming sync message to a fork of its stored copy); pass an empty document
/// as `before` for a document the server has never seen.
///
/// Two views are combined so nothing slips through: the Automerge diff between
/// `before`'s heads and `after`'s heads (what a reader will see change), and
/// every operation of the new changes mapped to the root key it lives under
/// (which also catches writes that lose a conflict and stay hidden). Each
/// change is classified by the first key of its path; unknown root keys and
/// the document header are [`Part::Meta`]. While a document is being created
/// (`before` is empty), making a container is [`Part::Meta`]; what is written
/// into it counts as its part.
pub fn parts_changed(before: &Automerge, after: &Automerge) -> Result<BTreeSet<Part>, DocError> {
    let before_heads = before.get_heads();
    if before_heads
        .iter()
        .any(|h| after.get_change_meta_by_hash(h).is_none())
    {
        return Err(DocError::NotDescendant);
    }
    let creating = before_heads.is_empty();
    let kind = str_opt(after, &ROOT, "kind")
        .and_then(|k| DocKind::parse(&k))
        .or_else(|| str_opt(before, &ROOT, "kind").and_then(|k| DocKind::parse(&k)));
    let mut parts = BTreeSet::new();

    for patch in after.diff(&before_heads, &after.get_heads()) {
        let makes_container = matches!(
            &patch.action,
            PatchAction::PutMap {
                value: (Value::Object(_), _),
                ..
            } | PatchAction::PutSeq {
                value: (Value::Object(_), _),
                ..
            }
        );
        let key = match patch.path.first() {
            Some((_, Prop::Map(k))) => Some(k.clone()),
            Some((_, Prop::Seq(_))) => None,
            None => match &patch.action {
                PatchAction::PutMap { key, .. } | PatchAction::DeleteMap { key } => {
                    Some(key.clone())
                }
                PatchAction::Increment {
                    prop: Prop::Map(k), ..
                }
                | PatchAction::Conflict { prop: Prop::Map(k) } => Some(k.clone()),
                _ => None,
            },
        };
        if creating && makes_container {
            parts.insert(Part::Meta);
            continue;
        }
        parts.insert(key.map_or(Part::Meta, |k| Part::of_root_key(kind, &k)));
    }

    // Objects' root keys, resolved once each.
    let mut root_key_of: HashMap<String, Option<String>> = HashMap::new();
    for change in after.get_changes(&before_heads) {
        for op in change.decode().operations {
            if creating && matches!(op.action, OpType::Make(_)) {
                parts.insert(Part::Meta);
                continue;
            }
            let key = match &op.obj {
                ObjectId::Root => match &op.key {
                    Key::Map(k) => Some(k.to_string()),
                    Key::Seq(_) => None,
                },
                ObjectId::Id(id) => root_key_of
                    .entry(id.to_string())
                    .or_insert_with_key(|s| root_key(after, s))
                    .clone(),
            };
            parts.insert(key.map_or(Part::Meta, |k| Part::of_root_key(kind, &k)));
        }
    }
    Ok(parts)
}

/// The root key under which the object `obj` ("counter@actor") lives.
fn root_key(doc: &Automerge, obj: &str) -> Option<String> {
    let id = doc.import_obj(obj).ok()?;
    // `path` includes hidden ancestors, so a write into a deleted or
    // conflict-losing object is still attributed to its part.
    let path = doc.parents(&id).ok()?.path();
    match path.first() {
        Some((_, Prop::Map(k))) => Some(k.clone()),
        _ => None,
    }
}
