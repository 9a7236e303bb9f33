//! The anchor chain: table `anchors` in the call store.
//!
//! A call's audit trail is hash-chained line by line, but not keyed: whoever
//! can rewrite the whole file can recompute its chain. The anchor chain
//! records, in the database and in the same transaction as the call's row,
//! the trail's head hash ([`super::audit::VerifySummary::head_sha256`]) and
//! the recording's SHA-256, so a trail or recording rewritten as a whole no
//! longer matches its anchor.
//!
//! Every store-level event is one row ([`EventKind`]): a call stored, a call
//! replaced, calls purged by retention, a call adopted when the store was
//! upgraded. Row `seq` (1, 2, 3, … without gaps) carries `prev_hash`, the
//! previous row's `hash` (64 zeros for the first), and its own `hash`:
//!
//! ```text
//! hash = SHA-256( JSON array [seq, kind, call_id, at, trail_head,
//!                 recording_sha256, detail, prev_hash] )
//! ```
//!
//! (compact JSON, nulls as `null`), lower-case hex. Editing, deleting or
//! inserting a row breaks the chain at the next row; [`check_chain`] finds
//! it. The chain is not keyed either: someone able to write the database can
//! recompute it too. The head ([`ChainHead`], printed by `callscope audit
//! verify`) is what to copy somewhere the data directory's writer cannot
//! reach (a ticket, a log collector) to detect that as well.

use rusqlite::{OptionalExtension, Transaction, params};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// `prev_hash` of the first row.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What a row of the chain records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A call stored for the first time (or again after it was purged).
    Store,
    /// A call stored over an earlier one with the same id, explicitly.
    Replace,
    /// Calls removed by retention; `detail` lists them.
    Purge,
    /// A call stored before the chain existed, anchored as it was found
    /// when the store was upgraded.
    Adopt,
}

impl EventKind {
    /// The name stored in the `kind` column.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Store => "store",
            EventKind::Replace => "replace",
            EventKind::Purge => "purge",
            EventKind::Adopt => "adopt",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "store" => EventKind::Store,
            "replace" => EventKind::Replace,
            "purge" => EventKind::Purge,
            "adopt" => EventKind::Adopt,
            _ => return None,
        })
    }
}

/// One row of the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Anchor {
    /// Position in the chain, from 1.
    pub seq: i64,
    /// What happened; `None` when the stored kind is unknown (tampered).
    pub kind: Option<EventKind>,
    /// The call (store, replace, adopt).
    pub call_id: Option<String>,
    /// When, unix seconds.
    pub at: i64,
    /// The call's audit trail head hash, if it has a trail.
    pub trail_head: Option<String>,
    /// The call's recording SHA-256, if it has a recording.
    pub recording_sha256: Option<String>,
    /// Purge: JSON with the call ids, their count and the age limit.
    pub detail: Option<String>,
    /// The previous row's hash.
    pub prev_hash: String,
    /// This row's hash.
    pub hash: String,
    /// The kind as stored (kept to recompute the hash of an unknown kind).
    #[serde(skip)]
    kind_text: String,
}

/// What a purge row's `detail` holds.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct PurgeDetail {
    /// The calls removed.
    pub call_ids: Vec<String>,
    /// How many.
    pub count: usize,
    /// The age limit: calls stored more than this many seconds before the
    /// purge were removed.
    pub older_than_s: u64,
}

impl PurgeDetail {
    /// The `detail` of the purge row for these calls, as both stores write it.
    pub(crate) fn json(call_ids: &[String], older_than_s: u64) -> String {
        serde_json::to_string(&PurgeDetail {
            call_ids: call_ids.to_vec(),
            count: call_ids.len(),
            older_than_s,
        })
        .expect("purge details serialise")
    }
}

/// The hash of a row from its fields.
#[allow(clippy::too_many_arguments)]
fn row_hash(
    seq: i64,
    kind: &str,
    call_id: Option<&str>,
    at: i64,
    trail_head: Option<&str>,
    recording_sha256: Option<&str>,
    detail: Option<&str>,
    prev_hash: &str,
) -> String {
    let input = serde_json::to_vec(&(
        seq,
        kind,
        call_id,
        at,
        trail_head,
        recording_sha256,
        detail,
        prev_hash,
    ))
    .expect("anchor fields serialise");
    super::hex(&Sha256::digest(&input))
}

