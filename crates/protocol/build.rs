//! Compiles proto/veracruz.proto with protox (a Rust protobuf compiler), so no `protoc` is needed.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/veracruz.proto");
    let fds = protox::compile(["proto/veracruz.proto"], ["proto"])?;
    prost_build::Config::new()
        // The bulk fields: decoded from a frame read into a buffer of its own, they share that
        // buffer instead of being copied out of it.
        .bytes([".veracruz.v1.SessionData.data", ".veracruz.v1.Chunk.data"])
        .compile_fds(fds)?;
    Ok(())
}
