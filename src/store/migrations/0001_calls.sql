-- callscope store, version 1: calls and everything derived from their
-- redacted reports. Only crate::store::db writes here, and only from a
-- Redacted<Report>. Times are unix seconds (calls.started_at, stored_at)
-- or media seconds from the call's start (everything else).

CREATE TABLE calls (
    call_id            TEXT PRIMARY KEY,
    started_at         INTEGER NOT NULL,
    stored_at          INTEGER NOT NULL,
    agent_id           TEXT,
    caller_id          TEXT,
    status             TEXT NOT NULL,
    channel_layout     TEXT NOT NULL,
    source_name        TEXT NOT NULL,
    codec              TEXT NOT NULL,
    duration_s         REAL NOT NULL,
    talk_listen_ratio  REAL,
    overtalk_s         REAL NOT NULL,
    silence_total_s    REAL NOT NULL,
    non_talk_time_s    REAL NOT NULL,
    interruptions      INTEGER,            -- null for mono calls
    agent_interruptions INTEGER,           -- the agent cut the customer off
    complaint_category TEXT,
    complaint_evidence TEXT,
    apologised         INTEGER,
    escalation_requested INTEGER,
    cancellation_threatened INTEGER,
    score              REAL,               -- QA scorecard, 0-100
    prompts            INTEGER NOT NULL,
    redactions         INTEGER NOT NULL,
    recording_path     TEXT,
    recording_sha256   TEXT,
    audit_path         TEXT,
    report_json        TEXT NOT NULL       -- the whole redacted report
);
CREATE INDEX calls_started ON calls (started_at);
CREATE INDEX calls_agent ON calls (agent_id, started_at);
CREATE INDEX calls_caller ON calls (caller_id, started_at);
CREATE INDEX calls_category ON calls (complaint_category, started_at);

-- Per-speaker measurements (the behavioural KPIs).
CREATE TABLE kpis (
    call_id         TEXT NOT NULL REFERENCES calls ON DELETE CASCADE,
    speaker         TEXT NOT NULL,         -- agent | customer
    talk_time_s     REAL NOT NULL,
    talk_share      REAL NOT NULL,
    turns           INTEGER NOT NULL,
    words           INTEGER,
    wpm             REAL,
    loudness_dbfs   REAL,
    syllables_per_s REAL,
    est_wpm         REAL,
    PRIMARY KEY (call_id, speaker)
);

-- Redacted transcript segments, searchable through segments_fts.
CREATE TABLE segments (
    id       INTEGER PRIMARY KEY,
    call_id  TEXT NOT NULL REFERENCES calls ON DELETE CASCADE,
    seq      INTEGER NOT NULL,
    speaker  TEXT NOT NULL,
    start_s  REAL NOT NULL,
    end_s    REAL NOT NULL,
    text     TEXT NOT NULL
);
CREATE INDEX segments_call ON segments (call_id, seq);
CREATE VIRTUAL TABLE segments_fts USING fts5 (
    text, content = 'segments', content_rowid = 'id', tokenize = 'unicode61'
);
CREATE TRIGGER segments_ai AFTER INSERT ON segments BEGIN
    INSERT INTO segments_fts (rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER segments_ad AFTER DELETE ON segments BEGIN
    INSERT INTO segments_fts (segments_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;

-- Interruptions and silences.
CREATE TABLE signals (
    call_id   TEXT NOT NULL REFERENCES calls ON DELETE CASCADE,
    kind      TEXT NOT NULL,               -- interruption | silence
    start_s   REAL NOT NULL,
    end_s     REAL NOT NULL,
    by_speaker TEXT,                       -- interruptions: who cut in
    of_speaker TEXT                        -- interruptions: who was cut off
);
CREATE INDEX signals_call ON signals (call_id, kind);

CREATE TABLE prompts (
    call_id    TEXT NOT NULL REFERENCES calls ON DELETE CASCADE,
    t          REAL NOT NULL,
    kind       TEXT NOT NULL,
    severity   TEXT NOT NULL,
    message    TEXT NOT NULL,
    evidence   TEXT NOT NULL,
    supervisor INTEGER NOT NULL
);
CREATE INDEX prompts_kind ON prompts (kind, call_id);
CREATE INDEX prompts_call ON prompts (call_id);

CREATE TABLE scorecard_items (
    call_id  TEXT NOT NULL REFERENCES calls ON DELETE CASCADE,
    name     TEXT NOT NULL,
    score    REAL,                          -- null: not applicable
    weight   REAL NOT NULL,
    evidence TEXT NOT NULL,
    PRIMARY KEY (call_id, name)
);

CREATE TABLE commitments (
    call_id TEXT NOT NULL REFERENCES calls ON DELETE CASCADE,
    t       REAL NOT NULL,
    text    TEXT NOT NULL
);
CREATE INDEX commitments_call ON commitments (call_id);

-- The redaction audit index: each span removed, and the call's audit trail
-- (DIR/audit/<call_id>.jsonl, hash-chained) in calls.audit_path.
CREATE TABLE redactions (
    call_id TEXT NOT NULL REFERENCES calls ON DELETE CASCADE,
    kind    TEXT NOT NULL,                  -- pan | cvv | expiry | dtmf
    speaker TEXT NOT NULL,
    start_s REAL NOT NULL,
    end_s   REAL NOT NULL
);
CREATE INDEX redactions_call ON redactions (call_id);
CREATE INDEX redactions_kind ON redactions (kind);
