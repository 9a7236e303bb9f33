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
    /// Serve Prometheus metrics at `https://ADDR/metrics` (e.g. `127.0.0.1:9464`;
    /// plain `http://` only on a loopback address without --tls-cert).
    #[arg(long, env = "CALLSCOPE_METRICS")]
    pub metrics: Option<std::net::SocketAddr>,
    /// The server's certificate chain (PEM): every listener speaks TLS.
    /// Without it the server only listens on a loopback address.
    #[arg(long, env = "CALLSCOPE_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, env = "CALLSCOPE_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// CA certificate(s) (PEM) whose client certificates are accepted
    /// (mutual TLS); a certificate maps to a role with `callscope auth add-cert`.
    #[arg(long, env = "CALLSCOPE_CLIENT_CA", requires = "tls_cert")]
    pub client_ca: Option<PathBuf>,
    /// The access file (`callscope auth add-token` writes it): tokens and
    /// client certificates with their roles. Without it every caller is
    /// admin, which is only allowed on a loopback address.
    #[arg(long, env = "CALLSCOPE_AUTH")]
    pub auth: Option<PathBuf>,
    /// Fastest a call may be streamed, times real time (0: no limit).
    #[arg(long, default_value_t = 10.0)]
    pub max_speed: f64,
    /// Longest call, seconds; longer calls are ended and stored as far as they got.
    #[arg(long, default_value_t = 14_400.0)]
    pub max_call_duration: f64,
    /// Most audio one call may send, MiB.
    #[arg(long, default_value_t = 1024)]
    pub max_call_mb: u64,
    /// Seconds a new StreamCall has to send its CallStart.
    #[arg(long, default_value_t = 10.0)]
    pub start_timeout: f64,
    /// Watch streams (WatchCall, WatchFloor) at once, all calls together.
    #[arg(long, default_value_t = 512)]
    pub max_watchers: usize,
    /// Watchers of one call at once.
    #[arg(long, default_value_t = 32)]
    pub max_watchers_per_call: usize,
    /// Retention: purge calls stored more than this many days ago, at start
    /// and every hour, as `callscope purge --older-than DAYS` does (default:
    /// keep every call).
    #[arg(long, env = "CALLSCOPE_RETENTION_DAYS")]
    pub retention_days: Option<f64>,
    /// How often calls kept on local disk while the store was away are
    /// retried, seconds.
    #[arg(long, default_value_t = 30.0, value_parser = crate::cli::positive_seconds)]
    pub store_retry: f64,
    /// Cluster mode: the NATS bus the nodes share (`tls://user:password@host:4222`;
    /// plain `nats://` on loopback only). Every node's floor and watchers
    /// then see every call of the cluster. Use with a shared `--store`.
    #[arg(
        long,
        env = "CALLSCOPE_BUS",
        value_name = "URL",
        hide_env_values = true
    )]
    pub bus: Option<String>,
    /// CA certificate(s) (PEM) that signed the bus's certificate (default:
    /// the system's roots).
    #[arg(long, env = "CALLSCOPE_BUS_CA", requires = "bus")]
    pub bus_ca: Option<PathBuf>,
    /// This node's id on the bus (default: the host name).
    #[arg(long, env = "CALLSCOPE_NODE_ID", requires = "bus")]
    pub node_id: Option<String>,
    /// Transcription and redaction.
    #[command(flatten)]
    pub asr: AsrArgs,
}

/// How a client proves who it is and whom it trusts.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Credentials {
    /// CA certificate(s) (PEM) that signed the server's certificate, for
    /// `https://` URLs.
    #[arg(long, env = "CALLSCOPE_CA")]
    pub ca: Option<PathBuf>,
    /// This client's certificate (PEM), for mutual TLS.
    #[arg(long, env = "CALLSCOPE_CERT", requires = "key")]
    pub cert: Option<PathBuf>,
    /// This client's private key (PEM).
    #[arg(long, env = "CALLSCOPE_KEY", requires = "cert")]
    pub key: Option<PathBuf>,
    /// Bearer token (prefer the environment variable or --token-file: a
    /// flag shows in the process list).
    #[arg(long, env = "CALLSCOPE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// File holding the bearer token.
    #[arg(long, conflicts_with = "token")]
    pub token_file: Option<PathBuf>,
}

