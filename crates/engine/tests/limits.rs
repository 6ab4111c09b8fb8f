//! Limits in both engines: each is stopped with the error naming it, the host is unharmed and
//! the next run on the same engine works.

mod common;

use std::time::{Duration, Instant};

use common::*;
use veracruz_engine::{limit, Engine, EngineError, Limits, Strategy};

/// Runs `wasm` on `engine` and then a well-behaved program, which must still work.
fn run_then_recover(engine: &Engine, name: &str, wasm: &[u8]) -> Observed {
    let vfs = layout();
    let o = observe_with(engine, &vfs, name, wasm, &Setup::default());
    let after = observe_with(
        engine,
        &layout(),
        "exit.wasm",
        &wat("exit"),
        &Setup::default(),
    );
    assert_eq!(
        (after.result, after.stdout.as_str()),
        (Ok(7), "bye\n"),
        "{}: the run after {name} failed",
        engine.strategy()
    );
    o
}

fn engine(s: Strategy, limits: Limits) -> Engine {
    Engine::new(s, limits).unwrap()
}

#[test]
fn memory_bomb_is_stopped_by_the_memory_limit() {
    for s in Strategy::ALL {
        let e = engine(
            s,
            Limits {
                max_memory_bytes: 32 << 20,
                ..Limits::default()
            },
        );
        let o = run_then_recover(&e, "membomb.wasm", &fixture("membomb"));
        assert_eq!(o.result, Err(EngineError::Limit(limit::MEMORY)), "{s} (C)");
        assert_eq!(o.stdout, "", "{s}: malloc never reported failure");
        let o = run_then_recover(&e, "memgrow.wasm", &wat("memgrow"));
        assert_eq!(
            o.result,
            Err(EngineError::Limit(limit::MEMORY)),
            "{s} (WAT)"
        );
        let o = run_then_recover(&e, "bigmem.wasm", &wat("bigmem"));
        assert_eq!(
            o.result,
            Err(EngineError::Limit(limit::MEMORY)),
            "{s} (initial)"
        );
    }
}

#[test]
fn infinite_loop_is_stopped_by_fuel() {
    for s in Strategy::ALL {
        let e = engine(
            s,
            Limits {
                fuel: Some(5_000_000),
                ..Limits::default()
            },
        );
        let o = run_then_recover(&e, "loop.wasm", &wat("loop"));
        assert_eq!(o.result, Err(EngineError::Limit(limit::FUEL)), "{s}");
    }
}

#[test]
fn infinite_loop_is_stopped_by_the_deadline() {
    for s in Strategy::ALL {
        let e = engine(
            s,
            Limits {
                deadline: Some(Duration::from_millis(200)),
                ..Limits::default()
            },
        );
        let started = Instant::now();
        let o = observe_with(&e, &layout(), "loop.wasm", &wat("loop"), &Setup::default());
        let took = started.elapsed();
        assert_eq!(o.result, Err(EngineError::Limit(limit::TIME)), "{s}");
        assert!(
            took >= Duration::from_millis(200) && took < Duration::from_secs(3),
            "{s}: stopped after {took:?}"
        );
        run_then_recover(&e, "return.wasm", &wat("return"));
    }
}

#[test]
fn fuel_and_deadline_together_stop_at_whichever_comes_first() {
    for s in Strategy::ALL {
        let e = engine(
            s,
            Limits {
                fuel: Some(3_000_000),
                deadline: Some(Duration::from_secs(30)),
                ..Limits::default()
            },
        );
        let o = run_then_recover(&e, "loop.wasm", &wat("loop"));
        assert_eq!(o.result, Err(EngineError::Limit(limit::FUEL)), "{s}");
    }
}

#[test]
fn fuel_use_is_reported() {
    for s in Strategy::ALL {
        let e = engine(
            s,
            Limits {
                fuel: Some(u64::MAX / 2),
                ..Limits::default()
            },
        );
        let wasi = veracruz_wasi::WasiCtx::new(
            e.wasi_config(&veracruz_engine::Invocation::default()),
            layout().handle(program_caps()),
        )
        .unwrap();
        let outcome = e.run(&wat("exit"), wasi).result.unwrap();
        assert_eq!(outcome.exit_code, 7);
        let used = outcome.fuel_consumed.unwrap();
        assert!(used > 0 && used < 10_000, "{s}: {used}");
    }
}

