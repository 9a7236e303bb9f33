-- callscope store, version 3: the anchor chain and secure deletion.
--
-- anchors is append-only: one row per store-level event, each row's hash
-- covering the previous row's hash, so the rows form one chain over every
-- call ever stored (crate::store::anchor has the hash's exact input):
--   store    a call was stored: its audit trail's head hash (the SHA-256 of
--            the trail's end line) and its recording's SHA-256, written in
--            the same transaction as the call's row;
--   replace  the same for a call stored again with an explicit replace
--            (the row before it for that call_id is the replaced version);
--   purge    calls removed by retention: detail is JSON with the call ids,
--            how many and the age limit;
--   adopt    a call stored before this version, anchored when the store
--            was upgraded (its trail as it was found then).
-- The latest store/replace/adopt row of a call_id describes the call,
-- unless a later purge row lists it.
CREATE TABLE anchors (
    seq              INTEGER PRIMARY KEY,  -- 1, 2, 3, ... without gaps
    kind             TEXT NOT NULL,        -- store | replace | purge | adopt
    call_id          TEXT,                 -- null for purge
    at               INTEGER NOT NULL,     -- unix seconds
    trail_head       TEXT,                 -- hex SHA-256, null without a trail
    recording_sha256 TEXT,                 -- hex SHA-256, null without a recording
    detail           TEXT,                 -- purge: JSON
    prev_hash        TEXT NOT NULL,        -- the previous row's hash (64 zeros first)
    hash             TEXT NOT NULL
);
CREATE INDEX anchors_call ON anchors (call_id, seq);

-- Deleted transcript tokens are removed from the full-text index at once
-- rather than left in its segments until a merge.
INSERT INTO segments_fts (segments_fts, rank) VALUES ('secure-delete', 1);
