//! `veracruz run`, the freestanding runner, through the real binary in both engines.

use std::path::PathBuf;
use std::process::Command;

fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../../examples/wasm/{name}.wasm"))
}

#[test]
fn runs_a_program_over_mapped_directories_in_both_engines() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("input");
    std::fs::create_dir(&input).unwrap();
    std::fs::write(
        input.join("purchases.csv"),
        "customer_id,amount\na,2.50\nb,4\na,1\n",
    )
    .unwrap();
    std::fs::write(input.join("adverts.csv"), "customer_id\na\n").unwrap();
    let mut results = Vec::new();
    for strategy in ["jit", "interpreter"] {
        let out = tmp.path().join(format!("out-{strategy}"));
        let status = Command::new(env!("CARGO_BIN_EXE_veracruz"))
            .arg("run")
            .arg(example("intersection-sum"))
            .arg("--map")
            .arg(format!("{}:/input", input.display()))
            .arg("--output")
            .arg(format!("/output:{}", out.display()))
            .args(["--strategy", strategy])
            .status()
            .unwrap();
        assert!(status.success(), "{strategy}: {status}");
        let result = std::fs::read_to_string(out.join("intersection-sum.json")).unwrap();
        assert!(result.contains("\"3.50\""), "{strategy}: {result}");
        results.push(result);
    }
    assert_eq!(results[0], results[1]);
}

#[test]
fn the_exit_code_and_limits_come_through() {
    let tmp = tempfile::tempdir().unwrap();
    // Missing inputs: the program reports the error and exits 1, which `run` passes on.
    let out = Command::new(env!("CARGO_BIN_EXE_veracruz"))
        .arg("run")
        .arg(example("intersection-sum"))
        .arg("--map")
        .arg(format!("{}:/input", tmp.path().display()))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // An infinite loop with a fuel budget is stopped, naming the limit.
    let wasm = tmp.path().join("loop.wasm");
    std::fs::write(
        &wasm,
        wat::parse_str(
            "(module (memory (export \"memory\") 1) (func (export \"_start\") (loop $l (br $l))))",
        )
        .unwrap(),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_veracruz"))
        .arg("run")
        .arg(&wasm)
        .args(["--fuel", "1000000"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("fuel"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
