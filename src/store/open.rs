//! Calls in progress on disk, and closing the ones a crash left open.
//!
//! While a call goes on, its cleared audio is appended to
//! `DIR/recordings/<call_id>.wav.part` ([`RecordingWriter`]) and a journal,
//! `DIR/open/<call_id>.jsonl`, holds the call's set-up (first line) and the
//! audit entries of every mask applied to the audio written (one line
//! each, synced with the recording). Only sealed values reach either file.
//! When the call is stored the recording is renamed into place and the
//! journal removed. After a crash, [`recover`] closes every call still
//! open as `interrupted`: the recording as far as it was synced, an audit
//! trail of the masks in it, and a report that says what happened.

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use super::audit::{AuditEntry, AuditWriter};
use super::db::{IfExists, StoredFiles};
use super::recording::{RecordingWriter, partial_path, recording_path, wav_header};
use crate::analyze::{AnalyzeError, write_report};
use crate::engine::seal::CallResult;
use crate::redact::Redacted;
use crate::redact::call::Cleared;
use crate::report::{CallMeta, RedactionSpan, Report, SourceInfo, ms};

/// A call's set-up as the journal keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenStart {
    /// The call's identifier.
    pub call_id: String,
    /// The agent's identifier.
    pub agent_id: Option<String>,
    /// The caller's identifier.
    pub caller_id: Option<String>,
    /// When the call started, seconds since the Unix epoch.
    pub started_at: Option<f64>,
    /// Where the audio comes from.
    pub source: SourceInfo,
    /// Legs of the call (1 or 2).
    pub legs: usize,
    /// Which channel of the recording carries the agent.
    pub agent_channel: usize,
}

/// The journal's first line: the set-up, and whether the call replaces one
/// already stored (absent in journals of older versions: it does not).
#[derive(Serialize, Deserialize)]
struct JournalStart {
    #[serde(flatten)]
    start: OpenStart,
    #[serde(default)]
    replace: bool,
}

/// Path of a call's journal while it is open.
pub fn journal_path(data_dir: &Path, call_id: &str) -> PathBuf {
    data_dir.join("open").join(format!("{call_id}.jsonl"))
}

/// A call being written: its recording so far and its journal.
pub struct OpenCall {
    data_dir: PathBuf,
    call_id: String,
    if_exists: IfExists,
    writer: RecordingWriter,
    journal: File,
    journal_path: PathBuf,
}

fn out(e: impl std::fmt::Display) -> AnalyzeError {
    AnalyzeError::Output(e.to_string())
}

impl OpenCall {
    /// Opens a call: an empty recording and a journal with its set-up. A
    /// call id already stored, or open, is refused before anything is
    /// written: [`AnalyzeError::Db`] holding
    /// [`super::db::StoreError::AlreadyExists`] or
    /// [`super::db::StoreError::Open`].
    pub fn create(data_dir: &Path, start: &OpenStart) -> Result<Self, AnalyzeError> {
        Self::create_with(data_dir, start, IfExists::Refuse)
    }

    /// [`OpenCall::create`], replacing a stored call of the same id when
    /// the call is stored if `if_exists` is [`IfExists::Replace`] (a call
    /// still open is refused either way).
    pub fn create_with(
        data_dir: &Path,
        start: &OpenStart,
        if_exists: IfExists,
    ) -> Result<Self, AnalyzeError> {
        crate::analyze::validate_call_id(&start.call_id)?;
        crate::analyze::check_new_call(data_dir, &start.call_id, if_exists == IfExists::Replace)?;
        let writer = RecordingWriter::create(
            data_dir,
            &start.call_id,
            start.source.sample_rate,
            start.legs,
            start.agent_channel,
        )
        .map_err(out)?;
        let journal_path = journal_path(data_dir, &start.call_id);
        let dir = journal_path.parent().expect("journal path has a parent");
        let io = |p: &Path| {
            let p = p.to_path_buf();
            move |source| AnalyzeError::Store { path: p, source }
        };
        super::create_private_dir(dir).map_err(io(dir))?;
        let mut journal =
            super::create_private_file(&journal_path, false).map_err(io(&journal_path))?;
        let line = serde_json::to_string(&JournalStart {
            start: start.clone(),
            replace: if_exists == IfExists::Replace,
        })
        .expect("the set-up serialises");
        writeln!(journal, "{line}").map_err(io(&journal_path))?;
        journal.sync_data().map_err(io(&journal_path))?;
        Ok(OpenCall {
            data_dir: data_dir.to_path_buf(),
            call_id: start.call_id.clone(),
            if_exists,
            writer,
            journal,
            journal_path,
        })
    }

