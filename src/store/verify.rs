//! Checking stored calls against their audit trails and the anchor chain:
//! the library side of `callscope audit verify`.
//!
//! For each call [`verify`] checks, without trusting the database's file
//! paths (the standard ones under the data directory are used):
//!
//! 1. its audit trail's line chain ([`super::audit::verify`]);
//! 2. that the recording's SHA-256 is the one the trail's `end` line holds;
//! 3. that the trail's head hash and the recording hash are the ones
//!    anchored when the call was stored ([`super::anchor`]);
//!
//! and, once for the store, that the anchor chain is unbroken. A call the
//! chain records as purged is reported as such, not as missing.
//!
//! Problems name the call, the file and line, never file contents.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::anchor::{self, Anchor, CallState, ChainBreak, ChainHead};
use super::audit::{self, AuditError};
use super::db::StoreError;

/// Which calls to check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which<'a> {
    /// Every call stored or purged.
    All,
    /// One call.
    Call(&'a str),
}

/// Something wrong with a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Problem {
    /// The call's row has no anchor: it was put into the database by
    /// something other than callscope.
    NotAnchored,
    /// The chain records the call as stored but the database has no row for
    /// it: the row was deleted.
    MissingRow,
    /// The call's audit trail is gone (or unreadable).
    MissingTrail {
        /// The file.
        path: PathBuf,
    },
    /// The call's recording is gone (or unreadable).
    MissingRecording {
        /// The file.
        path: PathBuf,
    },
    /// The trail's own line chain fails at `line` (from 1): a line at or
    /// before it was edited, deleted or inserted, or the file was cut short.
    TrailLine {
        /// The file.
        path: PathBuf,
        /// The line.
        line: u64,
        /// What is wrong there.
        reason: &'static str,
    },
    /// The trail verifies on its own, but its head hash is not the one
    /// anchored: the trail was rewritten as a whole, or swapped with
    /// another call's.
    TrailHead {
        /// The file.
        path: PathBuf,
    },
    /// The recording's SHA-256 is not the one its trail's `end` line holds:
    /// the recording was changed.
    Recording {
        /// The file.
        path: PathBuf,
    },
    /// The recording hash anchored for the call differs from the one its
    /// trail (or row) holds: the trail and recording were replaced together.
    RecordingVsAnchor {
        /// The recording.
        path: PathBuf,
    },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::NotAnchored => {
                write!(f, "stored without an anchor (row added outside callscope)")
            }
            Problem::MissingRow => write!(f, "anchored but its database row is missing (deleted)"),
            Problem::MissingTrail { path } => {
                write!(f, "missing file: audit trail {}", path.display())
            }
            Problem::MissingRecording { path } => {
                write!(f, "missing file: recording {}", path.display())
            }
            Problem::TrailLine { path, line, reason } => {
                write!(f, "audit trail {} line {line}: {reason}", path.display())
            }
            Problem::TrailHead { path } => write!(
                f,
                "audit trail {}: head does not match its anchor (trail rewritten or swapped)",
                path.display()
            ),
            Problem::Recording { path } => write!(
                f,
                "recording {}: SHA-256 does not match its audit trail (recording changed)",
                path.display()
            ),
            Problem::RecordingVsAnchor { path } => write!(
                f,
                "recording {}: SHA-256 in the trail does not match its anchor (recording and trail replaced)",
                path.display()
            ),
        }
    }
}

/// The verdict on one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Everything matches.
    Ok,
    /// Removed by retention (the chain's purge row `seq` lists it).
    Purged,
    /// At least one [`Problem`].
    Failed,
}

/// The result for one call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallCheck {
    /// The call.
    pub call_id: String,
    /// The verdict.
    pub verdict: Verdict,
    /// What is wrong (empty unless [`Verdict::Failed`]).
    pub problems: Vec<Problem>,
    /// Purged: the seq of the purge row.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purged_by: Option<i64>,
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// One entry per call checked, by call id.
    pub calls: Vec<CallCheck>,
    /// The anchor chain.
    pub chain: ChainCheck,
}

