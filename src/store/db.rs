//! The call store: an embedded SQLite database, `DIR/callscope.db`.
//!
//! It indexes every stored call — the redacted report's measurements,
//! segments (with full-text search), signals, prompts, KPIs, scorecard,
//! commitments, complaint category and the redaction audit index — beside
//! the recordings and audit trails on disk. The only write is
//! [`CallStore::put`], and it takes a [`Redacted`] report.
//!
//! The database runs in WAL mode: the live server and `analyze` write while
//! the CLI and gRPC queries read, without blocking or corrupting each
//! other; each call is one transaction (all of it or nothing after a crash).
//! The schema is versioned by the SQL files in `src/store/migrations/`,
//! applied in order and recorded in `PRAGMA user_version`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;

use crate::redact::Redacted;
use crate::report::Report;

/// File name of the database inside the data directory.
pub const DB_FILE: &str = "callscope.db";

/// The schema migrations, in order; `user_version` counts those applied.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_calls.sql"),
    include_str!("migrations/0002_segment_embeddings.sql"),
    include_str!("migrations/0003_anchors.sql"),
];

/// The schema version that adds the anchor chain: calls stored before it
/// are adopted into the chain when the store is upgraded.
const ANCHORS_VERSION: usize = 3;

/// How long a write waits for another process's write to finish.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Why the store could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The data directory has no database yet. Nothing to read: analyse or
    /// serve some calls first (or pass the right `--data-dir`).
    #[error(
        "no call store at {0}: analyse some calls first (callscope analyze FILES --data-dir DIR) or pass the right --data-dir"
    )]
    Missing(PathBuf),
    /// The database was written by a newer callscope. Stop: upgrade callscope.
    #[error(
        "{path} has schema version {found}, newer than this callscope knows ({known}); upgrade callscope"
    )]
    TooNew {
        /// The database.
        path: PathBuf,
        /// Its schema version.
        found: i64,
        /// The newest this build knows.
        known: i64,
    },
    /// A filter could not be understood. Fix the argument and retry.
    #[error("{0}")]
    BadFilter(String),
    /// SQLite failed (disk full, permissions, a damaged file). Stop; the
    /// message says which file. Calls already committed are kept.
    #[error("call store {path}: {source}")]
    Sqlite {
        /// The database.
        path: PathBuf,
        /// The cause.
        source: rusqlite::Error,
    },
    /// A call with this id is already stored, and the write did not ask to
    /// replace it. Skip this call: pick another call id, or replace the
    /// stored call explicitly ([`IfExists::Replace`], `analyze --replace`).
    /// Nothing of the stored call was changed.
    #[error("call {call_id} is already stored; pick another call id or replace it explicitly")]
    AlreadyExists {
        /// The call id.
        call_id: String,
    },
    /// A call with this id is open: being written now, or left open by a
    /// crash (`DIR/open/<call_id>.jsonl`; `callscope serve` closes such
    /// calls as interrupted when it starts). Skip this call; it cannot be
    /// replaced while open.
    #[error(
        "call {call_id} is open (being written, or left open by a crash: `callscope serve` closes it as interrupted when it starts); pick another call id"
    )]
    Open {
        /// The call id.
        call_id: String,
    },
    /// The call's audit trail did not verify as it was about to be
    /// anchored. Stop: the trail just written is damaged (disk) or being
    /// tampered with; the call was not stored.
    #[error("call {call_id}: {source}")]
    Trail {
        /// The call.
        call_id: String,
        /// What is wrong with the trail.
        source: super::audit::AuditError,
    },
    /// PostgreSQL failed; [`super::pg::PgError::transient`] says whether
    /// a retry may help (keep the call and retry) or not (stop).
    #[error(transparent)]
    Postgres(super::pg::PgError),
    /// The data directory (or a file in it) could not be created, read or
    /// removed. Stop; the message says which.
    #[error("cannot use {path}: {source}")]
    Io {
        /// The directory or file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

impl StoreError {
    /// Whether a retry later may succeed: the shared store is unreachable
    /// or restarting, or SQLite stayed locked past the busy timeout. A
    /// call that meets such an error is kept ([`super::pending`]).
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Postgres(e) => e.transient,
            StoreError::Sqlite { source, .. } => is_busy(source),
            _ => false,
        }
    }
}

/// What [`CallStore::put`] does when the call id is already stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IfExists {
    /// Refuse with [`StoreError::AlreadyExists`], changing nothing.
    #[default]
    Refuse,
    /// Replace the stored call; the anchor chain records a `replace` event.
    Replace,
}

/// Files stored beside the database for one call.
#[derive(Debug, Clone, Default)]
pub struct StoredFiles {
    /// The redacted recording and its SHA-256.
    pub recording: Option<(PathBuf, String)>,
    /// The hash-chained redaction audit trail.
    pub audit: Option<PathBuf>,
}

/// What every store backend writes for a call beyond the report's own
/// fields: derived once from the sealed report.
#[derive(Debug, Clone)]
pub(crate) struct CallRows {
    /// Unix seconds now.
    pub stored_at: i64,
    /// Unix seconds the call started (the report's, else stored_at minus
    /// its length).
    pub started_at: i64,
    /// Interruptions made by the agent (stereo calls).
    pub agent_cut_ins: Option<i64>,
    /// The whole report, JSON.
    pub json: String,
    /// The verified audit trail's head hash.
    pub trail_head: Option<String>,
    /// Per-speaker measurements.
    pub kpis: Vec<KpiRow>,
    /// Interruptions and silences.
    pub signals: Vec<SignalRow>,
}

/// One speaker's measurements (a `kpis` row).
#[derive(Debug, Clone)]
pub(crate) struct KpiRow {
    pub speaker: &'static str,
    pub talk_time_s: f64,
    pub talk_share: f64,
    pub turns: i64,
    pub words: Option<i64>,
    pub wpm: Option<f64>,
    pub loudness_dbfs: Option<f64>,
    pub syllables_per_s: Option<f64>,
    pub est_wpm: Option<f64>,
}

/// An interruption or a silence (a `signals` row).
#[derive(Debug, Clone)]
pub(crate) struct SignalRow {
    pub kind: &'static str,
    pub start: f64,
    pub end: f64,
    pub by: Option<String>,
    pub of: Option<String>,
}

impl CallRows {
    /// The rows of `report`; its audit trail (if any) is verified first.
    pub(crate) fn of(report: &Redacted<Report>, files: &StoredFiles) -> Result<Self, StoreError> {
        let r = report.get();
        let trail_head = match &files.audit {
            Some(p) => {
                let summary = super::audit::verify(p).map_err(|source| StoreError::Trail {
                    call_id: r.call_id.clone(),
                    source,
                })?;
                Some(summary.head_sha256)
            }
            None => None,
        };
        let stored_at = now_unix();
        let started_at = r
            .started_at
            .as_deref()
            .and_then(|s| humantime::parse_rfc3339_weak(s).ok())
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(stored_at - r.duration_s.round() as i64, |d| {
                d.as_secs() as i64
            });
        let agent_cut_ins = r.interruptions.as_ref().map(|v| {
            v.iter()
                .filter(|i| i.by == crate::frame::Leg::Agent)
                .count() as i64
        });
        let speakers = [
            ("agent", Some(&r.speakers.agent)),
            ("customer", r.speakers.customer.as_ref()),
        ];
        let kpis = speakers
            .into_iter()
            .filter_map(|(speaker, s)| {
                let s = s?;
                Some(KpiRow {
                    speaker,
                    talk_time_s: s.talk_time_s,
                    talk_share: s.talk_share,
                    turns: s.turns as i64,
                    words: s.words.map(|w| w as i64),
                    wpm: s.wpm,
                    loudness_dbfs: s.loudness_dbfs,
                    syllables_per_s: s.syllables_per_s,
                    est_wpm: s.est_wpm,
                })
            })
            .collect();
        let signals = r
            .interruptions
            .iter()
            .flatten()
            .map(|i| SignalRow {
                kind: "interruption",
                start: i.t,
                end: i.t + i.overlap_s,
                by: Some(i.by.to_string()),
                of: Some(i.of.to_string()),
            })
            .chain(r.silences.iter().map(|s| SignalRow {
                kind: "silence",
                start: s.start,
                end: s.end,
                by: None,
                of: None,
            }))
            .collect();
        Ok(CallRows {
            stored_at,
            started_at,
            agent_cut_ins,
            json: serde_json::to_string(r).expect("reports always serialise"),
            trail_head,
            kpis,
            signals,
        })
    }
}

