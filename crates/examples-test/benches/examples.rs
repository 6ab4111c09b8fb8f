//! Benchmark of every example on its large generated inputs: the native build against the
//! committed wasm module under our JIT (also with `hardware_nans`), the `wasmtime` CLI and our
//! interpreter, printed as a
//! Markdown table (and written as JSON to `$VERACRUZ_BENCH_JSON` when set).
//!
//! ```text
//! scripts/bench-examples.sh [EXAMPLE ...]     # installs the wasmtime CLI first
//! cargo bench -p veracruz-examples-test --bench examples [-- EXAMPLE ...]
//! ```
//! The `wasmtime` CLI is `$VERACRUZ_WASMTIME_CLI`, else `wasmtime` on `PATH`; it must be the
//! version the engine links (checked), and without it the CLI columns are left out and say
//! so. It runs each module precompiled (`wasmtime compile`, not timed) twice: with the
//! engine's configuration (NaN canonicalisation, epoch interruption for the time limit) and
//! with the CLI's defaults. Its figure is the whole process, like the native one. A CLI run
//! longer than `VERACRUZ_BENCH_CLI_TIMEOUT_S` (default 60) seconds is stopped and reported as
//! such (the CLI's WASI lists a directory in quadratic time, which private-auction's 20,000
//! files turn into hours).
//! `VERACRUZ_BENCH_REPS` (default 3) runs per native and JIT measurement, and
//! `VERACRUZ_BENCH_INTERP_REPS` (default 1) per interpreter measurement; the median is
//! reported. Inputs are generated (seed 1) under `VERACRUZ_BENCH_DIR`, default
//! `$TMPDIR/veracruz-examples-bench`. The wasm figures are the programs' execution in the
//! engine with the module already compiled, excluding copying files into and out of the VFS;
//! the native figure is the whole process, reading its inputs from the page cache.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use veracruz_engine::{Nans, Strategy};
use veracruz_examples_test::gen::{self, Size};
use veracruz_examples_test::harness::{read_tree, run_native, wasm_path, Spec, SPECS};
use veracruz_examples_test::wasm::{policy_env, WasmRunner, TEMPLATE_TIME_LIMIT};

/// The wasmtime version `veracruz-engine` links, read from the workspace's Cargo.lock (as
/// scripts/bench-examples.sh does): the CLI must be the same.
fn linked_wasmtime_version() -> Result<String, String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.lock");
    let lock = fs::read_to_string(&path).map_err(|e| format!("{}: {}", path.display(), e))?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == "name = \"wasmtime\"" {
            if let Some(v) = lines.next().and_then(|l| l.strip_prefix("version = ")) {
                return Ok(v.trim_matches('"').to_string());
            }
        }
    }
    Err(format!("{} names no wasmtime package", path.display()))
}

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

/// How the `wasmtime` CLI is configured for a measurement.
#[derive(Clone, Copy, PartialEq)]
enum CliConfig {
    /// What `veracruz-engine` sets: NaN canonicalisation, and epoch interruption for the
    /// templates' time limit.
    Engine,
    /// The CLI's defaults.
    Default,
}

impl CliConfig {
    fn name(self) -> &'static str {
        match self {
            CliConfig::Engine => "engine",
            CliConfig::Default => "default",
        }
    }

    /// `-W` options for `wasmtime compile` and `wasmtime run`; a precompiled module only
    /// loads under the settings it was compiled with.
    fn wasm_options(self, run: bool) -> Vec<String> {
        match self {
            CliConfig::Default => Vec::new(),
            CliConfig::Engine if run => vec![
                "-W".into(),
                format!(
                    "nan-canonicalization=y,epoch-interruption=y,timeout={}s",
                    TEMPLATE_TIME_LIMIT.as_secs()
                ),
            ],
            CliConfig::Engine => vec![
                "-W".into(),
                "nan-canonicalization=y,epoch-interruption=y".into(),
            ],
        }
    }
}

/// The `wasmtime` CLI, with each example's modules compiled ahead of time in `dir`.
struct WasmtimeCli {
    exe: PathBuf,
    dir: PathBuf,
}

