//! The per-call report: what `analyze` writes to `DIR/reports/<call_id>.json`.
//!
//! The top-level names (`call_id`, `duration_s`, `speakers`, `interruptions`,
//! `silences`, `segments`, `redactions`, `prompts`) are a stable contract;
//! fields are only ever added.

use serde::{Deserialize, Serialize};

use crate::frame::Leg;
use crate::redact::evidence::Evidence;
use crate::signals::{Backchannel, CallSummary, Interruption, LegSummary, Silence};

/// Version of the report layout.
pub const SCHEMA: &str = "callscope.report/1";

/// Everything known about one call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Layout version, [`SCHEMA`].
    pub schema: String,
    /// The call's identifier.
    pub call_id: String,
    /// `complete`, or `truncated` when the recording ended before its header said.
    pub status: String,
    /// Problems met while analysing that did not stop it.
    pub warnings: Vec<String>,
    /// Where the audio came from.
    pub source: SourceInfo,
    /// `stereo` (agent and customer on separate channels) or `mono` (one
    /// speaker track: no per-party split, no interruptions).
    pub channel_layout: String,
    /// The agent's id, when the source gave one (`--agent-id`, the stream's `CallStart`).
    #[serde(default)]
    pub agent_id: Option<String>,
    /// The caller's id (e.g. the calling number), when the source gave one.
    #[serde(default)]
    pub caller_id: Option<String>,
    /// When the call started, RFC 3339 UTC: the stream's start, `--started-at`,
    /// or the recording's modification time less its length.
    #[serde(default)]
    pub started_at: Option<String>,
    /// Call length, seconds.
    pub duration_s: f64,
    /// Per party. For mono calls everything is under `agent` and `customer` is null.
    pub speakers: Speakers,
    /// Agent talk time ÷ customer talk time (null for mono or a silent customer).
    pub talk_listen_ratio: Option<f64>,
    /// Who cut off whom (the other speaker took the floor or was cut off);
    /// null for mono calls, where it cannot be known.
    pub interruptions: Option<Vec<Interruption>>,
    /// Listener vocalisations over the other speaker ("mm-hm", "yeah") that
    /// did not take the floor — a sign of active listening, not
    /// interruptions; null for mono calls.
    #[serde(default)]
    pub backchannels: Option<Vec<Backchannel>>,
    /// Time both parties talked at once, seconds.
    pub overtalk_s: f64,
    /// Stretches of at least the configured length where nobody talked.
    pub silences: Vec<Silence>,
    /// Total length of `silences`, seconds.
    pub silence_total_s: f64,
    /// Time nobody talked (any length of gap), seconds.
    pub non_talk_time_s: f64,
    /// Transcript segments (filled by transcription).
    pub segments: Vec<Segment>,
    /// Redacted spans (filled by redaction).
    pub redactions: Vec<RedactionSpan>,
    /// Agent-assist prompts raised during the call.
    pub prompts: Vec<Prompt>,
    /// The customer's complaint and its category (null when none was heard
    /// or the call was not transcribed).
    #[serde(default)]
    pub complaint: Option<crate::rules::insights::Complaint>,
    /// Apology, escalation request, cancellation threat (null untranscribed).
    #[serde(default)]
    pub flags: Option<crate::rules::insights::Flags>,
    /// Sentiment per turn and its trend per speaker (null untranscribed).
    #[serde(default)]
    pub sentiment: Option<crate::rules::insights::Sentiment>,
    /// The QA scorecard (null untranscribed).
    #[serde(default)]
    pub scorecard: Option<crate::rules::insights::Scorecard>,
    /// What the agent committed to (null untranscribed).
    #[serde(default)]
    pub commitments: Option<Vec<crate::rules::insights::Commitment>>,
}

/// Where the audio came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceInfo {
    /// File name (without directories), or the stream's description.
    pub name: String,
    /// Codec, e.g. `G.711 mu-law`.
    pub codec: String,
    /// Native sample rate, Hz.
    pub sample_rate: u32,
    /// Channels in the source.
    pub channels: u16,
    /// Which source channel carried the agent (`left`/`right`; `mono`).
    pub agent_channel: String,
}

/// Both parties.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Speakers {
    /// The agent (or the only speaker of a mono call).
    pub agent: Speaker,
    /// The customer; null for mono calls.
    pub customer: Option<Speaker>,
}