impl Credentials {
    /// The endpoint for `url` with these credentials.
    pub fn endpoint(&self, url: &str) -> Result<client::Endpoint, String> {
        let token = match (&self.token, &self.token_file) {
            (Some(t), _) => Some(t.clone()),
            (None, Some(f)) => Some(
                std::fs::read_to_string(f)
                    .map_err(|e| format!("--token-file {}: {e}", f.display()))?
                    .trim()
                    .to_string(),
            ),
            (None, None) => None,
        };
        Ok(client::Endpoint {
            url: url.to_string(),
            tls: crate::security::tls::ClientTlsFiles {
                ca: self.ca.clone(),
                cert: self.cert.clone(),
                key: self.key.clone(),
            },
            token,
        })
    }
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
    /// 1 = real time, 2 = twice as fast, 0 = as fast as the server reads
    /// (a server refuses streams past its --max-speed, 10x by default).
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
    /// Replace a stored call with the same id (admin tokens only; audited).
    #[arg(long)]
    pub replace: bool,
    /// TLS and token.
    #[command(flatten)]
    pub creds: Credentials,
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
    /// TLS and token.
    #[command(flatten)]
    pub creds: Credentials,
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
    /// TLS and token for --server.
    #[command(flatten)]
    pub creds: Credentials,
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
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(crate::security::tls::ServerTlsFiles {
            cert: cert.clone(),
            key: key.clone(),
            client_ca: args.client_ca.clone(),
        }),
        _ => None,
    };
    let grpc_tls = match tls.as_ref().map(|t| t.grpc()).transpose() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if tls.is_none() {
        let plain = std::iter::once(("gRPC", addr)).chain(args.metrics.map(|m| ("metrics", m)));
        for (what, a) in plain {
            if let Err(e) = crate::security::tls::plain_allowed(what, a) {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        }
        eprintln!(
            "warning: no --tls-cert: serving plain TCP on loopback only; give a certificate before other machines connect"
        );
    }
    let access = match &args.auth {
        Some(path) => match crate::security::auth::AccessFile::load(path) {
            Ok(f) => {
                if f.tokens.is_empty() && f.certs.is_empty() {
                    eprintln!(
                        "warning: {} has no entries: every request will be refused; add one with `callscope auth add-token`",
                        path.display()
                    );
                }
                crate::security::auth::Access::from_file(&f)
            }
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        },
        None => {
            if !addr.ip().is_loopback() {
                eprintln!(
                    "error: no --auth on {addr}: a server other machines can reach needs an access file; make one with `callscope auth add-token --file access.toml --role admin` and pass --auth access.toml"
                );
                return ExitCode::from(2);
            }
            eprintln!(
                "warning: no --auth: every local process has full access (admin); use --auth before real calls"
            );
            crate::security::auth::Access::open()
        }
    };
    let policy = server::Policy {
        access,
        limits: crate::grpc::policy::Limits {
            max_call_s: args.max_call_duration.max(1.0),
            max_call_bytes: args.max_call_mb.max(1) << 20,
            max_speed: args.max_speed.max(0.0),
            start_timeout_s: args.start_timeout.max(0.1),
            max_watchers: args.max_watchers,
            max_watchers_per_call: args.max_watchers_per_call,
            ..Default::default()
        },
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
        let access = policy.access.clone();
        let store_retry = std::time::Duration::from_secs_f64(args.store_retry);
        let (stop_tx, stop_rx) = watch::channel(false);
        let hub = server::Hub::with_policy(
            args.data_dir.clone(),
            transcription,
            cfg,
            args.max_calls,
            stop_rx,
            policy,
        );
        hub.set_store_retry(store_retry);
        if let Some(url) = &args.bus {
            let bus = crate::grpc::cluster::BusConfig {
                url: url.clone(),
                ca: args.bus_ca.clone(),
                node_id: args
                    .node_id
                    .clone()
                    .unwrap_or_else(crate::grpc::cluster::default_node_id),
                listen: args.listen.clone(),
            };
            match hub.join(&bus).await {
                Ok(()) => eprintln!(
                    "cluster node {} on the bus {}",
                    bus.node_id,
                    crate::grpc::cluster::redact_url(url)
                ),
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(match e {
                        crate::grpc::cluster::BusError::Config { .. } => 2,
                        _ => 1,
                    });
                }
            }
        }
        if let Some(m) = args.metrics {
            let metrics_tls = match tls.as_ref().map(|t| t.rustls()).transpose() {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            };
            let scheme = if metrics_tls.is_some() {
                "https"
            } else {
                "http"
            };
            let probe_hub = std::sync::Arc::downgrade(&hub);
            let ready: crate::telemetry::ReadyProbe =
                std::sync::Arc::new(move || match probe_hub.upgrade() {
                    Some(h) => {
                        let r = h.readiness();
                        (r.ready, serde_json::to_string(&r).unwrap_or_default())
                    }
                    None => (false, "{\"ready\":false,\"reason\":\"stopped\"}".into()),
                });
            match crate::telemetry::serve(m, metrics_tls, ready).await {
                Ok(bound) => eprintln!("metrics on {scheme}://{bound}/metrics"),
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            }
        }
        if let Some(path) = args.auth.clone() {
            tokio::spawn(reload_on_hangup(path, access.clone()));
        }
        if let Some(days) = args.retention_days {
            tokio::spawn(retention(args.data_dir.clone(), days));
        }
        let scheme = if grpc_tls.is_some() { "https" } else { "http" };
        eprintln!(
            "callscope serving on {scheme}://{} (data in {}); Ctrl-C to stop",
            listener.local_addr().map_or(addr, |a| a),
            args.data_dir.display()
        );
        match server::serve_tls(listener, grpc_tls, hub, stop_tx, server::shutdown_signal()).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: server: {e}");
                ExitCode::from(1)
            }
        }
    })
}

