//! The redaction audit trail: `DIR/audit/<call_id>.jsonl`.
//!
//! One compact JSON object per line, newline-terminated:
//!
//! ```text
//! {"seq":0,"type":"redaction","kind":"pan","leg":"customer","start":12.5,"end":19.0,"method":"silence","confidence":"high","model":"ggml-base.bin","prev_sha256":"000…000"}
//! {"seq":1,"type":"redaction","kind":"dtmf","leg":"customer","start":31.0,"end":33.5,"method":"tone","confidence":"high","model":"dtmf-spectral","prev_sha256":"<hex>"}
//! {"type":"end","entries":2,"recording_sha256":"<hex or null>","prev_sha256":"<hex>"}
//! ```
//!
//! * `seq` counts redaction lines from 0, so redaction line `seq` is line
//!   `seq + 1` of the file.
//! * `prev_sha256` is the lower-case hex SHA-256 of the previous line's bytes
//!   (without its newline); the first line carries 64 zeros. Editing,
//!   deleting or inserting a line breaks the chain at the line after it, and
//!   a missing `end` line shows a truncated or unfinished trail. [`verify`]
//!   checks all of this.
//! * The chain is not keyed: someone able to rewrite the whole file can
//!   recompute it. To detect that too, the store anchors
//!   [`VerifySummary::head_sha256`] (the hash of the `end` line) in its
//!   anchor chain when the call is stored ([`super::anchor`]), and
//!   [`super::verify`] checks the trail against it.
//!
//! **The trail never holds call content.** An [`AuditEntry`] says *what*
//! kind of card data was removed, *where* (leg and times) and *how*; never
//! the digits, the words or any transcript text. As a guard, the free-text
//! field `method` is refused when it holds three or more consecutive ASCII
//! digits ([`AuditError::DigitsInField`]); the `model` field is not free
//! text but the model's file name, written as a [`model_label`] (every run
//! of three or more digits masked as `#`), so a model file named
//! `ggml-large-v3-20240101.bin` is recorded as `ggml-large-v3-########.bin`
//! instead of failing every redaction of the call. Error messages never
//! quote file or entry contents.
//!
//! The file is written (mode 0600) as `<call_id>.jsonl.tmp`, fsynced and
//! renamed into place by [`AuditWriter::finish`] (an existing trail of the
//! same call is replaced: callers refuse an existing call id first, see
//! [`crate::analyze::check_new_call`]), so a reader never sees a
//! half-written trail under the final name.

use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::frame::Leg;
use crate::redact::Redacted;
use crate::redact::detect::{Confidence, Kind, Rule};

/// `prev_sha256` of the first line.
const ZERO_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One redaction, as recorded in the audit trail.
///
/// It must never hold digits or transcript text: only the kind of data
/// removed, where it was and how. [`AuditEntry::validate`] refuses string
/// fields with runs of three or more digits, and times that are not finite,
/// negative or reversed.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct AuditEntry {
    /// What was removed.
    pub kind: Kind,
    /// From whose leg.
    pub leg: Leg,
    /// Start of the redacted span, seconds from the start of the call.
    pub start: f64,
    /// End of the redacted span, seconds from the start of the call.
    pub end: f64,
    /// How it was removed: `"silence"`, `"tone"`, `"text"`, …
    pub method: String,
    /// How sure the detector was.
    pub confidence: Confidence,
    /// What found it: the whisper model file name (e.g. `"ggml-base.bin"`)
    /// or `"dtmf-spectral"`. The trail records it as its [`model_label`].
    pub model: String,
    /// Which detector rule found it (older trails lack it).
    #[serde(default)]
    pub rule: Rule,
    /// Whether this channel was masked because it carries the line echo of
    /// the other party's sensitive speech.
    #[serde(default)]
    pub echo: bool,
}

impl AuditEntry {
    /// Checks that the entry can go into the trail: no three or more
    /// consecutive ASCII digits in `method` (free text, judged by content),
    /// and `0 <= start <= end`, both finite. `model` is not judged here: it
    /// names a model file and is written as its [`model_label`], which
    /// holds no digit run. `seq` only labels the error.
    pub fn validate(&self, seq: u64) -> Result<(), AuditError> {
        if has_digit_run(&self.method, 3) {
            return Err(AuditError::DigitsInField {
                seq,
                field: "method",
            });
        }
        let reason = if !self.start.is_finite() || !self.end.is_finite() {
            "start and end must be finite"
        } else if self.start < 0.0 {
            "start must not be negative"
        } else if self.end < self.start {
            "end must not be before start"
        } else {
            return Ok(());
        };
        Err(AuditError::InvalidEntry { seq, reason })
    }
}

