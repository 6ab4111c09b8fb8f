//! Benchmark of every example on its large generated inputs: the native build against the
//! committed wasm module under the JIT and the interpreter, printed as a Markdown table.
//!
//! ```text
//! cargo bench -p veracruz-examples-test [-- EXAMPLE ...]
//! ```
//! `VERACRUZ_BENCH_REPS` (default 3) runs per native and JIT measurement, and
//! `VERACRUZ_BENCH_INTERP_REPS` (default 1) per interpreter measurement; the median is
//! reported. Inputs are generated (seed 1) under `VERACRUZ_BENCH_DIR`, default
//! `$TMPDIR/veracruz-examples-bench`. The wasm figures are the programs' execution in the
//! engine with the module already compiled, excluding copying files into and out of the VFS;
//! the native figure is the whole process, reading its inputs from the page cache.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use veracruz_engine::Strategy;
use veracruz_examples_test::gen::{self, Size};
use veracruz_examples_test::harness::{read_tree, run_native, Spec, SPECS};
use veracruz_examples_test::wasm::{policy_env, WasmRunner};

fn native_exe(program: &str) -> &'static str {
    veracruz_examples_test::native_exe!(program)
}

fn env_count(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{}=`{}` is not a count", name, v)),
        Err(_) => default,
    }
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn clear_outputs(root: &Path) {
    let out = root.join("output");
    if out.exists() {
        fs::remove_dir_all(&out).expect("remove previous outputs");
    }
}

fn input_bytes(root: &Path) -> u64 {
    read_tree(&root.join("input"))
        .expect("read inputs")
        .values()
        .map(|b| b.len() as u64)
        .sum()
}

fn run_native_once(spec: &Spec, root: &Path) -> Duration {
    let env = policy_env(spec.name).expect("policy template");
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let started = Instant::now();
    for program in spec.programs {
        let exit = run_native(Path::new(native_exe(program)), root, &env).expect("run native");
        assert_eq!(exit.code, 0, "{} failed natively: {}", program, exit.stderr);
    }
    started.elapsed()
}

fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

fn main() {
    let wanted: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let reps = env_count("VERACRUZ_BENCH_REPS", 3).max(1);
    let interp_reps = env_count("VERACRUZ_BENCH_INTERP_REPS", 1).max(1);
    let base = std::env::var_os("VERACRUZ_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("veracruz-examples-bench"));
    let jit = WasmRunner::new(Strategy::Jit).expect("JIT engine");
    let interp = WasmRunner::new(Strategy::Interpreter).expect("interpreter engine");

    println!(
        "| example | input | native | JIT | interpreter | JIT / native | interpreter / native |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for spec in SPECS
        .iter()
        .filter(|s| wanted.is_empty() || wanted.iter().any(|w| w == s.name))
    {
        let root = base.join(spec.name);
        if root.exists() {
            fs::remove_dir_all(&root).expect("clear benchmark directory");
        }
        gen::generate(spec.name, &root, Size::Large, 1).expect("generate inputs");
        let bytes = input_bytes(&root);

        let mut outputs: Vec<BTreeMap<String, Vec<u8>>> = Vec::new();
        let mut native = Vec::new();
        for _ in 0..reps {
            clear_outputs(&root);
            native.push(run_native_once(spec, &root));
        }
        outputs.push(read_tree(&root.join("output")).expect("outputs"));

        let mut timed = |runner: &WasmRunner, n: usize| {
            runner.prepare(spec).expect("compile");
            let mut times = Vec::new();
            for _ in 0..n {
                clear_outputs(&root);
                let (exit, elapsed) = runner.run(spec, &root).expect("wasm run");
                assert_eq!(
                    exit.code,
                    0,
                    "{} failed under {}: {}",
                    spec.name,
                    runner.strategy(),
                    exit.stderr
                );
                times.push(elapsed);
            }
            outputs.push(read_tree(&root.join("output")).expect("outputs"));
            median(times)
        };
        let jit_time = timed(&jit, reps);
        let interp_time = timed(&interp, interp_reps);
        let native_time = median(native);
        assert!(
            outputs.windows(2).all(|w| w[0] == w[1]),
            "{}: outputs differ between native and the engines on the large inputs",
            spec.name
        );
        println!(
            "| {} | {:.1} MB | {} | {} | {} | {:.2} | {:.1} |",
            spec.name,
            bytes as f64 / 1e6,
            secs(native_time),
            secs(jit_time),
            secs(interp_time),
            jit_time.as_secs_f64() / native_time.as_secs_f64(),
            interp_time.as_secs_f64() / native_time.as_secs_f64()
        );
        clear_outputs(&root);
        fs::remove_dir_all(&root).expect("remove benchmark inputs");
    }
}
