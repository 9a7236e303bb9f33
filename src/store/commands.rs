//! `callscope calls list|show|search` and `callscope trends`: queries over
//! the call store, as tables or JSON; `callscope audit verify` and
//! `callscope purge`: integrity and retention.

use std::path::PathBuf;
use std::process::ExitCode;

use comfy_table::{ContentArrangement, Table, presets::UTF8_BORDERS_ONLY};

use crate::report::Report;
use crate::rules::CATEGORIES;
use crate::store::db::{Filter, StoreError};
use crate::store::verify::{ChainCheck, Verdict, VerifyReport, Which, verify};

/// `callscope calls …`
#[derive(Debug, clap::Subcommand)]
pub enum CallsCommand {
    /// Stored calls, newest first, filtered.
    List {
        /// Which calls.
        #[command(flatten)]
        filter: FilterArgs,
        /// Output.
        #[command(flatten)]
        out: OutArgs,
    },
    /// One call: measurements, complaint, scorecard, prompts, commitments,
    /// redactions and the redacted transcript.
    Show {
        /// The call's id.
        call_id: String,
        /// Output.
        #[command(flatten)]
        out: OutArgs,
    },
    /// Transcript segments containing a phrase, or (`--like`) nearest in
    /// meaning to a sentence (redacted text only).
    Search {
        /// Words to find, in this order (case and punctuation ignored).
        #[arg(required_unless_present = "like", conflicts_with = "like")]
        phrase: Option<String>,
        /// Segments that mean something like this sentence, nearest first
        /// (needs the sentence-embedding model; calls analysed without it
        /// are not searched).
        #[arg(long)]
        like: Option<String>,
        /// Sentence-embedding model directory for `--like` (default
        /// models/all-minilm-l6-v2).
        #[arg(long, env = "CALLSCOPE_EMBED_MODEL")]
        embed_model: Option<PathBuf>,
        /// In which calls.
        #[command(flatten)]
        filter: FilterArgs,
        /// Output.
        #[command(flatten)]
        out: OutArgs,
    },
}