/// Longest model label written, characters.
const MODEL_LABEL_MAX: usize = 128;

/// How a model's file name is recorded in the trail: ASCII letters, digits,
/// `.`, `-`, `_` and `#` kept, any other character replaced by `_`, every run of
/// three or more digits masked digit by digit as `#`, and at most 128
/// characters. A model name is configuration, not call content, but the
/// trail holds no digit run of any origin: `ggml-large-v3-20240101.bin`
/// becomes `ggml-large-v3-########.bin`, `whisper-1000h.bin` becomes
/// `whisper-####h.bin`, and `ggml-base-q8_0.bin` stays as it is.
pub fn model_label(name: &str) -> String {
    let kept: Vec<char> = name
        .chars()
        .take(MODEL_LABEL_MAX)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '#') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut out = String::with_capacity(kept.len());
    let mut i = 0;
    while i < kept.len() {
        let run = kept[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        if run >= 3 {
            out.extend(std::iter::repeat_n('#', run));
            i += run;
        } else if run > 0 {
            out.extend(&kept[i..i + run]);
            i += run;
        } else {
            out.push(kept[i]);
            i += 1;
        }
    }
    out
}

/// Whether `s` holds `n` or more consecutive ASCII digits.
fn has_digit_run(s: &str, n: usize) -> bool {
    let mut run = 0;
    for b in s.bytes() {
        if b.is_ascii_digit() {
            run += 1;
            if run >= n {
                return true;
            }
        } else {
            run = 0;
        }
    }
    false
}

/// Whether `s` is a lower-case hex SHA-256.
fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Lower-case hex SHA-256 of `bytes`.
fn sha256_hex(bytes: &[u8]) -> String {
    super::hex(&Sha256::digest(bytes))
}

/// Why an audit trail could not be written or did not verify.
///
/// Messages name files, line numbers and field names, never file or entry
/// contents.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// The file or directory could not be created, written, synced, renamed
    /// or read. Treat the call's redaction as unaudited: fix the data
    /// directory (space, permissions) and process the call again.
    #[error("audit trail {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// The call id cannot be used as a file name. Use letters, digits, '.',
    /// '-' and '_' only (the same rule as reports).
    #[error("invalid call id {0:?}: use letters, digits, '.', '-' and '_' only")]
    InvalidCallId(String),
    /// The free-text field `method` of an entry holds three or more
    /// consecutive digits: it may carry card data and was refused; nothing
    /// was written and the writer can go on (skip the entry). This is a bug
    /// in the caller: put only the kind of method there.
    #[error(
        "audit entry {seq}: field `{field}` holds 3 or more consecutive digits; refused (the trail must not hold card data)"
    )]
    DigitsInField {
        /// The entry's sequence number.
        seq: u64,
        /// The offending field.
        field: &'static str,
    },
    /// An entry's times are unusable; nothing was written and the writer can
    /// go on. A bug in the caller: pass finite times with `0 <= start <= end`.
    #[error("audit entry {seq}: {reason}")]
    InvalidEntry {
        /// The entry's sequence number.
        seq: u64,
        /// What is wrong.
        reason: &'static str,
    },
    /// The recording hash given to [`AuditWriter::finish`] is not 64
    /// lower-case hex digits. Nothing was finished; pass the output of a
    /// SHA-256 hex encoder, or `None`.
    #[error("recording hash is not a lower-case hex SHA-256")]
    InvalidRecordingHash,
    /// An earlier write of this writer failed, so the file may hold a
    /// partial line. Drop the writer and start the call's trail again with
    /// [`AuditWriter::create`].
    #[error("audit trail {path}: an earlier write failed; recreate the trail")]
    WriterFailed {
        /// The temporary file.
        path: PathBuf,
    },
    /// A line is not a well-formed trail record (bad JSON, unknown type,
    /// missing or extra fields, or an entry [`AuditEntry::validate`]
    /// refuses). Treat the trail as corrupt or tampered with: keep the file
    /// as evidence and re-audit the call from its recording.
    #[error("audit trail {path}: line {line}: {reason}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// Line number, from 1.
        line: u64,
        /// What is wrong (never the line's contents).
        reason: String,
    },
    /// A line's `prev_sha256` does not match the line before it: a line at
    /// or before it was edited, deleted or inserted. Treat the trail as
    /// tampered with: keep the file as evidence and re-audit the call.
    #[error(
        "audit trail {path}: line {line}: hash chain broken (prev_sha256 does not match {}): a line was edited, deleted or inserted",
        if *line <= 1 { "the start of the file".to_string() } else { format!("line {}", line - 1) }
    )]
    BrokenChain {
        /// The file.
        path: PathBuf,
        /// Line number, from 1.
        line: u64,
    },
    /// A redaction line's `seq` is out of order. Treat the trail as tampered
    /// with, as for [`AuditError::BrokenChain`].
    #[error("audit trail {path}: line {line}: seq {found}, expected {expected}")]
    BadSequence {
        /// The file.
        path: PathBuf,
        /// Line number, from 1.
        line: u64,
        /// The `seq` that line should carry.
        expected: u64,
        /// The `seq` it carries.
        found: u64,
    },
    /// The `end` line's entry count differs from the number of redaction
    /// lines. Treat the trail as tampered with.
    #[error("audit trail {path}: line {line}: end line declares {declared} entries, found {found}")]
    CountMismatch {
        /// The file.
        path: PathBuf,
        /// Line number of the `end` line, from 1.
        line: u64,
        /// The count the `end` line declares.
        declared: u64,
        /// Redaction lines found.
        found: u64,
    },
    /// The file stops without a complete `end` line: it was truncated, or
    /// its writer never finished. Treat the call's redaction as unaudited
    /// and re-audit the call.
    #[error(
        "audit trail {path}: truncated after line {line}: no complete end line (file cut short or never finished)"
    )]
    Truncated {
        /// The file.
        path: PathBuf,
        /// The last complete line, from 1 (0: none).
        line: u64,
    },
    /// There is data after the `end` line. Treat the trail as tampered with.
    #[error("audit trail {path}: line {line}: data after the end line")]
    DataAfterEnd {
        /// The file.
        path: PathBuf,
        /// The first line after the `end` line, from 1.
        line: u64,
    },
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> AuditError + '_ {
    move |source| AuditError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Path of a call's audit trail under `data_dir`.
