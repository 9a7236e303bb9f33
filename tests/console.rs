//! The web console end to end, in headless Chromium: `callscope serve`
//! with TLS and tokens, two corpus calls replayed into it at real time,
//! and `web/e2e/console.mjs` (Playwright) driving the page as a
//! supervisor, an agent, QA and compliance; it also checks that no card
//! number's digits reach the page's DOM or its network responses.
//!
//! Needs Chromium (`/usr/bin/chromium`) and `web/node_modules`
//! (`scripts/test.sh` installs both). Screenshots and `results.json` are
//! kept in `$CARGO_TARGET_TMPDIR/console` (printed).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::pki::pki;
use common::*;

/// The two calls: (corpus file, call id, agent id).
const CALLS: [(&str, &str, &str); 2] = [
    ("dev-001.wav", "console-1", "agent-7"),
    ("dev-002.wav", "console-2", "agent-9"),
];

/// Kills the child when dropped (a failing assertion must not leave a server).
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Whether Chromium and the page's test tools are here; `None` when they
/// are, else what is missing.
fn browser_missing() -> Option<String> {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).exists() {
        return Some(format!("{chromium} (apt-get install chromium)"));
    }
    if !Path::new("web/node_modules/playwright-core").exists() {
        return Some("web/node_modules (cd web && npm ci)".into());
    }
    None
}

/// A token for `role` (and `agent` for the agent role).

#[test]
fn the_console_works_for_each_role_and_shows_no_card_digits() {
    if let Some(missing) = browser_missing() {
        if std::env::var_os("CALLSCOPE_SKIP_BROWSER").is_some() {
            eprintln!("skipped: {missing} is missing (CALLSCOPE_SKIP_BROWSER set)");
            return;
        }
        panic!(
            "the console test needs {missing}; run scripts/test.sh, which installs it \
             (or set CALLSCOPE_SKIP_BROWSER=1 to skip this test)"
        );
    }
    let corpus = corpus_dir();
    if !corpus.join(CALLS[0].0).exists() {
        eprintln!("skipped: the dev corpus is not at {}", corpus.display());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let p = pki(dir.path());
    let access = dir.path().join("access.toml");
    let ingest = add_token(&access, "pbx", "ingest", None);
    let supervisor = add_token(&access, "sup", "supervisor", None);
    let qa = add_token(&access, "qa", "qa", None);
    let compliance = add_token(&access, "compliance", "compliance", None);
    let agent = add_token(&access, "desk", "agent", Some(CALLS[0].2));

    let port = free_port();
    let data = dir.path().join("data");
    let url = format!("https://127.0.0.1:{port}");
    let log = std::fs::File::create(dir.path().join("serve.log")).unwrap();
    let _server = Killed(
        Command::new(env!("CARGO_BIN_EXE_callscope"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--tls-cert")
            .arg(&p.server_cert)
            .arg("--tls-key")
            .arg(&p.server_key)
            .arg("--auth")
            .arg(&access)
            .arg("--data-dir")
            .arg(&data)
            .stderr(log)
            .spawn()
            .expect("start callscope serve"),
    );
    // Up when the page is served (the model loads first).
    let ca = p.ca.to_str().unwrap().to_string();
    let mut up = false;
    for _ in 0..600 {
        let ok = Command::new("curl")
            .args([
                "-sf",
                "-o",
                "/dev/null",
                "--cacert",
                &ca,
                &format!("{url}/"),
            ])
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            up = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(up, "serve came up over TLS");

    // Both calls at real time, so the floor has them live for a minute.
    let replays: Vec<Child> = CALLS
        .iter()
        .map(|(file, id, agent_id)| {
            Command::new(env!("CARGO_BIN_EXE_callscope"))
                .arg("replay")
                .arg(corpus.join(file))
                .args(["--server", &url, "--ca", &ca, "--call-id", id])
                .args(["--agent-id", agent_id, "--caller-id", "+15550100"])
                .env("CALLSCOPE_TOKEN", &ingest)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start callscope replay")
        })
        .collect();

    let card_digits = card_numbers(&CALLS.map(|c| c.0));
    assert!(!card_digits.is_empty(), "the calls read out card numbers");
    let artefacts = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console");
    let _ = std::fs::remove_dir_all(&artefacts);
    std::fs::create_dir_all(&artefacts).unwrap();
    let calls = serde_json::json!(
        CALLS
            .iter()
            .map(|(_, id, agent)| serde_json::json!({"call_id": id, "agent_id": agent}))
            .collect::<Vec<_>>()
    );
    let tamper = data.join("recordings").join(format!("{}.wav", CALLS[1].1));
    let e2e = Command::new("node")
        .arg("web/e2e/console.mjs")
        .env("CS_URL", &url)
        .env("CS_ARTEFACTS", &artefacts)
        .env("CS_TOKEN_SUPERVISOR", &supervisor)
        .env("CS_TOKEN_QA", &qa)
        .env("CS_TOKEN_COMPLIANCE", &compliance)
        .env("CS_TOKEN_AGENT", &agent)
        .env("CS_AGENT_ID", CALLS[0].2)
        .env("CS_CALLS", calls.to_string())
        .env("CS_CARD_DIGITS", serde_json::json!(card_digits).to_string())
        .env("CS_TAMPER", &tamper)
        .output()
        .expect("run node web/e2e/console.mjs");
    eprintln!("console artefacts: {}", artefacts.display());
    let out = String::from_utf8_lossy(&e2e.stdout);
    let err = String::from_utf8_lossy(&e2e.stderr);
    eprintln!("{out}\n{err}");
    assert!(
        e2e.status.success(),
        "the console's end-to-end script failed"
    );

    for mut r in replays {
        let status = r.wait().unwrap();
        assert!(status.success(), "replay of a console call failed");
    }
    // What the page measured, for docs/performance.md.
    let results = std::fs::read_to_string(artefacts.join("results.json")).unwrap_or_default();
    eprintln!("results: {results}");
}
