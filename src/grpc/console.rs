//! What the web console asks the server beyond the live streams: who the
//! caller is, segment search, trends, a call's redacted package, the purge
//! log, and the floor's own figures (calls live, handle time, prompts of
//! the last 15 minutes, each call's customer sentiment).
//!
//! Everything here reads the store or the hub's redacted state; nothing
//! reaches a caller that the redactor has not seen.

use std::collections::{BTreeMap, VecDeque};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use tonic::Status;

use super::pb;
use crate::security::auth::{Action, Principal};
use crate::store::db::{Filter, StoreError};

/// How many of the customer's last final turns the floor's trend shows.
const SENTIMENT_TURNS: usize = 10;
/// How many of them the current mood averages (neutral turns count as 0,
/// so one angry sentence among calm ones is not "−1").
const MOOD_TURNS: usize = 5;
/// How far back the floor counts prompts.
const PROMPT_WINDOW: Duration = Duration::from_secs(15 * 60);
/// How far back the floor averages the length of ended calls.
const HANDLE_WINDOW: Duration = Duration::from_secs(60 * 60);
/// Most prompts and ended calls remembered for the floor's figures (a
/// bound on memory, far above what a floor raises in the windows).
const FLOOR_MEMORY: usize = 100_000;
/// Floor figures go out at most this often.
const STATS_EVERY: Duration = Duration::from_secs(1);

/// Milliseconds since the Unix epoch, now.
pub fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// WhoAmI's answer for `who`: the console views its role may open.
pub fn whoami(who: &Principal) -> pb::WhoAmIResponse {
    let mut views = Vec::new();
    // An agent's floor is only its own calls: its call view lists them.
    if who.may(Action::WatchFloor) && who.only_agent().is_none() {
        views.push("floor");
    }
    // An agent may open its own calls; a role that may watch any call may too.
    let own = who.agent_id.as_deref().unwrap_or("");
    if who.may(Action::WatchCall(own)) {
        views.push("call");
    }
    if who.may(Action::ListCalls) && who.may(Action::ReadReport(own)) {
        views.push("review");
    }
    if who.may(Action::Recording) && who.may(Action::AuditTrail) {
        views.push("compliance");
    }
    pb::WhoAmIResponse {
        name: who.name.clone(),
        role: who.role.to_string(),
        agent_id: who.agent_id.clone().unwrap_or_default(),
        views: views.into_iter().map(str::to_string).collect(),
    }
}

/// The store filter of a request; an agent's is forced to its own id.
pub fn filter(r: pb::ListCallsRequest, who: &Principal, default_limit: usize) -> Filter {
    let text = |s: String| (!s.is_empty()).then_some(s);
    Filter {
        since: text(r.since),
        until: text(r.until),
        agent: match who.only_agent() {
            Some(own) => Some(own.to_string()),
            None => text(r.agent_id),
        },
        caller: text(r.caller_id),
        category: text(r.category),
        prompt_kind: text(r.prompt_kind),
        min_score: r.min_score,
        max_score: r.max_score,
        phrase: text(r.phrase),
        limit: match r.limit {
            0 => default_limit,
            n => n as usize,
        },
    }
}

