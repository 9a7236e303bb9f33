//! Calls kept on local disk while the store cannot take them.
//!
//! A call's recording, audit trail and report are written to the data
//! directory before its row goes into the store. When that last step fails
//! with a transient error (the shared PostgreSQL store is down or
//! restarting: [`StoreError::is_transient`]), the call is not lost: a small
//! marker `DIR/pending/<call_id>.json` (0600) names its files, and
//! [`retry`] stores it later — `serve` tries at start and every
//! [`RETRY_EVERY`], `analyze` at start. Nothing here holds call content: the
//! marker has ids, paths and hashes, and the report it points to was
//! written from a [`Redacted`] report and is checked again
//! ([`crate::redact::reseal_stored_report`]) before it is stored.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use super::db::{IfExists, StoreError, StoredFiles};
use crate::redact::Redacted;
use crate::report::Report;

/// How often `serve` retries kept calls.
pub const RETRY_EVERY: Duration = Duration::from_secs(30);

/// The marker of a kept call.
#[derive(Debug, Serialize, Deserialize)]
struct Marker {
    call_id: String,
    recording: Option<(PathBuf, String)>,
    audit: Option<PathBuf>,
    replace: bool,
    /// The store's error when the call was kept (no password: the store's
    /// errors never carry one).
    error: String,
    /// Unix seconds.
    kept_at: i64,
}

/// Moves a stored call's recording and trail to object storage, when
/// that is in use; on failure they stay here (logged).
fn upload(data_dir: &Path, call_id: &str) {
    if let Err(e) = super::objects::upload_call(data_dir, call_id) {
        warn!(call_id, error = %e, "the call's files stay in the data directory");
    }
}

/// What [`put_or_keep`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Put {
    /// The call is in the store.
    Stored,
    /// The store could not take it now; it is kept and will be retried.
    Kept,
}

fn dir(data_dir: &Path) -> PathBuf {
    data_dir.join("pending")
}

fn marker_path(data_dir: &Path, call_id: &str) -> PathBuf {
    dir(data_dir).join(format!("{call_id}.json"))
}

/// Stores a call whose files are written, or — when the store fails with a
/// transient error — keeps it for [`retry`]. Other errors are returned.
pub fn put_or_keep(
    data_dir: &Path,
    report: &Redacted<Report>,
    files: &StoredFiles,
    if_exists: IfExists,
) -> Result<Put, StoreError> {
    match put_call(data_dir, report, files, if_exists) {
        Ok(()) => {
            upload(data_dir, &report.get().call_id);
            Ok(Put::Stored)
        }
        Err(e) if e.is_transient() => {
            keep(data_dir, &report.get().call_id, files, if_exists, &e)?;
            warn!(call_id = %report.get().call_id, error = %e, "the store cannot take the call now; kept on local disk and retried");
            Ok(Put::Kept)
        }
        Err(e) => Err(e),
    }
}

/// Stores a call; a record other nodes stored when they lost this node
/// (it was cut off, not dead) is replaced by the call itself.
fn put_call(
    data_dir: &Path,
    report: &Redacted<Report>,
    files: &StoredFiles,
    if_exists: IfExists,
) -> Result<(), StoreError> {
    let call_id = &report.get().call_id;
    let mut db = super::open(data_dir)?;
    match db.put(report, files, if_exists) {
        Err(StoreError::AlreadyExists { .. })
            if db
                .report_json(call_id)?
                .as_deref()
                .is_some_and(super::open::is_lost_node_record) =>
        {
            tracing::info!(call_id = %call_id, "the call replaces the record other nodes stored when they lost this node");
            db.put(report, files, IfExists::Replace)
        }
        other => other,
    }
}

fn keep(
    data_dir: &Path,
    call_id: &str,
    files: &StoredFiles,
    if_exists: IfExists,
    error: &StoreError,
) -> Result<(), StoreError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| StoreError::Io { path, source }
    };
    let d = dir(data_dir);
    super::create_private_dir(&d).map_err(io(&d))?;
    let marker = Marker {
        call_id: call_id.to_string(),
        recording: files.recording.clone(),
        audit: files.audit.clone(),
        replace: if_exists == IfExists::Replace,
        error: error.to_string(),
        kept_at: crate::grpc::console::unix_ms() / 1000,
    };
    let path = marker_path(data_dir, call_id);
    let tmp = path.with_extension("json.tmp");
    let json = serde_json::to_vec_pretty(&marker).expect("a marker always serialises");
    let mut f = super::create_private_file(&tmp, false).map_err(io(&tmp))?;
    f.write_all(&json).map_err(io(&tmp))?;
    f.sync_all().map_err(io(&tmp))?;
    fs::rename(&tmp, &path).map_err(io(&path))?;
    Ok(())
}