pub fn audit_path(data_dir: &Path, call_id: &str) -> PathBuf {
    data_dir.join("audit").join(format!("{call_id}.jsonl"))
}

/// A redaction line as written.
#[derive(Serialize)]
struct RedactionOut<'a> {
    seq: u64,
    #[serde(rename = "type")]
    ty: &'static str,
    kind: Kind,
    leg: Leg,
    start: f64,
    end: f64,
    method: &'a str,
    confidence: Confidence,
    model: &'a str,
    rule: Rule,
    echo: bool,
    prev_sha256: &'a str,
}

/// The closing line as written.
#[derive(Serialize)]
struct EndOut<'a> {
    #[serde(rename = "type")]
    ty: &'static str,
    entries: u64,
    recording_sha256: Option<&'a str>,
    prev_sha256: &'a str,
}

/// A redaction line as read back.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RedactionIn {
    seq: u64,
    #[serde(rename = "type")]
    _ty: String,
    kind: Kind,
    leg: Leg,
    start: f64,
    end: f64,
    method: String,
    confidence: Confidence,
    model: String,
    #[serde(default)]
    rule: Rule,
    #[serde(default)]
    echo: bool,
    prev_sha256: String,
}

/// The closing line as read back.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EndIn {
    #[serde(rename = "type")]
    _ty: String,
    entries: u64,
    recording_sha256: Option<String>,
    prev_sha256: String,
}

/// Only the `type` of a line.
#[derive(Deserialize)]
struct TypeOnly {
    #[serde(rename = "type")]
    ty: String,
}

/// Writes one call's audit trail, line by line; [`AuditWriter::finish`]
/// moves it into place. One writer per call id at a time.
///
/// A writer dropped without `finish` leaves `<call_id>.jsonl.tmp` behind
/// (the next [`AuditWriter::create`] for that call overwrites it).
#[derive(Debug)]
pub struct AuditWriter {
    file: BufWriter<File>,
    tmp: PathBuf,
    path: PathBuf,
    /// Redaction lines written.
    seq: u64,
    /// Hash of the last line written.
    prev: String,
    /// A write failed; the file may hold a partial line.
    failed: bool,
}

