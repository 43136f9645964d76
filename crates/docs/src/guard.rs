//! Parses and bounds an incoming Automerge sync message before Automerge
//! works on it. Automerge trusts its input's declared sizes: a crafted
//! Bloom filter makes it allocate one probe per declared probe (or divide
//! by zero), a deflated chunk or column inflates without limit, and a
//! run-length-encoded column declares a billion operations in a few bytes.
//! This module checks every such figure against [`limits`] from the bytes
//! themselves, at a cost linear in the message's length.
//!
//! Devices send plain change chunks (sync message V1, see the sync
//! engine), so that is all the server accepts: no document, bundle or
//! compressed chunks and no deflated columns.

use automerge::sync::{Capability, Message, State};

use crate::limits;

/// Why a sync message was refused, in words for the sender's log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct GuardError(pub String);

fn refuse<T>(msg: impl Into<String>) -> Result<T, GuardError> {
    Err(GuardError(msg.into()))
}

/// Makes Automerge on the sending side speak sync message V1 (plain change
/// chunks), whatever the other side advertised: call it on the sync state
/// after every received message (and on a fresh one). It is what the
/// server's guard accepts.
pub fn speak_v1(state: &mut State) {
    state.their_capabilities = Some(vec![Capability::SyncReset]);
}

/// A cursor over bytes with checked reads.
struct Input<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Input<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Input { bytes, pos: 0 }
    }

    fn is_empty(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    fn take(&mut self, n: u64) -> Result<&'a [u8], GuardError> {
        let left = (self.bytes.len() - self.pos) as u64;
        if n > left {
            return refuse("truncated chunk");
        }
        let s = &self.bytes[self.pos..self.pos + n as usize];
        self.pos += n as usize;
        Ok(s)
    }

    fn uleb(&mut self) -> Result<u64, GuardError> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = *self.take(1)?.first().unwrap_or(&0);
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        refuse("overlong LEB128 number")
    }

    fn sleb(&mut self) -> Result<i64, GuardError> {
        let mut v: i64 = 0;
        let mut shift = 0;
        loop {
            let b = *self.take(1)?.first().unwrap_or(&0);
            if shift >= 64 {
                return refuse("overlong LEB128 number");
            }
            v |= i64::from(b & 0x7f) << shift;
            shift += 7;
            if b & 0x80 == 0 {
                if shift < 64 && b & 0x40 != 0 {
                    v |= -1i64 << shift;
                }
                return Ok(v);
            }
        }
    }

    fn prefixed(&mut self) -> Result<&'a [u8], GuardError> {
        let n = self.uleb()?;
        self.take(n)
    }
}

/// Automerge's chunk magic bytes.
const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
const CHUNK_CHANGE: u8 = 1;
/// Column id of a change's action column (one entry per operation).
const ACTION_COLUMN: u64 = 4;
/// Column types (the low three bits of a column spec).
const TYPE_GROUP: u64 = 0;
const TYPE_UINT_RLE: u64 = 2;
const TYPE_DELTA: u64 = 3;
const TYPE_BOOLEAN: u64 = 4;
const TYPE_STRING: u64 = 5;
const TYPE_RAW: u64 = 7;
const DEFLATE_BIT: u64 = 0x08;

/// A sync message that passed [`check_sync_message`].
#[derive(Debug, Clone)]
pub struct Checked {
    /// The decoded message.
    pub message: Message,
    /// Operations in all its changes (what applying it will cost).
    pub ops: u64,
}

/// Decodes `bytes` as a sync message after checking its summary
/// parameters, hash counts, chunk kinds, columns and operation counts.
pub fn check_sync_message(bytes: &[u8]) -> Result<Checked, GuardError> {
    let msg = Message::decode(bytes)
        .map_err(|e| GuardError(format!("cannot decode sync message: {e}")))?;
    if msg.heads.len() > limits::MAX_MSG_HASHES || msg.need.len() > limits::MAX_MSG_HASHES {
        return refuse(format!(
            "sync message lists {} heads and {} needs; at most {} each",
            msg.heads.len(),
            msg.need.len(),
            limits::MAX_MSG_HASHES
        ));
    }
    if msg.have.len() > limits::MAX_MSG_HAVES {
        return refuse(format!(
            "sync message has {} summaries; at most {}",
            msg.have.len(),
            limits::MAX_MSG_HAVES
        ));
    }
    for have in &msg.have {
        if have.last_sync.len() > limits::MAX_MSG_HASHES {
            return refuse("sync summary lists too many hashes");
        }
        check_bloom(&have.bloom.to_bytes())?;
    }
    if msg.changes.len() > limits::MAX_MSG_CHANGES {
        return refuse(format!(
            "sync message carries {} changes; at most {}",
            msg.changes.len(),
            limits::MAX_MSG_CHANGES
        ));
    }
    let mut ops: u64 = 0;
    for chunk in msg.changes.iter() {
        ops = ops.saturating_add(change_ops(chunk)?);
        if ops > limits::MAX_MSG_OPS {
            return refuse(format!(
                "sync message carries more than {} operations",
                limits::MAX_MSG_OPS
            ));
        }
    }
    Ok(Checked { message: msg, ops })
}