/// What one [`retry`] pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Retried {
    /// Calls now stored.
    pub stored: Vec<String>,
    /// Calls still kept (the store is still away).
    pub waiting: usize,
    /// Calls that cannot be stored as they are (their marker is set aside
    /// as `.broken` with a warning; their files stay).
    pub failed: Vec<(String, String)>,
}

/// Whether a call with this id is kept, waiting for the store.
pub fn is_kept(data_dir: &Path, call_id: &str) -> bool {
    marker_path(data_dir, call_id).exists()
}

/// How many calls are kept now.
pub fn count(data_dir: &Path) -> usize {
    fs::read_dir(dir(data_dir)).map_or(0, |d| {
        d.flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            .count()
    })
}

/// Tries to store every kept call; stops at the first transient error
/// (the store is still away).
pub fn retry(data_dir: &Path) -> Retried {
    let mut out = Retried::default();
    let Ok(rd) = fs::read_dir(dir(data_dir)) else {
        return out;
    };
    let mut markers: Vec<PathBuf> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    markers.sort();
    let total = markers.len();
    for (i, path) in markers.iter().enumerate() {
        match retry_one(data_dir, path) {
            Ok(id) => {
                let _ = fs::remove_file(path);
                upload(data_dir, &id);
                info!(call_id = %id, "a call kept while the store was away is stored");
                out.stored.push(id);
            }
            Err(RetryError::Transient(e)) => {
                tracing::debug!(error = %e, "the store is still away; kept calls wait");
                out.waiting = total - i;
                break;
            }
            Err(RetryError::Failed(id, e)) => {
                warn!(marker = %path.display(), error = %e, "a kept call cannot be stored; its marker is set aside");
                let _ = fs::rename(path, path.with_extension("json.broken"));
                out.failed.push((id, e));
            }
        }
    }
    out
}

enum RetryError {
    Transient(StoreError),
    Failed(String, String),
}

fn retry_one(data_dir: &Path, path: &Path) -> Result<String, RetryError> {
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let failed = |e: String| RetryError::Failed(name.clone(), e);
    let marker: Marker = fs::read(path)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
        .map_err(|e| failed(format!("unreadable marker: {e}")))?;
    crate::analyze::validate_call_id(&marker.call_id).map_err(|e| failed(e.to_string()))?;
    let report_file = crate::analyze::report_path(data_dir, &marker.call_id);
    let report: Report = fs::read(&report_file)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
        .map_err(|e| failed(format!("{}: {e}", report_file.display())))?;
    if report.call_id != marker.call_id {
        return Err(failed("the report is another call's".into()));
    }
    let report = crate::redact::reseal_stored_report(report).map_err(failed)?;
    let files = StoredFiles {
        recording: marker.recording,
        audit: marker.audit,
    };
    let if_exists = if marker.replace {
        IfExists::Replace
    } else {
        IfExists::Refuse
    };
    match put_call(data_dir, &report, &files, if_exists) {
        Ok(()) => Ok(marker.call_id),
        Err(e) if e.is_transient() => Err(RetryError::Transient(e)),
        Err(e) => Err(failed(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grpc::pb;

    #[test]
    fn a_call_replaces_the_record_stored_when_its_node_was_lost() {
        let dir = tempfile::tempdir().unwrap();
        let u = pb::FloorUpdate {
            call_id: "c1".into(),
            agent_id: "a1".into(),
            ..Default::default()
        };
        let stub = crate::grpc::cluster::lost_call_report("b", &u).unwrap();
        let none = StoredFiles::default();
        assert_eq!(
            put_or_keep(dir.path(), &stub, &none, IfExists::Refuse).unwrap(),
            Put::Stored
        );
        let call = crate::redact::test_seal(crate::report::test_report("c1", Vec::new()));
        assert_eq!(
            put_or_keep(dir.path(), &call, &none, IfExists::Refuse).unwrap(),
            Put::Stored
        );
        let db = super::super::open(dir.path()).unwrap();
        let stored = db.report_json("c1").unwrap().unwrap();
        assert!(!super::super::open::is_lost_node_record(&stored));
        // A real call is never replaced that way.
        let again = put_or_keep(dir.path(), &call, &none, IfExists::Refuse).unwrap_err();
        assert!(matches!(again, StoreError::AlreadyExists { .. }), "{again}");
        assert!(!is_kept(dir.path(), "c1"));
    }
}
