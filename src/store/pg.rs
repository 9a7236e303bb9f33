//! The call store on PostgreSQL, for a cluster of callscope nodes sharing
//! one store (`--store postgres://…`). Same tables, columns, anchor chain
//! and answers as the SQLite store ([`super::db::CallStore`]), in
//! PostgreSQL's dialect (`migrations/postgres/`): full-text search with a
//! `tsvector` column and `phraseto_tsquery` instead of FTS5, the anchor
//! chain appended under an advisory lock so nodes append one at a time,
//! and sentence embeddings as `bytea` compared in Rust (pgvector is not
//! packaged for Debian 12's PostgreSQL 15).
//!
//! Synchronous like the SQLite store: the server calls it from
//! `spawn_blocking`. Connections come from an r2d2 pool; a connection that
//! fails for a transient reason (server restarting, network) is reported
//! as [`PgError::transient`] so the caller can keep the call and retry.

use std::time::Duration;

use postgres::Row;
use postgres::types::ToSql;
use r2d2_postgres::PostgresConnectionManager;
use tokio_postgres_rustls::MakeRustlsConnect;
use tokio_rustls::rustls;

use super::anchor::{Anchor, EventKind, NewAnchor};
use super::db::{
    AgentKpis, CallRow, Filter, IfExists, Recurring, RepeatCaller, SearchHit, StoreError,
    StoredFiles, Trends, WeekCount,
};
use super::db::{limit, round1, round2};
use crate::redact::Redacted;
use crate::report::Report;

/// The schema version this build writes (the SQLite store's number).
pub const SCHEMA_VERSION: i64 = 3;
/// The advisory lock key writers of the anchor chain and the schema hold
/// ("callscop" in ASCII).
const LOCK: i64 = 0x6361_6c6c_7363_6f70;
/// How long to wait for a pooled connection before giving up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A PostgreSQL failure, with whether retrying may help.
#[derive(Debug, thiserror::Error)]
#[error("PostgreSQL store {url}: {detail}{}", if *.transient { " (transient: the call is kept and retried)" } else { "" })]
pub struct PgError {
    /// The store URL without its password.
    pub url: String,
    /// What failed, with its causes.
    pub detail: String,
    /// Whether the server may answer a retry (unreachable, restarting,
    /// a serialization conflict).
    pub transient: bool,
}

/// The URL without a password, for messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}{user}{}", &url[..s + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}

/// Whether a PostgreSQL error may go away on retry.
fn transient(e: &postgres::Error) -> bool {
    use postgres::error::SqlState;
    if e.is_closed() {
        return true;
    }
    match e.code() {
        Some(c) => {
            c.code().starts_with("08")
                || *c == SqlState::T_R_SERIALIZATION_FAILURE
                || *c == SqlState::T_R_DEADLOCK_DETECTED
                || *c == SqlState::TOO_MANY_CONNECTIONS
                || *c == SqlState::ADMIN_SHUTDOWN
                || *c == SqlState::CANNOT_CONNECT_NOW
        }
        None => std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>()),
    }
}

/// The message of an error and its causes.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let c_text = c.to_string();
        if !s.contains(&c_text) {
            s.push_str(": ");
            s.push_str(&c_text);
        }
        cause = c.source();
    }
    s
}

type Pool = r2d2::Pool<PostgresConnectionManager<MakeRustlsConnect>>;

/// An open PostgreSQL call store.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    url: String,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").field("url", &self.url).finish()
    }
}

