//! Conversion of a CTranslate2 Whisper model (`model.bin` + `vocabulary.txt`)
//! to whisper.cpp's ggml file format.
//!
//! * CTranslate2 `model.bin` (binary version 6, little-endian): u32 version,
//!   string spec name, u32 revision, u32 variable count; strings are a u16
//!   length (with the trailing NUL) and the bytes; each variable is a name,
//!   u8 rank, u32 dims, u8 dtype, u32 byte count and the data; then aliases.
//! * ggml: magic, 11 i32 hyper-parameters, the mel filterbank, the
//!   vocabulary (raw token bytes before `<|endoftext|>`), then tensors
//!   (i32 rank, i32 name length, i32 type, dims reversed, name, data).
//!
//! Fused projections are split (self-attention Q;K;V, cross-attention K;V);
//! whisper.cpp has no key bias, so CTranslate2's zero key biases are dropped.
//! Biases, norms, conv biases (as `[n, 1]`) and positional embeddings are
//! written as f32, the convolution kernels as f16, and the weight matrices
//! (attention, MLP, token embedding) as f16 or quantised ([`Quant`]): the
//! split whisper.cpp expects of a file whose header says that type. The
//! output projection is tied to the token embedding and not written.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

use half::f16;

/// Why a model could not be converted. Stop: the input files are not a
/// CTranslate2 Whisper model (or are damaged); re-download them.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConvertModelError {
    /// Reading the input or writing the output failed.
    #[error("model conversion I/O error: {0}")]
    Io(#[from] io::Error),
    /// The input is not what a CTranslate2 Whisper model looks like.
    #[error("not a CTranslate2 Whisper model: {0}")]
    Format(String),
}

/// How the weight matrices are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Quant {
    /// 16-bit floats, as published.
    #[default]
    F16,
    /// 8-bit blocks of 32 with one f16 scale (8.5 bits a weight).
    #[value(name = "q8_0")]
    Q8_0,
    /// 5-bit blocks of 32 with f16 scale and minimum (6 bits a weight).
    #[value(name = "q5_1")]
    Q5_1,
}

impl Quant {
    /// The file-name suffix whisper.cpp's tools use (`""`, `-q8_0`, `-q5_1`).
    pub fn suffix(self) -> &'static str {
        match self {
            Quant::F16 => "",
            Quant::Q8_0 => "-q8_0",
            Quant::Q5_1 => "-q5_1",
        }
    }

    /// The header's `ftype`: ggml's file type plus the quantisation format
    /// version × 1000 for quantised files (as whisper.cpp's quantiser writes).
    fn header_ftype(self) -> i32 {
        const QNT_VERSION: i32 = 2 * 1000;
        match self {
            Quant::F16 => 1,
            Quant::Q8_0 => 7 + QNT_VERSION,
            Quant::Q5_1 => 9 + QNT_VERSION,
        }
    }

    /// The ggml tensor type of a weight matrix.
    fn tensor_type(self) -> i32 {
        match self {
            Quant::F16 => 1,
            Quant::Q8_0 => 8,
            Quant::Q5_1 => 7,
        }
    }
}

/// Values per quantisation block.
const QK: usize = 32;

/// Appends `x` (a multiple of 32 values) as ggml `block_q8_0`s: f16 scale
/// `d = max|x| / 127`, then 32 × i8 `round(x / d)` (ggml's reference
/// quantiser, so files are byte-for-byte what whisper.cpp would write).
pub fn quantize_q8_0(x: &[f32], out: &mut Vec<u8>) {
    for b in x.chunks_exact(QK) {
        let amax = b.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let d = amax / 127.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        out.extend_from_slice(&f16::from_f32(d).to_le_bytes());
        out.extend(b.iter().map(|v| (v * id).round() as i8 as u8));
    }
}

