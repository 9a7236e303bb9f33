//! The redacted recording of a call: `DIR/recordings/<call_id>.wav`.
//!
//! 16-bit PCM WAV at the source's sample rate and channel count. A stereo
//! call keeps its layout: the agent leg goes back to the channel it came
//! from. The file is written as `<call_id>.wav.part` while the call goes on
//! (cleared audio only, header kept up to date and synced every few
//! seconds, so a crash leaves a valid WAV of what was synced) and renamed
//! into place when the call is stored, so `<call_id>.wav` is always whole.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

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
/// as 16-bit PCM WAV in one go ([`RecordingWriter`]: written as
/// `<call_id>.wav.part`, synced and renamed into place), replacing any
/// earlier recording of the call.
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
    let a = audio.get();
    let mut w =
        RecordingWriter::create(data_dir, call_id, a.sample_rate(), a.legs(), agent_channel)?;
    let written = w.append(audio).and_then(|()| w.finish());
    if written.is_err() {
        let _ = fs::remove_file(partial_path(data_dir, call_id));
    }
    written
}

/// Path of a call's recording while it is being written:
/// `DIR/recordings/<call_id>.wav.part`.
pub fn partial_path(data_dir: &Path, call_id: &str) -> PathBuf {
    data_dir
        .join("recordings")
        .join(format!("{call_id}.wav.part"))
}

/// How often an open recording's header is brought up to date and the file
/// synced, in seconds of audio.
pub const SYNC_EVERY_S: f64 = 5.0;

/// A call's redacted recording, written while the call goes on: cleared
/// audio is appended to `<call_id>.wav.part` as it leaves the hold, the WAV
/// header is brought up to date and the file synced every
/// [`SYNC_EVERY_S`], so after a crash the file holds a valid WAV of all
/// audio synced; [`RecordingWriter::finish`] renames it into place.
pub struct RecordingWriter {
    part: PathBuf,
    path: PathBuf,
    file: File,
    channels: u16,
    agent_channel: usize,
    sample_rate: u32,
    /// Frames written.
    frames: u64,
    /// Frames written at the last sync.
    synced: u64,
    /// Interleaved bytes of one chunk, reused.
    buf: Vec<u8>,
}

impl RecordingWriter {
    /// Starts `DIR/recordings/<call_id>.wav.part` (replacing one left by an
    /// earlier attempt) with an empty 16-bit PCM WAV of `legs` channels.
    pub fn create(
        data_dir: &Path,
        call_id: &str,
        sample_rate: u32,
        legs: usize,
        agent_channel: usize,
    ) -> Result<Self, RecordingError> {
        if crate::analyze::validate_call_id(call_id).is_err() {
            return Err(RecordingError::InvalidCallId {
                call_id: call_id.to_owned(),
            });
        }
        if agent_channel > 1 {
            return Err(RecordingError::InvalidAgentChannel { agent_channel });
        }
        let channels = match legs {
            1 => 1u16,
            2 => 2u16,
            _ => return Err(RecordingError::UnsupportedLayout { legs }),
        };
        let path = recording_path(data_dir, call_id);
        let part = partial_path(data_dir, call_id);
        let dir = path
            .parent()
            .expect("recording path has a parent")
            .to_path_buf();
        super::create_private_dir(&dir).map_err(io_err(&dir))?;
        let file = super::create_private_file(&part, true).map_err(io_err(&part))?;
        let mut w = RecordingWriter {
            part,
            path,
            file,
            channels,
            agent_channel,
            sample_rate,
            frames: 0,
            synced: 0,
            buf: Vec::new(),
        };
        w.write_header()?;
        sync_dir(&dir).map_err(io_err(&dir))?;
        Ok(w)
    }

