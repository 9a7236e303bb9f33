//! Retention: removing calls stored longer ago than a limit.
//!
//! [`purge`] deletes, for every call stored more than `older_than` ago, its
//! database rows (call, segments and their full-text index, embeddings,
//! KPIs, signals, prompts, scorecard, commitments, redactions), and records
//! the purge — the call ids, when, how many and the limit — as one `purge`
//! row of the anchor chain in the same transaction; then it removes the
//! calls' recordings, audit trails and reports. `callscope audit verify`
//! reports those calls as purged, not as missing.
//!
//! Deleted rows do not linger: the store runs with `secure_delete` (freed
//! pages are zeroed), the full-text index with FTS5's `secure-delete`, and
//! the WAL is checkpointed and truncated after the purge.
//!
//! Files are removed after the rows are committed. A crash in between, or a
//! file that cannot be removed, leaves files of purged calls behind; every
//! purge first sweeps those (files of a call the chain records as purged
//! and the database no longer holds).

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use super::anchor::{self, CallState};
use super::db::{CallStore, Store, StoreError};

/// What [`purge`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PurgeSummary {
    /// The calls purged, oldest first.
    pub call_ids: Vec<String>,
    /// Files removed (recordings, audit trails, reports), including those
    /// left by an earlier purge.
    pub files_removed: usize,
    /// Files of purged calls that could not be removed (the next purge
    /// tries again).
    pub files_left: Vec<PathBuf>,
    /// Calls whose objects in object storage could not all be deleted now;
    /// each is marked in `DIR/pending/` and retried (by `serve`, and by
    /// the next purge).
    pub objects_left: Vec<String>,
    /// Calls purged earlier whose objects were deleted now, at this
    /// purge's retry.
    pub objects_caught_up: Vec<String>,
    /// Whether the WAL checkpoint after the purge completed; if a reader
    /// kept it from finishing, deleted pages may stay in the WAL file until
    /// the next checkpoint.
    pub wal_checkpointed: bool,
}

/// The directories of per-call files, and each file's extension.
const CALL_FILES: [(&str, &str); 3] = [
    ("recordings", ".wav"),
    ("audit", ".jsonl"),
    ("reports", ".json"),
];

/// Removes every call stored more than `older_than` ago from the store in
/// `data_dir` (see the module docs). A data directory without a store has
/// nothing to purge. Errors are [`StoreError::Sqlite`] (stop: nothing was
/// purged if it came before the commit; retry later) and
/// [`StoreError::TooNew`].
pub fn purge(data_dir: &Path, older_than: Duration) -> Result<PurgeSummary, StoreError> {
    // Objects an earlier purge could not delete first.
    let caught_up = super::pending::retry_deletes(data_dir).deleted;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let cutoff = now.saturating_sub(older_than.as_secs()) as i64;
    let (call_ids, wal_checkpointed, db): (Vec<String>, bool, Box<dyn Store>) =
        match super::SHARED.get() {
            // The shared store: this node removes its own files of purged
            // calls; every node's retention pass sweeps its own.
            Some(pg) => (
                pg.purge_rows(cutoff, older_than.as_secs())?,
                true,
                Box::new(pg.clone()),
            ),
            None => {
                let mut db = match CallStore::open_existing(data_dir) {
                    Ok(db) => db,
                    Err(StoreError::Missing(_)) => {
                        return Ok(PurgeSummary {
                            wal_checkpointed: true,
                            ..PurgeSummary::default()
                        });
                    }
                    Err(e) => return Err(e),
                };
                let (ids, ok) = db.purge_rows(cutoff, older_than.as_secs())?;
                (ids, ok, Box::new(db))
            }
        };
    let mut summary = PurgeSummary {
        call_ids,
        objects_caught_up: caught_up,
        wal_checkpointed,
        ..PurgeSummary::default()
    };
    // The calls just purged and any whose files an earlier purge left.
    let stored = db.stored_files()?;
    let purged: Vec<String> = anchor::states(&db.anchors()?)
        .into_iter()
        .filter(|(id, s)| matches!(s, CallState::Purged(_)) && !stored.contains_key(id))
        .map(|(id, _)| id)
        .collect();
    for id in &purged {
        for (dir, ext) in CALL_FILES {
            let path = data_dir.join(dir).join(format!("{id}{ext}"));
            match std::fs::remove_file(&path) {
                Ok(()) => summary.files_removed += 1,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    tracing::warn!(file = %path.display(), error = %e, "cannot remove a purged call's file; the next purge retries");
                    summary.files_left.push(path);
                }
            }
        }
    }
    summary.objects_left = super::objects::delete_calls(data_dir, &summary.call_ids);
    for id in &summary.objects_left {
        super::pending::mark_objects(data_dir, id, super::pending::ObjectsTodo::Delete);
    }
    if !summary.call_ids.is_empty() {
        tracing::info!(
            calls = summary.call_ids.len(),
            files = summary.files_removed,
            older_than_s = older_than.as_secs(),
            "calls purged by retention"
        );
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::Leg;
    use crate::redact::test_seal;
    use crate::report::test_report;
    use crate::rules::test_segment;
    use crate::store::db::{IfExists, StoredFiles, db_path};

    /// A word no other call says, in its transcript segments and report.
    const WORD: &str = "zanzibarquokka";

    fn raw_holds(path: &Path, word: &str) -> bool {
        let Ok(bytes) = std::fs::read(path) else {
            return false;
        };
        bytes.windows(word.len()).any(|w| w == word.as_bytes())
    }

    fn db_files(dir: &Path) -> [PathBuf; 2] {
        let db = db_path(dir);
        let mut wal = db.clone().into_os_string();
        wal.push("-wal");
        [db, wal.into()]
    }

    #[test]
    fn a_purged_calls_transcript_words_leave_the_database_file_and_its_wal() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = CallStore::open(dir.path()).unwrap();
        for (id, text) in [
            ("old", format!("the parcel went to {WORD} by mistake")),
            ("new", "the parcel arrived on time".to_string()),
        ] {
            let r = test_report(id, vec![test_segment(Leg::Customer, 1.0, &text)]);
            db.put(&test_seal(r), &StoredFiles::default(), IfExists::Refuse)
                .unwrap();
        }
        // The word is on disk before (in the database or its WAL) and found.
        let f = crate::store::db::Filter::default();
        assert_eq!(db.search(WORD, &f).unwrap().len(), 1);
        db.conn_for_tests()
            .execute(
                "UPDATE calls SET stored_at = stored_at - 3 * 86400 WHERE call_id = 'old'",
                [],
            )
            .unwrap();
        let [file, wal] = db_files(dir.path());
        assert!(raw_holds(&file, WORD) || raw_holds(&wal, WORD));
        let s = purge(dir.path(), Duration::from_secs(86_400)).unwrap();
        assert_eq!(s.call_ids, ["old"]);
        assert!(s.wal_checkpointed);
        // Checkpoint again from this connection (the purge's own was done
        // while this one was open), then scan the raw bytes.
        db.conn_for_tests()
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .unwrap();
        assert!(db.search(WORD, &f).unwrap().is_empty());
        assert_eq!(db.search("arrived on time", &f).unwrap().len(), 1);
        assert!(
            !raw_holds(&file, WORD),
            "the database file still holds the word"
        );
        assert!(!raw_holds(&wal, WORD), "the WAL still holds the word");
        // And with every connection closed.
        drop(db);
        assert!(!raw_holds(&file, WORD));
    }
}