impl PgStore {
    /// Connects (a pool of up to `max` connections) and creates or checks
    /// the schema. With `ca` (PEM: the CA that signed the server's
    /// certificate) every connection uses TLS and checks the server's
    /// certificate and name; without it only a loopback or Unix-socket
    /// server is accepted (the store holds transcripts).
    pub fn connect(url: &str, max: u32, ca: Option<&std::path::Path>) -> Result<Self, StoreError> {
        let shown = redact_url(url);
        let fail = |detail: String| {
            StoreError::Postgres(PgError {
                url: shown.clone(),
                detail,
                transient: false,
            })
        };
        let mut cfg: postgres::Config = url.parse().map_err(|e: postgres::Error| {
            fail(format!(
                "not a PostgreSQL URL ({e}); use postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE"
            ))
        })?;
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| fail(e.to_string()))?;
        let tls = match ca {
            Some(ca) => {
                let mut roots = rustls::RootCertStore::empty();
                for c in crate::security::tls::certs("--store-ca", ca)
                    .map_err(|e| fail(e.to_string()))?
                {
                    roots.add(c).map_err(|e| fail(format!("--store-ca: {e}")))?;
                }
                cfg.ssl_mode(postgres::config::SslMode::Require);
                builder.with_root_certificates(roots).with_no_client_auth()
            }
            None => {
                let local = cfg.get_hosts().iter().all(|h| match h {
                    postgres::config::Host::Tcp(name) => crate::security::tls::loopback_host(name),
                    postgres::config::Host::Unix(_) => true,
                });
                let local = local
                    && cfg
                        .get_hostaddrs()
                        .iter()
                        .all(std::net::IpAddr::is_loopback);
                if !local {
                    return Err(fail(
                        "a store on another machine needs TLS: the store holds transcripts; give --store-ca with the CA that signed the server's certificate (and ssl = on in postgresql.conf)".into(),
                    ));
                }
                cfg.ssl_mode(postgres::config::SslMode::Disable);
                builder
                    .with_root_certificates(rustls::RootCertStore::empty())
                    .with_no_client_auth()
            }
        };
        let pool = r2d2::Pool::builder()
            .max_size(max.max(1))
            .connection_timeout(CONNECT_TIMEOUT)
            .build_unchecked(PostgresConnectionManager::new(
                cfg,
                MakeRustlsConnect::new(tls),
            ));
        let store = PgStore { pool, url: shown };
        store.migrate()?;
        Ok(store)
    }

    fn err(&self, e: &postgres::Error) -> StoreError {
        StoreError::Postgres(PgError {
            url: self.url.clone(),
            detail: chain(e),
            transient: transient(e),
        })
    }

    fn conn(
        &self,
    ) -> Result<r2d2::PooledConnection<PostgresConnectionManager<MakeRustlsConnect>>, StoreError>
    {
        self.pool.get().map_err(|e| {
            StoreError::Postgres(PgError {
                url: self.url.clone(),
                detail: format!(
                    "cannot connect ({}); is the server running and the URL right?",
                    chain(&e)
                ),
                transient: true,
            })
        })
    }

    /// Creates the schema on an empty database; refuses one written by a
    /// newer callscope.
    fn migrate(&self) -> Result<(), StoreError> {
        let mut c = self.conn()?;
        let mut tx = c.transaction().map_err(|e| self.err(&e))?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK])
            .map_err(|e| self.err(&e))?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS callscope_schema (version BIGINT NOT NULL)")
            .map_err(|e| self.err(&e))?;
        let found: Option<i64> = tx
            .query_opt("SELECT max(version) FROM callscope_schema", &[])
            .map_err(|e| self.err(&e))?
            .and_then(|r| r.get(0));
        match found {
            Some(v) if v > SCHEMA_VERSION => {
                return Err(StoreError::TooNew {
                    path: self.url.clone().into(),
                    found: v,
                    known: SCHEMA_VERSION,
                });
            }
            Some(_) => {}
            None => {
                // Accents folded like FTS5's unicode61 where the server has
                // the unaccent extension (PostgreSQL's contrib); plain
                // lower-case words otherwise.
                let unaccent = tx
                    .batch_execute(
                        "SAVEPOINT ext; CREATE EXTENSION IF NOT EXISTS unaccent; RELEASE ext",
                    )
                    .is_ok();
                if !unaccent {
                    tx.batch_execute("ROLLBACK TO SAVEPOINT ext")
                        .map_err(|e| self.err(&e))?;
                }
                tx.batch_execute(
                    "DROP TEXT SEARCH CONFIGURATION IF EXISTS callscope;
                     CREATE TEXT SEARCH CONFIGURATION callscope (COPY = simple)",
                )
                .map_err(|e| self.err(&e))?;
                if unaccent {
                    tx.batch_execute(
                        "ALTER TEXT SEARCH CONFIGURATION callscope
                         ALTER MAPPING FOR hword, hword_part, word WITH unaccent, simple",
                    )
                    .map_err(|e| self.err(&e))?;
                }
                tx.batch_execute(include_str!("migrations/postgres/0003_schema.sql"))
                    .map_err(|e| self.err(&e))?;
                tx.execute(
                    "INSERT INTO callscope_schema (version) VALUES ($1)",
                    &[&SCHEMA_VERSION],
                )
                .map_err(|e| self.err(&e))?;
            }
        }
        tx.commit().map_err(|e| self.err(&e))
    }

    /// The schema version.
    pub fn version(&self) -> Result<i64, StoreError> {
        let mut c = self.conn()?;
        let r = c
            .query_one("SELECT max(version) FROM callscope_schema", &[])
            .map_err(|e| self.err(&e))?;
        Ok(r.get::<_, Option<i64>>(0).unwrap_or(0))
    }

    /// Whether a call id is stored.
    pub fn exists(&self, call_id: &str) -> Result<bool, StoreError> {
        let mut c = self.conn()?;
        let r = c
            .query_opt("SELECT 1 FROM calls WHERE call_id = $1", &[&call_id])
            .map_err(|e| self.err(&e))?;
        Ok(r.is_some())
    }

    /// Stores a call in one transaction, as [`super::db::CallStore::put`]
    /// does: refused when the id is stored unless `if_exists` replaces it;
    /// its trail verified and anchored with the recording's hash in the
    /// same transaction.
    pub fn put(
        &self,
        report: &Redacted<Report>,
        files: &StoredFiles,
        if_exists: IfExists,
    ) -> Result<(), StoreError> {
        let rows = super::db::CallRows::of(report, files)?;
        let r = report.get();
        let mut c = self.conn()?;
        let e = |x: postgres::Error| self.err(&x);
        let mut tx = c.transaction().map_err(e)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK])
            .map_err(e)?;
        let existed = tx
            .execute("DELETE FROM calls WHERE call_id = $1", &[&r.call_id])
            .map_err(e)?
            > 0;
        if existed && if_exists == IfExists::Refuse {
            return Err(StoreError::AlreadyExists {
                call_id: r.call_id.clone(),
            });
        }
        let kind = if existed {
            EventKind::Replace
        } else {
            EventKind::Store
        };
        append_anchor(
            &mut tx,
            kind,
            rows.stored_at,
            &NewAnchor {
                call_id: Some(&r.call_id),
                trail_head: rows.trail_head.as_deref(),
                recording_sha256: files.recording.as_ref().map(|(_, h)| h.as_str()),
                detail: None,
            },
        )
        .map_err(e)?;
        let recording_path = files
            .recording
            .as_ref()
            .map(|(p, _)| p.display().to_string());
        let audit_path = files.audit.as_ref().map(|p| p.display().to_string());
        let interruptions = r.interruptions.as_ref().map(|v| v.len() as i64);
        let category = r.complaint.as_ref().map(|c| c.category.clone());
        let evidence = r.complaint.as_ref().map(|c| c.evidence.clone());
        let flag = |f: fn(&crate::rules::insights::Flags) -> bool| r.flags.as_ref().map(f);
        let apologised = flag(|f| f.apologised);
        let escalation = flag(|f| f.escalation_requested);
        let cancellation = flag(|f| f.cancellation_threatened);
        let score = r.scorecard.as_ref().map(|s| s.score);
        let prompts = r.prompts.len() as i64;
        let redactions = r.redactions.len() as i64;
        let recording_sha = files.recording.as_ref().map(|(_, h)| h.clone());
        tx.execute(
            "INSERT INTO calls (call_id, started_at, stored_at, agent_id, caller_id, status,
                channel_layout, source_name, codec, duration_s, talk_listen_ratio, overtalk_s,
                silence_total_s, non_talk_time_s, interruptions, agent_interruptions,
                complaint_category, complaint_evidence, apologised, escalation_requested,
                cancellation_threatened, score, prompts, redactions, recording_path,
                recording_sha256, audit_path, report_json)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28)",
            &[
                &r.call_id,
                &rows.started_at,
                &rows.stored_at,
                &r.agent_id,
                &r.caller_id,
                &r.status,
                &r.channel_layout,
                &r.source.name,
                &r.source.codec,
                &r.duration_s,
                &r.talk_listen_ratio,
                &r.overtalk_s,
                &r.silence_total_s,
                &r.non_talk_time_s,
                &interruptions,
                &rows.agent_cut_ins,
                &category,
                &evidence,
                &apologised,
                &escalation,
                &cancellation,
                &score,
                &prompts,
                &redactions,
                &recording_path,
                &recording_sha,
                &audit_path,
                &rows.json,
            ],
        )
        .map_err(e)?;
        for k in &rows.kpis {
            tx.execute(
                "INSERT INTO kpis (call_id, speaker, talk_time_s, talk_share, turns, words,
                    wpm, loudness_dbfs, syllables_per_s, est_wpm)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                &[
                    &r.call_id,
                    &k.speaker,
                    &k.talk_time_s,
                    &k.talk_share,
                    &k.turns,
                    &k.words,
                    &k.wpm,
                    &k.loudness_dbfs,
                    &k.syllables_per_s,
                    &k.est_wpm,
                ],
            )
            .map_err(e)?;
        }
        let seg = tx
            .prepare(
                "INSERT INTO segments (call_id, seq, speaker, start_s, end_s, text, embedding)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .map_err(e)?;
        for (i, s) in r.segments.iter().enumerate() {
            let embedding = s.embedding.as_ref().map(|v| v.to_le_bytes());
            tx.execute(
                &seg,
                &[
                    &r.call_id,
                    &(i as i64),
                    &s.speaker.to_string(),
                    &s.start,
                    &s.end,
                    &s.text,
                    &embedding,
                ],
            )
            .map_err(e)?;
        }
        for s in &rows.signals {
            tx.execute(
                "INSERT INTO signals (call_id, kind, start_s, end_s, by_speaker, of_speaker)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[&r.call_id, &s.kind, &s.start, &s.end, &s.by, &s.of],
            )
            .map_err(e)?;
        }
        for p in &r.prompts {
            tx.execute(
                "INSERT INTO prompts (call_id, t, kind, severity, message, evidence, supervisor)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[
                    &r.call_id,
                    &p.t,
                    &p.kind,
                    &p.severity,
                    &p.message,
                    &p.evidence.to_string(),
                    &p.supervisor,
                ],
            )
            .map_err(e)?;
        }
        for i in r.scorecard.iter().flat_map(|s| &s.items) {
            tx.execute(
                "INSERT INTO scorecard_items (call_id, name, score, weight, evidence)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (call_id, name) DO UPDATE SET score = EXCLUDED.score,
                    weight = EXCLUDED.weight, evidence = EXCLUDED.evidence",
                &[&r.call_id, &i.name, &i.score, &i.weight, &i.evidence],
            )
            .map_err(e)?;
        }
        for cm in r.commitments.iter().flatten() {
            tx.execute(
                "INSERT INTO commitments (call_id, t, text) VALUES ($1, $2, $3)",
                &[&r.call_id, &cm.t, &cm.text],
            )
            .map_err(e)?;
        }
        for s in &r.redactions {
            tx.execute(
                "INSERT INTO redactions (call_id, kind, speaker, start_s, end_s)
                 VALUES ($1, $2, $3, $4, $5)",
                &[
                    &r.call_id,
                    &s.kind,
                    &s.speaker.to_string(),
                    &s.start,
                    &s.end,
                ],
            )
            .map_err(e)?;
        }
        tx.commit().map_err(e)?;
        if existed {
            tracing::info!(call_id = %r.call_id, "stored call replaced (recorded in the anchor chain)");
        }
        Ok(())
    }

    /// Every row of the anchor chain, in order.
    pub fn anchors(&self) -> Result<Vec<Anchor>, StoreError> {
        let mut c = self.conn()?;
        let rows = c
            .query(
                "SELECT seq, kind, call_id, at, trail_head, recording_sha256, detail, prev_hash,
                    hash FROM anchors ORDER BY seq",
                &[],
            )
            .map_err(|e| self.err(&e))?;
        Ok(rows
            .iter()
            .map(|r| {
                Anchor::from_stored(
                    r.get(0),
                    r.get(1),
                    r.get(2),
                    r.get(3),
                    r.get(4),
                    r.get(5),
                    r.get(6),
                    r.get(7),
                    r.get(8),
                )
            })
            .collect())
    }

    /// Each stored call's recording hash (as its row holds it), by call id.
    pub fn stored_files(&self) -> Result<super::verify::StoredRows, StoreError> {
        let rows = self.query("SELECT call_id, recording_sha256 FROM calls", &[])?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// The stored report of a call, as JSON (`None` if there is no such call).
    pub fn report_json(&self, call_id: &str) -> Result<Option<String>, StoreError> {
        let mut c = self.conn()?;
        let r = c
            .query_opt(
                "SELECT report_json FROM calls WHERE call_id = $1",
                &[&call_id],
            )
            .map_err(|e| self.err(&e))?;
        Ok(r.map(|r| r.get(0)))
    }

    /// Calls matching `f`, newest first.
    pub fn list(&self, f: &Filter) -> Result<Vec<CallRow>, StoreError> {
        let w = Where::of(f)?;
        let sql = format!(
            "SELECT c.call_id, {}, c.stored_at, c.agent_id, c.caller_id, c.status,
                c.duration_s, c.complaint_category, c.score, c.prompts, c.redactions
             FROM calls c {}
             ORDER BY c.started_at DESC, c.call_id {}",
            datetime("c.started_at"),
            w.clause,
            limit(f.limit)
        );
        let rows = self.query(&sql, &w.args)?;
        Ok(rows
            .iter()
            .map(|r| CallRow {
                call_id: r.get(0),
                started_at: r.get(1),
                stored_at: r.get(2),
                agent_id: r.get(3),
                caller_id: r.get(4),
                status: r.get(5),
                duration_s: r.get(6),
                category: r.get(7),
                score: r.get(8),
                prompts: r.get(9),
                redactions: r.get(10),
            })
            .collect())
    }

    /// Transcript segments containing `phrase` (its words in order), in
    /// calls matching `f`; newest call first, in call order.
    pub fn search(&self, phrase: &str, f: &Filter) -> Result<Vec<SearchHit>, StoreError> {
        let words = super::db::phrase_words(phrase)?;
        let mut f = f.clone();
        f.phrase = None;
        let mut w = Where::of(&f)?;
        w.push(
            "s.tsv @@ phraseto_tsquery('callscope', ?)",
            Arg::Text(words),
        );
        let sql = format!(
            "SELECT c.call_id, {}, c.agent_id, s.speaker, s.start_s, s.end_s, s.text
             FROM segments s JOIN calls c ON c.call_id = s.call_id {}
             ORDER BY c.started_at DESC, c.call_id, s.seq {}",
            datetime("c.started_at"),
            w.clause_with_join(),
            limit(f.limit)
        );
        Ok(self.query(&sql, &w.args)?.iter().map(hit).collect())
    }

    /// Segments nearest in meaning to `query`, as
    /// [`super::db::CallStore::search_like`].
    pub fn search_like(&self, query: &[f32], f: &Filter) -> Result<Vec<SearchHit>, StoreError> {
        let mut w = Where::of(&Filter {
            limit: 0,
            ..f.clone()
        })?;
        w.conds.push("s.embedding IS NOT NULL".into());
        let sql = format!(
            "SELECT c.call_id, {}, c.agent_id, s.speaker, s.start_s, s.end_s, s.text, s.embedding
             FROM segments s JOIN calls c ON c.call_id = s.call_id {}",
            datetime("c.started_at"),
            w.clause_with_join()
        );
        let rows = self.query(&sql, &w.args)?;
        let hits = rows
            .iter()
            .filter_map(|r| {
                let blob: Vec<u8> = r.get(7);
                let v = crate::embed::Embedding::from_le_bytes(&blob)?;
                let mut h = hit(r);
                let c = crate::embed::cosine(v.as_slice(), query);
                h.similarity = Some((f64::from(c) * 1000.0).round() / 1000.0);
                Some(h)
            })
            .collect();
        Ok(super::db::nearest(hits, f.limit))
    }

    /// Complaints per week, recurring complaints, repeat callers and
    /// agents' averages over the calls matching `f`.
    pub fn trends(&self, f: &Filter) -> Result<Trends, StoreError> {
        let w = Where::of(&Filter {
            limit: 0,
            ..f.clone()
        })?;
        let scope = format!("WITH sel AS (SELECT c.* FROM calls c {})", w.clause);
        let week = "to_char(to_timestamp(started_at) AT TIME ZONE 'UTC', 'IYYY-\"W\"IW')";
        let calls: i64 = self
            .query(&format!("{scope} SELECT count(*) FROM sel"), &w.args)?
            .first()
            .map_or(0, |r| r.get(0));
        let by_week = self
            .query(
                &format!(
                    "{scope} SELECT {week} AS week, complaint_category, count(*)
                     FROM sel WHERE complaint_category IS NOT NULL
                     GROUP BY week, complaint_category
                     ORDER BY week, count(*) DESC, complaint_category"
                ),
                &w.args,
            )?
            .iter()
            .map(|r| WeekCount {
                week: r.get(0),
                category: r.get(1),
                calls: r.get(2),
            })
            .collect();
        let recurring = self
            .query(
                &format!(
                    "{scope} SELECT complaint_category, count(*), count(DISTINCT {week}),
                        count(DISTINCT caller_id), {}, {}
                     FROM sel WHERE complaint_category IS NOT NULL
                     GROUP BY complaint_category HAVING count(*) >= 2
                     ORDER BY count(*) DESC, complaint_category",
                    datetime("min(started_at)"),
                    datetime("max(started_at)")
                ),
                &w.args,
            )?
            .iter()
            .map(|r| Recurring {
                category: r.get(0),
                calls: r.get(1),
                weeks: r.get(2),
                callers: r.get(3),
                first: r.get(4),
                last: r.get(5),
            })
            .collect();
        let repeat = self
            .query(
                &format!(
                    "{scope} SELECT caller_id, count(*), {}, {},
                        coalesce(string_agg(DISTINCT complaint_category, ','), ''),
                        string_agg(call_id, ',' ORDER BY started_at, call_id)
                     FROM sel WHERE caller_id IS NOT NULL AND caller_id <> ''
                     GROUP BY caller_id HAVING count(*) >= 2
                     ORDER BY count(*) DESC, caller_id",
                    datetime("min(started_at)"),
                    datetime("max(started_at)")
                ),
                &w.args,
            )?
            .iter()
            .map(|r| RepeatCaller {
                caller_id: r.get(0),
                calls: r.get(1),
                first: r.get(2),
                last: r.get(3),
                categories: r.get(4),
                call_ids: r.get(5),
            })
            .collect();
        let agents = self
            .query(
                &format!(
                    "{scope} SELECT coalesce(nullif(sel.agent_id, ''), '-') AS agent, count(*),
                        avg(score), avg(talk_listen_ratio), avg(k.wpm),
                        avg(agent_interruptions)::double precision,
                        avg(CASE WHEN channel_layout = 'stereo' THEN silence_total_s END),
                        avg(prompts)::double precision,
                        avg(CASE WHEN complaint_category IS NOT NULL
                            THEN apologised::int END)::double precision,
                        coalesce(sum(escalation_requested::int), 0)::bigint,
                        coalesce(sum(cancellation_threatened::int), 0)::bigint
                     FROM sel LEFT JOIN kpis k ON k.call_id = sel.call_id AND k.speaker = 'agent'
                     GROUP BY agent ORDER BY count(*) DESC, agent"
                ),
                &w.args,
            )?
            .iter()
            .map(|r| AgentKpis {
                agent_id: r.get(0),
                calls: r.get(1),
                score: r.get::<_, Option<f64>>(2).map(round1),
                talk_listen_ratio: r.get::<_, Option<f64>>(3).map(round2),
                wpm: r.get::<_, Option<f64>>(4).map(round1),
                interruptions: r.get::<_, Option<f64>>(5).map(round2),
                dead_air_s: r.get::<_, Option<f64>>(6).map(round1),
                prompts: round2(r.get::<_, Option<f64>>(7).unwrap_or(0.0)),
                apology_rate: r.get::<_, Option<f64>>(8).map(round2),
                escalations: r.get(9),
                cancellations: r.get(10),
            })
            .collect();
        Ok(Trends {
            calls,
            complaints_by_week: by_week,
            recurring_complaints: recurring,
            repeat_callers: repeat,
            agents,
        })
    }

    fn query(&self, sql: &str, args: &[Arg]) -> Result<Vec<Row>, StoreError> {
        let mut c = self.conn()?;
        let params: Vec<&(dyn ToSql + Sync)> = args.iter().map(Arg::as_sql).collect();
        c.query(sql, &params).map_err(|e| self.err(&e))
    }
}

