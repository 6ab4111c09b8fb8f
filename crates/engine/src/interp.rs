//! The interpreter backend: wasmi.
//!
//! wasmi has no epoch interruption, so a deadline is enforced with fuel: the program runs in
//! slices of [`DEADLINE_SLICE`] fuel through wasmi's resumable calls, and between slices the
//! clock is checked. With a fuel limit too, slices are cut from that budget. The check is
//! between slices, so the deadline holds to within one slice (about a millisecond of
//! interpretation); a `start` function, which runs during instantiation and cannot be
//! resumed, gets one slice at most when only a deadline is set.

use std::time::Instant;

use wasmi::{
    CompilationMode, Config, Engine, Error, ExternType, FuncType, Linker, Memory, Module,
    ResumableCall, Store, TrapCode, Val, ValType,
};

use crate::cache::ModuleCache;
use crate::host::{self, Abort, HostCalls, ImportKind, ValKind, MAX_PARAMS};
use crate::limiter::Limiter;
use crate::{limit, EngineError, Limits, RunOutcome, TrapKind};

/// Fuel given per slice when a deadline is set.
const DEADLINE_SLICE: u64 = 1_000_000;
/// Nested guest calls allowed before the interpreter traps with stack exhaustion.
const MAX_RECURSION_DEPTH: usize = 16 * 1024;

pub(crate) struct Data {
    host: Box<dyn HostCalls>,
    limiter: Limiter,
    memory: Option<Memory>,
}

pub(crate) struct Interp {
    engine: Engine,
    linker: Linker<Data>,
    limits: Limits,
    cache: ModuleCache<Module>,
}

/// Fuel still to hand out, and whether any was metered at all.
struct FuelBudget {
    /// `None`: unlimited (only a deadline is enforced).
    remaining: Option<u64>,
    /// Fuel handed to the store so far.
    granted: u64,
}

impl FuelBudget {
    /// The next slice to put into the store, at least `needed`; `None` when the budget cannot
    /// cover `needed`.
    fn next_slice(&mut self, deadline: bool, needed: u64) -> Option<u64> {
        let want = if deadline {
            DEADLINE_SLICE.max(needed)
        } else {
            u64::MAX
        };
        let slice = match &mut self.remaining {
            None => want,
            Some(rem) => {
                let slice = want.min(*rem);
                if slice < needed.max(1) {
                    return None;
                }
                *rem -= slice;
                slice
            }
        };
        self.granted = self.granted.saturating_add(slice);
        Some(slice)
    }
}

