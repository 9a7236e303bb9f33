//! Cluster mode: many `serve` nodes, one floor, over a NATS bus (`--bus`).
//!
//! Each node publishes, on per-call subjects, what it already sends its own
//! watchers — redacted [`pb::CallEvent`]s and [`pb::FloorUpdate`]s — and once
//! a second its own [`pb::NodeStatus`]. Every node listens to the others, so
//! `WatchFloor` and `WatchCall` on any node see every call of the cluster.
//! A node not heard from for [`LOST_AFTER`] is taken as lost: its calls go
//! off every floor as `KIND_CALL_INTERRUPTED` and are stored (shared store
//! only) as `interrupted` with what the floor knew of them, until the node
//! comes back and its crash recovery replaces that record with the call's
//! recording.
//!
//! Subjects (call ids may hold `.`, a NATS separator, so it is written `~`
//! there; call ids cannot hold `~`):
//!
//! | subject | payload |
//! |---|---|
//! | `callscope.calls.<id>.events` | `CallEvent` |
//! | `callscope.calls.<id>.floor` | `FloorUpdate` (not the floor figures) |
//! | `callscope.calls.<id>.history` | request; the reply is `CallHistory` |
//! | `callscope.nodes.<node>` | `NodeStatus` |
//!
//! Only core NATS is used: the live feed is ephemeral (the store keeps the
//! record), so nothing of a call is kept in a NATS stream. Messages are
//! published from a bounded queue by one task: a call's actor never waits
//! for the bus; when the bus is slow, updates are dropped and counted.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use prost::Message;
use tokio::sync::mpsc;
use tracing::{info, warn};

use super::pb;
use super::server::Hub;

/// How often a node says it is alive.
pub const HEARTBEAT: Duration = Duration::from_secs(1);
/// A node not heard from for this long is lost and its calls interrupted.
pub const LOST_AFTER: Duration = Duration::from_secs(4);
/// A lost node stays in `cluster status` this long.
const FORGET_AFTER: Duration = Duration::from_secs(600);
/// Messages queued for the bus before updates are dropped.
const OUT_BUFFER: usize = 4096;
/// How long a late watcher waits for a call's history from its node.
const HISTORY_TIMEOUT: Duration = Duration::from_secs(2);
/// Source name of a record stored for a call whose node was lost.
pub const LOST_SOURCE: &str = "cluster: node lost";

/// Where the bus is and how to reach it.
#[derive(Debug, Clone)]
pub struct BusConfig {
    /// `tls://host:port` (or `nats://` on loopback only), optionally with
    /// `user:password@`.
    pub url: String,
    /// CA certificate(s) (PEM) the bus's certificate is checked against
    /// (default: the system's roots).
    pub ca: Option<PathBuf>,
    /// This node's id on the bus.
    pub node_id: String,
    /// Where this node takes calls, for `cluster status`.
    pub listen: String,
}

/// Why the bus could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BusError {
    /// The URL or node id is wrong: stop and fix the flag.
    #[error("--bus {url}: {detail}")]
    Config {
        /// The URL, password hidden.
        url: String,
        /// What is wrong and what to do.
        detail: String,
    },
    /// The server did not answer or refused us; may be retried.
    #[error(
        "cannot connect to the bus at {url} ({detail}); is nats-server running, the URL, user and password right, and its certificate signed by --bus-ca?"
    )]
    Connect {
        /// The URL, password hidden.
        url: String,
        /// The client's reason.
        detail: String,
    },
}

/// `url` with any password replaced by `***`.
pub fn redact_url(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            // user:password shows the user; a lone token shows nothing.
            Some((cred, host)) => match cred.split_once(':') {
                Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
                None => format!("{scheme}://***@{host}"),
            },
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

/// Checks a node id: 1–64 of `A-Z a-z 0-9 - _` (it is a subject token).
pub fn validate_node_id(id: &str) -> Result<(), String> {
    if !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        Ok(())
    } else {
        Err(format!(
            "node id {:?}: use 1-64 letters, digits, '-' or '_' (--node-id)",
            id.chars().take(64).collect::<String>()
        ))
    }
}