/// Checks a Bloom filter's encoded parameters (empty: no filter).
fn check_bloom(bytes: &[u8]) -> Result<(), GuardError> {
    if bytes.is_empty() {
        return Ok(());
    }
    let mut i = Input::new(bytes);
    let entries = i.uleb()?;
    let bits = i.uleb()?;
    let probes = i.uleb()?;
    let param = 1..=u64::from(limits::MAX_BLOOM_PARAM);
    if entries == 0
        || entries > u64::from(limits::MAX_BLOOM_ENTRIES)
        || !param.contains(&bits)
        || !param.contains(&probes)
    {
        return refuse(format!(
            "sync summary with {entries} entries, {bits} bits each and {probes} probes is not allowed"
        ));
    }
    Ok(())
}

/// Operations in one element of a message's change list: one or more
/// plain change chunks back to back (V1 sends one per element, V2 glues
/// them together).
fn change_ops(element: &[u8]) -> Result<u64, GuardError> {
    let mut i = Input::new(element);
    let mut ops: u64 = 0;
    while !i.is_empty() {
        ops = ops.saturating_add(chunk_ops(&mut i)?);
    }
    Ok(ops)
}

/// Operations in the plain change chunk at `i`, read from its action column.
fn chunk_ops(i: &mut Input<'_>) -> Result<u64, GuardError> {
    if i.take(4)? != MAGIC {
        return refuse("change chunk without Automerge magic bytes");
    }
    i.take(4)?; // checksum, verified by Automerge
    let ty = i.take(1)?[0];
    if ty != CHUNK_CHANGE {
        return refuse(format!(
            "sync messages may carry only plain change chunks, not type {ty}"
        ));
    }
    let body = i.prefixed()?;
    let mut b = Input::new(body);
    let deps = b.uleb()?;
    if deps > limits::MAX_MSG_HASHES as u64 {
        return refuse("change with too many dependencies");
    }
    b.take(deps.saturating_mul(32))?;
    b.prefixed()?; // actor
    b.uleb()?; // seq
    b.uleb()?; // start op
    b.sleb()?; // time
    b.prefixed()?; // message
    let others = b.uleb()?;
    if others > limits::MAX_MSG_HASHES as u64 {
        return refuse("change with too many actors");
    }
    for _ in 0..others {
        b.prefixed()?;
    }
    let ncols = b.uleb()?;
    if ncols > 64 {
        return refuse("change with too many columns");
    }
    let mut cols = Vec::with_capacity(ncols as usize);
    for _ in 0..ncols {
        let spec = b.uleb()?;
        let len = b.uleb()?;
        if spec & DEFLATE_BIT != 0 {
            return refuse("compressed columns are not accepted");
        }
        cols.push((spec, len));
    }
    // Every column is decoded by its type and bounded, not only the action
    // column: Automerge reads each one to its declared length (a pred group
    // of a billion entries behind a one-operation action column, say).
    let mut ops = 0;
    for (spec, len) in cols {
        let data = b.take(len)?;
        let ty = spec & 0x07;
        let (n, sum) = column_len(ty, data)?;
        let over = n > limits::MAX_CHANGE_OPS || (ty == TYPE_GROUP && sum > limits::MAX_CHANGE_OPS);
        if over {
            return refuse(format!(
                "column {} of a change holds {} entries; at most {}",
                spec >> 4,
                n.max(sum),
                limits::MAX_CHANGE_OPS
            ));
        }
        if spec >> 4 == ACTION_COLUMN && ty == TYPE_UINT_RLE {
            ops = n;
        }
    }
    Ok(ops)
}

/// Entries a column of type `ty` holds, and for integer-valued columns the
/// sum of its values (a group column's sum is the number of entries of its
/// grouped columns). Stops counting once past the limit.
fn column_len(ty: u64, data: &[u8]) -> Result<(u64, u64), GuardError> {
    let mut i = Input::new(data);
    let (mut n, mut sum): (u64, u64) = (0, 0);
    let cap = limits::MAX_CHANGE_OPS;
    match ty {
        TYPE_RAW => return Ok((0, 0)),
        TYPE_BOOLEAN => {
            // Alternating run lengths of false and true.
            while !i.is_empty() && n <= cap {
                n = n.saturating_add(i.uleb()?);
            }
            return Ok((n, 0));
        }
        _ => {}
    }
    // Run-length encoding: +k then one value repeated k times, -k then k
    // literal values, 0 then the length of a run of nulls.
    let value = |i: &mut Input<'_>| -> Result<u64, GuardError> {
        match ty {
            TYPE_DELTA => i.sleb().map(|v| v.unsigned_abs()),
            TYPE_STRING => i.prefixed().map(|_| 0),
            _ => i.uleb(),
        }
    };
    while !i.is_empty() && n <= cap && sum <= cap {
        let count = i.sleb()?;
        if count > 0 {
            let v = value(&mut i)?;
            n = n.saturating_add(count as u64);
            sum = sum.saturating_add(v.saturating_mul(count as u64));
        } else if count < 0 {
            let lit = count.unsigned_abs();
            if lit > data.len() as u64 {
                return refuse("literal run longer than its column");
            }
            for _ in 0..lit {
                let v = value(&mut i)?;
                sum = sum.saturating_add(v);
            }
            n = n.saturating_add(lit);
        } else {
            n = n.saturating_add(i.uleb()?);
        }
    }
    Ok((n, sum))
}
