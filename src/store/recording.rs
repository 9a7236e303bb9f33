//! The redacted recording of a call: `DIR/recordings/<call_id>.wav`.
//!
//! 16-bit PCM WAV at the source's sample rate and channel count. A stereo
//! call keeps its layout: the agent leg goes back to the channel it came
//! from. The file is written to a temporary file in the same directory,
//! synced and renamed into place, so a reader never sees half a recording
//! and a failed write leaves nothing behind.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::redact::Redacted;
use crate::redact::audio::AudioHold;

/// Bytes a 16-bit mono or stereo WAV header takes before the samples.
const WAV_HEADER_BYTES: u64 = 44;
/// Frames converted and written per batch.
const CHUNK_FRAMES: usize = 4_096;

/// What [`write_recording`] stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingInfo {
    /// The recording: `DIR/recordings/<call_id>.wav`.
    pub path: PathBuf,
    /// SHA-256 of the final file, lower-case hex.
    pub sha256: String,
    /// Sample frames written (samples per channel).
    pub frames: u64,
}

/// Why a recording could not be stored. Nothing is left on disk in any case:
/// neither a partial recording nor a temporary file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordingError {
    /// The call id is not one [`crate::analyze::validate_call_id`] accepts
    /// (the rule reports and audit trails use). Skip this call's recording
    /// and go on.
    #[error("call id {call_id:?} cannot name a recording file")]
    InvalidCallId {
        /// The offending call id.
        call_id: String,
    },
    /// The audio has neither one nor two legs; a recording is written as
    /// mono or stereo only. Skip this call's recording and go on.
    #[error("{legs} legs: a recording is written as mono or stereo only")]
    UnsupportedLayout {
        /// Number of legs of the audio.
        legs: usize,
    },
    /// The agent channel is neither 0 nor 1. Stop: the configuration is
    /// wrong and every call would fail the same way.
    #[error("agent channel {agent_channel} does not exist: it must be 0 or 1")]
    InvalidAgentChannel {
        /// The channel asked for.
        agent_channel: usize,
    },
    /// The audio is too long for a WAV file (4 GiB of samples). Skip this
    /// call's recording and go on.
    #[error("{frames} frames of {channels} channel(s) exceed the 4 GiB limit of a WAV file")]
    TooLong {
        /// Frames of the audio.
        frames: u64,
        /// Channels of the audio.
        channels: u16,
    },
    /// The recording could not be written: the data directory is full,
    /// read-only or gone. Stop the batch; once the directory is fixed the
    /// call can be retried as is.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file or directory that failed.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// The WAV encoder refused the audio. Stop: a bug, not bad input
    /// (16-bit PCM at any positive rate is always valid).
    #[error("cannot encode {path}: {source}")]
    Encode {
        /// The temporary file being written.
        path: PathBuf,
        /// The cause.
        source: hound::Error,
    },
}

impl RecordingError {
    /// Whether the batch should go on with the next call (`true`, the
    /// variants documented "skip") or stop.
    pub fn skip_and_continue(&self) -> bool {
        matches!(
            self,
            RecordingError::InvalidCallId { .. }
                | RecordingError::UnsupportedLayout { .. }
                | RecordingError::TooLong { .. }
        )
    }
}

/// Path of a call's recording under `data_dir`.
pub fn recording_path(data_dir: &Path, call_id: &str) -> PathBuf {
    data_dir.join("recordings").join(format!("{call_id}.wav"))
}