    /// Appends audio that left the call's hold: its late masks are applied
    /// to the audio written before, its audit entries journalled.
    pub fn append(&mut self, cleared: &Cleared) -> Result<(), AnalyzeError> {
        self.silence_late(&cleared.late)?;
        for e in &cleared.audit {
            let line = serde_json::to_string(e.get()).expect("audit entries serialise");
            writeln!(self.journal, "{line}").map_err(|source| AnalyzeError::Store {
                path: self.journal_path.clone(),
                source,
            })?;
        }
        // The journal first: a mask it lists may be in audio written after.
        if !cleared.audit.is_empty() {
            self.journal
                .sync_data()
                .map_err(|source| AnalyzeError::Store {
                    path: self.journal_path.clone(),
                    source,
                })?;
        }
        self.writer.append(&cleared.audio).map_err(out)
    }

    /// Silences stretches `(leg, start, end)` of audio already written that
    /// a mask decided later reaches (see [`Cleared::late`]).
    fn silence_late(&mut self, late: &[(usize, f64, f64)]) -> Result<(), AnalyzeError> {
        for &(leg, a, b) in late {
            warn!(
                leg,
                start = a,
                end = b,
                "mask decided after its audio was written: silenced in place"
            );
            crate::telemetry::error("late_mask");
            self.writer.silence(leg, a, b).map_err(out)?;
        }
        Ok(())
    }

    /// Stores the finished call: the rest of its audio, late masks, the
    /// recording renamed into place, its audit trail, report and database
    /// row; then the journal goes.
    pub fn finish(mut self, result: &CallResult) -> Result<(), AnalyzeError> {
        // The id was taken at the start without the store's word when the
        // store was away: before any file is moved into place, make sure no
        // call of that id was stored meanwhile (its files would be
        // overwritten). The journal and partial recording stay; the next
        // start sets them aside.
        if self.if_exists == IfExists::Refuse {
            let here = recording_path(&self.data_dir, &self.call_id).exists();
            let stored = real_call_stored(&self.data_dir, &self.call_id).unwrap_or(false);
            if here || stored {
                return Err(super::db::StoreError::AlreadyExists {
                    call_id: self.call_id.clone(),
                }
                .into());
            }
        }
        if let Some(audio) = &result.audio {
            self.silence_late(&result.late)?;
            self.writer.append(audio).map_err(out)?;
        }
        let info = self.writer.finish().map_err(out)?;
        let mut audit = AuditWriter::create(&self.data_dir, &self.call_id).map_err(out)?;
        for entry in &result.audit {
            audit.append(entry).map_err(out)?;
        }
        let files = StoredFiles {
            audit: Some(audit.finish(Some(&info.sha256)).map_err(out)?),
            recording: Some((info.path, info.sha256)),
        };
        write_report(&self.data_dir, &result.report)?;
        super::pending::put_or_keep(&self.data_dir, &result.report, &files, self.if_exists)?;
        let _ = fs::remove_file(&self.journal_path);
        Ok(())
    }

    /// Closes the call at once as `interrupted` (its analysis failed):
    /// as [`recover`] would at the next start, saying `why` in the report.
    pub fn close_interrupted(mut self, why: &str) -> Result<String, AnalyzeError> {
        let _ = self.writer.sync();
        let (data_dir, journal) = (self.data_dir.clone(), self.journal_path.clone());
        drop(self);
        recover_one(&data_dir, &journal, why).map_err(AnalyzeError::Output)
    }
}

/// Closes every call a crash left open (see the module docs) as
/// `interrupted`; returns the call ids closed. A journal or recording it
/// cannot make sense of is set aside (renamed `.broken`) with a warning,
/// never deleted, and never stops the others.
///
/// When the store cannot be reached now (a transient error: the shared
/// PostgreSQL store is down), nothing is closed: each journal is renamed
/// `<id>.jsonl.wait`, untouched otherwise, and [`recover_waiting`] closes
/// it once the store is back (`serve` calls it with its retries).
pub fn recover(data_dir: &Path) -> Vec<String> {
    close_journals(data_dir, "jsonl")
}

/// Closes the calls [`recover`] left waiting for the store; returns the
/// call ids closed.
pub fn recover_waiting(data_dir: &Path) -> Vec<String> {
    close_journals(data_dir, "wait")
}

fn close_journals(data_dir: &Path, ext: &str) -> Vec<String> {
    let Ok(dir) = fs::read_dir(data_dir.join("open")) else {
        return Vec::new();
    };
    let journals: Vec<PathBuf> = dir
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    if journals.is_empty() {
        return Vec::new();
    }
    if let Err(e) = super::open(data_dir).and_then(|db| db.exists(""))
        && e.is_transient()
    {
        warn!(calls = journals.len(), error = %e, "the store is away: calls left open are closed when it is back");
        for j in &journals {
            if ext != "wait" {
                let _ = fs::rename(j, j.with_extension("jsonl.wait"));
            }
        }
        return Vec::new();
    }
    let mut closed = Vec::new();
    for path in journals {
        match recover_one(data_dir, &path, "the server stopped during the call") {
            Ok(id) => {
                info!(call_id = %id, "closed a call left open by a crash as interrupted");
                closed.push(id);
            }
            Err(e) => {
                warn!(journal = %path.display(), error = %e, "cannot close a call left open; set aside");
                let _ = fs::rename(&path, path.with_extension("jsonl.broken"));
            }
        }
    }
    closed
}

