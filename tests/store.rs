//! The call store under stress: a process dying inside a write, two
//! processes writing at once while another reads, and the query commands
//! over what they stored.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use callscope::store::db::{CallStore, Filter, db_path};
use common::{callscope, corpus_calls, corpus_dir};
use serde_json::Value;

/// Set in a child copy of this test binary: the data directory in which to
/// die half-way through writing a call.
const CRASH_ENV: &str = "CALLSCOPE_TEST_CRASH_IN";

/// `n` corpus recordings of the `ext` variant.
fn files(ext: &str, n: usize) -> Vec<String> {
    corpus_calls()
        .iter()
        .take(n)
        .map(|c| {
            corpus_dir()
                .join(format!("{c}.{ext}"))
                .display()
                .to_string()
        })
        .collect()
}

fn analyze_signals(data: &Path, files: &[String]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_callscope"));
    cmd.args([
        "analyze",
        "--no-transcribe",
        "--agent-id",
        "ann",
        "--data-dir",
    ])
    .arg(data)
    .args(files)
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    cmd
}

fn integrity(data: &Path) -> String {
    let conn = rusqlite::Connection::open(db_path(data)).unwrap();
    conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap()
}

fn count(data: &Path, sql: &str) -> i64 {
    let conn = rusqlite::Connection::open(db_path(data)).unwrap();
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

/// Runs in the child: opens a write transaction, writes a call row and
/// enough segments to spill pages into the WAL, and aborts before commit.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CRASH_ENV) else {
        return; // only meaningful as the child of the crash test
    };
    let mut conn = rusqlite::Connection::open(db_path(Path::new(&dir))).unwrap();
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .unwrap();
    tx.execute(
        "INSERT INTO calls (call_id, started_at, stored_at, status, channel_layout,
            source_name, codec, duration_s, overtalk_s, silence_total_s, non_talk_time_s,
            prompts, redactions, report_json)
         VALUES ('half-written', 0, 0, 'complete', 'stereo', 'x', 'x', 1, 0, 0, 0, 0, 0, '{}')",
        [],
    )
    .unwrap();
    for i in 0..20_000 {
        tx.execute(
            "INSERT INTO segments (call_id, seq, speaker, start_s, end_s, text)
             VALUES ('half-written', ?1, 'agent', 0, 1, 'never committed text of some length')",
            [i],
        )
        .unwrap();
    }
    std::process::abort();
}