/// The default node id: the host name, made a valid id.
pub fn default_node_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_default();
    let id: String = host
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    if id.is_empty() { "node".into() } else { id }
}

/// Connects to the bus. Plain `nats://` is refused off loopback: the bus
/// carries transcripts (redacted, but still call content).
pub async fn connect(cfg: &BusConfig) -> Result<async_nats::Client, BusError> {
    let shown = redact_url(&cfg.url);
    let config = |detail: String| BusError::Config {
        url: shown.clone(),
        detail,
    };
    validate_node_id(&cfg.node_id).map_err(config)?;
    let addr: async_nats::ServerAddr = cfg
        .url
        .parse()
        .map_err(|e| config(format!("not a NATS URL like tls://nats.example:4222 ({e})")))?;
    let tls = addr.tls_required() || cfg.ca.is_some();
    if !tls && !crate::security::tls::loopback_host(addr.host()) {
        return Err(config(
            "plain nats:// is only allowed on a loopback address: the bus carries call transcripts; use tls://… (and --bus-ca)".into(),
        ));
    }
    let mut opts = async_nats::ConnectOptions::new()
        .name(format!("callscope {}", cfg.node_id))
        .no_echo()
        .connection_timeout(Duration::from_secs(5))
        .ping_interval(Duration::from_secs(5))
        .require_tls(tls);
    if !tls {
        // A loopback server must not send us on to others in clear.
        opts = opts.ignore_discovered_servers();
    }
    // The client does not take credentials from the URL by itself.
    if let Some(user) = addr.username() {
        let dec = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        };
        opts = match addr.password() {
            Some(pw) => opts.user_and_password(dec(user), dec(pw)),
            None => opts.token(dec(user)),
        };
    }
    if let Some(ca) = &cfg.ca {
        if !ca.is_file() {
            return Err(config(format!(
                "--bus-ca {}: no such file; give the CA certificate (PEM) that signed the bus's certificate",
                ca.display()
            )));
        }
        opts = opts.add_root_certificates(ca.clone());
    }
    // A first connection is awaited for a while (nats-server may start
    // after us in a deployment), then given up with a clear error.
    let connecting = opts.connect(addr);
    match tokio::time::timeout(Duration::from_secs(15), connecting).await {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(e)) => Err(BusError::Connect {
            url: shown,
            detail: e.to_string(),
        }),
        Err(_) => Err(BusError::Connect {
            url: shown,
            detail: "no answer in 15 s".into(),
        }),
    }
}

/// The subject token of a call id (`.` is a NATS separator).
fn token(call_id: &str) -> String {
    call_id.replace('.', "~")
}

fn events_subject(call_id: &str) -> String {
    format!("callscope.calls.{}.events", token(call_id))
}

fn floor_subject(call_id: &str) -> String {
    format!("callscope.calls.{}.floor", token(call_id))
}

fn history_subject(call_id: &str) -> String {
    format!("callscope.calls.{}.history", token(call_id))
}

/// A call of another node, as its floor updates tell.
struct Remote {
    update: pb::FloorUpdate,
    seen: Instant,
}

/// Another node, as its heartbeats tell.
struct Peer {
    status: pb::NodeStatus,
    seen: Instant,
    lost: bool,
}

/// This node's link to the cluster (see the module docs).
pub struct Cluster {
    /// This node's id.
    pub node_id: String,
    listen: String,
    client: async_nats::Client,
    out: mpsc::Sender<(String, Bytes)>,
    remote: Mutex<HashMap<String, Remote>>,
    peers: Mutex<HashMap<String, Peer>>,
}

