//! Compiles proto/veracruz.proto with protox (a Rust protobuf compiler), so no `protoc` is needed.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/veracruz.proto");
    let fds = protox::compile(["proto/veracruz.proto"], ["proto"])?;
    prost_build::Config::new().compile_fds(fds)?;
    Ok(())
}