/// Where the store is and how to print.
#[derive(Debug, clap::Args)]
pub struct OutArgs {
    /// The data directory (`DIR/callscope.db`).
    #[arg(long, default_value = "./callscope-data", env = "CALLSCOPE_DATA_DIR")]
    pub data_dir: PathBuf,
    /// JSON for tools instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Which calls a query covers.
#[derive(Debug, Clone, clap::Args)]
pub struct FilterArgs {
    /// Calls started on or after this date (`YYYY-MM-DD` or "YYYY-MM-DD HH:MM", UTC).
    #[arg(long)]
    pub since: Option<String>,
    /// Calls started before this date (same forms).
    #[arg(long)]
    pub until: Option<String>,
    /// Only this agent's calls.
    #[arg(long)]
    pub agent: Option<String>,
    /// Only this caller's calls.
    #[arg(long)]
    pub caller: Option<String>,
    /// Complaint category (e.g. `double_charge`; `none`: calls without a complaint).
    #[arg(long, value_parser = category)]
    pub category: Option<String>,
    /// Calls that raised a prompt of this kind (e.g. `dead_air`, `escalation_request`).
    #[arg(long)]
    pub prompt: Option<String>,
    /// QA score at least this (0–100).
    #[arg(long)]
    pub min_score: Option<f64>,
    /// QA score at most this (0–100).
    #[arg(long)]
    pub max_score: Option<f64>,
    /// Calls whose redacted transcript contains this phrase.
    #[arg(long)]
    pub phrase: Option<String>,
    /// At most this many rows (0: all).
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
}

/// Arguments of `callscope trends`.
#[derive(Debug, clap::Args)]
pub struct TrendsArgs {
    /// Calls started on or after this date (`YYYY-MM-DD`, UTC).
    #[arg(long)]
    pub since: Option<String>,
    /// Calls started before this date.
    #[arg(long)]
    pub until: Option<String>,
    /// Only this agent's calls.
    #[arg(long)]
    pub agent: Option<String>,
    /// Output.
    #[command(flatten)]
    pub out: OutArgs,
}

fn category(s: &str) -> Result<String, String> {
    if s == "none" || CATEGORIES.contains(&s) {
        Ok(s.to_string())
    } else {
        Err(format!(
            "unknown complaint category; use one of: none, {}",
            CATEGORIES.join(", ")
        ))
    }
}

impl From<&FilterArgs> for Filter {
    fn from(a: &FilterArgs) -> Filter {
        Filter {
            since: a.since.clone(),
            until: a.until.clone(),
            agent: a.agent.clone(),
            caller: a.caller.clone(),
            category: a.category.clone(),
            prompt_kind: a.prompt.clone(),
            min_score: a.min_score,
            max_score: a.max_score,
            phrase: a.phrase.clone(),
            limit: a.limit,
        }
    }
}

/// Runs `callscope calls …`.
pub fn calls(cmd: CallsCommand) -> ExitCode {
    let out = match &cmd {
        CallsCommand::List { out, .. }
        | CallsCommand::Show { out, .. }
        | CallsCommand::Search { out, .. } => out,
    };
    let result = super::open_existing(&out.data_dir).and_then(|db| match &cmd {
        CallsCommand::List { filter, out } => {
            let rows = db.list(&filter.into())?;
            Ok(if out.json {
                json(&rows)
            } else if rows.is_empty() {
                "no calls match\n".to_string()
            } else {
                let mut t = table(&[
                    "call",
                    "started (UTC)",
                    "agent",
                    "caller",
                    "length",
                    "status",
                    "complaint",
                    "score",
                    "prompts",
                    "redacted",
                ]);
                for r in &rows {
                    t.add_row(vec![
                        r.call_id.clone(),
                        r.started_at.clone(),
                        opt(&r.agent_id),
                        opt(&r.caller_id),
                        mmss(r.duration_s),
                        r.status.clone(),
                        opt(&r.category),
                        r.score.map_or("-".into(), |s| format!("{s:.0}")),
                        r.prompts.to_string(),
                        r.redactions.to_string(),
                    ]);
                }
                format!("{t}\n{} call(s)\n", rows.len())
            })
        }
        CallsCommand::Search {
            phrase,
            like,
            embed_model,
            filter,
            out,
        } => {
            let (hits, what) = match (phrase, like) {
                (_, Some(like)) => {
                    let query = like_query(like, embed_model.as_deref())?;
                    (
                        db.search_like(query.as_slice(), &filter.into())?,
                        format!("meaning like {like:?} (no call analysed with the sentence-embedding model?)"),
                    )
                }
                (Some(phrase), None) => (
                    db.search(phrase, &filter.into())?,
                    format!("contains {phrase:?}"),
                ),
                (None, None) => {
                    return Err(StoreError::BadFilter(
                        "give a phrase or --like TEXT".to_string(),
                    ));
                }
            };
            Ok(if out.json {
                json(&hits)
            } else if hits.is_empty() {
                format!("no redacted transcript segment {what}\n")
            } else {
                let like = like.is_some();
                let mut head = vec!["call", "started (UTC)", "agent", "at", "speaker", "text"];
                if like {
                    head.insert(0, "similarity");
                }
                let mut t = table(&head);
                for h in &hits {
                    let mut row = vec![
                        h.call_id.clone(),
                        h.started_at.clone(),
                        opt(&h.agent_id),
                        mmss(h.start),
                        h.speaker.clone(),
                        h.text.clone(),
                    ];
                    if like {
                        row.insert(0, h.similarity.map_or("-".into(), |v| format!("{v:.2}")));
                    }
                    t.add_row(row);
                }
                format!("{t}\n{} segment(s)\n", hits.len())
            })
        }
        CallsCommand::Show { call_id, out } => match db.report_json(call_id)? {
            None => Err(StoreError::BadFilter(format!(
                "no call {call_id:?} in {}; `callscope calls list` shows what is stored",
                out.data_dir.display()
            ))),
            Some(text) if out.json => Ok(text + "\n"),
            Some(text) => Ok(show(&serde_json::from_str(&text).map_err(|e| {
                StoreError::BadFilter(format!("stored report of {call_id} is unreadable: {e}"))
            })?)),
        },
    });
    finish(result)
}

/// The embedding of a `--like` query, as segments are embedded.
fn like_query(
    text: &str,
    dir: Option<&std::path::Path>,
) -> Result<crate::embed::Embedding, StoreError> {
    let dir = dir.map_or_else(crate::embed::default_dir, std::path::Path::to_path_buf);
    let embedder = crate::embed::Embedder::load(&dir)
        .map_err(|e| StoreError::BadFilter(format!("--like needs the model: {e}")))?;
    like_embedding(&embedder, text)
}

/// The embedding of a "calls like this" sentence by `embedder`, made as a
/// stored segment's is (numbers and dates left out).
pub fn like_embedding(
    embedder: &crate::embed::Embedder,
    text: &str,
) -> Result<crate::embed::Embedding, StoreError> {
    let c = crate::redact::meaning::context(text.split_whitespace()).ok_or_else(|| {
        StoreError::BadFilter("--like needs some words (numbers and dates are left out)".into())
    })?;
    let v = embedder
        .embed(&[&c.text])
        .map_err(|e| StoreError::BadFilter(e.to_string()))?
        .pop()
        .ok_or_else(|| StoreError::BadFilter("no embedding for the --like text".into()))?;
    Ok(crate::embed::Embedding::new(v))
}

/// Runs `callscope trends`.
pub fn trends(args: TrendsArgs) -> ExitCode {
    let filter = Filter {
        since: args.since.clone(),
        until: args.until.clone(),
        agent: args.agent.clone(),
        ..Filter::default()
    };
    let result = super::open_existing(&args.out.data_dir).and_then(|db| {
        let tr = db.trends(&filter)?;
        if args.out.json {
            return Ok(json(&tr));
        }
        let f = |x: Option<f64>, d: usize| x.map_or("-".to_string(), |x| format!("{x:.d$}"));
        let mut s = format!("{} call(s)\n", tr.calls);
        s += &section(
            "Complaints by category per week",
            &["week", "category", "calls"],
            tr.complaints_by_week
                .iter()
                .map(|w| vec![w.week.clone(), w.category.clone(), w.calls.to_string()])
                .collect(),
        );
        s += &section(
            "Recurring complaints (two or more calls)",
            &["category", "calls", "weeks", "callers", "first", "last"],
            tr.recurring_complaints
                .iter()
                .map(|r| {
                    vec![
                        r.category.clone(),
                        r.calls.to_string(),
                        r.weeks.to_string(),
                        r.callers.to_string(),
                        r.first.clone(),
                        r.last.clone(),
                    ]
                })
                .collect(),
        );
        s += &section(
            "Repeat callers",
            &["caller", "calls", "first", "last", "complaints", "call ids"],
            tr.repeat_callers
                .iter()
                .map(|r| {
                    vec![
                        r.caller_id.clone(),
                        r.calls.to_string(),
                        r.first.clone(),
                        r.last.clone(),
                        r.categories.clone(),
                        r.call_ids.clone(),
                    ]
                })
                .collect(),
        );
        s += &section(
            "Agents (averages per call)",
            &[
                "agent",
                "calls",
                "QA score",
                "talk/listen",
                "wpm",
                "cut-ins",
                "dead air s",
                "prompts",
                "apologised",
                "escalations",
                "cancel threats",
            ],
            tr.agents
                .iter()
                .map(|a| {
                    vec![
                        a.agent_id.clone(),
                        a.calls.to_string(),
                        f(a.score, 0),
                        f(a.talk_listen_ratio, 2),
                        f(a.wpm, 0),
                        f(a.interruptions, 2),
                        f(a.dead_air_s, 1),
                        format!("{:.1}", a.prompts),
                        a.apology_rate
                            .map_or("-".to_string(), |r| format!("{:.0} %", r * 100.0)),
                        a.escalations.to_string(),
                        a.cancellations.to_string(),
                    ]
                })
                .collect(),
        );
        Ok(s)
    });
    finish(result)
}

/// `callscope audit …`
#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// Check every stored call (or one): its audit trail's line chain, its
    /// recording's SHA-256 against the trail, the trail's head against its
    /// anchor, and the anchor chain. One line per call; exit 1 naming what
    /// was tampered with.
    Verify(VerifyArgs),
}

