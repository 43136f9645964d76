//! Small typed getters over Automerge maps, shared by the document readers.

use automerge::iter::MapRangeItem;
use automerge::{ObjId, ObjType, ReadDoc, ScalarValue, ScalarValueRef, Value, ValueRef, ROOT};

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

/// Checks the root's `schema` and reads its `kind` and `id`.
pub(crate) fn header_of<D: ReadDoc>(root: &Fields<'_, D>) -> Result<(DocKind, String), DocError> {
    let schema = root
        .i64_opt("schema")
        .ok_or_else(|| DocError::Field("schema".into()))?;
    if schema != SCHEMA as i64 {
        return Err(DocError::Schema(schema.max(0) as u64));
    }
    let kind_s = root.str_req("kind")?;
    let kind = DocKind::parse(&kind_s).ok_or(DocError::WrongKind {
        expected: "case or verification",
        found: kind_s,
    })?;
    let id = root.str_req("id")?;
    Ok((kind, id))
}

/// Checks that the document is of `want` kind and returns its id.
pub(crate) fn expect_kind<D: ReadDoc>(doc: &D, want: DocKind) -> Result<String, DocError> {
    expect_kind_of(&Fields::root(doc), want)
}

/// [`expect_kind`] from the root's fields already read.
pub(crate) fn expect_kind_of<D: ReadDoc>(
    root: &Fields<'_, D>,
    want: DocKind,
) -> Result<String, DocError> {
    let (kind, id) = header_of(root)?;
    if kind != want {
        return Err(DocError::WrongKind {
            expected: want.as_str(),
            found: kind.as_str().to_string(),
        });
    }
    Ok(id)
}

/// One map object's fields, read in a single pass. In this Automerge a key
/// lookup (`get`) seeks through the document and costs about as much as
/// reading the whole map, so readers take a snapshot of each map once and
/// look its keys up here.
pub(crate) struct Fields<'a, D: ReadDoc> {
    doc: &'a D,
    items: Vec<MapRangeItem<'a>>,
}

impl<'a, D: ReadDoc> Fields<'a, D> {
    /// The fields of map `obj` (none if it is not a map).
    pub(crate) fn of(doc: &'a D, obj: &ObjId) -> Fields<'a, D> {
        Fields {
            doc,
            items: doc.map_range(obj, ..).collect(),
        }
    }

    /// The document root's fields.
    pub(crate) fn root(doc: &'a D) -> Fields<'a, D> {
        Fields::of(doc, &ROOT)
    }

    fn item(&self, key: &str) -> Option<&MapRangeItem<'a>> {
        self.items.iter().find(|it| it.key == key)
    }

    /// The document these fields are of.
    pub(crate) fn doc(&self) -> &'a D {
        self.doc
    }

    /// Whether `key` is present (with any value).
    pub(crate) fn has(&self, key: &str) -> bool {
        self.item(key).is_some()
    }

    /// The keys present.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &str> {
        self.items.iter().map(|it| it.key.as_ref())
    }

    /// The container at `key`, if it is of type `ty`.
    pub(crate) fn obj(&self, key: &str, ty: ObjType) -> Option<ObjId> {
        match self.item(key)? {
            it @ MapRangeItem {
                value: ValueRef::Object(t),
                ..
            } if *t == ty => Some(it.id()),
            _ => None,
        }
    }

    /// The map at `key`, read in one pass.
    pub(crate) fn map(&self, key: &str) -> Option<Fields<'a, D>> {
        self.obj(key, ObjType::Map)
            .map(|id| Fields::of(self.doc, &id))
    }

    /// Like [`Fields::map`] but a missing map is an error naming `key`.
    pub(crate) fn req_map(&self, key: &str) -> Result<Fields<'a, D>, DocError> {
        self.map(key)
            .ok_or_else(|| DocError::Field(key.to_string()))
    }

    /// A string field; Automerge text objects read as their content too.
    pub(crate) fn str_opt(&self, key: &str) -> Option<String> {
        let it = self.item(key)?;
        match &it.value {
            ValueRef::Scalar(ScalarValueRef::Str(s)) => Some(s.to_string()),
            ValueRef::Object(ObjType::Text) => self.doc.text(it.id()).ok(),
            _ => None,
        }
    }

    /// A required string field.
    pub(crate) fn str_req(&self, key: &str) -> Result<String, DocError> {
        self.str_opt(key)
            .ok_or_else(|| DocError::Field(key.to_string()))
    }

    /// A number field as f64 (ints and uints accepted).
    pub(crate) fn f64_opt(&self, key: &str) -> Option<f64> {
        match self.item(key)?.value {
            ValueRef::Scalar(ScalarValueRef::F64(v)) => Some(v),
            ValueRef::Scalar(ScalarValueRef::Int(v)) => Some(v as f64),
            ValueRef::Scalar(ScalarValueRef::Uint(v)) => Some(v as f64),
            _ => None,
        }
    }

    /// A required number field as f64.
    pub(crate) fn f64_req(&self, key: &str) -> Result<f64, DocError> {
        self.f64_opt(key)
            .ok_or_else(|| DocError::Field(key.to_string()))
    }

    /// An integer field (ints, uints and timestamps accepted).
    pub(crate) fn i64_opt(&self, key: &str) -> Option<i64> {
        match self.item(key)?.value {
            ValueRef::Scalar(ScalarValueRef::Int(v)) => Some(v),
            ValueRef::Scalar(ScalarValueRef::Uint(v)) => i64::try_from(v).ok(),
            ValueRef::Scalar(ScalarValueRef::Timestamp(v)) => Some(v),
            _ => None,
        }
    }

    /// A required integer field.
    pub(crate) fn i64_req(&self, key: &str) -> Result<i64, DocError> {
        self.i64_opt(key)
            .ok_or_else(|| DocError::Field(key.to_string()))
    }

    /// The list at `key`.
    pub(crate) fn list(&self, key: &str) -> Option<ObjId> {
        self.obj(key, ObjType::List)
    }

    /// A list of strings at `key` (missing → empty; items that are not
    /// strings skipped).
    pub(crate) fn str_list(&self, key: &str) -> Vec<String> {
        self.list(key)
            .map(|l| strings(self.doc, &l))
            .unwrap_or_default()
    }

    /// The length of the list at `key`, if there is one.
    pub(crate) fn list_len(&self, key: &str) -> Option<usize> {
        self.list(key).map(|l| self.doc.length(&l))
    }
}

/// The string items of `list`, in one pass.
fn strings<D: ReadDoc>(doc: &D, list: &ObjId) -> Vec<String> {
    doc.list_range(list, ..)
        .filter_map(|it| match it.value {
            ValueRef::Scalar(ScalarValueRef::Str(s)) => Some(s.into_owned()),
            _ => None,
        })
        .collect()
}

/// Each item of `list` in order, read in one pass: `Some` fields where the
/// item is a map, `None` where it is anything else.
pub(crate) fn maps<'a, D: ReadDoc>(doc: &'a D, list: &ObjId) -> Vec<Option<Fields<'a, D>>> {
    doc.list_range(list, ..)
        .map(|it| match it.value {
            ValueRef::Object(ObjType::Map) => Some(Fields::of(doc, &it.id())),
            _ => None,
        })
        .collect()
}