impl Cluster {
    /// Joins the cluster on `client` and starts listening and sending.
    pub async fn start(
        hub: &Arc<Hub>,
        client: async_nats::Client,
        cfg: &BusConfig,
    ) -> Result<Arc<Self>, BusError> {
        let (out, out_rx) = mpsc::channel(OUT_BUFFER);
        let cluster = Arc::new(Cluster {
            node_id: cfg.node_id.clone(),
            listen: cfg.listen.clone(),
            client,
            out,
            remote: Mutex::new(HashMap::new()),
            peers: Mutex::new(HashMap::new()),
        });
        let sub = |subject: &'static str| {
            let client = cluster.client.clone();
            let url = redact_url(&cfg.url);
            async move {
                client
                    .subscribe(subject)
                    .await
                    .map_err(|e| BusError::Connect {
                        url,
                        detail: format!("subscribe {subject}: {e}"),
                    })
            }
        };
        let floor = sub("callscope.calls.*.floor").await?;
        let nodes = sub("callscope.nodes.*").await?;
        let history = sub("callscope.calls.*.history").await?;
        tokio::spawn(publisher(cluster.client.clone(), out_rx));
        tokio::spawn(listen_floor(
            Arc::downgrade(hub),
            Arc::clone(&cluster),
            floor,
        ));
        tokio::spawn(listen_nodes(Arc::clone(&cluster), nodes));
        tokio::spawn(answer_history(
            Arc::downgrade(hub),
            cluster.client.clone(),
            history,
        ));
        tokio::spawn(heartbeat(Arc::downgrade(hub), Arc::clone(&cluster)));
        info!(node = %cluster.node_id, "joined the cluster bus");
        Ok(cluster)
    }

    fn send(&self, subject: String, payload: Vec<u8>) {
        if self.out.try_send((subject, Bytes::from(payload))).is_err() {
            crate::telemetry::events_dropped(1);
        }
    }

    /// Publishes one of this node's floor updates (never the figures).
    pub(super) fn floor(&self, u: &pb::FloorUpdate) {
        if u.kind != pb::floor_update::Kind::FloorStats as i32 {
            self.send(floor_subject(&u.call_id), u.encode_to_vec());
        }
    }

    /// Publishes one of this node's call events.
    pub(super) fn event(&self, ev: &pb::CallEvent) {
        self.send(events_subject(&ev.call_id), ev.encode_to_vec());
    }

    /// Whether the bus connection is up.
    pub fn connected(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
    }

    /// The latest floor updates of the other nodes' live calls.
    pub(super) fn remote_floor(&self) -> Vec<pb::FloorUpdate> {
        let remote = self.remote.lock().unwrap_or_else(|e| e.into_inner());
        remote.values().map(|r| r.update.clone()).collect()
    }

    /// Media seconds so far of the other nodes' live calls.
    pub(super) fn remote_durations(&self) -> Vec<f64> {
        let remote = self.remote.lock().unwrap_or_else(|e| e.into_inner());
        remote
            .values()
            .map(|r| r.update.kpi.as_ref().map_or(0.0, |k| k.duration_s))
            .collect()
    }

    /// The agent id of another node's live call, if there is one.
    pub(super) fn remote_agent(&self, call_id: &str) -> Option<String> {
        let remote = self.remote.lock().unwrap_or_else(|e| e.into_inner());
        remote.get(call_id).map(|r| r.update.agent_id.clone())
    }

    /// The other nodes, by id, as last heard (lost ones included).
    pub(super) fn peers(&self) -> Vec<pb::NodeStatus> {
        let peers = self.peers.lock().unwrap_or_else(|e| e.into_inner());
        let mut v: Vec<pb::NodeStatus> = peers
            .values()
            .map(|p| pb::NodeStatus {
                lost: p.lost,
                last_seen_s: p.seen.elapsed().as_secs_f64(),
                ..p.status.clone()
            })
            .collect();
        v.sort_by(|a, b| a.node_id.cmp(&b.node_id));
        v
    }

    /// Follows another node's live call: its history so far (asked of its
    /// node), then its events, until it ends or its node is lost (then a
    /// `CallEnded` "interrupted" closes the stream).
    pub(super) async fn follow_remote(
        self: &Arc<Self>,
        call_id: &str,
    ) -> Result<mpsc::Receiver<pb::CallEvent>, String> {
        let mut sub = self
            .client
            .subscribe(events_subject(call_id))
            .await
            .map_err(|e| format!("the cluster bus: {e}"))?;
        let history = tokio::time::timeout(
            HISTORY_TIMEOUT,
            self.client.request(history_subject(call_id), Bytes::new()),
        )
        .await;
        let first = match history {
            Ok(Ok(m)) => {
                pb::CallHistory::decode(m.payload).map_or_else(|_| Vec::new(), |h| h.events)
            }
            _ => Vec::new(),
        };
        let (tx, rx) = mpsc::channel(256);
        let me = Arc::clone(self);
        let id = call_id.to_string();
        tokio::spawn(async move {
            for ev in first {
                if tx.send(ev).await.is_err() {
                    return;
                }
            }
            let mut check = tokio::time::interval(Duration::from_millis(500));
            // Off the floor since when (its end may still be on its way).
            let mut gone_since: Option<Instant> = None;
            loop {
                tokio::select! {
                    biased;
                    m = sub.next() => {
                        let Some(m) = m else { return };
                        let Ok(ev) = pb::CallEvent::decode(m.payload) else { continue };
                        let ended = matches!(ev.event, Some(pb::call_event::Event::Ended(_)));
                        if tx.send(ev).await.is_err() || ended {
                            return;
                        }
                    }
                    _ = check.tick() => {
                        if me.remote_agent(&id).is_some() {
                            gone_since = None;
                            continue;
                        }
                        let since = *gone_since.get_or_insert_with(Instant::now);
                        if since.elapsed() >= Duration::from_secs(1) {
                            // Ended (its last event may have raced us) or its node lost.
                            let _ = tx.send(pb::CallEvent {
                                call_id: id.clone(),
                                event: Some(pb::call_event::Event::Ended(pb::CallEnded {
                                    status: "interrupted".into(),
                                    report_json: String::new(),
                                })),
                                ..Default::default()
                            }).await;
                            return;
                        }
                    }
                    _ = tx.closed() => return,
                }
            }
        });
        Ok(rx)
    }

    /// Takes the calls of nodes not heard from for [`LOST_AFTER`] off the
    /// floor; returns them (with the lost node's id).
    fn sweep(&self) -> Vec<(String, pb::FloorUpdate)> {
        let mut lost_nodes = Vec::new();
        {
            let mut peers = self.peers.lock().unwrap_or_else(|e| e.into_inner());
            peers.retain(|_, p| p.seen.elapsed() < FORGET_AFTER);
            for (id, p) in peers.iter_mut() {
                if !p.lost && p.seen.elapsed() >= LOST_AFTER {
                    p.lost = true;
                    lost_nodes.push(id.clone());
                }
            }
        }
        let mut gone = Vec::new();
        let mut remote = self.remote.lock().unwrap_or_else(|e| e.into_inner());
        remote.retain(|_, r| {
            if lost_nodes.contains(&r.update.node_id) {
                gone.push((r.update.node_id.clone(), r.update.clone()));
                return false;
            }
            // A call whose end was missed: its node is alive but quiet about it.
            r.seen.elapsed() < LOST_AFTER * 8
        });
        for n in &lost_nodes {
            warn!(node = %n, calls = gone.iter().filter(|(g, _)| g == n).count(), "a cluster node stopped answering; its live calls are interrupted");
        }
        gone
    }
}