/// One party's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Speaker {
    /// Total talk time, seconds.
    pub talk_time_s: f64,
    /// Share of the call's duration this party talked, 0–1.
    pub talk_share: f64,
    /// Number of talk spans.
    pub turns: u64,
    /// Backchannels this party made while the other talked.
    #[serde(default)]
    pub backchannels: u64,
    /// Words spoken (from the transcript; null until transcribed).
    pub words: Option<u64>,
    /// Talk rate from the transcript: words as spoken (a digit string counts
    /// its spoken words) per minute of this party's talk time; null until
    /// transcribed.
    pub wpm: Option<f64>,
    /// Mean level of voiced audio, dBFS.
    pub loudness_dbfs: Option<f64>,
    /// Loudness on a 0–100 scale (−60 dBFS → 0, 0 dBFS → 100).
    pub loudness_score: Option<f64>,
    /// Syllable nuclei per second of talk time (transcript-free talk rate).
    pub syllables_per_s: Option<f64>,
    /// Talk rate estimated from the syllable rate (÷ 1.4 syllables per
    /// word): the fast, transcript-free value the live pace uses.
    pub est_wpm: Option<f64>,
}

/// A transcript segment.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Segment {
    /// Who spoke.
    pub speaker: Leg,
    /// Start, seconds.
    pub start: f64,
    /// End, seconds.
    pub end: f64,
    /// Redacted text.
    pub text: String,
    /// The sentence embedding of the redacted text's words (numbers,
    /// months and placeholders left out), when the model is loaded: shared
    /// by every consumer of the segment. Not part of the JSON report.
    #[serde(skip)]
    pub embedding: Option<crate::embed::Embedding>,
}

/// Segments are equal when they say the same thing at the same time (the
/// embedding, not part of the report, is left out).
impl PartialEq for Segment {
    fn eq(&self, other: &Self) -> bool {
        self.speaker == other.speaker
            && self.start == other.start
            && self.end == other.end
            && self.text == other.text
    }
}

/// A span removed from the recording and transcript.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RedactionSpan {
    /// `pan`, `cvv`, `expiry` or `dtmf`.
    pub kind: String,
    /// Whose leg.
    pub speaker: Leg,
    /// Start, seconds.
    pub start: f64,
    /// End, seconds.
    pub end: f64,
}

/// An agent-assist prompt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prompt {
    /// Media time, seconds.
    pub t: f64,
    /// Prompt kind, e.g. `pace` or `deflection`.
    pub kind: String,
    /// `info`, `warning` or `critical`.
    #[serde(default)]
    pub severity: String,
    /// What the agent is told.
    pub message: String,
    /// Why: a measurement, or the speaker and the redacted phrase (a JSON
    /// string; read back as [`Evidence::Stored`]).
    #[serde(default)]
    pub evidence: Evidence,
    /// Flagged for supervisors too.
    #[serde(default)]
    pub supervisor: bool,
}

impl From<crate::engine::kpi::LivePrompt> for Prompt {
    fn from(p: crate::engine::kpi::LivePrompt) -> Self {
        Prompt {
            t: ms(p.t),
            kind: p.kind,
            severity: p.severity,
            message: p.message,
            evidence: p.evidence,
            supervisor: p.supervisor,
        }
    }
}

/// Who took a call, who called and when it started, as its source tells.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallMeta {
    /// The agent's id.
    pub agent_id: Option<String>,
    /// The caller's id (e.g. the calling number).
    pub caller_id: Option<String>,
    /// When the call started.
    pub started_at: Option<std::time::SystemTime>,
}

impl CallMeta {
    /// Copies the metadata into `report` (empty ids count as unknown).
    pub fn apply(&self, report: &mut Report) {
        let known = |s: &Option<String>| s.clone().filter(|s| !s.trim().is_empty());
        report.agent_id = known(&self.agent_id);
        report.caller_id = known(&self.caller_id);
        report.started_at = self
            .started_at
            .map(|t| humantime::format_rfc3339_seconds(t).to_string());
    }
}

/// What listeners say without taking the floor, as lowercase word sequences.
const LISTENER_PHRASES: &[&[&str]] = &[
    &["mm", "hm"],
    &["mm", "hmm"],
    &["uh", "huh"],
    &["all", "right"],
    &["i", "see"],
    &["go", "on"],
    &["got", "it"],
    &["of", "course"],
    &["mm"],
    &["mmm"],
    &["mhm"],
    &["mmhm"],
    &["mmhmm"],
    &["hm"],
    &["hmm"],
    &["uh"],
    &["um"],
    &["uhhuh"],
    &["yeah"],
    &["yea"],
    &["yep"],
    &["yup"],
    &["yes"],
    &["right"],
    &["okay"],
    &["ok"],
    &["sure"],
    &["alright"],
    &["gotcha"],
    &["oh"],
    &["ah"],
    &["aha"],
    &["true"],
    &["exactly"],
    &["absolutely"],
    &["ha"],
    &["haha"],
    &["wow"],
    &["really"],
    &["cool"],
    &["great"],
    &["fine"],
];

