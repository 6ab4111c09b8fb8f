//! The JIT backend: wasmtime with Cranelift.
//!
//! CPU limits: fuel when [`Limits::fuel`] is set, and epoch interruption when
//! [`Limits::deadline`] is set. A ticker thread advances the engine's epoch every
//! [`EPOCH_TICK`]; each store's deadline is a number of ticks, so the deadline holds to
//! within one tick and concurrent runs do not disturb one another. Compiled modules are kept in
//! a small cache keyed by the program's SHA-256.

use std::time::Duration;

use wasmtime::{
    Config, Engine, ExternType, FuncType, Instance, Linker, Memory, Module, OptLevel, Store, Trap,
    Val, ValType,
};

use crate::cache::ModuleCache;
use crate::host::{self, Abort, HostCalls, ImportKind, ValKind, MAX_PARAMS};
use crate::limiter::Limiter;
use crate::{limit, EngineError, Limits, Nans, RunOutcome, TrapKind};

/// How often the epoch advances when a deadline is set.
const EPOCH_TICK: Duration = Duration::from_millis(5);
/// Guest call stack the JIT allows; deep recursion traps instead of exhausting the host's.
const MAX_WASM_STACK: usize = 1 << 20;
/// Stack of the thread each JIT run gets. Compiled code runs on the host stack, so a run
/// must not depend on how much stack its caller's thread happens to have left: the guest's
/// share plus ample room for host functions and the engine itself.
const RUN_THREAD_STACK: usize = 8 << 20;

pub(crate) struct Data {
    host: Box<dyn HostCalls>,
    limiter: Limiter,
    memory: Option<Memory>,
}

pub(crate) struct Jit {
    engine: Engine,
    linker: Linker<Data>,
    limits: Limits,
    cache: ModuleCache<Module>,
}

impl Jit {
    pub(crate) fn new(limits: &Limits, nans: Nans) -> Result<Jit, EngineError> {
        let mut config = Config::new();
        config
            .cranelift_opt_level(OptLevel::Speed)
            // Both engines must give the same result for the same program: NaN bit patterns
            // are made canonical (unless the policy accepts the CPU's), and features the
            // interpreter lacks (or that are nondeterministic, like relaxed SIMD) are off.
            .cranelift_nan_canonicalization(nans == Nans::Canonical)
            .wasm_relaxed_simd(false)
            .wasm_simd(false)
            .wasm_multi_memory(false)
            .wasm_memory64(false)
            .max_wasm_stack(MAX_WASM_STACK)
            .consume_fuel(limits.fuel.is_some())
            .epoch_interruption(limits.deadline.is_some());
        let engine = Engine::new(&config).map_err(|e| EngineError::Config(format!("{e:#}")))?;
        if limits.deadline.is_some() {
            spawn_epoch_ticker(&engine)?;
        }
        let mut linker = Linker::new(&engine);
        for (index, func) in host::functions().iter().enumerate() {
            let ty = FuncType::new(
                &engine,
                func.params.iter().map(|k| val_type(*k)),
                func.results.iter().map(|k| val_type(*k)),
            );
            linker
                .func_new(
                    crate::WASI_MODULE,
                    func.name,
                    ty,
                    move |caller, args, results| trampoline(caller, index, args, results),
                )
                .map_err(|e| EngineError::Config(format!("linking `{}`: {e:#}", func.name)))?;
        }
        Ok(Jit {
            engine,
            linker,
            limits: limits.clone(),
            cache: ModuleCache::new(),
        })
    }