/// Sends queued messages to the bus.
async fn publisher(client: async_nats::Client, mut rx: mpsc::Receiver<(String, Bytes)>) {
    while let Some((subject, payload)) = rx.recv().await {
        if let Err(e) = client.publish(subject, payload).await {
            tracing::debug!(error = %e, "cannot publish on the cluster bus");
            crate::telemetry::events_dropped(1);
        }
    }
}

/// Other nodes' floor updates: kept, and passed to this node's floor.
async fn listen_floor(
    hub: std::sync::Weak<Hub>,
    cluster: Arc<Cluster>,
    mut sub: async_nats::Subscriber,
) {
    use pb::floor_update::Kind;
    while let Some(m) = sub.next().await {
        let Some(hub) = hub.upgrade() else { return };
        let Ok(u) = pb::FloorUpdate::decode(m.payload) else {
            continue;
        };
        if u.node_id == cluster.node_id {
            continue;
        }
        // Only ids a call of ours could have: they name files and markers
        // when a lost node's call is stored and later purged.
        if crate::analyze::validate_call_id(&u.call_id).is_err() {
            warn!(node = %u.node_id, "a floor update on the bus with an invalid call id; ignored");
            continue;
        }
        let ended = {
            let mut remote = cluster.remote.lock().unwrap_or_else(|e| e.into_inner());
            match Kind::try_from(u.kind) {
                Ok(Kind::CallStarted | Kind::CallUpdate) => {
                    remote.insert(
                        u.call_id.clone(),
                        Remote {
                            update: u.clone(),
                            seen: Instant::now(),
                        },
                    );
                    None
                }
                Ok(Kind::CallEnded | Kind::CallInterrupted) => {
                    remote.remove(&u.call_id);
                    Some(u.kpi.as_ref().map_or(0.0, |k| k.duration_s))
                }
                _ => continue,
            }
        };
        hub.remote_floor_update(u, ended);
    }
}

