//! A program cannot read, write, list or stat outside its capabilities, whatever path it uses:
//! `..`, absolute paths, symbolic links (relative, absolute, to `..`), hard links or renames.

mod common;

use common::*;
use veracruz_engine::Strategy;

#[test]
fn escapes_fail_in_both_engines_and_protected_files_are_untouched() {
    for s in Strategy::ALL {
        let o = suite(s, &["caps"], Setup::default());
        assert!(
            !o.stdout.contains("top secret") && !o.stderr.contains("top secret"),
            "{s}: the secret leaked"
        );
        assert_eq!(
            o.files.get("/in/data.txt"),
            Some(&Node::File(DATA.to_vec())),
            "{s}"
        );
        assert_eq!(
            o.files.get("/secret/key.txt"),
            Some(&Node::File(SECRET.to_vec())),
            "{s}"
        );
        assert_eq!(
            o.files.get("/out/ro/keep.txt"),
            Some(&Node::File(b"keep".to_vec())),
            "{s}"
        );
        // Nothing was added beside the protected files.
        let outside: Vec<_> = o
            .files
            .keys()
            .filter(|p| !p.starts_with("/out/") || p.starts_with("/out/ro/"))
            .filter(|p| {
                ![
                    "/in",
                    "/in/data.txt",
                    "/out",
                    "/out/ro",
                    "/out/ro/keep.txt",
                    "/secret",
                    "/secret/key.txt",
                ]
                .contains(&p.as_str())
            })
            .collect();
        assert!(
            outside.is_empty(),
            "{s}: created outside its rights: {outside:?}"
        );
        assert!(o.files.contains_key("/out/renamed.txt"), "{s}");
    }
}

#[test]
fn a_program_without_rights_on_a_stream_cannot_use_it() {
    for s in Strategy::ALL {
        let setup = Setup {
            caps: caps(&[
                ("/in/", "r"),
                ("/out/", "rw"),
                ("stdin", "r"),
                ("stderr", "w"),
            ]),
            ..Setup::default()
        };
        // echo prints to stdout, which it may not write: the writes fail, nothing appears.
        let o = observe(s, "echo.wasm", &fixture("echo"), &setup);
        assert_eq!(o.stdout, "", "{s}");
        assert_eq!(o.stderr, "echo done\n", "{s}");
        assert_eq!(
            o.files.get("/out/copy.txt"),
            Some(&Node::File(DATA.to_vec()))
        );
    }
}

#[test]
fn a_program_that_may_only_read_cannot_write_its_result() {
    for s in Strategy::ALL {
        let setup = Setup {
            caps: caps(&[
                ("/in/", "r"),
                ("/out/", "r"),
                ("stdout", "w"),
                ("stderr", "w"),
            ]),
            ..Setup::default()
        };
        let o = observe(s, "echo.wasm", &fixture("echo"), &setup);
        assert_eq!(o.result, Ok(10), "{s}: fopen of /out/copy.txt must fail");
        assert!(!o.files.contains_key("/out/copy.txt"), "{s}");
    }
}

#[test]
fn files_outside_every_capability_are_invisible() {
    for s in Strategy::ALL {
        // Only /out: /in is neither pre-opened nor reachable, so echo copies nothing.
        let setup = Setup {
            caps: caps(&[("/out/", "rw"), ("stdout", "w"), ("stderr", "w")]),
            ..Setup::default()
        };
        let o = observe(s, "echo.wasm", &fixture("echo"), &setup);
        assert_eq!(o.result, Ok(0), "{s}");
        assert!(!o.files.contains_key("/out/copy.txt"), "{s}");
    }
}