/// Which calls a query covers. Empty fields do not filter.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Calls started at or after this date/time (`YYYY-MM-DD` or
    /// `YYYY-MM-DD HH:MM[:SS]`, UTC).
    pub since: Option<String>,
    /// Calls started before this date/time (same forms; a bare date means
    /// that day's start).
    pub until: Option<String>,
    /// The agent's id.
    pub agent: Option<String>,
    /// The caller's id.
    pub caller: Option<String>,
    /// Complaint category (`none` for calls without a complaint).
    pub category: Option<String>,
    /// Calls that raised at least one prompt of this kind.
    pub prompt_kind: Option<String>,
    /// QA score at least this (0–100).
    pub min_score: Option<f64>,
    /// QA score at most this (0–100).
    pub max_score: Option<f64>,
    /// Calls whose redacted transcript contains this phrase (words in this
    /// order; case and punctuation ignored).
    pub phrase: Option<String>,
    /// At most this many rows (0: no limit).
    pub limit: usize,
}

/// One call in a listing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallRow {
    /// The call's id.
    pub call_id: String,
    /// When it started, `YYYY-MM-DD HH:MM:SS` UTC.
    pub started_at: String,
    /// When it was stored, unix seconds.
    pub stored_at: i64,
    /// The agent, if known.
    pub agent_id: Option<String>,
    /// The caller, if known.
    pub caller_id: Option<String>,
    /// `complete`, `truncated`, `interrupted`, …
    pub status: String,
    /// Length, seconds.
    pub duration_s: f64,
    /// Complaint category, if a complaint was heard.
    pub category: Option<String>,
    /// QA score, 0–100 (null untranscribed).
    pub score: Option<f64>,
    /// Prompts raised.
    pub prompts: i64,
    /// Spans redacted.
    pub redactions: i64,
}

/// A transcript segment that matched a search.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchHit {
    /// The call.
    pub call_id: String,
    /// When the call started, `YYYY-MM-DD HH:MM:SS` UTC.
    pub started_at: String,
    /// The agent, if known.
    pub agent_id: Option<String>,
    /// `agent` or `customer`.
    pub speaker: String,
    /// Media time, seconds.
    pub start: f64,
    /// Media time, seconds.
    pub end: f64,
    /// The redacted segment text.
    pub text: String,
    /// Cosine to the `--like` query (semantic search only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub similarity: Option<f64>,
}

/// Complaints of one category in one ISO week.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WeekCount {
    /// ISO week, e.g. `2026-W47`.
    pub week: String,
    /// Complaint category.
    pub category: String,
    /// Calls with that complaint.
    pub calls: i64,
}

/// A complaint category that keeps coming back.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recurring {
    /// Complaint category.
    pub category: String,
    /// Calls with it.
    pub calls: i64,
    /// Distinct weeks it was heard in.
    pub weeks: i64,
    /// Distinct callers who raised it (of those with a caller id).
    pub callers: i64,
    /// First call's start, UTC.
    pub first: String,
    /// Last call's start, UTC.
    pub last: String,
}

/// A caller who called more than once.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RepeatCaller {
    /// The caller's id.
    pub caller_id: String,
    /// Calls.
    pub calls: i64,
    /// First call's start, UTC.
    pub first: String,
    /// Last call's start, UTC.
    pub last: String,
    /// Complaint categories raised, comma-separated.
    pub categories: String,
    /// The calls' ids, oldest first, comma-separated.
    pub call_ids: String,
}

/// One agent's averages.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentKpis {
    /// The agent's id (`-` when unknown).
    pub agent_id: String,
    /// Calls.
    pub calls: i64,
    /// Mean QA score, 0–100.
    pub score: Option<f64>,
    /// Mean talk/listen ratio.
    pub talk_listen_ratio: Option<f64>,
    /// Mean words per minute of the agent.
    pub wpm: Option<f64>,
    /// Mean times per call the agent cut the customer off.
    pub interruptions: Option<f64>,
    /// Mean dead air (silences) per call, seconds.
    pub dead_air_s: Option<f64>,
    /// Mean prompts per call.
    pub prompts: f64,
    /// Share of complaint calls in which the agent apologised, 0–1.
    pub apology_rate: Option<f64>,
    /// Calls with an escalation request.
    pub escalations: i64,
    /// Calls with a cancellation threat.
    pub cancellations: i64,
}

/// What `callscope trends` shows.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Trends {
    /// Calls covered.
    pub calls: i64,
    /// Complaints by category per ISO week, oldest first.
    pub complaints_by_week: Vec<WeekCount>,
    /// Categories heard in two or more calls, most frequent first.
    pub recurring_complaints: Vec<Recurring>,
    /// Callers with two or more calls, most calls first.
    pub repeat_callers: Vec<RepeatCaller>,
    /// Per agent, most calls first.
    pub agents: Vec<AgentKpis>,
}

/// An open store.
pub struct CallStore {
    conn: Connection,
    path: PathBuf,
}

impl std::fmt::Debug for CallStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallStore")
            .field("path", &self.path)
            .finish()
    }
}

/// What every call store answers: the SQLite store in a data directory
/// ([`CallStore`], the default) and the PostgreSQL store a cluster shares
/// ([`super::pg::PgStore`]). Same rows, same anchor chain, same answers.
pub trait Store {
    /// Stores a call (see [`CallStore::put`]).
    fn put(
        &mut self,
        report: &Redacted<Report>,
        files: &StoredFiles,
        if_exists: IfExists,
    ) -> Result<(), StoreError>;
    /// Whether a call id is stored.
    fn exists(&self, call_id: &str) -> Result<bool, StoreError>;
    /// A stored report, JSON.
    fn report_json(&self, call_id: &str) -> Result<Option<String>, StoreError>;
    /// Calls matching a filter, newest first.
    fn list(&self, f: &Filter) -> Result<Vec<CallRow>, StoreError>;
    /// Segments containing a phrase.
    fn search(&self, phrase: &str, f: &Filter) -> Result<Vec<SearchHit>, StoreError>;
    /// Segments nearest in meaning to an embedding.
    fn search_like(&self, query: &[f32], f: &Filter) -> Result<Vec<SearchHit>, StoreError>;
    /// Trends over the calls matching a filter.
    fn trends(&self, f: &Filter) -> Result<Trends, StoreError>;
    /// The anchor chain, in order.
    fn anchors(&self) -> Result<Vec<super::anchor::Anchor>, StoreError>;
    /// Each stored call's recording hash (as its row holds it), by call id.
    fn stored_files(&self) -> Result<super::verify::StoredRows, StoreError>;
}