    /// Compiles `wasm`, or takes it from the cache, with its imports and entry point checked.
    pub(crate) fn prepare(&self, wasm: &[u8]) -> Result<Module, EngineError> {
        let hash = crate::program_hash(wasm);
        if let Some(module) = self.cache.get(&hash) {
            tracing::debug!(hash = %hex(&hash), "compiled program taken from the cache");
            return Ok(module);
        }
        let module =
            Module::new(&self.engine, wasm).map_err(|e| EngineError::Invalid(format!("{e:#}")))?;
        for import in module.imports() {
            let kind = match import.ty() {
                ExternType::Func(f) => ImportKind::Func(
                    f.params().map(|t| val_kind(&t)).collect(),
                    f.results().map(|t| val_kind(&t)).collect(),
                ),
                ExternType::Memory(_) => ImportKind::Other("memory"),
                ExternType::Table(_) => ImportKind::Other("table"),
                ExternType::Global(_) => ImportKind::Other("global"),
                ExternType::Tag(_) => ImportKind::Other("tag"),
            };
            host::check_import(import.module(), import.name(), kind)?;
        }
        match module.get_export("_start") {
            Some(ExternType::Func(f)) if f.params().len() == 0 && f.results().len() == 0 => {}
            Some(_) => return Err(EngineError::NoEntry("`_start` has the wrong type".into())),
            None => return Err(EngineError::NoEntry("no export named `_start`".into())),
        }
        self.cache.insert(hash, module.clone());
        Ok(module)
    }

    pub(crate) fn cached(&self) -> usize {
        self.cache.len()
    }

