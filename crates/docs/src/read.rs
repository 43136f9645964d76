//! Small typed getters over Automerge maps, shared by the document readers.

use automerge::{ObjId, ObjType, ReadDoc, ScalarValue, Value, ROOT};

use crate::{DocError, DocKind, SCHEMA};

/// The object at `key` of `obj`, if it is a container of the given type.
pub(crate) fn obj<D: ReadDoc>(doc: &D, obj: &ObjId, key: &str, ty: ObjType) -> Option<ObjId> {
    match doc.get(obj, key).ok().flatten() {
        Some((Value::Object(t), id)) if t == ty => Some(id),
        _ => None,
    }
}

/// Like [`obj`] but a missing container is an error naming `key`.
pub(crate) fn req_obj<D: ReadDoc>(
    doc: &D,
    parent: &ObjId,
    key: &str,
    ty: ObjType,
) -> Result<ObjId, DocError> {
    obj(doc, parent, key, ty).ok_or_else(|| DocError::Field(key.to_string()))
}

/// A string field; Automerge text objects read as their content too.
pub(crate) fn str_opt<D: ReadDoc>(doc: &D, obj: &ObjId, key: &str) -> Option<String> {
    match doc.get(obj, key).ok().flatten()? {
        (Value::Scalar(s), _) => match s.as_ref() {
            ScalarValue::Str(s) => Some(s.to_string()),
            _ => None,
        },
        (Value::Object(ObjType::Text), id) => doc.text(&id).ok(),
        _ => None,
    }
}

/// A required string field.
pub(crate) fn str_req<D: ReadDoc>(doc: &D, obj: &ObjId, key: &str) -> Result<String, DocError> {
    str_opt(doc, obj, key).ok_or_else(|| DocError::Field(key.to_string()))
}

/// A number field as f64 (ints and uints accepted).
pub(crate) fn f64_opt<D: ReadDoc>(doc: &D, obj: &ObjId, key: &str) -> Option<f64> {
    match doc.get(obj, key).ok().flatten()? {
        (Value::Scalar(s), _) => match s.as_ref() {
            ScalarValue::F64(v) => Some(*v),
            ScalarValue::Int(v) => Some(*v as f64),
            ScalarValue::Uint(v) => Some(*v as f64),
            _ => None,
        },
        _ => None,
    }
}

/// A required number field as f64.
pub(crate) fn f64_req<D: ReadDoc>(doc: &D, obj: &ObjId, key: &str) -> Result<f64, DocError> {
    f64_opt(doc, obj, key).ok_or_else(|| DocError::Field(key.to_string()))
}

/// An integer field (ints, uints and timestamps accepted).
pub(crate) fn i64_opt<D: ReadDoc>(doc: &D, obj: &ObjId, key: &str) -> Option<i64> {
    match doc.get(obj, key).ok().flatten()? {
        (Value::Scalar(s), _) => match s.as_ref() {
            ScalarValue::Int(v) => Some(*v),
            ScalarValue::Uint(v) => i64::try_from(*v).ok(),
            ScalarValue::Timestamp(v) => Some(*v),
            _ => None,
        },
        _ => None,
    }
}

/// A required integer field.
pub(crate) fn i64_req<D: ReadDoc>(doc: &D, obj: &ObjId, key: &str) -> Result<i64, DocError> {
    i64_opt(doc, obj, key).ok_or_else(|| DocError::Field(key.to_string()))
}

/// A list of strings at `key` (missing → empty).
pub(crate) fn str_list<D: ReadDoc>(doc: &D, parent: &ObjId, key: &str) -> Vec<String> {
    let Some(list) = obj(doc, parent, key, ObjType::List) else {
        return Vec::new();
    };
    (0..doc.length(&list))
        .filter_map(|i| match doc.get(&list, i).ok().flatten() {
            Some((Value::Scalar(s), _)) => match s.as_ref() {
                ScalarValue::Str(s) => Some(s.to_string()),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// Checks the root's `schema` and reads its `kind` and `id`.
pub(crate) fn header<D: ReadDoc>(doc: &D) -> Result<(DocKind, String), DocError> {
    let schema = i64_opt(doc, &ROOT, "schema").ok_or_else(|| DocError::Field("schema".into()))?;
    if schema != SCHEMA as i64 {
        return Err(DocError::Schema(schema.max(0) as u64));
    }
    let kind_s = str_req(doc, &ROOT, "kind")?;
    let kind = DocKind::parse(&kind_s).ok_or(DocError::WrongKind {
        expected: "case or verification",
        found: kind_s,
    })?;
    let id = str_req(doc, &ROOT, "id")?;
    Ok((kind, id))
}

/// Checks that the document is of `want` kind and returns its id.
pub(crate) fn expect_kind<D: ReadDoc>(doc: &D, want: DocKind) -> Result<String, DocError> {
    let (kind, id) = header(doc)?;
    if kind != want {
        return Err(DocError::WrongKind {
            expected: want.as_str(),
            found: kind.as_str().to_string(),
        });
    }
    Ok(id)
}
