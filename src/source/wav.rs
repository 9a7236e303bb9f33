//! WAV recordings: PCM, float and G.711 (through [`super::g711`]).
//!
//! The RIFF chunk list is walked here so that every kind of bad file gets its
//! own clear error, and so that a truncated file (a recorder that crashed
//! mid-call) is still readable up to its last complete sample. Samples are
//! then decoded straight from the `data` chunk: no second header parser sees
//! the file, so odd-sized chunks before `data` and the 0 / 0xFFFFFFFF data
//! sizes of never-finalised streaming recordings read like any other file.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::g711::Law;
use super::{AudioInfo, Codec, MAX_RATE, MIN_RATE, SourceError};

const WAVE_FORMAT_PCM: u16 = 0x0001;
const WAVE_FORMAT_IEEE_FLOAT: u16 = 0x0003;
const WAVE_FORMAT_ALAW: u16 = 0x0006;
const WAVE_FORMAT_MULAW: u16 = 0x0007;
const WAVE_FORMAT_EXTENSIBLE: u16 = 0xFFFE;

/// A WAV file opened for streaming reads.
///
/// Only a small buffer is held; an hour-long call is read block by block.
pub struct WavSource {
    path: PathBuf,
    info: AudioInfo,
    remaining: u64,
    reader: BufReader<File>,
    decoder: Decoder,
    /// Raw bytes of the block being decoded (reused between reads).
    bytes: Vec<u8>,
}

/// How one sample is stored in the `data` chunk.
#[derive(Clone, Copy)]
enum Decoder {
    /// Unsigned 8-bit PCM (128 is zero).
    U8,
    /// Signed little-endian 16-bit PCM.
    Int16,
    /// Signed little-endian 24-bit PCM (3-byte samples).
    Int24,
    /// Signed little-endian 32-bit PCM; also 24 valid bits in a 4-byte
    /// container, which WAVE_FORMAT_EXTENSIBLE left-justifies.
    Int32,
    /// Little-endian IEEE float.
    F32,
    /// One G.711 byte.
    G711(Law),
}

impl Decoder {
    fn for_codec(codec: Codec) -> Self {
        match codec {
            Codec::Pcm { bits: 8 } => Decoder::U8,
            Codec::Pcm { bits: 16 } => Decoder::Int16,
            Codec::Pcm { bits: 24 } => Decoder::Int24,
            Codec::Pcm { .. } => Decoder::Int32,
            Codec::Float32 => Decoder::F32,
            Codec::MuLaw => Decoder::G711(Law::MuLaw),
            Codec::ALaw => Decoder::G711(Law::ALaw),
        }
    }

    /// Bytes per sample.
    fn width(self) -> usize {
        match self {
            Decoder::U8 | Decoder::G711(_) => 1,
            Decoder::Int16 => 2,
            Decoder::Int24 => 3,
            Decoder::Int32 | Decoder::F32 => 4,
        }
    }

    /// Decodes one sample of `self.width()` bytes.
    fn decode(self, b: &[u8]) -> f32 {
        match self {
            Decoder::U8 => (f32::from(b[0]) - 128.0) / 128.0,
            Decoder::Int16 => f32::from(i16::from_le_bytes([b[0], b[1]])) / 32_768.0,
            // Left-justified in an i32, so full scale is 2^31 like 32-bit PCM.
            Decoder::Int24 => i32::from_le_bytes([0, b[0], b[1], b[2]]) as f32 / 2_147_483_648.0,
            Decoder::Int32 => i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f32 / 2_147_483_648.0,
            // Out-of-range floats (and NaN) are clipped, as a converter would.
            Decoder::F32 => {
                let v = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                if v.is_nan() { 0.0 } else { v.clamp(-1.0, 1.0) }
            }
            Decoder::G711(law) => law.decode_f32(b[0]),
        }
    }
}

/// What the chunk walk found.
struct Header {
    format_tag: u16,
    channels: u16,
    sample_rate: u32,
    block_align: u16,
    bits: u16,
    data_offset: u64,
    data_declared: u32,
}

