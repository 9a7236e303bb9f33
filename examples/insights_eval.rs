//! Scores complaint category and the apology / escalation / cancellation
//! flags of stored reports against the dev corpus truth, re-deriving the
//! analytics from each report's redacted segments with the current rules.
//!
//! `cargo run --release --example insights_eval -- DATA_DIR [RULES.toml]`
//!
//! With the sentence-embedding model installed the analytics go by meaning
//! (each report's redacted segments are embedded); set
//! `CALLSCOPE_KEYWORDS_ONLY=1` to score the phrase lists alone.

use std::sync::Arc;

use callscope::report::Report;
use callscope::rules::Rules;

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().expect("DATA_DIR"));
    let mut rules = match args.next() {
        Some(p) => Rules::load(p.as_ref()).unwrap_or_else(|e| panic!("{e}")),
        None => Rules::builtin(),
    };
    if std::env::var_os("CALLSCOPE_KEYWORDS_ONLY").is_none() {
        let e = callscope::embed::Embedder::load(&callscope::embed::default_dir())
            .unwrap_or_else(|e| panic!("{e}"));
        rules = rules
            .with_embedder(Arc::new(e))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let rules = Arc::new(rules);
    let corpus = std::path::Path::new("../shared/corpus/dev");
    let (mut right, mut n) = (0, 0);
    let mut counts = [[0usize; 3]; 3]; // per flag: tp, fp, fn
    let flags = [
        "agent_apologised",
        "escalation_requested",
        "cancellation_threatened",
    ];
    for entry in std::fs::read_dir(dir.join("reports")).expect("reports/") {
        let path = entry.expect("entry").path();
        let mut report: Report =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("report");
        let call = report.call_id.trim_end_matches(".pcm16").to_string();
        let Ok(text) = std::fs::read_to_string(corpus.join(format!("{call}.truth.json"))) else {
            continue;
        };
        let truth: serde_json::Value = serde_json::from_str(&text).expect("truth");
        report.prompts.clear();
        callscope::rules::insights::analytics(&mut report, &rules);
        let got = report
            .complaint
            .as_ref()
            .map_or("none".to_string(), |c| c.category.clone());
        let want = truth["complaint_category"].as_str().unwrap_or("none");
        n += 1;
        right += usize::from(got == want);
        let f = report.flags.clone().unwrap_or_default();
        let mine = [
            f.apologised,
            f.escalation_requested,
            f.cancellation_threatened,
        ];
        for (i, key) in flags.iter().enumerate() {
            let t = truth[key].as_bool().unwrap_or(false);
            match (mine[i], t) {
                (true, true) => counts[i][0] += 1,
                (true, false) => counts[i][1] += 1,
                (false, true) => counts[i][2] += 1,
                _ => {}
            }
            if mine[i] != t {
                println!("{call}: {key} got {} want {t} {:?}", mine[i], f.evidence);
            }
        }
        if got != want {
            println!(
                "{call}: category got {got} want {want} ({})",
                report
                    .complaint
                    .as_ref()
                    .map(|c| c.evidence.as_str())
                    .unwrap_or_default()
            );
        }
        let sc = report.scorecard.unwrap_or_default();
        println!("{call}: score {:.0}", sc.score);
    }
    println!(
        "category accuracy {right}/{n} = {:.2}",
        right as f64 / n.max(1) as f64
    );
    for (i, key) in flags.iter().enumerate() {
        let [tp, fp, fne] = counts[i];
        let p = tp as f64 / (tp + fp).max(1) as f64;
        let r = tp as f64 / (tp + fne).max(1) as f64;
        println!("{key}: precision {p:.2} recall {r:.2} (tp {tp}, fp {fp}, fn {fne})");
    }
}
