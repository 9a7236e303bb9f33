//! Cluster mode end to end: a real nats-server (TLS, user and password), a
//! throwaway PostgreSQL, two `serve` nodes with the real whisper model.
//! Four dev calls are replayed across the nodes (three on A, one on B); a
//! supervisor's floor on node A sees all four live; node B is killed
//! mid-call and its call shows as interrupted on A's floor and in the
//! store; A's calls end normally; `calls list` from either node lists all
//! four; no card number is in PostgreSQL, on the bus or in either node's
//! files. B restarted replaces the lost-call record with its recording.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use callscope::grpc::client::{Endpoint, connect};
use callscope::grpc::pb;
use callscope::security::tls::ClientTlsFiles;
use callscope::store::pg::testing::TestPg;
use common::pki::pki;
use common::*;
use futures_util::StreamExt;
use serde_json::Value;

/// (file, call id, agent id, node).
const CALLS: [(&str, &str, &str, usize); 4] = [
    ("dev-001.wav", "cl-1", "agent-1", 0),
    ("dev-002.wav", "cl-2", "agent-2", 0),
    ("dev-005.wav", "cl-3", "agent-3", 0),
    ("dev-003.wav", "cl-4", "agent-4", 1),
];

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `ClusterStatus` as a node answers it.
async fn cluster_status(ep: Endpoint) -> pb::ClusterStatusResponse {
    connect(ep)
        .await
        .unwrap()
        .cluster_status(pb::ClusterStatusRequest {})
        .await
        .unwrap()
        .into_inner()
}

/// A nats-server with TLS (the test CA's server certificate) and one user.
fn start_nats(dir: &Path, cert: &Path, key: &Path, password: &str) -> Option<(Proc, u16)> {
    let bin = ["/usr/sbin/nats-server", "/usr/bin/nats-server"]
        .into_iter()
        .find(|p| Path::new(p).exists());
    let Some(bin) = bin else {
        if std::env::var_os("CALLSCOPE_SKIP_NATS").is_some() {
            eprintln!("skipped: nats-server is not installed (CALLSCOPE_SKIP_NATS set)");
            return None;
        }
        panic!(
            "the cluster test needs nats-server: apt-get install nats-server (scripts/test.sh \
             does), or set CALLSCOPE_SKIP_NATS=1 to skip it"
        );
    };
    let port = free_port();
    let conf = dir.join("nats.conf");
    std::fs::write(
        &conf,
        format!(
            "listen: 127.0.0.1:{port}\n\
             tls {{ cert_file: \"{}\", key_file: \"{}\", timeout: 5 }}\n\
             authorization {{ user: callscope, password: \"{password}\" }}\n",
            cert.display(),
            key.display()
        ),
    )
    .unwrap();
    let log = std::fs::File::create(dir.join("nats.log")).unwrap();
    let p = Proc(
        Command::new(bin)
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start nats-server"),
    );
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some((p, port));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!(
        "nats-server did not start: {}",
        std::fs::read_to_string(dir.join("nats.log")).unwrap_or_default()
    );
}

struct Node {
    port: u16,
    data: PathBuf,
    log: PathBuf,
}

