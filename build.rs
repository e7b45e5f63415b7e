//! Compiles proto/ into Rust with tonic-prost-build, using the vendored protoc
//! so no system protoc is needed, and writes the descriptor set that the
//! reflection service serves.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    let well_known = protoc_bin_vendored::include_path()?;
    // SAFETY: build scripts are single-threaded; prost-build reads PROTOC.
    unsafe { std::env::set_var("PROTOC", protoc) };

    let protos: [PathBuf; 5] = [
        "proto/stride/common/v1/common.proto".into(),
        "proto/stride/identity/v1/identity.proto".into(),
        "proto/stride/events/v1/events.proto".into(),
        "proto/stride/gamification/v1/gamification.proto".into(),
        "proto/stride/analytics/v1/analytics.proto".into(),
    ];
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    tonic_prost_build::configure()
        .file_descriptor_set_path(out_dir.join("stride_descriptor.bin"))
        // Unwritten handlers answer UNIMPLEMENTED instead of pretending.
        .generate_default_stubs(true)
        .compile_protos(&protos, &[PathBuf::from("proto"), well_known])?;
    println!("cargo:rerun-if-changed=proto");
    Ok(())
}