impl WavSource {
    /// Opens `path`, reads and checks its header.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, SourceError> {
        let path = path.as_ref().to_path_buf();
        let io_err = |source: io::Error| SourceError::Io {
            path: path.clone(),
            source,
        };
        let mut file = File::open(&path).map_err(io_err)?;
        let file_len = file.metadata().map_err(io_err)?.len();
        if file_len == 0 {
            return Err(SourceError::Empty { path });
        }
        let header = read_header(&mut file, &path)?;
        let codec = codec_of(&header, &path)?;
        if header.channels == 0 {
            return Err(malformed(&path, "header says 0 channels"));
        }
        if header.channels > 2 {
            return Err(SourceError::TooManyChannels {
                path,
                channels: header.channels,
            });
        }
        if !(MIN_RATE..=MAX_RATE).contains(&header.sample_rate) {
            return Err(SourceError::UnsupportedRate {
                path,
                rate: header.sample_rate,
            });
        }
        let bytes_per_sample = u64::from(header.bits.div_ceil(8));
        let block = bytes_per_sample * u64::from(header.channels);
        if u64::from(header.block_align) != block {
            return Err(malformed(
                &path,
                &format!(
                    "block align {} does not match {} channel(s) of {} bits",
                    header.block_align, header.channels, header.bits
                ),
            ));
        }
        let available = file_len.saturating_sub(header.data_offset) / block;
        let declared = u64::from(header.data_declared) / block;
        // 0 and 0xFFFFFFFF are what streaming recorders leave when they never
        // patch the header: read what is there.
        let open_ended = header.data_declared == u32::MAX || header.data_declared == 0;
        let (frames, truncated_from) = if open_ended || declared <= available {
            (if open_ended { available } else { declared }, None)
        } else {
            (available, Some(declared))
        };
        if frames == 0 {
            return Err(SourceError::Empty { path });
        }
        let info = AudioInfo {
            sample_rate: header.sample_rate,
            channels: header.channels,
            codec,
            frames,
            truncated_from,
        };
        file.seek(SeekFrom::Start(header.data_offset))
            .map_err(io_err)?;
        Ok(WavSource {
            path,
            remaining: frames,
            info,
            reader: BufReader::new(file),
            decoder: Decoder::for_codec(codec),
            bytes: Vec::new(),
        })
    }

    /// What the file holds.
    pub fn info(&self) -> &AudioInfo {
        &self.info
    }

    /// The file this source reads.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads up to `max_frames` sample frames, de-interleaved into `out`
    /// (one `Vec` per channel, cleared first; samples in `[-1, 1]`).
    ///
    /// Returns the number of frames read; 0 means the end of the audio.
    /// The vectors keep their capacity, so a loop with a fixed `max_frames`
    /// allocates only on its first call.
    pub fn read(&mut self, max_frames: usize, out: &mut [Vec<f32>]) -> Result<usize, SourceError> {
        assert_eq!(
            out.len(),
            usize::from(self.info.channels),
            "one output buffer per channel"
        );
        for ch in out.iter_mut() {
            ch.clear();
        }
        let n = (max_frames as u64).min(self.remaining) as usize;
        if n == 0 {
            return Ok(0);
        }
        let channels = out.len();
        let width = self.decoder.width();
        self.bytes.resize(n * channels * width, 0);
        self.reader
            .read_exact(&mut self.bytes)
            .map_err(|source| SourceError::Io {
                path: self.path.clone(),
                source,
            })?;
        for (i, sample) in self.bytes.chunks_exact(width).enumerate() {
            out[i % channels].push(self.decoder.decode(sample));
        }
        self.remaining -= n as u64;
        Ok(n)
    }
}

fn malformed(path: &Path, detail: &str) -> SourceError {
    SourceError::Malformed {
        path: path.to_path_buf(),
        detail: detail.to_string(),
    }
}

fn read_header(file: &mut File, path: &Path) -> Result<Header, SourceError> {
    let mut reader = BufReader::new(file);
    let mut riff = [0u8; 12];
    let got = read_up_to(&mut reader, &mut riff).map_err(|source| SourceError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if got < 12 || &riff[0..4] != b"RIFF" || &riff[8..12] != b"WAVE" {
        let detail = if got >= 4 && &riff[0..4] == b"RIFX" {
            "big-endian RIFX is not supported".to_string()
        } else if got >= 4 && &riff[0..4] == b"RF64" {
            "RF64 (over 4 GiB) is not supported".to_string()
        } else {
            format!(
                "starts with {:?}",
                String::from_utf8_lossy(&riff[..got.min(4)])
            )
        };
        return Err(SourceError::NotWav {
            path: path.to_path_buf(),
            detail,
        });
    }
    let mut pos: u64 = 12;
    let mut fmt: Option<[u8; 40]> = None;
    let mut fmt_len = 0usize;
    loop {
        let mut chunk = [0u8; 8];
        let got = read_up_to(&mut reader, &mut chunk).map_err(|source| SourceError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        if got < 8 {
            return Err(if fmt.is_some() {
                SourceError::Empty {
                    path: path.to_path_buf(),
                }
            } else {
                malformed(path, "no 'fmt ' chunk before the end of the file")
            });
        }
        pos += 8;
        let id = [chunk[0], chunk[1], chunk[2], chunk[3]];
        let size = u32::from_le_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]);
        match &id {
            b"fmt " => {
                if size < 16 {
                    return Err(malformed(
                        path,
                        &format!("'fmt ' chunk is only {size} bytes"),
                    ));
                }
                let mut buf = [0u8; 40];
                fmt_len = (size as usize).min(40);
                reader
                    .read_exact(&mut buf[..fmt_len])
                    .map_err(|_| malformed(path, "file ends inside the 'fmt ' chunk"))?;
                let rest = u64::from(size) - fmt_len as u64 + u64::from(size & 1);
                reader
                    .seek_relative(rest as i64)
                    .map_err(|source| SourceError::Io {
                        path: path.to_path_buf(),
                        source,
                    })?;
                fmt = Some(buf);
            }
            b"data" => {
                let Some(f) = fmt else {
                    return Err(malformed(
                        path,
                        "'data' chunk comes before the 'fmt ' chunk",
                    ));
                };
                let u16_at = |i: usize| u16::from_le_bytes([f[i], f[i + 1]]);
                let mut format_tag = u16_at(0);
                if format_tag == WAVE_FORMAT_EXTENSIBLE {
                    if fmt_len < 40 {
                        return Err(malformed(
                            path,
                            "WAVE_FORMAT_EXTENSIBLE header is too short",
                        ));
                    }
                    // The sub-format GUID starts with the ordinary format tag.
                    format_tag = u16_at(24);
                }
                return Ok(Header {
                    format_tag,
                    channels: u16_at(2),
                    sample_rate: u32::from_le_bytes([f[4], f[5], f[6], f[7]]),
                    block_align: u16_at(12),
                    bits: u16_at(14),
                    data_offset: pos,
                    data_declared: size,
                });
            }
            _ => {
                let skip = u64::from(size) + u64::from(size & 1);
                reader
                    .seek_relative(skip as i64)
                    .map_err(|source| SourceError::Io {
                        path: path.to_path_buf(),
                        source,
                    })?;
                pos += skip;
                continue;
            }
        }
        pos += u64::from(size) + u64::from(size & 1);
    }
}

fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

