//! Running an example's committed wasm build in the execution engine, the way the runtime
//! would: inputs copied into an in-memory VFS, each program run with the capabilities its
//! policy template grants it (the pipeline with the pipeline's), outputs copied back out.
//!
//! Using the templates' capabilities means a test run also checks that the policies give the
//! programs every right they need.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use veracruz_engine::pipeline::{self, Programs};
use veracruz_engine::{Engine, Invocation, Limits, Nans, Strategy};
use veracruz_policy::{CapabilityMap, PolicyDocument};
use veracruz_vfs::{Vfs, VfsConfig};
use veracruz_wasi::WasiCtx;

use crate::harness::{examples_dir, wasm_path, Exit, Spec};

/// An example's policy template, read as a policy document. Placeholders such as
/// `{{ANALYST_CERTIFICATE}}` sit inside JSON strings, so the template parses as it is.
pub fn policy_template(example: &str) -> Result<PolicyDocument, String> {
    let path = examples_dir().join(example).join("policy.template.json");
    let text = fs::read_to_string(&path).map_err(|e| format!("{}: {}", path.display(), e))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {}", path.display(), e))
}

/// The environment the template passes to programs, as a list the native run can use too.
pub fn policy_env(example: &str) -> Result<Vec<(String, String)>, String> {
    Ok(policy_template(example)?
        .execution
        .environment
        .into_iter()
        .collect())
}

/// The time limit every example's policy template sets (`time_limit_ms`). Runs get it too, so
/// the engine works as the runtime would: with epoch checks (JIT) or fuel slices (interpreter).
pub const TEMPLATE_TIME_LIMIT: Duration = Duration::from_secs(600);

/// One engine (JIT or interpreter) kept across runs, so the JIT compiles each module once.
pub struct WasmRunner {
    engine: Engine,
}

fn read_wasm(program: &str) -> Result<Vec<u8>, String> {
    let path: PathBuf = wasm_path(program);
    fs::read(&path).map_err(|e| {
        format!(
            "{}: {} (run examples/build.sh to build the modules)",
            path.display(),
            e
        )
    })
}

impl WasmRunner {
    pub fn new(strategy: Strategy) -> Result<WasmRunner, String> {
        WasmRunner::with_nans(strategy, Nans::Canonical)
    }

    /// An engine with the given NaN semantics (`execution.hardware_nans` in a policy).
    pub fn with_nans(strategy: Strategy, nans: Nans) -> Result<WasmRunner, String> {
        let limits = Limits {
            max_memory_bytes: 4 << 30,
            max_output_bytes: 4 << 30,
            deadline: Some(TEMPLATE_TIME_LIMIT),
            ..Limits::default()
        };
        let engine = Engine::with_nans(strategy, limits, nans).map_err(|e| e.to_string())?;
        Ok(WasmRunner { engine })
    }

    pub fn strategy(&self) -> Strategy {
        self.engine.strategy()
    }

    /// The engine, and its NaN semantics when they are not the default.
    pub fn describe(&self) -> String {
        match self.engine.nans() {
            Nans::Canonical => self.strategy().to_string(),
            Nans::Hardware => format!("{} (hardware NaNs)", self.strategy()),
        }
    }

    /// Compiles the example's modules ahead of a timed run.
    pub fn prepare(&self, spec: &Spec) -> Result<(), String> {
        for program in spec.programs {
            self.engine
                .prepare(&read_wasm(program)?)
                .map_err(|e| format!("{}: {}", program, e))?;
        }
        Ok(())
    }

    /// Runs `spec`'s program(s) on `root/input` (and `root/output` from a previous round, if
    /// present) and writes the VFS's `/output` back to `root/output`. The duration is that of
    /// the programs' execution alone, without copying files in and out of the VFS.
    pub fn run(&self, spec: &Spec, root: &Path) -> Result<(Exit, Duration), String> {
        let doc = policy_template(spec.name)?;
        let vfs = Vfs::new(VfsConfig {
            max_total_bytes: 8 << 30,
            ..VfsConfig::default()
        });
        vfs.load_host_dir(&root.join("input"), "/input")
            .map_err(|e| format!("loading {}/input: {}", root.display(), e))?;
        let previous = root.join("output");
        if previous.is_dir() {
            vfs.load_host_dir(&previous, "/output")
                .map_err(|e| format!("loading {}: {}", previous.display(), e))?;
        }
        let env: Vec<(String, String)> = doc.execution.environment.clone().into_iter().collect();
        let (exit, elapsed) = if spec.programs.len() == 1 {
            self.run_program(&doc, spec.programs[0], &vfs, env)?
        } else {
            self.run_pipeline(&doc, spec, &vfs, env)?
        };
        fs::create_dir_all(&previous).map_err(|e| e.to_string())?;
        vfs.save_to_host_dir("/output", &previous)
            .map_err(|e| format!("saving /output to {}: {}", previous.display(), e))?;
        Ok((exit, elapsed))
    }

    fn run_program(
        &self,
        doc: &PolicyDocument,
        program: &str,
        vfs: &Vfs,
        env: Vec<(String, String)>,
    ) -> Result<(Exit, Duration), String> {
        let path = format!("/program/{}.wasm", program);
        let spec = doc
            .programs
            .iter()
            .find(|p| p.path == path)
            .ok_or_else(|| format!("the policy template has no program {}", path))?;
        let caps = CapabilityMap::from_raw(&spec.capabilities).map_err(|e| e.to_string())?;
        let invocation = Invocation {
            program_name: format!("{}.wasm", program),
            env,
            ..Invocation::default()
        };
        let wasi = WasiCtx::new(self.engine.wasi_config(&invocation), vfs.handle(caps))
            .map_err(|e| e.to_string())?;
        let wasm = read_wasm(program)?;
        let started = Instant::now();
        let finished = self.engine.run(&wasm, wasi);
        let elapsed = started.elapsed();
        let outcome = finished
            .result
            .map_err(|e| format!("{} stopped by the engine: {}", program, e))?;
        let exit = Exit {
            code: outcome.exit_code,
            stdout: finished.wasi.stdout(),
            stderr: String::from_utf8_lossy(&finished.wasi.stderr()).into_owned(),
        };
        Ok((exit, elapsed))
    }

    fn run_pipeline(
        &self,
        doc: &PolicyDocument,
        spec: &Spec,
        vfs: &Vfs,
        env: Vec<(String, String)>,
    ) -> Result<(Exit, Duration), String> {
        let p = doc
            .pipelines
            .first()
            .ok_or_else(|| format!("the policy template of {} has no pipeline", spec.name))?;
        let script = veracruz_policy::pipeline::parse(&p.script).map_err(|e| e.to_string())?;
        let caps = CapabilityMap::from_raw(&p.capabilities).map_err(|e| e.to_string())?;
        let mut programs = Programs::new();
        for program in spec.programs {
            programs
                .insert(&format!("/program/{}.wasm", program), read_wasm(program)?)
                .map_err(|e| e.to_string())?;
        }
        let invocation = Invocation {
            env,
            ..Invocation::default()
        };
        let started = Instant::now();
        let outcome = pipeline::run(&self.engine, &script, &programs, vfs, &caps, &invocation)
            .map_err(|e| e.to_string())?;
        let exit = Exit {
            code: outcome.exit_code(),
            stdout: Vec::new(),
            stderr: String::new(),
        };
        Ok((exit, started.elapsed()))
    }
}