/// Other nodes' heartbeats.
async fn listen_nodes(cluster: Arc<Cluster>, mut sub: async_nats::Subscriber) {
    while let Some(m) = sub.next().await {
        let Ok(status) = pb::NodeStatus::decode(m.payload) else {
            continue;
        };
        if status.node_id == cluster.node_id {
            continue;
        }
        let mut peers = cluster.peers.lock().unwrap_or_else(|e| e.into_inner());
        if peers.get(&status.node_id).is_some_and(|p| p.lost) {
            info!(node = %status.node_id, "a lost cluster node answers again");
        }
        peers.insert(
            status.node_id.clone(),
            Peer {
                status,
                seen: Instant::now(),
                lost: false,
            },
        );
    }
}

/// Answers other nodes' requests for the history of this node's calls.
async fn answer_history(
    hub: std::sync::Weak<Hub>,
    client: async_nats::Client,
    mut sub: async_nats::Subscriber,
) {
    let max = client.server_info().max_payload.max(64 << 10);
    while let Some(m) = sub.next().await {
        let Some(hub) = hub.upgrade() else { return };
        let Some(reply) = m.reply else { continue };
        let call_id = m
            .subject
            .as_str()
            .strip_prefix("callscope.calls.")
            .and_then(|s| s.strip_suffix(".history"))
            .map(|t| t.replace('~', "."));
        let Some(events) = call_id.and_then(|id| hub.history(&id)) else {
            continue;
        };
        // The newest events that fit in one message.
        let mut size = 64;
        let mut keep = events.len();
        for ev in events.iter().rev() {
            size += ev.encoded_len() + 8;
            if size > max {
                break;
            }
            keep -= 1;
        }
        let h = pb::CallHistory {
            events: events[keep..].to_vec(),
        };
        let _ = client.publish(reply, Bytes::from(h.encode_to_vec())).await;
    }
}

/// One-minute load average and core count of this machine.
pub(super) fn load() -> (f64, u32) {
    let load1 = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
    (load1, cores)
}

/// Sends this node's status once a second and takes lost nodes' calls off
/// the floor.
async fn heartbeat(hub: std::sync::Weak<Hub>, cluster: Arc<Cluster>) {
    let mut tick = tokio::time::interval(HEARTBEAT);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Since when this node has heard the bus without a break: a node cut
    // off itself hears nobody, which says nothing about the others.
    let mut heard_since = Some(Instant::now());
    loop {
        tick.tick().await;
        let Some(hub) = hub.upgrade() else { return };
        let status = cluster.own_status(&hub);
        cluster.send(
            format!("callscope.nodes.{}", cluster.node_id),
            status.encode_to_vec(),
        );
        if !cluster.connected() {
            heard_since = None;
            continue;
        }
        let since = *heard_since.get_or_insert_with(Instant::now);
        if since.elapsed() < LOST_AFTER {
            continue;
        }
        for (node, u) in cluster.sweep() {
            hub.remote_call_lost(&node, u);
        }
    }
}