/// [`Store`] for a type whose inherent methods have the trait's names.
macro_rules! store_by_inherent_methods {
    ($t:ty) => {
        impl Store for $t {
            fn put(
                &mut self,
                report: &Redacted<Report>,
                files: &StoredFiles,
                if_exists: IfExists,
            ) -> Result<(), StoreError> {
                <$t>::put(self, report, files, if_exists)
            }
            fn exists(&self, call_id: &str) -> Result<bool, StoreError> {
                <$t>::exists(self, call_id)
            }
            fn report_json(&self, call_id: &str) -> Result<Option<String>, StoreError> {
                <$t>::report_json(self, call_id)
            }
            fn list(&self, f: &Filter) -> Result<Vec<CallRow>, StoreError> {
                <$t>::list(self, f)
            }
            fn search(&self, phrase: &str, f: &Filter) -> Result<Vec<SearchHit>, StoreError> {
                <$t>::search(self, phrase, f)
            }
            fn search_like(&self, query: &[f32], f: &Filter) -> Result<Vec<SearchHit>, StoreError> {
                <$t>::search_like(self, query, f)
            }
            fn trends(&self, f: &Filter) -> Result<Trends, StoreError> {
                <$t>::trends(self, f)
            }
            fn anchors(&self) -> Result<Vec<super::anchor::Anchor>, StoreError> {
                <$t>::anchors(self)
            }
            fn stored_files(&self) -> Result<super::verify::StoredRows, StoreError> {
                <$t>::stored_files(self)
            }
        }
    };
}
store_by_inherent_methods!(CallStore);
store_by_inherent_methods!(super::pg::PgStore);

/// Whether SQLite answered "busy" or "locked" (another connection holds
/// the lock); such an error is worth retrying.
fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// Path of the database in `data_dir`.
pub fn db_path(data_dir: &Path) -> PathBuf {
    data_dir.join(DB_FILE)
}

