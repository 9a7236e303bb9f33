-- callscope store on PostgreSQL: the same tables and columns as the SQLite
-- store at version 3 (0001_calls.sql, 0002_segment_embeddings.sql,
-- 0003_anchors.sql), in PostgreSQL's dialect. Only crate::store writes here,
-- and only from a Redacted<Report>. Times are unix seconds (calls.started_at,
-- stored_at, anchors.at) or media seconds from the call's start.

CREATE TABLE calls (
    call_id            TEXT PRIMARY KEY,
    started_at         BIGINT NOT NULL,
    stored_at          BIGINT NOT NULL,
    agent_id           TEXT,
    caller_id          TEXT,
    status             TEXT NOT NULL,
    channel_layout     TEXT NOT NULL,
    source_name        TEXT NOT NULL,
    codec              TEXT NOT NULL,
    duration_s         DOUBLE PRECISION NOT NULL,
    talk_listen_ratio  DOUBLE PRECISION,
    overtalk_s         DOUBLE PRECISION NOT NULL,
    silence_total_s    DOUBLE PRECISION NOT NULL,
    non_talk_time_s    DOUBLE PRECISION NOT NULL,
    interruptions      BIGINT,
    agent_interruptions BIGINT,
    complaint_category TEXT,
    complaint_evidence TEXT,
    apologised         BOOLEAN,
    escalation_requested BOOLEAN,
    cancellation_threatened BOOLEAN,
    score              DOUBLE PRECISION,
    prompts            BIGINT NOT NULL,
    redactions         BIGINT NOT NULL,
    recording_path     TEXT,
    recording_sha256   TEXT,
    audit_path         TEXT,
    report_json        TEXT NOT NULL
);
CREATE INDEX calls_started ON calls (started_at);
CREATE INDEX calls_agent ON calls (agent_id, started_at);
CREATE INDEX calls_caller ON calls (caller_id, started_at);
CREATE INDEX calls_category ON calls (complaint_category, started_at);

CREATE TABLE kpis (
    call_id         TEXT NOT NULL REFERENCES calls ON DELETE CASCADE,
    speaker         TEXT NOT NULL,
    talk_time_s     DOUBLE PRECISION NOT NULL,
    talk_share      DOUBLE PRECISION NOT NULL,
    turns           BIGINT NOT NULL,
    words           BIGINT,
    wpm             DOUBLE PRECISION,
    loudness_dbfs   DOUBLE PRECISION,
    syllables_per_s DOUBLE PRECISION,
    est_wpm         DOUBLE PRECISION,
    PRIMARY KEY (call_id, speaker)
);

-- Redacted transcript segments; `tsv` is their full-text index (the
-- `callscope` configuration: lower case, no stemming, no stop words, like
-- FTS5's unicode61). Embeddings are 384 little-endian f32 (no pgvector on
-- Debian 12's PostgreSQL 15: compared in Rust, as with SQLite).
CREATE TABLE segments (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    call_id   TEXT NOT NULL REFERENCES calls ON DELETE CASCADE,
    seq       BIGINT NOT NULL,
    speaker   TEXT NOT NULL,
    start_s   DOUBLE PRECISION NOT NULL,
    end_s     DOUBLE PRECISION NOT NULL,
    text      TEXT NOT NULL,
    embedding BYTEA,
    tsv       TSVECTOR GENERATED ALWAYS AS (to_tsvector('callscope', text)) STORED
);
CREATE INDEX segments_call ON segments (call_id, seq);
CREATE INDEX segments_tsv ON segments USING gin (tsv);

CREATE TABLE signals (
    call_id   TEXT NOT NULL REFERENCES calls ON DELETE CASCADE,
    kind      TEXT NOT NULL,
    start_s   DOUBLE PRECISION NOT NULL,
    end_s     DOUBLE PRECISION NOT NULL,
    by_speaker TEXT,
    of_speaker TEXT
);
CREATE INDEX signals_call ON signals (call_id, kind);

CREATE TABLE prompts (
    call_id    TEXT NOT NULL REFERENCES calls ON DELETE CASCADE,
    t          DOUBLE PRECISION NOT NULL,
    kind       TEXT NOT NULL,
    severity   TEXT NOT NULL,
    message    TEXT NOT NULL,
    evidence   TEXT NOT NULL,
    supervisor BOOLEAN NOT NULL
);
CREATE INDEX prompts_kind ON prompts (kind, call_id);
CREATE INDEX prompts_call ON prompts (call_id);

CREATE TABLE scorecard_items (
    call_id  TEXT NOT NULL REFERENCES calls ON DELETE CASCADE,
    name     TEXT NOT NULL,
    score    DOUBLE PRECISION,
    weight   DOUBLE PRECISION NOT NULL,
    evidence TEXT NOT NULL,
    PRIMARY KEY (call_id, name)
);

CREATE TABLE commitments (
    call_id TEXT NOT NULL REFERENCES calls ON DELETE CASCADE,
    t       DOUBLE PRECISION NOT NULL,
    text    TEXT NOT NULL
);
CREATE INDEX commitments_call ON commitments (call_id);

CREATE TABLE redactions (
    call_id TEXT NOT NULL REFERENCES calls ON DELETE CASCADE,
    kind    TEXT NOT NULL,
    speaker TEXT NOT NULL,
    start_s DOUBLE PRECISION NOT NULL,
    end_s   DOUBLE PRECISION NOT NULL
);
CREATE INDEX redactions_call ON redactions (call_id);
CREATE INDEX redactions_kind ON redactions (kind);

-- The anchor chain (see 0003_anchors.sql): append-only, one row per
-- store-level event, each row's hash covering the previous row's hash.
-- Writers take an advisory lock first, so nodes append one at a time.
CREATE TABLE anchors (
    seq              BIGINT PRIMARY KEY,
    kind             TEXT NOT NULL,
    call_id          TEXT,
    at               BIGINT NOT NULL,
    trail_head       TEXT,
    recording_sha256 TEXT,
    detail           TEXT,
    prev_hash        TEXT NOT NULL,
    hash             TEXT NOT NULL
);
CREATE INDEX anchors_call ON anchors (call_id, seq);
