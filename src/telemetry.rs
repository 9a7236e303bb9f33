//! Prometheus metrics of the live engine (`callscope serve --metrics ADDR`).
//!
//! The names are a contract for dashboards and alerts; labels carry only
//! fixed words (a status, a redaction kind), never call content or ids.
//! Without `--metrics` the recording calls below cost next to nothing (no
//! recorder is installed).

use std::net::SocketAddr;
use std::sync::Arc;

use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::PrometheusBuilder;

/// Live calls being analysed (gauge).
pub const LIVE_CALLS: &str = "callscope_live_calls";
/// Calls stored, by `status` (counter).
pub const CALLS: &str = "callscope_calls_total";
/// Calls refused at the start, by `reason` (counter).
pub const REJECTED: &str = "callscope_calls_rejected_total";
/// 20 ms frames analysed, both legs counted (counter).
pub const FRAMES: &str = "callscope_frames_total";
/// Utterances queued on or running in the whisper pool (gauge).
pub const ASR_QUEUE: &str = "callscope_asr_queue_depth";
/// Finished utterances waiting for room in the pool (gauge).
pub const ASR_BACKLOG: &str = "callscope_asr_backlog";
/// Media seconds from an utterance's end to its final transcript (histogram).
pub const ASR_LAG: &str = "callscope_transcription_lag_seconds";
/// Partial transcripts skipped because whisper was busy or behind (counter).
pub const PARTIALS_SKIPPED: &str = "callscope_partials_skipped_total";
/// `lagging` events sent: a call's transcription fell past the lag bound (counter).
pub const LAGGING: &str = "callscope_lagging_total";
/// Counter: calls whose transcription was deferred (past `--defer-lag`).
pub const DEFERRED: &str = "callscope_calls_deferred_total";
/// Events a slow caller did not read in time and lost (counter).
pub const EVENTS_DROPPED: &str = "callscope_events_dropped_total";
/// Calls kept on local disk, waiting for the store to come back (gauge).
pub const CALLS_KEPT: &str = "callscope_calls_kept";
/// Spans redacted in stored calls, by `kind` (counter).
pub const REDACTIONS: &str = "callscope_redactions_total";
/// Failures, by `kind` (`transcription`, `store`) (counter).
pub const ERRORS: &str = "callscope_errors_total";
/// Requests refused, by `reason` (`unauthenticated`, `permission`, `limit`) (counter).
pub const DENIED: &str = "callscope_requests_denied_total";

/// Why an exporter could not start. Stop: pick another address.
#[derive(Debug, thiserror::Error)]
#[error("cannot serve metrics on {addr}: {detail}; pick a free address with --metrics")]
pub struct MetricsError {
    /// The address asked for.
    pub addr: SocketAddr,
    /// The exporter's complaint.
    pub detail: String,
}

/// Answers a readiness probe: whether the node takes a new call, and a
/// JSON body saying why (see [`serve`]).
pub type ReadyProbe = Arc<dyn Fn() -> (bool, String) + Send + Sync>;

/// Serves `GET /metrics` in the Prometheus text format on `addr`, and
/// `GET /ready` (200 when `ready` says the node takes a new call, else 503,
/// with its JSON) for load balancers, over TLS when `tls` is given (plain
/// HTTP only on loopback: the caller checks). Call once, inside the tokio
/// runtime; returns the address bound.
pub async fn serve(
    addr: SocketAddr,
    tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
    ready: ReadyProbe,
) -> Result<SocketAddr, MetricsError> {
    // Buckets for the lag histogram, seconds.
    const LAG_BUCKETS: &[f64] = &[0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 20.0, 60.0];
    let err = |detail: String| MetricsError { addr, detail };
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| err(e.to_string()))?;
    let bound = listener.local_addr().map_err(|e| err(e.to_string()))?;
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(
            metrics_exporter_prometheus::Matcher::Full(ASR_LAG.to_string()),
            LAG_BUCKETS,
        )
        .and_then(PrometheusBuilder::install_recorder)
        .map_err(|e| err(e.to_string()))?;
    let upkeep = handle.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(5)).await;
            upkeep.run_upkeep();
        }
    });
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let handle = handle.clone();
            let acceptor = acceptor.clone();
            let ready = Arc::clone(&ready);
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req| {
                    let handle = handle.clone();
                    let ready = Arc::clone(&ready);
                    async move {
                        Ok::<_, std::convert::Infallible>(metrics_response(&req, &handle, &ready))
                    }
                });
                let http = hyper::server::conn::http1::Builder::new();
                let served = match acceptor {
                    Some(a) => match a.accept(tcp).await {
                        Ok(tls) => {
                            http.serve_connection(hyper_util::rt::TokioIo::new(tls), svc)
                                .await
                        }
                        Err(_) => return,
                    },
                    None => {
                        http.serve_connection(hyper_util::rt::TokioIo::new(tcp), svc)
                            .await
                    }
                };
                drop(served);
            });
        }
    });
    describe_gauge!(LIVE_CALLS, "Live calls being analysed");
    describe_counter!(CALLS, "Calls stored, by status");
    describe_counter!(REJECTED, "Calls refused at the start, by reason");
    describe_counter!(FRAMES, "20 ms frames analysed (both legs)");
    describe_gauge!(
        ASR_QUEUE,
        "Utterances queued on or running in the whisper pool"
    );
    describe_gauge!(
        ASR_BACKLOG,
        "Finished utterances waiting for room in the whisper pool"
    );
    describe_histogram!(
        ASR_LAG,
        metrics::Unit::Seconds,
        "Media seconds from an utterance's end to its final transcript"
    );
    describe_counter!(
        PARTIALS_SKIPPED,
        "Partial transcripts skipped (whisper busy or behind)"
    );
    describe_counter!(LAGGING, "Lagging events: transcription past the lag bound");
    describe_counter!(
        DEFERRED,
        "Calls whose transcription was deferred (past --defer-lag): whisper only when idle, the rest after the call"
    );
    describe_counter!(
        EVENTS_DROPPED,
        "Events lost by callers that read too slowly"
    );
    describe_counter!(REDACTIONS, "Spans redacted in stored calls, by kind");
    describe_gauge!(
        CALLS_KEPT,
        "Calls kept on local disk while the store is away, retried every --store-retry (30 s by default)"
    );
    describe_counter!(ERRORS, "Failures, by kind");
    describe_counter!(
        DENIED,
        "Requests refused, by reason (unauthenticated, permission, limit)"
    );
    // Present from the start, so dashboards see zeros rather than nothing.
    gauge!(LIVE_CALLS).set(0.0);
    gauge!(ASR_QUEUE).set(0.0);
    gauge!(ASR_BACKLOG).set(0.0);
    counter!(FRAMES).absolute(0);
    Ok(bound)
}

