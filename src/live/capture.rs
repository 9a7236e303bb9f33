//! `callscope capture`: a call from sound devices, analysed live in-process.
//!
//! The agent leg is the agent's headset microphone; the customer leg comes
//! from a second device (`--customer-device`) or from the second channel of
//! a stereo input. The device callback only copies samples into a lock-free
//! ring buffer (`rtrb`); a full ring counts an overrun instead of blocking
//! the audio thread. A reader drains the rings every 20 ms into the same
//! call actor the server uses, and the redacted call is stored at the end;
//! with `--server` the audio is streamed to `callscope serve` instead, as a
//! softphone would, and the server stores the call.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use tokio::sync::{mpsc, watch};

use tokio::task::JoinHandle;

use super::commands::CaptureArgs;
use crate::analyze::validate_call_id;
use crate::engine::call::{LiveConfig, LiveStart};
use crate::engine::seal::Transcription;
use crate::grpc::client::{ClientError, audio_message, describe, open_call};
use crate::grpc::server::{Hub, Input, run_call};
use crate::grpc::{Encoding, pb};

/// Ring capacity per device, seconds of audio.
const RING_S: usize = 4;

/// One opened input device.
struct Input1 {
    _stream: cpal::Stream,
    ring: rtrb::Consumer<f32>,
    channels: usize,
    rate: u32,
    overruns: Arc<AtomicU64>,
    name: String,
}

fn device_name(d: &cpal::Device) -> String {
    d.description()
        .map(|x| x.name().to_string())
        .unwrap_or_else(|_| "(unnamed)".to_string())
}

fn device_id(d: &cpal::Device) -> String {
    d.id().map(|x| x.to_string()).unwrap_or_default()
}

/// The input devices as `(id, name)`.
pub fn list_devices() -> Result<Vec<(String, String)>, String> {
    let host = cpal::default_host();
    let devices = host
        .input_devices()
        .map_err(|e| format!("cannot list sound devices: {e}"))?;
    Ok(devices.map(|d| (device_id(&d), device_name(&d))).collect())
}

fn find(wanted: Option<&str>) -> Result<cpal::Device, String> {
    let host = cpal::default_host();
    match wanted {
        None => host.default_input_device().ok_or_else(|| {
            "no sound input device on this machine (a headless server has none): \
             plug one in, pick one with --device (see --list-devices), or stream calls to `callscope serve`"
                .to_string()
        }),
        Some(w) => host
            .input_devices()
            .map_err(|e| format!("cannot list sound devices: {e}"))?
            .find(|d| device_id(d) == w || device_name(d).contains(w))
            .ok_or_else(|| format!("no input device matches {w:?}; see `callscope capture --list-devices`")),
    }
}

fn open(device: &cpal::Device) -> Result<Input1, String> {
    let name = device_name(device);
    let supported = device.default_input_config().map_err(|e| {
        format!("sound device {name:?} cannot be opened for input: {e}; pick another with --device (see --list-devices), or on a machine without sound hardware stream calls to `callscope serve`")
    })?;
    let config: cpal::StreamConfig = supported.config();
    let channels = usize::from(config.channels);
    let rate = config.sample_rate;
    let (mut tx, rx) = rtrb::RingBuffer::<f32>::new(rate as usize * channels * RING_S);
    let overruns = Arc::new(AtomicU64::new(0));
    let over = Arc::clone(&overruns);
    let err_fn = |e: cpal::Error| tracing::warn!(error = %e, "sound device error");
    // The callback only copies: no allocation, no lock, no blocking.
    macro_rules! build {
        ($t:ty, $conv:expr) => {
            device.build_input_stream(
                config,
                move |data: &[$t], _: &cpal::InputCallbackInfo| {
                    let conv = $conv;
                    let room = tx.slots();
                    let n = data.len().min(room);
                    if n < data.len() {
                        over.fetch_add(1, Ordering::Relaxed);
                    }
                    if let Ok(chunk) = tx.write_chunk_uninit(n) {
                        chunk.fill_from_iter(data[..n].iter().map(|&s| conv(s)));
                    }
                },
                err_fn,
                None,
            )
        };
    }
    let stream = match supported.sample_format() {
        cpal::SampleFormat::F32 => build!(f32, |s: f32| s),
        cpal::SampleFormat::I16 => build!(i16, |s: i16| f32::from(s) / 32768.0),
        cpal::SampleFormat::I32 => build!(i32, |s: i32| s as f32 / 2_147_483_648.0),
        cpal::SampleFormat::U8 => build!(u8, |s: u8| (f32::from(s) - 128.0) / 128.0),
        other => {
            return Err(format!(
                "sound device {name:?} delivers {other} samples, which callscope does not read"
            ));
        }
    }
    .map_err(|e| format!("cannot open sound device {name:?}: {e}"))?;
    stream
        .play()
        .map_err(|e| format!("cannot start sound device {name:?}: {e}"))?;
    Ok(Input1 {
        _stream: stream,
        ring: rx,
        channels,
        rate,
        overruns,
        name,
    })
}

