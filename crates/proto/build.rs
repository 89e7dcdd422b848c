//! Compiles proto/ with protox (pure Rust), so no protoc is needed.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=../../proto");
    let fds = protox::compile(["fluxcascade/v1/jobs.proto"], ["../../proto"])?;
    prost_build::Config::new().compile_fds(fds)?;
    Ok(())
}