/// Arguments of `callscope audit verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// Only this call.
    #[arg(long = "call", value_name = "ID", conflicts_with = "all")]
    pub call: Option<String>,
    /// Every call, stored or purged (the default).
    #[arg(long)]
    pub all: bool,
    /// Output.
    #[command(flatten)]
    pub out: OutArgs,
}

/// Arguments of `callscope purge`.
#[derive(Debug, clap::Args)]
pub struct PurgeArgs {
    /// Remove calls stored more than this many days ago (at least 1).
    #[arg(long, value_name = "DAYS", value_parser = clap::value_parser!(u64).range(1..=36_500))]
    pub older_than: u64,
    /// Output.
    #[command(flatten)]
    pub out: OutArgs,
}

/// Runs `callscope audit …`: 0 when everything verifies, 1 when something
/// was tampered with (each problem named), 2 when there is no store or no
/// such call.
pub fn audit(cmd: AuditCommand) -> ExitCode {
    let AuditCommand::Verify(args) = cmd;
    let which = match &args.call {
        Some(id) => Which::Call(id),
        None => Which::All,
    };
    let report = match verify(&args.out.data_dir, which) {
        Ok(r) => r,
        Err(e) => return finish(Err(e)),
    };
    if args.out.json {
        print!("{}", json(&report));
    } else {
        print!("{}", verify_text(&report));
    }
    if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// The verify report for people: a line per call, the chain, a tally.
pub fn verify_text(report: &VerifyReport) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let (mut ok, mut purged, mut failed) = (0, 0, 0);
    for c in &report.calls {
        match c.verdict {
            Verdict::Ok => {
                ok += 1;
                let _ = writeln!(s, "ok       {}", c.call_id);
            }
            Verdict::Purged => {
                purged += 1;
                let _ = writeln!(
                    s,
                    "purged   {} (purge record {})",
                    c.call_id,
                    c.purged_by.unwrap_or_default()
                );
            }
            Verdict::Failed => {
                failed += 1;
                let problems: Vec<String> = c.problems.iter().map(ToString::to_string).collect();
                let _ = writeln!(s, "TAMPERED {}: {}", c.call_id, problems.join("; "));
            }
        }
    }
    match &report.chain {
        ChainCheck::Ok(head) => {
            let _ = writeln!(
                s,
                "anchor chain: ok, {} record(s), head {}",
                head.rows, head.hash
            );
        }
        ChainCheck::Broken {
            at: b,
            call_id: call,
        } => {
            let _ = writeln!(
                s,
                "TAMPERED anchor chain: record {}{}: {}",
                b.seq,
                call.as_deref()
                    .map_or(String::new(), |c| format!(" (call {c})")),
                b.reason
            );
        }
    }
    let _ = writeln!(
        s,
        "{ok} call(s) ok, {purged} purged, {failed} tampered{}",
        if matches!(report.chain, ChainCheck::Broken { .. }) {
            "; anchor chain broken"
        } else {
            ""
        }
    );
    s
}

