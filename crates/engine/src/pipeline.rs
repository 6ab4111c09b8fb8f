//! The pipeline executor: runs the programs a pipeline names, in order, each with the
//! pipeline's own capabilities over the one shared VFS.
//!
//! `if PATH { … } else { … }` tests whether `PATH` exists when the statement is reached. A path
//! the pipeline's capabilities do not reach counts as absent, so a pipeline cannot learn about
//! files it has no right to. The pipeline stops at the first program that exits non-zero or is
//! stopped by the engine, and the outcome names that program.

use std::collections::BTreeMap;

use veracruz_policy::pipeline::{Script, Stmt};
use veracruz_policy::{CapPath, CapabilityMap};
use veracruz_vfs::Vfs;

use crate::{Engine, EngineError, Invocation, RunOutcome};

/// Programs a pipeline may name, by VFS path.
#[derive(Clone, Debug, Default)]
pub struct Programs {
    by_path: BTreeMap<String, Vec<u8>>,
}

/// Why a pipeline could not be run to its end.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("pipeline names `{name}`, which is not one of its programs ({known})")]
    UnknownProgram { name: String, known: String },
    #[error("pipeline names `{name}`, which is the file name of several programs: {paths}; name it by its path")]
    AmbiguousProgram { name: String, paths: String },
    #[error("program `{program}` could not be added: {reason}")]
    BadProgram { program: String, reason: String },
    #[error("program `{program}`: {source}")]
    Engine {
        program: String,
        #[source]
        source: EngineError,
    },
}

impl Programs {
    pub fn new() -> Programs {
        Programs::default()
    }

    /// Adds a program under its VFS path (absolute, e.g. `/program/stats.wasm`).
    pub fn insert(&mut self, path: &str, wasm: Vec<u8>) -> Result<(), PipelineError> {
        match CapPath::parse(path) {
            Ok(CapPath::Tree(c)) if !c.is_empty() => {
                self.by_path.insert(path.to_string(), wasm);
                Ok(())
            }
            _ => Err(PipelineError::BadProgram {
                program: path.to_string(),
                reason: "a program is named by an absolute VFS file path".into(),
            }),
        }
    }

    /// The program a pipeline statement names: by its exact VFS path, or by its file name when
    /// exactly one program has it.
    pub fn resolve(&self, name: &str) -> Result<(&str, &[u8]), PipelineError> {
        if let Some((path, wasm)) = self.by_path.get_key_value(name) {
            return Ok((path, wasm));
        }
        let matches: Vec<_> = self
            .by_path
            .iter()
            .filter(|(path, _)| path.rsplit('/').next() == Some(name))
            .collect();
        match matches.as_slice() {
            [(path, wasm)] => Ok((path.as_str(), wasm.as_slice())),
            [] => Err(PipelineError::UnknownProgram {
                name: name.to_string(),
                known: self
                    .by_path
                    .keys()
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
            many => Err(PipelineError::AmbiguousProgram {
                name: name.to_string(),
                paths: many
                    .iter()
                    .map(|(p, _)| p.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }
}

/// One program run of a pipeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// VFS path of the program.
    pub program: String,
    pub outcome: RunOutcome,
}

/// How a pipeline ended when no program was stopped by the engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PipelineOutcome {
    /// Every program run, in order.
    pub steps: Vec<Step>,
    /// The program that exited non-zero and so stopped the pipeline, if any.
    pub stopped_by: Option<String>,
}

impl PipelineOutcome {
    /// The exit code of the pipeline: that of the program that stopped it, else 0.
    pub fn exit_code(&self) -> i32 {
        match &self.stopped_by {
            Some(_) => self.steps.last().map_or(0, |s| s.outcome.exit_code),
            None => 0,
        }
    }
}

/// Runs `script` with `capabilities` over `vfs`. Every program gets the same invocation
/// (arguments, environment, clock); its `argv[0]` is the program's file name.
pub fn run(
    engine: &Engine,
    script: &Script,
    programs: &Programs,
    vfs: &Vfs,
    capabilities: &CapabilityMap,
    invocation: &Invocation,
) -> Result<PipelineOutcome, PipelineError> {
    // Resolve every name before running anything, so a typo is found before any side effect.
    for (name, _) in script.programs() {
        programs.resolve(name)?;
    }
    let mut outcome = PipelineOutcome {
        steps: Vec::new(),
        stopped_by: None,
    };
    run_block(
        engine,
        &script.stmts,
        programs,
        vfs,
        capabilities,
        invocation,
        &mut outcome,
    )?;
    Ok(outcome)
}

fn run_block(
    engine: &Engine,
    stmts: &[Stmt],
    programs: &Programs,
    vfs: &Vfs,
    capabilities: &CapabilityMap,
    invocation: &Invocation,
    outcome: &mut PipelineOutcome,
) -> Result<(), PipelineError> {
    for stmt in stmts {
        if outcome.stopped_by.is_some() {
            return Ok(());
        }
        match stmt {
            Stmt::Run { program, .. } => {
                let (path, wasm) = programs.resolve(program)?;
                let name = path.rsplit('/').next().unwrap_or(path);
                tracing::info!(program = path, "pipeline step");
                let mut inv = invocation.clone();
                inv.program_name = name.to_string();
                let result = engine
                    .run_program(wasm, vfs.handle(capabilities.clone()), &inv)
                    .map_err(|source| PipelineError::Engine {
                        program: path.to_string(),
                        source,
                    })?;
                let failed = result.exit_code != 0;
                outcome.steps.push(Step {
                    program: path.to_string(),
                    outcome: result,
                });
                if failed {
                    tracing::info!(program = path, "pipeline stopped by a non-zero exit code");
                    outcome.stopped_by = Some(path.to_string());
                }
            }
            Stmt::If {
                path,
                then,
                otherwise,
                ..
            } => {
                let branch = if exists(vfs, capabilities, path) {
                    then
                } else {
                    otherwise
                };
                run_block(
                    engine,
                    branch,
                    programs,
                    vfs,
                    capabilities,
                    invocation,
                    outcome,
                )?;
            }
        }
    }
    Ok(())
}

/// Does `path` exist, as far as `capabilities` can see?
fn exists(vfs: &Vfs, capabilities: &CapabilityMap, path: &str) -> bool {
    let Ok(CapPath::Tree(components)) = CapPath::parse(path) else {
        return false;
    };
    if !veracruz_vfs::visible(capabilities, &components) {
        return false;
    }
    matches!(vfs.lock().lookup_tree(&components), Ok(Some(_)))
}
