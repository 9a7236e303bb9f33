//! Offline analysis of a recording: stream the file through the
//! [`CallPipeline`] and write the report.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use tracing::{info, info_span, warn};

use crate::convert::ConvertError;
use std::sync::Arc;

use crate::engine::batch::BatchDriver;
use crate::engine::call::{LiveCall, LiveConfig, LiveStart};
pub use crate::engine::seal::{CallResult, Transcription};
use crate::pipeline::{CallPipeline, PipelineConfig};
use crate::redact::{Redacted, seal_signal_report};
use crate::report::{Report, SourceInfo};
use crate::source::{SourceError, WavSource};
use crate::store::audit::AuditWriter;
use crate::store::db::{IfExists, StoreError, StoredFiles};
use crate::store::open::{OpenCall, OpenStart};
use crate::store::recording::write_recording;

/// Which stereo channel carries the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AgentChannel {
    /// Channel 0 (the usual SIP recorder layout).
    #[default]
    Left,
    /// Channel 1.
    Right,
}

impl AgentChannel {
    /// The stereo channel index of the agent: 0 (left) or 1 (right).
    pub fn index(self) -> usize {
        match self {
            AgentChannel::Left => 0,
            AgentChannel::Right => 1,
        }
    }
}

/// Options of one analysis run.
#[derive(Clone, Default)]
pub struct AnalyzeOptions {
    /// Call id; default: the file name without its extension.
    pub call_id: Option<String>,
    /// Which channel is the agent.
    pub agent_channel: AgentChannel,
    /// DSP settings.
    pub pipeline: PipelineConfig,
    /// Agent, caller and start time for the report; a missing start time is
    /// taken as the file's modification time less the call's length.
    pub meta: crate::report::CallMeta,
    /// Transcribe and redact (and store the redacted recording and audit
    /// trail); `None` analyses signals only and stores no recording.
    pub transcription: Option<Transcription>,
    /// Replace a call already stored under the same id (recorded in the
    /// store's anchor chain) instead of refusing it.
    pub replace: bool,
}

