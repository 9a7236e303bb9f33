//! Shared helpers of the integration tests: the dev corpus, its truth files
//! and the scoring rules of `../shared/corpus/README.md`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The dev corpus, by relative path from the crate root (cargo runs tests
/// there; a compile-time path would go stale when the build cache is shared
/// between checkouts).
pub fn corpus_dir() -> PathBuf {
    PathBuf::from("../shared/corpus/dev")
}

/// The call ids of the dev corpus, or an empty list (with a note) if it is absent.
pub fn corpus_calls() -> Vec<String> {
    let dir = corpus_dir();
    let mut ids: Vec<String> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| {
                    e.file_name()
                        .to_str()?
                        .strip_suffix(".truth.json")
                        .map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

/// Parses a JSON file.
pub fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The truth file of a call.
pub fn truth(call: &str) -> Value {
    read_json(&corpus_dir().join(format!("{call}.truth.json")))
}

/// Runs the `callscope` binary with `args`; returns (exit code, stdout, stderr).
pub fn callscope(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_callscope"))
        .args(args)
        .output()
        .expect("run callscope");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub use callscope::eval::Counts;

/// Interruptions matched within 0.5 s of `t` with the same interrupter, one to one.
pub fn score_interruptions(truth: &[Value], found: &[Value]) -> Counts {
    callscope::eval::score_timed(truth, found, 0.5)
}

/// A truth silence is found when a reported silence covers at least half of it.
pub fn silence_found(truth: &Value, found: &[Value]) -> bool {
    let (ts, te) = (
        truth["start"].as_f64().unwrap(),
        truth["end"].as_f64().unwrap(),
    );
    found.iter().any(|f| {
        let (fs, fe) = (f["start"].as_f64().unwrap(), f["end"].as_f64().unwrap());
        (fe.min(te) - fs.max(ts)) >= 0.5 * (te - ts)
    })
}
