//! `veracruz run`: the freestanding runner. Runs a program or a pipeline locally, with the same
//! engine and WASI layer as the attested runtime, over host directories copied into the VFS.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use veracruz_engine::pipeline::{self, Programs};
use veracruz_engine::{Engine, Invocation, Limits, Nans, Strategy};
use veracruz_policy::{CapPath, CapabilityMap, Rights, Stream};
use veracruz_vfs::Vfs;

/// Most bytes read from the host's stdin into the program's stdin.
const MAX_STDIN_BYTES: u64 = 256 << 20;

#[derive(Args, Debug)]
#[command(
    about = "Run a WebAssembly program or a pipeline locally, as the runtime would",
    long_about = "Run a WebAssembly (WASI preview 1) program, or a pipeline of programs, on this \
machine with the same engine and the same WASI implementation as the attested runtime. Use it to \
develop and test programs before provisioning them.\n\n\
The program sees only an in-memory file system. --map copies a host directory into it before the \
run and gives the program read and write rights there; --output copies a directory of it back to \
the host after the run (also when the program fails, so partial results can be inspected). Nothing \
else of the host is reachable. The program's stdin is this command's stdin when that is not a \
terminal; its stdout and stderr are printed when it ends. This command exits with the program's \
exit code.",
    after_help = "Examples:\n  \
  # Run a program on ./data, seen by the program as /input, and collect /output into ./results\n  \
  veracruz run stats.wasm --map ./data:/input --output /output:./results\n\n  \
  # Pass arguments after the module (argv[0] is the module's file name)\n  \
  veracruz run tool.wasm --strategy interpreter -- --verbose input.csv\n\n  \
  # Map a directory as the root of the file system, bound the run, log every WASI call\n  \
  veracruz run prog.wasm --map ./work:/ --fuel 100000000 --max-memory-mib 64 --trace\n\n  \
  # Run a pipeline; programs named by file name are read from the script's directory,\n  \
  # programs named by an absolute path are read from the file system, e.g. a mapped directory\n  \
  veracruz run --pipeline steps.pipeline --map ./in:/input --output /output:./out"
)]
pub struct RunArgs {
    /// The program (a .wasm module) to run.
    #[arg(value_name = "PROGRAM.wasm", required_unless_present = "pipeline")]
    program: Option<PathBuf>,

    /// Arguments for the program (after the module path; use `--` before ones that start with `-`).
    #[arg(
        value_name = "ARGS",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    args: Vec<String>,

    /// Run the pipeline in SCRIPT (`a.wasm; if /output/x { b.wasm } else { c.wasm }`) instead.
    #[arg(long, value_name = "SCRIPT", conflicts_with = "program")]
    pipeline: Option<PathBuf>,

    /// Copy host directory HOSTDIR into the VFS at /vfs/dir before the run, readable and
    /// writable by the program (repeatable; `DIR:/` makes DIR the root).
    #[arg(long = "map", value_name = "HOSTDIR:/vfs/dir")]
    maps: Vec<String>,

    /// Copy VFS directory /vfs/dir to HOSTDIR after the run; the program may read and write
    /// there (repeatable).
    #[arg(long = "output", value_name = "/vfs/dir:HOSTDIR")]
    outputs: Vec<String>,

    /// Engine: `jit` (wasmtime, fast to run) or `interpreter` (wasmi, fast to start).
    #[arg(long, default_value = "jit", value_name = "jit|interpreter")]
    strategy: Strategy,

    /// Set an environment variable for the program (repeatable).
    #[arg(long = "env", value_name = "K=V")]
    env: Vec<String>,

    /// Let the program read the clocks (without it runs are deterministic).
    #[arg(long)]
    clock: bool,

    /// Let the JIT leave NaN bits as the CPU produces them: faster float code, but NaN bits
    /// may then differ between engines and CPUs (the interpreter is canonical either way).
    #[arg(long)]
    hardware_nans: bool,

    /// Stop the program after this much fuel (about one unit per WebAssembly instruction).
    #[arg(long, value_name = "N")]
    fuel: Option<u64>,

    /// Largest linear memory the program may have, in MiB.
    #[arg(long, value_name = "N", default_value_t = 1024)]
    max_memory_mib: u64,

    /// Log every WASI call with its arguments and errno to stderr.
    #[arg(long)]
    trace: bool,
}

/// A `--map` argument: host directory and VFS directory.
fn parse_map(s: &str) -> Result<(PathBuf, String)> {
    let (host, vfs) = s
        .rsplit_once(':')
        .filter(|(h, v)| !h.is_empty() && v.starts_with('/'))
        .ok_or_else(|| anyhow!("--map {s}: expected HOSTDIR:/vfs/dir"))?;
    check_vfs_dir(vfs).with_context(|| format!("--map {s}"))?;
    Ok((PathBuf::from(host), vfs.to_string()))
}

