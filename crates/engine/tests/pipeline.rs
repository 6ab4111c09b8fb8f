//! The pipeline executor: order, conditionals on file existence, stopping at the first
//! non-zero exit code, with the pipeline's own capabilities.

mod common;

use common::*;
use veracruz_engine::pipeline::{self, PipelineError, Programs};
use veracruz_engine::{limit, Engine, EngineError, Invocation, Limits, Strategy};
use veracruz_policy::pipeline::parse;
use veracruz_vfs::Vfs;

fn programs() -> Programs {
    let mut p = Programs::new();
    for step in ["a", "b", "f"] {
        p.insert(
            &format!("/program/step_{step}.wasm"),
            fixture(&format!("step_{step}")),
        )
        .unwrap();
    }
    p.insert("/program/loop.wasm", wat("loop")).unwrap();
    p
}

fn log(vfs: &Vfs) -> String {
    let admin = vfs.handle(caps(&[("/", "r")]));
    String::from_utf8(admin.read_file("/out/log").unwrap_or_default()).unwrap()
}

fn run(
    strategy: Strategy,
    script: &str,
    vfs: &Vfs,
) -> Result<pipeline::PipelineOutcome, PipelineError> {
    let engine = Engine::new(
        strategy,
        Limits {
            fuel: Some(50_000_000),
            ..Limits::default()
        },
    )
    .unwrap();
    let caps = caps(&[("/out/", "rw"), ("stdout", "w"), ("stderr", "w")]);
    pipeline::run(
        &engine,
        &parse(script).unwrap(),
        &programs(),
        vfs,
        &caps,
        &Invocation::default(),
    )
}

#[test]
fn runs_in_order_and_stops_at_the_first_non_zero_exit() {
    for s in Strategy::ALL {
        let vfs = layout();
        let out = run(
            s,
            "step_a.wasm; if /out/a.done { step_b.wasm } else { step_f.wasm }; step_f.wasm; step_b.wasm",
            &vfs,
        )
        .unwrap();
        assert_eq!(log(&vfs), "abf", "{s}");
        assert_eq!(out.stopped_by.as_deref(), Some("/program/step_f.wasm"));
        assert_eq!(out.exit_code(), 3);
        let ran: Vec<_> = out.steps.iter().map(|st| st.program.as_str()).collect();
        assert_eq!(
            ran,
            [
                "/program/step_a.wasm",
                "/program/step_b.wasm",
                "/program/step_f.wasm"
            ]
        );
    }
}

#[test]
fn else_branch_runs_when_the_file_is_absent() {
    for s in Strategy::ALL {
        let vfs = layout();
        let out = run(
            s,
            "if /out/a.done { step_f.wasm } else { /program/step_b.wasm }; step_b.wasm",
            &vfs,
        )
        .unwrap();
        assert_eq!((log(&vfs).as_str(), out.exit_code()), ("bb", 0), "{s}");
        assert_eq!(out.stopped_by, None);
    }
}

#[test]
fn files_outside_the_pipeline_capabilities_count_as_absent() {
    let vfs = layout();
    // /secret/key.txt exists, but the pipeline has no right reaching it.
    run(
        Strategy::Interpreter,
        "if /secret/key.txt { step_a.wasm } else { step_b.wasm }",
        &vfs,
    )
    .unwrap();
    assert_eq!(log(&vfs), "b");
}

#[test]
fn unknown_programs_are_refused_before_anything_runs() {
    let vfs = layout();
    let err = run(Strategy::Jit, "step_a.wasm; stpe_b.wasm", &vfs).unwrap_err();
    assert!(
        matches!(&err, PipelineError::UnknownProgram { name, .. } if name == "stpe_b.wasm"),
        "{err}"
    );
    assert_eq!(log(&vfs), "", "nothing ran");
}

#[test]
fn ambiguous_file_names_are_refused() {
    let mut p = programs();
    p.insert("/other/step_a.wasm", fixture("step_b")).unwrap();
    let err = p.resolve("step_a.wasm").unwrap_err();
    assert!(
        matches!(err, PipelineError::AmbiguousProgram { .. }),
        "{err}"
    );
    assert!(p.resolve("/other/step_a.wasm").is_ok());
    assert!(p.insert("relative.wasm", Vec::new()).is_err());
}

#[test]
fn a_program_stopped_by_the_engine_is_named() {
    for s in Strategy::ALL {
        let vfs = layout();
        let err = run(s, "step_a.wasm; loop.wasm; step_b.wasm", &vfs).unwrap_err();
        match err {
            PipelineError::Engine { program, source } => {
                assert_eq!(program, "/program/loop.wasm");
                assert_eq!(source, EngineError::Limit(limit::FUEL));
            }
            other => panic!("{s}: {other}"),
        }
        assert_eq!(log(&vfs), "a", "{s}: stopped after the looping program");
    }
}