impl PgStore {
    /// Deletes every call stored before `cutoff` (unix seconds) and records
    /// the purge in the anchor chain, in one transaction under [`LOCK`] (so
    /// nodes purging at once purge each call once); then `VACUUM`s the
    /// tables so the space is reused. Returns the ids purged, oldest first.
    pub(crate) fn purge_rows(
        &self,
        cutoff: i64,
        older_than_s: u64,
    ) -> Result<Vec<String>, StoreError> {
        let mut c = self.conn()?;
        let e = |x: postgres::Error| self.err(&x);
        let mut tx = c.transaction().map_err(e)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK])
            .map_err(e)?;
        let ids: Vec<String> = tx
            .query(
                "SELECT call_id FROM calls WHERE stored_at < $1 ORDER BY stored_at, call_id",
                &[&cutoff],
            )
            .map_err(e)?
            .iter()
            .map(|r| r.get(0))
            .collect();
        if ids.is_empty() {
            return Ok(ids);
        }
        tx.execute("DELETE FROM calls WHERE call_id = ANY($1)", &[&ids])
            .map_err(e)?;
        let detail = super::anchor::PurgeDetail::json(&ids, older_than_s);
        append_anchor(
            &mut tx,
            EventKind::Purge,
            super::db::now_unix(),
            &NewAnchor {
                detail: Some(&detail),
                ..Default::default()
            },
        )
        .map_err(e)?;
        tx.commit().map_err(e)?;
        // Outside the transaction; best effort (another node's VACUUM or
        // autovacuum does it otherwise).
        if let Err(x) = c.batch_execute("VACUUM") {
            tracing::debug!(error = %x, "VACUUM after the purge did not run");
        }
        Ok(ids)
    }
}

