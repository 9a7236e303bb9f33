//! The live commands: `serve`, `replay`, `watch`, `capture`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use tokio::sync::watch;

use crate::analyze::call_id_for;
use crate::cli::AsrArgs;
use crate::engine::call::LiveConfig;
use crate::grpc::{client, server};

/// Arguments of `callscope serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = server::DEFAULT_LISTEN, env = "CALLSCOPE_LISTEN")]
    pub listen: String,
    /// Where finished calls are stored (as `analyze` stores them).
    #[arg(long, default_value = "./callscope-data", env = "CALLSCOPE_DATA_DIR")]
    pub data_dir: PathBuf,
    /// Most live calls at once; more get RESOURCE_EXHAUSTED.
    #[arg(long, default_value_t = 64)]
    pub max_calls: usize,
    /// How long finished speech may wait for transcription (seconds) before partial transcripts stop.
    #[arg(long, default_value_t = 10.0)]
    pub max_lag: f64,
    /// How long finished speech may wait for transcription (seconds) before
    /// the call's transcription is deferred: from then on it gets whisper
    /// only when no other call's work waits, the rest after it ends, so the
    /// calls within bounds keep live transcripts (0: never).
    #[arg(long, default_value_t = 30.0)]
    pub defer_lag: f64,
    /// A call stream that sends nothing for this long is ended and stored as interrupted, seconds.
    #[arg(long, default_value_t = 60.0)]
    pub idle_timeout: f64,
    /// Longest a call's audio stays in memory waiting for its redaction to
    /// settle, seconds (about 3.8 MB a minute per 8 kHz stereo call): older
    /// audio is written with what is unsettled in it masked whole, and
    /// finals still untranscribed then are given up (text redacted whole).
    /// Bounds memory when whisper is overloaded; keep it well above the
    /// look-back (15 s) plus a slow customer's card read-out.
    #[arg(long, default_value_t = 600.0)]
    pub max_hold: f64,
    /// Serve Prometheus metrics at `http://ADDR/metrics` (e.g. `127.0.0.1:9464`).
    #[arg(long, env = "CALLSCOPE_METRICS")]
    pub metrics: Option<std::net::SocketAddr>,
    /// Transcription and redaction.
    #[command(flatten)]
    pub asr: AsrArgs,
}

/// Arguments of `callscope replay`.
#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// The recording (WAV).
    pub file: PathBuf,
    /// The server.
    #[arg(
        long,
        default_value = "http://127.0.0.1:50051",
        env = "CALLSCOPE_SERVER"
    )]
    pub server: String,
    /// 1 = real time, 2 = twice as fast, 0 = as fast as the server reads.
    #[arg(long, default_value_t = 1.0)]
    pub speed: f64,
    /// Call id (default: the file name without extension).
    #[arg(long)]
    pub call_id: Option<String>,
    /// Agent id.
    #[arg(long, default_value = "replay")]
    pub agent_id: String,
    /// Caller id (e.g. the calling number), for repeat-caller trends.
    #[arg(long)]
    pub caller_id: Option<String>,
    /// Chunk length, milliseconds (20–100).
    #[arg(long, default_value_t = 50)]
    pub chunk_ms: u32,
    /// Also print partial transcripts, KPIs and speaking changes.
    #[arg(long, short)]
    pub verbose: bool,
}

/// Arguments of `callscope watch`.
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false, id = "what")]
pub struct WatchArgs {
    /// Follow one live call.
    #[arg(long, group = "what")]
    pub call: Option<String>,
    /// Follow every live call.
    #[arg(long, group = "what")]
    pub floor: bool,
    /// The server.
    #[arg(
        long,
        default_value = "http://127.0.0.1:50051",
        env = "CALLSCOPE_SERVER"
    )]
    pub server: String,
    /// Also print partial transcripts and speaking changes.
    #[arg(long, short)]
    pub verbose: bool,
}

