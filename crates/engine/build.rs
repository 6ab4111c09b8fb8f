//! Compiles the benchmark's C guest natively, so the benchmark can compare the engines with
//! the very same code run as machine code. The object is linked into the benchmarks only
//! (`rustc-link-arg-benches`), never into the library.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let src = "../../tests/guests/src/sha256.c";
    println!("cargo:rerun-if-changed={src}");
    println!("cargo:rerun-if-env-changed=CC");
    let mut build = cc::Build::new();
    // The guest is built with clang -O2 (tests/guests/build.sh); use the same compiler and
    // level natively when clang is there.
    if std::env::var_os("CC").is_none()
        && Command::new("clang")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    {
        build.compiler("clang");
    }
    build
        .file(src)
        .define("VERACRUZ_NATIVE_BENCH", None)
        .opt_level(2)
        .cargo_metadata(false)
        .compile("veracruz_bench_sha256");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    println!(
        "cargo:rustc-link-arg-benches={}",
        out.join("libveracruz_bench_sha256.a").display()
    );
}
