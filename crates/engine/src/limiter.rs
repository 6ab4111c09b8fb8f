//! The resource limiter both engines consult when a linear memory or table grows.
//!
//! Growth beyond a limit is refused with an error rather than `memory.grow` returning -1: a
//! program that allocates past its budget is stopped, and the run reports which limit it hit
//! (the engine reads [`Limiter::hit`] after the trap). Returning -1 would let a program
//! that ignores allocation failure go on with wrong results, and would make a memory bomb look
//! like an ordinary exit.

/// Most tables a program may have; WASI programs use at most one (for indirect calls).
pub(crate) const MAX_TABLES: usize = 4;
/// Most elements one table may hold (each costs the host a pointer).
pub(crate) const MAX_TABLE_ELEMENTS: usize = 1 << 20;
/// A program is one module instance with one linear memory.
pub(crate) const MAX_INSTANCES: usize = 1;
pub(crate) const MAX_MEMORIES: usize = 1;

#[derive(Debug)]
pub(crate) struct Limiter {
    max_memory_bytes: usize,
    /// The limit a refused growth hit, if any.
    pub(crate) hit: Option<&'static str>,
}

impl Limiter {
    pub(crate) fn new(max_memory_bytes: u64) -> Limiter {
        Limiter {
            max_memory_bytes: usize::try_from(max_memory_bytes).unwrap_or(usize::MAX),
            hit: None,
        }
    }

    fn memory(&mut self, desired: usize) -> bool {
        if desired > self.max_memory_bytes {
            tracing::debug!(
                desired,
                max = self.max_memory_bytes,
                "linear memory growth refused"
            );
            self.hit = Some(crate::limit::MEMORY);
            false
        } else {
            true
        }
    }

    fn table(&mut self, desired: usize) -> bool {
        if desired > MAX_TABLE_ELEMENTS {
            tracing::debug!(desired, "table growth refused");
            self.hit = Some(crate::limit::TABLE);
            false
        } else {
            true
        }
    }
}

impl wasmtime::ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if self.memory(desired) {
            Ok(true)
        } else {
            Err(wasmtime::Error::msg("memory limit exceeded"))
        }
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if self.table(desired) {
            Ok(true)
        } else {
            Err(wasmtime::Error::msg("table limit exceeded"))
        }
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }

    fn tables(&self) -> usize {
        MAX_TABLES
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES
    }
}

impl wasmi::ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> Result<bool, wasmi_core::LimiterError> {
        if self.memory(desired) {
            Ok(true)
        } else {
            Err(wasmi_core::LimiterError::ResourceLimiterDeniedAllocation)
        }
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> Result<bool, wasmi_core::LimiterError> {
        if self.table(desired) {
            Ok(true)
        } else {
            Err(wasmi_core::LimiterError::ResourceLimiterDeniedAllocation)
        }
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }

    fn tables(&self) -> usize {
        MAX_TABLES
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES
    }
}