/// Whether `text` says nothing but listener tokens ("mm-hm", "yeah, right",
/// "I see"): a backchannel, whatever the audio suggested.
pub fn is_listener_only(text: &str) -> bool {
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphabetic() && c != '\'')
        .filter(|w| !w.is_empty())
        .collect();
    let mut i = 0;
    while i < words.len() {
        match LISTENER_PHRASES.iter().find(|p| words[i..].starts_with(p)) {
            Some(p) => i += p.len(),
            None => return false,
        }
    }
    i > 0
}

/// Words as spoken in one transcript word: a digit string read digit by
/// digit counts each digit ("4111" in a card number is four words), a year
/// or amount-like group counts the words it is usually read as, anything
/// else one word.
pub fn spoken_words(word: &str) -> u64 {
    let mut n = 0;
    let mut any_digit = false;
    for group in word.split(|c: char| !c.is_ascii_digit()) {
        if group.is_empty() {
            continue;
        }
        any_digit = true;
        let digits = group.len() as u64;
        let value: u64 = group.parse().unwrap_or(u64::MAX);
        n += match digits {
            _ if group.starts_with('0') && digits > 1 => digits,
            1 => 1,
            // "seventeen", "forty", "forty two"
            2 => 1 + u64::from(value > 20 && !value.is_multiple_of(10)),
            // "three fifty", "one hundred and five"
            3 => 2 + u64::from(value % 100 > 20 && !value.is_multiple_of(10)),
            // "twenty twenty seven", "fifteen hundred"
            4 => 3,
            _ => digits,
        };
    }
    if any_digit { n } else { 1 }
}

/// Average syllables per English word, for [`Speaker::est_wpm`].
pub const SYLLABLES_PER_WORD: f64 = 1.4;

