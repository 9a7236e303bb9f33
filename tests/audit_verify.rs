//! `callscope audit verify` and `callscope purge` over stored calls with
//! recordings and audit trails, made without whisper: a short stereo call
//! whose DTMF span is redacted (so its trail has a redaction line), stored
//! through the same path as `analyze`. Each tampering is named; an
//! untouched store verifies; a purge leaves a store that still verifies.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use callscope::engine::seal::{Redaction, redact_and_seal_with};
use callscope::frame::Leg;
use callscope::redact::audio::{AudioHold, MaskMethod};
use callscope::redact::detect::DetectConfig;
use callscope::report::{Report, SourceInfo};
use callscope::signals::CallSummary;
use callscope::store::db::{IfExists, StoreError, db_path};
use callscope::store::verify::{ChainCheck, Problem, Verdict, VerifyReport, Which, verify};
use common::callscope;

const RATE: u32 = 8_000;

/// Stores call `id` (3 s of stereo tone, pitch from `seed`, a DTMF span on
/// the customer leg redacted) in `data` as `analyze` does. The model file
/// name has a digit run (issue 18: it used to make such a call unstorable).
fn store_call(data: &Path, id: &str, seed: f32) {
    try_store_call(data, id, seed).expect("stored");
}

/// [`store_call`], returning what the store said.
fn try_store_call(
    data: &Path,
    id: &str,
    seed: f32,
) -> Result<(), callscope::analyze::AnalyzeError> {
    let mut hold = AudioHold::new(RATE, 2);
    let a: Vec<f32> = (0..RATE * 3)
        .map(|i| (i as f32 * seed).sin() * 0.3)
        .collect();
    hold.push(&[&a, &a]);
    let summary = CallSummary {
        duration_s: 3.0,
        stereo: true,
        ..Default::default()
    };
    let source = SourceInfo {
        name: format!("{id}.wav"),
        codec: "pcm16".into(),
        sample_rate: RATE,
        channels: 2,
        agent_channel: "left".into(),
    };
    let report = Report::from_summary(id, source, &summary);
    let rules = Arc::new(callscope::rules::Rules::builtin());
    let detect = DetectConfig::default();
    let result = redact_and_seal_with(
        report,
        &[],
        &[(Leg::Customer, 1.0, 1.5)],
        hold,
        &Redaction {
            mask: MaskMethod::Silence,
            model_name: "ggml-large-v3-20240101.bin",
            detect: &detect,
            rules: &rules,
        },
        &[],
    );
    assert!(!result.audit.is_empty(), "the DTMF span is audited");
    callscope::analyze::store_result(data, &result, 0)
}

/// A data directory with calls c1, c2, c3.
fn three_calls() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (i, id) in ["c1", "c2", "c3"].into_iter().enumerate() {
        store_call(dir.path(), id, 0.01 + 0.01 * i as f32);
    }
    dir
}

fn trail(data: &Path, id: &str) -> PathBuf {
    data.join("audit").join(format!("{id}.jsonl"))
}

fn recording(data: &Path, id: &str) -> PathBuf {
    data.join("recordings").join(format!("{id}.wav"))
}

fn check<'a>(r: &'a VerifyReport, id: &str) -> &'a callscope::store::verify::CallCheck {
    r.calls.iter().find(|c| c.call_id == id).unwrap()
}

