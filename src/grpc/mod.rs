//! The gRPC API (`proto/callscope/v1/callscope.proto`): generated types,
//! the server ([`server`]) and the command-line clients ([`client`]).

pub mod client;
pub mod cluster;
pub mod console;
pub mod policy;
pub mod server;
pub mod web;

use crate::engine::call::LiveEvent;
use crate::engine::kpi::{KpiSnapshot, LivePrompt};
use crate::frame::Leg;
use crate::signals::SignalEvent;
use crate::source::g711::Law;

/// Generated protobuf and gRPC code of `callscope.v1`.
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod pb {
    tonic::include_proto!("callscope.v1");
    /// Encoded descriptor set, for server reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        tonic::include_file_descriptor_set!("callscope_descriptor");
}

/// The wire speaker of a leg.
pub fn speaker(leg: Leg) -> pb::Speaker {
    match leg {
        Leg::Agent => pb::Speaker::Agent,
        Leg::Customer => pb::Speaker::Customer,
    }
}

fn speaker_i32(leg: Option<Leg>) -> i32 {
    leg.map_or(pb::Speaker::Unspecified, speaker) as i32
}

/// The wire form of a KPI snapshot.
pub fn kpi(s: &KpiSnapshot) -> pb::KpiSnapshot {
    pb::KpiSnapshot {
        duration_s: s.duration_s,
        agent_talk_s: s.talk_s[0],
        customer_talk_s: s.talk_s[1],
        talk_ratio: s.talk_ratio(),
        current_speaker: speaker_i32(s.current_speaker),
        agent_wpm: s.agent_wpm,
        interruptions_by_agent: s.interruptions_by[0],
        interruptions_by_customer: s.interruptions_by[1],
        backchannels_by_agent: s.backchannels_by[0],
        backchannels_by_customer: s.backchannels_by[1],
        silence_s: s.silence_s,
        overtalk_s: s.overtalk_s,
        transcription_lag_s: s.transcription_lag_s,
    }
}

/// The wire form of a prompt.
pub fn prompt(p: &LivePrompt) -> pb::Prompt {
    pb::Prompt {
        kind: p.kind.to_string(),
        severity: p.severity.to_string(),
        message: p.message.to_string(),
        evidence: p.evidence.to_string(),
    }
}

/// The wire form of a live event at media time `now`. Transcript text comes
/// only from [`crate::redact::Redacted`] segments.
pub fn event(call_id: &str, now: f64, e: &LiveEvent) -> pb::CallEvent {
    use pb::call_event::Event;
    use pb::signal_event::Kind as K;
    let signal = |kind: K, t: f64, sp: Option<Leg>, other: Option<Leg>, d: f64, wpm: f64| {
        (
            t,
            Event::Signal(pb::SignalEvent {
                kind: kind as i32,
                speaker: speaker_i32(sp),
                other: speaker_i32(other),
                duration_s: d,
                wpm,
            }),
        )
    };
    let (t, ev) = match e {
        LiveEvent::Transcript {
            segment,
            is_final,
            utterance,
        } => (
            segment.start,
            Event::Transcript(pb::TranscriptSegment {
                speaker: speaker(segment.speaker) as i32,
                start: segment.start,
                end: segment.end,
                text: segment.text.clone(),
                is_final: *is_final,
                utterance: *utterance,
            }),
        ),
        LiveEvent::Signal(s) => match *s {
            SignalEvent::SpeakingStarted { leg, t } => {
                signal(K::SpeakingStarted, t, Some(leg), None, 0.0, 0.0)
            }
            SignalEvent::SpeakingStopped { leg, t } => {
                signal(K::SpeakingStopped, t, Some(leg), None, 0.0, 0.0)
            }
            SignalEvent::Interruption {
                t,
                by,
                of,
                overlap_s,
            } => signal(K::Interruption, t, Some(by), Some(of), overlap_s, 0.0),
            SignalEvent::Backchannel { t, end, by, of } => {
                signal(K::Backchannel, t, Some(by), Some(of), end - t, 0.0)
            }
            SignalEvent::SilenceStarted { t, after_s } => {
                signal(K::SilenceStarted, t, None, None, after_s, 0.0)
            }
            SignalEvent::SilenceEnded { start, end } => {
                signal(K::SilenceEnded, end, None, None, end - start, 0.0)
            }
        },
        LiveEvent::Pace { t, wpm } => signal(K::Pace, *t, Some(Leg::Agent), None, 0.0, *wpm),
        LiveEvent::Prompt(p) => (p.t, Event::Prompt(prompt(p))),
        LiveEvent::Kpi(k) => (k.duration_s, Event::Kpi(kpi(k))),
        LiveEvent::Redaction {
            kind,
            leg,
            start,
            end,
            keys,
        } => (
            *start,
            Event::Redaction(pb::RedactionNotice {
                kind: format!("{kind:?}").to_lowercase(),
                speaker: speaker(*leg) as i32,
                start: *start,
                end: *end,
                keys: *keys,
            }),
        ),
        LiveEvent::Lagging {
            lag_s,
            queued,
            deferred,
        } => (
            now,
            Event::Lagging(pb::TranscriptionLagging {
                lag_s: *lag_s,
                deferred: *deferred,
                queued_utterances: u32::try_from(*queued).unwrap_or(u32::MAX),
            }),
        ),
    };
    pb::CallEvent {
        call_id: call_id.to_string(),
        t,
        emitted_at: now,
        event: Some(ev),
    }
}