/// An `--output` argument: VFS directory and host directory.
fn parse_output(s: &str) -> Result<(String, PathBuf)> {
    let (vfs, host) = s
        .split_once(':')
        .filter(|(v, h)| v.starts_with('/') && !h.is_empty())
        .ok_or_else(|| anyhow!("--output {s}: expected /vfs/dir:HOSTDIR"))?;
    check_vfs_dir(vfs).with_context(|| format!("--output {s}"))?;
    Ok((vfs.to_string(), PathBuf::from(host)))
}

fn check_vfs_dir(path: &str) -> Result<()> {
    match CapPath::parse(path)? {
        CapPath::Tree(_) => Ok(()),
        CapPath::Stream(_) => bail!("`{path}` is a stream, not a directory"),
    }
}

fn parse_env(s: &str) -> Result<(String, String)> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => bail!("--env {s}: expected KEY=VALUE"),
    }
}

pub fn run(args: RunArgs) -> Result<ExitCode> {
    if args.trace {
        // Only for this command: WASI calls are logged at `info` under the `wasi` target, and
        // the engine carries this dispatcher to the threads it runs programs on.
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("warn,wasi=info"))
            .with_writer(std::io::stderr)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        execute(args)
    } else {
        execute(args)
    }
}

fn execute(args: RunArgs) -> Result<ExitCode> {
    let maps = args
        .maps
        .iter()
        .map(|m| parse_map(m))
        .collect::<Result<Vec<_>>>()?;
    let outputs = args
        .outputs
        .iter()
        .map(|o| parse_output(o))
        .collect::<Result<Vec<_>>>()?;
    let env = args
        .env
        .iter()
        .map(|e| parse_env(e))
        .collect::<Result<Vec<_>>>()?;

    let vfs = Vfs::default();
    let mut caps = vec![
        (CapPath::Stream(Stream::Stdin), Rights::READ),
        (
            CapPath::Stream(Stream::Stdout),
            Rights::WRITE | Rights::APPEND,
        ),
        (
            CapPath::Stream(Stream::Stderr),
            Rights::WRITE | Rights::APPEND,
        ),
    ];
    for (host, dir) in &maps {
        let stats = vfs
            .load_host_dir(host, dir)
            .with_context(|| format!("loading {} into {dir}", host.display()))?;
        tracing::info!(host = %host.display(), vfs = %dir, files = stats.files, bytes = stats.bytes, "mapped");
        caps.push((CapPath::parse(dir)?, Rights::READ | Rights::WRITE));
    }
    for (dir, _) in &outputs {
        let path = CapPath::parse(dir)?;
        if let CapPath::Tree(components) = &path {
            vfs.lock()
                .create_dir_all(components)
                .with_context(|| format!("creating output directory {dir}"))?;
        }
        caps.push((path, Rights::READ | Rights::WRITE));
    }
    let caps = CapabilityMap::from_entries(caps);
    load_stdin(&vfs)?;

    let limits = Limits {
        max_memory_bytes: args
            .max_memory_mib
            .checked_mul(1 << 20)
            .context("--max-memory-mib is too large")?,
        fuel: args.fuel,
        ..Limits::default()
    };
    let engine = Engine::with_nans(args.strategy, limits, Nans::hardware_if(args.hardware_nans))
        .context("setting up the engine")?;
    let invocation = Invocation {
        program_name: String::new(),
        args: args.args.clone(),
        env,
        enable_clock: args.clock,
        trace: args.trace,
    };

    let result = match (&args.program, &args.pipeline) {
        (Some(program), _) => run_program(&engine, &vfs, &caps, program, invocation),
        (None, Some(script)) => {
            if !args.args.is_empty() {
                bail!("program arguments cannot be given with --pipeline");
            }
            run_pipeline(&engine, &vfs, &caps, script, invocation)
        }
        (None, None) => bail!("give a PROGRAM.wasm or --pipeline SCRIPT"),
    };

    // Results are written back whatever happened, as a program on a real system would have
    // left its files behind.
    print_streams(&vfs)?;
    for (dir, host) in &outputs {
        let stats = vfs
            .save_to_host_dir(dir, host)
            .with_context(|| format!("writing {dir} to {}", host.display()))?;
        if stats.skipped_symlinks > 0 {
            tracing::warn!(vfs = %dir, count = stats.skipped_symlinks, "symbolic links are not written to the host");
        }
    }
    let code = result?;
    Ok(match u8::try_from(code) {
        Ok(c) => ExitCode::from(c),
        // Exit codes outside 0..=255 cannot be passed on; they must not read as success.
        Err(_) => ExitCode::FAILURE,
    })
}