impl CallStore {
    /// Opens (creating if needed) `DIR/callscope.db` and brings its schema
    /// up to date.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        super::create_private_dir(data_dir).map_err(|source| StoreError::Io {
            path: data_dir.to_path_buf(),
            source,
        })?;
        let path = db_path(data_dir);
        // Created 0600 before SQLite opens it: SQLite gives the -wal and
        // -shm files the database's mode.
        {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .mode(super::FILE_MODE)
                .open(&path)
                .map_err(|source| StoreError::Io {
                    path: path.clone(),
                    source,
                })?;
        }
        Self::connect(path)
    }

    /// Opens an existing store for queries; [`StoreError::Missing`] when
    /// nothing has been stored in `data_dir` yet.
    pub fn open_existing(data_dir: &Path) -> Result<Self, StoreError> {
        let path = db_path(data_dir);
        if !path.exists() {
            return Err(StoreError::Missing(data_dir.to_path_buf()));
        }
        Self::connect(path)
    }

    fn connect(path: PathBuf) -> Result<Self, StoreError> {
        let conn = Connection::open(&path).map_err(|source| StoreError::Sqlite {
            path: path.clone(),
            source,
        })?;
        let mut store = CallStore { conn, path };
        // Switching to WAL and the first read of a brand-new database can
        // answer SQLITE_BUSY without waiting in the busy handler while other
        // connections open the same file (SQLite avoids a lock-upgrade
        // deadlock that way), so set-up is retried within the busy timeout.
        let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
        let mut pause = Duration::from_millis(5);
        loop {
            match store.setup() {
                Err(StoreError::Sqlite { source, .. })
                    if is_busy(&source) && std::time::Instant::now() < deadline =>
                {
                    tracing::debug!(error = %source, "call store busy during set-up; retrying");
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(200));
                }
                other => break other?,
            }
        }
        store.narrow_modes();
        Ok(store)
    }

    /// Narrows the database, `-wal` and `-shm` files to 0600 (a store made
    /// by an older callscope may have them wider). Best effort: a file owned
    /// by another user is left as it is, with a warning.
    fn narrow_modes(&self) {
        use std::os::unix::fs::PermissionsExt;
        for suffix in ["", "-wal", "-shm"] {
            let mut name = self.path.as_os_str().to_owned();
            name.push(suffix);
            let path = Path::new(&name);
            let Ok(meta) = std::fs::metadata(path) else {
                continue;
            };
            if meta.permissions().mode() & 0o077 == 0 {
                continue;
            }
            if let Err(e) =
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(super::FILE_MODE))
            {
                tracing::warn!(file = %path.display(), error = %e, "cannot narrow the call store's file mode to 0600");
            }
        }
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        |source| StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    fn setup(&mut self) -> Result<(), StoreError> {
        self.conn.busy_timeout(BUSY_TIMEOUT).map_err(self.err())?;
        let mode: String = self
            .conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(self.err())?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(mode, "the call store could not switch to WAL");
        }
        self.conn
            .execute_batch(
                "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON;",
            )
            .map_err(self.err())?;
        let known = MIGRATIONS.len() as i64;
        let current = self.version()?;
        if current == known {
            return Ok(());
        }
        if current > known {
            return Err(StoreError::TooNew {
                path: self.path.clone(),
                found: current,
                known,
            });
        }
        // Re-read inside the write lock: another process may have migrated.
        let path = self.path.clone();
        let e = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(e)?;
        let current: i64 = tx
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(e)?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(current.max(0) as usize) {
            tx.execute_batch(sql).map_err(e)?;
            if i + 1 == ANCHORS_VERSION {
                let dir = path.parent().unwrap_or(Path::new("."));
                let adopted = adopt_stored_calls(&tx, dir).map_err(e)?;
                if adopted > 0 {
                    tracing::info!(
                        calls = adopted,
                        "calls stored before the anchor chain adopted into it"
                    );
                }
            }
            tx.pragma_update(None, "user_version", i as i64 + 1)
                .map_err(e)?;
            tracing::info!(version = i + 1, "call store migrated");
        }
        tx.commit().map_err(e)
    }

    /// Whether a call with this id is stored.
    pub fn exists(&self, call_id: &str) -> Result<bool, StoreError> {
        self.conn
            .query_row("SELECT 1 FROM calls WHERE call_id = ?1", [call_id], |_| {
                Ok(())
            })
            .optional()
            .map(|r| r.is_some())
            .map_err(self.err())
    }

    /// The schema version of the open database.
    pub fn version(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(self.err())
    }

    /// Stores a call in one transaction: all of it is committed, or
    /// nothing. A call id already stored is refused
    /// ([`StoreError::AlreadyExists`]) unless `if_exists` is
    /// [`IfExists::Replace`]. The call's audit trail (if any) is verified
    /// and its head hash and the recording's SHA-256 anchored
    /// ([`super::anchor`]) in the same transaction.
    pub fn put(
        &mut self,
        report: &Redacted<Report>,
        files: &StoredFiles,
        if_exists: IfExists,
    ) -> Result<(), StoreError> {
        let rows = CallRows::of(report, files)?;
        let r = report.get();
        let path = self.path.clone();
        let e = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(e)?;
        let existed = tx
            .execute("DELETE FROM calls WHERE call_id = ?1", [&r.call_id])
            .map_err(e)?
            > 0;
        if existed && if_exists == IfExists::Refuse {
            // Dropping the transaction rolls the delete back.
            return Err(StoreError::AlreadyExists {
                call_id: r.call_id.clone(),
            });
        }
        super::anchor::append(
            &tx,
            if existed {
                super::anchor::EventKind::Replace
            } else {
                super::anchor::EventKind::Store
            },
            rows.stored_at,
            &super::anchor::NewAnchor {
                call_id: Some(&r.call_id),
                trail_head: rows.trail_head.as_deref(),
                recording_sha256: files.recording.as_ref().map(|(_, h)| h.as_str()),
                detail: None,
            },
        )
        .map_err(e)?;
        if existed {
            tracing::info!(call_id = %r.call_id, "stored call replaced (recorded in the anchor chain)");
        }
        tx.execute(
            "INSERT INTO calls (call_id, started_at, stored_at, agent_id, caller_id, status,
                channel_layout, source_name, codec, duration_s, talk_listen_ratio, overtalk_s,
                silence_total_s, non_talk_time_s, interruptions, agent_interruptions,
                complaint_category, complaint_evidence, apologised, escalation_requested,
                cancellation_threatened, score, prompts, redactions, recording_path,
                recording_sha256, audit_path, report_json)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
                ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28)",
            params![
                r.call_id,
                rows.started_at,
                rows.stored_at,
                r.agent_id,
                r.caller_id,
                r.status,
                r.channel_layout,
                r.source.name,
                r.source.codec,
                r.duration_s,
                r.talk_listen_ratio,
                r.overtalk_s,
                r.silence_total_s,
                r.non_talk_time_s,
                r.interruptions.as_ref().map(|v| v.len() as i64),
                rows.agent_cut_ins,
                r.complaint.as_ref().map(|c| &c.category),
                r.complaint.as_ref().map(|c| &c.evidence),
                r.flags.as_ref().map(|f| f.apologised),
                r.flags.as_ref().map(|f| f.escalation_requested),
                r.flags.as_ref().map(|f| f.cancellation_threatened),
                r.scorecard.as_ref().map(|s| s.score),
                r.prompts.len() as i64,
                r.redactions.len() as i64,
                files
                    .recording
                    .as_ref()
                    .map(|(p, _)| p.display().to_string()),
                files.recording.as_ref().map(|(_, h)| h),
                files.audit.as_ref().map(|p| p.display().to_string()),
                rows.json,
            ],
        )
        .map_err(e)?;
        {
            let mut kpi = tx
                .prepare(
                    "INSERT INTO kpis (call_id, speaker, talk_time_s, talk_share, turns, words,
                        wpm, loudness_dbfs, syllables_per_s, est_wpm)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                )
                .map_err(e)?;
            for k in &rows.kpis {
                kpi.execute(params![
                    r.call_id,
                    k.speaker,
                    k.talk_time_s,
                    k.talk_share,
                    k.turns,
                    k.words,
                    k.wpm,
                    k.loudness_dbfs,
                    k.syllables_per_s,
                    k.est_wpm,
                ])
                .map_err(e)?;
            }
            let mut seg = tx
                .prepare(
                    "INSERT INTO segments (call_id, seq, speaker, start_s, end_s, text, embedding)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .map_err(e)?;
            for (i, s) in r.segments.iter().enumerate() {
                seg.execute(params![
                    r.call_id,
                    i as i64,
                    s.speaker.to_string(),
                    s.start,
                    s.end,
                    s.text,
                    s.embedding.as_ref().map(|v| v.to_le_bytes())
                ])
                .map_err(e)?;
            }
            let mut sig = tx
                .prepare(
                    "INSERT INTO signals (call_id, kind, start_s, end_s, by_speaker, of_speaker)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(e)?;
            for s in &rows.signals {
                sig.execute(params![r.call_id, s.kind, s.start, s.end, s.by, s.of])
                    .map_err(e)?;
            }
            let mut pr = tx
                .prepare(
                    "INSERT INTO prompts (call_id, t, kind, severity, message, evidence, supervisor)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .map_err(e)?;
            for p in &r.prompts {
                pr.execute(params![
                    r.call_id,
                    p.t,
                    p.kind,
                    p.severity,
                    p.message,
                    p.evidence.to_string(),
                    p.supervisor
                ])
                .map_err(e)?;
            }
            let mut item = tx
                .prepare(
                    "INSERT OR REPLACE INTO scorecard_items (call_id, name, score, weight, evidence)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .map_err(e)?;
            for i in r.scorecard.iter().flat_map(|s| &s.items) {
                item.execute(params![r.call_id, i.name, i.score, i.weight, i.evidence])
                    .map_err(e)?;
            }
            let mut com = tx
                .prepare("INSERT INTO commitments (call_id, t, text) VALUES (?1, ?2, ?3)")
                .map_err(e)?;
            for c in r.commitments.iter().flatten() {
                com.execute(params![r.call_id, c.t, c.text]).map_err(e)?;
            }
            let mut red = tx
                .prepare(
                    "INSERT INTO redactions (call_id, kind, speaker, start_s, end_s)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .map_err(e)?;
            for s in &r.redactions {
                red.execute(params![
                    r.call_id,
                    s.kind,
                    s.speaker.to_string(),
                    s.start,
                    s.end
                ])
                .map_err(e)?;
            }
        }
        tx.commit().map_err(e)
    }

    /// The connection, for tests that look under the API.
    #[cfg(test)]
    pub(crate) fn conn_for_tests(&self) -> &Connection {
        &self.conn
    }

    /// Every row of the anchor chain, in order.
    pub fn anchors(&self) -> Result<Vec<super::anchor::Anchor>, StoreError> {
        super::anchor::read_all(&self.conn).map_err(self.err())
    }

    /// Each stored call's recording hash (as its row holds it), by call id.
    pub fn stored_files(&self) -> Result<super::verify::StoredRows, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT call_id, recording_sha256 FROM calls")
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    /// Deletes the rows of every call stored before `cutoff` (unix seconds)
    /// and records their ids in a `purge` row of the anchor chain, in one
    /// transaction; then checkpoints the WAL (so deleted pages, zeroed by
    /// secure_delete, leave it too). Returns the call ids (oldest first)
    /// and whether the checkpoint completed (a reader holding the WAL open
    /// can keep it from finishing; the next write's checkpoint does).
    pub(crate) fn purge_rows(
        &mut self,
        cutoff: i64,
        older_than_s: u64,
    ) -> Result<(Vec<String>, bool), StoreError> {
        let path = self.path.clone();
        let e = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(e)?;
        let ids: Vec<String> = {
            let mut stmt = tx
                .prepare(
                    "SELECT call_id FROM calls WHERE stored_at < ?1 ORDER BY stored_at, call_id",
                )
                .map_err(e)?;
            stmt.query_map([cutoff], |r| r.get(0))
                .map_err(e)?
                .collect::<Result<_, _>>()
                .map_err(e)?
        };
        if ids.is_empty() {
            return Ok((ids, true));
        }
        for id in &ids {
            tx.execute("DELETE FROM calls WHERE call_id = ?1", [id])
                .map_err(e)?;
        }
        let detail = super::anchor::PurgeDetail::json(&ids, older_than_s);
        super::anchor::append(
            &tx,
            super::anchor::EventKind::Purge,
            now_unix(),
            &super::anchor::NewAnchor {
                detail: Some(&detail),
                ..Default::default()
            },
        )
        .map_err(e)?;
        tx.commit().map_err(e)?;
        let busy: i64 = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
            .map_err(self.err())?;
        Ok((ids, busy == 0))
    }

    /// The stored report of a call, as JSON (`None` if there is no such call).
    pub fn report_json(&self, call_id: &str) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row(
                "SELECT report_json FROM calls WHERE call_id = ?1",
                [call_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err())
    }

    /// Calls matching `f`, newest first.
    pub fn list(&self, f: &Filter) -> Result<Vec<CallRow>, StoreError> {
        let (clause, args) = self.where_clause(f)?;
        let sql = format!(
            "SELECT c.call_id, datetime(c.started_at, 'unixepoch'), c.stored_at, c.agent_id,
                c.caller_id, c.status, c.duration_s, c.complaint_category, c.score, c.prompts,
                c.redactions
             FROM calls c {clause}
             ORDER BY c.started_at DESC, c.call_id {}",
            limit(f.limit)
        );
        let mut stmt = self.conn.prepare(&sql).map_err(self.err())?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(args), |r| {
                Ok(CallRow {
                    call_id: r.get(0)?,
                    started_at: r.get(1)?,
                    stored_at: r.get(2)?,
                    agent_id: r.get(3)?,
                    caller_id: r.get(4)?,
                    status: r.get(5)?,
                    duration_s: r.get(6)?,
                    category: r.get(7)?,
                    score: r.get(8)?,
                    prompts: r.get(9)?,
                    redactions: r.get(10)?,
                })
            })
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    /// Transcript segments containing `phrase` (full-text, redacted text
    /// only), in calls matching `f`; newest call first, in call order.
    pub fn search(&self, phrase: &str, f: &Filter) -> Result<Vec<SearchHit>, StoreError> {
        let query = fts_phrase(phrase)?;
        let mut f = f.clone();
        f.phrase = None;
        let (clause, mut args) = self.where_clause(&f)?;
        let join = if clause.is_empty() { "WHERE" } else { "AND" };
        args.push(Value::Text(query));
        let sql = format!(
            "SELECT c.call_id, datetime(c.started_at, 'unixepoch'), c.agent_id, s.speaker,
                s.start_s, s.end_s, s.text
             FROM segments_fts
             JOIN segments s ON s.id = segments_fts.rowid
             JOIN calls c ON c.call_id = s.call_id
             {clause} {join} segments_fts MATCH ?{}
             ORDER BY c.started_at DESC, c.call_id, s.seq {}",
            args.len(),
            limit(f.limit)
        );
        let mut stmt = self.conn.prepare(&sql).map_err(self.err())?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(args), search_hit)
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    /// Transcript segments nearest in meaning to `query` (an embedding of
    /// the query text, made as a segment's is),
    /// in calls matching `f`: nearest first, at most `f.limit` (0: all).
    /// Only segments stored with an embedding (calls analysed with the
    /// model) are searched; the vectors are compared here, not in SQL.
    pub fn search_like(&self, query: &[f32], f: &Filter) -> Result<Vec<SearchHit>, StoreError> {
        let (clause, args) = self.where_clause(&Filter {
            limit: 0,
            ..f.clone()
        })?;
        let join = if clause.is_empty() { "WHERE" } else { "AND" };
        let sql = format!(
            "SELECT c.call_id, datetime(c.started_at, 'unixepoch'), c.agent_id, s.speaker,
                s.start_s, s.end_s, s.text, s.embedding
             FROM segments s
             JOIN calls c ON c.call_id = s.call_id
             {clause} {join} s.embedding IS NOT NULL"
        );
        let mut stmt = self.conn.prepare(&sql).map_err(self.err())?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(args), |r| {
                Ok((search_hit(r)?, r.get::<_, Vec<u8>>(7)?))
            })
            .map_err(self.err())?;
        let mut hits = Vec::new();
        for row in rows {
            let (mut hit, blob) = row.map_err(self.err())?;
            // A vector of the wrong size (a damaged row) is skipped.
            if let Some(v) = crate::embed::Embedding::from_le_bytes(&blob) {
                let c = crate::embed::cosine(v.as_slice(), query);
                hit.similarity = Some((f64::from(c) * 1000.0).round() / 1000.0);
                hits.push(hit);
            }
        }
        Ok(nearest(hits, f.limit))
    }

    /// Complaints per week, recurring complaints, repeat callers and agents'
    /// averages over the calls matching `f`.
    pub fn trends(&self, f: &Filter) -> Result<Trends, StoreError> {
        let (clause, args) = self.where_clause(&Filter {
            limit: 0,
            ..f.clone()
        })?;
        // The selected calls, then each aggregate over them.
        let scope = format!("WITH sel AS (SELECT c.* FROM calls c {clause})");
        let p = || rusqlite::params_from_iter(args.clone());
        let calls: i64 = self
            .conn
            .query_row(&format!("{scope} SELECT count(*) FROM sel"), p(), |r| {
                r.get(0)
            })
            .map_err(self.err())?;
        let by_week = self.rows(
            &format!(
                "{scope} SELECT strftime('%G-W%V', started_at, 'unixepoch') AS week,
                    complaint_category, count(*)
                 FROM sel WHERE complaint_category IS NOT NULL
                 GROUP BY week, complaint_category ORDER BY week, count(*) DESC, complaint_category"
            ),
            p(),
            |r| {
                Ok(WeekCount {
                    week: r.get(0)?,
                    category: r.get(1)?,
                    calls: r.get(2)?,
                })
            },
        )?;
        let recurring = self.rows(
            &format!(
                "{scope} SELECT complaint_category, count(*),
                    count(DISTINCT strftime('%G-W%V', started_at, 'unixepoch')),
                    count(DISTINCT caller_id),
                    datetime(min(started_at), 'unixepoch'), datetime(max(started_at), 'unixepoch')
                 FROM sel WHERE complaint_category IS NOT NULL
                 GROUP BY complaint_category HAVING count(*) >= 2
                 ORDER BY count(*) DESC, complaint_category"
            ),
            p(),
            |r| {
                Ok(Recurring {
                    category: r.get(0)?,
                    calls: r.get(1)?,
                    weeks: r.get(2)?,
                    callers: r.get(3)?,
                    first: r.get(4)?,
                    last: r.get(5)?,
                })
            },
        )?;
        let repeat = self.rows(
            &format!(
                "{scope} SELECT caller_id, count(*),
                    datetime(min(started_at), 'unixepoch'), datetime(max(started_at), 'unixepoch'),
                    coalesce(group_concat(DISTINCT complaint_category), ''),
                    (SELECT group_concat(call_id, ',') FROM
                        (SELECT s2.call_id FROM sel s2 WHERE s2.caller_id = sel.caller_id
                         ORDER BY s2.started_at, s2.call_id))
                 FROM sel WHERE caller_id IS NOT NULL AND caller_id != ''
                 GROUP BY caller_id HAVING count(*) >= 2
                 ORDER BY count(*) DESC, caller_id"
            ),
            p(),
            |r| {
                Ok(RepeatCaller {
                    caller_id: r.get(0)?,
                    calls: r.get(1)?,
                    first: r.get(2)?,
                    last: r.get(3)?,
                    categories: r.get(4)?,
                    call_ids: r.get(5)?,
                })
            },
        )?;
        let agents = self.rows(
            &format!(
                "{scope} SELECT coalesce(nullif(sel.agent_id, ''), '-') AS agent, count(*),
                    avg(score), avg(talk_listen_ratio), avg(k.wpm), avg(agent_interruptions),
                    avg(CASE WHEN channel_layout = 'stereo' THEN silence_total_s END),
                    avg(prompts),
                    avg(CASE WHEN complaint_category IS NOT NULL THEN apologised END),
                    coalesce(sum(escalation_requested), 0), coalesce(sum(cancellation_threatened), 0)
                 FROM sel LEFT JOIN kpis k ON k.call_id = sel.call_id AND k.speaker = 'agent'
                 GROUP BY agent ORDER BY count(*) DESC, agent"
            ),
            p(),
            |r| {
                Ok(AgentKpis {
                    agent_id: r.get(0)?,
                    calls: r.get(1)?,
                    score: r.get::<_, Option<f64>>(2)?.map(round1),
                    talk_listen_ratio: r.get::<_, Option<f64>>(3)?.map(round2),
                    wpm: r.get::<_, Option<f64>>(4)?.map(round1),
                    interruptions: r.get::<_, Option<f64>>(5)?.map(round2),
                    dead_air_s: r.get::<_, Option<f64>>(6)?.map(round1),
                    prompts: round2(r.get(7)?),
                    apology_rate: r.get::<_, Option<f64>>(8)?.map(round2),
                    escalations: r.get(9)?,
                    cancellations: r.get(10)?,
                })
            },
        )?;
        Ok(Trends {
            calls,
            complaints_by_week: by_week,
            recurring_complaints: recurring,
            repeat_callers: repeat,
            agents,
        })
    }

    fn rows<T>(
        &self,
        sql: &str,
        args: impl rusqlite::Params,
        map: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>, StoreError> {
        let mut stmt = self.conn.prepare(sql).map_err(self.err())?;
        let rows = stmt.query_map(args, map).map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    /// `WHERE …` over `calls c` for `f` (empty when nothing filters), and
    /// its parameters in order.
    fn where_clause(&self, f: &Filter) -> Result<(String, Vec<Value>), StoreError> {
        let mut conds: Vec<String> = Vec::new();
        let mut args: Vec<Value> = Vec::new();
        // Adds a condition with one `?`, numbered after the arguments so far.
        let push = |cond: &str, v: Value, args: &mut Vec<Value>, conds: &mut Vec<String>| {
            args.push(v);
            conds.push(cond.replace('?', &format!("?{}", args.len())));
        };
        if let Some(s) = &f.since {
            let t = self.unix_time(s, "--since")?;
            push(
                "c.started_at >= ?",
                Value::Integer(t),
                &mut args,
                &mut conds,
            );
        }
        if let Some(s) = &f.until {
            let t = self.unix_time(s, "--until")?;
            push("c.started_at < ?", Value::Integer(t), &mut args, &mut conds);
        }
        if let Some(a) = &f.agent {
            push(
                "c.agent_id = ?",
                Value::Text(a.clone()),
                &mut args,
                &mut conds,
            );
        }
        if let Some(a) = &f.caller {
            push(
                "c.caller_id = ?",
                Value::Text(a.clone()),
                &mut args,
                &mut conds,
            );
        }
        match f.category.as_deref() {
            None => {}
            Some("none") => conds.push("c.complaint_category IS NULL".to_string()),
            Some(cat) => push(
                "c.complaint_category = ?",
                Value::Text(cat.to_string()),
                &mut args,
                &mut conds,
            ),
        }
        if let Some(k) = &f.prompt_kind {
            push(
                "EXISTS (SELECT 1 FROM prompts p WHERE p.call_id = c.call_id AND p.kind = ?)",
                Value::Text(k.clone()),
                &mut args,
                &mut conds,
            );
        }
        if let Some(x) = f.min_score {
            push("c.score >= ?", Value::Real(x), &mut args, &mut conds);
        }
        if let Some(x) = f.max_score {
            push("c.score <= ?", Value::Real(x), &mut args, &mut conds);
        }
        if let Some(p) = &f.phrase {
            push(
                "c.call_id IN (SELECT s.call_id FROM segments_fts
                    JOIN segments s ON s.id = segments_fts.rowid WHERE segments_fts MATCH ?)",
                Value::Text(fts_phrase(p)?),
                &mut args,
                &mut conds,
            );
        }
        let clause = if conds.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conds.join(" AND "))
        };
        Ok((clause, args))
    }

    /// Unix seconds of a date or date-time (UTC), as SQLite reads it.
    fn unix_time(&self, s: &str, what: &str) -> Result<i64, StoreError> {
        let t: Option<i64> = self
            .conn
            .query_row("SELECT unixepoch(?1)", [s], |r| r.get(0))
            .map_err(self.err())?;
        t.ok_or_else(|| {
            StoreError::BadFilter(format!(
                "{what} {s:?} is not a date: use YYYY-MM-DD or \"YYYY-MM-DD HH:MM\" (UTC)"
            ))
        })
    }
}

