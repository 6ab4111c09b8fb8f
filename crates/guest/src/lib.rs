//! Guest SDK for programs that run inside a Veracruz computation.
//!
//! A program sees its inputs and outputs as absolute paths of the computation's virtual
//! file system (VFS): `/input/...`, `/output/...`. Compiled for `wasm32-wasi`, those paths
//! are used as they are (Rust's std resolves them against the directories the runtime
//! pre-opens). Compiled natively, the same paths are mapped below the host directory named
//! by the `VERACRUZ_ROOT` environment variable, so one program source runs both ways on the
//! same inputs and must produce byte-identical outputs.
//!
//! The crate has no dependencies and builds with rustc 1.63 (Debian's wasm toolchain) as
//! well as current stable.
//!
//! Modules:
//! - [`vfs`]: reading and writing VFS files and listing directories;
//! - [`csv`]: a strict RFC 4180 reader and writer whose errors name file, line and column;
//! - [`json`]: a writer for small JSON result documents with deterministic layout;
//! - [`num`]: exact decimal amounts and deterministic float printing;
//! - [`math`]: `exp`/`ln` built only from IEEE-exact operations, identical on every engine;
//! - [`rand`]: a seedable PRNG and a seed from the platform's secure source.

pub mod csv;
pub mod json;
pub mod math;
pub mod num;
pub mod rand;
pub mod vfs;

use std::fmt;

/// An error a program reports to whoever runs it; the message names what was wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    message: String,
}

impl Error {
    pub fn new(message: impl Into<String>) -> Error {
        Error {
            message: message.into(),
        }
    }

    /// An error about a place in an input, e.g. `/input/a.csv line 7: ...`.
    pub fn at(path: &str, line: usize, message: impl fmt::Display) -> Error {
        Error::new(format!("{} line {}: {}", path, line, message))
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

/// Runs a program body and turns its outcome into the process exit status: 0 on success,
/// 1 with `error: <message>` on stderr otherwise. Pipelines stop at the first non-zero exit,
/// so a failing step never lets a later one run on missing data.
pub fn run(body: fn() -> Result<()>) -> ! {
    match body() {
        Ok(()) => std::process::exit(0),
        Err(e) => {
            eprintln!("error: {}", e);
            std::process::exit(1)
        }
    }
}
