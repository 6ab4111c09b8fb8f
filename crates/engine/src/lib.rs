//! The execution engine: runs an untrusted WebAssembly program, or a pipeline of them, under
//! WASI preview 1 over the in-memory VFS, within limits.
//!
//! Two engines sit behind one interface, chosen by [`Strategy`]: wasmtime (Cranelift JIT) and
//! wasmi (interpreter). Both link the same host functions (`veracruz-wasi`, implemented once
//! over the VFS, linked generically from its function table) and nothing else: a program
//! importing anything else is refused before it starts, with the import named. Both enforce
//! the same [`Limits`]; a program that exceeds one, traps or runs past its budget is stopped
//! with a typed [`EngineError`] and the host process, and the next run, are unaffected.
//!
//! Decisions worth knowing:
//!
//! - Memory: growth past [`Limits::max_memory_bytes`] (or an initial memory above it) stops
//!   the program with `Limit("memory")` instead of `memory.grow` returning -1, so a memory bomb
//!   is reported as such rather than as whatever the program does on allocation failure. A
//!   program has one instance, one memory and at most a few tables of bounded size.
//! - CPU: fuel is metered by both engines (their units differ, roughly one per instruction).
//!   The deadline uses wasmtime's epoch interruption (a ticker thread, 5 ms ticks) and, in
//!   wasmi, fuel slices of a million units with the clock checked between slices.
//! - Same results from both engines: both make NaN results canonical (wasmtime's NaN
//!   canonicalisation, wasmi's `deterministic` feature) unless [`Nans::Hardware`] lets the
//!   JIT keep the CPU's NaN bits; the JIT has SIMD, relaxed SIMD,
//!   multi-memory and memory64 off as the interpreter does, and traps are mapped to one
//!   [`TrapKind`]. The differential test runs every guest under both and compares.
//! - Host safety: JIT runs get their own thread with a fixed stack (compiled code runs on the
//!   host stack, so a run must not depend on its caller's); wasmi's tail-call dispatch is
//!   built so that its calls are jumps (see `Cargo.toml`) and never grows the host stack,
//!   which `the_interpreter_runs_in_constant_host_stack` checks.
//! - Each engine keeps up to 16 compiled (JIT) or translated (interpreter, which translates
//!   every function up front so fuel counts only the program's work) programs, keyed by the
//!   SHA-256 of their bytes, so running the same program again does not compile it again.

mod cache;
mod error;
mod host;
mod interp;
mod jit;
mod limiter;
pub mod pipeline;
mod wasi_link;

#[cfg(test)]
mod tests;

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use sha2::{Digest, Sha256};
use veracruz_vfs::Handle;
use veracruz_wasi::{WasiConfig, WasiCtx};

pub use error::{EngineError, TrapKind};

/// Names of the limits a run can exceed, as carried by [`EngineError::Limit`].
pub mod limit {
    /// Linear memory grew past [`crate::Limits::max_memory_bytes`].
    pub const MEMORY: &str = "memory";
    /// A table grew past the engine's fixed bound on table elements.
    pub const TABLE: &str = "table";
    /// The program used up [`crate::Limits::fuel`].
    pub const FUEL: &str = "fuel";
    /// The program ran past [`crate::Limits::deadline`].
    pub const TIME: &str = "time";
    /// The program wrote more than [`crate::Limits::max_output_bytes`].
    pub const OUTPUT: &str = "output";
    /// The program held more than [`crate::Limits::max_open_files`] descriptors at once.
    pub const OPEN_FILES: &str = "open-files";
    /// One `poll_oneoff` asked to sleep longer than a run may block its thread.
    pub const POLL_SLEEP: &str = "poll-sleep";
}

/// Largest program accepted, before any parsing: compilation cost grows with size, and the
/// policy pins programs far smaller than this.
pub const MAX_PROGRAM_BYTES: usize = 64 * 1024 * 1024;

/// The module every host function lives in.
pub const WASI_MODULE: &str = "wasi_snapshot_preview1";

/// Which engine runs programs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Strategy {
    /// wasmtime with the Cranelift compiler.
    Jit,
    /// The wasmi interpreter.
    Interpreter,
}