/// Runs `callscope purge`.
pub fn purge(args: PurgeArgs) -> ExitCode {
    let older = std::time::Duration::from_secs(args.older_than * 86_400);
    let result = crate::store::purge::purge(&args.out.data_dir, older).map(|p| {
        if args.out.json {
            return json(&p);
        }
        let mut s = format!(
            "purged {} call(s) stored more than {} day(s) ago; {} file(s) removed\n",
            p.call_ids.len(),
            args.older_than,
            p.files_removed
        );
        for id in &p.call_ids {
            s += &format!("  {id}\n");
        }
        for f in &p.files_left {
            s += &format!("  could not remove {} (the next purge retries)\n", f.display());
        }
        for id in &p.objects_left {
            s += &format!("  could not delete {id}'s objects in object storage (retried by serve and by the next purge)\n");
        }
        for id in &p.objects_caught_up {
            s += &format!("  deleted the objects of {id}, purged earlier\n");
        }
        if !p.wal_checkpointed {
            s += "  note: a reader kept the WAL checkpoint from finishing; deleted pages leave the -wal file at the next checkpoint\n";
        }
        s
    });
    finish(result)
}

fn finish(result: Result<String, StoreError>) -> ExitCode {
    match result {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            match e {
                StoreError::Missing(_) | StoreError::BadFilter(_) | StoreError::TooNew { .. } => {
                    ExitCode::from(2)
                }
                _ => ExitCode::from(1),
            }
        }
    }
}