/// Appends a row to the anchor chain in `tx` (which holds [`LOCK`]).
fn append_anchor(
    tx: &mut postgres::Transaction<'_>,
    kind: EventKind,
    at: i64,
    row: &NewAnchor<'_>,
) -> Result<i64, postgres::Error> {
    let last = tx
        .query_opt(
            "SELECT seq, hash FROM anchors ORDER BY seq DESC LIMIT 1",
            &[],
        )?
        .map(|r| (r.get::<_, i64>(0), r.get::<_, String>(1)));
    let (seq, prev, hash) = super::anchor::next_row(last, kind, at, row);
    tx.execute(
        "INSERT INTO anchors (seq, kind, call_id, at, trail_head, recording_sha256, detail,
            prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        &[
            &seq,
            &kind.as_str(),
            &row.call_id,
            &at,
            &row.trail_head,
            &row.recording_sha256,
            &row.detail,
            &prev,
            &hash,
        ],
    )?;
    Ok(seq)
}

/// A query parameter.
#[derive(Debug, Clone)]
enum Arg {
    Int(i64),
    Real(f64),
    Text(String),
}

impl Arg {
    fn as_sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            Arg::Int(x) => x,
            Arg::Real(x) => x,
            Arg::Text(x) => x,
        }
    }
}