impl Cluster {
    /// What this node says of itself.
    pub(super) fn own_status(&self, hub: &Hub) -> pb::NodeStatus {
        hub.node_status(&self.node_id, &self.listen)
    }
}

/// A record for a call whose node was lost: what the floor knew (ids, start,
/// length, talk times), status `interrupted`, no transcript or recording.
/// Sealed as a signals-only report (it carries no call text).
pub fn lost_call_report(
    node: &str,
    u: &pb::FloorUpdate,
) -> Result<crate::redact::Redacted<crate::report::Report>, crate::redact::CarriesText> {
    let k = u.kpi.unwrap_or_default();
    let summary = crate::signals::CallSummary {
        duration_s: k.duration_s,
        stereo: true,
        ..Default::default()
    };
    let source = crate::report::SourceInfo {
        name: LOST_SOURCE.into(),
        codec: String::new(),
        sample_rate: 0,
        channels: 2,
        agent_channel: "left".into(),
    };
    let mut report = crate::report::Report::from_summary(&u.call_id, source, &summary);
    crate::report::CallMeta {
        agent_id: Some(u.agent_id.clone()),
        caller_id: None,
        started_at: (u.started_at > 0)
            .then(|| std::time::UNIX_EPOCH + Duration::from_secs(u.started_at as u64)),
    }
    .apply(&mut report);
    report.speakers.agent.talk_time_s = k.agent_talk_s;
    if let Some(c) = report.speakers.customer.as_mut() {
        c.talk_time_s = k.customer_talk_s;
    }
    report.overtalk_s = k.overtalk_s;
    report.status = "interrupted".into();
    report.warnings.push(format!(
        "node {node} stopped answering on the cluster bus {:.0} s into the call: this record holds what the floor knew; the node stores the recording as far as it got when it restarts",
        k.duration_s
    ));
    crate::redact::seal_signal_report(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        assert_eq!(
            redact_url("tls://cs:s3cret@nats.example:4222"),
            "tls://cs:***@nats.example:4222"
        );
        assert_eq!(redact_url("nats://127.0.0.1:4222"), "nats://127.0.0.1:4222");
        assert_eq!(redact_url("tls://t0k3n@nats:4222"), "tls://***@nats:4222");
    }

    #[test]
    fn node_ids_are_subject_tokens() {
        assert!(validate_node_id("node-a_1").is_ok());
        for bad in ["", "a.b", "a b", "*", ">", &"x".repeat(65)] {
            assert!(validate_node_id(bad).is_err(), "{bad}");
        }
        assert!(validate_node_id(&default_node_id()).is_ok());
    }

    #[test]
    fn call_ids_with_dots_stay_one_token() {
        assert_eq!(events_subject("a.b-c"), "callscope.calls.a~b-c.events");
        assert_eq!(floor_subject("x"), "callscope.calls.x.floor");
    }

    #[tokio::test]
    async fn plain_bus_off_loopback_is_refused() {
        let cfg = BusConfig {
            url: "nats://u:pw@10.1.2.3:4222".into(),
            ca: None,
            node_id: "a".into(),
            listen: String::new(),
        };
        let e = connect(&cfg).await.unwrap_err().to_string();
        assert!(e.contains("tls://"), "{e}");
        assert!(!e.contains("pw"), "{e}");
    }

    #[test]
    fn a_lost_call_record_carries_no_text() {
        let u = pb::FloorUpdate {
            call_id: "c1".into(),
            agent_id: "a7".into(),
            started_at: 1_790_000_000,
            kpi: Some(pb::KpiSnapshot {
                duration_s: 42.0,
                agent_talk_s: 20.0,
                customer_talk_s: 15.0,
                ..Default::default()
            }),
            ..Default::default()
        };
        let r = lost_call_report("b", &u).unwrap();
        assert_eq!(r.get().status, "interrupted");
        assert_eq!(r.get().agent_id.as_deref(), Some("a7"));
        assert_eq!(r.get().duration_s, 42.0);
        assert!(r.get().segments.is_empty());
    }
}
