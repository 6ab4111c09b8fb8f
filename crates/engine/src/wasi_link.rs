//! The WASI host functions of `veracruz-wasi`, as the table both engines link.

use std::any::Any;
use std::sync::OnceLock;

use veracruz_wasi::{HostError, WasiCtx};

use crate::host::{Abort, HostCalls, HostFunction, ValKind};
use crate::limit;

/// [`veracruz_wasi::FUNCTIONS`] in the engine's terms, built once.
pub(crate) fn functions() -> &'static [HostFunction] {
    static TABLE: OnceLock<Vec<HostFunction>> = OnceLock::new();
    TABLE.get_or_init(|| {
        fn kinds(ks: &'static [veracruz_wasi::ValKind]) -> &'static [ValKind] {
            // Both lists are tiny and built once per process; leaking them gives the
            // `'static` slices the engines' linkers keep.
            Box::leak(
                ks.iter()
                    .map(|k| match k {
                        veracruz_wasi::ValKind::I32 => ValKind::I32,
                        veracruz_wasi::ValKind::I64 => ValKind::I64,
                    })
                    .collect::<Vec<_>>()
                    .into_boxed_slice(),
            )
        }
        veracruz_wasi::FUNCTIONS
            .iter()
            .map(|(name, params, results)| HostFunction {
                name,
                params: kinds(params),
                results: kinds(results),
            })
            .collect()
    })
}

/// One run's WASI state as the engines' host.
pub(crate) struct WasiHost(pub(crate) WasiCtx);

impl HostCalls for WasiHost {
    fn call(&mut self, index: usize, mem: &mut [u8], args: &[i64]) -> Result<i32, Abort> {
        let Some(func) = functions().get(index) else {
            return Err(Abort::Trap(format!("no host function number {index}")));
        };
        self.0.dispatch(mem, func.name, args).map_err(|e| match e {
            HostError::Exit(code) => Abort::Exit(code),
            HostError::Trap(m) => Abort::Trap(format!("{}: {m}", func.name)),
            HostError::Limit { limit: l, detail } => {
                tracing::debug!(function = func.name, detail, "limit reached");
                Abort::Limit(limit_name(l))
            }
            HostError::Vfs(e) => Abort::Trap(format!("{}: {e}", func.name)),
        })
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

/// The engine's name for a limit `veracruz-wasi` reports.
fn limit_name(wasi_limit: &'static str) -> &'static str {
    match wasi_limit {
        "max_output_bytes" => limit::OUTPUT,
        "max_open_files" => limit::OPEN_FILES,
        "max_poll_sleep" => limit::POLL_SLEEP,
        other => other,
    }
}