/// `WHERE …` over `calls c` for a filter, with its parameters.
#[derive(Debug, Default)]
struct Where {
    conds: Vec<String>,
    args: Vec<Arg>,
    clause: String,
}

impl Where {
    fn of(f: &Filter) -> Result<Self, StoreError> {
        let mut w = Where::default();
        if let Some(s) = &f.since {
            w.push("c.started_at >= ?", Arg::Int(unix_time(s, "--since")?));
        }
        if let Some(s) = &f.until {
            w.push("c.started_at < ?", Arg::Int(unix_time(s, "--until")?));
        }
        if let Some(a) = &f.agent {
            w.push("c.agent_id = ?", Arg::Text(a.clone()));
        }
        if let Some(a) = &f.caller {
            w.push("c.caller_id = ?", Arg::Text(a.clone()));
        }
        match f.category.as_deref() {
            None => {}
            Some("none") => w.conds.push("c.complaint_category IS NULL".into()),
            Some(cat) => w.push("c.complaint_category = ?", Arg::Text(cat.into())),
        }
        if let Some(k) = &f.prompt_kind {
            w.push(
                "EXISTS (SELECT 1 FROM prompts p WHERE p.call_id = c.call_id AND p.kind = ?)",
                Arg::Text(k.clone()),
            );
        }
        if let Some(x) = f.min_score {
            w.push("c.score >= ?", Arg::Real(x));
        }
        if let Some(x) = f.max_score {
            w.push("c.score <= ?", Arg::Real(x));
        }
        if let Some(p) = &f.phrase {
            w.push(
                "c.call_id IN (SELECT s2.call_id FROM segments s2
                    WHERE s2.tsv @@ phraseto_tsquery('callscope', ?))",
                Arg::Text(super::db::phrase_words(p)?),
            );
        }
        w.clause = w.render();
        Ok(w)
    }

    /// Adds a condition with one `?`, numbered after the arguments so far.
    fn push(&mut self, cond: &str, v: Arg) {
        self.args.push(v);
        self.conds
            .push(cond.replace('?', &format!("${}", self.args.len())));
        self.clause = self.render();
    }

    fn render(&self) -> String {
        if self.conds.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", self.conds.join(" AND "))
        }
    }

    /// The clause after a JOIN (conditions may name `s` too).
    fn clause_with_join(&self) -> String {
        self.render()
    }
}