/// Appends `x` (a multiple of 32 values) as ggml `block_q5_1`s: f16 scale
/// `d = (max − min) / 31` and minimum, the 32 fifth bits in a u32, then
/// the low nibbles, value `j` with value `j + 16` in one byte.
pub fn quantize_q5_1(x: &[f32], out: &mut Vec<u8>) {
    for b in x.chunks_exact(QK) {
        let (min, max) = b
            .iter()
            .fold((f32::MAX, -f32::MAX), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        let d = (max - min) / 31.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        out.extend_from_slice(&f16::from_f32(d).to_le_bytes());
        out.extend_from_slice(&f16::from_f32(min).to_le_bytes());
        let q = |v: f32| ((v - min) * id + 0.5) as u8;
        let mut qh = 0u32;
        let mut qs = [0u8; QK / 2];
        for j in 0..QK / 2 {
            let (x0, x1) = (q(b[j]), q(b[j + QK / 2]));
            qs[j] = (x0 & 0x0f) | ((x1 & 0x0f) << 4);
            qh |= u32::from((x0 & 0x10) >> 4) << j;
            qh |= u32::from((x1 & 0x10) >> 4) << (j + QK / 2);
        }
        out.extend_from_slice(&qh.to_le_bytes());
        out.extend_from_slice(&qs);
    }
}

fn bad(msg: impl Into<String>) -> ConvertModelError {
    ConvertModelError::Format(msg.into())
}

/// CTranslate2 data types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DType {
    F32,
    I8,
    I16,
    I32,
    F16,
    BF16,
}

impl DType {
    fn from_u8(v: u8) -> Result<Self, ConvertModelError> {
        Ok(match v {
            0 => DType::F32,
            1 => DType::I8,
            2 => DType::I16,
            3 => DType::I32,
            4 => DType::F16,
            5 => DType::BF16,
            _ => return Err(bad(format!("unknown dtype {v}"))),
        })
    }
    fn size(self) -> usize {
        match self {
            DType::I8 => 1,
            DType::I16 | DType::F16 | DType::BF16 => 2,
            DType::F32 | DType::I32 => 4,
        }
    }
}

/// Where a variable's data sits in `model.bin`.
#[derive(Debug, Clone)]
struct Var {
    dims: Vec<usize>,
    dtype: DType,
    offset: u64,
    bytes: usize,
}

fn read_u8(r: &mut impl Read) -> io::Result<u8> {
    let mut b = [0u8; 1];
    r.read_exact(&mut b)?;
    Ok(b[0])
}
fn read_u16(r: &mut impl Read) -> io::Result<u16> {
    let mut b = [0u8; 2];
    r.read_exact(&mut b)?;
    Ok(u16::from_le_bytes(b))
}
fn read_u32(r: &mut impl Read) -> io::Result<u32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(u32::from_le_bytes(b))
}
fn read_string(r: &mut impl Read) -> Result<String, ConvertModelError> {
    let len = usize::from(read_u16(r)?);
    let mut b = vec![0u8; len];
    r.read_exact(&mut b)?;
    if b.last() == Some(&0) {
        b.pop();
    }
    String::from_utf8(b).map_err(|_| bad("a variable name is not UTF-8"))
}

/// Reads the variable index of a CTranslate2 `model.bin` (data is skipped).
fn read_index(r: &mut (impl Read + Seek)) -> Result<BTreeMap<String, Var>, ConvertModelError> {
    let version = read_u32(r)?;
    if version != 6 {
        return Err(bad(format!("binary version {version}, expected 6")));
    }
    let spec = read_string(r)?;
    if spec != "WhisperSpec" {
        return Err(bad(format!("spec {spec:?}, expected WhisperSpec")));
    }
    let _revision = read_u32(r)?;
    let count = read_u32(r)?;
    let mut vars = BTreeMap::new();
    for _ in 0..count {
        let name = read_string(r)?;
        let rank = read_u8(r)?;
        let dims = (0..rank)
            .map(|_| read_u32(r).map(|d| d as usize))
            .collect::<io::Result<Vec<_>>>()?;
        let dtype = DType::from_u8(read_u8(r)?)?;
        let bytes = read_u32(r)? as usize;
        let expected = dims.iter().product::<usize>() * dtype.size();
        if bytes != expected {
            return Err(bad(format!("{name}: {bytes} bytes for shape {dims:?}")));
        }
        let offset = r.stream_position()?;
        r.seek(SeekFrom::Current(bytes as i64))?;
        vars.insert(
            name,
            Var {
                dims,
                dtype,
                offset,
                bytes,
            },
        );
    }
    Ok(vars)
}

