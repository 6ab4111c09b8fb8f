//! Benchmarks of the execution engine: a compute-bound C guest (SHA-256) in both engines
//! against the same C source compiled natively, and the latency of starting a program.
//!
//! `cargo bench -p veracruz-engine --bench engine`; results are recorded in
//! docs/PERFORMANCE.md.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use veracruz_engine::{Engine, Invocation, Limits, Strategy};
use veracruz_policy::{CapPath, CapabilityMap, Rights, Stream};
use veracruz_vfs::Vfs;
use veracruz_wasi::WasiCtx;

extern "C" {
    /// tests/guests/src/sha256.c, compiled natively by build.rs.
    fn veracruz_sha256_bench(bytes: u32, rounds: u32, out: *mut u8);
}

const BYTES: u32 = 1 << 20;
const ROUNDS: u32 = 4;

fn native(bytes: u32, rounds: u32) -> [u8; 32] {
    let mut out = [0u8; 32];
    // SAFETY: the C function writes exactly 32 bytes to `out`, which has room for them, and
    // touches no other memory of ours.
    unsafe { veracruz_sha256_bench(bytes, rounds, out.as_mut_ptr()) };
    out
}

fn guest(name: &str) -> Vec<u8> {
    let path = format!("{}/../../tests/guests/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn caps() -> CapabilityMap {
    CapabilityMap::from_entries([
        (CapPath::Stream(Stream::Stdout), Rights::WRITE),
        (CapPath::Stream(Stream::Stderr), Rights::WRITE),
    ])
}

/// Runs `wasm` with `args` in a fresh VFS and returns its stdout.
fn run(engine: &Engine, wasm: &[u8], args: &[&str]) -> Vec<u8> {
    let invocation = Invocation {
        program_name: "sha256.wasm".into(),
        args: args.iter().map(|s| s.to_string()).collect(),
        ..Invocation::default()
    };
    let wasi = WasiCtx::new(
        engine.wasi_config(&invocation),
        Vfs::default().handle(caps()),
    )
    .expect("WASI setup");
    let finished = engine.run(wasm, wasi);
    let outcome = finished.result.expect("guest run");
    assert_eq!(outcome.exit_code, 0);
    finished.wasi.stdout()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn compute(c: &mut Criterion) {
    let wasm = guest("sha256.wasm");
    let args = [BYTES.to_string(), ROUNDS.to_string()];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let want = format!("{}\n", hex(&native(BYTES, ROUNDS)));
    // Each engine without limits, and with the time limit a policy would set (the runtime
    // always has one, or fuel): epoch checks in the JIT, fuel slices in the interpreter.
    let limited = Limits {
        deadline: Some(Duration::from_secs(600)),
        ..Limits::default()
    };
    let engines: Vec<(String, Engine)> = Strategy::ALL
        .into_iter()
        .flat_map(|s| {
            [
                (s.to_string(), Engine::new(s, Limits::default()).unwrap()),
                (
                    format!("{s}+time-limit"),
                    Engine::new(s, limited.clone()).unwrap(),
                ),
            ]
        })
        .collect();
    for (_, e) in &engines {
        // The guest computes exactly what the native code computes.
        assert_eq!(
            String::from_utf8(run(e, &wasm, &args)).unwrap(),
            want,
            "{}",
            e.strategy()
        );
    }

    let mut group = c.benchmark_group("sha256-4MiB");
    group.throughput(Throughput::Bytes(u64::from(BYTES) * u64::from(ROUNDS)));
    group.bench_function("native", |b| b.iter(|| native(BYTES, ROUNDS)));
    for (name, e) in &engines {
        group.bench_function(BenchmarkId::new("wasm", name), |b| {
            b.iter(|| run(e, &wasm, &args))
        });
    }
    group.finish();
}

fn startup(c: &mut Criterion) {
    let wasm = guest("sha256.wasm");
    let mut group = c.benchmark_group("startup");
    for s in Strategy::ALL {
        // Compile (JIT: Cranelift; interpreter: validation and translation) plus run of a
        // C program that does no work: what the first run of a program costs.
        group.bench_function(BenchmarkId::new("cold", s), |b| {
            b.iter(|| {
                let e = Engine::new(s, Limits::default()).unwrap();
                run(&e, &wasm, &["0", "0"])
            })
        });
        // The same program again on a warm engine: instantiation, libc start-up and exit (the
        // JIT takes the compiled module from its cache).
        let e = Engine::new(s, Limits::default()).unwrap();
        run(&e, &wasm, &["0", "0"]);
        group.bench_function(BenchmarkId::new("warm", s), |b| {
            b.iter(|| run(&e, &wasm, &["0", "0"]))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    targets = compute, startup
}
criterion_main!(benches);
