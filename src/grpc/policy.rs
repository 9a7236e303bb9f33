//! What the server allows: who (access) and how much (limits).

use std::time::Instant;

use tonic::Status;

use crate::security::auth::Access;

/// Per-stream and per-server limits. Each breach ends only the request
/// that broke it, with a status saying which limit and how to stay within
/// it; a call cut off is stored as far as it got (`interrupted`).
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Longest call, media seconds.
    pub max_call_s: f64,
    /// Most audio bytes one call may send.
    pub max_call_bytes: u64,
    /// Fastest a stream may send, times real time (0: no limit).
    pub max_speed: f64,
    /// Media a stream may send ahead of `max_speed` (network bursts,
    /// buffered audio after a stall), seconds.
    pub burst_s: f64,
    /// Time from opening a StreamCall to its CallStart, seconds.
    pub start_timeout_s: f64,
    /// Watchers (WatchCall) of one call at once.
    pub max_watchers_per_call: usize,
    /// Watch streams (WatchCall and WatchFloor) at once, all calls.
    pub max_watchers: usize,
    /// Longest `agent_id` / `caller_id`, characters.
    pub max_id_chars: usize,
}

impl Default for Limits {
    /// The defaults of `callscope serve`.
    fn default() -> Self {
        Limits {
            max_call_s: 4.0 * 3600.0,
            max_call_bytes: 1 << 30,
            max_speed: 10.0,
            burst_s: 15.0,
            start_timeout_s: 10.0,
            max_watchers_per_call: 32,
            max_watchers: 512,
            max_id_chars: 128,
        }
    }
}

impl Limits {
    /// No pace limit (in-process use and tests that stream as fast as the
    /// server reads); the other limits as by default.
    pub fn unpaced() -> Self {
        Limits {
            max_speed: 0.0,
            ..Limits::default()
        }
    }

    /// Checks an `agent_id` or `caller_id`: at most `max_id_chars`
    /// characters, none of them control characters (they would reach logs
    /// and terminals).
    pub fn check_id(&self, field: &str, value: &str) -> Result<(), Status> {
        let n = value.chars().count();
        if n > self.max_id_chars {
            return Err(Status::invalid_argument(format!(
                "{field} is {n} characters; at most {} allowed",
                self.max_id_chars
            )));
        }
        if value.chars().any(char::is_control) {
            return Err(Status::invalid_argument(format!(
                "{field} holds control characters; printable text only"
            )));
        }
        Ok(())
    }
}

/// Who may do what, and how much.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Credentials and roles.
    pub access: Access,
    /// Limits.
    pub limits: Limits,
}

impl Default for Policy {
    /// Open access (every caller admin) and [`Limits::unpaced`]: for a hub
    /// in one process (`capture`) and tests. `serve` builds its own.
    fn default() -> Self {
        Policy {
            access: Access::open(),
            limits: Limits::unpaced(),
        }
    }
}

/// Counts one stream's audio against the duration, size and pace limits.
#[derive(Debug)]
pub struct Meter {
    limits: Limits,
    started: Instant,
    bytes: u64,
    media_s: f64,
}

impl Meter {
    /// A meter whose clock starts now.
    pub fn new(limits: &Limits) -> Self {
        Meter {
            limits: limits.clone(),
            started: Instant::now(),
            bytes: 0,
            media_s: 0.0,
        }
    }

    /// Adds a chunk of `bytes` carrying `media_s` seconds of audio, at
    /// `elapsed_s` since the stream started; the status when a limit is
    /// broken.
    pub fn add_at(&mut self, bytes: usize, media_s: f64, elapsed_s: f64) -> Result<(), Status> {
        self.bytes += bytes as u64;
        self.media_s += media_s;
        let l = &self.limits;
        if self.bytes > l.max_call_bytes {
            return Err(Status::resource_exhausted(format!(
                "the call sent more than {} MiB of audio (--max-call-bytes); it was stored as far as it got",
                l.max_call_bytes >> 20
            )));
        }
        if self.media_s > l.max_call_s {
            return Err(Status::resource_exhausted(format!(
                "the call is longer than {:.0} min (--max-call-duration); it was stored as far as it got",
                l.max_call_s / 60.0
            )));
        }
        if l.max_speed > 0.0 && self.media_s > l.max_speed * elapsed_s + l.burst_s {
            return Err(Status::resource_exhausted(format!(
                "audio arrives faster than {}× real time ({:.0} s of audio in {:.1} s; --max-speed); send it as it is spoken — the call was stored as far as it got",
                l.max_speed, self.media_s, elapsed_s
            )));
        }
        Ok(())
    }

    /// [`Meter::add_at`] with the time now.
    pub fn add(&mut self, bytes: usize, media_s: f64) -> Result<(), Status> {
        let elapsed = self.started.elapsed().as_secs_f64();
        self.add_at(bytes, media_s, elapsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_time_passes_and_fifty_times_is_stopped() {
        let l = Limits::default();
        let mut m = Meter::new(&l);
        // An hour at real time, 50 ms chunks of 8 kHz stereo mu-law.
        for i in 1..=72_000 {
            m.add_at(800, 0.05, f64::from(i) * 0.05).unwrap();
        }
        let mut m = Meter::new(&l);
        let mut broke = None;
        for i in 1..=10_000 {
            if let Err(s) = m.add_at(800, 0.05, f64::from(i) * 0.001) {
                broke = Some((i, s));
                break;
            }
        }
        let (i, s) = broke.expect("50x is refused");
        assert_eq!(s.code(), tonic::Code::ResourceExhausted);
        assert!(s.message().contains("10× real time"), "{}", s.message());
        // Within the burst allowance plus the pace: 15 s + 10x.
        assert!(i < 400, "refused after {i} chunks");
    }

    #[test]
    fn size_and_duration_are_capped() {
        let l = Limits {
            max_call_bytes: 1000,
            max_speed: 0.0,
            ..Limits::default()
        };
        let mut m = Meter::new(&l);
        assert!(m.add_at(999, 0.1, 0.0).is_ok());
        assert!(m.add_at(2, 0.1, 0.0).is_err());
        let l = Limits {
            max_call_s: 1.0,
            max_speed: 0.0,
            ..Limits::default()
        };
        let mut m = Meter::new(&l);
        assert!(m.add_at(1, 0.9, 0.0).is_ok());
        let e = m.add_at(1, 0.2, 0.0).unwrap_err();
        assert!(e.message().contains("--max-call-duration"));
    }

    #[test]
    fn ids_are_bounded_and_printable() {
        let l = Limits::default();
        assert!(l.check_id("agent_id", "agent-7 (Zoë)").is_ok());
        assert!(l.check_id("agent_id", &"x".repeat(1 << 20)).is_err());
        let e = l.check_id("caller_id", "+1555\u{1b}[2J").unwrap_err();
        assert!(e.message().contains("control"));
        // The message never echoes the value.
        assert!(!e.message().contains("1555"));
    }
}