fn start_node(dir: &Path, name: &str, env: &[(&str, String)], args: &[String]) -> (Proc, Node) {
    let port = free_port();
    let data = dir.join(format!("data-{name}"));
    let log = dir.join(format!("serve-{name}.log"));
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_callscope"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(&data)
        .args(["--node-id", name])
        // No sentence model: it only slows the start here.
        .arg("--keywords-only")
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::null())
        .stderr(out)
        .spawn()
        .expect("start callscope serve");
    (Proc(child), Node { port, data, log })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_one_floor_and_a_lost_node() {
    let corpus = corpus_dir();
    if !corpus.join(CALLS[0].0).exists() {
        eprintln!("skipped: the dev corpus is not at {}", corpus.display());
        return;
    }
    let Some(pg) = TestPg::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let p = pki(dir.path());
    let password = format!("pw{}", std::process::id());
    let Some((_nats, nats_port)) = start_nats(dir.path(), &p.server_cert, &p.server_key, &password)
    else {
        return;
    };
    let access = dir.path().join("access.toml");
    let ingest = add_token(&access, "pbx", "ingest", None);
    let supervisor = add_token(&access, "sup", "supervisor", None);
    let other = add_token(&access, "desk-1", "agent", Some("agent-1"));
    let bus = format!("tls://callscope:{password}@127.0.0.1:{nats_port}");
    let ca = p.ca.to_str().unwrap().to_string();

    // A tap on every subject of the bus, to scan what crossed it.
    let tap_client =
        async_nats::ConnectOptions::with_user_and_password("callscope".into(), password.clone())
            .add_root_certificates(p.ca.clone())
            .require_tls(true)
            .connect(format!("tls://127.0.0.1:{nats_port}"))
            .await
            .expect("the test connects to the bus");
    let mut tap = tap_client.subscribe(">").await.unwrap();
    let tapped: Arc<Mutex<Vec<u8>>> = Arc::default();
    let subjects: Arc<Mutex<std::collections::BTreeSet<String>>> = Arc::default();
    {
        let (tapped, subjects) = (Arc::clone(&tapped), Arc::clone(&subjects));
        tokio::spawn(async move {
            while let Some(m) = tap.next().await {
                tapped.lock().unwrap().extend_from_slice(&m.payload);
                let s = m.subject.as_str();
                let kind = s.rsplit('.').next().unwrap_or("").to_string();
                subjects
                    .lock()
                    .unwrap()
                    .insert(if s.starts_with("callscope.nodes.") {
                        "nodes".into()
                    } else {
                        kind
                    });
            }
        });
    }

    let env = [("CALLSCOPE_STORE", pg.url.clone())];
    let args = |metrics: u16| -> Vec<String> {
        vec![
            "--tls-cert".into(),
            p.server_cert.display().to_string(),
            "--tls-key".into(),
            p.server_key.display().to_string(),
            "--auth".into(),
            access.display().to_string(),
            "--bus".into(),
            bus.clone(),
            "--bus-ca".into(),
            ca.clone(),
            "--metrics".into(),
            format!("127.0.0.1:{metrics}"),
        ]
    };
    let metrics_a = free_port();
    let (_a, node_a) = start_node(dir.path(), "node-a", &env, &args(metrics_a));
    let (b_proc, node_b) = start_node(dir.path(), "node-b", &env, &args(free_port()));
    let nodes = [&node_a, &node_b];
    let ep = |port: u16, token: &str| Endpoint {
        url: format!("https://127.0.0.1:{port}"),
        tls: ClientTlsFiles {
            ca: Some(p.ca.clone()),
            ..Default::default()
        },
        token: Some(token.to_string()),
    };
    for n in nodes {
        let mut up = false;
        for _ in 0..600 {
            if let Ok(mut c) = connect(ep(n.port, &supervisor)).await
                && c.who_am_i(pb::WhoAmIRequest {}).await.is_ok()
            {
                up = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert!(
            up,
            "a node came up: {}",
            std::fs::read_to_string(&n.log).unwrap_or_default()
        );
    }

    // The supervisor's floor on node A, recorded with arrival times.
    type Seen = Vec<(Instant, i64, pb::FloorUpdate)>;
    let floor: Arc<Mutex<Seen>> = Arc::default();
    {
        let mut c = connect(ep(node_a.port, &supervisor)).await.unwrap();
        let mut s = c
            .watch_floor(pb::WatchFloorRequest {})
            .await
            .unwrap()
            .into_inner();
        let floor = Arc::clone(&floor);
        tokio::spawn(async move {
            while let Ok(Some(u)) = s.message().await {
                let now_ms = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_millis() as i64;
                floor.lock().unwrap().push((Instant::now(), now_ms, u));
            }
        });
    }

    let replays: Vec<(usize, Child)> = CALLS
        .iter()
        .map(|(file, id, agent, node)| {
            let child = Command::new(env!("CARGO_BIN_EXE_callscope"))
                .arg("replay")
                .arg(corpus.join(file))
                .args([
                    "--server",
                    &format!("https://127.0.0.1:{}", nodes[*node].port),
                ])
                .args(["--ca", &ca, "--call-id", id, "--agent-id", agent])
                .env("CALLSCOPE_TOKEN", &ingest)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start callscope replay");
            (*node, child)
        })
        .collect();

    // All four live on A's floor, B's call marked with its node.
    let on_floor = |id: &str| {
        floor.lock().unwrap().iter().any(|(_, _, u)| {
            u.call_id == id
                && u.kind != pb::floor_update::Kind::CallEnded as i32
                && u.kpi.as_ref().is_some_and(|k| k.duration_s > 5.0)
        })
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while !CALLS.iter().all(|c| on_floor(c.1)) {
        assert!(
            Instant::now() < deadline,
            "node A's floor shows all four calls live; it showed: {:?}",
            CALLS
                .iter()
                .filter(|c| on_floor(c.1))
                .map(|c| c.1)
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        floor
            .lock()
            .unwrap()
            .iter()
            .any(|(_, _, u)| u.call_id == "cl-4" && u.node_id == "node-b"),
        "B's call is shown with B's node id"
    );
    // B's call followed through node A: its history from B, then its events.
    {
        let mut c = connect(ep(node_a.port, &supervisor)).await.unwrap();
        let mut s = c
            .watch_call(pb::WatchCallRequest {
                call_id: "cl-4".into(),
            })
            .await
            .expect("A forwards B's call")
            .into_inner();
        let mut accepted = false;
        let mut kpis = 0;
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline && !(accepted && kpis >= 2) {
            let Ok(Ok(Some(ev))) = tokio::time::timeout(Duration::from_secs(5), s.message()).await
            else {
                break;
            };
            match ev.event {
                Some(pb::call_event::Event::Accepted(a)) => {
                    assert_eq!(a.agent_id, "agent-4");
                    accepted = true;
                }
                Some(pb::call_event::Event::Kpi(_)) => kpis += 1,
                _ => {}
            }
        }
        assert!(
            accepted && kpis >= 2,
            "history (accepted {accepted}) and live KPIs ({kpis})"
        );
        // An agent may not follow another agent's call on another node.
        let denied = connect(ep(node_a.port, &other))
            .await
            .unwrap()
            .watch_call(pb::WatchCallRequest {
                call_id: "cl-4".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(denied.code(), tonic::Code::PermissionDenied);
    }
    // A sees B in the cluster's status, ready.
    let status = cluster_status(ep(node_a.port, &supervisor)).await;
    let ids: Vec<&str> = status.nodes.iter().map(|n| n.node_id.as_str()).collect();
    assert_eq!(ids, ["node-a", "node-b"], "{status:?}");
    assert_eq!(status.nodes[1].call_ids, ["cl-4"]);
    assert_eq!(status.nodes[0].live_calls, 3);
    // Readiness over HTTPS on the metrics port.
    let ready = Command::new("curl")
        .args([
            "-s",
            "--cacert",
            &ca,
            &format!("https://127.0.0.1:{metrics_a}/ready"),
        ])
        .output()
        .unwrap();
    let ready: Value = serde_json::from_slice(&ready.stdout).expect("JSON from /ready");
    assert_eq!(ready["live_calls"], 3, "{ready}");
    assert_eq!(ready["max_calls"], 64, "{ready}");

    // Node B dies mid-call.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let mut b_proc = b_proc;
    b_proc.0.kill().expect("kill node B");
    let _ = b_proc.0.wait();
    let killed = Instant::now();
    let interrupted = |floor: &Seen| {
        floor.iter().find_map(|(at, _, u)| {
            (u.call_id == "cl-4" && u.kind == pb::floor_update::Kind::CallInterrupted as i32)
                .then_some(*at)
        })
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    let shown = loop {
        if let Some(at) = interrupted(&floor.lock().unwrap()) {
            break at;
        }
        assert!(
            Instant::now() < deadline,
            "B's call shows as interrupted on A's floor"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    eprintln!(
        "node B killed: its call shown interrupted on A's floor {:.1} s later",
        shown.duration_since(killed).as_secs_f64()
    );

    // A's calls are unaffected: their replays end normally.
    for (node, mut child) in replays {
        if node == 1 {
            let _ = child.kill();
            let _ = child.wait();
            continue;
        }
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "a replay to node A: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Floor latency through the bus: B's updates as A's watcher got them.
    let mut lat: Vec<i64> = floor
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, _, u)| u.node_id == "node-b" && u.sent_unix_ms > 0)
        .map(|(_, got, u)| got - u.sent_unix_ms)
        .collect();
    lat.sort_unstable();
    assert!(!lat.is_empty());
    let pct = |q: f64| lat[((lat.len() - 1) as f64 * q).round() as usize];
    eprintln!(
        "floor latency through NATS (node B -> node A's watcher): p50 {} ms, p95 {} ms, max {} ms over {} updates",
        pct(0.5),
        pct(0.95),
        lat[lat.len() - 1],
        lat.len()
    );

    // Every call is in the store, seen from either node.
    let list = |node: &Node| -> Vec<Value> {
        let (code, out, err) = callscope_env(
            &[
                "calls",
                "list",
                "--json",
                "--data-dir",
                node.data.to_str().unwrap(),
            ],
            &[("CALLSCOPE_STORE", &pg.url)],
        );
        assert_eq!(code, 0, "{err}");
        serde_json::from_str::<Value>(&out)
            .unwrap()
            .as_array()
            .cloned()
            .unwrap_or_default()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let stored = loop {
        let rows = list(&node_a);
        if rows.len() >= 4 || Instant::now() > deadline {
            break rows;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(stored.len(), 4, "{stored:?}");
    assert_eq!(list(&node_b).len(), 4);
    let status_of = |rows: &[Value], id: &str| {
        rows.iter()
            .find(|r| r["call_id"] == id)
            .map(|r| r["status"].as_str().unwrap_or("").to_string())
            .unwrap_or_default()
    };
    assert_eq!(status_of(&stored, "cl-4"), "interrupted");
    for id in ["cl-1", "cl-2", "cl-3"] {
        assert_ne!(status_of(&stored, id), "interrupted", "{id}: {stored:?}");
    }
    // The lost node is listed as lost.
    let status = cluster_status(ep(node_a.port, &supervisor)).await;
    assert!(
        status.nodes.iter().any(|n| n.node_id == "node-b" && n.lost),
        "{status:?}"
    );

    // No card number anywhere: PostgreSQL, the bus, either node's files.
    let cards = card_numbers(&CALLS.map(|c| c.0));
    assert!(!cards.is_empty(), "the calls read out card numbers");
    let dump = pg.dump();
    assert!(dump.len() > 1000, "the dump holds the calls");
    assert!(!holds_card(&dump, &cards), "a card number is in PostgreSQL");
    let bus_bytes = tapped.lock().unwrap().clone();
    assert!(bus_bytes.len() > 10_000, "the tap saw the calls' events");
    assert!(
        !holds_card(&bus_bytes, &cards),
        "a card number crossed the bus"
    );
    let seen_subjects = subjects.lock().unwrap().clone();
    for s in ["events", "floor", "nodes"] {
        assert!(
            seen_subjects.contains(s),
            "{s} on the bus: {seen_subjects:?}"
        );
    }
    for n in nodes {
        for f in files_under(&n.data) {
            let bytes = std::fs::read(&f).unwrap();
            assert!(
                !holds_card(&bytes, &cards),
                "a card number is in {}",
                f.display()
            );
        }
    }

    // B comes back: its crash recovery replaces the lost-call record with
    // what it had written (recording and trail), still interrupted.
    let (_b2, _) = start_node(dir.path(), "node-b", &env, &args(free_port()));
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (code, out, _) = callscope_env(
            &[
                "calls",
                "show",
                "cl-4",
                "--json",
                "--data-dir",
                node_a.data.to_str().unwrap(),
            ],
            &[("CALLSCOPE_STORE", &pg.url)],
        );
        if code == 0 && !out.contains("cluster: node lost") {
            let r: Value = serde_json::from_str(&out).unwrap();
            assert_eq!(r["status"], "interrupted", "{out}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "node B's recovery replaces the lost-call record: {}",
            std::fs::read_to_string(&node_b.log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Floor-event latency through NATS under load, by hand
/// (`cargo test --release --test cluster -- --ignored --nocapture`): node
/// B takes `CALLSCOPE_MEASURE_CALLS` dev calls (default 8) at real time,
/// a floor watcher on node A times every update of B's calls from B's
/// send to A's watcher (one machine, one clock). Reported in
/// docs/cluster.md.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, run by hand"]
async fn measure_floor_latency_through_nats() {
    let corpus = corpus_dir();
    let calls: Vec<String> = corpus_calls();
    let n: usize = std::env::var("CALLSCOPE_MEASURE_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8);
    let dir = tempfile::tempdir().unwrap();
    let p = pki(dir.path());
    let Some((_nats, nats_port)) = start_nats(dir.path(), &p.server_cert, &p.server_key, "pw")
    else {
        return;
    };
    let bus = format!("tls://callscope:pw@127.0.0.1:{nats_port}");
    let args = vec![
        "--bus".to_string(),
        bus,
        "--bus-ca".into(),
        p.ca.display().to_string(),
    ];
    let (_a, node_a) = start_node(dir.path(), "node-a", &[], &args);
    let (_b, node_b) = start_node(dir.path(), "node-b", &[], &args);
    let plain = |port: u16| Endpoint {
        url: format!("http://127.0.0.1:{port}"),
        tls: ClientTlsFiles::default(),
        token: None,
    };
    for node in [&node_a, &node_b] {
        let up = async {
            for _ in 0..600 {
                if let Ok(mut c) = connect(plain(node.port)).await
                    && c.who_am_i(pb::WhoAmIRequest {}).await.is_ok()
                {
                    return true;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            false
        };
        assert!(up.await, "a node came up");
    }
    let mut s = connect(plain(node_a.port))
        .await
        .unwrap()
        .watch_floor(pb::WatchFloorRequest {})
        .await
        .unwrap()
        .into_inner();
    let replays: Vec<Child> = (0..n)
        .map(|i| {
            Command::new(env!("CARGO_BIN_EXE_callscope"))
                .arg("replay")
                .arg(corpus.join(format!("{}.wav", calls[i % calls.len()])))
                .args(["--server", &format!("http://127.0.0.1:{}", node_b.port)])
                .args(["--call-id", &format!("m-{i}")])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut lat = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(70);
    while Instant::now() < deadline {
        let Ok(Ok(Some(u))) = tokio::time::timeout(Duration::from_secs(5), s.message()).await
        else {
            break;
        };
        if u.node_id == "node-b" && u.sent_unix_ms > 0 {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis() as i64;
            lat.push(now - u.sent_unix_ms);
        }
    }
    for mut r in replays {
        let _ = r.kill();
        let _ = r.wait();
    }
    lat.sort_unstable();
    assert!(!lat.is_empty());
    let pct = |q: f64| lat[((lat.len() - 1) as f64 * q).round() as usize];
    eprintln!(
        "{n} calls on node B: floor updates through NATS to node A's watcher: p50 {} ms, p95 {} ms, p99 {} ms, max {} ms over {} updates",
        pct(0.5),
        pct(0.95),
        pct(0.99),
        lat[lat.len() - 1],
        lat.len()
    );
}