impl WasmtimeCli {
    /// Finds the CLI and checks its version; `Err` says why the CLI columns are left out.
    fn find(dir: PathBuf) -> Result<WasmtimeCli, String> {
        let exe = std::env::var_os("VERACRUZ_WASMTIME_CLI")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("wasmtime"));
        let out = Command::new(&exe).arg("--version").output().map_err(|e| {
            format!(
                "cannot run `{} --version` ({}); scripts/bench-examples.sh installs it, or set \
                 VERACRUZ_WASMTIME_CLI",
                exe.display(),
                e
            )
        })?;
        let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let linked = linked_wasmtime_version()?;
        if !version.starts_with(&format!("wasmtime {} ", linked))
            && version != format!("wasmtime {}", linked)
        {
            return Err(format!(
                "{} reports `{}`, but the engine links wasmtime {}; the comparison needs the \
                 same version",
                exe.display(),
                version,
                linked
            ));
        }
        fs::create_dir_all(&dir).map_err(|e| format!("{}: {}", dir.display(), e))?;
        Ok(WasmtimeCli { exe, dir })
    }

    fn cwasm(&self, program: &str, config: CliConfig) -> PathBuf {
        self.dir
            .join(format!("{}.{}.cwasm", program, config.name()))
    }

    /// Compiles the example's modules under `config` (not timed).
    fn prepare(&self, spec: &Spec, config: CliConfig) {
        for program in spec.programs {
            let out = Command::new(&self.exe)
                .arg("compile")
                .args(config.wasm_options(false))
                .arg("-o")
                .arg(self.cwasm(program, config))
                .arg(wasm_path(program))
                .output()
                .expect("run wasmtime compile");
            assert!(
                out.status.success(),
                "wasmtime compile {}: {}",
                program,
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    /// Runs the example's programs in order, as whole processes, with `root` as the guest's
    /// `/` and the template's environment. `None`: stopped after `timeout`.
    fn run(
        &self,
        spec: &Spec,
        root: &Path,
        config: CliConfig,
        timeout: Duration,
    ) -> Option<Duration> {
        let env = policy_env(spec.name).expect("policy template");
        fs::create_dir_all(root.join("output")).expect("create output directory");
        let started = Instant::now();
        for program in spec.programs {
            let mut cmd = Command::new(&self.exe);
            cmd.arg("run")
                .arg("--allow-precompiled")
                .args(config.wasm_options(true))
                // The CLI's WASI caps the bytes one host call may move (a single `fd_read` of
                // a 140 MB input fails with ENOMEM); the engine has no such cap.
                .arg("-S")
                .arg("hostcall-fuel=4294967295")
                .arg("--dir")
                .arg(format!("{}::/", root.display()));
            for (k, v) in &env {
                cmd.arg("--env").arg(format!("{}={}", k, v));
            }
            let mut child = cmd
                .arg(self.cwasm(program, config))
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("run wasmtime");
            let status = loop {
                if let Some(status) = child.try_wait().expect("wait for wasmtime") {
                    break status;
                }
                if started.elapsed() > timeout {
                    let _ = child.kill();
                    let _ = child.wait();
                    return None;
                }
                std::thread::sleep(Duration::from_millis(2));
            };
            let mut stderr = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut stderr);
            }
            assert!(
                status.success(),
                "{} failed under the wasmtime CLI ({}): {}",
                program,
                config.name(),
                stderr
            );
        }
        Some(started.elapsed())
    }
}

fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64()
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
    let jit_hw = WasmRunner::with_nans(Strategy::Jit, Nans::Hardware).expect("JIT engine");
    let interp = WasmRunner::new(Strategy::Interpreter).expect("interpreter engine");
    let cli = match WasmtimeCli::find(base.join("cwasm")) {
        Ok(cli) => Some(cli),
        Err(why) => {
            println!("wasmtime CLI columns left out: {}\n", why);
            None
        }
    };
    let json_out = std::env::var_os("VERACRUZ_BENCH_JSON").map(PathBuf::from);
    let cli_timeout = Duration::from_secs(env_count("VERACRUZ_BENCH_CLI_TIMEOUT_S", 60) as u64);
    let mut rows = Vec::new();

    println!(
        "| example | input | native | JIT | JIT, hardware NaNs | CLI (engine config) \
         | CLI (default) | interpreter | JIT / native | JIT, hardware NaNs / native | JIT / CLI \
         | CLI (default) / native | interpreter / native |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
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

        let mut outputs: Vec<(String, BTreeMap<String, Vec<u8>>)> = Vec::new();
        let mut native = Vec::new();
        for _ in 0..reps {
            clear_outputs(&root);
            native.push(run_native_once(spec, &root));
        }
        outputs.push((
            "native".into(),
            read_tree(&root.join("output")).expect("outputs"),
        ));

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
            outputs.push((
                runner.describe(),
                read_tree(&root.join("output")).expect("outputs"),
            ));
            median(times)
        };
        let jit_time = timed(&jit, reps);
        let jit_hw_time = timed(&jit_hw, reps);
        let interp_time = timed(&interp, interp_reps);
        // Per configuration: `None` if the CLI is missing, `Some(None)` if a run timed out.
        let mut cli_times: Vec<Option<Duration>> = Vec::new();
        if let Some(cli) = &cli {
            for config in [CliConfig::Engine, CliConfig::Default] {
                cli.prepare(spec, config);
                let mut times = Vec::new();
                for _ in 0..reps {
                    clear_outputs(&root);
                    match cli.run(spec, &root, config, cli_timeout) {
                        Some(t) => times.push(t),
                        None => break,
                    }
                }
                if times.len() < reps {
                    cli_times.push(None);
                    continue;
                }
                outputs.push((
                    format!("the wasmtime CLI ({})", config.name()),
                    read_tree(&root.join("output")).expect("outputs"),
                ));
                cli_times.push(Some(median(times)));
            }
        }
        let native_time = median(native);
        for pair in outputs.windows(2) {
            assert!(
                pair[0].1 == pair[1].1,
                "{}: outputs differ between {} and {} on the large inputs",
                spec.name,
                pair[0].0,
                pair[1].0
            );
        }
        // A CLI cell: its figure, "> timeout" if it was stopped, "—" without the CLI.
        let cli_cell =
            |i: usize, f: &dyn Fn(Duration) -> String, over: &dyn Fn() -> String| match cli_times
                .get(i)
            {
                None => "—".to_string(),
                Some(Some(t)) => f(*t),
                Some(None) => over(),
            };
        let timeout_s = cli_timeout.as_secs_f64();
        println!(
            "| {} | {:.1} MB | {} | {} | {} | {} | {} | {} | {:.2} | {:.2} | {} | {} | {:.1} |",
            spec.name,
            bytes as f64 / 1e6,
            secs(native_time),
            secs(jit_time),
            secs(jit_hw_time),
            cli_cell(0, &secs, &|| format!("> {timeout_s:.0} s")),
            cli_cell(1, &secs, &|| format!("> {timeout_s:.0} s")),
            secs(interp_time),
            ratio(jit_time, native_time),
            ratio(jit_hw_time, native_time),
            cli_cell(0, &|t| format!("{:.2}", ratio(jit_time, t)), &|| {
                format!("< {:.3}", jit_time.as_secs_f64() / timeout_s)
            }),
            cli_cell(1, &|t| format!("{:.2}", ratio(t, native_time)), &|| {
                format!("> {:.0}", timeout_s / native_time.as_secs_f64())
            }),
            ratio(interp_time, native_time),
        );
        let cli_json = |i: usize| cli_times.get(i).copied().flatten().map(|t| t.as_secs_f64());
        let timed_out = |i: usize| matches!(cli_times.get(i), Some(None));
        rows.push(serde_json::json!({
            "example": spec.name,
            "input_bytes": bytes,
            "native_s": native_time.as_secs_f64(),
            "jit_s": jit_time.as_secs_f64(),
            "jit_hardware_nans_s": jit_hw_time.as_secs_f64(),
            "cli_engine_config_s": cli_json(0),
            "cli_engine_config_timed_out": timed_out(0),
            "cli_default_s": cli_json(1),
            "cli_default_timed_out": timed_out(1),
            "interpreter_s": interp_time.as_secs_f64(),
        }));
        // Written after every example, so an interrupted run keeps what it measured.
        if let Some(path) = &json_out {
            let doc = serde_json::json!({
                "reps": reps,
                "interpreter_reps": interp_reps,
                "cli_timeout_s": timeout_s,
                "wasmtime_cli": cli.as_ref().map(|c| c.exe.display().to_string()),
                "rows": rows,
            });
            fs::write(
                path,
                serde_json::to_string_pretty(&doc).expect("json") + "\n",
            )
            .unwrap_or_else(|e| panic!("writing {}: {}", path.display(), e));
        }
        clear_outputs(&root);
        fs::remove_dir_all(&root).expect("remove benchmark inputs");
    }
}