impl Anchor {
    /// A row as a store read it (the kind as stored).
    #[allow(clippy::too_many_arguments)]
    pub fn from_stored(
        seq: i64,
        kind_text: String,
        call_id: Option<String>,
        at: i64,
        trail_head: Option<String>,
        recording_sha256: Option<String>,
        detail: Option<String>,
        prev_hash: String,
        hash: String,
    ) -> Self {
        Anchor {
            seq,
            kind: EventKind::parse(&kind_text),
            call_id,
            at,
            trail_head,
            recording_sha256,
            detail,
            prev_hash,
            hash,
            kind_text,
        }
    }

    /// The hash this row should carry, from its fields.
    pub fn expected_hash(&self) -> String {
        row_hash(
            self.seq,
            &self.kind_text,
            self.call_id.as_deref(),
            self.at,
            self.trail_head.as_deref(),
            self.recording_sha256.as_deref(),
            self.detail.as_deref(),
            &self.prev_hash,
        )
    }
}

/// The fields of a new row.
#[derive(Debug, Clone, Default)]
pub struct NewAnchor<'a> {
    /// The call (store, replace, adopt).
    pub call_id: Option<&'a str>,
    /// Its trail's head hash.
    pub trail_head: Option<&'a str>,
    /// Its recording's SHA-256.
    pub recording_sha256: Option<&'a str>,
    /// Purge: the JSON detail.
    pub detail: Option<&'a str>,
}

/// The seq, previous hash and hash of the row after `last` (the chain's
/// last `(seq, hash)`, `None` when empty): what every store backend writes.
pub fn next_row(
    last: Option<(i64, String)>,
    kind: EventKind,
    at: i64,
    row: &NewAnchor<'_>,
) -> (i64, String, String) {
    let (seq, prev) = match last {
        Some((s, h)) => (s + 1, h),
        None => (1, GENESIS.to_string()),
    };
    let hash = row_hash(
        seq,
        kind.as_str(),
        row.call_id,
        at,
        row.trail_head,
        row.recording_sha256,
        row.detail,
        &prev,
    );
    (seq, prev, hash)
}

/// Appends a row to the chain inside `tx` (which must hold the write lock:
/// an immediate transaction); returns its seq.
pub(crate) fn append(
    tx: &Transaction<'_>,
    kind: EventKind,
    at: i64,
    row: &NewAnchor<'_>,
) -> rusqlite::Result<i64> {
    let last: Option<(i64, String)> = tx
        .query_row(
            "SELECT seq, hash FROM anchors ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let (seq, prev, hash) = next_row(last, kind, at, row);
    tx.execute(
        "INSERT INTO anchors (seq, kind, call_id, at, trail_head, recording_sha256, detail,
            prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            seq,
            kind.as_str(),
            row.call_id,
            at,
            row.trail_head,
            row.recording_sha256,
            row.detail,
            prev,
            hash
        ],
    )?;
    Ok(seq)
}

/// Every row of the chain, in order.
pub(crate) fn read_all(conn: &rusqlite::Connection) -> rusqlite::Result<Vec<Anchor>> {
    let mut stmt = conn.prepare(
        "SELECT seq, kind, call_id, at, trail_head, recording_sha256, detail, prev_hash, hash
         FROM anchors ORDER BY seq",
    )?;
    let rows = stmt.query_map([], |r| {
        let kind_text: String = r.get(1)?;
        Ok(Anchor {
            seq: r.get(0)?,
            kind: EventKind::parse(&kind_text),
            call_id: r.get(2)?,
            at: r.get(3)?,
            trail_head: r.get(4)?,
            recording_sha256: r.get(5)?,
            detail: r.get(6)?,
            prev_hash: r.get(7)?,
            hash: r.get(8)?,
            kind_text,
        })
    })?;
    rows.collect()
}

/// The end of an unbroken chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainHead {
    /// Rows in the chain.
    pub rows: i64,
    /// The last row's hash (64 zeros for an empty chain).
    pub hash: String,
}

/// Where and why the chain is broken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainBreak {
    /// The first row (seq) that does not follow.
    pub seq: i64,
    /// What is wrong (never row contents).
    pub reason: &'static str,
}