fn run_program(
    engine: &Engine,
    vfs: &Vfs,
    caps: &CapabilityMap,
    program: &Path,
    mut invocation: Invocation,
) -> Result<i32> {
    let wasm = std::fs::read(program).with_context(|| format!("reading {}", program.display()))?;
    invocation.program_name = program
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| program.display().to_string());
    let outcome = engine
        .run_program(&wasm, vfs.handle(caps.clone()), &invocation)
        .with_context(|| format!("running {}", program.display()))?;
    Ok(outcome.exit_code)
}

fn run_pipeline(
    engine: &Engine,
    vfs: &Vfs,
    caps: &CapabilityMap,
    script_path: &Path,
    invocation: Invocation,
) -> Result<i32> {
    let text = std::fs::read_to_string(script_path)
        .with_context(|| format!("reading {}", script_path.display()))?;
    let script = veracruz_policy::pipeline::parse(&text)
        .with_context(|| format!("parsing {}", script_path.display()))?;
    let base = script_path.parent().unwrap_or(Path::new("."));
    let reader = vfs.handle(CapabilityMap::from_entries([(
        CapPath::Tree(Vec::new()),
        Rights::READ,
    )]));
    let mut programs = Programs::new();
    for (name, pos) in script.programs() {
        if name.starts_with('/') {
            let wasm = reader
                .read_file(name)
                .with_context(|| format!("{}: {pos}: program {name}", script_path.display()))?;
            programs.insert(name, wasm)?;
        } else {
            let host = base.join(name);
            let wasm = std::fs::read(&host).with_context(|| {
                format!(
                    "{}: {pos}: reading program {}",
                    script_path.display(),
                    host.display()
                )
            })?;
            programs.insert(&format!("/program/{name}"), wasm)?;
        }
    }
    let outcome = pipeline::run(engine, &script, &programs, vfs, caps, &invocation)?;
    for step in &outcome.steps {
        tracing::info!(program = %step.program, exit_code = step.outcome.exit_code, "pipeline step finished");
    }
    if let Some(program) = &outcome.stopped_by {
        eprintln!(
            "pipeline stopped: {program} exited with code {}",
            outcome.exit_code()
        );
    }
    Ok(outcome.exit_code())
}

/// Gives the program this command's stdin, unless that is a terminal (a program reading it
/// would otherwise wait for typing nobody expects).
fn load_stdin(vfs: &Vfs) -> Result<()> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Ok(());
    }
    let mut data = Vec::new();
    stdin
        .lock()
        .take(MAX_STDIN_BYTES + 1)
        .read_to_end(&mut data)
        .context("reading stdin")?;
    if data.len() as u64 > MAX_STDIN_BYTES {
        bail!("stdin is longer than {MAX_STDIN_BYTES} bytes");
    }
    vfs.lock()
        .stream_set(Stream::Stdin, &data)
        .context("giving stdin to the program")?;
    Ok(())
}

fn print_streams(vfs: &Vfs) -> Result<()> {
    let fs = vfs.lock();
    std::io::stdout()
        .write_all(fs.stream(Stream::Stdout))
        .and_then(|()| std::io::stdout().flush())
        .context("writing the program's stdout")?;
    std::io::stderr()
        .write_all(fs.stream(Stream::Stderr))
        .context("writing the program's stderr")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_and_output_arguments() {
        assert_eq!(
            parse_map("./data:/input").unwrap(),
            (PathBuf::from("./data"), "/input".to_string())
        );
        assert_eq!(
            parse_map("dir:with:colons:/").unwrap(),
            (PathBuf::from("dir:with:colons"), "/".to_string())
        );
        assert!(parse_map("./data").is_err());
        assert!(parse_map("./data:relative").is_err());
        assert!(parse_map(":/input").is_err());
        assert!(parse_map("./d:/a/../b").is_err());
        assert_eq!(
            parse_output("/output:./results").unwrap(),
            ("/output".to_string(), PathBuf::from("./results"))
        );
        assert!(parse_output("output:./results").is_err());
        assert!(parse_output("/output:").is_err());
        assert!(parse_output("stdout:./x").is_err());
    }

    #[test]
    fn environment_arguments() {
        assert_eq!(
            parse_env("K=V=W").unwrap(),
            ("K".to_string(), "V=W".to_string())
        );
        assert_eq!(
            parse_env("EMPTY=").unwrap(),
            ("EMPTY".into(), String::new())
        );
        assert!(parse_env("NOVALUE").is_err());
        assert!(parse_env("=x").is_err());
    }
}