/// Unix seconds of a date or date-time (UTC), as the SQLite store reads it.
fn unix_time(s: &str, what: &str) -> Result<i64, StoreError> {
    super::db::parse_utc(s).ok_or_else(|| {
        StoreError::BadFilter(format!(
            "{what} {s:?} is not a date: use YYYY-MM-DD or \"YYYY-MM-DD HH:MM\" (UTC)"
        ))
    })
}

/// `YYYY-MM-DD HH:MM:SS` (UTC) of a unix-seconds expression, as SQLite's
/// `datetime(x, 'unixepoch')` writes it.
fn datetime(x: &str) -> String {
    format!("to_char(to_timestamp({x}) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')")
}

/// A [`SearchHit`] from the first seven columns of a search row.
fn hit(r: &Row) -> SearchHit {
    SearchHit {
        call_id: r.get(0),
        started_at: r.get(1),
        agent_id: r.get(2),
        speaker: r.get(3),
        start: r.get(4),
        end: r.get(5),
        text: r.get(6),
        similarity: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_password_in_messages() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db:5432/calls"),
            "postgres://app@db:5432/calls"
        );
        assert_eq!(redact_url("postgres://db/calls"), "postgres://db/calls");
    }

    #[test]
    fn an_unreachable_server_is_a_clear_transient_error() {
        // Nothing listens on port 1.
        let e =
            PgStore::connect("postgres://callscope@127.0.0.1:1/callscope", 1, None).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("cannot connect"), "{text}");
        assert!(text.contains("transient"), "{text}");
        match e {
            StoreError::Postgres(p) => assert!(p.transient),
            other => panic!("{other:?}"),
        }
    }
}