/// Rounds seconds to milliseconds, so reports stay readable and diff cleanly.
pub fn ms(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn speaker(s: &LegSummary, duration: f64) -> Speaker {
    let loud = s.loudness_dbfs.map(f64::from);
    Speaker {
        talk_time_s: ms(s.talk_time_s),
        talk_share: if duration > 0.0 {
            ms(s.talk_time_s / duration)
        } else {
            0.0
        },
        turns: s.turns,
        backchannels: 0,
        words: None,
        wpm: None,
        loudness_dbfs: loud.map(|d| (d * 10.0).round() / 10.0),
        loudness_score: loud.map(|d| ((d + 60.0) / 60.0 * 100.0).clamp(0.0, 100.0).round()),
        syllables_per_s: s.syllables_per_s.map(|r| (r * 100.0).round() / 100.0),
        est_wpm: s
            .syllables_per_s
            .map(|r| (r * 60.0 / SYLLABLES_PER_WORD).round()),
    }
}

impl Report {
    /// Builds the report of a call from its signal summary.
    pub fn from_summary(call_id: &str, source: SourceInfo, summary: &CallSummary) -> Report {
        let d = summary.duration_s;
        let agent = speaker(&summary.legs[0], d);
        let customer = summary.stereo.then(|| speaker(&summary.legs[1], d));
        let ratio = customer
            .as_ref()
            .filter(|c| c.talk_time_s > 0.0)
            .map(|c| (agent.talk_time_s / c.talk_time_s * 100.0).round() / 100.0);
        let round_span = |i: &Interruption| Interruption {
            t: ms(i.t),
            by: i.by,
            of: i.of,
            overlap_s: ms(i.overlap_s),
        };
        let mut report = Report {
            schema: SCHEMA.to_string(),
            call_id: call_id.to_string(),
            status: "complete".to_string(),
            warnings: Vec::new(),
            source,
            channel_layout: if summary.stereo { "stereo" } else { "mono" }.to_string(),
            agent_id: None,
            caller_id: None,
            started_at: None,
            duration_s: ms(d),
            speakers: Speakers { agent, customer },
            talk_listen_ratio: ratio,
            interruptions: summary
                .stereo
                .then(|| summary.interruptions.iter().map(round_span).collect()),
            backchannels: summary.stereo.then(|| {
                summary
                    .backchannels
                    .iter()
                    .map(|b| Backchannel {
                        t: ms(b.t),
                        end: ms(b.end),
                        ..b.clone()
                    })
                    .collect()
            }),
            overtalk_s: ms(summary.overtalk_s),
            silences: summary
                .silences
                .iter()
                .map(|s| Silence {
                    start: ms(s.start),
                    end: ms(s.end),
                })
                .collect(),
            silence_total_s: ms(summary
                .silences
                .iter()
                .fold(0.0, |acc, s| acc + (s.end - s.start))),
            non_talk_time_s: ms(summary.non_talk_s),
            segments: Vec::new(),
            redactions: Vec::new(),
            prompts: Vec::new(),
            complaint: None,
            flags: None,
            sentiment: None,
            scorecard: None,
            commitments: None,
        };
        report.count_backchannels();
        report
    }

    /// Refines the audio's interruptions with the transcript: an
    /// interruption whose interrupter's words at that moment are only
    /// listener tokens ([`is_listener_only`]) is a backchannel.
    pub fn refine_interruptions_with_words(&mut self) {
        let (Some(ints), Some(bcs)) = (self.interruptions.as_mut(), self.backchannels.as_mut())
        else {
            return;
        };
        let segments = &self.segments;
        ints.retain(|i| {
            let said = segments
                .iter()
                .find(|s| s.speaker == i.by && s.end > i.t && (s.start - i.t).abs() <= 0.6);
            match said {
                Some(seg) if is_listener_only(&seg.text) => {
                    bcs.push(Backchannel {
                        t: i.t,
                        end: ms(seg.end.min(i.t + 2.0)),
                        by: i.by,
                        of: i.of,
                    });
                    false
                }
                _ => true,
            }
        });
        bcs.sort_by(|a, b| a.t.total_cmp(&b.t));
        self.count_backchannels();
    }

    /// Sets each party's `backchannels` count from the `backchannels` list.
    fn count_backchannels(&mut self) {
        let by = |leg| {
            self.backchannels
                .iter()
                .flatten()
                .filter(|b| b.by == leg)
                .count() as u64
        };
        let (agent, customer) = (by(Leg::Agent), by(Leg::Customer));
        self.speakers.agent.backchannels = agent;
        if let Some(c) = self.speakers.customer.as_mut() {
            c.backchannels = customer;
        }
    }

    /// A short human-readable summary, several lines.
    pub fn human_summary(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{}  {:.1} s  {}, {} Hz, {}{}",
            self.call_id,
            self.duration_s,
            self.source.codec,
            self.source.sample_rate,
            self.channel_layout,
            if self.status == "complete" {
                String::new()
            } else {
                format!("  [{}]", self.status)
            }
        );
        let mut party = |name: &str, p: &Speaker| {
            let _ = writeln!(
                s,
                "  {name:<9} talk {:>6.1} s ({:>3.0} %)  {}loudness {}  rate {}",
                p.talk_time_s,
                p.talk_share * 100.0,
                p.words
                    .zip(p.wpm)
                    .map_or(String::new(), |(w, r)| format!("{w} words ({r:.0} wpm)  ")),
                p.loudness_dbfs
                    .zip(p.loudness_score)
                    .map_or("-".to_string(), |(d, sc)| format!(
                        "{d:.1} dBFS ({sc:.0}/100)"
                    )),
                p.syllables_per_s
                    .zip(p.est_wpm)
                    .map_or("-".to_string(), |(r, w)| format!(
                        "{r:.1} syl/s (~{w:.0} wpm)"
                    )),
            );
        };
        if self.speakers.customer.is_some() {
            party("agent", &self.speakers.agent);
        } else {
            party("speaker", &self.speakers.agent);
        }
        if let Some(c) = &self.speakers.customer {
            party("customer", c);
        }
        let _ = writeln!(
            s,
            "  talk/listen {}  overtalk {:.1} s  non-talk {:.1} s",
            self.talk_listen_ratio
                .map_or("-".to_string(), |r| format!("{r:.2}")),
            self.overtalk_s,
            self.non_talk_time_s
        );
        match &self.interruptions {
            None => {
                let _ = writeln!(
                    s,
                    "  interruptions: n/a (mono recording, one speaker track)"
                );
            }
            Some(list) => {
                let _ = write!(s, "  interruptions {}", list.len());
                for i in list {
                    let _ = write!(s, "  [{:.1} s {}→{} {:.1} s]", i.t, i.by, i.of, i.overlap_s);
                }
                let _ = writeln!(s);
                if let (Some(b), Some(c)) = (&self.backchannels, &self.speakers.customer) {
                    let _ = writeln!(
                        s,
                        "  backchannels {} (agent {}, customer {}): listening cues, not interruptions",
                        b.len(),
                        self.speakers.agent.backchannels,
                        c.backchannels
                    );
                }
            }
        }
        let _ = write!(
            s,
            "  silences {} ({:.1} s)",
            self.silences.len(),
            self.silence_total_s
        );
        for x in &self.silences {
            let _ = write!(s, "  [{:.1}–{:.1} s]", x.start, x.end);
        }
        let _ = writeln!(s);
        if !self.segments.is_empty() {
            let _ = writeln!(
                s,
                "  transcript {} segments, {} redactions",
                self.segments.len(),
                self.redactions.len()
            );
        }
        for w in &self.warnings {
            let _ = writeln!(s, "  warning: {w}");
        }
        s
    }
}