/// The verdict on the anchor chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum ChainCheck {
    /// Unbroken: its length and head hash (copy the head somewhere safe to
    /// detect a rewrite of the whole chain later).
    Ok(ChainHead),
    /// Broken at a row.
    Broken {
        /// Where and why.
        #[serde(flatten)]
        at: ChainBreak,
        /// The call that row names, if any.
        call_id: Option<String>,
    },
}

impl VerifyReport {
    /// Whether nothing was found wrong (purged calls are not wrong).
    pub fn ok(&self) -> bool {
        matches!(self.chain, ChainCheck::Ok(_))
            && self.calls.iter().all(|c| c.verdict != Verdict::Failed)
    }
}

/// Checks `which` calls of the store in `data_dir` (see the module docs).
/// [`StoreError::Missing`] when there is no store; [`StoreError::BadFilter`]
/// when one call is asked for and neither the database nor the chain knows
/// it.
pub fn verify(data_dir: &Path, which: Which<'_>) -> Result<VerifyReport, StoreError> {
    let db = super::open_existing(data_dir)?;
    let rows = db.anchors()?;
    let stored = db.stored_files()?;
    let chain = match anchor::check_chain(&rows) {
        Ok(head) => ChainCheck::Ok(head),
        Err(at) => ChainCheck::Broken {
            call_id: rows
                .iter()
                .find(|a| a.seq == at.seq)
                .and_then(|a| a.call_id.clone()),
            at,
        },
    };
    let states = anchor::states(&rows);
    let mut ids: BTreeSet<&str> = states.keys().map(String::as_str).collect();
    ids.extend(stored.keys().map(String::as_str));
    let ids: Vec<&str> = match which {
        Which::All => ids.into_iter().collect(),
        Which::Call(id) if ids.contains(id) => vec![id],
        Which::Call(id) => {
            return Err(StoreError::BadFilter(format!(
                "no call {id:?} is stored or was purged in {}",
                data_dir.display()
            )));
        }
    };
    let calls = ids
        .into_iter()
        .map(|id| check_call(data_dir, id, states.get(id), &rows, stored.get(id)))
        .collect();
    Ok(VerifyReport { calls, chain })
}

/// Checks one call.
fn check_call(
    data_dir: &Path,
    call_id: &str,
    state: Option<&CallState>,
    rows: &[Anchor],
    row: Option<&Option<String>>,
) -> CallCheck {
    let mut problems = Vec::new();
    let anchor = match (state, row) {
        (Some(CallState::Purged(seq)), None) => {
            return CallCheck {
                call_id: call_id.to_string(),
                verdict: Verdict::Purged,
                problems,
                purged_by: Some(*seq),
            };
        }
        (Some(CallState::Stored(i)), Some(_)) => Some(&rows[*i]),
        (Some(CallState::Stored(i)), None) => {
            problems.push(Problem::MissingRow);
            Some(&rows[*i])
        }
        (Some(CallState::Purged(_)) | None, _) => {
            problems.push(Problem::NotAnchored);
            None
        }
    };
    let super::objects::LocalFiles { recording, trail } =
        super::objects::local_files(data_dir, call_id);
    // What the call should have: by its anchor, else by its row.
    let want_trail = anchor.map_or(trail.exists(), |a| a.trail_head.is_some());
    let anchored_recording = anchor.and_then(|a| a.recording_sha256.clone());
    let row_recording = row.cloned().flatten();
    let mut trail_recording = None;
    if want_trail || trail.exists() {
        match audit::verify(&trail) {
            Ok(summary) => {
                if anchor.is_some_and(|a| a.trail_head.as_deref() != Some(&summary.head_sha256)) {
                    problems.push(Problem::TrailHead {
                        path: trail.clone(),
                    });
                }
                trail_recording = Some(summary.recording_sha256);
            }
            Err(AuditError::Io { .. }) => problems.push(Problem::MissingTrail {
                path: trail.clone(),
            }),
            Err(e) => problems.push(trail_problem(&trail, &e)),
        }
    }
    // The recording against its trail, else against its anchor.
    let expected = match &trail_recording {
        Some(h) => h.clone(),
        None => anchored_recording.clone().or(row_recording.clone()),
    };
    if let Some(want) = &expected {
        match File::open(&recording).and_then(super::sha256_of) {
            Ok(found) if &found == want => {}
            Ok(_) => problems.push(Problem::Recording {
                path: recording.clone(),
            }),
            Err(_) => problems.push(Problem::MissingRecording {
                path: recording.clone(),
            }),
        }
    }
    if let Some(from_trail) = &trail_recording {
        let against = if anchor.is_some() {
            &anchored_recording
        } else {
            &row_recording
        };
        if from_trail != against {
            problems.push(Problem::RecordingVsAnchor { path: recording });
        }
    }
    CallCheck {
        call_id: call_id.to_string(),
        verdict: if problems.is_empty() {
            Verdict::Ok
        } else {
            Verdict::Failed
        },
        problems,
        purged_by: None,
    }
}