/// A scalar integer variable (e.g. `encoder/num_heads`).
fn scalar(
    r: &mut (impl Read + Seek),
    vars: &BTreeMap<String, Var>,
    name: &str,
) -> Result<i32, ConvertModelError> {
    let v = vars
        .get(name)
        .ok_or_else(|| bad(format!("missing {name}")))?;
    r.seek(SeekFrom::Start(v.offset))?;
    Ok(match v.dtype {
        DType::I8 => i32::from(read_u8(r)? as i8),
        DType::I16 => i32::from(read_u16(r)? as i16),
        DType::I32 => read_u32(r)? as i32,
        _ => return Err(bad(format!("{name} is not an integer"))),
    })
}

/// A variable's data as f32.
fn load_f32(r: &mut (impl Read + Seek), v: &Var) -> Result<Vec<f32>, ConvertModelError> {
    r.seek(SeekFrom::Start(v.offset))?;
    let mut raw = vec![0u8; v.bytes];
    r.read_exact(&mut raw)?;
    Ok(match v.dtype {
        DType::F32 => raw
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        DType::F16 => raw
            .chunks_exact(2)
            .map(|c| f16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        DType::BF16 => raw
            .chunks_exact(2)
            .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        _ => return Err(bad("integer tensor where floats were expected")),
    })
}

/// Number of tensor rows and row length (a vector is a column: n rows of 1).
fn rows_cols(dims: &[usize]) -> (usize, usize) {
    match dims {
        [n] => (*n, 1),
        [r, rest @ ..] => (*r, rest.iter().product()),
        [] => (1, 1),
    }
}

/// The Slaney-normalised mel filterbank librosa computes for
/// `librosa.filters.mel(sr=16000, n_fft=400, n_mels)`: `n_mels × 201`.
pub fn mel_filters(n_mels: usize) -> Vec<f32> {
    const SR: f64 = 16_000.0;
    const N_FFT: usize = 400;
    let bins = N_FFT / 2 + 1;
    let f_sp = 200.0 / 3.0;
    let min_log_hz = 1000.0;
    let min_log_mel = min_log_hz / f_sp;
    let logstep = 6.4f64.ln() / 27.0;
    let hz_to_mel = |hz: f64| {
        if hz >= min_log_hz {
            min_log_mel + (hz / min_log_hz).ln() / logstep
        } else {
            hz / f_sp
        }
    };
    let mel_to_hz = |mel: f64| {
        if mel >= min_log_mel {
            min_log_hz * (logstep * (mel - min_log_mel)).exp()
        } else {
            f_sp * mel
        }
    };
    let (lo, hi) = (hz_to_mel(0.0), hz_to_mel(SR / 2.0));
    let mel_f: Vec<f64> = (0..n_mels + 2)
        .map(|i| mel_to_hz(lo + (hi - lo) * i as f64 / (n_mels + 1) as f64))
        .collect();
    let fft_f: Vec<f64> = (0..bins)
        .map(|i| SR / 2.0 * i as f64 / (bins - 1) as f64)
        .collect();
    let mut out = vec![0f32; n_mels * bins];
    for i in 0..n_mels {
        let enorm = 2.0 / (mel_f[i + 2] - mel_f[i]);
        for (j, &f) in fft_f.iter().enumerate() {
            let lower = (f - mel_f[i]) / (mel_f[i + 1] - mel_f[i]);
            let upper = (mel_f[i + 2] - f) / (mel_f[i + 2] - mel_f[i + 1]);
            out[i * bins + j] = (lower.min(upper).max(0.0) * enorm) as f32;
        }
    }
    out
}

/// GPT-2's byte ↔ printable-character table, inverted: maps the characters
/// of a byte-level BPE token back to its raw bytes.
fn unicode_to_byte() -> BTreeMap<char, u8> {
    let mut printable: Vec<u32> = (u32::from(b'!')..=u32::from(b'~')).collect();
    printable.extend(0xA1..=0xAC);
    printable.extend(0xAE..=0xFF);
    let mut map = BTreeMap::new();
    let mut extra = 0u32;
    for b in 0..=255u32 {
        let c = if printable.contains(&b) {
            b
        } else {
            extra += 1;
            255 + extra
        };
        map.insert(char::from_u32(c).expect("valid code point"), b as u8);
    }
    map
}

/// Decodes a byte-level BPE token to its bytes.
fn token_bytes(token: &str, table: &BTreeMap<char, u8>) -> Result<Vec<u8>, ConvertModelError> {
    token
        .chars()
        .map(|c| {
            table
                .get(&c)
                .copied()
                .ok_or_else(|| bad(format!("token {token:?} is not byte-level BPE")))
        })
        .collect()
}

/// Layer-norm parameter names: CTranslate2 `gamma`/`beta` → `weight`/`bias`.
fn wb(s: &str) -> &str {
    match s {
        "gamma" => "weight",
        "beta" => "bias",
        other => other,
    }
}

/// One output tensor: a slice of rows of a CTranslate2 variable.
struct Out {
    name: String,
    var: String,
    rows: std::ops::Range<usize>,
}

fn map_names(vars: &BTreeMap<String, Var>) -> Result<Vec<Out>, ConvertModelError> {
    let mut outs = Vec::new();
    let mut push = |name: String, var: &str, rows: std::ops::Range<usize>| {
        outs.push(Out {
            name,
            var: var.to_string(),
            rows,
        });
    };
    for (var, v) in vars {
        let (n_rows, _) = rows_cols(&v.dims);
        let all = 0..n_rows;
        let parts: Vec<&str> = var.split('/').collect();
        match parts.as_slice() {
            [side @ ("encoder" | "decoder"), layer, rest @ ..]
                if layer.starts_with("layer_") && layer[6..].parse::<usize>().is_ok() =>
            {
                let prefix = format!("{side}.blocks.{}.", &layer[6..]);
                let last = wb(rest.last().copied().unwrap_or(""));
                match rest {
                    ["self_attention", "layer_norm", _] => {
                        push(format!("{prefix}attn_ln.{last}"), var, all)
                    }
                    ["self_attention", "linear_0", _] => {
                        let d = n_rows / 3;
                        push(format!("{prefix}attn.query.{last}"), var, 0..d);
                        if last == "weight" {
                            push(format!("{prefix}attn.key.weight"), var, d..2 * d);
                        }
                        push(format!("{prefix}attn.value.{last}"), var, 2 * d..3 * d);
                    }
                    ["self_attention", "linear_1", _] => {
                        push(format!("{prefix}attn.out.{last}"), var, all)
                    }
                    ["attention", "layer_norm", _] => {
                        push(format!("{prefix}cross_attn_ln.{last}"), var, all)
                    }
                    ["attention", "linear_0", _] => {
                        push(format!("{prefix}cross_attn.query.{last}"), var, all)
                    }
                    ["attention", "linear_1", _] => {
                        let d = n_rows / 2;
                        if last == "weight" {
                            push(format!("{prefix}cross_attn.key.weight"), var, 0..d);
                        }
                        push(format!("{prefix}cross_attn.value.{last}"), var, d..2 * d);
                    }
                    ["attention", "linear_2", _] => {
                        push(format!("{prefix}cross_attn.out.{last}"), var, all)
                    }
                    ["ffn", "layer_norm", _] => push(format!("{prefix}mlp_ln.{last}"), var, all),
                    ["ffn", "linear_0", _] => push(format!("{prefix}mlp.0.{last}"), var, all),
                    ["ffn", "linear_1", _] => push(format!("{prefix}mlp.2.{last}"), var, all),
                    _ => return Err(bad(format!("unexpected layer variable {var}"))),
                }
            }
            ["encoder", conv @ ("conv1" | "conv2"), p] => {
                push(format!("encoder.{conv}.{p}"), var, all)
            }
            [
                side @ ("encoder" | "decoder"),
                "position_encodings",
                "encodings",
            ] => push(format!("{side}.positional_embedding"), var, all),
            ["encoder", "layer_norm", p] => push(format!("encoder.ln_post.{}", wb(p)), var, all),
            ["decoder", "layer_norm", p] => push(format!("decoder.ln.{}", wb(p)), var, all),
            ["decoder", "embeddings", "weight"] => {
                push("decoder.token_embedding.weight".to_string(), var, all)
            }
            // Scalars (heads, activation, flags) are read as hyper-parameters or unused.
            _ if v.dims.is_empty() => {}
            _ => return Err(bad(format!("unexpected variable {var}"))),
        }
    }
    Ok(outs)
}

/// What a conversion produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConvertSummary {
    /// Vocabulary size.
    pub n_vocab: i32,
    /// Encoder layers.
    pub n_audio_layer: i32,
    /// Model width.
    pub n_audio_state: i32,
    /// Tensors written.
    pub tensors: usize,
}