#[test]
fn huge_output_is_stopped_by_the_output_limit() {
    for s in Strategy::ALL {
        let e = engine(
            s,
            Limits {
                max_output_bytes: 1 << 20,
                ..Limits::default()
            },
        );
        let o = run_then_recover(&e, "output.wasm", &wat("output"));
        assert_eq!(o.result, Err(EngineError::Limit(limit::OUTPUT)), "{s}");
        assert!(o.stdout.len() <= 1 << 20, "{s}: {} bytes", o.stdout.len());
    }
}

#[test]
fn descriptor_hoarding_is_stopped_by_the_open_file_limit() {
    for s in Strategy::ALL {
        let e = engine(
            s,
            Limits {
                max_open_files: 16,
                ..Limits::default()
            },
        );
        let o = run_then_recover(&e, "openfiles.wasm", &wat("openfiles"));
        assert_eq!(o.result, Err(EngineError::Limit(limit::OPEN_FILES)), "{s}");
    }
}

#[test]
fn traps_stop_the_program_and_nothing_else() {
    use veracruz_engine::TrapKind;
    for s in Strategy::ALL {
        let e = engine(s, Limits::default());
        for (name, want) in [
            ("unreachable", TrapKind::Unreachable),
            ("div0", TrapKind::IntegerDivisionByZero),
            ("oob", TrapKind::MemoryOutOfBounds),
            ("recursion", TrapKind::StackOverflow),
        ] {
            let o = run_then_recover(&e, name, &wat(name));
            assert_eq!(o.result, Err(EngineError::Trap(want)), "{s}: {name}");
        }
    }
}

#[test]
fn unknown_imports_are_refused_with_their_name() {
    for s in Strategy::ALL {
        let e = engine(s, Limits::default());
        let cases = [
            ("unknown_import", "env", "steal_secrets"),
            ("unknown_wasi", "wasi_snapshot_preview1", "sock_open"),
            ("bad_signature", "wasi_snapshot_preview1", "fd_write"),
            ("import_memory", "wasi_snapshot_preview1", "memory"),
        ];
        for (file, module, name) in cases {
            let o = run_then_recover(&e, file, &wat(file));
            match &o.result {
                Err(
                    err @ EngineError::Import {
                        module: m, name: n, ..
                    },
                ) => {
                    assert_eq!((m.as_str(), n.as_str()), (module, name), "{s}: {file}");
                    assert!(
                        err.to_string().contains(&format!("{module}::{name}")),
                        "{err}"
                    );
                }
                other => panic!("{s}: {file}: {other:?}"),
            }
            // Refused before it started: it printed nothing and changed nothing.
            assert_eq!(o.files, snapshot(&layout()), "{s}: {file}");
            assert!(e.prepare(&wat(file)).is_err());
        }
    }
}

#[test]
fn invalid_modules_are_refused() {
    for s in Strategy::ALL {
        let e = engine(s, Limits::default());
        let o = run_then_recover(&e, "garbage", b"\0asm\x01\0\0\0\x99garbage");
        assert!(
            matches!(o.result, Err(EngineError::Invalid(_))),
            "{s}: {:?}",
            o.result
        );
        let o = run_then_recover(&e, "no_start", &wat("no_start"));
        assert!(
            matches!(o.result, Err(EngineError::NoEntry(_))),
            "{s}: {:?}",
            o.result
        );
    }
}

#[test]
fn compiled_programs_are_cached_by_hash_within_a_bound() {
    for s in Strategy::ALL {
        cache_is_bounded(s);
    }
}

fn cache_is_bounded(s: Strategy) {
    let e = engine(s, Limits::default());
    let wasm = fixture("wasi_suite");
    e.prepare(&wasm).unwrap();
    e.prepare(&wasm).unwrap();
    assert_eq!(
        e.compiled_programs(),
        1,
        "the second prepare compiled again"
    );
    // Distinct programs fill the cache up to its bound and no further.
    for i in 0..40 {
        let src = format!("(module (func (export \"_start\") i32.const {i} drop))");
        e.prepare(&wat::parse_str(&src).unwrap()).unwrap();
    }
    let kept = e.compiled_programs();
    assert!((1..=16).contains(&kept), "{kept} compiled programs kept");
    // Programs that fail their checks are not kept.
    let before = e.compiled_programs();
    assert!(e.prepare(&wat("unknown_import")).is_err());
    assert_eq!(e.compiled_programs(), before);
}