#[test]
fn a_crash_mid_write_loses_nothing_committed() {
    if corpus_calls().is_empty() {
        eprintln!("corpus absent: skipped");
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let committed = files("wav", 3);
    let out = analyze_signals(data.path(), &committed).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // 1. A process that dies inside its write transaction.
    let child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_child", "--nocapture"])
        .env(CRASH_ENV, data.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(!child.success(), "the child should have aborted");
    assert_eq!(integrity(data.path()), "ok");
    let db = CallStore::open_existing(data.path()).unwrap();
    let ids: Vec<String> = db
        .list(&Filter::default())
        .unwrap()
        .into_iter()
        .map(|r| r.call_id)
        .collect();
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert!(!ids.iter().any(|i| i == "half-written"));
    assert_eq!(
        count(
            data.path(),
            "SELECT count(*) FROM segments WHERE call_id = 'half-written'"
        ),
        0
    );

    // 2. `analyze` killed at a random point of a batch: whatever is listed
    // is whole (its KPIs are there), and the store takes new calls after.
    let more = files("pcm16.wav", 12);
    let mut batch = analyze_signals(data.path(), &more).spawn().unwrap();
    let t0 = Instant::now();
    while count(data.path(), "SELECT count(*) FROM calls") < 5
        && t0.elapsed() < Duration::from_secs(60)
    {
        std::thread::sleep(Duration::from_millis(5));
    }
    batch.kill().unwrap();
    batch.wait().unwrap();
    assert_eq!(integrity(data.path()), "ok");
    let calls = count(data.path(), "SELECT count(*) FROM calls");
    assert!(calls >= 5, "{calls}");
    assert_eq!(
        count(data.path(), "SELECT count(DISTINCT call_id) FROM kpis"),
        calls,
        "every stored call has its KPIs"
    );
    // Those already stored are refused, the rest stored; with --replace all go.
    let out = analyze_signals(data.path(), &more).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("is already stored; pick another --call-id or pass --replace"),
        "{stderr}"
    );
    assert_eq!(count(data.path(), "SELECT count(*) FROM calls"), 3 + 12);
    let out = analyze_signals(data.path(), &more)
        .arg("--replace")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(count(data.path(), "SELECT count(*) FROM calls"), 3 + 12);
}

#[test]
fn two_processes_write_while_a_third_reads() {
    if corpus_calls().is_empty() {
        eprintln!("corpus absent: skipped");
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let n = corpus_calls().len() as i64;
    // Different call ids: the μ-law files and their PCM16 twins.
    let mut a = analyze_signals(data.path(), &files("wav", 99))
        .spawn()
        .unwrap();
    let mut b = analyze_signals(data.path(), &files("pcm16.wav", 99))
        .spawn()
        .unwrap();
    // Read all the while; a reader never fails or sees a half call.
    let mut reads = 0;
    let (ra, rb) = loop {
        if db_path(data.path()).exists()
            && let Ok(db) = CallStore::open_existing(data.path())
        {
            let rows = db
                .list(&Filter::default())
                .expect("reading while two processes write");
            for r in &rows {
                assert!(db.report_json(&r.call_id).unwrap().is_some());
            }
            reads += 1;
        }
        if let (Some(ra), Some(rb)) = (a.try_wait().unwrap(), b.try_wait().unwrap()) {
            break (ra, rb);
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let err = |c: std::process::Child| {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut c.stderr.unwrap(), &mut s).unwrap();
        s
    };
    assert!(ra.success(), "{}", err(a));
    assert!(rb.success(), "{}", err(b));
    assert!(reads > 0);
    assert_eq!(integrity(data.path()), "ok");
    assert_eq!(count(data.path(), "SELECT count(*) FROM calls"), 2 * n);
    assert_eq!(count(data.path(), "SELECT count(*) FROM kpis"), 4 * n);
}

#[test]
fn the_query_commands_read_the_store() {
    if corpus_calls().is_empty() {
        eprintln!("corpus absent: skipped");
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap();
    let (code, _, err) = callscope(&["calls", "list", "--data-dir", dir]);
    assert_eq!(code, 2);
    assert!(err.contains("callscope analyze"), "{err}");

    let two = files("wav", 2);
    for (i, f) in two.iter().enumerate() {
        let when = format!("2026-11-{:02}T10:00:00Z", 2 + 7 * i);
        let (code, _, err) = callscope(&[
            "analyze",
            "--no-transcribe",
            "--data-dir",
            dir,
            "--agent-id",
            "ann",
            "--caller-id",
            "+4420",
            "--started-at",
            &when,
            f,
        ]);
        assert_eq!(code, 0, "{err}");
    }
    let (code, out, err) = callscope(&["calls", "list", "--json", "--data-dir", dir]);
    assert_eq!(code, 0, "{err}");
    let rows: Value = serde_json::from_str(&out).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["started_at"], "2026-11-09 10:00:00");
    assert_eq!(rows[0]["agent_id"], "ann");
    let (code, out, _) = callscope(&["calls", "list", "--data-dir", dir, "--until", "2026-11-05"]);
    assert_eq!(code, 0);
    assert!(out.contains("1 call(s)"), "{out}");
    let first = rows[1]["call_id"].as_str().unwrap();
    let (code, out, _) = callscope(&["calls", "show", first, "--json", "--data-dir", dir]);
    assert_eq!(code, 0);
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["call_id"], first);
    assert_eq!(report["caller_id"], "+4420");
    let (code, out, _) = callscope(&["calls", "show", first, "--data-dir", dir]);
    assert_eq!(code, 0);
    assert!(out.contains("caller +4420"), "{out}");
    let (code, _, err) = callscope(&["calls", "show", "nope", "--data-dir", dir]);
    assert_eq!(code, 2);
    assert!(err.contains("calls list"), "{err}");
    let (code, out, _) = callscope(&["trends", "--json", "--data-dir", dir]);
    assert_eq!(code, 0);
    let t: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(t["calls"], 2);
    assert_eq!(t["repeat_callers"][0]["caller_id"], "+4420");
    assert_eq!(t["agents"][0]["agent_id"], "ann");
    let (code, _, err) = callscope(&["trends", "--since", "yesterday", "--data-dir", dir]);
    assert_eq!(code, 2);
    assert!(err.contains("not a date"), "{err}");
}