fn codec_of(h: &Header, path: &Path) -> Result<Codec, SourceError> {
    let unsupported = |codec: String| SourceError::UnsupportedCodec {
        path: path.to_path_buf(),
        tag: h.format_tag,
        codec,
    };
    match h.format_tag {
        WAVE_FORMAT_PCM => match h.bits {
            8 | 16 | 24 | 32 => Ok(Codec::Pcm { bits: h.bits }),
            b => Err(unsupported(format!("PCM {b}-bit"))),
        },
        WAVE_FORMAT_IEEE_FLOAT => match h.bits {
            32 => Ok(Codec::Float32),
            b => Err(unsupported(format!("{b}-bit float"))),
        },
        WAVE_FORMAT_MULAW | WAVE_FORMAT_ALAW => {
            if h.bits != 8 {
                return Err(malformed(
                    path,
                    &format!("G.711 must have 8 bits per sample, header says {}", h.bits),
                ));
            }
            Ok(if h.format_tag == WAVE_FORMAT_MULAW {
                Codec::MuLaw
            } else {
                Codec::ALaw
            })
        }
        tag => Err(unsupported(codec_name(tag).to_string())),
    }
}

fn codec_name(tag: u16) -> &'static str {
    match tag {
        0x0002 => "MS ADPCM",
        0x0011 => "IMA ADPCM",
        0x0022 => "TrueSpeech",
        0x0031 => "GSM 6.10",
        0x0040 => "G.721 ADPCM",
        0x0045 => "G.726 ADPCM",
        0x0050 => "MPEG",
        0x0055 => "MP3",
        0x0064 => "G.726 ADPCM",
        0x0065 => "G.722 ADPCM",
        0x0161 => "WMA",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::super::g711::Law;
    use super::super::{Codec, SourceError};
    use super::WavSource;

    /// Sub-format GUID of WAVE_FORMAT_EXTENSIBLE for a classic format tag:
    /// `tag-0000-0010-8000-00AA00389B71`, little-endian fields.
    fn subformat_guid(tag: u16) -> [u8; 16] {
        let t = tag.to_le_bytes();
        [
            t[0], t[1], 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38,
            0x9B, 0x71,
        ]
    }

    /// Builds WAV file bytes by hand, so that headers hound would never
    /// write (odd chunks, G.711, lying sizes, foreign codecs) can be tested.
    #[derive(Clone)]
    struct WavBytes {
        riff_id: [u8; 4],
        tag: u16,
        channels: u16,
        rate: u32,
        bits: u16,
        /// `None`: channels × bytes per sample.
        block_align: Option<u16>,
        /// Sub-format tag: writes a 40-byte WAVE_FORMAT_EXTENSIBLE `fmt `.
        extensible: Option<u16>,
        /// Write a `fact` chunk with this sample count.
        fact: Option<u32>,
        /// Write an unknown chunk with this (possibly odd-sized) body before `data`.
        extra_chunk: Option<Vec<u8>>,
        data: Vec<u8>,
        /// `None`: the real length of `data`.
        data_size: Option<u32>,
    }

    impl WavBytes {
        fn new(tag: u16, channels: u16, rate: u32, bits: u16, data: Vec<u8>) -> Self {
            WavBytes {
                riff_id: *b"RIFF",
                tag,
                channels,
                rate,
                bits,
                block_align: None,
                extensible: None,
                fact: None,
                extra_chunk: None,
                data,
                data_size: None,
            }
        }

        fn build(&self) -> Vec<u8> {
            let block = self
                .block_align
                .unwrap_or(self.channels * self.bits.div_ceil(8));
            let mut fmt = Vec::new();
            let tag = if self.extensible.is_some() {
                0xFFFE
            } else {
                self.tag
            };
            fmt.extend_from_slice(&tag.to_le_bytes());
            fmt.extend_from_slice(&self.channels.to_le_bytes());
            fmt.extend_from_slice(&self.rate.to_le_bytes());
            fmt.extend_from_slice(&(self.rate * u32::from(block)).to_le_bytes());
            fmt.extend_from_slice(&block.to_le_bytes());
            fmt.extend_from_slice(&self.bits.to_le_bytes());
            if let Some(sub) = self.extensible {
                fmt.extend_from_slice(&22u16.to_le_bytes()); // cbSize
                fmt.extend_from_slice(&self.bits.to_le_bytes()); // valid bits
                let mask: u32 = if self.channels == 1 { 0x4 } else { 0x3 };
                fmt.extend_from_slice(&mask.to_le_bytes());
                fmt.extend_from_slice(&subformat_guid(sub));
            } else if !matches!(self.tag, 1 | 3) {
                // WAVEFORMATEX, as non-PCM formats carry it.
                fmt.extend_from_slice(&0u16.to_le_bytes());
            }

            let mut body = Vec::new();
            body.extend_from_slice(b"WAVE");
            chunk(&mut body, b"fmt ", &fmt, None);
            if let Some(n) = self.fact {
                chunk(&mut body, b"fact", &n.to_le_bytes(), None);
            }
            if let Some(extra) = &self.extra_chunk {
                chunk(&mut body, b"LIST", extra, None);
            }
            chunk(&mut body, b"data", &self.data, self.data_size);

            let mut out = Vec::new();
            out.extend_from_slice(&self.riff_id);
            out.extend_from_slice(&(body.len() as u32).to_le_bytes());
            out.extend_from_slice(&body);
            out
        }
    }

    /// Appends one RIFF chunk (with its pad byte when the body is odd-sized).
    fn chunk(out: &mut Vec<u8>, id: &[u8; 4], body: &[u8], size: Option<u32>) {
        out.extend_from_slice(id);
        out.extend_from_slice(&size.unwrap_or(body.len() as u32).to_le_bytes());
        out.extend_from_slice(body);
        if body.len() % 2 == 1 && id != b"data" {
            out.push(0);
        }
    }

    fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    fn pcm16_bytes(samples: &[i16]) -> Vec<u8> {
        samples.iter().flat_map(|s| s.to_le_bytes()).collect()
    }

    /// Writes a file with hound; `write` gets the writer.
    fn hound_file(
        dir: &Path,
        name: &str,
        spec: hound::WavSpec,
        write: impl FnOnce(&mut hound::WavWriter<std::io::BufWriter<std::fs::File>>),
    ) -> PathBuf {
        let path = dir.join(name);
        let mut w = hound::WavWriter::create(&path, spec).unwrap();
        write(&mut w);
        w.finalize().unwrap();
        path
    }

    fn int_spec(channels: u16, bits: u16) -> hound::WavSpec {
        hound::WavSpec {
            channels,
            sample_rate: 8000,
            bits_per_sample: bits,
            sample_format: hound::SampleFormat::Int,
        }
    }

    /// Reads the whole source in blocks of `block` frames.
    fn read_all(src: &mut WavSource, block: usize) -> Vec<Vec<f32>> {
        let channels = usize::from(src.info().channels);
        let mut out = vec![Vec::new(); channels];
        let mut bufs = vec![Vec::new(); channels];
        loop {
            let n = src.read(block, &mut bufs).unwrap();
            if n == 0 {
                break;
            }
            for (o, b) in out.iter_mut().zip(&bufs) {
                assert_eq!(b.len(), n, "every channel gets n samples");
                o.extend_from_slice(b);
            }
        }
        out
    }

    fn open_err(path: &Path) -> SourceError {
        match WavSource::open(path) {
            Ok(src) => panic!("{} opened: {:?}", path.display(), src.info()),
            Err(e) => e,
        }
    }

    /// Every error names the file.
    fn assert_names_file(e: &SourceError, path: &Path) {
        let msg = e.to_string();
        assert!(
            msg.contains(&path.display().to_string()),
            "message does not name {}: {msg}",
            path.display()
        );
    }

    // ---- PCM and float through hound-written files ----

    #[test]
    fn pcm8_mono_full_and_half_scale() {
        let dir = tempfile::tempdir().unwrap();
        let path = hound_file(dir.path(), "p8.wav", int_spec(1, 8), |w| {
            for s in [-128i8, 64, 0, -64, 127] {
                w.write_sample(s).unwrap();
            }
        });
        let mut src = WavSource::open(&path).unwrap();
        assert_eq!(src.info().codec, Codec::Pcm { bits: 8 });
        assert_eq!(src.info().channels, 1);
        assert_eq!(src.info().frames, 5);
        assert_eq!(src.info().truncated_from, None);
        assert_eq!(src.path(), path);
        let out = read_all(&mut src, 100);
        assert_eq!(out, vec![vec![-1.0, 0.5, 0.0, -0.5, 127.0 / 128.0]]);
    }

    #[test]
    fn pcm16_stereo_deinterleaves_left_first() {
        let dir = tempfile::tempdir().unwrap();
        let path = hound_file(dir.path(), "p16.wav", int_spec(2, 16), |w| {
            // (left, right) frames
            for (l, r) in [(i16::MIN, -16384i16), (16384, i16::MAX), (0, 1)] {
                w.write_sample(l).unwrap();
                w.write_sample(r).unwrap();
            }
        });
        let mut src = WavSource::open(&path).unwrap();
        let info = src.info().clone();
        assert_eq!(info.codec, Codec::Pcm { bits: 16 });
        assert_eq!((info.channels, info.sample_rate, info.frames), (2, 8000, 3));
        let out = read_all(&mut src, 1024);
        assert_eq!(out[0], vec![-1.0, 0.5, 0.0]);
        assert_eq!(out[1], vec![-0.5, 32767.0 / 32768.0, 1.0 / 32768.0]);
    }

    #[test]
    fn pcm24_full_and_half_scale() {
        let dir = tempfile::tempdir().unwrap();
        let path = hound_file(dir.path(), "p24.wav", int_spec(2, 24), |w| {
            for s in [-8_388_608i32, 4_194_304, 8_388_607, -1] {
                w.write_sample(s).unwrap();
            }
        });
        let mut src = WavSource::open(&path).unwrap();
        assert_eq!(src.info().codec, Codec::Pcm { bits: 24 });
        assert_eq!(src.info().frames, 2);
        let out = read_all(&mut src, 7);
        assert_eq!(out[0], vec![-1.0, 8_388_607.0 / 8_388_608.0]);
        assert_eq!(out[1], vec![0.5, -1.0 / 8_388_608.0]);
    }

    #[test]
    fn pcm32_full_and_half_scale() {
        let dir = tempfile::tempdir().unwrap();
        let path = hound_file(dir.path(), "p32.wav", int_spec(1, 32), |w| {
            for s in [i32::MIN, 1 << 30, -(1 << 29), 0] {
                w.write_sample(s).unwrap();
            }
        });
        let mut src = WavSource::open(&path).unwrap();
        assert_eq!(src.info().codec, Codec::Pcm { bits: 32 });
        let out = read_all(&mut src, 3);
        assert_eq!(out, vec![vec![-1.0, 0.5, -0.25, 0.0]]);
    }

    #[test]
    fn float32_stereo_reads_back_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 16000,
            bits_per_sample: 32,
            sample_format: hound::SampleFormat::Float,
        };
        let path = hound_file(dir.path(), "f32.wav", spec, |w| {
            for s in [1.0f32, -1.0, 0.5, -0.25, 0.0, 0.125] {
                w.write_sample(s).unwrap();
            }
        });
        let mut src = WavSource::open(&path).unwrap();
        assert_eq!(src.info().codec, Codec::Float32);
        assert_eq!(src.info().sample_rate, 16000);
        let out = read_all(&mut src, 2);
        assert_eq!(out[0], vec![1.0, 0.5, 0.0]);
        assert_eq!(out[1], vec![-1.0, -0.25, 0.125]);
    }

    // ---- PCM and float in hand-built files ----

    #[test]
    fn handbuilt_pcm_widths_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let cases: [(u16, Vec<u8>, Vec<f32>); 4] = [
            (
                8,
                vec![0x00, 0xC0, 0x80, 0xFF],
                vec![-1.0, 0.5, 0.0, 127.0 / 128.0],
            ),
            (
                16,
                pcm16_bytes(&[i16::MIN, 16384, 0, -16384]),
                vec![-1.0, 0.5, 0.0, -0.5],
            ),
            (
                24,
                vec![
                    0x00, 0x00, 0x80, 0x00, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0xC0,
                ],
                vec![-1.0, 0.5, 0.0, -0.5],
            ),
            (
                32,
                [i32::MIN, 1 << 30, 0, -(1 << 30)]
                    .iter()
                    .flat_map(|s| s.to_le_bytes())
                    .collect(),
                vec![-1.0, 0.5, 0.0, -0.5],
            ),
        ];
        for (bits, data, want) in cases {
            let path = write_file(
                dir.path(),
                &format!("pcm{bits}.wav"),
                &WavBytes::new(1, 1, 8000, bits, data).build(),
            );
            let mut src = WavSource::open(&path).unwrap();
            assert_eq!(src.info().codec, Codec::Pcm { bits }, "{bits} bits");
            assert_eq!(read_all(&mut src, 3), vec![want], "{bits} bits");
        }
    }

    #[test]
    fn handbuilt_float32() {
        let dir = tempfile::tempdir().unwrap();
        let data = [0.5f32, -1.0, 0.75, 0.0]
            .iter()
            .flat_map(|s| s.to_le_bytes())
            .collect();
        let path = write_file(
            dir.path(),
            "f.wav",
            &WavBytes::new(3, 2, 8000, 32, data).build(),
        );
        let mut src = WavSource::open(&path).unwrap();
        assert_eq!(src.info().codec, Codec::Float32);
        let out = read_all(&mut src, 1);
        assert_eq!(out, vec![vec![0.5, 0.75], vec![-1.0, 0.0]]);
    }

    #[test]
    fn pcm16_with_fact_and_odd_unknown_chunk_before_data() {
        let dir = tempfile::tempdir().unwrap();
        let samples = [1000i16, -2000, 16384, -16384, 0, 32767];
        let mut w = WavBytes::new(1, 2, 8000, 16, pcm16_bytes(&samples));
        w.fact = Some(3);
        w.extra_chunk = Some(b"INFOx".to_vec()); // 5 bytes + pad byte
        let path = write_file(dir.path(), "odd.wav", &w.build());
        let mut src = WavSource::open(&path).unwrap();
        assert_eq!(src.info().frames, 3);
        assert_eq!(src.info().truncated_from, None);
        let out = read_all(&mut src, 2);
        let f = |s: i16| f32::from(s) / 32768.0;
        assert_eq!(out[0], vec![f(1000), f(16384), f(0)]);
        assert_eq!(out[1], vec![f(-2000), f(-16384), f(32767)]);
    }

    #[test]
    fn mulaw_with_fact_and_odd_unknown_chunk_before_data() {
        let dir = tempfile::tempdir().unwrap();
        let linear = [0i16, 1000, -1000, 16000];
        let data: Vec<u8> = linear.iter().map(|&s| Law::MuLaw.encode(s)).collect();
        let mut w = WavBytes::new(7, 1, 8000, 8, data.clone());
        w.fact = Some(4);
        w.extra_chunk = Some(vec![1, 2, 3]);
        let path = write_file(dir.path(), "odd-ulaw.wav", &w.build());
        let mut src = WavSource::open(&path).unwrap();
        let want: Vec<f32> = data.iter().map(|&b| Law::MuLaw.decode_f32(b)).collect();
        assert_eq!(read_all(&mut src, 4096), vec![want]);
    }

    // ---- G.711 ----

    /// Linear values, their G.711 bytes for `law`, and the f32 a reader must give.
    fn g711_case(law: Law) -> (Vec<u8>, Vec<f32>, Vec<f32>) {
        // Stereo frames: left = first, right = second of each pair.
        let linear: [i16; 8] = [0, 16384, -16384, 32767, 8000, -8000, -32768, 100];
        let bytes: Vec<u8> = linear.iter().map(|&s| law.encode(s)).collect();
        let decoded: Vec<f32> = bytes.iter().map(|&b| law.decode_f32(b)).collect();
        // Companding keeps the value within a few per cent of the input.
        for (&s, &d) in linear.iter().zip(&decoded) {
            let x = f32::from(s) / 32768.0;
            assert!(
                (d - x).abs() <= 0.065 * x.abs() + 0.002,
                "{law:?}: {s} -> {d}"
            );
        }
        let left = decoded.iter().step_by(2).copied().collect();
        let right = decoded.iter().skip(1).step_by(2).copied().collect();
        (bytes, left, right)
    }

    #[test]
    fn mulaw_tag7_stereo() {
        let dir = tempfile::tempdir().unwrap();
        let (bytes, left, right) = g711_case(Law::MuLaw);
        let path = write_file(
            dir.path(),
            "u.wav",
            &WavBytes::new(Law::MuLaw.format_tag(), 2, 8000, 8, bytes).build(),
        );
        let mut src = WavSource::open(&path).unwrap();
        assert_eq!(src.info().codec, Codec::MuLaw);
        assert_eq!(src.info().frames, 4);
        let out = read_all(&mut src, 4);
        assert_eq!(out, vec![left, right]);
        // Known points: μ-law silence decodes to exactly 0, half scale near 0.5.
        assert_eq!(out[0][0], 0.0);
        assert!((out[1][0] - 0.5).abs() < 0.02);
    }

    #[test]
    fn alaw_tag6_stereo() {
        let dir = tempfile::tempdir().unwrap();
        let (bytes, left, right) = g711_case(Law::ALaw);
        let path = write_file(
            dir.path(),
            "a.wav",
            &WavBytes::new(Law::ALaw.format_tag(), 2, 8000, 8, bytes).build(),
        );
        let mut src = WavSource::open(&path).unwrap();
        assert_eq!(src.info().codec, Codec::ALaw);
        let out = read_all(&mut src, 3);
        assert_eq!(out, vec![left, right]);
        // A-law has no zero code: silence is ±8/32768.
        assert_eq!(out[0][0], 8.0 / 32768.0);
    }

    #[test]
    fn alaw_mono() {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = [0i16, 4096, -4096]
            .iter()
            .map(|&s| Law::ALaw.encode(s))
            .collect();
        let want: Vec<f32> = data.iter().map(|&b| Law::ALaw.decode_f32(b)).collect();
        let path = write_file(
            dir.path(),
            "am.wav",
            &WavBytes::new(6, 1, 8000, 8, data).build(),
        );
        let mut src = WavSource::open(&path).unwrap();
        assert_eq!(src.info().channels, 1);
        assert_eq!(read_all(&mut src, 1), vec![want]);
    }

    // ---- WAVE_FORMAT_EXTENSIBLE ----

    #[test]
    fn extensible_pcm16() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = WavBytes::new(1, 2, 8000, 16, pcm16_bytes(&[i16::MIN, 16384, -16384, 0]));
        w.extensible = Some(1);
        let path = write_file(dir.path(), "ext16.wav", &w.build());
        let mut src = WavSource::open(&path).unwrap();
        assert_eq!(src.info().codec, Codec::Pcm { bits: 16 });
        assert_eq!(
            read_all(&mut src, 16),
            vec![vec![-1.0, -0.5], vec![0.5, 0.0]]
        );
    }

    #[test]
    fn extensible_mulaw() {
        let dir = tempfile::tempdir().unwrap();
        let (bytes, left, right) = g711_case(Law::MuLaw);
        let mut w = WavBytes::new(7, 2, 8000, 8, bytes);
        w.extensible = Some(7);
        w.fact = Some(4);
        let path = write_file(dir.path(), "extu.wav", &w.build());
        let mut src = WavSource::open(&path).unwrap();
        assert_eq!(src.info().codec, Codec::MuLaw);
        assert_eq!(read_all(&mut src, 5), vec![left, right]);
    }

    #[test]
    fn extensible_float32() {
        let dir = tempfile::tempdir().unwrap();
        let data = [0.5f32, -0.5]
            .iter()
            .flat_map(|s| s.to_le_bytes())
            .collect();
        let mut w = WavBytes::new(3, 1, 8000, 32, data);
        w.extensible = Some(3);
        let path = write_file(dir.path(), "extf.wav", &w.build());
        let mut src = WavSource::open(&path).unwrap();
        assert_eq!(src.info().codec, Codec::Float32);
        assert_eq!(read_all(&mut src, 16), vec![vec![0.5, -0.5]]);
    }

    #[test]
    fn extensible_24_valid_bits_in_32_bit_container() {
        // WAVE_FORMAT_EXTENSIBLE left-justifies the valid bits in the container.
        let dir = tempfile::tempdir().unwrap();
        let data = [i32::MIN, 0x4000_0000, 0x0000_0100, 0]
            .iter()
            .flat_map(|s| s.to_le_bytes())
            .collect();
        let mut w = WavBytes::new(1, 1, 8000, 32, data);
        w.extensible = Some(1);
        let mut bytes = w.build();
        // RIFF header (12) + fmt chunk header (8) + 18 bytes: wValidBitsPerSample.
        bytes[38..40].copy_from_slice(&24u16.to_le_bytes());
        let path = write_file(dir.path(), "ext24in32.wav", &bytes);
        let mut src = WavSource::open(&path).unwrap();
        assert_eq!(src.info().codec, Codec::Pcm { bits: 32 });
        assert_eq!(
            read_all(&mut src, 16),
            vec![vec![-1.0, 0.5, 1.0 / 8_388_608.0, 0.0]]
        );
    }

    #[test]
    fn extensible_with_unsupported_subformat() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = WavBytes::new(2, 1, 8000, 4, vec![0; 64]);
        w.extensible = Some(2);
        w.block_align = Some(256);
        let path = write_file(dir.path(), "extadpcm.wav", &w.build());
        let e = open_err(&path);
        assert!(
            matches!(e, SourceError::UnsupportedCodec { tag: 2, .. }),
            "{e}"
        );
        assert!(e.to_string().contains("ADPCM"), "{e}");
        assert_names_file(&e, &path);
    }

    // ---- block reads ----

    #[test]
    fn odd_block_sizes_match_one_big_read() {
        let dir = tempfile::tempdir().unwrap();
        let n = 1001;
        let samples: Vec<i16> = (0..2 * n)
            .map(|i| ((i * 7919) % 65536 - 32768) as i16)
            .collect();
        let pcm = write_file(
            dir.path(),
            "blocks.wav",
            &WavBytes::new(1, 2, 8000, 16, pcm16_bytes(&samples)).build(),
        );
        let ulaw_bytes: Vec<u8> = samples.iter().map(|&s| Law::MuLaw.encode(s)).collect();
        let ulaw = write_file(
            dir.path(),
            "blocks-u.wav",
            &WavBytes::new(7, 2, 8000, 8, ulaw_bytes).build(),
        );
        for path in [pcm, ulaw] {
            let whole = read_all(&mut WavSource::open(&path).unwrap(), 1 << 20);
            assert_eq!(whole[0].len(), n as usize);
            for block in [1, 3, 7, 333, 1000] {
                let got = read_all(&mut WavSource::open(&path).unwrap(), block);
                assert_eq!(got, whole, "{} in blocks of {block}", path.display());
            }
        }
    }

    #[test]
    fn read_after_the_end_returns_zero_and_clears() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_file(
            dir.path(),
            "end.wav",
            &WavBytes::new(1, 1, 8000, 16, pcm16_bytes(&[1, 2, 3])).build(),
        );
        let mut src = WavSource::open(&path).unwrap();
        let mut bufs = vec![Vec::new()];
        assert_eq!(src.read(10, &mut bufs).unwrap(), 3);
        assert_eq!(src.read(10, &mut bufs).unwrap(), 0);
        assert!(bufs[0].is_empty());
        assert_eq!(src.read(10, &mut bufs).unwrap(), 0);
    }

    // ---- errors ----

    #[test]
    fn empty_file_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_file(dir.path(), "empty.wav", b"");
        let e = open_err(&path);
        assert!(matches!(e, SourceError::Empty { .. }), "{e}");
        assert_names_file(&e, &path);
    }

    #[test]
    fn zero_byte_data_chunk_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        for (name, tag, bits) in [("z16.wav", 1, 16), ("zu.wav", 7, 8)] {
            let path = write_file(
                dir.path(),
                name,
                &WavBytes::new(tag, 2, 8000, bits, Vec::new()).build(),
            );
            let e = open_err(&path);
            assert!(matches!(e, SourceError::Empty { .. }), "{e}");
            assert_names_file(&e, &path);
        }
    }

    #[test]
    fn header_without_data_chunk_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = WavBytes::new(1, 1, 8000, 16, Vec::new()).build();
        bytes.truncate(bytes.len() - 8); // drop the data chunk header
        let path = write_file(dir.path(), "nodata.wav", &bytes);
        let e = open_err(&path);
        assert!(matches!(e, SourceError::Empty { .. }), "{e}");
        assert_names_file(&e, &path);
    }

    #[test]
    fn not_riff_is_not_wav() {
        let dir = tempfile::tempdir().unwrap();
        let mut mp3 = b"ID3\x04\x00\x00\x00\x00\x00\x21".to_vec();
        mp3.extend_from_slice(&[0xFF; 200]);
        let cases: [(&str, &[u8]); 4] = [
            ("song.mp3.wav", &mp3),
            ("notes.wav", b"this is a text file, not audio\n"),
            ("short.wav", b"ID3"),
            (
                "riff-avi.wav",
                b"RIFF\x10\x00\x00\x00AVI LIST\x00\x00\x00\x00",
            ),
        ];
        for (name, bytes) in cases {
            let path = write_file(dir.path(), name, bytes);
            let e = open_err(&path);
            assert!(matches!(e, SourceError::NotWav { .. }), "{name}: {e}");
            assert_names_file(&e, &path);
        }
    }

    #[test]
    fn rifx_is_not_wav() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = WavBytes::new(1, 1, 8000, 16, pcm16_bytes(&[0; 16]));
        w.riff_id = *b"RIFX";
        let path = write_file(dir.path(), "bigendian.wav", &w.build());
        let e = open_err(&path);
        assert!(matches!(e, SourceError::NotWav { .. }), "{e}");
        assert!(e.to_string().contains("RIFX"), "{e}");
        assert_names_file(&e, &path);
    }

    #[test]
    fn three_channels_is_too_many() {
        let dir = tempfile::tempdir().unwrap();
        let by_hand = write_file(
            dir.path(),
            "three.wav",
            &WavBytes::new(1, 3, 8000, 16, pcm16_bytes(&[0; 30])).build(),
        );
        let by_hound = hound_file(dir.path(), "three-hound.wav", int_spec(3, 16), |w| {
            for _ in 0..30 {
                w.write_sample(0i16).unwrap();
            }
        });
        for path in [by_hand, by_hound] {
            let e = open_err(&path);
            assert!(
                matches!(e, SourceError::TooManyChannels { channels: 3, .. }),
                "{e}"
            );
            assert!(e.to_string().contains("3 channels"), "{e}");
            assert_names_file(&e, &path);
        }
    }

    #[test]
    fn rates_outside_8k_to_48k_are_unsupported() {
        let dir = tempfile::tempdir().unwrap();
        for rate in [96_000u32, 4_000] {
            let path = write_file(
                dir.path(),
                &format!("r{rate}.wav"),
                &WavBytes::new(1, 1, rate, 16, pcm16_bytes(&[0; 16])).build(),
            );
            let e = open_err(&path);
            assert!(
                matches!(e, SourceError::UnsupportedRate { rate: r, .. } if r == rate),
                "{e}"
            );
            assert!(e.to_string().contains(&rate.to_string()), "{e}");
            assert_names_file(&e, &path);
        }
        // The limits themselves are fine.
        for rate in [8_000u32, 48_000] {
            let path = write_file(
                dir.path(),
                &format!("ok{rate}.wav"),
                &WavBytes::new(1, 1, rate, 16, pcm16_bytes(&[0; 16])).build(),
            );
            assert_eq!(WavSource::open(&path).unwrap().info().sample_rate, rate);
        }
    }

    #[test]
    fn gsm_and_adpcm_are_unsupported_codecs() {
        let dir = tempfile::tempdir().unwrap();
        // GSM 6.10: 65-byte blocks of 320 samples, bits 0. MS ADPCM: 4 bits.
        for (tag, bits, align, name) in
            [(0x31u16, 0u16, 65u16, "GSM 6.10"), (2, 4, 256, "MS ADPCM")]
        {
            let mut w = WavBytes::new(tag, 1, 8000, bits, vec![0; 2 * usize::from(align)]);
            w.block_align = Some(align);
            w.fact = Some(640);
            let path = write_file(dir.path(), &format!("tag{tag}.wav"), &w.build());
            let e = open_err(&path);
            assert!(
                matches!(&e, SourceError::UnsupportedCodec { tag: t, codec, .. } if *t == tag && codec == name),
                "{e}"
            );
            assert!(e.to_string().contains(name), "{e}");
            assert_names_file(&e, &path);
        }
    }

    #[test]
    fn float64_is_an_unsupported_codec() {
        let dir = tempfile::tempdir().unwrap();
        let data = [0.5f64, -0.5]
            .iter()
            .flat_map(|s| s.to_le_bytes())
            .collect();
        let path = write_file(
            dir.path(),
            "f64.wav",
            &WavBytes::new(3, 1, 8000, 64, data).build(),
        );
        let e = open_err(&path);
        assert!(
            matches!(e, SourceError::UnsupportedCodec { tag: 3, .. }),
            "{e}"
        );
        assert!(e.to_string().contains("64-bit float"), "{e}");
        assert_names_file(&e, &path);
    }

    #[test]
    fn missing_file_is_io_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope.wav");
        let e = open_err(&path);
        assert!(matches!(e, SourceError::Io { .. }), "{e}");
        assert_names_file(&e, &path);
    }

    // ---- truncated and open-ended files ----

    #[test]
    fn truncated_data_opens_and_reads_what_is_there() {
        let dir = tempfile::tempdir().unwrap();
        // Declares 1000 stereo 16-bit frames (4000 bytes), holds 250.5 of them.
        let samples: Vec<i16> = (0..501).map(|i| (i * 37) as i16).collect();
        let mut pcm = WavBytes::new(1, 2, 8000, 16, pcm16_bytes(&samples));
        pcm.data_size = Some(4000);
        // Declares 3000 μ-law stereo frames, holds 800.
        let ulaw_bytes: Vec<u8> = (0..1600).map(|i| (i % 256) as u8).collect();
        let mut ulaw = WavBytes::new(7, 2, 8000, 8, ulaw_bytes);
        ulaw.data_size = Some(6000);
        for (name, w, declared, present) in [
            ("t16.wav", pcm, 1000u64, 250u64),
            ("tu.wav", ulaw, 3000, 800),
        ] {
            let path = write_file(dir.path(), name, &w.build());
            let mut src = WavSource::open(&path).unwrap();
            assert_eq!(src.info().truncated_from, Some(declared), "{name}");
            assert_eq!(src.info().frames, present, "{name}");
            assert!((src.info().duration_s() - present as f64 / 8000.0).abs() < 1e-9);
            let out = read_all(&mut src, 97);
            assert_eq!(out[0].len() as u64, present, "{name}");
            assert_eq!(out[1].len() as u64, present, "{name}");
        }
    }

    #[test]
    fn hound_file_cut_short_is_truncated() {
        let dir = tempfile::tempdir().unwrap();
        let path = hound_file(dir.path(), "cut.wav", int_spec(2, 16), |w| {
            for i in 0..8000 {
                w.write_sample((i % 1000) as i16).unwrap();
            }
        });
        let len = std::fs::metadata(&path).unwrap().len();
        let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.set_len(len - 4000 - 3).unwrap(); // 1000.75 frames gone
        drop(f);
        let mut src = WavSource::open(&path).unwrap();
        assert_eq!(src.info().truncated_from, Some(4000));
        assert_eq!(src.info().frames, 4000 - 1001);
        let out = read_all(&mut src, 4096);
        assert_eq!(out[0].len(), 2999);
        assert_eq!(out[0][1], 2.0 / 32768.0);
        assert_eq!(out[1][1], 3.0 / 32768.0);
    }

    #[test]
    fn data_size_ffffffff_reads_everything_present() {
        let dir = tempfile::tempdir().unwrap();
        let samples: Vec<i16> = (0..200).map(|i| (i * 100) as i16).collect();
        let mut pcm = WavBytes::new(1, 2, 8000, 16, pcm16_bytes(&samples));
        pcm.data_size = Some(u32::MAX);
        let ulaw_bytes: Vec<u8> = (0..200).map(|i| i as u8).collect();
        let mut ulaw = WavBytes::new(7, 2, 8000, 8, ulaw_bytes);
        ulaw.data_size = Some(u32::MAX);
        for (name, w) in [("open16.wav", pcm), ("openu.wav", ulaw)] {
            let path = write_file(dir.path(), name, &w.build());
            let mut src = WavSource::open(&path).unwrap();
            assert_eq!(src.info().truncated_from, None, "{name}");
            assert_eq!(src.info().frames, 100, "{name}");
            let out = read_all(&mut src, 33);
            assert_eq!(out[0].len(), 100, "{name}");
            assert_eq!(out[1].len(), 100, "{name}");
        }
    }

    #[test]
    fn data_size_zero_with_audio_after_it_is_open_ended() {
        // A streaming recorder that never patched the header leaves 0.
        let dir = tempfile::tempdir().unwrap();
        let mut pcm = WavBytes::new(1, 1, 8000, 16, pcm16_bytes(&[16384, -16384, 0]));
        pcm.data_size = Some(0);
        let mut ulaw = WavBytes::new(7, 1, 8000, 8, vec![Law::MuLaw.encode(0); 3]);
        ulaw.data_size = Some(0);
        for (name, w) in [("zero16.wav", pcm), ("zerou.wav", ulaw)] {
            let path = write_file(dir.path(), name, &w.build());
            let mut src = WavSource::open(&path).unwrap();
            assert_eq!(src.info().truncated_from, None, "{name}");
            assert_eq!(src.info().frames, 3, "{name}");
            assert_eq!(read_all(&mut src, 2)[0].len(), 3, "{name}");
        }
    }

    #[test]
    fn data_size_ffffffff_pcm_values_are_right() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = WavBytes::new(1, 2, 8000, 16, pcm16_bytes(&[i16::MIN, 16384, 0, -16384]));
        w.data_size = Some(u32::MAX);
        let path = write_file(dir.path(), "open-values.wav", &w.build());
        let out = read_all(&mut WavSource::open(&path).unwrap(), 5);
        assert_eq!(out, vec![vec![-1.0, 0.0], vec![0.5, -0.5]]);
    }
}