/// A trail that does not verify, as a [`Problem`] naming its line.
fn trail_problem(path: &Path, e: &AuditError) -> Problem {
    let (line, reason) = match e {
        AuditError::BrokenChain { line, .. } => (
            *line,
            "hash chain broken: a line at or before it was edited, deleted or inserted",
        ),
        AuditError::Malformed { line, .. } => (*line, "not a well-formed trail line (edited)"),
        AuditError::BadSequence { line, .. } => (*line, "sequence number out of order"),
        AuditError::CountMismatch { line, .. } => {
            (*line, "end line's entry count does not match the trail")
        }
        AuditError::Truncated { line, .. } => (*line + 1, "trail cut short: no complete end line"),
        AuditError::DataAfterEnd { line, .. } => (*line, "data after the end line"),
        _ => (0, "unreadable"),
    };
    Problem::TrailLine {
        path: path.to_path_buf(),
        line,
        reason,
    }
}

/// The recording hash each stored call's row holds, by call id.
pub type StoredRows = BTreeMap<String, Option<String>>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redact::test_seal;
    use crate::report::test_report;
    use crate::store::audit::AuditWriter;
    use crate::store::db::CallStore;
    use crate::store::db::{IfExists, StoredFiles, db_path};

    #[test]
    fn calls_stored_before_the_anchor_chain_are_adopted_when_the_store_is_upgraded() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = CallStore::open(dir.path()).unwrap();
        let trail = AuditWriter::create(dir.path(), "a")
            .unwrap()
            .finish(None)
            .unwrap();
        let files = StoredFiles {
            audit: Some(trail),
            recording: None,
        };
        db.put(
            &test_seal(test_report("a", vec![])),
            &files,
            IfExists::Refuse,
        )
        .unwrap();
        db.put(
            &test_seal(test_report("b", vec![])),
            &StoredFiles::default(),
            IfExists::Refuse,
        )
        .unwrap();
        drop(db);
        // As a version-2 store was: no anchors.
        let conn = rusqlite::Connection::open(db_path(dir.path())).unwrap();
        conn.execute_batch("DROP TABLE anchors; PRAGMA user_version = 2;")
            .unwrap();
        drop(conn);
        let r = verify(dir.path(), Which::All).unwrap();
        assert!(r.ok(), "{r:?}");
        assert!(matches!(&r.chain, ChainCheck::Ok(h) if h.rows == 2));
        let db = CallStore::open_existing(dir.path()).unwrap();
        let rows = db.anchors().unwrap();
        assert!(
            rows.iter()
                .all(|a| a.kind == Some(anchor::EventKind::Adopt))
        );
        assert!(rows[0].trail_head.is_some() && rows[1].trail_head.is_none());
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["chain"]["verdict"], "ok");
        assert_eq!(json["calls"][0]["verdict"], "ok");
    }
}