    pub(crate) fn run(
        &self,
        wasm: &[u8],
        host: Box<dyn HostCalls>,
    ) -> (Result<RunOutcome, EngineError>, Box<dyn HostCalls>) {
        let module = match self.prepare(wasm) {
            Ok(m) => m,
            Err(e) => return (Err(e), host),
        };
        // The caller's tracing dispatcher (e.g. one set up for `--trace`) and span go with
        // the run to its thread, so host-function logs land where the caller expects them.
        let dispatch = tracing::dispatcher::get_default(|d| d.clone());
        let span = tracing::Span::current();
        std::thread::scope(|scope| {
            std::thread::Builder::new()
                .name("wasm-run".into())
                .stack_size(RUN_THREAD_STACK)
                .spawn_scoped(scope, || {
                    tracing::dispatcher::with_default(&dispatch, || {
                        span.in_scope(|| self.run_on_this_thread(&module, host))
                    })
                })
                // Without a thread there is no run: like running out of host memory, this is
                // not something a caller can handle, and the host is moved already.
                .expect("cannot start the thread a JIT run needs")
                .join()
                // A panic here is a bug in the host side, never the guest's doing; pass it on.
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }

    fn run_on_this_thread(
        &self,
        module: &Module,
        host: Box<dyn HostCalls>,
    ) -> (Result<RunOutcome, EngineError>, Box<dyn HostCalls>) {
        let data = Data {
            host,
            limiter: Limiter::new(self.limits.max_memory_bytes),
            memory: None,
        };
        let mut store = Store::new(&self.engine, data);
        store.limiter(|d| &mut d.limiter);
        if let Some(fuel) = self.limits.fuel {
            if let Err(e) = store.set_fuel(fuel) {
                let err = EngineError::Config(format!("setting fuel: {e:#}"));
                return (Err(err), store.into_data().host);
            }
        }
        if let Some(deadline) = self.limits.deadline {
            let ticks = deadline.as_nanos().div_ceil(EPOCH_TICK.as_nanos()).max(1);
            store.set_epoch_deadline(u64::try_from(ticks).unwrap_or(u64::MAX));
            store.epoch_deadline_trap();
        }
        let result = self.instantiate_and_call(&mut store, module);
        let fuel_consumed = self
            .limits
            .fuel
            .map(|fuel| fuel.saturating_sub(store.get_fuel().unwrap_or(0)));
        let result = result.map(|exit_code| RunOutcome {
            exit_code,
            fuel_consumed,
        });
        (result, store.into_data().host)
    }

    fn instantiate_and_call(
        &self,
        store: &mut Store<Data>,
        module: &Module,
    ) -> Result<i32, EngineError> {
        let instance: Instance = match self.linker.instantiate(&mut *store, module) {
            Ok(i) => i,
            Err(e) => {
                return match classify(e, store.data().limiter.hit) {
                    Outcome::Exit(code) => Ok(code),
                    Outcome::Error(EngineError::Trap(TrapKind::Other(m))) => {
                        Err(EngineError::Instantiate(m))
                    }
                    Outcome::Error(err) => Err(err),
                }
            }
        };
        let memory = instance.get_memory(&mut *store, "memory");
        store.data_mut().memory = memory;
        let start = instance
            .get_typed_func::<(), ()>(&mut *store, "_start")
            .map_err(|e| EngineError::NoEntry(format!("{e:#}")))?;
        match start.call(&mut *store, ()) {
            Ok(()) => Ok(0),
            Err(e) => match classify(e, store.data().limiter.hit) {
                Outcome::Exit(code) => Ok(code),
                Outcome::Error(err) => Err(err),
            },
        }
    }
}

fn trampoline(
    mut caller: wasmtime::Caller<'_, Data>,
    index: usize,
    args: &[Val],
    results: &mut [Val],
) -> wasmtime::Result<()> {
    let mut raw = [0i64; MAX_PARAMS];
    for (slot, arg) in raw.iter_mut().zip(args) {
        *slot = match arg {
            Val::I32(v) => i64::from(*v),
            Val::I64(v) => *v,
            // The linker only accepts imports whose types match the table exactly.
            other => {
                return Err(wasmtime::Error::new(Abort::Trap(format!(
                    "argument of unexpected type {other:?}"
                ))))
            }
        };
    }
    let raw = &raw[..args.len().min(MAX_PARAMS)];
    let memory = caller.data().memory;
    let outcome = match memory {
        Some(m) => {
            let (mem, data) = m.data_and_store_mut(&mut caller);
            data.host.call(index, mem, raw)
        }
        None => caller.data_mut().host.call(index, &mut [], raw),
    };
    match outcome {
        Ok(errno) => {
            if let Some(slot) = results.first_mut() {
                *slot = Val::I32(errno);
            }
            Ok(())
        }
        Err(abort) => Err(wasmtime::Error::new(abort)),
    }
}

enum Outcome {
    Exit(i32),
    Error(EngineError),
}

fn classify(err: wasmtime::Error, limiter_hit: Option<&'static str>) -> Outcome {
    if let Some(abort) = err.downcast_ref::<Abort>() {
        return match abort {
            Abort::Exit(code) => Outcome::Exit(*code),
            Abort::Trap(m) => Outcome::Error(EngineError::Trap(TrapKind::Host(m.clone()))),
            Abort::Limit(l) => Outcome::Error(EngineError::Limit(l)),
        };
    }
    if let Some(hit) = limiter_hit {
        return Outcome::Error(EngineError::Limit(hit));
    }
    let kind = match err.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => return Outcome::Error(EngineError::Limit(limit::FUEL)),
        Some(Trap::Interrupt) => return Outcome::Error(EngineError::Limit(limit::TIME)),
        Some(Trap::UnreachableCodeReached) => TrapKind::Unreachable,
        Some(Trap::MemoryOutOfBounds) => TrapKind::MemoryOutOfBounds,
        Some(Trap::TableOutOfBounds) => TrapKind::TableOutOfBounds,
        Some(Trap::IndirectCallToNull) => TrapKind::IndirectCallToNull,
        Some(Trap::BadSignature) => TrapKind::BadSignature,
        Some(Trap::IntegerOverflow) => TrapKind::IntegerOverflow,
        Some(Trap::IntegerDivisionByZero) => TrapKind::IntegerDivisionByZero,
        Some(Trap::BadConversionToInteger) => TrapKind::BadConversionToInteger,
        Some(Trap::StackOverflow) => TrapKind::StackOverflow,
        _ => TrapKind::Other(format!("{err:#}")),
    };
    Outcome::Error(EngineError::Trap(kind))
}

fn val_type(kind: ValKind) -> ValType {
    match kind {
        ValKind::I32 => ValType::I32,
        ValKind::I64 => ValType::I64,
    }
}

fn val_kind(ty: &ValType) -> Option<ValKind> {
    match ty {
        ValType::I32 => Some(ValKind::I32),
        ValType::I64 => Some(ValKind::I64),
        _ => None,
    }
}

/// Advances `engine`'s epoch until the engine is dropped.
fn spawn_epoch_ticker(engine: &Engine) -> Result<(), EngineError> {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("wasm-epoch".into())
        .spawn(move || loop {
            std::thread::sleep(EPOCH_TICK);
            match weak.upgrade() {
                Some(engine) => engine.increment_epoch(),
                None => break,
            }
        })
        .map(drop)
        .map_err(|e| EngineError::Config(format!("starting the epoch thread: {e}")))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