fn metrics_response(
    req: &hyper::Request<hyper::body::Incoming>,
    handle: &metrics_exporter_prometheus::PrometheusHandle,
    ready: &ReadyProbe,
) -> hyper::Response<String> {
    let get = req.method() == hyper::Method::GET;
    let (status, body, kind) = match req.uri().path() {
        "/metrics" if get => (
            hyper::StatusCode::OK,
            handle.render(),
            "text/plain; version=0.0.4",
        ),
        "/ready" if get => {
            let (ok, json) = ready();
            let status = if ok {
                hyper::StatusCode::OK
            } else {
                hyper::StatusCode::SERVICE_UNAVAILABLE
            };
            (status, json + "\n", "application/json")
        }
        _ => (
            hyper::StatusCode::NOT_FOUND,
            "only GET /metrics and GET /ready are served here\n".to_string(),
            "text/plain",
        ),
    };
    let mut res = hyper::Response::new(body);
    *res.status_mut() = status;
    res.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(kind),
    );
    res
}

/// A call started (`+1`) or ended (`-1`).
pub fn live_calls(delta: f64) {
    gauge!(LIVE_CALLS).increment(delta);
}

/// A call was stored with `status`; counts its redactions by kind.
pub fn call_stored(status: &str, redaction_kinds: impl Iterator<Item = String>) {
    counter!(CALLS, "status" => status.to_string()).increment(1);
    for kind in redaction_kinds {
        counter!(REDACTIONS, "kind" => kind).increment(1);
    }
}

/// A request was refused for `reason` (`unauthenticated`, `permission`, `limit`).
pub fn denied(reason: &'static str) {
    counter!(DENIED, "reason" => reason).increment(1);
}

/// A call was refused for `reason` (`capacity`, `duplicate`, `invalid`).
pub fn rejected(reason: &'static str) {
    counter!(REJECTED, "reason" => reason).increment(1);
}

/// `n` frames were analysed.
pub fn frames(n: u64) {
    counter!(FRAMES).increment(n);
}

/// Utterances entered (`+`) or left (`−`) the pool.
pub fn asr_queue(delta: f64) {
    gauge!(ASR_QUEUE).increment(delta);
}

/// Finished utterances entered (`+`) or left (`−`) a call's backlog.
pub fn asr_backlog(delta: f64) {
    gauge!(ASR_BACKLOG).increment(delta);
}

/// A final transcript arrived `lag_s` media seconds after its utterance ended.
pub fn transcription_lag(lag_s: f64) {
    histogram!(ASR_LAG).record(lag_s);
}

/// A partial transcript was skipped.
pub fn partial_skipped() {
    counter!(PARTIALS_SKIPPED).increment(1);
}

/// A call said it is lagging.
pub fn lagging() {
    counter!(LAGGING).increment(1);
}

/// A call's transcription was deferred (past `--defer-lag`).
pub fn deferred() {
    counter!(DEFERRED).increment(1);
}

/// `n` calls are kept on local disk now, waiting for the store.
pub fn calls_kept(n: usize) {
    gauge!(CALLS_KEPT).set(n as f64);
}

/// `n` events were lost by a slow caller.
pub fn events_dropped(n: u64) {
    counter!(EVENTS_DROPPED).increment(n);
}

/// Something failed (`transcription`, `store`).
pub fn error(kind: &'static str) {
    counter!(ERRORS, "kind" => kind).increment(1);
}
