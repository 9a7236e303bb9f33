//! The commands on a shared PostgreSQL store (`--store postgres://…`), on
//! a throwaway PostgreSQL server: calls analysed on one "node" (data
//! directory) are listed, searched and counted from another, and a store
//! that cannot be reached or a wrong URL get a clear error.

mod common;

use callscope::store::pg::testing::TestPg;
use common::{callscope, callscope_env, corpus_calls, corpus_dir};
use serde_json::Value;

#[test]
fn two_nodes_share_one_postgres_store() {
    let Some(pg) = TestPg::start() else { return };
    let calls = corpus_calls();
    if calls.len() < 2 {
        return;
    }
    let node_a = tempfile::tempdir().unwrap();
    let node_b = tempfile::tempdir().unwrap();
    let files: Vec<String> = calls
        .iter()
        .take(2)
        .map(|c| corpus_dir().join(format!("{c}.wav")).display().to_string())
        .collect();
    let a = node_a.path().to_str().unwrap();
    let mut args = vec![
        "analyze",
        "--no-transcribe",
        "--agent-id",
        "ann",
        "--data-dir",
        a,
        "--store",
        &pg.url,
    ];
    args.extend(files.iter().map(String::as_str));
    let (code, _, err) = callscope(&args);
    assert_eq!(code, 0, "{err}");
    // No SQLite file on node A: the index is in PostgreSQL; the redacted
    // recordings stay in the node's data directory.
    assert!(!node_a.path().join("callscope.db").exists());
    assert!(node_a.path().join("reports").is_dir());
    // Node B (another data directory, the same store) lists and counts them.
    let b = node_b.path().to_str().unwrap();
    let (code, out, err) = callscope_env(
        &["calls", "list", "--json", "--data-dir", b],
        &[("CALLSCOPE_STORE", &pg.url)],
    );
    assert_eq!(code, 0, "{err}");
    let listed: Value = serde_json::from_str(&out).unwrap();
    let ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["call_id"].as_str())
        .collect();
    assert_eq!(ids.len(), 2, "{out}");
    for c in calls.iter().take(2) {
        assert!(ids.contains(&c.as_str()), "{c} in {ids:?}");
    }
    let (code, out, err) = callscope(&["trends", "--json", "--data-dir", b, "--store", &pg.url]);
    assert_eq!(code, 0, "{err}");
    let trends: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(trends["calls"], 2, "{out}");
    // Node A's calls verify against the anchor chain in PostgreSQL.
    let (code, out, err) = callscope(&[
        "audit",
        "verify",
        "--all",
        "--json",
        "--data-dir",
        a,
        "--store",
        &pg.url,
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    // The same call id again is refused across nodes, as on one machine.
    let (code, _, err) = callscope(&[
        "analyze",
        "--no-transcribe",
        "--data-dir",
        b,
        "--store",
        &pg.url,
        &files[0],
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("already stored"), "{err}");
}

#[test]
fn an_unreachable_or_wrong_store_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    // Nothing listens on port 1; the password is not shown.
    let (code, _, err) = callscope(&[
        "calls",
        "list",
        "--data-dir",
        d,
        "--store",
        "postgres://app:s3cret@127.0.0.1:1/calls",
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("cannot connect"), "{err}");
    assert!(!err.contains("s3cret"), "{err}");
    let (code, _, err) = callscope(&["calls", "list", "--data-dir", d, "--store", "mysql://x/y"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("postgres://"), "{err}");
}