impl AuditWriter {
    /// Starts the trail of `call_id`: creates `DIR/audit/` and
    /// `<call_id>.jsonl.tmp` in it.
    pub fn create(data_dir: &Path, call_id: &str) -> Result<Self, AuditError> {
        crate::analyze::validate_call_id(call_id)
            .map_err(|_| AuditError::InvalidCallId(call_id.to_string()))?;
        let path = audit_path(data_dir, call_id);
        let dir = path.parent().expect("audit path has a parent");
        super::create_private_dir(dir).map_err(io_at(dir))?;
        let tmp = path.with_extension("jsonl.tmp");
        let file = super::create_private_file(&tmp, false).map_err(io_at(&tmp))?;
        Ok(AuditWriter {
            file: BufWriter::new(file),
            tmp,
            path,
            seq: 0,
            prev: ZERO_HASH.to_string(),
            failed: false,
        })
    }

    /// Redaction lines written so far.
    pub fn entries(&self) -> u64 {
        self.seq
    }

    /// Appends one redaction. An entry that fails
    /// [`AuditEntry::validate`] is refused and nothing is written.
    pub fn append(&mut self, entry: &Redacted<AuditEntry>) -> Result<(), AuditError> {
        self.check_usable()?;
        let entry = entry.get();
        entry.validate(self.seq)?;
        let label = model_label(&entry.model);
        let AuditEntry {
            kind,
            leg,
            start,
            end,
            method,
            confidence,
            model: _,
            rule,
            echo,
        } = entry;
        let line = RedactionOut {
            seq: self.seq,
            ty: "redaction",
            kind: *kind,
            leg: *leg,
            start: *start,
            end: *end,
            method,
            confidence: *confidence,
            model: &label,
            rule: *rule,
            echo: *echo,
            prev_sha256: &self.prev,
        };
        let bytes = serde_json::to_vec(&line).expect("audit lines always serialise");
        self.write_line(&bytes)?;
        self.seq += 1;
        Ok(())
    }

    /// Writes the `end` line (with the recording's SHA-256, lower-case hex,
    /// if there is one), fsyncs and renames the file to
    /// `DIR/audit/<call_id>.jsonl`. Returns that path.
    pub fn finish(mut self, recording_sha256: Option<&str>) -> Result<PathBuf, AuditError> {
        self.check_usable()?;
        if recording_sha256.is_some_and(|h| !is_sha256_hex(h)) {
            return Err(AuditError::InvalidRecordingHash);
        }
        let line = EndOut {
            ty: "end",
            entries: self.seq,
            recording_sha256,
            prev_sha256: &self.prev,
        };
        let bytes = serde_json::to_vec(&line).expect("audit lines always serialise");
        self.write_line(&bytes)?;
        let file = self
            .file
            .into_inner()
            .map_err(|e| io_at(&self.tmp)(e.into_error()))?;
        file.sync_all().map_err(io_at(&self.tmp))?;
        drop(file);
        fs::rename(&self.tmp, &self.path).map_err(io_at(&self.path))?;
        #[cfg(unix)]
        {
            // Make the rename itself durable.
            let dir = self.path.parent().expect("audit path has a parent");
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(io_at(dir))?;
        }
        Ok(self.path)
    }

    fn check_usable(&self) -> Result<(), AuditError> {
        if self.failed {
            Err(AuditError::WriterFailed {
                path: self.tmp.clone(),
            })
        } else {
            Ok(())
        }
    }

    /// Writes `bytes` and a newline, and chains the next line to it.
    fn write_line(&mut self, bytes: &[u8]) -> Result<(), AuditError> {
        let res = self
            .file
            .write_all(bytes)
            .and_then(|()| self.file.write_all(b"\n"));
        if let Err(e) = res {
            self.failed = true;
            return Err(io_at(&self.tmp)(e));
        }
        self.prev = sha256_hex(bytes);
        Ok(())
    }
}

/// What a verified trail holds.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifySummary {
    /// Redaction lines.
    pub entries: u64,
    /// The recording's SHA-256 from the `end` line, if one was recorded.
    pub recording_sha256: Option<String>,
    /// SHA-256 of the `end` line: the head of the chain. Keep it elsewhere
    /// to detect a trail rewritten as a whole.
    pub head_sha256: String,
}