impl Interp {
    pub(crate) fn new(limits: &Limits) -> Result<Interp, EngineError> {
        let mut config = Config::default();
        config
            // Translate every function when the module is prepared. wasmi's default, lazy
            // translation charges translating a function to the run that first calls it, and
            // when that run's fuel is short it fails with a trap that cannot be resumed: a
            // program under a time limit (run in fuel slices) could stop with "fuel limit
            // exceeded", and a fuel-limited program would use more fuel on its first run than
            // on later ones. Eagerly translated, fuel counts the program's work alone.
            .compilation_mode(CompilationMode::Eager)
            .consume_fuel(limits.fuel.is_some() || limits.deadline.is_some())
            .set_max_recursion_depth(MAX_RECURSION_DEPTH)
            .wasm_multi_memory(false);
        let engine = Engine::new(&config);
        let mut linker = Linker::new(&engine);
        for (index, func) in host::functions().iter().enumerate() {
            let ty = FuncType::new(
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
                .map_err(|e| EngineError::Config(format!("linking `{}`: {e}", func.name)))?;
        }
        Ok(Interp {
            engine,
            linker,
            limits: limits.clone(),
            cache: ModuleCache::new(),
        })
    }

    /// Validates `wasm`, or takes it from the cache, with its imports and entry point checked.
    pub(crate) fn prepare(&self, wasm: &[u8]) -> Result<Module, EngineError> {
        let hash = crate::program_hash(wasm);
        if let Some(module) = self.cache.get(&hash) {
            return Ok(module);
        }
        let module =
            Module::new(&self.engine, wasm).map_err(|e| EngineError::Invalid(e.to_string()))?;
        for import in module.imports() {
            let kind = match import.ty() {
                ExternType::Func(f) => ImportKind::Func(
                    f.params().iter().map(val_kind).collect(),
                    f.results().iter().map(val_kind).collect(),
                ),
                ExternType::Memory(_) => ImportKind::Other("memory"),
                ExternType::Table(_) => ImportKind::Other("table"),
                ExternType::Global(_) => ImportKind::Other("global"),
            };
            host::check_import(import.module(), import.name(), kind)?;
        }
        match module.get_export("_start") {
            Some(ExternType::Func(f)) if f.params().is_empty() && f.results().is_empty() => {}
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
        let data = Data {
            host,
            limiter: Limiter::new(self.limits.max_memory_bytes),
            memory: None,
        };
        let mut store = Store::new(&self.engine, data);
        store.limiter(|d| &mut d.limiter);
        let metered = self.limits.fuel.is_some() || self.limits.deadline.is_some();
        let mut budget = FuelBudget {
            remaining: self.limits.fuel,
            granted: 0,
        };
        let result = if metered {
            budget
                .next_slice(self.limits.deadline.is_some(), 0)
                .ok_or(EngineError::Limit(limit::FUEL))
                .and_then(|first| set_fuel(&mut store, first))
        } else {
            Ok(())
        };
        let result =
            result.and_then(|()| self.instantiate_and_call(&mut store, &module, &mut budget));
        let fuel_consumed = self
            .limits
            .fuel
            .map(|_| budget.granted.saturating_sub(store.get_fuel().unwrap_or(0)));
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
        budget: &mut FuelBudget,
    ) -> Result<i32, EngineError> {
        let started = Instant::now();
        let instance = match self.linker.instantiate_and_start(&mut *store, module) {
            Ok(i) => i,
            Err(e) => {
                return match classify(&e, store.data().limiter.hit) {
                    Ok(code) => Ok(code),
                    Err(EngineError::Trap(TrapKind::Other(m))) => Err(EngineError::Instantiate(m)),
                    Err(err) => Err(err),
                }
            }
        };
        let memory = instance.get_memory(&mut *store, "memory");
        store.data_mut().memory = memory;
        let start = instance
            .get_func(&mut *store, "_start")
            .ok_or_else(|| EngineError::NoEntry("no export named `_start`".into()))?;
        let deadline = self.limits.deadline;
        let mut call = start.call_resumable(&mut *store, &[], &mut []);
        loop {
            match call {
                Ok(ResumableCall::Finished) => return Ok(0),
                Ok(ResumableCall::HostTrap(trap)) => {
                    return classify(trap.host_error(), store.data().limiter.hit)
                }
                Ok(ResumableCall::OutOfFuel(paused)) => {
                    if deadline.is_some_and(|d| started.elapsed() >= d) {
                        return Err(EngineError::Limit(limit::TIME));
                    }
                    let slice = budget
                        .next_slice(deadline.is_some(), paused.required_fuel())
                        .ok_or(EngineError::Limit(limit::FUEL))?;
                    let left = store.get_fuel().unwrap_or(0);
                    set_fuel(store, left.saturating_add(slice))?;
                    call = paused.resume(&mut *store, &mut []);
                }
                Err(e) => return classify(&e, store.data().limiter.hit),
            }
        }
    }
}

fn set_fuel(store: &mut Store<Data>, fuel: u64) -> Result<(), EngineError> {
    store
        .set_fuel(fuel)
        .map_err(|e| EngineError::Config(format!("setting fuel: {e}")))
}

fn trampoline(
    mut caller: wasmi::Caller<'_, Data>,
    index: usize,
    args: &[Val],
    results: &mut [Val],
) -> Result<(), Error> {
    let mut raw = [0i64; MAX_PARAMS];
    for (slot, arg) in raw.iter_mut().zip(args) {
        *slot = match arg {
            Val::I32(v) => i64::from(*v),
            Val::I64(v) => *v,
            // The linker only accepts imports whose types match the table exactly.
            other => {
                return Err(Error::host(Abort::Trap(format!(
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
        Err(abort) => Err(Error::host(abort)),
    }
}

/// An exit code for `proc_exit`, the engine error for anything else.
fn classify(err: &Error, limiter_hit: Option<&'static str>) -> Result<i32, EngineError> {
    if let Some(abort) = err.downcast_ref::<Abort>() {
        return match abort {
            Abort::Exit(code) => Ok(*code),
            Abort::Trap(m) => Err(EngineError::Trap(TrapKind::Host(m.clone()))),
            Abort::Limit(l) => Err(EngineError::Limit(l)),
        };
    }
    if let Some(hit) = limiter_hit {
        return Err(EngineError::Limit(hit));
    }
    let kind = match err.as_trap_code() {
        Some(TrapCode::OutOfFuel) => return Err(EngineError::Limit(limit::FUEL)),
        Some(TrapCode::UnreachableCodeReached) => TrapKind::Unreachable,
        Some(TrapCode::MemoryOutOfBounds) => TrapKind::MemoryOutOfBounds,
        Some(TrapCode::TableOutOfBounds) => TrapKind::TableOutOfBounds,
        Some(TrapCode::IndirectCallToNull) => TrapKind::IndirectCallToNull,
        Some(TrapCode::BadSignature) => TrapKind::BadSignature,
        Some(TrapCode::IntegerOverflow) => TrapKind::IntegerOverflow,
        Some(TrapCode::IntegerDivisionByZero) => TrapKind::IntegerDivisionByZero,
        Some(TrapCode::BadConversionToInteger) => TrapKind::BadConversionToInteger,
        Some(TrapCode::StackOverflow) => TrapKind::StackOverflow,
        _ => TrapKind::Other(err.to_string()),
    };
    Err(EngineError::Trap(kind))
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