/// The words of a search phrase, space-separated (an error when it has
/// none): what every backend's phrase query matches, in order.
pub(crate) fn phrase_words(phrase: &str) -> Result<String, StoreError> {
    let words: Vec<String> = phrase
        .split(|c: char| !c.is_alphanumeric() && c != '\'')
        .filter(|w| !w.is_empty())
        .map(|w| w.replace('"', ""))
        .collect();
    if words.is_empty() {
        return Err(StoreError::BadFilter(format!(
            "search phrase {phrase:?} has no words"
        )));
    }
    Ok(words.join(" "))
}

/// An FTS5 query matching `phrase`'s words in order.
fn fts_phrase(phrase: &str) -> Result<String, StoreError> {
    Ok(format!("\"{}\"", phrase_words(phrase)?))
}

/// Hits nearest first (by similarity), at most `limit` (0: all).
pub(crate) fn nearest(mut hits: Vec<SearchHit>, limit: usize) -> Vec<SearchHit> {
    hits.sort_by(|a, b| {
        let key = |h: &SearchHit| h.similarity.unwrap_or(-1.0);
        key(b).total_cmp(&key(a))
    });
    if limit > 0 {
        hits.truncate(limit);
    }
    hits
}

/// Unix seconds of `YYYY-MM-DD` or `YYYY-MM-DD HH:MM[:SS]` (UTC), as
/// SQLite's `unixepoch()` reads them; `None` when it is not a date.
pub(crate) fn parse_utc(s: &str) -> Option<i64> {
    let s = s.trim();
    let full = match s.len() {
        10 => format!("{s} 00:00:00"),
        16 => format!("{s}:00"),
        _ => s.to_string(),
    };
    humantime::parse_rfc3339_weak(&full)
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs() as i64)
}