/// Checks that the rows follow each other: seq 1, 2, 3, …, each
/// `prev_hash` the previous `hash`, each `hash` its fields' hash, every
/// kind known.
pub fn check_chain(rows: &[Anchor]) -> Result<ChainHead, ChainBreak> {
    let mut prev = GENESIS.to_string();
    for (i, a) in rows.iter().enumerate() {
        let want = i as i64 + 1;
        let reason = if a.seq != want {
            Some("a row is missing or out of order (seq gap)")
        } else if a.prev_hash != prev {
            Some("prev_hash does not match the previous row's hash")
        } else if a.hash != a.expected_hash() {
            Some("the row's hash does not match its fields (the row was edited)")
        } else if a.kind.is_none() {
            Some("unknown event kind")
        } else {
            None
        };
        if let Some(reason) = reason {
            return Err(ChainBreak {
                seq: a.seq.min(want),
                reason,
            });
        }
        prev = a.hash.clone();
    }
    Ok(ChainHead {
        rows: rows.len() as i64,
        hash: prev,
    })
}

/// What the chain says of one call id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallState {
    /// Stored: the index in the rows of its latest store, replace or adopt
    /// row.
    Stored(usize),
    /// Removed by retention: the seq of the purge row that lists it.
    Purged(i64),
}

/// The state of every call id the chain mentions, by its latest row.
pub fn states(rows: &[Anchor]) -> std::collections::BTreeMap<String, CallState> {
    let mut out = std::collections::BTreeMap::new();
    for (i, a) in rows.iter().enumerate() {
        match a.kind {
            Some(EventKind::Store | EventKind::Replace | EventKind::Adopt) => {
                if let Some(id) = &a.call_id {
                    out.insert(id.clone(), CallState::Stored(i));
                }
            }
            Some(EventKind::Purge) => {
                let detail = a
                    .detail
                    .as_deref()
                    .and_then(|d| serde_json::from_str::<PurgeDetail>(d).ok());
                for id in detail.into_iter().flat_map(|d| d.call_ids) {
                    out.insert(id, CallState::Purged(a.seq));
                }
            }
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain() -> (rusqlite::Connection, Vec<Anchor>) {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE segments (id INTEGER PRIMARY KEY, text TEXT);
             CREATE VIRTUAL TABLE segments_fts USING fts5 (text, content = 'segments', content_rowid = 'id');",
        )
        .unwrap();
        conn.execute_batch(include_str!("migrations/0003_anchors.sql"))
            .unwrap();
        let tx = conn.transaction().unwrap();
        let h = "ab".repeat(32);
        for id in ["a", "b"] {
            append(
                &tx,
                EventKind::Store,
                100,
                &NewAnchor {
                    call_id: Some(id),
                    trail_head: Some(&h),
                    ..NewAnchor::default()
                },
            )
            .unwrap();
        }
        append(
            &tx,
            EventKind::Purge,
            200,
            &NewAnchor {
                detail: Some(r#"{"call_ids":["a"],"count":1,"older_than_s":1}"#),
                ..NewAnchor::default()
            },
        )
        .unwrap();
        tx.commit().unwrap();
        let rows = read_all(&conn).unwrap();
        (conn, rows)
    }

    #[test]
    fn an_appended_chain_checks_and_its_head_is_the_last_hash() {
        let (_c, rows) = chain();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].prev_hash, GENESIS);
        assert_eq!(rows[1].prev_hash, rows[0].hash);
        let head = check_chain(&rows).unwrap();
        assert_eq!(head.rows, 3);
        assert_eq!(head.hash, rows[2].hash);
        assert_eq!(check_chain(&[]).unwrap().hash, GENESIS);
    }

    #[test]
    fn an_edited_deleted_or_reordered_row_breaks_the_chain() {
        let (_c, rows) = chain();
        let mut edited = rows.clone();
        edited[1].trail_head = Some("cd".repeat(32));
        assert_eq!(check_chain(&edited).unwrap_err().seq, 2);
        let mut deleted = rows.clone();
        deleted.remove(1);
        assert_eq!(check_chain(&deleted).unwrap_err().seq, 2);
        let mut first_gone = rows.clone();
        first_gone.remove(0);
        assert_eq!(check_chain(&first_gone).unwrap_err().seq, 1);
        // Rewritten with its hash recomputed: the next row's link breaks.
        let mut rehashed = rows;
        rehashed[0].call_id = Some("z".into());
        rehashed[0].hash = rehashed[0].expected_hash();
        let e = check_chain(&rehashed).unwrap_err();
        assert_eq!(
            (e.seq, e.reason),
            (2, "prev_hash does not match the previous row's hash")
        );
    }
}