/// Writes the redacted audio of a call to `DIR/recordings/<call_id>.wav`
/// as 16-bit PCM WAV, atomically (temporary file in the same directory,
/// fsync, rename), replacing any earlier recording of the call.
///
/// Mono stays mono. For stereo, leg 0 (the agent) goes to channel
/// `agent_channel` and the customer to the other; a shorter leg is padded
/// with silence. `agent_channel` must be 0 or 1 and is ignored for mono.
/// Samples are clipped to `[-1, 1]`; a sample `s` is stored as
/// `round(s × 32768)`, the inverse of the source reader's scaling.
pub fn write_recording(
    data_dir: &Path,
    call_id: &str,
    audio: &Redacted<AudioHold>,
    agent_channel: usize,
) -> Result<RecordingInfo, RecordingError> {
    if crate::analyze::validate_call_id(call_id).is_err() {
        return Err(RecordingError::InvalidCallId {
            call_id: call_id.to_owned(),
        });
    }
    if agent_channel > 1 {
        return Err(RecordingError::InvalidAgentChannel { agent_channel });
    }
    let audio = audio.get();
    let legs = audio.legs();
    let channels = match legs {
        1 => 1u16,
        2 => 2u16,
        _ => return Err(RecordingError::UnsupportedLayout { legs }),
    };
    let frames = audio.frames();
    let data_bytes = frames as u64 * u64::from(channels) * 2;
    if data_bytes > u64::from(u32::MAX) - WAV_HEADER_BYTES {
        return Err(RecordingError::TooLong {
            frames: frames as u64,
            channels,
        });
    }
    // Channel order in the file: which leg each channel carries.
    let order: Vec<&[f32]> = match (channels, agent_channel) {
        (1, _) => vec![audio.leg(0)],
        (_, 0) => vec![audio.leg(0), audio.leg(1)],
        _ => vec![audio.leg(1), audio.leg(0)],
    };

    let path = recording_path(data_dir, call_id);
    let dir = path.parent().expect("recording path has a parent");
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    let tmp = TempFile::create(dir, call_id)?;

    let spec = hound::WavSpec {
        channels,
        sample_rate: audio.sample_rate(),
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let file = tmp.file.try_clone().map_err(io_err(&tmp.path))?;
    let mut out = BufWriter::with_capacity(1 << 16, file);
    let mut wav = hound::WavWriter::new(&mut out, spec).map_err(wav_err(&tmp.path))?;
    for start in (0..frames).step_by(CHUNK_FRAMES) {
        let end = (start + CHUNK_FRAMES).min(frames);
        let n = u32::try_from((end - start) * order.len()).expect("chunk fits u32");
        let mut w = wav.get_i16_writer(n);
        for i in start..end {
            for leg in &order {
                w.write_sample(to_i16(leg.get(i).copied().unwrap_or(0.0)));
            }
        }
        w.flush().map_err(wav_err(&tmp.path))?;
    }
    wav.finalize().map_err(wav_err(&tmp.path))?;
    let file = out
        .into_inner()
        .map_err(|e| io_err(&tmp.path)(e.into_error()))?;
    file.sync_all().map_err(io_err(&tmp.path))?;
    drop(file);

    let sha256 = sha256_hex(&tmp.file).map_err(io_err(&tmp.path))?;
    tmp.persist(&path)?;
    sync_dir(dir).map_err(io_err(dir))?;
    Ok(RecordingInfo {
        path,
        sha256,
        frames: frames as u64,
    })
}

/// A float sample as 16-bit PCM: clipped, `round(s × 32768)`; NaN is 0.
fn to_i16(s: f32) -> i16 {
    // NaN survives `clamp` and casts to 0.
    (s * 32_768.0).round().clamp(-32_768.0, 32_767.0) as i16
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> RecordingError {
    let path = path.to_path_buf();
    move |source| RecordingError::Io { path, source }
}

fn wav_err(path: &Path) -> impl FnOnce(hound::Error) -> RecordingError {
    let path = path.to_path_buf();
    move |source| match source {
        hound::Error::IoError(source) => RecordingError::Io { path, source },
        source => RecordingError::Encode { path, source },
    }
}

/// SHA-256 of a file from its start, lower-case hex.
fn sha256_hex(file: &File) -> io::Result<String> {
    use std::io::{Seek, SeekFrom};
    let mut f = file;
    f.seek(SeekFrom::Start(0))?;
    super::sha256_of(f)
}

/// Makes a rename in `dir` durable.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Directories cannot be synced here; the rename is as durable as the OS
/// makes it.
#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

/// A temporary file next to the recording, removed on drop unless
/// persisted.
struct TempFile {
    path: PathBuf,
    file: File,
    persisted: bool,
}

impl TempFile {
    /// Creates `.<call_id>.wav.<pid>.<n>.tmp` in `dir`; unique per process
    /// and call, so concurrent writers never share a temporary file.
    fn create(dir: &Path, call_id: &str) -> Result<Self, RecordingError> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!(".{call_id}.wav.{}.{n}.tmp", std::process::id()));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(io_err(&path))?;
        Ok(TempFile {
            path,
            file,
            persisted: false,
        })
    }

    /// Renames the file to `to`.
    fn persist(mut self, to: &Path) -> Result<(), RecordingError> {
        fs::rename(&self.path, to).map_err(io_err(to))?;
        self.persisted = true;
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.persisted {
            let _ = fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redact::audio::MaskMethod;
    use crate::redact::test_seal;

    fn sealed(rate: u32, legs: &[Vec<f32>]) -> Redacted<AudioHold> {
        let mut h = AudioHold::new(rate, legs.len());
        let blocks: Vec<&[f32]> = legs.iter().map(Vec::as_slice).collect();
        h.push(&blocks);
        test_seal(h)
    }

    fn read_back(path: &Path) -> (hound::WavSpec, Vec<i16>) {
        let mut r = hound::WavReader::open(path).unwrap();
        let spec = r.spec();
        let samples = r.samples::<i16>().map(Result::unwrap).collect();
        (spec, samples)
    }

    fn dir_names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    fn wave(n: usize, f: f32, amp: f32) -> Vec<f32> {
        (0..n).map(|i| amp * (i as f32 * f).sin()).collect()
    }

    #[test]
    fn round_trip_within_one_lsb() {
        let tmp = tempfile::tempdir().unwrap();
        for (rate, legs) in [(8_000u32, 1usize), (16_000, 2), (44_100, 2)] {
            let src: Vec<Vec<f32>> = (0..legs)
                .map(|l| wave(rate as usize / 2, 0.01 + 0.02 * l as f32, 0.9))
                .collect();
            let call = format!("call-{rate}-{legs}");
            let info = write_recording(tmp.path(), &call, &sealed(rate, &src), 0).unwrap();
            assert_eq!(
                info.path,
                tmp.path().join("recordings").join(format!("{call}.wav"))
            );
            assert_eq!(info.frames, rate as u64 / 2);
            let (spec, samples) = read_back(&info.path);
            assert_eq!(spec.sample_rate, rate);
            assert_eq!(usize::from(spec.channels), legs);
            assert_eq!(spec.bits_per_sample, 16);
            assert_eq!(spec.sample_format, hound::SampleFormat::Int);
            assert_eq!(samples.len(), legs * rate as usize / 2);
            for (k, &s) in samples.iter().enumerate() {
                let want = src[k % legs][k / legs];
                let got = f32::from(s) / 32_768.0;
                assert!(
                    (got - want).abs() <= 1.0 / 32_768.0 + 1e-7,
                    "sample {k}: {got} vs {want}"
                );
            }
        }
    }

    #[test]
    fn i16_sources_round_trip_exactly_and_extremes_clip() {
        let tmp = tempfile::tempdir().unwrap();
        let codes = [0i16, 1, -1, 12_345, -32_768, 32_767];
        let mut src: Vec<f32> = codes.iter().map(|&c| f32::from(c) / 32_768.0).collect();
        src.extend([1.5, -1.5, 1.0, f32::NAN]);
        let info = write_recording(tmp.path(), "x", &sealed(8_000, &[src]), 0).unwrap();
        let (_, samples) = read_back(&info.path);
        assert_eq!(samples[..6], codes);
        assert_eq!(samples[6..], [32_767, -32_768, 32_767, 0]);
    }

    #[test]
    fn agent_goes_to_its_channel() {
        let tmp = tempfile::tempdir().unwrap();
        let agent = vec![0.25f32; 100];
        let customer = vec![-0.5f32; 100];
        let audio = sealed(8_000, &[agent, customer]);
        for agent_channel in [0usize, 1] {
            let call = format!("order-{agent_channel}");
            let info = write_recording(tmp.path(), &call, &audio, agent_channel).unwrap();
            let (spec, samples) = read_back(&info.path);
            assert_eq!(spec.channels, 2);
            for frame in samples.chunks(2) {
                assert_eq!(frame[agent_channel], 8_192, "agent on {agent_channel}");
                assert_eq!(frame[1 - agent_channel], -16_384, "customer on the other");
            }
        }
    }

    #[test]
    fn mono_ignores_agent_channel_and_short_legs_are_padded() {
        let tmp = tempfile::tempdir().unwrap();
        let info =
            write_recording(tmp.path(), "mono", &sealed(8_000, &[vec![0.5; 10]]), 1).unwrap();
        let (spec, samples) = read_back(&info.path);
        assert_eq!(spec.channels, 1);
        assert_eq!(samples, vec![16_384; 10]);

        let mut h = AudioHold::new(16_000, 2);
        h.push(&[&[0.5; 3], &[-0.5; 5]]);
        let info = write_recording(tmp.path(), "uneven", &test_seal(h), 0).unwrap();
        assert_eq!(info.frames, 5);
        let (_, samples) = read_back(&info.path);
        assert_eq!(
            samples,
            [
                16_384, -16_384, 16_384, -16_384, 16_384, -16_384, 0, -16_384, 0, -16_384
            ]
        );
    }

    #[test]
    fn masked_audio_is_what_is_written() {
        let tmp = tempfile::tempdir().unwrap();
        let mut h = AudioHold::new(8_000, 2);
        h.push(&[&[0.5; 8_000], &[0.5; 8_000]]);
        h.mask(1, 0.25, 0.5, MaskMethod::Silence);
        let info = write_recording(tmp.path(), "masked", &test_seal(h), 0).unwrap();
        let (_, samples) = read_back(&info.path);
        let customer: Vec<i16> = samples.iter().skip(1).step_by(2).copied().collect();
        assert!(customer[2_000..4_000].iter().all(|&s| s == 0));
        assert!(customer[..2_000].iter().all(|&s| s == 16_384));
        assert!(customer[4_000..].iter().all(|&s| s == 16_384));
    }

    #[test]
    fn sha256_matches_the_file_and_no_temp_file_is_left() {
        let tmp = tempfile::tempdir().unwrap();
        let audio = sealed(16_000, &[wave(20_000, 0.03, 0.5), wave(20_000, 0.05, 0.3)]);
        let info = write_recording(tmp.path(), "hash", &audio, 1).unwrap();
        let bytes = fs::read(&info.path).unwrap();
        let want: String = <sha2::Sha256 as sha2::Digest>::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(info.sha256, want);
        assert_eq!(info.sha256.len(), 64);
        assert_eq!(dir_names(&tmp.path().join("recordings")), ["hash.wav"]);

        // Rewriting replaces the recording, again without leftovers.
        let again = write_recording(tmp.path(), "hash", &audio, 0).unwrap();
        assert_ne!(again.sha256, info.sha256, "channels swapped");
        assert_eq!(dir_names(&tmp.path().join("recordings")), ["hash.wav"]);
    }

    #[test]
    fn bad_requests_write_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let stereo = sealed(8_000, &[vec![0.1; 10], vec![0.1; 10]]);
        for bad in ["", ".", "..", "a/b", "..\\x", "nul\0"] {
            let e = write_recording(tmp.path(), bad, &stereo, 0).unwrap_err();
            assert!(
                matches!(e, RecordingError::InvalidCallId { .. }),
                "{bad:?}: {e}"
            );
            assert!(e.skip_and_continue());
        }
        let e = write_recording(tmp.path(), "c", &stereo, 2).unwrap_err();
        assert!(matches!(
            e,
            RecordingError::InvalidAgentChannel { agent_channel: 2 }
        ));
        assert!(!e.skip_and_continue());
        let three = sealed(8_000, &[vec![0.1; 10], vec![0.1; 10], vec![0.1; 10]]);
        let e = write_recording(tmp.path(), "c", &three, 0).unwrap_err();
        assert!(matches!(e, RecordingError::UnsupportedLayout { legs: 3 }));
        assert!(dir_names(tmp.path()).is_empty(), "nothing created");
    }

    #[test]
    fn unwritable_directory_is_an_io_error_and_leaves_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        // `recordings` is a file, so the directory cannot be created.
        fs::write(tmp.path().join("recordings"), b"").unwrap();
        let audio = sealed(8_000, &[vec![0.1; 10]]);
        let e = write_recording(tmp.path(), "c", &audio, 0).unwrap_err();
        assert!(matches!(e, RecordingError::Io { .. }), "{e}");
        assert!(!e.skip_and_continue());
        assert_eq!(dir_names(tmp.path()), ["recordings"]);
    }
}