/// Opens the store; `None` when nothing was stored yet.
fn open(data_dir: &Path) -> Result<Option<Box<dyn crate::store::db::Store>>, StoreError> {
    match crate::store::open_existing(data_dir) {
        Ok(db) => Ok(Some(db)),
        Err(StoreError::Missing(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Segments containing `filter.phrase`, or (with `like`, embedded by
/// `embedder`) nearest in meaning to `like`.
pub fn search(
    data_dir: &Path,
    embedder: Option<&crate::embed::Embedder>,
    filter: Filter,
    like: &str,
) -> Result<Vec<pb::SegmentHit>, Status> {
    let like = like.trim();
    let query = if like.is_empty() {
        if filter.phrase.is_none() {
            return Err(Status::invalid_argument(
                "give a phrase (filter.phrase) or a sentence (like)",
            ));
        }
        None
    } else {
        let embedder = embedder.ok_or_else(|| {
            Status::failed_precondition(
                "semantic search needs the sentence-embedding model; this server runs with \
                 --keywords-only (search by phrase instead)",
            )
        })?;
        Some(crate::store::commands::like_embedding(embedder, like).map_err(Status::from)?)
    };
    let Some(db) = open(data_dir)? else {
        return Ok(Vec::new());
    };
    let hits = match &query {
        Some(q) => db.search_like(q.as_slice(), &filter)?,
        None => {
            let phrase = filter.phrase.clone().unwrap_or_default();
            db.search(&phrase, &filter)?
        }
    };
    Ok(hits
        .into_iter()
        .map(|h| pb::SegmentHit {
            call_id: h.call_id,
            started_at: h.started_at,
            agent_id: h.agent_id.unwrap_or_default(),
            speaker: match h.speaker.as_str() {
                "agent" => pb::Speaker::Agent,
                "customer" => pb::Speaker::Customer,
                _ => pb::Speaker::Unspecified,
            } as i32,
            start: h.start,
            end: h.end,
            text: h.text,
            similarity: h.similarity,
        })
        .collect())
}

/// The trends JSON over the calls matching `filter`.
pub fn trends(data_dir: &Path, filter: Filter) -> Result<String, Status> {
    let tr = match open(data_dir)? {
        Some(db) => db.trends(&Filter { limit: 0, ..filter })?,
        None => crate::store::db::Trends::default(),
    };
    serde_json::to_string(&tr).map_err(|e| Status::internal(e.to_string()))
}

/// A stored call's redacted package as a zip archive: the recording (when
/// there is one), the report, the audit trail and its verification.
pub fn export(data_dir: &Path, call_id: &str) -> Result<Vec<u8>, Status> {
    let missing = || Status::not_found(format!("no stored call {call_id}"));
    let db = open(data_dir)?.ok_or_else(missing)?;
    let report = db.report_json(call_id)?.ok_or_else(missing)?;
    let files = crate::store::objects::local_files(data_dir, call_id);
    let trail = std::fs::read(&files.trail).ok();
    let recording_path = files.recording;
    let verification = {
        let v = crate::store::verify::verify(data_dir, crate::store::verify::Which::Call(call_id))?;
        serde_json::json!({
            "call_id": call_id,
            "verified": v.ok(),
            "problems": crate::store::commands::verify_text(&v).trim(),
            "checked_at_unix_ms": unix_ms(),
        })
    };
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o600);
    let mut add = |name: &str, bytes: &[u8]| -> Result<(), Status> {
        zip.start_file(format!("{call_id}/{name}"), opts)
            .map_err(|e| Status::internal(format!("building the archive: {e}")))?;
        zip.write_all(bytes)
            .map_err(|e| Status::internal(format!("building the archive: {e}")))
    };
    add("report.json", report.as_bytes())?;
    if let Some(trail) = &trail {
        add("audit.jsonl", trail)?;
    }
    add(
        "verification.json",
        serde_json::to_string_pretty(&verification)
            .unwrap_or_default()
            .as_bytes(),
    )?;
    if let Ok(recording) = std::fs::read(&recording_path) {
        add("recording.wav", &recording)?;
    }
    let cursor = zip
        .finish()
        .map_err(|e| Status::internal(format!("building the archive: {e}")))?;
    Ok(cursor.into_inner())
}

/// The purges in the anchor chain, newest first, and whether the chain
/// verifies.
pub fn purges(data_dir: &Path) -> Result<pb::ListPurgesResponse, Status> {
    let Some(db) = open(data_dir)? else {
        return Ok(pb::ListPurgesResponse {
            purges: Vec::new(),
            chain_verified: true,
            problem: String::new(),
        });
    };
    let rows = db.anchors()?;
    let (chain_verified, problem) = match crate::store::anchor::check_chain(&rows) {
        Ok(_) => (true, String::new()),
        Err(e) => (false, format!("anchor row {}: {}", e.seq, e.reason)),
    };
    let mut purges: Vec<pb::Purge> =
        rows.iter()
            .filter(|a| a.kind == Some(crate::store::anchor::EventKind::Purge))
            .map(|a| {
                let detail = a.detail.as_deref().and_then(|d| {
                    serde_json::from_str::<crate::store::anchor::PurgeDetail>(d).ok()
                });
                pb::Purge {
                    at: a.at,
                    older_than_days: detail
                        .as_ref()
                        .map_or(0.0, |d| d.older_than_s as f64 / 86_400.0),
                    call_ids: detail.map(|d| d.call_ids).unwrap_or_default(),
                    seq: a.seq,
                }
            })
            .collect();
    purges.reverse();
    Ok(pb::ListPurgesResponse {
        purges,
        chain_verified,
        problem,
    })
}

/// A call's customer sentiment as the floor shows it: the scores of the
/// last final turns and their mean.
#[derive(Debug, Default, Clone)]
pub struct Mood {
    turns: VecDeque<f64>,
}

impl Mood {
    /// Adds a final customer turn's redacted text, scored by `rules` as
    /// the report's sentiment scores it (0 without sentiment words).
    pub fn add(&mut self, rules: &crate::rules::Rules, text: &str) {
        if text.trim().is_empty() {
            return;
        }
        let score = crate::rules::insights::turn_score(rules, &crate::rules::normalise(text));
        self.turns.push_back((score * 100.0).round() / 100.0);
        while self.turns.len() > SENTIMENT_TURNS {
            self.turns.pop_front();
        }
    }

    /// The mean of the last [`MOOD_TURNS`] turns (0 with none).
    pub fn now(&self) -> f64 {
        if self.turns.is_empty() {
            return 0.0;
        }
        let n = self.turns.len().min(MOOD_TURNS);
        let mean = self.turns.iter().rev().take(n).sum::<f64>() / n as f64;
        (mean * 100.0).round() / 100.0
    }

    /// The last turns' scores, oldest first.
    pub fn turns(&self) -> Vec<f64> {
        self.turns.iter().copied().collect()
    }
}

/// What the floor remembers for its figures.
#[derive(Debug, Default)]
pub struct FloorLog {
    prompts: VecDeque<(Instant, String)>,
    ended: VecDeque<(Instant, f64)>,
    last_sent: Option<Instant>,
}

impl FloorLog {
    /// A prompt of `kind` was raised.
    pub fn prompt(&mut self, kind: &str) {
        self.prompts.push_back((Instant::now(), kind.to_string()));
        if self.prompts.len() > FLOOR_MEMORY {
            self.prompts.pop_front();
        }
    }

    /// A call of `duration_s` ended.
    pub fn ended(&mut self, duration_s: f64) {
        self.ended.push_back((Instant::now(), duration_s));
        if self.ended.len() > FLOOR_MEMORY {
            self.ended.pop_front();
        }
    }

    /// Whether figures are due (at most once a second unless `force`);
    /// marks them sent when they are.
    pub fn due(&mut self, force: bool) -> bool {
        let now = Instant::now();
        if !force && self.last_sent.is_some_and(|t| now - t < STATS_EVERY) {
            return false;
        }
        self.last_sent = Some(now);
        true
    }

    /// The floor's figures with the live calls' lengths so far.
    pub fn stats(&mut self, live: impl Iterator<Item = f64>) -> pb::FloorStats {
        let now = Instant::now();
        while self
            .prompts
            .front()
            .is_some_and(|(t, _)| now - *t > PROMPT_WINDOW)
        {
            self.prompts.pop_front();
        }
        while self
            .ended
            .front()
            .is_some_and(|(t, _)| now - *t > HANDLE_WINDOW)
        {
            self.ended.pop_front();
        }
        let live: Vec<f64> = live.collect();
        let mean = |xs: &[f64]| {
            if xs.is_empty() {
                0.0
            } else {
                xs.iter().sum::<f64>() / xs.len() as f64
            }
        };
        let ended: Vec<f64> = self.ended.iter().map(|(_, d)| *d).collect();
        let mut by_kind = BTreeMap::new();
        for (_, kind) in &self.prompts {
            *by_kind.entry(kind.clone()).or_insert(0u32) += 1;
        }
        pb::FloorStats {
            calls_live: live.len() as u32,
            avg_live_s: mean(&live),
            avg_handle_s: mean(&ended),
            ended_last_hour: ended.len() as u32,
            prompts_15m: by_kind.into_iter().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::security::auth::Role;

    fn who(role: Role, agent: Option<&str>) -> Principal {
        Principal {
            name: "t".into(),
            role,
            agent_id: agent.map(str::to_string),
        }
    }

    #[test]
    fn views_follow_roles() {
        let v = |p: Principal| whoami(&p).views;
        assert_eq!(v(who(Role::Supervisor, None)), ["floor", "call", "review"]);
        assert_eq!(v(who(Role::Agent, Some("a1"))), ["call", "review"]);
        assert_eq!(v(who(Role::Qa, None)), ["review"]);
        assert_eq!(v(who(Role::Compliance, None)), ["review", "compliance"]);
        assert_eq!(
            v(who(Role::Admin, None)),
            ["floor", "call", "review", "compliance"]
        );
        assert!(v(who(Role::Ingest, None)).is_empty());
    }

    #[test]
    fn an_agent_filter_is_its_own() {
        let r = pb::ListCallsRequest {
            agent_id: "someone-else".into(),
            ..Default::default()
        };
        let f = filter(r, &who(Role::Agent, Some("a1")), 100);
        assert_eq!(f.agent.as_deref(), Some("a1"));
        assert_eq!(f.limit, 100);
    }

    #[test]
    fn floor_figures_count_prompts_and_handle_time() {
        let mut log = FloorLog::default();
        log.prompt("pace");
        log.prompt("pace");
        log.prompt("dead_air");
        log.ended(60.0);
        log.ended(120.0);
        let s = log.stats([30.0, 90.0].into_iter());
        assert_eq!(s.calls_live, 2);
        assert_eq!(s.avg_live_s, 60.0);
        assert_eq!(s.avg_handle_s, 90.0);
        assert_eq!(s.ended_last_hour, 2);
        assert_eq!(s.prompts_15m.get("pace"), Some(&2));
        assert!(log.due(false));
        assert!(!log.due(false));
        assert!(log.due(true));
    }

    #[test]
    fn mood_keeps_the_last_turns() {
        let rules = crate::rules::Rules::builtin();
        let mut m = Mood::default();
        m.add(&rules, "The order number is on the email");
        assert_eq!(m.turns(), [0.0]);
        m.add(&rules, "This is ridiculous and unacceptable");
        // One angry turn after a calm one: negative, not the worst.
        assert!(m.now() < 0.0 && m.now() > -1.0, "{}", m.now());
        for _ in 0..20 {
            m.add(&rules, "That's great, thank you so much");
        }
        assert_eq!(m.turns().len(), SENTIMENT_TURNS);
        assert!(m.now() > 0.5);
    }
}