impl Strategy {
    pub const ALL: [Strategy; 2] = [Strategy::Jit, Strategy::Interpreter];

    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Jit => "jit",
            Strategy::Interpreter => "interpreter",
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A strategy name other than `jit` or `interpreter`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown execution strategy `{0}` (expected `jit` or `interpreter`)")]
pub struct UnknownStrategy(pub String);

impl FromStr for Strategy {
    type Err = UnknownStrategy;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "jit" => Ok(Strategy::Jit),
            "interpreter" => Ok(Strategy::Interpreter),
            other => Err(UnknownStrategy(other.to_string())),
        }
    }
}

/// How the bits of NaN results are chosen. WebAssembly lets an operation that produces a NaN
/// give any NaN; the choice is the only nondeterminism left in the programs the engines accept.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Nans {
    /// Every NaN result is the canonical NaN, in both engines and on every CPU.
    #[default]
    Canonical,
    /// The JIT leaves NaN bits as the CPU produces them (one check fewer after every float
    /// operation); the interpreter stays canonical.
    Hardware,
}

impl Nans {
    /// [`Nans::Hardware`] when `hardware` (a policy's `execution.hardware_nans`), else
    /// canonical.
    pub fn hardware_if(hardware: bool) -> Nans {
        if hardware {
            Nans::Hardware
        } else {
            Nans::Canonical
        }
    }
}

/// What one run may consume. Every field is enforced by both engines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest size the program's linear memory may reach, including its initial size.
    pub max_memory_bytes: u64,
    /// Units of work before the program is stopped. Each engine counts its own units (roughly
    /// one per WebAssembly instruction), so equal fuel is not equal work across engines.
    pub fuel: Option<u64>,
    /// Wall-clock time before the program is stopped.
    pub deadline: Option<Duration>,
    /// Total bytes the program may write, to files and streams together.
    pub max_output_bytes: u64,
    /// Most file descriptors the program may hold open at once.
    pub max_open_files: u32,
}

impl Default for Limits {
    /// Generous bounds for a freestanding run: 1 GiB of memory, no fuel or time limit,
    /// 1 GiB of output, 1024 open files.
    fn default() -> Self {
        Limits {
            max_memory_bytes: 1 << 30,
            fuel: None,
            deadline: None,
            max_output_bytes: 1 << 30,
            max_open_files: 1024,
        }
    }
}

/// How a run that was not stopped by the engine ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunOutcome {
    /// From `proc_exit`, or 0 when `_start` returned.
    pub exit_code: i32,
    /// Fuel the run used, when fuel was metered.
    pub fuel_consumed: Option<u64>,
}

/// What a program is started with, besides its limits and its files.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Invocation {
    /// `argv[0]`: by convention the program's file name.
    pub program_name: String,
    /// Arguments after `argv[0]`.
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    /// Let the program read the clocks (runs are deterministic without).
    pub enable_clock: bool,
    /// Log every WASI call with its arguments and errno (tracing target `wasi`, level info).
    pub trace: bool,
}

/// The result of [`Engine::run`], with the WASI state handed back so the caller can see what
/// the program read, wrote and printed.
#[derive(Debug)]
pub struct Finished {
    pub result: Result<RunOutcome, EngineError>,
    pub wasi: WasiCtx,
}

/// SHA-256 of a program's bytes: the name the policy pins it by and the compile cache key.
pub fn program_hash(wasm: &[u8]) -> [u8; 32] {
    Sha256::digest(wasm).into()
}

enum Backend {
    Jit(jit::Jit),
    Interpreter(interp::Interp),
}

/// An engine configured with one strategy and one set of limits, reusable for many runs
/// (concurrently, from several threads).
pub struct Engine {
    strategy: Strategy,
    limits: Limits,
    nans: Nans,
    backend: Backend,
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field("strategy", &self.strategy)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// An engine whose NaN results are canonical ([`Nans::Canonical`]).
    pub fn new(strategy: Strategy, limits: Limits) -> Result<Engine, EngineError> {
        Engine::with_nans(strategy, limits, Nans::Canonical)
    }

