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

/// A live call that ends while PostgreSQL is down is kept on local disk
/// (its recording, trail and report written, a marker in `DIR/pending`)
/// and stored once the database is back; no call is lost.
#[test]
fn a_call_ending_while_the_store_is_down_is_kept_and_stored_later() {
    let Some(pg) = TestPg::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    // A 3 s stereo call: a tone on each leg in turn.
    let wav = dir.path().join("short.wav");
    common::write_tone_call(&wav);
    let data = dir.path().join("data");
    let port = common::free_port();
    let mut serve = std::process::Command::new(env!("CARGO_BIN_EXE_callscope"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(&data)
        .args([
            "--store",
            &pg.url,
            "--store-retry",
            "0.5",
            "--keywords-only",
        ])
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start callscope serve");
    let up = (0..600).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(200));
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    assert!(up, "serve came up");
    pg.pause();
    let url = format!("http://127.0.0.1:{port}");
    let (code, out, err) = callscope(&[
        "replay",
        wav.to_str().unwrap(),
        "--server",
        &url,
        "--call-id",
        "kept-1",
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    let marker = data.join("pending").join("kept-1.json");
    assert!(marker.exists(), "the call is kept while the store is down");
    assert!(data.join("recordings").join("kept-1.wav").exists());
    pg.resume();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let listed = loop {
        let (code, out, _) = callscope_env(
            &[
                "calls",
                "list",
                "--json",
                "--data-dir",
                data.to_str().unwrap(),
            ],
            &[("CALLSCOPE_STORE", &pg.url)],
        );
        if code == 0 && out.contains("kept-1") {
            break out;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the kept call is stored once the database is back"
        );
        std::thread::sleep(std::time::Duration::from_millis(300));
    };
    assert!(listed.contains("kept-1"));
    let gone = (0..50).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(100));
        !marker.exists()
    });
    assert!(gone, "the marker goes once the call is stored");
    // Stored as it would have been: it verifies against the chain.
    let (code, out, err) = callscope(&[
        "audit",
        "verify",
        "--call",
        "kept-1",
        "--data-dir",
        data.to_str().unwrap(),
        "--store",
        &pg.url,
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    let _ = serve.kill();
    let _ = serve.wait();
}

/// Retention on the shared store: `purge` deletes the old calls' rows in
/// PostgreSQL, records the purge in the anchor chain, removes this node's
/// files of them, and the chain still verifies.
#[test]
fn purge_works_on_the_shared_store() {
    let Some(pg) = TestPg::start() else { return };
    let calls = corpus_calls();
    if calls.len() < 2 {
        return;
    }
    let node = tempfile::tempdir().unwrap();
    let d = node.path().to_str().unwrap();
    let files: Vec<String> = calls
        .iter()
        .take(2)
        .map(|c| corpus_dir().join(format!("{c}.wav")).display().to_string())
        .collect();
    let mut args = vec![
        "analyze",
        "--no-transcribe",
        "--data-dir",
        d,
        "--store",
        &pg.url,
    ];
    args.extend(files.iter().map(String::as_str));
    let (code, _, err) = callscope(&args);
    assert_eq!(code, 0, "{err}");
    let old = &calls[0];
    let mut c = postgres::Client::connect(&pg.url, postgres::NoTls).unwrap();
    c.execute(
        "UPDATE calls SET stored_at = stored_at - 40 * 86400 WHERE call_id = $1",
        &[old],
    )
    .unwrap();
    let (code, out, err) = callscope(&[
        "purge",
        "--older-than",
        "30",
        "--data-dir",
        d,
        "--store",
        &pg.url,
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("purged 1 call(s)"), "{out}");
    let left: i64 = c
        .query_one("SELECT count(*) FROM calls", &[])
        .unwrap()
        .get(0);
    assert_eq!(left, 1);
    for table in ["segments", "kpis", "redactions"] {
        let n: i64 = c
            .query_one(
                &format!("SELECT count(*) FROM {table} WHERE call_id = $1"),
                &[old],
            )
            .unwrap()
            .get(0);
        assert_eq!(n, 0, "{table}");
    }
    let detail: String = c
        .query_one("SELECT detail FROM anchors WHERE kind = 'purge'", &[])
        .unwrap()
        .get(0);
    assert!(detail.contains(old.as_str()), "{detail}");
    assert!(
        !node
            .path()
            .join("reports")
            .join(format!("{old}.json"))
            .exists()
    );
    assert!(
        node.path()
            .join("reports")
            .join(format!("{}.json", calls[1]))
            .exists()
    );
    let (code, out, err) = callscope(&[
        "audit",
        "verify",
        "--all",
        "--data-dir",
        d,
        "--store",
        &pg.url,
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("purged"), "{out}");
}

/// TLS to the store: with `--store-ca` the connection is encrypted and the
/// server's certificate checked (another CA is refused); a store on
/// another machine without `--store-ca` is refused before connecting.
#[test]
fn the_store_is_reached_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let ours = common::pki::pki(dir.path());
    let other_dir = dir.path().join("other");
    std::fs::create_dir_all(&other_dir).unwrap();
    let other = common::pki::pki(&other_dir);
    let Some(pg) = TestPg::start_tls(&ours.server_cert, &ours.server_key) else {
        return;
    };
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    let list = |ca: &std::path::Path| {
        callscope(&[
            "calls",
            "list",
            "--data-dir",
            d,
            "--store",
            &pg.url,
            "--store-ca",
            ca.to_str().unwrap(),
        ])
    };
    let (code, _, err) = list(&ours.ca);
    assert_eq!(code, 0, "{err}");
    // The same server, a CA that did not sign its certificate: refused.
    let (code, _, err) = list(&other.ca);
    assert_ne!(code, 0);
    assert!(err.contains("cannot connect"), "{err}");
    // The server takes TCP connections over TLS only (hostssl), so the
    // listing above used TLS; a plain connection is refused.
    assert!(postgres::Client::connect(&pg.url, postgres::NoTls).is_err());
    // Off this machine without --store-ca: refused at once, no password shown.
    let (code, _, err) = callscope(&[
        "calls",
        "list",
        "--data-dir",
        d,
        "--store",
        "postgres://app:s3cret@10.1.2.3:5432/calls",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--store-ca"), "{err}");
    assert!(!err.contains("s3cret"), "{err}");
}
