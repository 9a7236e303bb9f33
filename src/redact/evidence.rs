//! Why a prompt was raised, in a form that cannot carry unredacted text.
//!
//! A prompt's [`Evidence`] is either a [`Measurement`] (numbers only: a
//! silence, a pace, a hold) or a [`Quote`] of a final transcript segment that
//! has been through the redactor. A `Quote` can only be made from a
//! [`Redacted`] segment, so live prompts, the gRPC stream and stored reports
//! never quote words the detector has not seen.
//!
//! Evidence read back from a stored report is [`Evidence::Stored`]: it was
//! redacted when it was written, but nothing proves it, so
//! [`super::seal_signal_report`] refuses it and the final pass of a call
//! ([`crate::rules::insights::apply`]) drops it.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::Redacted;
use crate::report::Segment;

/// A figure a prompt is based on. Numbers only, never call text.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Measurement {
    /// Nobody has talked for `s` seconds.
    Silence {
        /// Seconds.
        s: f64,
    },
    /// The agent interrupted the customer `n` times within `window_s`.
    AgentInterruptions {
        /// Interruptions.
        n: usize,
        /// The window, seconds.
        window_s: f64,
    },
    /// The agent's pace over the last minute.
    AgentPace {
        /// Words per minute.
        wpm: f64,
    },
    /// The customer has been silent for `s` seconds while the agent talks.
    CustomerSilent {
        /// Seconds.
        s: f64,
    },
    /// The customer has been on hold since `since` (media seconds), for `s` seconds.
    Hold {
        /// Start of the hold, seconds.
        since: f64,
        /// How long so far, seconds.
        s: f64,
    },
}

impl fmt::Display for Measurement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Measurement::Silence { s } => write!(f, "{s:.0} s of silence"),
            Measurement::AgentInterruptions { n, window_s } => write!(
                f,
                "agent interrupted the customer {n} times in {window_s:.0} s"
            ),
            Measurement::AgentPace { wpm } => {
                write!(f, "agent at {wpm:.0} words/min over the last minute")
            }
            Measurement::CustomerSilent { s } => {
                write!(f, "customer silent for {s:.0} s while the agent talks")
            }
            Measurement::Hold { since, s } => write!(f, "on hold since {since:.0} s ({s:.0} s)"),
        }
    }
}

/// "12.3 s customer: "…"": the start, speaker and (at most 120 characters
/// of the) text of a redacted final segment.
#[derive(Debug, Clone, PartialEq)]
pub struct Quote(Redacted<String>);

impl Quote {
    /// Quotes a redacted segment.
    pub fn of(segment: &Redacted<Segment>) -> Quote {
        Quote(Redacted::seal(crate::rules::coach::evidence(segment.get())))
    }

    /// Quotes a redacted segment that matched a rule, with its score when
    /// it matched by meaning: "12.3 s customer: "…" (meaning 0.72)".
    pub fn matched(segment: &Redacted<Segment>, by: crate::rules::coach::Matched) -> Quote {
        Quote(Redacted::seal(by.evidence(segment.get())))
    }

    /// The quote's text.
    pub fn as_str(&self) -> &str {
        self.0.get()
    }
}

impl fmt::Display for Quote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Text read back from a stored report (see the module docs): shown, never
/// sealed again.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredText(String);

impl StoredText {
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Why a prompt was raised. Serialised as its text (the report's
/// `evidence` string); deserialised as [`Evidence::Stored`]. Two evidences
/// are equal when they read the same, so a report read back equals the one
/// stored.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Evidence {
    /// A measurement from the signals or the coach's timers.
    Measurement(Measurement),
    /// The redacted phrase that matched a rule.
    Quote(Quote),
    /// No acknowledgement or apology `after_s` seconds after the complaint quoted.
    Unacknowledged {
        /// Seconds since the complaint.
        after_s: f64,
        /// The complaint.
        complaint: Quote,
    },
    /// Read back from a stored report.
    Stored(StoredText),
}

impl PartialEq for Evidence {
    fn eq(&self, other: &Self) -> bool {
        self.to_string() == other.to_string()
    }
}

impl Evidence {
    /// Whether this is a measurement (no call text at all).
    pub fn is_measurement(&self) -> bool {
        matches!(self, Evidence::Measurement(_))
    }
}

impl From<Measurement> for Evidence {
    fn from(m: Measurement) -> Self {
        Evidence::Measurement(m)
    }
}

impl From<Quote> for Evidence {
    fn from(q: Quote) -> Self {
        Evidence::Quote(q)
    }
}

impl fmt::Display for Evidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Evidence::Measurement(m) => m.fmt(f),
            Evidence::Quote(q) => q.fmt(f),
            Evidence::Unacknowledged { after_s, complaint } => write!(
                f,
                "no acknowledgement or apology {after_s:.0} s after the complaint at {complaint}"
            ),
            Evidence::Stored(t) => f.write_str(t.as_str()),
        }
    }
}

impl Serialize for Evidence {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Evidence {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(|s| Evidence::Stored(StoredText(s)))
    }
}

impl Default for Evidence {
    /// Empty stored evidence (for reports written before prompts had any).
    fn default() -> Self {
        Evidence::Stored(StoredText(String::new()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::Leg;

    #[test]
    fn evidence_reads_as_before_and_comes_back_as_stored() {
        let seg = Redacted::seal(Segment {
            speaker: Leg::Customer,
            start: 12.34,
            end: 14.0,
            text: "it's [CVV]".into(),
            embedding: None,
        });
        let q = Evidence::from(Quote::of(&seg));
        assert_eq!(q.to_string(), "12.3 s customer: \"it's [CVV]\"");
        let m = Evidence::from(Measurement::Silence { s: 12.4 });
        assert_eq!(m.to_string(), "12 s of silence");
        assert!(m.is_measurement() && !q.is_measurement());
        let json = serde_json::to_string(&q).unwrap();
        let back: Evidence = serde_json::from_str(&json).unwrap();
        assert!(matches!(back, Evidence::Stored(_)));
        assert_eq!(back.to_string(), q.to_string());
    }
}
