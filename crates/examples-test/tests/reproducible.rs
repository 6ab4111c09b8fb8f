//! The committed `examples/wasm/*.wasm` must be exactly what `examples/build.sh` builds from
//! the sources in this tree, so the hashes the policies pin are those of the reviewed code.
//!
//! Needs Debian's rustc 1.63 with `libstd-rust-dev-wasm32` (or `VERACRUZ_WASM_RUSTC`); set
//! `VERACRUZ_SKIP_WASM_REBUILD=1` to skip on a machine without it.

use std::process::Command;

use veracruz_examples_test::harness::examples_dir;

#[test]
fn committed_modules_match_a_fresh_build() {
    if std::env::var_os("VERACRUZ_SKIP_WASM_REBUILD").is_some() {
        eprintln!("VERACRUZ_SKIP_WASM_REBUILD is set: not rebuilding the example modules");
        return;
    }
    let script = examples_dir().join("build.sh");
    let out = Command::new("bash")
        .arg(&script)
        .arg("--check")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {}", script.display(), e));
    assert!(
        out.status.success(),
        "{} --check failed (set VERACRUZ_SKIP_WASM_REBUILD=1 where the wasm toolchain is missing):\n{}{}",
        script.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