/// Converts `model_bin` + `vocabulary` to a ggml file at `out`.
pub fn convert(
    model_bin: &Path,
    vocabulary: &Path,
    out: &Path,
    quant: Quant,
) -> Result<ConvertSummary, ConvertModelError> {
    let mut r = BufReader::new(File::open(model_bin)?);
    let vars = read_index(&mut r)?;
    let var = |n: &str| vars.get(n).ok_or_else(|| bad(format!("missing {n}")));
    let emb = var("decoder/embeddings/weight")?;
    let enc_pos = var("encoder/position_encodings/encodings")?;
    let dec_pos = var("decoder/position_encodings/encodings")?;
    let conv1 = var("encoder/conv1/weight")?;
    let layers = |side: &str| {
        (0..)
            .take_while(|i| vars.contains_key(&format!("{side}/layer_{i}/ffn/linear_0/weight")))
            .count() as i32
    };
    if enc_pos.dims.len() != 2
        || dec_pos.dims.len() != 2
        || emb.dims.len() != 2
        || conv1.dims.len() != 3
    {
        return Err(bad("unexpected tensor ranks"));
    }
    let hparams: [i32; 11] = [
        emb.dims[0] as i32,
        enc_pos.dims[0] as i32,
        enc_pos.dims[1] as i32,
        scalar(&mut r, &vars, "encoder/num_heads")?,
        layers("encoder"),
        dec_pos.dims[0] as i32,
        dec_pos.dims[1] as i32,
        scalar(&mut r, &vars, "decoder/num_heads")?,
        layers("decoder"),
        conv1.dims[1] as i32,
        quant.header_ftype(),
    ];

    let vocab_text = std::fs::read_to_string(vocabulary)?;
    let tokens: Vec<&str> = vocab_text.lines().collect();
    let eot = tokens
        .iter()
        .position(|t| *t == "<|endoftext|>")
        .ok_or_else(|| bad("vocabulary has no <|endoftext|>"))?;
    let table = unicode_to_byte();

    let mut w = BufWriter::new(File::create(out)?);
    w.write_all(&0x6767_6d6c_u32.to_le_bytes())?;
    for h in hparams {
        w.write_all(&h.to_le_bytes())?;
    }
    let n_mels = hparams[9] as usize;
    w.write_all(&(n_mels as i32).to_le_bytes())?;
    w.write_all(&201i32.to_le_bytes())?;
    for v in mel_filters(n_mels) {
        w.write_all(&v.to_le_bytes())?;
    }
    w.write_all(&(eot as i32).to_le_bytes())?;
    for t in &tokens[..eot] {
        let b = token_bytes(t, &table)?;
        w.write_all(&(b.len() as i32).to_le_bytes())?;
        w.write_all(&b)?;
    }

    let outs = map_names(&vars)?;
    let mut cache: Option<(String, Vec<f32>)> = None;
    for o in &outs {
        let v = &vars[&o.var];
        if cache.as_ref().is_none_or(|(n, _)| *n != o.var) {
            cache = Some((o.var.clone(), load_f32(&mut r, v)?));
        }
        let data = &cache.as_ref().expect("just loaded").1;
        let (_, cols) = rows_cols(&v.dims);
        let slice = &data[o.rows.start * cols..o.rows.end * cols];
        // Shape of the piece, PyTorch order.
        let mut dims: Vec<usize> = v.dims.clone();
        if dims.is_empty() {
            continue;
        }
        dims[0] = o.rows.len();
        if o.name == "encoder.conv1.bias" || o.name == "encoder.conv2.bias" {
            dims = vec![dims[0], 1];
        }
        let f32_out = v.dims.len() < 2 || o.name.ends_with("positional_embedding");
        // The weight matrices; conv kernels (3-D) stay f16.
        let matrix = !f32_out && dims.len() == 2;
        let ttype = match (f32_out, matrix) {
            (true, _) => 0i32,
            (false, true) => quant.tensor_type(),
            (false, false) => 1,
        };
        w.write_all(&(dims.len() as i32).to_le_bytes())?;
        w.write_all(&(o.name.len() as i32).to_le_bytes())?;
        w.write_all(&ttype.to_le_bytes())?;
        for d in dims.iter().rev() {
            w.write_all(&(*d as i32).to_le_bytes())?;
        }
        w.write_all(o.name.as_bytes())?;
        match ttype {
            0 => {
                for x in slice {
                    w.write_all(&x.to_le_bytes())?;
                }
            }
            1 => {
                for x in slice {
                    w.write_all(&f16::from_f32(*x).to_le_bytes())?;
                }
            }
            _ => {
                if !slice.len().is_multiple_of(QK) {
                    return Err(bad(format!("{}: rows not a multiple of {QK}", o.name)));
                }
                // Quantised from the f16 values, as whisper.cpp's quantiser
                // reads them from an f16 file.
                let halves: Vec<f32> = slice.iter().map(|x| f16::from_f32(*x).to_f32()).collect();
                let mut bytes = Vec::with_capacity(slice.len() + slice.len() / 8);
                match quant {
                    Quant::Q8_0 => quantize_q8_0(&halves, &mut bytes),
                    Quant::Q5_1 => quantize_q5_1(&halves, &mut bytes),
                    Quant::F16 => unreachable!("f16 matrices are written above"),
                }
                w.write_all(&bytes)?;
            }
        }
    }
    w.flush()?;
    Ok(ConvertSummary {
        n_vocab: hparams[0],
        n_audio_layer: hparams[4],
        n_audio_state: hparams[2],
        tensors: outs.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mel_filterbank_matches_librosa_shape_and_values() {
        let m = mel_filters(80);
        assert_eq!(m.len(), 80 * 201);
        // librosa.filters.mel(sr=16000, n_fft=400, n_mels=80)[0, 1] and [79].max()
        assert!((m[1] - 0.024_862_21).abs() < 1e-6, "{}", m[1]);
        let last_max = m[79 * 201..].iter().cloned().fold(0.0f32, f32::max);
        assert!(last_max > 0.0 && last_max < 0.01, "{last_max}");
        // Every filter has some weight.
        for i in 0..80 {
            assert!(
                m[i * 201..(i + 1) * 201].iter().any(|&x| x > 0.0),
                "filter {i}"
            );
        }
    }

    /// ggml's dequantisers, to check the blocks.
    fn dequant_q8_0(b: &[u8]) -> Vec<f32> {
        let d = f16::from_le_bytes([b[0], b[1]]).to_f32();
        b[2..34].iter().map(|&q| d * f32::from(q as i8)).collect()
    }

    fn dequant_q5_1(b: &[u8]) -> Vec<f32> {
        let d = f16::from_le_bytes([b[0], b[1]]).to_f32();
        let m = f16::from_le_bytes([b[2], b[3]]).to_f32();
        let qh = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
        let mut out = vec![0.0; 32];
        for j in 0..16 {
            let hi0 = ((qh >> j) & 1) as u8;
            let hi1 = ((qh >> (j + 16)) & 1) as u8;
            out[j] = d * f32::from((b[8 + j] & 0x0f) | (hi0 << 4)) + m;
            out[j + 16] = d * f32::from((b[8 + j] >> 4) | (hi1 << 4)) + m;
        }
        out
    }

    #[test]
    fn q5_1_blocks_have_ggml_layout() {
        let x: Vec<f32> = (0..32).map(|j| j as f32).collect();
        let mut b = Vec::new();
        quantize_q5_1(&x, &mut b);
        assert_eq!(b.len(), 24, "2 + 2 + 4 + 16 bytes a block");
        assert_eq!(f16::from_le_bytes([b[0], b[1]]).to_f32(), 1.0);
        assert_eq!(f16::from_le_bytes([b[2], b[3]]).to_f32(), 0.0);
        // Values 16..31 carry the fifth bit, in the high half of qh.
        assert_eq!(u32::from_le_bytes([b[4], b[5], b[6], b[7]]), 0xffff_0000);
        assert_eq!(b[8 + 3], 0x33, "3 and 19 share a byte: low nibbles 3 and 3");
        assert_eq!(dequant_q5_1(&b), x);
    }

    #[test]
    fn quantised_blocks_round_trip_within_half_a_step() {
        let x: Vec<f32> = (0..256)
            .map(|i| ((i as f32) * 0.37).sin() * 0.08 - 0.01)
            .collect();
        let (mut q8, mut q5) = (Vec::new(), Vec::new());
        quantize_q8_0(&x, &mut q8);
        quantize_q5_1(&x, &mut q5);
        assert_eq!(q8.len(), 8 * 34);
        assert_eq!(q5.len(), 8 * 24);
        for (k, block) in x.chunks(32).enumerate() {
            let amax = block.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            let (lo, hi) = block
                .iter()
                .fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
            let back8 = dequant_q8_0(&q8[k * 34..(k + 1) * 34]);
            let back5 = dequant_q5_1(&q5[k * 24..(k + 1) * 24]);
            for j in 0..32 {
                assert!((back8[j] - block[j]).abs() <= amax / 127.0 * 0.51 + 1e-4);
                assert!((back5[j] - block[j]).abs() <= (hi - lo) / 31.0 * 0.51 + 1e-4);
            }
        }
        // An all-zero block quantises to zeros, not NaN.
        let mut z = Vec::new();
        quantize_q8_0(&[0.0; 32], &mut z);
        assert!(dequant_q8_0(&z).iter().all(|v| *v == 0.0));
    }

    #[test]
    fn byte_level_tokens_decode_to_raw_bytes() {
        let t = unicode_to_byte();
        assert_eq!(token_bytes("Ġthe", &t).unwrap(), b" the");
        assert_eq!(token_bytes("Ċ", &t).unwrap(), b"\n");
        assert_eq!(t.len(), 256);
    }

    #[test]
    fn fused_projections_are_split_and_key_biases_dropped() {
        let var = |dims: Vec<usize>| Var {
            dims,
            dtype: DType::F16,
            offset: 0,
            bytes: 0,
        };
        let mut vars = BTreeMap::new();
        vars.insert(
            "encoder/layer_0/self_attention/linear_0/weight".to_string(),
            var(vec![12, 4]),
        );
        vars.insert(
            "encoder/layer_0/self_attention/linear_0/bias".to_string(),
            var(vec![12]),
        );
        vars.insert(
            "decoder/layer_0/attention/linear_1/weight".to_string(),
            var(vec![8, 4]),
        );
        vars.insert(
            "decoder/layer_0/attention/linear_1/bias".to_string(),
            var(vec![8]),
        );
        vars.insert("encoder/layer_norm/gamma".to_string(), var(vec![4]));
        vars.insert("encoder/num_heads".to_string(), var(vec![]));
        let outs = map_names(&vars).unwrap();
        let got: Vec<(String, std::ops::Range<usize>)> = outs
            .iter()
            .map(|o| (o.name.clone(), o.rows.clone()))
            .collect();
        assert!(got.contains(&("encoder.blocks.0.attn.key.weight".to_string(), 4..8)));
        assert!(got.contains(&("encoder.blocks.0.attn.value.bias".to_string(), 8..12)));
        assert!(!got.iter().any(|(n, _)| n.contains("key.bias")));
        assert!(got.contains(&("decoder.blocks.0.cross_attn.value.weight".to_string(), 4..8)));
        assert!(got.contains(&("encoder.ln_post.weight".to_string(), 0..4)));
    }
}