/// Re-reads a trail and checks it: every line well formed, every
/// `prev_sha256` link, `seq` in order from 0, and a final `end` line whose
/// count matches, with nothing after it. Errors name the first bad line.
pub fn verify(path: &Path) -> Result<VerifySummary, AuditError> {
    let file = File::open(path).map_err(io_at(path))?;
    let mut reader = BufReader::new(file);
    let mut buf = Vec::new();
    let mut prev = ZERO_HASH.to_string();
    let mut line: u64 = 0;
    let mut entries: u64 = 0;
    let mut end: Option<Option<String>> = None;
    let malformed = |line: u64, reason: String| AuditError::Malformed {
        path: path.to_path_buf(),
        line,
        reason,
    };
    loop {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf).map_err(io_at(path))?;
        if n == 0 {
            break;
        }
        if buf.last() != Some(&b'\n') {
            // A last line without its newline: cut short.
            return Err(AuditError::Truncated {
                path: path.to_path_buf(),
                line,
            });
        }
        line += 1;
        if end.is_some() {
            return Err(AuditError::DataAfterEnd {
                path: path.to_path_buf(),
                line,
            });
        }
        let bytes = &buf[..buf.len() - 1];
        let ty: TypeOnly =
            serde_json::from_slice(bytes).map_err(|e| malformed(line, json_reason(&e)))?;
        match ty.ty.as_str() {
            "redaction" => {
                let r: RedactionIn =
                    serde_json::from_slice(bytes).map_err(|e| malformed(line, json_reason(&e)))?;
                if r.prev_sha256 != prev {
                    return Err(AuditError::BrokenChain {
                        path: path.to_path_buf(),
                        line,
                    });
                }
                if r.seq != entries {
                    return Err(AuditError::BadSequence {
                        path: path.to_path_buf(),
                        line,
                        expected: entries,
                        found: r.seq,
                    });
                }
                let entry = AuditEntry {
                    kind: r.kind,
                    leg: r.leg,
                    start: r.start,
                    end: r.end,
                    method: r.method,
                    confidence: r.confidence,
                    model: r.model,
                    rule: r.rule,
                    echo: r.echo,
                };
                if model_label(&entry.model) != entry.model {
                    return Err(malformed(
                        line,
                        "field `model` is not a model label (digit run or unexpected character)"
                            .to_string(),
                    ));
                }
                entry.validate(r.seq).map_err(|e| match e {
                    AuditError::DigitsInField { field, .. } => malformed(
                        line,
                        format!("field `{field}` holds 3 or more consecutive digits"),
                    ),
                    AuditError::InvalidEntry { reason, .. } => malformed(line, reason.to_string()),
                    other => other,
                })?;
                entries += 1;
            }
            "end" => {
                let e: EndIn =
                    serde_json::from_slice(bytes).map_err(|e| malformed(line, json_reason(&e)))?;
                if e.prev_sha256 != prev {
                    return Err(AuditError::BrokenChain {
                        path: path.to_path_buf(),
                        line,
                    });
                }
                if e.entries != entries {
                    return Err(AuditError::CountMismatch {
                        path: path.to_path_buf(),
                        line,
                        declared: e.entries,
                        found: entries,
                    });
                }
                if e.recording_sha256
                    .as_deref()
                    .is_some_and(|h| !is_sha256_hex(h))
                {
                    return Err(malformed(
                        line,
                        "recording_sha256 is not a lower-case hex SHA-256".to_string(),
                    ));
                }
                end = Some(e.recording_sha256);
            }
            _ => return Err(malformed(line, "unknown line type".to_string())),
        }
        prev = sha256_hex(bytes);
    }
    match end {
        Some(recording_sha256) => Ok(VerifySummary {
            entries,
            recording_sha256,
            head_sha256: prev,
        }),
        None => Err(AuditError::Truncated {
            path: path.to_path_buf(),
            line,
        }),
    }
}

