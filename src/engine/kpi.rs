//! Live KPIs of one call and the prompts raised from signals.
//!
//! [`Kpis`] follows the signal events frame by frame (it never waits for
//! transcription, except for the words-per-minute figure) and answers "how
//! is the call going now". [`Prompter`] turns that into prompts with the
//! thresholds, wording and cooldowns of the rules file; the transcript's
//! prompts come from [`crate::rules::coach`].

use std::collections::VecDeque;

use crate::frame::Leg;
use crate::redact::evidence::{Evidence, Measurement};
use crate::rules::{Rules, SignalPrompt, signal};
use crate::signals::SignalEvent;

/// The call so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KpiSnapshot {
    /// Media time, seconds.
    pub duration_s: f64,
    /// Talk time per leg (agent, customer), seconds.
    pub talk_s: [f64; 2],
    /// Who is talking now (the agent when both are).
    pub current_speaker: Option<Leg>,
    /// Agent words per minute of agent talk, from final transcripts.
    pub agent_wpm: f64,
    /// Interruptions made by each leg (agent, customer).
    pub interruptions_by: [u32; 2],
    /// Backchannels made by each leg (agent, customer): listening cues.
    pub backchannels_by: [u32; 2],
    /// The current silence, seconds (0 while someone talks).
    pub silence_s: f64,
    /// Time both talked at once, seconds.
    pub overtalk_s: f64,
    /// How long the oldest finished utterance not yet transcribed has waited
    /// since it ended, media seconds (0 when transcription keeps up).
    pub transcription_lag_s: f64,
}

impl KpiSnapshot {
    /// Agent talk time ÷ customer talk time (0 while the customer has said nothing).
    pub fn talk_ratio(&self) -> f64 {
        if self.talk_s[1] > 0.0 {
            self.talk_s[0] / self.talk_s[1]
        } else {
            0.0
        }
    }
}

/// Follows a call's signal events.
#[derive(Debug, Default)]
pub struct Kpis {
    talking_since: [Option<f64>; 2],
    quiet_since: f64,
    /// When the customer last talked (end of their last span, or now).
    customer_last: f64,
    interruptions: VecDeque<(f64, Leg)>,
    interruptions_by: [u32; 2],
    backchannels_by: [u32; 2],
    overtalk_s: f64,
    /// Agent words and talk seconds from final transcripts, recent first out.
    agent_words: VecDeque<(f64, u64, f64)>,
    total_agent_words: u64,
    total_agent_talk: f64,
}

impl Kpis {
    /// Takes one signal event into account.
    pub fn on_signal(&mut self, e: &SignalEvent) {
        match *e {
            SignalEvent::SpeakingStarted { leg, t } => {
                self.talking_since[leg.index()] = Some(t);
                if leg == Leg::Customer {
                    self.customer_last = t;
                }
            }
            SignalEvent::SpeakingStopped { leg, t } => {
                if let (Some(a), Some(b)) = (self.talking_since[0], self.talking_since[1]) {
                    self.overtalk_s += (t - a.max(b)).max(0.0);
                }
                self.talking_since[leg.index()] = None;
                if self.talking_since.iter().all(Option::is_none) {
                    self.quiet_since = t;
                }
                if leg == Leg::Customer {
                    self.customer_last = t;
                }
            }
            SignalEvent::Interruption { t, by, .. } => {
                self.interruptions_by[by.index()] += 1;
                self.interruptions.push_back((t, by));
            }
            SignalEvent::Backchannel { by, .. } => self.backchannels_by[by.index()] += 1,
            SignalEvent::SilenceStarted { .. } | SignalEvent::SilenceEnded { .. } => {}
        }
    }

    /// Counts a final agent utterance of `words` words over `talk_s` seconds at `t`.
    pub fn on_agent_words(&mut self, t: f64, words: u64, talk_s: f64) {
        self.agent_words.push_back((t, words, talk_s));
        self.total_agent_words += words;
        self.total_agent_talk += talk_s;
        while self
            .agent_words
            .front()
            .is_some_and(|&(x, ..)| t - x > 60.0)
        {
            self.agent_words.pop_front();
        }
    }

    /// Agent words per minute over the last minute of their finals, and the
    /// number of words that is based on.
    pub fn recent_agent_wpm(&self) -> (f64, u64) {
        let (w, s) = self
            .agent_words
            .iter()
            .fold((0u64, 0.0), |(w, s), &(_, n, d)| (w + n, s + d));
        if s > 0.0 {
            (w as f64 / (s / 60.0), w)
        } else {
            (0.0, 0)
        }
    }

    /// Interruptions by `leg` in the minute before `now`.
    pub fn recent_interruptions(&mut self, now: f64, leg: Leg, window_s: f64) -> usize {
        while self
            .interruptions
            .front()
            .is_some_and(|&(t, _)| now - t > window_s)
        {
            self.interruptions.pop_front();
        }
        self.interruptions
            .iter()
            .filter(|&&(_, l)| l == leg)
            .count()
    }

