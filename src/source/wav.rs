//! WAV recordings: PCM and float through `hound`, G.711 through [`super::g711`].
//!
//! The RIFF chunk list is walked here first so that every kind of bad file
//! gets its own clear error, and so that a truncated file (a recorder that
//! crashed mid-call) is still readable up to its last complete sample.

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
    decoder: Decoder,
}

enum Decoder {
    Hound {
        reader: hound::WavReader<BufReader<File>>,
        scale: f32,
        float: bool,
    },
    G711 {
        reader: BufReader<File>,
        law: Law,
        bytes: Vec<u8>,
    },
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
        let decoder = match codec {
            Codec::MuLaw | Codec::ALaw => {
                file.seek(SeekFrom::Start(header.data_offset))
                    .map_err(io_err)?;
                Decoder::G711 {
                    reader: BufReader::new(file),
                    law: if codec == Codec::MuLaw {
                        Law::MuLaw
                    } else {
                        Law::ALaw
                    },
                    bytes: Vec::new(),
                }
            }
            Codec::Pcm { bits } => Decoder::Hound {
                reader: open_hound(file, &path)?,
                scale: 1.0 / (1u64 << (bits - 1)) as f32,
                float: false,
            },
            Codec::Float32 => Decoder::Hound {
                reader: open_hound(file, &path)?,
                scale: 1.0,
                float: true,
            },
        };
        Ok(WavSource {
            path,
            remaining: frames,
            info,
            decoder,
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
        match &mut self.decoder {
            Decoder::G711 { reader, law, bytes } => {
                bytes.resize(n * channels, 0);
                reader.read_exact(bytes).map_err(|source| SourceError::Io {
                    path: self.path.clone(),
                    source,
                })?;
                for (i, &b) in bytes.iter().enumerate() {
                    out[i % channels].push(law.decode_f32(b));
                }
            }
            Decoder::Hound {
                reader,
                scale,
                float,
            } => {
                let total = n * channels;
                let hound_err = |e: hound::Error| hound_error(&self.path, e);
                if *float {
                    for (i, s) in reader.samples::<f32>().take(total).enumerate() {
                        out[i % channels].push(s.map_err(hound_err)?);
                    }
                } else {
                    for (i, s) in reader.samples::<i32>().take(total).enumerate() {
                        out[i % channels].push(s.map_err(hound_err)? as f32 * *scale);
                    }
                }
                if out[channels - 1].len() != n {
                    return Err(SourceError::Io {
                        path: self.path.clone(),
                        source: io::Error::new(io::ErrorKind::UnexpectedEof, "file ended early"),
                    });
                }
            }
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

fn hound_error(path: &Path, e: hound::Error) -> SourceError {
    match e {
        hound::Error::IoError(source) => SourceError::Io {
            path: path.to_path_buf(),
            source,
        },
        other => malformed(path, &other.to_string()),
    }
}

fn open_hound(mut file: File, path: &Path) -> Result<hound::WavReader<BufReader<File>>, SourceError> {
    file.seek(SeekFrom::Start(0)).map_err(|source| SourceError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    hound::WavReader::new(BufReader::new(file)).map_err(|e| hound_error(path, e))
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
            format!("starts with {:?}", String::from_utf8_lossy(&riff[..got.min(4)]))
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
                    return Err(malformed(path, &format!("'fmt ' chunk is only {size} bytes")));
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
                    return Err(malformed(path, "'data' chunk comes before the 'fmt ' chunk"));
                };
                let u16_at = |i: usize| u16::from_le_bytes([f[i], f[i + 1]]);
                let mut format_tag = u16_at(0);
                if format_tag == WAVE_FORMAT_EXTENSIBLE {
                    if fmt_len < 40 {
                        return Err(malformed(path, "WAVE_FORMAT_EXTENSIBLE header is too short"));
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