    pub fn with_nans(
        strategy: Strategy,
        limits: Limits,
        nans: Nans,
    ) -> Result<Engine, EngineError> {
        let backend = match strategy {
            Strategy::Jit => Backend::Jit(jit::Jit::new(&limits, nans)?),
            Strategy::Interpreter => Backend::Interpreter(interp::Interp::new(&limits)?),
        };
        Ok(Engine {
            strategy,
            limits,
            nans,
            backend,
        })
    }

    pub fn strategy(&self) -> Strategy {
        self.strategy
    }

    pub fn nans(&self) -> Nans {
        self.nans
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Validates and compiles `wasm` and checks its imports and entry point, without running
    /// it. The result is cached, so a following run does not compile again.
    pub fn prepare(&self, wasm: &[u8]) -> Result<(), EngineError> {
        check_size(wasm)?;
        match &self.backend {
            Backend::Jit(j) => j.prepare(wasm).map(drop),
            Backend::Interpreter(i) => i.prepare(wasm).map(drop),
        }
    }

    /// How many compiled (JIT) or validated (interpreter) programs the engine keeps for reuse.
    pub fn compiled_programs(&self) -> usize {
        match &self.backend {
            Backend::Jit(j) => j.cached(),
            Backend::Interpreter(i) => i.cached(),
        }
    }

    /// The WASI settings for `invocation` under this engine's limits.
    pub fn wasi_config(&self, invocation: &Invocation) -> WasiConfig {
        let mut args = Vec::with_capacity(invocation.args.len() + 1);
        args.push(invocation.program_name.clone());
        args.extend(invocation.args.iter().cloned());
        let defaults = WasiConfig::default();
        WasiConfig {
            args,
            env: invocation.env.clone(),
            enable_clock: invocation.enable_clock,
            max_output_bytes: self.limits.max_output_bytes,
            max_open_files: self.limits.max_open_files,
            trace: invocation.trace,
            // A sleeping program must not outlast its deadline.
            max_poll_sleep: self
                .limits
                .deadline
                .map_or(defaults.max_poll_sleep, |d| d.min(defaults.max_poll_sleep)),
        }
    }

    /// Runs `wasm`'s `_start` with `wasi` serving its WASI calls. The limits on output and
    /// open files are those of `wasi`'s configuration (see [`Engine::wasi_config`]).
    pub fn run(&self, wasm: &[u8], wasi: WasiCtx) -> Finished {
        let (result, host) = self.run_host(wasm, Box::new(wasi_link::WasiHost(wasi)));
        let wasi = match host.into_any().downcast::<wasi_link::WasiHost>() {
            Ok(h) => h.0,
            // run_host hands back exactly the box it was given.
            Err(_) => unreachable!("the engine returned a different host"),
        };
        Finished { result, wasi }
    }

    /// Runs `wasm` over the VFS `handle` belongs to, with `handle`'s capabilities, this
    /// engine's limits and `invocation`.
    pub fn run_program(
        &self,
        wasm: &[u8],
        handle: Handle,
        invocation: &Invocation,
    ) -> Result<RunOutcome, EngineError> {
        let wasi = WasiCtx::new(self.wasi_config(invocation), handle)
            .map_err(|e| EngineError::Setup(e.to_string()))?;
        self.run(wasm, wasi).result
    }

    /// Runs `wasm`'s `_start` with `host` serving its host calls, and hands `host` back.
    pub(crate) fn run_host(
        &self,
        wasm: &[u8],
        host: Box<dyn host::HostCalls>,
    ) -> (Result<RunOutcome, EngineError>, Box<dyn host::HostCalls>) {
        if let Err(e) = check_size(wasm) {
            return (Err(e), host);
        }
        let started = std::time::Instant::now();
        let (result, host) = match &self.backend {
            Backend::Jit(j) => j.run(wasm, host),
            Backend::Interpreter(i) => i.run(wasm, host),
        };
        tracing::debug!(strategy = %self.strategy, elapsed = ?started.elapsed(), ?result, "run finished");
        (result, host)
    }
}

fn check_size(wasm: &[u8]) -> Result<(), EngineError> {
    if wasm.len() > MAX_PROGRAM_BYTES {
        return Err(EngineError::ProgramTooLarge {
            len: wasm.len(),
            max: MAX_PROGRAM_BYTES,
        });
    }
    Ok(())
}