/// A [`SearchHit`] from the first seven columns of a search row.
fn search_hit(r: &rusqlite::Row<'_>) -> rusqlite::Result<SearchHit> {
    Ok(SearchHit {
        call_id: r.get(0)?,
        started_at: r.get(1)?,
        agent_id: r.get(2)?,
        speaker: r.get(3)?,
        start: r.get(4)?,
        end: r.get(5)?,
        text: r.get(6)?,
        similarity: None,
    })
}

/// Anchors every call already stored, oldest first, as `adopt` events: its
/// trail's head as the trail is now (none if it is missing or does not
/// verify; `audit verify` then reports it) and the recording hash its row
/// holds. Returns how many.
fn adopt_stored_calls(tx: &rusqlite::Transaction<'_>, data_dir: &Path) -> rusqlite::Result<usize> {
    let calls: Vec<(String, i64, Option<String>)> = {
        let mut stmt = tx.prepare(
            "SELECT call_id, stored_at, recording_sha256 FROM calls ORDER BY stored_at, call_id",
        )?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?
    };
    for (call_id, stored_at, recording) in &calls {
        let trail = super::audit::audit_path(data_dir, call_id);
        let head = trail
            .exists()
            .then(|| super::audit::verify(&trail).ok())
            .flatten()
            .map(|s| s.head_sha256);
        super::anchor::append(
            tx,
            super::anchor::EventKind::Adopt,
            *stored_at,
            &super::anchor::NewAnchor {
                call_id: Some(call_id),
                trail_head: head.as_deref(),
                recording_sha256: recording.as_deref(),
                detail: None,
            },
        )?;
    }
    Ok(calls.len())
}

/// `LIMIT n` (nothing for 0: all).
pub(crate) fn limit(n: usize) -> String {
    if n == 0 {
        String::new()
    } else {
        format!("LIMIT {n}")
    }
}

