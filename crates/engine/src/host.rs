//! The boundary between an engine and the host functions it links.
//!
//! Engines see the host as a table of functions (name and core wasm signature) and one entry
//! point, [`HostCalls::call`], taking the function's index, the guest's linear memory and the
//! arguments. Linking is therefore generic: each engine walks the table once and installs one
//! trampoline per entry; neither engine knows any WASI function by name.

use std::any::Any;
use std::fmt;

use crate::EngineError;

/// A core wasm value type a host function takes or returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ValKind {
    I32,
    I64,
}

/// One host function: name in [`crate::WASI_MODULE`], parameter and result types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostFunction {
    pub name: &'static str,
    pub params: &'static [ValKind],
    pub results: &'static [ValKind],
}

/// Most parameters any host function takes (`path_open` has nine).
pub(crate) const MAX_PARAMS: usize = 16;

/// What a host function does instead of returning normally.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Abort {
    /// `proc_exit`: the program ends with this code.
    Exit(i32),
    /// The program is stopped with a trap.
    Trap(String),
    /// The program is stopped for exceeding the named limit.
    Limit(&'static str),
}

impl fmt::Display for Abort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Abort::Exit(code) => write!(f, "program exited with code {code}"),
            Abort::Trap(m) => write!(f, "host function trapped: {m}"),
            Abort::Limit(l) => write!(f, "{l} limit exceeded"),
        }
    }
}

impl std::error::Error for Abort {}
impl wasmi_core::HostError for Abort {}

/// The host side of one run.
pub(crate) trait HostCalls: Send + 'static {
    /// Calls function `index` of [`functions`] with arguments of its declared types, each
    /// widened to `i64`. Returns the function's result (the WASI errno); it is ignored for a
    /// function declared without results.
    fn call(&mut self, index: usize, mem: &mut [u8], args: &[i64]) -> Result<i32, Abort>;

    /// Gives the host back to its owner after the run, as its concrete type.
    fn into_any(self: Box<Self>) -> Box<dyn Any>;
}

/// The host functions every program may import.
pub(crate) fn functions() -> &'static [HostFunction] {
    crate::wasi_link::functions()
}

/// A module's view of one import, as an engine reports it.
pub(crate) enum ImportKind {
    /// A function, with its parameter and result types; `None` for a type no host function
    /// uses (floats, references, vectors).
    Func(Vec<Option<ValKind>>, Vec<Option<ValKind>>),
    /// A memory, table, global or tag, by that word.
    Other(&'static str),
}

/// Refuses any import that is not one of [`functions`] with exactly its signature, and
/// returns the function's index otherwise.
pub(crate) fn check_import(
    module: &str,
    name: &str,
    kind: ImportKind,
) -> Result<usize, EngineError> {
    let refuse = |reason: String| EngineError::Import {
        module: module.to_string(),
        name: name.to_string(),
        reason,
    };
    if module != crate::WASI_MODULE {
        return Err(refuse(format!(
            "only functions of `{}` are provided",
            crate::WASI_MODULE
        )));
    }
    let (index, func) = functions()
        .iter()
        .enumerate()
        .find(|(_, f)| f.name == name)
        .ok_or_else(|| refuse(format!("`{name}` is not a {} function", crate::WASI_MODULE)))?;
    match kind {
        ImportKind::Other(what) => Err(refuse(format!("imported as a {what}, not a function"))),
        ImportKind::Func(params, results) => {
            let matches = |got: &[Option<ValKind>], want: &[ValKind]| {
                got.len() == want.len() && got.iter().zip(want).all(|(g, w)| *g == Some(*w))
            };
            if matches(&params, func.params) && matches(&results, func.results) {
                Ok(index)
            } else {
                Err(refuse(format!(
                    "imported with signature {} but the function's is {}",
                    show_sig(&params, &results),
                    show_sig(
                        &func.params.iter().map(|k| Some(*k)).collect::<Vec<_>>(),
                        &func.results.iter().map(|k| Some(*k)).collect::<Vec<_>>()
                    )
                )))
            }
        }
    }
}

fn show_sig(params: &[Option<ValKind>], results: &[Option<ValKind>]) -> String {
    let list = |ks: &[Option<ValKind>]| {
        ks.iter()
            .map(|k| match k {
                Some(ValKind::I32) => "i32",
                Some(ValKind::I64) => "i64",
                None => "other",
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!("({}) -> ({})", list(params), list(results))
}