/// A throwaway PostgreSQL server for tests: `initdb` in a temporary
/// directory, started on a free loopback port, stopped and removed when
/// dropped (as the `postgres` user when the tests run as root, since
/// PostgreSQL refuses to run as root). For callscope's own tests.
#[doc(hidden)]
pub mod testing {
    use std::path::PathBuf;
    use std::process::{Command, Stdio};

    /// A running test server.
    pub struct TestPg {
        dir: PathBuf,
        bin: PathBuf,
        root: bool,
        opts: String,
        /// `postgres://callscope@127.0.0.1:PORT/postgres`.
        pub url: String,
    }

    fn bin_dir() -> Option<PathBuf> {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|p| p.join("initdb").exists())
            .collect();
        dirs.sort();
        dirs.pop()
    }

    impl TestPg {
        /// Starts one; `None` (with a note) only when PostgreSQL is not
        /// installed and `CALLSCOPE_SKIP_POSTGRES` is set. Without that
        /// variable a missing PostgreSQL fails the test, saying what to do.
        pub fn start() -> Option<Self> {
            Self::start_with(false)
        }

        /// [`Self::start`] with `fsync` on (durable commits, as in
        /// production; for measuring write latency) or off (tests).
        pub fn start_with(fsync: bool) -> Option<Self> {
            Self::start_full(fsync, None)
        }

        /// [`Self::start`] with TLS on (`ssl = on`) with this certificate
        /// and key (PEM), for the store's TLS tests.
        pub fn start_tls(cert: &std::path::Path, key: &std::path::Path) -> Option<Self> {
            Self::start_full(false, Some((cert, key)))
        }

        fn start_full(
            fsync: bool,
            tls: Option<(&std::path::Path, &std::path::Path)>,
        ) -> Option<Self> {
            let Some(bin) = bin_dir() else {
                if std::env::var_os("CALLSCOPE_SKIP_POSTGRES").is_some() {
                    eprintln!("skipped: PostgreSQL is not installed (CALLSCOPE_SKIP_POSTGRES set)");
                    return None;
                }
                panic!(
                    "the PostgreSQL store tests need PostgreSQL: apt-get install postgresql \
                     (scripts/test.sh does), or set CALLSCOPE_SKIP_POSTGRES=1 to skip them"
                );
            };
            static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
            let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let dir = std::env::temp_dir().join(format!("callscope-pg-{}-{n}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("make the test cluster's directory");
            let root = Command::new("id")
                .arg("-u")
                .output()
                .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
            if root {
                let ok = Command::new("chown")
                    .arg("postgres:")
                    .arg(&dir)
                    .status()
                    .is_ok_and(|s| s.success());
                assert!(ok, "chown the test cluster's directory to postgres");
            }
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            let mut opts = format!(
                "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync={}",
                dir.display(),
                if fsync { "on" } else { "off" }
            );
            if let Some((cert, key)) = tls {
                // The server reads them as its own user, key 0600.
                for (from, name) in [(cert, "server.crt"), (key, "server.key")] {
                    let to = dir.join(name);
                    std::fs::copy(from, &to).expect("copy the test certificate");
                    use std::os::unix::fs::PermissionsExt;
                    std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600))
                        .expect("chmod the test key");
                    if root {
                        let _ = Command::new("chown").arg("postgres:").arg(&to).status();
                    }
                }
                opts.push_str(&format!(
                    " -c ssl=on -c ssl_cert_file={0}/server.crt -c ssl_key_file={0}/server.key",
                    dir.display()
                ));
            }
            let pg = TestPg {
                url: format!("postgres://callscope@127.0.0.1:{port}/postgres"),
                bin,
                root,
                dir,
                opts,
            };
            let data = pg.dir.join("data");
            let d = data.to_str().expect("a UTF-8 temp dir");
            pg.run(&[
                "initdb",
                "-D",
                d,
                "-U",
                "callscope",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ]);
            if tls.is_some() {
                // TLS or nothing over TCP, so a connection that works used it.
                let hba = data.join("pg_hba.conf");
                std::fs::write(
                    &hba,
                    "local all all trust\nhostssl all all 127.0.0.1/32 trust\n",
                )
                .expect("write pg_hba.conf");
                if pg.root {
                    let _ = Command::new("chown").arg("postgres:").arg(&hba).status();
                }
            }
            pg.resume();
            Some(pg)
        }

        /// Stops the server (fast shutdown), keeping its data: the store is
        /// unreachable until [`Self::resume`].
        pub fn pause(&self) {
            let data = self.dir.join("data");
            self.run(&[
                "pg_ctl",
                "-D",
                data.to_str().expect("UTF-8"),
                "-m",
                "fast",
                "-w",
                "stop",
            ]);
        }

        /// Starts the (stopped) server again on the same port.
        pub fn resume(&self) {
            let data = self.dir.join("data");
            let log = self.dir.join("log");
            self.run(&[
                "pg_ctl",
                "-D",
                data.to_str().expect("UTF-8"),
                "-l",
                log.to_str().expect("UTF-8"),
                "-w",
                "-o",
                &self.opts,
                "start",
            ]);
        }

        fn command(&self, tool: &str) -> Command {
            if self.root {
                let mut c = Command::new("runuser");
                c.args(["-u", "postgres", "--"]).arg(self.bin.join(tool));
                c
            } else {
                Command::new(self.bin.join(tool))
            }
        }

        /// Everything in the database, as `pg_dump` writes it (for tests
        /// that scan the store for what must not be there).
        pub fn dump(&self) -> Vec<u8> {
            let out = self
                .command("pg_dump")
                .args(["--no-owner", "-d", &self.url])
                .stdin(Stdio::null())
                .output()
                .expect("run pg_dump");
            assert!(
                out.status.success(),
                "pg_dump failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            out.stdout
        }

        fn run(&self, args: &[&str]) {
            let out = self
                .command(args[0])
                .args(&args[1..])
                .stdin(Stdio::null())
                .output()
                .expect("run a PostgreSQL tool");
            assert!(
                out.status.success(),
                "{} failed: {}",
                args[0],
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    impl Drop for TestPg {
        fn drop(&mut self) {
            let _ = self
                .command("pg_ctl")
                .arg("-D")
                .arg(self.dir.join("data"))
                .args(["-m", "immediate", "-w", "stop"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
