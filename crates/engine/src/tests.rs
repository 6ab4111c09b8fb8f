//! Engine plumbing on programs that import nothing: limits and traps in both engines.

use std::time::{Duration, Instant};

use crate::host::{Abort, HostCalls};
use crate::{limit, Engine, EngineError, Limits, Strategy, TrapKind};

/// The host side of a program that imports nothing: never called.
struct NoImports;

impl HostCalls for NoImports {
    fn call(&mut self, index: usize, _mem: &mut [u8], _args: &[i64]) -> Result<i32, Abort> {
        Err(Abort::Trap(format!("no host function {index}")))
    }

    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any> {
        self
    }
}

fn wat(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../../tests/guests/wat/{name}.wat",
        env!("CARGO_MANIFEST_DIR")
    );
    wat::parse_file(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn run(strategy: Strategy, limits: Limits, name: &str) -> Result<i32, EngineError> {
    let engine = Engine::new(strategy, limits).unwrap();
    engine
        .run_host(&wat(name), Box::new(NoImports))
        .0
        .map(|o| o.exit_code)
}

#[test]
fn infinite_loop_is_stopped_by_fuel_and_by_deadline() {
    for s in Strategy::ALL {
        let fuel = Limits {
            fuel: Some(1_000_000),
            ..Limits::default()
        };
        assert_eq!(
            run(s, fuel, "loop"),
            Err(EngineError::Limit(limit::FUEL)),
            "{s}"
        );
        let time = Limits {
            deadline: Some(Duration::from_millis(100)),
            ..Limits::default()
        };
        let started = Instant::now();
        assert_eq!(
            run(s, time, "loop"),
            Err(EngineError::Limit(limit::TIME)),
            "{s}"
        );
        assert!(started.elapsed() < Duration::from_secs(5), "{s}");
    }
}

#[test]
fn initial_memory_over_the_limit_is_refused() {
    for s in Strategy::ALL {
        let limits = Limits {
            max_memory_bytes: 64 << 20,
            ..Limits::default()
        };
        assert_eq!(
            run(s, limits, "bigmem"),
            Err(EngineError::Limit(limit::MEMORY)),
            "{s}"
        );
    }
}

#[test]
fn traps_are_named_alike_in_both_engines() {
    for s in Strategy::ALL {
        let l = Limits::default;
        assert_eq!(
            run(s, l(), "unreachable"),
            Err(EngineError::Trap(TrapKind::Unreachable))
        );
        assert_eq!(
            run(s, l(), "div0"),
            Err(EngineError::Trap(TrapKind::IntegerDivisionByZero))
        );
        assert_eq!(
            run(s, l(), "oob"),
            Err(EngineError::Trap(TrapKind::MemoryOutOfBounds))
        );
        assert_eq!(
            run(s, l(), "recursion"),
            Err(EngineError::Trap(TrapKind::StackOverflow))
        );
        assert!(matches!(
            run(s, l(), "no_start"),
            Err(EngineError::NoEntry(_))
        ));
    }
}

/// The interpreter runs on its caller's thread: however long or deep the guest runs, the host
/// stack must not grow with it (a dispatch that did would abort the whole process).
#[test]
fn the_interpreter_runs_in_constant_host_stack() {
    let small_stack = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(|| {
            let long = Limits {
                fuel: Some(20_000_000),
                ..Limits::default()
            };
            let looped = run(Strategy::Interpreter, long, "loop");
            let deep = run(Strategy::Interpreter, Limits::default(), "recursion");
            (looped, deep)
        })
        .unwrap();
    let (looped, deep) = small_stack.join().expect("the run thread survived");
    assert_eq!(looped, Err(EngineError::Limit(limit::FUEL)));
    assert_eq!(deep, Err(EngineError::Trap(TrapKind::StackOverflow)));
}

#[test]
fn an_engine_can_be_shared_between_threads() {
    fn shared<T: Send + Sync>() {}
    shared::<Engine>();
    let engine = Engine::new(Strategy::Jit, Limits::default()).unwrap();
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                let r = engine.run_host(&wat("unreachable"), Box::new(NoImports)).0;
                assert_eq!(
                    r.map(|o| o.exit_code),
                    Err(EngineError::Trap(TrapKind::Unreachable))
                );
            });
        }
    });
}

/// Fuel measures the program's work alone: the interpreter translates every function before
/// the run, so translating one is never charged to the run that first calls it (which would
/// make a first run cost more than later ones, and could stop a run in the middle of a
/// translation, where it cannot resume).
#[test]
fn fuel_used_is_the_same_on_every_run_of_a_program() {
    let body = "(drop (i32.add (local.get 0) (i32.const 1)))\n".repeat(2000);
    let module = format!(
        r#"(module
             (func $big (param i32) {body})
             (func (export "_start") (call $big (i32.const 1)))
             (memory (export "memory") 1))"#
    );
    let wasm = wat::parse_str(&module).unwrap();
    for s in Strategy::ALL {
        let engine = Engine::new(
            s,
            Limits {
                fuel: Some(10_000_000),
                ..Limits::default()
            },
        )
        .unwrap();
        let used: Vec<Option<u64>> = (0..2)
            .map(|_| {
                let outcome = engine.run_host(&wasm, Box::new(NoImports)).0.unwrap();
                assert_eq!(outcome.exit_code, 0, "{s}");
                outcome.fuel_consumed
            })
            .collect();
        assert!(used[0].is_some_and(|f| f > 0), "{s}: {used:?}");
        assert_eq!(used[0], used[1], "{s}: fuel of a first and a second run");
    }
}