/// Describes a JSON error without quoting the input (serde messages can
/// echo values, which might be card data).
fn json_reason(e: &serde_json::Error) -> String {
    let what = match e.classify() {
        serde_json::error::Category::Io => "read error",
        serde_json::error::Category::Syntax => "invalid JSON",
        serde_json::error::Category::Data => "missing, unknown or mistyped field",
        serde_json::error::Category::Eof => "incomplete JSON",
    };
    format!("{what} at column {}", e.column())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redact::test_seal;

    fn entry(kind: Kind, start: f64, end: f64) -> AuditEntry {
        AuditEntry {
            kind,
            leg: Leg::Customer,
            start,
            end,
            method: "silence".to_string(),
            confidence: Confidence::High,
            model: "ggml-base.bin".to_string(),
            rule: Rule::InPaymentTalk,
            echo: false,
        }
    }

    const REC: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    /// A finished trail with three entries: 5 lines.
    fn sample(dir: &Path) -> PathBuf {
        let mut w = AuditWriter::create(dir, "call-1").unwrap();
        w.append(&test_seal(entry(Kind::Pan, 12.5, 19.0))).unwrap();
        let mut dtmf = entry(Kind::Dtmf, 31.0, 33.5);
        dtmf.method = "tone".to_string();
        dtmf.model = "dtmf-spectral".to_string();
        w.append(&test_seal(dtmf)).unwrap();
        w.append(&test_seal(entry(Kind::Cvv, 40.0, 41.25))).unwrap();
        w.finish(Some(REC)).unwrap()
    }

    fn lines(path: &Path) -> Vec<String> {
        fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn write_lines(path: &Path, lines: &[String]) {
        let mut s = lines.join("\n");
        s.push('\n');
        fs::write(path, s).unwrap();
    }

    #[test]
    fn writes_chained_lines_and_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let path = sample(dir.path());
        assert_eq!(path, dir.path().join("audit").join("call-1.jsonl"));
        assert!(!dir.path().join("audit").join("call-1.jsonl.tmp").exists());
        let ls = lines(&path);
        assert_eq!(ls.len(), 4);
        assert_eq!(
            ls[0],
            format!(
                r#"{{"seq":0,"type":"redaction","kind":"pan","leg":"customer","start":12.5,"end":19.0,"method":"silence","confidence":"high","model":"ggml-base.bin","rule":"in_payment_talk","echo":false,"prev_sha256":"{ZERO_HASH}"}}"#
            )
        );
        assert!(ls[1].starts_with(r#"{"seq":1,"type":"redaction","kind":"dtmf","#));
        assert!(ls[1].ends_with(&format!(
            r#""prev_sha256":"{}"}}"#,
            sha256_hex(ls[0].as_bytes())
        )));
        assert_eq!(
            ls[3],
            format!(
                r#"{{"type":"end","entries":3,"recording_sha256":"{REC}","prev_sha256":"{}"}}"#,
                sha256_hex(ls[2].as_bytes())
            )
        );
        let summary = verify(&path).unwrap();
        assert_eq!(summary.entries, 3);
        assert_eq!(summary.recording_sha256.as_deref(), Some(REC));
        assert_eq!(summary.head_sha256, sha256_hex(ls[3].as_bytes()));
    }

    #[test]
    fn empty_trail_without_recording_hash() {
        let dir = tempfile::tempdir().unwrap();
        let w = AuditWriter::create(dir.path(), "quiet").unwrap();
        let path = w.finish(None).unwrap();
        assert_eq!(
            lines(&path),
            vec![format!(
                r#"{{"type":"end","entries":0,"recording_sha256":null,"prev_sha256":"{ZERO_HASH}"}}"#
            )]
        );
        let s = verify(&path).unwrap();
        assert_eq!((s.entries, s.recording_sha256), (0, None));
    }

    #[test]
    fn sha256_matches_known_vector() {
        assert_eq!(sha256_hex(b"test"), REC);
    }

    #[test]
    fn refuses_digit_runs_and_bad_times_without_writing() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = AuditWriter::create(dir.path(), "c").unwrap();
        let mut e = entry(Kind::Pan, 1.0, 2.0);
        e.method = "4111 1111".to_string();
        e.model = "ggml-base.bin".to_string();
        let err = w.append(&test_seal(e.clone())).unwrap_err();
        assert!(matches!(
            err,
            AuditError::DigitsInField {
                seq: 0,
                field: "method"
            }
        ));
        assert!(!err.to_string().contains("4111"));
        // Short digit runs in model names are fine.
        let mut ok = entry(Kind::Pan, 1.0, 2.0);
        ok.model = "ggml-large-v3-turbo-q5_0.bin".to_string();
        w.append(&test_seal(ok)).unwrap();
        for (s, e) in [
            (2.0, 1.0),
            (-1.0, 1.0),
            (f64::NAN, 1.0),
            (0.0, f64::INFINITY),
        ] {
            assert!(matches!(
                w.append(&test_seal(entry(Kind::Cvv, s, e))).unwrap_err(),
                AuditError::InvalidEntry { seq: 1, .. }
            ));
        }
        assert_eq!(w.entries(), 1);
        assert!(matches!(
            w.finish(Some("not-a-hash")).unwrap_err(),
            AuditError::InvalidRecordingHash
        ));
    }

    /// Issue 18: `model` held the whisper model's file name, and the digit
    /// guard refused it, so with a model file named with a date or a size
    /// every redaction entry failed and every call with a redaction failed
    /// to store.
    #[test]
    fn a_model_file_named_with_digits_no_longer_fails_every_redaction() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = AuditWriter::create(dir.path(), "dated-model").unwrap();
        for (i, name) in [
            "ggml-large-v3-20240101.bin",
            "whisper-1000h.bin",
            "model-4111111111111111",
            "ggml base (v2).bin",
        ]
        .into_iter()
        .enumerate()
        {
            let mut e = entry(Kind::Pan, i as f64, i as f64 + 1.0);
            e.model = name.to_string();
            e.validate(i as u64).unwrap();
            w.append(&test_seal(e)).unwrap();
        }
        let path = w.finish(Some(REC)).unwrap();
        assert_eq!(verify(&path).unwrap().entries, 4);
        let models: Vec<String> = lines(&path)
            .iter()
            .filter_map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                v["model"].as_str().map(str::to_string)
            })
            .collect();
        assert_eq!(
            models,
            [
                "ggml-large-v3-########.bin",
                "whisper-####h.bin",
                "model-################",
                "ggml_base__v2_.bin"
            ]
        );
        assert_eq!(model_label("ggml-base-q8_0.bin"), "ggml-base-q8_0.bin");
        assert_eq!(model_label("dtmf-spectral"), "dtmf-spectral");
        // A label is its own label: what verify checks on reading back.
        assert_eq!(model_label("whisper-####h.bin"), "whisper-####h.bin");
    }

    #[test]
    fn digits_in_a_model_field_read_back_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = sample(dir.path());
        let mut ls = lines(&path);
        ls[0] = ls[0].replace("ggml-base.bin", "ggml-4111.bin");
        rechain(&mut ls);
        write_lines(&path, &ls);
        let err = verify(&path).unwrap_err();
        assert!(
            matches!(err, AuditError::Malformed { line: 1, .. }),
            "{err}"
        );
        assert!(!err.to_string().contains("4111"), "{err}");
    }

    #[test]
    fn refused_entry_leaves_a_valid_trail() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = AuditWriter::create(dir.path(), "c").unwrap();
        let mut bad = entry(Kind::Pan, 1.0, 2.0);
        bad.method = "123".to_string();
        assert!(w.append(&test_seal(bad)).is_err());
        w.append(&test_seal(entry(Kind::Pan, 1.0, 2.0))).unwrap();
        let path = w.finish(None).unwrap();
        assert_eq!(verify(&path).unwrap().entries, 1);
    }

    #[test]
    fn rejects_unsafe_call_ids() {
        let dir = tempfile::tempdir().unwrap();
        for id in ["", "../x", "a/b", ".hidden"] {
            assert!(matches!(
                AuditWriter::create(dir.path(), id).unwrap_err(),
                AuditError::InvalidCallId(_)
            ));
        }
    }

    #[test]
    fn edited_middle_line_breaks_the_chain_at_the_next_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = sample(dir.path());
        let mut ls = lines(&path);
        ls[1] = ls[1].replace(r#""start":31.0"#, r#""start":30.0"#);
        write_lines(&path, &ls);
        let err = verify(&path).unwrap_err();
        assert!(
            matches!(err, AuditError::BrokenChain { line: 3, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("line 3"), "{err}");
        assert!(err.to_string().contains("line 2"), "{err}");
    }

    #[test]
    fn deleted_line_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let path = sample(dir.path());
        let mut ls = lines(&path);
        ls.remove(1);
        write_lines(&path, &ls);
        let err = verify(&path).unwrap_err();
        assert!(
            matches!(err, AuditError::BrokenChain { line: 2, .. }),
            "{err}"
        );

        // Deleting the first line too.
        let path = sample(dir.path());
        let mut ls = lines(&path);
        ls.remove(0);
        write_lines(&path, &ls);
        let err = verify(&path).unwrap_err();
        assert!(
            matches!(err, AuditError::BrokenChain { line: 1, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("start of the file"), "{err}");
    }

    #[test]
    fn truncation_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        // End line removed.
        let path = sample(dir.path());
        let mut ls = lines(&path);
        ls.pop();
        write_lines(&path, &ls);
        let err = verify(&path).unwrap_err();
        assert!(
            matches!(err, AuditError::Truncated { line: 3, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("after line 3"), "{err}");

        // Cut inside the end line, and just before its newline.
        for cut in [20, 1] {
            let path = sample(dir.path());
            let bytes = fs::read(&path).unwrap();
            fs::write(&path, &bytes[..bytes.len() - cut]).unwrap();
            let err = verify(&path).unwrap_err();
            assert!(
                matches!(err, AuditError::Truncated { line: 3, .. }),
                "{err}"
            );
        }

        // Empty file.
        fs::write(&path, b"").unwrap();
        assert!(matches!(
            verify(&path).unwrap_err(),
            AuditError::Truncated { line: 0, .. }
        ));
    }

    #[test]
    fn other_tampering_is_detected() {
        let dir = tempfile::tempdir().unwrap();

        // Data after the end line.
        let path = sample(dir.path());
        let mut ls = lines(&path);
        ls.push(ls[0].clone());
        write_lines(&path, &ls);
        assert!(matches!(
            verify(&path).unwrap_err(),
            AuditError::DataAfterEnd { line: 5, .. }
        ));

        // An injected field, even with the chain recomputed, is refused and
        // not quoted.
        let path = sample(dir.path());
        let mut ls = lines(&path);
        ls[0] = ls[0].replace(r#""model""#, r#""pan":"4111111111111111","model""#);
        write_lines(&path, &ls);
        let err = verify(&path).unwrap_err();
        assert!(
            matches!(err, AuditError::Malformed { line: 1, .. }),
            "{err}"
        );
        assert!(!err.to_string().contains("4111"), "{err}");

        // Digits smuggled into a string field.
        let path = sample(dir.path());
        let mut ls = lines(&path);
        ls[2] = ls[2].replace(r#""silence""#, r#""silence 4111""#);
        write_lines(&path, &ls);
        let err = verify(&path).unwrap_err();
        assert!(
            matches!(err, AuditError::Malformed { line: 3, .. }),
            "{err}"
        );
        assert!(!err.to_string().contains("4111"), "{err}");

        // Not JSON.
        let path = sample(dir.path());
        let mut ls = lines(&path);
        ls[1] = "garbage".to_string();
        write_lines(&path, &ls);
        assert!(matches!(
            verify(&path).unwrap_err(),
            AuditError::Malformed { line: 2, .. }
        ));
    }

    /// Rewrites `ls` with a freshly computed chain (an attacker who knows
    /// the format).
    fn rechain(ls: &mut [String]) {
        let mut prev = ZERO_HASH.to_string();
        for l in ls.iter_mut() {
            let at = l.find(r#""prev_sha256":""#).unwrap() + r#""prev_sha256":""#.len();
            l.replace_range(at..at + 64, &prev);
            prev = sha256_hex(l.as_bytes());
        }
    }

    #[test]
    fn seq_and_count_are_checked_even_with_a_recomputed_chain() {
        let dir = tempfile::tempdir().unwrap();
        let path = sample(dir.path());
        let mut ls = lines(&path);
        ls.remove(1);
        rechain(&mut ls);
        write_lines(&path, &ls);
        let err = verify(&path).unwrap_err();
        assert!(
            matches!(
                err,
                AuditError::BadSequence {
                    line: 2,
                    expected: 1,
                    found: 2,
                    ..
                }
            ),
            "{err}"
        );

        let path = sample(dir.path());
        let mut ls = lines(&path);
        ls[3] = ls[3].replace(r#""entries":3"#, r#""entries":4"#);
        rechain(&mut ls);
        write_lines(&path, &ls);
        assert!(matches!(
            verify(&path).unwrap_err(),
            AuditError::CountMismatch {
                line: 4,
                declared: 4,
                found: 3,
                ..
            }
        ));

        // A whole-file rewrite verifies, but its head hash changes.
        let path = sample(dir.path());
        let head = verify(&path).unwrap().head_sha256;
        let mut ls = lines(&path);
        ls[0] = ls[0].replace(r#""start":12.5"#, r#""start":13.5"#);
        rechain(&mut ls);
        write_lines(&path, &ls);
        assert_ne!(verify(&path).unwrap().head_sha256, head);
    }

    #[test]
    fn abandoned_writer_leaves_only_the_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut w = AuditWriter::create(dir.path(), "c").unwrap();
            w.append(&test_seal(entry(Kind::Pan, 1.0, 2.0))).unwrap();
        }
        assert!(!audit_path(dir.path(), "c").exists());
        assert!(dir.path().join("audit").join("c.jsonl.tmp").exists());
    }
}