/// Drains a ring into per-channel buffers.
fn drain(input: &mut Input1, out: &mut [Vec<f32>]) {
    let n = input.ring.slots() / input.channels * input.channels;
    if let Ok(chunk) = input.ring.read_chunk(n) {
        for (i, s) in chunk.into_iter().enumerate() {
            if let Some(o) = out.get_mut(i % input.channels) {
                o.push(s);
            }
        }
    }
}

/// Runs `callscope capture`.
pub fn run(args: CaptureArgs) -> ExitCode {
    if args.list_devices {
        return match list_devices() {
            Ok(d) if d.is_empty() => {
                eprintln!("no sound input devices on this machine");
                ExitCode::from(1)
            }
            Ok(d) => {
                for (id, name) in d {
                    println!("{id}\t{name}");
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(1)
            }
        };
    }
    let call_id = args.call_id.clone().unwrap_or_else(|| {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        format!("capture-{t}")
    });
    if let Err(e) = validate_call_id(&call_id) {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    let opened = find(args.device.as_deref())
        .and_then(|d| open(&d))
        .and_then(|a| {
            let c = match &args.customer_device {
                Some(w) => Some(find(Some(w)).and_then(|d| open(&d))?),
                None => None,
            };
            Ok((a, c))
        });
    let (mut agent, mut customer) = match opened {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(c) = &customer
        && c.rate != agent.rate
    {
        eprintln!(
            "error: the agent device runs at {} Hz and the customer device at {} Hz; set both to one rate",
            agent.rate, c.rate
        );
        return ExitCode::from(2);
    }
    let legs = if customer.is_some() || agent.channels >= 2 {
        2
    } else {
        1
    };
    eprintln!(
        "capturing call {call_id}: agent from {:?}{}; Ctrl-C to end",
        agent.name,
        match &customer {
            Some(c) => format!(", customer from {:?}", c.name),
            None if legs == 2 => ", customer from its second channel".to_string(),
            None => " (mono: no customer leg)".to_string(),
        }
    );
    let start = LiveStart {
        call_id,
        agent_id: args.agent_id.clone(),
        caller_id: args.caller_id.clone(),
        started_at: std::time::SystemTime::now(),
        legs,
        sample_rate: agent.rate,
        codec: "sound device (f32)".to_string(),
        agent_channel: 0,
    };
    // A stored call is never overwritten: refused now, not at the end.
    if args.server.is_none()
        && let Err(e) = crate::analyze::check_new_call(&args.data_dir, &start.call_id, false)
    {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    // In-process needs the model here; streaming to a server does not.
    let transcription = match &args.server {
        Some(_) => None,
        None => match args.asr.start() {
            Ok(t) => Some(Arc::new(t)),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        },
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime starts");
    rt.block_on(async move {
        let mut sink = match Sink::open(&args, start, transcription).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        };
        let deadline = args
            .duration
            .map(|d| tokio::time::Instant::now() + Duration::from_secs_f64(d));
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        let stop = crate::grpc::server::shutdown_signal();
        tokio::pin!(stop);
        let mut a_buf = vec![Vec::new(); agent.channels];
        let mut c_buf = vec![Vec::new(); customer.as_ref().map_or(0, |c| c.channels)];
        let (mut pend_a, mut pend_c) = (Vec::new(), Vec::new());
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = &mut stop => break,
            }
            if deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
                break;
            }
            for b in a_buf.iter_mut().chain(c_buf.iter_mut()) {
                b.clear();
            }
            drain(&mut agent, &mut a_buf);
            pend_a.extend_from_slice(&a_buf[0]);
            match customer.as_mut() {
                Some(c) => {
                    drain(c, &mut c_buf);
                    pend_c.extend_from_slice(&c_buf[0]);
                }
                None if legs == 2 => pend_c.extend_from_slice(&a_buf[1]),
                None => {}
            }
            let n = if legs == 2 {
                pend_a.len().min(pend_c.len())
            } else {
                pend_a.len()
            };
            if n == 0 {
                continue;
            }
            let mut blocks = vec![pend_a.drain(..n).collect::<Vec<f32>>()];
            if legs == 2 {
                blocks.push(pend_c.drain(..n).collect());
            }
            if !sink.send(blocks).await {
                break;
            }
        }
        let over = agent.overruns.load(Ordering::Relaxed)
            + customer
                .as_ref()
                .map_or(0, |c| c.overruns.load(Ordering::Relaxed));
        if over > 0 {
            eprintln!("warning: {over} buffer overrun(s): some device audio was lost");
        }
        sink.finish().await
    })
}

/// Where captured audio goes: the call actor in this process, or a server.
enum Sink {
    Local {
        tx: mpsc::Sender<Input>,
        actor: JoinHandle<Result<pb::CallEvent, tonic::Status>>,
        printer: JoinHandle<()>,
        /// Held so the actor does not see a shutdown.
        _stop: watch::Sender<bool>,
    },
    Remote {
        tx: mpsc::Sender<pb::CallInput>,
        printer: JoinHandle<Result<bool, ClientError>>,
    },
}

impl Sink {
    async fn open(
        args: &CaptureArgs,
        start: LiveStart,
        transcription: Option<Arc<Transcription>>,
    ) -> Result<Sink, String> {
        match (&args.server, transcription) {
            (Some(url), _) => {
                let ep = args.creds.endpoint(url)?;
                let (tx, mut events) = open_call(
                    &ep,
                    pb::CallStart {
                        call_id: start.call_id,
                        agent_id: start.agent_id,
                        caller_id: start.caller_id,
                        encoding: pb::AudioEncoding::Pcm16le as i32,
                        sample_rate: start.sample_rate,
                        channels: start.legs as u32,
                        agent_channel: 0,
                        separate_legs: false,
                        replace: false,
                    },
                )
                .await
                .map_err(|e| e.to_string())?;
                let printer = tokio::spawn(async move {
                    let mut stored = false;
                    while let Some(ev) = events.message().await? {
                        stored |= matches!(ev.event, Some(pb::call_event::Event::Ended(_)));
                        if let Some(line) = describe(&ev, false) {
                            println!("{line}");
                        }
                    }
                    Ok(stored)
                });
                Ok(Sink::Remote { tx, printer })
            }
            (None, Some(t)) => {
                let (stop, stop_rx) = watch::channel(false);
                let cfg = LiveConfig::for_transcription(&t, args.asr.pipeline());
                let hub = Hub::new(args.data_dir.clone(), t, cfg, 1, stop_rx);
                let (tx, in_rx) = mpsc::channel(64);
                let (out_tx, mut out_rx) = mpsc::channel(1024);
                let actor = tokio::spawn(run_call(
                    hub,
                    start,
                    crate::store::db::IfExists::Refuse,
                    in_rx,
                    out_tx,
                ));
                let printer = tokio::spawn(async move {
                    while let Some(Ok(ev)) = out_rx.recv().await {
                        if let Some(line) = describe(&ev, false) {
                            println!("{line}");
                        }
                    }
                });
                Ok(Sink::Local {
                    tx,
                    actor,
                    printer,
                    _stop: stop,
                })
            }
            (None, None) => Err("no transcription set up".to_string()),
        }
    }

    /// Sends one block per leg; false once the call has gone.
    async fn send(&mut self, blocks: Vec<Vec<f32>>) -> bool {
        match self {
            Sink::Local { tx, .. } => tx.send(Input::Audio(blocks)).await.is_ok(),
            Sink::Remote { tx, .. } => {
                let n = blocks[0].len();
                tx.send(audio_message(Encoding::Pcm16, &blocks, n))
                    .await
                    .is_ok()
            }
        }
    }

    /// Ends the call and waits until it is stored.
    async fn finish(self) -> ExitCode {
        let failed = |e: &dyn std::fmt::Display| {
            eprintln!("error: {e}");
            ExitCode::from(1)
        };
        match self {
            Sink::Local {
                tx, actor, printer, ..
            } => {
                let _ = tx.send(Input::End).await;
                let result = actor.await;
                let _ = printer.await;
                match result {
                    Ok(Ok(_)) => ExitCode::SUCCESS,
                    Ok(Err(s)) => failed(&s.message()),
                    Err(e) => failed(&e),
                }
            }
            Sink::Remote { tx, printer } => {
                let _ = tx
                    .send(pb::CallInput {
                        msg: Some(pb::call_input::Msg::End(pb::CallEnd {})),
                    })
                    .await;
                drop(tx);
                match printer.await {
                    Ok(Ok(true)) => ExitCode::SUCCESS,
                    Ok(Ok(false)) => failed(&"the server ended the call without storing it"),
                    Ok(Err(e)) => failed(&e),
                    Err(e) => failed(&e),
                }
            }
        }
    }
}