    /// Seconds since the customer last spoke (0 while they speak).
    pub fn customer_quiet_s(&self, now: f64) -> f64 {
        if self.talking_since[1].is_some() {
            0.0
        } else {
            now - self.customer_last
        }
    }

    /// The snapshot at media time `now`, with talk times from the signal stage.
    pub fn snapshot(&self, now: f64, talk_s: [f64; 2], lag_s: f64) -> KpiSnapshot {
        let current_speaker = if self.talking_since[0].is_some() {
            Some(Leg::Agent)
        } else if self.talking_since[1].is_some() {
            Some(Leg::Customer)
        } else {
            None
        };
        let live_overlap = match (self.talking_since[0], self.talking_since[1]) {
            (Some(a), Some(b)) => (now - a.max(b)).max(0.0),
            _ => 0.0,
        };
        KpiSnapshot {
            duration_s: now,
            talk_s,
            current_speaker,
            agent_wpm: if self.total_agent_talk > 0.0 {
                self.total_agent_words as f64 / (self.total_agent_talk / 60.0)
            } else {
                0.0
            },
            interruptions_by: self.interruptions_by,
            backchannels_by: self.backchannels_by,
            silence_s: if current_speaker.is_none() {
                (now - self.quiet_since).max(0.0)
            } else {
                0.0
            },
            overtalk_s: self.overtalk_s + live_overlap,
            transcription_lag_s: lag_s,
        }
    }
}

/// A prompt for the agent.
#[derive(Debug, Clone, PartialEq)]
pub struct LivePrompt {
    /// Media time, seconds.
    pub t: f64,
    /// e.g. `dead_air`, `interrupting`, `pace`, `monologue`, `hold`,
    /// `complaint_not_acknowledged`, or a phrase rule's kind.
    pub kind: String,
    /// `info`, `warning` or `critical`.
    pub severity: String,
    /// What the agent is told.
    pub message: String,
    /// Why: a measurement, or the speaker and a phrase of a redacted final.
    pub evidence: Evidence,
    /// Supervisors should look at the call too.
    pub supervisor: bool,
}

/// Thresholds of the signal prompts (from the rules file's `[signals]`).
#[derive(Debug, Clone, PartialEq)]
pub struct PromptRules {
    /// Silence that counts as dead air, seconds.
    pub dead_air_s: f64,
    /// Agent interruptions within `interruptions_window_s` that earn a prompt.
    pub interruptions_per_min: usize,
    /// The window for counting interruptions, seconds.
    pub interruptions_window_s: f64,
    /// Agent pace that is too fast, words per minute (over ≥ 20 words).
    pub max_wpm: f64,
    /// Customer silent this long while the agent talks: a monologue, seconds.
    pub monologue_s: f64,
    /// Least time between two prompts of one kind when the rule gives none, seconds.
    pub cooldown_s: f64,
}

impl Default for PromptRules {
    fn default() -> Self {
        crate::rules::Rules::builtin().signals
    }
}

/// Raises prompts with a cooldown per kind.
#[derive(Debug, Default)]
pub struct Prompter {
    thresholds: PromptRules,
    says: Vec<SignalPrompt>,
    last: Vec<(String, f64)>,
}

impl Prompter {
    /// A prompter for these rules.
    pub fn new(rules: &Rules) -> Self {
        Prompter {
            thresholds: rules.signals.clone(),
            says: rules.signal_prompts.to_vec(),
            last: Vec::new(),
        }
    }

    /// Raises a prompt of `kind` at `now` unless one was raised within
    /// `cooldown_s`; true when it was raised.
    #[allow(clippy::too_many_arguments)]
    pub fn raise(
        &mut self,
        now: f64,
        kind: &str,
        severity: &str,
        message: &str,
        cooldown_s: f64,
        evidence: Evidence,
        supervisor: bool,
        out: &mut Vec<LivePrompt>,
    ) -> bool {
        if let Some((_, t)) = self.last.iter_mut().find(|(k, _)| k == kind) {
            if now - *t < cooldown_s {
                return false;
            }
            *t = now;
        } else {
            self.last.push((kind.to_string(), now));
        }
        out.push(LivePrompt {
            t: now,
            kind: kind.to_string(),
            severity: severity.to_string(),
            message: message.to_string(),
            evidence,
            supervisor,
        });
        true
    }

    /// Raises signal prompt `i` (see [`crate::rules::signal`]).
    pub fn raise_signal(
        &mut self,
        now: f64,
        i: usize,
        evidence: Measurement,
        out: &mut Vec<LivePrompt>,
    ) {
        let say = self.says[i].clone();
        self.raise(
            now,
            signal::KINDS[i],
            &say.severity,
            &say.message,
            say.cooldown_s,
            evidence.into(),
            false,
            out,
        );
    }