/// Re-reads the access file on SIGHUP (after `callscope auth add-token` or
/// `revoke`); a file that no longer loads leaves the last one in force.
async fn reload_on_hangup(path: PathBuf, access: crate::security::auth::Access) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hup) = signal(SignalKind::hangup()) else {
            return;
        };
        while hup.recv().await.is_some() {
            match crate::security::auth::AccessFile::load(&path) {
                Ok(f) => {
                    access.reload(&f);
                    tracing::warn!(
                        tokens = f.tokens.len(),
                        certs = f.certs.len(),
                        "access file reloaded"
                    );
                }
                Err(e) => {
                    tracing::error!(error = %e, "access file not reloaded; the previous one stays in force")
                }
            }
        }
    }
}

/// Purges calls older than `days` now and every hour.
async fn retention(data_dir: PathBuf, days: f64) {
    let older_than = std::time::Duration::from_secs_f64(days.max(0.0) * 86_400.0);
    let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        every.tick().await;
        let dir = data_dir.clone();
        match tokio::task::spawn_blocking(move || crate::store::purge::purge(&dir, older_than))
            .await
        {
            Ok(Ok(s)) if !s.call_ids.is_empty() => tracing::info!(
                calls = s.call_ids.len(),
                files = s.files_removed,
                "retention: purged calls older than {days} days"
            ),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "retention: purge failed; will retry in an hour")
            }
            Err(e) => tracing::warn!(error = %e, "retention: purge task failed"),
        }
    }
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
        replace: args.replace,
    };
    let verbose = args.verbose;
    let ep = match args.creds.endpoint(&args.server) {
        Ok(ep) => ep,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    runtime().block_on(async move {
        let r = client::replay(&ep, &args.file, &opts, |ev, _| {
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
    let ep = match args.creds.endpoint(&args.server) {
        Ok(ep) => ep,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    runtime().block_on(async move {
        let r = match &args.call {
            Some(id) => client::watch_call(&ep, id, args.verbose).await,
            None => client::watch_floor(&ep).await,
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

/// `callscope cluster …`.
#[derive(Debug, clap::Subcommand)]
pub enum ClusterCommand {
    /// Lists the cluster's nodes as one of them hears them on the bus:
    /// live calls, capacity, whisper queue, load, readiness; lost nodes too.
    Status {
        /// Any node of the cluster.
        #[arg(
            long,
            default_value = "http://127.0.0.1:50051",
            env = "CALLSCOPE_SERVER"
        )]
        server: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// TLS and token (a supervisor's or an admin's).
        #[command(flatten)]
        creds: Credentials,
    },
}

/// `callscope cluster status`.
pub fn cluster(cmd: ClusterCommand) -> ExitCode {
    let ClusterCommand::Status {
        server,
        json,
        creds,
    } = cmd;
    let ep = match creds.endpoint(&server) {
        Ok(ep) => ep,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    runtime().block_on(async move {
        match client::cluster_status(&ep, json).await {
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
    let ep = match args.creds.endpoint(&args.server) {
        Ok(ep) => ep,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let report = runtime().block_on(super::load::run(&args, &ep));
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
