//! Sentence embeddings: what an utterance means, as a vector.
//!
//! [`Embedder`] runs all-MiniLM-L6-v2 (Apache-2.0; 6 BERT layers, 384
//! dimensions) on the CPU with candle: tokens → BERT → mean over the real
//! tokens → L2 normalisation, so the dot product of two embeddings is their
//! cosine. `callscope model install minilm` fetches and verifies it
//! ([`crate::model::install`]); it lives in `models/all-minilm-l6-v2/`.
//!
//! Redaction uses it to tell a request for card details from other talk in
//! any wording ([`crate::redact::meaning`]). It is synchronous and takes a
//! few milliseconds per sentence: call it from a worker thread, never from
//! the async runtime.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config, DTYPE};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

/// Length of an embedding.
pub const DIM: usize = 384;

/// Longest input in tokens (sentence-transformers' limit for this model);
/// longer text is cut.
const MAX_TOKENS: usize = 256;

/// The files the model directory must hold.
pub const MODEL_FILES: [&str; 3] = ["config.json", "tokenizer.json", "model.safetensors"];

/// The model's directory name under the models directory.
pub const DIR_NAME: &str = "all-minilm-l6-v2";

/// The model directory used when none is given: `<models dir>/all-minilm-l6-v2`.
pub fn default_dir() -> PathBuf {
    crate::model::default_models_dir().join(DIR_NAME)
}

/// Why the embedding model cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmbedError {
    /// A model file is missing. Stop: install the model.
    #[error(
        "sentence-embedding model missing: {path} not found; run `callscope model install minilm` (or pass its directory with --embed-model)"
    )]
    Missing {
        /// The missing file.
        path: PathBuf,
    },
    /// A model file is there but cannot be read as one. Stop: reinstall.
    #[error(
        "{path}: not a usable all-MiniLM-L6-v2 file ({detail}); delete it and run `callscope model install minilm` again"
    )]
    Load {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
    /// Tokenising or running the model failed on some text. Skip that text
    /// (fail closed where it mattered).
    #[error("sentence embedding failed: {0}")]
    Run(String),
}

fn run_err(e: impl std::fmt::Display) -> EmbedError {
    EmbedError::Run(e.to_string())
}

/// all-MiniLM-L6-v2, loaded once and shared (it is `Send + Sync`).
pub struct Embedder {
    model: BertModel,
    tokenizer: Tokenizer,
    device: Device,
}

impl std::fmt::Debug for Embedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedder").finish_non_exhaustive()
    }
}

impl Embedder {
    /// Loads the model from `dir` (memory-mapped weights, about 90 MB).
    pub fn load(dir: &Path) -> Result<Self, EmbedError> {
        for f in MODEL_FILES {
            let path = dir.join(f);
            if !path.is_file() {
                return Err(EmbedError::Missing { path });
            }
        }
        let load_err = |f: &str, e: &dyn std::fmt::Display| EmbedError::Load {
            path: dir.join(f),
            detail: e.to_string(),
        };
        let device = Device::Cpu;
        let config: Config = std::fs::read_to_string(dir.join("config.json"))
            .map_err(|e| load_err("config.json", &e))
            .and_then(|s| serde_json::from_str(&s).map_err(|e| load_err("config.json", &e)))?;
        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(|e| load_err("tokenizer.json", &e))?;
        // The file pads every input to 128 tokens; pad a batch to its longest.
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            ..Default::default()
        }));
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..Default::default()
            }))
            .map_err(|e| load_err("tokenizer.json", &e))?;
        let weights = dir.join("model.safetensors");
        // SAFETY: the file is mapped read-only and callscope never writes it
        // while running; `model install` replaces it by rename.
        let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[&weights], DTYPE, &device) }
            .map_err(|e| load_err("model.safetensors", &e))?;
        let model = BertModel::load(vb, &config).map_err(|e| load_err("model.safetensors", &e))?;
        Ok(Embedder {
            model,
            tokenizer,
            device,
        })
    }

    /// Embeds each text: unit vectors of [`DIM`] floats, in input order.
    /// Empty input gives an empty list.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let enc = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(run_err)?;
        let stack = |f: fn(&tokenizers::Encoding) -> &[u32]| -> Result<Tensor, EmbedError> {
            let rows = enc
                .iter()
                .map(|e| Tensor::new(f(e), &self.device))
                .collect::<Result<Vec<_>, _>>()
                .map_err(run_err)?;
            Tensor::stack(&rows, 0).map_err(run_err)
        };
        let ids = stack(|e| e.get_ids())?;
        let mask = stack(|e| e.get_attention_mask())?;
        let type_ids = ids.zeros_like().map_err(run_err)?;
        let pooled = (|| -> candle_core::Result<Tensor> {
            let hidden = self.model.forward(&ids, &type_ids, Some(&mask))?;
            // Mean over the real tokens, then unit length.
            let m = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
            let sum = hidden.broadcast_mul(&m)?.sum(1)?;
            let count = m.sum(1)?.clamp(1e-9f32, f32::MAX)?;
            let mean = sum.broadcast_div(&count)?;
            let norm = mean
                .sqr()?
                .sum_keepdim(1)?
                .sqrt()?
                .clamp(1e-12f32, f32::MAX)?;
            mean.broadcast_div(&norm)
        })()
        .map_err(run_err)?;
        pooled.to_vec2::<f32>().map_err(run_err)
    }
}

/// A sentence embedding, cheap to share between the consumers of one
/// segment (payment cue, prompts, categories, flags, search). Its `Debug`
/// shows only its length.
#[derive(Clone, PartialEq)]
pub struct Embedding(Arc<[f32]>);

impl Embedding {
    /// Wraps a vector from [`Embedder::embed`].
    pub fn new(v: Vec<f32>) -> Self {
        Embedding(v.into())
    }

    /// The floats.
    pub fn as_slice(&self) -> &[f32] {
        &self.0
    }

    /// Little-endian bytes, for storage.
    pub fn to_le_bytes(&self) -> Vec<u8> {
        self.0.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    /// From [`Embedding::to_le_bytes`]; `None` unless it holds [`DIM`] floats.
    pub fn from_le_bytes(b: &[u8]) -> Option<Self> {
        (b.len() == DIM * 4).then(|| {
            Embedding::new(
                b.chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
            )
        })
    }
}

impl std::fmt::Debug for Embedding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Embedding({} floats)", self.0.len())
    }
}

/// Cosine of two unit vectors (their dot product).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_model_names_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let e = Embedder::load(dir.path()).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("callscope model install minilm"), "{msg}");
        assert!(msg.contains("config.json"), "{msg}");
    }

    #[test]
    fn a_broken_model_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        for f in MODEL_FILES {
            std::fs::write(dir.path().join(f), b"not a model").unwrap();
        }
        let msg = Embedder::load(dir.path()).unwrap_err().to_string();
        assert!(msg.contains("config.json"), "{msg}");
        assert!(msg.contains("model install minilm"), "{msg}");
    }
}