    /// Checks the signal rules at media time `now`.
    pub fn check(
        &mut self,
        now: f64,
        kpis: &mut Kpis,
        snap: &KpiSnapshot,
        out: &mut Vec<LivePrompt>,
    ) {
        self.check_media(now, kpis, snap, out);
        self.check_pace(now, kpis, out);
    }

    /// The pace prompt: the agent's words over the last minute of their
    /// finals (as far as they have been transcribed).
    fn check_pace(&mut self, now: f64, kpis: &Kpis, out: &mut Vec<LivePrompt>) {
        let (wpm, words) = kpis.recent_agent_wpm();
        if words >= 20 && wpm > self.thresholds.max_wpm {
            let ev = Measurement::AgentPace { wpm };
            self.raise_signal(now, signal::PACE, ev, out);
        }
    }

    /// The prompts that depend on the frames alone (dead air, interrupting,
    /// monologue), not on when transcripts come back: the same for a call
    /// however fast whisper is.
    pub fn check_media(
        &mut self,
        now: f64,
        kpis: &mut Kpis,
        snap: &KpiSnapshot,
        out: &mut Vec<LivePrompt>,
    ) {
        let r = self.thresholds.clone();
        if snap.silence_s >= r.dead_air_s {
            let ev = Measurement::Silence { s: snap.silence_s };
            self.raise_signal(now, signal::DEAD_AIR, ev, out);
        }
        let n = kpis.recent_interruptions(now, Leg::Agent, r.interruptions_window_s);
        if n >= r.interruptions_per_min {
            let ev = Measurement::AgentInterruptions {
                n,
                window_s: r.interruptions_window_s,
            };
            self.raise_signal(now, signal::INTERRUPTING, ev, out);
        }
        let quiet = kpis.customer_quiet_s(now);
        if quiet >= r.monologue_s && snap.current_speaker == Some(Leg::Agent) {
            let ev = Measurement::CustomerSilent { s: quiet };
            self.raise_signal(now, signal::MONOLOGUE, ev, out);
        }
    }
}

/// The pace prompts of a whole call for its stored report, from its agent
/// finals `(end, words as spoken, talk seconds)` in order of their end,
/// checked once per media second up to `duration_s` as if each final were
/// transcribed the moment it ended: the same whatever the transcription
/// lag was (live, the prompt waits for the transcripts).
pub fn pace_prompts(rules: &Rules, finals: &[(f64, u64, f64)], duration_s: f64) -> Vec<LivePrompt> {
    let mut prompter = Prompter::new(rules);
    let mut kpis = Kpis::default();
    let mut out = Vec::new();
    let mut next = 0;
    let mut t = 1.0;
    while t <= duration_s {
        while next < finals.len() && finals[next].0 <= t {
            let (end, words, talk) = finals[next];
            kpis.on_agent_words(end, words, talk);
            next += 1;
        }
        prompter.check_pace(t, &kpis, &mut out);
        t += 1.0;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_and_talk_are_followed() {
        let mut k = Kpis::default();
        k.on_signal(&SignalEvent::SpeakingStarted {
            leg: Leg::Agent,
            t: 1.0,
        });
        k.on_signal(&SignalEvent::SpeakingStarted {
            leg: Leg::Customer,
            t: 2.0,
        });
        k.on_signal(&SignalEvent::SpeakingStopped {
            leg: Leg::Agent,
            t: 3.0,
        });
        k.on_signal(&SignalEvent::SpeakingStopped {
            leg: Leg::Customer,
            t: 4.0,
        });
        let s = k.snapshot(16.0, [2.0, 2.0], 0.0);
        assert_eq!(s.current_speaker, None);
        assert!((s.silence_s - 12.0).abs() < 1e-9);
        assert!((s.overtalk_s - 1.0).abs() < 1e-9);
        assert!((s.talk_ratio() - 1.0).abs() < 1e-9);
        let mut p = Prompter::new(&Rules::builtin());
        let mut out = Vec::new();
        p.check(16.0, &mut k, &s, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].kind, "dead_air");
        // Cooldown: not again a second later.
        p.check(17.0, &mut k, &s, &mut out);
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn repeated_interruptions_prompt_the_agent() {
        let mut k = Kpis::default();
        for t in [10.0, 30.0] {
            k.on_signal(&SignalEvent::Interruption {
                t,
                by: Leg::Agent,
                of: Leg::Customer,
                overlap_s: 0.5,
            });
        }
        let s = k.snapshot(31.0, [10.0, 10.0], 0.0);
        let mut out = Vec::new();
        Prompter::new(&Rules::builtin()).check(31.0, &mut k, &s, &mut out);
        assert!(out.iter().any(|p| p.kind == "interrupting"));
    }
}
