//! The call store's write latency and throughput, SQLite (the default) vs
//! PostgreSQL (`--store`, a throwaway local server with fsync on, started
//! by the benchmark; skipped when PostgreSQL is not installed), and two
//! queries over what was written.
//!
//! One call: a dev-corpus call analysed with a fake transcriber (every
//! utterance a short sentence), so the report has the segments, prompts
//! and signals a real one has; each put stores it under a new call id.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use callscope::analyze::{AnalyzeOptions, analyze_file};
use callscope::asr::{AsrError, AsrPool, Reply, Transcript, Utterance, Word};
use callscope::engine::seal::Transcription;
use callscope::redact::Redacted;
use callscope::redact::audio::MaskMethod;
use callscope::redact::detect::DetectConfig;
use callscope::report::Report;
use callscope::rules::Rules;
use callscope::store::db::{CallStore, Filter, IfExists, Store, StoredFiles};
use callscope::store::pg::{PgStore, testing::TestPg};
use criterion::{Criterion, criterion_group, criterion_main};

/// Hears "thank you for calling how can I help" in every utterance.
struct Polite;

impl AsrPool for Polite {
    fn try_submit_with(&self, u: Utterance, reply: Reply) -> Result<(), (AsrError, Utterance)> {
        let words = "thank you for calling how can I help"
            .split_whitespace()
            .enumerate()
            .map(|(i, w)| Word {
                text: w.into(),
                start: u.start_s + 0.2 * i as f64,
                end: u.start_s + 0.2 * i as f64 + 0.15,
                confidence: 0.9,
                digit_p: None,
            })
            .collect();
        reply(Ok(Transcript {
            words,
            ..Transcript::default()
        }));
        Ok(())
    }

    fn submit_with(&self, u: Utterance, reply: Reply) -> Result<(), AsrError> {
        self.try_submit_with(u, reply).map_err(|(e, _)| e)
    }

    fn waiting(&self) -> usize {
        0
    }
}

/// A sealed report of dev-001 (the corpus by relative path, as the tests).
fn report() -> Option<Redacted<Report>> {
    let file = Path::new("../shared/corpus/dev/dev-001.wav");
    if !file.exists() {
        eprintln!("skipped: the dev corpus is not at {}", file.display());
        return None;
    }
    let opts = AnalyzeOptions {
        transcription: Some(Transcription {
            pool: Arc::new(Polite),
            model_name: "fake".into(),
            mask: MaskMethod::Silence,
            detect: DetectConfig::default(),
            rules: Arc::new(Rules::builtin()),
        }),
        ..AnalyzeOptions::default()
    };
    Some(analyze_file(file, &opts).expect("analyse dev-001").report)
}

/// Calls in each store the queries run over.
const STORED: usize = 500;

fn puts(c: &mut Criterion, name: &str, db: &mut dyn Store, call: &Redacted<Report>) {
    let none = StoredFiles::default();
    let mut n = 0u64;
    let mut g = c.benchmark_group("store");
    g.sample_size(50).measurement_time(Duration::from_secs(10));
    g.bench_function(format!("{name}/put one call"), |b| {
        b.iter(|| {
            n += 1;
            db.put(
                &call.with_call_id(&format!("b{n}")),
                &none,
                IfExists::Refuse,
            )
            .unwrap();
        })
    });
    g.finish();
}

/// Writers storing at once (nodes or calls ending together).
const WRITERS: usize = 4;

/// Throughput with [`WRITERS`] threads storing at once, each on its own
/// connection from `open`: the time per call stored, all writers together.
fn parallel_puts(
    c: &mut Criterion,
    name: &str,
    open: &(dyn Fn() -> Box<dyn Store> + Sync),
    call: &Redacted<Report>,
) {
    let none = StoredFiles::default();
    let next = std::sync::atomic::AtomicU64::new(0);
    let mut g = c.benchmark_group("store");
    g.sample_size(20).measurement_time(Duration::from_secs(15));
    g.bench_function(
        format!("{name}/put, {WRITERS} writers at once (per call)"),
        |b| {
            b.iter_custom(|iters| {
                let each = iters.div_ceil(WRITERS as u64);
                let start = std::time::Instant::now();
                std::thread::scope(|sc| {
                    for _ in 0..WRITERS {
                        sc.spawn(|| {
                            let mut db = open();
                            for _ in 0..each {
                                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                db.put(
                                    &call.with_call_id(&format!("p{n}")),
                                    &none,
                                    IfExists::Refuse,
                                )
                                .unwrap();
                            }
                        });
                    }
                });
                start
                    .elapsed()
                    .mul_f64(iters as f64 / (each * WRITERS as u64) as f64)
            })
        },
    );
    g.finish();
}

fn queries(c: &mut Criterion, name: &str, db: &mut dyn Store, call: &Redacted<Report>) {
    let none = StoredFiles::default();
    for n in 0..STORED {
        db.put(
            &call.with_call_id(&format!("q{n}")),
            &none,
            IfExists::Refuse,
        )
        .unwrap();
    }
    let mut g = c.benchmark_group("store");
    g.sample_size(30).measurement_time(Duration::from_secs(8));
    let phrase = Filter {
        phrase: Some("how can I help".into()),
        limit: 50,
        ..Filter::default()
    };
    g.bench_function(format!("{name}/{STORED} calls: list 50 by phrase"), |b| {
        b.iter(|| db.list(&phrase).unwrap())
    });
    g.bench_function(format!("{name}/{STORED} calls: trends"), |b| {
        b.iter(|| db.trends(&Filter::default()).unwrap())
    });
    g.finish();
}

fn store(c: &mut Criterion) {
    let Some(call) = report() else { return };
    eprintln!(
        "one call: {} segments, {} prompts, {} bytes of report",
        call.get().segments.len(),
        call.get().prompts.len(),
        serde_json::to_string(call.get()).unwrap().len()
    );
    let dir = tempfile::tempdir().unwrap();
    puts(
        c,
        "sqlite",
        &mut CallStore::open(dir.path()).unwrap(),
        &call,
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    parallel_puts(
        c,
        "sqlite",
        &|| Box::new(CallStore::open(&path).unwrap()) as Box<dyn Store>,
        &call,
    );
    let dir = tempfile::tempdir().unwrap();
    queries(
        c,
        "sqlite",
        &mut CallStore::open(dir.path()).unwrap(),
        &call,
    );
    // PostgreSQL is optional here: the benchmark is run by hand.
    if std::env::var_os("CALLSCOPE_SKIP_POSTGRES").is_none()
        && Path::new("/usr/lib/postgresql").exists()
    {
        let pg = TestPg::start_with(true).expect("a throwaway PostgreSQL");
        puts(
            c,
            "postgres",
            &mut PgStore::connect(&pg.url, 2, None).unwrap(),
            &call,
        );
        let pg = TestPg::start_with(true).expect("a throwaway PostgreSQL");
        let shared = PgStore::connect(&pg.url, WRITERS as u32, None).unwrap();
        parallel_puts(
            c,
            "postgres",
            &|| Box::new(shared.clone()) as Box<dyn Store>,
            &call,
        );
        let pg = TestPg::start_with(true).expect("a throwaway PostgreSQL");
        queries(
            c,
            "postgres",
            &mut PgStore::connect(&pg.url, 2, None).unwrap(),
            &call,
        );
    }
}

criterion_group!(benches, store);
criterion_main!(benches);