/// How stream audio bytes become samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// 16-bit little-endian PCM.
    Pcm16,
    /// G.711.
    G711(Law),
}

impl Encoding {
    /// From the wire enum; `None` when unspecified or unknown.
    pub fn from_wire(v: i32) -> Option<Self> {
        match pb::AudioEncoding::try_from(v).ok()? {
            pb::AudioEncoding::Pcm16le => Some(Encoding::Pcm16),
            pb::AudioEncoding::Mulaw => Some(Encoding::G711(Law::MuLaw)),
            pb::AudioEncoding::Alaw => Some(Encoding::G711(Law::ALaw)),
            pb::AudioEncoding::Unspecified => None,
        }
    }

    /// The wire enum.
    pub fn to_wire(self) -> pb::AudioEncoding {
        match self {
            Encoding::Pcm16 => pb::AudioEncoding::Pcm16le,
            Encoding::G711(Law::MuLaw) => pb::AudioEncoding::Mulaw,
            Encoding::G711(Law::ALaw) => pb::AudioEncoding::Alaw,
        }
    }

    /// Bytes per sample.
    pub fn width(self) -> usize {
        match self {
            Encoding::Pcm16 => 2,
            Encoding::G711(_) => 1,
        }
    }

    /// Codec name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Pcm16 => "PCM 16-bit (stream)",
            Encoding::G711(Law::MuLaw) => "G.711 mu-law (stream)",
            Encoding::G711(Law::ALaw) => "G.711 A-law (stream)",
        }
    }

    /// Decodes `bytes` (interleaved over `channels`) into one `Vec` per
    /// channel, appending. Returns false when `bytes` is not whole frames.
    pub fn decode(self, bytes: &[u8], channels: usize, out: &mut [Vec<f32>]) -> bool {
        let frame = self.width() * channels;
        if channels == 0 || !bytes.len().is_multiple_of(frame) {
            return false;
        }
        for f in bytes.chunks_exact(frame) {
            for (c, o) in out.iter_mut().enumerate().take(channels) {
                let s = &f[c * self.width()..(c + 1) * self.width()];
                o.push(match self {
                    Encoding::Pcm16 => f32::from(i16::from_le_bytes([s[0], s[1]])) / 32768.0,
                    Encoding::G711(law) => law.decode_f32(s[0]),
                });
            }
        }
        true
    }

    /// Encodes samples (already interleaved) into `out`.
    pub fn encode(self, samples: &[f32], out: &mut Vec<u8>) {
        for &x in samples {
            let v = (x.clamp(-1.0, 1.0) * 32767.0).round() as i16;
            match self {
                Encoding::Pcm16 => out.extend_from_slice(&v.to_le_bytes()),
                Encoding::G711(law) => out.push(law.encode(v)),
            }
        }
    }
}

impl From<crate::store::db::StoreError> for tonic::Status {
    fn from(e: crate::store::db::StoreError) -> Self {
        use crate::store::db::StoreError;
        match e {
            StoreError::Missing(_) => tonic::Status::not_found(e.to_string()),
            StoreError::BadFilter(_) => tonic::Status::invalid_argument(e.to_string()),
            StoreError::AlreadyExists { .. } | StoreError::Open { .. } => {
                tonic::Status::already_exists(e.to_string())
            }
            _ => tonic::Status::internal(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcm_and_mulaw_round_trip_through_the_wire() {
        let x = [0.0f32, 0.5, -0.25, 0.125];
        for enc in [Encoding::Pcm16, Encoding::G711(Law::MuLaw)] {
            let mut bytes = Vec::new();
            enc.encode(&x, &mut bytes);
            let mut out = vec![Vec::new(), Vec::new()];
            assert!(enc.decode(&bytes, 2, &mut out));
            assert_eq!(out[0].len(), 2);
            assert!((out[0][1] - (-0.25)).abs() < 0.02, "{enc:?}");
            assert!((out[1][0] - 0.5).abs() < 0.02, "{enc:?}");
            assert_eq!(Encoding::from_wire(enc.to_wire() as i32), Some(enc));
        }
        // Half a frame is refused.
        let mut out = vec![Vec::new(), Vec::new()];
        assert!(!Encoding::Pcm16.decode(&[0, 0, 0], 2, &mut out));
    }
}
