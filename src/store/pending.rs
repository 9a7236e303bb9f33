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
//!
//! The same pass retries object storage (`--recordings s3://…`): a stored
//! call whose upload failed is marked `pending/<call_id>.upload` (its files
//! stay in the data directory, readable on this node, until uploaded), and
//! a purged call whose objects could not be deleted `pending/<call_id>.delete`
//! (later, only objects written before the purge: a new call may have taken
//! the id since). These markers hold the time they were made.

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
/// that is in use; on failure they stay here (readable on this node) and
/// the upload is marked for [`retry`].
fn upload(data_dir: &Path, call_id: &str) {
    if let Err(e) = super::objects::upload_call(data_dir, call_id) {
        warn!(call_id, error = %e, "the call's files stay in the data directory; the upload is retried");
        mark_objects(data_dir, call_id, ObjectsTodo::Upload);
    }
}

/// Work on a call's objects that object storage refused for now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectsTodo {
    /// Upload the stored call's recording, trail and report.
    Upload,
    /// Delete the purged call's objects.
    Delete,
}

impl ObjectsTodo {
    fn ext(self) -> &'static str {
        match self {
            ObjectsTodo::Upload => "upload",
            ObjectsTodo::Delete => "delete",
        }
    }
}

/// Marks `DIR/pending/<call_id>.upload` or `.delete` (the call id is in
/// the name; the file holds the Unix time it was marked, for a delete the
/// purge's) so that [`retry`] does it later. A marker that cannot be
/// written is logged: the files stay local (an upload), or the objects of
/// a purged call, redacted content only, stay until deleted by hand (a
/// delete).
pub fn mark_objects(data_dir: &Path, call_id: &str, todo: ObjectsTodo) {
    if let Err(e) = crate::analyze::validate_call_id(call_id) {
        warn!(call_id, error = %e, "not a call id that can name a marker; the call's objects are not retried");
        return;
    }
    let d = dir(data_dir);
    let path = d.join(format!("{call_id}.{}", todo.ext()));
    let now = super::db::now_unix();
    let made = super::create_private_dir(&d)
        .and_then(|()| super::create_private_file(&path, false))
        .and_then(|mut f| {
            f.write_all(now.to_string().as_bytes())?;
            f.sync_all()
        });
    if let Err(e) = made {
        warn!(call_id, marker = %path.display(), error = %e, "cannot mark the call's objects for a retry");
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
        kept_at: super::db::now_unix(),
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
    /// Stored calls whose files are now uploaded to object storage.
    pub uploaded: Vec<String>,
    /// Purged calls whose objects are now deleted.
    pub deleted: Vec<String>,
    /// Uploads and deletions still waiting (object storage is still away).
    pub objects_waiting: usize,
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
    retry_objects(data_dir, &mut out, None);
    out
}

/// Retries the deletes of purged calls' objects that object storage
/// refused (what `purge` does first, so that a purge run on its own, away
/// from any `serve`, catches up too).
pub fn retry_deletes(data_dir: &Path) -> Retried {
    let mut out = Retried::default();
    retry_objects(data_dir, &mut out, Some(ObjectsTodo::Delete));
    out
}

/// Retries marked uploads and deletions in object storage (only `only`'s
/// kind when given), oldest attempt first; stops at the first failure (the
/// service is likely still away), which goes to the back of the queue, so
/// that one marker that keeps failing does not hold up the others. Without
/// object storage in this process the markers wait.
fn retry_objects(data_dir: &Path, out: &mut Retried, only: Option<ObjectsTodo>) {
    if !super::objects::active() {
        return;
    }
    let Ok(rd) = fs::read_dir(dir(data_dir)) else {
        return;
    };
    let mut markers: Vec<(std::time::SystemTime, PathBuf, String, ObjectsTodo)> = rd
        .flatten()
        .filter_map(|e| {
            let path = e.path();
            let todo = match path.extension()?.to_str()? {
                "upload" => ObjectsTodo::Upload,
                "delete" => ObjectsTodo::Delete,
                _ => return None,
            };
            if only.is_some_and(|k| k != todo) {
                return None;
            }
            let tried = e.metadata().and_then(|m| m.modified()).ok()?;
            let id = path.file_stem()?.to_str()?.to_string();
            Some((tried, path, id, todo))
        })
        .collect();
    markers.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    let total = markers.len();
    for (i, (_, path, id, todo)) in markers.into_iter().enumerate() {
        let marked_at = fs::read_to_string(&path)
            .ok()
            .and_then(|t| t.trim().parse::<i64>().ok());
        let (Ok(()), Some(marked_at)) = (crate::analyze::validate_call_id(&id), marked_at) else {
            warn!(marker = %path.display(), "not a readable marker; set aside");
            let _ = fs::rename(&path, path.with_extension(format!("{}.broken", todo.ext())));
            continue;
        };
        let done = match todo {
            ObjectsTodo::Upload => match super::open(data_dir).and_then(|db| db.exists(&id)) {
                Ok(true) => super::objects::upload_call(data_dir, &id).map_err(|e| e.to_string()),
                Ok(false) => {
                    info!(call_id = %id, "the call is no longer stored (purged); nothing to upload");
                    Ok(())
                }
                Err(e) => Err(e.to_string()),
            },
            ObjectsTodo::Delete => {
                super::objects::delete_purged(data_dir, &id, marked_at).map_err(|e| e.to_string())
            }
        };
        if let Err(e) = done {
            warn!(call_id = %id, marker = %path.display(), error = %e, "object storage still refuses; retried later");
            // To the back of the queue.
            if let Ok(f) = fs::File::options().append(true).open(&path) {
                let _ = f.set_modified(std::time::SystemTime::now());
            }
            out.objects_waiting = total - i;
            break;
        }
        let _ = fs::remove_file(&path);
        match todo {
            ObjectsTodo::Upload => {
                info!(call_id = %id, "the call's files are uploaded to object storage");
                out.uploaded.push(id);
            }
            ObjectsTodo::Delete => {
                info!(call_id = %id, "the purged call's objects are deleted");
                out.deleted.push(id);
            }
        }
    }
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
    fn object_markers_hold_their_time_and_only_call_ids_name_them() {
        let dir = tempfile::tempdir().unwrap();
        mark_objects(dir.path(), "c1", ObjectsTodo::Delete);
        let t: i64 = fs::read_to_string(dir.path().join("pending/c1.delete"))
            .unwrap()
            .parse()
            .unwrap();
        assert!((t - crate::store::db::now_unix()).abs() < 5);
        mark_objects(dir.path(), "../c2", ObjectsTodo::Upload);
        assert!(!dir.path().join("c2.upload").exists());
        assert_eq!(fs::read_dir(dir.path().join("pending")).unwrap().count(), 1);
        // Object markers are not kept calls.
        assert_eq!(count(dir.path()), 0);
    }

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
