//! Compiles the gRPC API (`proto/callscope/v1/callscope.proto`) and writes its
//! descriptor set for server reflection. Uses the vendored `protoc` unless
//! `PROTOC` names another.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    let mut config = tonic_prost_build::Config::new();
    if std::env::var_os("PROTOC").is_none() {
        config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    }
    tonic_prost_build::configure()
        .file_descriptor_set_path(out.join("callscope_descriptor.bin"))
        .compile_with_config(config, &["proto/callscope/v1/callscope.proto"], &["proto"])?;
    Ok(())
}
