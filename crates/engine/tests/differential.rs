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

/// By default both engines give the canonical NaN; with `Nans::Hardware` the JIT leaves the
/// bits the CPU produced, and the interpreter stays canonical.
#[test]
fn nan_bits_are_canonical_unless_hardware_nans_are_asked_for() {
    use veracruz_engine::{Engine, Invocation, Nans};
    use veracruz_wasi::WasiCtx;

    let wasm = wat("nan");
    let bits = |strategy: Strategy, nans: Nans| -> Vec<u8> {
        let engine = Engine::with_nans(strategy, Limits::default(), nans).unwrap();
        let wasi = WasiCtx::new(
            engine.wasi_config(&Invocation::default()),
            layout().handle(program_caps()),
        )
        .unwrap();
        let finished = engine.run(&wasm, wasi);
        assert_eq!(finished.result.map(|o| o.exit_code), Ok(0));
        finished.wasi.stdout()
    };
    let mut canonical = Vec::new();
    canonical.extend_from_slice(&0x7fc0_0000u32.to_le_bytes());
    canonical.extend_from_slice(&0x7fc0_0000u32.to_le_bytes());
    canonical.extend_from_slice(&0x7ff8_0000_0000_0000u64.to_le_bytes());
    canonical.extend_from_slice(&0x7ff8_0000_0000_0000u64.to_le_bytes());
    for strategy in Strategy::ALL {
        assert_eq!(bits(strategy, Nans::Canonical), canonical, "{strategy}");
    }
    assert_eq!(bits(Strategy::Interpreter, Nans::Hardware), canonical);
    let hardware = bits(Strategy::Jit, Nans::Hardware);
    assert_eq!(hardware.len(), canonical.len());
    // x86-64 gives its default NaN (sign bit set) for sqrt(-1) and keeps payloads.
    #[cfg(target_arch = "x86_64")]
    assert_eq!(&hardware[..4], &0xffc0_0000u32.to_le_bytes());
    assert_ne!(hardware, canonical);
}