/// A call's stored report, for people.
fn show(r: &Report) -> String {
    use std::fmt::Write;
    let mut s = r.human_summary();
    let _ = writeln!(
        s,
        "  started {}  agent {}  caller {}",
        opt(&r.started_at),
        opt(&r.agent_id),
        opt(&r.caller_id)
    );
    if let Some(c) = &r.complaint {
        let _ = writeln!(s, "  complaint: {} ({})", c.category, c.evidence);
    }
    if let Some(f) = &r.flags {
        let _ = writeln!(
            s,
            "  apologised {}  escalation requested {}  cancellation threatened {}",
            yes(f.apologised),
            yes(f.escalation_requested),
            yes(f.cancellation_threatened)
        );
    }
    if let Some(se) = &r.sentiment {
        let _ = write!(
            s,
            "  sentiment ({}): agent {:+.2} → {:+.2} {}",
            se.method, se.agent.start, se.agent.end, se.agent.trend
        );
        if let Some(c) = &se.customer {
            let _ = write!(s, "; customer {:+.2} → {:+.2} {}", c.start, c.end, c.trend);
        }
        let _ = writeln!(s);
    }
    if let Some(sc) = &r.scorecard {
        let _ = writeln!(s, "\nQA scorecard {:.0}/100", sc.score);
        let mut t = table(&["item", "score", "weight", "evidence"]);
        for i in &sc.items {
            t.add_row(vec![
                i.name.clone(),
                i.score.map_or("n/a".into(), |x| format!("{x:.0}")),
                format!("{}", i.weight),
                i.evidence.clone(),
            ]);
        }
        let _ = writeln!(s, "{t}");
    }
    if !r.prompts.is_empty() {
        let _ = writeln!(s, "\nPrompts");
        let mut t = table(&["at", "kind", "severity", "message", "evidence"]);
        for p in &r.prompts {
            t.add_row(vec![
                mmss(p.t),
                p.kind.clone() + if p.supervisor { " (supervisor)" } else { "" },
                p.severity.clone(),
                p.message.clone(),
                p.evidence.to_string(),
            ]);
        }
        let _ = writeln!(s, "{t}");
    }
    if let Some(cs) = r.commitments.as_ref().filter(|c| !c.is_empty()) {
        let _ = writeln!(s, "\nCommitments");
        for c in cs {
            let _ = writeln!(s, "  {}  {}", mmss(c.t), c.text);
        }
    }
    if !r.redactions.is_empty() {
        let _ = writeln!(s, "\nRedacted");
        for x in &r.redactions {
            let _ = writeln!(
                s,
                "  {}–{}  {} ({})",
                mmss(x.start),
                mmss(x.end),
                x.kind,
                x.speaker
            );
        }
    }
    if !r.segments.is_empty() {
        let _ = writeln!(s, "\nTranscript (redacted)");
        for seg in &r.segments {
            let _ = writeln!(s, "  {}  {:<8}  {}", mmss(seg.start), seg.speaker, seg.text);
        }
    }
    s
}

/// A table in the commands' style with these column headers.
pub(crate) fn table(headers: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_style(UTF8_BORDERS_ONLY)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(headers.to_vec());
    t
}

/// A titled table, or "(none)" under the title when there are no rows.
fn section(title: &str, headers: &[&str], rows: Vec<Vec<String>>) -> String {
    if rows.is_empty() {
        return format!("\n{title}\n  (none)\n");
    }
    let mut t = table(headers);
    t.add_rows(rows);
    format!("\n{title}\n{t}\n")
}

fn json<T: serde::Serialize>(x: &T) -> String {
    serde_json::to_string_pretty(x).expect("query results serialise") + "\n"
}

fn opt(s: &Option<String>) -> String {
    s.clone().unwrap_or_else(|| "-".to_string())
}

fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

/// `m:ss` of a media time.
fn mmss(t: f64) -> String {
    let t = t.max(0.0).round() as u64;
    format!("{}:{:02}", t / 60, t % 60)
}
