//! Errors of a run, the same for both engines so that their results can be compared.

use std::fmt;

/// Why a program trapped, in terms common to both engines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrapKind {
    Unreachable,
    MemoryOutOfBounds,
    TableOutOfBounds,
    IndirectCallToNull,
    BadSignature,
    IntegerOverflow,
    IntegerDivisionByZero,
    BadConversionToInteger,
    StackOverflow,
    /// A host function refused to go on (e.g. `proc_raise`, or a malformed call).
    Host(String),
    /// Anything else the engine reported, with its message.
    Other(String),
}

impl fmt::Display for TrapKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrapKind::Unreachable => f.write_str("`unreachable` executed"),
            TrapKind::MemoryOutOfBounds => f.write_str("out-of-bounds memory access"),
            TrapKind::TableOutOfBounds => f.write_str("out-of-bounds table access"),
            TrapKind::IndirectCallToNull => f.write_str("indirect call to a null table entry"),
            TrapKind::BadSignature => f.write_str("indirect call with the wrong signature"),
            TrapKind::IntegerOverflow => f.write_str("integer overflow"),
            TrapKind::IntegerDivisionByZero => f.write_str("integer division by zero"),
            TrapKind::BadConversionToInteger => f.write_str("invalid conversion to integer"),
            TrapKind::StackOverflow => f.write_str("call stack exhausted"),
            TrapKind::Host(m) => write!(f, "host function: {m}"),
            TrapKind::Other(m) => f.write_str(m),
        }
    }
}

/// Why a program could not be run, or was stopped.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    #[error("program is {len} bytes, more than the {max} accepted")]
    ProgramTooLarge { len: usize, max: usize },
    #[error("program is not a valid WebAssembly module: {0}")]
    Invalid(String),
    #[error("program imports `{module}::{name}`, which is refused: {reason}")]
    Import {
        module: String,
        name: String,
        reason: String,
    },
    #[error("program has no `_start` function taking and returning nothing: {0}")]
    NoEntry(String),
    #[error("program could not be instantiated: {0}")]
    Instantiate(String),
    /// The run was stopped because it exceeded the named limit (see [`crate::limit`]).
    #[error("program stopped: {0} limit exceeded")]
    Limit(&'static str),
    #[error("program trapped: {0}")]
    Trap(TrapKind),
    #[error("the program's WASI environment could not be set up: {0}")]
    Setup(String),
    #[error("engine configuration: {0}")]
    Config(String),
}
