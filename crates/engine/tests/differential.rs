//! Runs the whole guest suite under both engines and asserts identical results: exit code or
//! error, stdout, stderr and the resulting VFS contents.

mod common;

use std::time::Duration;

use common::*;
use veracruz_engine::{Limits, Strategy};

struct Case {
    name: &'static str,
    wasm: fn() -> Vec<u8>,
    args: &'static [&'static str],
    limits: Limits,
    clock: bool,
}

fn case(name: &'static str, wasm: fn() -> Vec<u8>, args: &'static [&'static str]) -> Case {
    Case {
        name,
        wasm,
        args,
        limits: Limits::default(),
        clock: false,
    }
}

fn cases() -> Vec<Case> {
    let suite = || fixture("wasi_suite");
    let mut cases = vec![
        case("suite args", suite, &["args", "x y", "ü"]),
        case("suite clock off", suite, &["clock", "off"]),
        case("suite fd", suite, &["fd"]),
        case("suite path", suite, &["path"]),
        case("suite dir", suite, &["dir"]),
        case("suite sock", suite, &["sock"]),
        case("suite caps", suite, &["caps"]),
        case("suite unknown group", suite, &["nope"]),
        case("echo", || fixture("echo"), &["a", "--exit", "5"]),
        case("step a", || fixture("step_a"), &[]),
        case("step f", || fixture("step_f"), &[]),
        case("sha256", || fixture("sha256"), &["4096", "3"]),
        case("efault", || wat("efault"), &[]),
        case("exit", || wat("exit"), &[]),
        case("return", || wat("return"), &[]),
        case("proc_raise", || wat("proc_raise"), &[]),
        case("unreachable", || wat("unreachable"), &[]),
        case("div0", || wat("div0"), &[]),
        case("oob", || wat("oob"), &[]),
        case("recursion", || wat("recursion"), &[]),
        case("unknown import", || wat("unknown_import"), &[]),
        case("bad signature", || wat("bad_signature"), &[]),
        case("nan bits", || wat("nan"), &[]),
    ];
    cases.push(Case {
        clock: true,
        ..case("suite clock on", suite, &["clock", "on"])
    });
    let small_memory = Limits {
        max_memory_bytes: 16 << 20,
        ..Limits::default()
    };
    cases.push(Case {
        limits: small_memory.clone(),
        ..case("membomb", || fixture("membomb"), &[])
    });
    cases.push(Case {
        limits: small_memory,
        ..case("memgrow", || wat("memgrow"), &[])
    });
    cases.push(Case {
        limits: Limits {
            max_output_bytes: 300_000,
            ..Limits::default()
        },
        ..case("huge output", || wat("output"), &[])
    });
    cases.push(Case {
        limits: Limits {
            max_open_files: 8,
            ..Limits::default()
        },
        ..case("open files", || wat("openfiles"), &[])
    });
    cases.push(Case {
        limits: Limits {
            fuel: Some(2_000_000),
            ..Limits::default()
        },
        ..case("loop fuel", || wat("loop"), &[])
    });
    cases.push(Case {
        limits: Limits {
            deadline: Some(Duration::from_millis(50)),
            ..Limits::default()
        },
        ..case("loop deadline", || wat("loop"), &[])
    });
    cases
}

#[test]
fn both_engines_give_identical_results_on_every_guest() {
    let mut differences = Vec::new();
    for c in cases() {
        let wasm = (c.wasm)();
        let setup = Setup {
            limits: c.limits.clone(),
            args: args(c.args),
            clock: c.clock,
            ..Setup::default()
        };
        let jit = observe(Strategy::Jit, "prog.wasm", &wasm, &setup);
        let interp = observe(Strategy::Interpreter, "prog.wasm", &wasm, &setup);
        if jit != interp {
            differences.push(format!(
                "{}:\n  jit:         {jit:?}\n  interpreter: {interp:?}",
                c.name
            ));
        }
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}
