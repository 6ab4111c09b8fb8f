//! The example programs' test and benchmark support: deterministic input generators
//! ([`gen`]), a harness that runs an example's native build and collects what it wrote
//! ([`harness`]), and a runner for the committed wasm modules in the execution engine with
//! the capabilities of their policies ([`wasm`]), so the outputs can be compared byte for
//! byte.
//!
//! The examples' sources live under `examples/` in the repository; this crate compiles
//! them as native binaries (see its Cargo.toml), while `examples/build.sh` compiles the same
//! files to the committed `examples/wasm/*.wasm`.

pub mod gen;
pub mod harness;
pub mod wasm;
