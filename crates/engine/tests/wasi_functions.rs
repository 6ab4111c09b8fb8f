//! Every WASI function, success and error paths, through real guest programs in both engines.

mod common;

use std::collections::BTreeSet;

use common::*;
use veracruz_engine::{EngineError, Strategy, TrapKind};

#[test]
fn args_and_environment() {
    for s in Strategy::ALL {
        let o = suite(s, &["args", "x y", "ü"], Setup::default());
        assert!(o.stdout.contains("ok args count"), "{}", o.stdout);
    }
}

#[test]
fn clocks_random_poll_and_yield_with_the_clock_disabled() {
    for s in Strategy::ALL {
        suite(s, &["clock", "off"], Setup::default());
    }
}

#[test]
fn clocks_random_poll_and_yield_with_the_clock_enabled() {
    for s in Strategy::ALL {
        suite(
            s,
            &["clock", "on"],
            Setup {
                clock: true,
                ..Setup::default()
            },
        );
    }
}

#[test]
fn descriptor_operations_on_files_and_streams() {
    for s in Strategy::ALL {
        let o = suite(s, &["fd"], Setup::default());
        assert_eq!(o.stderr, "to stderr\n");
        assert!(o.files.contains_key("/out/f.txt"), "{:?}", o.files.keys());
    }
}

#[test]
fn path_operations() {
    for s in Strategy::ALL {
        let o = suite(s, &["path"], Setup::default());
        assert_eq!(
            o.files.get("/out/result/file.txt"),
            Some(&Node::File(b"written by the program\n".to_vec()))
        );
        assert!(!o.files.contains_key("/out/d"), "removed directory is gone");
        assert!(!o.files.contains_key("/out/tmp.txt"));
    }
}

#[test]
fn directory_listing_with_cookies() {
    for s in Strategy::ALL {
        suite(s, &["dir"], Setup::default());
    }
}

#[test]
fn sockets_are_not_supported() {
    for s in Strategy::ALL {
        suite(s, &["sock"], Setup::default());
    }
}

#[test]
fn bad_guest_pointers_give_efault_and_harm_nothing() {
    for s in Strategy::ALL {
        let o = observe(s, "efault.wasm", &wat("efault"), &Setup::default());
        assert_eq!(o.result, Ok(0), "{s}: first failed check is the exit code");
        assert_eq!(o.stdout, "x");
    }
}

#[test]
fn proc_exit_sets_the_exit_code_and_return_gives_zero() {
    for s in Strategy::ALL {
        let o = observe(s, "exit.wasm", &wat("exit"), &Setup::default());
        assert_eq!((o.result, o.stdout.as_str()), (Ok(7), "bye\n"), "{s}");
        let o = observe(s, "return.wasm", &wat("return"), &Setup::default());
        assert_eq!(o.result, Ok(0), "{s}");
    }
}

#[test]
fn proc_raise_traps() {
    for s in Strategy::ALL {
        let o = observe(s, "proc_raise.wasm", &wat("proc_raise"), &Setup::default());
        match o.result {
            Err(EngineError::Trap(TrapKind::Host(m))) => assert!(m.contains("proc_raise"), "{m}"),
            other => panic!("{s}: {other:?}"),
        }
    }
}

/// Names of the functions a wasm module imports from wasi_snapshot_preview1.
fn imported_functions(wasm: &[u8]) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        if let wasmparser::Payload::ImportSection(reader) = payload.unwrap() {
            for import in reader.into_imports() {
                let import = import.unwrap();
                if import.module == "wasi_snapshot_preview1" {
                    names.insert(import.name.to_string());
                }
            }
        }
    }
    names
}

/// The guests the tests above run import every WASI function between them.
#[test]
fn the_suite_covers_every_wasi_function() {
    let mut covered = imported_functions(&fixture("wasi_suite"));
    for w in ["efault", "exit", "return", "proc_raise"] {
        covered.extend(imported_functions(&wat(w)));
    }
    let all: BTreeSet<String> = veracruz_wasi::FUNCTIONS
        .iter()
        .map(|(n, _, _)| n.to_string())
        .collect();
    let missing: Vec<_> = all.difference(&covered).collect();
    assert!(
        missing.is_empty(),
        "functions no test guest calls: {missing:?}"
    );
}