/// Whether a stored report is the record cluster nodes store for a call
/// whose node was lost ([`crate::grpc::cluster::lost_call_report`]).
pub(crate) fn is_lost_node_record(report_json: &str) -> bool {
    serde_json::from_str::<Report>(report_json).is_ok_and(|r| {
        r.status == "interrupted" && r.source.name == crate::grpc::cluster::LOST_SOURCE
    })
}

/// Whether a call of this id is stored, other than the record cluster
/// nodes store for a lost node's call (which the call itself replaces).
fn real_call_stored(data_dir: &Path, call_id: &str) -> Result<bool, super::db::StoreError> {
    Ok(super::open(data_dir)?
        .report_json(call_id)?
        .is_some_and(|j| !is_lost_node_record(&j)))
}

fn recover_one(data_dir: &Path, journal: &Path, why: &str) -> Result<String, String> {
    let f = File::open(journal).map_err(|e| e.to_string())?;
    let mut lines = BufReader::new(f).lines();
    let first = lines
        .next()
        .ok_or("empty journal")?
        .map_err(|e| e.to_string())?;
    let JournalStart { start, replace } =
        serde_json::from_str(&first).map_err(|e| format!("unreadable set-up: {e}"))?;
    crate::analyze::validate_call_id(&start.call_id).map_err(|e| e.to_string())?;
    // Before touching any file: a call stored under this id meanwhile is
    // not overwritten by the remains of one that did not ask to replace it
    // — unless what is stored is the record other cluster nodes made when
    // this node was lost, which the recording and trail now replace.
    // (Storing replaces such a record: [`super::pending::put_or_keep`].)
    if !replace && real_call_stored(data_dir, &start.call_id).map_err(|e| e.to_string())? {
        return Err(format!(
            "call {} is already stored; the crashed call of the same id is set aside",
            start.call_id
        ));
    }
    let if_exists = if replace {
        IfExists::Replace
    } else {
        IfExists::Refuse
    };
    // Entries after the last complete line (a torn write) are dropped;
    // the audio they cover is past the last sync too.
    let entries: Vec<Redacted<AuditEntry>> = lines
        .map_while(Result::ok)
        .filter_map(|l| serde_json::from_str::<AuditEntry>(&l).ok())
        .filter_map(crate::redact::reseal_journal_entry)
        .collect();
    let rate = start.source.sample_rate;
    let channels = start.legs.clamp(1, 2) as u16;
    // The recording: whole frames present, header rewritten to match.
    let part = partial_path(data_dir, &start.call_id);
    let len = fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
    let frame_bytes = u64::from(channels) * 2;
    let frames = len.saturating_sub(44) / frame_bytes;
    let recording = if len >= 44 {
        let file = OpenOptions::new()
            .write(true)
            .read(true)
            .open(&part)
            .map_err(|e| e.to_string())?;
        use std::os::unix::fs::FileExt;
        file.write_all_at(&wav_header(rate, channels, frames), 0)
            .map_err(|e| e.to_string())?;
        file.set_len(44 + frames * frame_bytes)
            .map_err(|e| e.to_string())?;
        file.sync_all().map_err(|e| e.to_string())?;
        let sha = super::sha256_of(File::open(&part).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
        let path = recording_path(data_dir, &start.call_id);
        fs::rename(&part, &path).map_err(|e| e.to_string())?;
        Some((path, sha))
    } else {
        let _ = fs::remove_file(&part);
        None
    };
    let duration_s = frames as f64 / f64::from(rate.max(1));
    let mut audit = AuditWriter::create(data_dir, &start.call_id).map_err(|e| e.to_string())?;
    let mut redactions = Vec::new();
    for e in &entries {
        let a = e.get();
        if a.start >= duration_s {
            continue;
        }
        audit.append(e).map_err(|e| e.to_string())?;
        redactions.push(RedactionSpan {
            kind: format!("{:?}", a.kind).to_lowercase(),
            speaker: a.leg,
            start: ms(a.start),
            end: ms(a.end.min(duration_s)),
        });
    }
    let files = StoredFiles {
        audit: Some(
            audit
                .finish(recording.as_ref().map(|(_, h)| h.as_str()))
                .map_err(|e| e.to_string())?,
        ),
        recording,
    };
    let summary = crate::signals::CallSummary {
        duration_s,
        stereo: start.legs == 2,
        ..Default::default()
    };
    let mut report = Report::from_summary(&start.call_id, start.source.clone(), &summary);
    CallMeta {
        agent_id: start.agent_id.clone(),
        caller_id: start.caller_id.clone(),
        started_at: start
            .started_at
            .map(|s| std::time::UNIX_EPOCH + std::time::Duration::from_secs_f64(s.max(0.0))),
    }
    .apply(&mut report);
    report.status = "interrupted".to_string();
    report.warnings.push(format!(
        "{why}: the recording is kept as far as it was written ({duration_s:.1} s, every mask in it applied); no transcript or analytics"
    ));
    report.redactions = redactions;
    let report = crate::redact::seal_signal_report(report).map_err(|e| e.to_string())?;
    write_report(data_dir, &report).map_err(|e| e.to_string())?;
    super::pending::put_or_keep(data_dir, &report, &files, if_exists).map_err(|e| e.to_string())?;
    fs::remove_file(journal).map_err(|e| e.to_string())?;
    Ok(start.call_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redact::test_seal;
    use crate::report::test_report;
    use crate::store::db::CallStore;

    fn start(id: &str) -> OpenStart {
        OpenStart {
            call_id: id.to_string(),
            agent_id: None,
            caller_id: None,
            started_at: None,
            source: SourceInfo {
                name: "live".into(),
                codec: "pcm16".into(),
                sample_rate: 8_000,
                channels: 1,
                agent_channel: "mono".into(),
            },
            legs: 1,
            agent_channel: 0,
        }
    }

    fn kinds(dir: &Path) -> Vec<String> {
        let db = CallStore::open_existing(dir).unwrap();
        db.anchors()
            .unwrap()
            .iter()
            .map(|a| {
                format!(
                    "{:?} {}",
                    a.kind.unwrap(),
                    a.call_id.as_deref().unwrap_or("")
                )
            })
            .collect()
    }

    #[test]
    fn a_crashed_call_is_closed_over_a_stored_one_only_if_it_asked_to_replace_it() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        // Open calls "x" and "y" that crash (dropped without finishing).
        drop(OpenCall::create(d, &start("x")).unwrap());
        // An open call's id is refused, replace or not.
        for replace in [IfExists::Refuse, IfExists::Replace] {
            assert!(matches!(
                OpenCall::create_with(d, &start("x"), replace)
                    .err()
                    .unwrap(),
                AnalyzeError::Db(super::super::db::StoreError::Open { .. })
            ));
        }
        // Meanwhile "x" is stored by something else; "y" is stored, then
        // opened again with replace, and crashes too.
        let mut db = CallStore::open(d).unwrap();
        for id in ["x", "y"] {
            db.put(
                &test_seal(test_report(id, vec![])),
                &StoredFiles::default(),
                IfExists::Refuse,
            )
            .unwrap();
        }
        drop(OpenCall::create_with(d, &start("y"), IfExists::Replace).unwrap());
        let closed = recover(d);
        // "x" did not ask to replace: set aside, the stored call untouched.
        assert_eq!(closed, ["y"]);
        assert!(journal_path(d, "x").with_extension("jsonl.broken").exists());
        assert!(!recording_path(d, "x").exists());
        assert!(partial_path(d, "x").exists(), "kept as evidence");
        assert_eq!(
            kinds(d),
            ["Store x", "Store y", "Replace y"],
            "the replacement is in the chain"
        );
        let status: String = serde_json::from_str::<serde_json::Value>(
            &CallStore::open_existing(d)
                .unwrap()
                .report_json("y")
                .unwrap()
                .unwrap(),
        )
        .unwrap()["status"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(status, "interrupted");
    }

    #[test]
    fn a_call_taken_while_the_store_was_away_never_overwrites_a_stored_one() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let open = OpenCall::create(d, &start("z")).unwrap();
        // Meanwhile a call "z" is stored (the id could not be checked at
        // the start while the store was away).
        let mut db = CallStore::open(d).unwrap();
        db.put(
            &test_seal(test_report("z", vec![])),
            &StoredFiles::default(),
            IfExists::Refuse,
        )
        .unwrap();
        let result = crate::engine::seal::CallResult {
            report: test_seal(test_report("z", vec![])),
            audio: None,
            audit: Vec::new(),
            truncated: None,
            late: Vec::new(),
        };
        let e = open.finish(&result).unwrap_err();
        assert!(
            matches!(
                e,
                AnalyzeError::Db(super::super::db::StoreError::AlreadyExists { .. })
            ),
            "{e}"
        );
        assert!(!recording_path(d, "z").exists(), "nothing moved into place");
        assert!(journal_path(d, "z").exists(), "the journal stays");
    }
}