    /// Frames (samples per channel) written so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Appends cleared audio (it must start where the last append ended;
    /// a shorter leg is padded with silence).
    pub fn append(&mut self, audio: &Redacted<AudioHold>) -> Result<(), RecordingError> {
        let audio = audio.get();
        let legs = audio.legs();
        if legs != usize::from(self.channels) {
            return Err(RecordingError::UnsupportedLayout { legs });
        }
        let frames = audio.frames();
        let total = (self.frames + frames as u64) * u64::from(self.channels) * 2;
        if total > u64::from(u32::MAX) - WAV_HEADER_BYTES {
            return Err(RecordingError::TooLong {
                frames: self.frames + frames as u64,
                channels: self.channels,
            });
        }
        let order: Vec<&[f32]> = match (self.channels, self.agent_channel) {
            (1, _) => vec![audio.leg(0)],
            (_, 0) => vec![audio.leg(0), audio.leg(1)],
            _ => vec![audio.leg(1), audio.leg(0)],
        };
        for start in (0..frames).step_by(CHUNK_FRAMES) {
            let end = (start + CHUNK_FRAMES).min(frames);
            self.buf.clear();
            for i in start..end {
                for leg in &order {
                    let s = to_i16(leg.get(i).copied().unwrap_or(0.0));
                    self.buf.extend_from_slice(&s.to_le_bytes());
                }
            }
            let at = WAV_HEADER_BYTES + self.frames * u64::from(self.channels) * 2;
            write_at(&self.file, &self.buf, at).map_err(io_err(&self.part))?;
            self.frames += (end - start) as u64;
        }
        if (self.frames - self.synced) as f64 >= SYNC_EVERY_S * f64::from(self.sample_rate) {
            self.sync()?;
        }
        Ok(())
    }

    /// Silences `[start_s, end_s)` of leg `leg` (0 = agent) in audio
    /// already written: a mask decided after its audio left the hold.
    pub fn silence(&mut self, leg: usize, start_s: f64, end_s: f64) -> Result<(), RecordingError> {
        let channel = match (self.channels, self.agent_channel) {
            (1, _) => 0,
            (_, a) => {
                if leg == 0 {
                    a
                } else {
                    1 - a
                }
            }
        } as u64;
        let rate = f64::from(self.sample_rate);
        let a = ((start_s.max(0.0) * rate).floor() as u64).min(self.frames);
        let b = ((end_s.max(0.0) * rate).ceil() as u64).min(self.frames);
        let step = u64::from(self.channels) * 2;
        for f in a..b {
            write_at(
                &self.file,
                &[0, 0],
                WAV_HEADER_BYTES + f * step + channel * 2,
            )
            .map_err(io_err(&self.part))?;
        }
        self.sync()
    }

    /// Brings the header up to date with what was written and syncs the
    /// file: after a crash, everything up to here is a valid WAV.
    pub fn sync(&mut self) -> Result<(), RecordingError> {
        self.write_header()?;
        self.file.sync_data().map_err(io_err(&self.part))?;
        self.synced = self.frames;
        Ok(())
    }

    /// Finishes the recording: header, sync, SHA-256, rename into place.
    pub fn finish(mut self) -> Result<RecordingInfo, RecordingError> {
        self.sync()?;
        let sha256 = sha256_hex(&self.file).map_err(io_err(&self.part))?;
        fs::rename(&self.part, &self.path).map_err(io_err(&self.path))?;
        let dir = self.path.parent().expect("recording path has a parent");
        sync_dir(dir).map_err(io_err(dir))?;
        Ok(RecordingInfo {
            path: self.path.clone(),
            sha256,
            frames: self.frames,
        })
    }

    fn write_header(&mut self) -> Result<(), RecordingError> {
        let header = wav_header(self.sample_rate, self.channels, self.frames);
        write_at(&self.file, &header, 0).map_err(io_err(&self.part))
    }
}

/// The 44-byte header of a 16-bit PCM WAV holding `frames` frames.
pub fn wav_header(sample_rate: u32, channels: u16, frames: u64) -> [u8; 44] {
    let data =
        (frames * u64::from(channels) * 2).min(u64::from(u32::MAX) - WAV_HEADER_BYTES) as u32;
    let block = channels * 2;
    let mut h = [0u8; 44];
    h[0..4].copy_from_slice(b"RIFF");
    h[4..8].copy_from_slice(&(36 + data).to_le_bytes());
    h[8..12].copy_from_slice(b"WAVE");
    h[12..16].copy_from_slice(b"fmt ");
    h[16..20].copy_from_slice(&16u32.to_le_bytes());
    h[20..22].copy_from_slice(&1u16.to_le_bytes());
    h[22..24].copy_from_slice(&channels.to_le_bytes());
    h[24..28].copy_from_slice(&sample_rate.to_le_bytes());
    h[28..32].copy_from_slice(&(sample_rate * u32::from(block)).to_le_bytes());
    h[32..34].copy_from_slice(&block.to_le_bytes());
    h[34..36].copy_from_slice(&16u16.to_le_bytes());
    h[36..40].copy_from_slice(b"data");
    h[40..44].copy_from_slice(&data.to_le_bytes());
    h
}

/// Writes all of `bytes` at `offset`.
fn write_at(file: &File, bytes: &[u8], offset: u64) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    file.write_all_at(bytes, offset)
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
