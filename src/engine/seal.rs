//! Sealing a finished call: the second listens, word counts, the whole
//! call's redaction (text, audio, audit) and what it leaves to store.

use std::sync::Arc;

use crate::asr::AsrPool;
use crate::frame::Leg;
use crate::redact::Redacted;
use crate::redact::audio::{AudioHold, MaskMethod};
use crate::redact::call::{Mask, TranscribedUtterance, doubtful_utterances, redact_call};
use crate::redact::detect::DetectConfig;
use crate::report::Report;
use crate::store::audit::AuditEntry;

/// Transcription and redaction settings of an analysis run.
#[derive(Clone)]
pub struct Transcription {
    /// The whisper workers (shared by all calls of a batch).
    pub pool: Arc<dyn AsrPool>,
    /// Model file name, for the audit trail.
    pub model_name: String,
    /// How redacted audio is replaced.
    pub mask: MaskMethod,
    /// Detector settings.
    pub detect: DetectConfig,
    /// Prompts, analytics and scorecard rules applied to the redacted transcript.
    pub rules: Arc<crate::rules::Rules>,
}

/// What one analysed call leaves to store: all of it sealed.
pub struct CallResult {
    /// The report.
    pub report: Redacted<Report>,
    /// The masked recording (only when transcribed and redacted).
    pub audio: Option<Redacted<AudioHold>>,
    /// Audit entries of the redactions.
    pub audit: Vec<Redacted<AuditEntry>>,
    /// `(declared, available)` seconds when the file was truncated.
    pub truncated: Option<(f64, f64)>,
    /// Audio written earlier that the whole call's redaction masks and that
    /// was not masked when written: `(leg, start, end)`, to silence in
    /// place (see [`crate::redact::call::RedactedCall::late`]).
    pub late: Vec<(usize, f64, f64)>,
}

/// How long the second listens of one call may wait for the whisper pool
/// (shared with live calls on a server), plus [`RELISTEN_EACH`] per
/// utterance: what is not back by then is masked whole.
const RELISTEN_WAIT: std::time::Duration = std::time::Duration::from_secs(60);
/// See [`RELISTEN_WAIT`].
const RELISTEN_EACH: std::time::Duration = std::time::Duration::from_secs(3);

/// Gives every doubtful utterance ([`doubtful_utterances`]) its second,
/// digit-primed listen, with the audio `audio_of` gives for it. Only short
/// stretches of payment talk are decoded again; one that fails, has no
/// audio or is not back in time (`RELISTEN_WAIT`) stays without (and is
/// masked whole). Blocks on the whisper pool: call it from a worker thread,
/// never from the async runtime.
pub fn relisten(
    mut utterances: Vec<TranscribedUtterance>,
    tones: &[(Leg, f64, f64)],
    t: &Transcription,
    audio_of: impl Fn(usize) -> Option<crate::asr::Utterance>,
) -> Vec<TranscribedUtterance> {
    let doubtful = doubtful_utterances(&utterances, tones, &t.detect);
    let deadline =
        std::time::Instant::now() + RELISTEN_WAIT + RELISTEN_EACH * doubtful.len() as u32;
    let pending: Vec<(usize, _)> = doubtful
        .into_iter()
        .filter_map(|u| {
            let mut again = audio_of(u)?;
            again.prime_digits = true;
            // A full queue (live calls) is waited out, up to the deadline.
            loop {
                let (reply, rx) = crate::asr::whisper::channel_reply();
                match t.pool.try_submit_with(again, reply) {
                    Ok(()) => return Some((u, rx)),
                    Err((crate::asr::AsrError::Busy, back))
                        if std::time::Instant::now() < deadline =>
                    {
                        again = back;
                        std::thread::sleep(std::time::Duration::from_millis(20));
                    }
                    Err(_) => return None,
                }
            }
        })
        .collect();
    for (u, rx) in pending {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        utterances[u].relisten = rx.recv_timeout(left).ok().and_then(|r| r.ok());
    }
    utterances
}

/// Counts words and wpm per speaker into `report`, then redacts the call
/// (text, audio, audit). Shared by file analysis and live calls; an
/// utterance without a transcript is counted in a warning and redacted
/// whole.
pub fn redact_and_seal(
    report: Report,
    utterances: &[TranscribedUtterance],
    tones: &[(Leg, f64, f64)],
    hold: AudioHold,
    t: &Transcription,
    extra: &[Mask],
) -> CallResult {
    redact_and_seal_with(
        report,
        utterances,
        tones,
        hold,
        &Redaction {
            mask: t.mask,
            model_name: &t.model_name,
            detect: &t.detect,
            rules: &t.rules,
        },
        extra,
    )
}

/// The redaction settings of a [`Transcription`], without its whisper pool.
#[derive(Clone, Copy)]
pub struct Redaction<'a> {
    /// How redacted audio is replaced.
    pub mask: MaskMethod,
    /// Model file name, for the audit trail.
    pub model_name: &'a str,
    /// Detector settings.
    pub detect: &'a DetectConfig,
    /// Prompts, analytics and scorecard rules.
    pub rules: &'a Arc<crate::rules::Rules>,
}

/// [`redact_and_seal`] with the settings alone (no whisper pool needed).
pub fn redact_and_seal_with(
    mut report: Report,
    utterances: &[TranscribedUtterance],
    tones: &[(Leg, f64, f64)],
    hold: AudioHold,
    t: &Redaction<'_>,
    extra: &[Mask],
) -> CallResult {
    let failed = utterances.iter().filter(|u| u.transcript.is_none()).count();
    if failed > 0 {
        report.warnings.push(format!(
            "{failed} utterance(s) could not be transcribed; redacted whole in audio and text"
        ));
    }
    let mut words = [0u64; 2];
    for u in utterances {
        if let Some(tr) = &u.transcript {
            words[u.span.leg.index()] += tr.spoken_words();
        }
    }
    let speakers = [
        Some(&mut report.speakers.agent),
        report.speakers.customer.as_mut(),
    ];
    for (i, sp) in speakers.into_iter().enumerate() {
        if let Some(sp) = sp {
            sp.words = Some(words[i]);
            sp.wpm = (sp.talk_time_s > 0.0)
                .then(|| (words[i] as f64 / (sp.talk_time_s / 60.0) * 10.0).round() / 10.0);
        }
    }
    let done = redact_call(
        report,
        utterances,
        tones,
        hold,
        t.mask,
        t.model_name,
        t.detect,
        extra,
    );
    CallResult {
        report: done.report.with_insights(t.rules),
        audio: Some(done.audio),
        audit: done.audit,
        truncated: None,
        late: done.late,
    }
}