/// Why a call could not be analysed (or was only partly analysed).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AnalyzeError {
    /// The recording could not be read. Skip it; the message says why.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The audio could not be converted. Skip it.
    #[error("{path}: {source}")]
    Convert {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: ConvertError,
    },
    /// The recording ended before its header said it would; what was there has
    /// been analysed and stored. Treat as failed input: re-export the recording.
    #[error(
        "{path}: truncated: the header announces {declared_s:.1} s but the file holds {available_s:.1} s; the {available_s:.1} s present were analysed and stored (report status \"truncated\"); check the recorder or re-export the file"
    )]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Duration the header declares.
        declared_s: f64,
        /// Duration present.
        available_s: f64,
        /// The partial report (already stored when returned by [`analyze_and_store`]).
        report: Box<Report>,
    },
    /// The report could not be written. Stop: the data directory is unusable.
    #[error("cannot write {path}: {source}")]
    Store {
        /// The file that could not be written.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The recording or audit trail could not be written. Stop.
    #[error("{0}")]
    Output(String),
    /// A call id that cannot be used as a file name.
    #[error("invalid call id \"{0}\": use letters, digits, '.', '-' and '_' only")]
    CallId(String),
    /// The call store refused or failed the write. For
    /// [`StoreError::AlreadyExists`] and [`StoreError::Open`] skip this call
    /// (nothing of the stored or open call was changed; pick another call id,
    /// or replace a stored one explicitly); otherwise stop.
    #[error(transparent)]
    Db(#[from] StoreError),
}

impl AnalyzeError {
    /// Whether the batch should go on with the next file (`true`) or stop.
    pub fn skip_and_continue(&self) -> bool {
        match self {
            AnalyzeError::Store { .. } | AnalyzeError::Output(_) => false,
            AnalyzeError::Db(e) => matches!(
                e,
                StoreError::AlreadyExists { .. } | StoreError::Open { .. }
            ),
            _ => true,
        }
    }
}

/// Refuses to start writing a call whose id is already stored
/// ([`StoreError::AlreadyExists`], unless `replace`), or open (a journal in
/// `DIR/open/`: being written, or left by a crash; [`StoreError::Open`],
/// replace or not). Nothing is written either way. The store checks again when the call is committed
/// ([`CallStore::put`]); this check keeps a refused call from touching the
/// stored call's recording, trail or report first.
pub fn check_new_call(data_dir: &Path, call_id: &str, replace: bool) -> Result<(), StoreError> {
    if crate::store::open::journal_path(data_dir, call_id).exists() {
        return Err(StoreError::Open {
            call_id: call_id.to_string(),
        });
    }
    if replace {
        return Ok(());
    }
    let taken = || StoreError::AlreadyExists {
        call_id: call_id.to_string(),
    };
    // A call kept while the store was away is stored, as far as ids go.
    if crate::store::pending::is_kept(data_dir, call_id) {
        return Err(taken());
    }
    if !crate::store::shared() && !crate::store::db::db_path(data_dir).exists() {
        return Ok(());
    }
    match crate::store::open_existing(data_dir).and_then(|db| db.exists(call_id)) {
        Ok(true) => Err(taken()),
        Ok(false) => Ok(()),
        // The store is away: take the call anyway; it is kept on local disk
        // if the store is still away at its end, and a duplicate id is
        // refused when it is stored.
        Err(e) if e.is_transient() => {
            tracing::warn!(call_id, error = %e, "cannot check the call id with the store now; taking the call");
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// The call id of a file: its name without the extension.
pub fn call_id_for(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "call".to_string())
}

/// Checks that a call id is safe as a file name.
pub fn validate_call_id(id: &str) -> Result<(), AnalyzeError> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && !id.starts_with('.')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if ok {
        Ok(())
    } else {
        // Shown escaped and cut short: an id may be long or hold control
        // characters, and errors reach logs and terminals.
        let mut shown: String = id.chars().take(64).flat_map(char::escape_default).collect();
        if id.chars().count() > 64 {
            shown.push_str(&format!(
                "… ({} characters; at most 128)",
                id.chars().count()
            ));
        }
        Err(AnalyzeError::CallId(shown))
    }
}

/// Block size read from the file per step, in source frames (0.5 s at 8 kHz).
const BLOCK: usize = 4096;

/// Analyses one recording (and, with [`AnalyzeOptions::transcription`],
/// transcribes and redacts it). Nothing is written here: the cleared audio
/// is dropped as it leaves the hold (see [`analyze_and_store`]).
pub fn analyze_file(path: &Path, opts: &AnalyzeOptions) -> Result<CallResult, AnalyzeError> {
    run_file(path, opts, None)
}

/// Audio held back while the whisper pool catches up, media seconds: a
/// file is read much faster than it is transcribed, so reading waits for
/// transcripts once this much is held (the frontier needs them to move).
const BATCH_HOLD_S: f64 = 60.0;

/// Analyses one recording; with `data_dir`, its cleared audio is written
/// there as it leaves the hold and the call is stored at the end.
fn run_file(
    path: &Path,
    opts: &AnalyzeOptions,
    data_dir: Option<&Path>,
) -> Result<CallResult, AnalyzeError> {
    let call_id = opts.call_id.clone().unwrap_or_else(|| call_id_for(path));
    validate_call_id(&call_id)?;
    let span = info_span!("call", call_id = %call_id);
    let _enter = span.enter();
    let mut src = WavSource::open(path)?;
    let info = src.info().clone();
    info!(codec = %info.codec, rate = info.sample_rate, channels = info.channels, seconds = info.duration_s(), "analysing");
    let legs = usize::from(info.channels);
    let convert = |source| AnalyzeError::Convert {
        path: path.to_path_buf(),
        source,
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut meta = opts.meta.clone();
    if meta.started_at.is_none() {
        // Recorders write the file as the call ends.
        meta.started_at = std::fs::metadata(path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.checked_sub(std::time::Duration::from_secs_f64(info.duration_s())));
    }
    let mut warnings = Vec::new();
    if legs == 1 {
        warnings.push(
            "mono recording: analysed as one speaker; no agent/customer split and no interruptions"
                .to_string(),
        );
    }
    let truncated = info.truncated_from.map(|declared| {
        let declared_s = declared as f64 / f64::from(info.sample_rate);
        warnings.push(format!(
            "recording truncated: header announces {declared_s:.1} s, file holds {:.1} s",
            info.duration_s()
        ));
        warn!(
            declared_s,
            available_s = info.duration_s(),
            "truncated recording"
        );
        (declared_s, info.duration_s())
    });
    let status = if truncated.is_some() {
        "truncated"
    } else {
        "complete"
    };
    let (a, c) = (opts.agent_channel.index(), 1 - opts.agent_channel.index());
    let mut bufs = vec![Vec::with_capacity(BLOCK); legs];
    let Some(t) = &opts.transcription else {
        // Signals only: no utterances, no hold, no recording.
        let mut pipeline = CallPipeline::new(
            call_id.as_str().into(),
            legs,
            info.sample_rate,
            &opts.pipeline,
        )
        .map_err(convert)?;
        let mut events = Vec::with_capacity(64);
        while src.read(BLOCK, &mut bufs)? > 0 {
            pipeline.push(&agent_first(&bufs, a, c), &mut events);
            events.clear();
        }
        let output = pipeline.finish_all(&mut events);
        let source = source_info(name, &info, legs, opts.agent_channel);
        let mut report = Report::from_summary(&call_id, source, &output.summary);
        meta.apply(&mut report);
        report.status = status.to_string();
        report.warnings = warnings;
        return Ok(CallResult {
            report: seal(report),
            audio: None,
            audit: Vec::new(),
            truncated,
            late: Vec::new(),
        });
    };
    // The same engine as a live call, driven as fast as whisper goes.
    let cfg = LiveConfig {
        partial_every_s: 0.0,
        max_lag_s: f64::INFINITY,
        defer_lag_s: 0.0,
        ..LiveConfig::for_transcription(t, opts.pipeline.clone())
    };
    let start = LiveStart {
        call_id: call_id.clone(),
        agent_id: meta.agent_id.clone().unwrap_or_default(),
        caller_id: meta.caller_id.clone().unwrap_or_default(),
        started_at: meta.started_at.unwrap_or(std::time::UNIX_EPOCH),
        legs,
        sample_rate: info.sample_rate,
        codec: info.codec.to_string(),
        agent_channel: opts.agent_channel.index(),
    };
    let mut call = LiveCall::new(start, cfg).map_err(convert)?;
    let source = source_info(name.clone(), &info, legs, opts.agent_channel);
    call.describe_source(name, meta.clone(), warnings);
    let mut open = match data_dir {
        Some(dir) => Some(OpenCall::create_with(
            dir,
            &OpenStart {
                call_id: call_id.clone(),
                agent_id: meta.agent_id.clone(),
                caller_id: meta.caller_id.clone(),
                started_at: meta
                    .started_at
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map(|d| d.as_secs_f64()),
                source,
                legs,
                agent_channel: opts.agent_channel.index(),
            },
            if_exists(opts.replace),
        )?),
        None => None,
    };
    let mut driver = BatchDriver::new(Arc::clone(&t.pool));
    let mut write = |call: &mut LiveCall| -> Result<(), AnalyzeError> {
        for cleared in call.take_cleared() {
            if let Some(open) = open.as_mut() {
                open.append(&cleared)?;
            }
        }
        Ok(())
    };
    while src.read(BLOCK, &mut bufs)? > 0 {
        driver.push(&mut call, &agent_first(&bufs, a, c));
        write(&mut call)?;
        // Reading runs ahead of whisper: wait for transcripts while the
        // hold is long, so the frontier can move.
        while call.held_s() > BATCH_HOLD_S && driver.wait_one(&mut call) {
            write(&mut call)?;
        }
    }
    driver.finish(&mut call);
    write(&mut call)?;
    let mut result = call.seal(status, t);
    result.truncated = truncated;
    if let Some(open) = open {
        open.finish(&result)?;
    }
    Ok(result)
}

/// The blocks just read, agent first (`a` and `c`: the agent's and the
/// customer's channel of a stereo file).
fn agent_first(bufs: &[Vec<f32>], a: usize, c: usize) -> Vec<&[f32]> {
    if bufs.len() == 2 {
        vec![&bufs[a], &bufs[c]]
    } else {
        vec![&bufs[0]]
    }
}

/// The file's [`SourceInfo`] for its report.
fn source_info(
    name: String,
    info: &crate::source::AudioInfo,
    legs: usize,
    agent: AgentChannel,
) -> SourceInfo {
    SourceInfo {
        name,
        codec: info.codec.to_string(),
        sample_rate: info.sample_rate,
        channels: info.channels,
        agent_channel: match (legs, agent) {
            (1, _) => "mono",
            (_, AgentChannel::Left) => "left",
            (_, AgentChannel::Right) => "right",
        }
        .to_string(),
    }
}

/// Analyses one recording and stores what it leaves: the redacted recording
/// (`DIR/recordings/<call_id>.wav`, written as the audio clears), the audit trail
/// (`DIR/audit/<call_id>.jsonl`) and the report (`DIR/reports/<call_id>.json`).
///
/// A truncated recording is stored too, and [`AnalyzeError::Truncated`] still returned.
pub fn analyze_and_store(
    path: &Path,
    opts: &AnalyzeOptions,
    data_dir: &Path,
) -> Result<Report, AnalyzeError> {
    let call_id = opts.call_id.clone().unwrap_or_else(|| call_id_for(path));
    validate_call_id(&call_id)?;
    check_new_call(data_dir, &call_id, opts.replace)?;
    let result = run_file(path, opts, Some(data_dir))?;
    if result.audio.is_none() {
        store_result_with(
            data_dir,
            &result,
            opts.agent_channel.index(),
            if_exists(opts.replace),
        )?;
    }
    let report = result.report.get().clone();
    match result.truncated {
        None => Ok(report),
        Some((declared_s, available_s)) => Err(AnalyzeError::Truncated {
            path: path.to_path_buf(),
            declared_s,
            available_s,
            report: Box::new(report),
        }),
    }
}

fn if_exists(replace: bool) -> IfExists {
    if replace {
        IfExists::Replace
    } else {
        IfExists::Refuse
    }
}

/// Stores an analysed call: the redacted recording (with the agent on
/// channel `agent_channel`), its audit trail, then the report. A call id
/// already stored is refused ([`StoreError::AlreadyExists`] in
/// [`AnalyzeError::Db`]) before anything is written.
pub fn store_result(
    data_dir: &Path,
    result: &CallResult,
    agent_channel: usize,
) -> Result<(), AnalyzeError> {
    store_result_with(data_dir, result, agent_channel, IfExists::Refuse)
}

/// [`store_result`], replacing a call already stored under the same id when
/// `if_exists` is [`IfExists::Replace`].
pub fn store_result_with(
    data_dir: &Path,
    result: &CallResult,
    agent_channel: usize,
    if_exists: IfExists,
) -> Result<(), AnalyzeError> {
    let call_id = &result.report.call_id;
    check_new_call(data_dir, call_id, if_exists == IfExists::Replace)?;
    let out = |e: &dyn std::fmt::Display| AnalyzeError::Output(e.to_string());
    let mut files = StoredFiles::default();
    if let Some(audio) = &result.audio {
        let info = write_recording(data_dir, call_id, audio, agent_channel).map_err(|e| out(&e))?;
        let mut audit = AuditWriter::create(data_dir, call_id).map_err(|e| out(&e))?;
        for entry in &result.audit {
            audit.append(entry).map_err(|e| out(&e))?;
        }
        files.audit = Some(audit.finish(Some(&info.sha256)).map_err(|e| out(&e))?);
        files.recording = Some((info.path, info.sha256));
    }
    write_report(data_dir, &result.report)?;
    if crate::store::pending::put_or_keep(data_dir, &result.report, &files, if_exists)?
        == crate::store::pending::Put::Kept
    {
        eprintln!(
            "warning: {call_id}: the store cannot take it now; kept in {} and stored at the next analyze or by serve",
            data_dir.join("pending").display()
        );
    }
    Ok(())
}

/// Seals a signals-only report (not transcribed, so it carries no call
/// text).
fn seal(report: Report) -> Redacted<Report> {
    seal_signal_report(report).expect("an untranscribed report carries no call text")
}

/// Path of a call's report under `data_dir`.
pub fn report_path(data_dir: &Path, call_id: &str) -> PathBuf {
    data_dir.join("reports").join(format!("{call_id}.json"))
}

/// Writes a report atomically (temporary file, then rename). Only a
/// [`Redacted`] report can be written.
pub fn write_report(data_dir: &Path, report: &Redacted<Report>) -> Result<PathBuf, AnalyzeError> {
    let path = report_path(data_dir, &report.call_id);
    let store_err = |p: &Path| {
        let p = p.to_path_buf();
        move |source| AnalyzeError::Store { path: p, source }
    };
    let dir = path.parent().expect("report path has a parent");
    crate::store::create_private_dir(dir).map_err(store_err(dir))?;
    let tmp = path.with_extension("json.tmp");
    let json = serde_json::to_vec_pretty(report.get()).expect("reports always serialise");
    let mut f = crate::store::create_private_file(&tmp, false).map_err(store_err(&tmp))?;
    f.write_all(&json).map_err(store_err(&tmp))?;
    f.write_all(b"\n").map_err(store_err(&tmp))?;
    f.sync_all().map_err(store_err(&tmp))?;
    fs::rename(&tmp, &path).map_err(store_err(&path))?;
    Ok(path)
}