/// Now, in Unix seconds (0 before 1970).
pub(crate) fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Rounded to one decimal.
pub(crate) fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// Rounded to two decimals.
pub(crate) fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::Leg;
    use crate::redact::test_seal;
    use crate::report::{Prompt, test_report};
    use crate::rules::insights::{Complaint, Scorecard, ScoredItem};
    use crate::rules::test_segment;

    /// A call by `agent` from `caller` started at `when` (RFC 3339), with a
    /// complaint of `category`, QA `score` and one prompt of `prompt`.
    fn call(
        id: &str,
        agent: &str,
        caller: &str,
        when: &str,
        category: Option<&str>,
        score: f64,
        prompt: &str,
    ) -> Redacted<Report> {
        let mut r = test_report(
            id,
            vec![
                test_segment(Leg::Agent, 1.0, "Thank you for calling, how can I help?"),
                test_segment(
                    Leg::Customer,
                    4.0,
                    "My card number is [PAN] expiring [EXPIRY].",
                ),
                test_segment(
                    Leg::Agent,
                    8.0,
                    &format!("I'm sorry about that, call {id}."),
                ),
            ],
        );
        r.agent_id = Some(agent.into());
        r.caller_id = Some(caller.into()).filter(|c: &String| !c.is_empty());
        r.started_at = Some(when.into());
        r.complaint = category.map(|c| Complaint {
            category: c.into(),
            evidence: "customer at 4.0 s: \"charged twice\"".into(),
            score: None,
        });
        r.scorecard = Some(Scorecard {
            score,
            items: vec![ScoredItem {
                name: "greeting".into(),
                score: Some(score),
                weight: 1.0,
                evidence: "agent at 1.0 s".into(),
            }],
        });
        r.prompts = vec![Prompt {
            t: 30.0,
            kind: prompt.into(),
            severity: "warning".into(),
            message: "Check in with the customer".into(),
            evidence: crate::redact::evidence::Measurement::Silence { s: 12.0 }.into(),
            supervisor: false,
        }];
        test_seal(r)
    }

    fn store_with_calls() -> (tempfile::TempDir, CallStore) {
        let dir = tempfile::tempdir().unwrap();
        let mut db = CallStore::open(dir.path()).unwrap();
        fill(&mut db);
        (dir, db)
    }

    /// Runs `scenario` on a fresh PostgreSQL store holding the four calls
    /// of [`fill`], on a throwaway server.
    fn on_postgres(scenario: impl FnOnce(&mut super::super::pg::PgStore)) {
        let Some(pg) = super::super::pg::testing::TestPg::start() else {
            return;
        };
        let mut db = super::super::pg::PgStore::connect(&pg.url, 2, None).unwrap();
        assert_eq!(db.version().unwrap(), super::super::pg::SCHEMA_VERSION);
        fill(&mut db);
        scenario(&mut db);
    }

    /// Stores four calls: c1, c2 (ann, caller +1), c3, c4 (bob).
    fn fill(db: &mut impl Store) {
        let none = StoredFiles::default();
        for c in [
            call(
                "c1",
                "ann",
                "+1",
                "2026-11-02T09:00:00Z",
                Some("double_charge"),
                90.0,
                "dead_air",
            ),
            call(
                "c2",
                "ann",
                "+1",
                "2026-11-10T09:00:00Z",
                Some("double_charge"),
                60.0,
                "pace",
            ),
            call(
                "c3",
                "bob",
                "+2",
                "2026-11-11T15:30:00Z",
                None,
                75.0,
                "pace",
            ),
            call(
                "c4",
                "bob",
                "",
                "2026-11-12T08:00:00Z",
                Some("delivery_timing"),
                40.0,
                "deflection",
            ),
        ] {
            db.put(&c, &none, IfExists::Refuse).unwrap();
        }
    }

    #[test]
    fn segments_are_found_by_meaning_nearest_first() {
        let (_dir, mut db) = store_with_calls();
        by_meaning(&mut db);
    }

    fn by_meaning(db: &mut impl Store) {
        // c5: three segments with (synthetic) unit embeddings along axes 0, 1, 2.
        let axis = |i: usize| {
            let mut v = vec![0.0f32; crate::embed::DIM];
            v[i] = 1.0;
            crate::embed::Embedding::new(v)
        };
        let mut r = call("c5", "cy", "+3", "2026-11-13T08:00:00Z", None, 50.0, "pace").into_inner();
        for (i, seg) in r.segments.iter_mut().enumerate() {
            seg.embedding = Some(axis(i));
        }
        db.put(&test_seal(r), &StoredFiles::default(), IfExists::Refuse)
            .unwrap();
        let mut q = vec![0.0f32; crate::embed::DIM];
        (q[1], q[2]) = (0.8, 0.6);
        let hits = db.search_like(&q, &Filter::default()).unwrap();
        // Only segments stored with an embedding are searched.
        assert_eq!(hits.len(), 3);
        assert_eq!(hits[0].start, 4.0);
        assert_eq!(hits[0].similarity, Some(0.8));
        assert_eq!(hits[1].start, 8.0);
        assert_eq!(hits[2].similarity, Some(0.0));
        let one = Filter {
            limit: 1,
            agent: Some("ann".into()),
            ..Filter::default()
        };
        assert!(db.search_like(&q, &one).unwrap().is_empty());
    }

    #[test]
    fn a_stored_call_reads_back_whole() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = CallStore::open(dir.path()).unwrap();
        assert_eq!(db.version().unwrap(), MIGRATIONS.len() as i64);
        let c = call(
            "c1",
            "ann",
            "+1",
            "2026-11-02T09:00:00Z",
            None,
            80.0,
            "pace",
        );
        let rec = "ab".repeat(32);
        let trail = crate::store::audit::AuditWriter::create(dir.path(), "c1")
            .unwrap()
            .finish(Some(&rec))
            .unwrap();
        let files = StoredFiles {
            recording: Some((dir.path().join("recordings/c1.wav"), rec)),
            audit: Some(trail),
        };
        db.put(&c, &files, IfExists::Refuse).unwrap();
        let json = db.report_json("c1").unwrap().unwrap();
        let back: Report = serde_json::from_str(&json).unwrap();
        assert_eq!(&back, c.get());
        assert_eq!(db.report_json("nope").unwrap(), None);
        let rows = db.list(&Filter::default()).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].started_at, "2026-11-02 09:00:00");
        assert_eq!(rows[0].agent_id.as_deref(), Some("ann"));
        assert_eq!(rows[0].score, Some(80.0));
        assert_eq!(rows[0].prompts, 1);
        // Reopening sees it; the schema is not applied twice.
        drop(db);
        let db = CallStore::open_existing(dir.path()).unwrap();
        assert_eq!(db.list(&Filter::default()).unwrap().len(), 1);
    }

    #[test]
    fn storing_a_call_again_is_refused_unless_replaced() {
        let (_dir, mut db) = store_with_calls();
        replaced(&mut db);
        let n: i64 = db
            .conn
            .query_row(
                "SELECT count(*) FROM segments WHERE call_id = 'c1'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 1);
    }

    fn replaced(db: &mut impl Store) {
        let mut again = call(
            "c1",
            "ann",
            "+1",
            "2026-11-02T09:00:00Z",
            None,
            95.0,
            "pace",
        )
        .into_inner();
        again.segments = vec![test_segment(Leg::Agent, 1.0, "A different greeting")];
        let again = test_seal(again);
        let e = db
            .put(&again, &StoredFiles::default(), IfExists::Refuse)
            .unwrap_err();
        assert!(
            matches!(&e, StoreError::AlreadyExists { call_id } if call_id == "c1"),
            "{e}"
        );
        assert!(db.exists("c1").unwrap() && !db.exists("c9").unwrap());
        // Refused: the stored call is untouched.
        assert_eq!(db.search("call c1", &Filter::default()).unwrap().len(), 1);
        db.put(&again, &StoredFiles::default(), IfExists::Replace)
            .unwrap();
        let anchors = db.anchors().unwrap();
        let kinds: Vec<(Option<super::super::anchor::EventKind>, Option<String>)> = anchors
            .iter()
            .map(|a| (a.kind, a.call_id.clone()))
            .collect();
        assert_eq!(kinds.len(), 5);
        assert_eq!(
            kinds[4],
            (
                Some(super::super::anchor::EventKind::Replace),
                Some("c1".to_string())
            )
        );
        assert!(super::super::anchor::check_chain(&anchors).is_ok());
        assert_eq!(db.list(&Filter::default()).unwrap().len(), 4);
        let f = Filter::default();
        assert!(db.search("call c1", &f).unwrap().is_empty());
        assert_eq!(db.search("different greeting", &f).unwrap().len(), 1);
    }

    #[test]
    fn calls_are_filtered_by_every_field() {
        let (_dir, db) = store_with_calls();
        filtered(&db);
    }

    fn filtered(db: &impl Store) {
        let q = |f: Filter| {
            db.list(&f)
                .unwrap()
                .iter()
                .map(|r| r.call_id.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(q(Filter::default()), ["c4", "c3", "c2", "c1"]);
        let s = |x: &str| Some(x.to_string());
        assert_eq!(
            q(Filter {
                agent: s("ann"),
                ..Default::default()
            }),
            ["c2", "c1"]
        );
        assert_eq!(
            q(Filter {
                caller: s("+2"),
                ..Default::default()
            }),
            ["c3"]
        );
        assert_eq!(
            q(Filter {
                category: s("double_charge"),
                ..Default::default()
            }),
            ["c2", "c1"]
        );
        assert_eq!(
            q(Filter {
                category: s("none"),
                ..Default::default()
            }),
            ["c3"]
        );
        assert_eq!(
            q(Filter {
                prompt_kind: s("pace"),
                ..Default::default()
            }),
            ["c3", "c2"]
        );
        assert_eq!(
            q(Filter {
                min_score: Some(60.0),
                max_score: Some(80.0),
                ..Default::default()
            }),
            ["c3", "c2"]
        );
        assert_eq!(
            q(Filter {
                since: s("2026-11-10"),
                until: s("2026-11-12"),
                ..Default::default()
            }),
            ["c3", "c2"]
        );
        assert_eq!(
            q(Filter {
                since: s("2026-11-11 12:00"),
                ..Default::default()
            }),
            ["c4", "c3"]
        );
        assert_eq!(
            q(Filter {
                phrase: s("CALL, c3!"),
                ..Default::default()
            }),
            ["c3"]
        );
        assert_eq!(
            q(Filter {
                limit: 1,
                ..Default::default()
            }),
            ["c4"]
        );
        let bad = db.list(&Filter {
            since: s("last tuesday"),
            ..Default::default()
        });
        assert!(matches!(bad, Err(StoreError::BadFilter(m)) if m.contains("--since")));
    }

    #[test]
    fn search_matches_words_in_order_and_returns_the_redacted_segment() {
        let (_dir, db) = store_with_calls();
        searched(&db);
    }

    fn searched(db: &impl Store) {
        let f = Filter::default();
        let hits = db.search("card number", &f).unwrap();
        assert_eq!(hits.len(), 4);
        assert!(
            hits.iter()
                .all(|h| h.text == "My card number is [PAN] expiring [EXPIRY]."
                    && h.speaker == "customer"
                    && h.start == 4.0)
        );
        assert!(db.search("number card", &f).unwrap().is_empty());
        // Placeholders are words too: compliance can find every redaction.
        assert_eq!(db.search("[PAN]", &f).unwrap().len(), 4);
        let ann = db.search(
            "sorry",
            &Filter {
                agent: Some("ann".into()),
                ..f.clone()
            },
        );
        assert_eq!(
            ann.unwrap()
                .iter()
                .map(|h| h.call_id.as_str())
                .collect::<Vec<_>>(),
            ["c2", "c1"]
        );
        assert!(matches!(
            db.search(" ?! ", &f),
            Err(StoreError::BadFilter(_))
        ));
        // FTS syntax in a phrase is taken literally, not as a query.
        assert!(db.search("card OR NOT \"x", &f).unwrap().is_empty());
    }

    #[test]
    fn trends_count_complaints_repeat_callers_and_agents() {
        let (_dir, db) = store_with_calls();
        trended(&db);
    }

    /// The same scenarios on PostgreSQL: the same answers.
    #[test]
    fn the_postgres_store_answers_as_the_sqlite_store_does() {
        on_postgres(|db| filtered(db));
        on_postgres(|db| searched(db));
        on_postgres(|db| trended(db));
        on_postgres(by_meaning);
        on_postgres(replaced);
    }

    fn trended(db: &impl Store) {
        let t = db.trends(&Filter::default()).unwrap();
        assert_eq!(t.calls, 4);
        let weeks: Vec<(&str, &str, i64)> = t
            .complaints_by_week
            .iter()
            .map(|w| (w.week.as_str(), w.category.as_str(), w.calls))
            .collect();
        assert_eq!(
            weeks,
            [
                ("2026-W45", "double_charge", 1),
                ("2026-W46", "delivery_timing", 1),
                ("2026-W46", "double_charge", 1)
            ]
        );
        assert_eq!(t.recurring_complaints.len(), 1);
        let r = &t.recurring_complaints[0];
        assert_eq!(
            (r.category.as_str(), r.calls, r.weeks, r.callers),
            ("double_charge", 2, 2, 1)
        );
        assert_eq!(t.repeat_callers.len(), 1);
        let c = &t.repeat_callers[0];
        assert_eq!((c.caller_id.as_str(), c.calls), ("+1", 2));
        assert_eq!(c.call_ids, "c1,c2");
        assert_eq!(c.categories, "double_charge");
        let ann = t.agents.iter().find(|a| a.agent_id == "ann").unwrap();
        assert_eq!((ann.calls, ann.score), (2, Some(75.0)));
        assert_eq!(ann.prompts, 1.0);
        let since = db
            .trends(&Filter {
                since: Some("2026-11-09".into()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(since.calls, 3);
        assert!(since.repeat_callers.is_empty());
    }

    #[test]
    fn a_store_from_a_newer_callscope_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        drop(CallStore::open(dir.path()).unwrap());
        let conn = Connection::open(db_path(dir.path())).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        let e = CallStore::open(dir.path()).unwrap_err();
        assert!(matches!(e, StoreError::TooNew { found: 99, .. }), "{e}");
        assert!(e.to_string().contains("upgrade callscope"));
    }

    #[test]
    fn a_missing_store_says_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let e = CallStore::open_existing(dir.path()).unwrap_err();
        assert!(e.to_string().contains("callscope analyze"), "{e}");
        assert!(!db_path(dir.path()).exists());
    }

    #[test]
    fn threads_opening_a_new_store_at_once_all_write() {
        let dir = tempfile::tempdir().unwrap();
        std::thread::scope(|s| {
            for i in 0..4 {
                let path = dir.path();
                s.spawn(move || {
                    let mut db = CallStore::open(path).unwrap();
                    let c = call(
                        &format!("t{i}"),
                        "ann",
                        "",
                        "2026-11-02T09:00:00Z",
                        None,
                        1.0,
                        "pace",
                    );
                    db.put(&c, &StoredFiles::default(), IfExists::Refuse)
                        .unwrap();
                });
            }
        });
        let db = CallStore::open_existing(dir.path()).unwrap();
        assert_eq!(db.list(&Filter::default()).unwrap().len(), 4);
    }
}
