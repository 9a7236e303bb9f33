//! Recordings and audit trails in S3-compatible object storage
//! (`--recordings s3://…`), against moto's S3 server on loopback: a
//! transcribed dev call's recording, trail and report go to the bucket and
//! leave the data directory; `audit verify` fetches them back and they
//! verify; no object holds a card number; `purge` deletes the objects; an
//! upload the bucket refuses is kept local and retried by the next run; a
//! plain-http endpoint off loopback is refused.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use callscope::grpc::client::{Endpoint, connect};
use callscope::grpc::pb;
use common::*;

const CALL: &str = "dev-002.wav";

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn curl(args: &[&str]) -> Vec<u8> {
    let out = Command::new("curl")
        .args([
            "-s",
            "--fail",
            "--aws-sigv4",
            "aws:amz:us-east-1:s3",
            "--user",
            "test:test",
        ])
        .args(args)
        .output()
        .expect("run curl");
    assert!(
        out.status.success(),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The object keys in the bucket (moto answers ListObjectsV2 with XML).
fn keys(base: &str) -> Vec<String> {
    let xml = String::from_utf8(curl(&[&format!("{base}?list-type=2")])).unwrap();
    xml.split("<Key>")
        .skip(1)
        .filter_map(|s| s.split("</Key>").next())
        .map(str::to_string)
        .collect()
}

#[test]
fn recordings_and_trails_live_in_object_storage() {
    let corpus = corpus_dir();
    if !corpus.join(CALL).exists() {
        eprintln!("skipped: the dev corpus is not at {}", corpus.display());
        return;
    }
    let py = python();
    let has_moto = Command::new(&py)
        .args(["-c", "import moto.server"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_moto {
        if std::env::var_os("CALLSCOPE_SKIP_S3").is_some() {
            eprintln!("skipped: moto is not installed (CALLSCOPE_SKIP_S3 set)");
            return;
        }
        panic!(
            "the object-storage test needs moto[server] in {}: run scripts/test.sh \
             (it installs it), or set CALLSCOPE_SKIP_S3=1 to skip it",
            py.display()
        );
    }
    let port = free_port();
    let _moto = Proc(
        Command::new(&py)
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto"),
    );
    let endpoint = format!("http://127.0.0.1:{port}");
    let up = (0..150).any(|_| {
        std::thread::sleep(Duration::from_millis(200));
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    assert!(up, "moto came up");
    let bucket = format!("{endpoint}/callscope-calls");
    curl(&["-X", "PUT", &bucket]);

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    let env = [
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("CALLSCOPE_RECORDINGS", "s3://callscope-calls/site-1"),
    ];
    let file = corpus.join(CALL);
    let (code, _, err) = callscope_env(
        &[
            "analyze",
            file.to_str().unwrap(),
            "--data-dir",
            d,
            "--keywords-only",
        ],
        &env,
    );
    assert_eq!(code, 0, "{err}");
    let id = CALL.trim_end_matches(".wav");
    let names = keys(&bucket);
    for k in [
        format!("site-1/recordings/{id}.wav"),
        format!("site-1/audit/{id}.jsonl"),
        format!("site-1/reports/{id}.json"),
    ] {
        assert!(names.contains(&k), "{k} in {names:?}");
    }
    // The recording and trail left the data directory.
    let recording = data.join("recordings").join(format!("{id}.wav"));
    let trail = data.join("audit").join(format!("{id}.jsonl"));
    assert!(!recording.exists() && !trail.exists());
    // No object holds a card number the call read out.
    let cards = card_numbers(&[CALL]);
    assert!(!cards.is_empty());
    for k in &names {
        let bytes = curl(&[&format!("{bucket}/{k}")]);
        assert!(!bytes.is_empty(), "{k}");
        assert!(!holds_card(&bytes, &cards), "a card number is in {k}");
    }
    // Verification fetches them back (into the data directory) and they verify.
    let (code, out, err) = callscope_env(&["audit", "verify", "--call", id, "--data-dir", d], &env);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(recording.exists() && trail.exists());
    // The API's readers fetch too: with the local copies gone again,
    // GetAuditTrail and GetRecording on a serving node find them.
    std::fs::remove_file(&recording).unwrap();
    std::fs::remove_file(&trail).unwrap();
    let access = dir.path().join("access.toml");
    let token = add_token(&access, "auditor", "compliance", None);
    let port = free_port();
    let _serve = Proc(
        Command::new(env!("CARGO_BIN_EXE_callscope"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--data-dir", d, "--keywords-only", "--auth"])
            .arg(&access)
            .envs(env)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start callscope serve"),
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let ep = Endpoint {
            url: format!("http://127.0.0.1:{port}"),
            tls: Default::default(),
            token: Some(token),
        };
        let mut client = None;
        for _ in 0..150 {
            if let Ok(c) = connect(ep.clone()).await {
                client = Some(c);
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let mut client = client.expect("serve came up");
        let t = client
            .get_audit_trail(pb::GetAuditTrailRequest {
                call_id: id.to_string(),
            })
            .await
            .expect("GetAuditTrail finds the trail in object storage")
            .into_inner();
        assert!(!t.lines.is_empty() && t.verified, "{}", t.problem);
        let mut chunks = client
            .get_recording(pb::GetRecordingRequest {
                call_id: id.to_string(),
            })
            .await
            .expect("GetRecording finds the recording in object storage")
            .into_inner();
        let mut bytes = 0;
        while let Some(c) = chunks.message().await.unwrap() {
            bytes += c.data.len();
        }
        assert!(bytes > 44, "a WAV came back");
    });
    drop(_serve);
    // Without the bucket the same node no longer has them... after a purge.
    let conn = rusqlite::Connection::open(data.join("callscope.db")).unwrap();
    conn.execute("UPDATE calls SET stored_at = stored_at - 40 * 86400", [])
        .unwrap();
    drop(conn);
    let (code, out, err) = callscope_env(&["purge", "--older-than", "30", "--data-dir", d], &env);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("purged 1 call(s)"), "{out}");
    let left = keys(&bucket);
    assert!(
        !left.iter().any(|k| k.contains(id)),
        "the purged call's objects are gone: {left:?}"
    );
    // A bucket that refuses the upload (here: not created yet) keeps the
    // files local and marks the upload; the next run uploads them.
    let later = format!("{endpoint}/later-calls");
    let later_env = {
        let mut e = env;
        e[4] = ("CALLSCOPE_RECORDINGS", "s3://later-calls/site-2");
        e
    };
    let analyze = |call: &str, mode: &str| {
        let file = corpus.join(call);
        let args = ["analyze", file.to_str().unwrap(), "--data-dir", d, mode];
        let (code, _, err) = callscope_env(&args, &later_env);
        assert_eq!(code, 0, "{err}");
        err
    };
    let err = analyze("dev-003.wav", "--keywords-only");
    assert!(err.contains("the upload is retried"), "{err}");
    let kept_recording = data.join("recordings").join("dev-003.wav");
    let marker = data.join("pending").join("dev-003.upload");
    assert!(
        kept_recording.exists() && marker.exists(),
        "{:?}\n{err}",
        common::files_under(&data)
    );
    curl(&["-X", "PUT", &later]);
    let err = analyze("dev-004.wav", "--no-transcribe");
    assert!(err.contains("1 call(s) uploaded"), "{err}");
    let names = keys(&later);
    // (Without a transcript there is no cleared recording: dev-004 has
    // its report only.)
    for k in [
        "site-2/recordings/dev-003.wav",
        "site-2/audit/dev-003.jsonl",
        "site-2/reports/dev-004.json",
    ] {
        assert!(names.contains(&k.to_string()), "{k} in {names:?}");
    }
    assert!(!kept_recording.exists() && !marker.exists());
    // A plain-http endpoint on another machine is refused at start.
    let (code, _, err) = callscope_env(
        &["calls", "list", "--data-dir", d],
        &[
            ("AWS_ENDPOINT_URL", "http://10.1.2.3:9000"),
            ("CALLSCOPE_RECORDINGS", "s3://callscope-calls/x"),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_REGION", "us-east-1"),
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("https://"), "{err}");
}