/// `audit verify --all` on `data`: (exit code, stdout).
fn verify_cli(data: &Path) -> (i32, String) {
    let (code, out, err) = callscope(&[
        "audit",
        "verify",
        "--all",
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    assert!(code == 0 || code == 1, "{code}: {err}");
    (code, out)
}

/// Flips one byte of `path` at `at` (from the start, or from the end when
/// negative).
fn flip_byte(path: &Path, at: isize) {
    let mut b = fs::read(path).unwrap();
    let i = if at < 0 {
        (b.len() as isize + at) as usize
    } else {
        at as usize
    };
    b[i] ^= 0x01;
    fs::write(path, b).unwrap();
}

#[test]
fn an_untouched_store_verifies() {
    let data = three_calls();
    let r = verify(data.path(), Which::All).unwrap();
    assert!(r.ok(), "{r:?}");
    assert_eq!(r.calls.len(), 3);
    assert!(
        matches!(&r.chain, ChainCheck::Ok(h) if h.rows == 3),
        "{:?}",
        r.chain
    );
    let (code, out) = verify_cli(data.path());
    assert_eq!(code, 0, "{out}");
    for id in ["c1", "c2", "c3"] {
        assert!(out.contains(&format!("ok       {id}")), "{out}");
    }
    assert!(
        out.contains("anchor chain: ok, 3 record(s), head "),
        "{out}"
    );
    // One call, and a call nobody knows.
    let (code, out, _) = callscope(&[
        "audit",
        "verify",
        "--call",
        "c2",
        "--data-dir",
        data.path().to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    assert!(
        out.contains("ok       c2") && !out.contains("ok       c1"),
        "{out}"
    );
    let (code, _, err) = callscope(&[
        "audit",
        "verify",
        "--call",
        "nope",
        "--data-dir",
        data.path().to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn one_byte_of_a_recording_changed_is_named() {
    let data = three_calls();
    // A sample byte near the end, not the header.
    flip_byte(&recording(data.path(), "c2"), -3);
    let r = verify(data.path(), Which::All).unwrap();
    assert!(!r.ok());
    let c2 = check(&r, "c2");
    assert_eq!(c2.verdict, Verdict::Failed);
    assert!(
        matches!(c2.problems[..], [Problem::Recording { .. }]),
        "{:?}",
        c2.problems
    );
    assert_eq!(check(&r, "c1").verdict, Verdict::Ok);
    let (code, out) = verify_cli(data.path());
    assert_eq!(code, 1);
    assert!(out.contains("TAMPERED c2: recording"), "{out}");
    assert!(
        out.contains("does not match its audit trail (recording changed)"),
        "{out}"
    );
}

#[test]
fn one_byte_of_an_audit_line_changed_is_named_with_its_line() {
    let data = three_calls();
    let path = trail(data.path(), "c1");
    let text = fs::read_to_string(&path).unwrap();
    // The last digit of the first redaction line's end time: still valid
    // JSON and a valid entry, so only the chain tells (at the next line).
    let end = text.find(r#""end":"#).unwrap();
    let at = end + text[end..].find(',').unwrap() - 1;
    flip_byte(&path, at as isize);
    let r = verify(data.path(), Which::All).unwrap();
    let c1 = check(&r, "c1");
    assert!(
        matches!(c1.problems[..], [Problem::TrailLine { line: 2, .. }]),
        "{:?}",
        c1.problems
    );
    let (code, out) = verify_cli(data.path());
    assert_eq!(code, 1);
    assert!(out.contains("TAMPERED c1: audit trail"), "{out}");
    assert!(out.contains("line 2: hash chain broken"), "{out}");
}

#[test]
fn a_deleted_audit_line_is_named() {
    let data = three_calls();
    let path = trail(data.path(), "c3");
    let text = fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() >= 2, "a redaction line and the end line");
    fs::write(&path, lines[1..].join("\n") + "\n").unwrap();
    let r = verify(data.path(), Which::All).unwrap();
    let c3 = check(&r, "c3");
    assert!(
        matches!(c3.problems[..], [Problem::TrailLine { line: 1, .. }]),
        "{:?}",
        c3.problems
    );
    let (code, out) = verify_cli(data.path());
    assert_eq!(code, 1);
    assert!(out.contains("TAMPERED c3: audit trail"), "{out}");
    assert!(out.contains("line 1"), "{out}");
}

#[test]
fn two_calls_trails_and_recordings_swapped_are_named() {
    let data = three_calls();
    let d = data.path();
    for f in [trail, recording] {
        let (a, b) = (f(d, "c1"), f(d, "c2"));
        let tmp = d.join("swap");
        fs::rename(&a, &tmp).unwrap();
        fs::rename(&b, &a).unwrap();
        fs::rename(&tmp, &b).unwrap();
    }
    let r = verify(d, Which::All).unwrap();
    for id in ["c1", "c2"] {
        let c = check(&r, id);
        assert!(
            c.problems
                .iter()
                .any(|p| matches!(p, Problem::TrailHead { .. })),
            "{id}: {:?}",
            c.problems
        );
        // Each recording still matches the trail beside it: the anchor is what tells.
        assert!(
            !c.problems
                .iter()
                .any(|p| matches!(p, Problem::Recording { .. }))
        );
    }
    assert_eq!(check(&r, "c3").verdict, Verdict::Ok);
    let (code, out) = verify_cli(d);
    assert_eq!(code, 1);
    assert!(out.contains("TAMPERED c1: audit trail"), "{out}");
    assert!(out.contains("head does not match its anchor"), "{out}");
    assert!(out.contains("TAMPERED c2:"), "{out}");
}

#[test]
fn a_missing_recording_and_an_edited_anchor_are_named() {
    let data = three_calls();
    let d = data.path();
    fs::remove_file(recording(d, "c1")).unwrap();
    let conn = rusqlite::Connection::open(db_path(d)).unwrap();
    conn.execute("UPDATE anchors SET at = at + 1 WHERE seq = 2", [])
        .unwrap();
    drop(conn);
    let r = verify(d, Which::All).unwrap();
    assert!(matches!(
        check(&r, "c1").problems[..],
        [Problem::MissingRecording { .. }]
    ));
    let ChainCheck::Broken { at, call_id } = &r.chain else {
        panic!("{:?}", r.chain)
    };
    assert_eq!((at.seq, call_id.as_deref()), (2, Some("c2")));
    let (code, out) = verify_cli(d);
    assert_eq!(code, 1);
    assert!(
        out.contains("TAMPERED c1: missing file: recording"),
        "{out}"
    );
    assert!(
        out.contains("TAMPERED anchor chain: record 2 (call c2)"),
        "{out}"
    );
}

#[test]
fn a_call_stored_again_is_refused_unless_replaced_and_the_replacement_verifies() {
    let data = three_calls();
    let before = fs::read(recording(data.path(), "c1")).unwrap();
    // The same id again, different audio: refused, nothing of c1 changed.
    let e = try_store_call(data.path(), "c1", 0.05).unwrap_err();
    assert!(
        matches!(
            &e,
            callscope::analyze::AnalyzeError::Db(StoreError::AlreadyExists { call_id }) if call_id == "c1"
        ),
        "{e}"
    );
    assert!(!e.to_string().contains("0.05"));
    assert_eq!(fs::read(recording(data.path(), "c1")).unwrap(), before);
    assert!(verify(data.path(), Which::All).unwrap().ok());
    // The live path refuses it too, before writing anything.
    let start = callscope::store::open::OpenStart {
        call_id: "c1".into(),
        agent_id: None,
        caller_id: None,
        started_at: None,
        source: SourceInfo {
            name: "live".into(),
            codec: "pcm16".into(),
            sample_rate: RATE,
            channels: 2,
            agent_channel: "left".into(),
        },
        legs: 2,
        agent_channel: 0,
    };
    let e = callscope::store::open::OpenCall::create(data.path(), &start)
        .err()
        .expect("refused");
    assert!(
        matches!(
            e,
            callscope::analyze::AnalyzeError::Db(StoreError::AlreadyExists { .. })
        ),
        "{e}"
    );
    assert!(!data.path().join("open/c1.jsonl").exists());
    assert!(!data.path().join("recordings/c1.wav.part").exists());
    // Replaced explicitly: the new version verifies and the chain records it.
    let mut hold = AudioHold::new(RATE, 1);
    hold.push(&[&[0.1; 800]]);
    let result = redact_and_seal_with(
        Report::from_summary(
            "c1",
            SourceInfo {
                name: "c1.wav".into(),
                codec: "pcm16".into(),
                sample_rate: RATE,
                channels: 1,
                agent_channel: "mono".into(),
            },
            &CallSummary {
                duration_s: 0.1,
                ..Default::default()
            },
        ),
        &[],
        &[],
        hold,
        &Redaction {
            mask: MaskMethod::Silence,
            model_name: "ggml-base.bin",
            detect: &DetectConfig::default(),
            rules: &Arc::new(callscope::rules::Rules::builtin()),
        },
        &[],
    );
    callscope::analyze::store_result_with(data.path(), &result, 0, IfExists::Replace).unwrap();
    assert_ne!(fs::read(recording(data.path(), "c1")).unwrap(), before);
    let r = verify(data.path(), Which::All).unwrap();
    assert!(r.ok(), "{r:?}");
    let conn = rusqlite::Connection::open(db_path(data.path())).unwrap();
    let kind: String = conn
        .query_row(
            "SELECT kind FROM anchors ORDER BY seq DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(kind, "replace");
}

#[test]
fn purged_calls_are_reported_as_purged_and_their_files_and_rows_are_gone() {
    let data = three_calls();
    let d = data.path();
    // c1 and c2 stored 40 days ago.
    let conn = rusqlite::Connection::open(db_path(d)).unwrap();
    conn.execute(
        "UPDATE calls SET stored_at = stored_at - 40 * 86400 WHERE call_id IN ('c1', 'c2')",
        [],
    )
    .unwrap();
    drop(conn);
    let (code, out, err) = callscope(&[
        "purge",
        "--older-than",
        "30",
        "--data-dir",
        d.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("purged 2 call(s)"), "{out}");
    for id in ["c1", "c2"] {
        assert!(!recording(d, id).exists() && !trail(d, id).exists());
        assert!(!d.join("reports").join(format!("{id}.json")).exists());
    }
    assert!(recording(d, "c3").exists());
    let conn = rusqlite::Connection::open(db_path(d)).unwrap();
    for table in ["calls", "kpis", "redactions", "segments"] {
        let n: i64 = conn
            .query_row(
                &format!("SELECT count(*) FROM {table} WHERE call_id IN ('c1', 'c2')"),
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 0, "{table}");
    }
    let detail: String = conn
        .query_row("SELECT detail FROM anchors WHERE kind = 'purge'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert!(
        detail.contains(r#""call_ids":["c1","c2"],"count":2"#),
        "{detail}"
    );
    drop(conn);
    let (code, out) = verify_cli(d);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("purged   c1") && out.contains("purged   c2"),
        "{out}"
    );
    assert!(out.contains("ok       c3"), "{out}");
    assert!(out.contains("1 call(s) ok, 2 purged, 0 tampered"), "{out}");
    // Nothing more to purge; a purged id can be used again.
    let s = callscope::store::purge::purge(d, std::time::Duration::from_secs(30 * 86_400)).unwrap();
    assert!(s.call_ids.is_empty());
    store_call(d, "c1", 0.07);
    let r = verify(d, Which::All).unwrap();
    assert!(r.ok(), "{r:?}");
    assert_eq!(check(&r, "c1").verdict, Verdict::Ok);
}

#[test]
fn a_stored_calls_files_and_directories_are_private() {
    let data = three_calls();
    // An open store has its -wal and -shm files.
    let db = callscope::store::db::CallStore::open_existing(data.path()).unwrap();
    db.list(&Default::default()).unwrap();
    let mut seen = 0;
    let mut stack = vec![data.path().to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            let mode = e.metadata().unwrap().permissions().mode();
            assert_eq!(
                mode & 0o077,
                0,
                "{} is {:o}",
                e.path().display(),
                mode & 0o777
            );
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            }
            seen += 1;
        }
    }
    let names = [
        "recordings",
        "audit",
        "reports",
        "callscope.db",
        "callscope.db-wal",
        "callscope.db-shm",
    ];
    for n in names {
        assert!(data.path().join(n).exists(), "{n}");
    }
    assert!(seen >= 9 + names.len(), "{seen}");
}