/// A stereo two-minute call with `segments` and no interruptions, for unit
/// tests of what reads reports.
#[cfg(test)]
pub(crate) fn test_report(call_id: &str, segments: Vec<Segment>) -> Report {
    let summary = crate::signals::CallSummary {
        duration_s: 120.0,
        stereo: true,
        ..Default::default()
    };
    let source = SourceInfo {
        name: "t".into(),
        codec: "PCM".into(),
        sample_rate: 8000,
        channels: 2,
        agent_channel: "left".into(),
    };
    let mut r = Report::from_summary(call_id, source, &summary);
    r.segments = segments;
    r.talk_listen_ratio = Some(1.2);
    r.interruptions = Some(Vec::new());
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(speaker: Leg, start: f64, end: f64, text: &str) -> Segment {
        Segment {
            speaker,
            start,
            end,
            text: text.into(),
            embedding: None,
        }
    }

    #[test]
    fn listener_tokens_are_told_from_content() {
        for t in [
            "Mm-hm.",
            "yeah, yeah",
            "Right.",
            "uh-huh okay",
            "I see.",
            "Go on.",
            "Oh, really?",
        ] {
            assert!(is_listener_only(t), "{t}");
        }
        for t in [
            "",
            "Wait, that's wrong.",
            "yeah but I already paid",
            "Sorry, can I stop you there?",
            "I see the charge twice",
        ] {
            assert!(!is_listener_only(t), "{t}");
        }
    }

    #[test]
    fn digit_strings_count_the_words_they_are_spoken_as() {
        assert_eq!(spoken_words("hello"), 1);
        assert_eq!(spoken_words("7"), 1);
        assert_eq!(spoken_words("40"), 1);
        assert_eq!(spoken_words("42"), 2);
        assert_eq!(spoken_words("350"), 2);
        assert_eq!(spoken_words("2027"), 3);
        assert_eq!(spoken_words("4111-1111"), 6);
        assert_eq!(spoken_words("1-2-8-2"), 4);
        assert_eq!(spoken_words("0927"), 4);
        assert_eq!(spoken_words("123456"), 6);
        assert_eq!(spoken_words("$49.99"), 4);
    }

    #[test]
    fn an_interruption_that_only_says_mm_hm_becomes_a_backchannel() {
        let mut r = test_report(
            "c",
            vec![
                seg(
                    Leg::Customer,
                    1.0,
                    8.0,
                    "So the parcel never came and I rang twice",
                ),
                seg(Leg::Agent, 3.05, 3.9, "Mm-hm, yeah."),
                seg(Leg::Agent, 9.0, 11.0, "Sorry, can I stop you there?"),
            ],
        );
        let cut = |t| Interruption {
            t,
            by: Leg::Agent,
            of: Leg::Customer,
            overlap_s: 0.5,
        };
        r.interruptions = Some(vec![cut(3.0), cut(9.0)]);
        r.refine_interruptions_with_words();
        let ints = r.interruptions.as_ref().unwrap();
        assert_eq!(ints.len(), 1);
        assert_eq!(ints[0].t, 9.0);
        let bcs = r.backchannels.as_ref().unwrap();
        assert_eq!(bcs.len(), 1);
        assert_eq!((bcs[0].t, bcs[0].by), (3.0, Leg::Agent));
        assert_eq!(r.speakers.agent.backchannels, 1);
    }
}