/// Arguments of `callscope capture`.
#[derive(Debug, clap::Args)]
pub struct CaptureArgs {
    /// List the input devices and exit.
    #[arg(long)]
    pub list_devices: bool,
    /// The agent's device (name or id as listed; default: the system default input).
    #[arg(long)]
    pub device: Option<String>,
    /// The customer's device; without it, a stereo input's second channel is the customer.
    #[arg(long)]
    pub customer_device: Option<String>,
    /// Stop after this many seconds (default: at Ctrl-C).
    #[arg(long)]
    pub duration: Option<f64>,
    /// Call id (default: `capture-<unix time>`).
    #[arg(long)]
    pub call_id: Option<String>,
    /// Agent id.
    #[arg(long, default_value = "capture")]
    pub agent_id: String,
    /// Caller id (e.g. the calling number), for repeat-caller trends.
    #[arg(long, default_value = "")]
    pub caller_id: String,
    /// Stream to this server (`callscope serve`) instead of analysing in this process.
    #[arg(long)]
    pub server: Option<String>,
    /// Where the call is stored (in-process only).
    #[arg(long, default_value = "./callscope-data", env = "CALLSCOPE_DATA_DIR")]
    pub data_dir: PathBuf,
    /// Transcription and redaction.
    #[command(flatten)]
    pub asr: AsrArgs,
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime starts")
}

/// `callscope serve`.
pub fn serve(args: ServeArgs) -> ExitCode {
    let addr = match server::parse_listen(&args.listen) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let transcription = match args.asr.start() {
        Ok(t) => Arc::new(t),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let cfg = LiveConfig {
        max_lag_s: args.max_lag,
        defer_lag_s: args.defer_lag,
        idle_timeout_s: args.idle_timeout,
        hold: crate::engine::call::HoldConfig {
            max_hold_s: args.max_hold.max(60.0),
            ..Default::default()
        },
        ..LiveConfig::for_transcription(&transcription, args.asr.pipeline())
    };
    runtime().block_on(async move {
        let listener = match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("error: cannot listen on {addr}: {e}; pick another --listen");
                return ExitCode::from(2);
            }
        };
        if let Some(m) = args.metrics {
            if let Err(e) = crate::telemetry::serve(m) {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
            eprintln!("metrics on http://{m}/metrics");
        }
        let (stop_tx, stop_rx) = watch::channel(false);
        let hub = server::Hub::new(
            args.data_dir.clone(),
            transcription,
            cfg,
            args.max_calls,
            stop_rx,
        );
        eprintln!(
            "callscope serving on {} (data in {}); Ctrl-C to stop",
            listener.local_addr().map_or(addr, |a| a),
            args.data_dir.display()
        );
        match server::serve(listener, hub, stop_tx, server::shutdown_signal()).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: server: {e}");
                ExitCode::from(1)
            }
        }
    })
}

/// `callscope replay`.
pub fn replay(args: ReplayArgs) -> ExitCode {
    let call_id = args
        .call_id
        .clone()
        .unwrap_or_else(|| call_id_for(&args.file));
    let opts = client::ReplayOptions {
        call_id,
        agent_id: args.agent_id.clone(),
        caller_id: args.caller_id.clone().unwrap_or_default(),
        speed: args.speed.max(0.0),
        chunk_ms: args.chunk_ms,
        agent_channel: 0,
        max_s: None,
    };
    let verbose = args.verbose;
    runtime().block_on(async move {
        let r = client::replay(&args.server, &args.file, &opts, |ev, _| {
            if let Some(line) = client::describe(ev, verbose) {
                println!("{line}");
            }
        })
        .await;
        match r {
            Ok(Some(_)) => ExitCode::SUCCESS,
            Ok(None) => {
                eprintln!("error: the server ended the stream without storing the call");
                ExitCode::from(1)
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(1)
            }
        }
    })
}

/// `callscope watch`.
pub fn watch(args: WatchArgs) -> ExitCode {
    runtime().block_on(async move {
        let r = match &args.call {
            Some(id) => client::watch_call(&args.server, id, args.verbose).await,
            None => client::watch_floor(&args.server).await,
        };
        match r {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(1)
            }
        }
    })
}

/// `callscope capture`.
pub fn capture(args: CaptureArgs) -> ExitCode {
    super::capture::run(args)
}

/// `callscope load`.
pub fn load(args: super::load::LoadArgs) -> ExitCode {
    if args.calls == 0 {
        eprintln!("error: --calls must be at least 1");
        return ExitCode::from(2);
    }
    if let Some(missing) = args.files.iter().find(|f| !f.is_file()) {
        eprintln!("error: {}: no such recording", missing.display());
        return ExitCode::from(2);
    }
    let report = runtime().block_on(super::load::run(&args));
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report.json()).expect("JSON serialises")
        );
    } else {
        println!("{}", report.table());
    }
    if report.failures() > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
